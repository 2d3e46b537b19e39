#!/bin/bash
# Revision 23 of docs/experiments/decision-rule-distill.txt on a 2-core CPU, across sessions.
#   run.sh stage1 SEED   start or resume (--resume) a seed's stage 1; run both seeds at once, one thread each
#   run.sh cache         the stage-2 teacher's six-view logits of the training split, computed once and cached
#   run.sh stage2 SEED   start or resume a seed's stage 2 from its stage-1 best_model.pt, alone (both threads)
#   run.sh all           whatever is left of the above, in order, skipping the runs whose summary.json exists
# Each run is stopped once its summary.json exists, so its end-of-run test evaluation is never read.
# Times go to runs/r23.times; logs to runs/NAME.log.
set -eu
SELF=$(realpath "$0")
cd "$(dirname "$0")/../../.."
source .venv/bin/activate
FER=../shared/fer2013

source docs/experiments/watch.sh

case $1 in
stage1)
  name=r23-stage1-s$2
  export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
  echo "$name started $(date -u +%FT%T)" >> runs/r23.times
  if [ -f "runs/$name/last.pt" ]; then
    watch "$name" runs/r23.times ferx train --resume "runs/$name"
  else
    watch "$name" runs/r23.times ferx train --data $FER --name "$name" --seed "$2" --split-seed 0 --ema-warmup --teacher-online \
      --teacher docs/experiments/distill-scratch-t3-w05/best_model.pt --light 0.3 --epochs 120 --patience 120
  fi ;;
cache)
  python - <<'PY'
from ferx.data.splits import load_splits
from ferx.training.distill import teacher_logits
splits, _ = load_splits("../shared/fer2013", 0.1, 0)
teacher_logits(["docs/experiments/emo-72-auglight-cw025/best_model.pt"], splits["train"].images, "views")
PY
  ;;
stage2)
  name=r23-stage2-s$2
  echo "$name started $(date -u +%FT%T)" >> runs/r23.times
  if [ -f "runs/$name/last.pt" ]; then  # its wall time adds up over the attempts (summary.json train_wall_seconds)
    watch "$name" runs/r23.times ferx train --resume "runs/$name"
  else
    watch "$name" runs/r23.times ferx train --data $FER --name "$name" --seed "$2" --split-seed 0 --init "runs/r23-stage1-s$2/best_model.pt" \
      --batch-size 128 --epochs 40 --lr 1e-3 --patience 40 --ema-warmup \
      --teacher docs/experiments/emo-72-auglight-cw025/best_model.pt --teacher-views views --light 0.3 \
      --scale 0.8 1.25 --rotate 15 --distill-weight 0.8
  fi ;;
all)
  for s in 2 3; do
    [ -f "runs/r23-stage1-s$s/summary.json" ] || "$SELF" stage1 "$s" &
  done
  wait
  for s in 2 3; do  # a run that stopped short (killed, crashed) leaves no summary.json: go no further
    [ -f "runs/r23-stage1-s$s/summary.json" ] || { echo "r23-stage1-s$s did not finish" >&2; exit 1; }
  done
  "$SELF" cache
  for s in 2 3; do
    [ -f "runs/r23-stage2-s$s/summary.json" ] || "$SELF" stage2 "$s"
    [ -f "runs/r23-stage2-s$s/summary.json" ] || { echo "r23-stage2-s$s did not finish" >&2; exit 1; }
  done ;;
*) echo "usage: run.sh stage1 SEED | cache | stage2 SEED | all" >&2; exit 2 ;;
esac
