"""Modules (spec 2.10, 2.14, 5.3): symbolic sizes, ModuleSpec / ModuleArgSpec, binding by
name, substitution (beta-reduction) with rc's renaming rules, batching of arguments with extra
leading axes (nested modules included), free symbols, conform, evaluation, printing, hashing,
and every error class the module machinery raises. Values are checked against numpy."""

import itertools
import struct
import uuid

import numpy as np
import pytest

import circuits as rc

S = rc.symbolic_sizes()


def sym(shape, name, n=None):
    """A Symbol with a uuid derived from its name (or from n), so tests can rebuild it."""
    u = uuid.UUID(int=n) if n is not None else uuid.uuid5(uuid.NAMESPACE_DNS, name or "")
    return rc.Symbol(tuple(shape), u, name)


def randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def close(a, b):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-10, atol=1e-10)


# --- symbolic sizes --------------------------------------------------------------------------


def test_symbolic_sizes_are_rcs_primes():
    assert len(S) == 256
    assert S[:5] == [10007, 10009, 10037, 10039, 10061]
    assert S[-1] == 12437
    for i in range(2, 200):
        assert S[0] % i != 0


def test_symbolic_size_display_and_products():
    node = rc.Scalar(0.0, (S[0], 2 * S[1], S[0] * S[0], 12))
    assert repr(node) == "<0 [0s,2*1s,0s*0s,12] Scalar 0>"
    prods = node.symbolic_shape()
    assert [repr(p) for p in prods] == ["0s", "2*1s", "0s*0s", "12"]
    assert prods[1].other_factor == 2 and prods[1].symbolic_sizes == [1]
    assert int(prods[2]) == S[0] * S[0]
    assert rc.SymbolicSizeProduct.from_size(12) == rc.SymbolicSizeProduct(12, [])


def test_array_rejects_symbolic_sizes():
    with pytest.raises(rc.ConstructArrayHasReservedSymbolicShapeError, match="0s"):
        rc.Array(np.zeros((S[0],)))


# --- building blocks -------------------------------------------------------------------------


def mlp_spec():
    """relu(x W^T + b) with a symbolic sequence axis; W is not batchable."""
    x = sym((S[0], 8), "m.input")
    w = sym((16, 8), "m.w")
    b = sym((16,), "m.b")
    pre = rc.Einsum.from_einsum_string("ti,oi->to", x, w, name="m.pre")
    body = rc.relu(rc.Add(pre, b, name="m.biased"), name="m.out")
    return rc.ModuleSpec(
        body, [rc.ModuleArgSpec(x), rc.ModuleArgSpec(w, batchable=False), rc.ModuleArgSpec(b)]
    )


def mlp_args(xs, w, b):
    return {
        "m.input": rc.Array(xs, name="X"),
        "m.w": rc.Array(w, name="W"),
        "m.b": rc.Array(b, name="B"),
    }


def mlp_ref(xs, w, b):
    return np.maximum(xs @ w.T + b, 0)


def layernorm_spec():
    """rc's module_library layer norm: the hidden size comes from last_dim_size at run time."""
    inp = sym((S[0],), "ln.input")
    hidden = rc.GeneralFunction.new_by_name(inp, spec_name="last_dim_size", name="ln.c.hidden_size")
    recip = rc.reciprocal(hidden, name="ln.c.recip_hidden_size")
    neg_mean = rc.Einsum.from_einsum_string(
        "h,z,->z", inp, rc.Scalar(-1.0, (1,), "ln.neg"), recip, name="ln.neg_mean"
    )
    centred = rc.Add(inp, neg_mean, name="ln.mean_subbed")
    var = rc.Einsum.from_einsum_string("h,h,->", centred, centred, recip, name="ln.var")
    rsqrt = rc.rsqrt(
        rc.Add(rc.Scalar(1e-5, (), "ln.c.eps"), var, name="ln.var_p_eps"), name="ln.rsqrt"
    )
    y = rc.Einsum.from_einsum_string("h,->h", centred, rsqrt, name="ln.y")
    bias = sym((S[0],), "ln.w.bias")
    scale = sym((S[0],), "ln.w.scale")
    body = rc.Add(
        bias, rc.Einsum.from_einsum_string("h,h->h", y, scale, name="ln.y_scaled"), name="ln"
    )
    return rc.ModuleSpec(body, [rc.ModuleArgSpec(s) for s in (inp, bias, scale)])


def layernorm_ref(x, bias, scale):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + 1e-5) * scale + bias


# --- basic construction and substitution -----------------------------------------------------


def test_module_shape_from_batched_args_rc_example():
    # rc's test_module_shape_missing: a body using neither argument still gets their batch axes
    spec = rc.ModuleSpec(
        rc.Scalar(0.0),
        [
            rc.ModuleArgSpec(rc.Symbol.new_with_none_uuid((S[0],), "a")),
            rc.ModuleArgSpec(rc.Symbol.new_with_none_uuid((S[1],), "b")),
        ],
        check_all_inputs_used=False,
    )
    for a, b in [((4, 5, 6, 7), (6, 4)), ((4, 5, 6, 7), (4,)), ((7,), (4, 5, 6, 4))]:
        m = rc.Module(spec, a=rc.Symbol.new_with_none_uuid(a), b=rc.Symbol.new_with_none_uuid(b))
        assert m.shape == (4, 5, 6)
        assert m.substitute().shape == (4, 5, 6)
    spec7 = rc.ModuleSpec(rc.Scalar(0.0, (7,)), spec.arg_specs, check_all_inputs_used=False)
    m = rc.Module(
        spec7, a=rc.Symbol.new_with_none_uuid((7,)), b=rc.Symbol.new_with_none_uuid((4, 5, 6, 4))
    )
    assert m.shape == (4, 5, 6, 7)
    assert m.substitute().shape == (4, 5, 6, 7)
    assert m.substitute().is_rearrange()


def test_mlp_module_evaluates_like_numpy():
    xs, w, b = randn(5, 8), randn(16, 8, seed=1), randn(16, seed=2)
    m = rc.Module(mlp_spec(), name="mlp", **mlp_args(xs, w, b))
    assert m.shape == (5, 16)
    assert m.is_module() and m.cast_module() is m
    assert m.is_explicitly_computable and m.no_unbound_symbols
    assert m.dtype == "float64"
    close(m.evaluate(), mlp_ref(xs, w, b))
    sub = m.cast_module().substitute()
    assert sub.name == "mlp" and sub.is_general_function()
    close(sub.evaluate(), mlp_ref(xs, w, b))
    close(rc.evaluate_many([m, sub])[0], rc.evaluate_many([m, sub])[1])


