"""circuits.experiments' activation cache: run_with_cache, ActivationCache and the residual /
head stacking helpers, each against a direct numpy (or TransformerLens) computation, and every
error path. Values are compared as numpy arrays, so the tests run with and without torch."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import circuits as rc
from circuits import model_rewrites as mr
from circuits import module_library as ml
from circuits.experiments import (
    ActivationCache,
    head_output_names,
    resid_stream_names,
    run_with_cache,
    stack_heads,
    stack_resid,
)

pytestmark = pytest.mark.filterwarnings("ignore:HookedTransformer is deprecated:DeprecationWarning")


def mlp(batch=4, d=3, hidden=5, seed=0, x=None):
    """x [batch, d] -> 'h' = relu(x W) -> 'y' = h V, with the numpy values."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((d, hidden))
    v = rng.standard_normal((hidden, 2))
    xv = rng.standard_normal((batch, d)) if x is None else x
    x_node = rc.Array(xv, "x")
    pre = rc.Einsum.from_einsum_string("bd,dh->bh", x_node, rc.Array(w, "w"), name="pre")
    h = rc.relu(pre, name="h")
    y = rc.Einsum.from_einsum_string("bh,hk->bk", h, rc.Array(v, "v"), name="y")
    hv = np.maximum(xv @ w, 0)
    return y, {"x": xv, "pre": xv @ w, "h": hv, "y": hv @ v, "w": w, "v": v}


def close(a, b):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-10, atol=1e-10)


@given(batch=st.integers(1, 6), d=st.integers(1, 4), hidden=st.integers(1, 5))
def test_values_match_numpy(batch, d, hidden):
    y, ref = mlp(batch, d, hidden)
    cache = run_with_cache(y, ["h", "pre", rc.Matcher("y")])
    assert list(cache) == ["h", "pre", "y"]
    for name in cache:
        close(cache[name], ref[name])
    assert len(cache) == 3 and "h" in cache and "x" not in cache


def test_top_level_name_and_single_name():
    y, ref = mlp()
    assert rc.run_with_cache is run_with_cache
    close(run_with_cache(y, "h")["h"], ref["h"])


def test_one_plan_computes_shared_nodes_once():
    y, _ = mlp()
    both = run_with_cache(y, ["h", "y"]).stats["n_nodes_computed"]
    alone = run_with_cache(y, ["y"]).stats["n_nodes_computed"]
    assert both == alone


def test_inputs_dict_and_new_batch_size():
    y, _ = mlp(batch=4)
    new = np.random.default_rng(5).standard_normal((7, 3))
    _, ref = mlp(x=new)
    cache = run_with_cache(y, ["h", "y"], {"x": new})
    close(cache["y"], ref["y"])
    cache = run_with_cache(y, ["y"], {rc.Matcher("x"): new})
    close(cache["y"], ref["y"])


def test_single_input_tensor_replaces_the_symbol():
    sym = rc.Symbol.new_with_random_uuid((2, 3), "inp")
    out = rc.Einsum.from_einsum_string("bd->b", sym, name="out")
    value = np.arange(6.0).reshape(2, 3)
    close(run_with_cache(out, ["out"], value)["out"], value.sum(1))


def test_single_input_tensor_replaces_t_toks():
    toks = rc.Array(np.array([[1, 2], [0, 1]], dtype=np.int64), "t.toks")
    table = rc.Array(np.arange(6.0).reshape(3, 2), "table")
    other = rc.Array(np.zeros((2,)), "other")
    emb = rc.GeneralFunction.gen_index(table, toks, 0, batch_x=False, name="emb")
    out = rc.Add(emb.sum(name="s"), rc.Einsum.from_einsum_string("a->", other), name="out")
    new = np.array([[2, 0]], dtype=np.int32)
    close(run_with_cache(out, ["emb"], new)["emb"], np.arange(6.0).reshape(3, 2)[[[2, 0]]])


@pytest.mark.parametrize("max_memory", [5500, 6500])
def test_max_memory_splits_the_batch(max_memory):
    y, ref = mlp(batch=64, d=4, hidden=8)
    cache = run_with_cache(y, ["h", "y"], max_memory=max_memory, progress=False)
    assert cache.stats["n_chunks"] > 1
    close(cache["h"], ref["h"])
    close(cache["y"], ref["y"])


def test_device_cpu():
    y, ref = mlp()
    close(run_with_cache(y, ["y"], device="cpu")["y"], ref["y"])


def test_unknown_device():
    y, _ = mlp()
    with pytest.raises(Exception, match="tpu|device"):
        run_with_cache(y, ["y"], device="tpu")


def test_unknown_name_suggests_near_names():
    y, _ = mlp()
    with pytest.raises(
        ValueError, match=r"run_with_cache: 'hh' matches no node of 'y'; did you mean 'h'"
    ):
        run_with_cache(y, ["hh"])


