"""Principal directions of activations, linear probes and per-layer probe sweeps.

Every function takes torch tensors or numpy arrays (as an activation cache holds them) and
returns the same kind: torch in, torch out (on the input's device); numpy in, numpy out. The
linear algebra is torch.linalg / numpy.linalg (SVD, solve, lstsq), in float64; results are cast
back to the input's floating dtype. Without torch, everything works on numpy arrays.
"""

import difflib
from dataclasses import dataclass, field
from typing import Any, List, Mapping, NamedTuple, Optional, Sequence

import numpy as np


def _is_torch(x) -> bool:
    return type(x).__module__.split(".")[0] == "torch"


class _Numpy:
    """The few array operations the fitting code needs, on numpy float64 arrays."""

    @staticmethod
    def asarray(x):
        return np.asarray(x, dtype=np.float64)

    @staticmethod
    def svd(x):
        return np.linalg.svd(x, full_matrices=False)

    @staticmethod
    def solve(a, b):
        return np.linalg.solve(a, b)

    @staticmethod
    def lstsq(a, b):
        return np.linalg.lstsq(a, b, rcond=None)[0]

    @staticmethod
    def eye(n):
        return np.eye(n)

    @staticmethod
    def zeros(shape):
        return np.zeros(shape)

    @staticmethod
    def ones(shape):
        return np.ones(shape)

    @staticmethod
    def cat(xs, axis):
        return np.concatenate(xs, axis=axis)

    @staticmethod
    def exp(x):
        return np.exp(x)

    @staticmethod
    def log(x):
        return np.log(x)

    @staticmethod
    def log1p(x):
        return np.log1p(x)

    @staticmethod
    def row_max(x):
        return x.max(axis=1, keepdims=True)

    @staticmethod
    def abs_argmax_rows(x):
        return np.abs(x).argmax(axis=1)

    @staticmethod
    def pick(x, cols):
        return x[np.arange(x.shape[0]), cols]


class _Torch:
    """The same operations on torch float64 tensors, on one device."""

    def __init__(self, torch, device):
        self.t = torch
        self.device = device

    def asarray(self, x):
        if isinstance(x, self.t.Tensor):
            x = x.detach()
        return self.t.as_tensor(x, dtype=self.t.float64, device=self.device)

    def svd(self, x):
        return self.t.linalg.svd(x, full_matrices=False)

    def solve(self, a, b):
        return self.t.linalg.solve(a, b)

    def lstsq(self, a, b):
        if a.device.type == "cpu":
            return self.t.linalg.lstsq(a, b, driver="gelsd").solution
        return self.t.linalg.pinv(a) @ b

    def eye(self, n):
        return self.t.eye(n, dtype=self.t.float64, device=self.device)

    def zeros(self, shape):
        return self.t.zeros(shape, dtype=self.t.float64, device=self.device)

    def ones(self, shape):
        return self.t.ones(shape, dtype=self.t.float64, device=self.device)

    def cat(self, xs, axis):
        return self.t.cat(xs, dim=axis)

    def exp(self, x):
        return self.t.exp(x)

    def log(self, x):
        return self.t.log(x)

    def log1p(self, x):
        return self.t.log1p(x)

    @staticmethod
    def row_max(x):
        return x.max(dim=1, keepdim=True).values

    @staticmethod
    def abs_argmax_rows(x):
        return x.abs().argmax(dim=1)

    def pick(self, x, cols):
        return x[self.t.arange(x.shape[0], device=x.device), cols]


def _backend(x):
    if _is_torch(x):
        import torch

        return _Torch(torch, x.device)
    return _Numpy()


def _out_dtype(x):
    """The floating dtype results on `x` are returned in: x's own, else float64."""
    if _is_torch(x):
        return x.dtype if x.dtype.is_floating_point else None
    return x.dtype if np.issubdtype(x.dtype, np.floating) else None


def _cast_like(value, like):
    dtype = _out_dtype(like)
    if dtype is None:
        return value
    return value.to(dtype) if _is_torch(value) else value.astype(dtype)


def _as_array(x, what: str):
    if _is_torch(x):
        return x
    if isinstance(x, np.ndarray):
        return x
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError):
        arr = None
    if arr is None or arr.dtype == object:
        raise TypeError(f"{what}: expected a torch tensor or numpy array, got {type(x).__name__}")
    return arr


