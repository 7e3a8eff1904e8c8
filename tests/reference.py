"""numpy references for every named GeneralFunction, and the one table of test tolerances.

References compute in float64 from the (exactly representable) inputs and return float64; callers
round them to the dtype under test with `as_dtype` before comparing. rc's definitions (torch) are
the specification: softmax/log_softmax/min/max/last_dim_size act on the last axis, step is
1 where x > 0, log_exp_p_1 is the stable softplus.
"""

import builtins
import math

import numpy as np

# (rtol, atol) per dtype, for every comparison of an engine result with numpy.
TOLERANCES = {
    np.dtype(np.float32): (1e-5, 1e-6),
    np.dtype(np.float64): (1e-12, 1e-13),
}

FLOAT_DTYPES = (np.float32, np.float64)


def tolerance(dtype):
    """(rtol, atol) for results of `dtype`."""
    return TOLERANCES[np.dtype(dtype)]


def as_dtype(ref, dtype):
    """`ref` rounded to `dtype`, overflowing to inf as the engine's arithmetic would."""
    with np.errstate(over="ignore"):
        return np.asarray(ref).astype(dtype)


def assert_close(actual, expected, dtype=None, terms=1):
    """`actual` has `dtype` (default: expected's) and matches `expected` to that dtype's tolerance.

    `terms`: how many products each output sums (a contraction's reduced size); rounding error
    grows with it, so the absolute tolerance is scaled by it. NaNs must sit in the same places;
    infinities must match exactly.
    """
    actual = np.asarray(actual)
    dtype = np.dtype(expected.dtype if dtype is None else dtype)
    assert actual.dtype == dtype, f"dtype {actual.dtype}, expected {dtype}"
    expected = as_dtype(expected, dtype)
    assert actual.shape == expected.shape, f"shape {actual.shape}, expected {expected.shape}"
    rtol, atol = tolerance(dtype)
    np.testing.assert_allclose(
        actual.astype(np.float64),
        expected.astype(np.float64),
        rtol=rtol,
        atol=atol * builtins.max(terms, 1),
        equal_nan=True,
    )


def _f64(x):
    return np.asarray(x, dtype=np.float64)


_erfc = np.frompyfunc(math.erfc, 1, 1)


def erfc(x):
    return np.asarray(_erfc(_f64(x)), dtype=np.float64)


def sin(x):
    return np.sin(_f64(x))


def cos(x):
    return np.cos(_f64(x))


def sigmoid(x):
    x = _f64(x)
    with np.errstate(over="ignore"):
        e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def tanh(x):
    return np.tanh(_f64(x))


def rsqrt(x):
    return 1.0 / np.sqrt(_f64(x))


def gelu(x):
    """Exact GELU: x * Phi(x), Phi through erfc so the negative tail keeps its precision."""
    x = _f64(x)
    return 0.5 * x * erfc(-x / math.sqrt(2.0))


def gelu_new(x):
    """The tanh approximation (HuggingFace's "gelu_new")."""
    x = _f64(x)
    with np.errstate(over="ignore"):
        inner = math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)
    return 0.5 * x * (1.0 + np.tanh(inner))


def relu(x):
    return np.maximum(_f64(x), 0.0)


def step(x):
    return (_f64(x) > 0).astype(np.float64)


def reciprocal(x):
    return 1.0 / _f64(x)


def log_exp_p_1(x):
    """log(1 + e^x) without overflow."""
    return np.logaddexp(0.0, _f64(x))


def gaussian_pdf(x):
    x = _f64(x)
    return np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


def gaussian_cdf(x):
    return 0.5 * erfc(-_f64(x) / math.sqrt(2.0))


def softmax(x):
    x = _f64(x)
    shifted = x - np.max(x, axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=-1, keepdims=True)


def log_softmax(x):
    x = _f64(x)
    shifted = x - np.max(x, axis=-1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))


def min(x):  # noqa: A001 - named after the GeneralFunction
    return np.min(_f64(x), axis=-1)


def max(x):  # noqa: A001 - named after the GeneralFunction
    return np.max(_f64(x), axis=-1)


def last_dim_size(x):
    x = np.asarray(x)
    return np.full(x.shape[:-1], x.shape[-1], dtype=np.float64)


