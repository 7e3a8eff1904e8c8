"""Benchmark of the text format on a large circuit: bijective print, parse, pickle round trip.

The circuit is bench_match's split transformer (default 12 layers x 12 heads x 96 positions,
about 56,000 distinct nodes). The peer is the floor of any parser written in Python: splitting
the same text into lines and words (`[line.split() for line in text.splitlines()]`), which
builds no circuit at all. Medians of --reps repetitions; no thresholds.

Usage: python bench/bench_text.py [--reps 5] [--layers 12] [--heads 12] [--positions 96]
[--d-model 8]
"""

import os
import pickle
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import circuits as rc  # noqa: E402
from bench_match import build, circuit_arguments, parse_checked  # noqa: E402


def median_time(f, reps):
    times, out = [], None
    for _ in range(reps):
        t = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def main():
    args = parse_checked(circuit_arguments(__doc__))

    root, n_nodes = build(args.layers, args.heads, args.positions, args.d_model)
    tensors = {}

    def sink(hash_hex, array):
        tensors[hash_hex] = array

    def print_text():
        return rc._circuits.print_repr([root], bijection=True, tensor_sink=sink)

    t_print, text = median_time(print_text, args.reps)
    by_prefix = {h[:24]: a for h, a in tensors.items()}
    by_prefix.update({h[:10]: a for h, a in tensors.items()})
    text_parser = rc.Parser(tensor_loader=by_prefix.__getitem__)
    t_parse, parsed = median_time(lambda: text_parser(text), args.reps)
    assert parsed == root
    t_split, _ = median_time(lambda: [line.split() for line in text.splitlines()], args.reps)
    t_dumps, blob = median_time(lambda: pickle.dumps(root), args.reps)
    t_loads, again = median_time(lambda: pickle.loads(blob), args.reps)
    assert again == root

    n_lines = text.count("\n") + 1
    print(f"circuit: {n_nodes} distinct nodes; text: {n_lines} lines, {len(text) / 2**20:.1f} MiB")
    print(f"medians of {args.reps} reps")
    print(f"{'operation':<34}{'ms':>10}{'lines/s':>12}{'vs split':>10}")
    for label, t in [
        ("print (bijective)", t_print),
        ("parse (circuits built)", t_parse),
        ("peer: Python splitlines + split", t_split),
        ("pickle.dumps", t_dumps),
        ("pickle.loads", t_loads),
    ]:
        print(f"{label:<34}{t * 1e3:>10.1f}{n_lines / t:>12.3g}{t / t_split:>10.2f}")


if __name__ == "__main__":
    main()
