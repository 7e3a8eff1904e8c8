"""rc's index_util: Gather and Scatter, GeneralFunction specs written as index formulas.

    Gather.new("out[i, j] = activations[i, positions[i], j]", {"activations": a, "positions": p})
    Scatter.new("dst[i, pos[i], j] <- src[i, j]", {"dst": d, "src": s, "pos": p}, reduce="add")

An iteration variable is any name indexing the arrays; a constant is a non-negative integer.
Gather's formula is `out[axes...] = src[...]` with the position array used once inside src's
indices; Scatter's is `dst[...] <- src[...]` with the position array used once inside dst's
indices, every variable on the left, and at most one variable missing from dst's own indices.
Leading axes past what the formula indexes are batch axes, the same for every array.
"""

from __future__ import annotations

import uuid
from typing import Dict, List, Optional, Sequence

import torch

from .. import _circuits
from .._device_dtype import TorchDeviceDtypeOp
from .._methods import GeneralFunctionShapeInfo, GeneralFunctionSpecBase
from ._formula import Axis, GatherSpec, Lit, PosData, ScatterSpec, shapes_of

__all__ = ["Gather", "Scatter"]

_GATHER_UUID = uuid.UUID("7815ae94-c2bf-4e9b-a1a1-d2c96767c9a8").bytes
_SCATTER_UUID = uuid.UUID("b3b3c3c3-1b2d-4c9b-9f7a-0f3e8b3d3b3b").bytes


def _hash_bytes(head: bytes, *parts: str) -> bytes:
    out = bytearray(head)
    for p in parts:
        data = p.encode("utf-8")
        out += len(data).to_bytes(8, "little") + data
    return bytes(out)


class _Grid:
    """Index tensors over the iteration space batch + axes: one arange per axis, shaped to
    broadcast against the others."""

    def __init__(self, batch: List[int], sizes: List[int], device):
        self.shape = list(batch) + list(sizes)
        self.batch_rank = len(batch)
        rank = len(self.shape)

        def arange(k: int) -> torch.Tensor:
            view = [1] * rank
            view[k] = self.shape[k]
            return torch.arange(self.shape[k], device=device).reshape(view)

        self.batch = [arange(k) for k in range(len(batch))]
        self.axes = [arange(len(batch) + k) for k in range(len(sizes))]

    def entry(self, idx, pos_values=None):
        if isinstance(idx, Axis):
            return self.axes[idx.axis]
        if isinstance(idx, Lit):
            return idx.value
        return pos_values

    def read(self, arr: torch.Tensor, indices, pos_values=None) -> torch.Tensor:
        """arr at every point of the grid, as a tensor of the grid's shape."""
        key = tuple(self.batch) + tuple(self.entry(i, pos_values) for i in indices)
        return arr[key].expand(self.shape) if key else arr.expand(self.shape)


def _check_positions(values: torch.Tensor, size: int, name: str, what: str) -> None:
    if values.numel() and (int(values.min()) < 0 or int(values.max()) >= size):
        bad = values[(values < 0) | (values >= size)].flatten()[0]
        raise IndexError(
            f"{what}: {name} holds index {int(bad)}, out of bounds for an axis of size {size}"
        )


def _check_literals(indices, shape, name: str, what: str) -> None:
    rank = len(indices)
    for k, idx in enumerate(indices):
        if isinstance(idx, Lit) and idx.value >= shape[len(shape) - rank + k]:
            raise IndexError(
                f"{what}: constant index {idx.value} is out of bounds for "
                f"{name}.shape[{k - rank}] = "
                f"{shape[len(shape) - rank + k]}"
            )


def _pos_dtype_check(dd: TorchDeviceDtypeOp, what: str, pos_name: str) -> None:
    if dd.dtype is not None and dd.dtype != "int64":
        raise ValueError(f"{what}: the position array {pos_name!r} must be int64, got {dd.dtype}")


class Gather(GeneralFunctionSpecBase):
    """Elements of a source array at positions read from a position array:
    `out[i, j] = src[i, pos[i], j]`. Gather.new builds the GeneralFunction; out_shape gives the
    sizes of output axes the formula cannot infer (None where it can)."""

    def __init__(
        self, s: str, *args: str, out_shape: Optional[Sequence[Optional[int]]] = None
    ) -> None:
        self._spec = GatherSpec.parse(s, args)
        self._orig_out_shape = list(out_shape) if out_shape is not None else None

    @property
    def name(self) -> str:
        extra = f", out_shape={self._orig_out_shape!r}" if self._orig_out_shape is not None else ""
        return (
            f"Gather({str(self._spec)!r}, {self._spec.src_name!r}, {self._spec.pos_name!r}{extra})"
        )

    def compute_hash_bytes(self) -> bytes:
        s = self._spec
        return _hash_bytes(_GATHER_UUID, str(s), s.src_name, s.pos_name, str(self._orig_out_shape))

    def _shapes(self, src_shape, pos_shape):
        s = self._spec
        return shapes_of(
            s.out_rank,
            [
                (s.src_name, tuple(src_shape), s.src_indices),
                (s.pos_name, tuple(pos_shape), s.pos_indices),
            ],
            self._orig_out_shape,
        )

    def get_shape_info(self, *shapes) -> GeneralFunctionShapeInfo:
        src_shape, pos_shape = shapes
        batch, sizes = self._shapes(src_shape, pos_shape)
        n = len(self._orig_out_shape) if self._orig_out_shape is not None else len(sizes)
        return GeneralFunctionShapeInfo(tuple(batch + sizes), n, [True, True])

    def function(self, *inputs):
        s = self._spec
        src, pos = (torch.as_tensor(x) for x in inputs)
        batch, sizes = self._shapes(src.shape, pos.shape)
        _check_literals(s.src_indices, src.shape, s.src_name, "Gather")
        _check_literals(s.pos_indices, pos.shape, s.pos_name, "Gather")
        grid = _Grid(batch, sizes, src.device)
        positions = grid.read(pos, s.pos_indices)
        at = s.src_indices.index(PosData())
        _check_positions(
            positions, src.shape[src.ndim - len(s.src_indices) + at], s.pos_name, "Gather"
        )
        return grid.read(src, s.src_indices, positions).contiguous()

    def get_device_dtype_override(self, *device_dtypes) -> Optional[TorchDeviceDtypeOp]:
        src_dd, pos_dd = device_dtypes
        _pos_dtype_check(pos_dd, "Gather", self._spec.pos_name)
        return src_dd

    @classmethod
    def new(
        cls,
        spec: str,
        args: Dict[str, "_circuits.Circuit"],
        out_shape: Optional[Sequence[Optional[int]]] = None,
        name: Optional[str] = None,
    ):
        f = cls(spec, *args.keys(), out_shape=out_shape)
        return _circuits.GeneralFunction(
            args[f._spec.src_name], args[f._spec.pos_name], spec=f, name=name
        )


