"""Device and dtype of circuits as rc has them: Arrays (and Index tensors that are not 0-d) give
a node its device, Arrays its dtype, Scalars and Symbols neither; device_dtype, torch_dtype,
get_compatible_device_dtype (rc's defaults cpu / float64), cast_circuit with a
TorchDeviceDtypeOp, evaluate(device=...) and rc's tensor upcasts."""

import sys
import types

import numpy as np
import pytest

import circuits as rc


def f32(*shape):
    return rc.Array(np.ones(shape, dtype=np.float32), "a")


def sym(*shape):
    return rc.Symbol.new_with_random_uuid(shape, "s")


@pytest.mark.parametrize(
    "make, device, dtype",
    [
        (lambda: f32(3), "cpu", "float32"),
        (lambda: rc.Scalar(1.0, (3,)), None, None),
        (lambda: sym(3), None, None),
        (lambda: rc.Add(f32(3), rc.Scalar(1.0, (3,))), "cpu", "float32"),
        (lambda: rc.Add(sym(3), rc.Scalar(1.0, (3,))), None, None),
        (lambda: rc.Index(sym(4, 3), [np.array([0, 2])]), "cpu", None),
        (lambda: rc.Index(sym(4, 3), [np.array(1)]), None, None),
        (lambda: rc.Index(sym(4, 3), [1, slice(0, 2)]), None, None),
        (lambda: rc.Einsum.from_einsum_string("ab,b->a", sym(2, 3), f32(3)), "cpu", "float32"),
    ],
)
def test_device_and_dtype(make, device, dtype):
    c = make()
    assert (c.device, c.dtype) == (device, dtype)
    assert c.device_dtype == rc.TorchDeviceDtypeOp(device, dtype)
    assert isinstance(c.device_dtype, rc.TorchDeviceDtypeOp)
    assert c.get_device_dtype() == c.device_dtype
    compatible = c.get_compatible_device_dtype()
    assert isinstance(compatible, rc.TorchDeviceDtype)
    assert compatible == rc.TorchDeviceDtype(device or "cpu", dtype or "float64")


def test_device_through_a_module():
    x = sym(3)
    spec = rc.ModuleSpec(rc.Add(x, rc.Scalar(1.0, (3,))), [rc.ModuleArgSpec(x)])
    assert rc.Module(spec, "m", s=rc.Scalar(2.0, (3,))).device is None
    bound = rc.Module(spec, "m", s=f32(3))
    assert (bound.device, bound.dtype) == ("cpu", "float32")


@pytest.mark.torch
def test_torch_dtype(torch):
    assert f32(2).torch_dtype == torch.float32
    assert rc.Array(np.zeros(2, dtype=np.int64)).torch_dtype == torch.int64
    assert rc.Scalar(1.0, (2,)).torch_dtype is None
    assert rc.Array(torch.ones(2, dtype=torch.float64)).torch_dtype == torch.float64


def test_torch_dtype_without_torch(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ModuleNotFoundError, match="needs torch, which is not installed"):
        f32(2).torch_dtype
    assert rc.Scalar(1.0, (2,)).torch_dtype is None


def test_cast_circuit_takes_a_device_dtype_op():
    c = rc.Add(f32(3), rc.Scalar(1.0, (3,)))
    for dd in (
        rc.TorchDeviceDtypeOp("cpu", "float64"),
        rc.TorchDeviceDtypeOp(dtype="float64"),
        rc.TorchDeviceDtype("cpu", "float64"),
    ):
        out = rc.cast_circuit(c, dd)
        assert out.device_dtype == rc.TorchDeviceDtypeOp("cpu", "float64")
        assert out.get_unique("a").name == "a"
    assert rc.cast_circuit(c, rc.TorchDeviceDtypeOp()) == c


def test_cast_circuit_to_a_gpu_says_what_to_do():
    with pytest.raises(NotImplementedError) as info:
        rc.cast_circuit(f32(2), rc.TorchDeviceDtypeOp("cuda:1"))
    assert str(info.value) == (
        "cast_circuit: device cuda:1 is not available: circuits keeps the tensors of a circuit "
        'in host memory; cast the dtype only (device None or "cpu") and evaluate on the GPU '
        'with evaluate(device="cuda:1")'
    )


