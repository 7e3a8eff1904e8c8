"""DiscreteVar: construction (shape, flags, autoname, groups), its errors, printing and parsing,
evaluation refused until sampled, and expansion over batched values."""

import numpy as np
import pytest

import circuits as rc


def arr(*shape, name=None, seed=0):
    return rc.Array(np.random.default_rng(seed).standard_normal(shape).astype(np.float32), name)


def test_shape_flags_and_children():
    values = arr(5, 3, 2, name="x")
    probs = rc.Array(np.full(5, 0.2, dtype=np.float32), "p")
    v = rc.DiscreteVar(values, probs)
    assert v.shape == (3, 2)
    assert v.values == values and v.probs_and_group == probs
    assert v.children == [values, probs]
    assert not v.is_constant and not v.is_explicitly_computable
    assert v.is_discrete_var() and v.cast_discrete_var() is v
    assert v.name == "x var"
    assert rc.DiscreteVar(values, probs, name="n").name == "n"


def test_autoname_reads_values_only():
    values = arr(4, name="x")
    assert rc.DiscreteVar(values).name == "x var"
    assert rc.DiscreteVar(arr(4)).name == ""
    assert rc.DiscreteVar(rc.Add(values, values, name="s")).name == "(s) var"
    assert rc.DiscreteVar(rc.Add(values, values)).name == "(x + x) var"


def test_uniform_group():
    g = rc.DiscreteVar.uniform_probs_and_group(4, name="g")
    assert isinstance(g, rc.Tag) and g.name == "g"
    assert isinstance(g.node, rc.Scalar) and g.node.shape == (4,)
    assert g.node.value == pytest.approx(0.25)
    assert rc.DiscreteVar.uniform_probs_and_group(4) != rc.DiscreteVar.uniform_probs_and_group(4)
    np.testing.assert_allclose(np.asarray(g.evaluate()), np.full(4, 0.25))


def test_default_group_is_fresh_per_var():
    values = arr(3, 2, name="x")
    a, b = rc.DiscreteVar(values), rc.DiscreteVar.new_uniform(values)
    assert a.probs_and_group != b.probs_and_group
    assert a != b
    assert a.probs_and_group.node == b.probs_and_group.node
    assert rc.DiscreteVar(values, a.probs_and_group) == a
    assert rc.DiscreteVar.new_uniform(values, name="u").name == "u"


def test_errors():
    with pytest.raises(rc.ConstructDiscreteVarNoSamplesDimError, match="samples axis"):
        rc.DiscreteVar(rc.Scalar(1.0, ()))
    with pytest.raises(rc.ConstructDiscreteVarNoSamplesDimError, match="DiscreteVar 'v'"):
        rc.DiscreteVar.new_uniform(rc.Scalar(1.0, ()), name="v")
    with pytest.raises(rc.ConstructDiscreteVarProbsMustBe1dError, match=r"shape is \[2, 2\]"):
        rc.DiscreteVar(arr(2, 3), rc.Scalar(0.25, (2, 2)))
    with pytest.raises(rc.ConstructDiscreteVarWrongSamplesDimError, match="5 samples .* has 4"):
        rc.DiscreteVar(arr(5, 3), rc.Scalar(0.25, (4,)), name="v")
    with pytest.raises(rc.ConstructError):
        rc.DiscreteVar.uniform_probs_and_group(0)
    with pytest.raises(TypeError, match="values"):
        rc.DiscreteVar(3)
    with pytest.raises(TypeError, match="probs_and_group"):
        rc.DiscreteVar(arr(3), "p")


def test_evaluation_needs_sampling():
    v = rc.DiscreteVar(arr(5, 3, name="x"))
    with pytest.raises(rc.TensorEvalNotExplicitlyComputableError, match="'x var'.*sample it"):
        v.evaluate()
    e = rc.Add(v, arr(3), name="sum")
    with pytest.raises(rc.TensorEvalNotExplicitlyComputableError,
                       match="'sum'.* contains DiscreteVar 'x var'.*sample it first"):
        e.evaluate()
    # Free Symbols still ask for a binding.
    s = rc.Symbol((3,), rc.Symbol.new_with_random_uuid((3,)).uuid, "s")
    with pytest.raises(rc.TensorEvalNotExplicitlyComputableError, match="bind it with a Module"):
        rc.Add(s, arr(3)).evaluate()


def test_print_parse_round_trip():
    v = rc.DiscreteVar(arr(5, 3, name="x"), rc.DiscreteVar.uniform_probs_and_group(5, "g"))
    text = v.repr()
    assert text.splitlines()[0] == "'x var' DiscreteVar"
    assert rc.Parser()(text) == v
    e = rc.Einsum.from_einsum_string("a,a->", v, arr(3, name="w"), name="dot")
    assert rc.Parser()(e.repr()) == e
    assert "# Probs and Group" in rc.PrintOptions(comment_arg_names=True).repr(v)


def test_parse_errors():
    text = "'v' DiscreteVar\n  'x' [5,3] Scalar 1\n"
    with pytest.raises(rc.ParseCircuitWrongNumberChildrenError, match="2 children"):
        rc.Parser()(text)
    text = "'v' DiscreteVar junk\n  'x' [5,3] Scalar 1\n  'p' [5] Scalar 1\n"
    with pytest.raises(rc.ParseCircuitExpectedNoExtraInfoError):
        rc.Parser()(text)
    text = "'v' DiscreteVar\n  'x' [5,3] Scalar 1\n  'p' [4] Scalar 1\n"
    with pytest.raises(rc.ConstructDiscreteVarWrongSamplesDimError):
        rc.Parser()(text)


def test_hash_is_children_only():
    values = arr(5, 3, name="x")
    g = rc.DiscreteVar.uniform_probs_and_group(5)
    assert rc.DiscreteVar(values, g).hash == rc.DiscreteVar(values, g).hash
    assert rc.DiscreteVar(values, g, "a").hash != rc.DiscreteVar(values, g, "b").hash


def test_expand_batched_values_moves_batch_behind_samples():
    x = np.random.default_rng(1).standard_normal((5, 3)).astype(np.float32)
    sym = rc.Symbol.new_with_random_uuid((5, 3), "xs")
    g = rc.DiscreteVar.uniform_probs_and_group(5, "g")
    v = rc.DiscreteVar(sym, g, name="v")
    batched = np.random.default_rng(2).standard_normal((4, 5, 3)).astype(np.float32)
    out = rc.replace_expand_bottom_up_dict(v, {sym: rc.Array(batched, "b")})
    assert isinstance(out, rc.DiscreteVar) and out.shape == (4, 3)
    assert out.probs_and_group == g
    np.testing.assert_allclose(np.asarray(out.values.evaluate()), batched.transpose(1, 0, 2))
    same = rc.replace_expand_bottom_up_dict(v, {sym: rc.Array(x, "y")})
    assert same.shape == (3,) and same.values.name == "y"


def test_expand_batched_group_is_refused():
    p = rc.Symbol.new_with_random_uuid((5,), "p")
    v = rc.DiscreteVar(arr(5, 3), p, name="v")
    with pytest.raises(rc.ExpandNodeUnhandledVariantError, match="must stay 1-D"):
        rc.replace_expand_bottom_up_dict(v, {p: rc.Scalar(0.2, (2, 5))})


def test_can_be_sampled():
    v = rc.DiscreteVar(arr(5, 3, name="x"))
    assert v.can_be_sampled and rc.Add(v, arr(3)).can_be_sampled
