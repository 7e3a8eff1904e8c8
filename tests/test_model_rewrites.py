"""circuits.model_rewrites: configure_transformer keeps the model's value and gives rc's names.
The expected names come from what the REMIX notebooks look up after configuring (days 3 and 5)
and from the listing of a 2-layer model below."""

import os
import re

import numpy as np
import pytest

import circuits as rc
from circuits import module_library as ml
from circuits.model_rewrites import To, configure_transformer
from circuits.py_utils import I, S
from reference import as_numpy

REMIX = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "remix")

ALL_ON = dict(
    to=To.ATTN_HEAD_MLP_NORM, split_by_head_config="full", use_pull_up_head_split=True, use_flatten_res=True
)


def names_in(c):
    out, seen, stack = set(), set(), [c]
    while stack:
        x = stack.pop()
        if x in seen:
            continue
        seen.add(x)
        if x.name:
            out.add(x.name)
        stack.extend(x.children)
    return out


def two_layer_model():
    block = ml.TransformerBlockParams(attn_bias=True, mlp_output_bias=True, mlp_act_type="gelu_new")
    params = ml.TransformerParams(block, num_layers=2)
    weights = params.garbage_init_weights(hidden_size=4, head_size=2, num_heads=2, vocab_size=5)
    bound = params.bind_weights(weights)
    x = rc.Array(np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32), "x")
    mask = rc.Array(np.tril(np.ones((3, 3), np.float32)), "mask")
    return bound, lambda c: ml.bind_by_name(c, ("t.input", x), ("a.mask", mask), name="t.call")


LAYER_NAMES = {
    # configure_transformer(bound, to=ATTN_HEAD_MLP_NORM, split_by_head_config="full",
    # use_pull_up_head_split=True, use_flatten_res=True): every name with a layer number
    "a{i}.h0", "a{i}.h0.norm_call", "a{i}.h1", "a{i}.h1.norm_call", "a{i}.norm",
    "a{i}.ln.w.bias", "a{i}.ln.w.scale",
    "a{i}.w.q", "a{i}.w.k", "a{i}.w.v", "a{i}.w.o",
    "a{i}.w.q_bias", "a{i}.w.k_bias", "a{i}.w.v_bias", "a{i}.w.o_bias",
    "a{i}.w.q_idx_.h0", "a{i}.w.q_idx_.h1", "a{i}.w.k_idx_.h0", "a{i}.w.k_idx_.h1",
    "a{i}.w.v_idx_.h0", "a{i}.w.v_idx_.h1", "a{i}.w.o_idx_.h0", "a{i}.w.o_idx_.h1",
    "a{i}.w.q_bias_idx_.h0", "a{i}.w.q_bias_idx_.h1", "a{i}.w.k_bias_idx_.h0",
    "a{i}.w.k_bias_idx_.h1", "a{i}.w.v_bias_idx_.h0", "a{i}.w.v_bias_idx_.h1",
    "b{i}", "b{i}.a", "b{i}.a.h0", "b{i}.a.h1", "b{i}.a.p_bias", "b{i}.m", "b{i}.m.p_bias", "b{i}.resid.a",
    "m{i}", "m{i}.norm", "m{i}.norm_call", "m{i}.ln.w.bias", "m{i}.ln.w.scale",
    "m{i}.w.proj_in", "m{i}.w.in_bias", "m{i}.w.proj_out", "m{i}.w.out_bias",
}  # fmt: skip


def test_configure_transformer_names_of_a_two_layer_model():
    bound, call = two_layer_model()
    out = configure_transformer(bound, **ALL_ON)
    names = names_in(out)
    layered = {n for n in names if re.match(r"^[abm]\d", n)}
    assert layered == {n.format(i=i) for n in LAYER_NAMES for i in (0, 1)}
    for n in [
        "t.bind_w",
        "final.call",
        "final.norm",
        "a.head.on_inp",
        "a.head",
        "a.attn_probs",
        "m.act",
        "ln",
    ]:
        assert n in names, n
    assert "a0" not in names and "a0.heads" not in names  # split into heads
    np.testing.assert_allclose(
        as_numpy(call(out).evaluate()), as_numpy(call(bound).evaluate()), rtol=1e-4, atol=1e-5
    )


@pytest.mark.parametrize(
    "kw",
    [
        dict(),
        dict(to=To.ATTN_MLP, use_pull_up_bias=False),
        dict(to=To.ATTN_HEAD_MLP_NORM),
        dict(to=To.ATTN_HEAD_MLP_NORM, split_by_head_config={1}),
        dict(to=To.ATTN_HEAD_MLP_NORM, split_by_head_config={0: [(0, "first"), (S[1:], "rest")]}),
        dict(ALL_ON, flatten_components=True),
        dict(to=To.BLOCK, use_clear_block_module=False, use_strip_arr=False),
    ],
)
def test_configure_transformer_keeps_the_value(kw):
    bound, call = two_layer_model()
    out = configure_transformer(bound, **kw)
    np.testing.assert_allclose(
        as_numpy(call(out).evaluate()), as_numpy(call(bound).evaluate()), rtol=1e-4, atol=1e-5
    )


def test_block_level_names():
    bound, _ = two_layer_model()
    names = names_in(configure_transformer(bound, to=To.ATTN_MLP_NORM))
    assert {"b0", "b1", "b0.a", "b0.m", "a0.norm_call", "m1.norm_call", "a1", "m0"} <= names
    assert "a0.h0" not in names


def load_remix(name):
    return ml.load_model_path(os.path.join(REMIX, name + ".circ"), tensors_as_random=True)


