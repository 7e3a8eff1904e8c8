"""The evaluation backends: the CPU backend is always registered, a device without a backend
raises TensorEvalDeviceUnavailableError, and the optional CUDA extension either registers a
backend per GPU or reports why there is none."""

import numpy as np
import pytest

import circuits as rc
from circuits import _circuits


def small_circuit():
    x = rc.Array(np.arange(6.0).reshape(2, 3), name="x")
    return rc.Einsum.from_einsum_string("ij,ij->i", x, x, name="sq")


def test_cpu_backend_is_registered_and_named():
    backends = _circuits._backends()
    assert backends[0] == ("cpu", "cpu")


def test_default_device_is_cpu():
    c = small_circuit()
    (default,) = rc.evaluate_many([c])
    (cpu,) = rc.evaluate_many([c], device="cpu")
    np.testing.assert_array_equal(np.asarray(default), np.asarray(cpu))
    np.testing.assert_array_equal(np.asarray(cpu), [5.0, 50.0])


def test_unregistered_device_raises():
    devices = {device for device, _ in _circuits._backends()}
    missing = next(f"cuda:{i}" for i in range(16) if f"cuda:{i}" not in devices)
    message = f"no evaluation backend for device {missing}"
    with pytest.raises(rc.TensorEvalDeviceUnavailableError, match=message):
        rc.evaluate_many([small_circuit()], device=missing)
    assert issubclass(rc.TensorEvalDeviceUnavailableError, rc.TensorEvalError)


@pytest.mark.parametrize("device", ["tpu", "cuda:", "cuda:x", "cuda:16", "cpu:1", 3])
def test_invalid_device_string(device):
    with pytest.raises(ValueError, match="invalid device"):
        rc.evaluate_many([small_circuit()], device=device)


def test_modules_are_substituted_before_planning():
    a = rc.Symbol.new_with_random_uuid((3,), name="a")
    spec = rc.ModuleSpec(rc.Einsum.from_einsum_string("i,i->i", a, a, name="body"),
                         [rc.ModuleArgSpec(a)])
    m = rc.Module(spec, name="m", a=rc.Array(np.array([1.0, 2.0, 3.0]), name="v"))
    (out,) = rc.evaluate_many([m])
    np.testing.assert_array_equal(np.asarray(out), [1.0, 4.0, 9.0])


def test_cuda_extension_registers_or_reports_no_device():
    cuda = pytest.importorskip("circuits._circuits_cuda")
    devices = [device for device, name in _circuits._backends() if name == "cuda"]
    if cuda.device_count == 0:
        assert isinstance(cuda.no_device_reason, str) and cuda.no_device_reason
        assert devices == []
    else:
        assert cuda.no_device_reason is None
        assert devices == [f"cuda:{i}" for i in range(cuda.device_count)]


def test_cuda_backend_computes_or_refuses_a_node_by_name():
    cuda = pytest.importorskip("circuits._circuits_cuda")
    if cuda.device_count == 0:
        pytest.skip("no CUDA device")
    c = small_circuit()
    try:
        (out,) = rc.evaluate_many([c], device="cuda:0")
    except rc.TensorEvalError as e:
        assert "not supported on cuda:0 (backend 'cuda')" in str(e)
    else:
        np.testing.assert_allclose(np.asarray(out), np.asarray(rc.evaluate_many([c])[0]))
