"""Rewrites rc keeps in Python (rc's module name, `algebric_rewrite`, is kept for imports).

`residual_rewrite` writes a circuit as an estimate plus a residual; `split_to_concat` is rc's
Python split with its naming options (the C `circuits.split_to_concat` takes plain widths);
`explicit_reduce` splits one Einsum label into a circuit per part. They only compose node
constructors; every result has the value of its input.
"""

from typing import Callable, Optional, Sequence, Tuple

import numpy as np

from ._circuits import Add, Circuit, Concat, Einsum, Index
from .py_utils import make_index_at

__all__ = ["default_index_traversal", "explicit_reduce", "residual_rewrite", "split_to_concat"]


def default_index_traversal():
    """rc's default traversal of push_down_index: it stops at Index and Array nodes
    (`new_traversal(term_early_at=Matcher.types(Index, Array))`); traversal=None means the same."""
    from ._circuits import Array, Matcher, new_traversal

    return new_traversal(term_early_at=Matcher.types(Index, Array))


def residual_rewrite(
    c: Circuit, estim: Circuit, running_name: str, flip_naming: bool = False
) -> Tuple[Circuit, Circuit, Circuit]:
    """`c` as `estim + (c - estim)`; returns `(new, estim, residual)`.

    `new` is named `c.name` and the copy of `c` inside the residual `{c.name}_orig`; the
    residual is `{c.name}_{running_name}_residual`. With `flip_naming` the inner copy keeps
    `c.name` and `new` is `{c.name}_{running_name}_out`.
    """
    inner = c.rename(c.name if flip_naming else f"{c.name}_orig")
    residual = inner.sub(estim, f"{c.name}_{running_name}_residual")
    new_name = f"{c.name}_{running_name}_out" if flip_naming else c.name
    return estim.add(residual, name=new_name), estim, residual


def _positions(idx, length: int, what: str) -> np.ndarray:
    """The positions along an axis of `length` that one partition entry selects, in order."""
    if isinstance(idx, slice):
        if idx.step is not None:
            raise ValueError(f"{what}: slices may not have a step, got {idx!r}")
        return np.arange(length)[idx]
    values = np.asarray(idx.cpu() if hasattr(idx, "cpu") else idx)
    if values.ndim != 1:
        raise ValueError(f"{what}: index tensors must be 1-d, got shape {values.shape}")
    return np.where(values < 0, values + length, values)


def _check_partition(parts, length: int, what: str, ordered: bool):
    """The parts must cover every position of the axis exactly once; when ordered (a Concat of
    them), in order."""
    seen = np.zeros(length, dtype=bool)
    covered = 0
    for i, p in enumerate(parts):
        pos = _positions(p, length, what)
        if np.any((pos < 0) | (pos >= length)):
            raise AssertionError(f"{what}: part {i} ({p!r}) has positions outside 0..{length}")
        if np.any(seen[pos]):
            raise AssertionError(f"{what}: part {i} ({p!r}) overlaps an earlier part")
        if ordered and not np.array_equal(pos, np.arange(covered, covered + len(pos))):
            raise AssertionError(
                f"{what}: part {i} ({p!r}) does not continue the parts before it at "
                f"position {covered}, so the concatenation would reorder the axis"
            )
        seen[pos] = True
        covered += len(pos)
    if covered != length:
        raise AssertionError(f"{what}: the parts cover {covered} of the {length} positions")


def _split_parts(
    c: Circuit,
    axis: int,
    partitioning_idxs: Sequence,
    is_concat: bool,
    what: str,
    *,
    partitioning_idx_names: Optional[Sequence[str]],
    axis_name: Optional[str],
    use_axis_name: bool,
    run_on_index: Callable,
    check: bool,
    use_dot: bool,
):
    """The Indexes of c along axis, one per partition entry, named as split_to_concat says
    (ints stay ints, removing the axis, unless is_concat)."""
    length = c.shape[axis]
    prefix = (axis_name if axis_name is not None else "at") + "_" if use_axis_name else ""
    if partitioning_idx_names is None:
        partitioning_idx_names = [f"idx_{i}" for i in range(len(partitioning_idxs))]
    if len(partitioning_idx_names) != len(partitioning_idxs):
        raise ValueError(f"{what}: {len(partitioning_idx_names)} names for {len(partitioning_idxs)} parts")
    parts = []
    for p in partitioning_idxs:
        if isinstance(p, (int, np.integer)):
            if not -length <= p < length:
                raise ValueError(f"{what}: position {p} is out of bounds for length {length}")
            p = int(p) % length
            if is_concat:
                p = slice(p, p + 1)
        parts.append(p)
    if check:
        _check_partition(
            [slice(p, p + 1) if isinstance(p, int) else p for p in parts], length, what, is_concat
        )
    sep = "." if use_dot else "_"
    return parts, [
        run_on_index(
            Index(c, make_index_at(p, axis), name=f"{c.name}{sep}{prefix}{p_name}"), p, f"{prefix}{p_name}"
        )
        for p, p_name in zip(parts, partitioning_idx_names)
    ]


