"""Each node kind evaluated against numpy: Array, Scalar, Add, Einsum, Index, Concat, Rearrange,
GeneralFunction (gen_index, pow, Python specs), Tag; the reductions built from them
(sum, mean, max, min); and evaluate_many sharing subterms."""

import uuid

import numpy as np
import pytest

import circuits as rc
import reference as ref
from circuits.py_utils import I


def randn(rng, *shape, dtype=np.float64):
    return rng.standard_normal(shape).astype(dtype)


# --- Array ---------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
@pytest.mark.parametrize("shape", [(), (5,), (2, 3), (2, 0, 3), (3, 1, 4, 2)])
@pytest.mark.numpy_results
def test_array_evaluates_to_its_value(shape, dtype, rng):
    x = (10 * rng.standard_normal(shape)).astype(dtype)
    node = rc.Array(x)
    assert node.shape == shape
    out = node.evaluate()
    assert isinstance(out, np.ndarray)
    assert out.dtype == x.dtype
    np.testing.assert_array_equal(out, x)
    np.testing.assert_array_equal(node.value, x)


def test_array_of_a_non_contiguous_view(rng):
    base = randn(rng, 6, 8)
    view = base[::2, 1::3].T
    np.testing.assert_array_equal(rc.Array(view).evaluate(), view)


@pytest.mark.numpy_results
def test_array_from_python_floats_is_float32():
    out = rc.Array([[1.0, 2.5], [3.0, -4.0]]).evaluate()
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [[1.0, 2.5], [3.0, -4.0]])


@pytest.mark.numpy_results
def test_array_randn_is_seeded_float32():
    a = rc.Array.randn(3, 4, seed=5)
    b = rc.Array.randn(3, 4, seed=5)
    assert a.shape == (3, 4)
    assert a.evaluate().dtype == np.float32
    assert a == b
    assert a != rc.Array.randn(3, 4, seed=6)


# --- Scalar --------------------------------------------------------------------------------


@pytest.mark.numpy_results
def test_scalar_alone_is_float64():
    out = rc.Scalar(2.5).evaluate()
    assert out.dtype == np.float64
    assert out.shape == ()
    assert out == 2.5


@pytest.mark.parametrize("shape", [(3,), (2, 3), (4, 1, 2), (0, 3)])
@pytest.mark.numpy_results
def test_scalar_broadcasts_to_its_shape(shape):
    node = rc.Scalar(-1.25, shape)
    assert node.shape == shape
    out = node.evaluate()
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, np.full(shape, -1.25))


# --- Add -----------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ref.FLOAT_DTYPES)
@pytest.mark.parametrize(
    "shapes",
    [
        [(3,)],
        [(2, 3), (2, 3)],
        [(4, 1, 3), (5, 1), (3,)],
        [(1,), (2, 1, 4), ()],
        [(2, 3), (1, 3), (2, 1), (1, 1)],
        [(0, 3), (3,)],
    ],
)
def test_add_broadcasts_like_numpy(shapes, dtype, rng):
    xs = [randn(rng, *s, dtype=dtype) for s in shapes]
    node = rc.Add(*[rc.Array(x) for x in xs])
    expected = sum(x.astype(np.float64) for x in xs)
    assert node.shape == np.shape(expected)
    ref.assert_close(node.evaluate(), expected, dtype=dtype, terms=len(xs))


@pytest.mark.numpy_results
def test_add_of_nothing_is_zero():
    node = rc.Add()
    assert node.shape == ()
    out = node.evaluate()
    assert out.dtype == np.float64
    assert out == 0.0


def test_add_of_the_same_node_twice(rng):
    x = randn(rng, 3, 2)
    a = rc.Array(x)
    ref.assert_close(rc.Add(a, a, a).evaluate(), 3 * x)


@pytest.mark.parametrize("dtype", ref.FLOAT_DTYPES)
def test_add_large_broadcast_of_permuted_children(dtype, rng):
    x, y = randn(rng, 300, 257, dtype=dtype), randn(rng, 257, 1, dtype=dtype)
    xt = rc.Array(x).rearrange_str("a b -> b a")
    node = rc.Add(xt, rc.Array(y), rc.Scalar(0.5, (300,)))
    expected = x.T.astype(np.float64) + y.astype(np.float64) + 0.5
    ref.assert_close(node.evaluate(), expected, dtype=dtype, terms=3)


def test_add_with_scalars_keeps_float32(rng):
    x = randn(rng, 2, 3, dtype=np.float32)
    node = rc.Add(rc.Array(x), rc.Scalar(1.5, (3,)), rc.Scalar(-0.25))
    ref.assert_close(node.evaluate(), x.astype(np.float64) + 1.25, dtype=np.float32)


