"""What each named model is, for people choosing one: :func:`list_models` (``lightsep info``).

For every preset: its stems, sample rate, parameters, the latency ``lightsep stream`` states
for it (44.1 kHz stereo in, soxr's LQ resampler where the model's rate differs), whether
trained weights come with it, and which entry point uses it by default.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from .defaults import SEPARATE_MODEL, STREAM_MODEL

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
    from .streaming import StreamingSeparator

    separator = Separator(model, batch_size=1, resample_quality="LQ")
    return StreamingSeparator(separator, sample_rate, channels, warm_up=False).latency_seconds


def list_models(names=None, with_latency: bool = True) -> list[ModelEntry]:
    """Every named model (or those of ``names`` that are model names), the trained ones
    first (the defaults leading), then those with random weights only. ``with_latency``
    False leaves ``stream_latency_s`` at NaN (quicker)."""
    from .models.registry import PRESETS, build_model
    from .pretrained import PEER_MODELS, bundled_models, peer_checkpoint_path

    bundled = set(bundled_models())
    entries = []
    for name, preset in PRESETS.items():
        if names is not None and name not in names:
            continue
        model = build_model(name)
        weights = "bundled" if name in bundled else "lightsep get" if name in PEER_MODELS else None
        entries.append(ModelEntry(
            name=name,
            stems=tuple(model.sources),
            sample_rate=int(model.sample_rate),
            parameters=sum(p.numel() for p in model.parameters()),
            stream_latency_s=stream_latency_seconds(model) if with_latency else float("nan"),
            weights=weights,
            fetched=name in PEER_MODELS and peer_checkpoint_path(name).is_file(),
            default_for=tuple(command for command, default in (("separate", SEPARATE_MODEL), ("stream", STREAM_MODEL))
                              if default == name),
            description=preset.description,
        ))  # fmt: skip
    order = {name: i for i, name in enumerate((SEPARATE_MODEL, STREAM_MODEL))}
    return sorted(entries, key=lambda e: (not e.trained and e.weights != "lightsep get", e.weights is None,
                                          order.get(e.name, len(order))))  # fmt: skip

