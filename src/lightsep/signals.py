"""Signals: SIGTERM and SIGHUP end lightsep the way Ctrl-C does, and the few steps that must
not be cut in two hold all three back.

Python runs signal handlers in the main thread only, and only handlers installed there can
be changed, so outside the main thread these context managers change nothing.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator

from .errors import Interrupted

ENDING = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _raise_interrupted(signum: int, frame) -> None:
    raise Interrupted(signum)


@contextlib.contextmanager
def _handlers(handlers: dict[int, Callable]) -> Iterator[dict]:
    """``handlers`` installed for the block, the previous ones restored after it; yields the
    previous ones ({} outside the main thread, where nothing is installed)."""
    if threading.current_thread() is not threading.main_thread():
        yield {}
        return
    previous = {sig: signal.signal(sig, handler) for sig, handler in handlers.items()}
    try:
        yield previous
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def interrupting(sigint: bool = False) -> contextlib.AbstractContextManager:
    """For the block, SIGTERM and SIGHUP raise :class:`~lightsep.errors.Interrupted` (and,
    with ``sigint``, SIGINT raises ``KeyboardInterrupt`` even where it was ignored), so that
    every output in progress is removed on the way out."""
    handlers = {signal.SIGTERM: _raise_interrupted, signal.SIGHUP: _raise_interrupted}
    if sigint:
        handlers[signal.SIGINT] = signal.default_int_handler
    return _handlers(handlers)


@contextlib.contextmanager
def held() -> Iterator[None]:
    """SIGINT, SIGTERM and SIGHUP wait until the block is done, then act as they would have.

    Their Python handlers are swapped for one that only records them: blocking the signals
    in this thread would not do, since another thread (OpenMP's) can receive a signal and
    Python then runs the handler in the main thread at once. Ignored signals stay ignored."""
    received: list[int] = []
    recorder = {sig: (lambda signum, frame: received.append(signum)) for sig in ENDING
                if signal.getsignal(sig) not in (signal.SIG_IGN, None)}  # fmt: skip
    previous: dict = {}
    try:
        with _handlers(recorder) as previous:
            yield
    finally:
        for signum in received[:1]:
            handler = previous[signum]
            if callable(handler):
                handler(signum, None)
            else:  # SIG_DFL: the default action, now
                os.kill(os.getpid(), signum)
