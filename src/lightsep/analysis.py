"""Model analysis: parameters, FLOPs, and receptive fields measured with gradients.

These produce the paper's Table 2 (``lightsep info``). Its receptive fields are the ones each
model derives from its architecture (``model.input_span``), which takes no time; the test
suite checks them against :func:`measure_input_span` for every named model.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass

import torch
from torch.utils.flop_counter import FlopCounterMode

from .models.base import SeparationModel
from .models.registry import build_model


def count_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def gflops_per_audio_second(model: SeparationModel) -> float:
    """Floating-point operations (multiply and add counted separately, so 2 per MAC; as
    :class:`torch.utils.flop_counter.FlopCounterMode` counts convolutions and matrix
    products, element-wise operations left out) of one forward pass on one example, divided
    by the seconds of audio it outputs, in GFLOP. For a stereo model that is per second of
    stereo audio; a mono model runs once per channel."""
    return _count_flops(model).get_total_flops() / (model.output_samples / model.sample_rate) / 1e9


def _count_flops(model: SeparationModel) -> FlopCounterMode:
    """A FlopCounterMode that has seen one eval-mode forward pass on one example."""
    was_training = model.training
    model.eval()
    try:
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            model(model.example_input(1))
    finally:
        model.train(was_training)
    return counter


@dataclass
class BudgetRow:
    """Parameters and FLOPs of one part of a model (a direct child module, or a block of one)."""

    part: str
    parameters: int
    gflops_per_audio_second: float


def budget_breakdown(model: SeparationModel, depth: int = 2) -> list[BudgetRow]:
    """Where the parameters and FLOPs sit: one row per sub-module ``depth`` levels down
    (``encoder.0``, ``aspp.atrous``, ...), in the order the model defines them; FLOPs that
    no sub-module of that depth accounts for (functional code in ``forward``) form a row
    ``(forward)``."""
    counter = _count_flops(model)
    seconds = model.output_samples / model.sample_rate
    counts = {name: sum(ops.values()) for name, ops in counter.get_flop_counts().items()}
    root = type(model).__name__

    def flops_of(name: str, module: torch.nn.Module) -> float:
        # containers such as ModuleList are never called: add up their children
        if f"{root}.{name}" in counts:
            return counts[f"{root}.{name}"]
        return sum(flops_of(f"{name}.{child}", sub) for child, sub in module.named_children())

    rows = []
    for name, module in model.named_modules():
        level = name.count(".") + 1 if name else 0
        if level == depth or (0 < level < depth and not list(module.children())):
            rows.append(BudgetRow(name, count_parameters(module), round(flops_of(name, module) / seconds / 1e9, 4)))
    accounted = sum(row.gflops_per_audio_second for row in rows)
    total = counts.get(root, 0) / seconds / 1e9
    if total - accounted > 1e-4:
        rows.append(BudgetRow("(forward)", 0, round(total - accounted, 4)))
    return rows


def measure_input_span(model: SeparationModel, output_index: int | None = None, seed: int = 0) -> tuple[int, int]:
    """First and last input sample with a non-zero gradient of output sample ``output_index``,
    measured in float64 on a random input with the model in eval mode. Defaults to the
    middle output sample.

    The gradient is taken of the directly estimated sources only (all channels): adding the
    difference source would cancel them (``direct + (mixture - direct) = mixture``)."""
    if output_index is None:
        output_index = model.output_samples // 2
    probe = copy.deepcopy(model).double().eval()
    generator = torch.Generator().manual_seed(seed)
    x = (0.1 * torch.randn(1, model.audio_channels, model.context_samples, generator=generator, dtype=torch.float64))
    x.requires_grad_(True)
    direct = [i for i, name in enumerate(model.sources) if name != model.difference_source]
    probe(x)[:, direct, :, output_index].sum().backward()
    influence = x.grad.abs().sum(dim=(0, 1)).nonzero().flatten()
    if influence.numel() == 0:
        raise RuntimeError("no input sample influences this output sample")
    return int(influence[0]), int(influence[-1])


def measure_receptive_field(model: SeparationModel, output_index: int | None = None) -> int:
    """Input samples, from the first to the last, that influence one output sample."""
    first, last = measure_input_span(model, output_index)
    return last - first + 1


@dataclass
class ModelInfo:
    """One row of Table 2."""

    name: str
    sample_rate: int
    context_samples: int
    output_samples: int
    parameters: int
    receptive_field_s: float
    target_field_s: float
    gflops_per_audio_second: float

    def as_dict(self) -> dict:
        return asdict(self)


def model_info(name: str, model: SeparationModel | None = None) -> ModelInfo:
    """Table 2's row for preset ``name``, or for ``model`` (a loaded checkpoint) under ``name``."""
    model = (build_model(name) if model is None else model).eval()
    rate = model.sample_rate
    return ModelInfo(
        name=name,
        sample_rate=rate,
        context_samples=model.context_samples,
        output_samples=model.output_samples,
        parameters=count_parameters(model),
        receptive_field_s=round(model.receptive_field() / rate, 4),
        target_field_s=round(model.target_field / rate, 4),
        gflops_per_audio_second=round(gflops_per_audio_second(model), 4),
    )
