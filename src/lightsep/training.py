"""``lightsep train``: the paper's recipe, resumable bit for bit, on one or several processes.

The recipe (section 3.2): MSE over all source outputs of a batch, Adam (lr 1e-5, betas 0.9
and 0.999), batch 32, epochs of 2000 iterations, the validation loss on the whole
validation tracks after each epoch, and early stopping after 30 epochs without improvement.
Then a fine-tuning phase at lr 1e-6 (same batch), until again 30 epochs pass without
improvement. The result is the model with the best validation loss (``best.pt``).

Fine-tuning starts from the best model of the first phase with a fresh Adam state, as
Wave-U-Net's code does. (The paper's "the last model is fine-tuned" could also mean the
final model of the first phase, which is by construction 30 epochs past its best.)

Resumability: ``RUN_DIR/state.pt`` holds the model, the optimiser, every random generator's
state, the phase, epoch and iteration, the best loss and the patience counter. It is written
atomically (temporary file, fsync, rename) every ``checkpoint_every`` iterations and at each
epoch end. Example ``i`` of an epoch is a pure function of (seed, epoch, i), and batch ``k``
holds examples ``k*B .. k*B+B-1``, so a run killed at any moment and resumed with
``--resume`` gives the same weights, bit for bit, as one that was never interrupted.

Distributed: under ``torchrun`` every process takes ``batch_size / world_size`` examples of
each batch (the global batch stays the configured one), DistributedDataParallel averages
the gradients (gloo on the CPU, nccl on GPUs), and only rank 0 writes files.
"""

from __future__ import annotations

import contextlib
import csv
import math
import os
import random
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader

from .checkpoint import checkpoint_dict, save_atomically, save_checkpoint
from .config import ConfigError, TrainConfig
from .data import AudioCache, TrainingSegments, ValidationSegments, list_tracks, split_tracks
from .data.sampler import Augmentation
from .data.tracks import DatasetError
from .errors import LightsepError
from .fileio import atomic_path, check_output_folder, remove_stale_partials
from .models.base import SeparationModel
from .models.registry import GEOMETRY_ARGUMENTS, build_model, differing_arguments

STATE_FORMAT = "lightsep-training-state"
PHASES = ("main", "finetune")
LOG_FIELDS = ("kind", "phase", "epoch", "step", "loss", "lr", "seconds")


@dataclass
class Progress:
    """Where a run is; saved in ``state.pt``."""

    phase: str = "main"
    epoch: int = 0  # within the phase
    iteration: int = 0  # within the epoch
    step: int = 0  # all iterations so far
    best_loss: float = math.inf
    best_step: int = -1
    bad_epochs: int = 0
    finished: bool = False
    seconds: float = 0.0
    finetune_from_step: int = -1
    phase_started_seconds: float = 0.0  # ``seconds`` when the current phase began
    history: list[dict[str, Any]] = field(default_factory=list)  # one entry per epoch
    window: list[float] = field(default_factory=list)  # training losses since the last log row


# --------------------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------------------


@dataclass
class World:
    rank: int = 0
    size: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup_world(config: TrainConfig) -> World:
    want = config.run.device
    cuda = torch.cuda.is_available() and want in ("auto", "cuda")
    if want == "cuda" and not torch.cuda.is_available():
        raise LightsepError("run.device is 'cuda' but no CUDA device is available")
    if config.run.threads > 0:
        torch.set_num_threads(config.run.threads)
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size > 1:
        rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
        if cuda:
            torch.cuda.set_device(local)
        dist.init_process_group("nccl" if cuda else "gloo")
        device = torch.device("cuda", local) if cuda else torch.device("cpu")
        return World(rank, size, device)
    return World(0, 1, torch.device("cuda") if cuda else torch.device("cpu"))


# --------------------------------------------------------------------------------------
# Random generators
# --------------------------------------------------------------------------------------


