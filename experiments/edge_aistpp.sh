#!/usr/bin/env bash
# EDGE on AIST++ with the original's hyper-parameters (baseline 35-d features), then the evaluation.
# Usage: experiments/edge_aistpp.sh /data/aistpp [extra Hydra overrides...]
# EDGE trained 2000 epochs, global batch 512 on 4 GPUs (~6–24 h); adjust trainer.devices/batch to your hardware.
set -euo pipefail
ROOT=${1:?usage: $0 /path/to/aistpp [overrides...]}
shift
RUN=outputs/edge_aistpp/$(date +%Y-%m-%d_%H-%M-%S)
python train.py model=edge data=aistpp data.source="$ROOT" data.batch_size=128 \
  trainer=gpu trainer.max_epochs=2000 hydra.run.dir="$RUN/train" "$@"
python evaluate.py ckpt="$RUN/train/checkpoints/last.ckpt" data=aistpp data.source="$ROOT" \
  split=test hydra.run.dir="$RUN/evaluate"
