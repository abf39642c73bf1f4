"""Named model configurations: build any model of the paper by name, with overrides."""

from __future__ import annotations

import contextlib
import inspect
import re
from dataclasses import dataclass, field
from typing import Any

import torch

from ..errors import LightsepError, UnknownModelError
from .base import SeparationModel
from .lightsep_net import LightSepNet
from .reference import MixtureModel
from .spectral import SpectralMaskNet
from .spleeter import SpleeterNet
from .waveunet import WaveUNet

MODEL_CLASSES: dict[str, type[SeparationModel]] = {
    "LightSepNet": LightSepNet,
    "WaveUNet": WaveUNet,
    "SpectralMaskNet": SpectralMaskNet,
    "SpleeterNet": SpleeterNet,
    "MixtureModel": MixtureModel,
}

TWO_STEMS = ("vocals", "accompaniment")
FOUR_STEMS = ("vocals", "drums", "bass", "other")
# Wave-U-Net's own source orders: with difference output its *last* source is computed.
WAVEUNET_TWO_STEMS = ("accompaniment", "vocals")
WAVEUNET_FOUR_STEMS = ("bass", "drums", "other", "vocals")


@dataclass(frozen=True)
class ModelPreset:
    model_class: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    description: str = ""


_WUN_CONTEXT = dict(output_type="difference", context=True)
GEOMETRY_ARGUMENTS = {"context_samples", "output_start", "output_samples"}
"""The constructor arguments that set a model's segment geometry and no weight's shape: a
model's weights load into the same model with other values of these."""


def differing_arguments(a: dict, b: dict) -> list[str]:
    """The keys whose values differ between ``a`` and ``b`` (absent counts as None), sorted."""
    return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))


SPECTRAL_TRAINING_GEOMETRY = dict(context_samples=32768, output_start=4096, output_samples=24576)
"""The segments the spectrogram-mask family trains on: 1.49 s of context, of which the middle
1.11 s is output (0.19 s of context each side); spectral-4stem also separates with them."""
SPECTRAL_LONG_GEOMETRY = dict(context_samples=65536, output_start=4096, output_samples=57344)
"""The segments spectral-2stem separates with: twice as long as it trained on (2.97 s, the
middle 2.60 s output), with the same weights (a bidirectional GRU runs on any number of
frames). Chosen on the validation clips over the training segments and over 5.94 s ones, and
less work than the training segments; docs/architecture.md, "Geometry"."""
SPECTRAL_STFT = dict(n_fft=2048, hop=512)
"""The offline spectral presets' STFT at 22.05 kHz: 93 ms windows (as Spleeter's and
Open-Unmix's 4096 points at 44.1 kHz), chosen on validation over 1024/256 for each of them
(docs/architecture.md, "STFT size")."""

SPECTRAL_CONVOLUTION_MEMBER = dict(hidden=96, frequency_channels=[8, 16, 24, 32, 32], time_kernel=3)
"""The second member of spectral-2stem-ensemble (its first is spectral-2stem's dense network): a
U-Net over the bands (kernels of 3 frames by 5 bands) around a GRU of 96, 0.257M parameters,
small enough that the pair stays within about 1M (configs/spectral-2stem-conv-member.toml;
docs/models.md)."""

SPECTRAL_FULL_BAND = dict(
    sample_rate=44100, n_fft=4096, hop=1024, context_samples=131072, output_start=8192, output_samples=114688,
    high_bands=16, magnitude_scale=0.5, narrow_features=True,
)  # fmt: skip
"""A 22.05 kHz offline preset's STFT and segments at 44.1 kHz, as
:func:`lightsep.models.spectral.full_band_of` carries them over (twice the points, hop and
samples: the same windows and frames in seconds), with 16 bands above 11.025 kHz."""

