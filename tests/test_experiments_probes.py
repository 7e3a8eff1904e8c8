"""circuits.experiments.probes: PCA directions, linear probes and probe sweeps, against direct
numpy/torch computations, on numpy and torch values; every error path."""

import sys
import warnings

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from circuits.experiments.probes import (
    PCA,
    LinearProbe,
    fit_linear_probe,
    pca_directions,
    probe_sweep,
)


@pytest.fixture
def no_pandas(monkeypatch):
    """Importing pandas fails, as in an environment without it."""
    monkeypatch.setitem(sys.modules, "pandas", None)


def _subspace_projector(rows):
    q, _ = np.linalg.qr(np.asarray(rows, dtype=np.float64).T)
    return q @ q.T


def _scaled_data(rng, n, d):
    """Data whose principal axes have clearly separated variances."""
    basis, _ = np.linalg.qr(rng.normal(size=(d, d)))
    scales = 2.0 ** -np.arange(d)
    return rng.normal(size=(n, d)) * scales @ basis.T + rng.normal(size=d)


# ---------------------------------------------------------------- pca_directions


@pytest.mark.parametrize("k", [1, 3])
def test_pca_matches_covariance_eigenvectors(rng, k):
    x = _scaled_data(rng, 200, 6)
    dirs = pca_directions(x, k=k)
    assert isinstance(dirs, np.ndarray) and dirs.shape == (k, 6)
    cov = np.cov(x, rowvar=False)
    vals, vecs = np.linalg.eigh(cov)
    top = vecs[:, ::-1][:, :k].T
    np.testing.assert_allclose(_subspace_projector(dirs), _subspace_projector(top), atol=1e-8)
    np.testing.assert_allclose(np.abs(dirs @ top.T), np.eye(k), atol=1e-8)


def test_pca_matches_torch_pca_lowrank(torch, rng):
    x = torch.tensor(_scaled_data(rng, 300, 5))
    dirs = pca_directions(x, k=2)
    assert isinstance(dirs, torch.Tensor) and dirs.dtype == torch.float64
    torch.manual_seed(0)
    _, _, v = torch.pca_lowrank(x, q=5, center=True, niter=8)
    np.testing.assert_allclose(
        _subspace_projector(dirs.numpy()), _subspace_projector(v[:, :2].T.numpy()), atol=1e-8
    )


def test_pca_uncentred_matches_gram_eigenvectors(rng):
    x = _scaled_data(rng, 100, 4) + 5.0
    dirs = pca_directions(x, k=1, center=False)
    vals, vecs = np.linalg.eigh(x.T @ x)
    np.testing.assert_allclose(
        _subspace_projector(dirs), _subspace_projector(vecs[:, -1:].T), atol=1e-8
    )
    centred = pca_directions(x, k=1)
    assert abs(float(centred[0] @ dirs[0])) < 0.99


def test_pca_signs_are_fixed(rng):
    x = _scaled_data(rng, 150, 5)
    dirs = pca_directions(x, k=3)
    np.testing.assert_allclose(pca_directions(-x, k=3), dirs, atol=1e-10)
    for row in dirs:
        assert row[np.abs(row).argmax()] > 0
    np.testing.assert_allclose(np.linalg.norm(dirs, axis=1), 1.0, atol=1e-12)


def test_pca_flattens_leading_axes(rng):
    x = _scaled_data(rng, 60, 4).reshape(3, 4, 5, 4)
    np.testing.assert_allclose(
        pca_directions(x, k=2), pca_directions(x.reshape(60, 4), k=2), atol=1e-12
    )


def test_pca_variance(rng):
    x = _scaled_data(rng, 120, 4)
    result = pca_directions(x, k=4, return_variance=True)
    assert isinstance(result, PCA)
    dirs, variance, ratio = result
    centred = x - x.mean(0)
    np.testing.assert_allclose(variance, np.var(centred @ dirs.T, axis=0, ddof=1), rtol=1e-10)
    np.testing.assert_allclose(ratio.sum(), 1.0, rtol=1e-12)
    np.testing.assert_allclose(ratio, variance / np.trace(np.cov(x, rowvar=False)), rtol=1e-10)
    _, raw_var, _ = pca_directions(x, k=1, center=False, return_variance=True)
    np.testing.assert_allclose(
        raw_var, [np.mean((x @ pca_directions(x, k=1, center=False).T) ** 2)], rtol=1e-10
    )