def abs(x):  # noqa: A001 - named after the GeneralFunction
    return np.abs(_f64(x))


def exp(x):
    with np.errstate(over="ignore"):
        return np.exp(_f64(x))


def log(x):
    return np.log(_f64(x))


def logit(x):
    x = _f64(x)
    return np.log(x) - np.log1p(-x)


# Every named GeneralFunction: its numpy reference.
FUNCTIONS = {
    "sin": sin,
    "cos": cos,
    "sigmoid": sigmoid,
    "tanh": tanh,
    "rsqrt": rsqrt,
    "gelu": gelu,
    "gelu_new": gelu_new,
    "relu": relu,
    "step": step,
    "reciprocal": reciprocal,
    "log_exp_p_1": log_exp_p_1,
    "gaussian_pdf": gaussian_pdf,
    "gaussian_cdf": gaussian_cdf,
    "softmax": softmax,
    "log_softmax": log_softmax,
    "min": min,
    "max": max,
    "last_dim_size": last_dim_size,
    "abs": abs,
    "exp": exp,
    "log": log,
    "logit": logit,
}

# Input sampler per function: (rng, shape, dtype) -> array inside the function's domain.
def _normal(scale):
    return lambda rng, shape, dtype: (scale * rng.standard_normal(shape)).astype(dtype)


def _uniform(low, high):
    return lambda rng, shape, dtype: rng.uniform(low, high, shape).astype(dtype)


def _away_from_zero(rng, shape, dtype):
    magnitude = rng.uniform(0.25, 4.0, shape)
    sign = np.where(rng.random(shape) < 0.5, -1.0, 1.0)
    return (sign * magnitude).astype(dtype)


DOMAINS = {
    "sin": _normal(3.0),
    "cos": _normal(3.0),
    "sigmoid": _normal(4.0),
    "tanh": _normal(3.0),
    "rsqrt": _uniform(0.05, 10.0),
    "gelu": _normal(3.0),
    "gelu_new": _normal(3.0),
    "relu": _normal(1.0),
    "step": _normal(1.0),
    "reciprocal": _away_from_zero,
    "log_exp_p_1": _normal(10.0),
    "gaussian_pdf": _normal(2.0),
    "gaussian_cdf": _normal(3.0),
    "softmax": _normal(3.0),
    "log_softmax": _normal(3.0),
    "min": _normal(1.0),
    "max": _normal(1.0),
    "last_dim_size": _normal(1.0),
    "abs": _normal(1.0),
    "exp": _normal(3.0),
    "log": _uniform(0.01, 20.0),
    "logit": _uniform(0.01, 0.99),
}

# Functions that reduce the last axis (removed_from_end = 1) and those that need it (softmax).
REMOVES_LAST_AXIS = {"min", "max", "last_dim_size"}
NEEDS_LAST_AXIS = {"softmax", "log_softmax"} | REMOVES_LAST_AXIS


_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def einsum(operands, out_axes):
    """numpy reference for rc's Einsum: operands [(array, labels)] with any integer labels,
    including repeated output labels (the result written onto a diagonal of an otherwise zero
    tensor). Computes in float64."""
    out_axes = tuple(out_axes)
    if not operands:
        return np.array(1.0)
    letter = {}
    sizes = {}
    for arr, labels in operands:
        for size, label in zip(np.shape(arr), labels):
            letter.setdefault(label, _LETTERS[len(letter)])
            sizes[label] = size
    dedup = list(dict.fromkeys(out_axes))
    subs = ",".join("".join(letter[label] for label in labels) for _, labels in operands)
    core = np.einsum(
        f"{subs}->{''.join(letter[label] for label in dedup)}",
        *[_f64(a) for a, _ in operands],
        optimize=False,
    )
    if len(dedup) == len(out_axes):
        return core
    # Repeated output labels: core[d...] goes wherever the repeated output axes agree.
    out = np.zeros(tuple(sizes[label] for label in out_axes))
    grids = np.indices(core.shape)
    out[tuple(grids[dedup.index(label)] for label in out_axes)] = core
    return out


def as_numpy(value) -> np.ndarray:
    """An evaluated value (torch tensor or numpy array) as a numpy array."""
    return np.asarray(value)
