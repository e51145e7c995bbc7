#!/usr/bin/env bash
# Genre control on the synthetic set, CPU minutes: a genre-conditioned EDGE (experiment=genre_demo), the genre
# classifier (model=genre_classifier) attached to it, then the same music danced in two genres side by side.
# Usage: experiments/genre_demo.sh DATA OUT [python]   (make demo runs it)
set -euo pipefail
DATA=${1:?usage: $0 DATA OUT [python]}
OUT=${2:?usage: $0 DATA OUT [python]}
PY=${3:-python}
A2A="$PY -m a2a.cli"
$A2A data synth "$DATA" --sequences 20 --seconds 6 --seed 1
rm -rf "$OUT/model" "$OUT/classifier" "$OUT/genre_auto.ckpt"
$PY train.py experiment=genre_demo data.source="$DATA" hydra.run.dir="$OUT/model"
$PY train.py model=genre_classifier data=synthetic data.source="$DATA" data.window_seconds=2.0 \
  trainer.max_epochs=15 trainer.check_val_every_n_epoch=5 hydra.run.dir="$OUT/classifier"
$A2A attach-classifier "$OUT/model/checkpoints/last.ckpt" "$OUT/classifier/checkpoints/last.ckpt" \
  "$OUT/genre_auto.ckpt"
SONG=$(ls "$DATA"/wavs/*.wav | head -n 1)
for GENRE in BR HO; do
  $A2A generate "$OUT/genre_auto.ckpt" "$SONG" "$OUT/$GENRE.bvh" --style "$GENRE"
done
$A2A generate "$OUT/genre_auto.ckpt" "$SONG" "$OUT/auto.bvh"
$A2A render "$OUT/BR.bvh" "$OUT/HO.bvh" "$OUT/two_genres.mp4" --audio "$SONG"
echo "genre demo: $OUT/two_genres.mp4 (Break vs House on the same music); $OUT/auto.bvh in the genre the music implies"
