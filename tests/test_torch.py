"""torch interop: torch tensors in give torch tensors out with the input's dtype, mixed numpy
and torch inputs give torch, an Array evaluated directly shares the input's memory, and int64
torch tensors index (Index) and gather (gen_index)."""

import numpy as np
import pytest

import circuits as rc
import reference as ref

torch = pytest.importorskip("torch")

TORCH_TO_NUMPY = {torch.float32: np.float32, torch.float64: np.float64, torch.int64: np.int64}


def tensor(rng, *shape, dtype=torch.float32):
    values = rng.standard_normal(shape)
    if dtype == torch.int64:
        values = np.asarray(np.round(values * 100))
    return torch.from_numpy(values.astype(TORCH_TO_NUMPY[dtype]))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.int64])
@pytest.mark.parametrize("shape", [(), (4,), (2, 3, 5)])
def test_array_of_torch_evaluates_to_torch(dtype, shape, rng):
    t = tensor(rng, *shape, dtype=dtype)
    node = rc.Array(t, name="t")
    assert node.shape == shape
    out = node.evaluate()
    assert isinstance(out, torch.Tensor)
    assert out.dtype == dtype
    assert tuple(out.shape) == shape
    assert torch.equal(out, t)


def test_array_value_is_the_torch_tensor(rng):
    t = tensor(rng, 3, 2)
    value = rc.Array(t).value
    assert isinstance(value, torch.Tensor)
    assert torch.equal(value, t)


def test_array_of_torch_equals_array_of_the_same_numpy(rng):
    t = tensor(rng, 3, 4, dtype=torch.float64)
    assert rc.Array(t, name="a") == rc.Array(t.numpy().copy(), name="a")


def test_evaluated_array_shares_memory_with_the_input(rng):
    t = tensor(rng, 4, 5)
    out = rc.Array(t).evaluate()
    assert out.data_ptr() == t.data_ptr()
    (many,) = rc.evaluate_many([rc.Array(t)])
    assert many.data_ptr() == t.data_ptr()


@pytest.mark.numpy_results
def test_evaluated_numpy_array_shares_memory_with_the_input(rng):
    x = rng.standard_normal((4, 5))
    out = rc.Array(x).evaluate()
    assert isinstance(out, np.ndarray)
    assert np.shares_memory(out, x)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_torch_ops_keep_dtype_and_match_numpy(dtype, rng):
    x, w = tensor(rng, 3, 4, dtype=dtype), tensor(rng, 4, 2, dtype=dtype)
    nx, nw = x.numpy(), w.numpy()
    h = rc.Einsum.from_einsum_string("ij,jk->ik", rc.Array(x), rc.Array(w))
    cases = [
        (rc.Add(rc.Array(x), rc.Scalar(1.5)), nx.astype(np.float64) + 1.5, 1),
        (h, nx.astype(np.float64) @ nw.astype(np.float64), 4),
        (rc.relu(h), np.maximum(nx.astype(np.float64) @ nw.astype(np.float64), 0), 4),
        (rc.Concat(rc.Array(x), rc.Array(x), axis=0), np.concatenate([nx, nx]), 1),
        (rc.Rearrange.from_string(rc.Array(x), "a b -> b a"), nx.T, 1),
        (rc.Index(rc.Array(x), (1,)), nx[1], 1),
        (rc.softmax(rc.Array(x)), ref.softmax(nx), 1),
    ]
    for node, expected, terms in cases:
        out = node.evaluate()
        assert isinstance(out, torch.Tensor)
        assert out.dtype == dtype
        ref.assert_close(out.numpy(), expected, dtype=TORCH_TO_NUMPY[dtype], terms=terms)


def test_mixed_numpy_and_torch_gives_torch(rng):
    t = tensor(rng, 2, 3)
    n = rng.standard_normal((2, 3)).astype(np.float32)
    out = rc.Add(rc.Array(n), rc.Array(t)).evaluate()
    assert isinstance(out, torch.Tensor)
    assert out.dtype == torch.float32
    ref.assert_close(out.numpy(), n.astype(np.float64) + t.numpy(), np.float32)
    out = rc.Einsum.from_einsum_string("ij,ij->i", rc.Array(t), rc.Array(n)).evaluate()
    assert isinstance(out, torch.Tensor)
    ref.assert_close(out.numpy(), (t.numpy().astype(np.float64) * n).sum(1), np.float32, terms=3)