def test_layernorm_module_evaluates_like_numpy():
    x, bias, scale = randn(5, 6), randn(6, seed=1), randn(6, seed=2)
    args = {
        "ln.input": rc.Array(x, name="x"),
        "ln.w.bias": rc.Array(bias, name="bias"),
        "ln.w.scale": rc.Array(scale, name="scale"),
    }
    m = rc.Module(layernorm_spec(), name="ln.call", **args)
    assert m.shape == (5, 6)
    close(m.evaluate(), layernorm_ref(x, bias, scale))
    close(m.substitute().evaluate(), layernorm_ref(x, bias, scale))
    close(rc.conform_all_modules(m).evaluate(), layernorm_ref(x, bias, scale))


def test_layernorm_batched_over_leading_axes():
    x, bias, scale = randn(2, 3, 5, 6), randn(6, seed=1), randn(3, 5, 6, seed=2)
    args = {"ln.input": rc.Array(x), "ln.w.bias": rc.Array(bias), "ln.w.scale": rc.Array(scale)}
    m = rc.Module(layernorm_spec(), name="ln.call", **args)
    assert m.shape == (2, 3, 5, 6)
    expected = np.empty((2, 3, 5, 6))
    for i, j, k in itertools.product(range(2), range(3), range(5)):
        expected[i, j, k] = layernorm_ref(x[i, j, k], bias, scale[j, k])
    close(m.evaluate(), expected)


def test_batching_matches_a_numpy_loop():
    xs, w, b = randn(2, 3, 5, 8), randn(16, 8, seed=1), randn(4, 2, 3, 16, seed=2)
    # x's symbol is [0s, 8], so x's batch axes are (2, 3); b's are (4, 2, 3): aligned (4, 2, 3)
    m = rc.Module(mlp_spec(), name="mlp", **mlp_args(xs, w, b))
    assert m.cast_module().aligned_batch_shape() == (4, 2, 3)
    assert m.shape == (4, 2, 3, 5, 16)
    expected = np.empty(m.shape)
    for i, j, k in itertools.product(range(4), range(2), range(3)):
        expected[i, j, k] = mlp_ref(xs[j, k], w, b[i, j, k])
    close(m.evaluate(), expected)
    close(m.substitute().evaluate(), expected)


def test_batch_shapes_must_agree_where_they_overlap():
    with pytest.raises(rc.MiscInputNotBroadcastableError, match=r"\[\[2\], \[\], \[5\]\]"):
        rc.Module(mlp_spec(), name="mlp", **mlp_args(randn(2, 5, 8), randn(16, 8), randn(5, 16)))
    # no size-1 broadcasting between batch axes either
    with pytest.raises(rc.MiscInputNotBroadcastableError):
        rc.Module(mlp_spec(), name="mlp", **mlp_args(randn(1, 5, 8), randn(16, 8), randn(3, 16)))


def test_name_may_be_given_positionally():
    m = rc.Module(mlp_spec(), "by_position", **mlp_args(randn(5, 8), randn(16, 8), randn(16)))
    assert m.name == "by_position"
    with pytest.raises(TypeError):
        rc.Module(mlp_spec(), "a", name="b")


def test_new_flat_binds_in_order():
    xs, w, b = randn(5, 8), randn(16, 8, seed=1), randn(16, seed=2)
    m = rc.Module.new_flat(mlp_spec(), rc.Array(xs), rc.Array(w), rc.Array(b), name="flat")
    close(m.evaluate(), mlp_ref(xs, w, b))
    assert [c.shape for c in m.nodes] == [(5, 8), (16, 8), (16,)]
    assert [c.shape for c in m.non_free_children] == [(5, 8), (16, 8), (16,)]
    assert m.children[0] == mlp_spec().circuit
    items = m.arg_items()
    assert [spec.symbol.name for _, spec in items] == ["m.input", "m.w", "m.b"]
    assert items[1][1].batchable is False


def test_bare_symbol_body_substitutes_to_exactly_its_argument():
    a = sym((S[0],), "a")
    arg = rc.Array(randn(3), name="the_arg")
    m = rc.Module(rc.ModuleSpec(a, [rc.ModuleArgSpec(a)]), name="ident", a=arg)
    assert m.shape == (3,)
    assert m.substitute() == arg
    assert m.substitute().name == "the_arg"


def test_substitute_returning_the_body_keeps_its_name():
    a = sym((3,), "a")
    body = rc.Add(a, a, name="twice")
    m = rc.Module(rc.ModuleSpec(body, [rc.ModuleArgSpec(a)]), name="mod", a=a)
    assert m.substitute() == body


def test_leaf_body_with_batch_gets_rep_batch():
    a = sym((S[0],), "a")
    spec = rc.ModuleSpec(
        rc.Scalar(2.0, (), "two"), [rc.ModuleArgSpec(a)], check_all_inputs_used=False
    )
    out = rc.Module(spec, name="m", a=rc.Array(randn(4, 3))).substitute()
    assert out.shape == (4,)
    assert out.name == "two rep_batch"
    close(out.evaluate(), np.full((4,), 2.0))


# --- names -----------------------------------------------------------------------------------


def test_module_autoname_and_substitute_renames():
    xs, w, b = randn(5, 8), randn(16, 8, seed=1), randn(16, seed=2)
    m = rc.Module(mlp_spec(), **mlp_args(xs, w, b))
    assert m.name == "m.out(X, W, B)"
    named = rc.Module(mlp_spec(), name="mlp", **mlp_args(xs, w, b))
    plain = named.substitute()
    assert plain.name == "mlp"
    assert {c.name for c in plain.children} == {"m.biased"}
    assert plain.children[0].children[0].name == "m.pre"
    prefixed = named.substitute(name_prefix="P.", name_suffix="_S")
    assert prefixed.name == "mlp"
    assert prefixed.children[0].name == "P.m.biased_S"
    assert prefixed.children[0].children[0].name == "P.m.pre_S"
    # arguments are never renamed
    assert {c.name for c in prefixed.children[0].children[0].children} == {"X", "W"}
    selfp = named.substitute(use_self_name_as_prefix=True)
    assert selfp.children[0].name == "mlp.m.biased"
    close(prefixed.evaluate(), plain.evaluate())


def test_only_nodes_on_replaced_paths_are_renamed():
    a = sym((3,), "a")
    const = rc.Scalar(1.0, (3,), "const")
    body = rc.Add(rc.relu(const, name="fixed"), rc.relu(a, name="moving"), name="sum")
    out = rc.Module(
        rc.ModuleSpec(body, [rc.ModuleArgSpec(a)]), name="m", a=rc.Array(randn(3))
    ).substitute(name_prefix="p.")
    assert out.name == "m"
    assert sorted(c.name for c in out.children) == ["fixed", "p.moving"]


