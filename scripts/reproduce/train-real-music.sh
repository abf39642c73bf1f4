#!/usr/bin/env bash
# The bundled real-music weights and their Wave-U-Net comparison (configs/real-music-*.toml),
# in two lanes of one thread each on a 2-core CPU:
#   lane 1: proposed-2stem, then proposed-2stem-lowlatency (which starts from its best.pt);
#   lane 2: waveunet-m3, then proposed-4stem.
# The proposed models start from the synthetic-music weights of scripts/reproduce/pretrain.sh
# (runs/pretrain-proposed-{2,4}stem/best.pt), which it runs first when they are missing.
# Rerunning resumes: a run with a state.pt goes on from it (--resume), a finished one ends at
# once. Needs data/musdb18-7 and data/everythingisremixed (docs/data.md) and renders
# data/corpus-320 if it is missing. Logs: runs/real-music-*.log. Then
# scripts/reproduce/bundle_real_music.sh scores the runs and bundles them (docs/models.md).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
bin=.venv/bin
OMP_NUM_THREADS=1 "$bin/lightsep" synth data/corpus-320 --songs 320 --seconds 20 --seed 2 --test-fraction 0.1 --quiet
mkdir -p runs
if [[ ! -f runs/pretrain-proposed-2stem/best.pt || ! -f runs/pretrain-proposed-4stem/best.pt ]]; then
    bash scripts/reproduce/pretrain.sh
fi

config_file() {  # config_file NAME: configs/NAME.toml (a bundled recipe) or configs/experiments/NAME.toml
    if [ -f "configs/$1.toml" ]; then echo "configs/$1.toml"; else echo "configs/experiments/$1.toml"; fi
}

train() {  # train CONFIG_NAME: run or resume configs/CONFIG_NAME.toml
    local resume=()
    [[ -f "runs/$1/state.pt" ]] && resume=(--resume)
    OMP_NUM_THREADS=1 "$bin/lightsep" train --config "$(config_file "$1")" "${resume[@]}" --quiet >> "runs/$1.log" 2>&1
}

(train real-music-proposed-2stem && train real-music-proposed-2stem-lowlatency) &
lane1=$!
(train real-music-waveunet-m3 && train real-music-proposed-4stem) &
lane2=$!
status=0
wait "$lane1" || status=1
wait "$lane2" || status=1
exit $status
