"""rc's module algebra (spec 2.10): elim_empty_module, elim_no_input_module,
(deep_)module_remove_unused_inputs, module_new_bind and BindItem, extract_symbols(_get),
inline_single_callsite_modules, fuse_concat_modules and strip_names_and_tags. Values are
checked by evaluating before and after, names exactly, and every error path by type and
message."""

import itertools
import os
import uuid

import numpy as np
import pytest

import circuits as rc

P = rc.Parser(module_check_all_inputs_used=False)


def sym(shape, name):
    """A Symbol with a uuid derived from its name."""
    return rc.Symbol(tuple(shape), uuid.uuid5(uuid.NAMESPACE_DNS, name), name)


def arr(*shape, name=None, seed=0):
    return rc.Array(np.random.default_rng(seed).standard_normal(shape), name=name)


def close(a, b):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-6)


def same_value(a, b):
    close(a.evaluate(), b.evaluate())


# --- elim_no_input_module / elim_empty_module ------------------------------------------------


def test_elim_no_input_module_gives_the_body():
    body = rc.Scalar(4.0, (), "inside")
    m = rc.Module.new_flat(rc.ModuleSpec(body, []), name="a")
    assert rc.elim_no_input_module(m) == body
    assert rc.elim_no_input_module(module=m) == body


def test_elim_no_input_module_none_when_the_module_has_arguments():
    (m,) = P.parse_circuits(
        """
        'a' Module
          'inside' [] Scalar 4
          'a.bound' [] Scalar 3 ! 'a.inp' [] Symbol 90e7ce1a-0d52-4845-b42e-82411d6cbf56
        """
    )
    assert rc.elim_no_input_module(m) is None


def test_elim_empty_module_substitutes_a_leaf_body():
    s = sym((3,), "e.x")
    x = arr(2, 3, name="X")
    m = rc.Module.new_flat(rc.ModuleSpec(s, [rc.ModuleArgSpec(s)]), x, name="e")
    assert rc.elim_empty_module(m) == x
    # a leaf body that is not the symbol, with batch axes: rc's "<leaf> rep_batch"
    unused = rc.Module.new_flat(
        rc.ModuleSpec(
            rc.Scalar(1.5, (3,), "one"), [rc.ModuleArgSpec(s)], check_all_inputs_used=False
        ),
        x,
        name="e2",
    )
    out = rc.elim_empty_module(unused)
    assert out.name == "one rep_batch" and out.shape == (2, 3)
    same_value(out, unused)


def test_elim_empty_module_none_when_the_body_has_children():
    s = sym((3,), "e.x")
    body = rc.Add(s, s, name="e.body")
    m = rc.Module.new_flat(rc.ModuleSpec(body, [rc.ModuleArgSpec(s)]), arr(3), name="e")
    assert rc.elim_empty_module(m) is None


@pytest.mark.parametrize(
    "fn", [rc.elim_empty_module, rc.elim_no_input_module, rc.module_remove_unused_inputs]
)
def test_module_functions_reject_other_kinds(fn):
    with pytest.raises(TypeError, match=f"{fn.__name__}: expected Module but got Scalar"):
        fn(rc.Scalar(1.0))
    with pytest.raises(TypeError):
        fn("not a circuit")


# --- module_remove_unused_inputs -------------------------------------------------------------


def test_remove_unused_inputs_names_and_elim():
    inside, removed, m = P.parse_circuits(
        """
        'inside' [] Scalar 4
        0 'a rem_unused' Module
          'inside'
        1 'a' Module
          'inside'
          'a.bound' [] Scalar 3 ! 'a.inp' [] Symbol 90e7ce1a-0d52-4845-b42e-82411d6cbf56
        """
    )
    assert rc.module_remove_unused_inputs(m) == inside
    assert rc.module_remove_unused_inputs(m, use_elim_no_input_module=False) == removed
    kept_name = rc.module_remove_unused_inputs(
        m, add_suffix_on_remove_unused=False, use_elim_no_input_module=False
    )
    assert kept_name.name == "a" and kept_name.is_module() and kept_name.num_children == 1


def test_remove_unused_inputs_restores_batch_axes_of_dropped_arguments():
    (m,) = P.parse_circuits(
        """
        'a' Module
          'inside' [] Scalar 4
          'a.bound' [2, 3] Scalar 3 ! 'a.inp' [] Symbol 90e7ce1a-0d52-4845-b42e-82411d6cbf56
        """
    )
    out = rc.module_remove_unused_inputs(m)
    assert out.is_rearrange() and out.name == "a" and out.shape == (2, 3)
    assert out.children[0].name == "inside"
    assert len(out.get(rc.Matcher.types(rc.Module, rc.Symbol))) == 0
    same_value(out, m)
    kept = rc.module_remove_unused_inputs(m, use_elim_no_input_module=False)
    assert kept.is_rearrange() and kept.name == "a"
    assert kept.children[0].is_module() and kept.children[0].name == "a rem_unused"
    assert len(kept.get(rc.Symbol)) == 0
    same_value(kept, m)


