"""rc's PrintOptions over the C printer, the debug repr, and circuit.print()/repr().

The C printer (`_circuits.print_repr`) does all the walking and formatting; this
module holds the knobs, turns colour names into codes, and saves the tensors a
bijective print refers to when asked (`tensor_save_dir`, `sync_tensors`).
"""

import os
import sys
import zlib
from typing import Callable, Dict, List, Literal, Optional, Type, Union

import numpy as np

from . import _circuits
from ._circuits import Circuit, IterativeMatcher, Matcher, new_traversal, restrict

# rc's colour of a printed line: a colour name, an index into the 14 terminal colours, or None.
CliColor = Union[
    Literal["Green"],
    Literal["Red"],
    Literal["Blue"],
    Literal["Yellow"],
    Literal["Cyan"],
    Literal["Magenta"],
    Literal["White"],
    None,
    int,
]
CircuitColorer = Callable[[Circuit], CliColor]
CircuitCommenter = Callable[[Circuit], str]

COLOR_NAMES = {"Red": 0, "Green": 1, "Yellow": 2, "Blue": 3, "Magenta": 4, "Cyan": 5, "White": 6}
# Terminal codes of colour 0, 1, ... (the printer's table).
COLOR_CODES = (31, 32, 33, 34, 35, 36, 90, 91, 92, 93, 94, 95, 96, 97)
DEFAULT_END_DEPTH = 2


class _NotSet:
    def __repr__(self):
        return "NOT_SET"


NOT_SET = _NotSet()


def color_code(color: CliColor) -> Optional[int]:
    """A colour as the printer takes it: None, an int >= 0, or one of COLOR_NAMES."""
    if color is None:
        return None
    if isinstance(color, str):
        if color not in COLOR_NAMES:
            raise ValueError(f"unknown colour {color!r}; expected one of {sorted(COLOR_NAMES)}")
        return COLOR_NAMES[color]
    if isinstance(color, bool) or not isinstance(color, int) or color < 0:
        raise TypeError(f"a colour is None, an int >= 0 or a name, got {color!r}")
    return color % len(COLOR_CODES)


def colorize(text: str, color: CliColor) -> str:
    """text in the terminal colour the printer uses for color (unchanged for None)."""
    code = color_code(color)
    if code is None:
        return text
    return f"\x1b[{COLOR_CODES[code]}m{text}\x1b[0m"


def _stable_index(text: str) -> int:
    return zlib.crc32(text.encode())


def _wants_color(stream) -> bool:
    """Colour codes only where something renders them: a terminal or a notebook."""
    if os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) or "ipykernel" in sys.modules


