"""The CUDA backend (circuits._circuits_cuda): every kernel against the CPU backend on random
data (dtypes, broadcasting, non-contiguous views, empty tensors), its caching allocator and
its errors. The GPU tests skip, with the extension's reason, where no GPU is present; the
import test runs wherever the extension was built."""

import os
import sys

import numpy as np
import pytest

import circuits as rc

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
import gpt2_circuit  # noqa: E402

try:
    from circuits import _circuits_cuda as cuda
except ImportError:
    cuda = None


def no_gpu_reason():
    if cuda is None:
        return "circuits._circuits_cuda was not built (no nvcc at install)"
    if cuda.device_count == 0:
        return f"no GPU: {cuda.no_device_reason}"
    return None


gpu = pytest.mark.skipif(no_gpu_reason() is not None, reason=str(no_gpu_reason()))

rng = np.random.default_rng(0)


def rand(*shape, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


def arr(x, name=None):
    return rc.Array(x, name=name)


def check(c, rtol=1e-5, atol=1e-6):
    want = np.asarray(c.evaluate())
    got = np.asarray(c.evaluate(device="cuda"))
    assert got.shape == want.shape
    assert got.dtype == want.dtype
    if want.dtype.kind == "f":
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)
    else:
        np.testing.assert_array_equal(got, want)


def test_extension_imports_and_reports_its_device():
    if cuda is None:
        pytest.skip("circuits._circuits_cuda was not built (no nvcc at install)")
    assert cuda.has_cublas in (0, 1)
    if cuda.device_count == 0:
        assert isinstance(cuda.no_device_reason, str) and cuda.no_device_reason
        with pytest.raises(ValueError, match="no CUDA backend for device 0"):
            cuda.pool_stats(0)
        with pytest.raises(rc.TensorEvalDeviceUnavailableError, match="found no GPU"):
            arr(rand(2, 3)).evaluate(device="cuda")
    else:
        assert cuda.no_device_reason is None
        assert set(cuda.pool_stats(0)) == {"requests", "cache_hits", "device_allocs",
                                           "device_frees", "bytes_in_use", "bytes_cached",
                                           "peak_bytes_in_use"}


def test_cublas_status_is_a_reason_or_none():
    if cuda is None:
        pytest.skip("circuits._circuits_cuda was not built (no nvcc at install)")
    why = cuda.cublas_error()
    assert why is None or isinstance(why, str)
    if not cuda.has_cublas:
        assert why == "the extension was built without cuBLAS"


@gpu
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.float16, np.bool_])
def test_array_roundtrip(dtype):
    x = (rng.standard_normal((3, 4)) * 4).astype(dtype)
    check(arr(x))


@gpu
def test_array_non_contiguous_and_broadcast_views():
    x = rand(4, 5, dtype=np.float64)
    check(arr(x.T))
    check(arr(x[::-1, 1::2]))
    check(arr(np.broadcast_to(rand(5), (3, 5))))
    check(arr(np.zeros((0, 3), np.float32)))


@gpu
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_add_broadcasting(dtype):
    a, b, c = rand(2, 3, 4, dtype=dtype), rand(3, 1, dtype=dtype), rand(4, dtype=dtype)
    check(rc.Add(arr(a), arr(b), arr(c)))
    check(rc.Add(arr(a), rc.Scalar(1.5, (3, 4))))
    check(rc.Add(arr(a.transpose(2, 0, 1)), arr(rand(4, 2, 1, dtype=dtype))))
    check(rc.Add(arr(np.zeros((0, 3), dtype)), arr(rand(3, dtype=dtype))))
    check(rc.Add(arr(a)))


@gpu
def test_scalar_and_empty_add():
    check(rc.Scalar(2.5, (3, 2)))
    check(rc.Add())


