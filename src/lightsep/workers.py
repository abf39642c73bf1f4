"""Work spread over processes, that stops cleanly when interrupted."""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from . import signals


_START_ERROR: Exception | None = None  # in a worker: why its initializer failed


def die_with_parent(parent: int) -> None:
    """Ask Linux to send this process SIGTERM when its parent dies (``PR_SET_PDEATHSIG``), so
    that a worker whose command was killed (even with SIGKILL) stops, and unwinds its task,
    instead of finishing and committing it; if the parent is already gone, leave now."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: workers then see a broken pipe at their next result
        pass
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(128 + signal.SIGTERM)


def _start_worker(initializer: Callable[..., None] | None, initargs: tuple, parent: int) -> None:
    global _START_ERROR
    die_with_parent(parent)
    # between tasks a worker ignores Ctrl-C (the parent handles it and terminates the pool)
    # and dies quietly on SIGTERM
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if initializer is not None:
        try:
            initializer(*initargs)
        except Exception as exc:  # kept for the first task: a pool whose initializer raises
            _START_ERROR = exc  # restarts its workers for ever instead of failing


def _run(function: Callable[..., Any], args: tuple) -> Any:
    """One task in a worker: SIGINT, SIGTERM and SIGHUP unwind it like an interrupted
    command (its outputs in progress are removed), then the worker leaves quietly."""
    if _START_ERROR is not None:
        raise _START_ERROR
    try:
        with signals.interrupting(sigint=True):
            return function(*args)
    except KeyboardInterrupt as exc:  # Interrupted included; the parent is stopping the pool
        os._exit(128 + getattr(exc, "signum", signal.SIGINT))


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
    fork-safe). An exception from ``initializer`` is raised here, from the first result. If
    the caller stops early or is interrupted, the workers are terminated."""
    pool = multiprocessing.get_context("spawn").Pool(processes, _start_worker, (initializer, initargs, os.getpid()))
    try:
        pending = [pool.apply_async(_run, (function, args)) for args in arguments]
        for result in pending:
            yield result.get()
        pool.close()
    except BaseException:
        pool.terminate()
        raise
    finally:
        pool.join()
