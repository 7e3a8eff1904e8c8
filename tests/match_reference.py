"""Brute-force Python reference for matchers, traversal, get and update (spec section 3).

Matchers are small immutable Python objects mirroring rc's API. Each can be turned into the
engine's object (`to_rc()`) and can run rc's protocol itself (`call` for a Matcher, `iterate` for
an IterativeMatcher), so one spec drives both sides of a comparison.

`Reference(memo=False)` (the default) runs the protocol literally: it walks every path from the
root, carrying the matcher state down each path on its own, and never shares work between paths.
That is exponential in the depth of a DAG with sharing and is meant for small circuits; the
results are the definition the engine is checked against:

- get: every node found at the end of some path;
- get_all_paths: for each found node, every path `[found, parent, ..., root]`, in pre-order
  (a node before its children, children in order);
- get_paths: for each found node, the last of those paths (rc keeps the last one discovered);
- update: post-order rebuild along followed paths; a node reached by several paths is rebuilt once
  per path, so paths on which the matcher state differs get separate copies.

`Reference(memo=True)` memoises by (node, matcher state), as rc does; it gives the same answers and
is what the benchmark uses on circuits whose path count is astronomical.
"""

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Tuple

import circuits as rc


class _Finished:
    """The 'visit no children' update (rc.FINISHED)."""

    def __repr__(self):
        return "FINISHED"


FINISHED = _Finished()


class RefError(Exception):
    """An error rc raises during matching; `kind` names rc's exception class."""

    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind


class RefValidationError(Exception):
    """fancy_validate failed; the message starts as rc's RuntimeError does."""


# ---------------------------------------------------------------------------------------------
# Matchers (predicates on one node)


class M:
    """Base of the reference Matcher classes."""

    def call(self, node) -> bool:
        raise NotImplementedError

    def to_rc(self):
        raise NotImplementedError

    def validate(self, found) -> None:
        raise NotImplementedError

    def __or__(self, other):
        return MAny((self, matcher(other)))

    def __and__(self, other):
        return MAll((self, matcher(other)))

    def __invert__(self):
        return MNot(self)


@dataclass(frozen=True)
class MAlways(M):
    value: bool

    def call(self, node):
        return self.value

    def to_rc(self):
        return rc.Matcher(self.value)

    def validate(self, found):
        _validate_by_call(self, found)


@dataclass(frozen=True)
class MName(M):
    names: frozenset

    def call(self, node):
        name = node_name(node)
        return name is not None and name in self.names

    def to_rc(self):
        if len(self.names) == 1:
            return rc.Matcher(next(iter(self.names)))
        return rc.Matcher(set(self.names))

    def validate(self, found):
        found_names = {node_name(c) for c in found} - {None}
        if not self.names <= found_names:
            raise RefValidationError(
                "Didn't match all names contained in this name matcher! missing: "
                f"{sorted(self.names - found_names)}"
            )


@dataclass(frozen=True)
class MType(M):
    types: frozenset

    def call(self, node):
        return type(node) in self.types

    def to_rc(self):
        if len(self.types) == 1:
            return rc.Matcher(next(iter(self.types)))
        return rc.Matcher(set(self.types))

    def validate(self, found):
        found_types = {type(c) for c in found}
        if not self.types <= found_types:
            raise RefValidationError("Didn't match all types contained in this type matcher!")


@dataclass(frozen=True)
class MCirc(M):
    circuits: frozenset

    def __repr__(self):
        return "MCirc({%s})" % ", ".join(
            sorted(f"{node_name(c)!r} {c.hash_base16[:6]}" for c in self.circuits)
        )

    def call(self, node):
        return node in self.circuits

    def to_rc(self):
        if len(self.circuits) == 1:
            return rc.Matcher(next(iter(self.circuits)))
        return rc.Matcher(set(self.circuits))

    def validate(self, found):
        if not self.circuits <= set(found):
            raise RefValidationError(
                "Didn't match all circuits contained in this circuit equality matcher!"
            )


