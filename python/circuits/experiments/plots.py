"""Figures for ablation tables and probe sweeps, with matplotlib (the `plots` extra:
pip install 'circuits[plots]').

matplotlib is imported when a function is called, not with the package. On Linux without a
display (no DISPLAY or WAYLAND_DISPLAY, no MPLBACKEND) and before pyplot is imported
elsewhere, the Agg backend is selected, so the functions work in scripts and on servers; the
figures are made with pyplot, so notebooks show them, and stay open until `plt.close(fig)`.
"""

import os
import re
import sys
from typing import Any, Dict, List, Optional, Tuple

import numpy as np


def _pyplot():
    try:
        import matplotlib
    except ImportError as e:
        raise ImportError(
            "circuits.experiments.plots needs matplotlib, which is not installed; install the "
            "'plots' extra: pip install 'circuits[plots]'"
        ) from e
    headless = (
        sys.platform.startswith("linux")
        and not os.environ.get("DISPLAY")
        and not os.environ.get("WAYLAND_DISPLAY")
        and not os.environ.get("MPLBACKEND")
    )
    if headless and "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _records(table, what: str) -> List[Dict[str, Any]]:
    """The rows of a pandas DataFrame or a list of dicts, as a list of dicts."""
    if hasattr(table, "to_dict") and hasattr(table, "columns"):
        return table.to_dict("records")
    if isinstance(table, (list, tuple)) and all(isinstance(r, dict) for r in table):
        return list(table)
    raise TypeError(
        f"{what}: expected a pandas DataFrame or a list of dicts, got {type(table).__name__}"
    )


_HEAD = re.compile(r"(?:^|[^a-z])h(?:ead)?[_.]?(\d+)", re.IGNORECASE)
_INT = re.compile(r"\d+")


def parse_layer_head(component) -> Tuple[int, int]:
    """(layer, head) of a head's name: the layer is the first number in the name and the head
    the number after "h" or "head" ("a1.h0", "b1.a.h0", "L3H5", "blocks.3.head_5"), else, for a
    name with exactly two numbers, those two ("blocks.3.attn.5")."""
    name = str(component)
    numbers = _INT.findall(name)
    heads = _HEAD.findall(name)
    if heads and len(numbers) >= 2:
        return int(numbers[0]), int(heads[-1])
    if len(numbers) == 2:
        return int(numbers[0]), int(numbers[1])
    raise ValueError(
        f"plot_head_effects: cannot read a layer and head from component {name!r}; expected a "
        f"name like 'a1.h0', 'b1.a.h0' or 'L1H0'"
    )


def _grids(table_or_tensor, kind, value: str, what: str) -> List[Tuple[Optional[str], np.ndarray]]:
    """[(panel title, [layers, heads] grid)] of the values to draw."""
    if hasattr(table_or_tensor, "shape") and not hasattr(table_or_tensor, "columns"):
        x = table_or_tensor
        if type(x).__module__.split(".")[0] == "torch":
            x = x.detach().cpu().numpy()
        grid = np.asarray(x, dtype=np.float64)
        if grid.ndim != 2:
            raise ValueError(
                f"{what}: a tensor of effects must be [layers, heads], "
                f"got shape {tuple(grid.shape)}"
            )
        if kind is not None:
            raise ValueError(
                f"{what}: kind={kind!r} selects rows of an ablation table; "
                "a [layers, heads] tensor has no kinds"
            )
        return [(None, grid)]
    rows = _records(table_or_tensor, what)
    if not rows:
        raise ValueError(f"{what}: the table is empty")
    for col in ("component", value):
        if col not in rows[0]:
            raise ValueError(
                f"{what}: the table has no column '{col}' (columns: {', '.join(map(str, rows[0]))})"
            )
    kinds: List[Any] = []
    for r in rows:
        if r.get("kind") not in kinds:
            kinds.append(r.get("kind"))
    if kind is not None:
        chosen = [k for k in kinds if k == kind or str(k) == str(kind)]
        if not chosen:
            raise ValueError(
                f"{what}: kind {kind!r} is not in the table (kinds: {', '.join(map(str, kinds))})"
            )
        kinds = chosen
    out = []
    for k in kinds:
        cells = {}
        for r in rows:
            if r.get("kind") != k:
                continue
            layer, head = parse_layer_head(r["component"])
            cells[layer, head] = float(r[value])
        n_layers = max(layer for layer, _ in cells) + 1
        n_heads = max(head for _, head in cells) + 1
        grid = np.full((n_layers, n_heads), np.nan)
        for (layer, head), v in cells.items():
            grid[layer, head] = v
        out.append((None if k is None else str(k), grid))
    return out


