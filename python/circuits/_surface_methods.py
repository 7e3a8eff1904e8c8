"""The rest of rc's methods on RearrangeSpec and the node classes.

RearrangeSpec's algebra (canonicalize, fuse, conforming, expanding) works on the spec's int
lists alone, so it lives here, in Python, and builds specs through the validating C
constructor; the node methods read a node's children and payload and build nodes through the
C constructors. Installed on the engine's classes once at import.
"""

from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from . import _circuits
from ._circuits import (
    Add,
    Array,
    Circuit,
    Concat,
    Einsum,
    GeneralFunction,
    Index,
    Rearrange,
    RearrangeSpec,
)

_MAX_RANK = 255  # rc's specs number ints and axes with u8


def _sizes_str(size: int, use_symbolic: bool) -> str:
    if not use_symbolic:
        return str(size)
    from ._modules import SymbolicSizeProduct

    return str(SymbolicSizeProduct.from_size(size))


def _spec(input_ints, output_ints, int_sizes) -> RearrangeSpec:
    return RearrangeSpec(
        [list(g) for g in input_ints], [list(g) for g in output_ints], list(int_sizes)
    )


def _canon_axes(ndim: int, axes: Sequence[int], what: str) -> List[int]:
    out = []
    for a in axes:
        a = int(a)
        if not -ndim <= a < ndim:
            raise _circuits.MiscInputItemOutOfBoundsError(
                f"{what}: axis {a} is out of bounds for rank {ndim}"
            )
        out.append(a % ndim)
    return out


def _as_list(x) -> list:
    return [x] if isinstance(x, int) else list(x)


# --- RearrangeSpec: constructors ----------------------------------------------------------------


def spec_check_rank(rank: int) -> None:
    if rank > _MAX_RANK:
        raise _circuits.RearrangeSpecLenShapeTooLargeError(
            f"RearrangeSpec: rank {rank} is over the {_MAX_RANK} axes a spec can number"
        )


def _check_u8(rank: int, what: str) -> int:
    rank = int(rank)
    if not 0 <= rank <= _MAX_RANK:
        raise OverflowError(f"RearrangeSpec.{what}: rank {rank} is not in 0..{_MAX_RANK}")
    return rank


def spec_ident(rank: int) -> RearrangeSpec:
    rank = _check_u8(rank, "ident")
    return _spec([[i] for i in range(rank)], [[i] for i in range(rank)], [None] * rank)


def spec_flatten(rank: int) -> RearrangeSpec:
    rank = _check_u8(rank, "flatten")
    return _spec([[i] for i in range(rank)], [list(range(rank))], [None] * rank)


def spec_unflatten(shape: Sequence[int]) -> RearrangeSpec:
    shape = [int(s) for s in shape]
    spec_check_rank(len(shape))
    return _spec([list(range(len(shape)))], [[i] for i in range(len(shape))], shape)


def spec_unflatten_axis(ndim: int, axis: int, shape: Sequence[int]) -> RearrangeSpec:
    ndim, shape = int(ndim), [int(s) for s in shape]
    if ndim == 0:
        raise _circuits.RearrangeSpecCantUnflattenScalarError(
            "RearrangeSpec.unflatten_axis: a rank-0 input has no axis to unflatten"
        )
    (axis,) = _canon_axes(ndim, [axis], "RearrangeSpec.unflatten_axis")
    spec_check_rank(ndim + len(shape) - 1)
    split = list(range(ndim - 1, ndim - 1 + len(shape)))
    inputs = [[i] for i in range(ndim - 1)]
    inputs.insert(axis, split)
    outputs = [[i] for i in [*range(axis), *split, *range(axis, ndim - 1)]]
    return _spec(inputs, outputs, [None] * (ndim - 1) + shape)


