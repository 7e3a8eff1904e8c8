"""The type of the values circuits gives back (torch tensors with torch installed, numpy arrays
otherwise or after set_result_type("numpy")), on every path that gives one, and rc's tensor
helpers: hash_tensor, save_tensor, get_tensor_prefix, tensor_from_hash, the syncs, and
print-then-parse through the tensor cache."""

import gc
import os
import subprocess
import sys

import numpy as np
import pytest

import circuits as rc
from circuits import _store, _values
from conftest import HAS_TORCH

PACKAGE_ROOT = os.path.dirname(os.path.dirname(rc.__file__))


def run_python(code, **env):
    """Runs code in a fresh interpreter that imports this circuits; its stdout, stripped."""
    full_env = {k: v for k, v in os.environ.items() if k != "CIRCUITS_RESULT_TYPE"}
    full_env.update(PYTHONPATH=PACKAGE_ROOT, **env)
    out = subprocess.run(
        [sys.executable, "-c", code], env=full_env, capture_output=True, text=True, check=False
    )
    return out.returncode, out.stdout.strip(), out.stderr


@pytest.fixture
def store(tmp_path, monkeypatch):
    """An empty default store and tensor cache for the test."""
    monkeypatch.setenv(_store.STORE_ENV, str(tmp_path / "store"))
    monkeypatch.setattr(_store, "_cache", _store._TensorCache())
    return _store.TensorStore(tmp_path / "store")


class Recorder(rc.GeneralFunctionSpecBase):
    """x + 1, remembering the type of each input its function received."""

    def __init__(self):
        self.seen = []

    @property
    def name(self):
        return "recorder"

    def compute_hash_bytes(self):
        return b"recorder"

    def function(self, x):
        self.seen.append(type(x))
        return x + 1

    def get_shape_info(self, shape):
        return rc.GeneralFunctionShapeInfo(shape, 0, [True])


def every_value(tmp_path, rng):
    """(path, value) for each way circuits gives a tensor back."""
    x = rng.standard_normal((3, 4)).astype(np.float32)
    a = rc.Array(x, "a")
    c = rc.Add(a, rc.Scalar(1.0, (3, 4)), name="c")
    rc.save(c, tmp_path / "saved")
    loaded = rc.load(tmp_path / "saved")
    parsed = rc.Parser()("0 'p' [2,3] Array rand")
    return [
        ("evaluate", c.evaluate()),
        ("evaluate of an Array", a.evaluate()),
        ("evaluate_many", rc.evaluate_many([c, a])[0]),
        ("Array.value", a.value),
        ("Array.randn", rc.Array.randn(2, 3).value),
        ("Scalar evaluate", rc.Scalar(2.0, (3,)).evaluate()),
        ("parsed Array", parsed.value),
        ("parsed evaluate", parsed.evaluate()),
        ("loaded Array", loaded.get_unique("a").value),
        ("loaded evaluate", loaded.evaluate()),
        ("Index tensor", rc.Index(a, (np.array([2, 0]),)).idx[0]),
    ]


@pytest.mark.torch
def test_every_value_is_torch_by_default(torch, tmp_path, rng):
    assert rc.get_result_type() == "torch"
    for path, value in every_value(tmp_path, rng):
        assert isinstance(value, torch.Tensor), path


@pytest.mark.numpy_results
def test_every_value_is_numpy_when_selected(tmp_path, rng):
    assert rc.get_result_type() == "numpy"
    for path, value in every_value(tmp_path, rng):
        assert isinstance(value, np.ndarray), path


@pytest.mark.torch
def test_python_spec_function_receives_torch(torch, rng):
    spec = Recorder()
    x = rng.standard_normal((2, 3))
    out = rc.GeneralFunction(rc.Array(x), spec=spec).evaluate()
    assert spec.seen == [torch.Tensor]
    assert isinstance(out, torch.Tensor)
    assert torch.equal(out, torch.from_numpy(x) + 1)


@pytest.mark.numpy_results
def test_python_spec_function_receives_numpy_when_selected(rng):
    spec = Recorder()
    out = rc.GeneralFunction(rc.Array(rng.standard_normal(3)), spec=spec).evaluate()
    assert spec.seen == [np.ndarray]
    assert isinstance(out, np.ndarray)