def split_to_concat(
    c: Circuit,
    axis: int,
    partitioning_idxs: Sequence,
    partitioning_idx_names: Optional[Sequence[str]] = None,
    axis_name: Optional[str] = None,
    use_axis_name: bool = True,
    run_on_index: Callable = lambda x, *_: x,
    check: bool = True,
    use_dot: bool = False,
) -> Concat:
    """`c` as the Concat (named `c.name`) of Indexes of `c` along `axis`, part i taking
    `partitioning_idxs[i]` (an int, a slice or a 1-d integer tensor; ints become length-1
    slices).

    Part i is named `{c.name}_at_idx_{i}`: `use_dot` writes `.` for the first `_`, `axis_name`
    replaces `at`, `use_axis_name=False` drops that part, `partitioning_idx_names` replaces
    `idx_{i}`. `run_on_index(index, idx, suffix)` rewrites each part (e.g. push_down_index).
    `check` ensures the parts list the axis in order, each position once.
    """
    if not -c.rank <= axis < c.rank:
        raise ValueError(f"split_to_concat: axis {axis} is out of bounds for rank {c.rank}")
    axis %= c.rank
    naming = dict(
        partitioning_idx_names=partitioning_idx_names,
        axis_name=axis_name,
        use_axis_name=use_axis_name,
        run_on_index=run_on_index,
        check=check,
        use_dot=use_dot,
    )
    _, vals = _split_parts(c, axis, partitioning_idxs, True, "split_to_concat", **naming)
    return Concat(*vals, axis=axis, name=c.name)


def explicit_reduce(
    c: Einsum,
    axis: int,
    element_index: int,
    partitioning_idxs: Sequence,
    partitioning_idx_names: Optional[Sequence[str]] = None,
    axis_name: Optional[str] = None,
    use_axis_name: bool = True,
    run_on_index: Callable = lambda x, *_: x,
    check: bool = True,
    use_dot: bool = False,
) -> Circuit:
    """The Einsum c with the label on `axis` of operand `element_index` made explicit: one
    circuit per part of that axis (as split_to_concat names them), concatenated when the label
    is an output axis, else added (a slice part summed over by an Einsum named
    `{part}_sum`; an int part is a plain Index). The result is named `c.name`. Used to give
    each attention head its own circuit."""
    if not isinstance(c, Einsum):
        raise TypeError(f"explicit_reduce: expected an Einsum, got {type(c).__name__}")
    if not c.args:
        raise ValueError("explicit_reduce: the Einsum has no operands")
    if not -len(c.args) <= element_index < len(c.args):
        raise ValueError(f"explicit_reduce: element_index {element_index} for {len(c.args)} operands")
    axes = c.args[element_index][1]
    if not axes:
        raise ValueError(f"explicit_reduce: operand {element_index} of '{c.name}' is a scalar")
    label = axes[axis]
    out_axes = tuple(c.out_axes)
    naming = dict(
        partitioning_idx_names=partitioning_idx_names,
        axis_name=axis_name,
        use_axis_name=use_axis_name,
        run_on_index=run_on_index,
        check=check,
        use_dot=use_dot,
    )
    if out_axes.count(label) > 1:
        raise ValueError(f"explicit_reduce: the label of axis {axis} is repeated in the output (a trace)")
    if label in out_axes:
        loc = out_axes.index(label)
        _, vals = _split_parts(c, loc, partitioning_idxs, True, "explicit_reduce", **naming)
        return Concat(*vals, axis=loc, name=c.name)
    if not partitioning_idxs:
        raise ValueError("explicit_reduce: no parts given")
    keep_name = f"{c.name}{'.' if use_dot else '_'}keep" + (
        "_" + (axis_name or "at") if use_axis_name else ""
    )
    kept = Einsum(*c.args, out_axes=(label,) + out_axes, name=keep_name)
    parts, vals = _split_parts(kept, 0, partitioning_idxs, False, "explicit_reduce", **naming)
    nums = tuple(range(kept.rank))
    summed = [
        v if isinstance(p, int) else Einsum((v, nums), out_axes=nums[1:], name=f"{v.name}_sum")
        for p, v in zip(parts, vals)
    ]
    return Add(*summed, name=c.name)