def test_add_of_scalars_is_float64():
    out = rc.Add(rc.Scalar(1.0, (2, 1)), rc.Scalar(2.0, (3,))).evaluate()
    ref.assert_close(out, np.full((2, 3), 3.0))


def test_add_spec_example_shape_and_name():
    node = rc.Add(rc.Scalar(1.0, (5, 5), "square_mat"), rc.Scalar(1.0, (1, 5), "rect_mat"))
    assert node.shape == (5, 5)
    assert node.name == "square_mat + rect_mat"
    ref.assert_close(node.evaluate(), np.full((5, 5), 2.0))


def test_add_of_float32_and_float64_arrays_fails():
    with pytest.raises(rc.MiscInputChildrenMultipleDtypesError, match="float32"):
        rc.Add(rc.Array(np.ones(3, np.float32)), rc.Array(np.ones(3, np.float64)))


@pytest.mark.parametrize("shapes", [[(2, 3), (4,)], [(2,), (3,)], [(1, 0), (2, 1)], [(0,), (1,)]])
def test_add_not_broadcastable(shapes):
    # rc never broadcasts a 1 against a 0 (unlike numpy).
    with pytest.raises(rc.MiscInputNotBroadcastableError):
        rc.Add(*[rc.Array(np.zeros(s)) for s in shapes])


def test_sub_mul_mul_scalar(rng):
    x, y = randn(rng, 2, 3), randn(rng, 3)
    a, b = rc.Array(x, name="a"), rc.Array(y, name="b")
    ref.assert_close(a.sub(b).evaluate(), x - y)
    assert a.sub(b).name == "a + neg b"
    ref.assert_close(a.mul(b).evaluate(), x * y)
    ref.assert_close(a.mul_scalar(-3.0).evaluate(), -3.0 * x)


# --- Einsum --------------------------------------------------------------------------------


def summed_terms(spec, *shapes):
    """How many products each output element of einsum `spec` sums."""
    inputs, output = spec.split("->")
    sizes = {}
    for labels, shape in zip(inputs.split(","), shapes):
        sizes.update(zip(labels, shape))
    return int(np.prod([size for label, size in sizes.items() if label not in output]))


@pytest.mark.parametrize("dtype", ref.FLOAT_DTYPES)
@pytest.mark.parametrize(
    "spec, shapes",
    [
        ("ij,jk->ik", [(3, 4), (4, 5)]),
        ("ij,jk->ki", [(65, 33), (33, 17)]),
        ("ij,kj->ik", [(4, 3), (5, 3)]),
        ("bij,bjk->bik", [(3, 2, 4), (3, 4, 5)]),
        ("bij,jk->bik", [(3, 2, 4), (4, 5)]),
        ("i,i->", [(7,), (7,)]),
        ("i,j->ij", [(3,), (4,)]),
        ("ij->", [(3, 4)]),
        ("ij->j", [(3, 4)]),
        ("ij->ji", [(3, 4)]),
        ("ijk,ikl,l->jk", [(2, 3, 4), (2, 4, 5), (5,)]),
        ("ij,jk->ik", [(3, 0), (0, 5)]),
        ("ij,jk->ik", [(0, 4), (4, 5)]),
    ],
)
def test_einsum_string_matches_numpy(spec, shapes, dtype, rng):
    xs = [randn(rng, *s, dtype=dtype) for s in shapes]
    node = rc.Einsum.from_einsum_string(spec, *[rc.Array(x) for x in xs])
    expected = np.einsum(spec, *[x.astype(np.float64) for x in xs])
    assert node.shape == expected.shape
    ref.assert_close(node.evaluate(), expected, dtype=dtype, terms=summed_terms(spec, *shapes))


def test_einsum_from_integer_labels(rng):
    a, b = randn(rng, 3, 4), randn(rng, 4, 5)
    node = rc.Einsum((rc.Array(a), (0, 1)), (rc.Array(b), (1, 2)), out_axes=(2, 0))
    assert node.shape == (5, 3)
    assert tuple(node.out_axes) == (2, 0)
    ref.assert_close(node.evaluate(), (a @ b).T, terms=4)


def test_einsum_string_labels_are_alphabet_indices(rng):
    a, b = rc.Array(randn(rng, 2, 3)), rc.Array(randn(rng, 3, 4))
    node = rc.Einsum.from_einsum_string("ij,jk->ik", a, b)
    assert [tuple(axes) for _, axes in node.args] == [(8, 9), (9, 10)]
    assert tuple(node.out_axes) == (8, 10)


def test_einsum_fancy_string(rng):
    a, b = randn(rng, 3, 4), randn(rng, 3, 5)
    node = rc.Einsum.from_fancy_string(
        "first second, first third -> first", rc.Array(a), rc.Array(b)
    )
    ref.assert_close(node.evaluate(), np.einsum("ab,ac->a", a, b), terms=20)


