"""circuits.experiments' ablations: ablate (zero, mean, resample, scaled, projected, parts of
an axis, path patching) and ablation_table, each against a direct numpy computation (and
TransformerLens hooks when installed), and every error path."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import circuits as rc
from circuits.experiments import (
    At,
    Mean,
    Project,
    Resample,
    Scaled,
    Zero,
    ablate,
    ablation_table,
    heads,
    next_token_loss,
)

pytestmark = pytest.mark.filterwarnings("ignore:HookedTransformer is deprecated:DeprecationWarning")


def model(batch=4, d=3, hidden=5, seed=0, axis=0):
    """x -> 'h' = x W (batch on `axis`) -> 'y' = relu(h) V; with numpy's forward from h."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((d, hidden))
    v = rng.standard_normal((hidden, 2))
    xv = rng.standard_normal((batch, d))
    x = rc.Array(xv if axis == 0 else xv.T, "x")
    spec = "bd,dh->bh" if axis == 0 else "db,dh->hb"
    h = rc.Einsum.from_einsum_string(spec, x, rc.Array(w, "w"), name="h")
    out_spec = "bh,hk->bk" if axis == 0 else "hb,hk->bk"
    y = rc.Einsum.from_einsum_string(out_spec, rc.relu(h, name="act"), rc.Array(v, "v"), name="y")

    def forward(hv):
        hv = hv if axis == 0 else hv.T
        return np.maximum(hv, 0) @ v

    hv = xv @ w
    return y, (hv if axis == 0 else hv.T), forward, xv, w


def value(c):
    return np.asarray(c.evaluate())


def close(a, b):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-9, atol=1e-10)


def projector(directions):
    d = np.atleast_2d(np.asarray(directions, dtype=np.float64))
    return d.T @ np.linalg.pinv(d @ d.T) @ d


@given(
    batch=st.integers(2, 6), d=st.integers(1, 4), hidden=st.integers(1, 5), seed=st.integers(0, 9)
)
def test_zero_mean_resample_match_numpy(batch, d, hidden, seed):
    y, h, forward, _, _ = model(batch, d, hidden, seed)
    close(value(ablate(y, "h", "zero")), forward(np.zeros_like(h)))
    close(value(ablate(y, "h", Zero())), forward(np.zeros_like(h)))
    close(value(ablate(y, "h", "mean")), forward(np.broadcast_to(h.mean(0), h.shape)))
    perm = np.random.default_rng(seed).permutation(batch)
    close(value(ablate(y, "h", Resample(perm))), forward(h[perm]))
    seeded = np.random.default_rng(3).permutation(batch)
    close(value(ablate(y, "h", Resample(seed=3))), forward(h[seeded]))
    close(
        value(ablate(y, "h", "resample")), forward(h[np.random.default_rng(0).permutation(batch)])
    )


def test_scaled_and_project():
    y, h, forward, _, _ = model(batch=5, hidden=4)
    perm = np.array([4, 3, 2, 1, 0])
    for alpha in (0.0, 0.5, 1.0, 3.0):
        got = value(ablate(y, "h", Scaled(alpha, Resample(perm))))
        close(got, forward(h + alpha * (h[perm] - h)))
    close(value(ablate(y, "h", Scaled(2.0, "zero"))), forward(h - 2.0 * h))
    dirs = np.random.default_rng(1).standard_normal((2, 4))
    p = projector(dirs)
    mean = np.broadcast_to(h.mean(0), h.shape)
    close(value(ablate(y, "h", Project(dirs))), forward(h - h @ p + mean @ p))
    close(
        value(ablate(y, "h", Project(dirs[0], Resample(perm)))),
        forward(h + (h[perm] - h) @ projector(dirs[0])),
    )
    # A full basis swaps the whole activation.
    close(value(ablate(y, "h", Project(np.eye(4) * 3.0, "zero"))), forward(np.zeros_like(h)))


def test_mean_over_a_reference_dataset():
    y, h, forward, _, w = model(batch=4)
    ref_x = np.random.default_rng(9).standard_normal((6, 3))
    expected = forward(np.broadcast_to((ref_x @ w).mean(0), h.shape))
    close(value(ablate(y, "h", Mean(reference={"x": ref_x}))), expected)
    close(value(ablate(y, "h", "mean", reference={"x": ref_x})), expected)
    close(value(ablate(y, "h", Scaled(1.0, Mean({"x": ref_x})))), expected)


