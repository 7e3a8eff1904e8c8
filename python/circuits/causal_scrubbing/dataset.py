"""Datasets for causal scrubbing: named Arrays of equal length, sampled and indexed along their
first axis (rc's rust_circuit.causal_scrubbing.dataset)."""

from __future__ import annotations

from typing import Dict, Iterable, Iterator, Mapping, Optional, Set, Type, TypeVar, Union

import attrs
import torch

from .. import Array


class FrozenDict(Mapping):
    """A read-only, hashable name -> Array mapping."""

    __slots__ = ("_d", "_hash")

    def __init__(self, items):
        self._d = dict(items)
        self._hash = None

    def __getitem__(self, key):
        return self._d[key]

    def __iter__(self) -> Iterator:
        return iter(self._d)

    def __len__(self) -> int:
        return len(self._d)

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(frozenset(self._d.items()))
        return self._hash

    def __repr__(self) -> str:
        return f"FrozenDict({self._d!r})"


def _check_same_len(self, attribute, arrs: Mapping[str, Array]) -> None:
    if len(arrs) == 0:
        raise ValueError("Dataset: a Dataset needs at least one Array")
    lengths = {name: a.shape[0] if len(a.shape) else None for name, a in arrs.items()}
    if None in lengths.values():
        scalar = [name for name, n in lengths.items() if n is None][0]
        raise ValueError(f"Dataset: Array '{scalar}' has no leading axis to index the data by")
    if len(set(lengths.values())) > 1:
        raise ValueError(
            "All Arrays in a Dataset must have the same `len`, found instead "
            + ", ".join(f"{name}: {n}" for name, n in lengths.items())
        )


def _to_name_map(arrs: Union[Iterable[Array], Mapping[str, Array]]) -> FrozenDict:
    if isinstance(arrs, Mapping):
        for key, a in arrs.items():
            if key != a.name:
                raise ValueError(f"Dataset: key '{key}' names an Array called '{a.name}'")
        return FrozenDict(arrs)
    out: Dict[str, Array] = {}
    for a in arrs:
        if a.name in out and out[a.name] != a:
            raise ValueError(
                f"We found two different Arrays with the same name: {a}, {out[a.name]}"
            )
        out[a.name] = a
    return FrozenDict(out)


def _check_input_names(self, attribute, input_names) -> None:
    missing = sorted(n for n in input_names if n not in self.arrs)
    if missing:
        raise ValueError(
            f"Dataset: input names {missing} are not among its Arrays {sorted(self.arrs)}"
        )


TDataset = TypeVar("TDataset", bound="Dataset")


@attrs.frozen(hash=True)
class Dataset:
    """Named Arrays sharing their first axis (the data index). `arrs` may be given as any iterable
    of Arrays (keyed by name) or as a name -> Array mapping; `input_names` are the Arrays that
    scrubbing replaces in a circuit (all of them by default). Arrays are reachable as attributes:
    `ds.xs`."""

    arrs: Mapping[str, Array] = attrs.field(validator=_check_same_len, converter=_to_name_map)
    input_names: Set[str] = attrs.field(
        validator=_check_input_names, factory=frozenset, converter=frozenset, kw_only=True
    )

    def __attrs_post_init__(self):
        if len(self.input_names) == 0:
            object.__setattr__(self, "input_names", frozenset(self.arrs))

    def __getattr__(self, name: str) -> Array:
        if name.startswith("__") or name == "arrs":
            raise AttributeError(name)
        try:
            return self.arrs[name]
        except KeyError:
            raise AttributeError(name) from None

    def __len__(self) -> int:
        return next(iter(self.arrs.values())).shape[0]

    def __getitem__(self, idxs) -> "Dataset":
        """The rows `idxs` (an int keeps its axis: ds[3] has length 1) of every Array."""
        if isinstance(idxs, int):
            idxs = slice(idxs, idxs + 1)
        return attrs.evolve(
            self, arrs={name: Array(a.value[idxs], name) for name, a in self.arrs.items()}
        )

    def __str__(self) -> str:
        return str([f"<{a.name} {a.shape}>" for a in self.arrs.values()])

    def sample(self, count: int, rng: Optional[torch.Generator] = None) -> "Dataset":
        """`count` rows drawn uniformly with replacement."""
        weights = torch.ones(len(self), dtype=torch.float32, device=rng.device if rng else None)
        return self[torch.multinomial(weights, count, replacement=True, generator=rng)]

    @classmethod
    def unwrap(cls: Type[TDataset], d: "Dataset") -> TDataset:
        """`d`, checked to be an instance of this class."""
        if not isinstance(d, cls):
            raise TypeError(f"Dataset.unwrap: expected a {cls.__name__}, got a {type(d).__name__}")
        return d


def color_dataset(ds: Optional[Dataset], html: bool = False):
    """A printing colour per dataset: grey for none, otherwise one picked by its hash."""
    if html:
        return "darkgrey" if ds is None else f"hsl({(hash(ds) % 36) * 10}, 90%, 60%)"
    return 6 if ds is None else 2 + hash(ds) % 6
