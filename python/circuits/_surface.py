"""rc's small circuit utilities that sit on the C walks (visit_circuit, deep_map, ... are in
the extension): paths, evaluation checks, kind predicates, matcher debugging, and
replace_all_randn_seeded."""

from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np

from . import _circuits
from ._circuits import (
    Array,
    Circuit,
    DiscreteVar,
    Index,
    IterativeMatcher,
    Scalar,
    StoredCumulantVar,
    Symbol,
    deep_map,
    replace_nodes,
    replace_outside_traversal_symbols,
)
from ._printing import PrintOptions, colorize
from ._values import hash_tensor


class ExceptionWithRustContext(Exception):
    """rc's wrapper of an exception raised inside a callback, with the context it was raised
    in; `exc` is the original exception."""

    def __init__(self, exc: BaseException, context: str = ""):
        super().__init__(f"{context}: {exc!r}" if context else repr(exc))
        self._exc = exc

    @property
    def exc(self) -> BaseException:
        return self._exc


def path_get(circuit: Circuit, path: List[int]) -> Optional[Circuit]:
    """The node reached by following child indices from circuit, or None past a leaf."""
    cur = circuit
    for i in path:
        children = cur.children
        if not 0 <= i < len(children):
            return None
        cur = children[i]
    return cur


def update_path(
    circuit: Circuit, path: List[int], updater: Callable[[Circuit], Circuit]
) -> Circuit:
    """circuit with the node at path replaced by updater(node), its ancestors rebuilt."""
    chain = [circuit]
    for depth, i in enumerate(path):
        children = chain[-1].children
        if not 0 <= i < len(children):
            raise IndexError(
                f"update_path: index {i} at depth {depth} is out of range for a node with "
                f"{len(children)} children (path {list(path)})"
            )
        chain.append(children[i])
    new = updater(chain[-1])
    if not isinstance(new, Circuit):
        raise TypeError(f"update_path: updater must return a Circuit, not {type(new).__name__}")
    for parent, i in zip(reversed(chain[:-1]), reversed(list(path))):
        new = parent.map_children_enumerate(lambda j, c, i=i, new=new: new if j == i else c)
    return new


def apply_in_traversal(circuit: Circuit, traversal, f: Callable[[Circuit], Circuit]) -> Circuit:
    """f applied to the part of circuit inside traversal: the nodes where traversal stops are
    replaced by Symbols (named '<name>_symbol_replacement'), f runs, and they are put back."""

    def namer(c: Circuit) -> Optional[str]:
        return None if c.op_name is None else f"{c.op_name}_symbol_replacement"

    replaced, back = replace_outside_traversal_symbols(circuit, traversal, namer)
    applied = f(replaced)
    if not isinstance(applied, Circuit):
        raise TypeError(
            f"apply_in_traversal: f must return a Circuit, not {type(applied).__name__}"
        )
    return replace_nodes(applied, back)


def check_evaluable(circuit: Circuit) -> None:
    """Raises rc's TensorEval errors when circuit cannot be evaluated as it is."""
    if not circuit.is_explicitly_computable:
        raise _circuits.TensorEvalNotExplicitlyComputableError(
            f"circuit '{circuit.name}' is not explicitly computable (it has a Symbol, DiscreteVar, "
            "StoredCumulantVar or SetSymbolicShape to bind or sample first)"
        )
    if not circuit.is_constant:
        raise _circuits.TensorEvalNotConstantError(
            f"circuit '{circuit.name}' is not constant (it has a random variable to sample first)"
        )


def evaluate(circuit: Circuit):
    """check_evaluable, then circuit.evaluate()."""
    check_evaluable(circuit)
    return circuit.evaluate()


def circuit_is_leaf(circuit: Circuit) -> bool:
    return isinstance(circuit, (Array, Symbol, Scalar))


def circuit_is_irreducible_node(circuit: Circuit) -> bool:
    return isinstance(circuit, (Array, Symbol))


