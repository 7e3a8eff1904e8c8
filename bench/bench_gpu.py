"""Benchmark of the CUDA backend against PyTorch CUDA eager, measured side by side in one run.

1. Each einsum of one GPT-2-small layer (the shapes of bench_core.py) evaluated on the GPU
   as a circuit, against torch.einsum on CUDA tensors (cuBLAS through torch). Two peers:
   torch on tensors already on the GPU (the GEMM alone), and torch including the copies
   circuits makes today (inputs up from host memory, the result back down), since a
   circuit's Arrays live in host memory.
2. The GPT-2-small-shaped forward of bench_core.py (12 layers, seq 128, vocab 50257) at
   batch 8 and 32 against the same forward in PyTorch CUDA eager on the same weights
   (weights resident on the GPU, logits copied back to the host); circuits both as it
   runs by default (every Array uploaded at each evaluation) and with
   set_array_cache(True) (Arrays uploaded once), the setting comparable to torch.

Prints medians of interleaved repetitions and their ratios (circuits / peer, lower is
better for circuits), and the allocator's statistics. Exits with status 2 and a message
when there is no GPU (or no CUDA extension). TF32 stays off on both sides.
Usage: python bench/bench_gpu.py [--reps 5] [--layers 12] [--seq 128] [--batches 8,32]
[--only einsum,forward]
"""

import argparse
import os
import sys

import numpy as np

import circuits as rc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpt2_circuit  # noqa: E402
from timing import median_times as _median_times  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("--reps", type=int, default=5)
parser.add_argument("--layers", type=int, default=12)
parser.add_argument("--seq", type=int, default=128)
parser.add_argument("--batches", default="8,32")
parser.add_argument("--only", default="einsum,forward")
args = parser.parse_args()


def no_gpu(reason):
    print(f"bench_gpu: {reason}; nothing to measure", file=sys.stderr)
    sys.exit(2)


try:
    from circuits import _circuits_cuda as cuda
except ImportError:
    no_gpu("circuits._circuits_cuda is not built (install with nvcc on PATH)")
if cuda.device_count == 0:
    no_gpu(f"no GPU: {cuda.no_device_reason}")
if cuda.cublas_error() is not None:
    no_gpu(f"no cuBLAS: {cuda.cublas_error()} (pip install nvidia-cublas, then rebuild)")

try:
    import torch

    if not torch.cuda.is_available():
        torch = None
except ImportError:
    torch = None
if torch is not None:
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False


def median_times(fns, reps):
    return _median_times(fns, reps, sync)


def sync():
    if torch is not None:
        torch.cuda.synchronize()


def header():
    name = torch.cuda.get_device_name(0) if torch is not None else "cuda:0"
    peer = f"torch {torch.__version__} (CUDA {torch.version.cuda})" if torch else "no torch CUDA"
    print(f"GPU: {name}; peer: {peer}; TF32 off")
    print()


