"""Benchmark of whole-circuit rewriting (simp and deep_optimize_einsums) on the split transformer
of bench_match.py, against plain-Python rewrite loops of the same rules.

The circuit: bench_match.build (default 12 layers, 12 heads, 96 positions, d_model 8: every
head split by query position, a flattened residual stream), about 56k distinct nodes. Each
per-position head output is a three-operand einsum ("qk,kh,hd->qd"), so deep_optimize_einsums
has one contraction order to choose per head and position.

The references (the project's own, in Python):
1. simp: a post-order deep map, memoised by node, that simplifies a node's children, then tries
   the node's own rewrites in simp's order (the same per-node rewrite functions rc.simp uses,
   called from Python) and takes the first that applies, simplifying the new children of each
   result, until none applies.
2. deep_optimize_einsums: a post-order deep map that nests every Einsum of three operands or
   more in the order the Python reference search (tests/einsum_order_reference.py: the same
   dynamic programming over subsets up to 8 operands, the same greedy rule beyond) finds, built
   by the same group builder.
Both results are checked equal (by hash) to the engine's before timing. Nodes per second divide
the input's distinct nodes by each side's median time (bench/timing.py median_times, engine and
reference interleaved). No thresholds are asserted.

Usage: python bench/bench_rewrite.py [--reps 5] [--layers 12] [--heads 12] [--positions 96]
[--d-model 8]
"""

import os
import platform
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tests"))

import circuits as rc  # noqa: E402
import einsum_order_reference as order_ref  # noqa: E402
from bench_match import build, circuit_arguments, parse_checked  # noqa: E402
from timing import median_times  # noqa: E402

# simp's rewrites per node kind, in simp's order (docs/rewrites.md); those outside simp's
# default set are dropped below.
SIMP_ORDER = {
    rc.Einsum: [
        "einsum_elim_zero",
        "einsum_elim_identity",
        "einsum_of_permute_merge",
        "einsum_remove_one",
        "einsum_elim_removable_axes_weak",
        "einsum_permute_to_rearrange",
    ],
    rc.Add: [
        "remove_add_few_input",
        "add_elim_zeros",
        "add_deduplicate",
        "add_elim_removable_axes_weak",
    ],
    rc.Rearrange: [
        "rearrange_elim_identity",
        "rearrange_fuse",
        "rearrange_merge_scalar",
        "permute_of_einsum_merge",
    ],
    rc.Index: ["index_elim_identity", "index_merge_scalar"],
    rc.Concat: [
        "concat_elim_identity",
        "concat_merge_uniform",
        "concat_drop_size_zero",
        "concat_fuse",
        "concat_repeat_to_rearrange",
    ],
    rc.Module: ["elim_empty_module", "elim_no_input_module"],
}
MAX_REWRITES = 51


def simp_rules():
    enabled = rc.SimpFnSubset.default().values
    return {
        kind: [getattr(rc, name) for name in names if enabled.get(name)]
        for kind, names in SIMP_ORDER.items()
    }


def deep_map(root, memo, post):
    """Post-order map over the distinct nodes under root (explicit stack), memoised in memo:
    post(node, new_children) gives a node's result."""
    stack = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if node in memo:
            continue
        if not expanded:
            stack.append((node, True))
            stack.extend((c, False) for c in node.children if c not in memo)
            continue
        memo[node] = post(node, [memo[c] for c in node.children])
    return memo[root]


def rebuilt(node, kids):
    if all(k is c for k, c in zip(kids, node.children)):
        return node
    return node.map_children_enumerate(lambda i, _: kids[i])


def reference_simp(root, rules):
    memo = {}

    def settle(node, kids):
        out = rebuilt(node, kids)
        for _ in range(MAX_REWRITES):
            for rule in rules.get(type(out), ()):
                result = rule(out)
                if result is not None and result != out:
                    break
            else:
                return out
            # the result's children not simplified before are simplified first
            out = rebuilt(result, [deep_map(c, memo, settle) for c in result.children])
        raise RuntimeError("reference simp: a node still changes after 51 rewrites")

    return deep_map(root, memo, settle)


def reference_deep_optimize_einsums(root):
    def post(node, kids):
        out = rebuilt(node, kids)
        if isinstance(out, rc.Einsum) and len(out.children) >= 3:
            return order_ref.nest_optimize(out)
        return out

    return deep_map(root, {}, post)


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main():
    args = parse_checked(circuit_arguments(__doc__))
    root, n_nodes = build(args.layers, args.heads, args.positions, args.d_model)
    print(f"CPU: {cpu_model()} ({os.cpu_count()} logical CPUs)")
    print(
        f"circuit: {args.layers} layers x {args.heads} heads x {args.positions} positions: "
        f"{n_nodes} distinct nodes"
    )
    rules = simp_rules()
    cases = [
        ("simp", lambda: rc.simp(root), lambda: reference_simp(root, rules)),
        (
            "deep_optimize_einsums",
            lambda: rc.deep_optimize_einsums(root),
            lambda: reference_deep_optimize_einsums(root),
        ),
    ]
    print(f"\nmedians of {args.reps} reps (engine and reference interleaved)")
    header = (
        f"{'rewrite':<24}{'engine s':>10}{'reference s':>13}{'ref/engine':>12}"
        f"{'engine nodes/s':>16}{'ref nodes/s':>13}{'same result':>13}"
    )
    print(header)
    print("-" * len(header))
    for label, engine, reference in cases:
        same = engine() == reference()
        t_engine, t_ref = median_times([engine, reference], args.reps)
        print(
            f"{label:<24}{t_engine:>10.3f}{t_ref:>13.3f}{t_ref / t_engine:>12.1f}"
            f"{n_nodes / t_engine:>16,.0f}{n_nodes / t_ref:>13,.0f}{str(same):>13}"
        )


if __name__ == "__main__":
    main()