def _lookup(cache, name, what: str):
    """cache[name], or a KeyError naming the nearest keys."""
    if not isinstance(name, str):
        raise TypeError(f"{what}: name must be a string, got {type(name).__name__}")
    try:
        return cache[name]
    except KeyError:
        pass
    keys = [str(k) for k in cache.keys()]
    near = difflib.get_close_matches(name, keys, n=3, cutoff=0.5)
    hint = f"; nearest: {', '.join(repr(k) for k in near)}" if near else ""
    shown = ", ".join(repr(k) for k in keys[:8]) + (", ..." if len(keys) > 8 else "")
    raise KeyError(f"{what}: '{name}' is not in the cache (keys: {shown}){hint}")


def _shape(x) -> tuple:
    return tuple(int(s) for s in x.shape)


def _check_finite(values, what: str, label: str):
    """A ValueError when `values` (float64, of backend kind) hold NaN or infinite entries."""
    bad = int((~(abs(values) < float("inf"))).sum())
    if bad:
        raise ValueError(
            f"{what}: {bad} NaN or infinite entries in {label} (shape {_shape(values)})"
        )


class PCA(NamedTuple):
    """What `pca_directions(..., return_variance=True)` returns."""

    directions: Any
    variance: Any
    variance_ratio: Any


def pca_directions(
    cache_or_tensor,
    name: Optional[str] = None,
    k: int = 1,
    *,
    center: bool = True,
    return_variance: bool = False,
):
    """The top-k principal directions of an activation, as rows of a [k, d] tensor.

    `cache_or_tensor` is a tensor/array (with `name` None) or a mapping such as an
    ActivationCache (with `name` the key to read). All leading axes are flattened into samples;
    the last axis is the features (d). With `center`, the mean over samples is subtracted first.
    The directions are the right singular vectors of the [samples, d] matrix
    (torch.linalg.svd / numpy.linalg.svd), in order of decreasing singular value, each of unit
    norm with its largest-magnitude entry positive (the first such entry on ties), so the result
    does not depend on the SVD routine's sign choice.

    With `return_variance`, returns a PCA named tuple (directions, variance, variance_ratio):
    variance[i] is the data's variance along direction i (singular value squared over samples - 1
    when centred, over samples otherwise) and variance_ratio[i] its share of the total.
    Torch in gives torch out (same device, the input's floating dtype or float64); numpy in gives
    numpy out.
    """
    what = "pca_directions"
    if isinstance(cache_or_tensor, Mapping):
        if name is None:
            raise TypeError(f"{what}: a cache needs the name of the activation to read (name=...)")
        x = _lookup(cache_or_tensor, name, what)
        label = f"'{name}'"
    else:
        if name is not None:
            raise TypeError(
                f"{what}: name={name!r} given with a tensor; pass a cache to read a name from"
            )
        x = cache_or_tensor
        label = "the activation"
    x = _as_array(x, what)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"{what}: k must be an int, got {type(k).__name__}")
    shape = _shape(x)
    if len(shape) == 0:
        raise ValueError(f"{what}: {label} is a scalar; it needs a feature axis (shape [..., d])")
    d = shape[-1]
    n = int(np.prod(shape[:-1], dtype=np.int64))
    if k < 1:
        raise ValueError(f"{what}: k must be at least 1, got {k}")
    if k > d:
        raise ValueError(
            f"{what}: k={k} is larger than the feature width {d} of {label} (shape {shape})"
        )
    if k > n:
        raise ValueError(
            f"{what}: k={k} is more than the {n} samples of {label} "
            f"(shape {shape}, leading axes flattened)"
        )
    if center and n < 2:
        raise ValueError(
            f"{what}: centring needs at least 2 samples, {label} has {n} (shape {shape})"
        )
    be = _backend(x)
    rows = be.asarray(x).reshape(n, d)
    _check_finite(rows, what, label)
    if center:
        rows = rows - rows.mean(0)
    _, s, vh = be.svd(rows)
    dirs = vh[:k]
    pivot = be.pick(dirs, be.abs_argmax_rows(dirs))
    dirs = dirs * ((pivot >= 0) * 2.0 - 1.0)[:, None]
    dirs = _cast_like(dirs, x)
    if not return_variance:
        return dirs
    sq = s * s
    total = sq.sum()
    variance = sq[:k] / (n - 1 if center else n)
    ratio = sq[:k] / total if float(total) > 0 else sq[:k] * 0
    return PCA(dirs, _cast_like(variance, x), _cast_like(ratio, x))