@pytest.mark.parametrize("dtype", ref.FLOAT_DTYPES)
@pytest.mark.parametrize("layout", ["bhsd", "bshd"])
def test_einsum_attention_pattern(layout, dtype, rng):
    b, h, s, d = 2, 3, 5, 4
    shape = {"bhsd": (b, h, s, d), "bshd": (b, s, h, d)}[layout]
    q, k, v = (randn(rng, *shape, dtype=dtype) for _ in range(3))
    kl = layout.replace("s", "t")
    scores = rc.Einsum.from_einsum_string(f"{layout},{kl}->bhst", rc.Array(q), rc.Array(k))
    scores = scores.mul_scalar(d**-0.5)
    mask = np.triu(np.full((s, s), -1e9), 1).astype(dtype)
    probs = rc.softmax(rc.Add(scores, rc.Array(mask)))
    out = rc.Einsum.from_einsum_string(f"bhst,{kl}->{layout}", probs, rc.Array(v))
    q64, k64, v64 = (t.astype(np.float64) for t in (q, k, v))
    s_ref = np.einsum(f"{layout},{kl}->bhst", q64, k64) * d**-0.5 + mask.astype(np.float64)
    p_ref = ref.softmax(s_ref)
    ref.assert_close(probs.evaluate(), p_ref, dtype=dtype, terms=d)
    expected = np.einsum(f"bhst,{kl}->{layout}", p_ref, v64)
    ref.assert_close(out.evaluate(), expected, dtype=dtype, terms=s)


def test_einsum_diagonal(rng):
    x = randn(rng, 4, 4)
    node = rc.Einsum.from_einsum_string("ii->i", rc.Array(x))
    assert node.shape == (4,)
    ref.assert_close(node.evaluate(), np.diag(x))


def test_einsum_trace(rng):
    x = randn(rng, 5, 5)
    node = rc.Einsum.from_einsum_string("ii->", rc.Array(x))
    ref.assert_close(node.evaluate(), np.trace(x), terms=5)


def test_einsum_partial_trace_and_diagonal_with_other_operand(rng):
    x, y = randn(rng, 3, 4, 3), randn(rng, 3)
    node = rc.Einsum.from_einsum_string("iji,i->ji", rc.Array(x), rc.Array(y))
    ref.assert_close(node.evaluate(), np.einsum("iji,i->ji", x, y))


def test_einsum_repeated_output_builds_a_diagonal_matrix(rng):
    x = randn(rng, 4)
    node = rc.Einsum((rc.Array(x), (0,)), out_axes=(0, 0))
    assert node.shape == (4, 4)
    np.testing.assert_array_equal(node.evaluate(), np.diag(x))


def test_einsum_repeated_output_with_other_axes(rng):
    x = randn(rng, 3, 2)
    node = rc.Einsum((rc.Array(x), (0, 1)), out_axes=(0, 1, 0))
    ref.assert_close(node.evaluate(), ref.einsum([(x, (0, 1))], (0, 1, 0)))


@pytest.mark.numpy_results
def test_einsum_of_nothing_is_one():
    for node in (rc.Einsum(out_axes=()), rc.Einsum.empty()):
        assert node.shape == ()
        out = node.evaluate()
        assert out.dtype == np.float64
        assert out == 1.0


@pytest.mark.parametrize("dtype", ref.FLOAT_DTYPES)
def test_einsum_scalar_mul_keeps_dtype(dtype, rng):
    x = randn(rng, 3, 4, dtype=dtype)
    node = rc.Einsum.scalar_mul(rc.Array(x), 2.5)
    ref.assert_close(node.evaluate(), 2.5 * x.astype(np.float64), dtype=dtype)


def test_einsum_elementwise_broadcasted_spec_example(rng):
    x, y = randn(rng, 2, 1), randn(rng, 1, 3)
    a, b = rc.Array(x, name="a"), rc.Array(y, name="b")
    for node in (a.mul(b), rc.Einsum.elementwise_broadcasted(a, b)):
        assert node.shape == (2, 3)
        assert [tuple(axes) for _, axes in node.args] == [(0, 2), (3, 1)]
        assert tuple(node.out_axes) == (0, 1)
        ref.assert_close(node.evaluate(), x * y)


def test_einsum_elementwise_broadcasted_three_operands(rng):
    xs = [randn(rng, 4, 1, 3), randn(rng, 5, 1), randn(rng, 3)]
    node = rc.Einsum.elementwise_broadcasted(*[rc.Array(x) for x in xs])
    ref.assert_close(node.evaluate(), xs[0] * xs[1] * xs[2])


