"""Exceptions that the command line reports as one line, without a traceback."""


class LightsepError(Exception):
    """An error caused by the user's input (a file, a name, an option), not by a bug."""


class CheckpointError(LightsepError):
    """A checkpoint file is missing, truncated, foreign or does not match its model."""


class UnknownModelError(LightsepError, KeyError):
    """A model name is not in the registry."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])