def test_rename_on_replaced_path():
    a = sym((3,), "a")
    body = rc.Add(
        rc.relu(rc.Scalar(1.0, (3,), "c"), name="fixed"),
        rc.relu(a, name="moving"),
        rc.relu(a),
        name="sum",
    )
    spec = rc.ModuleSpec(body, [rc.ModuleArgSpec(a)])
    renamed = spec.rename_on_replaced_path("p.", "_s")
    assert renamed.circuit.name == "p.sum_s"
    assert [c.name for c in renamed.circuit.children] == ["fixed", "p.moving_s", "p.relu(a)_s"]
    assert renamed.arg_specs == spec.arg_specs
    assert spec.rename_on_replaced_path() == spec
    m = rc.Module(spec, name="M", a=rc.Array(randn(3)))
    out = m.rename_on_replaced_path(use_self_name_as_prefix=True)
    assert out.name == "M" and out.spec.circuit.name == "M.sum"
    close(out.evaluate(), m.evaluate())
    # a nested module rebinding the symbol hides it
    inner = rc.Module(
        rc.ModuleSpec(rc.relu(a, name="in_r"), [rc.ModuleArgSpec(a)]), name="inner", a=a
    )
    outer_body = rc.Add(
        inner,
        rc.Module(
            rc.ModuleSpec(rc.relu(a, name="r2"), [rc.ModuleArgSpec(a)]),
            name="rebind",
            a=rc.Scalar(1.0, (3,), "one"),
        ),
        name="top",
    )
    got = rc.ModuleSpec(outer_body, [rc.ModuleArgSpec(a)]).rename_on_replaced_path("q.")
    names = {c.name for c in collect(got.circuit)}
    assert {"q.top", "q.inner", "in_r", "rebind", "r2"} <= names


def test_autonames_from_placeholder_symbols_are_recomputed():
    # an unnamed body node gets its autoname from the arguments' names, never the placeholders'
    a = sym((3,), "a")
    body = rc.Add(rc.relu(a).rename(None), rc.Scalar(1.0, (3,), "one"), name="body")
    out = rc.Module(
        rc.ModuleSpec(body, [rc.ModuleArgSpec(a)]), name="m", a=rc.Array(randn(3), name="x")
    ).substitute()
    names = [c.name for c in out.children]
    assert "relu(x)" in names
    assert not any("internal_expand" in c.name for c in out.children)


def test_no_internal_names_survive_substitute_all_modules():
    _, _, outer, _ = complex_modules(bi0=(3,), bo1=(4,))
    flat = rc.substitute_all_modules(outer)
    seen = []
    flat.visit(lambda c: seen.append(c.name))
    assert not any("internal_expand" in n for n in seen)
    assert not any(isinstance(c, rc.Module) for c in collect(flat))


def collect(c):
    out = []
    c.visit(out.append)
    return out


# --- free symbols and flags ------------------------------------------------------------------


def test_free_symbols_and_flags():
    spec = mlp_spec()
    body = spec.circuit
    assert [s.name for s in rc.get_free_symbols(body)] == ["m.input", "m.w", "m.b"]
    assert not body.no_unbound_symbols and not body.is_explicitly_computable
    x = sym((4, 8), "free_x")
    part = rc.Module(
        spec,
        name="part",
        **{"m.input": x, "m.w": rc.Array(randn(16, 8)), "m.b": rc.Array(randn(16))},
    )
    assert [s.name for s in rc.get_free_symbols(part)] == ["free_x"]
    assert not part.no_unbound_symbols and not part.is_explicitly_computable
    with pytest.raises(rc.TensorEvalNotExplicitlyComputableError, match="free_x"):
        part.evaluate()
    whole = rc.Module(spec, name="whole", **mlp_args(randn(4, 8), randn(16, 8), randn(16)))
    assert rc.get_free_symbols(whole) == [] and whole.no_unbound_symbols
    assert rc.get_free_symbols(x) == [x]
    assert not x.no_unbound_symbols


def test_free_symbols_of_body_unbound_by_module_stay_free():
    a, other = sym((3,), "a"), sym((3,), "other")
    spec = rc.ModuleSpec(rc.Add(a, other, name="s"), [rc.ModuleArgSpec(a)])
    m = rc.Module(spec, name="m", a=rc.Array(randn(3)))
    assert rc.get_free_symbols(m) == [other]
    assert not m.is_explicitly_computable


# --- ModuleSpec ------------------------------------------------------------------------------


def test_module_spec_constructors_and_checks():
    spec = mlp_spec()
    assert spec.are_args_used() == [True, True, True]
    spec.check_all_inputs_used()
    spec.check_unique_arg_names()
    free = rc.ModuleSpec.new_free_symbols(spec.circuit)
    assert [a.symbol.name for a in free.arg_specs] == ["m.input", "m.w", "m.b"]
    assert all(
        a.batchable and a.expandable and a.ban_non_symbolic_size_expand for a in free.arg_specs
    )
    mapped = spec.map_circuit(lambda c: rc.relu(c, name="again"))
    assert mapped.circuit.name == "again" and mapped.arg_specs == spec.arg_specs
    # rightmost binding of a repeated symbol wins
    x = spec.arg_specs[0]
    dup = rc.ModuleSpec(
        spec.circuit,
        [x, *spec.arg_specs],
        check_unique_arg_names=False,
        check_all_inputs_used=False,
    )
    assert dup.are_args_used() == [False, True, True, True]
    # the attribute holders are mutable, as rc's
    x2 = rc.ModuleArgSpec(x.symbol)
    x2.batchable = False
    assert x2 != x and x2.batchable is False
    spec2 = rc.ModuleSpec(spec.circuit, spec.arg_specs)
    assert spec2 == spec and hash(spec2) == hash(spec)


def test_just_name_shape():
    c = rc.Array(randn(2, 3), name="weights")
    a = rc.ModuleArgSpec.just_name_shape(c)
    assert a.symbol.name == "weights" and a.symbol.shape == (2, 3)
    assert a.batchable and a.expandable and not a.ban_non_symbolic_size_expand
    assert rc.ModuleArgSpec.just_name_shape(c).symbol != a.symbol


def test_new_extract_round_trips_the_value():
    w1, w2 = rc.Array(randn(2, 3), name="w1"), rc.Array(randn(3, 5, seed=1), name="w2")
    circ = rc.Einsum.from_einsum_string("ab,bc->ac", rc.Add(w1, w1, name="twice"), w2, name="prod")
    s0, s1 = sym((2, 3), "0"), sym((3, 5), None, 9)
    spec = rc.ModuleSpec.new_extract(circ, [(w1, rc.ModuleArgSpec(s0)), (w2, rc.ModuleArgSpec(s1))])
    assert [a.symbol.name for a in spec.arg_specs] == [
        "0",
        "w2",
    ]  # unnamed symbol takes the node's name
    assert spec.circuit.name == "prod" and rc.get_free_symbols(spec.circuit) == [
        a.symbol for a in spec.arg_specs
    ]
    m = rc.Module.new_flat(spec, w1, w2, name="prod")
    close(m.evaluate(), circ.evaluate())
    assert m.substitute() == circ
    with pytest.raises(rc.ConstructModuleExtractNotPresentError, match="missing_node"):
        rc.ModuleSpec.new_extract(
            circ, [(rc.Scalar(1.0, (), "missing_node"), rc.ModuleArgSpec(s0))]
        )
    partial = rc.ModuleSpec.new_extract(
        circ,
        [(rc.Scalar(1.0, (), "missing_node"), rc.ModuleArgSpec(s0)), (w2, rc.ModuleArgSpec(s1))],
        check_all_inputs_used=False,
    )
    assert [a.symbol.name for a in partial.arg_specs] == ["w2"]


