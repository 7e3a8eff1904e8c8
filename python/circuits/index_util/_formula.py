"""The little index language of Gather and Scatter: parsing a formula such as
`out[i, j] = src[i, pos[j], 0]` or `dst[i, pos[i]] <- src[i]` and resolving its names into
index expressions over iteration axes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional, Tuple, Union

OUT_NAME = "out"


# --- syntax -----------------------------------------------------------------------------


@dataclass
class Access:
    """A name, optionally indexed: `name` or `name[e, ...]`."""

    name: str
    idx: List["Expr"] = field(default_factory=list)

    def __str__(self) -> str:
        if not self.idx:
            return self.name
        return f"{self.name}[{', '.join(str(e) for e in self.idx)}]"


@dataclass
class Int:
    value: int

    def __str__(self) -> str:
        return str(self.value)


Expr = Union[Access, Int]


@dataclass
class Equation:
    op: str  # "=" or "<-"
    lhs: Expr
    rhs: Expr

    def __str__(self) -> str:
        return f"{self.lhs} {self.op} {self.rhs}"


class _Reader:
    """Characters of a formula with whitespace and `#` comments skipped between tokens."""

    def __init__(self, text: str):
        self.text = text
        self.at = 0

    def skip(self) -> None:
        t = self.text
        while self.at < len(t):
            if t[self.at] in " \t\n":
                self.at += 1
            elif t[self.at] == "#":
                while self.at < len(t) and t[self.at] != "\n":
                    self.at += 1
            else:
                break

    def peek(self, n: int = 1) -> str:
        self.skip()
        return self.text[self.at : self.at + n]

    def take_while(self, ok) -> str:
        self.skip()
        start = self.at
        while self.at < len(self.text) and ok(self.text[self.at]):
            self.at += 1
        return self.text[start : self.at]


def _expr(r: _Reader) -> Optional[Expr]:
    c = r.peek()
    if c.isalpha() or c == "_":
        name = r.take_while(lambda ch: ch.isalnum() or ch == "_")
        access = Access(name)
        if r.peek() != "[":
            return access
        r.at += 1
        while r.peek() != "]":
            e = _expr(r)
            if e is None:
                return None
            access.idx.append(e)
            if r.peek() == ",":
                r.at += 1
            elif r.peek() != "]":
                return None
        r.at += 1
        return access
    if c.isdigit():
        return Int(int(r.take_while(str.isdigit)))
    return None


def parse_equation(text: str) -> Equation:
    """`lhs = rhs` or `lhs <- rhs`; ValueError naming the text when it is not one."""
    r = _Reader(text)
    lhs = _expr(r)
    op = "<-" if r.peek(2) == "<-" else "=" if r.peek() == "=" else None
    if lhs is not None and op is not None:
        r.at += len(op)
        rhs = _expr(r)
        if rhs is not None and r.peek() == "":
            return Equation(op, lhs, rhs)
    raise ValueError(f"Invalid equation: {text!r}")


def is_ident(s: str) -> bool:
    return s != "" and (s[0].isalpha() or s[0] == "_") and all(c.isalnum() or c == "_" for c in s)


# --- resolved forms -----------------------------------------------------------------------


@dataclass(frozen=True)
class Axis:
    """The iteration axis number `axis`."""

    axis: int


@dataclass(frozen=True)
class Lit:
    """A constant position."""

    value: int


@dataclass(frozen=True)
class PosData:
    """The position array's value (only in the indices of the array it indexes)."""


Index = Union[Axis, Lit, PosData]


def _render(names: List[str], pos_name: str, pos: List[Index], indices: List[Index]) -> str:
    def one(i: Index) -> str:
        if isinstance(i, Axis):
            return names[i.axis]
        if isinstance(i, Lit):
            return str(i.value)
        return pos_name + _render(names, pos_name, pos, pos) if pos else pos_name

    return f"[{', '.join(one(i) for i in indices)}]" if indices else ""


@dataclass
class GatherSpec:
    """out[axes] = src[src_indices] with exactly one PosData in src_indices, read from
    pos[pos_indices]."""

    axis_names: List[str]
    src_name: str
    pos_name: str
    src_indices: List[Index]
    pos_indices: List[Index]

    @property
    def out_rank(self) -> int:
        return len(self.axis_names)

    def __str__(self) -> str:
        out = [Axis(i) for i in range(self.out_rank)]
        r = lambda ind: _render(self.axis_names, self.pos_name, self.pos_indices, ind)  # noqa: E731
        return f"{OUT_NAME}{r(out)} = {self.src_name}{r(self.src_indices)}"

    @staticmethod
    def parse(text: str, arr_names) -> "GatherSpec":
        return resolve_gather(parse_equation(text), list(arr_names))


