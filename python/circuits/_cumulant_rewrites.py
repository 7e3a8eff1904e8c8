"""rc's cumulant rewrites: a cumulant of circuits expressed as a circuit of cumulants by
expanding one of its children one step (rewrite_cum_to_circuit_of_cum), and the product of
cumulants over a partition of circuits (kappa_term). One node's step, built from C rewrites
and constructors; the namer and on_sub_cumulant_fn callbacks are Python."""

import itertools
from typing import Callable, List, Optional, Sequence, Tuple

from . import _circuits

_UNEXPANDABLE = ("GeneralFunction", "Symbol")


def _on_sub_cumulant(namer, on_sub_cumulant_fn):
    def on_sub(c):
        if namer is not None:
            c = c.rename(namer(c))
        return on_sub_cumulant_fn(c) if on_sub_cumulant_fn is not None else c

    return on_sub


def _set_partitions(n: int) -> List[List[List[int]]]:
    """rc's partitions(n): the set partitions of range(n), each new element joining every block
    in turn and then a block of its own, in rc's order."""
    parts: List[List[List[int]]] = [[]]
    for first in range(n):
        grown = []
        for smaller in parts:
            for i in range(len(smaller)):
                grown.append(smaller[:i] + [smaller[i] + [first]] + smaller[i + 1 :])
            grown.append(smaller + [[first]])
        parts = grown
    return parts


def _partition_into_blocks(items, min_blocks: int, max_blocks: int):
    return [
        [[items[i] for i in block] for block in p]
        for p in _set_partitions(len(items))
        if min_blocks <= len(p) <= max_blocks
    ]


def _dim_permutation(args, orderings, count: int) -> List[int]:
    """rc's dim_permutation_for_circuits: for each original position, the axes its circuit has
    in the outer product of the blocks' cumulants."""
    segments: List[Optional[List[int]]] = [None] * count
    offset = 0
    for block, ordering in zip(args, orderings):
        positions = {}
        for i, c in block:
            positions.setdefault(c, []).append(i)
        for c in ordering:
            segments[positions[c].pop()] = list(range(offset, offset + c.ndim))
            offset += c.ndim
    return [axis for seg in segments for axis in seg]


def _kappa_term(args, on_sub):
    args = [list(block) for block in args]
    count = sum(len(block) for block in args)
    new_cums = [_circuits.Cumulant(*[c for _, c in block]) for block in args]
    subs = [on_sub(c) for c in new_cums]
    perm = _dim_permutation(args, [c.children for c in new_cums], count)
    return _circuits.Einsum.new_outer_product(*subs, out_axes_permutation=perm), new_cums


def kappa_term(
    args: Sequence[Sequence[Tuple[int, _circuits.Circuit]]],
    namer: Optional[Callable[[_circuits.Cumulant], Optional[str]]] = None,
    on_sub_cumulant_fn: Optional[Callable[[_circuits.Cumulant], _circuits.Circuit]] = None,
) -> Tuple[_circuits.Einsum, List[_circuits.Cumulant]]:
    """The outer product of one cumulant per block of (position, circuit) pairs, its axes
    ordered by the positions; with the cumulants. namer(cumulant) renames each cumulant and
    on_sub_cumulant_fn(cumulant) replaces it in the product."""
    return _kappa_term(args, _on_sub_cumulant(namer, on_sub_cumulant_fn))


def _replace_child(cumulant, node, position):
    children = list(cumulant.children)
    children[position] = node
    return _circuits.Cumulant(*children, name=cumulant.name)


def _cumulant_of_einsum(cumulant, position, start_axis, on_sub):
    einsum = cumulant.children[position]
    n_mine = len(einsum.children)
    others = [c for i, c in enumerate(cumulant.children) if i != position]
    other_rank = cumulant.ndim - einsum.ndim
    labels = [label for axes in einsum.in_axes for label in axes]
    next_label = max(labels + list(einsum.out_axes), default=-1) + 1
    other_nums = list(range(next_label, next_label + other_rank))
    out_nums = other_nums[:start_axis] + list(einsum.out_axes) + other_nums[start_axis:]
    count = n_mine + len(others)
    to_sum = []
    for p_other in _partition_into_blocks(list(zip(range(n_mine, count), others)), 0, n_mine):
        for p_mine in _partition_into_blocks(list(enumerate(einsum.children)), len(p_other), 2**31):
            for mine_perm in itertools.permutations(range(len(p_mine)), len(p_other)):
                outside = sorted(set(range(len(p_mine))) - set(mine_perm))
                fused = [p_mine[m] + b for m, b in zip(mine_perm, p_other)]
                fused += [p_mine[o] for o in outside]
                prod, _ = _kappa_term(fused, on_sub)
                operated = _circuits.Einsum(
                    (prod, tuple(labels + other_nums)), out_axes=tuple(out_nums), name="perm"
                )
                to_sum.append(_circuits.einsum_flatten(operated))
    if not to_sum:
        return _circuits.Scalar(0.0, cumulant.shape, cumulant.name)
    return _circuits.Add(*to_sum, name=cumulant.name)