def test_pca_dtypes(rng):
    x = _scaled_data(rng, 50, 3)
    assert pca_directions(x.astype(np.float32)).dtype == np.float32
    assert pca_directions(np.arange(30).reshape(10, 3) % 7).dtype == np.float64
    np.testing.assert_allclose(
        pca_directions(x.astype(np.float32), k=2), pca_directions(x, k=2), atol=1e-5
    )


def test_pca_torch_float32_and_cache(torch, rng):
    x = _scaled_data(rng, 80, 5)
    t = torch.tensor(x, dtype=torch.float32)
    got = pca_directions({"resid": t}, "resid", k=2)
    assert isinstance(got, torch.Tensor) and got.dtype == torch.float32
    np.testing.assert_allclose(got.numpy(), pca_directions(x, k=2), atol=1e-5)
    dirs, variance, ratio = pca_directions(t, k=2, return_variance=True)
    assert variance.dtype == torch.float32 and ratio.shape == (2,)


@given(
    lead=st.lists(st.integers(1, 4), min_size=1, max_size=3),
    d=st.integers(1, 6),
    k_frac=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**16),
)
def test_pca_shapes_property(lead, d, k_frac, seed):
    n = int(np.prod(lead))
    if n < 2:
        lead = lead + [2]
        n *= 2
    x = np.random.default_rng(seed).normal(size=(*lead, d))
    k = 1 + int(k_frac * (min(n, d) - 1))
    dirs = pca_directions(x, k=k)
    assert dirs.shape == (k, d)
    np.testing.assert_allclose(dirs @ dirs.T, np.eye(k), atol=1e-8)


def test_pca_errors(rng):
    x = rng.normal(size=(10, 4))
    with pytest.raises(
        ValueError,
        match=r"k=5 is larger than the feature width 4 of the activation \(shape \(10, 4\)\)",
    ):
        pca_directions(x, k=5)
    with pytest.raises(ValueError, match=r"k=3 is more than the 2 samples of 'r' \(shape \(2, 4\)"):
        pca_directions({"r": x[:2]}, "r", k=3)
    with pytest.raises(ValueError, match="k must be at least 1, got 0"):
        pca_directions(x, k=0)
    with pytest.raises(TypeError, match="k must be an int, got float"):
        pca_directions(x, k=1.0)
    with pytest.raises(ValueError, match="is a scalar; it needs a feature axis"):
        pca_directions(np.float64(3.0))
    with pytest.raises(
        ValueError,
        match=r"centring needs at least 2 samples, the activation has 1 \(shape \(1, 4\)\)",
    ):
        pca_directions(x[:1])
    with pytest.raises(TypeError, match="name='r' given with a tensor"):
        pca_directions(x, "r")
    with pytest.raises(TypeError, match="a cache needs the name"):
        pca_directions({"r": x})
    with pytest.raises(KeyError, match=r"'a1.inptu' is not in the cache .*nearest: 'a1.input'"):
        pca_directions({"a1.input": x, "a2.input": x, "logits": x}, "a1.inptu")
    bad = x.copy()
    bad[1, 2] = np.nan
    bad[3, 0] = np.inf
    with pytest.raises(
        ValueError, match=r"2 NaN or infinite entries in the activation \(shape \(10, 4\)\)"
    ):
        pca_directions(bad)
    with pytest.raises(TypeError, match="name must be a string, got int"):
        pca_directions({"r": x}, 3)
    with pytest.raises(TypeError, match="expected a torch tensor or numpy array, got object"):
        pca_directions(object())


# ---------------------------------------------------------------- fit_linear_probe


def _clusters(rng, n, d, n_classes, gap=6.0):
    """Labels 0..n_classes-1 and features: a well-separated Gaussian cluster per class."""
    centres = rng.normal(size=(n_classes, d))
    centres *= gap / np.linalg.norm(centres[:, None] - centres[None], axis=-1).max()
    labels = rng.integers(0, n_classes, size=n)
    labels[:n_classes] = np.arange(n_classes)
    return centres[labels] * 10 + rng.normal(size=(n, d)) * 0.1, labels