_KINDS = ("logistic", "ridge")


def _convert(value, be):
    """`value` (torch or numpy) as a float64 array of backend `be`."""
    if _is_torch(value) and isinstance(be, _Numpy):
        return be.asarray(value.detach().cpu().numpy())
    return be.asarray(value)


def _softplus(z, be):
    """log(1 + exp(z)), without overflow."""
    return (z + abs(z)) / 2 + be.log1p(be.exp(-abs(z)))


def _log_softmax(z, be):
    shifted = z - be.row_max(z)
    return shifted - be.log(be.exp(shifted).sum(1))[:, None]


@dataclass(repr=False)
class LinearProbe:
    """A fitted linear classifier on activations.

    Binary probes (two classes) have `weight` [d] and a 0-d `bias`: the score is
    `features @ weight + bias` and a positive score predicts `classes[1]`. Probes over C > 2
    classes have `weight` [C, d] and `bias` [C] and predict the class of the largest score.
    `weight` and `bias` are of the kind (torch or numpy) and floating dtype of the fitted
    features. `train_accuracy` and `test_accuracy` are fractions of the split's examples
    predicted right; `test_accuracy` is None when there is no test split (test_fraction=0).
    `n_iter` is the number of Newton steps (0 for ridge).
    """

    weight: Any
    bias: Any
    kind: str
    classes: np.ndarray
    train_accuracy: float
    test_accuracy: Optional[float]
    n_train: int
    n_test: int
    l2: float
    n_iter: int = 0
    test_index: np.ndarray = field(default=None)

    def scores(self, features):
        """[n] (binary) or [n, C] scores of `features` [n, d], as the features' kind in float64."""
        x = _as_array(features, "LinearProbe.scores")
        d = _shape(self.weight)[-1]
        if len(_shape(x)) != 2 or _shape(x)[1] != d:
            raise ValueError(
                f"LinearProbe.scores: features must have shape [n, {d}], got {_shape(x)}"
            )
        be = _backend(x)
        w = _convert(self.weight, be)
        b = _convert(self.bias, be)
        x = be.asarray(x)
        return x @ w + b if len(_shape(w)) == 1 else x @ w.T + b

    def predict(self, features):
        """The predicted class of each row of `features` [n, d], from `classes`."""
        idx = _predicted_index(self.scores(features))
        labels = self.classes[idx]
        if _is_torch(features) and np.issubdtype(labels.dtype, np.number):
            import torch

            return torch.as_tensor(labels, device=features.device)
        return labels

    @property
    def direction(self):
        """The weight scaled to unit norm (each row, for C > 2 classes): the direction the probe
        reads, e.g. for a Project ablation."""
        w = self.weight
        if _is_torch(w):
            return w / w.norm(dim=-1, keepdim=True)
        return w / np.linalg.norm(w, axis=-1, keepdims=True)

    def __repr__(self) -> str:
        test = "None" if self.test_accuracy is None else f"{self.test_accuracy:.4f}"
        return (
            f"LinearProbe(kind={self.kind!r}, weight={list(_shape(self.weight))}, "
            f"classes={self.classes.tolist()}, train_accuracy={self.train_accuracy:.4f}, "
            f"test_accuracy={test}, n_train={self.n_train}, n_test={self.n_test})"
        )


def _predicted_index(scores):
    if len(_shape(scores)) == 1:
        out = scores > 0
    else:
        out = scores.argmax(1)
    if _is_torch(out):
        out = out.detach().cpu().numpy()
    return np.asarray(out).astype(np.int64)


def _labels_to_numpy(labels, what):
    if _is_torch(labels):
        labels = labels.detach().cpu().numpy()
    return np.asarray(labels)


