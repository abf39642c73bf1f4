#!/usr/bin/env bash
# After (or during) scripts/reproduce/train-spectral.sh: choose the default on validation, score on the
# test clips, and bundle the spectrogram-mask models.
#
# 1. Validation (the 23 musdb18-7 train/ clips of the paper split, which no run trains on):
#    spectral-2stem's best.pt (runs/spectral-2stem-eq) against the bundled proposed-2stem,
#    and spectral-4stem's (runs/spectral-4stem-fft2048) against proposed-4stem;
#    scripts/results_table.py prints them side by side. This is what decides the default of
#    lightsep separate (docs/models.md).
# 2. Test (the 50 musdb18-7 test/ clips; reporting only): the new models, the bundled paper
#    models, Spleeter 2stems (benchmarks/peers_setup.py converts its weights), the mixture and
#    the ideal ratio mask.
# 3. Bundling: RUN/best.pt into src/lightsep/pretrained/ with its manifest.
# With "live" (after scripts/reproduce/train-spectral.sh live): the causal streaming model instead.
# 1. Validation: runs/spectral-2stem-live/best.pt (the checkpoint of lowest validation loss)
#    and the streaming model it replaces as lightsep stream's default,
#    proposed-2stem-lowlatency. 2. Test, in one table: spectral-2stem-live, the offline model
#    of its family (spectral-2stem) and proposed-2stem-lowlatency, each as lightsep stream
#    runs it at the clips' 44.1 kHz (the live model at its own rate, no resampler;
#    proposed-2stem-lowlatency through soxr's LQ). A streamed result equals the offline one
#    with the same settings (tests), so lightsep evaluate scores what the stream gives.
#    3. Bundling, as below.
# With "live-20ms" (after scripts/reproduce/train-spectral.sh live-20ms): the 20 ms live model
#    against the bundled 46 ms one, on validation (which decides lightsep stream's default) and
#    test, each as lightsep stream runs it; then the 20 ms model is bundled.
# With "learning-curve" (after scripts/reproduce/train-spectral.sh learning-curve): the runs on half and
#    on about a quarter of the music, each best.pt as it would separate, and the bundled
#    spectral-2stem (its run trained on all of it), on the validation and the test clips, with
#    proposed-2stem for the issue's aim (its vocals + 1 dB);
#    scripts/reproduce/learning_curve.py prints each set of scores against the minutes of music
#    (docs/research/learning-curve.md). Nothing is bundled.
# With "bands512", "bandconv" or "dense-bandconv" (after scripts/reproduce/train-spectral.sh with the same word): that run's
#    best.pt as it would separate against the bundled spectral-2stem, on the validation clips
#    only, compared clip by clip (docs/research/random-eq.md's selection rule).
# With "conv-member" (after scripts/reproduce/train-spectral.sh conv-member): the bundled spectral-2stem
#    and that run's best.pt joined into one model that averages their masks (lightsep
#    ensemble, saved as spectral-2stem-ensemble), and the member alone, against the bundled
#    weights in the same way. Then, if it passes the rule, "ensemble": that joined model on the
#    test clips beside spectral-2stem, proposed-2stem and Spleeter, and bundled as
#    spectral-2stem-ensemble (its manifest holds both members' training).
# With "fullband": the bundled spectral-2stem-ensemble carried over to 44.1 kHz with a high-band
#    gain trained on musdb18-7's 93 training clips (experiments/high_band.py compact --save; its
#    layout chosen by five folds by artist, docs/research/full-band.md), on the validation and
#    test clips (full band, and above 11.025 kHz), then bundled as spectral-2stem-fullband.
# With "joint" (after scripts/reproduce/train-spectral.sh joint): both runs' best.pt (the bundled
#    ensemble trained on as one model, at two rates) as they would separate, against the
#    bundled spectral-2stem-ensemble on the validation clips, clip by clip. Nothing is bundled.
# Evaluations already made are kept (a rerun scores only what is missing); delete eval/X to
# score X again (a newer best.pt). One thread each, two at a time.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
bin=.venv/bin
data=data/musdb18-7
mkdir -p eval
mapfile -t valid < <("$bin/python" -c "
from lightsep.data import list_tracks, split_tracks
print('\n'.join(t.name for t in split_tracks(list_tracks('$data'), 'paper', 20200504)['valid']))")

separating() {  # separating RUN: RUN/best.pt at its preset's segment geometry, as RUN/best-separating.pt
    [[ -f "$1/best.pt" ]] || { echo "bundle_spectral.sh: $1/best.pt: no such file (train it first: scripts/reproduce/train-spectral.sh)" >&2; exit 2; }
    "$bin/python" -c "import sys; from lightsep.pretrained import save_at_preset_geometry as s; s(*sys.argv[1:])" \
        "$1/best.pt" "$1/best-separating.pt"
}
evaluate() {  # evaluate OUT_NAME MODEL [OPTIONS...]
    local out="eval/$1" model="$2"
    shift 2
    [[ -f "$out/summary.json" ]] || OMP_NUM_THREADS=1 "$bin/lightsep" evaluate -m "$model" --data "$data" --out "$out" --quiet "$@" \
        > "$out.log" 2>&1
}
validate() {  # validate OUT_NAME MODEL [OPTIONS...]: evaluate on the 23 validation clips
    evaluate "$@" --subset train --tracks "${valid[@]}"
}
two_lanes() {  # two_lanes FUNCTION_A FUNCTION_B: the two shell functions at once, one lane each
    local first second
    "$1" &
    first=$!
    "$2" &
    second=$!
    wait "$first"
    wait "$second"
}
if [[ "${1:-}" == live ]]; then
    live=runs/spectral-2stem-live
    lane_a() {
        validate spectral-2stem-live-valid "$live/best.pt"
        evaluate spectral-2stem-live-musdb7 "$live/best.pt"
    }
    lane_b() {
        validate proposed-2stem-lowlatency-lq-valid proposed-2stem-lowlatency --resample-quality LQ
        evaluate proposed-2stem-lowlatency-lq-musdb7 proposed-2stem-lowlatency --resample-quality LQ
        evaluate spectral-2stem-musdb7 spectral-2stem
    }
    two_lanes lane_a lane_b
    echo "validation (23 musdb18-7 train/ clips, paper split):"
    "$bin/python" scripts/results_table.py "spectral-2stem-live=eval/spectral-2stem-live-valid" \
        "proposed-2stem-lowlatency (LQ)=eval/proposed-2stem-lowlatency-lq-valid"
    echo "test (50 musdb18-7 test/ clips):"
    "$bin/python" scripts/results_table.py "spectral-2stem-live=eval/spectral-2stem-live-musdb7" \
        "spectral-2stem=eval/spectral-2stem-musdb7" "proposed-2stem-lowlatency (LQ)=eval/proposed-2stem-lowlatency-lq-musdb7"
    "$bin/python" scripts/reproduce/bundle_pretrained.py --run "$live" --eval eval/spectral-2stem-live-musdb7 --valid eval/spectral-2stem-live-valid
    exit 0
fi

if [[ "${1:-}" == live-20ms ]]; then
    # the 20 ms live model (runs/spectral-2stem-live-20ms/best.pt) against the bundled 46 ms one,
    # on validation (this chooses lightsep stream's default) and, for the report, on test, each as
    # lightsep stream runs it at the clips' 44.1 kHz; then bundled
    run=runs/spectral-2stem-live-20ms
    lane_a() {
        validate spectral-2stem-live-20ms-valid "$run/best.pt"
        evaluate spectral-2stem-live-20ms-musdb7 "$run/best.pt"
    }
    lane_b() {
        validate spectral-2stem-live-valid spectral-2stem-live
        evaluate spectral-2stem-live-musdb7 spectral-2stem-live
    }
    two_lanes lane_a lane_b
    echo "validation (23 musdb18-7 train/ clips, paper split):"
    "$bin/python" scripts/results_table.py --against 46ms "46ms=eval/spectral-2stem-live-valid" "20ms=eval/spectral-2stem-live-20ms-valid"
    echo "test (50 musdb18-7 test/ clips):"
    "$bin/python" scripts/results_table.py "spectral-2stem-live-20ms=eval/spectral-2stem-live-20ms-musdb7" \
        "spectral-2stem-live=eval/spectral-2stem-live-musdb7"
    "$bin/python" scripts/reproduce/bundle_pretrained.py --run "$run" --eval eval/spectral-2stem-live-20ms-musdb7 \
        --valid eval/spectral-2stem-live-20ms-valid
    exit 0
fi

if [[ "${1:-}" == bands512 || "${1:-}" == bandconv || "${1:-}" == dense-bandconv ]]; then  # validation only: the test clips are scored if it is chosen
    run="spectral-2stem-$1"
    separating "runs/$run"
    lane_a() { validate "$run-valid" "runs/$run/best-separating.pt"; }
    lane_b() { validate spectral-2stem-eq-valid spectral-2stem; }
    two_lanes lane_a lane_b
    echo "validation (23 musdb18-7 train/ clips, paper split):"
    "$bin/python" scripts/results_table.py --against bundled "bundled=eval/spectral-2stem-eq-valid" \
        "$1=eval/$run-valid"
    exit 0
fi

if [[ "${1:-}" == conv-member ]]; then  # validation only, as above
    # the member at the preset's geometry, joined with the bundled spectral-2stem into one
    # model that averages their masks (lightsep ensemble; the bundled weights give the
    # geometry), scored against the bundled weights, and the member alone
    run=runs/spectral-2stem-conv-member
    separating "$run"
    "$bin/lightsep" ensemble spectral-2stem "$run/best-separating.pt" --name spectral-2stem-ensemble -o "$run/ensemble.pt" --force
    lane_a() { validate spectral-2stem-conv-member-ensemble-valid "$run/ensemble.pt"; }
    lane_b() {
        validate spectral-2stem-eq-valid spectral-2stem
        validate spectral-2stem-conv-member-valid "$run/best-separating.pt"
    }
    two_lanes lane_a lane_b
    echo "validation (23 musdb18-7 train/ clips, paper split):"
    "$bin/python" scripts/results_table.py --against bundled "bundled=eval/spectral-2stem-eq-valid" \
        "bundled + conv-member=eval/spectral-2stem-conv-member-ensemble-valid" "conv-member=eval/spectral-2stem-conv-member-valid"
    exit 0
fi

if [[ "${1:-}" == joint ]]; then  # validation only, as above
    for run in spectral-2stem-ensemble-joint spectral-2stem-ensemble-joint-fast; do separating "runs/$run"; done
    lane_a() {
        validate spectral-2stem-ensemble-joint-valid runs/spectral-2stem-ensemble-joint/best-separating.pt
        validate spectral-2stem-ensemble-valid spectral-2stem-ensemble
    }
    lane_b() { validate spectral-2stem-ensemble-joint-fast-valid runs/spectral-2stem-ensemble-joint-fast/best-separating.pt; }
    two_lanes lane_a lane_b
    echo "validation (23 musdb18-7 train/ clips, paper split):"
    "$bin/python" scripts/results_table.py --against bundled "bundled=eval/spectral-2stem-ensemble-valid" \
        "joint 3e-5=eval/spectral-2stem-ensemble-joint-valid" "joint 1e-4=eval/spectral-2stem-ensemble-joint-fast-valid"
    exit 0
fi

if [[ "${1:-}" == ensemble ]]; then  # after "conv-member" chose it on validation: test, then bundle
    run=runs/spectral-2stem-conv-member
    [[ -f "$run/ensemble.pt" ]] || { echo "run scripts/reproduce/bundle_spectral.sh conv-member first" >&2; exit 2; }
    lane_a() { evaluate spectral-2stem-ensemble-musdb7 "$run/ensemble.pt"; }
    lane_b() {
        evaluate spectral-2stem-eq-musdb7 spectral-2stem
        evaluate proposed-2stem-musdb7 proposed-2stem
        evaluate spleeter-2stem-musdb7 spleeter-2stem
    }
    two_lanes lane_a lane_b
    echo "test (50 musdb18-7 test/ clips):"
    "$bin/python" scripts/results_table.py --against "spectral-2stem" "spectral-2stem=eval/spectral-2stem-eq-musdb7" \
        "spectral-2stem-ensemble=eval/spectral-2stem-ensemble-musdb7" "proposed-2stem=eval/proposed-2stem-musdb7" \
        "Spleeter 2stems=eval/spleeter-2stem-musdb7"
    "$bin/python" scripts/reproduce/bundle_pretrained.py --ensemble "$run/ensemble.pt" --members spectral-2stem "$run" \
        --eval eval/spectral-2stem-ensemble-musdb7 --valid eval/spectral-2stem-conv-member-ensemble-valid
    exit 0
fi

if [[ "${1:-}" == fullband ]]; then  # the bundled ensemble carried over to 44.1 kHz with a trained high-band gain
    checkpoint=runs/fullband-gain/spectral-2stem-fullband.pt
    mkdir -p runs/fullband-gain
    [[ -f "$checkpoint" ]] || OMP_NUM_THREADS=1 "$bin/python" experiments/high_band.py compact --numbers 41 --hidden 32 --save "$checkpoint"
    lane_a() { validate spectral-2stem-fullband-valid "$checkpoint"; }
    lane_b() { evaluate spectral-2stem-fullband-musdb7 "$checkpoint"; }
    two_lanes lane_a lane_b
    OMP_NUM_THREADS=1 "$bin/python" experiments/full_band.py --candidate "$checkpoint"                 # validation, high band too
    OMP_NUM_THREADS=1 "$bin/python" experiments/full_band.py --split test --candidate "$checkpoint" --also spleeter-2stem
    "$bin/python" scripts/reproduce/bundle_pretrained.py --carried "$checkpoint" \
        --eval eval/spectral-2stem-fullband-musdb7 --valid eval/spectral-2stem-fullband-valid
    exit 0
fi

if [[ "${1:-}" == learning-curve ]]; then
    separating runs/spectral-2stem-data-half
    separating runs/spectral-2stem-data-quarter
    lane_a() {
        validate spectral-2stem-data-half-valid runs/spectral-2stem-data-half/best-separating.pt
        validate spectral-2stem-eq-valid spectral-2stem
        evaluate spectral-2stem-data-half-musdb7 runs/spectral-2stem-data-half/best-separating.pt
        evaluate proposed-2stem-musdb7 proposed-2stem
    }
    lane_b() {
        validate spectral-2stem-data-quarter-valid runs/spectral-2stem-data-quarter/best-separating.pt
        evaluate spectral-2stem-data-quarter-musdb7 runs/spectral-2stem-data-quarter/best-separating.pt
        evaluate spectral-2stem-eq-musdb7 spectral-2stem
        validate proposed-2stem-valid proposed-2stem
    }
    two_lanes lane_a lane_b
    for set in valid musdb7; do
        # the issue's aim: 1 dB of vocals above the bundled proposed-2stem on the same clips
        aim=$("$bin/python" -c "import json, sys; s = json.load(open(sys.argv[1]))
print(round(s['targets']['vocals']['SDR']['sisec18']['median'] + 1, 2))" "eval/proposed-2stem-$set/summary.json")
        echo "$set (proposed-2stem's vocals + 1 dB: $aim):"
        "$bin/python" scripts/reproduce/learning_curve.py --reach "vocals=$aim" \
            "configs/experiments/spectral-2stem-data-quarter.toml=eval/spectral-2stem-data-quarter-$set" \
            "configs/experiments/spectral-2stem-data-half.toml=eval/spectral-2stem-data-half-$set" \
            "configs/spectral-2stem-eq.toml=eval/spectral-2stem-eq-$set"
    done
    exit 0
fi

[[ -f "$("$bin/python" -c 'from lightsep.pretrained import peer_checkpoint_path as p; print(p("spleeter-2stem"))')" ]] \
    || "$bin/lightsep" get spleeter-2stem

# spectral-2stem is scored as it will separate: its best.pt at the preset's segment geometry
# (docs/architecture.md, "Geometry"), the weights as bundled
run2=runs/spectral-2stem-eq
separating "$run2"
run4=runs/spectral-4stem-fft2048
lane_a() {
    validate spectral-2stem-eq-valid "$run2/best-separating.pt"
    validate proposed-2stem-valid proposed-2stem
    evaluate spectral-2stem-eq-musdb7 "$run2/best-separating.pt"
    evaluate proposed-2stem-musdb7 proposed-2stem
    evaluate spleeter-2stem-musdb7 spleeter-2stem
    evaluate mixture-musdb7 mixture
}
lane_b() {
    validate spectral-4stem-fft2048-valid "$run4/best.pt"
    validate proposed-4stem-valid proposed-4stem
    evaluate spectral-4stem-fft2048-musdb7 "$run4/best.pt"
    evaluate proposed-4stem-musdb7 proposed-4stem
    evaluate oracle-irm-musdb7 oracle-irm
}
two_lanes lane_a lane_b

echo "validation (23 musdb18-7 train/ clips, paper split):"
"$bin/python" scripts/results_table.py "spectral-2stem=eval/spectral-2stem-eq-valid" "proposed-2stem=eval/proposed-2stem-valid" \
    "spectral-4stem=eval/spectral-4stem-fft2048-valid" "proposed-4stem=eval/proposed-4stem-valid"
echo "test (50 musdb18-7 test/ clips):"
"$bin/python" scripts/results_table.py "spectral-2stem=eval/spectral-2stem-eq-musdb7" "proposed-2stem=eval/proposed-2stem-musdb7" \
    "Spleeter 2stems=eval/spleeter-2stem-musdb7" "spectral-4stem=eval/spectral-4stem-fft2048-musdb7" \
    "proposed-4stem=eval/proposed-4stem-musdb7" "mixture=eval/mixture-musdb7" "ideal ratio mask=eval/oracle-irm-musdb7"

"$bin/python" scripts/reproduce/bundle_pretrained.py --run "$run2" --eval eval/spectral-2stem-eq-musdb7 --valid eval/spectral-2stem-eq-valid
"$bin/python" scripts/reproduce/bundle_pretrained.py --run "$run4" --eval eval/spectral-4stem-fft2048-musdb7 --valid eval/spectral-4stem-fft2048-valid