def test_several_nodes_error():
    a = rc.Array(np.ones(2), "same")
    b = rc.Array(np.zeros(2), "same")
    out = rc.Add(a, b, name="out")
    with pytest.raises(ValueError, match="'same' matches 2 distinct nodes of 'out'"):
        run_with_cache(out, ["same"])


def test_name_type_and_empty_errors():
    y, _ = mlp()
    with pytest.raises(TypeError, match="a name, a Matcher or an IterativeMatcher, not int"):
        run_with_cache(y, [3])
    with pytest.raises(ValueError, match="no names given"):
        run_with_cache(y, [])
    with pytest.raises(ValueError, match=r"names \['h'\] are requested twice"):
        run_with_cache(y, ["h", "h"])


def test_max_memory_needs_batch_axis_zero():
    y, _ = mlp()
    with pytest.raises(ValueError, match="batch_axis must be 0, not 1"):
        run_with_cache(y, ["h"], max_memory=1000, batch_axis=1)


def test_input_errors():
    y, _ = mlp()
    with pytest.raises(
        ValueError, match=r"input 'x' has shape \(4, 3\); the value given has shape \(4, 2\)"
    ):
        run_with_cache(y, ["y"], {"x": np.zeros((4, 2))})
    with pytest.raises(
        ValueError, match=r"input 'x' has shape \(4, 3\); the value given has shape \(3,\)"
    ):
        run_with_cache(y, ["y"], {"x": np.zeros(3)})
    with pytest.raises(ValueError, match="input 'h' is a GeneralFunction node; only Array, Symbol"):
        run_with_cache(y, ["y"], {"h": np.zeros((4, 5))})
    with pytest.raises(ValueError, match="a single input tensor replaces the circuit's one input"):
        run_with_cache(y, ["y"], np.zeros((4, 3)))
    with pytest.raises(TypeError, match="an input value must be a tensor or array, not str"):
        run_with_cache(y, ["y"], {"x": "zeros"})
    with pytest.raises(ValueError, match="'xx' matches no node"):
        run_with_cache(y, ["y"], {"xx": np.zeros((4, 3))})
    # Along batch_axis=1 the second axis may change and the first may not.
    with pytest.raises(ValueError, match="only the batch axis 1 may differ"):
        run_with_cache(y, ["y"], {"x": np.zeros((5, 3))}, batch_axis=1)


def test_cache_mapping_stack_to_repr():
    y, ref = mlp(d=5, hidden=5)
    cache = run_with_cache(y, ["h", "pre"])
    close(cache.stack(), np.stack([ref["h"], ref["pre"]]))
    close(cache.stack(["pre"]), ref["pre"][None])
    moved = cache.to("cpu")
    assert isinstance(moved, ActivationCache) and list(moved) == ["h", "pre"]
    close(moved["h"], ref["h"])
    text = repr(cache)
    assert text.startswith("ActivationCache(2 activations") and "'h': (4, 5) float64" in text
    with pytest.raises(TypeError):
        cache["z"] = 1
    with pytest.raises(KeyError, match="'hh' is not in the cache; did you mean 'h'"):
        cache["hh"]
    assert repr(ActivationCache({})) == "ActivationCache(0 activations)"


def test_cache_stack_errors():
    y, _ = mlp()
    cache = run_with_cache(y, ["h", "y"])
    with pytest.raises(ValueError, match=r"the values differ in shape: 'h' \(4, 5\), 'y' \(4, 2\)"):
        cache.stack()
    with pytest.raises(ValueError, match="no names to stack"):
        cache.stack([])


@pytest.mark.numpy_results
def test_numpy_cache_cannot_move_to_a_gpu():
    y, _ = mlp()
    cache = run_with_cache(y, ["h"])
    assert isinstance(cache["h"], np.ndarray)
    with pytest.raises(ValueError, match="'h' is a numpy array, which lives on the cpu only"):
        cache.to("cuda:0")


@pytest.mark.torch
def test_torch_cache_to_and_stack(torch):
    y, ref = mlp(d=5, hidden=5)
    cache = run_with_cache(y, ["h", "pre"])
    assert isinstance(cache.stack(), torch.Tensor)
    assert cache.to("cpu")["h"].device.type == "cpu"


# ---------------------------------------------------------------- transformers


def paren_call(split: bool):
    """The shipped paren balancer on 4 random strings, configured (and split by head)."""
    circs, _, info = ml.load_model_id("paren_balancer")
    bound = circs["t.bind_w"]
    if split:
        bound = mr.configure_transformer(
            bound,
            to=mr.To.ATTN_HEAD_MLP_NORM,
            split_by_head_config="full",
            use_pull_up_head_split=True,
        )
    toks = np.random.default_rng(0).integers(0, 5, (4, 42))
    call = info.bind_to_input_tokens(
        bound, rc.Array(toks, "t.toks"), circs["t.w.tok_embeds"], circs["t.w.pos_embeds"]
    )
    return rc.substitute_all_modules(call)


