"""Where the fast form's time goes: ``torch.profiler`` on ``FastLightSepNet.forward_overlapping``.

    .venv/bin/python experiments/profile_fast.py [--model proposed-2stem] [--segments 16] [--threads 2]

Profiles five calls on a group of stereo segments at 50% overlap (the default separation
setting) and prints the share of the time taken by matrix products (GEMMs and 1x1 convolutions),
other convolutions, copies and everything else, then the ten most expensive operators with their input shapes.
"""

from __future__ import annotations

import argparse
import warnings

import torch
from torch.profiler import profile

CONVOLUTIONS = ("aten::mkldnn_convolution", "mkldnn::_convolution_pointwise")


def kind(name: str, shapes: list) -> str:
    """An operator's kind; a 1x1 convolution (weight ``(out, in, 1, 1)``) is a matrix product."""
    if name in ("aten::addmm", "aten::addmm_", "aten::mm", "aten::bmm"):
        return "matrix products"
    if name in CONVOLUTIONS:
        weight = shapes[1] if len(shapes) > 1 else []
        return "matrix products" if list(weight[2:]) == [1, 1] else "other convolutions"
    if name in ("aten::copy_", "aten::cat"):
        return "copies"
    return "the rest"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="proposed-2stem")
    parser.add_argument("--segments", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if args.segments < 1 or args.threads < 1:
        parser.error("--segments and --threads must be at least 1")
    from lightsep.models.fast import fast_inference_form
    from lightsep.separator import resolve_model

    torch.set_num_threads(args.threads)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        network = fast_inference_form(resolve_model(args.model, random_weights=True))  # timing only
    if not hasattr(network, "forward_overlapping"):
        parser.error(f"{args.model} has no fast inference form")
    context = network.context_samples
    hop = context // 2
    signal = 0.1 * torch.randn(2, 1, (args.segments - 1) * hop + context, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        network.forward_overlapping(signal, hop, args.segments)  # warm-up
        with profile(record_shapes=True) as profiler:
            for _ in range(5):
                network.forward_overlapping(signal, hop, args.segments)
    events = profiler.key_averages(group_by_input_shape=True)
    total = sum(e.self_cpu_time_total for e in events)
    shares = dict.fromkeys(("matrix products", "other convolutions", "copies", "the rest"), 0.0)
    for event in events:
        shares[kind(event.key, event.input_shapes)] += event.self_cpu_time_total / total
    print(f"{args.model}: {args.segments} stereo segments at 50% overlap, {args.threads} threads, "
          f"{total / 5 / 1e3:.1f} ms per call (matrix products include 1x1 convolutions)")
    for name, share in shares.items():
        print(f"  {name:<18} {100 * share:5.1f}%")
    print(events.table(sort_by="self_cpu_time_total", row_limit=10,
                                                                 max_name_column_width=30, max_shapes_column_width=60))  # fmt: skip


if __name__ == "__main__":
    main()