def test_batch_axis_one():
    y, h, forward, _, _ = model(batch=4, axis=1)
    close(
        value(ablate(y, "h", "mean", batch_axis=1)),
        forward(np.broadcast_to(h.mean(1, keepdims=True), h.shape)),
    )
    perm = np.array([1, 2, 3, 0])
    close(value(ablate(y, "h", Resample(perm), batch_axis=-1)), forward(h[:, perm]))


def test_parts_of_an_axis():
    y, h, forward, _, _ = model(batch=4, hidden=5)
    for index in (2, [0, 3], -1):
        picked = [index] if isinstance(index, int) else index
        expected = h.copy()
        expected[:, picked] = h.mean(0)[picked]
        close(value(ablate(y, At("h", index, axis=1), "mean")), forward(expected))
    expected = h.copy()
    expected[:, 1] = 0.0
    close(value(ablate(y, At("h", 1, axis=-1), "zero")), forward(expected))


def test_inputs_and_modules():
    y, _, _, _, w = model(batch=4)
    new_x = np.random.default_rng(2).standard_normal((7, 3))
    hv = new_x @ w
    _, _, forward, _, _ = model(batch=4)
    close(
        value(ablate(y, "h", "mean", inputs={"x": new_x})),
        forward(np.broadcast_to(hv.mean(0), hv.shape)),
    )


def path_model():
    """h feeds 'y' along two branches: 'left' = relu(h) and 'right' = h * 2."""
    rng = np.random.default_rng(4)
    xv = rng.standard_normal((4, 3))
    h = rc.Array(xv, "x").mul_scalar(1.0, name="h")
    left = rc.relu(h, name="left")
    right = h.mul_scalar(2.0, name="right")
    return rc.Add(left, right, name="y"), xv


def test_path_patching_changes_one_branch():
    y, xv = path_model()
    mean = np.broadcast_to(xv.mean(0), xv.shape)
    close(value(ablate(y, "h", "mean")), np.maximum(mean, 0) + 2 * mean)
    close(value(ablate(y, "h", "mean", path=["left"])), np.maximum(mean, 0) + 2 * xv)
    close(
        value(ablate(y, "h", "mean", path=rc.IterativeMatcher("right"))),
        np.maximum(xv, 0) + 2 * mean,
    )
    whole = rc.IterativeMatcher("left").chain(rc.restrict("h", end_depth=2))
    close(value(ablate(y, whole, "mean")), np.maximum(mean, 0) + 2 * xv)
    chain = rc.IterativeMatcher("y").chain("right")
    close(value(ablate(y, "h", "zero", path=chain)), np.maximum(xv, 0))


def test_ablation_table_matches_each_ablation():
    y, h, forward, _, _ = model(batch=4, hidden=3)
    metric = lambda c: c  # noqa: E731  (averaged by the table)
    kinds = ["zero", "mean", Scaled(0.5, Resample([1, 0, 3, 2]))]
    components = ["h", At("h", 1, axis=1, label="h[1]"), "act"]
    rows = ablation_table(y, components, kinds, metric, as_dataframe=False)
    assert [(r["component"], r["kind"]) for r in rows] == [
        (c, k) for c in ("h", "h[1]", "act") for k in ("zero", "mean", "scaled(0.5, resample)")
    ]
    base = forward(h).mean()
    for row, (component, kind) in zip(rows, [(c, k) for c in components for k in kinds]):
        expected = value(ablate(y, component, kind)).mean()
        assert row["metric"] == pytest.approx(expected, rel=1e-9, abs=1e-12)
        assert row["delta"] == pytest.approx(expected - base, rel=1e-9, abs=1e-12)
    grouped = ablation_table(y, components, kinds, "y", variants_per_plan=2, as_dataframe=False)
    for a, b in zip(rows, grouped):
        assert a["metric"] == pytest.approx(b["metric"], rel=1e-12)
    no_base = ablation_table(
        y, ["h"], "zero", "y", baseline=False, as_dataframe=False, progress=True
    )
    assert math.isnan(no_base[0]["delta"])
    bounded = ablation_table(y, ["h"], "zero", "y", max_memory=10**6, as_dataframe=False)
    assert bounded[0]["metric"] == pytest.approx(rows[0]["metric"])


