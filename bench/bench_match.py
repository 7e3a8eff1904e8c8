"""Benchmark of matching and update on a large transformer-shaped circuit, against the pure-Python
reference traversal (tests/match_reference.py).

The circuit: a random-weight transformer (default 12 layers, 12 heads, 96 positions, d_model 8)
with attention split by head ("a{l}.h{h}") and each head's output split by query position
("a{l}.h{h}.at_idx_{p}", concatenated back into the head), and a flattened residual stream: every
layer's attention and MLP input is an Add of all earlier components (embedding, heads, MLPs). The
tensors are tiny; the bench times matching, not evaluation.

Operations timed (median of --reps repetitions, engine and reference interleaved):
1. get by regex (every head),
2. get_unique by name (one per-position node),
3. a 3-step chain (m11 -> a6.h0 -> positions 10-19 of that head),
4. an update that changes one head's direct contribution to the final residual
   ("final.input" -> restrict("a5.h3", end_depth=2) -> zeros).

The number of root-to-node paths in this circuit is astronomical (printed), so the reference runs
in its memoised mode (by node and matcher state, as rc does), not its literal per-path mode. Its
count of (node, matcher state) visits is the "visits" column; visits/s divides it by each side's
time. No thresholds are asserted.

Before each timed operation, what earlier operations freed is reclaimed (gc.collect, and glibc's
malloc_trim where there is one): glibc defers coalescing freed small blocks to the next large
allocation, so without this one side's frees (the reference's rebuilt circuit, say) are paid
inside the other side's timing. --no-settle times without it.

Usage: python bench/bench_match.py [--reps 5] [--layers 12] [--heads 12] [--positions 96]
[--no-settle]
"""

import argparse
import ctypes
import gc
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))

import circuits as rc  # noqa: E402
import match_reference as mref  # noqa: E402


