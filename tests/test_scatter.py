"""The Scatter kind (rc's Scatter, spec 2.15): zeros of a shape with the child written at one
start:stop slice per axis. Values against numpy on random shapes and slices, every
construction error (class and message), the canonical slices, the autoname, print/parse round
trips, rc's hash layout, expansion over batch axes, and push_down_index through it."""

import struct
import uuid

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import circuits as rc

NAME_DELIMITER = uuid.UUID("025e9af4-1366-4211-aa5f-7c28fc6cdf9f").bytes
INDEX_DELIMITER = uuid.UUID("3d14636b-a1ed-4235-91cd-5fc9e818c93d").bytes
SCATTER_UUID = uuid.UUID("50cce6d3-457c-4f52-9a23-1903bdc76533").bytes


def value(c):
    return np.asarray(rc.Circuit.evaluate(c))


@st.composite
def scatter_cases(draw):
    """(shape, slices as given (some with negative or absent bounds), child shape)."""
    rank = draw(st.integers(0, 4))
    shape, given_slices, child_shape = [], [], []
    for _ in range(rank):
        length = draw(st.integers(0, 5))
        start = draw(st.integers(0, length))
        stop = draw(st.integers(start, length))
        form = draw(st.sampled_from(["plain", "negative", "open"]))
        if form == "negative":
            s = slice(
                start - length if start < length else start,
                stop - length if stop < length else stop,
            )
        elif form == "open":
            s = slice(None if start == 0 else start, None if stop == length else stop)
        else:
            s = slice(start, stop)
        shape.append(length)
        given_slices.append(s)
        child_shape.append(stop - start)
    return tuple(shape), given_slices, tuple(child_shape)


@settings(max_examples=60, deadline=None)
@given(scatter_cases(), st.integers(0, 2**31 - 1))
def test_values_match_numpy(case, seed):
    shape, slices, child_shape = case
    x = np.random.default_rng(seed).standard_normal(child_shape)
    node = rc.Scatter(rc.Array(x), slices, shape)
    expected = np.zeros(shape)
    expected[tuple(slices)] = x
    assert node.shape == shape
    np.testing.assert_array_equal(value(node), expected)
    canon = [slice(*s.indices(length)[:2]) for s, length in zip(slices, shape)]
    assert list(node.idx) == canon
    assert node.is_identity() == (child_shape == shape)


def test_missing_entries_are_full_slices():
    x = np.arange(6.0).reshape(2, 3)
    node = rc.Scatter(rc.Array(x), [slice(1, 3)], (4, 3))
    assert node.idx == (slice(1, 3), slice(0, 3))
    expected = np.zeros((4, 3))
    expected[1:3] = x
    np.testing.assert_array_equal(value(node), expected)


def test_single_slice_is_accepted_like_a_one_entry_index():
    node = rc.Scatter(rc.Array(np.ones(2)), slice(1, 3), (4,))
    np.testing.assert_array_equal(value(node), [0, 1, 1, 0])


def test_dtype_follows_the_child():
    x = np.arange(4, dtype=np.float32).reshape(2, 2)
    out = value(rc.Scatter(rc.Array(x), [slice(0, 2), slice(1, 3)], (3, 3)))
    assert out.dtype == np.float32
    ints = value(rc.Scatter(rc.Array(np.arange(2, dtype=np.int64)), [slice(1, 3)], (3,)))
    assert ints.dtype == np.int64 and list(ints) == [0, 0, 1]


def test_scalar_child():
    out = value(rc.Scatter(rc.Scalar(1.0, (2, 2)), [slice(1, 3), slice(1, 3)], (4, 4)))
    expected = np.zeros((4, 4))
    expected[1:3, 1:3] = 1
    np.testing.assert_array_equal(out, expected)


def test_autoname_and_node():
    x = rc.Array(np.ones(2), name="x")
    node = rc.Scatter(x, [slice(0, 2)], (3,))
    assert node.name == "x scatter"
    assert node.node == x and node.children == [x]
    assert rc.Scatter(x, [slice(0, 2)], (3,), name="s").name == "s"
    assert node.is_scatter() and node.cast_scatter() is node and x.maybe_scatter() is None