def _check_probe_inputs(features, labels, test_fraction, what):
    x = _as_array(features, what)
    shape = _shape(x)
    if len(shape) != 2:
        raise ValueError(f"{what}: features must be 2-D [examples, features], got shape {shape}")
    y = _labels_to_numpy(labels, what)
    if y.ndim != 1:
        raise ValueError(f"{what}: labels must be 1-D [examples], got shape {y.shape}")
    if y.shape[0] != shape[0]:
        raise ValueError(
            f"{what}: features have {shape[0]} examples (shape {shape}) but labels have "
            f"{y.shape[0]} (shape {y.shape})"
        )
    if (
        isinstance(test_fraction, bool)
        or not isinstance(test_fraction, (int, float))
        or not 0 <= test_fraction < 1
    ):
        raise ValueError(f"{what}: test_fraction must be a number in [0, 1), got {test_fraction!r}")
    return x, y


def _split(n, test_fraction, seed, what):
    n_test = int(round(n * test_fraction))
    n_train = n - n_test
    if (test_fraction > 0 and n_test == 0) or n_train < 2:
        raise ValueError(
            f"{what}: too few examples for the split: {n} examples with "
            f"test_fraction={test_fraction} "
            f"give {n_train} to train on and {n_test} to test on (need at least 2 and, when "
            f"test_fraction > 0, at least 1)"
        )
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[n_test:]), np.sort(perm[:n_test])


def _fit_ridge(x, targets, l2, be):
    """W [d, m], b [m] minimising mean ||x W + b - targets||^2 + l2 ||W||^2."""
    n = x.shape[0]
    mean_x = x.mean(0)
    mean_t = targets.mean(0)
    xc = x - mean_x
    tc = targets - mean_t
    if l2 > 0:
        w = be.solve(xc.T @ xc / n + l2 * be.eye(x.shape[1]), xc.T @ tc / n)
    else:
        w = be.lstsq(xc, tc)
    return w, mean_t - mean_x @ w


def _logistic_loss(theta, xa, y, reg, binary, be):
    z = xa @ theta
    if binary:
        data = (_softplus(z, be) - y * z).mean()
    else:
        data = -(_log_softmax(z, be) * y).sum(1).mean()
    return data + (reg * theta * theta).sum()


def _newton_step(theta, xa, y, reg, binary, be):
    """(gradient, Newton direction) of the logistic objective at theta."""
    n, p = xa.shape
    z = xa @ theta
    if binary:
        prob = be.exp(z - _softplus(z, be))
        grad = xa.T @ (prob - y) / n + 2 * reg * theta
        hess = xa.T @ (xa * (prob * (1 - prob))[:, None]) / n + 2 * be.eye(p) * reg
        try:
            return grad, be.solve(hess, grad)
        except (np.linalg.LinAlgError, RuntimeError):
            return grad, be.lstsq(hess, grad[:, None])[:, 0]
    c = theta.shape[1]
    prob = be.exp(_log_softmax(z, be))
    grad = xa.T @ (prob - y) / n + 2 * reg * theta
    blocks = []
    for a in range(c):
        row = []
        for b in range(c):
            w = prob[:, a] * ((1.0 if a == b else 0.0) - prob[:, b])
            block = xa.T @ (xa * w[:, None]) / n
            if a == b:
                block = block + 2 * be.eye(p) * reg[:, 0]
            row.append(block)
        blocks.append(be.cat(row, 1))
    hess = be.cat(blocks, 0)
    flat = grad.T.reshape(c * p)
    # Softmax scores are unchanged by adding one constant to every class's bias, so the Hessian
    # is singular along that shift; the least-squares step has no component along it.
    step = be.lstsq(hess, flat[:, None])[:, 0]
    return grad, step.reshape(c, p).T


