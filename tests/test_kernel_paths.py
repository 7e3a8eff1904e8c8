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

# The kernels are compared with numpy on numpy values: dtypes, NaN payloads, strides.
pytestmark = pytest.mark.numpy_results

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


# --- vectorised elementwise kernels (gelu, gelu_new, exp, softmax, log_softmax) -----------

UNARY = ["gelu", "gelu_new", "exp"]


def ulp_error(actual, expected):
    """|actual - expected| in units of the last place of expected in actual's dtype (the
    smallest subnormal at least); NaN and infinities must match exactly."""
    actual = np.asarray(actual)
    dtype = actual.dtype
    with np.errstate(over="ignore"):
        rounded = expected.astype(dtype)
    special = ~np.isfinite(rounded) | ~np.isfinite(actual)
    np.testing.assert_array_equal(actual[special], rounded[special])
    tiny = np.finfo(dtype).smallest_subnormal
    with np.errstate(over="ignore"):
        spacing = np.spacing(np.abs(rounded[~special])).astype(np.float64)
    spacing = np.maximum(spacing, float(tiny))
    return np.abs(actual[~special].astype(np.float64) - expected[~special]) / spacing


def gelu_new_sigmoid_form(x):
    """x * sigmoid(2u) in float64: no cancellation in the lower tail, where the tanh form
    of reference.gelu_new rounds to 0."""
    u2 = 1.5957691216057308 * (x + 0.044715 * x**3)
    return x / (1.0 + np.exp(-u2))


REFERENCE = {"gelu_new": gelu_new_sigmoid_form}


def special_and_extreme(dtype):
    info = np.finfo(dtype)
    return np.array(
        [np.nan, np.inf, -np.inf, 0.0, -0.0, info.tiny, -info.tiny, info.smallest_subnormal,
         info.max, -info.max, 1e-30, -1e-30, 5.0, -5.0, 9.5, -9.5, 20.0, -20.0, 30.0, -30.0,
         88.0, 88.7, 88.8, 89.0, -87.0, -103.0, -104.5, -150.0, 1000.0, -1000.0],
        dtype=dtype,
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", UNARY)
@pytest.mark.parametrize("n", [1, 15, 16, 17, 33, 1000, 40_000])
def test_vectorised_unary_matches_reference(name, n, dtype):
    """Lengths around the 16-lane vectors (masked tails) and above the threading threshold;
    specials and extremes mixed into normal values."""
    rng = np.random.default_rng(n)
    x = (rng.standard_normal(n) * 6).astype(dtype)
    specials = special_and_extreme(dtype)
    k = min(n, len(specials))
    x[rng.choice(n, k, replace=False)] = specials[:k]
    with np.errstate(all="ignore"):
        expected = np.asarray(REFERENCE.get(name, getattr(ref, name))(x.astype(np.float64)))
    if name != "exp":
        expected[x == -np.inf] = -0.0  # the limit, where x * Phi(x) reads -inf * 0
    got = getattr(rc, name)(rc.Array(x)).evaluate()
    assert got.dtype == dtype
    if dtype == np.float64:  # libm
        ref.assert_close(got, expected)
        return
    err = ulp_error(got, expected)
    # The stated float32 bounds (vmath.h), plus 1 ulp: exp 1 ulp, gelu 8 ulp, gelu_new 29 ulp
    # for |x| <= 4 and growing with |x| beyond, as the comment of cc_vm_gelu_new explains.
    with np.errstate(over="ignore"):
        small = np.abs(x[np.isfinite(expected.astype(dtype)) & np.isfinite(got)]) <= 4
    bound = {"exp": 2, "gelu": 9, "gelu_new": 30}[name]
    assert err[small].max(initial=0) <= bound
    assert err.max(initial=0) <= (bound if name != "gelu_new" else 1e4)


@pytest.mark.parametrize("name", UNARY)
def test_vectorised_unary_on_strided_input(name):
    rng = np.random.default_rng(3)
    base = (rng.standard_normal((64, 70)) * 4).astype(np.float32)
    for x in (base[:, ::3], base.T, base[::-1, 5:]):
        got = getattr(rc, name)(rc.Array(x)).evaluate()
        contiguous = getattr(rc, name)(rc.Array(np.ascontiguousarray(x))).evaluate()
        np.testing.assert_array_equal(got, contiguous)


def test_gelu_limits_signs():
    x = np.array([-np.inf, -1e30, -200.0, np.inf, 1e30], np.float32)
    for name in ("gelu", "gelu_new"):
        got = getattr(rc, name)(rc.Array(x)).evaluate()
        assert np.all(got[:3] == 0) and np.all(np.signbit(got[:3]))
        assert got[3] == np.inf and got[4] == np.float32(1e30)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("n", [1, 5, 16, 17, 128, 513, 2000])
def test_vectorised_softmax_matches_reference(name, n, dtype):
    rng = np.random.default_rng(n)
    x = (rng.standard_normal((37, n)) * 10).astype(dtype)
    x[0] = x[0] + 80  # large values: the max subtracted keeps exp finite
    x[1] = x[1] - 200  # all far below zero
    got = getattr(rc, name)(rc.Array(x)).evaluate()
    expected = getattr(ref, name)(x.astype(np.float64))
    ref.assert_close(got, np.asarray(expected).astype(dtype))
    # Non-contiguous input (every other column of a wider array).
    wide = np.repeat(x, 2, axis=1)
    got = getattr(rc, name)(rc.Array(wide[:, ::2])).evaluate()
    ref.assert_close(got, np.asarray(expected).astype(dtype))


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_vectorised_softmax_special_values(name):
    x = np.array(
        [
            [0.0, np.nan, 1.0] + [0.0] * 17,
            [np.inf, 0.0, 1.0] + [0.0] * 17,
            [-np.inf] + [0.0] * 19,
            [-np.inf] * 20,
        ],
        np.float32,
    )
    got = getattr(rc, name)(rc.Array(x)).evaluate()
    with np.errstate(all="ignore"):
        expected = getattr(ref, name)(x.astype(np.float64)).astype(np.float32)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    finite = np.isfinite(expected)
    np.testing.assert_allclose(got[finite], expected[finite], rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(got[np.isinf(expected)], expected[np.isinf(expected)])


# --- pooled buffers --------------------------------------------------------------------------


def test_pooled_buffers_are_not_shared_by_live_results():
    """Large results come from a pool of freed buffers; a result still referenced keeps its
    memory, and one dropped hands it to the next result of about its size."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((512, 1024)).astype(np.float32)  # 2 MiB: pooled sizes
    node = rc.gelu(rc.Array(x))
    kept = [node.evaluate() for _ in range(3)]
    for other in (rc.exp(rc.Array(x)), rc.Add(rc.Array(x), rc.Array(x))):
        for _ in range(4):
            other.evaluate()  # dropped at once: their buffers go back to the pool
    expected = node.evaluate()
    for result in kept:
        np.testing.assert_array_equal(result, expected)
    addresses = {r.__array_interface__["data"][0] for r in kept}
    assert len(addresses) == len(kept)
    # Sizes around the pool's limits and rounding (1 MiB, 64 KiB grains, 64 MiB).
    for n in (262_143, 262_144, 262_145, 16_385_000, 16_777_217):
        y = np.arange(n, dtype=np.float32) * np.float32(1e-3)
        got = rc.Add(rc.Array(y), rc.Array(y)).evaluate()
        np.testing.assert_array_equal(got, y + y)