class PrintOptions:
    """How circuits print (rc's PrintOptions). `traversal` stops the print where the iterative
    matcher finishes, not where it finds something; bijection=True (the default) prints text that
    `Parser` reads back to equal circuits, and cannot be combined with a traversal,
    leaves_on_top, seen_children_same_line, tensor_index_literal or number_leaves."""

    _FIELDS = (
        "bijection",
        "reference_circuits",
        "shape_only_when_necessary",
        "traversal",
        "leaves_on_top",
        "arrows",
        "force_use_serial_numbers",
        "number_leaves",
        "colorer",
        "comment_arg_names",
        "commenters",
        "sync_tensors",
        "seen_children_same_line",
        "only_child_below",
        "tensor_index_literal",
        "show_all_named_axes",
        "skip_module_symbols",
        "tensor_save_dir",
        "comment_arrays",
    )

    def __init__(
        self,
        bijection: bool = True,
        reference_circuits: Optional[Dict[Circuit, str]] = None,
        reference_circuits_by_name: Optional[List[Circuit]] = None,
        shape_only_when_necessary: bool = True,
        traversal=None,
        leaves_on_top: bool = False,
        arrows: bool = False,
        force_use_serial_numbers: bool = False,
        number_leaves: bool = False,
        colorer: Optional[CircuitColorer] = None,
        comment_arg_names: bool = False,
        commenters: Optional[List[CircuitCommenter]] = None,
        sync_tensors: bool = False,
        seen_children_same_line: bool = False,
        only_child_below: bool = False,
        tensor_index_literal: bool = False,
        show_all_named_axes: bool = False,
        skip_module_symbols: bool = False,
        tensor_save_dir: Optional[str] = None,
        comment_arrays: bool = False,
    ):
        refs = dict(reference_circuits or {})
        for c in reference_circuits_by_name or []:
            if not isinstance(c, Circuit) or c.op_name is None:
                raise ValueError(f"reference_circuits_by_name: expected named circuits, got {c!r}")
            refs[c] = c.op_name
        if seen_children_same_line:
            raise NotImplementedError("PrintOptions: seen_children_same_line is not supported")
        self.bijection = bool(bijection)
        self.reference_circuits = refs
        self.shape_only_when_necessary = bool(shape_only_when_necessary)
        self.traversal = traversal
        self.leaves_on_top = bool(leaves_on_top)
        self.arrows = bool(arrows)
        self.force_use_serial_numbers = bool(force_use_serial_numbers)
        self.number_leaves = bool(number_leaves)
        self.colorer = colorer
        self.comment_arg_names = bool(comment_arg_names)
        self.commenters = list(commenters or [])
        self.sync_tensors = bool(sync_tensors)
        self.seen_children_same_line = False
        self.only_child_below = bool(only_child_below)
        self.tensor_index_literal = bool(tensor_index_literal)
        self.show_all_named_axes = bool(show_all_named_axes)
        self.skip_module_symbols = bool(skip_module_symbols)
        self.tensor_save_dir = None if tensor_save_dir is None else os.fspath(tensor_save_dir)
        self.comment_arrays = bool(comment_arrays)
        self.validate()

    @property
    def traversal(self) -> Optional[IterativeMatcher]:
        return self._traversal

    @traversal.setter
    def traversal(self, traversal):
        self._traversal = None if traversal is None else IterativeMatcher(traversal)

    @property
    def is_print_as_tree(self) -> bool:
        return self.number_leaves

    def validate(self):
        """ValueError when bijection is asked together with a knob that loses information."""
        if not self.bijection:
            return
        for knob in ("traversal", "leaves_on_top", "tensor_index_literal", "number_leaves"):
            if getattr(self, knob) not in (None, False):
                raise ValueError(
                    f"PrintOptions: bijection=True cannot be combined with {knob} (the text must "
                    "parse back to the same circuit); pass bijection=False"
                )

    def evolve(self, **changes) -> "PrintOptions":
        unknown = set(changes) - set(self._FIELDS)
        if unknown:
            raise TypeError(f"PrintOptions.evolve: unknown options {sorted(unknown)}")
        kwargs = {f: getattr(self, f) for f in self._FIELDS}
        kwargs.update({k: v for k, v in changes.items() if v is not NOT_SET})
        return PrintOptions(**kwargs)

    def __repr__(self):
        defaults = PrintOptions()
        changed = [
            f"{f}={getattr(self, f)!r}"
            for f in self._FIELDS
            if getattr(self, f) != getattr(defaults, f)
        ]
        return f"PrintOptions({', '.join(changed)})"

    def _tensor_sink(self):
        """A bijective print puts its tensors in the tensor cache (so a later Parser finds
        them) and, when asked, in a store."""
        if not self.bijection:
            return None
        from ._store import TensorStore, default_store_dir, remember_tensor

        directory = self.tensor_save_dir
        if directory is None and self.sync_tensors:
            directory = default_store_dir()
        if directory is None:
            return remember_tensor
        store = TensorStore(directory)

        def sink(hash_hex, array):
            remember_tensor(hash_hex, array)
            store.save(array, hash_hex=hash_hex)

        return sink

    def _all_commenters(self) -> List[CircuitCommenter]:
        return ([array_values_commenter] if self.comment_arrays else []) + self.commenters

    def _colorer_codes(self):
        colorer = self.colorer
        if colorer is None:
            return None
        return lambda c: color_code(colorer(c))

    def repr(self, *circuits: Circuit) -> str:
        return _circuits.print_repr(
            circuits,
            bijection=self.bijection,
            shape_only_when_necessary=self.shape_only_when_necessary,
            traversal=self.traversal,
            arrows=self.arrows,
            leaves_on_top=self.leaves_on_top,
            only_child_below=self.only_child_below,
            force_use_serial_numbers=self.force_use_serial_numbers,
            number_leaves=self.number_leaves,
            comment_arg_names=self.comment_arg_names,
            tensor_index_literal=self.tensor_index_literal,
            reference_circuits=self.reference_circuits or None,
            colorer=self._colorer_codes(),
            commenters=self._all_commenters() or None,
            tensor_sink=self._tensor_sink(),
            show_all_named_axes=self.show_all_named_axes,
        )

    def print(self, *circuits: Circuit, file=None) -> None:
        """Writes repr(*circuits); colours are left out when the stream is not a terminal or a
        notebook (or NO_COLOR is set)."""
        stream = sys.stdout if file is None else file
        options = self
        if self.colorer is not None and not _wants_color(stream):
            options = self.evolve(colorer=None)
        print(options.repr(*circuits), file=stream)

    def repr_line_info(self, circ: Circuit) -> str:
        return _circuits.print_line_info(
            circ,
            bijection=self.bijection,
            shape_only_when_necessary=self.shape_only_when_necessary,
            show_all_named_axes=self.show_all_named_axes,
        )

    def repr_extra_info(self, circ: Circuit) -> str:
        return _circuits.print_extra_info(
            circ,
            bijection=self.bijection,
            shape_only_when_necessary=self.shape_only_when_necessary,
            show_all_named_axes=self.show_all_named_axes,
        )

    @staticmethod
    def debug_default(end_depth: Optional[int] = DEFAULT_END_DEPTH) -> "PrintOptions":
        """Non-bijective, every shape shown, printing the root and end_depth - 1 levels below it
        (None: everything)."""
        return PrintOptions(
            bijection=False,
            shape_only_when_necessary=False,
            traversal=None if end_depth is None else new_traversal(end_depth=end_depth),
        )

    @staticmethod
    def compiler_default() -> "PrintOptions":
        return PrintOptions(force_use_serial_numbers=True)

    @staticmethod
    def type_nest_default(circuit_type, traversal=None) -> "PrintOptions":
        """Expands only nodes of circuit_type (nested Einsums, nested Adds), numbering leaves."""
        inner = IterativeMatcher(True) if traversal is None else IterativeMatcher(traversal)
        nest = restrict(inner, term_early_at=~Matcher(circuit_type))
        return PrintOptions(bijection=False, number_leaves=True, traversal=nest)

    @staticmethod
    def einsum_nest_default(traversal=None) -> "PrintOptions":
        return PrintOptions.type_nest_default(_circuits.Einsum, traversal)

    @staticmethod
    def add_nest_default(traversal=None) -> "PrintOptions":
        return PrintOptions.type_nest_default(_circuits.Add, traversal)

    @staticmethod
    def repr_depth(*circuits: Circuit, end_depth: int = 3) -> str:
        return PrintOptions(bijection=False, traversal=new_traversal(end_depth=end_depth)).repr(
            *circuits
        )

    @staticmethod
    def print_depth(*circuits: Circuit, end_depth: int = 3) -> None:
        print(PrintOptions.repr_depth(*circuits, end_depth=end_depth))

    @staticmethod
    def size_colorer() -> CircuitColorer:
        """Red past 10^10 elements, yellow past 3*10^8, green past 3*10^5."""

        def colorer(c):
            n = c.numel
            return (
                "Red"
                if n > 10**10
                else "Yellow" if n > 3 * 10**8 else "Green" if n > 3 * 10**5 else None
            )

        return colorer

    @staticmethod
    def type_colorer() -> CircuitColorer:
        return lambda c: _stable_index(c.variant_string)

    @staticmethod
    def hash_colorer() -> CircuitColorer:
        return lambda c: int.from_bytes(c.hash[:8], "little")

    @staticmethod
    def computability_colorer() -> CircuitColorer:
        return lambda c: None if c.is_explicitly_computable else "Yellow"

    @staticmethod
    def fixed_color(color: CliColor) -> CircuitColorer:
        code = color_code(color)
        return lambda c: code

    @staticmethod
    def circuit_set_colorer(map: Dict[str, object]) -> CircuitColorer:
        """{colour name: circuits}: nodes in a set get its colour."""
        by_hash = {}
        for color, circs in map.items():
            code = color_code(color)
            for c in [circs] if isinstance(circs, Circuit) else circs:
                by_hash[c.hash] = code
        return lambda c: by_hash.get(c.hash)

    @staticmethod
    def size_threshold_commenter(threshold: int = 400_000_000) -> CircuitCommenter:
        def commenter(c):
            if c.numel > threshold and not c.is_array():
                return colorize(oom_fmt(c.numel), "Red")
            return ""

        return commenter

    @staticmethod
    def dtype_commenter(only_arrays: bool = False) -> CircuitCommenter:
        def commenter(c):
            if c.dtype is None or (only_arrays and not c.is_array()):
                return ""
            return str(c.dtype)

        return commenter


