"""Work spread over processes, that stops cleanly when interrupted."""

from __future__ import annotations

import multiprocessing
import signal
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from .errors import Interrupted


def _raise_interrupted(signum: int, frame) -> None:
    raise Interrupted(signum)


def _start_worker(initializer: Callable[..., None] | None, initargs: tuple) -> None:
    # a terminated worker (SIGTERM) unwinds like an interrupted command: its outputs in
    # progress are removed
    signal.signal(signal.SIGTERM, _raise_interrupted)
    signal.signal(signal.SIGHUP, _raise_interrupted)
    if initializer is not None:
        initializer(*initargs)


def map_in_processes(
    function: Callable[..., Any],
    arguments: Iterable[tuple],
    processes: int,
    initializer: Callable[..., None] | None = None,
    initargs: tuple = (),
) -> Iterator[Any]:
    """Yield ``function(*args)`` for each tuple of ``arguments``, in order, computed in
    ``processes`` worker processes. The workers are started with ``spawn``: a child forked
    after the parent used OpenMP can hang in its first parallel region (libgomp is not
    fork-safe). If the caller stops early or is interrupted, the workers are terminated."""
    pool = multiprocessing.get_context("spawn").Pool(processes, _start_worker, (initializer, initargs))
    try:
        pending = [pool.apply_async(function, args) for args in arguments]
        for result in pending:
            yield result.get()
        pool.close()
    except BaseException:
        pool.terminate()
        raise
    finally:
        pool.join()
