#!/usr/bin/env bash
# After scripts/reproduce/train-real-music.sh: score every run and its references on the 50 musdb18-7
# test clips (reporting only: the checkpoints were chosen by validation loss), then bundle
# the three proposed models' best.pt into the package with their manifests. Evaluations
# already made are kept (a rerun scores only what is missing). Two at a time, one thread each.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
bin=.venv/bin
data=data/musdb18-7
mkdir -p eval

evaluate() {  # evaluate OUT_NAME MODEL [OPTIONS...]
    local out="eval/$1-musdb7" model="$2"
    shift 2
    [[ -f "$out/summary.json" ]] || OMP_NUM_THREADS=1 "$bin/lightsep" evaluate -m "$model" --data "$data" --out "$out" --quiet "$@" \
        > "eval/$(basename "$out").log" 2>&1
}

(evaluate real-music-proposed-2stem runs/real-music-proposed-2stem/best.pt
 evaluate real-music-proposed-2stem-lowlatency-lq runs/real-music-proposed-2stem-lowlatency/best.pt --resample-quality LQ
 evaluate real-music-proposed-2stem-lowlatency-hq runs/real-music-proposed-2stem-lowlatency/best.pt
 evaluate synthetic-proposed-2stem runs/pretrain-proposed-2stem/best.pt
 evaluate mixture mixture) &
first=$!
(evaluate real-music-proposed-4stem runs/real-music-proposed-4stem/best.pt
 evaluate real-music-waveunet-m3 runs/real-music-waveunet-m3/best.pt
 evaluate synthetic-proposed-4stem runs/pretrain-proposed-4stem/best.pt
 evaluate oracle-irm oracle-irm) &
second=$!
wait "$first"
wait "$second"

bundle() {  # bundle RUN EVAL [INIT_MANIFEST]
    local init=()
    [[ -n "${3:-}" && -f "${3:-}" ]] && init=(--init-manifest "$3")
    "$bin/python" scripts/reproduce/bundle_pretrained.py --run "runs/$1" --eval "eval/$2-musdb7" "${init[@]}"
}
bundle real-music-proposed-2stem real-music-proposed-2stem runs/pretrain-proposed-2stem/manifest.json
bundle real-music-proposed-4stem real-music-proposed-4stem runs/pretrain-proposed-4stem/manifest.json
bundle real-music-proposed-2stem-lowlatency real-music-proposed-2stem-lowlatency-lq src/lightsep/pretrained/proposed-2stem.json