PRESETS: dict[str, ModelPreset] = {
    "proposed-2stem": ModelPreset(
        "LightSepNet", dict(sources=TWO_STEMS), "ASPP + RFPD + temporal attention, vocals/accompaniment (Table 3)"
    ),
    "proposed-4stem": ModelPreset(
        "LightSepNet", dict(sources=FOUR_STEMS), "ASPP + RFPD + temporal attention, four MUSDB18 stems (Table 4)"
    ),
    "proposed-2stem-lowlatency": ModelPreset(
        "LightSepNet",
        dict(sources=TWO_STEMS, context_samples=2560, output_start=768, output_samples=1024),
        "the proposed 2-stem model for streaming: of a 2560-sample (116 ms) context it outputs the middle "
        "1024 samples, with 768 samples (35 ms) of look-ahead; 149 ms latency at 44.1 kHz (lightsep stream)",
    ),
    "spectral-2stem": ModelPreset(
        "SpectralMaskNet",
        dict(sources=TWO_STEMS, **SPECTRAL_STFT, **SPECTRAL_LONG_GEOMETRY),
        "spectrogram masks (STFT 2048/512 at 22.05 kHz, stereo, 256 bands, bidirectional GRU): vocals/accompaniment",
    ),
    "spectral-2stem-ensemble": ModelPreset(
        "SpectralMaskNet",
        dict(sources=TWO_STEMS, **SPECTRAL_STFT, **SPECTRAL_LONG_GEOMETRY, members=[{}, SPECTRAL_CONVOLUTION_MEMBER]),
        "spectral-2stem's dense network and a small band-convolution one over one STFT, their masks averaged: "
        "vocals/accompaniment",
    ),
    "spectral-2stem-fullband": ModelPreset(
        "SpectralMaskNet",
        dict(sources=TWO_STEMS, **SPECTRAL_FULL_BAND, members=[{}, SPECTRAL_CONVOLUTION_MEMBER], high_gain=32),
        "spectral-2stem-ensemble at 44.1 kHz over the whole band (STFT 4096/1024, its weights below 11.025 kHz), the "
        "vocals above 11.025 kHz one gain per frame and channel: vocals/accompaniment",
    ),
    "spectral-4stem": ModelPreset(
        "SpectralMaskNet",
        dict(sources=FOUR_STEMS, **SPECTRAL_STFT, **SPECTRAL_TRAINING_GEOMETRY),
        "spectrogram masks (STFT 2048/512 at 22.05 kHz, stereo, 256 bands, bidirectional GRU): four MUSDB18 stems",
    ),
    "spectral-2stem-live": ModelPreset(
        "SpectralMaskNet",
        dict(sources=TWO_STEMS, sample_rate=44100, n_fft=2048, hop=512, bidirectional=False, context_samples=65536,
             output_start=16384, output_samples=49152),  # fmt: skip
        "causal spectrogram masks for live streaming (STFT 2048/512 at 44.1 kHz, one-way GRU, frame by frame): "
        "46 ms of latency at 44.1 kHz",
    ),
    "spectral-2stem-live-20ms": ModelPreset(
        "SpectralMaskNet",
        dict(sources=TWO_STEMS, sample_rate=44100, n_fft=2048, hop=512, bidirectional=False, context_samples=65536,
             output_start=16384, output_samples=49152, synthesis_samples=768),  # fmt: skip
        "causal spectrogram masks for live monitoring (low-delay STFT: 2048-sample analysis, 768-sample synthesis, "
        "hop 512, at 44.1 kHz, one-way GRU, frame by frame): 17 ms of latency at 44.1 kHz",
    ),
    "ablation-a": ModelPreset("LightSepNet", dict(sources=TWO_STEMS, attention=False), "Table 1 (a): RFPD only"),
    "ablation-b": ModelPreset("LightSepNet", dict(sources=TWO_STEMS), "Table 1 (b): RFPD + temporal attention"),
    "ablation-c": ModelPreset(
        "LightSepNet",
        dict(sources=TWO_STEMS, decoder="upsample", decoder_channels=[128, 64, 32, 16, 8]),
        "Table 1 (c): upsampling (depth-to-time) decoder + temporal attention",
    ),
    "waveunet-m1": ModelPreset("WaveUNet", dict(sources=WAVEUNET_TWO_STEMS), "Wave-U-Net M1: mono, direct output"),
    "waveunet-m2": ModelPreset(
        "WaveUNet", dict(sources=WAVEUNET_TWO_STEMS, output_type="difference"), "Wave-U-Net M2: mono, difference output"
    ),
    "waveunet-m3": ModelPreset(
        "WaveUNet", dict(sources=WAVEUNET_TWO_STEMS, **_WUN_CONTEXT), "Wave-U-Net M3: mono, difference, context"
    ),
    "waveunet-m4": ModelPreset(
        "WaveUNet", dict(sources=WAVEUNET_TWO_STEMS, audio_channels=2, **_WUN_CONTEXT), "Wave-U-Net M4: stereo, context"
    ),
    "waveunet-m5": ModelPreset(
        "WaveUNet",
        dict(sources=WAVEUNET_TWO_STEMS, audio_channels=2, upsampling="learned", **_WUN_CONTEXT),
        "Wave-U-Net M5: stereo, context, learned upsampling",
    ),
    "waveunet-m6": ModelPreset(
        "WaveUNet",
        dict(sources=WAVEUNET_FOUR_STEMS, audio_channels=2, **_WUN_CONTEXT),
        "Wave-U-Net M6: stereo, context, four stems",
    ),
    "tiny": ModelPreset(
        "LightSepNet",
        dict(
            sources=TWO_STEMS,
            context_samples=1024,
            encoder_channels=[4, 4, 8, 8],
            separable_kernel=5,
            bottleneck_fold=2,
            aspp_channels=8,
            aspp_dilations=[1, 2, 4],
            aspp_kernel=3,
            decoder_channels=8,
            decoder_kernel=3,
            attention_heads=4,
            head_features=2,
            output_kernel=5,
        ),
        "a few thousand parameters, randomly initialised, for fast tests",
    ),
    "spleeter-2stem": ModelPreset(
        "SpleeterNet",
        dict(sources=TWO_STEMS),
        "a peer: Spleeter's 2-stem model (two 9.8M-parameter U-Nets, 44.1 kHz); weights from `lightsep get spleeter-2stem`",
    ),
    "mixture": ModelPreset(
        "MixtureModel", dict(sources=TWO_STEMS), "every estimate is the mixture: the evaluation floor (no parameters)"
    ),
}


