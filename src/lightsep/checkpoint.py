"""Portable checkpoints: model name, constructor arguments, state dict and metadata.

A checkpoint is a plain dictionary saved with :func:`torch.save` and read back with
``torch.load(..., weights_only=True)``, so loading never runs pickled code and a renamed
class never breaks an old file::

    {"format": "lightsep-checkpoint", "version": 1,
     "model_name": "proposed-2stem", "model_class": "LightSepNet",
     "model_args": {...}, "state_dict": {...}, "metadata": {...}}
"""

from __future__ import annotations

import errno
import os
import pickle
import shutil
from pathlib import Path
from typing import Any

import torch

from .errors import CheckpointError, LightsepError
from .fileio import atomic_path
from .models.base import SeparationModel
from .models.registry import build_from_arguments

FORMAT = "lightsep-checkpoint"
VERSION = 1
REQUIRED_KEYS = ("format", "version", "model_name", "model_class", "model_args", "state_dict")


def checkpoint_dict(model: SeparationModel, metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    """The dictionary :func:`save_checkpoint` writes (tensors moved to the CPU)."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "model_name": getattr(model, "name", type(model).__name__),
        "model_class": type(model).__name__,
        "model_args": model.config,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "metadata": dict(metadata or {}),
    }


def save_checkpoint(model: SeparationModel, path: str | os.PathLike, metadata: dict[str, Any] | None = None) -> Path:
    """Write ``model`` to ``path`` atomically (temporary file, fsync, rename)."""
    return save_atomically(checkpoint_dict(model, metadata), path)


def save_atomically(data: dict[str, Any], path: str | os.PathLike) -> Path:
    """``torch.save(data)`` to ``path`` through a temporary file; PyTorch's writer failing
    (a full disk: "enforce fail at inline_container.cc") is one line naming ``path``."""
    path = Path(path)
    with atomic_path(path) as tmp:
        try:
            torch.save(data, tmp)
        except RuntimeError as exc:
            free = shutil.disk_usage(path.parent).free
            reason = "no space left on device" if free < 64 << 20 else str(exc).strip().splitlines()[0]
            raise OSError(errno.ENOSPC if free < 64 << 20 else errno.EIO, f"cannot write {path} ({reason})") from None
    return path


TORCH_SAVE_STARTS = (b"PK\x03\x04", b"\x80\x02")
"""How a file that ``torch.save`` wrote begins: a zip archive, or in its legacy format a
pickle of protocol 2 (its default)."""


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Load and validate a checkpoint dictionary; raise :class:`CheckpointError` with a
    one-line reason for a missing, truncated, foreign or malformed file."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such checkpoint file")
    if path.is_dir():
        raise CheckpointError(f"{path}: is a directory, not a checkpoint file")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: empty file, not a checkpoint")
    with open(path, "rb") as file:
        start = file.read(4)
    if not start.startswith(TORCH_SAVE_STARTS):
        # neither a zip archive (torch.save's format) nor a pickle (its legacy one): say so,
        # rather than whatever error the unpickler happens to meet in arbitrary bytes
        raise CheckpointError(f"{path}: not a lightsep checkpoint (not a file torch.save wrote)")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # PyTorch's message advises loading with weights_only=False: never do that with a file from elsewhere
        reason = "it holds objects other than plain data" if "Unsupported global" in str(exc) else "not a file torch.save wrote"
        raise CheckpointError(f"{path}: not a lightsep checkpoint ({reason}); lightsep never unpickles code") from None
    except Exception as exc:  # torch.load raises many types (IndexError, RuntimeError, ...) for damaged files
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CheckpointError(f"{path}: truncated or corrupt checkpoint ({reason})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a lightsep checkpoint (no '{FORMAT}' format marker)")
    missing = [key for key in REQUIRED_KEYS if key not in data]
    if missing:
        raise CheckpointError(f"{path}: malformed lightsep checkpoint (missing {', '.join(missing)})")
    version = data["version"]
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise CheckpointError(f"{path}: malformed lightsep checkpoint (version {version!r} is not a positive integer)")
    if version > VERSION:
        raise CheckpointError(f"{path}: checkpoint version {version} is newer than this lightsep ({VERSION})")
    kinds = {"model_name": str, "model_class": str, "model_args": dict, "state_dict": dict}
    for key, kind in kinds.items():
        if not isinstance(data[key], kind):
            raise CheckpointError(f"{path}: malformed lightsep checkpoint ({key} is a {type(data[key]).__name__})")
    for key, value in data["state_dict"].items():
        if not isinstance(value, torch.Tensor):
            raise CheckpointError(f"{path}: malformed lightsep checkpoint (weight {key!r} is not a tensor)")
        if value.is_floating_point() and not torch.isfinite(value).all():
            raise CheckpointError(f"{path}: weight {key!r} holds NaN or infinite values")
    if not isinstance(data.get("metadata", {}), dict):
        raise CheckpointError(f"{path}: malformed lightsep checkpoint (metadata is not a table)")
    return data


def load_checkpoint(path: str | os.PathLike, device: str | torch.device = "cpu") -> SeparationModel:
    """Rebuild the model stored in ``path`` (in eval mode, on ``device``); its metadata is
    available as ``model.metadata``."""
    data = read_checkpoint(path)
    try:
        model = build_from_arguments(data["model_class"], dict(data["model_args"]), data["model_name"])
    except LightsepError as exc:  # an unknown class, arguments out of bounds
        raise CheckpointError(f"{path}: {exc}") from None
    try:
        model.load_state_dict(data["state_dict"])
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: weights do not match {data['model_name']} ({str(exc).splitlines()[0]})") from None
    model.metadata = dict(data.get("metadata", {}))
    return model.to(device).eval()
