"""ScopeManager (rc's rust_circuit.scope_manager): a circuit together with a stack of named
narrowing steps (matchers chained one after the other, and traversals all of which must hold),
for rewriting one part of a large circuit at a time."""

from __future__ import annotations

import dataclasses
from copy import copy
from dataclasses import dataclass
from typing import Iterable, Optional, Set, Tuple, Union

from . import _circuits as _c
from ._printing import PrintOptions
from .py_utils import assert_never


@dataclass(frozen=True)
class ScopeGlobalTraversal:
    """A traversal every match of the scope must stay within."""

    traversal: _c.IterativeMatcher


@dataclass(frozen=True)
class ScopeMatcher:
    """A matcher chained after the previous ones: the scope moves to what it finds."""

    matcher: _c.IterativeMatcher


ScopeUpdate = Union[ScopeMatcher, ScopeGlobalTraversal]
NamedUpdates = Tuple[Tuple[ScopeUpdate, Optional[str]], ...]


@dataclass
class ScopeManager:
    """Wraps `circuit` for rewriting: `unique()` is the node in focus, while `circuit` may be
    a larger graph around it. Methods ending in `_` change this object; the others return a
    new one. Every new state is checked: the scope must match something
    (assert_matched_exists) and, when assert_matched_unique, exactly one node."""

    circuit: _c.Circuit
    named_updates: NamedUpdates = ()
    assert_matched_exists: bool = True
    assert_matched_unique: bool = False

    def __post_init__(self):
        self.check()

    def check(self):
        matched = self.circuit.get(self.matcher())
        if self.assert_matched_exists and len(matched) == 0:
            raise AssertionError("ScopeManager: the scope matches no node")
        if self.assert_matched_unique and len(matched) != 1:
            raise AssertionError(f"ScopeManager: the scope matches {len(matched)} nodes, not one")

    def _evolve(self, **changes) -> ScopeManager:
        return dataclasses.replace(self, **changes)

    def raw_matcher(self, *extra) -> _c.IterativeMatcher:
        return _c.IterativeMatcher.new_chain(*self.matchers, *extra)

    def traversal(self, *extra_traversals) -> _c.IterativeMatcher:
        extra = [t for t in extra_traversals if t is not None]
        return _c.IterativeMatcher.all(*self.traversals, *extra)

    def matcher(self, *extra, extra_traversals: Iterable = ()) -> _c.IterativeMatcher:
        return self.raw_matcher(*extra) & self.traversal(*extra_traversals)

    @property
    def c(self) -> _c.Circuit:
        return self.circuit

    @property
    def matchers(self):
        yield _c.restrict(_c.IterativeMatcher(True), term_if_matches=True)
        for update, _ in self.named_updates:
            if isinstance(update, ScopeMatcher):
                yield update.matcher

    @property
    def traversals(self):
        for update, _ in self.named_updates:
            if isinstance(update, ScopeGlobalTraversal):
                yield update.traversal

    def sub_get_new_updates(
        self, sub_update: ScopeUpdate, name: Optional[str] = None
    ) -> NamedUpdates:
        return self.named_updates + ((sub_update, name),)

    def sub_update(self, sub_update: ScopeUpdate, name: Optional[str] = None) -> ScopeManager:
        return self._evolve(named_updates=self.sub_get_new_updates(sub_update, name))

    def sub_update_(self, sub_update: ScopeUpdate, name: Optional[str] = None) -> None:
        new = self.sub_get_new_updates(sub_update, name)
        self._evolve(named_updates=new)  # checks the new state before keeping it
        self.named_updates = new

    def sub_matcher(self, matcher, name: Optional[str] = None) -> ScopeManager:
        return self.sub_update(ScopeMatcher(_c.IterativeMatcher(matcher)), name)

    def sub_matcher_(self, matcher, name: Optional[str] = None) -> None:
        self.sub_update_(ScopeMatcher(_c.IterativeMatcher(matcher)), name)

    def sub_traversal(self, traversal, name: Optional[str] = None) -> ScopeManager:
        return self.sub_update(ScopeGlobalTraversal(_c.IterativeMatcher(traversal)), name)

    def sub_traversal_(self, traversal, name: Optional[str] = None) -> None:
        self.sub_update_(ScopeGlobalTraversal(_c.IterativeMatcher(traversal)), name)

    def remove_by_name(self, name: str) -> NamedUpdates:
        return tuple((u, n) for u, n in self.named_updates if n != name)

    def pop_sub_by_name_(self, name: str) -> None:
        self.named_updates = self.remove_by_name(name)

    def pop_sub_by_name(self, name: str) -> ScopeManager:
        return self._evolve(named_updates=self.remove_by_name(name))

    def pop_sub_(self) -> None:
        self.named_updates = self.named_updates[:-1]

    def pop_sub(self) -> ScopeManager:
        return self._evolve(named_updates=self.named_updates[:-1])

    def clear_sub_(self) -> None:
        self.named_updates = ()

    def clear_sub(self) -> ScopeManager:
        return self._evolve(named_updates=())

    def clone(self) -> ScopeManager:
        return copy(self)

    def get_bound_updater(self, updater, apply_global: bool = False) -> _c.BoundUpdater:
        """updater bound to the scope (or, with apply_global, to the whole circuit); a
        BoundUpdater keeps its own matcher, chained after the scope's."""
        if isinstance(updater, _c.BoundUpdater):
            return self.matcher(updater.matcher).updater(updater.updater.transform)
        if not isinstance(updater, _c.Updater):
            updater = _c.Updater(updater)
        if isinstance(updater, _c.Updater):
            if apply_global:
                return updater.bind(_c.IterativeMatcher.term(match_next=True))
            return updater.bind(self.matcher())
        assert_never(updater)

    def update(self, updater, apply_global: bool = False) -> ScopeManager:
        return self._evolve(circuit=self.get_bound_updater(updater, apply_global)(self.circuit))

    def update_(self, updater, apply_global: bool = False) -> None:
        self.circuit = self.get_bound_updater(updater, apply_global)(self.circuit)

    def print_path(self, printer: Optional[PrintOptions] = None, path_from=None) -> None:
        """Prints the circuit from path_from (default: the root) down to the nodes in scope,
        colouring them with printer's colorer."""
        printer = PrintOptions(bijection=False, colorer=lambda _: 3) if printer is None else printer
        path_from = _c.IterativeMatcher.term(match_next=True) if path_from is None else path_from
        matched = self.matched_circuits()
        colorer = printer.colorer
        path_printer = printer.evolve(
            traversal=self.traversal(
                _c.new_traversal(term_early_at=~_c.Matcher.match_any_found(matched))
            ),
            colorer=lambda x: (colorer(x) if colorer is not None and x in matched else None),
            bijection=False,
        )
        print()
        path_printer.print(_c.Getter().get_unique(self.circuit, path_from))

    def print(self, printer: Optional[PrintOptions] = None) -> None:
        """Prints each node in scope, within the scope's traversals."""
        printer = PrintOptions(bijection=False) if printer is None else printer
        printer = printer.evolve(traversal=self.traversal(printer.traversal), bijection=False)
        for c in self.matched_circuits():
            print()
            printer.print(c)

    def unique(self) -> _c.Circuit:
        return self.matcher().get_unique(self.circuit)

    def matched_circuits(self) -> Set[_c.Circuit]:
        return self.matcher().get(self.circuit)