def test_scatter_of_an_add_parenthesises_the_infix_name():
    a = rc.Add(rc.Array(np.ones(2), name="a"), rc.Array(np.ones(2), name="b"))
    assert rc.Scatter(a, [slice(0, 2)], (3,)).name == "(a + b) scatter"


# --- construction errors ----------------------------------------------------------------


def test_shape_wrong():
    x = rc.Array(np.ones((2, 3)))
    with pytest.raises(
        rc.ConstructScatterShapeWrongError,
        match=r"covers \[2, 2\] but the child's shape is \[2, 3\]",
    ):
        rc.Scatter(x, [slice(0, 2), slice(0, 2)], (4, 4))
    with pytest.raises(rc.ConstructScatterShapeWrongError, match="child's shape"):
        rc.Scatter(x, [slice(0, 2)], (4,))


def test_ints_and_tensors_are_not_implemented():
    x = rc.Array(np.ones(3))
    with pytest.raises(
        rc.ConstructScatterIndexTypeUnimplementedError, match=r"only start:stop slices.*\[0,0:3\]"
    ):
        rc.Scatter(x, [0, slice(0, 3)], (2, 3))
    with pytest.raises(rc.ConstructScatterIndexTypeUnimplementedError, match="tensor of length 3"):
        rc.Scatter(x, [np.array([0, 1, 2])], (3,))


def test_out_of_bounds_slices_do_not_saturate():
    x = rc.Array(np.ones(3))
    with pytest.raises(
        rc.IndexIndexOutOfBoundsError,
        match=r"entry 0 of index \[0:6\] on shape \[4\] is out of bounds",
    ):
        rc.Scatter(x, [slice(0, 6)], (4,))
    with pytest.raises(rc.IndexIndexOutOfBoundsError, match="don't saturate"):
        rc.Scatter(x, [slice(-5, 3)], (4,))


def test_index_rank_too_high_and_bad_shapes():
    x = rc.Array(np.ones(3))
    with pytest.raises(rc.IndexIndexRankTooHighError, match="index rank too high: 2 vs 1"):
        rc.Scatter(x, [slice(0, 3), slice(0, 1)], (3,))
    with pytest.raises(ValueError, match="shape sizes must be >= 0"):
        rc.Scatter(x, [slice(0, 3)], (-3,))
    with pytest.raises(TypeError):
        rc.Scatter(np.ones(3), [slice(0, 3)], (3,))
    with pytest.raises(ValueError, match="step"):
        rc.Scatter(x, [slice(0, 3, 2)], (6,))


def test_errors_are_construct_errors():
    assert issubclass(rc.ConstructScatterShapeWrongError, rc.ConstructError)
    assert issubclass(rc.ConstructScatterIndexTypeUnimplementedError, rc.ConstructError)


# --- hash, print, parse -----------------------------------------------------------------


def golden(child, bounds, shape, name):
    blake3 = pytest.importorskip("blake3")
    inner = blake3.blake3()
    for start, stop in bounds:
        inner.update(INDEX_DELIMITER)
        inner.update(struct.pack("<q", start) + b"\x00" + struct.pack("<q", stop) + b"\x00")
    h = blake3.blake3()
    h.update(inner.digest())
    h.update(b"".join(struct.pack("<Q", s) for s in shape))
    h.update(child.hash)
    h.update(SCATTER_UUID)
    h.update(bytes([name is not None]))
    h.update(b"" if name is None else name.encode())
    h.update(NAME_DELIMITER)
    h.update(bytes([1]))
    return h.digest()


def test_golden_hash_uses_the_canonical_slices():
    x = rc.Array(np.ones((2, 3)), name="x")
    node = rc.Scatter(x, [slice(-2, 3), slice(None, 3)], (3, 4), name="s")
    assert node.hash == golden(x, [(1, 3), (0, 3)], (3, 4), "s")
    same = rc.Scatter(x, [slice(1, 3), slice(0, 3)], (3, 4), name="s")
    assert same == node and hash(same) == hash(node)
    assert rc.Scatter(x, [slice(0, 2), slice(0, 3)], (3, 4), name="s") != node
    assert rc.Scatter(x, [slice(1, 3), slice(0, 3)], (3, 5), name="s") != node


def test_printed_line_has_shape_and_slices():
    x = rc.Array(np.ones((2, 3)), name="x")
    node = rc.Scatter(x, [slice(1, None), slice(None, 3)], (3, 4), name="s")
    first = node.repr().splitlines()[0]
    assert first == "'s' [3,4] Scatter [1:3,0:3]"


