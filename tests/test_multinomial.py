"""rc.multinomial: shapes, dtype, spec names and hashes, parsing, seeded determinism, the
drawn frequencies, sampling without replacement, and every error path."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")


import circuits as rc  # noqa: E402


def probs(rows):
    return rc.Array(torch.tensor(rows, dtype=torch.float64), "p")


def seed(v):
    return rc.Array(torch.tensor(v, dtype=torch.int64), f"seed_{v}")


def test_shape_dtype_and_name():
    m = rc.multinomial(probs([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5]]), seed(3), (4, 5))
    assert m.shape == (2, 4, 5)
    assert m.torch_dtype == torch.int64
    assert m.spec.name == "multinomial_[4, 5]" and m.name == "multinomial_[4, 5](p, seed_3)"
    assert m.spec.shape == (4, 5) and m.spec.replacement
    nr = rc.multinomial(probs([0.5, 0.5]), seed(3), (), replacement=False, name="m")
    assert nr.spec.name == "multinomial_no_replace_[]" and nr.shape == () and nr.name == "m"
    out = m.evaluate()
    assert out.dtype == torch.int64 and tuple(out.shape) == (2, 4, 5)


def test_seeded_draws_are_deterministic():
    p = probs([[0.1, 0.2, 0.3, 0.4]] * 3)
    a = rc.multinomial(p, seed(11), (50,)).evaluate()
    assert torch.equal(a, rc.multinomial(p, seed(11), (50,)).evaluate())
    assert not torch.equal(a, rc.multinomial(p, seed(12), (50,)).evaluate())
    # rows draw independently from one stream
    assert not torch.equal(a[0], a[1])


def test_frequencies_follow_weights():
    w = [1.0, 0.0, 3.0, 6.0]  # unnormalised
    out = rc.multinomial(probs(w), seed(0), (20000,)).evaluate().numpy()
    freq = np.bincount(out, minlength=4) / out.size
    np.testing.assert_allclose(freq, np.array(w) / 10, atol=0.015)
    assert freq[1] == 0


def test_without_replacement_draws_distinct():
    p = probs([[0.1, 0.2, 0.3, 0.4], [1.0, 1.0, 1.0, 1.0]])
    out = rc.multinomial(p, seed(4), (4,), replacement=False).evaluate()
    for row in out:
        assert sorted(row.tolist()) == [0, 1, 2, 3]
    f32 = rc.Array(torch.tensor([0.0, 2.0, 1.0], dtype=torch.float32))
    two = rc.multinomial(f32, seed(1), (2,), replacement=False).evaluate()
    assert sorted(two.tolist()) == [1, 2]


def test_spec_by_name_and_parse_round_trip():
    p, s = probs([0.5, 0.5]), seed(2)
    for spec_name, shape, repl in [("multinomial_[3, 2]", (3, 2), True),
                                   ("multinomial_no_replace_[ 2 , ]", (2,), False),
                                   ("multinomial_[]", (), True)]:
        g = rc.GeneralFunction.new_by_name(p, s, spec_name=spec_name)
        assert g.spec.shape == shape and g.spec.replacement == repl
        assert g == rc.multinomial(p, s, shape, repl)
        assert rc.Parser()(g.repr()) == g
    with pytest.raises(rc.ConstructUnknownGeneralFunctionError):
        rc.GeneralFunction.new_by_name(p, s, spec_name="multinomial_[3, x]")
    with pytest.raises(rc.ConstructUnknownGeneralFunctionError):
        rc.GeneralFunction.new_by_name(p, s, spec_name="multinomial_[3]x")


def test_spec_hash_covers_shape_and_replacement():
    p, s = probs([0.5, 0.5]), seed(2)
    a = rc.multinomial(p, s, (3,))
    assert a.spec == rc.multinomial(p, s, (3,)).spec
    assert a.spec != rc.multinomial(p, s, (3,), False).spec
    assert a.spec != rc.multinomial(p, s, (4,)).spec


def test_construction_errors():
    p = probs([0.5, 0.5])
    with pytest.raises(rc.GeneralFunctionShapeError, match="seed must be 0-d"):
        rc.multinomial(p, rc.Array(torch.tensor([1])), (2,))
    with pytest.raises(rc.GeneralFunctionShapeNDimTooSmallError, match="at least one axis"):
        rc.multinomial(rc.Scalar(0.5, ()), seed(1), (2,))
    with pytest.raises(rc.MiscInputError, match="probs have dtype int64"):
        rc.multinomial(rc.Array(torch.tensor([1, 2])), seed(1), (2,))
    with pytest.raises(rc.MiscInputError, match="seed has dtype float32"):
        rc.multinomial(p, rc.Array(torch.tensor(1.0)), (2,))
    with pytest.raises(TypeError, match="seed"):
        rc.multinomial(p, 3, (2,))
    with pytest.raises(rc.ExpandGeneralFunctionTriedToBatchNonBatchableInputError):
        sym = rc.Symbol.new_with_random_uuid((2,), "q")
        m = rc.multinomial(sym, seed(1), (3,))
        rc.replace_expand_bottom_up_dict(m, {sym: rc.Scalar(0.5, (4, 2))})


def test_evaluation_errors():
    with pytest.raises(rc.TensorEvalError, match="weights must be finite and >= 0"):
        rc.multinomial(probs([0.5, -0.1]), seed(1), (2,)).evaluate()
    with pytest.raises(rc.TensorEvalError, match="weights must be finite"):
        rc.multinomial(probs([0.5, float("nan")]), seed(1), (2,)).evaluate()
    with pytest.raises(rc.TensorEvalError, match="row 1 of the probabilities sums to 0"):
        rc.multinomial(probs([[0.5, 0.5], [0.0, 0.0]]), seed(1), (2,)).evaluate()
    with pytest.raises(rc.TensorEvalError, match="3 samples without replacement from row 0"):
        rc.multinomial(probs([0.5, 0.5, 0.0]), seed(1), (3,), replacement=False).evaluate()
