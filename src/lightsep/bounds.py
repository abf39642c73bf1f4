"""Bounds on numeric options that a 2-core, 24 GiB machine can honour, checked before any work
(the command line's options, the Python API's arguments and the training configurations all
go through these), each refusal one line (:class:`~lightsep.errors.LightsepError`)."""

from __future__ import annotations

import numbers

from .errors import LightsepError

MAX_THREADS = 256
"""CPU threads for PyTorch or ONNX Runtime: more than any machine lightsep runs on has cores
(libgomp runs out of memory at about a million)."""

MAX_SEPARATION_BATCH = 256
"""Segments per forward pass when separating: 256 of the largest preset's segments are about
1 GB of input, and a larger batch only holds more of a file in memory at once."""

MAX_TRAINING_BATCH = 1024
"""Examples per training step: 1024 of the paper's 16384-sample segments are a few GB of
activations; the recipes use 8 to 32."""

MAX_BLOCK_SECONDS = 10.0
"""A streaming block: longer ones are no longer a stream."""

MAX_STALL_SECONDS = 3600.0
"""How long a raw-PCM stream may wait for input before it ends."""


def check_count(value: object, what: str, maximum: int, minimum: int = 1) -> int:
    """``value`` as an int in ``[minimum, maximum]``, else one line naming ``what``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not minimum <= int(value) <= maximum:
        raise LightsepError(f"{what} must be an integer from {minimum} to {maximum}, got {value!r}")
    return int(value)