def test_resid_names_and_stack_on_the_module_library_model():
    call = paren_call(split=False)
    names = resid_stream_names(call)
    assert names == ["t.inp_tok_pos", "b0.call", "b1.call", "b2.call"]
    assert resid_stream_names(3) == [
        "blocks.0.hook_resid_pre",
        "blocks.0.hook_resid_post",
        "blocks.1.hook_resid_post",
        "blocks.2.hook_resid_post",
    ]
    cache = run_with_cache(call, names + resid_stream_names(3) + ["t.logits"])
    stacked = stack_resid(cache)
    assert tuple(stacked.shape) == (4, 4, 42, 56)
    direct = rc.evaluate_many([call.get_unique(n) for n in names])
    close(stacked, np.stack([np.asarray(v) for v in direct]))
    close(stack_resid(cache, resid_stream_names(3)), stacked)


def test_head_names_and_stack_split_and_unsplit_agree():
    split = paren_call(split=True)
    names = head_output_names(split)
    assert names == [f"b{l}.a.h{h}" for l in range(3) for h in range(2)]
    per_head = stack_heads(run_with_cache(split, names))
    assert tuple(per_head.shape) == (3, 2, 4, 42, 56)

    unsplit = paren_call(split=False)
    layer_names = head_output_names(unsplit)
    assert layer_names == [f"blocks.{l}.attn.hook_result" for l in range(3)]
    assert head_output_names(3) == layer_names
    per_layer = stack_heads(run_with_cache(unsplit, layer_names))
    close(per_layer, per_head)
    # Each head's output, summed over heads plus the output bias, is the attention output.
    attn_out = run_with_cache(unsplit, ["blocks.1.hook_attn_out"])["blocks.1.hook_attn_out"]
    bias = np.asarray(split.get_unique("a1.w.o_bias").evaluate())
    close(np.asarray(per_head[1]).sum(0) + bias, attn_out)


def test_resid_and_head_helper_errors():
    y, _ = mlp()
    with pytest.raises(ValueError, match="has no blocks 'b0', 'b1'"):
        resid_stream_names(y)
    with pytest.raises(ValueError, match="n_layers must be positive, not 0"):
        resid_stream_names(0)
    with pytest.raises(ValueError, match="neither split heads"):
        head_output_names(y)
    with pytest.raises(ValueError, match="n_layers must be positive, not -1"):
        head_output_names(-1)
    with pytest.raises(ValueError, match="no residual-stream entries"):
        stack_resid({"h": np.zeros(2)})
    with pytest.raises(ValueError, match="the cache has no head outputs"):
        stack_heads({"h": np.zeros(2)})
    with pytest.raises(ValueError, match="heads missing from the cache: L0H1"):
        stack_heads({"a0.h0": np.zeros(2), "a1.h1": np.zeros(2), "a1.h0": np.zeros(2)})
    with pytest.raises(ValueError, match="both split heads and per-layer head hooks"):
        stack_heads({"a0.h0": np.zeros(2), "blocks.0.attn.hook_z": np.zeros((1, 2, 3, 4))})
    with pytest.raises(ValueError, match="must be \\[\\*batch, head, pos, d\\]"):
        stack_heads({"blocks.0.attn.hook_z": np.zeros((2, 3))})
    with pytest.raises(KeyError, match="'b0.call' is not in the cache"):
        stack_resid({}, ["b0.call"])
    with pytest.raises(ValueError, match="the values differ in shape"):
        stack_resid({"b0": np.zeros(2), "b1": np.zeros(3)})


def test_tl_hooks_match_transformer_lens_run_with_cache():
    torch = pytest.importorskip("torch")
    tl = pytest.importorskip("transformer_lens")
    from circuits import loaders

    cfg = tl.HookedTransformerConfig(
        n_layers=2,
        d_model=16,
        n_heads=2,
        d_head=8,
        d_mlp=32,
        d_vocab=20,
        n_ctx=8,
        act_fn="gelu_new",
        normalization_type="LN",
        device="cpu",
        seed=0,
        dtype=torch.float64,
        use_attn_result=True,
    )
    model = tl.HookedTransformer(cfg).eval()
    circs, _, info = loaders.load_transformer_lens(model)
    toks = torch.randint(0, 20, (3, 8), generator=torch.Generator().manual_seed(0))
    circ = loaders.logits_circuit(circs, info, toks)
    names = resid_stream_names(2) + head_output_names(2)
    cache = run_with_cache(circ, names)
    new_toks = torch.randint(0, 20, (5, 8), generator=torch.Generator().manual_seed(1))
    whole = run_with_cache(circ, names, new_toks).stats["peak_bytes"]
    other = run_with_cache(circ, names, new_toks, max_memory=whole * 9 // 10)
    assert other.stats["n_chunks"] > 1
    for tokens, got in ((toks, cache), (new_toks, other)):
        with torch.no_grad():
            _, ref = model.run_with_cache(tokens)
        close(stack_resid(got), torch.stack([ref[n] for n in resid_stream_names(2)]))
        heads_ref = torch.stack([ref[f"blocks.{l}.attn.hook_result"] for l in range(2)])
        close(stack_heads(got), heads_ref.movedim(3, 1))
