"""``lightsep plot``: a PNG of a run's training and validation loss."""

from __future__ import annotations

import csv
import os
from pathlib import Path

from .errors import LightsepError
from .fileio import atomic_path


def read_log(run_dir: str | os.PathLike) -> list[dict[str, str]]:
    path = Path(run_dir) / "log.csv"
    if not path.is_file():
        raise LightsepError(f"{run_dir}: no log.csv (is this a lightsep run folder?)")
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        raise LightsepError(f"{path}: the log is empty; train for at least one log interval first")
    return rows


def plot_run(run_dir: str | os.PathLike, out: str | os.PathLike | None = None) -> Path:
    """Plot training loss (per logging window) and validation loss (per epoch) against the
    step, on a log scale, with the start of fine-tuning marked. Returns the PNG's path."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise LightsepError("plotting needs matplotlib: pip install 'lightsep[plot]'") from None
    rows = read_log(run_dir)
    out = Path(out) if out else Path(run_dir) / "loss.png"
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