def test_einsum_outer_product_and_identity(rng):
    x, y = randn(rng, 2, 3), randn(rng, 4)
    outer = rc.Einsum.new_outer_product(rc.Array(x), rc.Array(y))
    ref.assert_close(outer.evaluate(), np.einsum("ab,c->abc", x, y))
    perm = rc.Einsum.new_outer_product(rc.Array(x), rc.Array(y), out_axes_permutation=(2, 0, 1))
    ref.assert_close(perm.evaluate(), np.einsum("ab,c->cab", x, y))
    ref.assert_close(rc.Einsum.identity(rc.Array(x)).evaluate(), x)


def test_einsum_of_permuted_children(rng):
    x, y = randn(rng, 5, 3), randn(rng, 4, 5)
    xt = rc.Array(x).rearrange_str("a b -> b a")
    yt = rc.Array(y).rearrange_str("a b -> b a")
    node = rc.Einsum.from_einsum_string("ij,jk->ik", xt, yt)
    ref.assert_close(node.evaluate(), x.T @ y.T, terms=5)


def test_einsum_same_node_twice(rng):
    x = randn(rng, 3, 4)
    a = rc.Array(x)
    node = rc.Einsum((a, (0, 1)), (a, (0, 1)), out_axes=(1,))
    ref.assert_close(node.evaluate(), (x * x).sum(0), terms=3)


@pytest.mark.parametrize("dtype", ref.FLOAT_DTYPES)
def test_einsum_large_matmul(dtype, rng):
    x, y = randn(rng, 130, 257, dtype=dtype), randn(rng, 257, 67, dtype=dtype)
    node = rc.Einsum.from_einsum_string("ij,jk->ik", rc.Array(x), rc.Array(y))
    expected = x.astype(np.float64) @ y.astype(np.float64)
    ref.assert_close(node.evaluate(), expected, dtype=dtype, terms=257)


def test_einsum_axis_size_different():
    a, b = rc.Array(np.zeros((2, 3))), rc.Array(np.zeros((4, 5)))
    with pytest.raises(rc.ConstructEinsumAxisSizeDifferentError, match="3.*4|4.*3"):
        rc.Einsum.from_einsum_string("ij,jk->ik", a, b)


# --- Index ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "index, expected",
    [
        ((1,), lambda x: x[1]),
        ((1, 2), lambda x: x[1, 2]),
        ((1, 2, 3), lambda x: x[1, 2, 3]),
        ((-1,), lambda x: x[-1]),
        ((0, -4, -5), lambda x: x[0, -4, -5]),
        ((slice(1, 3),), lambda x: x[1:3]),
        ((slice(None, 2), slice(1, None)), lambda x: x[:2, 1:]),
        ((slice(None), slice(-3, -1)), lambda x: x[:, -3:-1]),
        ((slice(-2, None), 0, slice(2, 2)), lambda x: x[-2:, 0, 2:2]),
        ((slice(0, 3), slice(0, 4), slice(0, 5)), lambda x: x),
        ((), lambda x: x),
        ((1, slice(1, 3), -2), lambda x: x[1, 1:3, -2]),
    ],
)
def test_index_ints_and_slices(index, expected, rng):
    x = randn(rng, 3, 4, 5)
    node = rc.Index(rc.Array(x), index)
    want = expected(x)
    assert node.shape == want.shape
    np.testing.assert_array_equal(node.evaluate(), want)


def test_index_with_i_helper(rng):
    x = randn(rng, 3, 4)
    np.testing.assert_array_equal(rc.Index(rc.Array(x), I[1:3, 0]).evaluate(), x[1:3, 0])
    np.testing.assert_array_equal(rc.Array(x).index(I[-1]).evaluate(), x[-1])


@pytest.mark.numpy_results
def test_index_spec_example():
    node = rc.Index(rc.Scalar(1.0, (10, 10)), (np.array([1, 2, 3, 3, 2, 1]), 0))
    assert node.shape == (6,)
    out = node.evaluate()
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, np.ones(6))


def test_index_tensor_on_one_axis(rng):
    x = randn(rng, 5, 3)
    idx = np.array([4, 0, 0, 2], dtype=np.int64)
    np.testing.assert_array_equal(rc.Index(rc.Array(x), (idx,)).evaluate(), x[idx])
    cols = np.array([2, 0], dtype=np.int64)
    np.testing.assert_array_equal(rc.Index(rc.Array(x), (slice(None), cols)).evaluate(), x[:, cols])


def test_index_tensors_act_independently(rng):
    x = randn(rng, 5, 6, 7)
    a = np.array([4, 0, 2], dtype=np.int64)
    b = np.array([5, 5, 1, 0], dtype=np.int64)
    node = rc.Index(rc.Array(x), (a, b))
    assert node.shape == (3, 4, 7)
    np.testing.assert_array_equal(node.evaluate(), x[np.ix_(a, b)])


