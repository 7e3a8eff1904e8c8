"""circuits.module_library: rc's transformer bodies, names and model files, checked against a
numpy transformer (transformer_reference.py) on the same weights."""

import os
import uuid

import numpy as np
import pytest

import circuits as rc
from circuits import module_library as ml
from reference import as_numpy
from transformer_reference import forward, layer_norm

REMIX = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "remix")


def weights_of(bind_w):
    """{weight symbol name: array} of a 't.bind_w' module."""
    return {
        spec.symbol.name: as_numpy(arg.evaluate()).astype(np.float64)
        for spec, arg in zip(bind_w.spec.arg_specs, bind_w.children[1:])
    }


def load_remix(name):
    return ml.load_model_path(os.path.join(REMIX, name + ".circ"), tensors_as_random=True)


def reference_logits(circs, info, toks, mask=None):
    p, b = info.params, info.params.block_params
    w = weights_of(circs["t.bind_w"])
    tok = as_numpy(circs["t.w.tok_embeds"].evaluate()).astype(np.float64)
    pos_w = as_numpy(circs["t.w.pos_embeds"].evaluate()).astype(np.float64)[: toks.shape[-1]]
    x = tok[toks]
    seq = toks.shape[-1]
    full = np.tril(np.ones((seq, seq))) if info.causal_mask else np.ones((seq, seq))
    if mask is not None:
        full = mask[..., None, :] * full
    pos = None
    if info.pos_enc_type == "gpt":
        x = x + pos_w
    elif info.pos_enc_type == "shortformer":
        pos = pos_w
    return forward(
        w,
        x,
        full,
        n_layers=p.num_layers,
        attn_bias=b.attn_bias,
        use_mlp=b.use_mlp,
        act_name=b.mlp_act_type,
        mlp_out_bias=b.mlp_output_bias,
        output_bias=p.output_bias,
        pos=pos,
    )


@pytest.mark.parametrize("name", ["jun9_paren_balancer", "attention_only_2"])
def test_remix_model_files_load_and_match_reference(name):
    circs, tokenizer, info = load_remix(name)
    assert tokenizer is None
    vocab = circs["t.w.tok_embeds"].shape[0]
    toks = np.random.default_rng(1).integers(0, vocab, (2, 6))
    c = info.bind_to_input_tokens(
        circs["t.bind_w"], rc.Array(toks, "toks"), circs["t.w.tok_embeds"], circs["t.w.pos_embeds"]
    )
    got = as_numpy(c.evaluate())
    expected = reference_logits(circs, info, toks)
    np.testing.assert_allclose(got, expected, rtol=2e-4, atol=2e-4 * np.abs(expected).max())


def test_gpt2_small_model_file_loads_and_evaluates():
    circs, _, info = load_remix("gelu_12_tied")
    assert info.params.num_layers == 12 and info.params.block_params.mlp_act_type == "gelu"
    bind = circs["t.bind_w"]
    assert bind.children[0].name == "t.logits"
    assert [s.symbol.name for s in bind.spec.arg_specs[:3]] == ["a0.ln.w.bias", "a0.ln.w.scale", "a0.w.q"]
    toks = np.array([[464, 2068, 7586]])
    c = info.bind_to_input_tokens(
        bind, rc.Array(toks, "toks"), circs["t.w.tok_embeds"], circs["t.w.pos_embeds"]
    )
    assert c.shape == (1, 3, 50257)
    assert np.isfinite(as_numpy(c.evaluate())).all()


def test_paren_balancer_with_padding_mask_matches_reference():
    circs, _, info = load_remix("jun9_paren_balancer")
    toks = np.array([[0, 3, 4, 2, 1, 1], [0, 3, 3, 4, 4, 2]])
    allowed = (toks != 1).astype(np.float32)
    c = info.bind_to_input_tokens(
        circs["t.bind_w"],
        rc.Array(toks, "toks"),
        circs["t.w.tok_embeds"],
        circs["t.w.pos_embeds"],
        inp_mask=rc.Array(allowed, "pad_mask"),
    )
    got = as_numpy(c.evaluate())
    expected = reference_logits(circs, info, toks, mask=allowed.astype(np.float64))
    np.testing.assert_allclose(got, expected, rtol=2e-4, atol=2e-4 * np.abs(expected).max())