def spec_expand_at_axes(orig_ndim: int, axes, counts=None) -> RearrangeSpec:
    orig_ndim = int(orig_ndim)
    axes = _as_list(axes)
    rank = orig_ndim + len(axes)
    spec_check_rank(rank)
    counts = [1] * len(axes) if counts is None else _as_list(counts)
    if len(counts) != len(axes):
        raise _circuits.RearrangeSpecAxesAndCountsDontMatchError(
            f"RearrangeSpec.expand_at_axes: {len(axes)} axes but {len(counts)} counts"
        )
    for a, c in zip(axes, counts):
        if int(c) < 0:
            raise ValueError(f"RearrangeSpec.expand_at_axes: the count {c} of axis {a} is negative")
    placed = sorted(zip(_canon_axes(rank, axes, "RearrangeSpec.expand_at_axes"), counts))
    positions = [p for p, _ in placed]
    if len(set(positions)) != len(positions):
        raise _circuits.RearrangeSpecRepeatedAxesError(
            f"RearrangeSpec.expand_at_axes: axes {positions} repeat an axis "
            f"({len(set(positions))} distinct of {len(positions)})"
        )
    outputs, next_new, next_old = [], 0, 0
    while next_new < len(placed) or next_old < orig_ndim:
        if next_new < len(placed) and next_new + next_old == positions[next_new]:
            outputs.append([orig_ndim + next_new])
            next_new += 1
        else:
            outputs.append([next_old])
            next_old += 1
    sizes = [None] * orig_ndim + [int(c) for _, c in placed]
    return _spec([[i] for i in range(orig_ndim)], outputs, sizes)


def spec_unsqueeze(orig_ndim: int, axes) -> RearrangeSpec:
    return spec_expand_at_axes(orig_ndim, axes, None)


def spec_prepend_batch_shape(shape: Sequence[int], old_rank: int) -> RearrangeSpec:
    shape, old_rank = [int(s) for s in shape], int(old_rank)
    n = len(shape)
    spec_check_rank(n + old_rank)
    return _spec(
        [[n + i] for i in range(old_rank)],
        [[i] for i in range(n + old_rank)],
        shape + [None] * old_rank,
    )


# --- RearrangeSpec: queries -----------------------------------------------------------------------


def spec_is_identity(self) -> bool:
    return self.input_ints == self.output_ints


def spec_is_permute(self) -> bool:
    return (
        all(len(g) == 1 for g in self.input_ints)
        and all(len(g) == 1 for g in self.output_ints)
        and len(self.input_ints) == len(self.output_ints)
    )


def spec_is_valid(self) -> bool:
    try:
        _spec(self.input_ints, self.output_ints, self.int_sizes)
    except _circuits.RearrangeSpecError:
        return False
    return True


def spec_next_axis(self) -> int:
    ints = [i for g in self.output_ints for i in g]
    return max(ints) + 1 if ints else 0


def spec_shapes(self) -> Tuple[List[int], List[int]]:
    sizes = self.int_sizes
    used = {i for g in self.input_ints + self.output_ints for i in g}
    if any(sizes[i] is None for i in used):
        raise _circuits.RearrangeSpecHasWildcardSizesError(
            f"RearrangeSpec.shapes: {self} has ints without sizes"
        )

    def prod(group):
        out = 1
        for i in group:
            out *= sizes[i]
        return out

    return [prod(g) for g in self.input_ints], [prod(g) for g in self.output_ints]


_c_to_string = RearrangeSpec.to_string


def spec_to_string(
    self, size_on_letter: bool = True, use_symbolic: bool = True, show_size_if_present: bool = True
) -> str:
    """rc's string form; the defaults give RearrangeSpec.from_string's syntax with every known
    size."""
    if size_on_letter and use_symbolic and show_size_if_present:
        return _c_to_string(self)
    sizes = self.int_sizes
    needing = None
    if not show_size_if_present:
        needing = {i for g in self.input_ints if len(g) > 1 for i in g}
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

    def letter(i):
        return letters[i] if i < len(letters) else f"x{i}"

    def side(groups, other):
        words = []
        for g in groups:
            parts = []
            for i in g:
                if i in other or sizes[i] is None:
                    if (
                        size_on_letter
                        and (needing is None or i in needing)
                        and sizes[i] is not None
                    ):
                        parts.append(f"{letter(i)}:{_sizes_str(sizes[i], use_symbolic)}")
                    else:
                        parts.append(letter(i))
                else:
                    parts.append(_sizes_str(sizes[i], use_symbolic))
            words.append(parts[0] if len(parts) == 1 else "(" + " ".join(parts) + ")")
        return " ".join(words)

    ins = {i for g in self.input_ints for i in g}
    outs = {i for g in self.output_ints for i in g}
    return f"{side(self.input_ints, outs)} -> {side(self.output_ints, ins)}"