def test_remove_unused_inputs_autonamed_and_unnamed_modules():
    s = sym((), "a.inp")
    spec = rc.ModuleSpec(
        rc.Scalar(4.0, (), "inside"), [rc.ModuleArgSpec(s)], check_all_inputs_used=False
    )
    m = rc.Module.new_flat(spec, rc.Scalar(3.0, (2,), "bound"))
    assert m.name == "inside(bound)"
    out = rc.module_remove_unused_inputs(m, use_elim_no_input_module=False)
    assert out.is_rearrange() and out.name == "inside(bound)"
    assert out.children[0].is_module() and out.children[0].name == "inside(bound) rem_unused"
    same_value(out, m)
    # an unnamed argument leaves the module without a name: the new nodes take automatic names
    unnamed = rc.Module.new_flat(spec, rc.Scalar(3.0, (2,)))
    assert unnamed.name == ""
    out = rc.module_remove_unused_inputs(unnamed, use_elim_no_input_module=False)
    assert out.is_rearrange() and out.name == "inside() rearrange"
    assert out.children[0].name == "inside()"
    same_value(out, unnamed)


def test_remove_unused_inputs_all_used_is_unchanged():
    (m,) = P.parse_circuits(
        """
        'a' Module
          'stuff' Add
            'a.inp' [] Symbol 90e7ce1a-0d52-4845-b42e-82411d6cbf56
            'other' [3] Scalar 5
          'a.bound' [2, 3] Scalar 3 ! 'a.inp'
        """
    )
    assert rc.module_remove_unused_inputs(m) is not None
    assert rc.module_remove_unused_inputs(m, use_elim_no_input_module=True) == m
    assert rc.module_remove_unused_inputs(m, use_elim_no_input_module=False) == m


def test_remove_unused_inputs_rightmost_binding_of_a_repeated_symbol_wins():
    s = sym((3,), "r.x")
    specs = [rc.ModuleArgSpec(s), rc.ModuleArgSpec(s)]
    spec = rc.ModuleSpec(rc.Add(s, s, name="r.body"), specs, False, check_unique_arg_names=False)
    m = rc.Module.new_flat(spec, arr(3, name="first"), arr(3, name="second", seed=1), name="r")
    out = rc.module_remove_unused_inputs(m)
    assert out.is_module() and out.name == "r rem_unused"
    assert [c.name for c in out.children[1:]] == ["second"]
    same_value(out, m)


def batched_unused_module(ub0, ub1, b0, b1, b2):
    """A module with two unused and three used arguments, each with the given batch axes."""
    gen = iter(range(100))
    a = lambda *shape: arr(*shape, seed=next(gen))  # noqa: E731
    bound0, bound1 = sym((4,), "a.inp_bound0"), sym((), "a.inp_bound1")
    bound2 = sym((4, 5), "a.inp_bound2")
    unbound0, unbound1 = sym((), "a.inp_unbound0"), sym((6, 7), "a.inp_unbound1")
    body = rc.Einsum.from_einsum_string("i,i,,ij->i", bound0, a(4), bound1, bound2, name="a.body")
    specs = [rc.ModuleArgSpec(x) for x in (unbound0, bound0, unbound1, bound1, bound2)]
    spec = rc.ModuleSpec(body, specs, check_all_inputs_used=False)
    args = [a(*ub0), a(*b0, 4), a(*ub1, 6, 7), a(*b1), a(*b2, 4, 5)]
    return rc.Module.new_flat(spec, *args, name="a")


BATCH_CASES = [
    {},
    {"ub0": (2,)},
    {"ub1": (2,)},
    {"ub0": (2,), "ub1": (2,)},
    {"ub0": (3, 2), "ub1": (2,)},
    {"ub0": (2,), "ub1": (4, 3, 2)},
    {"b0": (2,)},
    {"b1": (2,)},
    {"b2": (2,)},
    {"b0": (3, 2), "b1": (2,)},
    {"b0": (2,), "b1": (4, 3, 2)},
    {"b0": (2,), "b1": (4, 3, 2), "ub0": (2,), "ub1": (4, 3, 2)},
    {"b0": (2,), "b1": (3, 2), "b2": (2,), "ub0": (4, 3, 2), "ub1": (2,)},
    {"b0": (2,), "b1": (3, 2), "b2": (2,), "ub0": (2,), "ub1": (4, 3, 2)},
]


@pytest.mark.parametrize("case", BATCH_CASES)
def test_remove_unused_inputs_with_batching(case):
    kw = {k: case.get(k, ()) for k in ("ub0", "ub1", "b0", "b1", "b2")}
    m = batched_unused_module(**kw)
    out = rc.module_remove_unused_inputs(m)
    assert out == rc.module_remove_unused_inputs(m, use_elim_no_input_module=False)
    assert len(out.get(rc.Symbol)) == 3
    assert out.shape == m.shape
    same_value(out, m)
    used_batch = max(len(kw["b0"]), len(kw["b1"]), len(kw["b2"]))
    if len(m.shape) - 1 > used_batch:
        assert out.is_rearrange() and out.name == "a"
        assert out.children[0].name == "a rem_unused"
    else:
        assert out.is_module() and out.name == "a rem_unused"


# --- deep_module_remove_unused_inputs --------------------------------------------------------


