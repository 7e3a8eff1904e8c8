"""Small helpers for writing indices, as in rc's py_utils."""

from typing import Any, List, Mapping, Tuple


class Indexer:
    """`I[...]` always gives a tuple: `I[0]` is `(0,)`, `I[0:1, 1]` is `(slice(0, 1), 1)`."""

    def __getitem__(self, idx) -> Tuple[Any, ...]:
        if isinstance(idx, tuple):
            return idx
        return (idx,)


class Slicer:
    """`S[a:b]` gives the slice `slice(a, b)`."""

    def __getitem__(self, idx: slice) -> slice:
        if not isinstance(idx, slice):
            raise TypeError(f"S[...] takes a slice, got {idx!r}")
        return idx


I = Indexer()
S = Slicer()


def to_axis_index(idx):
    """The single per-axis entry of `idx` (a 1-tuple or a bare entry)."""
    if isinstance(idx, tuple):
        if len(idx) != 1:
            raise ValueError(f"expected one axis index, got {idx!r}")
        return idx[0]
    return idx


def get_slice_list(n: int) -> List[Any]:
    return [slice(None)] * n


def make_index_at_many(at_idx: Mapping[int, Any]) -> Tuple[Any, ...]:
    """Full slices everywhere except the given axes: `{2: 5}` -> `(:, :, 5)`."""
    out = get_slice_list(max(at_idx.keys(), default=-1) + 1)
    for at, idx in at_idx.items():
        out[at] = to_axis_index(idx)
    return tuple(out)


def make_index_at(index, at: int) -> Tuple[Any, ...]:
    """`index` at axis `at`, full slices before it."""
    return make_index_at_many({at: index})