def spec_to_einops_string(self) -> str:
    return spec_to_string(self, False, False, False)


def spec_apply(self, tensor):
    """The spec applied to a tensor (as a Rearrange of it evaluates)."""
    return Rearrange(Array(tensor), self).evaluate()


# --- RearrangeSpec: transformations ---------------------------------------------------------------


def _conform(self, groups, shape, what):
    shape = [int(s) for s in shape]
    if len(shape) != len(groups):
        raise _circuits.RearrangeSpecInputNotConformableError(
            f"RearrangeSpec.{what}: {self} has {len(groups)} axes, the shape {shape} "
            f"has {len(shape)}"
        )
    sizes = list(self.int_sizes)
    for g, length in zip(groups, shape):
        wild = [i for i in g if self.int_sizes[i] is None]
        known = 1
        for i in g:
            known *= self.int_sizes[i] if self.int_sizes[i] is not None else 1
        if (not wild and length != known) or (wild and (known == 0 or length % known != 0)):
            raise _circuits.RearrangeSpecInputNotConformableError(
                f"RearrangeSpec.{what}: {self} does not fit the shape {shape}"
            )
        if len(wild) > 1:
            raise _circuits.RearrangeSpecTooManyWildcardSizesError(
                f"RearrangeSpec.{what}: an axis of {self} has {len(wild)} ints without size"
            )
        if wild:
            sizes[wild[0]] = length // known
    return _spec(self.input_ints, self.output_ints, sizes)


def spec_conform_to_input_shape(self, shape) -> RearrangeSpec:
    return _conform(self, self.input_ints, shape, "conform_to_input_shape")


def spec_conform_to_output_shape(self, shape) -> RearrangeSpec:
    return _conform(self, self.output_ints, shape, "conform_to_output_shape")


def spec_expand_to(self, shape) -> RearrangeSpec:
    """rc's expand_to: sizes that differ from shape become wildcards, where one int of the axis
    can take the difference; ambiguous otherwise."""
    shape = [int(s) for s in shape]
    if len(shape) != len(self.input_ints):
        raise _circuits.RearrangeSpecInputNotConformableError(
            f"RearrangeSpec.expand_to: {self} has {len(self.input_ints)} input axes, the shape "
            f"{shape} has {len(shape)}"
        )
    old = self.int_sizes
    sizes = list(old)
    for dim, (g, want) in enumerate(zip(self.input_ints, shape)):
        if any(old[i] is None for i in g):
            continue
        current = 1
        for i in g:
            current *= old[i]
        if current == want:
            continue
        if len(g) == 1:
            sizes[g[0]] = None
            continue
        divides = [old[i] != 0 and want % old[i] == 0 for i in g]
        if divides.count(False) != 1:
            raise _circuits.RearrangeSpecAmbiguousExpandError(
                f"RearrangeSpec.expand_to: axis {dim} of {self} has size {current}, not {want}, "
                f"and {divides.count(False)} of its ints {list(g)} (sizes "
                f"{[old[i] for i in g]}) fail to divide {want}: exactly one must"
            )
        sizes[g[divides.index(False)]] = None
    return _spec(self.input_ints, self.output_ints, sizes)


def spec_fill_empty_ints(self) -> RearrangeSpec:
    """Empty groups get fresh ints of size 1 (an input's go into the first output group)."""
    used = [i for g in self.output_ints for i in g]
    nxt = max(used) + 1 if used else 0
    first = nxt
    inputs = []
    for g in self.input_ints:
        if g:
            inputs.append(list(g))
        else:
            inputs.append([nxt])
            nxt += 1
    after_inputs = nxt
    outputs = []
    for g in self.output_ints:
        if g:
            outputs.append(list(g))
        else:
            outputs.append([nxt])
            nxt += 1
    if after_inputs > first:
        if not outputs:
            raise _circuits.RearrangeSpecNotConvertableError(
                f"RearrangeSpec.fill_empty_ints: {self} drops size-1 axes into no output axis"
            )
        outputs[0].extend(range(first, after_inputs))
    return _spec(inputs, outputs, list(self.int_sizes) + [1] * (nxt - first))


