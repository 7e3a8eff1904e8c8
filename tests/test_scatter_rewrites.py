"""rc's scatter rewrites (spec 4): each is an identity on values (float64, tight tolerance) on
random circuits where it applies (hypothesis), gives the shape and kinds rc's gives, and
returns None where rc's does. rc's own cases from its test_rust_rewrite are included."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import circuits as rc

TOL = dict(rtol=1e-12, atol=1e-12)


def value(c):
    return np.asarray(c.evaluate())


def assert_same_value(a, b):
    assert a.shape == b.shape
    np.testing.assert_allclose(value(a), value(b), **TOL)


def arr(rng, shape, name=None):
    return rc.Array(rng.standard_normal(shape), name=name)


@st.composite
def padded(draw, shape):
    """(child shape, slices) of a Scatter into shape."""
    child, slices = [], []
    for length in shape:
        start = draw(st.integers(0, length))
        stop = draw(st.integers(start, length))
        child.append(stop - start)
        slices.append(slice(start, stop))
    return tuple(child), slices


def random_scatter(draw, rng, shape, name=None):
    child, slices = draw(padded(shape))
    kind = draw(st.sampled_from(["array", "scalar"]))
    x = arr(rng, child) if kind == "array" else rc.Scalar(draw(st.floats(-2, 2)), child)
    return rc.Scatter(x, slices, shape, name=name)


seeds = st.integers(0, 2**31 - 1)
small_shapes = st.lists(st.integers(1, 4), min_size=0, max_size=3).map(tuple)


# --- scatter_elim_identity ------------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(small_shapes, seeds)
def test_scatter_elim_identity(shape, seed):
    rng = np.random.default_rng(seed)
    x = arr(rng, shape, "x")
    full = rc.Scatter(x, [slice(0, n) for n in shape], shape)
    assert rc.scatter_elim_identity(full) == x
    if shape and shape[0] > 1:
        padded_one = rc.Scatter(arr(rng, (1,) + shape[1:]), [slice(0, 1)], shape)
        assert rc.scatter_elim_identity(padded_one) is None


def test_scatter_elim_identity_rc_case():
    s = rc.Scatter(arr(np.random.default_rng(0), (10, 10)), [slice(0, 10), slice(0, 10)], (10, 10))
    assert_same_value(rc.scatter_elim_identity(s), s)


# --- scatter_pull_removable_axes --------------------------------------------------------------


def test_scatter_pull_removable_axes_rc_case():
    inner = rc.Rearrange(
        arr(np.random.default_rng(0), (10,)), rc.RearrangeSpec([[0]], [[0], [1]], [10, 20])
    )
    s = rc.Scatter(inner, [slice(0, 10), slice(0, 20)], (20, 20))
    out = rc.scatter_pull_removable_axes(s)
    assert out.is_rearrange() and out.node.is_scatter()
    assert out.node.shape == (20,) and out.node.idx == (slice(0, 10),)
    assert_same_value(out, s)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 4), seeds, st.booleans())
def test_scatter_pull_removable_axes_of_scalars(a, b, extra, seed, pad_first):
    value_ = float(np.random.default_rng(seed).standard_normal())
    s = rc.Scatter(
        rc.Scalar(value_, (a, b)),
        [slice(extra, extra + a) if pad_first else slice(0, a)],
        (a + extra, b),
    )
    out = rc.scatter_pull_removable_axes(s)
    # the Scalar's axis 1 is filled whole; axis 0 is padded, so it stays
    assert out is not None and out.is_rearrange()
    assert out.node.shape == (a + extra,)
    assert_same_value(out, s)


def test_scatter_pull_removable_axes_none_cases():
    rng = np.random.default_rng(1)
    assert (
        rc.scatter_pull_removable_axes(rc.Scatter(arr(rng, (2, 3)), [slice(0, 2)], (4, 3))) is None
    )
    padded_both = rc.Scatter(rc.Scalar(1.0, (2, 3)), [slice(1, 3), slice(1, 4)], (4, 5))
    assert rc.scatter_pull_removable_axes(padded_both) is None


# --- einsum_pull_scatter --------------------------------------------------------------------


def S(v, shape, idx, full):
    return rc.Scatter(rc.Scalar(v, shape), idx, full)


def test_einsum_pull_scatter_rc_cases():
    single = rc.Einsum(
        (S(1.0, (1, 2), [slice(0, 1), slice(0, 2)], (2, 2)), (0, 1)), out_axes=(0, 1)
    )
    out = rc.einsum_pull_scatter(single)
    assert out.is_scatter() and out.idx == (slice(0, 1), slice(0, 2))
    assert_same_value(out, single)
    zero = rc.Einsum(
        (S(1.0, (1, 2), [slice(0, 1), slice(0, 2)], (2, 2)), (0, 1)),
        (S(1.0, (1, 2), [slice(1, 2), slice(0, 2)], (2, 2)), (0, 1)),
        out_axes=(0, 1),
    )
    out = rc.einsum_pull_scatter(zero)
    assert out.is_scalar() and out.value == 0.0 and out.shape == (2, 2)
    meet = rc.Einsum(
        (S(1.0, (2, 3), [slice(0, 2), slice(0, 3)], (3, 3)), (0, 1)),
        (S(1.0, (2, 3), [slice(1, 3), slice(0, 3)], (3, 3)), (0, 1)),
        out_axes=(0, 1),
    )
    out = rc.einsum_pull_scatter(meet)
    assert out.idx == (slice(1, 2), slice(0, 3))
    assert_same_value(out, meet)


@settings(max_examples=60, deadline=None)
@given(st.data(), seeds)
def test_einsum_pull_scatter_is_an_identity(data, seed):
    rng = np.random.default_rng(seed)
    sizes = data.draw(st.lists(st.integers(1, 4), min_size=1, max_size=3))
    labels = list(range(len(sizes)))
    operands = []
    for _ in range(data.draw(st.integers(1, 3))):
        axes = tuple(data.draw(st.lists(st.sampled_from(labels), min_size=1, max_size=3)))
        shape = tuple(sizes[a] for a in axes)
        if len(set(axes)) == len(axes) and data.draw(st.booleans()):
            node = random_scatter(data.draw, rng, shape)
        else:
            node = arr(rng, shape)
        operands.append((node, axes))
    used = sorted({a for _, axes in operands for a in axes})
    out_axes = tuple(data.draw(st.permutations(used)))[: data.draw(st.integers(0, len(used)))]
    e = rc.Einsum(*operands, out_axes=out_axes, name="e")
    out = rc.einsum_pull_scatter(e)
    if not any(n.is_scatter() for n, _ in operands):
        assert out is None
        return
    assert out.is_scatter() or (out.is_scalar() and out.value == 0.0)
    if out.is_scatter():
        assert out.node.is_einsum() and out.node.name == "e"
    assert_same_value(out, e)


def test_einsum_pull_scatter_none_without_scatters():
    rng = np.random.default_rng(2)
    e = rc.Einsum((arr(rng, (2, 3)), (0, 1)), (arr(rng, (3,)), (1,)), out_axes=(0,))
    assert rc.einsum_pull_scatter(e) is None


# --- add_pull_scatter ---------------------------------------------------------------------


def test_add_pull_scatter_rc_cases():
    same = rc.Add(
        S(1.0, (1, 1), [slice(1, 2), slice(0, 1)], (2, 2)),
        S(1.0, (1, 1), [slice(1, 2), slice(0, 1)], (2, 2)),
    )
    out = rc.add_pull_scatter(same)
    assert out.is_scatter() and out.idx == (slice(0, 2), slice(0, 1)) and out.node.is_add()
    assert_same_value(out, same)
    apart = rc.Add(
        S(1.0, (1, 1), [slice(2, 3), slice(0, 1)], (3, 2)),
        S(1.0, (1, 1), [slice(1, 2), slice(0, 1)], (3, 2)),
    )
    out = rc.add_pull_scatter(apart)
    assert out.idx == (slice(0, 3), slice(0, 1))
    assert_same_value(out, apart)


@settings(max_examples=60, deadline=None)
@given(st.data(), seeds)
def test_add_pull_scatter_is_an_identity(data, seed):
    rng = np.random.default_rng(seed)
    shape = tuple(data.draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
    operands = []
    for _ in range(data.draw(st.integers(1, 3))):
        drop = data.draw(st.integers(0, len(shape)))
        sub = tuple(1 if data.draw(st.integers(0, 3)) == 0 else n for n in shape[drop:])
        operands.append(random_scatter(data.draw, rng, sub))
    add = rc.Add(*operands, name="a")
    out = rc.add_pull_scatter(add)
    if out is None:
        return
    assert out.is_scatter() and out.node.is_add() and out.node.name == "a"
    assert out.shape == add.shape
    assert_same_value(out, add)


def test_add_pull_scatter_none_cases():
    rng = np.random.default_rng(3)
    x = arr(rng, (2, 2))
    s = rc.Scatter(arr(rng, (1, 2)), [slice(1, 2)], (2, 2))
    assert rc.add_pull_scatter(rc.Add(s, x)) is None  # not all operands are Scatters
    full = rc.Add(s, rc.Scatter(arr(rng, (1, 2)), [slice(0, 1)], (2, 2)))
    assert rc.add_pull_scatter(full) is None  # the union is everything


# --- index_einsum_to_scatter --------------------------------------------------------------


def test_index_einsum_to_scatter_on_a_diagonal():
    rng = np.random.default_rng(4)
    e = rc.Einsum((arr(rng, (5,), "a"), (0,)), out_axes=(0, 0), name="e")
    idx = rc.Index(e, [slice(0, 3), slice(1, 4)])
    out = rc.index_einsum_to_scatter(idx)
    assert out.is_index() and out.node.is_scatter() and out.node.node.name == "e"
    assert out.node.idx == (slice(1, 3), slice(0, 2))
    assert_same_value(out, idx)
    with_int = rc.Index(e, [2, slice(1, 4)])
    assert_same_value(rc.index_einsum_to_scatter(with_int), with_int)
    apart = rc.Index(e, [0, slice(1, 4)])
    out = rc.index_einsum_to_scatter(apart)
    assert out.is_scalar() and out.value == 0.0 and out.shape == (3,)


@settings(max_examples=60, deadline=None)
@given(st.data(), seeds)
def test_index_einsum_to_scatter_is_an_identity(data, seed):
    rng = np.random.default_rng(seed)
    n = data.draw(st.integers(1, 4))
    m = data.draw(st.integers(1, 3))
    e = rc.Einsum((arr(rng, (n, m)), (0, 1)), out_axes=(0, 1, 0))
    items = []
    for length in (n, m, n):
        if data.draw(st.booleans()):
            items.append(data.draw(st.integers(-length, length - 1)))
        else:
            start = data.draw(st.integers(0, length))
            items.append(slice(start, data.draw(st.integers(start, length))))
    idx = rc.Index(e, items)
    out = rc.index_einsum_to_scatter(idx)
    if out is None:
        return
    assert out.shape == idx.shape
    assert_same_value(out, idx)


def test_index_einsum_to_scatter_none_cases():
    rng = np.random.default_rng(5)
    e = rc.Einsum((arr(rng, (3, 4)), (0, 1)), out_axes=(0, 1))
    assert rc.index_einsum_to_scatter(rc.Index(e, [slice(0, 2), 1])) is None  # no repeated label
    d = rc.Einsum((arr(rng, (3,)), (0,)), out_axes=(0, 0))
    assert rc.index_einsum_to_scatter(rc.Index(d, [slice(0, 2), slice(0, 2)])) is None  # same part
    assert rc.index_einsum_to_scatter(rc.Index(d, [np.array([2, 0]), slice(0, 2)])) is None
    assert rc.index_einsum_to_scatter(rc.Index(arr(rng, (3,)), [slice(0, 2)])) is None


# --- concat_to_scatter, scatter_to_concat -------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(st.data(), seeds)
def test_concat_to_scatter_is_an_identity(data, seed):
    rng = np.random.default_rng(seed)
    rank = data.draw(st.integers(1, 3))
    shape = [data.draw(st.integers(1, 3)) for _ in range(rank)]
    axis = data.draw(st.integers(0, rank - 1))

    def part(zero):
        s = list(shape)
        s[axis] = data.draw(st.integers(0, 3))
        return rc.Scalar(0.0, tuple(s)) if zero else arr(rng, tuple(s))

    pre = [part(True) for _ in range(data.draw(st.integers(0, 2)))]
    mid = [part(False) for _ in range(data.draw(st.integers(1, 2)))]
    post = [part(True) for _ in range(data.draw(st.integers(0, 2)))]
    c = rc.Concat(*(pre + mid + post), axis=axis, name="c")
    out = rc.concat_to_scatter(c)
    zeros = sum(p.shape[axis] for p in pre + post)
    if zeros == 0:
        assert out is None
        return
    assert out.is_scatter() and out.node.is_concat() and out.node.name == "c"
    assert out.shape == c.shape
    assert_same_value(out, c)


def test_concat_to_scatter_none_cases():
    rng = np.random.default_rng(6)
    x = arr(rng, (2, 3))
    assert rc.concat_to_scatter(rc.Concat(x, x, axis=0)) is None
    assert (
        rc.concat_to_scatter(rc.Concat(rc.Scalar(0.0, (2, 3)), rc.Scalar(0.0, (1, 3)), axis=0))
        is None
    )
    assert rc.concat_to_scatter(rc.Concat(rc.Scalar(1.0, (2, 3)), x, axis=0)) is None


@settings(max_examples=40, deadline=None)
@given(small_shapes, st.data(), seeds)
def test_scatter_to_concat_is_an_identity(shape, data, seed):
    rng = np.random.default_rng(seed)
    s = random_scatter(data.draw, rng, shape, name="s")
    out = rc.scatter_to_concat(s)
    if shape:
        assert out.is_concat() and out.name == "s"
    else:
        assert out == s.node
    assert_same_value(out, s)


def test_round_trip_concat_scatter_concat():
    rng = np.random.default_rng(7)
    s = rc.Scatter(arr(rng, (2,), "x"), [slice(1, 3)], (4,))
    c = rc.scatter_to_concat(s)
    back = rc.concat_to_scatter(c)
    assert back.is_scatter() and back.idx == s.idx
    assert_same_value(back, s)
    # on a second axis the outer Concat's zero parts are empty, so rc gives None for it
    s2 = rc.Scatter(arr(rng, (2, 3), "x"), [slice(1, 3), slice(0, 3)], (4, 3))
    assert rc.concat_to_scatter(rc.scatter_to_concat(s2)) is None


def test_full_scatter_of_a_scalar_pulls_every_axis():
    s = rc.Scatter(rc.Scalar(2.0, (2, 3)), [slice(0, 2), slice(0, 3)], (2, 3))
    out = rc.scatter_pull_removable_axes(s)
    assert out.node.shape == () and out.node.node.is_scalar()
    assert_same_value(out, s)


# --- wrong kinds ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fn, kind",
    [
        (rc.scatter_elim_identity, "Scatter"),
        (rc.scatter_pull_removable_axes, "Scatter"),
        (rc.scatter_to_concat, "Scatter"),
        (rc.einsum_pull_scatter, "Einsum"),
        (rc.add_pull_scatter, "Add"),
        (rc.index_einsum_to_scatter, "Index"),
        (rc.concat_to_scatter, "Concat"),
    ],
)
def test_wrong_kind_is_a_type_error(fn, kind):
    with pytest.raises(TypeError, match=f"expected {kind} but got Symbol"):
        fn(rc.Symbol.new_with_random_uuid((2,)))
    with pytest.raises(TypeError):
        fn("not a circuit")
