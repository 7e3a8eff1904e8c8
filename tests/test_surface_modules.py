"""rc's small Python modules (optional, py_utils, module_utils, scope_manager, cum_algo) and
the typing names."""

import itertools
import typing

import numpy as np
import pytest

import circuits as rc
import circuits.cum_algo as cum_algo
import circuits.module_utils as module_utils
import circuits.optional as op
from circuits.py_utils import FrozenDict, I, S, assert_never, check_cast, timed
from circuits.scope_manager import ScopeGlobalTraversal, ScopeManager, ScopeMatcher

# --- optional ------------------------------------------------------------------------------------


def test_optional():
    assert list(op.it(None)) == [] and list(op.it(3)) == [3]
    assert op.map(None, str) is None and op.map(3, str) == "3"
    assert op.unwrap(0) == 0
    with pytest.raises(AssertionError, match="needed"):
        op.unwrap(None, "needed")
    assert op.unwrap_or(None, 5) == 5 and op.unwrap_or(0, 5) == 0
    calls = []
    assert op.unwrap_or_else(1, lambda: calls.append(1)) == 1 and calls == []
    assert op.unwrap_or_else(None, lambda: 7) == 7
    assert op.or_y(None, 2) == 2 and op.or_y(1, 2) == 1 and op.or_y(None, None) is None


# --- py_utils ------------------------------------------------------------------------------------


def test_py_utils_index_helpers_still_there():
    assert I[0] == (0,) and I[0:1, 2] == (slice(0, 1), 2) and S[1:3] == slice(1, 3)


def test_timed(capsys):
    with timed("work") as t:
        pass
    assert t.time >= 0 and t.readout.startswith("work took ")
    assert capsys.readouterr().out == t.readout + "\n"
    with timed("quiet", min_to_print=60.0, extra_print="!"):
        pass
    assert capsys.readouterr().out == ""
    with timed("loud", extra_print=" (extra)") as t:
        pass
    assert capsys.readouterr().out == t.readout + " (extra)\n"


def test_check_cast_and_assert_never():
    assert check_cast(int, 3) == 3
    with pytest.raises(TypeError, match="does not match"):
        check_cast(int, "3")
    with pytest.raises(KeyError):
        check_cast(int, "3", exception=KeyError)
    with pytest.raises(AssertionError, match="Invalid value: 'x'"):
        assert_never("x")


def test_frozen_dict():
    a = FrozenDict({"x": 1, "y": (2, 3)})
    b = FrozenDict({"y": (2, 3), "x": 1})
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert a != {"x": 1, "y": (2, 3)}  # only equal to FrozenDicts
    assert a != FrozenDict({"x": 2, "y": (2, 3)})
    assert {a: "v"}[b] == "v"
    assert repr(a) == "FrozenDict({'x': 1, 'y': (2, 3)})"
    c = FrozenDict({"k": 1})
    hash(c)
    c["k"] = 2
    c.clear_cache()
    assert hash(c) == hash(FrozenDict({"k": 2}))


# --- module_utils --------------------------------------------------------------------------------


def two_input_module():
    a = rc.Symbol.new_with_random_uuid((2,), "a")
    b = rc.Symbol.new_with_random_uuid((2,), "b")
    spec = rc.ModuleSpec(rc.Add(a, b, name="body"), [rc.ModuleArgSpec(a), rc.ModuleArgSpec(b)])
    return rc.Module(
        spec, name="m", a=rc.Array(np.ones(2), name="va"), b=rc.Array(np.zeros(2), name="vb")
    )


def test_module_utils():
    m = two_input_module()
    nodes, specs = module_utils.get_matching_nodes_and_args(m, "b")
    assert [n.name for n in nodes] == ["vb"] and [s.symbol.name for s in specs] == ["b"]
    kept = module_utils.filter_module_inputs(m, "a")
    assert kept.name == "m drop" and [n.name for n in kept.nodes] == ["va"]
    assert kept.spec.circuit == m.spec.circuit
    dropped = module_utils.drop_module_inputs(m, "a")
    assert [n.name for n in dropped.nodes] == ["vb"]
    assert [s.symbol.name for s in dropped.spec.arg_specs] == ["b"]
    # the dropped input is a free Symbol in the body now
    assert not dropped.is_explicitly_computable
    unnamed = rc.Module(m.spec, name=None, a=rc.Array(np.ones(2)), b=rc.Array(np.zeros(2)))
    assert module_utils.drop_module_inputs(unnamed, "a").op_name in (None, "body drop")


