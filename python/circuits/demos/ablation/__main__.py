"""python -m circuits.demos.ablation: on the shipped paren-balancer model, the change in loss
when each attention head is zero-, mean- and resample-ablated (one plan for every variant); how
well a linear probe reads "is the string balanced" off the residual stream at position 0 (where
the model reads its answer) after each sublayer; and the change in loss when one residual
stream is resampled only along the probe's direction or its top principal directions. Prints
the tables and, with matplotlib installed, saves a heatmap and a line plot as PNGs in --out (a
new temporary directory by default)."""

import argparse
import os
import sys
import tempfile
import time
from typing import Dict, List, Optional, Sequence

import numpy as np

from ... import Array, Circuit, Einsum, log_softmax, replace_expand_bottom_up_dict
from ...experiments import (
    Project,
    Resample,
    ablation_table,
    pca_directions,
    plot_head_effects,
    plot_probe_accuracy,
    probe_sweep,
    run_with_cache,
)
from ..paren_balancer import circuit as pc
from ..paren_balancer import data, train

KINDS = ("zero", "mean", "resample")
# The residual stream whose directions are patched: the input of the last layer.
PATCHED = "a2.input"


def heads() -> List[str]:
    return [f"a{layer}.h{h}" for layer in range(train.N_LAYERS) for h in range(train.N_HEADS)]


def residual_names() -> List[str]:
    """The residual stream before the first layer, after each attention and after each MLP."""
    names = ["embeds"]
    for layer in range(train.N_LAYERS):
        names.append(f"m{layer}.input")
        names.append("final.input" if layer == train.N_LAYERS - 1 else f"a{layer + 1}.input")
    return names


def batched_model(strings: Sequence[str]) -> Circuit:
    """The paren balancer on a batch of strings: "tokens" [batch, seq, vocab] one-hot, so every
    node gains a leading batch axis ("logits" [batch, 2])."""
    model = pc.build(pc.model_weights())
    onehot = pc.one_hot(data.tokenize(strings))
    (tokens,) = model.get("tokens")
    return replace_expand_bottom_up_dict(model, {tokens: Array(onehot, "tokens")})


def loss_metric(labels: np.ndarray):
    """circuit -> the mean cross entropy of its "logits" [batch, 2] against labels (1:
    balanced), as a scalar circuit."""
    targets = np.eye(2, dtype=np.float32)[labels.astype(np.int64)]

    def metric(circuit: Circuit) -> Circuit:
        (logits,) = circuit.get("logits")
        logprobs = log_softmax(logits, name="logprobs")
        picked = Einsum.from_einsum_string(
            "bc,bc->", logprobs, Array(targets, "targets"), name="sum_logprob"
        )
        return Einsum.scalar_mul(picked, -1.0 / len(labels), name="loss", scalar_name="neg_inv_n")

    return metric


def _format_effects(rows: List[Dict]) -> str:
    by_head: Dict[str, Dict[str, float]] = {}
    for r in rows:
        by_head.setdefault(r["component"], {})[r["kind"]] = r["delta"]
    kinds = list(dict.fromkeys(r["kind"] for r in rows))
    lines = [f"{'head':8}" + "".join(f"{k:>11}" for k in kinds)]
    for head, deltas in by_head.items():
        lines.append(f"{head:8}" + "".join(f"{deltas[k]:+11.4f}" for k in kinds))
    return "\n".join(lines)


def _format_probes(rows: List[Dict]) -> str:
    lines = [f"{'layer':>5}  {'residual stream':16}{'train acc':>10}{'test acc':>10}"]
    for r in rows:
        lines.append(
            f"{r['layer']:>5}  {r['name']:16}{r['train_accuracy']:10.3f}{r['test_accuracy']:10.3f}"
        )
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> Dict:
    """Run the demo; returns the tables (lists of dicts: effects per head, the probe sweep, the
    direction patches), the baseline loss and the paths of the saved figures (none without
    matplotlib)."""
    ap = argparse.ArgumentParser(prog="python -m circuits.demos.ablation", description=__doc__)
    ap.add_argument(
        "--n", type=int, default=2000, help="bracket strings to evaluate on (default 2000)"
    )
    ap.add_argument(
        "--seed", type=int, default=0, help="seed of the strings and of the probe split"
    )
    ap.add_argument(
        "--out", default=None, help="directory for the PNGs (default: a new temporary directory)"
    )
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    strings, _ = data.generate(args.n, args.seed)
    labels = np.array([data.is_balanced(s) for s in strings], dtype=np.int64)
    model = batched_model(strings)
    metric = loss_metric(labels)

    effects = ablation_table(model, heads(), list(KINDS), metric, as_dataframe=False)
    baseline = effects[0]["metric"] - effects[0]["delta"]
    print(f"paren balancer ({pc.weights_source()}), {args.n} strings, {labels.mean():.0%} balanced")
    print(f"loss {baseline:.4f}; change in loss when a head is ablated:")
    print(_format_effects(effects))

    names = residual_names()
    cache = run_with_cache(model, names)
    sweep = probe_sweep(cache, names, labels, position=0, seed=args.seed, as_dataframe=False)
    print("\nlinear probe for 'is the string balanced' on the residual stream at position 0:")
    print(_format_probes(sweep))

    probe = sweep[names.index(PATCHED)]["probe"]
    top = pca_directions(cache, PATCHED, k=3)
    kinds = [Project(probe.direction, base=Resample()), Project(top, base=Resample()), Resample()]
    patched = ablation_table(model, [PATCHED], kinds, metric, as_dataframe=False)
    print(f"\nchange in loss when {PATCHED} is resampled only along some directions:")
    for what, row in zip(
        ("the probe's direction", "its top 3 principal directions", "all of it"), patched
    ):
        print(f"  {what:32}{row['delta']:+.4f}")

    figures: List[str] = []
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("\n(matplotlib is not installed: no figures; pip install 'circuits[plots]')")
    else:
        import matplotlib.pyplot as plt

        out = args.out or tempfile.mkdtemp(prefix="circuits-ablation-")
        os.makedirs(out, exist_ok=True)
        fig = plot_head_effects(effects, title="paren balancer: change in loss per ablated head")
        figures.append(os.path.join(out, "head_effects.png"))
        fig.savefig(figures[-1], dpi=120)
        plt.close(fig)
        fig = plot_probe_accuracy(sweep, title="probe: is the string balanced (position 0)")
        figures.append(os.path.join(out, "probe_accuracy.png"))
        fig.savefig(figures[-1], dpi=120)
        plt.close(fig)
        print()
        for path in figures:
            print(f"saved {path}")
    print(f"({time.perf_counter() - t0:.1f} s)")
    sys.stdout.flush()
    return dict(effects=effects, sweep=sweep, patched=patched, baseline=baseline, figures=figures)


if __name__ == "__main__":
    main()
