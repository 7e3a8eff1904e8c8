"""Conv (channels-last, rc's layout) against PyTorch's conv2d on the same data, run interleaved
in one process: circuits' time, torch's time (channels-first, the layout torch computes in, so
its time excludes any layout change) and the ratio, for a few image and kernel shapes.

    python bench/bench_conv.py
"""

import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import circuits as rc  # noqa: E402
from timing import median_times  # noqa: E402

CASES = [
    # (batch, height, width, in channels, out channels, kernel, stride, padding)
    (8, 32, 32, 16, 32, 3, 1, 1),
    (8, 64, 64, 3, 16, 5, 1, 2),
    (4, 28, 28, 32, 64, 3, 1, 1),
    (16, 16, 16, 64, 64, 3, 1, 1),
]


def main():
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    print(f"circuits BLAS: {rc._circuits.blas_config()}")
    print(f"{'shape':<34} {'circuits ms':>12} {'torch ms':>10} {'ratio':>7}")
    for b, h, w, cin, cout, k, s, p in CASES:
        x = np.random.default_rng(0).standard_normal((b, h, w, cin)).astype(np.float32)
        f = np.random.default_rng(1).standard_normal((cout, k, k, cin)).astype(np.float32)
        node = rc.Conv(rc.Array(x), rc.Array(f), [s, s], p)
        xt = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()
        ft = torch.from_numpy(f).permute(0, 3, 1, 2).contiguous()
        got = np.asarray(node.evaluate())
        want = torch.nn.functional.conv2d(xt, ft, None, s, p).permute(0, 2, 3, 1).numpy()
        np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-3)
        ours, theirs = median_times(
            [node.evaluate, lambda: torch.nn.functional.conv2d(xt, ft, None, s, p)], reps=15
        )
        label = f"{b}x{h}x{w}x{cin} * {cout}x{k}x{k} s{s} p{p}"
        print(f"{label:<34} {ours * 1e3:>12.2f} {theirs * 1e3:>10.2f} {ours / theirs:>7.2f}")


if __name__ == "__main__":
    main()