def test_resize_and_conform():
    xs, w, b = randn(2, 5, 8), randn(16, 8, seed=1), randn(16, seed=2)
    m = rc.Module(mlp_spec(), name="mlp", **mlp_args(xs, w, b))
    conformed = m.conform_to_input_shapes()
    assert [a.symbol.shape for a in conformed.spec.arg_specs] == [(2, 5, 8), (16, 8), (16,)]
    assert conformed.spec.circuit.shape == (2, 5, 16)
    assert conformed.name == "mlp"
    close(conformed.evaluate(), m.evaluate())
    batch_only = m.conform_to_input_batch_shape()
    assert [a.symbol.shape for a in batch_only.spec.arg_specs] == [(2, S[0], 8), (16, 8), (16,)]
    close(batch_only.evaluate(), m.evaluate())
    with pytest.raises(ValueError, match="larger than the number of batch dims"):
        m.conform_to_input_batch_shape(3)
    resized = mlp_spec().resize([(7, 8), (16, 8), (16,)])
    assert resized.circuit.shape == (7, 16)
    everything = rc.conform_all_modules(m)
    assert not rc.any_children_with_symbolic_sizes(everything)
    close(everything.evaluate(), m.evaluate())


# --- nested modules --------------------------------------------------------------------------


def test_nested_modules():
    x, y = sym((3,), "x"), sym((3,), "y")
    inner = rc.Module(
        rc.ModuleSpec(rc.Add(x, y, name="xy"), [rc.ModuleArgSpec(y)]),
        name="inner",
        y=rc.Scalar(2.0, (3,), "two"),
    )
    assert rc.get_free_symbols(inner) == [x]
    outer = rc.Module(
        rc.ModuleSpec(inner, [rc.ModuleArgSpec(x)]),
        name="outer",
        x=rc.Array(np.arange(3.0), name="v"),
    )
    close(outer.evaluate(), np.arange(3.0) + 2.0)
    once = outer.substitute()
    assert once.is_module() and once.name == "outer"
    assert once.nodes == [rc.Scalar(2.0, (3,), "two")]
    flat = rc.substitute_all_modules(outer)
    assert flat.is_add() and flat.name == "outer"
    close(flat.evaluate(), np.arange(3.0) + 2.0)
    # batched argument through the nested module
    batched = rc.Module(
        rc.ModuleSpec(inner, [rc.ModuleArgSpec(x)]), name="outer", x=rc.Array(randn(4, 3))
    )
    assert batched.shape == (4, 3)
    close(batched.evaluate(), randn(4, 3) + 2.0)


def not_mask_spec():
    inp = sym((), "not_mask.input")
    neg = rc.Einsum.from_einsum_string(
        ",->", inp, rc.Scalar(-1.0, (), "neg_one"), name="not_mask.neg_mask"
    )
    return rc.ModuleSpec(
        rc.Add(rc.Scalar(1.0, (), "one"), neg, name="not_mask"), [rc.ModuleArgSpec(inp)]
    )


def attention_spec():
    """rc's module_library attention: a head module bound to its inputs, batched over heads by
    an outer module whose weights carry a leading head axis."""
    HIDDEN, SEQ, SEQ_Q, SEQ_K, HEADS, _, _, QK_DIM, V_DIM = S[:9]
    q_in, k_in, v_in = (
        sym((SEQ_Q, HIDDEN), "a.q.input"),
        sym((SEQ_K, HIDDEN), "a.k.input"),
        sym((SEQ_K, HIDDEN), "a.v.input"),
    )
    wq, bq = sym((QK_DIM, HIDDEN), "a.w.q_h"), sym((QK_DIM,), "a.w.q_bias_h")
    wk, bk = sym((QK_DIM, HIDDEN), "a.w.k_h"), sym((QK_DIM,), "a.w.k_bias_h")
    wv, bv = sym((V_DIM, HIDDEN), "a.w.v_h"), sym((V_DIM,), "a.w.v_bias_h")
    wo, mask = sym((HIDDEN, V_DIM), "a.w.o_h"), sym((SEQ_Q, SEQ_K), "a.mask")
    q = rc.Add(
        rc.Einsum.from_einsum_string("qd,cd->qc", q_in, wq, name="a.q"), bq, name="a.q_p_bias"
    )
    k = rc.Add(
        rc.Einsum.from_einsum_string("kd,cd->kc", k_in, wk, name="a.k"), bk, name="a.k_p_bias"
    )
    size = rc.Einsum.from_einsum_string("jk->j", wk, name="a.c.bias_for_head_size")
    div = rc.rsqrt(
        rc.GeneralFunction.new_by_name(size, spec_name="last_dim_size", name="a.c.head_size"),
        name="a.c.div_head_size",
    )
    raw = rc.Einsum.from_einsum_string("qc,kc,,qk->qk", q, k, div, mask, name="a.attn_scores_raw")
    not_mask = rc.Module(not_mask_spec(), name="a.not_mask", **{"not_mask.input": mask})
    bias = rc.Einsum.from_einsum_string(
        "qk,->qk", not_mask, rc.Scalar(-10000.0, (), "a.neg_inf"), name="a.score_neg_inf_bias"
    )
    probs = rc.softmax(rc.Add(raw, bias, name="a.attn_scores"), name="a.attn_probs")
    v = rc.Add(
        rc.Einsum.from_einsum_string("kd,Vd->kV", v_in, wv, name="a.v"), bv, name="a.v_p_bias"
    )
    comb = rc.Einsum.from_einsum_string("qk,kV->qV", probs, v, name="a.comb_v")
    head = rc.Einsum.from_einsum_string("sV,dV->sd", comb, wo, name="a.head")
    a_in, pos = sym((SEQ, HIDDEN), "a.input"), sym((SEQ, HIDDEN), "a.pos_input")
    qk_in = rc.Add(a_in, pos, name="a.qk_input")
    on_inp = rc.Module(
        rc.ModuleSpec(head, [rc.ModuleArgSpec(s) for s in (q_in, k_in, v_in)]),
        name="a.head.on_inp",
        **{"a.q.input": qk_in, "a.k.input": qk_in, "a.v.input": a_in},
    )
    head_weights = [
        sym(s, n)
        for n, s in [
            ("a.w.q", (HEADS, QK_DIM, HIDDEN)),
            ("a.w.q_bias", (HEADS, QK_DIM)),
            ("a.w.k", (HEADS, QK_DIM, HIDDEN)),
            ("a.w.k_bias", (HEADS, QK_DIM)),
            ("a.w.v", (HEADS, V_DIM, HIDDEN)),
            ("a.w.v_bias", (HEADS, V_DIM)),
            ("a.w.o", (HEADS, HIDDEN, V_DIM)),
        ]
    ]
    heads = rc.Module.new_flat(
        rc.ModuleSpec(on_inp, [rc.ModuleArgSpec(s) for s in (wq, bq, wk, bk, wv, bv, wo)]),
        *head_weights,
        name="a.heads",
    )
    out = rc.Add(
        rc.Einsum.from_einsum_string("hsd->sd", heads, name="a"),
        sym((HIDDEN,), "a.w.o_bias"),
        name="a.p_bias",
    )
    return rc.ModuleSpec.new_free_symbols(out)