def nested_unused():
    """outer(inner(...)) where each module binds one used and one unused argument."""
    x, y = sym((3,), "in.x"), sym((3,), "in.y")
    inner_spec = rc.ModuleSpec(
        rc.Add(x, x, name="in.body"),
        [rc.ModuleArgSpec(x), rc.ModuleArgSpec(y)],
        check_all_inputs_used=False,
    )
    u, v = sym((3,), "out.u"), sym((2,), "out.v")
    inner = rc.Module.new_flat(inner_spec, u, arr(3, name="Y"), name="inner")
    outer_spec = rc.ModuleSpec(
        rc.Einsum.from_einsum_string("i,i->i", inner, u, name="out.body"),
        [rc.ModuleArgSpec(u), rc.ModuleArgSpec(v)],
        check_all_inputs_used=False,
    )
    outer = rc.Module.new_flat(
        outer_spec, arr(3, name="U", seed=1), arr(5, 2, name="V", seed=2), name="outer"
    )
    return rc.Add(outer, rc.Scalar(1.0, (5, 3), "one"), name="top")


def test_deep_remove_unused_inputs_every_module():
    c = nested_unused()
    out = rc.deep_module_remove_unused_inputs(c)
    same_value(out, c)
    assert out.name == "top"
    names = sorted(m.name for m in out.get(rc.Module))
    assert names == ["inner rem_unused", "outer rem_unused"]
    for m in out.get(rc.Module):
        assert m.num_children == 2
    # the outer module's batch axis came only from the dropped V
    assert out.children[0].is_rearrange() and out.children[0].name == "outer"
    plain = rc.deep_module_remove_unused_inputs(c, add_suffix_on_remove_unused=False)
    assert sorted(m.name for m in plain.get(rc.Module)) == ["inner", "outer"]
    same_value(plain, c)


def test_deep_remove_unused_inputs_elim_no_input_and_elim_empty():
    s = sym((3,), "e.x")
    leaf_mod = rc.Module.new_flat(
        rc.ModuleSpec(s, [rc.ModuleArgSpec(s)]), arr(3, name="X"), name="leaf"
    )
    z_add = rc.Add(arr(3, name="Z", seed=3), name="z.add")
    no_input = rc.Module.new_flat(rc.ModuleSpec(z_add, []), name="noin")
    c = rc.Add(leaf_mod, no_input, name="top")
    out = rc.deep_module_remove_unused_inputs(c)
    assert [ch.name for ch in out.children] == ["leaf", "z.add"]
    kept = rc.deep_module_remove_unused_inputs(c, use_elim_no_input_module=False)
    assert kept == c
    emptied = rc.deep_module_remove_unused_inputs(c, elim_empty=True)
    assert [ch.name for ch in emptied.children] == ["X", "z.add"]
    for x in (out, emptied):
        same_value(x, c)


def test_deep_remove_unused_inputs_without_modules_is_identity():
    c = rc.Add(arr(3, name="a"), arr(3, name="b", seed=1), name="s")
    assert rc.deep_module_remove_unused_inputs(c) == c
    with pytest.raises(TypeError):
        rc.deep_module_remove_unused_inputs(3)


@pytest.mark.parametrize(
    "add_suffix,elim_no_input,elim_empty", list(itertools.product([False, True], repeat=3))
)
def test_deep_remove_unused_inputs_keeps_values(add_suffix, elim_no_input, elim_empty):
    c = nested_unused()
    out = rc.deep_module_remove_unused_inputs(c, add_suffix, elim_no_input, elim_empty)
    same_value(out, c)
    assert all(all(m.cast_module().spec.are_args_used()) for m in out.get(rc.Module))


# --- module_new_bind and BindItem ------------------------------------------------------------


def bind_body():
    """relu(x w) + b with a symbolic-free body: x [3], w [3, 4], b [4]."""
    x, w, b = sym((3,), "b.input"), sym((3, 4), "b.w.proj"), sym((4,), "b.w.bias")
    pre = rc.Einsum.from_einsum_string("i,ij->j", x, w, name="b.pre")
    return rc.Add(rc.relu(pre, name="b.act"), b, name="b.out")


def bind_values():
    xs = np.random.default_rng(0).standard_normal((2, 3))
    w = np.random.default_rng(1).standard_normal((3, 4))
    b = np.random.default_rng(2).standard_normal(4)
    return xs, w, b


def test_module_new_bind_binds_by_name_and_evaluates():
    xs, w, b = bind_values()
    X, W, B = rc.Array(xs, name="X"), rc.Array(w, name="W"), rc.Array(b, name="B")
    weights = {"b.w.proj": W, "b.w.bias": B}
    bound = rc.module_new_bind(bind_body(), *weights.items(), name="t.bind_w")
    assert bound.is_module() and bound.name == "t.bind_w"
    assert [s.symbol.name for s in bound.spec.arg_specs] == ["b.w.proj", "b.w.bias"]
    assert [c.name for c in bound.children[1:]] == ["W", "B"]
    assert bound.shape == (4,)
    call = rc.module_new_bind(bound, ("b.input", X), name="b0.call")
    assert call.name == "b0.call" and call.shape == (2, 4)
    close(call.evaluate(), np.maximum(xs @ w, 0) + b)
    spec = bound.spec
    for s in spec.arg_specs:
        assert s.batchable and s.expandable and s.ban_non_symbolic_size_expand