def spec_canonicalize(self, special_case_ones: bool = True) -> RearrangeSpec:
    """rc's canonical form: size-1 ints dropped (special_case_ones), ints that always appear
    together in the same order merged into one, ints renumbered by first appearance."""
    sizes = list(self.int_sizes)
    groups_in = [list(g) for g in self.input_ints]
    groups_out = [list(g) for g in self.output_ints]
    if special_case_ones:
        groups_in = [[i for i in g if sizes[i] != 1] for g in groups_in]
        groups_out = [[i for i in g if sizes[i] != 1] for g in groups_out]
    # before[i] / after[i]: "first" / "last" or the int that always precedes / follows i
    before: Dict[int, object] = {}
    after: Dict[int, object] = {}
    for g in groups_in + groups_out:
        if g:
            before[g[0]] = "first"
            after[g[-1]] = "last"
        for p, c in zip(g, g[1:]):
            if (sizes[p] is None) == (sizes[c] is None):
                before.setdefault(c, ("mid", p))
                after.setdefault(p, ("mid", c))
            if before.get(c) != ("mid", p) or after.get(p) != ("mid", c):
                before[c] = "first"
                after[p] = "last"

    def head(i):
        while before.get(i) != "first":
            i = before[i][1]
        return i

    renumber: Dict[int, int] = {}
    new_sizes: List[Optional[int]] = []
    merged = set()

    def rewrite(groups):
        out = []
        for g in groups:
            new_g = []
            for i in g:
                if i in renumber:
                    new_g.append(renumber[i])
                elif before.get(i) == "first":
                    renumber[i] = len(new_sizes)
                    new_g.append(renumber[i])
                    new_sizes.append(sizes[i])
                elif i not in merged:
                    if sizes[i] is not None:
                        k = renumber[head(i)]
                        new_sizes[k] = new_sizes[k] * sizes[i]
                    merged.add(i)
            out.append(new_g)
        return out

    new_in = rewrite(groups_in)
    new_out = rewrite(groups_out)
    return _spec(new_in, new_out, new_sizes)


def spec_fuse(inner: RearrangeSpec, outer: RearrangeSpec) -> RearrangeSpec:
    """The spec doing inner then outer (every int sized), canonicalized."""
    for s, which in ((inner, "inner"), (outer, "outer")):
        if any(x is None for x in s.int_sizes):
            raise _circuits.RearrangeSpecHasWildcardSizesError(
                f"RearrangeSpec.fuse: the {which} spec {s} has ints without sizes; conform it "
                "to a shape first"
            )

    def not_fusable():
        return _circuits.RearrangeSpecNotFusableError(
            f"RearrangeSpec.fuse: the output axes of {inner} do not split into the input axes "
            f"of {outer}"
        )

    if len(inner.output_ints) != len(outer.input_ints):
        raise not_fusable()
    in_sizes, out_sizes = list(inner.int_sizes), list(outer.int_sizes)
    in_parts: Dict[int, List[int]] = {}  # inner int -> the inner ints it is split into
    out_parts: Dict[int, List[int]] = {}
    in_to_out: Dict[int, int] = {}
    for out_g, in_g in zip(outer.input_ints, inner.output_ints):
        a = b = 0
        while a < len(in_g) and b < len(out_g):
            i, o = in_g[a], out_g[b]
            si, so = in_sizes[i], out_sizes[o]
            if si == so:
                in_to_out[i] = o
                in_parts.setdefault(i, []).append(i)
                out_parts.setdefault(o, []).append(o)
                a += 1
                b += 1
            elif si > so:  # split the inner int: its leading part is o
                if so == 0 or si % so != 0:
                    raise not_fusable()
                piece = len(in_sizes)
                in_to_out[piece] = o
                in_sizes[i] //= so
                in_sizes.append(so)
                out_parts.setdefault(o, []).append(o)
                in_parts.setdefault(i, []).append(piece)
                b += 1
            else:  # split the outer int: its leading part is i
                if si == 0 or so % si != 0:
                    raise not_fusable()
                piece = len(out_sizes)
                in_to_out[i] = piece
                out_sizes[o] //= si
                out_sizes.append(si)
                in_parts.setdefault(i, []).append(i)
                out_parts.setdefault(o, []).append(piece)
                a += 1
        if any(in_sizes[i] != 1 for i in in_g[a:]) or any(out_sizes[o] != 1 for o in out_g[b:]):
            raise not_fusable()

    def expand(groups, parts):
        return [[p for x in g for p in parts.pop(x, [x])] for g in groups]

    inputs = [
        [in_to_out[x] for x in g if x in in_to_out] for g in expand(inner.input_ints, in_parts)
    ]
    outputs = expand(outer.output_ints, out_parts)
    return spec_canonicalize(_spec(inputs, outputs, out_sizes), True)