def attention_ref(v, n_heads, qk_dim):
    x = v["a.input"]
    xq = x + v["a.pos_input"]
    out = np.zeros_like(x)
    for h in range(n_heads):
        q = xq @ v["a.w.q"][h].T + v["a.w.q_bias"][h]
        k = xq @ v["a.w.k"][h].T + v["a.w.k_bias"][h]
        s = (q @ k.T) / np.sqrt(qk_dim) * v["a.mask"] + (1 - v["a.mask"]) * -10000.0
        p = np.exp(s - s.max(-1, keepdims=True))
        p /= p.sum(-1, keepdims=True)
        out += (p @ (x @ v["a.w.v"][h].T + v["a.w.v_bias"][h])) @ v["a.w.o"][h].T
    return out + v["a.w.o_bias"]


def test_attention_module_with_nested_head_batching():
    H, QK, V, D, T = 3, 4, 5, 6, 7
    rng = np.random.default_rng(0)
    vals = {
        "a.input": rng.standard_normal((T, D)),
        "a.pos_input": rng.standard_normal((T, D)),
        "a.mask": (rng.random((T, T)) > 0.3).astype(np.float64),
        "a.w.q": rng.standard_normal((H, QK, D)),
        "a.w.q_bias": rng.standard_normal((H, QK)),
        "a.w.k": rng.standard_normal((H, QK, D)),
        "a.w.k_bias": rng.standard_normal((H, QK)),
        "a.w.v": rng.standard_normal((H, V, D)),
        "a.w.v_bias": rng.standard_normal((H, V)),
        "a.w.o": rng.standard_normal((H, D, V)),
        "a.w.o_bias": rng.standard_normal((D,)),
    }
    spec = attention_spec()
    m = rc.Module(spec, name="attn", **{k: rc.Array(v, name=k + "_val") for k, v in vals.items()})
    expected = attention_ref(vals, H, QK)
    assert m.shape == (T, D)
    close(m.evaluate(), expected)
    close(m.substitute().evaluate(), expected)
    close(rc.substitute_all_modules(m).evaluate(), expected)
    conformed = rc.conform_all_modules(m)
    assert not rc.any_children_with_symbolic_sizes(conformed)
    close(conformed.evaluate(), expected)


# --- nested batching (rc's test_complex_batching) --------------------------------------------


def complex_modules(bi0=(), bi1=(), bo0=(), bo1=(), separate=False):
    """rc's get_complex_module_test: an inner module over a body with a free outer symbol, called
    inside an outer module; either side's arguments may carry batch axes."""
    a0 = sym((S[0], S[4]), "inner.sym_arg0")
    a1 = sym((3, S[4]), "inner.sym_arg1")
    o0 = sym((7, S[4]), "outer.sym_arg0")
    o1 = sym((S[3], S[5]), "outer.sym_arg1")
    cat = rc.Concat(a1, o0, axis=0, name="inner.concat")
    inner = rc.Einsum.from_einsum_string("az,bz,cl->bac", a0, cat, o1, name="inner")
    arrays = [
        rc.Array(randn(*(bi0 + (5,)), seed=1), name="inner.rand0"),
        rc.Array(randn(*(bi1 + (3, 5)), seed=2), name="inner.rand1"),
        rc.Array(randn(*(bo0 + (7, 5)), seed=3), name="outer.rand0"),
        rc.Array(randn(*(bo1 + (9, 12)), seed=4), name="outer.rand1"),
    ]
    letters = "fghij"[: len(bi0)]
    apply_inner = rc.Einsum.from_einsum_string(
        f"cd,{letters}a->{letters}ca", o0, arrays[0], name="inner.apply_inner"
    )
    inner_call = rc.Module(
        rc.ModuleSpec(inner, [rc.ModuleArgSpec(a0), rc.ModuleArgSpec(a1)]),
        name="inner.call",
        **{"inner.sym_arg0": apply_inner, "inner.sym_arg1": arrays[1]},
    )
    body = rc.Add(inner_call, inner_call, name="add_inner") if separate else inner_call
    outer = rc.Module(
        rc.ModuleSpec(body, [rc.ModuleArgSpec(o0), rc.ModuleArgSpec(o1)]),
        name="outer",
        **{"outer.sym_arg0": arrays[2], "outer.sym_arg1": arrays[3]},
    )
    return inner, inner_call, outer, arrays


def aligned(a, b):
    n = max(len(a), len(b))
    a, b = (None,) * (n - len(a)) + tuple(a), (None,) * (n - len(b)) + tuple(b)
    return tuple(x if x is not None else y for x, y in zip(a, b))


def complex_reference(bi0, bi1, bo0, bo1, separate, arrays):
    r0, r1, q0, q1 = [np.asarray(a.evaluate()) for a in arrays]
    ib, ob = aligned(bi0, bi1), aligned(bo0, bo1)
    out = np.zeros(ob + ib + (10, 7, 9))
    for oi in itertools.product(*[range(s) for s in ob]):
        for ii in itertools.product(*[range(s) for s in ib]):
            q0i, q1i = q0[oi[len(ob) - len(bo0) :]], q1[oi[len(ob) - len(bo1) :]]
            r0i, r1i = r0[ii[len(ib) - len(bi0) :]], r1[ii[len(ib) - len(bi1) :]]
            arg0 = np.einsum("cd,a->ca", q0i, r0i)
            value = np.einsum("az,bz,cl->bac", arg0, np.concatenate([r1i, q0i], 0), q1i)
            out[oi + ii] = value * (2 if separate else 1)
    return out


COMPLEX_CASES = [
    {},
    {"bi0": (3,)},
    {"bi0": (3, 7)},
    {"bi1": (3, 7)},
    {"bi0": (3,), "bi1": (7, 3)},
    {"bi0": (1, 7, 3), "bi1": (3,)},
    {"bo0": (3,)},
    {"bo1": (3, 7)},
    {"bo0": (1, 7, 3), "bo1": (3,)},
    {"bi0": (3,), "bo0": (4,)},
    {"bi0": (3, 7), "bi1": (7,), "bo0": (4,), "bo1": (6, 4)},
    {"bi1": (3,), "bo1": (4,)},
    {"bi0": (3,), "bo1": (6, 4)},
]


