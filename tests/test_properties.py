"""Property tests (hypothesis): random einsum specs, rearrange specs, dimwise indices and
broadcasting Adds, each evaluated by the engine and compared with numpy."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import circuits as rc
import reference as ref

SEEDS = st.integers(0, 2**32 - 1)


def partition(draw, items):
    """Split `items` (kept in order) into consecutive non-empty groups at random cut points."""
    groups = []
    for k, item in enumerate(items):
        if k == 0 or draw(st.booleans()):
            groups.append([])
        groups[-1].append(item)
    return groups


def with_empty_groups(draw, groups, most):
    """`groups` with up to `most` empty groups inserted at random positions."""
    groups = list(groups)
    for _ in range(draw(st.integers(0, most))):
        groups.insert(draw(st.integers(0, len(groups))), [])
    return groups


# --- Einsum --------------------------------------------------------------------------------


@st.composite
def einsum_cases(draw):
    labels = draw(st.lists(st.integers(0, 255), min_size=1, max_size=5, unique=True))
    sizes = {label: draw(st.integers(1, 4)) for label in labels}
    operands = [
        tuple(draw(st.lists(st.sampled_from(labels), max_size=3)))
        for _ in range(draw(st.integers(1, 3)))
    ]
    used = list(dict.fromkeys(label for axes in operands for label in axes))
    out = list(draw(st.permutations(used)))[: draw(st.integers(0, len(used)))]
    if out and draw(st.integers(0, 4)) == 0:
        # A repeated output label: the result lies on a diagonal.
        out.insert(draw(st.integers(0, len(out))), draw(st.sampled_from(out)))
    return sizes, operands, tuple(out), draw(SEEDS)


@given(einsum_cases())
def test_einsum_matches_numpy(case):
    sizes, operands, out_axes, seed = case
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal([sizes[label] for label in axes]) for axes in operands]
    node = rc.Einsum(*[(rc.Array(a), axes) for a, axes in zip(arrays, operands)], out_axes=out_axes)
    expected = ref.einsum(list(zip(arrays, operands)), out_axes)
    assert node.shape == expected.shape
    summed = {label for axes in operands for label in axes} - set(out_axes)
    terms = math.prod(sizes[label] for label in summed)
    ref.assert_close(node.evaluate(), expected, terms=terms)


# --- Rearrange -----------------------------------------------------------------------------


@st.composite
def rearrange_cases(draw):
    """Atoms 0..n-1 split from the input axes, permuted, joined by repeats, regrouped.

    Returns (input_groups, output_groups, sizes, wildcards, seed): groups list atom ids; atoms
    >= n_in are repeats (output only); wildcards are input atoms given without a size.
    """
    n_in = draw(st.integers(1, 5))
    n_rep = draw(st.integers(0, 2))
    sizes = [draw(st.integers(1, 4)) for _ in range(n_in)] + [
        draw(st.integers(1, 3)) for _ in range(n_rep)
    ]
    input_groups = with_empty_groups(draw, partition(draw, list(range(n_in))), 1)
    order = list(draw(st.permutations(list(range(n_in + n_rep)))))
    output_groups = with_empty_groups(draw, partition(draw, order), 1)
    wildcards = set()
    for group in input_groups:
        if group and draw(st.booleans()):
            wildcards.add(draw(st.sampled_from(group)))
    return input_groups, output_groups, sizes, wildcards, draw(SEEDS)


def rearrange_reference(x, input_groups, output_groups, sizes):
    n_in = sum(len(g) for g in input_groups)
    order = [a for g in output_groups for a in g]
    y = x.reshape([sizes[a] for a in range(n_in)])
    y = y.transpose([a for a in order if a < n_in])
    y = y.reshape([sizes[a] if a < n_in else 1 for a in order])
    y = np.broadcast_to(y, [sizes[a] for a in order])
    return y.reshape([math.prod(sizes[a] for a in g) for g in output_groups])


def rearrange_string(input_groups, output_groups, sizes, wildcards):
    n_in = sum(len(g) for g in input_groups)

    def token(atom, side):
        if atom >= n_in:
            return str(sizes[atom])
        name = "abcdefghij"[atom]
        if side == "in" and atom not in wildcards:
            return f"{name}:{sizes[atom]}"
        return name

    def side_text(groups, side):
        parts = []
        for g in groups:
            inner = " ".join(token(a, side) for a in g)
            parts.append(inner if len(g) == 1 else f"({inner})")
        return " ".join(parts)

    return f"{side_text(input_groups, 'in')} -> {side_text(output_groups, 'out')}"


@given(rearrange_cases())
def test_rearrange_matches_numpy(case):
    input_groups, output_groups, sizes, wildcards, seed = case
    rng = np.random.default_rng(seed)
    shape = [math.prod(sizes[a] for a in g) for g in input_groups]
    x = rng.standard_normal(shape)
    expected = rearrange_reference(x, input_groups, output_groups, sizes)

    # Rename the atoms' ints by a random bijection, so the spec is not in canonical order.
    n_ints = len(sizes)
    rename = rng.permutation(n_ints).tolist()
    int_sizes = [None] * n_ints
    for atom, size in enumerate(sizes):
        int_sizes[rename[atom]] = None if atom in wildcards else size
    spec = rc.RearrangeSpec(
        [[rename[a] for a in g] for g in input_groups],
        [[rename[a] for a in g] for g in output_groups],
        int_sizes,
    )
    from_spec = rc.Rearrange(rc.Array(x), spec)
    assert from_spec.shape == expected.shape
    np.testing.assert_array_equal(from_spec.evaluate(), expected)

    string = rearrange_string(input_groups, output_groups, sizes, wildcards)
    from_string = rc.Rearrange.from_string(rc.Array(x), string)
    assert from_string.shape == expected.shape
    np.testing.assert_array_equal(from_string.evaluate(), expected)


# --- Index ---------------------------------------------------------------------------------


@st.composite
def slice_entries(draw, length):
    """A start:stop slice with start <= stop after normalisation, bounds in [-l, l] or None."""
    start = draw(st.integers(0, length))
    stop = draw(st.integers(start, length))

    def bound(value, default):
        forms = [value]
        if value == default:
            forms.append(None)
        if value < length:
            forms.append(value - length)
        return draw(st.sampled_from(forms))

    return slice(bound(start, 0), bound(stop, length))


@st.composite
def index_entries(draw, length):
    kind = draw(st.sampled_from(["int", "slice", "tensor"]))
    if kind == "int":
        return draw(st.integers(-length, length - 1))
    if kind == "slice":
        return draw(slice_entries(length))
    values = draw(st.lists(st.integers(0, length - 1), max_size=5))
    return np.array(values, dtype=np.int64)


@st.composite
def index_cases(draw):
    shape = draw(st.lists(st.integers(1, 5), min_size=1, max_size=4))
    n_entries = draw(st.integers(0, len(shape)))
    entries = tuple(draw(index_entries(length)) for length in shape[:n_entries])
    return shape, entries, draw(SEEDS)


def index_reference(x, entries):
    """Apply dimwise entries one axis at a time."""
    y, axis = x, 0
    for entry in entries:
        if isinstance(entry, slice):
            y = y[(slice(None),) * axis + (entry,)]
            axis += 1
        else:
            y = np.take(y, entry, axis=axis)
            axis += 0 if isinstance(entry, int) else 1
    return y


@given(index_cases(), st.sampled_from(ref.FLOAT_DTYPES))
@pytest.mark.numpy_results
def test_index_matches_numpy(case, dtype):
    shape, entries, seed = case
    x = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    expected = index_reference(x, entries)
    node = rc.Index(rc.Array(x), entries)
    assert node.shape == expected.shape
    out = node.evaluate()
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, expected)


# --- Add -----------------------------------------------------------------------------------


@st.composite
def add_cases(draw):
    """Operands of a broadcasting Add: (shape, is_array) each, right-aligned to one shape."""
    out_shape = draw(st.lists(st.integers(1, 4), max_size=4))
    operands = []
    for _ in range(draw(st.integers(1, 4))):
        rank = draw(st.integers(0, len(out_shape)))
        tail = out_shape[len(out_shape) - rank :]
        shape = tuple(1 if draw(st.booleans()) else size for size in tail)
        operands.append((shape, draw(st.integers(0, 3)) > 0))
    return operands, draw(st.sampled_from(ref.FLOAT_DTYPES)), draw(SEEDS)


@given(add_cases())
def test_add_matches_numpy(case):
    operands, dtype, seed = case
    rng = np.random.default_rng(seed)
    nodes, values = [], []
    for shape, is_array in operands:
        if is_array:
            x = rng.standard_normal(shape).astype(dtype)
            nodes.append(rc.Array(x))
            values.append(x.astype(np.float64))
        else:
            v = float(rng.standard_normal())
            nodes.append(rc.Scalar(v, shape))
            values.append(np.full(shape, v))
    expected = sum(values[1:], values[0])
    node = rc.Add(*nodes)
    assert node.shape == expected.shape
    out_dtype = dtype if any(is_array for _, is_array in operands) else np.float64
    ref.assert_close(node.evaluate(), expected, dtype=out_dtype, terms=len(operands))
