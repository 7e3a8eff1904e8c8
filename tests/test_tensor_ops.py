"""Every named GeneralFunction (and pow) evaluated against its numpy reference, in float32 and
float64, on random data and on the special values where numpy's result is defined."""

import numpy as np
import pytest

import circuits as rc
import reference as ref

NAMES = sorted(ref.FUNCTIONS)
ELEMENTWISE = [n for n in NAMES if n not in ref.NEEDS_LAST_AXIS]
SHAPES = [(7,), (3, 5), (2, 3, 4), (33, 257)]


def evaluate_fn(name, x):
    return getattr(rc, name)(rc.Array(x)).evaluate()


def expected_shape(name, shape):
    return shape[:-1] if name in ref.REMOVES_LAST_AXIS else shape


def test_every_named_function_is_exported():
    for name in NAMES:
        assert callable(getattr(rc, name)), name


@pytest.mark.parametrize("dtype", ref.FLOAT_DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.numpy_results
def test_named_function_matches_numpy(name, shape, dtype, rng):
    x = ref.DOMAINS[name](rng, shape, dtype)
    out = evaluate_fn(name, x)
    assert isinstance(out, np.ndarray)
    assert out.shape == expected_shape(name, shape)
    ref.assert_close(out, ref.FUNCTIONS[name](x), dtype=dtype)


@pytest.mark.parametrize("dtype", ref.FLOAT_DTYPES)
@pytest.mark.parametrize("name", ELEMENTWISE)
def test_elementwise_function_on_rank0(name, dtype, rng):
    x = ref.DOMAINS[name](rng, (), dtype)
    out = evaluate_fn(name, np.asarray(x))
    assert out.shape == ()
    ref.assert_close(out, ref.FUNCTIONS[name](x), dtype=dtype)


@pytest.mark.parametrize("name", NAMES)
def test_new_by_name_equals_module_function(name, rng):
    x = rc.Array(ref.DOMAINS[name](rng, (2, 3), np.float64), name="x")
    by_name = rc.GeneralFunction.new_by_name(x, spec_name=name)
    direct = getattr(rc, name)(x)
    assert by_name == direct
    assert by_name.spec.name == name
    assert by_name.name == f"{name}(x)"
    np.testing.assert_array_equal(by_name.evaluate(), direct.evaluate())


def test_new_by_name_unknown():
    x = rc.Array(np.zeros(3))
    with pytest.raises(rc.ConstructUnknownGeneralFunctionError, match="not_a_function"):
        rc.GeneralFunction.new_by_name(x, spec_name="not_a_function")
    assert rc.GeneralFunction.new_by_name_op(x, spec_name="not_a_function") is None


@pytest.mark.parametrize("name", sorted(ref.NEEDS_LAST_AXIS))
def test_last_axis_function_needs_an_axis(name):
    with pytest.raises(rc.GeneralFunctionShapeNDimTooSmallError, match=name):
        getattr(rc, name)(rc.Scalar(1.0))


@pytest.mark.parametrize("dtype", ref.FLOAT_DTYPES)
@pytest.mark.parametrize("name", ["softmax", "log_softmax", "max", "min", "exp", "gelu"])
def test_function_of_a_permuted_input(name, dtype, rng):
    # The child's last axis is not contiguous in memory after the permutation.
    x = ref.DOMAINS[name](rng, (4, 6, 5), dtype)
    permuted = rc.Rearrange.from_string(rc.Array(x), "a b c -> c a b")
    out = getattr(rc, name)(permuted).evaluate()
    ref.assert_close(out, ref.FUNCTIONS[name](np.transpose(x, (2, 0, 1))), dtype=dtype)


@pytest.mark.parametrize("dtype", ref.FLOAT_DTYPES)
@pytest.mark.parametrize("name", ["softmax", "log_softmax", "max", "min", "last_dim_size"])
def test_last_axis_of_size_one(name, dtype, rng):
    x = rng.standard_normal((3, 1)).astype(dtype)
    ref.assert_close(evaluate_fn(name, x), ref.FUNCTIONS[name](x), dtype=dtype)


@pytest.mark.parametrize("dtype", ref.FLOAT_DTYPES)
def test_min_max_with_ties_and_signs(dtype):
    x = np.array([[-3.0, 2.0, 2.0, -3.0], [0.0, -0.0, -1.0, 1.0], [5.0, 5.0, 5.0, 5.0]], dtype)
    ref.assert_close(evaluate_fn("max", x), np.array([2.0, 1.0, 5.0]), dtype=dtype)
    ref.assert_close(evaluate_fn("min", x), np.array([-3.0, -1.0, 5.0]), dtype=dtype)


@pytest.mark.parametrize("dtype", ref.FLOAT_DTYPES)
def test_last_dim_size_keeps_dtype(dtype):
    out = evaluate_fn("last_dim_size", np.zeros((2, 3, 7), dtype))
    ref.assert_close(out, np.full((2, 3), 7.0), dtype=dtype)


def test_step_at_zero_is_zero():
    out = evaluate_fn("step", np.array([-1.0, -0.0, 0.0, 1e-300, 2.0]))
    np.testing.assert_array_equal(out, [0.0, 0.0, 0.0, 1.0, 1.0])


# --- special values ------------------------------------------------------------------------

LARGE = [-1e4, -1000.0, -100.0, -50.0, -20.0, 0.0, 20.0, 50.0, 100.0, 1000.0, 1e4]


@pytest.mark.parametrize("dtype", ref.FLOAT_DTYPES)
@pytest.mark.parametrize(
    "name", ["exp", "sigmoid", "tanh", "log_exp_p_1", "gaussian_cdf", "gaussian_pdf", "gelu_new"]
)
def test_large_magnitudes(name, dtype):
    x = np.array(LARGE, dtype)
    with np.errstate(over="ignore", invalid="ignore"):
        out = evaluate_fn(name, x)
    ref.assert_close(out, ref.FUNCTIONS[name](x), dtype=dtype)


@pytest.mark.parametrize("dtype", ref.FLOAT_DTYPES)
def test_exp_overflows_to_inf_and_underflows_to_zero(dtype):
    out = evaluate_fn("exp", np.array([-1e4, 1e4, 710.0], dtype))
    np.testing.assert_array_equal(out, np.array([0.0, np.inf, np.inf], dtype))


@pytest.mark.parametrize("dtype", ref.FLOAT_DTYPES)
def test_sigmoid_and_tanh_saturate(dtype):
    x = np.array([-1e4, 1e4], dtype)
    np.testing.assert_array_equal(evaluate_fn("sigmoid", x), np.array([0.0, 1.0], dtype))
    np.testing.assert_array_equal(evaluate_fn("tanh", x), np.array([-1.0, 1.0], dtype))


@pytest.mark.parametrize("dtype", ref.FLOAT_DTYPES)
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.numpy_results
def test_softmax_is_stable_for_large_logits(name, dtype):
    x = np.array(
        [
            [1000.0, 0.0, -1000.0],
            [1e4, 1e4, 1e4],
            [-1e4, -1e4 + 1.0, -1e4 + 2.0],
            [88.0, 89.0, 90.0],
        ],
        dtype,
    )
    out = evaluate_fn(name, x)
    assert np.all(np.isfinite(out))
    ref.assert_close(out, ref.FUNCTIONS[name](x), dtype=dtype)


@pytest.mark.parametrize("dtype", ref.FLOAT_DTYPES)
def test_softmax_with_minus_infinity(dtype):
    x = np.array([[-np.inf, 0.0, 1.0], [-np.inf, 5.0, -np.inf]], dtype)
    out = evaluate_fn("softmax", x)
    ref.assert_close(out, ref.softmax(x), dtype=dtype)
    np.testing.assert_array_equal(out[1], np.array([0.0, 1.0, 0.0], dtype))


@pytest.mark.parametrize("dtype", ref.FLOAT_DTYPES)
@pytest.mark.parametrize("name", ["relu", "exp", "sigmoid", "tanh", "abs", "gelu"])
def test_nan_propagates_elementwise(name, dtype):
    x = np.array([np.nan, -1.0, 0.5, np.nan], dtype)
    out = evaluate_fn(name, x)
    np.testing.assert_array_equal(np.isnan(out), [True, False, False, True])
    ref.assert_close(out, ref.FUNCTIONS[name](x), dtype=dtype)


@pytest.mark.parametrize("dtype", ref.FLOAT_DTYPES)
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.numpy_results
def test_nan_poisons_only_its_softmax_row(name, dtype):
    x = np.array([[0.0, np.nan, 1.0], [0.0, 1.0, 2.0]], dtype)
    out = evaluate_fn(name, x)
    assert np.all(np.isnan(out[0]))
    ref.assert_close(out[1], ref.FUNCTIONS[name](x[1]), dtype=dtype)


@pytest.mark.parametrize("dtype", ref.FLOAT_DTYPES)
def test_max_min_propagate_nan(dtype):
    x = np.array([[0.0, np.nan, 1.0], [0.0, 1.0, 2.0]], dtype)
    np.testing.assert_array_equal(evaluate_fn("max", x), np.array([np.nan, 2.0], dtype))
    np.testing.assert_array_equal(evaluate_fn("min", x), np.array([np.nan, 0.0], dtype))


# --- pow -----------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ref.FLOAT_DTYPES)
@pytest.mark.parametrize(
    "base_shape, exp_shape", [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1, 4), (3, 1)), ((), (5,))]
)
def test_pow_broadcasts(base_shape, exp_shape, dtype, rng):
    base = rng.uniform(0.1, 3.0, base_shape).astype(dtype)
    exponent = rng.uniform(-2.0, 2.0, exp_shape).astype(dtype)
    node = rc.pow(rc.Array(base), rc.Array(exponent))
    expected = np.power(base.astype(np.float64), exponent.astype(np.float64))
    assert node.shape == expected.shape
    ref.assert_close(node.evaluate(), expected, dtype=dtype)