def test_rebound_weight_uuids_are_rcs():
    """rc draws layer i's weight uuids from Python's random seeded with i, in spec order."""
    block = ml.TransformerBlockParams(attn_bias=True, mlp_output_bias=True).get_rebound_weighty(0)
    names = [(s.name, str(s.uuid)) for s in block.body.children[1:]]
    assert names[0] == ("m0.w.proj_in", "e3e70682-c209-4cac-629f-6fbed82c07cd")
    assert ("a0.ln.w.bias", "8d723104-f773-83c1-3458-a748e9bb17bc") in names
    attn_only = ml.TransformerBlockParams(use_mlp=False, attn_pos=True).get_rebound_weighty(1)
    assert [s.name for s in attn_only.body.children[1:]] == [
        "a1.w.q",
        "a1.w.k",
        "a1.w.v",
        "a1.w.o",
        "a1.ln.w.bias",
        "a1.ln.w.scale",
    ]


BLOCK_VARIANTS = [
    dict(),
    dict(attn_bias=True, mlp_output_bias=True, mlp_act_type="relu"),
    dict(attn_pos=True, use_mlp=False),
    dict(mlp_act_type="gelu_new", attn_bias=True),
    dict(mlp_act_type="bilinear", mlp_output_bias=True),
    dict(use_parallel_residual=True, attn_bias=True, mlp_output_bias=True),
    dict(norm_type="bn", attn_bias=True),
    dict(norm_type=None),
]


@pytest.mark.parametrize("variant", BLOCK_VARIANTS)
@pytest.mark.parametrize("output_bias", [False, True])
def test_garbage_call_matches_reference(variant, output_bias):
    block = ml.TransformerBlockParams(**variant)
    params = ml.TransformerParams(block, num_layers=2, output_bias=output_bias)
    c, weights, inputs = params.garbage_call(
        hidden_size=6, head_size=3, num_heads=2, seq_len=4, vocab_size=5, batch_shape=(3,)
    )
    assert c.shape == (3, 4, 5)
    w = {k.removesuffix("_arr"): as_numpy(v.evaluate()).astype(np.float64) for k, v in weights.items()}
    x = as_numpy(inputs["t.input"].evaluate()).astype(np.float64)
    mask = as_numpy(inputs["a.mask"].evaluate()).astype(np.float64)
    pos = as_numpy(inputs["a.pos_input"].evaluate()).astype(np.float64) if block.attn_pos else None
    expected = forward(
        w,
        x,
        mask,
        n_layers=2,
        attn_bias=block.attn_bias,
        use_mlp=block.use_mlp,
        act_name=block.mlp_act_type,
        mlp_out_bias=block.mlp_output_bias,
        output_bias=output_bias,
        pos=pos,
        norm_type=block.norm_type,
        parallel=block.use_parallel_residual,
    )
    np.testing.assert_allclose(
        as_numpy(c.evaluate()), expected, rtol=1e-3, atol=1e-3 * np.abs(expected).max()
    )


def test_layernorm_body_matches_reference():
    x = np.random.default_rng(2).standard_normal((3, 7))
    b, s = np.random.default_rng(3).standard_normal((2, 7))
    spec = ml.layernorm.spec
    assert [a.symbol.name for a in spec.arg_specs] == ["ln.input", "ln.w.bias", "ln.w.scale"]
    m = rc.Module.new_flat(spec, rc.Array(x), rc.Array(b), rc.Array(s), name="ln.call")
    np.testing.assert_allclose(as_numpy(m.evaluate()), layer_norm(x, b, s), rtol=1e-10, atol=1e-10)


def test_library_names():
    params = ml.TransformerParams(
        ml.TransformerBlockParams(attn_bias=True, mlp_output_bias=True), num_layers=2
    )
    circs = params.get().circs
    for name in [
        "t.logits",
        "b0.call",
        "b1.call",
        "final.call",
        "final.norm",
        "b0",
        "b",
        "b.resid.a",
        "b.a",
        "b.m",
        "a.norm_call",
        "m.norm_call",
        "a.norm",
        "a.p_bias",
        "a",
        "a.heads",
        "a.head.on_inp",
        "a.head",
        "a.attn_probs",
        "a.q_p_bias",
        "m.p_bias",
        "m",
        "m.act",
        "ln",
        "t.w.unembed",
        "final.ln.w.bias",
        "t.input",
        "a.mask",
    ]:
        assert name in circs, name
    assert "a0.w.q" not in circs  # model files define the numbered weights themselves
    no_bias = ml.get_attention(bias=False).circs
    assert "a.q_p_bias" not in no_bias and "a.w.q_bias" not in no_bias
    assert no_bias["a.attn_scores_raw"].children[0].name == "a.q"
    assert ml.get_attention(bias=True, pos=True).body.name == "a.p_bias"
    assert ml.negative_log_likelyhood.body.name == "nll"
    assert [a.symbol.name for a in ml.negative_log_likelyhood.spec.arg_specs] == ["ll.input", "ll.label"]