@dataclass
class ScatterSpec:
    """dst[dst_indices] <- src[src_indices] with exactly one PosData in dst_indices, read from
    pos[pos_indices]; reduce None (write), "add" or "multiply"."""

    axis_names: List[str]
    dst_name: str
    src_name: str
    pos_name: str
    dst_indices: List[Index]
    src_indices: List[Index]
    pos_indices: List[Index]
    reduce: Optional[str]

    def __str__(self) -> str:
        r = lambda ind: _render(self.axis_names, self.pos_name, self.pos_indices, ind)  # noqa: E731
        return f"{self.dst_name}{r(self.dst_indices)} <- {self.src_name}{r(self.src_indices)}"

    @staticmethod
    def parse(text: str, arr_names, reduce: Optional[str] = None) -> "ScatterSpec":
        return resolve_scatter(parse_equation(text), list(arr_names), reduce)


def _unique(names: List[str]) -> bool:
    return len(set(names)) == len(names)


def resolve_gather(eq: Equation, arr_names: List[str]) -> GatherSpec:
    if eq.op != "=":
        raise ValueError(f"Gather formula must be written with '=' operator; got: {eq.op!r}")
    if len(arr_names) != 2:
        raise ValueError(f"Expected exactly two input array names for gather; got: {arr_names!r}")
    if not (isinstance(eq.lhs, Access) and eq.lhs.name == OUT_NAME):
        raise ValueError(f"Invalid left hand side; expected {OUT_NAME!r} array, got: {eq.lhs}")
    if not _unique([OUT_NAME] + arr_names):
        raise ValueError("Array names must be unique")
    taken = {OUT_NAME, *arr_names}
    axis_names: List[str] = []
    for e in eq.lhs.idx:
        if not (isinstance(e, Access) and not e.idx):
            raise ValueError(f"Invalid index name: {e}")
        if e.name in taken:
            raise ValueError(f"Index name conflicts with a name already in scope: {e.name!r}")
        taken.add(e.name)
        axis_names.append(e.name)
    if not isinstance(eq.rhs, Access):
        raise ValueError(
            f"Invalid right hand side; expected array access expression, got: {eq.rhs}"
        )
    src = eq.rhs.name
    if src not in arr_names:
        raise ValueError(f"Invalid 'src' array name; expected one of {arr_names!r}, got: {src!r}")
    pos = next(n for n in arr_names if n != src)

    def direct(e: Expr) -> Index:
        if isinstance(e, Int):
            return Lit(e.value)
        if not e.idx:
            if e.name not in axis_names:
                raise ValueError(
                    f"Index name not in scope; expected one of {axis_names!r}, got: {e.name!r}"
                )
            return Axis(axis_names.index(e.name))
        raise ValueError(f"Invalid index expression: {e}")

    src_indices: List[Index] = []
    pos_indices: Optional[List[Index]] = None
    for e in eq.rhs.idx:
        if isinstance(e, Access) and e.name == pos:
            if pos_indices is not None:
                raise ValueError(f"Index array {pos!r} appears more than once")
            pos_indices = [direct(i) for i in e.idx]
            src_indices.append(PosData())
        else:
            src_indices.append(direct(e))
    if pos_indices is None:
        raise ValueError(f"Index array {pos!r} must be used")
    return GatherSpec(axis_names, src, pos, src_indices, pos_indices)


