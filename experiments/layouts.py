"""Why the fast inference form lays its convolutions out as it does: timings of the
proposed models' encoder convolutions in the layouts ``lightsep.models.fast`` chose between.

    .venv/bin/python experiments/layouts.py [--threads 2] [--batch 8]

For each convolution (batch 8 segments of proposed-2stem by default), on ``(batch, time,
channels)`` memory: time along the *height* of a channels-last 2-D view, time along its
*width* (what the fast form uses), and, for standard strided convolutions, unfold + GEMM
(the previous fast form). Prints milliseconds (best of 20) and each layout's speed-up over
the height layout, measured in the same run.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from speed import positive_int  # noqa: E402

# (name, time frames, in channels, out channels, kernel, stride); groups = in channels when in == out
CONVOLUTIONS = [
    ("block 1 depthwise", 8192, 16, 16, 15, 1),
    ("block 2 depthwise", 4096, 32, 32, 15, 1),
    ("block 3 depthwise", 2048, 64, 64, 15, 1),
    ("block 4 depthwise", 1024, 128, 128, 15, 1),
    ("block 2 strided", 8192, 16, 32, 5, 2),
    ("block 3 strided", 4096, 32, 64, 5, 2),
]


def best_ms(fn, repeats: int = 20) -> float:
    fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=positive_int, default=2)
    parser.add_argument("--batch", type=positive_int, default=8)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"batch {args.batch}, {args.threads} threads; ms (best of 20), speed-up over 'height'")
    print(f"{'convolution':<20} {'height':>8} {'width':>14} {'unfold+GEMM':>16}")
    with torch.inference_mode():
        for name, frames, cin, cout, kernel, stride in CONVOLUTIONS:
            groups = cin if cin == cout else 1
            x = torch.randn(args.batch, frames, cin)
            weight = torch.randn(cout, cin // groups, kernel)
            pad = kernel // 2
            along_height = weight.unsqueeze(-1).contiguous(memory_format=torch.channels_last)
            along_width = weight.unsqueeze(2).contiguous(memory_format=torch.channels_last)
            height = best_ms(lambda: F.conv2d(x.reshape(args.batch, frames, 1, cin).permute(0, 3, 1, 2), along_height,
                                              stride=(stride, 1), padding=(pad, 0), groups=groups))  # fmt: skip
            width = best_ms(lambda: F.conv2d(x.reshape(args.batch, 1, frames, cin).permute(0, 3, 1, 2), along_width,
                                             stride=(1, stride), padding=(0, pad), groups=groups))  # fmt: skip
            row = f"{name:<20} {height:8.2f} {width:7.2f} ({height / width:4.1f}x)"
            if groups == 1:
                flat = weight.reshape(cout, -1)
                unfold = best_ms(lambda: F.linear(F.pad(x, (0, 0, pad, pad)).unfold(1, kernel, stride)
                                                  .reshape(args.batch, frames // stride, -1), flat))  # fmt: skip
                row += f" {unfold:8.2f} ({height / unfold:4.1f}x)"
            print(row)


if __name__ == "__main__":
    main()