def test_print_parse_round_trip():
    x = rc.Array(np.random.default_rng(0).standard_normal((2, 3)), name="x")
    node = rc.Scatter(rc.Add(x, x, name="y"), [slice(1, 3), slice(0, 3)], (3, 4), name="s")
    text = rc.PrintOptions(bijection=True).repr(node)
    assert rc.Parser(tensor_loader=lambda p: x.value)(text) == node


def test_parse_texts():
    parse = rc.Parser()
    node = parse("'s' [4] Scatter [1:3]\n  'c' [2] Scalar 1")
    np.testing.assert_array_equal(value(node), [0, 1, 1, 0])
    assert parse("0 [4] Scatter [1:]\n  1 [3] Scalar 1").idx == (slice(1, 4),)
    with pytest.raises(rc.ParseCircuitShapeNeededError):
        parse("0 Scatter [1:3]\n  1 [2] Scalar 1")
    with pytest.raises(rc.ConstructScatterIndexTypeUnimplementedError):
        parse("0 [2,2] Scatter [0,0:2]\n  1 [2] Scalar 1")
    with pytest.raises(rc.ParseInvalidIndexError, match="slices only"):
        parse("0 [2] Scatter [[0, 1]]\n  1 [2] Scalar 1")
    with pytest.raises(rc.ParseInvalidIndexError, match="empty index item"):
        parse("0 [2] Scatter [0:2,]\n  1 [2] Scalar 1")


def test_pickle_round_trip():
    import pickle

    node = rc.Scatter(
        rc.Scalar(2.0, (1, 2), name="c"), [slice(0, 1), slice(1, 3)], (2, 3), name="s"
    )
    assert pickle.loads(pickle.dumps(node)) == node


# --- expansion, rewrites over the kind --------------------------------------------------


def test_expand_adds_full_batch_axes():
    x = rc.Array(np.ones((2, 3)), name="x")
    node = rc.Scatter(x, [slice(1, 3), slice(0, 3)], (3, 4), name="s")
    xb = rc.Array(np.random.default_rng(1).standard_normal((5, 2, 3)), name="xb")
    out = rc.Expander((x, lambda _: xb))(node)
    assert out.is_scatter() and out.shape == (5, 3, 4) and out.name == "s"
    assert out.idx == (slice(0, 5), slice(1, 3), slice(0, 3))
    expected = np.zeros((5, 3, 4))
    expected[:, 1:3, 0:3] = xb.value
    np.testing.assert_allclose(value(out), expected)


def test_expand_cannot_resize_a_scattered_axis():
    x = rc.Array(np.ones((2, 3)), name="x")
    node = rc.Scatter(x, [slice(1, 3), slice(0, 3)], (3, 4), name="s")
    with pytest.raises(rc.ExpandFixedIndexError, match="scattered"):
        rc.Expander((x, lambda _: rc.Array(np.ones((2, 2)))))(node)


def test_map_children_rebuilds_with_the_same_slices():
    x = rc.Array(np.ones((2, 3)), name="x")
    node = rc.Scatter(x, [slice(1, 3), slice(0, 3)], (3, 4), name="s")
    y = rc.Array(np.full((2, 3), 2.0), name="y")
    out = node.map_children(lambda c: y)
    assert out.idx == node.idx and out.shape == node.shape
    assert value(out).sum() == 12.0


def test_push_down_index_passes_int_zero_on_one_long_slices():
    rng = np.random.default_rng(2)
    x = rc.Array(rng.standard_normal((1, 3, 2)), name="x")
    s = rc.Scatter(x, [slice(0, 1), slice(1, 4), slice(0, 2)], (1, 5, 2), name="s")
    idx = rc.Index(s, [0], name="i")
    out = rc.push_down_index_once(idx)
    assert out.is_scatter() and out.name == "s" and out.idx == (slice(1, 4), slice(0, 2))
    np.testing.assert_allclose(value(out), value(idx))
    partial = rc.Index(s, [0, slice(0, 3)], name="i")
    with pytest.raises(rc.PushDownIndexScatterSomeAxesNotPossibleError, match="stay above"):
        rc.push_down_index_once(partial)
    top = rc.push_down_index_once(partial, allow_partial_pushdown=True)
    assert top.is_index() and top.node.is_scatter()
    np.testing.assert_allclose(value(top), value(partial))
    with pytest.raises(rc.PushDownIndexScatterNoopError, match="has none"):
        rc.push_down_index_once(rc.Index(s, [slice(0, 1)]))


