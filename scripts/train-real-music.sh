#!/usr/bin/env bash
# The long real-music trainings (configs/real-music-{2,4}stem-long.toml), both at once, one
# thread each; rerunning resumes them. Needs data/musdb18-7, data/everythingisremixed
# (docs/data.md) and data/corpus-320 (rendered here if missing). Logs: runs/real-music-*.log.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bin=.venv/bin
OMP_NUM_THREADS=1 "$bin/lightsep" synth data/corpus-320 --songs 320 --seconds 20 --seed 2 --test-fraction 0.1 --quiet
mkdir -p runs
pids=()
for stems in 2 4; do
    name="real-music-${stems}stem-long"
    resume=()
    [[ -f "runs/$name/state.pt" ]] && resume=(--resume)
    OMP_NUM_THREADS=1 "$bin/lightsep" train --config "configs/$name.toml" "${resume[@]}" --quiet >> "runs/$name.log" 2>&1 &
    pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
exit $status
