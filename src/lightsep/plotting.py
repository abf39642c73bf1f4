"""Pictures: a run's training and validation loss (``lightsep plot``), and a song's
mixture and stems (waveform and spectrogram), as PNG files."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from .errors import LightsepError
from .fileio import atomic_path, refuse_existing


def read_log(run_dir: str | os.PathLike) -> list[dict[str, str]]:
    path = Path(run_dir) / "log.csv"
    if not path.is_file():
        raise LightsepError(f"{run_dir}: no log.csv (is this a lightsep run folder?)")
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            rows = list(reader)
            columns = reader.fieldnames or []
    except (UnicodeDecodeError, csv.Error) as exc:
        raise LightsepError(f"{path}: damaged log ({str(exc).splitlines()[0]})") from None
    missing = [c for c in ("kind", "phase", "step", "loss") if c not in columns]
    if missing:
        raise LightsepError(f"{path}: not a lightsep training log (no {', '.join(missing)} column)")
    if not rows:
        raise LightsepError(f"{path}: the log is empty; train for at least one log interval first")
    for number, row in enumerate(rows, start=2):
        try:
            step, _ = int(row["step"]), float(row["loss"])
            if not 0 <= step < 2**63:
                raise ValueError("step out of range")
        except (TypeError, ValueError, OverflowError):
            raise LightsepError(f"{path}: line {number} is damaged (step {row['step']!r}, loss {row['loss']!r})") from None
    return rows


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise LightsepError("plotting needs matplotlib: pip install 'lightsep[plot]'") from None
    return plt


def plot_run(run_dir: str | os.PathLike, out: str | os.PathLike | None = None, force: bool = False) -> Path:
    """Plot training loss (per logging window) and validation loss (per epoch) against the
    step, on a log scale, with the start of fine-tuning marked. Returns the PNG's path."""
    plt = _pyplot()
    rows = read_log(run_dir)
    out = Path(out) if out else Path(run_dir) / "loss.png"
    refuse_existing([out], force, inputs=[Path(run_dir) / "log.csv"])
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for kind, style in (("train", dict(color="tab:blue", alpha=0.6, lw=1)), ("valid", dict(color="tab:red", marker="o", lw=2))):
        points = [(int(r["step"]), float(r["loss"])) for r in rows if r["kind"] == kind]
        if points:
            ax.plot(*zip(*points), label=f"{'training' if kind == 'train' else 'validation'} loss", **style)
    finetune = [int(r["step"]) for r in rows if r["phase"] == "finetune"]
    if finetune:
        ax.axvline(min(finetune), color="gray", ls="--", lw=1, label="fine-tuning starts")
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("MSE")
    ax.set_title(f"{Path(run_dir).resolve().name}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    with atomic_path(out, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
    return out


def plot_stems(
    mixture: np.ndarray,
    stems: dict[str, np.ndarray],
    sample_rate: int,
    out: str | os.PathLike,
    references: dict[str, np.ndarray] | None = None,
    title: str = "",
) -> Path:
    """A PNG with one row per signal (the mixture, then each stem): its waveform on the
    left and its spectrogram (dB) on the right. Where ``references`` has the stem, the
    true stem's waveform is drawn over the estimate's, in translucent grey.

    mixture: (time, channels) or (time,); every stem and reference likewise."""
    plt = _pyplot()
    rows = [("mixture", mixture, None)] + [(name, audio, (references or {}).get(name)) for name, audio in stems.items()]
    fig, axes = plt.subplots(len(rows), 2, figsize=(12, 2.1 * len(rows)), squeeze=False,
                             gridspec_kw={"width_ratios": [1, 1.3]})  # fmt: skip
    peak = 1.05 * max(float(np.abs(_mono(mixture)).max()), 1e-3)  # one scale for all rows: levels compare
    for (name, audio, reference), (wave_ax, spec_ax) in zip(rows, axes):
        mono = _mono(audio)
        seconds = np.arange(len(mono)) / sample_rate
        wave_ax.plot(seconds, mono, color="tab:blue", lw=0.5, label="estimate" if reference is not None else None)
        if reference is not None:
            wave_ax.plot(seconds, _mono(reference), color="0.2", lw=0.4, alpha=0.45, label="true stem")
        wave_ax.set_xlim(0, len(mono) / sample_rate)
        wave_ax.set_ylim(-peak, peak)
        wave_ax.set_ylabel(name)
        if reference is not None:
            wave_ax.legend(loc="upper right", fontsize=7)
        power, _, _, image = spec_ax.specgram(mono + 1e-9, NFFT=2048, Fs=sample_rate, noverlap=1536, cmap="magma")
        top = 10 * np.log10(max(float(power.max()), 1e-20))
        image.set_clim(top - 75, top)  # each row's own 75 dB range: quiet stems stay visible
        spec_ax.set_ylim(0, min(4000, sample_rate / 2))
        spec_ax.set_ylabel("Hz")
    axes[-1][0].set_xlabel("seconds")
    axes[-1][1].set_xlabel("seconds")
    axes[0][0].set_title("waveform (mean of channels)")
    axes[0][1].set_title("spectrogram, 0-4 kHz (each row: its own 75 dB range)")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    out = Path(out)
    with atomic_path(out, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)
    return out


def _mono(audio: np.ndarray) -> np.ndarray:
    audio = np.asarray(audio, dtype=np.float64)
    return audio.mean(axis=1) if audio.ndim == 2 else audio