def test_ablation_table_dataframe():
    pd = pytest.importorskip("pandas")
    y, _, _, _, _ = model()
    table = ablation_table(y, ["h"], ["zero", "mean"], "y")
    assert isinstance(table, pd.DataFrame)
    assert list(table.columns) == ["component", "kind", "metric", "delta"]
    assert list(table["kind"]) == ["zero", "mean"]


def test_ablation_table_without_pandas(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_pandas(name, *args, **kwargs):
        if name == "pandas":
            raise ImportError("no pandas")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pandas)
    y, _, _, _, _ = model()
    rows = ablation_table(y, ["h"], "zero", "y")
    assert isinstance(rows, list) and set(rows[0]) == {"component", "kind", "metric", "delta"}
    with pytest.raises(ImportError, match="no pandas"):
        ablation_table(y, ["h"], "zero", "y", as_dataframe=True)


def test_kind_labels_and_heads():
    assert Scaled(2.0).label() == "scaled(2, resample)"
    assert Project(np.ones((3, 4))).label() == "project(k=3, mean)"
    assert Project(np.ones(4), "zero").label() == "project(k=1, zero)"
    parts = heads(2, 3)
    assert [p.label for p in parts] == ["L0H0", "L0H1", "L0H2", "L1H0", "L1H1", "L1H2"]
    assert parts[4] == At("blocks.1.attn.hook_z", 1, axis=-3, label="L1H1")
    assert At("h", 2, axis=1).name() == "h[axis 1: 2]"


def test_next_token_loss_matches_numpy():
    rng = np.random.default_rng(0)
    table = rng.standard_normal((7, 7))
    toks = rng.integers(0, 7, (3, 5))
    logits = table[toks]
    lp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    expected = -np.take_along_axis(lp[:, :-1], toks[:, 1:, None], -1).mean()
    node = rc.Array(logits, "logits")
    assert float(value(next_token_loss(toks)(node))) == pytest.approx(expected, rel=1e-10)
    tok_node = rc.Array(toks, "t.toks")
    from_toks = rc.GeneralFunction.gen_index(rc.Array(table, "table"), tok_node, 0, name="l")
    assert float(value(next_token_loss()(from_toks))) == pytest.approx(expected, rel=1e-10)
    with pytest.raises(
        ValueError,
        match=r"logits 'logits' of shape \(3, 5, 7\) do not fit tokens of shape \(3, 4\)",
    ):
        next_token_loss(toks[:, :4])(node)


def test_errors():
    y, _, _, _, _ = model(batch=4, hidden=5)
    with pytest.raises(ValueError, match="ablate: 'hh' matches no node of 'y'; did you mean 'h'"):
        ablate(y, "hh", "zero")
    with pytest.raises(ValueError, match="'h' matches no node of 'y' along path"):
        ablate(y, "h", "zero", path=["w"])
    with pytest.raises(ValueError, match="unknown ablation kind 'median'"):
        ablate(y, "h", "median")
    with pytest.raises(TypeError, match="an ablation kind is 'zero', 'mean', 'resample' or a Zero"):
        ablate(y, "h", 3)
    with pytest.raises(
        ValueError,
        match=r"Project directions of shape \(2, 3\) do not fit 'h' of shape \(4, 5\): they must be \[k, 5\]",
    ):
        ablate(y, "h", Project(np.ones((2, 3))))
    with pytest.raises(
        ValueError, match=r"Resample perm of shape \(3,\) does not fit 'h' of shape \(4, 5\)"
    ):
        ablate(y, "h", Resample([0, 1, 2]))
    with pytest.raises(ValueError, match=r"Resample perm has entries outside \[0, 4\) for 'h'"):
        ablate(y, "h", Resample([0, 1, 2, 4]))
    with pytest.raises(
        ValueError, match=r"input 'x' has shape \(4, 3\); the value given has shape \(6, 2\)"
    ):
        ablate(y, "h", Mean({"x": np.ones((6, 2))}))
    with pytest.raises(ValueError, match="reads none of the inputs 'z'"):
        ablate(y, "h", Mean({"z": np.ones((6, 2))}))
    with pytest.raises(ValueError, match="reference is for kind 'mean', not 'zero'"):
        ablate(y, "h", "zero", reference={"x": np.ones((4, 3))})
    with pytest.raises(
        ValueError, match=r"At index 7 is outside axis 1 \(size 5\) of 'h' of shape \(4, 5\)"
    ):
        ablate(y, At("h", 7, axis=1), "zero")
    with pytest.raises(
        ValueError, match=r"At axis: axis 2 is out of range for 'h' of shape \(4, 5\)"
    ):
        ablate(y, At("h", 0, axis=2), "zero")
    with pytest.raises(ValueError, match=r"batch_axis: axis 3 is out of range for 'h'"):
        ablate(y, "h", "mean", batch_axis=3)
    with pytest.raises(ValueError, match="path is an empty list"):
        ablate(y, "h", "zero", path=[])
    with pytest.raises(TypeError, match="expected a Circuit, not str"):
        ablate("y", "h", "zero")
    with pytest.raises(TypeError, match="metric must return a Circuit, not float"):
        ablation_table(y, ["h"], "zero", lambda c: 1.0)
    with pytest.raises(TypeError, match="metric is a node name or a function"):
        ablation_table(y, ["h"], "zero", 3)
    with pytest.raises(ValueError, match="variants_per_plan must be positive, not 0"):
        ablation_table(y, ["h"], "zero", "y", variants_per_plan=0)
    with pytest.raises(ValueError, match="no components or no kinds given"):
        ablation_table(y, [], "zero", "y")