def test_index_tensors_around_an_int_and_a_slice(rng):
    x = randn(rng, 5, 6, 7, 3)
    a = np.array([1, 3], dtype=np.int64)
    c = np.array([6, 0, 6], dtype=np.int64)
    node = rc.Index(rc.Array(x), (a, 2, c, slice(1, 3)))
    assert node.shape == (2, 3, 2)
    np.testing.assert_array_equal(node.evaluate(), x[:, 2][np.ix_(a, c)][:, :, 1:3])


def test_index_tensor_negative_values_wrap(rng):
    # rc indexes with torch, where -1 is the last position.
    x = randn(rng, 4, 3)
    idx = np.array([-1, 0, -4], dtype=np.int64)
    np.testing.assert_array_equal(rc.Index(rc.Array(x), (idx,)).evaluate(), x[idx])


def test_index_empty_tensor(rng):
    x = randn(rng, 4, 3)
    node = rc.Index(rc.Array(x), (np.array([], dtype=np.int64),))
    assert node.shape == (0, 3)
    assert node.evaluate().shape == (0, 3)


def test_index_of_a_permuted_child(rng):
    x = randn(rng, 4, 5, 6)
    permuted = rc.Array(x).rearrange_str("a b c -> c a b")
    idx = np.array([3, 0, 3], dtype=np.int64)
    node = rc.Index(permuted, (slice(1, 5), idx, -2))
    np.testing.assert_array_equal(node.evaluate(), x.transpose(2, 0, 1)[1:5][:, idx][:, :, -2])


@pytest.mark.numpy_results
def test_index_float32_stays_float32(rng):
    x = randn(rng, 4, 3, dtype=np.float32)
    out = rc.Index(rc.Array(x), (np.array([2, 1]), slice(1, None))).evaluate()
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, x[[2, 1], 1:])


@pytest.mark.parametrize("index", [(3,), (-4,), (slice(0, 4),), (slice(-4, None),), (slice(2, 1),)])
def test_index_out_of_bounds(index):
    with pytest.raises(rc.IndexIndexOutOfBoundsError, match="out of bounds"):
        rc.Index(rc.Array(np.zeros((3, 2))), index)


def test_index_tensor_value_out_of_bounds_fails_at_evaluation():
    node = rc.Index(rc.Array(np.zeros((3, 2))), (np.array([0, 3]),))
    with pytest.raises(rc.IndexIndexOutOfBoundsError, match="out of bounds"):
        node.evaluate()


def test_index_rank_too_high():
    with pytest.raises(rc.IndexIndexRankTooHighError, match="rank"):
        rc.Index(rc.Array(np.zeros((3, 2))), (0, 0, 0))


# --- Concat --------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ref.FLOAT_DTYPES)
@pytest.mark.parametrize(
    "shapes, axis",
    [
        ([(2, 3), (4, 3)], 0),
        ([(2, 3), (2, 1), (2, 5)], 1),
        ([(2, 3), (2, 1), (2, 5)], -1),
        ([(2, 3, 4), (2, 3, 4)], -2),
        ([(2, 3), (0, 3), (1, 3)], 0),
        ([(5,)], 0),
    ],
)
@pytest.mark.numpy_results
def test_concat_matches_numpy(shapes, axis, dtype, rng):
    xs = [randn(rng, *s, dtype=dtype) for s in shapes]
    node = rc.Concat(*[rc.Array(x) for x in xs], axis=axis)
    expected = np.concatenate(xs, axis=axis)
    assert node.shape == expected.shape
    assert node.axis == axis % len(shapes[0])
    out = node.evaluate()
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("axis", [0, 1, 2, -1, -3])
def test_concat_stack(axis, rng):
    xs = [randn(rng, 2, 3) for _ in range(3)]
    node = rc.Concat.stack(*[rc.Array(x) for x in xs], axis=axis)
    np.testing.assert_array_equal(node.evaluate(), np.stack(xs, axis=axis))


def test_concat_of_permuted_children(rng):
    x, y = randn(rng, 3, 2), randn(rng, 4, 3)
    xt = rc.Array(x).rearrange_str("a b -> b a")
    node = rc.Concat(xt, rc.Array(y), axis=0)
    np.testing.assert_array_equal(node.evaluate(), np.concatenate([x.T, y]))


@pytest.mark.numpy_results
def test_concat_with_scalar_keeps_float32(rng):
    x = randn(rng, 2, 3, dtype=np.float32)
    out = rc.Concat(rc.Array(x), rc.Scalar(7.0, (1, 3)), axis=0).evaluate()
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, np.concatenate([x, np.full((1, 3), 7.0, np.float32)]))


def test_concat_shape_different():
    with pytest.raises(rc.ConstructConcatShapeDifferentError, match="different shapes"):
        rc.Concat(rc.Array(np.zeros((2, 3))), rc.Array(np.zeros((2, 4))), axis=0)


