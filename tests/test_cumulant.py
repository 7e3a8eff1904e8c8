"""Cumulant and StoredCumulantVar: shapes, flags, autonames, values of constant cumulants,
errors (type and message), printing and parsing, and Cumulant's expansion rule."""

import uuid

import numpy as np
import pytest

torch = pytest.importorskip("torch")


import circuits as rc  # noqa: E402


def arr(*shape, name=None, seed=0, dtype=np.float64):
    return rc.Array(np.random.default_rng(seed).standard_normal(shape).astype(dtype), name)


# --- Cumulant ---------------------------------------------------------------------------------


def test_cumulant_shape_flags_and_name():
    a, b = arr(2, 3, name="a"), arr(4, name="b", seed=1)
    k = rc.Cumulant(a, b)
    assert k.shape == (2, 3, 4)
    assert k.name == "K2(a, b)"
    assert k.is_cumulant() and k.cumulant_number == 2
    assert k.nodes == [a, b] and k.children == [a, b]
    assert k.is_constant and k.is_explicitly_computable
    assert rc.Cumulant().name == "K0()" and rc.Cumulant().shape == ()
    assert rc.Cumulant(a, name="k").name == "k"
    assert rc.Cumulant(a, arr(2)).name == ""
    long = arr(2, name="x" * 150)
    assert rc.Cumulant(long, a).name == "K2(" + "x" * 100 + "..., a)"


def test_cumulant_of_random_is_constant_but_not_computable():
    v = rc.DiscreteVar(arr(5, 3, name="x"))
    k = rc.Cumulant(v)
    assert k.is_constant and not k.is_explicitly_computable
    with pytest.raises(rc.TensorEvalNotExplicitlyComputableError, match="DiscreteVar 'x var'"):
        k.evaluate()
    with pytest.raises(rc.ConstructNoEquivalentExplicitlyComputableError, match="K1"):
        k.equivalent_explicitly_computable_circuit()


def test_cumulant_values():
    a, b = arr(2, 3, name="a"), arr(4, name="b", seed=1)
    np.testing.assert_array_equal(np.asarray(rc.Cumulant().evaluate()), 1.0)
    np.testing.assert_allclose(np.asarray(rc.Cumulant(a).evaluate()), np.asarray(a.value))
    out = rc.Cumulant(a, b).evaluate()
    assert tuple(out.shape) == (2, 3, 4)
    np.testing.assert_array_equal(np.asarray(out), np.zeros((2, 3, 4)))
    f32 = arr(3, dtype=np.float32)
    assert rc.Cumulant(f32, a).evaluate().dtype == torch.float32
    # inside a larger circuit
    s = rc.Add(rc.Cumulant(a), a)
    np.testing.assert_allclose(np.asarray(s.evaluate()), 2 * np.asarray(a.value))


def test_equivalent_explicitly_computable_circuit():
    a, b = arr(2, name="a"), arr(3, name="b")
    assert rc.Cumulant(a).equivalent_explicitly_computable_circuit() == a
    z = rc.Cumulant(a, b).equivalent_explicitly_computable_circuit()
    assert isinstance(z, rc.Scalar) and z.value == 0.0 and z.shape == (2, 3)
    assert rc.Cumulant().equivalent_explicitly_computable_circuit().shape == ()


def test_new_canon_rearrange():
    a, b = arr(2, 3, name="b"), arr(4, name="a", seed=1)
    r = rc.Cumulant.new_canon_rearrange(a, b, name="k")
    assert isinstance(r, rc.Rearrange) and r.name == "k" and r.shape == (2, 3, 4)
    assert r.node.name == "canon k" and r.node.children == [b, a]
    assert rc.Cumulant.new_canon_rearrange(b, a).node == rc.Cumulant.new_canon_rearrange(a, b).node


def test_cumulant_rank_limit():
    with pytest.raises(rc.ConstructNotSupportedYetError, match="add up to 33"):
        rc.Cumulant(*[rc.Scalar(0.0, (1,) * 11)] * 3)


def test_cumulant_print_parse():
    k = rc.Cumulant(arr(2, name="a"), arr(3, name="b"), name="k")
    assert rc.Parser()(k.repr()) == k
    with pytest.raises(rc.ParseCircuitExpectedNoExtraInfoError):
        rc.Parser()("'k' Cumulant x\n  'a' [2] Scalar 1\n")


def test_cumulant_expand():
    s = rc.Symbol.new_with_random_uuid((3,), "s")
    t = rc.Symbol.new_with_random_uuid((2,), "t")
    k = rc.Cumulant(s, t, name="k")
    x = np.random.default_rng(0).standard_normal((5, 3))
    out = rc.replace_expand_bottom_up_dict(k, {s: rc.Array(x, "x"), t: rc.Scalar(1.0, (2,), "o")})
    assert out.shape == (5, 3, 2) and out.name == "k"
    with pytest.raises(rc.ExpandCumulantRankChangedError, match="child 1 changed rank from 1 to 2"):
        rc.replace_expand_bottom_up_dict(k, {t: rc.Scalar(1.0, (4, 2))})