class Scatter(GeneralFunctionSpecBase):
    """A copy of a destination array with elements at positions read from a position array
    written (reduce None), added to ("add") or multiplied by ("multiply") a source array's:
    `dst[i, pos[i], j] <- src[i, j]`. Scatter.new builds the GeneralFunction."""

    def __init__(self, s: str, *args: str, reduce: Optional[str] = None) -> None:
        self._spec = ScatterSpec.parse(s, args, reduce=reduce)

    @property
    def name(self) -> str:
        s = self._spec
        names = f"{s.dst_name!r}, {s.src_name!r}, {s.pos_name!r}"
        return f"Scatter({str(s)!r}, {names}, reduce={s.reduce!r})"

    def compute_hash_bytes(self) -> bytes:
        s = self._spec
        return _hash_bytes(_SCATTER_UUID, str(s), s.dst_name, s.src_name, s.pos_name, str(s.reduce))

    def _shapes(self, dst_shape, src_shape, pos_shape):
        s = self._spec
        return shapes_of(
            len(s.axis_names),
            [
                (s.dst_name, tuple(dst_shape), s.dst_indices),
                (s.src_name, tuple(src_shape), s.src_indices),
                (s.pos_name, tuple(pos_shape), s.pos_indices),
            ],
        )

    def get_shape_info(self, *shapes) -> GeneralFunctionShapeInfo:
        dst_shape, src_shape, pos_shape = shapes
        batch, _ = self._shapes(dst_shape, src_shape, pos_shape)
        return GeneralFunctionShapeInfo(
            tuple(dst_shape), len(dst_shape) - len(batch), [True, True, True]
        )

    def function(self, *inputs):
        s = self._spec
        dst, src, pos = (torch.as_tensor(x) for x in inputs)
        batch, sizes = self._shapes(dst.shape, src.shape, pos.shape)
        for name, arr, indices in (
            (s.dst_name, dst, s.dst_indices),
            (s.src_name, src, s.src_indices),
            (s.pos_name, pos, s.pos_indices),
        ):
            _check_literals(indices, arr.shape, name, "Scatter")
        grid = _Grid(batch, sizes, dst.device)
        positions = grid.read(pos, s.pos_indices)
        at = s.dst_indices.index(PosData())
        _check_positions(
            positions, dst.shape[dst.ndim - len(s.dst_indices) + at], s.pos_name, "Scatter"
        )
        values = grid.read(src, s.src_indices).to(dst.dtype)
        # the flat position in dst of every grid point
        result = dst.clone(memory_format=torch.contiguous_format)
        strides = result.stride()
        flat = torch.zeros(grid.shape, dtype=torch.int64, device=dst.device)
        for k, b in enumerate(grid.batch):
            flat = flat + b * strides[k]
        for k, idx in enumerate(s.dst_indices):
            flat = flat + grid.entry(idx, positions) * strides[len(batch) + k]
        flat, values = flat.reshape(-1), values.reshape(-1)
        out = result.view(-1)
        if s.reduce is None:
            out.scatter_(0, flat, values)
        elif s.reduce == "add":
            out.index_add_(0, flat, values)
        else:
            out.scatter_reduce_(0, flat, values, reduce="prod", include_self=True)
        return result

    def get_device_dtype_override(self, *device_dtypes) -> Optional[TorchDeviceDtypeOp]:
        dst_dd, _, pos_dd = device_dtypes
        _pos_dtype_check(pos_dd, "Scatter", self._spec.pos_name)
        return dst_dd

    @classmethod
    def new(
        cls,
        spec: str,
        args: Dict[str, "_circuits.Circuit"],
        reduce: Optional[str] = None,
        name: Optional[str] = None,
    ):
        f = cls(spec, *args.keys(), reduce=reduce)
        s = f._spec
        return _circuits.GeneralFunction(
            args[s.dst_name], args[s.src_name], args[s.pos_name], spec=f, name=name
        )
