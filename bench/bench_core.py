"""Benchmark of the CPU engine against named peers, measured side by side in one run.

1. Each einsum of one GPT-2-small layer (batch 8, seq 128, d_model 768, 12 heads of
   64, d_mlp 3072, vocab 50257) as a circuit, against numpy matmul (OpenBLAS) on the
   same shapes.
2. Elementwise nodes (gelu, gelu_new, softmax over the last axis, layer norm as
   gpt2_circuit builds it from circuit nodes, Add of two tensors), in ns per element per
   thread and against a memory-bandwidth peer: numpy.copyto between two float32 arrays
   each holding half of the node's input + output bytes, so that the copy reads and
   writes the bytes the node must (one thread, as numpy copies). "bw frac" is the peer's
   time over ours: the fraction of that copy bandwidth the node reaches.
3. A random-weight GPT-2-small-shaped forward pass (12 layers) built from circuit
   nodes, against PyTorch eager on the same weights (when torch is installed).

Prints medians of interleaved repetitions and their ratios (circuits / peer, lower is
better for circuits). Usage: python bench/bench_core.py [--reps 5] [--threads 2]
[--layers 12] [--only einsum,elementwise,forward]
"""

import argparse
import os
import re
import sys

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("--reps", type=int, default=5)
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--layers", type=int, default=12)
parser.add_argument("--batch", type=int, default=8)
parser.add_argument("--seq", type=int, default=128)
parser.add_argument("--only", default="einsum,elementwise,forward")
args = parser.parse_args()

# Thread counts and idle-thread behaviour are fixed before any library starts its pools,
# so numpy's and torch's pools run under the settings circuits applies to its own (idle
# threads sleep instead of spinning on cores the next library needs).
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(args.threads)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

import numpy as np  # noqa: E402

import circuits as rc  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpt2_circuit  # noqa: E402
from timing import median_times  # noqa: E402

try:
    import torch  # noqa: E402

    torch.set_num_threads(args.threads)
except ImportError:
    torch = None


def numpy_blas_name():
    try:
        config = np.show_config(mode="dicts")
        return config["Build Dependencies"]["blas"]["name"]
    except Exception:  # noqa: BLE001  older numpy has no dict mode
        return "unknown"


def header():
    print(
        f"threads: {args.threads} (OMP_NUM_THREADS, OPENBLAS_NUM_THREADS); "
        f"OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}, "
        f"OPENBLAS_THREAD_TIMEOUT={os.environ['OPENBLAS_THREAD_TIMEOUT']}"
    )
    print(f"circuits BLAS: {rc._circuits.blas_config()}")
    print(f"numpy {np.__version__} BLAS: {numpy_blas_name()}")
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        print(f"{var}={os.environ.get(var, '(unset)')}")
    if torch is not None:
        blas = re.findall(r"BLAS_INFO=(\w+)", torch.__config__.show())
        print(
            f"torch {torch.__version__} BLAS: {blas[0] if blas else 'not reported'} "
            f"(reads neither OPENBLAS_* variable), {torch.get_num_threads()} threads"
        )
    print(f"reps: {args.reps}, medians of interleaved runs\n")


def einsum_table():
    b, s, d, h, k, m, v = args.batch, args.seq, 768, 12, 64, 3072, 50257
    rng = np.random.default_rng(0)

    def arr(*shape):
        return rng.standard_normal(shape, dtype=np.float32)

    x, w_qkv, w_o = arr(b, s, d), arr(h, k, d), arr(d, h, k)
    q, kk, pattern = arr(b, s, h, k), arr(b, s, h, k), arr(b, h, s, s)
    w_in, w_out, hid, embed = arr(m, d), arr(d, m), arr(b, s, m), arr(v, d)
    cases = [
        (
            "qkv proj  bsd,hkd->bshk",
            "bsd,hkd->bshk",
            (x, w_qkv),
            lambda: x.reshape(b * s, d) @ w_qkv.reshape(h * k, d).T,
        ),
        (
            "scores    bshk,bthk->bhst",
            "bshk,bthk->bhst",
            (q, kk),
            lambda: q.transpose(0, 2, 1, 3) @ kk.transpose(0, 2, 3, 1),
        ),
        (
            "pattern@v bhst,bthk->bshk",
            "bhst,bthk->bshk",
            (pattern, kk),
            lambda: pattern @ kk.transpose(0, 2, 1, 3),
        ),
        (
            "out proj  bshk,dhk->bsd",
            "bshk,dhk->bsd",
            (q, w_o),
            lambda: q.reshape(b * s, h * k) @ w_o.reshape(d, h * k).T,
        ),
        ("mlp in    bsd,md->bsm", "bsd,md->bsm", (x, w_in), lambda: x.reshape(b * s, d) @ w_in.T),
        (
            "mlp out   bsm,dm->bsd",
            "bsm,dm->bsd",
            (hid, w_out),
            lambda: hid.reshape(b * s, m) @ w_out.T,
        ),
        ("unembed   bsd,vd->bsv", "bsd,vd->bsv", (x, embed), lambda: x.reshape(b * s, d) @ embed.T),
    ]
    print(f"Einsums of one GPT-2-small layer (batch {b}, seq {s}) vs numpy matmul, float32")
    print(f"{'einsum':28s} {'GFLOP':>7s} {'circuits ms':>12s} {'numpy ms':>9s} {'ratio':>6s}")
    for label, spec, operands, peer in cases:
        circ = rc.Einsum.from_einsum_string(spec, *(rc.Array(o) for o in operands))
        ours, theirs = median_times([circ.evaluate, peer], args.reps)
        flops = circ.total_flops()
        print(
            f"{label:28s} {flops / 1e9:7.2f} {ours * 1e3:12.2f} {theirs * 1e3:9.2f} "
            f"{ours / theirs:6.2f}"
        )
    print()