def swap_dots(pattern: str) -> str:
    r"""rc's escape_dot rewrite: '.' becomes a literal dot and '\.' the any-character dot."""
    return re.sub(r"(\\\.)|(\.)", lambda m: "." if m.group(1) else r"\.", pattern)


@dataclass(frozen=True)
class MRegex(M):
    pattern: str
    escape_dot: bool = True
    compiled: Any = field(default=None, compare=False, hash=False, repr=False)

    def __post_init__(self):
        source = swap_dots(self.pattern) if self.escape_dot else self.pattern
        object.__setattr__(self, "compiled", re.compile(source))

    def call(self, node):
        name = node_name(node)
        return name is not None and self.compiled.search(name) is not None

    def to_rc(self):
        return rc.Matcher(rc.Regex(self.pattern, escape_dot=self.escape_dot))

    def validate(self, found):
        _validate_by_call(self, found)


@dataclass(frozen=True, eq=False)
class MFunc(M):
    """A Python predicate; equal only to itself, as rc compares callables by identity."""

    f: Callable

    def call(self, node):
        return bool(self.f(node))

    def to_rc(self):
        return rc.Matcher(self.f)

    def validate(self, found):
        _validate_by_call(self, found)


@dataclass(frozen=True)
class MNot(M):
    inner: M

    def call(self, node):
        return not self.inner.call(node)

    def to_rc(self):
        return ~self.inner.to_rc()

    def validate(self, found):
        return None


@dataclass(frozen=True)
class MAny(M):
    ms: Tuple[M, ...]

    def call(self, node):
        return any(m.call(node) for m in self.ms)

    def to_rc(self):
        return rc.Matcher.any(*[m.to_rc() for m in self.ms])

    def validate(self, found):
        for m in self.ms:
            m.validate(found)


@dataclass(frozen=True)
class MAll(M):
    ms: Tuple[M, ...]

    def call(self, node):
        return all(m.call(node) for m in self.ms)

    def to_rc(self):
        return rc.Matcher.all(*[m.to_rc() for m in self.ms])

    def validate(self, found):
        for m in self.ms:
            m.validate(found)


@dataclass(frozen=True)
class MAnyFound(M):
    """Matcher.match_any_found(finder): the finder finds something in the node's subtree."""

    finder: "IM"

    def call(self, node):
        return Reference(memo=True).are_any_found(node, self.finder)

    def to_rc(self):
        return rc.Matcher.match_any_found(self.finder.to_rc())

    def validate(self, found):
        return None


def _validate_by_call(m, found):
    if not any(m.call(c) for c in found):
        raise RefValidationError(f"This matcher matched nothing: {m!r}")


def node_name(node) -> Optional[str]:
    """The node's name, None when unnamed (the engine spells no name as '')."""
    name = node.name
    return name if name else None


def matcher(*inputs) -> M:
    """Matcher(*inputs): none -> false, one -> converted, several -> any (spec 3.1)."""
    if not inputs:
        return MAlways(False)
    if len(inputs) > 1:
        return MAny(tuple(matcher(x) for x in inputs))
    x = inputs[0]
    if isinstance(x, M):
        return x
    if isinstance(x, bool):
        return MAlways(x)
    if isinstance(x, str):
        return MName(frozenset([x]))
    if isinstance(x, type) and issubclass(x, rc.Circuit):
        return MType(frozenset([x]))
    if isinstance(x, rc.Circuit):
        return MCirc(frozenset([x]))
    if isinstance(x, (set, frozenset)):
        items = list(x)
        if all(isinstance(i, str) for i in items):
            return MName(frozenset(items))
        if all(isinstance(i, type) for i in items):
            return MType(frozenset(items))
        if all(isinstance(i, rc.Circuit) for i in items):
            return MCirc(frozenset(items))
        raise TypeError(f"mixed set {x!r}")
    if callable(x):
        return MFunc(x)
    raise TypeError(f"cannot convert {type(x).__name__} to a matcher")


def regex(pattern, escape_dot=True) -> M:
    return MRegex(pattern, escape_dot)


