"""Convenience constructors of rc's Circuit API, composed from the node kinds.

They only build nodes through the C constructors, so they live in Python; the
classes are the engine's own types, extended here once at import.
"""

import abc
import uuid as _uuid
from typing import Optional, Sequence, Union

import numpy as np

from . import _circuits, _device_dtype
from ._device_dtype import TorchDeviceDtype, TorchDeviceDtypeOp
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
    Scalar,
    Symbol,
    Tag,
    cast_circuit,
)

Axis = Union[None, int, Sequence[int]]

# snake_case kind name -> class, in the engine's kind order (nodes/kinds.def).
KINDS = dict(_circuits.KINDS)


def _canon_axes(axis: Axis, rank: int, what: str):
    if axis is None:
        return list(range(rank))
    axes = [axis] if isinstance(axis, int) else list(axis)
    out = []
    for a in axes:
        if not -rank <= a < rank:
            raise _circuits.MiscInputItemOutOfBoundsError(
                f"{what}: axis {a} is out of bounds for rank {rank}"
            )
        out.append(a % rank)
    if len(set(out)) != len(out):
        raise ValueError(f"{what}: repeated axis in {axes}")
    return sorted(out)


# --- Circuit methods --------------------------------------------------------------------


def evaluate(self, device=None):
    """The value of the circuit: numpy, or torch when an input was a torch tensor. device
    ("cpu", the default, or "cuda:<n>") picks the backend that computes it; a device without
    one raises TensorEvalDeviceUnavailableError saying what is missing."""
    if device is None:
        return _circuits.evaluate_many([self])[0]
    return _circuits.evaluate_many([self], device=_device_dtype.evaluation_device(device))[0]


# --- device and dtype (rc's device_dtype: what the tensors below a node fix) -----------------


def device(self) -> Optional[str]:
    """The device of the tensors below ("cpu"), None when there are none."""
    return _device_dtype.circuit_device(self)


def device_dtype(self) -> TorchDeviceDtypeOp:
    """TorchDeviceDtypeOp(device, dtype), each None when nothing below fixes it."""
    return TorchDeviceDtypeOp(self.device, self.dtype)


def torch_dtype(self):
    """The dtype as a torch.dtype, None when nothing below fixes it (needs torch)."""
    return _device_dtype.torch_dtype_of(self.dtype)


def get_compatible_device_dtype(self) -> TorchDeviceDtype:
    """device_dtype with rc's defaults for what is open: cpu and float64."""
    return TorchDeviceDtype(self.device or "cpu", self.dtype or "float64")


def get_device_dtype(self) -> TorchDeviceDtypeOp:
    return self.device_dtype


def add(self, other, name=None):
    return Add(self, other, name=name)


def sub(self, other, name=None):
    neg_name = None if other.op_name is None else f"neg {other.op_name}"
    neg = Einsum.scalar_mul(other, -1.0, name=neg_name, scalar_name="neg_1")
    return Add(self, neg, name=name)


def mul(self, other, name=None):
    return Einsum.elementwise_broadcasted(self, other, name=name)


def mul_scalar(self, scalar: float, name=None, scalar_name=None):
    return self.mul(Scalar(float(scalar), (), scalar_name), name=name)


def sum_(self, axis: Axis = None, name=None):
    reduced = set(_canon_axes(axis, self.rank, "sum"))
    labels = tuple(range(self.rank))
    out = tuple(i for i in labels if i not in reduced)
    return Einsum((self, labels), out_axes=out, name=name)


def mean(self, axis: Axis = None, name=None, scalar_name=None):
    reduced = _canon_axes(axis, self.rank, "mean")
    count = int(np.prod([self.shape[a] for a in reduced], dtype=np.int64))
    if scalar_name is None:
        scalar_name = f"mean_div_{self.name}"
    scalar = Scalar(1.0 / count if count else float("nan"), (), scalar_name)
    labels = tuple(range(self.rank))
    out = tuple(i for i in labels if i not in set(reduced))
    return Einsum((self, labels), (scalar, ()), out_axes=out, name=name)


def reduce(self, op_name: str, axis: Axis = None, name=None):
    if op_name == "sum":
        return self.sum(axis, name=name)
    if op_name == "mean":
        return self.mean(axis, name=name)
    reduced = _canon_axes(axis, self.rank, op_name)
    kept = [i for i in range(self.rank) if i not in set(reduced)]
    spec = RearrangeSpec(
        [[i] for i in range(self.rank)], [[i] for i in kept] + [reduced], [None] * self.rank
    )
    moved = Rearrange(self, spec)
    return GeneralFunction.new_by_name(moved, spec_name=op_name, name=name)


def max_(self, axis: Axis = None, name=None):
    return self.reduce("max", axis, name=name)