# --- Rearrange -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape, string, expected",
    [
        ((2, 3, 4), "a b c -> c a b", lambda x: x.transpose(2, 0, 1)),
        ((3, 8), "a (b:2 c) -> a b c", lambda x: x.reshape(3, 2, 4)),
        ((3, 8), "a (b c:4) -> c a b", lambda x: x.reshape(3, 2, 4).transpose(2, 0, 1)),
        ((6, 5), "(a:2 b) c -> a (b c)", lambda x: x.reshape(2, 15)),
        (
            (6, 5),
            "(a:2 b) c -> (c a) b",
            lambda x: x.reshape(2, 3, 5).transpose(2, 0, 1).reshape(10, 3),
        ),
        ((2, 3), "a b -> (b a)", lambda x: x.T.reshape(6)),
        ((3,), "a -> a 5", lambda x: np.broadcast_to(x[:, None], (3, 5))),
        ((2, 3), "a b -> a 4 b", lambda x: np.broadcast_to(x[:, None, :], (2, 4, 3))),
        ((2, 3), "a b -> (a 2) b", lambda x: np.repeat(x, 2, axis=0)),
        ((2, 3), "a b -> (2 a) b", lambda x: np.concatenate([x, x])),
        ((1, 4), "() a -> a", lambda x: x[0]),
        ((4,), "a -> () a", lambda x: x[None]),
        ((2, 1, 3), "a () b -> b () a", lambda x: x[:, 0].T[:, None]),
    ],
)
def test_rearrange_string(shape, string, expected, rng):
    x = randn(rng, *shape)
    node = rc.Rearrange.from_string(rc.Array(x), string)
    want = expected(x)
    assert node.shape == want.shape
    np.testing.assert_array_equal(node.evaluate(), want)


def test_rearrange_spec_constructor(rng):
    x = randn(rng, 3, 8)
    spec = rc.RearrangeSpec([[0], [1, 2]], [[2], [0], [1]], [None, 2, None])
    node = rc.Rearrange(rc.Array(x), spec)
    np.testing.assert_array_equal(node.evaluate(), x.reshape(3, 2, 4).transpose(2, 0, 1))
    assert rc.Rearrange(rc.Array(x), rc.RearrangeSpec.from_string("a (b:2 c) -> c a b")) == node


@pytest.mark.numpy_results
def test_rearrange_float32_stays_float32(rng):
    x = randn(rng, 2, 3, dtype=np.float32)
    out = rc.Array(x).rearrange_str("a b -> b a").evaluate()
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, x.T)


def test_rearrange_wrong_input_shape():
    with pytest.raises(rc.ConstructError):
        rc.Rearrange.from_string(rc.Array(np.zeros((3, 7))), "a (b:2 c) -> a b c")


def test_squeeze_unsqueeze(rng):
    x = randn(rng, 1, 3, 1, 2)
    a = rc.Array(x)
    np.testing.assert_array_equal(a.squeeze([0, 2]).evaluate(), x.reshape(3, 2))
    np.testing.assert_array_equal(a.squeeze(-2).evaluate(), x[:, :, 0])
    np.testing.assert_array_equal(a.unsqueeze(0).evaluate(), x[None])
    np.testing.assert_array_equal(a.unsqueeze([1, -1]).evaluate(), x[:, None, ..., None])
    with pytest.raises(RuntimeError, match="size"):
        a.squeeze(1)


def test_flatten_unflatten(rng):
    x = randn(rng, 2, 3, 4)
    a = rc.Array(x)
    np.testing.assert_array_equal(a.flatten().evaluate(), x.reshape(24))
    np.testing.assert_array_equal(a.flatten().unflatten((4, 6)).evaluate(), x.reshape(4, 6))
    np.testing.assert_array_equal(a.unflatten_axis(1, (3, 1)).evaluate(), x.reshape(2, 3, 1, 4))
    np.testing.assert_array_equal(a.unflatten_axis(-1, (2, 2)).evaluate(), x.reshape(2, 3, 2, 2))
    with pytest.raises(rc.ConstructUnflattenButNDimNot1Error, match="1"):
        a.unflatten((24,))


def test_expand_at_axes(rng):
    x = randn(rng, 2, 3)
    a = rc.Array(x)
    np.testing.assert_array_equal(a.expand_at_axes(0, 5).evaluate(), np.broadcast_to(x, (5, 2, 3)))
    np.testing.assert_array_equal(
        a.expand_at_axes([1, 3], [4, 2]).evaluate(),
        np.broadcast_to(x[:, None, :, None], (2, 4, 3, 2)),
    )
    np.testing.assert_array_equal(
        a.expand_at_axes(-1, 2).evaluate(), np.broadcast_to(x[..., None], (2, 3, 2))
    )
    scalar = rc.Array(np.array(2.5))
    np.testing.assert_array_equal(scalar.expand_at_axes(0, 3).evaluate(), np.full(3, 2.5))


