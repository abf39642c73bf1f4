"""ONNX export of a whole separation model, and ONNX Runtime sessions on it.

The exported graph maps ``mixture`` ``(batch, audio_channels, context_samples)`` to ``stems``
``(batch, sources, audio_channels, output_samples)`` with a dynamic batch dimension: the
same function as the PyTorch model (the difference source included). ``int8=True`` also
applies ONNX Runtime's dynamic int8 quantisation to the weights.

A model that streams frame by frame (a causal spectrogram-mask model,
:func:`lightsep.frames.frame_streamed`) is exported as its frame step instead
(:class:`lightsep.frames.FrameStep`): ``magnitude`` ``(1, audio_channels, bins, frames)`` and
the recurrent ``state`` in, the direct sources' ``masks`` and the new ``state_out`` out, with
a dynamic frame count; the STFT, the masking and the overlap-add around it are the caller's
(``web/lightsep.js`` does them as :class:`lightsep.frames.FrameEngine` does).
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import warnings
from pathlib import Path

import torch

from .errors import LightsepError
from .fileio import atomic_path, default_cache_dir
from .models.base import SeparationModel

OPSET = 17


def _require_onnx():
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        raise LightsepError("ONNX export needs onnx and onnxruntime: pip install 'lightsep[onnx]'") from None


def _graph(model: SeparationModel) -> tuple[torch.nn.Module, tuple, dict]:
    """What :func:`torch.onnx.export` traces for ``model``: the module, example inputs, and
    the names and dynamic axes of its inputs and outputs."""
    from .frames import FrameStep, frame_streamed

    generator = torch.Generator().manual_seed(0)
    if frame_streamed(model):
        step = FrameStep(model)
        magnitude = torch.rand(1, model.audio_channels, model.bins, 3, generator=generator)
        names = dict(input_names=["magnitude", "state"], output_names=["masks", "state_out"],
                     dynamic_axes={"magnitude": {3: "frames"}, "masks": {4: "frames"}})  # fmt: skip
        return step, (magnitude, step.initial_state()), names
    example = 0.1 * torch.randn(2, model.audio_channels, model.context_samples, generator=generator)
    names = dict(input_names=["mixture"], output_names=["stems"], dynamic_axes={"mixture": {0: "batch"}, "stems": {0: "batch"}})
    return model, (example,), names


def export_onnx(model: SeparationModel, path: str | os.PathLike, int8: bool = False) -> Path:
    """Export ``model`` to ``path`` (atomically); with ``int8``, quantise its weights."""
    _require_onnx()
    path = Path(path)
    module, example, names = _graph(model.eval())
    with atomic_path(path, suffix=".onnx") as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about shape checks in time_to_depth
        torch.onnx.export(module, example, str(tmp), opset_version=OPSET, dynamo=False, **names)
        if int8:
            from onnxruntime.quantization import QuantType, quantize_dynamic

            quantised = tmp.with_name(tmp.stem + ".int8.onnx")
            root_logger = logging.getLogger()
            level = root_logger.level
            root_logger.setLevel(logging.ERROR)  # its advice to pre-process the model first is not the user's to act on
            try:
                quantize_dynamic(str(tmp), str(quantised), weight_type=QuantType.QInt8)
                os.replace(quantised, tmp)
            finally:
                root_logger.setLevel(level)
                quantised.unlink(missing_ok=True)
    return path


def _model_digest(model: SeparationModel, int8: bool) -> str:
    digest = hashlib.sha256(repr(sorted(model.config.items())).encode() + type(model).__name__.encode() + bytes([int8]))
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:24]


def cached_export(model: SeparationModel, int8: bool = False) -> Path:
    """``model``'s ONNX export, made once and cached on disk by a hash of its weights."""
    _require_onnx()
    path = default_cache_dir() / "onnx" / f"{type(model).__name__}-{_model_digest(model, int8)}.onnx"
    if path.exists() and not _loads(path):
        print(f"lightsep: warning: {path}: a damaged cached export; exporting again", file=sys.stderr, flush=True)
        path.unlink(missing_ok=True)
    if not path.exists():
        export_onnx(model, path, int8=int8)
    return path


def _loads(path: Path) -> bool:
    """Whether ``path`` holds a whole, valid ONNX model (a cache entry can be truncated)."""
    import onnx

    try:
        onnx.checker.check_model(onnx.load(str(path)))
    except Exception:  # onnx raises DecodeError, ValidationError, ... for a damaged file
        return False
    return True


def onnx_session(model: SeparationModel, threads: int | None = None, int8: bool = False):
    """An ONNX Runtime session on ``model``'s cached export (:func:`cached_export`)."""
    path = cached_export(model, int8)
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