def array_values_commenter(c: Circuit, shown: int = 4) -> str:
    """An Array's dtype, first values and, past one value, mean and standard deviation:
    'float32 [0.1, -2, 0.5, 1, ...] mean 0.02 std 0.98'. Empty for other nodes."""
    if not c.is_array():
        return ""
    values = np.asarray(c.value.detach().cpu() if hasattr(c.value, "detach") else c.value)
    flat = values.reshape(-1)
    head = ", ".join(f"{v:.4g}" if flat.dtype.kind == "f" else str(v) for v in flat[:shown])
    text = f"{values.dtype} [{head}{', ...' if flat.size > shown else ''}]"
    if flat.size > 1 and flat.dtype.kind in "fiu":
        as_f64 = flat.astype(np.float64)
        text += f" mean {as_f64.mean():.4g} std {as_f64.std():.4g}"
    return text


def oom_fmt(n: int) -> str:
    """n with a metric suffix, rounded down: 1500 -> '1K', 2_300_000 -> '2M'."""
    for unit in ("", "K", "M", "G", "T", "P", "E", "Z"):
        if n < 1000:
            return f"{n}{unit}"
        n //= 1000
    return f"{n}Y"


def print_circuit_type_check(x: Type[Circuit]) -> Type[Circuit]:
    """rc's check that x is one of the node classes: writes it to stderr and returns it; any other
    value (the Circuit base class included) is a TypeError."""
    if not isinstance(x, type) or x not in set(dict(_circuits.KINDS).values()):
        raise TypeError(
            f"print_circuit_type_check: expected a circuit class such as Einsum, got {x!r}"
        )
    print(f"print_circuit_type_check: x = {x.__name__}", file=sys.stderr)
    return x


