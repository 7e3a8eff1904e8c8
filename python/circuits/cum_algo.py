"""Epsilon attribution of cumulants (rc's rust_circuit.cum_algo): eps(x_1..x_n) = the sum over
set partitions of the inputs of products of centred cumulants, with sign (-1)^(number of blocks
with more than one input) by default."""

from __future__ import annotations

import itertools
from typing import Callable, Iterable, List, Optional, Sequence, Tuple, TypeVar

from . import _circuits as _c
from . import optional as op
from ._cumulant_rewrites import kappa_term
from ._extract_rewrite import extract_rewrite_raw

T = TypeVar("T")
Partition = List[List[Tuple[int, _c.Circuit]]]


def partition(collection: List[T]) -> Iterable[List[List[T]]]:
    """Every set partition of collection (a list of blocks, each a list), each once: the
    partitions of the rest, with the first item added to each block in turn and then as a
    block of its own."""
    if not collection:
        yield []
        return
    first, rest = collection[0], collection[1:]
    if not rest:
        yield [[first]]
        return
    for smaller in partition(rest):
        for i, block in enumerate(smaller):
            yield smaller[:i] + [[first] + block] + smaller[i + 1 :]
        yield [[first]] + smaller


def cum_name_to_eps_name(cum_name: str) -> str:
    """'k...' becomes 'eps...'; any other name gets the suffix '_eps'."""
    return "eps" + cum_name[1:] if cum_name.startswith("k") else cum_name + "_eps"


def kappa_hat(cumulant: _c.Cumulant) -> _c.Circuit:
    """The centred form used in epsilon attribution: x - K1(x) for a first cumulant, the
    cumulant itself otherwise."""
    if cumulant.num_children == 0:
        raise ValueError("kappa_hat: the cumulant has no children")
    if cumulant.num_children == 1:
        return _c.Add.minus(
            cumulant.children[0], cumulant, name=cum_name_to_eps_name(cumulant.name)
        )
    return cumulant


def eps_term(args: Partition) -> _c.Circuit:
    """The product term of one partition, with each cumulant replaced by kappa_hat."""
    new_out, _ = kappa_term(args, on_sub_cumulant_fn=kappa_hat)
    return new_out


def get_multiplier_default(p: Partition) -> float:
    """(-1) ** (number of blocks with more than one item)."""
    return (-1.0) ** sum(len(block) > 1 for block in p)


def split_in_buckets(seq: Sequence[T], bucket_sizes: Sequence[int]) -> List[Sequence[T]]:
    """seq cut into consecutive pieces of the given sizes (the rest is dropped)."""
    out: List[Sequence[T]] = []
    start = 0
    for size in bucket_sizes:
        out.append(seq[start : start + size])
        start += size
    return out


def eps_attrib_module(
    node_ranks: Sequence[int],
    non_centered: bool = False,
    name: str = "epsilon",
    extra_filter: Callable[[Partition], bool] = lambda _: True,
    get_multiplier: Callable[[Partition], float] = get_multiplier_default,
    symbolic_size_start: int = 50,
) -> _c.ModuleSpec:
    """The ModuleSpec of epsilon over inputs of the given ranks (symbolic sizes from
    symbolic_size_start on). non_centered leaves out the term of the partition with a single
    block (the joint cumulant itself)."""
    shapes = split_in_buckets(_c.symbolic_sizes()[symbolic_size_start:], node_ranks)
    inputs: List[_c.Circuit] = [
        _c.Symbol.new_with_random_uuid(tuple(shape), f"input_{i}") for i, shape in enumerate(shapes)
    ]
    input_specs = [(c, _c.ModuleArgSpec(c)) for c in inputs]
    if not inputs:
        eps: _c.Circuit = _c.Scalar(1.0, name=name)
    elif non_centered and len(inputs) == 1:
        eps = inputs[0]
    else:
        out_shape = tuple(itertools.chain.from_iterable(c.shape for c in inputs))
        terms = []
        for p in partition(list(enumerate(inputs))):
            if (non_centered and len(p) == 1) or not extra_filter(p):
                continue
            term = eps_term(p)
            if term.shape != out_shape:
                raise ValueError(
                    f"eps_attrib_module: a term has shape {term.shape}, expected {out_shape}"
                )
            terms.append(_c.Einsum.scalar_mul(term, get_multiplier(p)))
        eps = _c.Add(*terms, name=f"{name}_sum")
    return extract_rewrite_raw(eps, input_specs, prefix_to_strip=None, module_name=name).spec


def eps_attrib(
    cumulant: _c.Cumulant,
    non_centered: bool = False,
    name: Optional[str] = None,
    extra_filter: Callable[[Partition], bool] = lambda _: True,
    get_multiplier: Callable[[Partition], float] = get_multiplier_default,
) -> _c.Module:
    """epsilon(*cumulant.children) as a Module, named after the cumulant ('k..' -> 'eps..')."""
    children = cumulant.children
    spec = eps_attrib_module(
        [c.rank for c in children],
        non_centered=non_centered,
        extra_filter=extra_filter,
        get_multiplier=get_multiplier,
    )
    return _c.Module.new_flat(
        spec, *children, name=op.unwrap_or(name, cum_name_to_eps_name(cumulant.name))
    )