def resolve_scatter(eq: Equation, arr_names: List[str], reduce: Optional[str]) -> ScatterSpec:
    if reduce not in (None, "add", "multiply"):
        raise ValueError(f"Scatter reduce must be None, 'add' or 'multiply'; got: {reduce!r}")
    if eq.op != "<-":
        raise ValueError(f"Scatter formula must be written with '<-' operator; got: {eq.op!r}")
    if len(arr_names) != 3:
        raise ValueError(
            f"Expected exactly three input array names for scatter; got: {arr_names!r}"
        )
    if not _unique(arr_names):
        raise ValueError(f"Input array names must be unique; got: {arr_names!r}")
    names = {"dst": eq.lhs, "src": eq.rhs}
    for role, side in names.items():
        if not isinstance(side, Access):
            which = "left" if role == "dst" else "right"
            raise ValueError(
                f"Invalid {which} hand side; expected array access expression, got: {side}"
            )
        if side.name not in arr_names:
            raise ValueError(
                f"Invalid {role!r} array name; expected one of {arr_names!r}, got: {side.name!r}"
            )
    dst, src = eq.lhs.name, eq.rhs.name
    pos = next(n for n in arr_names if n not in (dst, src))
    axis_names: List[str] = []

    def direct(where: str, e: Expr) -> Index:
        if isinstance(e, Int):
            return Lit(e.value)
        if e.idx:
            raise ValueError(f"Invalid index expression in {where}: {e}")
        if e.name == pos:
            raise ValueError(f"Scatter index array {pos!r} cannot appear in indices for {where}")
        if e.name not in axis_names:
            axis_names.append(e.name)
        return Axis(axis_names.index(e.name))

    dst_indices: List[Index] = []
    pos_indices: Optional[List[Index]] = None
    for e in eq.lhs.idx:
        if isinstance(e, Access) and e.name == pos:
            if pos_indices is not None:
                raise ValueError(f"Scatter index array {pos!r} must be used exactly once")
            pos_indices = [direct(repr(pos), i) for i in e.idx]
            dst_indices.append(PosData())
        else:
            dst_indices.append(direct(repr(dst), e))
    if pos_indices is None:
        raise ValueError(f"Scatter index array {pos!r} must be used")
    src_indices = [direct(repr(src), e) for e in eq.rhs.idx]
    axes = set(range(len(axis_names)))
    in_dst = {i.axis for i in dst_indices if isinstance(i, Axis)}
    in_pos = {i.axis for i in pos_indices if isinstance(i, Axis)}
    missing_dst = sorted(axes - in_dst)
    if len(missing_dst) > 1:
        raise ValueError(
            "At most one index variable can be missing from indices used to directly access "
            f"{dst!r} array; "
            f"found {len(missing_dst)} missing indices: {[axis_names[i] for i in missing_dst]!r}"
        )
    missing_lhs = sorted(axes - in_dst - in_pos)
    if missing_lhs:
        raise ValueError(
            "All index variables must be used on left hand side of scatter formula; "
            f"found {len(missing_lhs)} missing indices: {[axis_names[i] for i in missing_lhs]!r}"
        )
    return ScatterSpec(axis_names, dst, src, pos, dst_indices, src_indices, pos_indices, reduce)


def shapes_of(
    n_axes: int,
    arrays: List[Tuple[str, Tuple[int, ...], List[Index]]],
    user_sizes: Optional[List[Optional[int]]] = None,
) -> Tuple[List[int], List[int]]:
    """(batch shape, iteration axis sizes) of arrays given as (name, shape, indices): each array's
    leading axes past its indices are batch axes, the same for all arrays; an axis's size comes
    from the first array axis it indexes directly, else from user_sizes (whose extra leading
    entries are batch sizes, None meaning 1)."""
    user = list(user_sizes) if user_sizes is not None else [None] * n_axes
    if len(user) < n_axes:
        raise ValueError(f"Expected at least {n_axes} axis sizes, got {len(user)}")
    user_batch = [1 if s is None else s for s in user[: len(user) - n_axes]]
    user_axes = user[len(user) - n_axes :]
    batches = []
    for name, shape, indices in arrays:
        if len(shape) < len(indices):
            raise ValueError(
                f"Expected array {name!r} to have rank at least {len(indices)}; "
                f"got shape {list(shape)}"
            )
        batches.append(list(shape[: len(shape) - len(indices)]))
    batch = batches[0]
    if (
        any(b != batch for b in batches)
        or len(user_batch) > len(batch)
        or any(u not in (1, b) for u, b in zip(reversed(user_batch), reversed(batch)))
    ):
        raise ValueError("Batch dimensions are incompatible")
    sizes: List[Optional[int]] = [None] * n_axes
    first: List[Optional[str]] = [None] * n_axes
    for name, shape, indices in arrays:
        for k, idx in enumerate(indices):
            if not isinstance(idx, Axis):
                continue
            size = shape[len(shape) - len(indices) + k]
            where = f"{name}.shape[{k - len(indices)}]"
            if sizes[idx.axis] is None:
                sizes[idx.axis], first[idx.axis] = size, where
            elif sizes[idx.axis] != size:
                raise ValueError(
                    f"Incompatible shapes: expected {first[idx.axis]} == {where}; "
                    f"got {first[idx.axis]} = {sizes[idx.axis]}, {where} = {size}"
                )
    out: List[int] = []
    for k in range(n_axes):
        if sizes[k] is None:
            if user_axes[k] is None:
                raise ValueError(f"Could not infer size for axis {k - n_axes}")
            out.append(int(user_axes[k]))
        else:
            if user_axes[k] is not None and user_axes[k] != sizes[k]:
                raise ValueError(
                    f"Axis {k - n_axes} has size {sizes[k]}, but out_shape gives {user_axes[k]}"
                )
            out.append(sizes[k])
    return batch, out