# --- StoredCumulantVar ------------------------------------------------------------------------


def test_stored_cumulant_var():
    m, v, k3 = arr(2, name="m"), arr(2, 2, name="v"), arr(2, 2, 2, name="k3")
    u = uuid.UUID("12345678-1234-5678-1234-567812345678")
    s = rc.StoredCumulantVar({3: k3, 2: v, 1: m}, u)
    assert s.shape == (2,)
    assert s.cumulants == {1: m, 2: v, 3: k3} and list(s.cumulants) == [1, 2, 3]
    assert s.children == [m, v, k3]
    assert s.uuid == u
    assert s.name == "StoredCumulantVar(1: m, 2: v, 3: k3)"
    assert not s.is_constant and not s.is_explicitly_computable
    assert s.is_stored_cumulant_var()
    assert rc.StoredCumulantVar({1: m, 2: v}, u) != rc.StoredCumulantVar({1: m, 2: v})
    assert rc.StoredCumulantVar({1: m, 2: v}).uuid != rc.StoredCumulantVar({1: m, 2: v}).uuid
    mv = rc.StoredCumulantVar.new_mv(m, v, {3: k3}, u, name="n")
    assert mv.name == "n" and mv.cumulants == {1: m, 2: v, 3: k3} and mv.uuid == u
    assert rc.StoredCumulantVar.new_mv(m, v).cumulants == {1: m, 2: v}
    with pytest.raises(rc.TensorEvalNotExplicitlyComputableError, match="sample it first"):
        s.evaluate()


def test_stored_cumulant_var_errors():
    m, v = arr(2, name="m"), arr(2, 2, name="v")
    with pytest.raises(rc.ConstructStoredCumulantVarNeedsMeanVarianceError, match="1 .mean. and 2"):
        rc.StoredCumulantVar({1: m})
    with pytest.raises(rc.ConstructStoredCumulantVarInvalidCumulantNumberError, match="number 0"):
        rc.StoredCumulantVar({0: rc.Scalar(1.0, ()), 1: m, 2: v})
    with pytest.raises(rc.ConstructStoredCumulantVarCumulantWrongShapeError,
                       match=r"cumulant 2 has shape \[2, 3\].*\[2\] repeated 2 times"):
        rc.StoredCumulantVar({1: m, 2: arr(2, 3)}, name="s")
    with pytest.raises(TypeError, match="dict"):
        rc.StoredCumulantVar([m, v])
    with pytest.raises(TypeError, match="each cumulant"):
        rc.StoredCumulantVar({1: m, 2: 3})


def test_stored_cumulant_var_print_parse():
    m, v = arr(2, name="m"), arr(2, 2, name="v")
    u = uuid.UUID("12345678-1234-5678-1234-567812345678")
    s = rc.StoredCumulantVar({1: m, 2: v}, u, name="s")
    text = s.repr()
    assert text.splitlines()[0] == "'s' StoredCumulantVar 1, 2|12345678-1234-5678-1234-567812345678"
    assert rc.Parser()(text) == s
    assert "# K2" in rc.PrintOptions(comment_arg_names=True).repr(s)
    body = "\n  'm' [2] Scalar 1\n  'v' [2,2] Scalar 1\n"
    with pytest.raises(rc.ParseCircuitStoredCumulantVarExtraInvalidError, match="<numbers>|<uuid>"):
        rc.Parser()("'s' StoredCumulantVar 1, 2" + body)
    with pytest.raises(rc.ParseCircuitWrongNumberChildrenError, match="3 cumulant numbers"):
        rc.Parser()(f"'s' StoredCumulantVar 1, 2, 3|{u}" + body)
    with pytest.raises(rc.ParseInvalidNumberError):
        rc.Parser()(f"'s' StoredCumulantVar 1, x|{u}" + body)
    with pytest.raises(rc.ParseInvalidUuidError):
        rc.Parser()("'s' StoredCumulantVar 1, 2|zz" + body)


def test_can_be_sampled():
    m, v, k3 = arr(2, name="m"), arr(2, 2, name="v"), arr(2, 2, 2, name="k3")
    assert m.can_be_sampled
    assert rc.StoredCumulantVar({1: m, 2: v}).can_be_sampled
    high = rc.StoredCumulantVar({1: m, 2: v, 3: k3})
    assert not high.can_be_sampled
    assert not rc.Add(high, m).can_be_sampled
    assert not rc.Cumulant(high).can_be_sampled
