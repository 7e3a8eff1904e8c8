"""Tests of the engine's fast kernel paths against numpy: batched GEMMs on strided operands
(attention-shaped einsums whose batch axes interleave with matrix axes, transposed results),
batched dot products and products of three operands without a contraction (layer norm's
einsums), on float32 and float64, contiguous and non-contiguous inputs, with size-1 and
size-0 axes."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import circuits as rc
import reference as ref

SEEDS = st.integers(0, 2**32 - 1)
DTYPES = st.sampled_from([np.float32, np.float64])


def strided(rng, shape, dtype, layout):
    """A standard-normal array of `shape` whose memory layout is C order, a permutation of
    the axes, or a view with a step of 2 on the last axis."""
    if layout == "contiguous" or len(shape) == 0:
        return rng.standard_normal(shape).astype(dtype)
    if layout == "permuted":
        perm = rng.permutation(len(shape))
        base = rng.standard_normal([shape[p] for p in perm]).astype(dtype)
        return base.transpose(np.argsort(perm))
    base = rng.standard_normal(tuple(shape[:-1]) + (2 * shape[-1],)).astype(dtype)
    return base[..., ::2]


def check_einsum(spec, arrays):
    inputs, out = spec.split("->")
    operands = [tuple(ord(c) for c in axes) for axes in inputs.split(",")]
    node = rc.Einsum(
        *[(rc.Array(a), axes) for a, axes in zip(arrays, operands)],
        out_axes=tuple(ord(c) for c in out),
    )
    expected = np.einsum(spec, *[a.astype(np.float64) for a in arrays])
    sizes = {}
    for a, axes in zip(arrays, operands):
        sizes.update(zip(axes, a.shape))
    summed = {label for axes in operands for label in axes} - {ord(c) for c in out}
    terms = math.prod(sizes[label] for label in summed)
    ref.assert_close(node.evaluate(), expected.astype(arrays[0].dtype), terms=terms)


ATTENTION_SPECS = [
    "bshk,bthk->bhst",  # scores: batch (b, h) interleaved with rows s and columns k
    "bhst,bthk->bshk",  # pattern @ v, written into an interleaved result
    "bshk,bthk->bhts",  # scores transposed
    "bshk,bthk->sbht",  # batch axes inside the result's rows
    "bhst,bthk->bhsk",
    "bhst,bthk->kbsh",  # result with the GEMM's columns outermost
    "bsd,hkd->bshk",
    "bshk,dhk->bsd",
]


@st.composite
def attention_cases(draw):
    spec = draw(st.sampled_from(ATTENTION_SPECS))
    labels = sorted(set(spec) - set(",->"))
    sizes = {label: draw(st.sampled_from([0, 1, 2, 3, 5, 8, 17])) for label in labels}
    if draw(st.booleans()):
        # Mostly non-empty: size-0 axes give an all-zero result early.
        sizes = {label: max(size, 1) for label, size in sizes.items()}
    layouts = [draw(st.sampled_from(["contiguous", "permuted", "step"])) for _ in range(2)]
    return spec, sizes, layouts, draw(DTYPES), draw(SEEDS)


@given(attention_cases())
def test_strided_batched_gemm_matches_numpy(case):
    spec, sizes, layouts, dtype, seed = case
    rng = np.random.default_rng(seed)
    inputs = spec.split("->")[0].split(",")
    arrays = [
        strided(rng, [sizes[c] for c in axes], dtype, layout)
        for axes, layout in zip(inputs, layouts)
    ]
    check_einsum(spec, arrays)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("spec", ATTENTION_SPECS)
def test_attention_einsums_at_threaded_size(spec, dtype):
    """Sizes large enough for the batch loop to run on threads."""
    sizes = {"b": 3, "s": 40, "t": 40, "h": 5, "k": 24, "d": 48}
    rng = np.random.default_rng(7)
    inputs = spec.split("->")[0].split(",")
    arrays = [rng.standard_normal([sizes[c] for c in axes]).astype(dtype) for axes in inputs]
    check_einsum(spec, arrays)


DOT_AND_PRODUCT_SPECS = [
    "bsd,bsd->bs",  # batched dot products (layer norm's variance)
    "bsd,bsd->sb",
    "bsd,sbd->bs",
    "bsde,bsde->bs",  # two summed labels merged into one axis
    "bsde,bsed->bs",  # summed labels that do not merge: the general path
    "sd,sd->",  # one dot product
    "bsd,bs,d->bsd",  # layer norm's scale: three operands, nothing summed
    "bsd,d,bs->dbs",
    "bd,b,d->bd",
    "bd,bd,bd->bd",
]


@st.composite
def dot_cases(draw):
    spec = draw(st.sampled_from(DOT_AND_PRODUCT_SPECS))
    labels = sorted(set(spec) - set(",->"))
    sizes = {label: draw(st.sampled_from([0, 1, 2, 3, 7, 33])) for label in labels}
    if draw(st.booleans()):
        sizes = {label: max(size, 1) for label, size in sizes.items()}
    n_inputs = len(spec.split("->")[0].split(","))
    layouts = [draw(st.sampled_from(["contiguous", "permuted", "step"])) for _ in range(n_inputs)]
    return spec, sizes, layouts, draw(DTYPES), draw(SEEDS)


@given(dot_cases())
def test_dots_and_products_match_numpy(case):
    spec, sizes, layouts, dtype, seed = case
    rng = np.random.default_rng(seed)
    inputs = spec.split("->")[0].split(",")
    arrays = [
        strided(rng, [sizes[c] for c in axes], dtype, layout)
        for axes, layout in zip(inputs, layouts)
    ]
    check_einsum(spec, arrays)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("spec", DOT_AND_PRODUCT_SPECS)
def test_dots_and_products_at_threaded_size(spec, dtype):
    sizes = {"b": 16, "s": 64, "d": 96, "e": 5}
    rng = np.random.default_rng(11)
    inputs = spec.split("->")[0].split(",")
    arrays = [rng.standard_normal([sizes[c] for c in axes]).astype(dtype) for axes in inputs]
    check_einsum(spec, arrays)


def test_dot_and_product_propagate_nan_and_inf():
    x = np.array([[1.0, np.nan, 2.0], [np.inf, 1.0, 0.0], [1.0, 2.0, 3.0]], np.float32)
    y = np.array([[1.0, 1.0, 1.0], [1.0, 1.0, 1.0], [-np.inf, 0.0, 0.0]], np.float32)
    check_einsum("bd,bd->b", [x, y])
    w = np.array([np.inf, 0.0, -1.0], np.float32)
    s = np.array([2.0, np.nan, -0.0], np.float32)
    node = rc.Einsum.from_einsum_string("bd,b,d->bd", rc.Array(x), rc.Array(s), rc.Array(w))
    with np.errstate(invalid="ignore"):
        expected = np.einsum("bd,b,d->bd", x, s, w)
    np.testing.assert_array_equal(node.evaluate(), expected)