def test_module_new_bind_with_bind_items_and_automatic_name():
    xs, w, b = bind_values()
    X, W, B = rc.Array(xs, name="X"), rc.Array(w, name="W"), rc.Array(b, name="B")
    m = rc.module_new_bind(
        bind_body(),
        rc.BindItem("b.input", X),
        rc.BindItem(rc.Matcher("b.w.proj"), W, batchable=False, expandable=False),
        rc.BindItem(rc.IterativeMatcher("b.w.bias"), B, ban_non_symbolic_size_expand=False),
    )
    assert m.name == "b.out(X, W, B)"
    flags = [(s.batchable, s.expandable, s.ban_non_symbolic_size_expand) for s in m.spec.arg_specs]
    assert flags == [(True, True, True), (False, False, True), (True, True, False)]
    close(m.evaluate(), np.maximum(xs @ w, 0) + b)
    # the flags are enforced: W is not batchable
    with pytest.raises(rc.ExpandModuleTriedToBatchUnbatchableInputError):
        rc.module_new_bind(
            bind_body(), rc.BindItem("b.w.proj", rc.Array(np.zeros((2, 3, 4))), batchable=False)
        )


def test_module_new_bind_check_unique_arg_names():
    a, a2 = sym((3,), "dup"), rc.Symbol((3,), uuid.uuid4(), "dup")
    body = rc.Add(a, a2, name="two")
    with pytest.raises(rc.ConstructModuleArgsDupNamesError, match="dup_names=\\['dup'\\]"):
        rc.module_new_bind(body, (rc.Matcher(a), arr(3)), (rc.Matcher(a2), arr(3)))
    m = rc.module_new_bind(
        body,
        (rc.Matcher(a), arr(3)),
        (rc.Matcher(a2), arr(3, seed=1)),
        check_unique_arg_names=False,
    )
    close(m.evaluate(), arr(3).evaluate() + arr(3, seed=1).evaluate())


def test_module_new_bind_errors():
    body = bind_body()
    W = arr(3, 4, name="W")
    with pytest.raises(
        RuntimeError,
        match="failed to get unique for binder 0 in bind: matcher='nope' in spec circuit "
        "'b.out' Add \\[4\\]: found no matches!",
    ):
        rc.module_new_bind(body, ("nope", W))
    with pytest.raises(
        RuntimeError,
        match="binder 1 in bind: matcher=Regex.* in spec circuit 'b.out' Add \\[4\\]: found 2 "
        "matches which is > 1: 'b.w.bias' Symbol \\[4\\], 'b.w.proj' Symbol \\[3, 4\\]$",
    ):
        rc.module_new_bind(body, ("b.input", arr(3)), (rc.Matcher.regex("^b\\.w\\."), W))
    with pytest.raises(
        rc.ModuleBindExpectedSymbolError,
        match="expected to match symbol, matched_circuit='b.pre' Einsum \\[4\\] for binder 0, "
        "matcher='b.pre'",
    ):
        rc.module_new_bind(body, ("b.pre", W))
    assert issubclass(rc.ModuleBindExpectedSymbolError, rc.ModuleBindError)
    assert issubclass(rc.ModuleBindError, RuntimeError)
    with pytest.raises(rc.ConstructModuleSomeArgsNotPresentError, match="'b.w.proj'"):
        rc.module_new_bind(body, ("b.w.proj", W), ("b.w.proj", W))
    with pytest.raises(
        TypeError, match="binder 0 must be a \\(matcher, circuit\\) tuple or a BindItem, not int"
    ):
        rc.module_new_bind(body, 3)
    with pytest.raises(TypeError, match="binder 0 must be a"):
        rc.module_new_bind(body, ("b.w.proj", W, W))
    with pytest.raises(TypeError, match="module_new_bind binder circuit must be a Circuit, not st"):
        rc.module_new_bind(body, ("b.w.proj", "W"))
    with pytest.raises(TypeError, match="module_new_bind spec_circuit must be a Circuit"):
        rc.module_new_bind(None, ("b.w.proj", W))
    with pytest.raises(TypeError, match="name must be a str or None"):
        rc.module_new_bind(body, ("b.w.proj", W), name=3)
    with pytest.raises(TypeError):
        rc.module_new_bind(body, ("b.w.proj", W), bogus=True)
    with pytest.raises(rc.ExpandModuleRankReducedError):
        rc.module_new_bind(body, ("b.w.proj", arr(4)))


def test_module_new_bind_without_binders_and_by_keyword():
    body = bind_body()
    m = rc.module_new_bind(spec_circuit=body, check_unique_arg_names=False, name="free")
    assert m.is_module() and m.num_children == 1 and m.name == "free"
    assert rc.elim_no_input_module(m) == body