def test_reference_mean_of_a_component_that_reads_no_input():
    y, _, _, _, _ = model()
    with pytest.raises(ValueError, match="a single input tensor replaces the circuit's one input"):
        ablate(y, "w", Mean(np.ones((4, 3))))


def test_heads_mean_ablation_matches_transformer_lens_hooks():
    torch = pytest.importorskip("torch")
    tl = pytest.importorskip("transformer_lens")
    from circuits import loaders

    cfg = tl.HookedTransformerConfig(
        n_layers=2,
        d_model=16,
        n_heads=2,
        d_head=8,
        d_mlp=32,
        d_vocab=20,
        n_ctx=8,
        act_fn="gelu_new",
        normalization_type="LN",
        device="cpu",
        seed=0,
        dtype=torch.float64,
    )
    tl_model = tl.HookedTransformer(cfg).eval()
    circs, _, info = loaders.load_transformer_lens(tl_model)
    toks = torch.randint(0, 20, (3, 8), generator=torch.Generator().manual_seed(0))
    circ = loaders.logits_circuit(circs, info, toks)
    perm = [2, 0, 1]
    rows = ablation_table(
        circ, heads(2, 2), ["mean", "zero", Resample(perm)], next_token_loss(), as_dataframe=False
    )
    with torch.no_grad():
        base = tl_model(toks, return_type="loss").item()
        i = 0
        for layer in range(2):
            for head in range(2):
                for how in ("mean", "zero", "resample"):

                    def hook(z, hook, head=head, how=how):
                        part = z[:, :, head]
                        if how == "mean":
                            z[:, :, head] = part.mean(0, keepdim=True)
                        elif how == "zero":
                            z[:, :, head] = 0.0
                        else:
                            z[:, :, head] = part[perm]
                        return z

                    hooks = [(f"blocks.{layer}.attn.hook_z", hook)]
                    loss = tl_model.run_with_hooks(toks, return_type="loss", fwd_hooks=hooks).item()
                    assert rows[i]["component"] == f"L{layer}H{head}"
                    assert rows[i]["metric"] == pytest.approx(loss, rel=1e-9)
                    assert rows[i]["delta"] == pytest.approx(loss - base, abs=1e-9)
                    i += 1


def test_bench_workflows_quick_runs():
    pytest.importorskip("torch")
    pytest.importorskip("transformer_lens")
    import os
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    # the bench imports the circuits this test runs against (installed, or the source tree)
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(rc.__file__)))
    done = subprocess.run(
        [
            sys.executable,
            "-W",
            "ignore",
            os.path.join(root, "bench", "bench_workflows.py"),
            "--quick",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "circuits run_with_cache" in done.stdout and "losses agree" in done.stdout
