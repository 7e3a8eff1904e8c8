"""rc's nest_einsums and nest_adds: an Einsum's (Add's) operands, flattened as far as the
traversal goes, regrouped into a tree of nested Einsums (Adds) with the same value.

The spec is resolved here: ints number the flattened operands (in einsum_flatten's order), a
matcher (anything IterativeMatcher takes) names the one operand it finds from the root, NestRest
takes every operand nothing else names, NestMatcher every operand its matcher finds, a sequence
is a nested group, and NestEinsumsSpecInfo / NestAddsSpecInfo name a group (and permute an
Einsum group's output axes). The resolved tree goes to the C core (csrc/rewrite/nest.c), which
computes every group's output axes and builds the nodes.
"""

from typing import AbstractSet, Callable, List, Optional, Sequence, Union

from . import _circuits
from ._circuits import (
    Add,
    Einsum,
    IterativeMatcher,
    Matcher,
    NestMatcherMatchedMultipleAndMustBeUniqueError,
    NestMatcherMatchedNoneAndMustExistError,
    NestMatcherOverlapsWithExplicitIntsError,
    NestMatchersOverlapError,
    NestMultipleRestError,
    NestIntNotContainedInRangeCountError,
    PermIntsNotUniqueError,
)


class NestRest:
    """Every flattened operand that no int or matcher of the spec names, in order. flat: its
    operands go straight into the enclosing group instead of forming a group of their own."""

    __slots__ = ("flat",)

    def __init__(self, flat: bool = False) -> None:
        self.flat = bool(flat)

    def __eq__(self, other):
        return isinstance(other, NestRest) and self.flat == other.flat

    def __hash__(self):
        return hash(("NestRest", self.flat))

    def __repr__(self):
        return f"NestRest(flat={self.flat})"


class NestMatcher:
    """Every flattened operand the matcher finds (run from the root), in order, as a group (or
    spliced into the enclosing group when flat). assert_exists: finding none is an error
    (otherwise nothing is added); assert_unique: finding several is an error; fancy_validate:
    every name of a set-of-names matcher must be found."""

    __slots__ = ("_matcher", "flat", "assert_exists", "assert_unique", "fancy_validate")

    def __init__(
        self,
        matcher,
        flat: bool = False,
        assert_exists: bool = True,
        assert_unique: bool = False,
        fancy_validate: bool = False,
    ) -> None:
        self.matcher = matcher
        self.flat = bool(flat)
        self.assert_exists = bool(assert_exists)
        self.assert_unique = bool(assert_unique)
        self.fancy_validate = bool(fancy_validate)

    @property
    def matcher(self) -> IterativeMatcher:
        return self._matcher

    @matcher.setter
    def matcher(self, matcher) -> None:
        self._matcher = IterativeMatcher(matcher)

    def __repr__(self):
        return (
            f"NestMatcher({self._matcher!r}, flat={self.flat}, assert_exists="
            f"{self.assert_exists}, assert_unique={self.assert_unique}, fancy_validate="
            f"{self.fancy_validate})"
        )


class NestEinsumsSpecInfo:
    """A group of nest_einsums with a name (None: automatic), out_axes_perm (its output axes
    reordered: axis i of the group is axis out_axes_perm[i] of its default order) and
    shrink_out_axes. The default order is increasing label order (labels numbered by first
    appearance in the flattened einsum); a group over exactly the operands of an einsum the
    flattening inlined keeps that einsum's name (unless given one) and its output axes, extra
    ones included, unless shrink_out_axes."""

    __slots__ = ("spec", "name", "out_axes_perm", "shrink_out_axes")

    def __init__(
        self,
        spec,
        name: Optional[str] = None,
        out_axes_perm: Optional[Sequence[int]] = None,
        shrink_out_axes: bool = False,
    ) -> None:
        self.spec = spec
        self.name = name
        self.out_axes_perm = None if out_axes_perm is None else [int(i) for i in out_axes_perm]
        self.shrink_out_axes = bool(shrink_out_axes)

    def __repr__(self):
        return (
            f"NestEinsumsSpecInfo({self.spec!r}, name={self.name!r}, out_axes_perm="
            f"{self.out_axes_perm!r}, shrink_out_axes={self.shrink_out_axes})"
        )


