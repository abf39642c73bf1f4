"""Datasets: layouts on disk, the audio cache, splits, and training/validation samplers."""

from .cache import AudioCache
from .sampler import TrainingSegments, ValidationSegments
from .splits import PAPER_SPLIT_SEED, split_tracks
from .tracks import DatasetError, StemRef, Track, detect_layout, list_tracks, make_targets

__all__ = [
    "AudioCache",
    "DatasetError",
    "PAPER_SPLIT_SEED",
    "StemRef",
    "Track",
    "TrainingSegments",
    "ValidationSegments",
    "detect_layout",
    "list_tracks",
    "make_targets",
    "split_tracks",
]
