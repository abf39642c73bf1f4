"""lightsep: lightweight, low-latency end-to-end music source separation."""

from .checkpoint import load_checkpoint, save_checkpoint
from .errors import CheckpointError, LightsepError
from .models import build_model, list_models
from .separator import Separator
from .streaming import StreamingSeparator

__version__ = "0.1.0"

__all__ = [
    "Separator",
    "StreamingSeparator",
    "build_model",
    "list_models",
    "load_checkpoint",
    "save_checkpoint",
    "LightsepError",
    "CheckpointError",
    "__version__",
]
