"""What each named model is, for people choosing one: :func:`list_models` (``lightsep info``).

For every preset: its stems, sample rate, parameters, the latency ``lightsep stream`` states
for it (44.1 kHz stereo in, through the resampler it takes where the model's rate differs), whether
trained weights come with it, and which entry point uses it by default.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from .defaults import SEPARATE_MODEL, STREAM_MODEL, STREAM_MODELS_BY_LATENCY

STREAM_RATE = 44100


@dataclass(frozen=True)
class ModelEntry:
    """One named model. ``weights``: ``"bundled"`` (in the package), ``"lightsep get"``
    (another project's, fetched and converted on this machine; ``fetched`` says whether it
    is), or ``None`` (random weights only: for timing and tests)."""

    name: str
    stems: tuple[str, ...]
    sample_rate: int
    parameters: int
    stream_latency_s: float
    weights: str | None
    fetched: bool
    default_for: tuple[str, ...]
    description: str

    @property
    def trained(self) -> bool:
        return self.weights == "bundled" or self.fetched

    def as_dict(self) -> dict:
        return {**asdict(self), "stems": list(self.stems), "default_for": list(self.default_for), "trained": self.trained}


def stream_latency_seconds(model, sample_rate: int = STREAM_RATE, channels: int = 2) -> float:
    """The latency ``lightsep stream`` states for ``model`` (a model instance; its weights
    do not matter) on ``sample_rate`` Hz input."""
    from .separator import Separator
    from .streaming import StreamingSeparator, realtime_resample_quality

    separator = Separator(model, batch_size=1, resample_quality=realtime_resample_quality(model))
    return StreamingSeparator(separator, sample_rate, channels, warm_up=False).latency_seconds


def ordered_names() -> list[str]:
    """The named models in the order people choose among them: the bundled ones (the
    defaults first), then the peers fetched by ``lightsep get``, then the untrained ones,
    each group in the registry's order. Nothing is built."""
    from .models.registry import PRESETS
    from .pretrained import PEER_MODELS, bundled_models

    bundled, defaults = set(bundled_models()), (SEPARATE_MODEL, STREAM_MODEL)

    def rank(name: str) -> tuple[int, int]:
        group = 0 if name in bundled else 1 if name in PEER_MODELS else 2
        return group, defaults.index(name) if name in defaults else len(defaults)

    return sorted(PRESETS, key=rank)  # stable: the registry's order within a rank


_DEFAULTS = (("separate", SEPARATE_MODEL), ("stream", STREAM_MODEL),
             *((f"stream --latency {ms}", name) for ms, name in STREAM_MODELS_BY_LATENCY.items() if name != STREAM_MODEL))
"""(command, the model it runs by default)."""


def entry_of(name: str, model, with_latency: bool = True) -> ModelEntry:
    """:class:`ModelEntry` of preset ``name``, from ``model`` (built from it; its weights do
    not matter). ``with_latency`` False leaves ``stream_latency_s`` at NaN (quicker)."""
    from .models.registry import PRESETS
    from .pretrained import PEER_MODELS, bundled_models, peer_checkpoint_path

    weights = "bundled" if name in bundled_models() else "lightsep get" if name in PEER_MODELS else None
    return ModelEntry(
        name=name,
        stems=tuple(model.sources),
        sample_rate=int(model.sample_rate),
        parameters=sum(p.numel() for p in model.parameters()),
        stream_latency_s=stream_latency_seconds(model) if with_latency else float("nan"),
        weights=weights,
        fetched=name in PEER_MODELS and peer_checkpoint_path(name).is_file(),
        default_for=tuple(command for command, default in _DEFAULTS if default == name),
        description=PRESETS[name].description,
    )  # fmt: skip


def list_models(with_latency: bool = True) -> list[ModelEntry]:
    """Every named model, in :func:`ordered_names`' order: the trained ones first (the
    defaults leading), then those with random weights only."""
    from .models.registry import build_model

    return [entry_of(name, build_model(name), with_latency) for name in ordered_names()]
