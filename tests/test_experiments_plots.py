"""circuits.experiments.plots: the head-effect heatmap and the probe-accuracy line, checked
through the figures' axes and data; skipped without matplotlib, except the message that says
how to install it."""

import sys

import numpy as np
import pytest

from circuits.experiments.plots import parse_layer_head, plot_head_effects, plot_probe_accuracy


@pytest.fixture
def plt():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


def _table(kinds=("zero", "mean"), layers=3, heads=2):
    return [
        dict(
            component=f"a{layer}.h{head}",
            kind=kind,
            metric=1.0,
            delta=10 * layer + head + (100 if kind == "mean" else 0),
        )
        for kind in kinds
        for layer in range(layers)
        for head in range(heads)
    ]


def _images(fig):
    return [im for ax in fig.axes for im in ax.get_images()]


def test_heatmap_from_array(plt):
    grid = np.arange(12.0).reshape(4, 3) - 5
    fig = plot_head_effects(grid, title="effects")
    (image,) = _images(fig)
    np.testing.assert_array_equal(image.get_array(), grid)
    ax = image.axes
    assert ax.get_xlabel() == "head" and ax.get_ylabel() == "layer"
    assert fig._suptitle.get_text() == "effects"
    assert image.get_clim() == (-6.0, 6.0)
    assert len(ax.texts) == 12 and ax.texts[0].get_text() == "-5"


def test_heatmap_from_torch(plt, torch):
    fig = plot_head_effects(torch.ones(2, 5), annotate=False)
    (image,) = _images(fig)
    np.testing.assert_array_equal(image.get_array(), np.ones((2, 5)))
    assert not image.axes.texts


def test_heatmap_from_table_one_panel_per_kind(plt):
    fig = plot_head_effects(_table())
    images = _images(fig)
    assert [im.axes.get_title() for im in images] == ["zero", "mean"]
    np.testing.assert_array_equal(images[0].get_array(), [[0, 1], [10, 11], [20, 21]])
    np.testing.assert_array_equal(images[1].get_array(), [[100, 101], [110, 111], [120, 121]])
    assert images[0].get_clim() == images[1].get_clim() == (-121.0, 121.0)


def test_heatmap_kind_and_missing_cells(plt):
    rows = [r for r in _table() if r["component"] != "a1.h0"]
    fig = plot_head_effects(rows, kind="mean")
    (image,) = _images(fig)
    data = image.get_array()
    assert data.mask[1, 0] and not data.mask[1, 1]
    assert image.axes.get_title() == "mean"


def test_heatmap_from_dataframe(plt):
    pandas = pytest.importorskip("pandas")
    fig = plot_head_effects(pandas.DataFrame(_table(kinds=("zero",))), value="metric")
    (image,) = _images(fig)
    np.testing.assert_array_equal(image.get_array(), np.ones((3, 2)))


def test_parse_layer_head():
    assert parse_layer_head("a1.h0") == (1, 0)
    assert parse_layer_head("b2.a.h3") == (2, 3)
    assert parse_layer_head("L3H5") == (3, 5)
    assert parse_layer_head("blocks.4.head_7") == (4, 7)
    assert parse_layer_head("blocks.4.attn.6") == (4, 6)
    assert parse_layer_head("a10.h11") == (10, 11)
    with pytest.raises(ValueError, match="cannot read a layer and head from component 'm1'"):
        parse_layer_head("m1")


def test_heatmap_errors(plt):
    with pytest.raises(
        ValueError, match=r"a tensor of effects must be \[layers, heads\], got shape \(2, 2, 2\)"
    ):
        plot_head_effects(np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="kind='zero' selects rows of an ablation table"):
        plot_head_effects(np.zeros((2, 2)), kind="zero")
    with pytest.raises(
        ValueError, match="kind 'resample' is not in the table \\(kinds: zero, mean\\)"
    ):
        plot_head_effects(_table(), kind="resample")
    with pytest.raises(ValueError, match="the table has no column 'delta'"):
        plot_head_effects([dict(component="a0.h0", kind="zero")])
    with pytest.raises(ValueError, match="the table is empty"):
        plot_head_effects([])
    with pytest.raises(TypeError, match="expected a pandas DataFrame or a list of dicts, got str"):
        plot_head_effects("a0.h0")
    with pytest.raises(ValueError, match="cannot read a layer and head from component 'm0'"):
        plot_head_effects([dict(component="m0", kind="zero", delta=1.0)])


def _sweep():
    return [
        dict(name=f"a{i}.input", layer=i, train_accuracy=0.6 + 0.1 * i, test_accuracy=0.5 + 0.1 * i)
        for i in range(4)
    ]


def test_probe_accuracy_line(plt):
    fig = plot_probe_accuracy(_sweep(), title="balanced")
    (ax,) = fig.axes
    test, train = ax.get_lines()
    np.testing.assert_array_equal(test.get_xdata(), [0, 1, 2, 3])
    np.testing.assert_allclose(test.get_ydata(), [0.5, 0.6, 0.7, 0.8])
    np.testing.assert_allclose(train.get_ydata(), [0.6, 0.7, 0.8, 0.9])
    assert train.get_linestyle() == "--"
    assert [t.get_text() for t in ax.get_xticklabels()] == [
        "a0.input",
        "a1.input",
        "a2.input",
        "a3.input",
    ]
    assert ax.get_title() == "balanced" and ax.get_ylabel() == "probe accuracy"
    assert len(plot_probe_accuracy(_sweep(), train=False).axes[0].get_lines()) == 1


def test_probe_accuracy_from_probe_sweep(plt, rng):
    from circuits.experiments.probes import probe_sweep

    y = rng.integers(0, 2, size=60)
    cache = {"x": rng.normal(size=(60, 3)) + y[:, None] * 10.0}
    fig = plot_probe_accuracy(probe_sweep(cache, ["x"], y, as_dataframe=False))
    np.testing.assert_allclose(fig.axes[0].get_lines()[0].get_ydata(), [1.0])


def test_probe_accuracy_errors(plt):
    with pytest.raises(ValueError, match="the sweep is empty"):
        plot_probe_accuracy([])
    with pytest.raises(ValueError, match="the sweep has no column 'test_accuracy'"):
        plot_probe_accuracy([dict(layer=0)])
    with pytest.raises(
        ValueError, match=r"the sweep has no test accuracy \(fit with test_fraction > 0\)"
    ):
        plot_probe_accuracy([dict(layer=0, test_accuracy=None, train_accuracy=1.0)])


def test_missing_matplotlib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(
        ImportError,
        match=r"needs matplotlib, which is not installed; install the 'plots' extra: "
        r"pip install 'circuits\[plots\]'",
    ):
        plot_head_effects(np.zeros((2, 2)))
    with pytest.raises(ImportError, match="'plots' extra"):
        plot_probe_accuracy([dict(layer=0, test_accuracy=1.0)])
