#!/usr/bin/env bash
# The spectrogram-mask family's bundled weights (configs/spectral-2stem-eq.toml and
# configs/spectral-4stem-fft2048.toml), in two
# lanes of one thread each on a 2-core CPU. Rerunning resumes: a run with a state.pt goes on
# from it (--resume; a larger max_seconds in its config extends its budget), a finished one
# ends at once. Needs the data of scripts/get_real_music.py (docs/data.md). Logs:
# runs/spectral-*.log. Then scripts/reproduce/bundle_spectral.sh scores the runs and bundles them.
#
# The 2-stem recipe was chosen on musdb18-7 validation against its twin with the
# instrumental datasets, both started from random weights side by side (docs/models.md),
# with the first bundled network (configs/experiments/spectral-2stem.toml, STFT 1024/256):
#   scripts/reproduce/train-spectral.sh calibrate
# The causal streaming model (configs/spectral-2stem-live.toml): scripts/reproduce/train-spectral.sh live
# The 20 ms live model (configs/spectral-2stem-live-20ms.toml): scripts/reproduce/train-spectral.sh live-20ms
# the same with a 864-sample synthesis window (configs/experiments/spectral-2stem-live-20ms-l864.toml), to
# choose the window on validation: scripts/reproduce/train-spectral.sh live-20ms-l864
# spectral-2stem trained on from its bundled weights (configs/experiments/spectral-2stem-continued.toml),
# at the lowest CPU priority so that it only takes what the other lane leaves:
#   scripts/reproduce/train-spectral.sh continue
# The same beside its twin with pitch/tempo augmentation (configs/experiments/spectral-2stem-resample.toml),
# one lane each, to choose the augmentation on validation:
#   scripts/reproduce/train-spectral.sh resample
# spectral-2stem with a 2048-point STFT (configs/experiments/spectral-2stem-fft2048.toml), one lane, from
# random weights, to compare with spectral-2stem on validation:
#   scripts/reproduce/train-spectral.sh fft2048
# (the bundled spectral-2stem since), and the first bundled pair (spectral-2stem with the
# 1024-point STFT, which configs/experiments/spectral-2stem-continued.toml and -resample start from):
#   scripts/reproduce/train-spectral.sh first
# spectral-4stem with the 2048-point STFT (configs/spectral-4stem-fft2048.toml; the bundled
# spectral-4stem since), one lane:
#   scripts/reproduce/train-spectral.sh 4stem-fft2048
# the same with a wider GRU (configs/experiments/spectral-2stem-fft2048-wide.toml), in the other lane:
#   scripts/reproduce/train-spectral.sh fft2048-wide
# the bundled spectral-2stem trained on with the thresholded-SNR loss
# (configs/experiments/spectral-2stem-snr.toml), one lane:
#   scripts/reproduce/train-spectral.sh snr
# and, in the other lane, with the MSE and pitch/tempo augmentation
# (configs/experiments/spectral-2stem-fft2048-resample.toml):
#   scripts/reproduce/train-spectral.sh fft2048-resample
# spectral-2stem's recipe with pitch/tempo augmentation from random weights
# (configs/experiments/spectral-2stem-fft2048-scratch-resample.toml), one lane:
#   scripts/reproduce/train-spectral.sh fft2048-scratch-resample
# the bundled spectral-2stem trained on with a moving average of its weights
# (configs/experiments/spectral-2stem-fft2048-ema.toml), in the other lane:
#   scripts/reproduce/train-spectral.sh fft2048-ema
# the bundled spectral-2stem trained on with the 2.97 s segments it separates with
# (configs/experiments/spectral-2stem-long.toml), one lane:
#   scripts/reproduce/train-spectral.sh long
# and the same with the instrumental datasets at a small weight
# (configs/experiments/spectral-2stem-instrumental-ema.toml), in the other lane:
#   scripts/reproduce/train-spectral.sh instrumental-ema
# the causal streaming model trained on from its bundled weights
# (configs/experiments/spectral-2stem-live-more.toml), one lane, across sessions:
#   scripts/reproduce/train-spectral.sh live-more
# spectral-2stem's recipe from random weights with dropout 0.2
# (configs/experiments/spectral-2stem-dropout.toml), one lane:
#   scripts/reproduce/train-spectral.sh dropout
# and the same recipe with random EQ instead (configs/spectral-2stem-eq.toml; the bundled
# spectral-2stem since), in the other lane:
#   scripts/reproduce/train-spectral.sh eq
# the same with stronger EQ (configs/experiments/spectral-2stem-eq-strong.toml), in the lane the dropout
# trial left:
#   scripts/reproduce/train-spectral.sh eq-strong
# a learning curve: the bundled spectral-2stem's recipe on half and on about a quarter of its
# music (configs/experiments/spectral-2stem-data-half.toml, -data-quarter.toml), one lane each:
#   scripts/reproduce/train-spectral.sh learning-curve
# spectral-2stem's recipe with 512 bands in and out (configs/experiments/spectral-2stem-bands512.toml), one
# lane:
#   scripts/reproduce/train-spectral.sh bands512
# spectral-2stem's recipe with band-axis convolutions (configs/experiments/spectral-2stem-bandconv.toml), its
# config asks for two threads:
#   scripts/reproduce/train-spectral.sh bandconv
# spectral-2stem with band convolutions beside its dense layers
# (configs/experiments/spectral-2stem-dense-bandconv.toml), one lane:
#   scripts/reproduce/train-spectral.sh dense-bandconv
# a small band-convolution member for spectral-2stem-ensemble (configs/spectral-2stem-conv-member.toml),
# one lane:
#   scripts/reproduce/train-spectral.sh conv-member
# two more small members, for a three-network ensemble within about 1M parameters
# (configs/experiments/spectral-2stem-dense-member.toml, -conv-member-wide.toml), one lane each:
#   scripts/reproduce/train-spectral.sh three-members
# the bundled spectral-2stem-ensemble trained on as one model, both members through their mean
# mask, at two rates (configs/experiments/spectral-2stem-ensemble-joint.toml, -joint-fast.toml), one lane each:
#   scripts/reproduce/train-spectral.sh joint
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
bin=.venv/bin
mkdir -p runs