@gpu
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("spec,shapes", [
    ("ij,jk->ik", [(5, 7), (7, 3)]),
    ("bij,bjk->bik", [(4, 5, 6), (4, 6, 2)]),
    ("ij,jk->ki", [(5, 7), (7, 3)]),
    ("bhqd,bhkd->bhqk", [(2, 3, 5, 4), (2, 3, 6, 4)]),
    ("ijk,jl->il", [(3, 4, 5), (4, 2)]),
    ("i,j->ij", [(3,), (4,)]),
    ("i,i->", [(6,), (6,)]),
    ("ij,jk->ik", [(3, 0), (0, 4)]),
    ("ij,jk->ik", [(0, 2), (2, 4)]),
    ("ij->j", [(4, 5)]),
    ("ij->", [(4, 5)]),
    ("ijk->kji", [(2, 3, 4)]),
    ("bsd,bs,d->bsd", [(2, 3, 4), (2, 3), (4,)]),
    ("ij,jk,kl->il", [(3, 4), (4, 5), (5, 2)]),
])
def test_einsum(dtype, spec, shapes):
    if len(shapes) == 2 and cuda.cublas_error() is not None:
        pytest.skip(f"no cuBLAS: {cuda.cublas_error()}")
    ops = [arr(rand(*s, dtype=dtype)) for s in shapes]
    tol = 1e-4 if dtype == np.float32 else 1e-10
    check(rc.Einsum.from_einsum_string(spec, *ops), rtol=tol, atol=tol)


@gpu
def test_einsum_non_contiguous_and_mixed_dtypes():
    if cuda.cublas_error() is not None:
        pytest.skip(f"no cuBLAS: {cuda.cublas_error()}")
    a = rand(6, 5)
    b = rand(3, 6)
    check(rc.Einsum.from_einsum_string("ij,jk->ik", arr(a.T), arr(b.T)), rtol=1e-4, atol=1e-4)
    check(rc.Einsum.from_einsum_string("ij,->ij", arr(a), rc.Scalar(2.0)), rtol=1e-5)


@gpu
def test_tf32_switch():
    if cuda.cublas_error() is not None:
        pytest.skip(f"no cuBLAS: {cuda.cublas_error()}")
    c = rc.Einsum.from_einsum_string("ij,jk->ik", arr(rand(64, 64)), arr(rand(64, 64)))
    cuda.set_allow_tf32(True)
    try:
        check(c, rtol=1e-2, atol=1e-2)
    finally:
        cuda.set_allow_tf32(False)
    check(c, rtol=1e-4, atol=1e-4)


UNARY = ["sin", "cos", "sigmoid", "tanh", "rsqrt", "gelu", "gelu_new", "relu", "step",
         "reciprocal", "log_exp_p_1", "gaussian_pdf", "gaussian_cdf", "abs", "exp", "log",
         "logit", "softmax", "log_softmax"]


@gpu
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", UNARY)
def test_general_functions(dtype, name):
    x = rand(3, 7, dtype=dtype)
    if name in ("rsqrt", "log"):
        x = np.abs(x) + 0.1
    if name == "logit":
        x = (np.abs(x) % 0.9 + 0.05).astype(dtype)
    # The CPU's float32 functions are vectorised approximations, a few ulp from CUDA's.
    rtol, atol = (1e-4, 1e-5) if dtype == np.float32 else (1e-12, 1e-14)
    check(rc.GeneralFunction.new_by_name(arr(x), spec_name=name), rtol=rtol, atol=atol)
    check(rc.GeneralFunction.new_by_name(arr(x[:, ::2]), spec_name=name), rtol=rtol, atol=atol)
    check(rc.GeneralFunction.new_by_name(arr(np.zeros((0, 4), dtype)), spec_name=name))


@gpu
def test_softmax_long_rows():
    x = rand(5, 3000) * 10
    check(rc.GeneralFunction.new_by_name(arr(x), spec_name="softmax"), rtol=1e-5, atol=1e-7)
    check(rc.GeneralFunction.new_by_name(arr(x), spec_name="log_softmax"), rtol=1e-5, atol=1e-4)