def test_negative_log_likelyhood_matches_numpy():
    logits = np.random.default_rng(4).standard_normal((5, 7))
    labels = np.array([0, 6, 3, 3, 1])
    loss = rc.Module(
        ml.negative_log_likelyhood.spec,
        **{"ll.input": rc.Array(logits), "ll.label": rc.Array(labels)},
        name="loss",
    )
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    np.testing.assert_allclose(as_numpy(loss.evaluate()), -logp[np.arange(5), labels], rtol=1e-9)


def test_dump_and_load_model_string_round_trip():
    params = ml.TransformerParams(ml.TransformerBlockParams(attn_bias=True), num_layers=1)
    info = ml.TransformerInfo(params, model_class="GPT", pos_enc_type="gpt", causal_mask=True)
    weights = params.garbage_init_weights(hidden_size=4, head_size=2, num_heads=2, vocab_size=6)
    bound = params.bind_weights(weights)
    text = info.dump_model_string(bound)
    assert text.startswith("# info:{")
    assert "'t.logits'\n" in text  # the library body is named, not printed
    circs, _, info2 = ml.load_transformer_model_string(text)
    assert info2 == info
    assert circs["t.bind_w"] == bound


def test_bad_model_files():
    with pytest.raises(ValueError, match="first line must be '# info:"):
        ml.load_transformer_model_string("'x' [] Scalar 1")
    with pytest.raises(ValueError, match="not JSON"):
        ml.load_transformer_model_string("# info:{nope\n")
    header = '# info:{"params": {"num_layers": 1}, "model_class": "Llama"}\n'
    with pytest.raises(ValueError, match="unknown model_class 'Llama'"):
        ml.load_transformer_model_string(header)
    header = '# info:{"params": {"num_layers": 1, "depth": 3}}\n'
    with pytest.raises(ValueError, match=r"unknown field\(s\) \['depth'\] for TransformerParams"):
        ml.load_transformer_model_string(header)
    header = '# info:{"params": {"block_params": {"norm_type": "rms"}}}\n'
    with pytest.raises(ValueError, match="norm_type must be 'ln', 'bn' or None, not 'rms'"):
        ml.load_transformer_model_string(header)
    with pytest.raises(FileNotFoundError, match="no model file"):
        ml.load_model_id("no_such_model")


def test_bind_weights_errors_name_the_weight():
    params = ml.TransformerParams(ml.TransformerBlockParams(), num_layers=1)
    weights = params.garbage_init_weights(hidden_size=4, head_size=2, num_heads=2, vocab_size=6)
    missing = {k: v for k, v in weights.items() if k != "a0.w.q_arr"}
    with pytest.raises(ValueError, match=r"missing weight 'a0.w.q' of shape \[4s, 7s, 0s\]"):
        params.bind_weights(missing)
    bad = dict(weights, **{"a0.w.o_arr": rc.Array(np.zeros((2, 5, 2), np.float32))})
    expected = r"weight 'a0.w.o' has shape \(2, 5, 2\), expected \[4s, 0s, 8s\], with 0s = 4 as set by 'm0.w.proj_in'"
    with pytest.raises(ValueError, match=expected):
        params.bind_weights(bad)


def test_bind_to_input_errors():
    info = ml.TransformerInfo(ml.TransformerParams(num_layers=1), pos_enc_type="gpt")
    with pytest.raises(ValueError, match="pos_enc_type 'gpt' needs pos_embed_weights"):
        info.bind_to_input(
            ml.TransformerParams(num_layers=1).get().body, rc.Array(np.zeros((3, 4), np.float32))
        )
    with pytest.raises(ValueError, match="expected one free symbol named 'nope'"):
        ml.bind_by_name(ml.layernorm.body, ("nope", rc.Array(np.zeros(3))))


def test_symbol_uuids_are_stable():
    assert ml.t_input.uuid == uuid.UUID("ece2bb5d-c6d6-4b7a-93a5-32b5ac264888")
    assert ml.b_input.name == "b.input"


def test_rotary_attention_evaluates_and_round_trips():
    params = ml.TransformerParams(ml.TransformerBlockParams(use_rope=True), num_layers=1)
    c, _, _ = params.garbage_call(hidden_size=8, head_size=8, num_heads=2, seq_len=5, batch_shape=(2,))
    assert c.shape == (2, 5, 11)
    assert np.isfinite(as_numpy(c.evaluate())).all()
    body = ml.get_attention(rope=True).body
    assert body.name == "a_rope"
    assert "apply_rotary_pos_emb at rust_circuit.generalfuncs.rotary_pos_emb:ApplyRotaryPosEmb" in body.repr()
    assert rc.Parser()(body.repr()) == body