def rng_state() -> dict[str, Any]:
    """Every generator's state, as plain data that ``weights_only`` loading accepts."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "gauss": float(gauss)},  # fmt: skip
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


# --------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------


class _IterationBatches(torch.utils.data.Sampler):
    """The example indices of iterations ``start .. stop-1``: this process's share of
    examples ``k*B .. k*B+B-1`` for iteration ``k``."""

    def __init__(self, start: int, stop: int, batch: int, world: World):
        self.start, self.stop, self.batch, self.world = start, stop, batch, world
        self.local = batch // world.size

    def __iter__(self):
        for k in range(self.start, self.stop):
            first = k * self.batch + self.world.rank * self.local
            yield list(range(first, first + self.local))

    def __len__(self) -> int:
        return self.stop - self.start


def training_subset(tracks: list, count: int, seed: int) -> list:
    """The first ``count`` of ``tracks`` (sorted by name) in a shuffle seeded by ``seed``, kept
    in name order: nested, so a smaller subset is part of every larger one."""
    ordered = sorted(tracks, key=lambda t: t.name)
    keep = set(np.random.default_rng(seed).permutation(len(ordered))[:count].tolist())
    return [t for i, t in enumerate(ordered) if i in keep]


def dataset_splits(config: TrainConfig) -> list[tuple[str, float, list, list]]:
    """``(name, weight, train tracks, validation tracks)`` of every dataset of the run: the
    ``[[data.datasets]]`` list, or ``data.root`` (and ``data.ccmixter``'s tracks for training)."""
    data = config.data
    if data.datasets:
        result = []
        for entry in data.datasets:
            tracks = list_tracks(entry.root)
            if entry.split in ("train", "valid"):
                pool = [t for t in tracks if t.subset != "test"]
                train, valid = (pool, []) if entry.split == "train" else ([], pool)
            else:
                split = split_tracks(tracks, entry.split, data.split_seed)
                train, valid = split["train"], split["valid"]
            if entry.max_train_tracks:
                train = training_subset(train, entry.max_train_tracks, data.split_seed)
            result.append((entry.name, entry.weight, train, valid))
        return result
    if not data.root:
        raise ConfigError("data.root is not set: give --data ROOT (a MUSDB18, MUSDB18-HQ or lightsep corpus folder)")
    split = split_tracks(list_tracks(data.root), data.split, data.split_seed)
    result = [(Path(data.root).name, 1.0, split["train"], split["valid"])]
    if data.ccmixter:
        result.append((Path(data.ccmixter).name, 1.0, list_tracks(data.ccmixter), []))
    return result


def build_datasets(config: TrainConfig, model: SeparationModel) -> tuple[TrainingSegments, ValidationSegments, dict]:
    data = config.data
    if data.ccmixter and set(model.sources) != {"vocals", "accompaniment"}:
        raise ConfigError("data.ccmixter only serves 2-stem (vocals/accompaniment) models")
    splits = dataset_splits(config)
    train = [t for _, _, tracks, _ in splits for t in tracks]
    # a track's weight: its dataset's weight shared by the dataset's tracks (one dataset: uniform)
    weights = [w / len(tracks) for _, w, tracks, _ in splits for _ in tracks] if data.datasets else None
    valid = [t for name, _, _, tracks in splits if data.valid_dataset in ("", name) for t in tracks]
    valid = valid[: data.max_valid_tracks or None]
    where = ", ".join(str(d.root) for d in data.datasets) or data.root
    if not train or not valid:
        raise DatasetError(f"{where}: need training and validation tracks, found {len(train)} and {len(valid)}")
    if weights is not None and not any(weights):
        raise ConfigError("data.datasets: every dataset with training tracks has weight 0")
    cache = AudioCache.default()
    largest_batch = max(config.training.main.batch_size, config.training.finetune.batch_size)
    common = dict(context_samples=model.context_samples, output_samples=model.output_samples, output_offset=model.output_offset,
                  sample_rate=model.sample_rate, channels=model.audio_channels, cache=cache)  # fmt: skip
    augment = data.augment
    training = TrainingSegments(
        train, model.sources, gain_range=(data.gain_min, data.gain_max),
        examples_per_epoch=config.training.iterations_per_epoch * largest_batch, seed=config.training.seed,
        track_weights=weights, augmentation=Augmentation(augment.remix, augment.channel_swap, augment.polarity, augment.eq,
                                                         augment.eq_db, augment.resample, augment.resample_semitones),
        **common,
    )  # fmt: skip
    validation = ValidationSegments(valid, model.sources, **common)
    names = {"train": [t.name for t in train], "valid": [t.name for t in valid],
             "datasets": {name: [len(tr), len(va)] for name, _, tr, va in splits}}  # fmt: skip
    return training, validation, names


FRAME_ARGUMENTS = {"synthesis_samples"}
"""Arguments that change a spectral model's frames but no weight's shape."""


def initial_weights(model: SeparationModel, source: str) -> None:
    """Load ``source`` (a checkpoint file, or a model name with bundled weights) into
    ``model``, which must be the same network: the same class and constructor arguments, or
    ones that change only the geometry (``context_samples``, ``output_start``,
    ``output_samples``) and so leave every weight's shape as it is. A streaming model starts
    this way from the full-context model's weights, and a low-delay model
    (``synthesis_samples``: other windows, the same weights) from a Hann-framed one's."""
    from .checkpoint import load_checkpoint
    from .models.registry import PRESETS
    from .pretrained import pretrained_checkpoint

    path = pretrained_checkpoint(source) if source in PRESETS else Path(source)
    if path is None:
        raise ConfigError(f"model.init: no weights are bundled for {source!r}; give a checkpoint file")
    if not path.exists():
        raise ConfigError(f"model.init: {source}: no such checkpoint file, nor a model name with bundled weights")
    loaded = load_checkpoint(path)
    differ = differing_arguments(loaded.config, model.config)
    if type(loaded) is not type(model) or not set(differ) <= GEOMETRY_ARGUMENTS | FRAME_ARGUMENTS:
        raise ConfigError(f"model.init: {source} holds a {loaded.name} that differs from this run's {model.name} "
                          f"(in {', '.join(differ) or type(loaded).__name__})")  # fmt: skip
    model.load_state_dict(loaded.state_dict())


# --------------------------------------------------------------------------------------
# The trainer
# --------------------------------------------------------------------------------------


SILENT_SOURCE_DB = -40.0
"""A source this far below its example's mixture (energy over the segment) counts as silent:
the ``snr`` loss leaves it out, as the SiSEC18 scores leave out frames of a silent
reference."""


def snr_terms(
    estimates: torch.Tensor,
    targets: torch.Tensor,
    snr_max_db: float = 30.0,
    weight: torch.Tensor | None = None,
    mixture_floor_db: float = -80.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Each source's error in decibels, one value per example and source: ``(batch, sources,
    channels, time)`` estimates and targets (``weight``, ``(batch, time)``, zero on padding)
    -> ``(batch, sources)`` values ``10 log10(|s - ŝ|² + τ|s|²)``, with ``τ = 10^(-snr_max_db /
    10)``, so that an error ``snr_max_db`` below its source counts as (about) none, and
    ``(batch, sources)`` weights: 1 where the source is present, 0 where it is silent
    (:data:`SILENT_SOURCE_DB` below the mixture). An error ``mixture_floor_db`` below the
    example's mixture also counts as none, so that a silent source's value stays finite.

    Up to the reference's energy, which no estimate changes, the value is minus the source's
    signal-to-noise ratio with a ceiling (Wisdom et al., "What's all the fuss about free
    universal sound separation data?", 2021, call it the thresholded SNR): every example's
    error counts in proportion to how large it is for that example, not in absolute terms,
    as in the SiSEC18 median over one-second frames, where a quiet passage counts as much as
    a loud one."""
    if weight is not None:
        estimates, targets = estimates * weight[:, None, None], targets * weight[:, None, None]
    error = (estimates - targets).square().sum(dim=(2, 3))
    energy = targets.square().sum(dim=(2, 3))
    mixture_energy = targets.sum(dim=1).square().sum(dim=(1, 2))[:, None]
    ceiling = 10.0 ** (-snr_max_db / 10.0)
    floor = 10.0 ** (mixture_floor_db / 10.0)
    values = 10.0 * torch.log10(error + ceiling * energy + floor * mixture_energy + 1e-12)
    present = (energy > 10.0 ** (SILENT_SOURCE_DB / 10.0) * mixture_energy).to(values.dtype)
    return values, present


def high_passed(signal: torch.Tensor, cutoff_hz: float, sample_rate: int) -> torch.Tensor:
    """``signal`` (``(..., time)``) with every frequency below ``cutoff_hz`` removed (its
    FFT over the whole segment, those bins zeroed)."""
    spectrum = torch.fft.rfft(signal, dim=-1)
    first = int(math.ceil(cutoff_hz * signal.shape[-1] / sample_rate))
    spectrum[..., :first] = 0
    return torch.fft.irfft(spectrum, n=signal.shape[-1], dim=-1)


def high_band_snr_terms(
    estimates: torch.Tensor, targets: torch.Tensor, cutoff_hz: float, sample_rate: int, snr_max_db: float = 30.0
) -> torch.Tensor:
    """:func:`snr_terms` of the estimates and targets high-passed at ``cutoff_hz``, ``(batch,
    sources)``, for every source, silent or not: an error ``snr_max_db`` below the source or
    below the mixture's own high band counts as none. A source silent there counts its
    leakage against the mixture's high band, as a whole clip's SNR counts the leakage while
    the voice is silent."""
    high = (high_passed(estimates, cutoff_hz, sample_rate), high_passed(targets, cutoff_hz, sample_rate))
    return snr_terms(*high, snr_max_db, mixture_floor_db=-snr_max_db)[0]


def separation_loss(
    estimates: torch.Tensor,
    targets: torch.Tensor,
    kind: str = "mse",
    snr_max_db: float = 30.0,
    high_band: tuple[float, float, int] | None = None,
) -> torch.Tensor:
    """The training loss of a batch, ``(batch, sources, channels, time)`` each: ``mse`` over
    every output sample, ``snr``, the mean of :func:`snr_terms` over the examples' sources
    that are not silent, or ``high-snr``, the mean of :func:`high_band_snr_terms` (the band
    above ``high_band``'s cutoff alone). ``high_band``: ``(weight, cutoff_hz, sample_rate)``:
    the ``mse`` loss adds ``weight`` times the squared error above ``cutoff_hz``."""
    if kind == "high-snr":
        _, cutoff, rate = high_band
        return high_band_snr_terms(estimates, targets, cutoff, rate, snr_max_db).mean()
    if kind == "snr":
        values, present = snr_terms(estimates, targets, snr_max_db)
        return (values * present).sum() / present.sum().clamp(min=1.0)
    loss = torch.nn.functional.mse_loss(estimates, targets)
    if high_band is not None and high_band[0] > 0:
        weight, cutoff, rate = high_band
        loss = loss + weight * high_passed(estimates - targets, cutoff, rate).square().mean()
    return loss


def optimisation_step(
    module: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    mixture: torch.Tensor,
    targets: torch.Tensor,
    autocast: contextlib.AbstractContextManager | None = None,
    loss: str = "mse",
    snr_max_db: float = 30.0,
    high_band: tuple[float, float, int] | None = None,
) -> torch.Tensor:
    """One step of the recipe: the loss (:func:`separation_loss`; the paper's MSE over every
    source output sample of the batch), backward, optimiser step. Returns the (detached)
    loss."""
    module.train()
    with autocast or contextlib.nullcontext():
        estimates = module(mixture)
    value = separation_loss(estimates.float(), targets, loss, snr_max_db, high_band)
    optimizer.zero_grad(set_to_none=True)
    value.backward()
    optimizer.step()
    return value.detach()


class Trainer:
    def __init__(self, config: TrainConfig, world: World | None = None, progress_bar: bool = True, resume: bool = False):
        self.config = config
        self.world = world or World()
        self.run_dir = config.run_dir
        self.progress_bar = progress_bar and self.world.main
        seed_everything(config.training.seed)
        self.model = build_model(config.model.name, **config.model.args)
        if config.model.init and not resume:  # a resumed run's weights come from its state
            initial_weights(self.model, config.model.init)
        self.model = self.model.to(self.world.device)
        if self.high_band is not None and self.model.sample_rate / 2 <= config.training.high_band_hz:
            raise ConfigError(f"training.high_band_hz {config.training.high_band_hz:g} is not below the Nyquist frequency of "
                              f"{config.model.name} at {self.model.sample_rate} Hz: its band above it is empty")  # fmt: skip
        self.training_data, self.validation_data, self.track_names = build_datasets(config, self.model)
        self.progress = Progress()
        self.optimizer = self._new_optimizer("main")
        self.average = self._new_average()
        self._train_module = self._wrap(self.model)

    # -- set-up ---------------------------------------------------------------------------

    def _wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        module = model
        if self.config.run.compile:
            if self.world.device.type != "cuda":
                raise ConfigError("run.compile is for GPUs; leave it off on the CPU")
            module = torch.compile(module)
        if self.world.size > 1:
            ids = [self.world.device.index] if self.world.device.type == "cuda" else None
            module = torch.nn.parallel.DistributedDataParallel(module, device_ids=ids)
        return module

    def _phase(self, name: str):
        return getattr(self.config.training, name)

    def _new_optimizer(self, phase: str) -> torch.optim.Optimizer:
        betas = tuple(self.config.training.betas)
        return torch.optim.Adam(self.trained_parameters(), lr=self._phase(phase).lr, betas=betas)

    def trained_parameters(self) -> list[torch.nn.Parameter]:
        """The parameters the optimiser changes: all of them, or with ``training.trainable``
        those whose names contain one of its entries; the others are frozen (no gradient)."""
        wanted = self.config.training.trainable
        if not wanted:
            return list(self.model.parameters())
        for name, parameter in self.model.named_parameters():
            parameter.requires_grad_(any(part in name for part in wanted))
        chosen = [parameter for parameter in self.model.parameters() if parameter.requires_grad]
        if not chosen:
            raise ConfigError(f"training.trainable {wanted} names none of {self.model.name}'s parameters")
        return chosen

    def _new_average(self) -> torch.optim.swa_utils.AveragedModel | None:
        """The exponential moving average of the weights (``training.ema_decay``), or None.
        Buffers are averaged too (normalisation statistics); its first update copies."""
        decay = self.config.training.ema_decay
        if not decay:
            return None
        from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

        return AveragedModel(self.model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)

    @property
    def evaluated_model(self) -> SeparationModel:
        """The weights that are validated and saved as ``best.pt``: the average when there
        is one, else the trained weights."""
        return self.model if self.average is None else self.average.module

    def _autocast(self):
        if self.config.run.bf16:
            if self.world.device.type != "cuda":
                raise ConfigError("run.bf16 is for GPUs; leave it off on the CPU")
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    # -- state -----------------------------------------------------------------------------

    @property
    def state_path(self) -> Path:
        return self.run_dir / "state.pt"

    def save_state(self) -> None:
        if not self.world.main:
            return
        state = {
            "format": STATE_FORMAT,
            "version": 1,
            "config": self.config.to_dict(),
            "model": checkpoint_dict(self.model, {"run": self.config.name}),
            "optimizer": self.optimizer.state_dict(),
            "progress": asdict(self.progress),
            "rng": rng_state(),
        }
        if self.average is not None:
            state["average"] = self.average.state_dict()
        save_atomically(state, self.state_path)

    def load_state(self) -> None:
        path = self.state_path
        if not path.exists():
            raise LightsepError(f"{path}: nothing to resume (no state.pt in the run folder)")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception:  # torch raises OSError, RuntimeError, UnpicklingError, ... for a damaged file
            raise LightsepError(f"{path}: damaged training state (truncated or not one torch.save wrote); "
                                "resume from the run's best.pt with --init in a new run folder") from None
        if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
            raise LightsepError(f"{path}: not a lightsep training state")
        saved, current = _comparable(state["config"]), _comparable(self.config.to_dict())
        # the network itself, not how the configuration named it: a preset whose defaults
        # changed since, given explicitly now, is the same network
        saved["model.args"] = state["model"].get("model_args")
        current["model.args"] = self.model.config
        if saved != current:
            diff = differing_arguments(saved, current)
            raise ConfigError(f"{path}: the run was made with another configuration (differs in: {', '.join(diff)})")
        self.model.load_state_dict(state["model"]["state_dict"])
        self.config.model.init = state["config"]["model"].get("init", "")  # where the run really started
        self.progress = Progress(**state["progress"])
        self.optimizer = self._new_optimizer(self.progress.phase)
        self.optimizer.load_state_dict(state["optimizer"])
        if self.average is not None:
            self.average.load_state_dict(state["average"])
        set_rng_state(state["rng"])
        self._truncate_log(self.progress.step)
        for module in (self.model, self.average):  # every process resumes rank 0's weights
            if module is not None:
                self._broadcast_model(module)

    # -- logging ---------------------------------------------------------------------------

    @property
    def log_path(self) -> Path:
        return self.run_dir / "log.csv"

    def _truncate_log(self, step: int) -> None:
        """Drop the log rows written after the state being resumed (they will be written
        again): training rows past its step, validation rows past its epoch history."""
        if not self.world.main or not self.log_path.exists():
            return
        with open(self.log_path, newline="") as handle:
            rows, validations = [], 0
            for row in csv.DictReader(handle):
                if row["kind"] == "valid":
                    validations += 1
                    if validations > len(self.progress.history):
                        continue
                elif int(row["step"]) > step:
                    continue
                rows.append(row)
        with atomic_path(self.log_path) as tmp, open(tmp, "w", newline="") as handle:
            writer = csv.DictWriter(handle, LOG_FIELDS)
            writer.writeheader()
            writer.writerows(rows)

    def _log(self, kind: str, loss: float) -> None:
        if not self.world.main:
            return
        p = self.progress
        row = {"kind": kind, "phase": p.phase, "epoch": p.epoch, "step": p.step, "loss": f"{loss:.8g}",
               "lr": f"{self.optimizer.param_groups[0]['lr']:.3g}", "seconds": f"{p.seconds:.1f}"}  # fmt: skip
        new = not self.log_path.exists()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "a", newline="") as handle:
            writer = csv.DictWriter(handle, LOG_FIELDS)
            if new:
                writer.writeheader()
            writer.writerow(row)
        if self._tensorboard is not None:
            self._tensorboard.add_scalar(f"loss/{kind}", loss, p.step)

    @property
    def _tensorboard(self):
        if not hasattr(self, "_tb"):
            self._tb = None
            if self.world.main:
                with contextlib.suppress(ImportError, ModuleNotFoundError):
                    from torch.utils.tensorboard import SummaryWriter

                    self._tb = SummaryWriter(str(self.run_dir / "tensorboard"))
        return self._tb

    @property
    def high_band(self) -> tuple[float, float, int] | None:
        """``(weight, cutoff_hz, sample_rate)`` of the loss's high-band term (the ``high-snr``
        loss's band), or None."""
        training = self.config.training
        if training.loss == "high-snr":
            return 1.0, training.high_band_hz, int(self.model.sample_rate)
        if training.high_band_weight <= 0:
            return None
        return training.high_band_weight, training.high_band_hz, int(self.model.sample_rate)

    # -- steps -----------------------------------------------------------------------------

    def train_step(self, mixture: torch.Tensor, targets: torch.Tensor) -> float:
        mixture, targets = mixture.to(self.world.device), targets.to(self.world.device)
        training = self.config.training
        value = optimisation_step(self._train_module, self.optimizer, mixture, targets, self._autocast(), training.loss,
                                  training.snr_max_db, self.high_band)  # fmt: skip
        if self.average is not None:
            self.average.update_parameters(self.model)
        if self.world.size > 1:
            dist.all_reduce(value)
            value /= self.world.size
        return float(value)

    @torch.no_grad()
    def validate(self) -> float:
        """The training loss on the whole validation tracks (zero padding excluded): MSE over
        every source sample, or :func:`snr_terms`' mean over the segments' sources that are
        not silent, each segment weighted by the share of it that is not padding."""
        model = self.evaluated_model.eval()
        self._broadcast_model(model, buffers_only=True)  # normalisation statistics: rank 0's, which best.pt gets
        data = self.validation_data
        indices = list(range(self.world.rank, len(data), self.world.size))
        loader = DataLoader(torch.utils.data.Subset(data, indices), batch_size=16, num_workers=0)
        total = torch.zeros(2, dtype=torch.float64, device=self.world.device)
        for mixture, targets, weight in loader:
            mixture, targets, weight = (t.to(self.world.device) for t in (mixture, targets, weight))
            with self._autocast():
                estimates = model(mixture)
            if self.config.training.loss == "high-snr":
                _, cutoff, rate = self.high_band
                padded_out = (estimates.float() * weight[:, None, None], targets * weight[:, None, None])
                values = high_band_snr_terms(*padded_out, cutoff, rate, self.config.training.snr_max_db)
                counted = weight.mean(dim=1, keepdim=True).expand_as(values)
                total[0] += (values * counted).sum().double()
                total[1] += counted.sum().double()
            elif self.config.training.loss == "snr":
                values, present = snr_terms(estimates.float(), targets, self.config.training.snr_max_db, weight)
                counted = present * weight.mean(dim=1, keepdim=True)  # (batch, sources)
                total[0] += (values * counted).sum().double()
                total[1] += counted.sum().double()
            else:
                difference = estimates.float() - targets
                error = difference.square().sum(dim=(1, 2))  # (batch, time)
                if self.high_band is not None:
                    scale, cutoff, rate = self.high_band
                    padded_out = difference * weight[:, None, None]  # the padding out before the FFT
                    error = error + scale * high_passed(padded_out, cutoff, rate).square().sum(dim=(1, 2))
                total[0] += (error * weight).sum().double()
                total[1] += weight.sum().double() * targets.shape[1] * targets.shape[2]
        if self.world.size > 1:
            dist.all_reduce(total)
        return float(total[0] / total[1])

    # -- the loop --------------------------------------------------------------------------

    def fit(self) -> Progress:
        p = self.progress
        if self.world.main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            remove_stale_partials(self.run_dir)  # left by a process killed while writing
        while not p.finished:
            phase = self._phase(p.phase)
            if self._phase_over(phase):
                self._next_phase()
                continue
            if self._run_epoch(phase):
                return p  # max_iterations reached; resumable
            loss = self.validate()
            improved = loss < p.best_loss
            p.history.append({"phase": p.phase, "epoch": p.epoch, "step": p.step, "valid_loss": loss})
            self._log("valid", loss)
            if improved:
                p.best_loss, p.best_step, p.bad_epochs = loss, p.step, 0
                self._save_best()
            else:
                p.bad_epochs += 1
            p.epoch, p.iteration = p.epoch + 1, 0
            self.save_state()
        self._close()
        return p

    def _run_epoch(self, phase) -> bool:
        """Train until the epoch ends (False) or ``max_iterations`` is reached (True)."""
        cfg, p = self.config.training, self.progress
        if phase.batch_size % self.world.size:
            raise ConfigError(f"batch_size {phase.batch_size} must divide by the {self.world.size} processes")
        epoch_id = PHASES.index(p.phase) * 1_000_000 + p.epoch
        self.training_data.set_epoch(epoch_id)
        stop = cfg.iterations_per_epoch
        if cfg.max_iterations:
            stop = min(stop, p.iteration + cfg.max_iterations - p.step)
        sampler = _IterationBatches(p.iteration, stop, phase.batch_size, self.world)
        loader = DataLoader(self.training_data, batch_sampler=sampler, num_workers=self.config.data.workers,
                            persistent_workers=False)  # fmt: skip
        bar = self._bar(p.iteration, cfg.iterations_per_epoch)
        window = p.window  # saved with the state, so a resumed run logs the same rows
        clock = time.perf_counter()
        for mixture, targets in loader:
            loss = self.train_step(mixture, targets)
            window.append(loss)
            p.iteration += 1
            p.step += 1
            now = time.perf_counter()
            p.seconds += now - clock
            clock = now
            if bar is not None:
                bar.set_postfix(loss=f"{loss:.3e}", best=f"{p.best_loss:.3e}", refresh=False)
                bar.update(1)
            if len(window) == cfg.log_every:
                self._log("train", sum(window) / len(window))
                window.clear()
            if not math.isfinite(loss):
                raise LightsepError(f"the training loss became {loss} at step {p.step}; lower the learning rate")
            if p.step % cfg.checkpoint_every == 0:
                self.save_state()
            if self._out_of_time(phase):
                break  # the epoch is cut short; it is validated like a whole one
        if bar is not None:
            bar.close()
        if cfg.max_iterations and p.step >= cfg.max_iterations:
            self.save_state()  # the open window stays in the state for a resumed run
            return True
        if window:
            self._log("train", sum(window) / len(window))
            window.clear()
        return False

    def _next_phase(self) -> None:
        p = self.progress
        if p.phase == "main" and self.config.training.finetune.enabled:
            best = self.run_dir / "best.pt"
            if self.world.main:
                if not best.exists():
                    raise LightsepError("the first phase ended without a validation result; nothing to fine-tune")
                state = torch.load(best, map_location="cpu", weights_only=True)["state_dict"]
                self.model.load_state_dict(state)
            # only rank 0 reads best.pt (it is also the only writer, so it never reads a file
            # being replaced); the others receive its weights
            self._broadcast_model(self.model)
            self.average = self._new_average()  # from the fine-tuning's first weights
            p.phase, p.epoch, p.iteration, p.bad_epochs = "finetune", 0, 0, 0
            p.finetune_from_step = p.best_step
            p.phase_started_seconds = p.seconds
            self.optimizer = self._new_optimizer("finetune")
        else:
            p.finished = True
        self.save_state()

    def _broadcast_model(self, model: torch.nn.Module, buffers_only: bool = False) -> None:
        """Give every process rank 0's parameters and buffers of ``model``, or only its
        buffers (a no-op on one process). DistributedDataParallel keeps the parameters equal
        while training, but each process's forward passes update its own normalisation
        statistics."""
        if self.world.size > 1:
            tensors = model.buffers() if buffers_only else model.state_dict().values()
            for tensor in tensors:
                dist.broadcast(tensor, src=0)

    def _phase_over(self, phase) -> bool:
        """Disabled, out of patience, out of epochs or out of time."""
        p = self.progress
        out_of_epochs = bool(phase.max_epochs) and p.epoch >= phase.max_epochs
        return not phase.enabled or p.bad_epochs >= phase.patience or out_of_epochs or self._out_of_time(phase)

    def _out_of_time(self, phase) -> bool:
        p = self.progress
        return bool(phase.max_seconds) and p.seconds - p.phase_started_seconds >= phase.max_seconds

    def _save_best(self) -> None:
        if not self.world.main:
            return
        p = self.progress
        metadata = {"run": self.config.name, "phase": p.phase, "epoch": p.epoch, "step": p.step,
                    "valid_loss": p.best_loss, "training_seconds": round(p.seconds, 1),
                    "world_size": self.world.size, "device": str(self.world.device),
                    "data_root": str(self.config.data.root), "datasets": self.track_names["datasets"],
                    "train_tracks": len(self.track_names["train"]),
                    "valid_tracks": len(self.track_names["valid"]), "config": self.config.to_dict()}  # fmt: skip
        save_checkpoint(self.evaluated_model, self.run_dir / "best.pt", metadata)

    def _bar(self, start: int, total: int):
        if not self.progress_bar:
            return None
        from tqdm import tqdm

        p = self.progress
        return tqdm(total=total, initial=start, unit="it", desc=f"{p.phase} epoch {p.epoch}", dynamic_ncols=True)

    def _close(self) -> None:
        if getattr(self, "_tb", None) is not None:
            self._tb.close()


def _comparable(config: dict[str, Any]) -> dict[str, Any]:
    """The keys of a configuration that change the result (not where or how fast it runs)."""
    flat = {}

    def walk(node: dict, prefix: str) -> None:
        for key, value in node.items():
            name = f"{prefix}{key}"
            if isinstance(value, dict) and key != "args":
                walk(value, name + ".")
            else:
                flat[name] = value

    walk(config, "")
    # where the datasets are may change, not what they are
    flat["data.datasets"] = [{k: v for k, v in entry.items() if k != "root"} for entry in flat.get("data.datasets", [])]
    # model.init only chooses the first weights: a resumed run takes its own from state.pt;
    # a phase's time budget may grow (or shrink) across sessions, and a run may be renamed
    # (a calibration run that goes on as the real one): neither changes the examples seen
    # augmentations added since, switched off, change nothing: a run saved before they existed
    # compares equal
    if not flat.get("data.augment.resample"):
        flat.pop("data.augment.resample", None)
        flat.pop("data.augment.resample_semitones", None)
    if flat.get("training.loss", "mse") == "mse":
        flat.pop("training.loss", None)
        flat.pop("training.snr_max_db", None)
    if not flat.get("training.ema_decay"):
        flat.pop("training.ema_decay", None)
    for key in ("name", "run.dir", "run.device", "run.threads", "data.workers", "training.max_iterations", "description",
                "data.root", "data.ccmixter", "model.init", "training.main.max_seconds",
                "training.finetune.max_seconds"):  # fmt: skip
        flat.pop(key, None)
    return flat


def train(config: TrainConfig, resume: bool = False, progress_bar: bool = True) -> Progress:
    """Run (or resume) a training run; returns where it ended. PyTorch's compiler cache
    (which its optimisers create even when nothing is compiled) goes to a temporary folder
    of the run's own, removed at the end, not to ``$TMPDIR/torchinductor_<user>``."""
    with tempfile.TemporaryDirectory(prefix="lightsep-train-") as private:
        saved = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = private
        try:
            return _train(config, resume, progress_bar)
        finally:
            if saved is None:
                os.environ.pop("TORCHINDUCTOR_CACHE_DIR", None)
            else:
                os.environ["TORCHINDUCTOR_CACHE_DIR"] = saved


def _train(config: TrainConfig, resume: bool, progress_bar: bool) -> Progress:
    check_output_folder(config.run_dir)
    if not resume and int(os.environ.get("RANK", "0")) == 0 and config.run_dir.is_dir() and any(config.run_dir.iterdir()):
        raise LightsepError(f"{config.run_dir} is not empty (it holds {next(config.run_dir.iterdir()).name}); add "
                            "--resume to continue the run there, or choose another --run-dir")  # fmt: skip
    world = setup_world(config)
    try:
        trainer = Trainer(config, world, progress_bar, resume)
        if resume:
            trainer.load_state()
        elif world.main and trainer.state_path.exists():
            raise LightsepError(f"{trainer.run_dir} already holds a run; add --resume to continue it or choose another --run-dir")
        progress = trainer.fit()
        if world.size > 1:
            dist.barrier()  # every process is past its last collective before any leaves
        return progress
    finally:
        if world.size > 1 and dist.is_initialized():
            dist.destroy_process_group()
