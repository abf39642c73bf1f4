"""Separation models: building blocks, the proposed network, Wave-U-Net, and the registry."""

from .base import SeparationModel
from .lightsep_net import LightSepNet
from .registry import MODEL_CLASSES, PRESETS, build_model, list_models
from .waveunet import WaveUNet

__all__ = ["SeparationModel", "LightSepNet", "WaveUNet", "MODEL_CLASSES", "PRESETS", "build_model", "list_models"]