@pytest.mark.parametrize("separate", [False, True])
@pytest.mark.parametrize(
    "case", COMPLEX_CASES, ids=lambda c: "-".join(f"{k}{v}" for k, v in c.items()) or "none"
)
def test_complex_nested_batching(case, separate):
    kw = {"bi0": (), "bi1": (), "bo0": (), "bo1": ()}
    kw.update(case)
    inner, inner_call, outer, arrays = complex_modules(**kw, separate=separate)
    ib, ob = aligned(kw["bi0"], kw["bi1"]), aligned(kw["bo0"], kw["bo1"])
    assert inner.shape == (10, S[0], S[3])
    assert inner_call.shape == ib + (10, 7, S[3])
    assert outer.shape == ob + ib + (10, 7, 9)
    expected = complex_reference(kw["bi0"], kw["bi1"], kw["bo0"], kw["bo1"], separate, arrays)
    close(outer.evaluate(), expected)
    sub = outer.substitute()
    assert sub.name == "outer"
    close(sub.evaluate(), expected)
    close(rc.substitute_all_modules(outer).evaluate(), expected)
    # batching an unbatched circuit afterwards, one pass per module (two passes give the outer
    # product of batch axes, as rc's Expander)
    _, _, plain, plain_arrays = complex_modules(separate=separate)
    batched = rc.replace_expand_bottom_up_dict(plain, dict(zip(plain_arrays[:2], arrays[:2])))
    batched = rc.replace_expand_bottom_up_dict(batched, dict(zip(plain_arrays[2:], arrays[2:])))
    assert batched.shape == outer.shape
    close(batched.evaluate(), expected)


def test_inner_module_pins_a_free_symbol_with_set_symbolic_shape():
    _, inner_call, _, _ = complex_modules()
    sub = inner_call.substitute()
    pinned = [c for c in collect(sub) if isinstance(c, rc.SetSymbolicShape)]
    assert len(pinned) == 1
    assert pinned[0].node.name == "outer.sym_arg0" and pinned[0].shape == (7, 5)
    assert pinned[0].name == "outer.sym_arg0 set_shape"
    constraint = sub.symbolic_size_constraints.pop()
    assert constraint.l.symbolic_sizes == [4] and constraint.r.other_factor == 5


# --- expand_node -----------------------------------------------------------------------------


def test_expand_node_rc_cases():
    s23 = rc.Symbol.new_with_none_uuid((2, 3), "0")
    circ = rc.Rearrange(s23, rc.RearrangeSpec([[0], [1]], [[1], [0]], [None, None]))
    assert rc.expand_node(circ, [rc.Array(randn(5, 6))]).shape == (6, 5)
    assert rc.expand_node(circ, [rc.Array(randn(8, 7, 5, 6))]).shape == (8, 7, 6, 5)
    idx = rc.Index(s23, (slice(None), 0))
    assert rc.expand_node(idx, [rc.Array(randn(8, 7, 5, 3))]).shape == (8, 7, 5)
    with pytest.raises(rc.ExpandFixedIndexError, match="old shape"):
        rc.expand_node(rc.Index(s23, (slice(0, 2), 0)), [rc.Array(randn(5, 3))])
    add = rc.Add(
        rc.Symbol.new_with_none_uuid((2, 3, 1), "0"), rc.Symbol.new_with_none_uuid((2, 1, 5), "1")
    )
    out = rc.expand_node(
        add,
        [
            rc.Symbol.new_with_none_uuid((4, 13, 7, 3, 1), "0"),
            rc.Symbol.new_with_none_uuid((7, 1, 11), "1"),
        ],
    )
    assert out.shape == (4, 13, 7, 3, 11)
    with pytest.raises(rc.MiscInputNotBroadcastableError):
        rc.expand_node(
            add,
            [
                rc.Symbol.new_with_none_uuid((13, 7, 3, 1), "0"),
                rc.Symbol.new_with_none_uuid((1, 7, 1, 11), "1"),
            ],
        )
    add2 = rc.Add(
        rc.Symbol.new_with_none_uuid((8, 7), "0"),
        rc.Symbol.new_with_none_uuid((1, 1, 1, 1, 1, 7), "1"),
    )
    out = rc.expand_node(
        add2,
        [
            rc.Symbol.new_with_none_uuid((2, 4, 7, 8, 9), "0"),
            rc.Symbol.new_with_none_uuid((7, 1, 1, 1, 1, 1, 1), "1"),
        ],
    )
    assert out.shape == (2, 4, 7, 1, 1, 1, 1, 8, 9)
    ein = rc.Einsum.from_einsum_string("ab,bc->ac", s23, rc.Symbol.new_with_none_uuid((3, 5), "1"))
    out = rc.expand_node(
        ein,
        [
            rc.Symbol.new_with_none_uuid((5, 7, 2, 12), "0"),
            rc.Symbol.new_with_none_uuid((7, 12, 11), "1"),
        ],
    )
    assert out.shape == (5, 7, 2, 11)
    with pytest.raises(rc.ConstructEinsumAxisSizeDifferentError):
        rc.expand_node(
            ein,
            [
                rc.Symbol.new_with_none_uuid((5, 2, 2, 2), "0"),
                rc.Symbol.new_with_none_uuid((5, 2, 3, 5), "1"),
            ],
        )
    cat = rc.Concat(s23, rc.Symbol.new_with_none_uuid((4, 3), "1"), axis=0)
    out = rc.expand_node(
        cat,
        [
            rc.Symbol.new_with_none_uuid((3, 2, 3), "0"),
            rc.Symbol.new_with_none_uuid((7, 3, 4, 3), "1"),
        ],
    )
    assert out.shape == (7, 3, 6, 3)
    with pytest.raises(rc.ExpandConcatAxisError, match="axis 0"):
        rc.expand_node(
            cat,
            [rc.Symbol.new_with_none_uuid((3, 3), "0"), rc.Symbol.new_with_none_uuid((4, 3), "1")],
        )
    gather = rc.GeneralFunction.gen_index(
        s23, rc.Symbol.new_with_none_uuid((4, 3), "1"), index_dim=-1
    )
    assert rc.expand_node(
        gather, [s23, rc.Symbol.new_with_none_uuid((7, 11, 4, 3), "1")]
    ).shape == (7, 11, 4, 3, 2)
    with pytest.raises(
        rc.ExpandGeneralFunctionTriedToBatchNonBatchableInputError, match="input_i=0"
    ):
        rc.expand_node(
            gather,
            [
                rc.Symbol.new_with_none_uuid((3, 2, 3), "0"),
                rc.Symbol.new_with_none_uuid((4, 3), "1"),
            ],
        )
    batched_x = rc.GeneralFunction.gen_index(
        rc.Symbol.new_with_none_uuid((4, 3, 2, 3), "0"),
        rc.Symbol.new_with_none_uuid((4, 3), "1"),
        index_dim=-1,
        batch_x=True,
    )
    out = rc.expand_node(
        batched_x,
        [
            rc.Symbol.new_with_none_uuid((4, 3, 2, 3), "0"),
            rc.Symbol.new_with_none_uuid((7, 11, 4, 3), "1"),
        ],
    )
    assert out.shape == (7, 11, 4, 3, 2)
    assert any(c.name == "0 rep_for_batch" for c in collect(out))