def min_(self, axis: Axis = None, name=None):
    return self.reduce("min", axis, name=name)


def index(self, index, name=None):
    return Index(self, index, name=name)


def expand_at_axes(self, axes, counts=None, name=None):
    axes = [axes] if isinstance(axes, int) else list(axes)
    if counts is None:
        counts = [1] * len(axes)
    elif isinstance(counts, int):
        counts = [counts]
    counts = list(counts)
    if len(counts) != len(axes):
        raise _circuits.RearrangeSpecAxesAndCountsDontMatchError(
            f"expand_at_axes: {len(axes)} axes but {len(counts)} counts"
        )
    out_rank = self.rank + len(axes)
    new_at = {}
    for a, c in zip(axes, counts):
        if not -out_rank <= a < out_rank:
            raise _circuits.MiscInputItemOutOfBoundsError(
                f"expand_at_axes: axis {a} is out of bounds for output rank {out_rank}"
            )
        new_at[a % out_rank] = c
    if len(new_at) != len(axes):
        raise ValueError(f"expand_at_axes: repeated axis in {axes}")
    output, sizes, next_old, next_new = [], [None] * self.rank, 0, self.rank
    for pos in range(out_rank):
        if pos in new_at:
            output.append([next_new])
            sizes.append(int(new_at[pos]))
            next_new += 1
        else:
            output.append([next_old])
            next_old += 1
    spec = RearrangeSpec([[i] for i in range(self.rank)], output, sizes)
    return Rearrange(self, spec, name=name)


def unsqueeze(self, axes, name=None):
    return self.expand_at_axes(axes, None, name=name)


def squeeze(self, axes, name=None):
    axes_list = [axes] if isinstance(axes, int) else list(axes)
    dropped = set(_canon_axes(axes_list, self.rank, "squeeze"))
    for a in dropped:
        if self.shape[a] != 1:
            raise RuntimeError(f"squeeze: axis {a} of shape {self.shape} has size {self.shape[a]}, not 1")
    inputs = [[] if i in dropped else [i] for i in range(self.rank)]
    outputs = [[i] for i in range(self.rank) if i not in dropped]
    return Rearrange(self, RearrangeSpec(inputs, outputs, [None] * self.rank), name=name)


def flatten(self, name=None):
    ints = list(range(self.rank))
    return Rearrange(self, RearrangeSpec([[i] for i in ints], [ints], [None] * self.rank), name=name)


def unflatten(self, shape, name=None):
    if self.rank != 1:
        raise _circuits.ConstructUnflattenButNDimNot1Error(
            f"unflatten needs a 1-d circuit, got shape {self.shape}"
        )
    shape = [int(s) for s in shape]
    ints = list(range(len(shape)))
    return Rearrange(self, RearrangeSpec([ints], [[i] for i in ints], shape), name=name)


def unflatten_axis(self, axis: int, shape, name=None):
    (axis,) = _canon_axes(axis, self.rank, "unflatten_axis")
    shape = [int(s) for s in shape]
    inputs, outputs, sizes, nxt = [], [], [], 0
    for i in range(self.rank):
        if i == axis:
            group = list(range(nxt, nxt + len(shape)))
            inputs.append(group)
            outputs.extend([g] for g in group)
            sizes.extend(shape)
            nxt += len(shape)
        else:
            inputs.append([nxt])
            outputs.append([nxt])
            sizes.append(None)
            nxt += 1
    return Rearrange(self, RearrangeSpec(inputs, outputs, sizes), name=name)


def rearrange(self, spec, name=None):
    return Rearrange(self, spec, name=name)


def rearrange_str(self, string: str, name=None):
    return Rearrange.from_string(self, string, name=name)


def map_child(self, ix: int, f):
    return self.map_children_enumerate(lambda i, c: f(c) if i == ix else c)


def _add_kind_predicates():
    for snake, cls in KINDS.items():
        def is_(self, cls=cls):
            return isinstance(self, cls)

        def cast(self, cls=cls):
            if not isinstance(self, cls):
                raise TypeError(f"expected {cls.__name__} but got {type(self).__name__}")
            return self

        def maybe(self, cls=cls):
            return self if isinstance(self, cls) else None

        setattr(Circuit, f"is_{snake}", is_)
        setattr(Circuit, f"cast_{snake}", cast)
        setattr(Circuit, f"maybe_{snake}", maybe)


# --- static constructors ----------------------------------------------------------------


def einsum_scalar_mul(node, scalar: float, name=None, scalar_name=None):
    labels = tuple(range(node.rank))
    return Einsum((node, labels), (Scalar(float(scalar), (), scalar_name), ()), out_axes=labels, name=name)