# --- scope_manager -------------------------------------------------------------------------------


def scoped_circuit():
    a = rc.Array(np.ones(2), name="a")
    b = rc.Array(np.full(2, 2.0), name="b")
    e = rc.Einsum.from_einsum_string("i,i->i", a, b, name="e")
    return rc.Add(e, b, name="s")


def test_scope_manager_narrowing_and_updates():
    sm = ScopeManager(scoped_circuit())
    assert sm.c is sm.circuit and sm.unique().name == "s"
    sub = sm.sub_matcher("e", name="einsum")
    assert sub.unique().name == "e" and sm.named_updates == ()
    assert sub.named_updates == ((ScopeMatcher(rc.IterativeMatcher("e")), "einsum"),)
    deeper = sub.sub_matcher("b")
    assert deeper.matched_circuits() == {sm.circuit.get_unique("b")}
    # b is found twice in the circuit, once inside the scope
    assert len(sm.circuit.get("b")) == 1
    doubled = sub.update(lambda c: rc.Einsum.scalar_mul(c, 2.0, name="e"))
    np.testing.assert_allclose(np.asarray(doubled.circuit.evaluate()), [6.0, 6.0])
    assert doubled.named_updates == sub.named_updates
    assert sub.pop_sub().named_updates == () and sub.clear_sub().named_updates == ()
    assert sub.pop_sub_by_name("einsum").named_updates == ()
    copy = sub.clone()
    copy.sub_matcher_("a")
    assert copy.unique().name == "a" and sub.unique().name == "e"
    copy.pop_sub_()
    assert copy.unique().name == "e"
    copy.pop_sub_by_name_("einsum")
    copy.clear_sub_()
    assert copy.unique().name == "s"
    copy.update_(lambda c: c.rename("s2"), apply_global=True)
    assert copy.circuit.name == "s2"


def test_scope_manager_traversals_and_checks():
    sm = ScopeManager(scoped_circuit())
    shallow = sm.sub_traversal(rc.new_traversal(end_depth=2), name="top")
    assert isinstance(shallow.named_updates[0][0], ScopeGlobalTraversal)
    with pytest.raises(AssertionError, match="matches no node"):
        shallow.sub_matcher("a")  # a is at depth 2
    with pytest.raises(AssertionError, match="matches no node"):
        sm.sub_matcher("nothing")
    with pytest.raises(AssertionError, match="matches no node"):
        sm.sub_matcher_("nothing")
    assert sm.named_updates == ()  # the failed in-place step left it unchanged
    with pytest.raises(AssertionError, match="not one"):
        ScopeManager(scoped_circuit(), assert_matched_unique=True).sub_matcher({"a", "b"})


def test_scope_manager_printing(capsys):
    sub = ScopeManager(scoped_circuit()).sub_matcher("e")
    sub.print()
    out = capsys.readouterr().out
    assert "e Einsum i,i->i" in out and "s Add" not in out
    sub.print_path()
    out = capsys.readouterr().out
    assert "s Add" in out and "e Einsum" in out


# --- cum_algo ------------------------------------------------------------------------------------


def bell(n):
    b = [[1]]
    for _ in range(n):
        row = [b[-1][-1]]
        for x in b[-1]:
            row.append(row[-1] + x)
        b.append(row)
    return b[n][0]


@pytest.mark.parametrize("n", range(6))
def test_partition_lists_every_set_partition_once(n):
    items = list(range(n))
    parts = list(cum_algo.partition(items))
    assert len(parts) == bell(n)
    canon = {frozenset(frozenset(block) for block in p) for p in parts}
    assert len(canon) == len(parts)
    for p in parts:
        assert sorted(itertools.chain.from_iterable(p)) == items