def test_bind_item_attributes():
    W = arr(3, 4, name="W")
    item = rc.BindItem("b.w.proj", W)
    assert isinstance(item.matcher, rc.IterativeMatcher)
    assert item.matcher == rc.IterativeMatcher("b.w.proj")
    assert item.input_circuit == W
    assert (item.batchable, item.expandable, item.ban_non_symbolic_size_expand) == (True,) * 3
    assert repr(item) == (
        "BindItem(matcher=IterativeMatcher('b.w.proj'), input_circuit=<W [3,4] Array>, "
        "batchable=True, expandable=True, ban_non_symbolic_size_expand=True)"
    )
    item.matcher = {"b.w.bias"}
    assert isinstance(item.matcher, rc.IterativeMatcher)
    it = rc.IterativeMatcher("x")
    item.matcher = it
    assert item.matcher is it
    item.input_circuit = arr(4, name="B")
    item.batchable = False
    item.matcher = "b.w.bias"
    m = rc.module_new_bind(bind_body(), item, ("b.input", arr(3)), ("b.w.proj", W))
    assert not m.spec.arg_specs[0].batchable
    assert m.children[1].name == "B"
    with pytest.raises(TypeError):
        item.matcher = 3.5
    with pytest.raises(TypeError, match="BindItem input_circuit must be a Circuit"):
        item.input_circuit = "x"
    with pytest.raises(TypeError, match="BindItem input_circuit must be a Circuit"):
        rc.BindItem("a", 3)
    with pytest.raises(TypeError):
        rc.BindItem(3.5, W)
    with pytest.raises(AttributeError):
        del item.matcher


# --- extract_symbols -------------------------------------------------------------------------


def two_modules_binding(sym_name="sym", first=73.5, second=28.25, flags=(True, True)):
    """add(a, b): two modules over the same bare-symbol body binding `sym` to Scalars."""
    s = sym((), sym_name)
    a = rc.Module.new_flat(
        rc.ModuleSpec(s, [rc.ModuleArgSpec(s, batchable=flags[0])]),
        rc.Scalar(first, (), "b.arg"),
        name="a",
    )
    b = rc.Module.new_flat(
        rc.ModuleSpec(s, [rc.ModuleArgSpec(s, batchable=flags[1])]),
        rc.Scalar(second, (), "a.arg"),
        name="b",
    )
    return s, rc.Add(a, b, name="add")


def test_extract_symbols_moves_bindings_to_one_outer_module():
    s, c = two_modules_binding(second=73.5)
    c = c.update("a.arg", lambda x: x.rename("b.arg"))
    out = rc.extract_symbols(c, {s})
    assert out.is_module() and out.name == "add"
    assert [sp.symbol for sp in out.spec.arg_specs] == [s]
    assert [ch.name for ch in out.children[1:]] == ["b.arg"]
    # both modules lost their only argument and became their bodies
    assert out.children[0] == rc.Add(s, s, name="add")
    same_value(out, c)
    kept = rc.extract_symbols(c, {s}, use_elim_no_input_modules=False)
    assert sorted(m.name for m in kept.children[0].children) == ["a extracted", "b extracted"]
    assert all(m.num_children == 1 for m in kept.children[0].children)
    same_value(kept, c)
    assert rc.extract_symbols_get(c, "sym") == out
    assert rc.extract_symbols(c, [s], True, False) == out


def test_extract_symbols_with_traversal():
    s, c = two_modules_binding()
    out = rc.extract_symbols_get(c, "sym", traversal=rc.new_traversal(term_early_at="a"))
    assert out.get_unique("a") == c.get_unique("a")
    assert [ch.name for ch in out.children[1:]] == ["a.arg"]
    same_value(out, c)
    with pytest.raises(
        rc.ExtractSymbolsBoundInputInconsistentError,
        match="for symbol='sym' Symbol \\[\\] old_bound='b.arg' Scalar \\[\\] != "
        "new_bound='a.arg' Scalar \\[\\]",
    ):
        rc.extract_symbols_get(c, "sym")


def test_extract_symbols_arg_spec_inconsistent():
    _, c = two_modules_binding(second=73.5, flags=(True, False))
    c = c.update("a.arg", lambda x: x.rename("b.arg"))
    with pytest.raises(
        rc.ExtractSymbolsArgSpecInconsistentError,
        match="old_arg_spec=ModuleArgSpec\\(symbol='sym' Symbol \\[\\], batchable=True, "
        "expandable=True, ban_non_symbolic_size_expand=True\\) != new_arg_spec=ModuleArgSpec\\("
        "symbol='sym' Symbol \\[\\], batchable=False,",
    ):
        rc.extract_symbols_get(c, "sym")


def test_extract_symbols_orders_by_symbol_name_and_keeps_unextracted_args():
    p, q, r = sym((3,), "z.p"), sym((3,), "a.q"), sym((3,), "m.r")
    body = rc.Einsum.from_einsum_string("i,i,i->i", p, q, r, name="body")
    m = rc.Module.new_flat(
        rc.ModuleSpec(body, [rc.ModuleArgSpec(x) for x in (p, q, r)]),
        arr(3, name="P"),
        arr(3, name="Q", seed=1),
        arr(3, name="R", seed=2),
        name="m",
    )
    top = rc.Add(m, arr(3, name="other", seed=3), name="top")
    out = rc.extract_symbols(top, {p, q})
    assert out.name == "top"
    assert [sp.symbol.name for sp in out.spec.arg_specs] == ["a.q", "z.p"]
    assert [ch.name for ch in out.children[1:]] == ["Q", "P"]
    inner = out.children[0].children[0]
    assert inner.is_module() and inner.name == "m extracted"
    assert [ch.name for ch in inner.children[1:]] == ["R"]
    same_value(out, top)
    # a symbol bound nowhere gives a module binding nothing
    none = rc.extract_symbols(top, {sym((3,), "unbound")})
    assert none.is_module() and none.num_children == 1 and none.children[0] == top
    assert rc.extract_symbols(top, set()).children[0] == top