# ---------------------------------------------------------------------------------------------
# Iterative matchers (state machines run from the root)


class IM:
    """Base of the reference IterativeMatcher classes.

    iterate(node) -> (updated, found): updated is None (same matcher for every child), FINISHED,
    one IM (for every child) or a list with one IM-or-FINISHED per child.
    """

    def iterate(self, node):
        raise NotImplementedError

    def to_rc(self):
        raise NotImplementedError

    def validate(self, found):
        raise NotImplementedError

    # the rc-style builders
    def chain(self, *rest, must_be_sub=False):
        return new_chain(self, *rest, must_be_sub=must_be_sub)

    def children_matcher(self, child_numbers):
        return IChildren(self, frozenset(child_numbers))

    def __or__(self, other):
        return any_of(self, other)

    def __and__(self, other):
        return all_of(self, other)


@dataclass(frozen=True)
class IMatch(IM):
    m: M

    def iterate(self, node):
        return None, self.m.call(node)

    def to_rc(self):
        return rc.IterativeMatcher(self.m.to_rc())

    def validate(self, found):
        self.m.validate(found)


@dataclass(frozen=True)
class ITerm(IM):
    match_next: bool = False

    def iterate(self, node):
        return FINISHED, self.match_next

    def to_rc(self):
        return rc.IterativeMatcher.term(match_next=self.match_next)

    def validate(self, found):
        return None


@dataclass(frozen=True)
class IRestrict(IM):
    inner: IM
    term_if_matches: bool = False
    start_depth: Optional[int] = None
    end_depth: Optional[int] = None
    term_early_at: M = MAlways(False)
    depth: int = 0
    # How the engine object is built: "restrict" or "filter" (the method alias).
    form: str = field(default="restrict", compare=False, hash=False)

    def iterate(self, node):
        end = self.end_depth
        if end is not None and self.depth >= end:
            return FINISHED, False
        updated, found = self.inner.iterate(node)
        before_start = self.start_depth is not None and self.depth < self.start_depth
        found = found and not before_start
        reached_end = end is not None and self.depth >= max(end - 1, 0)
        if (
            all_finished(updated)
            or (found and self.term_if_matches)
            or reached_end
            or self.term_early_at.call(node)
        ):
            return FINISHED, found
        needs_depth = end is not None or before_start
        new_depth = self.depth + 1 if needs_depth else self.depth
        if needs_depth and updated is None:
            updated = self.inner
        return map_updated(updated, lambda x: _restrict_state(self, x, new_depth)), found

    def to_rc(self):
        assert self.depth == 0, "only fresh matchers have an engine form"
        if self.form == "filter":
            return self.inner.to_rc().filter(
                term_if_matches=self.term_if_matches,
                start_depth=self.start_depth,
                end_depth=self.end_depth,
                term_early_at=self.term_early_at.to_rc(),
            )
        return rc.restrict(
            self.inner.to_rc(),
            term_if_matches=self.term_if_matches,
            start_depth=self.start_depth,
            end_depth=self.end_depth,
            term_early_at=self.term_early_at.to_rc(),
        )

    def validate(self, found):
        self.inner.validate(found)


def _restrict_state(r: IRestrict, inner: IM, depth: int) -> IRestrict:
    return IRestrict(inner, r.term_if_matches, r.start_depth, r.end_depth, r.term_early_at, depth)


@dataclass(frozen=True)
class IChildren(IM):
    inner: IM
    child_numbers: frozenset

    def iterate(self, node):
        n = len(node.children)
        updated, found = self.inner.iterate(node)
        if not found:
            return map_updated(updated, lambda x: IChildren(x, self.child_numbers)), False
        if any(i >= n for i in self.child_numbers):
            raise RefError(
                "IterativeMatcherChildNumbersOutOfBoundsError",
                f"some child_numbers={sorted(self.child_numbers)} >= num_children={n}",
            )
        out = []
        for i, x in enumerate(per_child(updated, self.inner, n)):
            items = [] if x is None else [IChildren(x, self.child_numbers)]
            if i in self.child_numbers:
                items.append(ITerm(True))
            out.append(special_case_any(items))
        return out, False

    def to_rc(self):
        return self.inner.to_rc().children_matcher(set(self.child_numbers))

    def validate(self, found):
        return None