class NestAddsSpecInfo:
    """A group of nest_adds with a name (None: automatic; a group over exactly the operands of
    an Add the flattening inlined keeps that Add's name)."""

    __slots__ = ("spec", "name")

    def __init__(self, spec, name: Optional[str] = None) -> None:
        self.spec = spec
        self.name = name

    def __repr__(self):
        return f"NestAddsSpecInfo({self.spec!r}, name={self.name!r})"


# rc's IntOrMatcher: an int, or anything IterativeMatcher takes (the forms of IterativeMatcherIn)
IntOrMatcher = Union[int, str, type, Callable, AbstractSet, Sequence, Matcher, IterativeMatcher]
NestEinsumsSpecMultiple = Union[NestRest, NestMatcher, Sequence["NestEinsumsSpec"]]
NestEinsumsSpecSub = Union[IntOrMatcher, NestEinsumsSpecMultiple]
NestAddsSpecMultiple = Union[NestRest, NestMatcher, Sequence["NestAddsSpec"]]
NestAddsSpecSub = Union[IntOrMatcher, NestAddsSpecMultiple]
NestEinsumsSpec = Union[NestEinsumsSpecSub, NestEinsumsSpecInfo]
NestAddsSpec = Union[NestAddsSpecSub, NestAddsSpecInfo]


# Parsed spec items: ("int", i), ("one", matcher), ("rest", flat), ("many", NestMatcher),
# ("seq", [items], name, perm, shrink_out_axes).
def _parse(spec, info_type, what):
    if isinstance(spec, bool):
        raise TypeError(f"{what}: a spec entry cannot be a bool ({spec!r})")
    if isinstance(spec, int):
        return ("int", spec)
    if isinstance(spec, NestRest):
        return ("rest", spec.flat)
    if isinstance(spec, NestMatcher):
        return ("many", spec)
    if isinstance(spec, (NestEinsumsSpecInfo, NestAddsSpecInfo)):
        if not isinstance(spec, info_type):
            raise TypeError(f"{what}: {type(spec).__name__} given where {info_type.__name__} goes")
        inner = _parse(spec.spec, info_type, what)
        if inner[0] == "seq":
            items = inner[1]
        elif inner[0] == "rest":
            items = [("rest", True)]
        elif inner[0] == "many":
            items = [("many", inner[1], True)]
        else:
            raise TypeError(
                f"{what}: the spec of {type(spec).__name__} must be a sequence, NestRest or "
                f"NestMatcher, not {type(spec.spec).__name__}"
            )
        perm = getattr(spec, "out_axes_perm", None)
        return ("seq", items, spec.name, perm, getattr(spec, "shrink_out_axes", False))
    if isinstance(spec, (list, tuple)):
        return ("seq", [_parse(s, info_type, what) for s in spec], None, None, False)
    return ("one", IterativeMatcher(spec))


def _walk(item):
    yield item
    if item[0] == "seq":
        for sub in item[1]:
            yield from _walk(sub)


def _found(matcher, root, leaves, fancy_validate=False):
    nodes = matcher.get(root, fancy_validate=fancy_validate)
    return [i for i, leaf in enumerate(leaves) if leaf in nodes]


class _Former:
    """The nodes of root's kind that flattening inlined, as a tree of instances [node, refs]
    (refs[i]: ("leaf", flattened operand number) or ("sub", instance)), with each one's set of
    flattened operand numbers, and `info`: {that set: (name, output labels in flat's numbering,
    None for Adds)} for the inlined nodes other than root, outermost first. The walk mirrors
    the flattening: a child of root's kind is inlined exactly when the next flattened operand
    is not the child itself."""

    def __init__(self, root, flat):
        self.top, instances = _instances(root, flat)
        self.sets = {}
        for inst in reversed([self.top] + instances):
            out = set()
            for ref in inst[1]:
                out |= {ref[1]} if ref[0] == "leaf" else self.sets[id(ref[1])]
            self.sets[id(inst)] = frozenset(out)
        self.info = _former_info(root, flat, instances, self.sets)

    def items(self, wanted):
        """wanted's operand numbers as items in operand order: maximal inlined nodes all of
        whose operands are wanted (as instances), and the other wanted operands (as ints)."""
        out = []
        stack = [iter(self.top[1])]
        while stack:
            ref = next(stack[-1], None)
            if ref is None:
                stack.pop()
            elif ref[0] == "leaf":
                if ref[1] in wanted:
                    out.append(ref[1])
            else:
                ks = self.sets[id(ref[1])]
                if ks and ks <= wanted:
                    out.append(ref[1])
                elif ks & wanted:
                    stack.append(iter(ref[1][1]))
        return out