def _fit_logistic(x, classes_idx, n_classes, l2, be, max_iter, tol, what):
    """(W [d, m], b [m], Newton steps) minimising mean cross entropy + l2 ||W||^2, by Newton
    steps with a backtracking line search; m = 1 (sigmoid) for two classes, else n_classes."""
    n, d = x.shape
    mean_x = x.mean(0)
    xa = be.cat([x - mean_x, be.ones((n, 1))], 1)
    binary = n_classes == 2
    if binary:
        y = be.asarray(classes_idx.astype(np.float64))
        theta = be.zeros(d + 1)
        reg = be.cat([be.ones(d) * l2, be.zeros(1)], 0)
    else:
        y = be.asarray(np.eye(n_classes)[classes_idx])
        theta = be.zeros((d + 1, n_classes))
        reg = be.cat([be.ones((d, 1)) * l2, be.zeros((1, 1))], 0)
    loss = _logistic_loss(theta, xa, y, reg, binary, be)
    steps = 0
    for steps in range(1, max_iter + 1):
        grad, direction = _newton_step(theta, xa, y, reg, binary, be)
        if float(abs(grad).max()) < tol:
            steps -= 1
            break
        slope = float((grad * direction).sum())
        t = 1.0
        while True:
            trial = theta - t * direction
            trial_loss = _logistic_loss(trial, xa, y, reg, binary, be)
            if float(trial_loss) <= float(loss) - 1e-4 * t * slope or t < 1e-12:
                break
            t /= 2
        theta, loss = trial, trial_loss
    else:
        grad, _ = _newton_step(theta, xa, y, reg, binary, be)
        if float(abs(grad).max()) >= tol:
            import warnings

            warnings.warn(
                f"{what}: logistic fit stopped after max_iter={max_iter} Newton steps with "
                f"gradient {float(abs(grad).max()):.3g} > tol={tol}",
                RuntimeWarning,
                stacklevel=3,
            )
    w = theta[:d]
    b = theta[d]
    return w, b - mean_x @ w, steps


def fit_linear_probe(
    features,
    labels,
    *,
    kind: str = "logistic",
    l2: float = 1e-3,
    test_fraction: float = 0.2,
    seed: int = 0,
    max_iter: int = 100,
    tol: float = 1e-9,
) -> LinearProbe:
    """A linear probe predicting `labels` [n] from `features` [n, d], with held-out accuracy.

    The examples are split at random (numpy's default_rng(seed)) into round(n * test_fraction)
    test examples and the rest to train on. Labels may be any values numpy can sort (ints,
    bools, strings); `probe.classes` lists them in sorted order. The features are centred on
    the training mean (the intercept is not penalised).

    kind="ridge": the closed-form least-squares fit (torch.linalg.solve / numpy.linalg.solve,
    lstsq when l2 == 0) minimising mean squared error + l2 * ||W||^2 on targets +1/-1 (two
    classes) or one-hot rows (more). kind="logistic": minimises mean cross entropy (sigmoid for
    two classes, softmax for more) + l2 * ||W||^2 by full Newton steps with a backtracking line
    search in float64, deterministically, until the largest gradient entry is below `tol` or
    after `max_iter` steps (a RuntimeWarning then). Each Newton step solves a linear system of
    (d + 1) * m unknowns (m = 1 for two classes, else the number of classes), so for wide
    features with many classes ridge is the cheaper choice. Logistic with l2 = 0 on separable
    data has no minimum; keep l2 > 0 there. Both kinds run on torch (on the features' device) or
    numpy.
    """
    what = "fit_linear_probe"
    if kind not in _KINDS:
        raise ValueError(
            f"{what}: kind must be one of {', '.join(repr(k) for k in _KINDS)}, got {kind!r}"
        )
    if isinstance(l2, bool) or not isinstance(l2, (int, float)) or not l2 >= 0:
        raise ValueError(f"{what}: l2 must be a number >= 0, got {l2!r}")
    x, y = _check_probe_inputs(features, labels, test_fraction, what)
    n = _shape(x)[0]
    train, test = _split(n, test_fraction, seed, what)
    classes, idx = np.unique(y, return_inverse=True)
    idx = idx.reshape(-1)
    train_classes = np.unique(idx[train])
    if len(train_classes) < 2:
        only = classes[train_classes].tolist()
        raise ValueError(
            f"{what}: the training split ({len(train)} examples) has only the label(s) {only}; "
            "a probe needs at least 2 classes"
        )
    if len(train_classes) < len(classes):
        missing = np.setdiff1d(np.arange(len(classes)), train_classes)
        raise ValueError(
            f"{what}: label(s) {classes[missing].tolist()} have no example in the training split "
            f"({len(train)} of {n} examples, seed={seed}); give more examples of them or "
            "another seed"
        )
    be = _backend(x)
    xs = be.asarray(x)
    _check_finite(xs, what, "features")
    if _is_torch(xs):
        import torch

        train_sel = torch.as_tensor(train, device=xs.device)
        x_train = xs[train_sel]
    else:
        x_train = xs[train]
    n_classes = len(classes)
    if kind == "ridge":
        if n_classes == 2:
            targets = be.asarray(idx[train] * 2.0 - 1.0)[:, None]
        else:
            targets = be.asarray(np.eye(n_classes)[idx[train]])
        w, b = _fit_ridge(x_train, targets, float(l2), be)
        if n_classes == 2:
            w, b = w[:, 0], b[0]
        steps = 0
    else:
        w, b, steps = _fit_logistic(
            x_train, idx[train], n_classes, float(l2), be, max_iter, tol, what
        )
    weight = w if n_classes == 2 else w.T
    pred = _predicted_index(xs @ w + b)
    correct = pred == idx
    train_acc = float(correct[train].mean())
    test_acc = float(correct[test].mean()) if len(test) else None
    return LinearProbe(
        weight=_cast_like(weight, x),
        bias=_cast_like(b, x),
        kind=kind,
        classes=classes,
        train_accuracy=train_acc,
        test_accuracy=test_acc,
        n_train=len(train),
        n_test=len(test),
        l2=float(l2),
        n_iter=steps,
        test_index=test,
    )