# --- node classes ---------------------------------------------------------------------------------

_IRREDUCIBLE = ("Array", "Symbol")
_LEAF_CONSTANT = ("Array", "Scalar")
_VAR = ("DiscreteVar", "StoredCumulantVar")


def is_irreducible_node(self) -> bool:
    return self.variant_string in _IRREDUCIBLE


def is_leaf_constant(self) -> bool:
    return self.variant_string in _LEAF_CONSTANT


def is_var(self) -> bool:
    return self.variant_string in _VAR


def into_irreducible_node(self):
    return self if is_irreducible_node(self) else None


def into_leaf(self):
    return self if self.is_leaf else None


def into_leaf_constant(self):
    return self if is_leaf_constant(self) else None


def into_var(self):
    return self if is_var(self) else None


def to_py(self):
    return self


def _distinct_nodes(c: Circuit) -> List[Circuit]:
    out: List[Circuit] = []
    c.visit(out.append)
    return out


def total_arrayconstant_size(self) -> int:
    """Elements of all distinct Arrays in the circuit."""
    return sum(x.numel for x in _distinct_nodes(self) if x.variant_string == "Array")


def print_stats(self) -> None:
    """One line: name, kind, distinct nodes, largest non-leaf size and flops (rc's format)."""
    from ._printing import oom_fmt

    nodes = _distinct_nodes(self)
    max_size = max((x.numel for x in nodes if not x.is_leaf), default=0)
    head = f"{self.name} " if self.op_name is not None else " "
    print(
        f"{head}{self.variant_string} nodes {len(nodes)} max_size {oom_fmt(max_size)} "
        f"flops {oom_fmt(int(self.total_flops()))}"
    )


def einsum_all_input_circuits(self) -> List[Circuit]:
    return list(self.children)


def einsum_all_input_axes(self) -> List[Tuple[int, ...]]:
    return [tuple(axes) for _, axes in self.args]


def einsum_evolve(self, args=None, out_axes=None) -> Einsum:
    args = self.args if args is None else args
    out_axes = self.out_axes if out_axes is None else out_axes
    return Einsum(*args, out_axes=tuple(out_axes), name=self.op_name)


def einsum_reduced_axes(self) -> set:
    return {a for _, axes in self.args for a in axes if a not in self.out_axes}


def einsum_next_axis(self) -> int:
    labels = [a for _, axes in self.args for a in axes]
    return max(labels) + 1 if labels else 0


def einsum_normalize_ints(self) -> Einsum:
    """The same Einsum with labels renumbered 0, 1, ... by first appearance in the operands."""
    renumber: Dict[int, int] = {}
    for _, axes in self.args:
        for a in axes:
            renumber.setdefault(a, len(renumber))
    args = [(c, tuple(renumber[a] for a in axes)) for c, axes in self.args]
    return Einsum(*args, out_axes=tuple(renumber[a] for a in self.out_axes), name=self.op_name)


def _unique(ints) -> List[int]:
    out: List[int] = []
    for i in ints:
        if i not in out:
            out.append(int(i))
    return out