def rewrite_cum_to_circuit_of_cum(
    cumulant: _circuits.Cumulant,
    node: _circuits.Circuit,
    namer: Optional[Callable[[_circuits.Cumulant], Optional[str]]] = None,
    on_sub_cumulant_fn: Optional[Callable[[_circuits.Cumulant], _circuits.Circuit]] = None,
) -> _circuits.Circuit:
    """Express a cumulant of circuits as a circuit of cumulants by expanding the child equal
    to `node` one step (Rearrange, Index, Tag, Concat, Add, Einsum; a constant child gives the
    child itself for a first cumulant, else zero). Returns 1 on empty cumulants (even if no
    node is matched)."""
    if not isinstance(cumulant, _circuits.Cumulant):
        raise TypeError(
            f"rewrite_cum_to_circuit_of_cum: expected Cumulant but got {type(cumulant).__name__}"
        )
    name = cumulant.name
    children = cumulant.children
    if not children:
        return _circuits.Scalar(1.0, (), name)
    on_sub = _on_sub_cumulant(namer, on_sub_cumulant_fn)
    start_axis = 0
    for position, child in enumerate(children):
        if child == node:
            break
        start_axis += child.ndim
    else:
        raise _circuits.CumulantRewriteNodeToExpandNotFoundError(
            f"cumulant '{cumulant.name}': node '{node.name}' ({type(node).__name__}) is not one "
            f"of its {len(children)} children (CumulantRewriteNodeToExpandNotFoundError)"
        )
    kind = type(node).__name__

    def sub(inner):
        return on_sub(_replace_child(cumulant, inner, position))

    if kind == "Rearrange":
        spec = node.spec
        before = start_axis
        after = cumulant.ndim - start_axis - node.ndim
        nxt = len(spec.int_sizes)
        before_groups = [[i] for i in range(nxt, nxt + before)]
        after_groups = [[i] for i in range(nxt + before, nxt + before + after)]
        new_spec = _circuits.RearrangeSpec(
            before_groups + list(spec.input_ints) + after_groups,
            before_groups + list(spec.output_ints) + after_groups,
            list(spec.int_sizes) + [None] * (before + after),
        )
        return _circuits.Rearrange(sub(node.node), new_spec, name)
    if kind == "Index":
        return _circuits.Index(sub(node.node), (slice(None),) * start_axis + tuple(node.idx), name)
    if kind == "Tag":
        return _circuits.Tag(sub(node.node), node.uuid, name)
    if kind == "Concat":
        return _circuits.Concat(
            *[sub(c) for c in node.children], axis=start_axis + node.axis, name=name
        )
    if kind == "Add":
        explicit = _circuits.add_make_broadcasts_explicit(node) or node
        return _circuits.Add(*[sub(c) for c in explicit.children], name=name)
    if kind == "Einsum":
        return _cumulant_of_einsum(cumulant, position, start_axis, on_sub)
    if kind in ("Array", "Scalar", "Cumulant"):
        if len(children) == 1:
            return node.rename(name)
        return _circuits.Scalar(0.0, cumulant.shape, name)
    if kind in _UNEXPANDABLE:
        raise _circuits.CumulantRewriteUnexpandableTypeError(
            f"node '{node.name}': a {kind} cannot be expanded inside a cumulant "
            "(CumulantRewriteUnexpandableTypeError)"
        )
    raise _circuits.CumulantRewriteUnimplementedTypeError(
        f"node '{node.name}': expanding a {kind} inside a cumulant is not implemented "
        "(CumulantRewriteUnimplementedTypeError)"
    )