@dataclass(frozen=True)
class IChains(IM):
    """A set of chains, each a tuple (head, *rest); also the representation of any-of."""

    chains: frozenset
    # Engine construction: ("chain", must_be_sub, original elements) for a single chain built by
    # .chain(); None builds it with new_chain_many from the stored (already wrapped) elements.
    built_by: Any = field(default=None, compare=False, hash=False)

    def iterate(self, node):
        new_items = set()
        found = False
        for chain in self.chains:
            found = _run_chain(chain, node, new_items) or found
        if any(kind == "many" for kind, _ in new_items):
            n = len(node.children)
            per = [set() for _ in range(n)]
            for kind, item in new_items:
                if kind == "single":
                    for s in per:
                        s.add(item)
                else:
                    for s, x in zip(per, item):
                        if x is not None:
                            s.add(x)
            return [IChains(frozenset(s)) if s else FINISHED for s in per], found
        singles = frozenset(item for _, item in new_items)
        if singles == self.chains:
            return None, found
        return (IChains(singles) if singles else FINISHED), found

    def to_rc(self):
        if self.built_by is not None:
            kind, must_be_sub, elements = self.built_by
            if kind == "chain":
                first, *rest = elements
                return first.to_rc().chain(*[x.to_rc() for x in rest], must_be_sub=must_be_sub)
            return rc.IterativeMatcher.any(*[x.to_rc() for x in elements])
        chains = [[x.to_rc() for x in chain] for chain in sorted(self.chains, key=repr)]
        return rc.IterativeMatcher.new_chain_many(*chains)

    def validate(self, found):
        for chain in self.chains:
            chain[-1].validate(found)


def _run_chain(chain, node, new_items) -> bool:
    head, rest = chain[0], chain[1:]
    updated, found = head.iterate(node)
    if not all_finished(updated):
        if updated is None:
            new_items.add(("single", chain))
        elif isinstance(updated, list):
            new_items.add(("many", tuple(None if u is FINISHED else (u,) + rest for u in updated)))
        else:
            new_items.add(("single", (updated,) + rest))
    if not found:
        return False
    if not rest:
        return True
    return _run_chain(rest, node, new_items)


@dataclass(frozen=True)
class IAll(IM):
    ms: Tuple[IM, ...]

    def iterate(self, node):
        n = len(node.children)
        results = [m.iterate(node) for m in self.ms]
        found = all(f for _, f in results)
        ups = [u for u, _ in results]
        if all(u is None for u in ups):
            return None, found
        if any(all_finished(u) for u in ups):
            return FINISHED, found
        if all(u is None or isinstance(u, IM) for u in ups):
            return IAll(tuple(m if u is None else u for u, m in zip(ups, self.ms))), found
        per = [per_child(u, m, n) for u, m in zip(ups, self.ms)]
        out = []
        for i in range(n):
            column = [p[i] for p in per]
            out.append(FINISHED if any(x is None for x in column) else IAll(tuple(column)))
        return out, found

    def to_rc(self):
        return rc.IterativeMatcher.all(*[m.to_rc() for m in self.ms])

    def validate(self, found):
        return None


@dataclass(frozen=True, eq=False)
class IFunc(IM):
    """IterativeMatcher.new_func: f(node) returns (updated, found) in reference objects;
    rc_f is the same function for the engine (returning rc.IterateMatchResults)."""

    f: Callable
    rc_f: Callable

    def iterate(self, node):
        return self.f(node)

    def to_rc(self):
        return rc.IterativeMatcher.new_func(self.rc_f)

    def validate(self, found):
        return None


