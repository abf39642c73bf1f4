"""lightsep: lightweight, low-latency end-to-end music source separation.

The names below are imported on first use, so that ``import lightsep.cli`` (the command) is
quick and a Ctrl-C while PyTorch loads is handled by the command like any other.
"""

from __future__ import annotations

import importlib
import os

# ONNX Runtime writes a persistent device id and a telemetry database under
# ~/.cache/Microsoft/DeveloperTools/ when it is imported, unless told not to; lightsep writes
# nothing outside the outputs it names (docs/failures.md). Set ORT_DISABLE_TELEMETRY=0 before
# importing lightsep to keep ONNX Runtime's own default.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")


def _version() -> str:
    """The installed package's version (its metadata), or ``0+unknown`` in a source tree
    that is not installed."""
    from importlib import metadata

    try:
        return metadata.version("lightsep")
    except metadata.PackageNotFoundError:
        return "0+unknown"


_EXPORTS = {
    "Separator": ".separator",
    "StreamingSeparator": ".streaming",
    "separate_files": ".files",
    "list_models": ".catalog",
    "build_model": ".models",
    "load_checkpoint": ".checkpoint",
    "save_checkpoint": ".checkpoint",
    "LightsepError": ".errors",
    "CheckpointError": ".errors",
}

__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name: str):
    if name == "__version__":
        globals()["__version__"] = _version()
        return globals()["__version__"]
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'lightsep' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
