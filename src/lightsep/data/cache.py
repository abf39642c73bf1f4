"""An on-disk cache of decoded, resampled audio, so that epochs never decode again.

Each entry is a ``.npy`` file of ``(channels, samples)`` float32, named by a hash of the
source file's absolute path, inode, size, modification time and status-change time, the
stream index, the sample rate and the channel count. Editing or replacing a file changes its
status-change time (which, unlike the modification time, no program can set back) and so its
key; an entry that cannot be read (a truncated file) is made again; old entries are simply
never read again (delete the folder to reclaim the space). Entries are
opened as read-only memory maps, so many DataLoader workers share one copy through the page
cache.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from ..fileio import atomic_path, default_cache_dir, not_a_file

__all__ = ["AudioCache", "default_cache_dir"]


class AudioCache:
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    @classmethod
    def default(cls) -> AudioCache:
        return cls(default_cache_dir() / "audio")

    def key(self, path: str | os.PathLike, sample_rate: int, channels: int, stream: int = 0) -> str:
        problem = not_a_file(path)
        if problem is not None:  # named as the reader names it (a broken link, a FIFO), before any stat
            from ..audio import AudioError

            raise AudioError(f"{path}: {problem}")
        path = Path(path).resolve()
        stat = path.stat()
        ident = f"{path}|{stat.st_ino}|{stat.st_size}|{stat.st_mtime_ns}|{stat.st_ctime_ns}|{stream}|{sample_rate}|{channels}"
        return hashlib.sha256(ident.encode()).hexdigest()[:32]

    def entry(self, path: str | os.PathLike, sample_rate: int, channels: int, stream: int = 0) -> Path:
        return self.root / f"{self.key(path, sample_rate, channels, stream)}.npy"

    def load(self, path: str | os.PathLike, sample_rate: int, channels: int, stream: int = 0) -> np.ndarray:
        """The decoded audio, ``(channels, samples)`` float32, decoding it on a miss."""
        from ..audio import read_audio

        entry = self.entry(path, sample_rate, channels, stream)
        if entry.exists():
            try:
                return np.load(entry, mmap_mode="r")
            except (ValueError, EOFError, OSError):  # a damaged entry (cut short by a full disk, say): made again
                pass
        audio, _ = read_audio(path, sample_rate, channels, stream)
        with atomic_path(entry) as tmp:
            np.save(tmp, np.ascontiguousarray(audio, dtype=np.float32))
        return np.load(entry, mmap_mode="r")