def einsum_table():
    b, s, d, h, k, m, v = 8, args.seq, 768, 12, 64, 3072, 50257
    rng = np.random.default_rng(0)

    def arr(*shape):
        return rng.standard_normal(shape, dtype=np.float32)

    x, w_qkv, w_o = arr(b, s, d), arr(h, k, d), arr(d, h, k)
    q, kk, pattern = arr(b, s, h, k), arr(b, s, h, k), arr(b, h, s, s)
    w_in, w_out, hid, embed = arr(m, d), arr(d, m), arr(b, s, m), arr(v, d)
    cases = [
        ("qkv proj  bsd,hkd->bshk", "bsd,hkd->bshk", (x, w_qkv)),
        ("scores    bshk,bthk->bhst", "bshk,bthk->bhst", (q, kk)),
        ("pattern@v bhst,bthk->bshk", "bhst,bthk->bshk", (pattern, kk)),
        ("out proj  bshk,dhk->bsd", "bshk,dhk->bsd", (q, w_o)),
        ("mlp in    bsd,md->bsm", "bsd,md->bsm", (x, w_in)),
        ("mlp out   bsm,dm->bsd", "bsm,dm->bsd", (hid, w_out)),
        ("unembed   bsd,vd->bsv", "bsd,vd->bsv", (x, embed)),
    ]
    print(f"Einsums of one GPT-2-small layer (batch {b}, seq {s}), float32")
    print(f"{'einsum':27s} {'circuits ms':>12s} {'torch ms':>9s} {'ratio':>6s} "
          f"{'torch+copies ms':>16s} {'ratio':>6s} {'TFLOP/s':>8s}  max rel. diff")
    for label, spec, ops in cases:
        c = rc.Einsum.from_einsum_string(spec, *[rc.Array(o) for o in ops])
        sizes = {}
        for labels, o in zip(spec.split("->")[0].split(","), ops):
            sizes.update(zip(labels, o.shape))
        flops = 2 * float(np.prod(list(sizes.values())))
        if torch is None:
            (ours,) = median_times([lambda: c.evaluate(device="cuda")], args.reps)
            print(f"{label:27s} {ours * 1e3:12.2f}")
            continue
        dev = [torch.from_numpy(o).cuda() for o in ops]
        ref = torch.einsum(spec, *dev)
        got = torch.as_tensor(np.asarray(c.evaluate(device="cuda")))
        err = float((got - ref.cpu()).abs().max() / ref.abs().max())

        def with_copies(ops=ops, spec=spec):
            return torch.einsum(spec, *[torch.from_numpy(o).cuda() for o in ops]).cpu()

        ours, alone, copies = median_times(
            [lambda: c.evaluate(device="cuda"), lambda: torch.einsum(spec, *dev), with_copies],
            args.reps,
        )
        print(f"{label:27s} {ours * 1e3:12.2f} {alone * 1e3:9.2f} {ours / alone:6.2f} "
              f"{copies * 1e3:16.2f} {ours / copies:6.2f} {flops / ours / 1e12:8.1f}  {err:.1e}")
    print()


def forward_table(batch):
    cfg = gpt2_circuit.Config(n_layers=args.layers)
    weights = gpt2_circuit.random_weights(cfg)
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((batch, args.seq, cfg.d_model)) * 0.1).astype(np.float32)
    logits = gpt2_circuit.circuit(cfg, weights, x)
    print(f"GPT-2-small-shaped forward ({cfg.n_layers} layers, batch {batch}, seq {args.seq}, "
          f"vocab {cfg.vocab}), float32")
    if torch is None:
        (ours,) = median_times([lambda: logits.evaluate(device="cuda")], args.reps)
        print(f"circuits: {ours * 1e3:.0f} ms (torch CUDA not available: no peer)")
        return
    wdev = {k: torch.from_numpy(v).cuda() for k, v in weights.items()}
    xdev = torch.from_numpy(x).cuda()

    def peer():
        return gpt2_circuit.torch_forward_tensors(cfg, wdev, xdev).cpu()

    ref = peer()
    got = torch.as_tensor(np.asarray(logits.evaluate(device="cuda")))
    err = float((got - ref).abs().max() / ref.abs().max())
    ours, theirs = median_times([lambda: logits.evaluate(device="cuda"), peer], args.reps)
    cuda.set_array_cache(True)
    try:
        (cached,) = median_times([lambda: logits.evaluate(device="cuda")], args.reps)
    finally:
        cuda.set_array_cache(False)
    print(f"{'circuits ms':>12s} {'Arrays cached ms':>17s} {'torch CUDA eager ms':>20s} "
          f"{'ratio':>6s} {'cached ratio':>13s}   max rel. diff")
    print(f"{ours * 1e3:12.1f} {cached * 1e3:17.1f} {theirs * 1e3:20.1f} {ours / theirs:6.2f} "
          f"{cached / theirs:13.2f}   {err:.1e}")
    print()


header()
sections = set(args.only.split(","))
if "einsum" in sections:
    einsum_table()
if "forward" in sections:
    for batch in (int(b) for b in args.batches.split(",")):
        forward_table(batch)
print("allocator:", cuda.pool_stats(0))