def list_models() -> list[str]:
    return list(PRESETS)


def preset_arguments(name: str, **overrides: Any) -> tuple[str, dict[str, Any]]:
    """The model class name and the constructor arguments of preset ``name``."""
    try:
        preset = PRESETS[name]
    except KeyError:
        raise UnknownModelError(f"unknown model {name!r}; known models: {', '.join(PRESETS)}") from None
    return preset.model_class, {**preset.kwargs, **overrides}


def build_model(name: str, **overrides: Any) -> SeparationModel:
    """Build preset ``name`` (randomly initialised), with constructor arguments overridden."""
    class_name, kwargs = preset_arguments(name, **overrides)
    return build_from_arguments(class_name, kwargs, name)


MAX_PARAMETERS = 200_000_000  # 0.8 GB of float32 weights; the largest preset has 10.3M
MAX_CONTEXT_SAMPLES = 1 << 22
SAMPLE_RATES = (1000, 384000)
MAX_AUDIO_CHANNELS = 8


class ModelArgumentError(LightsepError, ValueError):
    """Constructor arguments that do not describe a model lightsep can build."""


IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}")
"""A source or model name: it becomes a file or folder name, so it is a plain identifier
(letters, digits, and ``_ . + -`` after the first character; no path separators, no
``..``, at most 64 characters)."""


def check_identifier(name: object, what: str) -> str:
    """``name`` if it is a plain identifier (:data:`IDENTIFIER`), else :class:`ModelArgumentError`."""
    if not isinstance(name, str) or not IDENTIFIER.fullmatch(name) or ".." in name:
        raise ModelArgumentError(f"{what} {name!r} is not a plain name (letters, digits, _ . + -; it names files)")
    return name


def _check_kinds(cls: type[SeparationModel], kwargs: dict[str, Any], class_name: str) -> None:
    """Each argument of the kind its default has (a number where a number is expected, a
    list where a list is), so that a wrong kind is named instead of failing deep inside."""
    defaults = {k: p.default for k, p in inspect.signature(cls.__init__).parameters.items() if p.default is not inspect.Parameter.empty}
    for key, value in kwargs.items():
        if key not in defaults or defaults[key] is None:
            continue
        default = defaults[key]
        number_or_list = isinstance(value, (int, float, tuple, list)) and not isinstance(value, bool)
        if isinstance(default, bool):
            ok = isinstance(value, bool)
        elif isinstance(default, (int, float, tuple, list)):  # some sizes are one number or one per level
            ok = number_or_list
        elif isinstance(default, str):
            ok = isinstance(value, str)
        else:
            continue
        if not ok:
            raise ModelArgumentError(f"invalid arguments for {class_name}: {key} must be like {default!r}, got {value!r}")