def _instances(root, flat):
    leaves = flat.children
    kind = type(root)
    # An instance: [node, refs], refs[i] = ("leaf", flat index) or ("sub", instance).
    top = [root, []]
    instances = []
    pos = 0
    stack = [(top, 0)]
    while stack:
        inst, i = stack.pop()
        node = inst[0]
        if i == len(node.children):
            continue
        stack.append((inst, i + 1))
        child = node.children[i]
        if isinstance(child, kind) and (pos >= len(leaves) or leaves[pos] != child):
            sub = [child, []]
            inst[1].append(("sub", sub))
            instances.append((sub, pos))
            stack.append((sub, 0))
        else:
            inst[1].append(("leaf", pos))
            pos += 1

    return top, [inst for inst, _ in instances]


def _former_info(root, flat, instances, sets):
    is_einsum = isinstance(root, Einsum)
    flat_axes = [axes for _, axes in flat.args] if is_einsum else None

    def trace(inst, axis):
        # The flat label of output axis `axis` of an inlined einsum: followed down through the
        # first operand carrying it to a flattened operand.
        while True:
            label = inst[0].out_axes[axis]
            for (child, axes), ref in zip(inst[0].args, inst[1]):
                if label in axes:
                    k = axes.index(label)
                    if ref[0] == "leaf":
                        return flat_axes[ref[1]][k]
                    inst, axis = ref[1], k
                    break

    found = {}
    for inst in instances:
        key = sets[id(inst)]
        if not key or key in found:
            continue
        labels = [trace(inst, a) for a in range(len(inst[0].shape))] if is_einsum else None
        found[key] = (inst[0].name, labels)
    return found


