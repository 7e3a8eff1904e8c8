"""rc's module algebra (spec 2.10): elim_empty_module, elim_no_input_module,
module_remove_unused_inputs and deep_module_remove_unused_inputs. Values are checked by
evaluating before and after, names exactly, and every error path by type and message."""

import itertools
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