def test_cum_algo_helpers():
    assert cum_algo.cum_name_to_eps_name("k2") == "eps2"
    assert cum_algo.cum_name_to_eps_name("cum") == "cum_eps"
    assert cum_algo.split_in_buckets([1, 2, 3, 4, 5], [2, 0, 3]) == [[1, 2], [], [3, 4, 5]]
    assert cum_algo.get_multiplier_default([[(0, None)], [(1, None), (2, None)]]) == -1.0
    assert cum_algo.get_multiplier_default([[(0, None)], [(1, None)]]) == 1.0


def test_kappa_hat():
    x = rc.Array(np.array([1.0, 3.0]), name="x")
    k1 = rc.Cumulant(x, name="k1")
    centred = cum_algo.kappa_hat(k1)
    assert centred.name == "eps1"
    np.testing.assert_allclose(np.asarray(centred.evaluate()), [0.0, 0.0])
    k2 = rc.Cumulant(x, x, name="k2")
    assert cum_algo.kappa_hat(k2) is k2 or cum_algo.kappa_hat(k2) == k2
    with pytest.raises(ValueError, match="no children"):
        cum_algo.kappa_hat(rc.Cumulant(name="k0"))


@pytest.mark.parametrize("n", [1, 2, 3])
def test_eps_attrib_has_a_term_per_partition_and_vanishes_on_constants(n):
    rng = np.random.default_rng(n)
    xs = [rc.Array(rng.standard_normal(k + 1), name=f"x{k}") for k in range(n)]
    eps = cum_algo.eps_attrib(rc.Cumulant(*xs, name=f"k{n}"))
    assert eps.name == f"eps{n}" and eps.shape == tuple(k + 1 for k in range(n))
    bell = {1: 1, 2: 2, 3: 5}[n]
    body = eps.spec.circuit
    assert (body.num_children if body.is_add() else 1) == bell
    # a constant's centred part and every cumulant of order > 1 of constants are zero
    np.testing.assert_allclose(np.asarray(eps.evaluate()), np.zeros(eps.shape), atol=1e-12)
    fewer = cum_algo.eps_attrib(rc.Cumulant(*xs, name=f"k{n}"), non_centered=True)
    if n > 1:
        assert fewer.spec.circuit.num_children == bell - 1


# --- typing names ------------------------------------------------------------------------------


def test_typing_names():
    assert rc.Shape == typing.Tuple[int, ...]
    assert set(typing.get_args(rc.Leaf)) == {rc.Array, rc.Symbol, rc.Scalar}
    assert set(typing.get_args(rc.LeafConstant)) == {rc.Array, rc.Scalar}
    assert set(typing.get_args(rc.IrreducibleNode)) == {rc.Array, rc.Symbol}
    assert set(typing.get_args(rc.Var)) == {rc.StoredCumulantVar, rc.DiscreteVar}
    assert rc.Paths == typing.List[rc.Path]
    assert rc.IterativeMatcher in typing.get_args(rc.IterativeMatcherIn)
    assert int in typing.get_args(rc.IntOrMatcher)
    assert rc.Transform in typing.get_args(rc.TransformIn)
    assert isinstance(rc.NOT_SET, rc.NotSet) and repr(rc.NOT_SET) == "NOT_SET"
    for name in ("Axis", "MatcherIn", "TorchAxisIndex", "UpdatedIterativeMatcherIn", "Binder"):
        assert typing.get_origin(getattr(rc, name)) is typing.Union


# --- generalfuncs ------------------------------------------------------------------------------


def test_rotary_helpers(torch):
    from circuits.generalfuncs.rotary_pos_emb import duplicate_interleave, rotate_every_two

    x = np.arange(24.0).reshape(1, 2, 3, 4)
    expected = np.stack((-x[..., 1::2], x[..., 0::2]), axis=-1).reshape(x.shape)
    np.testing.assert_array_equal(rotate_every_two(x), expected)
    np.testing.assert_array_equal(rotate_every_two(torch.tensor(x)).numpy(), expected)
    m = np.array([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(duplicate_interleave(m), [[1, 1, 2, 2], [3, 3, 4, 4]])
    np.testing.assert_array_equal(
        duplicate_interleave(torch.tensor(m)).numpy(), duplicate_interleave(m)
    )
    with pytest.raises(ValueError, match="even length"):
        rotate_every_two(np.ones(3))
    with pytest.raises(ValueError, match="matrix"):
        duplicate_interleave(np.ones(3))