def circuit_is_leaf_constant(circuit: Circuit) -> bool:
    return isinstance(circuit, (Array, Scalar))


def circuit_is_var(circuit: Circuit) -> bool:
    return isinstance(circuit, (StoredCumulantVar, DiscreteVar))


def _matcher_color(matcher: IterativeMatcher) -> int:
    return hash(matcher) % 14


def repr_matcher_debug(
    circuit: Circuit, matcher, print_options: Optional[PrintOptions] = None
) -> str:
    """The tree the matcher walks: each (node, state) line with ' # Found' where it matches and
    the state; a pair seen before is written once, then as "'name'..."."""
    options = PrintOptions() if print_options is None else print_options
    matcher = matcher if isinstance(matcher, IterativeMatcher) else IterativeMatcher(matcher)
    out: List[str] = []
    seen = set()
    stack: List[Tuple[Circuit, IterativeMatcher, Tuple[bool, ...]]] = [(circuit, matcher, ())]
    while stack:
        c, m, lasts = stack.pop()
        prefix = _arrows(lasts, options)
        key = (c, m)
        if key in seen:
            out.append(f"{prefix}'{c.name or ''}'...")
            continue
        seen.add(key)
        result = m.match_iterate(c)
        found = colorize(" # Found", "Green") if result.found else ""
        out.append(
            f"{prefix}{options.repr_line_info(c)}{found}{colorize(f' # {m}', _matcher_color(m))}"
        )
        updated = result.updated
        n = len(c.children)
        if updated is None:
            per_child = [m] * n
        elif isinstance(updated, list):
            per_child = [None if isinstance(u, _circuits.Finished) else u for u in updated]
        elif isinstance(updated, _circuits.Finished):
            per_child = [None] * n
        else:
            per_child = [updated] * n
        for i in reversed(range(n)):
            if per_child[i] is not None:
                stack.append((c.children[i], per_child[i], lasts + (i == n - 1,)))
    return "\n".join(out) + "\n"


def _arrows(lasts: Sequence[bool], options: PrintOptions) -> str:
    if not lasts:
        return ""
    if not getattr(options, "arrows", False):
        return "  " * len(lasts)
    parts = ["   " if last else "│  " for last in lasts[:-1]]
    parts.append("└‣ " if lasts[-1] else "├‣ ")
    return "".join(parts)


def print_matcher_debug(circuit: Circuit, matcher, print_options: Optional[PrintOptions] = None):
    print(repr_matcher_debug(circuit, matcher, print_options))


def _seed_of(hash_bytes: bytes) -> int:
    return int.from_bytes(hash_bytes[:8], "little") & 0x7FFF_FFFF_FFFF_FFFF


def replace_all_randn_seeded(circuit: Circuit) -> Circuit:
    """Every Array replaced by standard normal values of its shape and dtype, and every Index
    tensor by random positions in range, each seeded by the hash of the tensor it replaces (so
    equal tensors get equal replacements and the result is reproducible)."""

    def replace(c: Circuit) -> Circuit:
        if isinstance(c, Array):
            rng = np.random.default_rng(_seed_of(bytes.fromhex(c.tensor_hash_base16())))
            values = rng.standard_normal(c.shape)
            dtype = c.dtype or "float32"
            if dtype in ("float16", "float32", "float64"):
                values = values.astype(dtype)
            else:
                values = values.astype("float32")
            return Array(values, name=c.op_name)
        if isinstance(c, Index):
            child_shape = c.node.shape
            items = []
            changed = False
            for axis, item in enumerate(c.idx):
                if hasattr(item, "shape") and not isinstance(item, (int, slice)):
                    arr = np.asarray(item)
                    rng = np.random.default_rng(_seed_of(hash_tensor(item)))
                    items.append(rng.integers(0, max(child_shape[axis], 1), size=arr.shape))
                    changed = True
                else:
                    items.append(item)
            if changed:
                return Index(c.node, tuple(items), name=c.op_name)
        return c

    return deep_map(circuit, replace)