def test_expand_node_errors():
    a = sym((3,), "a")
    with pytest.raises(rc.ExpandWrongNumChildrenError, match="expected 2 got 1"):
        rc.expand_node(rc.Add(a, a), [a])
    with pytest.raises(rc.ExpandBatchingRankTooLowError, match=r"ranks \[1, 1\].*\[0, 1\]"):
        rc.expand_node(rc.Add(a, a, name="aa"), [rc.Scalar(1.0, ()), a])


def test_replace_expand_keeps_values():
    x = sym((2, 3), "x")
    circ = rc.Einsum.from_einsum_string(
        "ab,bc->ac", rc.Add(x, x, name="xx"), rc.Array(randn(3, 5), name="w"), name="prod"
    )
    big = randn(100, 3, seed=5)
    out = rc.replace_expand_bottom_up_dict(circ, {x: rc.Array(big, name="big")})
    assert out.shape == (100, 5)
    close(out.evaluate(), (2 * big) @ randn(3, 5))
    assert out.name == "prod"


# --- SetSymbolicShape ------------------------------------------------------------------------


def test_set_symbolic_shape():
    g = sym((S[0], 4), "g")
    s = rc.SetSymbolicShape(g, (3, 4))
    assert s.shape == (3, 4) and s.name == "g set_shape"
    assert not s.is_explicitly_computable and s.is_set_symbolic_shape()
    assert s.node == g
    assert {repr(c) for c in s.symbolic_size_constraints} == {"0s=3"}
    assert repr(s) == "<g set_shape [3,4] SetSymbolicShape\n  g [0s,4] Symbol " + str(g.uuid) + ">"
    assert rc.SetSymbolicShape.some_set_neq(g, (None, 4)) == g
    assert rc.SetSymbolicShape.some_set_neq(g, (3, None)) == s
    assert rc.SetSymbolicShape.some_set_and_symbolic_neq(g, (3, 9)) == s
    with pytest.raises(rc.TensorEvalNotExplicitlyComputableError):
        rc.SetSymbolicShape(rc.Scalar(1.0, (S[0],)), (3,)).evaluate()
    # expansion removes the pin once the symbol is replaced by a concrete node
    out = rc.replace_expand_bottom_up_dict(
        rc.relu(s, name="r"), {g: rc.Array(randn(3, 4), name="v")}
    )
    assert not any(isinstance(c, rc.SetSymbolicShape) for c in collect(out))
    close(out.evaluate(), np.maximum(randn(3, 4), 0))


def test_set_symbolic_shape_errors():
    with pytest.raises(
        rc.SymbolicSizeSetFactorDoesntDivideSetToError, match="factor=5 doesn't divide set_to=7"
    ):
        rc.SetSymbolicShape(sym((5,), "f"), (7,))
    with pytest.raises(rc.SymbolicSizeSetFailedToSatisfyContraintsError, match="0s=4"):
        rc.SetSymbolicShape(sym((S[0], S[0]), "g"), (3, 4))
    with pytest.raises(rc.SymbolicSizeSetError, match="2 axes but the child has 1"):
        rc.SetSymbolicShape(sym((S[0],), "h"), (3, 4))
    assert rc.SymbolicSizeConstraint.get_new_from(S[0], S[0]) is None
    c = rc.SymbolicSizeConstraint.get_new_from(3, 3 * S[1])
    assert repr(c) == "3*1s=3" and c.l.symbolic_sizes == [1]


# --- printing --------------------------------------------------------------------------------


def test_debug_repr_of_a_module():
    spec = mlp_spec()
    m = rc.Module(spec, name="mlp", **mlp_args(randn(5, 8), randn(16, 8), randn(16)))
    u = {a.symbol.name: a.symbol.uuid for a in spec.arg_specs}
    assert repr(m) == (
        "<mlp [5,16] Module\n"
        "  m.out [0s,16] GeneralFunction relu ...\n"
        f"  X [5,8] Array ! m.input [0s,8] Symbol {u['m.input']}\n"
        f"  W [16,8] Array ! m.w [16,8] Symbol {u['m.w']} ftt\n"
        f"  B [16] Array ! m.b [16] Symbol {u['m.b']}>"
    )


def test_repr_reuses_an_argument_symbol_already_printed():
    a = sym((3,), "a")
    spec = rc.ModuleSpec(rc.relu(a, name="r"), [rc.ModuleArgSpec(a, False, True, False)])
    m = rc.Module(spec, name="m", a=a)
    text = repr(m).split("\n")
    # the argument is the symbol itself: printed in full once, then referenced
    assert text[2] == f"  a [3] Symbol {a.uuid} ! a ftf>"


# --- hashing and equality --------------------------------------------------------------------


def _golden(type_uuid, payload, name, use_autoname=True):
    blake3 = pytest.importorskip("blake3")
    h = blake3.blake3()
    h.update(payload)
    h.update(uuid.UUID(type_uuid).bytes)
    h.update(bytes([name is not None]))
    h.update(b"" if name is None else name.encode("utf-8"))
    h.update(uuid.UUID("025e9af4-1366-4211-aa5f-7c28fc6cdf9f").bytes)
    h.update(bytes([use_autoname]))
    return h.digest()


def test_golden_module_hash():
    a = sym((3,), "a")
    body = rc.relu(a, name="r")
    arg = rc.Scalar(1.0, (3,), "one")
    m = rc.Module(rc.ModuleSpec(body, [rc.ModuleArgSpec(a, True, False, True)]), name="m", a=arg)
    payload = bytes([1, 0, 1]) + a.hash + body.hash + arg.hash
    assert m.hash == _golden("6825f723-f178-4dab-b568-cd85eb6d2bf3", payload, "m")


def test_golden_set_symbolic_shape_hash():
    g = sym((S[0], 4), "g")
    s = rc.SetSymbolicShape(g, (3, 4), "pin")
    payload = struct.pack("<QQ", 3, 4) + g.hash
    assert s.hash == _golden("25332a58-39d6-443d-b225-65c810a09aa4", payload, "pin")


def test_module_hash_and_equality():
    args = mlp_args(randn(5, 8), randn(16, 8), randn(16))
    m1 = rc.Module(mlp_spec(), name="mlp", **args)
    m2 = rc.Module(mlp_spec(), name="mlp", **args)
    assert m1 == m2 and hash(m1) == hash(m2)
    assert m1 != rc.Module(mlp_spec(), name="other", **args)
    spec = mlp_spec()
    flags = [
        (
            rc.ModuleArgSpec(
                a.symbol, a.batchable, a.expandable, not a.ban_non_symbolic_size_expand
            )
            if i == 2
            else a
        )
        for i, a in enumerate(spec.arg_specs)
    ]
    assert m1 != rc.Module(rc.ModuleSpec(spec.circuit, flags), name="mlp", **args)
    assert m1 != rc.Module(
        mlp_spec(), name="mlp", **{**args, "m.b": rc.Array(randn(16, seed=9), name="B")}
    )
    assert m1.rename("renamed").name == "renamed" and m1.rename("renamed").shape == m1.shape
    assert m1.rename("mlp") == m1
    # rebuilding through map_children gives an equal node
    assert m1.map_children(lambda c: c) == m1


