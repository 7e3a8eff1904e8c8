"""rc's py_utils: index helpers (I, S, make_index_at, ...), timed, check_cast, assert_never
and FrozenDict."""

from time import perf_counter
from typing import Any, Generic, List, Mapping, NoReturn, Optional, Tuple, TypeVar, Union

from ._typing import TorchAxisIndex

TorchIndex = Union[Tuple[TorchAxisIndex, ...], TorchAxisIndex]


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


def assert_never(x: NoReturn) -> NoReturn:
    """For the branch a type checker proves unreachable: raises AssertionError naming x."""
    raise AssertionError(f"Invalid value: {x!r}")


def check_cast(cls, c, exception=TypeError):
    """c itself when it is an instance of cls, else exception naming both types."""
    if not isinstance(c, cls):
        raise exception(f"Requested type {cls!r} does not match the type of the input, {type(c)}.")
    return c


class timed:
    """Context manager timing its block: on exit `time` holds the seconds and `readout` the
    line "<name> took <seconds>", printed (followed by extra_print) unless min_to_print is
    given and not exceeded."""

    def __init__(self, name, min_to_print=None, extra_print=None):
        self.name = name
        self.min_to_print = min_to_print
        self.extra_print = extra_print

    def __enter__(self):
        self.start = perf_counter()
        return self

    def __exit__(self, exc_type, exc, tb):
        self.time = perf_counter() - self.start
        self.readout = f"{self.name} took {self.time:.4f}"
        if self.min_to_print is None or self.time > self.min_to_print:
            print(self.readout + ("" if self.extra_print is None else self.extra_print))


KT = TypeVar("KT")
VT = TypeVar("VT")


class FrozenDict(dict, Generic[KT, VT]):
    """A dict usable as a dict key or set member: hashed by its items (the hash is cached, so
    it must not be mutated once hashed, or clear_cache must be called); equal only to another
    FrozenDict with the same items."""

    _cached_hash: Optional[int] = None

    def __hash__(self):
        if self._cached_hash is None:
            self._cached_hash = hash(("FrozenDict", frozenset(hash(kv) for kv in self.items())))
        return self._cached_hash

    def __eq__(self, other):
        return isinstance(other, FrozenDict) and dict.__eq__(self, other)

    def __ne__(self, other):
        return not self == other

    def clear_cache(self):
        self._cached_hash = None

    def __repr__(self):
        return f"{type(self).__name__}({dict.__repr__(self)})"
