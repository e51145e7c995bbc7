// pm2 process file for an a2a miner (the subnet-25 protocol):
//   pm2 start deploy/ecosystem.config.js && pm2 logs a2a-miner
//   pm2 sendSignal SIGHUP a2a-miner    # reload the checkpoint now (it is also watched for changes)
// Run from the repository root; edit the checkpoint, wallet, GPU, NETUID and NETWORK below: the netuid and
// network where the audio-to-animation subnet runs (finney's netuid 25 has been another subnet since
// 20 May 2024; the miner refuses a subnet that does not identify as it).
module.exports = {
  apps: [
    {
      name: "a2a-miner",
      cwd: __dirname + "/..",
      script: "mine.py",
      interpreter: ".venv/bin/python",
      args: [
        "ckpt=checkpoints/best.ckpt",
        "wallet.name=miner",
        "wallet.hotkey=default",
        "axon.port=8091",
        "subtensor.network=NETWORK",
        "netuid=NETUID",
      ],
      env: { CUDA_VISIBLE_DEVICES: "0", PYTHONUNBUFFERED: "1" },
      autorestart: true,
      restart_delay: 30000,
      kill_timeout: 30000,
    },
  ],
};
