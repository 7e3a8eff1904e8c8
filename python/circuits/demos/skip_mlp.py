"""A REMIX-day-1-style experiment on a two-layer MLP with a skip connection.

    x -> first (Linear) -> relu -> (+ x, the skip) -> last (Linear) -> logits

Built as a circuit with random weights, then evaluated three ways: normally,
with the first layer zero-ablated, and with only the skip path patched to
another input (the path through `first` still sees the original input).

Run with `python -m circuits.demos.skip_mlp`.
"""

import numpy as np

import circuits as rc

D_IN, D_HIDDEN, D_OUT, BATCH = 8, 8, 3, 4


def build(x: rc.Circuit, seed: int = 0) -> rc.Circuit:
    rng = np.random.default_rng(seed)
    w1 = rc.Array(rng.standard_normal((D_HIDDEN, D_IN)).astype(np.float32), "first.w")
    b1 = rc.Array(rng.standard_normal(D_HIDDEN).astype(np.float32), "first.b")
    w2 = rc.Array(rng.standard_normal((D_OUT, D_HIDDEN)).astype(np.float32), "last.w")
    first = rc.Add(rc.Einsum.from_einsum_string("bi,hi->bh", x, w1), b1, name="first")
    hidden = rc.relu(first, name="hidden")
    resid = rc.Add(hidden, x, name="resid")
    return rc.Einsum.from_einsum_string("bh,oh->bo", resid, w2, name="logits")


def zero_ablate_first(logits: rc.Circuit) -> rc.Circuit:
    """Replace the output of `first` by zeros of its shape everywhere."""
    (resid,) = [c for c in logits.children if c.name == "resid"]
    (hidden,) = [c for c in resid.children if c.name == "hidden"]
    (first,) = hidden.children
    zeros = rc.Scalar(0.0, first.shape, "first_ablated")
    new_hidden = hidden.map_children(lambda c: zeros)
    new_resid = resid.map_children(lambda c: new_hidden if c.name == "hidden" else c)
    return logits.map_children(lambda c: new_resid if c.name == "resid" else c)


def patch_skip(logits: rc.Circuit, other_x: rc.Circuit) -> rc.Circuit:
    """Feed `other_x` to the skip path only; `first` keeps the original input."""
    (resid,) = [c for c in logits.children if c.name == "resid"]
    new_resid = resid.map_children(lambda c: other_x if c.name == "x" else c)
    return logits.map_children(lambda c: new_resid if c.name == "resid" else c)


def main() -> None:
    rng = np.random.default_rng(1)
    x = rc.Array(rng.standard_normal((BATCH, D_IN)).astype(np.float32), "x")
    other_x = rc.Array(rng.standard_normal((BATCH, D_IN)).astype(np.float32), "x")
    logits = build(x)
    print("circuit:")
    print(logits)
    np.set_printoptions(precision=4, suppress=True)
    normal, ablated, patched = rc.evaluate_many(
        [logits, zero_ablate_first(logits), patch_skip(logits, other_x)]
    )
    print("\nlogits, normal:\n", normal)
    print("\nlogits, first layer zero-ablated:\n", ablated)
    print("\nlogits, skip path patched to other inputs:\n", patched)


if __name__ == "__main__":
    main()
