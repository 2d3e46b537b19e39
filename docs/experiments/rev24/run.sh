#!/bin/bash
# Revision 24 of docs/experiments/decision-rule-distill.txt: revision 23's stage 2 in 30 epochs, from revision 23's
# stage-1 students, one seed at a time, alone on the machine (both threads), resumed across sessions.
#   run.sh stage2 SEED   start or resume (--resume) a seed's stage 2
#   run.sh all           seed 2, then seed 3, skipping a run whose summary.json exists
# Each run is stopped once its summary.json exists, so its end-of-run test evaluation is never read.
# Times go to runs/r24.times; logs to runs/NAME.log.
set -eu
cd "$(dirname "$0")/../../.."
source .venv/bin/activate

source docs/experiments/watch.sh

stage2() {  # start or resume seed $1's stage 2
  local name=r24-stage2-s$1
  echo "$name started $(date -u +%FT%T)" >> runs/r24.times
  if [ -f "runs/$name/last.pt" ]; then  # wall time adds up over the attempts (summary.json train_wall_seconds)
    watch "$name" runs/r24.times ferx train --resume "runs/$name"
  else
    watch "$name" runs/r24.times ferx train --data ../shared/fer2013 --name "$name" --seed "$1" --split-seed 0 \
      --init "docs/experiments/rev23/stage1-s$1/best_model.pt" --batch-size 128 --epochs 30 --lr 1e-3 --patience 30 \
      --ema-warmup --teacher docs/experiments/emo-72-auglight-cw025/best_model.pt --teacher-views views --light 0.3 \
      --scale 0.8 1.25 --rotate 15 --distill-weight 0.8
  fi
  [ -f "runs/$name/summary.json" ] || { echo "$name did not finish" >&2; exit 1; }
}

case $1 in
stage2) stage2 "$2" ;;
all) for s in 2 3; do [ -f "runs/r24-stage2-s$s/summary.json" ] || stage2 "$s"; done ;;
*) echo "usage: run.sh stage2 SEED | all" >&2; exit 2 ;;
esac
