#!/usr/bin/env bash
# Make the bundled pretrained weights: the corpus, then three trainings at once under the
# same time budget (configs/pretrain-*.toml), one thread each, on a 2-core CPU.
# Rerunning resumes: synth renders only missing songs, and a run with a state.pt goes on
# from it (--resume). Logs: runs/pretrain-*.out.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
bin=.venv/bin
corpus=data/corpus-320
"$bin/lightsep" synth "$corpus" --songs 320 --seconds 20 --seed 2 --test-fraction 0.1 --quiet
mkdir -p runs  # the logs go there
pids=()
for model in proposed-2stem proposed-4stem waveunet-m3; do
    resume=()
    [[ -f "runs/pretrain-$model/state.pt" ]] && resume=(--resume)
    OMP_NUM_THREADS=1 "$bin/lightsep" train --config "configs/pretrain-$model.toml" --data "$corpus" "${resume[@]}" --quiet \
        > "runs/pretrain-$model.out" 2>&1 &
    pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
exit $status