@pytest.mark.torch
def test_results_keep_dtype_values_and_strides(torch, rng):
    for dtype in ("float32", "float64", "int64", "bool"):
        x = (10 * rng.standard_normal((3, 4))).astype(dtype)
        out = rc.Array(x).evaluate()
        assert out.dtype == getattr(torch, dtype)
        assert np.array_equal(out.numpy(), x)
    view = rng.standard_normal((6, 8))[::2, 1:].T
    out = rc.Array(view).value
    assert out.stride() == tuple(s // 8 for s in view.strides)
    assert np.array_equal(out.numpy(), view)
    reversed_ = rng.standard_normal(5)[::-1]
    assert np.array_equal(rc.Array(reversed_).value.numpy(), reversed_)
    broadcast = rc.Scalar(3.0, (2, 3)).evaluate()
    assert broadcast.dtype == torch.float64
    assert torch.equal(broadcast, torch.full((2, 3), 3.0, dtype=torch.float64))


@pytest.mark.torch
def test_torch_results_share_the_engine_memory(torch, rng):
    x = rng.standard_normal((4, 5))
    a = rc.Array(x)
    assert a.value.data_ptr() == x.ctypes.data
    assert a.evaluate().data_ptr() == x.ctypes.data
    assert a.value.data_ptr() == a.value.data_ptr()


@pytest.mark.torch
def test_torch_result_outlives_its_circuit(torch, rng):
    x = rng.standard_normal((3, 3))
    c = rc.Add(rc.Array(x), rc.Array(x))
    out = c.evaluate()
    value = rc.Array(rng.standard_normal(4).astype(np.float32)).value
    del c
    gc.collect()
    assert torch.equal(out, torch.from_numpy(2 * x))
    assert value.shape == (4,)


@pytest.mark.torch
def test_dlpack_only_input_is_accepted(torch):
    class DLPackOnly:
        def __init__(self, t):
            self.t = t

        def __dlpack__(self, **kwargs):
            return self.t.__dlpack__(**kwargs)

        def __dlpack_device__(self):
            return self.t.__dlpack_device__()

    t = torch.arange(6, dtype=torch.float64).reshape(2, 3)
    a = rc.Array(DLPackOnly(t))
    assert a.shape == (2, 3)
    assert torch.equal(a.value, t)
    assert a == rc.Array(t)


def test_set_result_type_rejects_other_names():
    with pytest.raises(ValueError, match="'numpy' or 'torch'"):
        rc.set_result_type("jax")


def test_set_result_type_torch_without_torch_raises_import_error(monkeypatch):
    monkeypatch.setattr(_values, "HAS_TORCH", False)
    with pytest.raises(ImportError, match="torch is not installed"):
        rc.set_result_type("torch")


@pytest.mark.skipif(HAS_TORCH, reason="torch is installed")
def test_without_torch_results_are_numpy(rng):
    assert rc.get_result_type() == "numpy"
    assert isinstance(rc.Array(rng.standard_normal(3)).evaluate(), np.ndarray)
    with pytest.raises(ImportError, match="torch is not installed"):
        rc.set_result_type("torch")


def test_environment_variable_selects_numpy():
    code = (
        "import circuits as rc, numpy as np; "
        "print(rc.get_result_type(), type(rc.Array(np.ones(2)).evaluate()).__name__)"
    )
    rc_, out, err = run_python(code, CIRCUITS_RESULT_TYPE="numpy")
    assert rc_ == 0, err
    assert out == "numpy ndarray"


def test_environment_variable_rejects_other_names():
    rc_, _, err = run_python("import circuits", CIRCUITS_RESULT_TYPE="jax")
    assert rc_ != 0
    assert "CIRCUITS_RESULT_TYPE" in err


@pytest.mark.torch
def test_environment_variable_selects_torch():
    code = "import circuits as rc, numpy as np; print(type(rc.Array(np.ones(2)).value).__name__)"
    rc_, out, err = run_python(code, CIRCUITS_RESULT_TYPE="torch")
    assert rc_ == 0, err
    assert out == "Tensor"


@pytest.mark.torch
def test_torch_is_imported_at_the_first_value_only():
    code = (
        "import sys, numpy as np, circuits as rc\n"
        "a = rc.Array(np.ones(2), 'a'); b = rc.relu(a); s = b.repr()\n"
        "print('torch' in sys.modules, rc.get_result_type())\n"
        "b.evaluate()\n"
        "print('torch' in sys.modules)"
    )
    rc_, out, err = run_python(code)
    assert rc_ == 0, err
    assert out.split() == ["False", "torch", "True"]


# --- tensor helpers ------------------------------------------------------------------------


def test_hash_tensor_is_the_array_hash(rng):
    x = rng.standard_normal((3, 4)).astype(np.float32)
    h = rc.hash_tensor(x)
    assert isinstance(h, bytes) and len(h) == 32
    assert h.hex() == rc.Array(x).tensor_hash_base16()
    assert rc.hash_tensor(x.astype(np.float64)) != h


@pytest.mark.torch
def test_hash_tensor_of_torch_equals_numpy(torch, rng):
    x = rng.standard_normal((2, 5))
    assert rc.hash_tensor(torch.from_numpy(x)) == rc.hash_tensor(x)


def test_save_tensor_then_get_tensor_prefix(store, rng):
    x = rng.standard_normal((3, 2)).astype(np.float32)
    assert rc.save_tensor(x) is True
    assert rc.save_tensor(x) is False
    assert rc.save_tensor(x, force=True) is True
    h = rc.hash_tensor(x).hex()
    assert h in store
    for found in (rc.get_tensor_prefix(h[:8]), rc.tensor_from_hash(h)):
        assert type(found) is type(rc.Array(x).value)
        np.testing.assert_array_equal(np.asarray(found), x)


def test_save_tensor_rrfs_returns_the_hash(store, rng):
    x = rng.standard_normal(4)
    assert rc.save_tensor_rrfs(x) == rc.hash_tensor(x).hex()


def test_unknown_prefix_raises_tensor_not_found(store):
    with pytest.raises(rc.TensorNotFoundError, match="'abc123'") as info:
        rc.get_tensor_prefix("abc123")
    assert isinstance(info.value, ValueError)
    with pytest.raises(rc.TensorNotFoundError):
        rc.tensor_from_hash("0" * 64)
    with pytest.raises(ValueError, match="hex digits"):
        rc.get_tensor_prefix("not hex")


def test_print_then_parse_finds_arrays_by_prefix(store, rng):
    a = rc.Array(rng.standard_normal((3, 4)).astype(np.float32), "a")
    idx = rc.Index(a, (np.array([2, 0]),), name="i")
    c = rc.Add(idx, rc.Array(np.ones(4, dtype=np.float32), "b"), name="c")
    text = c.repr()
    assert rc.Parser()(text) == c
    np.testing.assert_array_equal(
        np.asarray(rc.get_tensor_prefix(a.tensor_hash_base16()[:12])), np.asarray(a.value)
    )
    assert not store.path.exists()


def test_print_caches_for_a_later_parser(store, rng, capsys):
    a = rc.Array(rng.standard_normal(5), "a")
    c = rc.relu(a)
    c.print()
    text = capsys.readouterr().out
    assert rc.Parser()(text) == c


def test_unprinted_array_is_not_found(store, rng):
    a = rc.Array(rng.standard_normal(5), "a")
    with pytest.raises(rc.TensorNotFoundError):
        rc.Parser()(f"'a' [5] Array {a.tensor_hash_base16()[:24]}")


def test_sync_all_writes_printed_tensors_to_the_store(store, rng):
    a, b = rc.Array(rng.standard_normal(3), "a"), rc.Array(rng.standard_normal(2), "b")
    text = rc.Concat(a, b, axis=0, name="c").repr()
    rc.sync_all_unsynced_tensors()
    for x in (a, b):
        assert x.tensor_hash_base16() in store
    assert _store._cache.tensors == {}
    assert rc.Parser()(text).get_unique("a") == a
    rc.sync_all_unsynced_tensors()


def test_sync_specific_writes_only_those(store, rng):
    a, b = rc.Array(rng.standard_normal(3), "a"), rc.Array(rng.standard_normal(2), "b")
    rc.Concat(a, b, axis=0).repr()
    rc.sync_specific_tensors([a.tensor_hash_base16()[:10]])
    assert a.tensor_hash_base16() in store
    assert b.tensor_hash_base16() not in store
    rc.sync_specific_tensors([a.tensor_hash_base16()[:10]])
    with pytest.raises(rc.TensorNotFoundError):
        rc.sync_specific_tensors(["abcdef"])
    with pytest.raises(ValueError, match="parallelism"):
        rc.sync_specific_tensors([], parallelism=0)


def test_ambiguous_prefix_in_the_cache(store):
    arrays = [rc.Array(np.full(2, float(i))) for i in range(40)]
    rc.Concat(*arrays, axis=0).repr()
    # 40 hashes over 16 first digits: some two share their first digit.
    hashes = sorted(a.tensor_hash_base16() for a in arrays)
    shared = next(h[0] for h, g in zip(hashes, hashes[1:]) if h[0] == g[0])
    with pytest.raises(rc.TensorNotFoundError, match="several"):
        rc.get_tensor_prefix(shared)


def test_array_from_hash_and_save_rrfs(store, rng):
    a = rc.Array(rng.standard_normal((2, 2)), "a")
    h = a.save_rrfs()
    assert h == a.tensor_hash_base16() and h in store
    assert rc.Array.from_hash("a", h) == a
    assert rc.Array.from_hash_prefix("a", h[:10]) == a
    assert rc.Array.from_hash_prefix("a", h[:10], cache=store) == a
