#!/usr/bin/env bash
# Retrain the shipped pair on real scans in one run and read the new pairs on every set that
# decides what ships (models/README.md, "What ships"). On a GPU it runs the longer recipe
# (experiment=finetune_scans_gpu), on a CPU the CPU one (experiment=finetune_scans). Nothing
# in models/ is touched: read OUT/results.md, then copy the better pair over models/ by hand.
#
#   scripts/retrain_on_scans.sh OUT            # OUT: a new or empty folder; train, then read
#   scripts/retrain_on_scans.sh OUT train      # steps 1-3 only (on a lent GPU, briefly)...
#   scripts/retrain_on_scans.sh OUT read       # ...step 4 later, on any machine
#
# Steps, each into OUT:
#   1. segmenter.ckpt: the shipped segmenter fine-tuned on the release mix plus the scans'
#      train part;
#   2. classifier.ckpt: the classifier fine-tuned on the new segmenter's digits (11 classes);
#   3. the scores' calibration fitted on the scans' val part, for that classifier
#      (classifier_calibrated.ckpt) and for the shipped one (shipped_classifier_calibrated.ckpt);
#   4. both pairs read by digitseg-eval: the scans' val part (digitseg-segment's defaults),
#      the numbers test split (the same), m2nist and canvas (reading=canvas); one table of
#      them in OUT/results.md.
#
# Extra Hydra overrides per step (a smoke run, another scan set), word-split:
#   SEGMENTER_ARGS="data.train_size=64"  CLASSIFIER_ARGS="canvases.numbers=20"
#   EVAL_ARGS="count=50" (the generated sets only)
# DIGITSEG_SCANS_DIR names another scan set (images/ and its COCO annotations.json; default
# ../shared/data/orand_car_a); BIN the folder of the project's commands (default: the
# repository's .venv/bin).
set -euo pipefail

usage="usage: scripts/retrain_on_scans.sh OUT [all|train|read]"
out=$(realpath -m "${1:?$usage}")
phase=${2:-all}
case $phase in
  all | train)
    if [ -d "$out" ] && [ -n "$(ls -A "$out")" ]; then
      echo "retrain_on_scans: $out is not empty; name a new folder (nothing is overwritten)" >&2
      exit 2
    fi ;;
  read)
    for file in segmenter classifier_calibrated shipped_classifier_calibrated; do
      if [ ! -f "$out/$file.ckpt" ]; then
        echo "retrain_on_scans: $out/$file.ckpt is missing; run the train phase first" >&2
        exit 2
      fi
    done
    if [ -e "$out/eval" ]; then
      echo "retrain_on_scans: $out/eval exists; move it away to read again" >&2
      exit 2
    fi ;;
  *) echo "retrain_on_scans: unknown phase '$phase'; $usage" >&2; exit 2 ;;
esac
cd "$(dirname "$0")/.."
bin=$(realpath -m "${BIN:-.venv/bin}")
read -r -a segmenter_args <<< "${SEGMENTER_ARGS:-}"
read -r -a classifier_args <<< "${CLASSIFIER_ARGS:-}"
read -r -a eval_args <<< "${EVAL_ARGS:-}"
mkdir -p "$out"
log() { echo "[$(date -u +%H:%M:%S)] retrain_on_scans: $*"; }

train() {
  local machine
  machine=$(hardware)
  if [[ $machine != *"GPU: none" ]]; then
    local experiment=finetune_scans_gpu trainer=gpu workers=$(nproc) canvases=(4000 2000 5000)
  else
    local experiment=finetune_scans trainer=cpu workers=2 canvases=(2000 1000 2500)
  fi
  log "$experiment, classifier on $trainer; $machine"

  log "1. segmenter"
  "$bin/digitseg-train" "experiment=$experiment" logger=csv "export.path=$out/segmenter.ckpt" \
    "hydra.run.dir=$out/runs/segmenter" "${segmenter_args[@]}"

  log "2. classifier"
  "$bin/digitseg-train-classifier" init_weights=models/digit_classifier.ckpt \
    "segmenter=$out/segmenter.ckpt" net.classes=11 "trainer=$trainer" "workers=$workers" \
    "canvases.numbers=${canvases[0]}" "canvases.canvas=${canvases[1]}" \
    "+canvases.scans=${canvases[2]}" val_canvases=200 trainer.max_epochs=2 lr=0.0005 \
    "export.path=$out/classifier.ckpt" "hydra.run.dir=$out/runs/classifier" \
    "${classifier_args[@]}"

  log "3. calibration"
  calibrate "$out/classifier.ckpt" "$out/classifier_calibrated.ckpt"
  calibrate models/digit_classifier.ckpt "$out/shipped_classifier_calibrated.ckpt"
}

hardware() {  # the machine as the benchmarks name it (CPU model, bf16 flags), cores, GPU
  "$bin/python" - <<'EOF'
import os, sys, torch
sys.path.insert(0, "scripts")
from benchmark_segment import cpu_description
gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
print(f"{cpu_description()}, {os.cpu_count()} cores, GPU: {gpu}")
EOF
}

calibrate() {  # calibrate CLASSIFIER OUT_FILE: fitted on the scans' val part
  "$bin/python" scripts/calibrate_scores.py --checkpoint "$out/segmenter.ckpt" \
    --classifier "$1" --out "$2"
}

read_pairs() {
  log "4. evaluation"
  local reports=() report args
  for classifier in classifier shipped_classifier; do
    for set in scans numbers m2nist canvas; do
      case $set in
        scans) args=(source=coco) ;;
        numbers) args=(data=numbers "${eval_args[@]}") ;;
        *) args=("data=$set" reading=canvas "${eval_args[@]}") ;;
      esac
      report=$out/eval/${classifier}_$set
      "$bin/digitseg-eval" "checkpoint=$out/segmenter.ckpt" \
        "classifier=$out/${classifier}_calibrated.ckpt" "${args[@]}" "hydra.run.dir=$report"
      reports+=("$report")
    done
  done
  "$bin/python" scripts/headline_table.py "${reports[@]}" > "$out/results.md"
  cat "$out/results.md"
  log "done: $out/results.md"
}

case $phase in
  all) train; read_pairs ;;
  train) train; log "done: read the pairs with scripts/retrain_on_scans.sh $out read" ;;
  read) read_pairs ;;
esac