def _ridge_reference(x, t, l2):
    """The ridge solution from the normal equations of [x, 1] with an unpenalised intercept."""
    n, d = x.shape
    xa = np.concatenate([x, np.ones((n, 1))], 1)
    pen = l2 * np.eye(d + 1)
    pen[d, d] = 0.0
    theta = np.linalg.solve(xa.T @ xa / n + pen, xa.T @ t / n)
    return theta[:d], theta[d]


def _train_split(n, test_fraction=0.2, seed=0):
    n_test = int(round(n * test_fraction))
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[n_test:]), np.sort(perm[:n_test])


@pytest.mark.parametrize("l2", [1e-3, 0.5])
def test_ridge_binary_matches_closed_form(rng, l2):
    x = rng.normal(size=(90, 5))
    y = (x[:, 0] + 0.5 * rng.normal(size=90) > 0).astype(int)
    probe = fit_linear_probe(x, y, kind="ridge", l2=l2)
    train, test = _train_split(90)
    w, b = _ridge_reference(x[train], y[train] * 2.0 - 1.0, l2)
    np.testing.assert_allclose(probe.weight, w, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(probe.bias, b, rtol=1e-9, atol=1e-12)
    assert probe.weight.shape == (5,) and np.shape(probe.bias) == ()
    pred = (x @ w + b > 0).astype(int)
    assert probe.train_accuracy == pytest.approx(np.mean(pred[train] == y[train]))
    assert probe.test_accuracy == pytest.approx(np.mean(pred[test] == y[test]))
    assert (probe.n_train, probe.n_test, probe.n_iter) == (72, 18, 0)
    np.testing.assert_array_equal(probe.test_index, test)


def test_ridge_multiclass_matches_closed_form(rng):
    x = rng.normal(size=(80, 4))
    y = np.argmax(x[:, :3] + 0.3 * rng.normal(size=(80, 3)), 1)
    probe = fit_linear_probe(x, y, kind="ridge", l2=0.01, test_fraction=0.25, seed=3)
    train, _ = _train_split(80, 0.25, 3)
    w, b = _ridge_reference(x[train], np.eye(3)[y[train]], 0.01)
    assert probe.weight.shape == (3, 4) and probe.bias.shape == (3,)
    np.testing.assert_allclose(probe.weight, w.T, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(probe.bias, b, rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(probe.predict(x), np.argmax(x @ w + b, 1))


def test_ridge_without_penalty_is_least_squares(rng):
    x = rng.normal(size=(50, 3))
    y = x[:, 1] > 0.2
    probe = fit_linear_probe(x, y, kind="ridge", l2=0, test_fraction=0.0)
    xa = np.concatenate([x, np.ones((50, 1))], 1)
    theta = np.linalg.lstsq(xa, y * 2.0 - 1.0, rcond=None)[0]
    np.testing.assert_allclose(probe.weight, theta[:3], rtol=1e-9)
    np.testing.assert_allclose(probe.bias, theta[3], rtol=1e-9, atol=1e-12)
    assert probe.test_accuracy is None and probe.n_test == 0


def test_ridge_torch_matches_numpy(torch, rng):
    x = rng.normal(size=(60, 4))
    y = rng.integers(0, 3, size=60)
    ref = fit_linear_probe(x, y, kind="ridge")
    got = fit_linear_probe(torch.tensor(x), torch.tensor(y), kind="ridge")
    assert isinstance(got.weight, torch.Tensor)
    np.testing.assert_allclose(got.weight.numpy(), ref.weight, rtol=1e-9)
    np.testing.assert_allclose(got.bias.numpy(), ref.bias, rtol=1e-9)
    assert (got.train_accuracy, got.test_accuracy) == (ref.train_accuracy, ref.test_accuracy)


def _logistic_grad_numpy(x, y, w, b, l2):
    """Gradient of mean binary cross entropy + l2 * |w|^2 in (w, b)."""
    p = 1 / (1 + np.exp(-(x @ w + b)))
    return np.concatenate([x.T @ (p - y) / len(y) + 2 * l2 * w, [np.mean(p - y)]])


def test_logistic_binary_gradient_is_zero(rng):
    x = rng.normal(size=(120, 4))
    y = (x @ np.array([1.0, -2.0, 0.5, 0.0]) + rng.normal(size=120) > 0).astype(int)
    probe = fit_linear_probe(x, y, l2=1e-2)
    train, _ = _train_split(120)
    grad = _logistic_grad_numpy(x[train], y[train], probe.weight, probe.bias, 1e-2)
    assert np.abs(grad).max() < 1e-9
    assert probe.n_iter > 0 and probe.kind == "logistic"


def test_logistic_binary_gradient_is_zero_torch(torch, rng):
    x = torch.tensor(rng.normal(size=(150, 5)))
    y = (x[:, 0] - x[:, 1] + torch.tensor(rng.normal(size=150)) > 0).long()
    probe = fit_linear_probe(x, y, l2=1e-3, test_fraction=0.3, seed=5)
    train, _ = _train_split(150, 0.3, 5)
    w = probe.weight.clone().requires_grad_(True)
    b = probe.bias.clone().requires_grad_(True)
    xt, yt = x[train], y[train].double()
    loss = (
        torch.nn.functional.binary_cross_entropy_with_logits(xt @ w + b, yt) + 1e-3 * (w * w).sum()
    )
    loss.backward()
    assert w.grad.abs().max() < 1e-9 and b.grad.abs().max() < 1e-9
    # The same fit as an optimiser run to convergence.
    w2 = torch.zeros(5, dtype=torch.float64, requires_grad=True)
    b2 = torch.zeros((), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS(
        [w2, b2],
        max_iter=500,
        tolerance_grad=1e-12,
        tolerance_change=1e-15,
        line_search_fn="strong_wolfe",
    )

    def closure():
        opt.zero_grad()
        out = (
            torch.nn.functional.binary_cross_entropy_with_logits(xt @ w2 + b2, yt)
            + 1e-3 * (w2 * w2).sum()
        )
        out.backward()
        return out

    opt.step(closure)
    np.testing.assert_allclose(probe.weight.numpy(), w2.detach().numpy(), rtol=1e-5, atol=1e-7)


def test_logistic_multiclass_gradient_is_zero(torch, rng):
    x = rng.normal(size=(200, 4))
    y = np.argmax(x[:, :3] + 0.5 * rng.normal(size=(200, 3)), 1)
    probe = fit_linear_probe(x, y, l2=1e-3)
    assert probe.weight.shape == (3, 4) and probe.bias.shape == (3,)
    train, _ = _train_split(200)
    w = torch.tensor(probe.weight, requires_grad=True)
    b = torch.tensor(probe.bias, requires_grad=True)
    xt = torch.tensor(x[train])
    loss = (
        torch.nn.functional.cross_entropy(xt @ w.T + b, torch.tensor(y[train]))
        + 1e-3 * (w * w).sum()
    )
    loss.backward()
    assert w.grad.abs().max() < 1e-9 and b.grad.abs().max() < 1e-9
    got = fit_linear_probe(torch.tensor(x), torch.tensor(y), l2=1e-3)
    np.testing.assert_allclose(got.weight.numpy(), probe.weight, rtol=1e-7, atol=1e-9)


def test_logistic_multiclass_numpy_gradient(rng):
    x = rng.normal(size=(100, 3))
    y = rng.integers(0, 4, size=100)
    probe = fit_linear_probe(x, y, l2=0.05, test_fraction=0.0)
    z = x @ probe.weight.T + probe.bias
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    onehot = np.eye(4)[y]
    grad_w = (p - onehot).T @ x / 100 + 2 * 0.05 * probe.weight
    grad_b = (p - onehot).mean(0)
    assert np.abs(grad_w).max() < 1e-9 and np.abs(grad_b).max() < 1e-9


@pytest.mark.parametrize("kind", ["logistic", "ridge"])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_separable_data_is_fit_exactly(rng, kind, n_classes):
    x, y = _clusters(rng, 120, 6, n_classes)
    probe = fit_linear_probe(x, y, kind=kind)
    assert probe.train_accuracy == 1.0 and probe.test_accuracy == 1.0
    np.testing.assert_array_equal(probe.predict(x), y)


def test_labels_of_any_kind(rng):
    x, y = _clusters(rng, 60, 3, 3)
    names = np.array(["red", "green", "blue"])[y]
    probe = fit_linear_probe(x, list(names), kind="ridge")
    assert probe.classes.tolist() == ["blue", "green", "red"]
    np.testing.assert_array_equal(probe.predict(x), names)
    bools = fit_linear_probe(x, y == 1)
    assert bools.classes.tolist() == [False, True]
    assert bools.predict(x).dtype == np.bool_


def test_predict_torch_and_float32(torch, rng):
    x, y = _clusters(rng, 80, 4, 2)
    t = torch.tensor(x, dtype=torch.float32, requires_grad=True)
    probe = fit_linear_probe(t, torch.tensor(y))
    assert probe.weight.dtype == torch.float32 and probe.bias.dtype == torch.float32
    pred = probe.predict(t)
    assert isinstance(pred, torch.Tensor)
    np.testing.assert_array_equal(pred.numpy(), y)
    np.testing.assert_array_equal(probe.predict(x), y)
    assert probe.direction.norm().item() == pytest.approx(1.0)


@given(
    n=st.integers(10, 60),
    d=st.integers(1, 5),
    n_classes=st.integers(2, 4),
    kind=st.sampled_from(["logistic", "ridge"]),
    test_fraction=st.sampled_from([0.0, 0.2, 0.5]),
    seed=st.integers(0, 2**16),
)
def test_probe_shapes_property(n, d, n_classes, kind, test_fraction, seed):
    gen = np.random.default_rng(seed)
    y = gen.permutation(np.arange(n) % n_classes)
    train, _ = _train_split(n, test_fraction, seed)
    assume(len(np.unique(y[train])) == n_classes)
    x = gen.normal(size=(n, d)) + y[:, None]
    probe = fit_linear_probe(x, y, kind=kind, test_fraction=test_fraction, seed=seed, l2=0.1)
    weight_shape = (d,) if n_classes == 2 else (n_classes, d)
    assert probe.weight.shape == weight_shape and np.shape(probe.bias) == weight_shape[:-1]
    assert probe.n_train + probe.n_test == n and probe.n_test == int(round(n * test_fraction))
    assert 0 <= probe.train_accuracy <= 1
    assert (probe.test_accuracy is None) == (test_fraction == 0)
    pred = probe.predict(x)
    assert pred.shape == (n,) and set(pred.tolist()) <= set(range(n_classes))
    np.testing.assert_allclose(np.linalg.norm(probe.direction, axis=-1), 1.0)


def test_direction_and_repr(rng):
    x, y = _clusters(rng, 60, 4, 3)
    probe = fit_linear_probe(x, y, kind="ridge")
    np.testing.assert_allclose(np.linalg.norm(probe.direction, axis=1), 1.0)
    np.testing.assert_allclose(
        probe.direction * np.linalg.norm(probe.weight, axis=1, keepdims=True), probe.weight
    )
    assert isinstance(probe, LinearProbe)
    assert repr(probe) == (
        "LinearProbe(kind='ridge', weight=[3, 4], classes=[0, 1, 2], train_accuracy=1.0000, "
        "test_accuracy=1.0000, n_train=48, n_test=12)"
    )
    binary = fit_linear_probe(x, y == 0, test_fraction=0)
    assert "test_accuracy=None" in repr(binary)
    assert binary.direction.shape == (4,)


def test_split_follows_seed(rng):
    x = rng.normal(size=(40, 2))
    y = np.arange(40) % 2
    a = fit_linear_probe(x, y, seed=1, kind="ridge")
    b = fit_linear_probe(x, y, seed=1, kind="ridge")
    c = fit_linear_probe(x, y, seed=2, kind="ridge")
    np.testing.assert_array_equal(a.test_index, b.test_index)
    assert not np.array_equal(a.test_index, c.test_index)
    assert len(a.test_index) == 8


def test_max_iter_warns(rng):
    x = rng.normal(size=(50, 3))
    y = x[:, 0] > 0
    with pytest.warns(RuntimeWarning, match=r"stopped after max_iter=1 Newton steps"):
        fit_linear_probe(x, y, max_iter=1, l2=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit_linear_probe(x, y, l2=1e-2)


def test_probe_errors(rng):
    x = rng.normal(size=(10, 3))
    y = np.arange(10) % 2
    with pytest.raises(
        ValueError,
        match=r"features have 10 examples \(shape \(10, 3\)\) but labels have 9 \(shape \(9,\)\)",
    ):
        fit_linear_probe(x, y[:9])
    with pytest.raises(
        ValueError, match=r"features must be 2-D \[examples, features\], got shape \(10, 3, 1\)"
    ):
        fit_linear_probe(x[..., None], y)
    with pytest.raises(ValueError, match=r"labels must be 1-D \[examples\], got shape \(10, 1\)"):
        fit_linear_probe(x, y[:, None])
    with pytest.raises(
        ValueError,
        match=r"too few examples for the split: 3 examples with test_fraction=0.1 give 3 to "
        r"train on and 0 to test on",
    ):
        fit_linear_probe(x[:3], y[:3], test_fraction=0.1)
    with pytest.raises(
        ValueError,
        match="too few examples for the split: 2 examples with test_fraction=0.5 give 1 "
        "to train on",
    ):
        fit_linear_probe(x[:2], y[:2], test_fraction=0.5)
    with pytest.raises(
        ValueError, match=r"the training split \(8 examples\) has only the label\(s\) \[1\]"
    ):
        fit_linear_probe(x, np.ones(10, dtype=int))
    with pytest.raises(
        ValueError,
        match=r"label\(s\) \[2\] have no example in the training split "
        r"\(8 of 10 examples, seed=0\)",
    ):
        fit_linear_probe(x, np.where(np.isin(np.arange(10), _train_split(10)[1][:1]), 2, y))
    with pytest.raises(
        ValueError, match=r"1 NaN or infinite entries in features \(shape \(10, 3\)\)"
    ):
        fit_linear_probe(np.where(np.arange(30).reshape(10, 3) == 4, np.nan, x), y)
    with pytest.raises(ValueError, match="kind must be one of 'logistic', 'ridge', got 'svm'"):
        fit_linear_probe(x, y, kind="svm")
    with pytest.raises(ValueError, match="l2 must be a number >= 0, got -1"):
        fit_linear_probe(x, y, l2=-1)
    with pytest.raises(ValueError, match=r"test_fraction must be a number in \[0, 1\), got 1"):
        fit_linear_probe(x, y, test_fraction=1)
    with pytest.raises(ValueError, match=r"labels must be 1-D \[examples\], got shape \(\)"):
        fit_linear_probe(x, 3)
    with pytest.raises(
        TypeError, match="fit_linear_probe: expected a torch tensor or numpy array, got list"
    ):
        fit_linear_probe([[object()]] * 10, y)
    probe = fit_linear_probe(x, y, kind="ridge")
    with pytest.raises(
        ValueError, match=r"LinearProbe.scores: features must have shape \[n, 3\], got \(10, 4\)"
    ):
        probe.predict(rng.normal(size=(10, 4)))


# ---------------------------------------------------------------- probe_sweep


def _layered_cache(rng, n=120):
    """Residual streams [n, seq, d] where the label is decodable from layer 1 on, at position 0."""
    y = rng.integers(0, 2, size=n)
    cache = {}
    for layer in range(3):
        resid = rng.normal(size=(n, 4, 5))
        if layer >= 1:
            resid[:, 0, 2] += (y * 2 - 1) * 20.0
        cache[f"a{layer}.input"] = resid
    return cache, y


def test_probe_sweep_records(no_pandas, rng):
    cache, y = _layered_cache(rng)
    names = list(cache)
    rows = probe_sweep(cache, names, y, position=0, kind="ridge", l2=1e-2)
    assert isinstance(rows, list)
    assert [r["name"] for r in rows] == names and [r["layer"] for r in rows] == [0, 1, 2]
    assert list(rows[0]) == [
        "name",
        "layer",
        "train_accuracy",
        "test_accuracy",
        "n_train",
        "n_test",
        "probe",
    ]
    assert rows[1]["test_accuracy"] == 1.0 and rows[2]["test_accuracy"] == 1.0
    assert rows[0]["test_accuracy"] < 0.9
    direct = fit_linear_probe(cache["a1.input"][:, 0], y, kind="ridge", l2=1e-2)
    np.testing.assert_allclose(rows[1]["probe"].weight, direct.weight)
    assert rows[1]["n_train"] == direct.n_train and rows[1]["n_test"] == direct.n_test


def test_probe_sweep_two_d_features_and_last_position(no_pandas, rng):
    cache, y = _layered_cache(rng)
    flat = {k: v[:, 0] for k, v in cache.items()}
    a = probe_sweep(flat, "a2.input", y)
    b = probe_sweep(cache, ["a2.input"], y, position=-4)
    assert len(a) == 1 and a[0]["test_accuracy"] == b[0]["test_accuracy"]


def test_probe_sweep_dataframe(rng):
    pandas = pytest.importorskip("pandas")
    cache, y = _layered_cache(rng)
    table = probe_sweep(cache, list(cache), y, position=0)
    assert isinstance(table, pandas.DataFrame)
    assert list(table.columns) == [
        "name",
        "layer",
        "train_accuracy",
        "test_accuracy",
        "n_train",
        "n_test",
        "probe",
    ]
    assert table["test_accuracy"].tolist()[1:] == [1.0, 1.0]


def test_probe_sweep_torch(torch, no_pandas, rng):
    cache, y = _layered_cache(rng)
    tcache = {k: torch.tensor(v, dtype=torch.float32) for k, v in cache.items()}
    rows = probe_sweep(tcache, list(cache), torch.tensor(y), position=0)
    assert isinstance(rows[1]["probe"].weight, torch.Tensor)
    assert rows[2]["test_accuracy"] == 1.0


def test_probe_sweep_errors(rng):
    cache, y = _layered_cache(rng, n=20)
    with pytest.raises(
        KeyError, match=r"probe_sweep: 'a1.inpt' is not in the cache .*nearest: 'a1.input'"
    ):
        probe_sweep(cache, ["a1.inpt"], y, position=0)
    with pytest.raises(
        ValueError,
        match=r"'a0.input' has shape \(20, 4, 5\); without position= the features must be 2-D",
    ):
        probe_sweep(cache, ["a0.input"], y)
    with pytest.raises(
        IndexError,
        match=r"position 4 is out of range for the 4 positions of 'a0.input' "
        r"\(shape \(20, 4, 5\)\)",
    ):
        probe_sweep(cache, ["a0.input"], y, position=4)
    with pytest.raises(
        ValueError,
        match=r"position=0 needs 'x' to be \[examples, seq, features\], got shape \(20, 5\)",
    ):
        probe_sweep({"x": cache["a0.input"][:, 0]}, ["x"], y, position=0)
    with pytest.raises(TypeError, match="position must be an int or None, got str"):
        probe_sweep(cache, ["a0.input"], y, position="0")
    with pytest.raises(ValueError, match="names is empty"):
        probe_sweep(cache, [], y)
    with pytest.raises(
        ValueError, match=r"probe_sweep: on 'a0.input': fit_linear_probe: features have 20 examples"
    ):
        probe_sweep(cache, ["a0.input"], y[:5], position=0)


def test_probe_sweep_as_dataframe_flag(rng, monkeypatch):
    cache, y = _layered_cache(rng, n=30)
    rows = probe_sweep(cache, ["a1.input"], y, position=0, as_dataframe=False)
    assert isinstance(rows, list) and rows[0]["name"] == "a1.input"
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match="probe_sweep: as_dataframe=True needs pandas"):
        probe_sweep(cache, ["a1.input"], y, position=0, as_dataframe=True)


def test_package_exports():
    import circuits.experiments as ex

    for name in (
        "pca_directions",
        "fit_linear_probe",
        "probe_sweep",
        "LinearProbe",
        "PCA",
        "plot_head_effects",
        "plot_probe_accuracy",
    ):
        assert hasattr(ex, name), name