def test_evaluate_on_the_cpu():
    c = rc.Add(f32(3), rc.Scalar(1.0, (3,)))
    for device in (None, "cpu"):
        np.testing.assert_array_equal(np.asarray(c.evaluate(device=device)), [2.0, 2.0, 2.0])
    with pytest.raises(ValueError, match="invalid device 'tpu'"):
        c.evaluate(device="tpu")


def no_gpu_backend():
    return not any(d.startswith("cuda") for d, _ in rc._circuits._backends())


@pytest.mark.skipif(not no_gpu_backend(), reason="a GPU backend is registered")
def test_evaluate_on_cuda_without_the_extension(monkeypatch):
    monkeypatch.delitem(sys.modules, "circuits._circuits_cuda", raising=False)
    with pytest.raises(rc.TensorEvalDeviceUnavailableError) as info:
        f32(2).evaluate(device="cuda")
    message = str(info.value)
    assert message.startswith(
        "no evaluation backend for device cuda:0: the CUDA extension circuits._circuits_cuda "
        "is not installed. Reinstall circuits"
    )
    assert "nvcc" in message and "CUDA_HOME" in message


@pytest.mark.skipif(not no_gpu_backend(), reason="a GPU backend is registered")
def test_evaluate_on_cuda_without_a_gpu(monkeypatch):
    fake = types.ModuleType("circuits._circuits_cuda")
    fake.device_count = 0
    fake.no_device_reason = "no CUDA-capable device is detected"
    monkeypatch.setitem(sys.modules, "circuits._circuits_cuda", fake)
    with pytest.raises(rc.TensorEvalDeviceUnavailableError) as info:
        f32(2).evaluate(device="cuda:2")
    assert str(info.value) == (
        "no evaluation backend for device cuda:2: circuits._circuits_cuda is installed but "
        "found no GPU (no CUDA-capable device is detected)"
    )


@pytest.mark.cuda
def test_evaluate_on_cuda():
    c = rc.Add(f32(3), rc.Scalar(1.0, (3,)))
    np.testing.assert_array_equal(np.asarray(c.evaluate(device="cuda")), [2.0, 2.0, 2.0])


@pytest.mark.torch
def test_upcast_tensor_device_dtypes(torch):
    a, b = torch.ones(2, dtype=torch.float64), torch.ones(2, dtype=torch.float32)
    out = rc.upcast_tensor_device_dtypes([a, b])
    assert [t.dtype for t in out] == [torch.float32, torch.float32]
    same = rc.upcast_tensor_device_dtypes([a, a])
    assert same[0] is a and same[1] is a
    assert rc.upcast_tensor_device_dtypes([]) == []
    kept = rc.upcast_tensor_devices([a, b])
    assert kept[0] is a and kept[1] is b


def test_randn_device_dtype():
    a = rc.Array.randn(2, 3, device_dtype=rc.TorchDeviceDtypeOp("cpu", "float64"), seed=1)
    assert a.device_dtype == rc.TorchDeviceDtypeOp("cpu", "float64")
    assert rc.Array.randn(2).device_dtype == rc.TorchDeviceDtypeOp("cpu", "float32")
    with pytest.raises(NotImplementedError, match="device cuda:0 is not available"):
        rc.Array.randn(2, device_dtype=rc.TorchDeviceDtypeOp("cuda:0"))


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "int32"])
def test_randn_every_dtype(dtype):
    a = rc.Array.randn(3, 4, name="w", device_dtype=rc.TorchDeviceDtypeOp(dtype=dtype), seed=2)
    assert a.name == "w" and a.shape == (3, 4)
    assert a.device_dtype == rc.TorchDeviceDtypeOp("cpu", dtype)
    # the same draws as float32, rounded to the dtype (compared in float64: numpy has no bfloat16)
    f64 = rc.TorchDeviceDtypeOp(dtype="float64")
    got = rc.cast_circuit(a, f64).evaluate()
    ref = rc.cast_circuit(rc.Array.randn(3, 4, seed=2), f64).evaluate()
    assert float(abs(got - ref).max()) < (1.0 if dtype == "int32" else 0.02)