def _resolve(root, flat, spec, info_type, what):
    """The groups (members, name, perm) of the spec over flat's operands, root last."""
    leaves = flat.children
    n = len(leaves)
    tree = _parse(spec, info_type, what)
    if tree[0] != "seq":
        tree = ("seq", [tree if tree[0] in ("int", "one") else _flat(tree)], None, None, False)
    items = list(_walk(tree))
    explicit = [it[1] for it in items if it[0] == "int"]
    for i in explicit:
        if not 0 <= i < n:
            raise NestIntNotContainedInRangeCountError(
                f"{what}: int {i} in the spec is not an operand number (there are {n} operands)"
            )
    if len(set(explicit)) != len(explicit):
        dup = sorted({i for i in explicit if explicit.count(i) > 1})
        raise PermIntsNotUniqueError(f"{what}: ints {dup} appear more than once in the spec")
    found = {}
    for it in items:
        if it[0] == "one":
            idx = _found(it[1], root, leaves)
            if not idx:
                raise NestMatcherMatchedNoneAndMustExistError(
                    f"{what}: matcher {it[1]!r} of the spec found no operand"
                )
            if len(idx) > 1:
                raise NestMatcherMatchedMultipleAndMustBeUniqueError(
                    f"{what}: matcher {it[1]!r} of the spec found {len(idx)} operands "
                    f"({idx}); wrap it in NestMatcher to take several"
                )
            found[id(it)] = idx
        elif it[0] == "many":
            m = it[1]
            idx = _found(m.matcher, root, leaves, m.fancy_validate)
            if not idx and m.assert_exists:
                raise NestMatcherMatchedNoneAndMustExistError(
                    f"{what}: {m!r} found no operand (assert_exists)"
                )
            if len(idx) > 1 and m.assert_unique:
                raise NestMatcherMatchedMultipleAndMustBeUniqueError(
                    f"{what}: {m!r} found {len(idx)} operands ({idx}) (assert_unique)"
                )
            found[id(it)] = idx
    taken = {}
    for key, idx in found.items():
        for i in idx:
            if i in taken:
                raise NestMatchersOverlapError(
                    f"{what}: operand {i} is found by two matchers of the spec"
                )
            taken[i] = key
    clash = sorted(set(taken) & set(explicit))
    if clash:
        raise NestMatcherOverlapsWithExplicitIntsError(
            f"{what}: operands {clash} are found by a matcher and also given as ints"
        )
    rests = [it for it in items if it[0] == "rest"]
    if len(rests) > 1:
        raise NestMultipleRestError(f"{what}: the spec has {len(rests)} NestRest entries, not one")
    rest = sorted(set(range(n)) - set(explicit) - set(taken))

    groups: List[tuple] = []
    leaf_sets: List[frozenset] = []
    former = _Former(root, flat)

    def leaves_of(members):
        out = set()
        for m in members:
            out |= {m} if m >= 0 else leaf_sets[-1 - m]
        return frozenset(out)

    def group(members, name=None, perm=None, shrink=False):
        key = leaves_of(members)
        labels = None
        if not shrink and key in former.info:
            former_name, former_labels = former.info[key]
            name = former_name if name is None else name
            labels = former_labels
        groups.append((members, name, perm, labels))
        leaf_sets.append(key)
        return [-len(groups)]

    def rebuild(inst):
        # inst's own nesting as groups, innermost first.
        done = {}
        stack = [(inst, False)]
        while stack:
            cur, expanded = stack.pop()
            if not expanded:
                stack.append((cur, True))
                stack.extend((ref[1], False) for ref in cur[1] if ref[0] == "sub")
                continue
            members = []
            for ref in cur[1]:
                members += [ref[1]] if ref[0] == "leaf" else done[id(ref[1])]
            done[id(cur)] = group(members) if members else []
        return done[id(inst)]

    def members_of(it):
        kind = it[0]
        if kind == "int":
            return [it[1]]
        if kind == "one":
            return found[id(it)]
        if kind in ("rest", "many"):
            idx = rest if kind == "rest" else found[id(it)]
            is_flat = it[1] if kind == "rest" else (len(it) > 2 or it[1].flat)
            members = []
            for item in former.items(frozenset(idx)):
                members += [item] if isinstance(item, int) else rebuild(item)
            if is_flat or not members:
                return members
            return group(members)
        members = [m for sub in it[1] for m in members_of(sub)]
        if not members and it[2] is None and it[3] is None:
            return []
        return group(members, it[2], it[3], it[4])

    root_members = [m for sub in tree[1] for m in members_of(sub)]
    groups.append((root_members, tree[2], tree[3], None))
    return groups


def _flat(item):
    if item[0] == "rest":
        return ("rest", True)
    return ("many", item[1], True)


def nest_einsums(einsum: Einsum, spec, traversal=None) -> Einsum:
    """Rearranges the order and nesting of einsums in a nested einsum (rc's nest_einsums): the
    Einsums the traversal reaches are flattened, then regrouped as spec says."""
    if not isinstance(einsum, Einsum):
        raise TypeError(f"nest_einsums: expected Einsum but got {type(einsum).__name__}")
    flat = _circuits.einsum_flatten(einsum, traversal)
    groups = _resolve(einsum, flat, spec, NestEinsumsSpecInfo, "nest_einsums")
    return _circuits._einsum_nest_groups(flat, groups)


def nest_adds(add: Add, spec, traversal=None) -> Add:
    """Rearranges the order and nesting of adds in a nested add (rc's nest_adds)."""
    if not isinstance(add, Add):
        raise TypeError(f"nest_adds: expected Add but got {type(add).__name__}")
    flat = _circuits.add_flatten(add, traversal)
    groups = _resolve(add, flat, spec, NestAddsSpecInfo, "nest_adds")
    return _circuits._add_nest_groups(flat, groups)