def elementwise_table():
    b, s, d, h, m = args.batch, args.seq, 768, 12, 3072
    rng = np.random.default_rng(2)

    def arr(*shape):
        return rng.standard_normal(shape, dtype=np.float32)

    act, act2, scores, resid = arr(b, s, m), arr(b, s, m), arr(b, h, s, s), arr(b, s, d)
    ln_w, ln_b = arr(d), arr(d)
    cases = [
        ("gelu      bsm", rc.gelu(rc.Array(act)), [act]),
        ("gelu_new  bsm", rc.gelu_new(rc.Array(act)), [act]),
        ("softmax   bhst", rc.softmax(rc.Array(scores)), [scores]),
        (
            "layer norm bsd",
            gpt2_circuit.layer_norm(rc.Array(resid), rc.Array(ln_w), rc.Array(ln_b), 1e-5, "ln"),
            [resid, ln_w, ln_b],
        ),
        ("add       bsm+bsm", rc.Add(rc.Array(act), rc.Array(act2)), [act, act2]),
    ]
    print(
        f"Elementwise nodes (batch {b}, seq {s}), float32, vs numpy.copyto of the same "
        "input + output bytes (1 thread)"
    )
    print(
        f"{'node':18s} {'elements':>9s} {'MB in+out':>9s} {'circuits ms':>12s} "
        f"{'ns/elem/thr':>12s} {'copy ms':>8s} {'bw frac':>8s}"
    )
    for label, circ, inputs in cases:
        numel = int(np.prod(circ.shape))
        nbytes = sum(x.nbytes for x in inputs) + numel * 4
        src = np.ones(nbytes // 8, dtype=np.float32)
        dst = np.empty_like(src)
        ours, copy = median_times([circ.evaluate, lambda: np.copyto(dst, src)], args.reps)
        print(
            f"{label:18s} {numel:9d} {nbytes / 1e6:9.1f} {ours * 1e3:12.3f} "
            f"{ours * 1e9 * args.threads / numel:12.3f} {copy * 1e3:8.3f} {copy / ours:8.2f}"
        )
    print()


def forward_table():
    cfg = gpt2_circuit.Config(n_layers=args.layers)
    weights = gpt2_circuit.random_weights(cfg)
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((args.batch, args.seq, cfg.d_model)) * 0.1).astype(np.float32)
    logits = gpt2_circuit.circuit(cfg, weights, x)
    print(
        f"GPT-2-small-shaped forward ({cfg.n_layers} layers, batch {args.batch}, "
        f"seq {args.seq}, vocab {cfg.vocab}), float32"
    )
    if torch is None:
        (ours,) = median_times([logits.evaluate], args.reps)
        print(f"circuits: {ours * 1e3:.0f} ms (torch not installed: no peer)")
        return
    ref = gpt2_circuit.torch_forward(cfg, weights, x)
    got = torch.as_tensor(logits.evaluate())  # a torch result already, unless numpy was chosen
    err = float((got - ref).abs().max() / ref.abs().max())
    ours, theirs = median_times(
        [logits.evaluate, lambda: gpt2_circuit.torch_forward(cfg, weights, x)], args.reps
    )
    print(f"{'circuits ms':>12s} {'torch eager ms':>15s} {'ratio':>6s}   max rel. diff")
    print(f"{ours * 1e3:12.0f} {theirs * 1e3:15.0f} {ours / theirs:6.2f}   {err:.1e}")


header()
sections = set(args.only.split(","))
if "einsum" in sections:
    einsum_table()
if "elementwise" in sections:
    elementwise_table()
if "forward" in sections:
    forward_table()
