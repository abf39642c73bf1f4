"""Exceptions that the command line reports as one line, without a traceback, and the exit
statuses of the ``lightsep`` command (``docs/failures.md``)."""

EXIT_OK = 0
EXIT_PROBLEMS = 1
"""``check-data`` found problems in a dataset (the command itself worked)."""
EXIT_INPUT = 2
"""A usage or input error: a bad option, file, checkpoint, configuration or output location
(a :class:`LightsepError`, an operating-system error such as a full disk, or an argparse
error). With several inputs, the others are still processed."""
EXIT_INTERNAL = 3
"""An unexpected error inside lightsep (a bug): one line, and the traceback with
``LIGHTSEP_DEBUG=1``."""
# interrupted by a signal: 128 + its number (130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP)


class LightsepError(Exception):
    """An error caused by the user's input (a file, a name, an option), not by a bug."""


class CheckpointError(LightsepError):
    """A checkpoint file is missing, truncated, foreign or does not match its model."""


class UnknownModelError(LightsepError, KeyError):
    """A model name is not in the registry."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class OutputError(LightsepError):
    """An output cannot be written where it was asked for (a file in the way of a folder,
    no permission, a full disk)."""


class OutputExistsError(OutputError):
    """An output exists and ``--force`` was not given."""


class Interrupted(KeyboardInterrupt):
    """SIGINT, SIGTERM or SIGHUP arrived: raised in the main thread so that every output in
    progress is removed on the way out, as for Ctrl-C."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def one_line(exc: BaseException, where: object = None) -> tuple[str, int]:
    """What lightsep prints after ``lightsep: error:`` for ``exc``, and the exit status: a
    :class:`LightsepError`'s message (2); an ``OSError``'s file and reason (2); for anything
    else, a bug, its type and first line (3). ``where`` (an input) names the file when the
    error itself does not."""
    prefix = f"{where}: " if where is not None else ""
    if isinstance(exc, LightsepError):
        return str(exc), EXIT_INPUT
    if isinstance(exc, OSError):
        return (f"{exc.filename}: " if exc.filename else prefix) + (exc.strerror or str(exc)), EXIT_INPUT
    text = (str(exc).strip().splitlines() or [""])[0]
    return (f"{prefix}internal error: {type(exc).__name__}: {text} (LIGHTSEP_DEBUG=1 shows the traceback; "
            "please report it)"), EXIT_INTERNAL  # fmt: skip