def iterative(*inputs) -> IM:
    """IterativeMatcher(*inputs): none -> term(), one -> converted, several -> any (spec 3.2)."""
    if not inputs:
        return ITerm(False)
    if len(inputs) > 1:
        return any_of(*inputs)
    x = inputs[0]
    if isinstance(x, IM):
        return x
    return IMatch(matcher(x))


def special_case_any(items) -> IM:
    if not items:
        return ITerm(False)
    if len(items) == 1:
        return items[0]
    return IChains(frozenset((x,) for x in items))


def any_of(*inputs) -> IM:
    ms = [iterative(x) for x in inputs]
    return IChains(frozenset((m,) for m in ms), built_by=("any", False, ms))


def all_of(*inputs) -> IM:
    return IAll(tuple(iterative(x) for x in inputs))


def new_chain(first, *rest, must_be_sub=False) -> IM:
    elements = [iterative(first)] + [iterative(x) for x in rest]
    wrapped = [elements[0]] + [
        IRestrict(x, start_depth=1) if must_be_sub else x for x in elements[1:]
    ]
    return IChains(frozenset([tuple(wrapped)]), built_by=("chain", must_be_sub, elements))


def restrict(m, term_if_matches=False, start_depth=None, end_depth=None, term_early_at=False):
    return IRestrict(iterative(m), term_if_matches, start_depth, end_depth, matcher(term_early_at))


def noop_traversal() -> IM:
    return IMatch(MAlways(True))


def new_traversal(start_depth=None, end_depth=None, term_early_at=False) -> IM:
    return restrict(noop_traversal(), False, start_depth, end_depth, term_early_at)


def traverse_until_depth(depth=None) -> IM:
    return new_traversal(end_depth=None if depth is None else depth + 1)


def all_finished(updated) -> bool:
    if updated is FINISHED:
        return True
    if isinstance(updated, list):
        return all(u is FINISHED for u in updated)
    return False


def map_updated(updated, f):
    if updated is None or updated is FINISHED:
        return updated
    if isinstance(updated, list):
        return [u if u is FINISHED else f(u) for u in updated]
    return f(updated)


def per_child(updated, m, n):
    """The matcher for each of n children, None where finished."""
    if updated is None:
        return [m] * n
    if updated is FINISHED:
        return [None] * n
    if isinstance(updated, list):
        if len(updated) != n:
            raise RefError(
                "IterativeMatcherNumUpdatedMatchersNEQToNumChildrenError",
                f"num_updated_matchers={len(updated)} != num_children={n}",
            )
        return [None if u is FINISHED else u for u in updated]
    return [updated] * n


# ---------------------------------------------------------------------------------------------
# Traversals


def rebuild(node, new_children):
    """The node rebuilt through its constructor with new children (keeps its name, spec 1.1)."""
    if not new_children:
        return node
    it = iter(new_children)
    return node.map_children(lambda _child: next(it))