def _table(rows: List[dict], columns: Sequence[str], as_dataframe: Optional[bool]):
    """A pandas DataFrame of `rows` when pandas is installed (as_dataframe None) or asked for
    (True, an ImportError without pandas), else the list of dicts."""
    if as_dataframe is False:
        return rows
    try:
        import pandas
    except ImportError:
        if as_dataframe:
            raise ImportError(
                "probe_sweep: as_dataframe=True needs pandas, which is not installed"
            ) from None
        return rows
    return pandas.DataFrame(rows, columns=list(columns))


_SWEEP_COLUMNS = ("name", "layer", "train_accuracy", "test_accuracy", "n_train", "n_test", "probe")


def _features_at(value, position, name, what):
    x = _as_array(value, what)
    shape = _shape(x)
    if position is None:
        if len(shape) != 2:
            raise ValueError(
                f"{what}: '{name}' has shape {shape}; without position= the features must be 2-D "
                "[examples, features] (pass position=i to read sequence position i of "
                "[examples, seq, features])"
            )
        return x
    if isinstance(position, bool) or not isinstance(position, (int, np.integer)):
        raise TypeError(f"{what}: position must be an int or None, got {type(position).__name__}")
    if len(shape) != 3:
        raise ValueError(
            f"{what}: position={position} needs '{name}' to be [examples, seq, features], "
            f"got shape {shape}"
        )
    if not -shape[1] <= position < shape[1]:
        raise IndexError(
            f"{what}: position {position} is out of range for the {shape[1]} positions of "
            f"'{name}' (shape {shape})"
        )
    return x[:, int(position), :]


def probe_sweep(
    cache,
    names: Sequence[str],
    labels,
    *,
    position: Optional[int] = None,
    as_dataframe: Optional[bool] = None,
    **probe_kw,
):
    """One `fit_linear_probe(features, labels, **probe_kw)` per name in `names`, e.g. the residual
    stream after each layer, to see where a feature becomes linearly decodable.

    `cache` maps names to activations (an ActivationCache or a dict). With `position` None each
    activation must already be [examples, features]; with an int, activations are
    [examples, seq, features] and the features are those at sequence position `position`.
    Every probe uses the same split (same `seed`). Returns one row per name with columns name,
    layer (the name's index in `names`), train_accuracy, test_accuracy, n_train, n_test and
    probe (the LinearProbe): a pandas DataFrame when pandas is installed (as_dataframe None or
    True), else a list of dicts.
    """
    what = "probe_sweep"
    if isinstance(names, str):
        names = [names]
    names = list(names)
    if not names:
        raise ValueError(f"{what}: names is empty")
    rows = []
    for layer, name in enumerate(names):
        x = _features_at(_lookup(cache, name, what), position, name, what)
        try:
            probe = fit_linear_probe(x, labels, **probe_kw)
        except (ValueError, TypeError) as e:
            raise type(e)(f"{what}: on '{name}': {e}") from e
        rows.append(
            dict(
                name=name,
                layer=layer,
                train_accuracy=probe.train_accuracy,
                test_accuracy=probe.test_accuracy,
                n_train=probe.n_train,
                n_test=probe.n_test,
                probe=probe,
            )
        )
    return _table(rows, _SWEEP_COLUMNS, as_dataframe)
