"""Evaluation under a memory bound: a GPT-2-shaped forward pass evaluated whole, then in chunks
along its batch axis under max_memory bounds below its peak; prints time, the measured peak of
live result tensors, and the chunking chosen, each against the unchunked run of the same
circuit (same process, same weights).

    python bench/bench_memory.py --layers 2 --batch 16 --seq 128 --vocab 1024

(A small vocabulary keeps the logits, which every run holds whole, from dominating the peak.)
"""

import argparse
import os
import statistics
import sys
import time

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("--reps", type=int, default=3)
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--layers", type=int, default=2)
parser.add_argument("--batch", type=int, default=16)
parser.add_argument("--seq", type=int, default=128)
parser.add_argument("--vocab", type=int, default=1024)
parser.add_argument(
    "--fractions",
    default="0.5,0.25,0.1",
    help="bounds to try, as fractions of the unchunked peak (besides the outputs)",
)
args = parser.parse_args()

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(args.threads)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402

import circuits as rc  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpt2_circuit  # noqa: E402


def timed(fn, reps):
    times = []
    result = None
    for _ in range(reps):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def main():
    cfg = gpt2_circuit.Config(n_layers=args.layers, vocab=args.vocab)
    weights = gpt2_circuit.random_weights(cfg)
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((args.batch, args.seq, cfg.d_model)) * 0.1).astype(np.float32)
    logits = gpt2_circuit.circuit(cfg, weights, x)
    out_bytes = args.batch * args.seq * cfg.vocab * 4

    def bounded(max_memory):
        return rc._circuits._evaluate_bounded([logits], max_memory=max_memory)

    bounded(None)  # warm-up: thread pools, first-touch of the weights
    whole_t, (whole_v, whole) = timed(lambda: bounded(None), args.reps)
    ref = np.asarray(whole_v[0])
    print(
        f"GPT-2-shaped forward ({cfg.n_layers} layers, batch {args.batch}, seq {args.seq}, "
        f"vocab {cfg.vocab}), float32, {args.threads} threads, median of {args.reps}"
    )
    print(
        f"{'max_memory MB':>14s} {'chunk':>6s} {'chunks':>7s} {'ms':>8s} {'time ratio':>11s} "
        f"{'peak MB':>9s} {'peak ratio':>11s} {'max rel. diff':>14s}"
    )
    print(
        f"{'none':>14s} {'-':>6s} {'-':>7s} {whole_t * 1e3:8.0f} {1:11.2f} "
        f"{whole['measured_peak_bytes'] / 1e6:9.1f} {1:11.2f} {0:14.1e}"
    )
    for fraction in (float(f) for f in args.fractions.split(",")):
        bound = out_bytes + int((whole["peak_bytes"] - out_bytes) * fraction)
        try:
            t, (values, stats) = timed(lambda: bounded(bound), args.reps)
        except rc.SchedulingOOMError as e:
            print(f"{bound / 1e6:14.1f}  does not fit: {e}")
            continue
        err = float(np.abs(np.asarray(values[0]) - ref).max() / np.abs(ref).max())
        print(
            f"{bound / 1e6:14.1f} {stats['chunk_size']:6d} {stats['n_chunks']:7d} {t * 1e3:8.0f} "
            f"{t / whole_t:11.2f} {stats['measured_peak_bytes'] / 1e6:9.1f} "
            f"{stats['measured_peak_bytes'] / whole['measured_peak_bytes']:11.2f} {err:14.1e}"
        )


main()