def test_extract_symbols_from_nested_batched_modules():
    from test_module import complex_modules

    for case in [{}, {"bi0": (3,)}, {"bi1": (3, 7)}, {"bo0": (4,)}, {"bi0": (3,), "bo1": (6, 4)}]:
        kw = {"bi0": (), "bi1": (), "bo0": (), "bo1": ()}
        kw.update(case)
        for separate in (False, True):
            _, inner_call, outer, _ = complex_modules(**kw, separate=separate)
            expected = outer.evaluate()
            if kw["bi1"] == ():
                (s1,) = [a.symbol for a in inner_call.spec.arg_specs if a.symbol.name.endswith("1")]
                out = rc.extract_symbols(outer, {s1})
                assert out == rc.extract_symbols_get(outer, "inner.sym_arg1")
                assert out.name == "outer" and out.children[1].name == "inner.rand1"
                close(out.evaluate(), expected)
            else:
                with pytest.raises(
                    rc.ExtractSymbolsBatchedInputError,
                    match="node_ndim=4>symbol_ndim=2 which implies batching\n.*\nIf you want "
                    "this to be done automatically, pass conform_batch_if_needed=True.\n"
                    "symbol='inner.sym_arg1' Symbol \\[3, 4s\\] node='inner.rand1' Array "
                    "\\[3, 7, 3, 5\\]",
                ):
                    rc.extract_symbols_get(outer, "inner.sym_arg1")
                out = rc.extract_symbols_get(outer, "inner.sym_arg1", conform_batch_if_needed=True)
                assert out.children[1].shape == (3, 7, 3, 5)
                close(out.evaluate(), expected)
            if kw["bi0"] == ():
                with pytest.raises(
                    rc.ExtractSymbolsHasBindingsFromOuterModuleError,
                    match="the bound_input='inner.apply_inner' Einsum \\[7, 5\\] \\(for symbol="
                    "'inner.sym_arg0' Symbol \\[0s, 4s\\]\\) contains free_outer_symbols="
                    "\\['outer.sym_arg0' Symbol \\[7, 4s\\]\\] which is bound by an outer module",
                ):
                    rc.extract_symbols_get(outer, "inner.sym_arg0")
            outer_syms = {"outer.sym_arg0", "outer.sym_arg1"}
            conform = kw["bo0"] != () or kw["bo1"] != ()
            out = rc.extract_symbols_get(outer, outer_syms, conform_batch_if_needed=conform)
            assert [a.symbol.name for a in out.spec.arg_specs] == sorted(outer_syms)
            assert len(out.get(rc.Module)) == 2  # the emptied outer module became its body
            close(out.evaluate(), expected)


def test_extract_symbols_argument_errors():
    s, c = two_modules_binding()
    with pytest.raises(
        rc.ExtractSymbolsGetFoundNonSymbolError, match="non-symbol='a' Module \\[\\] \\(get='a'\\)"
    ):
        rc.extract_symbols_get(c, "a")
    assert issubclass(rc.ExtractSymbolsGetFoundNonSymbolError, rc.ExtractSymbolsError)
    assert issubclass(rc.ExtractSymbolsError, ValueError)
    with pytest.raises(TypeError, match="extract_symbols: symbols must be Symbols, not Scalar"):
        rc.extract_symbols(c, {rc.Scalar(1.0)})
    with pytest.raises(TypeError, match="extract_symbols symbol must be a Circuit"):
        rc.extract_symbols(c, {"sym"})
    with pytest.raises(TypeError, match="symbols must be a set of Symbols"):
        rc.extract_symbols(c, 3)
    with pytest.raises(TypeError, match="extract_symbols circuit must be a Circuit"):
        rc.extract_symbols(None, {s})
    with pytest.raises(TypeError, match="extract_symbols_get circuit must be a Circuit"):
        rc.extract_symbols_get(None, "sym")
    with pytest.raises(TypeError):
        rc.extract_symbols_get(c, 3.5)
    with pytest.raises(TypeError):
        rc.extract_symbols_get(c, "sym", traversal=3.5)


# --- inline_single_callsite_modules ----------------------------------------------------------


def test_inline_single_callsite_modules():
    x = sym((3,), "f.x")
    spec = rc.ModuleSpec(rc.Add(x, x, name="f.body"), [rc.ModuleArgSpec(x)])
    f1 = rc.Module.new_flat(spec, arr(3, name="A"), name="f1")
    f2 = rc.Module.new_flat(spec, arr(3, name="B", seed=1), name="f2")
    y = sym((3,), "g.y")
    g_body = rc.Einsum.from_einsum_string("i,i->i", y, y, name="g.body")
    g = rc.Module.new_flat(rc.ModuleSpec(g_body, [rc.ModuleArgSpec(y)]), f1, name="g")
    c = rc.Add(g, f2, f1, name="top")
    out = rc.inline_single_callsite_modules(c)
    same_value(out, c)
    # f's spec has two call sites (f1, f2) and stays; g's has one and is substituted
    assert sorted(m.name for m in out.get(rc.Module)) == ["f1", "f2"]
    assert out.children[0].name == "g" and out.children[0].is_einsum()
    # the same module node used twice is one call site
    h = rc.Add(f1, f1, name="twice")
    inlined = rc.inline_single_callsite_modules(h)
    assert inlined.children[0] == inlined.children[1] == f1.substitute()
    assert len(inlined.get(rc.Module)) == 0
    same_value(inlined, h)
    plain = rc.Add(arr(3), name="plain")
    assert rc.inline_single_callsite_modules(plain) == plain
    assert rc.inline_single_callsite_modules(f1) == f1.substitute()
    with pytest.raises(TypeError, match="inline_single_callsite_modules circuit must be a Circuit"):
        rc.inline_single_callsite_modules(3)


