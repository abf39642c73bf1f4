"""Writing outputs so that nothing the user had is lost and nothing half-written is left.

Every file lightsep writes goes through :class:`OutputSet`: each output is written to a
temporary name in its own folder (``.<stem>.partial-<pid>-<random><ext>``), and when the whole
job succeeded every temporary is fsynced and then all are renamed into place together, with
SIGINT, SIGTERM and SIGHUP held back during the renames. When the job fails or is
interrupted, the temporaries are removed, the folders the job created are removed again if
they stayed empty, and files already under the final names are untouched.

A process killed with SIGKILL cannot clean up after itself: its temporaries carry its process
id, and the next :class:`OutputSet` that writes into the same folder removes those whose
process is gone (:func:`remove_stale_partials`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from . import signals
from .errors import OutputError, OutputExistsError

_PARTIAL = re.compile(r"^\..*\.partial-(\d+)-")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def remove_stale_partials(folder: str | os.PathLike) -> list[Path]:
    """Remove the temporaries in ``folder`` left by lightsep processes that no longer run
    (killed with SIGKILL, or by a power cut); returns what was removed. Temporaries of
    running processes are kept."""
    removed = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            match = _PARTIAL.match(entry.name)
            if match and not _process_alive(int(match.group(1))):
                with contextlib.suppress(OSError):
                    if entry.is_dir(follow_symlinks=False):
                        for child in os.scandir(entry.path):
                            os.unlink(child.path)
                        os.rmdir(entry.path)
                    else:
                        os.unlink(entry.path)
                    removed.append(Path(entry.path))
    return removed


def refuse_existing(
    paths: Iterable[str | os.PathLike], force: bool, option: str = "--force", inputs: Iterable[str | os.PathLike] = ()
) -> None:
    """Raise :class:`OutputExistsError` for the first of ``paths`` that exists, unless
    ``force``; a folder is never replaced by a file, and a command's own input (one of
    ``inputs``, through any link or other name) is never replaced by its output, even with
    ``force``."""
    inputs = [Path(p) for p in inputs if Path(p).exists()]
    for path in map(Path, paths):
        if path.is_dir():
            raise OutputExistsError(f"{path}: is a folder; give a file name")
        if path.exists():
            for source in inputs:
                if path.samefile(source):
                    other = "" if path.absolute() == source.absolute() else f" (the same file as {source})"
                    raise OutputExistsError(f"{path}: is this command's input{other}; give another output name")
            if not force:
                raise OutputExistsError(f"{path} exists; use {option} to overwrite it")


def not_a_file(path: str | os.PathLike) -> str | None:
    """Why ``path`` is not a regular file, in the words an error line uses ("no such file",
    "a FIFO", "a symbolic link to a file that does not exist", ...), or None if it is one."""
    path = Path(path)
    try:
        info = path.stat()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a loop of symbolic links, not a file"
        if path.is_symlink():
            return "a symbolic link to a file that does not exist"
        return "no such file" if exc.errno == errno.ENOENT else f"cannot read ({exc.strerror})"
    if stat.S_ISDIR(info.st_mode):
        return "is a directory"
    if not stat.S_ISREG(info.st_mode):
        return "a FIFO" if stat.S_ISFIFO(info.st_mode) else "a device" if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode) else "not a regular file"
    return None


def default_cache_dir() -> Path:
    """lightsep's cache (decoded audio, ONNX exports, converted peer weights):
    ``$LIGHTSEP_CACHE``, else ``$XDG_CACHE_HOME/lightsep``, else ``~/.cache/lightsep``."""
    if os.environ.get("LIGHTSEP_CACHE"):
        return Path(os.environ["LIGHTSEP_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "lightsep"


def check_output_folder(folder: str | os.PathLike) -> Path:
    """``folder`` as a path, unless a file (or a file above it) stands where it would be."""
    folder = Path(folder)
    _missing_folders(folder)
    return folder


def _without_missing_parents(folder: Path) -> Path:
    """``folder`` with each ``X/..`` whose ``X`` does not exist taken out (``sub/../out`` is
    ``out`` while ``sub`` is missing), so that making it does not make ``X`` on the way; an
    ``X/..`` whose ``X`` exists is left to the system (``X`` may be a link)."""
    parts: list[str] = []
    for part in folder.parts:
        if part == ".." and parts and parts[-1] != ".." and not Path(*parts).exists():
            parts.pop()
        else:
            parts.append(part)
    return Path(*parts) if parts else Path(".")


def _missing_folders(folder: Path) -> list[Path]:
    """``folder`` and those of its parents that do not exist, innermost first; raises
    :class:`OutputError` if the nearest one that exists is a file."""
    folder = _without_missing_parents(folder)
    missing, probe = [], folder
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise OutputError(f"{probe}: is a file, not a folder" + (f"; cannot write into {folder}" if probe != folder else ""))
    return missing


def folders_under(root: str | os.PathLike, depth: int) -> set[Path]:
    """``root`` and the folders up to ``depth`` levels below it that exist now."""
    root = Path(root)
    found, level = set(), [root] if root.is_dir() else []
    for _ in range(depth + 1):
        found.update(level)
        level = [child for folder in level for child in _subfolders(folder)]
    return found


def _subfolders(folder: Path) -> list[Path]:
    with contextlib.suppress(OSError):
        return [Path(entry.path) for entry in os.scandir(folder) if entry.is_dir(follow_symlinks=False)]
    return []


def remove_new_empty_folders(root: str | os.PathLike, before: set[Path], depth: int) -> None:
    """Remove the empty folders up to ``depth`` levels below ``root`` (and ``root``) that are
    not in ``before``: what several processes' failed outputs leave when each could remove
    only the folders it made itself, while another still wrote into a shared parent."""
    for folder in sorted(folders_under(root, depth) - before, key=lambda f: len(f.parts), reverse=True):
        with contextlib.suppress(OSError):
            folder.rmdir()  # only succeeds when empty


def _fsync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class OutputSet:
    """A set of output files committed together: all renamed into place, or none.

    ``with OutputSet() as outputs: tmp = outputs.path(final)`` gives a temporary path for
    each final path; write to it. On leaving the block without an exception every file is
    committed; on an exception (``KeyboardInterrupt`` and the signals above included) every
    temporary is removed. :meth:`commit` and :meth:`abort` can also be called directly.
    """

    def __init__(self) -> None:
        self._files: list[tuple[Path, Path]] = []  # (temporary, final)
        self._created: list[Path] = []  # folders this set made, outermost first
        self._cleaned: set[Path] = set()
        self.done = False

    def __enter__(self) -> OutputSet:
        return self

    def __exit__(self, kind, value, traceback) -> None:
        if kind is None:
            self.commit()
        else:
            self.abort()

    def _make_folder(self, folder: Path) -> None:
        for made in reversed(_missing_folders(folder)):
            with signals.held():  # recorded as soon as made, so that an abort removes it
                try:
                    made.mkdir()
                except FileExistsError:
                    if not made.is_dir():
                        raise OutputError(f"{made}: is a file, not a folder") from None
                    continue
                except OSError as exc:
                    raise OutputError(f"{made}: cannot create the folder ({_reason(exc)})") from None
                self._created.append(made)

    def path(self, final: str | os.PathLike, suffix: str | None = None) -> Path:
        """A new temporary path in ``final``'s folder, renamed onto ``final`` at commit.

        Its name starts with a dot and ends with ``suffix`` (default: ``final``'s own
        extension), so writers that pick a format from the extension see the right one.
        """
        if self.done:
            raise RuntimeError("this OutputSet is already committed or aborted")
        final = _without_missing_parents(Path(final))
        if final.is_dir():
            raise OutputError(f"{final}: is a folder; cannot write a file there")
        folder = final.parent
        self._make_folder(folder)
        if folder not in self._cleaned:
            remove_stale_partials(folder)
            self._cleaned.add(folder)
        with signals.held():  # a signal between creating the file and recording it would leak it
            try:
                fd, name = tempfile.mkstemp(prefix=f".{final.stem}.partial-{os.getpid()}-",
                                            suffix=final.suffix if suffix is None else suffix, dir=folder)  # fmt: skip
            except OSError as exc:
                raise OutputError(f"{folder}: cannot write there ({_reason(exc)})") from None
            os.close(fd)
            tmp = Path(name)
            self._files.append((tmp, final))
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the mode a plain open() would
        return tmp

    def commit(self) -> list[Path]:
        """fsync every temporary, then rename them all into place; on any failure before the
        renames, nothing is renamed and every temporary is removed."""
        if self.done:
            return [final for _, final in self._files]
        try:
            for tmp, final in self._files:
                try:
                    with open(tmp, "rb+") as handle:
                        os.fsync(handle.fileno())
                except OSError as exc:
                    raise OutputError(f"{final}: cannot write ({_reason(exc)})") from None
        except BaseException:
            self.abort()
            raise
        with signals.held():
            try:
                for tmp, final in self._files:
                    os.replace(tmp, final)
                for folder in {final.parent for _, final in self._files}:
                    _fsync_folder(folder)
            finally:
                self.done = True
        return [final for _, final in self._files]

    def abort(self) -> None:
        """Remove every temporary, and the folders this set created if they are empty."""
        if self.done:
            return
        self.done = True
        for tmp, _ in self._files:
            with contextlib.suppress(OSError):
                tmp.unlink()
        for folder in reversed(self._created):
            with contextlib.suppress(OSError):
                folder.rmdir()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path in ``path``'s folder; on success it is fsynced and renamed onto
    ``path`` (atomic on POSIX), on failure it is removed and ``path`` is left untouched: an
    :class:`OutputSet` of one file."""
    with OutputSet() as outputs:
        yield outputs.path(path, suffix)