def einsum_new_diag(node: Circuit, ints: List[int], name: Optional[str] = None) -> Einsum:
    """node's axes labelled by the unique ints of ints, output ints (repeats make diagonals)."""
    return Einsum((node, tuple(_unique(ints))), out_axes=tuple(int(i) for i in ints), name=name)


def einsum_new_trace(node: Circuit, ints: List[int], name: Optional[str] = None) -> Einsum:
    """node's axes labelled by ints, output their unique labels (repeats take traces)."""
    return Einsum((node, tuple(int(i) for i in ints)), out_axes=tuple(_unique(ints)), name=name)


def children_list(self) -> List[Circuit]:
    return list(self.children)


def add_has_broadcast(self) -> bool:
    return any(c.shape != self.shape for c in self.children)


def add_nodes_and_rank_differences(self) -> List[Tuple[Circuit, int]]:
    return [(c, self.ndim - c.ndim) for c in self.children]


def add_to_counts(self) -> Dict[Circuit, int]:
    counts: Dict[Circuit, int] = {}
    for c in self.children:
        counts[c] = counts.get(c, 0) + 1
    return counts


def rearrange_reshape(node: Circuit, shape: Sequence[int]) -> Rearrange:
    """node flattened, then unflattened to shape (both steps autonamed)."""
    flat = Rearrange(node, spec_flatten(node.ndim))
    return Rearrange(flat, spec_unflatten(shape))


def index_child_axis_map_including_slices(self) -> List[List[Optional[int]]]:
    """Per child axis, the output axis it becomes when indexed by any slice, else None."""
    cur, row = -1, []
    for item in self.idx:
        if not isinstance(item, int):
            cur += 1
        row.append(cur if isinstance(item, slice) else None)
    return [row]


def index_has_tensor_axes(self) -> bool:
    return any(not isinstance(item, (int, slice)) for item in self.idx)


def _suffixed(name: Optional[str], suffix: str) -> Optional[str]:
    return None if name is None else f"{name}{suffix}"


def index_new_synchronized_to_start(node: Circuit, index, name: Optional[str] = None) -> Index:
    """numpy-style indexing: the tensor indices (one per axis of node) are broadcast together
    and index their axes jointly; the result has their broadcast shape first, then the other
    axes, indexed by their ints and slices. Built as rc builds it: the tensor axes moved first
    and fused, one flat index tensor, the broadcast shape unflattened, the rest indexed."""
    items = list(index)
    is_tensor = [not isinstance(x, (int, slice)) for x in items]
    tensor_axes = [i for i, t in enumerate(is_tensor) if t]
    other_axes = [i for i, t in enumerate(is_tensor) if not t]
    if not tensor_axes:
        raise ValueError("Index.new_synchronized_to_start: the index needs a tensor axis")
    if len(items) != node.ndim:
        raise _circuits.MiscInputError(
            f"Index.new_synchronized_to_start: {len(items)} index items for a node of rank "
            f"{node.ndim}"
        )
    n = len(items)
    moved = Rearrange(
        node,
        _spec([[i] for i in range(n)], [tensor_axes] + [[i] for i in other_axes], [None] * n),
        name=_suffixed(name, "_pre_idx_flat"),
    )
    tensors = [np.asarray(items[i]).astype(np.int64) for i in tensor_axes]
    sizes = [node.shape[i] for i in tensor_axes]
    flat = np.zeros((), dtype=np.int64)
    stride = 1
    for t, size in reversed(list(zip(tensors, sizes))):
        flat = flat + np.where(t < 0, t + size, t) * stride
        stride *= size
    flat = np.broadcast_to(flat, np.broadcast_shapes(*(t.shape for t in tensors)))
    bshape = list(flat.shape)
    indexed = Index(moved, [np.ascontiguousarray(flat.reshape(-1))], name=_suffixed(name, "_t_idx"))
    k, m = len(bshape), len(other_axes)
    back = Rearrange(
        indexed,
        _spec(
            [list(range(k))] + [[k + j] for j in range(m)],
            [[j] for j in range(k + m)],
            bshape + [None] * m,
        ),
        name=_suffixed(name, "_post_t_shape"),
    )
    return Index(back, [slice(None)] * k + [items[i] for i in other_axes], name=name)