_debug_options: Optional[PrintOptions] = None


def set_debug_print_options(options: PrintOptions) -> None:
    """Options of repr()/str() of circuits (default: PrintOptions.debug_default(), whose depth
    RR_DEBUG_END_DEPTH sets)."""
    if not isinstance(options, PrintOptions):
        raise TypeError(f"set_debug_print_options: expected PrintOptions, got {options!r}")
    global _debug_options
    _debug_options = options
    Circuit.__repr__ = _debug_repr
    Circuit.__str__ = _debug_repr


def _debug_repr(self: Circuit) -> str:
    return f"<{_debug_options.repr(self)}>"


def _print_options_arg(options, what) -> PrintOptions:
    if options is None:
        return PrintOptions()
    from ._html import PrintHtmlOptions

    if not isinstance(options, (PrintOptions, PrintHtmlOptions)):
        raise TypeError(f"{what}: expected PrintOptions, got {options!r}")
    return options


def circuit_print(self: Circuit, options: Optional[PrintOptions] = None) -> None:
    _print_options_arg(options, "Circuit.print").print(self)


def circuit_repr(self: Circuit, options: Optional[PrintOptions] = None) -> str:
    return _print_options_arg(options, "Circuit.repr").repr(self)


def install():
    Circuit.print = circuit_print
    Circuit.repr = circuit_repr