def einsum_elementwise_broadcasted(*nodes, name=None):
    rank = max((n.rank for n in nodes), default=0)
    shape = [1] * rank
    for n in nodes:
        for i, size in enumerate(n.shape):
            j = rank - n.rank + i
            if size != 1:
                shape[j] = size
    fresh = rank
    args = []
    for n in nodes:
        labels = []
        for i, size in enumerate(n.shape):
            j = rank - n.rank + i
            if size == shape[j]:
                labels.append(j)
            else:
                labels.append(fresh)
                fresh += 1
        args.append((n, tuple(labels)))
    return Einsum(*args, out_axes=tuple(range(rank)), name=name)


def einsum_identity(node, name=None):
    labels = tuple(range(node.rank))
    return Einsum((node, labels), out_axes=labels, name=name)


def einsum_empty(name=None):
    return Einsum(out_axes=(), name=name)


def einsum_from_nodes_ints(nodes, input_axes, output_ints, name=None):
    return Einsum(*zip(nodes, (tuple(a) for a in input_axes)), out_axes=tuple(output_ints), name=name)


def einsum_new_outer_product(*nodes, out_axes_permutation=None, name=None):
    args, nxt = [], 0
    for n in nodes:
        args.append((n, tuple(range(nxt, nxt + n.rank))))
        nxt += n.rank
    out = tuple(range(nxt)) if out_axes_permutation is None else tuple(out_axes_permutation)
    return Einsum(*args, out_axes=out, name=name)


def einsum_args(self):
    """[(child, axes), ...]"""
    return list(zip(self.children, self.in_axes))


def add_from_weighted_nodes(*weighted, use_1_weights=False, name=None):
    operands = []
    for node, weight in weighted:
        if weight != 1.0 or use_1_weights:
            node = Einsum.scalar_mul(node, weight)
        operands.append(node)
    return Add(*operands, name=name)


def add_minus(positive, negative, name=None):
    return positive.sub(negative, name=name)


def concat_stack(*args, axis: int, name=None):
    if not args:
        return Concat(axis=axis, name=name)
    rank = args[0].rank + 1
    if not -rank <= axis < rank:
        raise _circuits.ConstructAxisOutOfBoundsError(
            f"Concat.stack: axis {axis} is out of bounds for rank {rank}"
        )
    expanded = [
        a.unsqueeze(axis, name=None if a.op_name is None else f"{a.op_name}_unsqueeze_stack")
        for a in args
    ]
    return Concat(*expanded, axis=axis, name=name)


def array_randn(*shape, name=None, device_dtype=None, seed=None):
    """Standard normal values (float32 unless device_dtype says float64), in host memory."""
    device = getattr(device_dtype, "device", None)
    if device not in (None, "cpu"):
        raise NotImplementedError(
            f"Array.randn: device {device} is not available: circuits keeps the tensors of a "
            f'circuit in host memory; evaluate on the GPU with evaluate(device="{device}")'
        )
    dtype = getattr(device_dtype, "dtype", None) or "float32"
    rng = np.random.default_rng(seed)
    if dtype == "bfloat16":  # numpy has no bfloat16: draw float32, then round
        values = Array(rng.standard_normal(shape).astype(np.float32), name=name)
        return cast_circuit(values, TorchDeviceDtypeOp(dtype=dtype))
    return Array(rng.standard_normal(shape).astype(dtype), name=name)


def scalar_is_zero(self):
    return self.value == 0.0


def scalar_is_one(self):
    return self.value == 1.0


def scalar_evolve_shape(self, shape):
    return Scalar(self.value, tuple(shape), self.op_name)


def symbol_new_with_random_uuid(shape, name=None):
    return Symbol(tuple(shape), _uuid.uuid4(), name)


def symbol_new_with_none_uuid(shape, name=None):
    return Symbol(tuple(shape), _uuid.UUID(int=0), name)


def tag_new_with_random_uuid(node, name=None):
    return Tag(node, _uuid.uuid4(), name)


class GeneralFunctionShapeInfo:
    """What a spec computes from its input shapes: the output shape, how many trailing
    output axes are not batch axes, and which inputs are batchable."""

    def __init__(self, shape, num_non_batchable_output_dims: int, input_batchability):
        self.shape = tuple(int(s) for s in shape)
        self.num_non_batchable_output_dims = int(num_non_batchable_output_dims)
        self.input_batchability = tuple(bool(b) for b in input_batchability)

    def __repr__(self):
        return (
            f"GeneralFunctionShapeInfo(shape={self.shape}, num_non_batchable_output_dims="
            f"{self.num_non_batchable_output_dims}, input_batchability={self.input_batchability})"
        )

    def __eq__(self, other):
        return isinstance(other, GeneralFunctionShapeInfo) and (
            self.shape,
            self.num_non_batchable_output_dims,
            self.input_batchability,
        ) == (other.shape, other.num_non_batchable_output_dims, other.input_batchability)


