"""Train / validation / test splits.

- ``paper``: the seed paper's split. 25% of the training tracks (25 of MUSDB18's 100) are
  drawn at random for validation and the rest (75) are for training; the draw uses
  ``PAPER_SPLIT_SEED``, so everyone gets the same split.
- ``musdb``: musdb's official 14-track validation subset (read from the ``musdb`` package's
  own configuration), the other 86 training tracks for training.
- The ``test`` subset is always the test tracks (MUSDB18's 50).
"""

from __future__ import annotations

import os

import numpy as np

from ..errors import LightsepError
from .tracks import Track

PAPER_SPLIT_SEED = 20200504
PAPER_VALIDATION_FRACTION = 0.25
SCHEMES = ("paper", "musdb")


def musdb_validation_names() -> list[str]:
    """The 14 track names of musdb's official validation subset."""
    try:
        import musdb
        import yaml
    except ImportError:
        raise LightsepError("the 'musdb' split needs the musdb package: pip install 'lightsep[eval]'") from None
    config = os.path.join(os.path.dirname(musdb.__file__), "configs", "mus.yaml")
    with open(config) as handle:
        return list(yaml.safe_load(handle)["validation_tracks"])


def split_tracks(
    tracks: list[Track], scheme: str = "paper", seed: int = PAPER_SPLIT_SEED
) -> dict[str, list[Track]]:
    """``{"train": [...], "valid": [...], "test": [...]}`` from a list of tracks.

    Tracks of subset ``test`` go to ``test``; the others are split by ``scheme``. The
    ``paper`` draw is a permutation of the training tracks sorted by name, so the split
    depends only on the track names and ``seed``.
    """
    if scheme not in SCHEMES:
        raise LightsepError(f"unknown split {scheme!r}; choose one of {', '.join(SCHEMES)}")
    test = [t for t in tracks if t.subset == "test"]
    pool = sorted((t for t in tracks if t.subset != "test"), key=lambda t: t.name)
    if scheme == "musdb":
        names = set(musdb_validation_names())
        valid = [t for t in pool if t.name in names]
        train = [t for t in pool if t.name not in names]
    else:
        n_valid = int(round(PAPER_VALIDATION_FRACTION * len(pool)))
        if len(pool) >= 2:
            n_valid = min(max(n_valid, 1), len(pool) - 1)
        order = np.random.default_rng(seed).permutation(len(pool))
        chosen = set(order[:n_valid].tolist())
        valid = [t for i, t in enumerate(pool) if i in chosen]
        train = [t for i, t in enumerate(pool) if i not in chosen]
    return {"train": train, "valid": valid, "test": test}