# --- fuse_concat_modules ---------------------------------------------------------------------


def fuse_setup(batch_b2=2):
    """Three calls of one bilinear-MLP spec: b0 and b1 unbatched, b2 batched over every arg."""
    inp, proj_in, proj_out = sym((3,), "bl.input"), sym((6, 3), "bl.in"), sym((11, 3), "bl.out")
    pre = rc.Einsum.from_einsum_string("i,hi->h", inp, proj_in, name="bl.pre")
    folded = rc.Rearrange(pre, rc.RearrangeSpec.from_string("(a:2 b) -> a:2 b"), name="bl.fold")
    body = rc.Einsum.from_einsum_string("dh,oh->o", folded, proj_out, name="bl")
    spec = rc.ModuleSpec(body, [rc.ModuleArgSpec(s) for s in (inp, proj_in, proj_out)])
    w_in, w_out = arr(6, 3, name="W_in", seed=10), arr(11, 3, name="W_out", seed=11)
    b0 = rc.Module.new_flat(spec, arr(3, name="x0"), w_in, w_out, name="b0")
    b1 = rc.Module.new_flat(spec, arr(3, name="x1", seed=1), w_in, w_out, name="b1")
    b2 = rc.Module.new_flat(
        spec,
        arr(batch_b2, 3, name="x2", seed=2),
        arr(batch_b2, 6, 3, name="W_in2", seed=12),
        arr(batch_b2, 11, 3, name="W_out2", seed=13),
        name="b2",
    )
    return spec, b0, b1, b2


def test_fuse_concat_modules_values_and_structure():
    spec, b0, b1, b2 = fuse_setup()
    c = rc.Add(b0, b1, b2, name="top")
    fused = rc.fuse_concat_modules(c, [b0, b1])
    close(fused.evaluate(), c.evaluate())
    mods = fused.get(rc.Module)
    assert len(mods) == 2 and b2 in mods
    (m,) = [x for x in mods if x != b2]
    assert m.shape == (2, 11) and m.spec.circuit == spec.circuit
    assert [ch.is_concat() for ch in m.children[1:]] == [True] * 3
    first, second = fused.children[0], fused.children[1]
    assert first.shape == (11,) and first.is_rearrange() and first.children[0].is_index()
    all3 = rc.fuse_concat_modules(c, [b0, b1, b2], name="fused")
    close(all3.evaluate(), c.evaluate())
    (m3,) = all3.get(rc.Module)
    assert m3.name == "fused" and m3.shape == (4, 11)
    assert all3.children[2].shape == (2, 11) and all3.children[2].is_index()


def test_fuse_concat_modules_unbatchable_args_must_agree():
    x, w = sym((3,), "u.x"), sym((3,), "u.w")
    spec = rc.ModuleSpec(
        rc.Einsum.from_einsum_string("i,i->i", x, w, name="u.body"),
        [rc.ModuleArgSpec(x), rc.ModuleArgSpec(w, batchable=False)],
    )
    W = arr(3, name="W", seed=5)
    m0 = rc.Module.new_flat(spec, arr(3, name="x0"), W, name="m0")
    m1 = rc.Module.new_flat(spec, arr(3, name="x1", seed=1), W, name="m1")
    c = rc.Concat(m0, m1, axis=0, name="cat")
    fused = rc.fuse_concat_modules(c, [m0, m1])
    close(fused.evaluate(), c.evaluate())
    (m,) = fused.get(rc.Module)
    assert m.children[2] == W
    m2 = rc.Module.new_flat(spec, arr(3, name="x2", seed=2), arr(3, name="W2"), name="m2")
    with pytest.raises(
        RuntimeError,
        match="fuse_concat_modules: all inputs must be batchable or have the same child on all "
        "inputs \\(argument 1 is not batchable and module 1 binds another child\\)",
    ):
        rc.fuse_concat_modules(rc.Add(m0, m2), [m0, m2])