def _construct(cls: type[SeparationModel], kwargs: dict[str, Any], class_name: str, device: str | None = None):
    _check_kinds(cls, kwargs, class_name)
    try:
        with torch.device(device) if device else contextlib.nullcontext():
            return cls(**kwargs)
    except TypeError as exc:  # an unknown keyword, or a value of the wrong kind
        raise UnknownModelError(f"bad arguments for {class_name}: {_first_line(exc)}") from None
    except ZeroDivisionError:
        raise ModelArgumentError(f"invalid arguments for {class_name}: a size or count of 0 where a positive one is needed") from None
    except (ValueError, ArithmeticError, IndexError, KeyError, RuntimeError, MemoryError) as exc:
        raise ModelArgumentError(f"invalid arguments for {class_name}: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    """An exception's message without the C++ frames PyTorch appends."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _check_bounds(model: SeparationModel, class_name: str) -> None:
    def require(condition: bool, what: str) -> None:
        if not condition:
            raise ModelArgumentError(f"invalid arguments for {class_name}: {what}")

    require(isinstance(model.sample_rate, int) and SAMPLE_RATES[0] <= model.sample_rate <= SAMPLE_RATES[1],
            f"sample rate {model.sample_rate!r} is not in {SAMPLE_RATES[0]}..{SAMPLE_RATES[1]} Hz")  # fmt: skip
    require(0 < model.context_samples <= MAX_CONTEXT_SAMPLES, f"context of {model.context_samples} samples is not in 1..{MAX_CONTEXT_SAMPLES}")
    require(0 < model.output_samples <= model.context_samples, f"output of {model.output_samples} samples for a context of {model.context_samples}")
    require(1 <= model.audio_channels <= MAX_AUDIO_CHANNELS, f"{model.audio_channels} audio channels (1..{MAX_AUDIO_CHANNELS})")
    require(len(model.sources) >= 1 and all(isinstance(x, str) and x for x in model.sources), f"sources {model.sources!r}")
    for source in model.sources:
        check_identifier(source, f"invalid arguments for {class_name}: source")
    require(len(set(model.sources)) == len(model.sources), f"sources {list(model.sources)!r} name a source twice")
    parameters = sum(p.numel() for p in model.parameters()) + sum(b.numel() for b in model.buffers())
    require(parameters <= MAX_PARAMETERS, f"{parameters:,} weights, more than the {MAX_PARAMETERS:,} lightsep builds")


def check_model_arguments(name: str, overrides: dict[str, Any]) -> None:
    """Check that preset ``name`` with ``overrides`` can be built, without allocating it."""
    class_name, kwargs = preset_arguments(name, **overrides)
    _checked_class(class_name, kwargs)


def _checked_class(class_name: str, kwargs: dict[str, Any]) -> type[SeparationModel]:
    """The class, once ``kwargs`` built it on the ``meta`` device (nothing allocated) within
    bounds."""
    cls = _model_class(class_name)
    _check_bounds(_construct(cls, kwargs, class_name, "meta"), class_name)
    return cls


def _model_class(class_name: str) -> type[SeparationModel]:
    try:
        return MODEL_CLASSES[class_name]
    except (KeyError, TypeError):
        raise UnknownModelError(f"unknown model class {class_name!r}; known: {', '.join(MODEL_CLASSES)}") from None


def build_from_arguments(class_name: str, kwargs: dict[str, Any], name: str | None = None) -> SeparationModel:
    """Build a model from its class name and constructor arguments (a checkpoint's, say).

    The arguments are first tried on PyTorch's ``meta`` device, which allocates nothing, and
    the model's rate, context, channels and size are bounded there, so arguments from an
    untrusted file cannot make lightsep allocate without limit.
    """
    model = _construct(_checked_class(class_name, kwargs), kwargs, class_name)
    model.name = check_identifier(name or class_name, "model name")
    return model
