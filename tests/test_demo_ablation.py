"""The ablation demo (python -m circuits.demos.ablation) on a small dataset: its tables against
the torch model, its figures, and its run without matplotlib."""

import os
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from circuits.demos.ablation.__main__ import KINDS, heads, main, residual_names  # noqa: E402
from circuits.demos.paren_balancer import circuit as pc  # noqa: E402
from circuits.demos.paren_balancer import data, train  # noqa: E402

N = 96


def _torch_loss(weights, strings):
    tokens = torch.as_tensor(data.tokenize(strings))
    labels = torch.tensor([data.is_balanced(s) for s in strings], dtype=torch.int64)
    logits = train.forward(weights, tokens, start_only=True)[:, 0]
    return torch.nn.functional.cross_entropy(logits.double(), labels).item()


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("ablation-demo")
    return main(["--n", str(N), "--seed", "3", "--out", str(out)]), out


def test_effects_table(result):
    res, _ = result
    effects = res["effects"]
    assert [(r["component"], r["kind"]) for r in effects] == [
        (h, k) for h in heads() for k in KINDS
    ]
    strings, _ = data.generate(N, 3)
    weights = pc.model_weights()
    assert res["baseline"] == pytest.approx(_torch_loss(weights, strings), rel=1e-4, abs=1e-6)
    for r in effects:
        assert r["metric"] - r["delta"] == pytest.approx(res["baseline"], abs=1e-6)
    # Zeroing a head's output is zeroing its output matrix.
    for layer, h in ((0, 1), (2, 0)):
        zeroed = dict(weights)
        zeroed[f"a{layer}.w.o"] = weights[f"a{layer}.w.o"].clone()
        zeroed[f"a{layer}.w.o"][h] = 0
        (row,) = [r for r in effects if r["component"] == f"a{layer}.h{h}" and r["kind"] == "zero"]
        assert row["metric"] == pytest.approx(_torch_loss(zeroed, strings), rel=1e-4, abs=1e-6)


def test_probe_sweep(result):
    res, _ = result
    sweep = res["sweep"]
    assert [r["name"] for r in sweep] == residual_names()
    assert [r["layer"] for r in sweep] == list(range(len(residual_names())))
    assert sweep[-1]["test_accuracy"] >= 0.85
    assert all(r["n_test"] == round(N * 0.2) for r in sweep)


def test_figures(result):
    pytest.importorskip("matplotlib")
    res, out = result
    assert res["figures"] == [
        os.path.join(str(out), "head_effects.png"),
        os.path.join(str(out), "probe_accuracy.png"),
    ]
    for path in res["figures"]:
        with open(path, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_without_matplotlib(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    res = main(["--n", "40", "--out", str(tmp_path)])
    text = capsys.readouterr().out
    assert res["figures"] == [] and not os.listdir(tmp_path)
    assert "matplotlib is not installed: no figures" in text
    assert "change in loss when a head is ablated" in text
    assert "linear probe for 'is the string balanced'" in text
    assert np.isfinite([r["delta"] for r in res["effects"]]).all()


def test_direction_patches(result):
    res, _ = result
    patched = res["patched"]
    assert [r["component"] for r in patched] == ["a2.input"] * 3
    kinds = [r["kind"] for r in patched]
    assert (
        kinds[0].startswith("project(k=1")
        and kinds[1].startswith("project(k=3")
        and kinds[2] == "resample"
    )
    assert np.isfinite([r["delta"] for r in patched]).all()
    assert patched[2]["delta"] > 0
