"""Pretrained weights bundled with the package (``lightsep/pretrained/``).

Each bundled model is ``<name>.pt`` (a portable checkpoint) beside ``<name>.json`` (its
manifest: training data, seeds, recipe, steps, wall time, hardware, test scores, and the
checkpoint's sha256). Loading verifies the sha256.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .analysis import count_parameters
from .checkpoint import load_checkpoint, save_checkpoint
from .errors import CheckpointError, UnknownModelError
from .fileio import atomic_path, default_cache_dir

if TYPE_CHECKING:
    from .models.base import SeparationModel

PRETRAINED_DIR = Path(__file__).resolve().parent / "pretrained"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def manifest(name: str, folder: Path = PRETRAINED_DIR) -> dict | None:
    """The manifest of the weights bundled for ``name``, or ``None``."""
    path = Path(folder) / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def bundled_models(folder: Path = PRETRAINED_DIR) -> list[str]:
    """The model names with bundled weights."""
    return sorted(p.stem for p in Path(folder).glob("*.pt"))


def unknown_model_error(name: str) -> UnknownModelError:
    """The one line for a model argument that is neither a model name nor a checkpoint file:
    the names, the trained ones first (the defaults leading)."""
    from .defaults import SEPARATE_MODEL, STREAM_MODEL
    from .models.registry import PRESETS

    bundled = sorted(bundled_models(), key=lambda n: (n not in (SEPARATE_MODEL, STREAM_MODEL), n))
    rest = [n for n in PRESETS if n not in bundled and n not in PEER_MODELS]
    return UnknownModelError(f"unknown model {name!r}: not a model name (trained: {', '.join(bundled)}; after "
                             f"`lightsep get`: {', '.join(PEER_MODELS)}; random weights only: {', '.join(rest)}) "
                             "nor a checkpoint file")  # fmt: skip


def pretrained_checkpoint(name: str, folder: Path = PRETRAINED_DIR) -> Path | None:
    """The verified checkpoint bundled for model ``name``, or ``None`` if none is bundled."""
    path = Path(folder) / f"{name}.pt"
    if not path.exists():
        return None
    info = manifest(name, folder)
    if info is None or "sha256" not in info:
        raise CheckpointError(f"{path}: bundled weights without a manifest ({name}.json) to verify them")
    actual = sha256_of(path)
    if actual != info["sha256"]:
        raise CheckpointError(f"{path}: sha256 {actual[:16]}... does not match its manifest ({info['sha256'][:16]}...)")
    return path


PEER_MODELS = ("spleeter-2stem",)
"""Presets whose weights are another project's, converted on the user's machine
(``lightsep get``, :mod:`lightsep.peers`) rather than bundled."""


def peer_checkpoint_path(name: str) -> Path:
    """Where the converted weights of peer model ``name`` live: ``<cache>/peers/<name>.pt``."""
    return default_cache_dir() / "peers" / f"{name}.pt"


def at_preset_geometry(model: SeparationModel) -> SeparationModel:
    """``model`` with the segment geometry of its preset: the same weights in a model built
    with the preset's ``GEOMETRY_ARGUMENTS`` and ``model``'s other arguments (a model trained
    on other segments than its preset separates with, whatever else its configuration
    changed), else ``model`` itself: when its geometry is the preset's already, or the
    preset's geometry does not fit its network."""
    from .models.registry import GEOMETRY_ARGUMENTS, PRESETS, ModelArgumentError, build_model

    if model.name not in PRESETS:
        return model
    preset = build_model(model.name).config
    geometry = {key: preset[key] for key in GEOMETRY_ARGUMENTS if key in preset}
    if all(model.config.get(key) == value for key, value in geometry.items()):
        return model
    try:
        separating = build_model(model.name, **{**model.config, **geometry})
        if type(separating) is not type(model):
            return model
        separating.load_state_dict(model.state_dict())
    except (ModelArgumentError, RuntimeError):  # RuntimeError: weights that do not fit
        return model
    separating.metadata = model.metadata
    return separating


def save_at_preset_geometry(checkpoint: str | os.PathLike, out: str | os.PathLike) -> Path:
    """Write ``checkpoint`` at its preset's geometry (:func:`at_preset_geometry`) to ``out``:
    the weights as they would be bundled, to evaluate them as they will separate."""
    model = load_checkpoint(checkpoint)
    return save_checkpoint(at_preset_geometry(model), out, model.metadata)


def bundle(checkpoint: str | os.PathLike, info: dict[str, Any], folder: Path = PRETRAINED_DIR) -> Path:
    """Copy a trained checkpoint in as the bundled weights of its model, with a manifest of
    ``info`` (training data, seeds, recipe, steps, time, hardware, test scores) plus the
    model name, parameter count and the file's sha256. Returns the manifest's path.

    A checkpoint whose segment geometry differs from its preset's (trained on other segments
    than the preset separates with) is bundled at the preset's geometry, with the same weights
    (:func:`at_preset_geometry`); the manifest's ``trained_geometry`` keeps the one it was
    trained on."""
    from .models.registry import GEOMETRY_ARGUMENTS

    trained = load_checkpoint(checkpoint)
    name = trained.name
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{name}.pt"
    model = at_preset_geometry(trained)
    if model is not trained:
        info = {**info, "trained_geometry": {key: trained.config[key] for key in sorted(GEOMETRY_ARGUMENTS)}}
        save_checkpoint(model, target, trained.metadata)
    else:
        with atomic_path(target) as tmp:
            shutil.copyfile(checkpoint, tmp)
    entry = {"name": name, "checkpoint": target.name, "sha256": sha256_of(target), "bytes": target.stat().st_size,
             "parameters": count_parameters(model), **info}  # fmt: skip
    path = folder / f"{name}.json"
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(entry, indent=2) + "\n")
    return path
