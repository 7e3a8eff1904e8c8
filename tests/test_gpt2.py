"""End to end: a small GPT-2-shaped transformer written as circuit nodes (the one
bench/bench_core.py times at full size) matches PyTorch eager on the same weights."""

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
import gpt2_circuit  # noqa: E402

from reference import tolerance  # noqa: E402


def test_tiny_gpt2_matches_torch():
    pytest.importorskip("torch")
    cfg = gpt2_circuit.Config(n_layers=2, d_model=16, n_heads=2, d_head=8, d_mlp=32, vocab=11)
    weights = gpt2_circuit.random_weights(cfg, seed=3)
    x = np.random.default_rng(4).standard_normal((2, 5, cfg.d_model)).astype(np.float32)
    logits = gpt2_circuit.circuit(cfg, weights, x)
    assert logits.shape == (2, 5, cfg.vocab)
    expected = gpt2_circuit.torch_forward(cfg, weights, x).numpy()
    got = logits.evaluate()
    rtol, atol = tolerance(np.float32)
    np.testing.assert_allclose(got, expected, rtol=10 * rtol, atol=10 * atol)


def test_causal_mask_blocks_future_positions():
    cfg = gpt2_circuit.Config(n_layers=1, d_model=16, n_heads=2, d_head=8, d_mlp=32, vocab=11)
    weights = gpt2_circuit.random_weights(cfg, seed=5)
    x = np.random.default_rng(6).standard_normal((1, 4, cfg.d_model)).astype(np.float32)
    changed = x.copy()
    # Not a constant shift: layer norm would remove that.
    changed[0, 3] += np.linspace(-1.0, 1.0, cfg.d_model, dtype=np.float32)
    before = gpt2_circuit.circuit(cfg, weights, x).evaluate()
    after = gpt2_circuit.circuit(cfg, weights, changed).evaluate()
    np.testing.assert_array_equal(before[0, :3], after[0, :3])
    assert not np.allclose(before[0, 3], after[0, 3])
