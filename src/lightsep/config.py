"""Training configurations: plain dataclasses, read from TOML files under ``configs/``.

Every key is checked. An unknown key or a value of the wrong type raises
:class:`ConfigError`, which names the key and lists the valid ones.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .bounds import MAX_THREADS, MAX_TRAINING_BATCH
from .errors import LightsepError
from .fileio import not_a_file

LOSSES = ("mse", "snr", "high-snr")
"""The values of ``training.loss``."""


class ConfigError(LightsepError):
    """A configuration file or override is invalid."""


@dataclass
class ModelSection:
    name: str = "proposed-2stem"
    """A registered model name (``lightsep info`` lists them)."""
    args: dict[str, Any] = field(default_factory=dict)
    """Constructor overrides, e.g. ``{attention = false}``."""
    init: str = ""
    """Start from these weights instead of a random initialisation: a checkpoint file, or a
    model name whose bundled weights to use (``--init``). The optimiser starts fresh."""


@dataclass
class DatasetEntry:
    """One of several datasets of a run (``[[data.datasets]]``)."""

    name: str = ""
    """A name for reports and ``data.valid_dataset``."""
    root: str = ""
    """MUSDB18, MUSDB18-HQ, lightsep corpus or CCMixter folder."""
    weight: float = 1.0
    """Share of the training examples drawn from this dataset (relative to the others')."""
    split: str = "paper"
    """``paper`` (75/25 of its training tracks), ``musdb`` (musdb's 14 validation tracks),
    ``train`` (every training track for training) or ``valid`` (every one for validation)."""
    max_train_tracks: int = 0
    """Train on only this many of the dataset's training tracks (0: all), for learning curves:
    the first N of a fixed shuffle (seeded by ``data.split_seed``), so a smaller subset is
    part of every larger one. The validation tracks stay as they are."""


@dataclass
class AugmentSection:
    """Augmentations beyond the paper's random source gains (all off by default)."""

    remix: float = 0.0
    """Probability that an example is a cross-track remix: each source from an independently
    drawn track (of any dataset, by weight) and offset."""
    channel_swap: float = 0.0
    """Probability, per source, of swapping left and right (stereo models only)."""
    polarity: float = 0.0
    """Probability, per source, of inverting its polarity."""
    eq: float = 0.0
    """Probability, per source, of a random EQ: low and high shelves (below 200 Hz, above
    4 kHz) of up to ``eq_db`` dB each way."""
    eq_db: float = 6.0
    resample: float = 0.0
    """Probability, per example, of playing all its sources faster or slower by resampling
    (pitch and tempo together, the sources still in time), by up to ``resample_semitones``."""
    resample_semitones: float = 2.0


@dataclass
class DataSection:
    root: str = ""
    """MUSDB18, MUSDB18-HQ or lightsep-corpus folder (``--data`` on the command line)."""
    ccmixter: str = ""
    """Optional CCMixter folder whose tracks join the training tracks (2-stem models only)."""
    split: str = "paper"
    """``paper`` (75/25 of the training tracks) or ``musdb`` (the official 14 validation tracks)."""
    split_seed: int = 20200504
    gain_min: float = 0.7
    gain_max: float = 1.0
    workers: int = 2
    """DataLoader worker processes (0: load in the training process)."""
    max_valid_tracks: int = 0
    """Use only the first N validation tracks (0: all), to bound validation time on a CPU."""
    datasets: list[DatasetEntry] = field(default_factory=list)
    """Several datasets (``[[data.datasets]]``), each with its weight and split; instead of
    ``root``, ``ccmixter`` and ``split``."""
    valid_dataset: str = ""
    """Validate on this named dataset's validation tracks only ("" : every dataset's)."""
    augment: AugmentSection = field(default_factory=AugmentSection)


@dataclass
class PhaseSection:
    lr: float = 1e-5
    batch_size: int = 32
    patience: int = 30
    """Stop the phase after this many epochs without a better validation loss."""
    max_epochs: int = 0
    """Stop the phase after this many epochs in any case (0: no limit)."""
    max_seconds: float = 0.0
    """Stop the phase once its training steps have taken this many seconds (0: no limit).
    The epoch in progress is cut short and validated. A budget in time, not steps: runs that
    share a machine, or run on different ones, stop at different steps."""
    enabled: bool = True


@dataclass
class TrainingSection:
    seed: int = 0
    iterations_per_epoch: int = 2000
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    main: PhaseSection = field(default_factory=PhaseSection)
    finetune: PhaseSection = field(default_factory=lambda: PhaseSection(lr=1e-6))
    checkpoint_every: int = 100
    """Write the resumable state every N iterations (and at every epoch end)."""
    log_every: int = 20
    """Average the training loss over N iterations per row of the CSV log."""
    max_iterations: int = 0
    """Stop after this many iterations in all (0: no limit); the state stays resumable."""
    loss: str = "mse"
    """``mse`` (the paper's: the squared error over every output sample of the batch) or
    ``snr``: each source of each example's error in decibels, with a ceiling, silent sources
    left out (:func:`lightsep.training.snr_terms`), so quiet passages count as much as loud
    ones, as they do in the SiSEC18 median over one-second frames; or ``high-snr``: the same
    over the stems high-passed at ``high_band_hz`` alone, every example counted (a source
    silent there counts its leakage against the mixture's high band;
    :func:`lightsep.training.high_band_snr_terms`). The validation loss is the same."""
    snr_max_db: float = 30.0
    """The ``snr`` loss's ceiling: an error this far below its source counts as none."""
    high_band_weight: float = 0.0
    """0: off. Otherwise the ``mse`` loss adds this many times the squared error of the
    estimates and targets high-passed at ``high_band_hz`` (in training and in validation, so
    that ``best.pt`` is chosen with it): the band above 11 kHz holds a few percent of the
    music's energy, and the plain squared error hardly asks a full-band model to learn it."""
    high_band_hz: float = 11025.0
    """Where ``high_band_weight``'s band (and the ``high-snr`` loss's) starts."""
    trainable: list[str] = field(default_factory=list)
    """Empty: train every parameter. Else only those whose names contain one of these
    (``["high_"]``: a full-band model's high-band corrections); the others stay as they
    were loaded."""
    ema_decay: float = 0.0
    """0: off (the paper's recipe). Otherwise the weights that are validated and saved
    (``best.pt``) are an exponential moving average of the trained ones, updated after every
    step with this decay (0.999: about the last thousand steps), which smooths the step-to-step
    jitter of a small dataset's training; each phase's average starts from its first weights."""


@dataclass
class RunSection:
    dir: str = ""
    """Where checkpoints and logs go (default ``runs/<name>``)."""
    device: str = "auto"
    """``auto`` (CUDA when present), ``cpu`` or ``cuda``."""
    threads: int = 0
    """CPU threads for PyTorch (0: its default)."""
    bf16: bool = False
    """bf16 autocast (GPU only)."""
    compile: bool = False
    """torch.compile the model (GPU only)."""


@dataclass
class TrainConfig:
    name: str = "experiment"
    description: str = ""
    model: ModelSection = field(default_factory=ModelSection)
    data: DataSection = field(default_factory=DataSection)
    training: TrainingSection = field(default_factory=TrainingSection)
    run: RunSection = field(default_factory=RunSection)

    @property
    def run_dir(self) -> Path:
        return Path(self.run.dir or f"runs/{self.name}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# --------------------------------------------------------------------------------------


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is list:
        item = typing.get_args(tp)[0]
        return f"a list of {ITEM_NAMES.get(item, _type_name(item))}"
    if origin is dict:
        return "a table"
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false"}.get(tp, str(tp))


ITEM_NAMES = {str: "strings", int: "integers", float: "numbers", bool: "true or false values"}
"""What the items of a list of each type are called, in messages."""


def _coerce(value: Any, tp: Any, key: str) -> Any:
    origin = typing.get_origin(tp)
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{key} must be {_type_name(tp)}, got {value!r}")
        item = typing.get_args(tp)[0]
        if dataclasses.is_dataclass(item):
            if not all(isinstance(v, dict) for v in value):
                raise ConfigError(f"{key} must be a list of tables ([[{key}]])")
            return [_build(item, v, f"{key}[{i}]") for i, v in enumerate(value)]
        return [_coerce(v, item, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key} must be a table, got {value!r}")
        return dict(value)
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if (tp in (int, float) and isinstance(value, bool)) or not isinstance(value, tp):  # bool is an int subclass
        raise ConfigError(f"{key} must be {_type_name(tp)}, got {value!r}")
    return value


def _build(cls: type, data: dict[str, Any], prefix: str) -> Any:
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        where = f"[{prefix}]" if prefix else "the top level"
        bad = f"{prefix}.{unknown[0]}" if prefix else unknown[0]
        raise ConfigError(f"unknown key '{bad}'; valid keys in {where}: {', '.join(fields)}")
    values = {}
    for name, value in data.items():
        key = f"{prefix}.{name}" if prefix else name
        tp = hints[name]
        if dataclasses.is_dataclass(tp):
            if not isinstance(value, dict):
                raise ConfigError(f"{key} must be a table ([{key}]), got {value!r}")
            values[name] = _build(tp, value, key)
        else:
            values[name] = _coerce(value, tp, key)
    return cls(**values)


def config_from_dict(data: dict[str, Any]) -> TrainConfig:
    config = _build(TrainConfig, data, "")
    _check(config)
    return config


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


def _check(config: TrainConfig) -> None:
    """Bounds on every value, before anything is built or allocated."""
    from .models.registry import PRESETS, check_identifier, check_model_arguments

    if not config.run.dir:  # the name becomes the run folder runs/<name>
        try:
            check_identifier(config.name, "name")
        except LightsepError as exc:
            raise ConfigError(f"{exc} (it names the run folder runs/<name>; or set run.dir)") from None

    if config.model.name not in PRESETS:
        raise ConfigError(f"model.name: unknown model {config.model.name!r}; known: {', '.join(PRESETS)}")
    try:
        check_model_arguments(config.model.name, config.model.args)
    except LightsepError as exc:
        raise ConfigError(f"model.args: {exc}") from None
    data, training, run = config.data, config.training, config.run
    _require(data.split in ("paper", "musdb"), f"data.split must be 'paper' or 'musdb', got {data.split!r}")
    _require(0 <= data.split_seed < 2**63, f"data.split_seed must be in [0, 2**63), got {data.split_seed}")
    _require(math.isfinite(data.gain_min) and math.isfinite(data.gain_max) and 0 < data.gain_min <= data.gain_max <= 10,
             "data.gain_min and data.gain_max must satisfy 0 < gain_min <= gain_max <= 10")  # fmt: skip
    _require(0 <= data.workers <= 256, f"data.workers must be in [0, 256], got {data.workers}")
    _require(data.max_valid_tracks >= 0, f"data.max_valid_tracks must be 0 or more, got {data.max_valid_tracks}")
    names = [d.name for d in data.datasets]
    for i, entry in enumerate(data.datasets):
        where = f"data.datasets[{i}]"
        _require(bool(entry.name), f"{where}.name must be set")
        _require(bool(entry.root), f"{where}.root must be set")
        _require(math.isfinite(entry.weight) and entry.weight >= 0, f"{where}.weight must be 0 or more, got {entry.weight}")
        _require(entry.split in ("paper", "musdb", "train", "valid"),
                 f"{where}.split must be paper, musdb, train or valid, got {entry.split!r}")  # fmt: skip
        _require(entry.max_train_tracks >= 0, f"{where}.max_train_tracks must be 0 or more, got {entry.max_train_tracks}")
    _require(len(set(names)) == len(names), f"data.datasets: names must differ, got {names}")
    _require(not data.datasets or not (data.root or data.ccmixter),
             "give either data.root (and data.ccmixter) or [[data.datasets]], not both")  # fmt: skip
    _require(not data.valid_dataset or data.valid_dataset in names,
             f"data.valid_dataset {data.valid_dataset!r} is not one of data.datasets' names {names}")  # fmt: skip
    augment = data.augment
    for key in ("remix", "channel_swap", "polarity", "eq", "resample"):
        value = getattr(augment, key)
        _require(math.isfinite(value) and 0 <= value <= 1, f"data.augment.{key} is a probability in [0, 1], got {value}")
    _require(math.isfinite(augment.eq_db) and 0 <= augment.eq_db <= 24, f"data.augment.eq_db must be in [0, 24], got {augment.eq_db}")
    _require(math.isfinite(augment.resample_semitones) and 0 < augment.resample_semitones <= 12,
             f"data.augment.resample_semitones must be in (0, 12], got {augment.resample_semitones}")  # fmt: skip
    _require(len(training.betas) == 2 and all(math.isfinite(b) and 0 <= b < 1 for b in training.betas),
             f"training.betas must be two numbers in [0, 1), got {training.betas}")  # fmt: skip
    _require(0 <= training.seed < 2**63, f"training.seed must be in [0, 2**63), got {training.seed}")
    for phase in ("main", "finetune"):
        section = getattr(config.training, phase)
        _require(math.isfinite(section.lr) and 0 < section.lr <= 1, f"training.{phase}.lr must be in (0, 1], got {section.lr}")
        _require(1 <= section.batch_size <= MAX_TRAINING_BATCH,
                 f"training.{phase}.batch_size must be in [1, {MAX_TRAINING_BATCH}], got {section.batch_size}")  # fmt: skip
        _require(section.patience >= 1, f"training.{phase}.patience must be at least 1, got {section.patience}")
        _require(section.max_epochs >= 0, f"training.{phase}.max_epochs must be 0 or more, got {section.max_epochs}")
        _require(math.isfinite(section.max_seconds) and section.max_seconds >= 0,
                 f"training.{phase}.max_seconds must be 0 or more, got {section.max_seconds}")  # fmt: skip
    for key in ("iterations_per_epoch", "checkpoint_every", "log_every"):
        _require(getattr(training, key) >= 1, f"training.{key} must be at least 1, got {getattr(training, key)}")
    _require(training.loss in LOSSES, f"training.loss must be one of {', '.join(LOSSES)}, got {training.loss!r}")
    _require(all(training.trainable), f"training.trainable must be a list of parameter name parts, got {training.trainable!r}")
    _require(math.isfinite(training.ema_decay) and 0 <= training.ema_decay < 1,
             f"training.ema_decay must be in [0, 1), got {training.ema_decay}")  # fmt: skip
    _require(math.isfinite(training.snr_max_db) and 0 < training.snr_max_db <= 100,
             f"training.snr_max_db must be in (0, 100], got {training.snr_max_db}")  # fmt: skip
    _require(math.isfinite(training.high_band_weight) and 0 <= training.high_band_weight <= 1000,
             f"training.high_band_weight must be in [0, 1000], got {training.high_band_weight}")  # fmt: skip
    _require(math.isfinite(training.high_band_hz) and 0 < training.high_band_hz,
             f"training.high_band_hz must be a positive frequency, got {training.high_band_hz}")  # fmt: skip
    _require(training.high_band_weight == 0 or training.loss == "mse", "training.high_band_weight goes with the mse loss")
    _require(training.max_iterations >= 0, f"training.max_iterations must be 0 or more, got {training.max_iterations}")
    _require(run.device in ("auto", "cpu", "cuda"), f"run.device must be auto, cpu or cuda, got {run.device!r}")
    _require(0 <= run.threads <= MAX_THREADS, f"run.threads must be in [0, {MAX_THREADS}], got {run.threads}")


def load_config(path: str | Path, overrides: list[str] | None = None) -> TrainConfig:
    """Read a TOML configuration and apply ``key=value`` overrides (dotted keys, TOML values)."""
    path = Path(path)
    problem = not_a_file(path)
    if problem == "is a directory":
        raise ConfigError(f"{path}: is a folder; give a configuration file (configs/*.toml)")
    if problem == "no such file":
        raise ConfigError(f"{path}: no such configuration file")
    if problem is not None:
        raise ConfigError(f"{path}: {problem}, not a configuration file (configs/*.toml)")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}); TOML files are UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML ({exc})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})") from None
    for override in overrides or []:
        apply_override(data, override)
    return config_from_dict(data)


def apply_override(data: dict[str, Any], override: str) -> None:
    """Set ``a.b.c=value`` in a nested dict; the value is parsed as TOML (a bare word is a string)."""
    if "=" not in override:
        raise ConfigError(f"override {override!r} must look like key=value, e.g. training.main.lr=1e-4")
    key, raw = (part.strip() for part in override.split("=", 1))
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    *parents, last = key.split(".")
    node = data
    for part in parents:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"override {override!r}: {part} is not a table")
    node[last] = value