# --- GeneralFunction: gen_index, pow, Python specs ----------------------------------------


def test_gen_index_spec_example(rng):
    x = randn(rng, 1, 4, 2, 5, 7)
    index = rng.integers(0, 7, (1, 4, 2)).astype(np.int64)
    node = rc.GeneralFunction.gen_index(rc.Array(x), rc.Array(index), -1, batch_x=True)
    assert node.shape == (1, 4, 2, 5)
    expected = np.take_along_axis(x, index[..., None, None], axis=-1)[..., 0]
    np.testing.assert_array_equal(node.evaluate(), expected)


def test_gen_index_batch_x_other_axis(rng):
    x = randn(rng, 3, 6, 4)
    index = rng.integers(0, 6, (3,)).astype(np.int64)
    node = rc.GeneralFunction.gen_index(rc.Array(x), rc.Array(index), 0, batch_x=True)
    assert node.shape == (3, 4)
    np.testing.assert_array_equal(node.evaluate(), x[np.arange(3), index])


def test_gen_index_batch_index_only(rng):
    x = randn(rng, 5, 7)
    index = rng.integers(0, 5, (3, 2)).astype(np.int64)
    node = rc.GeneralFunction.gen_index(rc.Array(x), rc.Array(index), 0)
    assert node.shape == (3, 2, 7)
    np.testing.assert_array_equal(node.evaluate(), x[index])


def test_gen_index_unbatched(rng):
    x = randn(rng, 4, 6, 3)
    index = rng.integers(0, 6, (2, 5)).astype(np.int64)
    node = rc.GeneralFunction.gen_index(rc.Array(x), rc.Array(index), 1, batch_index=False)
    assert node.shape == (4, 2, 5, 3)
    np.testing.assert_array_equal(node.evaluate(), np.take(x, index, axis=1))


@pytest.mark.numpy_results
def test_gen_index_float32_output(rng):
    x = randn(rng, 4, 6, dtype=np.float32)
    index = np.array([5, 0, 5], dtype=np.int64)
    node = rc.GeneralFunction.gen_index(rc.Array(x), rc.Array(index), -1, batch_index=False)
    out = node.evaluate()
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, x[:, index])


def test_gen_index_value_out_of_bounds_fails_at_evaluation():
    x = rc.Array(np.zeros((4, 6)))
    node = rc.GeneralFunction.gen_index(x, rc.Array(np.array([6])), 1, batch_index=False)
    with pytest.raises(rc.MiscInputItemOutOfBoundsError, match="out of bounds"):
        node.evaluate()


def test_gen_index_needs_int64():
    x = rc.Array(np.zeros((4, 6)))
    with pytest.raises(rc.MiscInputIndexDtypeNotI64Error, match="int64"):
        rc.GeneralFunction.gen_index(x, rc.Array(np.zeros(3)), 0)


def test_pow_node(rng):
    base = rng.uniform(0.5, 2.0, (3, 4))
    exponent = randn(rng, 4)
    node = rc.pow(rc.Array(base, name="b"), rc.Array(exponent, name="e"))
    assert node.name == "pow(b, e)"
    ref.assert_close(node.evaluate(), base**exponent)


class ScaledSum(rc.GeneralFunctionSpecBase):
    """x + 2 y with broadcasting; records the types it was called with."""

    def __init__(self):
        self.seen = []

    @property
    def name(self):
        return "scaled_sum"

    def function(self, x, y):
        self.seen.append((type(x), type(y)))
        return x + 2 * y

    def get_shape_info(self, x_shape, y_shape):
        shape = np.broadcast_shapes(tuple(x_shape), tuple(y_shape))
        return rc.GeneralFunctionShapeInfo(
            shape, 0, [len(x_shape) == len(shape), len(y_shape) == len(shape)]
        )


class WithSquares(rc.GeneralFunctionSpecBase):
    """(..., n) -> (..., n, 2): each value next to its square."""

    @property
    def name(self):
        return "with_squares"

    def function(self, x):
        return np.stack([x, x * x], axis=-1)

    def get_shape_info(self, shape):
        return rc.GeneralFunctionShapeInfo(tuple(shape) + (2,), 1, [True])


class Raises(rc.GeneralFunctionSpecBase):
    @property
    def name(self):
        return "raises"

    def function(self, x):
        raise KeyError("boom from the spec")

    def get_shape_info(self, shape):
        return rc.GeneralFunctionShapeInfo(shape, 0, [True])


