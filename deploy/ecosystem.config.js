// pm2 process file for the subnet-25 miner:
//   pm2 start deploy/ecosystem.config.js && pm2 logs a2a-miner
//   pm2 sendSignal SIGHUP a2a-miner    # reload the checkpoint now (it is also watched for changes)
// Run from the repository root; edit the checkpoint, wallet and GPU below.
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
        "subtensor.network=finney",
        "netuid=25",
      ],
      env: { CUDA_VISIBLE_DEVICES: "0", PYTHONUNBUFFERED: "1" },
      autorestart: true,
      restart_delay: 30000,
      kill_timeout: 30000,
    },
  ],
};
