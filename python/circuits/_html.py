"""Circuits in notebooks: a collapsible tree of HTML `<details>` elements (no JavaScript, no
server), one node per row with the printer's line text, coloured by kind.

`PrintHtmlOptions.traversal` picks the rows open at first; `overall_traversal` the rows
rendered at all (collapsed past `traversal`). A node seen before is rendered once and referred
to by its identifier afterwards, as in the text format.
"""

import html
from typing import Callable, List, Optional, Union

from . import _circuits
from ._circuits import Circuit, IterativeMatcher, traverse_until_depth
from ._printing import CircuitCommenter, PrintOptions

CircuitHtmlColorer = Callable[[Circuit], Optional[str]]

# Dark-mode friendly colours for the type colourer, by kind.
_KIND_COLORS = (
    "#f28b82",
    "#fbbc04",
    "#fff475",
    "#ccff90",
    "#a7ffeb",
    "#cbf0f8",
    "#aecbfa",
    "#d7aefb",
    "#fdcfe8",
    "#e6c9a8",
)

_STYLE = (
    "<style>.circuits-tree details{margin-left:1.2em}"
    ".circuits-tree .leaf{margin-left:2.4em}"
    ".circuits-tree summary,.circuits-tree .leaf{font-family:monospace;white-space:pre}"
    ".circuits-tree .ref{opacity:0.6}</style>"
)


def _stable_kind_color(c: Circuit) -> str:
    import zlib

    return _KIND_COLORS[zlib.crc32(c.variant_string.encode()) % len(_KIND_COLORS)]


def _states_below(state, node: Circuit):
    """Per-child traversal states after applying state to node, or None when it finishes there
    (a None entry: that child is shown but not expanded)."""
    if state is None:
        return [None] * node.num_children, True
    result = state.match_iterate(node)
    updated = result.updated
    n = node.num_children
    if updated is None:
        return [state] * n, n > 0
    if isinstance(updated, (list, tuple)):
        states = [None if s is None or _is_finished(s) else IterativeMatcher(s) for s in updated]
        return states, any(s is not None for s in states)
    if _is_finished(updated):
        return [None] * n, False
    return [IterativeMatcher(updated)] * n, n > 0


def _is_finished(x) -> bool:
    return x is _circuits.FINISHED or isinstance(x, _circuits.Finished)


class PrintHtmlOptions:
    """rc's PrintHtmlOptions: `repr()` returns the HTML, `print()` displays it in a notebook."""

    def __init__(
        self,
        shape_only_when_necessary: bool = True,
        traversal=None,
        display_copy_button: bool = True,
        colorer: Optional[CircuitHtmlColorer] = None,
        primary_color: str = "lightgray",
        number_leaves: bool = False,
        keep_all_cells: bool = True,
        comment_arg_names: bool = False,
        commenters: Optional[List[CircuitCommenter]] = None,
        overall_traversal=None,
        max_rows: int = 20_000,
    ):
        self.shape_only_when_necessary = bool(shape_only_when_necessary)
        self.traversal = (
            traverse_until_depth(3) if traversal is None else IterativeMatcher(traversal)
        )
        # rc's default: nothing is rendered beyond what is open at first.
        self.overall_traversal = IterativeMatcher(
            False if overall_traversal is None else overall_traversal
        )
        self.display_copy_button = bool(display_copy_button)
        self.colorer = PrintHtmlOptions.type_colorer() if colorer is None else colorer
        self.primary_color = primary_color
        self.number_leaves = bool(number_leaves)
        self.keep_all_cells = bool(keep_all_cells)
        self.comment_arg_names = bool(comment_arg_names)
        self.commenters = list(commenters or [])
        self.max_rows = int(max_rows)

    def evolve(self, **changes) -> "PrintHtmlOptions":
        kwargs = dict(vars(self))
        kwargs.update(changes)
        return PrintHtmlOptions(**kwargs)

    def light(self) -> "PrintHtmlOptions":
        return self.evolve(primary_color="black")

    @staticmethod
    def type_colorer() -> CircuitHtmlColorer:
        return _stable_kind_color

    @staticmethod
    def fixed_color(color: str) -> CircuitHtmlColorer:
        return lambda c: color

    @staticmethod
    def print_depth(*circuits: Circuit, depth: int = 3) -> None:
        PrintHtmlOptions(traversal=traverse_until_depth(depth)).print(*circuits)

    def repr(self, *circuits: Circuit) -> str:
        return _HtmlWriter(self).write(circuits)

    def print(self, *circuits: Circuit) -> None:
        try:
            from IPython.display import HTML, display
        except ImportError:
            PrintOptions(
                bijection=False, shape_only_when_necessary=self.shape_only_when_necessary
            ).print(*circuits)
            return
        display(HTML(self.repr(*circuits)))