class GeneralFunctionSpecBase(metaclass=abc.ABCMeta):
    """Base of GeneralFunction specs written in Python: give `name`,
    `function(*arrays)` (numpy arrays in, an array out) and `get_shape_info(*shapes)`."""

    @property
    @abc.abstractmethod
    def name(self) -> str:
        raise NotImplementedError

    @property
    def path(self) -> Optional[str]:
        return None

    def compute_hash_bytes(self) -> bytes:
        """Identity of the spec in circuit hashes; override to make equal specs hash equal."""
        return id(self).to_bytes(8, "big", signed=True)

    @abc.abstractmethod
    def function(self, *tensors):
        raise NotImplementedError

    @abc.abstractmethod
    def get_shape_info(self, *shapes) -> GeneralFunctionShapeInfo:
        raise NotImplementedError


def _device_dtype_op(value, what: str) -> TorchDeviceDtypeOp:
    if not hasattr(value, "device") or not hasattr(value, "dtype"):
        raise TypeError(
            f"new_cast: {what} must be a TorchDeviceDtypeOp, not {type(value).__name__}"
        )
    return TorchDeviceDtypeOp(value.device, value.dtype)


def _rc_form(dd: TorchDeviceDtypeOp) -> str:
    return f"{{device:{dd.device},dtype:{dd.dtype}}}"


def gf_new_cast(
    x,
    input_required_compatibility=TorchDeviceDtypeOp(),
    output=TorchDeviceDtypeOp(),
    name=None,
):
    """rc's cast GeneralFunction: x unchanged in shape, checked to be compatible with
    input_required_compatibility (MiscInputCastIncompatibleDeviceDtypeError), cast to output's
    dtype (torch's .to: floats to integers truncate toward zero). Its spec is named
    cast_from_{device:<d>,dtype:<t>}_to_{device:<d>,dtype:<t>}, None for an open field."""
    required = _device_dtype_op(input_required_compatibility, "input_required_compatibility")
    out = _device_dtype_op(output, "output")
    spec_name = f"cast_from_{_rc_form(required)}_to_{_rc_form(out)}"
    return GeneralFunction.new_by_name(x, spec_name=spec_name, name=name)


def enforce_dtype_device(self, device_dtype, name=None):
    """GeneralFunction.new_cast(self, device_dtype, device_dtype, name=name): fails unless self is
    compatible with device_dtype, and fixes what self leaves open."""
    return gf_new_cast(self, device_dtype, device_dtype, name=name)


def install():
    methods = {
        "evaluate": evaluate,
        "add": add,
        "sub": sub,
        "mul": mul,
        "mul_scalar": mul_scalar,
        "sum": sum_,
        "mean": mean,
        "reduce": reduce,
        "max": max_,
        "min": min_,
        "index": index,
        "expand_at_axes": expand_at_axes,
        "unsqueeze": unsqueeze,
        "squeeze": squeeze,
        "flatten": flatten,
        "unflatten": unflatten,
        "unflatten_axis": unflatten_axis,
        "rearrange": rearrange,
        "rearrange_str": rearrange_str,
        "map_child": map_child,
        "get_compatible_device_dtype": get_compatible_device_dtype,
        "get_device_dtype": get_device_dtype,
        "enforce_dtype_device": enforce_dtype_device,
    }
    for name, f in methods.items():
        setattr(Circuit, name, f)
    Circuit.device = property(device)
    Circuit.device_dtype = property(device_dtype)
    Circuit.torch_dtype = property(torch_dtype)
    _add_kind_predicates()
    Einsum.scalar_mul = staticmethod(einsum_scalar_mul)
    Einsum.elementwise_broadcasted = staticmethod(einsum_elementwise_broadcasted)
    Einsum.identity = staticmethod(einsum_identity)
    Einsum.empty = staticmethod(einsum_empty)
    Einsum.from_nodes_ints = staticmethod(einsum_from_nodes_ints)
    Einsum.new_outer_product = staticmethod(einsum_new_outer_product)
    Einsum.args = property(einsum_args)
    Add.from_weighted_nodes = staticmethod(add_from_weighted_nodes)
    Add.minus = staticmethod(add_minus)
    Concat.stack = staticmethod(concat_stack)
    Array.randn = staticmethod(array_randn)
    Scalar.is_zero = scalar_is_zero
    Scalar.is_one = scalar_is_one
    Scalar.evolve_shape = scalar_evolve_shape
    Symbol.new_with_random_uuid = staticmethod(symbol_new_with_random_uuid)
    Symbol.new_with_none_uuid = staticmethod(symbol_new_with_none_uuid)
    Tag.new_with_random_uuid = staticmethod(tag_new_with_random_uuid)
    GeneralFunction.new_cast = staticmethod(gf_new_cast)