def build(layers, heads, positions, d_model, seed=0):
    """(root "final.input", number of distinct nodes)."""
    rng = np.random.default_rng(seed)
    d_head = max(d_model // 2, 1)

    def weight(name, *shape):
        return rc.Array(
            (rng.standard_normal(shape) / np.sqrt(shape[0])).astype(np.float32), name=name
        )

    components = [weight("embeds", positions, d_model)]
    for layer in range(layers):
        inp = rc.Add(*components, name=f"a{layer}.input")
        layer_heads = []
        for h in range(heads):
            p = f"a{layer}.h{h}"
            q = rc.Einsum.from_einsum_string(
                "sd,dh->sh", inp, weight(f"{p}.w_q", d_model, d_head), name=f"{p}.q"
            )
            k = rc.Einsum.from_einsum_string(
                "sd,dh->sh", inp, weight(f"{p}.w_k", d_model, d_head), name=f"{p}.k"
            )
            v = rc.Einsum.from_einsum_string(
                "sd,dh->sh", inp, weight(f"{p}.w_v", d_model, d_head), name=f"{p}.v"
            )
            w_o = weight(f"{p}.w_o", d_head, d_model)
            per_pos = []
            for pos in range(positions):
                q_p = rc.Index(q, (slice(pos, pos + 1),), name=f"{p}.q.at_idx_{pos}")
                scores = rc.Einsum.from_einsum_string(
                    "qh,kh->qk", q_p, k, name=f"{p}.scores.at_idx_{pos}"
                )
                probs = rc.softmax(scores, name=f"{p}.probs.at_idx_{pos}")
                per_pos.append(
                    rc.Einsum.from_einsum_string(
                        "qk,kh,hd->qd", probs, v, w_o, name=f"{p}.at_idx_{pos}"
                    )
                )
            layer_heads.append(rc.Concat(*per_pos, axis=0, name=p))
        components += layer_heads
        m_inp = rc.Add(*components, name=f"m{layer}.input")
        pre = rc.Einsum.from_einsum_string(
            "sd,de->se", m_inp, weight(f"m{layer}.w1", d_model, 4 * d_model), name=f"m{layer}.pre"
        )
        act = rc.gelu(pre, name=f"m{layer}.act")
        components.append(
            rc.Einsum.from_einsum_string(
                "se,ed->sd", act, weight(f"m{layer}.w2", 4 * d_model, d_model), name=f"m{layer}"
            )
        )
    root = rc.Add(*components, name="final.input")
    count = [0]
    root.visit(lambda c: count.__setitem__(0, count[0] + 1))
    return root, count[0]


def count_paths(root):
    """Root-to-node paths (Python ints, exact), by an iterative post-order walk."""
    memo = {}
    stack = [(root, False)]
    while stack:
        c, expanded = stack.pop()
        if c in memo:
            continue
        if expanded:
            memo[c] = 1 + sum(memo[x] for x in c.children)
        else:
            stack.append((c, True))
            stack.extend((x, False) for x in c.children if x not in memo)
    return memo[root]


def zeros_like(c):
    return rc.Scalar(0.0, shape=c.shape, name=c.name + ".zero")


def _libc_function(name):
    try:
        return getattr(ctypes.CDLL(None), name)
    except (OSError, AttributeError):
        return None


MALLOC_TRIM = _libc_function("malloc_trim")


class _Mallinfo2(ctypes.Structure):
    _fields_ = [
        (field, ctypes.c_size_t)
        for field in "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()
    ]


MALLINFO2 = _libc_function("mallinfo2")
if MALLINFO2 is not None:
    MALLINFO2.restype = _Mallinfo2


def malloc_in_use():
    """Bytes malloc has handed out and not had back (glibc), or None elsewhere."""
    if MALLINFO2 is None:
        return None
    gc.collect()
    info = MALLINFO2()
    return info.uordblks + info.hblkhd


def settle():
    """Reclaims what earlier operations freed, so that the next timing pays only for itself."""
    gc.collect()
    if MALLOC_TRIM is not None:
        MALLOC_TRIM(0)


def timed(f):
    t = time.perf_counter()
    out = f()
    return time.perf_counter() - t, out


def circuit_arguments(doc: str) -> argparse.ArgumentParser:
    """The options of the benchmarks on this circuit: repetitions and the circuit's size."""
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--heads", type=int, default=12)
    parser.add_argument("--positions", type=int, default=96)
    parser.add_argument("--d-model", type=int, default=8)
    return parser


def parse_checked(parser: argparse.ArgumentParser) -> argparse.Namespace:
    args = parser.parse_args()
    if args.reps < 5:
        parser.error("--reps must be at least 5 (medians of >= 5 repetitions)")
    return args


def main():
    parser = circuit_arguments(__doc__)
    parser.add_argument(
        "--no-settle", action="store_true", help="do not reclaim freed memory between timings"
    )
    args = parse_checked(parser)
    L, H, P = args.layers, args.heads, args.positions

    before = malloc_in_use()
    t, (root, n_nodes) = timed(lambda: build(L, H, P, args.d_model))
    after = malloc_in_use()
    print(f"circuit: {L} layers x {H} heads x {P} positions: {n_nodes} distinct nodes")
    print(f"(built in {t:.2f} s)")
    if before is not None:
        grown = after - before
        print(f"memory of the circuit: {grown / 2**20:.1f} MiB, {grown / n_nodes:.0f} bytes a node")
    paths = count_paths(root)
    print(f"root-to-node paths: about 10^{len(str(paths)) - 1}; reference runs memoised")

    mid, head = L // 2, min(3, H - 1)
    unique_name = f"a{L - 1}.h{H - 1}.at_idx_{P - 1}"
    head_re = r"^a\d+.h\d+$"
    chain_last = r"at_idx_1\d$"
    upd_head = f"a{max(L // 2 - 1, 0)}.h{head}"
    ops = [
        (
            "get regex (all heads)",
            lambda: root.get(rc.Regex(head_re)),
            lambda r: r.get(root, mref.IMatch(mref.regex(head_re))),
        ),
        (
            "get_unique name",
            lambda: root.get_unique(unique_name),
            lambda r: r.get_unique_op(root, unique_name),
        ),
        (
            "3-step chain",
            lambda: root.get(
                rc.IterativeMatcher(f"m{L - 1}").chain(f"a{mid}.h0", rc.Regex(chain_last))
            ),
            lambda r: r.get(
                root, mref.new_chain(f"m{L - 1}", f"a{mid}.h0", mref.regex(chain_last))
            ),
        ),
        (
            "update one head's path",
            lambda: root.update(
                rc.IterativeMatcher("final.input").chain(rc.restrict(upd_head, end_depth=2)),
                zeros_like,
            ),
            lambda r: r.update(
                root,
                mref.new_chain("final.input", mref.restrict(upd_head, end_depth=2)),
                zeros_like,
            ),
        ),
    ]

    settled = "" if args.no_settle else ", freed memory reclaimed before each"
    print(f"\nmedians of {args.reps} reps (engine and reference interleaved{settled})")
    header = (
        f"{'operation':<26}{'engine ms':>11}{'reference ms':>14}{'ref/engine':>12}{'visits':>10}"
        f"{'engine visits/s':>17}{'ref visits/s':>14}"
    )
    print(header)
    print("-" * len(header))
    for label, engine_op, ref_op in ops:
        engine_times, ref_times = [], []
        visits = None
        engine_out = ref_out = None
        for _ in range(args.reps):
            if not args.no_settle:
                settle()
            t, engine_out = timed(engine_op)
            engine_times.append(t)
            r = mref.Reference(memo=True)
            if not args.no_settle:
                settle()
            t, ref_out = timed(lambda: ref_op(r))
            ref_times.append(t)
            visits = r.visits
        assert engine_out == ref_out, label
        te, tr = statistics.median(engine_times), statistics.median(ref_times)
        print(
            f"{label:<26}{te * 1e3:>11.2f}{tr * 1e3:>14.1f}{tr / te:>12.1f}{visits:>10}"
            f"{visits / te:>17.3g}{visits / tr:>14.3g}"
        )
    found = root.get(rc.Regex(head_re))
    print(
        f"\n(get regex found {len(found)} heads; results of every operation equal the reference's)"
    )


if __name__ == "__main__":
    main()