@pytest.mark.numpy_results
def test_python_spec_evaluates(rng):
    x, y = randn(rng, 2, 3), randn(rng, 3)
    spec = ScaledSum()
    node = rc.GeneralFunction(rc.Array(x, name="x"), rc.Array(y, name="y"), spec=spec)
    assert node.shape == (2, 3)
    assert node.name == "scaled_sum(x, y)"
    ref.assert_close(node.evaluate(), x + 2 * y)
    assert spec.seen == [(np.ndarray, np.ndarray)]


@pytest.mark.numpy_results
def test_python_spec_changing_shape(rng):
    x = randn(rng, 3, 4, dtype=np.float32)
    node = rc.GeneralFunction(rc.Array(x), spec=WithSquares())
    assert node.shape == (3, 4, 2)
    out = node.evaluate()
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, np.stack([x, x * x], axis=-1))


def test_python_spec_exception_is_kept():
    node = rc.GeneralFunction(rc.Array(np.zeros(3)), spec=Raises())
    with pytest.raises(KeyError, match="boom from the spec"):
        node.evaluate()


# --- Tag -----------------------------------------------------------------------------------


def test_tag_is_identity(rng):
    x = randn(rng, 3, 4)
    inner = rc.Add(rc.Array(x), rc.Scalar(1.0))
    t1 = rc.Tag(inner, uuid.uuid4())
    t2 = rc.Tag.new_with_random_uuid(inner)
    assert t1.shape == (3, 4)
    assert t1 != t2
    np.testing.assert_array_equal(t1.evaluate(), x + 1.0)
    np.testing.assert_array_equal(t2.evaluate(), x + 1.0)


# --- reductions ----------------------------------------------------------------------------

AXES = [None, 0, 1, -1, (0, 2), (2, 0), (0, 1, 2), ()]


@pytest.mark.parametrize("dtype", ref.FLOAT_DTYPES)
@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("op", ["sum", "mean", "max", "min"])
def test_reductions(op, axis, dtype, rng):
    x = randn(rng, 2, 3, 4, dtype=dtype)
    node = getattr(rc.Array(x), op)(axis)
    np_axis = tuple(axis) if isinstance(axis, tuple) else axis
    expected = getattr(np, op)(x.astype(np.float64), axis=np_axis)
    assert node.shape == np.shape(expected)
    terms = x.size // max(1, np.size(expected))
    ref.assert_close(node.evaluate(), expected, dtype=dtype, terms=terms)


def test_reduction_axis_out_of_bounds():
    with pytest.raises(rc.MiscInputItemOutOfBoundsError, match="out of bounds"):
        rc.Array(np.zeros((2, 3))).sum(2)


# --- evaluate_many -------------------------------------------------------------------------


class Counting(rc.GeneralFunctionSpecBase):
    """Identity that counts its calls."""

    def __init__(self):
        self.calls = 0

    @property
    def name(self):
        return "counting"

    def function(self, x):
        self.calls += 1
        return x.copy()

    def get_shape_info(self, shape):
        return rc.GeneralFunctionShapeInfo(shape, 0, [True])


@pytest.mark.numpy_results
def test_evaluate_many_matches_evaluate(rng):
    x, y = randn(rng, 3, 4), randn(rng, 4)
    a, b = rc.Array(x), rc.Array(y)
    shared = rc.Add(a, b)
    contracted = rc.Einsum.from_einsum_string("ij,j->i", shared, b)
    circuits = [rc.softmax(shared), shared.mul_scalar(2.0), shared, contracted, a]
    results = rc.evaluate_many(circuits)
    assert len(results) == len(circuits)
    for c, r in zip(circuits, results):
        ref.assert_close(r, c.evaluate(), terms=4)
    ref.assert_close(results[0], ref.softmax(x + y))


@pytest.mark.numpy_results
def test_evaluate_many_computes_shared_subterms_once(rng):
    x = randn(rng, 3, 4)
    spec = Counting()
    a = rc.Array(x)
    first = rc.GeneralFunction(a, spec=spec)
    rebuilt = rc.GeneralFunction(rc.Array(x.copy()), spec=spec)
    assert first == rebuilt
    circuits = [rc.Add(first, first), rc.softmax(rebuilt), first.sum(0), first]
    results = rc.evaluate_many(circuits)
    assert spec.calls == 1
    ref.assert_close(results[0], 2 * x)
    ref.assert_close(results[1], ref.softmax(x))
    ref.assert_close(results[2], x.sum(0), terms=3)
    ref.assert_close(results[3], x)


def test_evaluate_many_empty_and_repeated(rng):
    assert list(rc.evaluate_many([])) == []
    x = randn(rng, 2)
    a = rc.Array(x)
    r1, r2 = rc.evaluate_many([a, a])
    np.testing.assert_array_equal(r1, x)
    np.testing.assert_array_equal(r2, x)