def test_pow_float32_base_with_scalar_exponent_stays_float32(rng):
    base = rng.uniform(0.1, 3.0, (2, 3)).astype(np.float32)
    out = rc.pow(rc.Array(base), rc.Scalar(2.5)).evaluate()
    ref.assert_close(out, base.astype(np.float64) ** 2.5, dtype=np.float32)


def test_pow_integer_exponents_of_negative_bases():
    base = np.array([-2.0, -1.5, 0.0, 3.0])
    out = rc.pow(rc.Array(base), rc.Scalar(3.0, (4,))).evaluate()
    ref.assert_close(out, base**3)


def test_pow_not_broadcastable():
    with pytest.raises(rc.MiscInputNotBroadcastableError, match="broadcast"):
        rc.pow(rc.Array(np.ones((2, 3))), rc.Array(np.ones((4,))))


@pytest.mark.torch
def test_torch_input_gives_torch_output(torch):
    x = torch.linspace(-3.0, 3.0, 12, dtype=torch.float32).reshape(3, 4)
    out = rc.softmax(rc.Array(x)).evaluate()
    assert isinstance(out, torch.Tensor)
    assert out.dtype == torch.float32
    ref.assert_close(out.numpy(), ref.softmax(x.numpy()), dtype=np.float32)


@pytest.mark.parametrize("dtype", ref.FLOAT_DTYPES)
@pytest.mark.parametrize("name", ["exp", "gelu", "sigmoid", "softmax", "log_softmax", "max"])
def test_large_input(name, dtype, rng):
    # Big enough for the kernels' threaded and vectorised paths, with ragged tails.
    x = ref.DOMAINS[name](rng, (257, 513), dtype)
    ref.assert_close(evaluate_fn(name, x), ref.FUNCTIONS[name](x), dtype=dtype)
