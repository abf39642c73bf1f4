#!/usr/bin/env bash
# The real-data calibration of issue "Real multitrack music": the bundled proposed-2stem
# fine-tuned for a fixed 20-minute budget of training steps (configs/experiments/real-music-2stem.toml,
# fine-tuning phase off) on musdb18-7 train + Everything is Remixed, with and without the
# augmentation, both at once, one thread each; then each run's best.pt and the bundled
# weights scored on the 50 musdb18-7 test clips. Validation (for best.pt) is on a quarter of
# musdb18-7's training clips; the test clips are only scored.
#
# Needs data/musdb18-7 (the musdb 7-second set) and data/everythingisremixed (import-stems,
# docs/data.md). Rerunning resumes the trainings and skips scored clips. Logs in runs/ and eval/.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
bin=.venv/bin
datasets='data.datasets=[{name="musdb18-7", root="data/musdb18-7", weight=2.0, split="paper"}, {name="everythingisremixed", root="data/everythingisremixed", weight=1.0, split="train"}]'
mkdir -p runs eval
pids=()
for variant in aug noaug; do
    extra=()
    [[ $variant == noaug ]] && extra=(--set data.augment.remix=0 --set data.augment.polarity=0 --set data.augment.eq=0)
    [[ -f "runs/calib-$variant/state.pt" ]] && extra+=(--resume)
    OMP_NUM_THREADS=1 "$bin/lightsep" train --config configs/experiments/real-music-2stem.toml --run-dir "runs/calib-$variant" \
        --set "$datasets" --set training.finetune.enabled=false --set 'name="calib"' "${extra[@]}" --quiet \
        > "runs/calib-$variant.log" 2>&1 &
    pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done
OMP_NUM_THREADS=1 "$bin/lightsep" evaluate -m proposed-2stem --data data/musdb18-7 --out eval/bundled-2stem-musdb7 --quiet &
OMP_NUM_THREADS=1 "$bin/lightsep" evaluate -m runs/calib-aug/best.pt --data data/musdb18-7 --out eval/calib-aug-musdb7 --quiet &
wait
OMP_NUM_THREADS=1 "$bin/lightsep" evaluate -m runs/calib-noaug/best.pt --data data/musdb18-7 --out eval/calib-noaug-musdb7 --quiet