def test_matcher_types_finds_scatters():
    x = rc.Array(np.ones(2), name="x")
    s = rc.Scatter(x, [slice(0, 2)], (3,), name="s")
    root = rc.Add(s, s, name="root")
    assert root.get(rc.Matcher.types(rc.Scatter)) == {s}


def cuda_missing():
    try:
        from circuits import _circuits_cuda as cuda
    except ImportError:
        return "circuits._circuits_cuda was not built"
    return None if cuda.device_count > 0 else "no GPU"


@pytest.mark.skipif(cuda_missing() is not None, reason=str(cuda_missing()))
def test_cuda_backend_refuses_scatter_clearly():
    node = rc.Scatter(rc.Array(np.ones(2, dtype=np.float32)), [slice(0, 2)], (3,), name="s")
    with pytest.raises(rc.TensorEvalError, match="is not supported on cuda:0"):
        node.evaluate(device="cuda")


RC_TEXT = """
0 [5, 3, 6] Add#c
  1 [3, 1] Scatter [0:2,0:1] # comment
    2 [2, 1] Scalar 1.0
  10 [5, 3, 6] Scatter [0:5,0:3,0:3]###
    4 '# my name' [5, 3, 3] Concat 0#dfj
      5 [2, 3, 3] Scalar 1.2      #  sldkj#*$&fstuf
      6 [3, 3, 3] Scalar 1.2"""


def test_rc_printing_texts_with_scatters_parse():
    node = rc.Parser()(RC_TEXT)
    small, big = node.children
    assert small.is_scatter() and small.shape == (3, 1) and small.idx == (slice(0, 2), slice(0, 1))
    assert big.is_scatter() and big.node.name == "# my name"
    want = np.zeros((5, 3, 6))
    want[:, :2, :] += 1.0  # the [3, 1] Scatter broadcasts along the last axis
    want[:, :, :3] += 1.2
    np.testing.assert_allclose(value(node), want)
    lines = rc.PrintOptions(bijection=False).repr(node).splitlines()
    assert lines[1] == "  1 [3,1] Scatter [0:2,0:1]"


@settings(max_examples=40, deadline=None)
@given(st.data(), st.integers(0, 2**31 - 1))
def test_push_down_index_through_scatter_keeps_values(data, seed):
    rng = np.random.default_rng(seed)
    rank = data.draw(st.integers(1, 3))
    shape, slices, child_shape, entries = [], [], [], []
    for _ in range(rank):
        one_long = data.draw(st.booleans())
        length = data.draw(st.integers(1, 4))
        start, stop = (
            (0, 1)
            if one_long
            else sorted(data.draw(st.tuples(st.integers(0, length), st.integers(0, length))))
        )
        shape.append(length)
        slices.append(slice(start, stop))
        child_shape.append(stop - start)
        kind = data.draw(st.sampled_from(["zero", "full", "slice"]))
        if kind == "zero":
            entries.append(0)
        elif kind == "full":
            entries.append(slice(None))
        else:
            a = data.draw(st.integers(0, length))
            entries.append(slice(a, data.draw(st.integers(a, length))))
    x = rc.Array(rng.standard_normal(child_shape), name="x")
    s = rc.Scatter(rc.Add(x, x, name="y"), slices, tuple(shape), name="s")
    idx = rc.Index(s, entries, name="i")
    passes = any(e == 0 and sl == slice(0, 1) for e, sl in zip(entries, slices))
    identity = all(
        isinstance(e, slice) and e.indices(n)[:2] == (0, n) for e, n in zip(entries, shape)
    )
    if identity:
        assert rc.push_down_index(idx) == s
        return
    if not passes:
        with pytest.raises(rc.PushDownIndexScatterNoopError):
            rc.push_down_index(idx, allow_partial_pushdown=True)
        return
    out = rc.push_down_index(idx, allow_partial_pushdown=True)
    assert out.shape == idx.shape
    np.testing.assert_allclose(value(out), value(idx), rtol=1e-12, atol=1e-12)