def module_child_axis_map_inputs(self) -> List[List[Optional[int]]]:
    """Per argument, per axis, the module's axis it becomes (rc's child_axis_map_inputs)."""
    return _circuits._child_axis_map(self)[1:]


def concat_get_sizes_at_axis(self) -> List[int]:
    return [c.shape[self.axis] for c in self.children]


def gf_new_from_parse(*nodes: Circuit, parse_string: str, name: Optional[str] = None):
    """A GeneralFunction from its serialised spec: 'name at path' loads the spec at path (and,
    as rc does, names the node after the spec), anything else is a spec name."""
    if " at " in parse_string:
        spec_name, path = parse_string.split(" at ", 1)
        return GeneralFunction.new_by_path(*nodes, path=path, name=spec_name)
    return GeneralFunction.new_by_name(*nodes, spec_name=parse_string, name=name)


def install():
    statics = {
        "check_rank": spec_check_rank,
        "ident": spec_ident,
        "flatten": spec_flatten,
        "unflatten": spec_unflatten,
        "unflatten_axis": spec_unflatten_axis,
        "expand_at_axes": spec_expand_at_axes,
        "unsqueeze": spec_unsqueeze,
        "prepend_batch_shape": spec_prepend_batch_shape,
        "fuse": spec_fuse,
    }
    for name, f in statics.items():
        setattr(RearrangeSpec, name, staticmethod(f))
    methods = {
        "is_identity": spec_is_identity,
        "is_permute": spec_is_permute,
        "is_valid": spec_is_valid,
        "next_axis": spec_next_axis,
        "shapes": spec_shapes,
        "to_string": spec_to_string,
        "to_einops_string": spec_to_einops_string,
        "apply": spec_apply,
        "conform_to_input_shape": spec_conform_to_input_shape,
        "conform_to_output_shape": spec_conform_to_output_shape,
        "expand_to": spec_expand_to,
        "fill_empty_ints": spec_fill_empty_ints,
        "canonicalize": spec_canonicalize,
    }
    for name, f in methods.items():
        setattr(RearrangeSpec, name, f)
    RearrangeSpec.__hash__ = lambda self: hash(
        (
            tuple(map(tuple, self.input_ints)),
            tuple(map(tuple, self.output_ints)),
            tuple(self.int_sizes),
        )
    )

    circuit_methods = {
        "is_irreducible_node": is_irreducible_node,
        "is_leaf_constant": is_leaf_constant,
        "is_var": is_var,
        "into_irreducible_node": into_irreducible_node,
        "into_leaf": into_leaf,
        "into_leaf_constant": into_leaf_constant,
        "into_var": into_var,
        "to_py": to_py,
        "total_arrayconstant_size": total_arrayconstant_size,
        "print_stats": print_stats,
    }
    for name, f in circuit_methods.items():
        setattr(Circuit, name, f)
    Einsum.all_input_circuits = einsum_all_input_circuits
    Einsum.all_input_axes = einsum_all_input_axes
    Einsum.evolve = einsum_evolve
    Einsum.reduced_axes = einsum_reduced_axes
    Einsum.next_axis = einsum_next_axis
    Einsum.normalize_ints = einsum_normalize_ints
    Einsum.new_diag = staticmethod(einsum_new_diag)
    Einsum.new_trace = staticmethod(einsum_new_trace)
    for cls in (Add, Concat, GeneralFunction):
        cls.nodes = property(children_list)
    Add.has_broadcast = add_has_broadcast
    Add.nodes_and_rank_differences = add_nodes_and_rank_differences
    Add.to_counts = add_to_counts
    Rearrange.reshape = staticmethod(rearrange_reshape)
    Index.child_axis_map_including_slices = index_child_axis_map_including_slices
    Index.has_tensor_axes = index_has_tensor_axes
    Index.new_synchronized_to_start = staticmethod(index_new_synchronized_to_start)
    Concat.get_sizes_at_axis = concat_get_sizes_at_axis
    _circuits.Module.child_axis_map_inputs = module_child_axis_map_inputs
    GeneralFunction.new_from_parse = staticmethod(gf_new_from_parse)