config_file() {  # config_file NAME: configs/NAME.toml (a bundled recipe) or configs/experiments/NAME.toml
    if [ -f "configs/$1.toml" ]; then echo "configs/$1.toml"; else echo "configs/experiments/$1.toml"; fi
}

train() {  # train CONFIG_NAME [OPTIONS...]: run or resume configs/CONFIG_NAME.toml
    local name="$1" resume=()
    shift
    [[ -f "runs/$name/state.pt" ]] && resume=(--resume)
    OMP_NUM_THREADS=1 "$bin/lightsep" train --config "$(config_file "$name")" "${resume[@]}" --quiet "$@" >> "runs/$name.log" 2>&1
}

side_by_side() {  # side_by_side CONFIG_A CONFIG_B [OPTIONS...]: two lanes at once
    local first second status=0
    train "$1" "${@:3}" &
    first=$!
    train "$2" "${@:3}" &
    second=$!
    wait "$first" || status=1
    wait "$second" || status=1
    return $status
}

case "${1:-}" in
    live) train spectral-2stem-live ;;  # the causal streaming model, one lane
    live-20ms) train spectral-2stem-live-20ms ;;  # the 20 ms live model, from the 46 ms one's weights, one lane
    fft2048 | fft2048-wide | fft2048-resample | fft2048-scratch-resample | fft2048-ema | snr | long | instrumental-ema | live-more | live-20ms-l864 | dropout | eq | eq-strong | data-half | data-quarter | bands512 | bandconv | dense-bandconv | conv-member)
        train "spectral-2stem-$1" ;;
    4stem-fft2048) train spectral-4stem-fft2048 ;;
    continue)
        renice -n 19 $$ >/dev/null
        train spectral-2stem-continued
        ;;
    resample) side_by_side spectral-2stem-continued spectral-2stem-resample ;;
    calibrate) side_by_side spectral-2stem spectral-2stem-instrumental --max-iterations 4000 ;;  # 4000 steps each
    learning-curve) side_by_side spectral-2stem-data-half spectral-2stem-data-quarter ;;
    joint) side_by_side spectral-2stem-ensemble-joint spectral-2stem-ensemble-joint-fast ;;
    three-members) side_by_side spectral-2stem-dense-member spectral-2stem-conv-member-wide ;;
    first) side_by_side spectral-2stem spectral-4stem ;;  # the first bundled pair (STFT 1024/256)
    *) side_by_side spectral-2stem-eq spectral-4stem-fft2048 ;;
esac