# --- errors ----------------------------------------------------------------------------------


def test_error_unknown_and_missing_arguments():
    args = mlp_args(randn(5, 8), randn(16, 8), randn(16))
    with pytest.raises(
        rc.ConstructModuleUnknownArgumentError, match=r"'extra'.*\['m.input', 'm.w', 'm.b'\]"
    ):
        rc.Module(mlp_spec(), extra=rc.Array(randn(3)), **args)
    del args["m.b"]
    with pytest.raises(rc.ConstructModuleMissingNamesError, match=r"missing_arguments=\['m.b'\]"):
        rc.Module(mlp_spec(), **args)


def test_error_spec_checks():
    a = sym((3,), "a")
    with pytest.raises(rc.ConstructModuleSomeArgsNotPresentError, match=r"'a' \[3\]"):
        rc.ModuleSpec(rc.Scalar(1.0, (3,), "body"), [rc.ModuleArgSpec(a)])
    with pytest.raises(rc.ConstructModuleSomeArgsNamedNoneError, match=r"arg 0 \[3\]"):
        rc.ModuleSpec(
            rc.Symbol.new_with_none_uuid((3,)),
            [rc.ModuleArgSpec(rc.Symbol.new_with_none_uuid((3,)))],
        )
    twin = sym((3,), "a", 77)
    with pytest.raises(rc.ConstructModuleArgsDupNamesError, match=r"dup_names=\['a'\]"):
        rc.ModuleSpec(rc.Add(a, twin), [rc.ModuleArgSpec(a), rc.ModuleArgSpec(twin)])
    spec = rc.ModuleSpec(rc.Add(a, a, name="double"), [rc.ModuleArgSpec(a)])
    with pytest.raises(rc.ConstructModuleWrongNumberChildrenError, match="1 arg specs but 2 nodes"):
        rc.Module.new_flat(spec, rc.Scalar(1.0, (3,)), rc.Scalar(1.0, (3,)))
    bad = rc.ModuleArgSpec(a)
    bad.symbol = rc.Scalar(1.0)
    with pytest.raises(rc.ConstructModuleExpectedSymbolError, match="must be a Symbol"):
        rc.Module.new_flat(rc.ModuleSpec(rc.Add(a, a), [bad], False, False), rc.Scalar(1.0, (3,)))
    with pytest.raises(TypeError):
        rc.ModuleArgSpec(rc.Scalar(1.0))
    with pytest.raises(rc.ConstructModulePassedNamePrefixAndUseSelfNameAsPrefixError, match="'mm'"):
        rc.Module(spec, name="mm", a=rc.Scalar(1.0, (3,))).substitute(
            name_prefix="x", use_self_name_as_prefix=True
        )


def test_error_argument_shapes():
    a = sym((3,), "a")
    spec = rc.ModuleSpec(rc.Add(a, a, name="double"), [rc.ModuleArgSpec(a)])
    with pytest.raises(
        rc.ExpandModuleRankReducedError,
        match=r"Module 'mm'.*node_rank=0 < symbol_rank=1.*'a'.*\[\]",
    ):
        rc.Module(spec, name="mm", a=rc.Scalar(1.0, ()))
    with pytest.raises(
        rc.ExpandModuleTriedToExpandOnNonSymbolicSizeAndBannedError,
        match=r"new_size=4 != old_size=3 .*dim=0",
    ):
        rc.Module(spec, name="mm", a=rc.Scalar(1.0, (4,)))
    fixed = rc.ModuleSpec(rc.Add(a, a, name="double"), [rc.ModuleArgSpec(a, expandable=False)])
    with pytest.raises(
        rc.ExpandModuleTriedToExpandUnexpandableInputError, match=r"shape \[4\].*shape \[3\]"
    ):
        rc.Module(fixed, name="mm", a=rc.Scalar(1.0, (4,)))
    unbatched = rc.ModuleSpec(rc.Add(a, a, name="double"), [rc.ModuleArgSpec(a, batchable=False)])
    with pytest.raises(
        rc.ExpandModuleTriedToBatchUnbatchableInputError, match=r"node_rank=2 > symbol_rank=1"
    ):
        rc.Module(unbatched, name="mm", a=rc.Scalar(1.0, (2, 3)))
    loose = rc.ModuleSpec(
        rc.Add(a, a, name="double"), [rc.ModuleArgSpec(a, ban_non_symbolic_size_expand=False)]
    )
    assert rc.Module(loose, a=rc.Scalar(1.0, (4,))).shape == (4,)


def test_error_substitution():
    a3, a4 = sym((3,), "a", 1), sym((4,), "a", 1)
    near = rc.ModuleSpec(
        rc.Add(a3, a3, name="s"), [rc.ModuleArgSpec(a4)], check_all_inputs_used=False
    )
    with pytest.raises(
        rc.SubstitutionFoundNEQFreeSymbolWithSameIdentificationError, match="near miss"
    ):
        rc.Module(near, name="mm", a=rc.Scalar(1.0, (4,)))
    x, y = sym((3,), "x"), sym((3,), "y")
    inner = rc.Module(
        rc.ModuleSpec(rc.Add(x, y, name="xy"), [rc.ModuleArgSpec(y)]),
        name="inner",
        y=rc.Scalar(2.0, (3,), "two"),
    )
    with pytest.raises(
        rc.SubstitutionCircuitHasFreeSymsBoundByNestedModuleError,
        match=r"Module 'outer'.*nested_module=Module 'inner' bound_by_nested=\['y'\]",
    ):
        rc.Module(rc.ModuleSpec(inner, [rc.ModuleArgSpec(x)]), name="outer", x=y)


def test_error_classes_are_rcs():
    assert issubclass(rc.ConstructModuleUnknownArgumentError, rc.ConstructError)
    assert issubclass(rc.ExpandModuleRankReducedError, rc.ExpandError)
    assert issubclass(
        rc.SubstitutionCircuitHasFreeSymsBoundByNestedModuleError, rc.SubstitutionError
    )
    assert issubclass(rc.SymbolicSizeSetFailedToSatisfyContraintsError, OverflowError)


def test_evaluating_a_module_with_a_bad_dtype_mix_fails_at_construction():
    a = sym((3,), "a")
    body = rc.Add(a, rc.Array(np.ones(3, dtype=np.float64), name="f64"), name="mix")
    with pytest.raises(rc.MiscInputChildrenMultipleDtypesError):
        rc.Module(
            rc.ModuleSpec(body, [rc.ModuleArgSpec(a)]), a=rc.Array(np.ones(3, dtype=np.float32))
        )
