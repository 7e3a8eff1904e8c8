"""The paren balancer the package ships: it loads by id, its circuit computes what the torch
model of the training script computes, and it classifies held-out strings as trained to."""

import numpy as np
import pytest

import circuits as rc
from circuits import module_library as ml
from circuits.demos.paren_balancer import data
from reference import as_numpy

PAD = 1


def model_circuit(tokens: np.ndarray):
    circs, _, info = ml.load_model_id("paren_balancer")
    allowed = (tokens != PAD).astype(np.float32)
    return info.bind_to_input_tokens(
        circs["t.bind_w"],
        rc.Array(tokens.astype(np.int64), "toks"),
        circs["t.w.tok_embeds"],
        circs["t.w.pos_embeds"],
        inp_mask=rc.Array(allowed, "pad_mask"),
    )


def test_loads_by_id_with_its_tokenizer():
    circs, tokenizer, info = ml.load_model_id("paren_balancer")
    assert info.model_class == "ParenBalancer" and info.causal_mask is False
    assert info.params.num_layers == 3 and info.params.block_params.mlp_act_type == "relu"
    assert circs["t.bind_w"].children[0].name == "t.logits_p_bias"
    toks = np.asarray(tokenizer.tokenize_strings(["()", "(("]))
    assert toks.shape == (2, 42)
    np.testing.assert_array_equal(toks[:, :4], [[0, 3, 4, 2], [0, 3, 3, 2]])
    np.testing.assert_array_equal(toks, data.tokenize(["()", "(("], max_len=40))


def test_circuit_matches_the_torch_model():
    torch = pytest.importorskip("torch")
    from circuits.demos.paren_balancer import train

    circs, _, _ = ml.load_model_id("paren_balancer")
    bind = circs["t.bind_w"]
    weights = {
        s.symbol.name: torch.as_tensor(as_numpy(a.evaluate()))
        for s, a in zip(bind.spec.arg_specs, bind.children[1:])
    }
    weights["t.w.tok_embeds"] = torch.as_tensor(as_numpy(circs["t.w.tok_embeds"].evaluate()))
    weights["t.w.pos_embeds"] = torch.as_tensor(as_numpy(circs["t.w.pos_embeds"].evaluate()))
    strings, _ = data.generate(64, seed=5)
    tokens = data.tokenize(strings)
    got = as_numpy(model_circuit(tokens).evaluate())
    expected = train.forward(weights, torch.as_tensor(tokens)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_held_out_accuracy():
    """The training script's held-out set (seed 1, training strings removed)."""
    train_strings, _ = data.generate(200_000, seed=0)
    strings, kinds = data.heldout(20_000, seed=1, exclude=set(train_strings))
    tokens = data.tokenize(strings)
    logits = as_numpy(model_circuit(tokens).evaluate())[:, 0]
    predicted = logits[:, 1] > logits[:, 0]
    truth = np.array([k == "balanced" for k in kinds])
    accuracy = (predicted == truth).mean()
    assert accuracy >= 0.99, accuracy