@pytest.mark.numpy_results
def test_numpy_only_gives_numpy(rng):
    out = rc.Add(rc.Array(rng.standard_normal(3)), rc.Scalar(1.0)).evaluate()
    assert isinstance(out, np.ndarray)
    assert not isinstance(rc.Scalar(1.0, (2,)).evaluate(), torch.Tensor)


def test_torch_and_numpy_float_dtypes_still_conflict(rng):
    with pytest.raises(rc.MiscInputChildrenMultipleDtypesError, match="float"):
        rc.Add(rc.Array(tensor(rng, 3)), rc.Array(rng.standard_normal(3)))


def test_non_contiguous_torch_tensor(rng):
    base = tensor(rng, 6, 8, dtype=torch.float64)
    view = base[::2, 1:].t()
    out = rc.Array(view).evaluate()
    assert isinstance(out, torch.Tensor)
    assert torch.equal(out, view)
    assert torch.equal(rc.Rearrange.from_string(rc.Array(view), "a b -> b a").evaluate(), view.t())


def test_computed_result_is_a_new_tensor(rng):
    t = tensor(rng, 3)
    out = rc.Add(rc.Array(t), rc.Scalar(1.0)).evaluate()
    expected = t.clone() + 1.0
    assert out.data_ptr() != t.data_ptr()
    assert torch.equal(out, expected)


# --- index tensors -------------------------------------------------------------------------


def test_index_with_torch_int64_tensor(rng):
    x = rng.standard_normal((4, 5))
    idx = torch.tensor([3, 0, 0, 2])
    node = rc.Index(rc.Array(x), (idx, slice(1, 4)))
    assert node.shape == (4, 3)
    out = node.evaluate()
    assert isinstance(out, torch.Tensor)
    np.testing.assert_array_equal(out.numpy(), x[[3, 0, 0, 2], 1:4])
    assert isinstance(node.idx[0], torch.Tensor)
    assert torch.equal(node.idx[0], idx)


def test_index_torch_tensors_act_per_axis(rng):
    x = tensor(rng, 4, 5)
    rows, cols = torch.tensor([1, 3]), torch.tensor([4, 0, 2])
    out = rc.Index(rc.Array(x), (rows, cols)).evaluate()
    assert tuple(out.shape) == (2, 3)
    assert torch.equal(out, x[rows][:, cols])


def test_index_with_torch_tensor_equals_numpy_index(rng):
    x = rc.Array(rng.standard_normal((4, 5)), name="x")
    assert rc.Index(x, (torch.tensor([1, 2]),)) == rc.Index(x, (np.array([1, 2]),))


def test_index_torch_tensor_must_be_int64(rng):
    x = rc.Array(rng.standard_normal((4, 5)))
    with pytest.raises(rc.MiscInputIndexDtypeNotI64Error, match="float32"):
        rc.Index(x, (torch.tensor([1.0, 2.0]),))


def test_gen_index_with_torch_index(rng):
    x = tensor(rng, 3, 5, dtype=torch.float64)
    idx = torch.tensor([4, 0, 2])
    node = rc.GeneralFunction.gen_index(rc.Array(x), rc.Array(idx), -1, batch_x=True)
    assert node.shape == (3,)
    out = node.evaluate()
    assert isinstance(out, torch.Tensor)
    assert out.dtype == torch.float64
    assert torch.equal(out, torch.gather(x, 1, idx[:, None])[:, 0])


def test_gen_index_unbatched_with_torch_index(rng):
    x = tensor(rng, 4, 3)
    idx = torch.tensor([2, 2, 0])
    node = rc.GeneralFunction.gen_index(rc.Array(x), rc.Array(idx), 0, batch_index=False)
    assert node.shape == (3, 3)
    out = node.evaluate()
    assert isinstance(out, torch.Tensor)
    assert out.dtype == torch.float32
    assert torch.equal(out, x[idx])
