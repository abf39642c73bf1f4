"""Pretrained weights bundled with the package (``lightsep/pretrained/``).

Each bundled model is ``<name>.pt`` (a portable checkpoint) beside ``<name>.json`` (its
manifest: training data, seeds, recipe, steps, wall time, hardware, test scores, and the
checkpoint's sha256). Loading verifies the sha256.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .errors import CheckpointError

PRETRAINED_DIR = Path(__file__).resolve().parent / "pretrained"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def manifest(name: str) -> dict | None:
    path = PRETRAINED_DIR / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def pretrained_checkpoint(name: str) -> Path | None:
    """The verified checkpoint bundled for model ``name``, or ``None`` if none is bundled."""
    path = PRETRAINED_DIR / f"{name}.pt"
    if not path.exists():
        return None
    info = manifest(name)
    if info is None or "sha256" not in info:
        raise CheckpointError(f"{path}: bundled weights without a manifest ({name}.json) to verify them")
    actual = sha256_of(path)
    if actual != info["sha256"]:
        raise CheckpointError(f"{path}: sha256 {actual[:16]}... does not match its manifest ({info['sha256'][:16]}...)")
    return path