def plot_head_effects(
    table_or_tensor,
    *,
    kind=None,
    title: Optional[str] = None,
    value: str = "delta",
    annotate: Optional[bool] = None,
):
    """A heatmap of an effect per (layer, head); returns the matplotlib Figure.

    `table_or_tensor` is an ablation table (a DataFrame or list of dicts with columns component,
    kind and `value`, "delta" by default, as `ablation_table` returns) whose components name
    heads (see `parse_layer_head`), or a [layers, heads] tensor/array. A table with several
    kinds gives one panel per kind, side by side on one colour scale centred on 0; `kind`
    selects one. Cells without a row are blank. `annotate` writes each value in its cell (by
    default when there are at most 64 cells per panel).
    """
    what = "plot_head_effects"
    grids = _grids(table_or_tensor, kind, value, what)
    plt = _pyplot()
    finite = [np.abs(g[np.isfinite(g)]).max() for _, g in grids if np.isfinite(g).any()]
    vmax = max(finite) if finite and max(finite) > 0 else 1.0
    n_layers = max(g.shape[0] for _, g in grids)
    n_heads = max(g.shape[1] for _, g in grids)
    fig, axes = plt.subplots(
        1,
        len(grids),
        figsize=(1.0 + len(grids) * max(2.5, 0.6 * n_heads + 1.0), max(2.5, 0.45 * n_layers + 1.5)),
        squeeze=False,
        constrained_layout=True,
    )
    image = None
    for ax, (panel, grid) in zip(axes[0], grids):
        image = ax.imshow(
            np.ma.masked_invalid(grid), cmap="RdBu_r", vmin=-vmax, vmax=vmax, aspect="auto"
        )
        ax.set_xlabel("head")
        ax.set_ylabel("layer")
        ax.set_xticks(range(grid.shape[1]))
        ax.set_yticks(range(grid.shape[0]))
        if panel is not None:
            ax.set_title(panel)
        if annotate if annotate is not None else grid.size <= 64:
            for (layer, head), v in np.ndenumerate(grid):
                if np.isfinite(v):
                    colour = "white" if abs(v) > 0.6 * vmax else "black"
                    ax.text(
                        head, layer, f"{v:.3g}", ha="center", va="center", fontsize=8, color=colour
                    )
    fig.colorbar(image, ax=list(axes[0]), label=value)
    if title is not None:
        fig.suptitle(title)
    return fig


def plot_probe_accuracy(sweep, *, title: Optional[str] = None, train: bool = True):
    """A line of probe test accuracy per layer (and, with `train`, a dashed line of training
    accuracy) from `probe_sweep`'s result (a DataFrame or list of dicts); returns the Figure."""
    what = "plot_probe_accuracy"
    rows = _records(sweep, what)
    if not rows:
        raise ValueError(f"{what}: the sweep is empty")
    for col in ("layer", "test_accuracy"):
        if col not in rows[0]:
            raise ValueError(
                f"{what}: the sweep has no column '{col}' (columns: {', '.join(map(str, rows[0]))})"
            )
    layers = [int(r["layer"]) for r in rows]
    test = [np.nan if r["test_accuracy"] is None else float(r["test_accuracy"]) for r in rows]
    if all(np.isnan(test)):
        raise ValueError(f"{what}: the sweep has no test accuracy (fit with test_fraction > 0)")
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(4.0, 0.5 * len(rows) + 2.0), 3.5), constrained_layout=True)
    ax.plot(layers, test, marker="o", label="test")
    if train and "train_accuracy" in rows[0]:
        ax.plot(
            layers,
            [float(r["train_accuracy"]) for r in rows],
            marker=".",
            linestyle="--",
            label="train",
        )
    ax.set_xlabel("layer")
    ax.set_ylabel("probe accuracy")
    ax.set_ylim(0.0, 1.05)
    ax.set_xticks(layers)
    if "name" in rows[0] and len(rows) <= 24:
        ax.set_xticklabels([str(r["name"]) for r in rows], rotation=30, ha="right")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right")
    if title is not None:
        ax.set_title(title)
    return fig