def test_fuse_concat_modules_errors():
    spec, b0, b1, b2 = fuse_setup()
    with pytest.raises(RuntimeError, match="fuse_concat_modules: no modules specified"):
        rc.fuse_concat_modules(b0, [])
    unbatchable = [rc.ModuleArgSpec(s.symbol, batchable=False) for s in spec.arg_specs]
    other = rc.Module.new_flat(
        rc.ModuleSpec(spec.circuit, unbatchable), *b0.children[1:], name="other"
    )
    with pytest.raises(
        RuntimeError,
        match="the modules do not all have the same ModuleSpec \\(module 1 differs from "
        "module 0\\)",
    ):
        rc.fuse_concat_modules(rc.Add(b0, other), [b0, other])
    deep = rc.Module.new_flat(spec, arr(2, 2, 3, name="xx"), *b0.children[2:], name="deep")
    with pytest.raises(RuntimeError, match="module 1 has batch rank 2 > 1"):
        rc.fuse_concat_modules(rc.Add(b0, deep), [b0, deep])
    with pytest.raises(TypeError, match="modules\\[0\\]: expected Module but got Add"):
        rc.fuse_concat_modules(b0, [rc.Add(b0)])
    with pytest.raises(TypeError, match="fuse_concat_modules circuit must be a Circuit"):
        rc.fuse_concat_modules(None, [b0])
    with pytest.raises(TypeError):
        rc.fuse_concat_modules(b0, [b0], name=3)


# --- strip_names_and_tags --------------------------------------------------------------------


def test_strip_names_and_tags_rc_example():
    (c,) = rc.Parser().parse_circuits(
        """
        'tag' Tag 2184e144-2726-4326-9452-f19041a101bb
          'hi' Add
            'ho' [2,2] Scalar 1
            'weee' [2,2] Symbol
        """
    )
    assert rc.strip_names_and_tags(c).repr() == (
        "0 Add\n"
        "  1 [2,2] Scalar 1\n"
        "  2 Tag 00000000-0000-0000-0000-000000000000\n"
        "    'weee' [2,2] Symbol"
    )


def test_strip_names_and_tags_keeps_values_and_module_symbols():
    m = rc.module_new_bind(
        bind_body(),
        ("b.input", arr(2, 3, name="X")),
        ("b.w.proj", arr(3, 4, name="W", seed=1)),
        ("b.w.bias", arr(4, name="B", seed=2)),
        name="call",
    )
    c = rc.Tag(rc.Add(m, arr(2, 4, name="R", seed=3), name="top"), uuid.uuid4(), name="t")
    out = rc.strip_names_and_tags(c)
    same_value(out, c)
    assert out.name == "" and out.is_add()
    assert len(out.get(rc.Tag)) == len(out.get(rc.Matcher.types(rc.Array, rc.Symbol)))
    for tag in out.get(rc.Tag):
        assert tag.name == "" and tag.uuid == uuid.UUID(int=0)
        assert tag.node.name in {"X", "W", "B", "R", "b.input", "b.w.proj", "b.w.bias"}
    (mod,) = out.get(rc.Module)
    assert mod.name == ""
    assert [s.symbol.name for s in mod.spec.arg_specs] == ["b.input", "b.w.proj", "b.w.bias"]
    unnamed = rc.Add(rc.Array(np.ones(2)), rc.Scalar(1.0, (2,)))
    assert rc.strip_names_and_tags(unnamed) == unnamed
    named = rc.Add(rc.Array(np.ones(2)), rc.Scalar(1.0, (2,), "one"), name="x")
    assert rc.strip_names_and_tags(named) == rc.Add(*unnamed.children)
    assert rc.strip_names_and_tags(named).name == ""
    with pytest.raises(TypeError, match="strip_names_and_tags node must be a Circuit"):
        rc.strip_names_and_tags("x")


# --- memory ----------------------------------------------------------------------------------


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc/self/statm")
def test_module_algebra_does_not_leak():
    if "libasan" in os.environ.get("LD_PRELOAD", ""):
        pytest.skip("AddressSanitizer's quarantine keeps freed memory resident")
    from test_leaks import MB, growth_after_warmup

    from test_module import complex_modules

    _, _, outer, _ = complex_modules(bi1=(3,))
    s, two = two_modules_binding()
    spec, b0, b1, b2 = fuse_setup()
    fuse_circ = rc.Add(b0, b1, b2, name="top")
    unused = batched_unused_module((2,), (3, 2), (2,), (), (2,))

    def step(i):
        rc.deep_module_remove_unused_inputs(rc.Add(unused, unused.rename("u2")), elim_empty=True)
        rc.module_remove_unused_inputs(unused, use_elim_no_input_module=False)
        m = rc.module_new_bind(bind_body(), ("b.w.proj", arr(3, 4)), rc.BindItem("b.w.bias", arr(4)))
        rc.module_new_bind(m, ("b.input", arr(2, 3)), name="call")
        with pytest.raises(RuntimeError):
            rc.module_new_bind(bind_body(), ("nope", arr(3)))
        rc.extract_symbols_get(outer, "inner.sym_arg1", conform_batch_if_needed=True)
        rc.extract_symbols_get(two, "sym", traversal=rc.new_traversal(term_early_at="a"))
        with pytest.raises(rc.ExtractSymbolsBoundInputInconsistentError):
            rc.extract_symbols_get(two, "sym")
        with pytest.raises(rc.ExtractSymbolsBatchedInputError):
            rc.extract_symbols_get(outer, "inner.sym_arg1")
        rc.inline_single_callsite_modules(fuse_circ)
        rc.fuse_concat_modules(fuse_circ, [b0, b1, b2])
        rc.strip_names_and_tags(fuse_circ)

    growth = growth_after_warmup(step, 50, 500)
    assert growth < 20 * MB, f"resident memory grew by {growth / MB:.1f} MB"