@gpu
@pytest.mark.parametrize("dtype", [np.float32, np.int64])
def test_index_concat_rearrange(dtype):
    a = (rng.standard_normal((4, 6, 5)) * 5).astype(dtype)
    b = (rng.standard_normal((2, 6, 5)) * 5).astype(dtype)
    check(rc.Index(arr(a), (1, slice(0, 4))))
    check(rc.Index(arr(a), (slice(-3, None), -1)))
    check(rc.Index(arr(a), (np.array([2, 0, -1, 2]), slice(1, 5), np.array([4, 0]))))
    check(rc.Index(arr(a), (1, np.array([], dtype=np.int64))))
    check(rc.Concat(arr(a), arr(b), axis=0))
    check(rc.Concat(arr(a.transpose(1, 0, 2)), arr(b.transpose(1, 0, 2)), axis=1))
    check(rc.Rearrange.from_string(arr(a), "a b c -> c a b"))
    check(rc.Rearrange.from_string(arr(a), "a (b d:2) c -> (c a) d b"))
    check(rc.Rearrange.from_string(arr(a.reshape(4, 30)), "a (b c:5) -> c a b"))


@gpu
def test_tag_and_a_small_mlp():
    x = arr(rand(8, 16), name="x")
    w = arr(rand(16, 32), name="w")
    bias = arr(rand(32), name="b")
    h = rc.Einsum.from_einsum_string("ij,jk->ik", x, w)
    y = rc.GeneralFunction.new_by_name(rc.Add(h, bias), spec_name="gelu")
    tagged = rc.Tag.new_with_random_uuid(y)
    if cuda.cublas_error() is not None:
        pytest.skip(f"no cuBLAS: {cuda.cublas_error()}")
    check(rc.GeneralFunction.new_by_name(tagged, spec_name="softmax"), rtol=1e-4, atol=1e-5)


@gpu
def test_small_gpt2_forward():
    if cuda.cublas_error() is not None:
        pytest.skip(f"no cuBLAS: {cuda.cublas_error()}")
    cfg = gpt2_circuit.Config(n_layers=2, d_model=16, n_heads=2, d_head=8, d_mlp=32, vocab=11)
    x = (rng.standard_normal((2, 5, cfg.d_model)) * 0.1).astype(np.float32)
    check(gpt2_circuit.circuit(cfg, gpt2_circuit.random_weights(cfg), x), rtol=1e-4, atol=1e-5)


@gpu
def test_array_cache_keeps_uploads():
    x = rand(64, 32)
    c = rc.Add(arr(x), arr(rand(32)))
    want = np.asarray(c.evaluate())
    cuda.set_array_cache(True)
    try:
        np.testing.assert_allclose(np.asarray(c.evaluate(device="cuda")), want, rtol=1e-6)
        before = cuda.pool_stats(0)
        np.testing.assert_allclose(np.asarray(c.evaluate(device="cuda")), want, rtol=1e-6)
        after = cuda.pool_stats(0)
        assert after["requests"] - before["requests"] == 1  # the sum only
        sliced = rc.Index(arr(x), (slice(1, 3),))
        np.testing.assert_array_equal(np.asarray(sliced.evaluate(device="cuda")), x[1:3])
    finally:
        cuda.set_array_cache(False)
    np.testing.assert_allclose(np.asarray(c.evaluate(device="cuda")), want, rtol=1e-6)


@gpu
def test_unsupported_node_raises_tensor_eval_error():
    c = rc.Add(arr(np.arange(3)), arr(np.arange(3)))
    with pytest.raises(rc.TensorEvalError, match="is not supported on cuda:0"):
        c.evaluate(device="cuda")


@gpu
def test_pool_reuses_blocks():
    c = rc.Add(arr(rand(256, 256)), arr(rand(256, 256)))
    c.evaluate(device="cuda")
    before = cuda.pool_stats(0)
    c.evaluate(device="cuda")
    after = cuda.pool_stats(0)
    assert after["requests"] > before["requests"]
    assert after["cache_hits"] > before["cache_hits"]
    assert after["device_allocs"] == before["device_allocs"]
    cuda.empty_cache(0)
    assert cuda.pool_stats(0)["bytes_cached"] == 0
    with pytest.raises(ValueError, match="no CUDA backend for device 99"):
        cuda.pool_stats(99)