class Reference:
    """get / get_paths / get_all_paths / are_any_found / update by running the protocol.

    memo=False walks every path separately (the literal definition); memo=True caches by
    (node, matcher state). `visits` counts matcher applications (one per node visit).
    """

    def __init__(self, memo=False):
        self.memo = memo
        self.visits = 0

    def _step(self, node, m):
        self.visits += 1
        updated, found = m.iterate(node)
        children = node.children
        if all_finished(updated):
            return found, [None] * len(children), children
        return found, per_child(updated, m, len(children)), children

    # -- get ----------------------------------------------------------------------------------
    def get(self, circuit, m, fancy_validate=False):
        m = iterative(m)
        out = set()
        if self.memo:
            self._get_memo(circuit, m, out)
        else:
            self._get(circuit, m, out)
        if fancy_validate:
            m.validate(out)
        return out

    def _get(self, node, m, out):
        found, per, children = self._step(node, m)
        if found:
            out.add(node)
        for child, cm in zip(children, per):
            if cm is not None:
                self._get(child, cm, out)

    def _get_memo(self, circuit, m, out):
        # Each (node, state) pair is expanded once; the found set is the union over all pairs,
        # so no per-subtree sets are needed.
        seen = {(circuit, m)}
        stack = [(circuit, m)]
        while stack:
            node, m = stack.pop()
            found, per, children = self._step(node, m)
            if found:
                out.add(node)
            for child, cm in zip(children, per):
                if cm is not None and (child, cm) not in seen:
                    seen.add((child, cm))
                    stack.append((child, cm))

    def get_unique_op(self, circuit, m):
        found = self.get(circuit, m)
        if len(found) > 1:
            raise RefError("RuntimeError", f"found {len(found)} matches which is > 1")
        return next(iter(found), None)

    def are_any_found(self, circuit, m):
        m = iterative(m)
        cache = {} if self.memo else None
        return self._any(circuit, m, cache)

    def _any(self, node, m, cache):
        if cache is not None and (node, m) in cache:
            return cache[(node, m)]
        found, per, children = self._step(node, m)
        result = found or any(
            self._any(c, cm, cache) for c, cm in zip(children, per) if cm is not None
        )
        if cache is not None:
            cache[(node, m)] = result
        return result

    # -- paths --------------------------------------------------------------------------------
    def get_all_paths(self, circuit, m):
        """{found: [[found, ..., root], ...]} with paths in pre-order."""
        m = iterative(m)
        cache = {} if self.memo else None
        out = {}
        for path in self._paths(circuit, m, cache):
            out.setdefault(path[0], []).append(list(path))
        return out

    def _paths(self, node, m, cache):
        """Paths below `node` (inclusive) to found nodes, each as a tuple [found, ..., node]."""
        if cache is not None and (node, m) in cache:
            return cache[(node, m)]
        found, per, children = self._step(node, m)
        result = [(node,)] if found else []
        for child, cm in zip(children, per):
            if cm is not None:
                result.extend(p + (node,) for p in self._paths(child, cm, cache))
        if cache is not None:
            cache[(node, m)] = result
        return result

    def get_paths(self, circuit, m):
        """{found: [found, ..., root]}: the last path discovered (children in order)."""
        return {k: v[-1] for k, v in self.get_all_paths(circuit, m).items()}

    def get_all_circuits_in_paths(self, circuit, m):
        return {c for paths in self.get_all_paths(circuit, m).values() for p in paths for c in p}

    # -- update -------------------------------------------------------------------------------
    def update(self, circuit, m, transform, cache_transform=True):
        """The circuit with `transform` applied post-order to every found node."""
        m = iterative(m)
        self._transform = transform
        self._transform_cache = {} if cache_transform else None
        cache = {} if self.memo else None
        return self._update(circuit, m, cache)

    def _update(self, node, m, cache):
        if cache is not None and (node, m) in cache:
            return cache[(node, m)]
        found, per, children = self._step(node, m)
        if all(cm is None for cm in per):
            new = node
        else:
            new = rebuild(
                node,
                [c if cm is None else self._update(c, cm, cache) for c, cm in zip(children, per)],
            )
        if found:
            new = self._run_transform(new)
        if cache is not None:
            cache[(node, m)] = new
        return new

    def _run_transform(self, node):
        tc = self._transform_cache
        if tc is None:
            return self._transform(node)
        if node not in tc:
            tc[node] = self._transform(node)
        return tc[node]


def get_first(circuit, m: M):
    """Matcher.get_first: rc's pre-order walk (each distinct node once) stops descending below a
    matched node but still visits the remaining siblings and their subtrees, and every later
    hit overwrites the result: the last hit of that walk is returned (spec 3.1 quirk)."""
    seen = set()
    result = None

    def walk(c):
        nonlocal result
        if c in seen:
            return
        seen.add(c)
        if m.call(c):
            result = c
            return
        for child in c.children:
            walk(child)

    walk(circuit)
    return result


def count_paths(circuit) -> int:
    """Number of distinct root-to-node index paths (what the literal reference walks)."""
    memo = {}

    def below(c):
        if c not in memo:
            memo[c] = 1 + sum(below(x) for x in c.children)
        return memo[c]

    return below(circuit)