def test_remix_day5_modules_left_after_substituting_all_but_norms():
    """REMIX day 5: after configuring, conforming and substituting every module that is not a
    norm, the modules left are the norms and the final call."""
    circs, _, info = load_remix("jun9_paren_balancer")
    toks = rc.Array(np.random.default_rng(0).integers(0, 5, (2, 6)), "toks")
    c = info.bind_to_input_tokens(circs["t.bind_w"], toks, circs["t.w.tok_embeds"], circs["t.w.pos_embeds"])
    expected = as_numpy(c.evaluate())
    out = rc.conform_all_modules(c.update("t.bind_w", lambda m: configure_transformer(m, **ALL_ON)))
    sub = out.cast_module().substitute().rename("logits")

    def module_but_norm(x):
        return isinstance(x, rc.Module) and not ("norm" in x.name or "ln" in x.name or "final" in x.name)

    while True:
        prev, sub = sub, sub.update(module_but_norm, lambda m: m.cast_module().substitute())
        if prev == sub:
            break
    assert sorted(m.name for m in sub.get(rc.Module)) == [
        "a0.norm", "a1.norm", "a2.norm", "final.call", "final.norm", "m0.norm", "m1.norm", "m2.norm"
    ]  # fmt: skip
    np.testing.assert_allclose(as_numpy(sub.evaluate()), expected, rtol=1e-4, atol=1e-4)


def test_remix_day3_induction_head_split():
    """REMIX day 3: heads split into named groups, then substituting the modules that bind
    the inputs frees the induction heads' inputs from the other heads'."""
    torch = pytest.importorskip("torch")
    circs, _, _ = load_remix("attention_only_2")
    seq = 5
    toks = rc.Array(torch.tensor([3, 9, 4, 2, 7]), "input_toks_int")
    embeds = rc.GeneralFunction.gen_index(circs["t.w.tok_embeds"], toks, index_dim=0, name="idxed_embeds")
    mask = rc.Array(np.tril(np.ones((seq, seq), np.float32)), "t.a.c.causal_mask")
    pos = circs["t.w.pos_embeds"].index(I[:seq], name="t.w.pos_embeds_idxed")
    model = rc.module_new_bind(
        circs["t.bind_w"], ("t.input", embeds), ("a.mask", mask), ("a.pos_input", pos), name="t.call"
    )
    expected = as_numpy(model.evaluate())
    by_head = configure_transformer(
        model.get_unique("t.bind_w"),
        to=To.ATTN_HEAD_MLP_NORM,
        split_by_head_config={
            0: [(0, "prev"), (S[1:], "not_prev")],
            1: [(S[5:7], "ind"), (torch.tensor([0, 1, 2, 3, 4, 7]), "not_ind")],
        },
        use_pull_up_head_split=True,
    )
    assert by_head.get({"a1.ind", "a1.not_ind", "a0.prev", "a0.not_prev"})
    by_head = by_head.update(lambda c: ".keep." in c.name, lambda c: c.rename(c.name.replace(".keep.", ".")))
    model = rc.conform_all_modules(model.update("t.bind_w", lambda _: by_head))
    np.testing.assert_allclose(as_numpy(model.evaluate()), expected, rtol=1e-4, atol=1e-3)

    v1 = model.update("a1.ind_sum.norm_call", lambda c: c.cast_module().substitute())
    head = v1.get_unique("a1.ind").get_unique("a.head.on_inp")
    assert "a.input" not in {s.name for s in rc.get_free_symbols(head)}
    v2 = v1.update("b1.a.ind_sum", lambda c: c.cast_module().substitute())
    head = v2.get_unique("a1.ind").get_unique(rc.restrict("a.head.on_inp", end_depth=2))
    assert {s.name for s in rc.get_free_symbols(head)} == {
        "a.w.q_h", "a.w.k_h", "a.mask", "a.w.v_h", "a.w.o_h", "a.pos_input", "t.input"
    }  # fmt: skip
    v3 = v2.update("t.call", lambda c: c.cast_module().substitute())
    head = v3.get_unique("a1.ind").get_unique(rc.restrict("a.head.on_inp", end_depth=2))
    assert {s.name for s in rc.get_free_symbols(head)} == {"a.w.q_h", "a.w.k_h", "a.w.v_h", "a.w.o_h"}
    assert not rc.get_free_symbols(v3.get_unique("a1.ind"))
    np.testing.assert_allclose(as_numpy(v3.evaluate()), expected, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize(
    "kw, message",
    [
        (dict(to=None), "use_strip_arr without pushing weights down"),
        (dict(split_by_head_config="full"), "split_by_head_config needs to=To.ATTN_HEAD_MLP_NORM"),
        (dict(use_pull_up_head_split=True), "use_pull_up_head_split needs split_by_head_config"),
        (dict(to=To.BLOCK), "use_clear_block_module needs to >= To.ATTN_MLP"),
        (
            dict(use_flatten_res=True, use_clear_block_module=False),
            "use_flatten_res needs use_clear_block_module",
        ),
        (dict(flatten_components=True), "flatten_components has no effect without use_flatten_res"),
    ],
)
def test_check_valid_refuses_impossible_options(kw, message):
    bound, _ = two_layer_model()
    with pytest.raises(ValueError, match=message):
        configure_transformer(bound, **kw)


def test_configure_transformer_needs_the_weight_binding():
    with pytest.raises(ValueError, match="expected the module 't.bind_w', got 'ln'"):
        configure_transformer(ml.layernorm.body)