class _HtmlWriter:
    def __init__(self, options: PrintHtmlOptions):
        self.o = options
        self.seen = {}  # hash -> identifier text
        self.next_serial = 0
        self.next_leaf = 0
        self.rows = 0
        self.out: List[str] = []

    def ident(self, c: Circuit) -> str:
        if c.op_name is not None:
            return c.op_name
        ident = str(self.next_serial)
        self.next_serial += 1
        return ident

    def line(self, c: Circuit, parent: Optional[Circuit], child_ix: int, leaf: bool) -> str:
        ident = self.ident(c)
        self.seen[c.hash] = ident
        info = _circuits.print_line_info(
            c, bijection=False, shape_only_when_necessary=self.o.shape_only_when_necessary
        )
        comments = []
        if self.o.comment_arg_names and parent is not None and parent.is_einsum():
            comments.append(
                PrintOptions(bijection=False)
                .repr_extra_info(parent)
                .split("->")[0]
                .split(",")[child_ix]
            )
        if self.o.number_leaves and leaf:
            comments.append(str(self.next_leaf))
            self.next_leaf += 1
        comments += [t for t in (f(c) for f in self.o.commenters) if t]
        color = self.o.colorer(c) or self.o.primary_color
        text = html.escape(ident + info + "".join(f"  # {t}" for t in comments))
        return f'<span style="color:{html.escape(color)}">{text}</span>'

    def write(self, circuits) -> str:
        self.out.append(
            f'<div class="circuits-tree" style="color:{html.escape(self.o.primary_color)}">'
        )
        self.out.append(_STYLE)
        for c in circuits:
            if not isinstance(c, Circuit):
                raise TypeError(f"PrintHtmlOptions: expected circuits, got {c!r}")
            self.node(c, self.o.traversal, self.o.overall_traversal, None, 0)
        self.out.append("</div>")
        return "".join(self.out)

    def expansion(self, state, c):
        """(child states, expanded) for one traversal; a None state shows c unexpanded."""
        if state is None:
            return [None] * c.num_children, False
        return _states_below(state, c)

    def node(self, root, open_state, load_state, parent, child_ix):
        # Explicit stack: deep circuits must not hit Python's recursion limit.
        stack = [("node", root, open_state, load_state, parent, child_ix)]
        while stack:
            item = stack.pop()
            if item[0] == "close":
                self.out.append("</details>")
                continue
            _, c, open_s, load_s, parent, child_ix = item
            if c.hash in self.seen:
                ref = html.escape(self.seen[c.hash])
                self.out.append(f'<div class="leaf ref">{ref}  (repeated)</div>')
                continue
            open_children, is_open = self.expansion(open_s, c)
            load_children, load = self.expansion(load_s, c)
            expand = (is_open or load) and c.num_children > 0 and self.rows < self.o.max_rows
            self.rows += 1
            row = self.line(c, parent, child_ix, leaf=not expand)
            if not expand:
                more = " ..." if c.num_children > 0 else ""
                self.out.append(f'<div class="leaf">{row}{more}</div>')
                continue
            self.out.append(f"<details{' open' if is_open else ''}><summary>{row}</summary>")
            stack.append(("close",))
            for i in reversed(range(c.num_children)):
                child_open = open_children[i] if is_open else None
                child_load = load_children[i] if load else None
                stack.append(("node", c.children[i], child_open, child_load, c, i))


def circuit_repr_html(self: Circuit) -> str:
    return PrintHtmlOptions().repr(self)


def circuit_print_html(self: Circuit, options: Optional[PrintHtmlOptions] = None) -> None:
    (PrintHtmlOptions() if options is None else options).print(self)


def install():
    Circuit._repr_html_ = circuit_repr_html
    Circuit.print_html = circuit_print_html


# What Circuit.print, Circuit.repr and the other printing entry points take (rc's union).
PrintOptionsBase = Union[PrintOptions, PrintHtmlOptions]
