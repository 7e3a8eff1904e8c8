"""rc's GeneralFunction spec classes, shape-info helpers, broadcasting helpers and
GeneralFunctionSpecTester.

The built-in specs are one C type (GeneralFunctionSpec); GeneralFunctionIndexSpec,
GeneralFunctionPowSpec, ... are the kinds of it rc has separate classes for: `isinstance`
tells them apart, and, as in rc, they are made by GeneralFunction.gen_index, rc.pow, ...,
not by calling the class.
"""

import random
from typing import List, Optional, Sequence, Tuple

import numpy as np

from . import _circuits
from ._circuits import Add, Array, Circuit, GeneralFunction, Rearrange, RearrangeSpec, Symbol
from ._methods import GeneralFunctionShapeInfo
from ._surface import ExceptionWithRustContext

Shape = Tuple[int, ...]


class _SpecKind(type):
    """A kind of the built-in spec type, told apart by the spec's serialised name."""

    def __instancecheck__(cls, obj) -> bool:
        return isinstance(obj, _circuits.GeneralFunctionSpec) and cls._has_kind(obj.name)

    def __subclasscheck__(cls, sub) -> bool:
        return type.__subclasscheck__(cls, sub)

    def __call__(cls, *args, **kwargs):
        raise TypeError(f"No constructor defined for {cls.__name__}: {cls._made_by}")


class GeneralFunctionIndexSpec(metaclass=_SpecKind):
    """The spec of GeneralFunction.gen_index (index_dim, batch_x, batch_index,
    check_index_ints)."""

    _made_by = "use GeneralFunction.gen_index"

    @staticmethod
    def _has_kind(name: str) -> bool:
        return name.startswith("gen_index_at_")


class GeneralFunctionExplicitIndexSpec(metaclass=_SpecKind):
    """The spec of GeneralFunction.explicit_index (index_dim, x_non_batch_dims,
    check_index_ints)."""

    _made_by = "use GeneralFunction.explicit_index"

    @staticmethod
    def _has_kind(name: str) -> bool:
        return name.startswith("explicit_index_at_")


class GeneralFunctionSetDDSpec(metaclass=_SpecKind):
    """The spec of GeneralFunction.new_cast (input_required_compatibility, output)."""

    _made_by = "use GeneralFunction.new_cast"

    @staticmethod
    def _has_kind(name: str) -> bool:
        return name.startswith("cast_from_")


class GeneralFunctionPowSpec(metaclass=_SpecKind):
    """The spec of rc.pow."""

    _made_by = "use rc.pow"

    @staticmethod
    def _has_kind(name: str) -> bool:
        return name == "pow"


class GeneralFunctionMultinomialSpec(metaclass=_SpecKind):
    """The spec of rc.multinomial (replacement, shape)."""

    _made_by = "use rc.multinomial"

    @staticmethod
    def _has_kind(name: str) -> bool:
        return name.startswith("multinomial")


def _shape_list(shapes, what: str) -> List[Shape]:
    out = []
    for s in shapes:
        if isinstance(s, (str, bytes)) or not hasattr(s, "__iter__"):
            raise TypeError(f"{what}: each shape must be a sequence of ints, got {s!r}")
        out.append(tuple(int(x) for x in s))
    return out


def get_shape_info_simple(
    shapes: Sequence[Shape], num_non_batchable_output_dims: int = 0, removed_from_end: int = 0
) -> GeneralFunctionShapeInfo:
    """Shape info as rc's named single-input functions compute it: exactly one input, its last
    removed_from_end axes removed, the last num_non_batchable_output_dims output axes not
    batchable."""
    shapes = _shape_list(shapes, "get_shape_info_simple")
    if len(shapes) != 1:
        raise _circuits.GeneralFunctionShapeWrongNumShapesError(
            f"get_shape_info_simple: got={len(shapes)} expected=1 input shapes"
        )
    (shape,) = shapes
    if len(shape) < num_non_batchable_output_dims + removed_from_end:
        raise _circuits.GeneralFunctionShapeNDimTooSmallError(
            f"get_shape_info_simple: ndim={len(shape)} < num_non_batchable_output_dims="
            f"{num_non_batchable_output_dims} + removed_from_end={removed_from_end}"
        )
    return GeneralFunctionShapeInfo(
        shape[: len(shape) - removed_from_end], num_non_batchable_output_dims, [True]
    )


def _broadcast(shapes: List[Shape], special_case_ones: bool) -> Shape:
    if not shapes:
        return ()
    if len(shapes) == 1:
        return shapes[0]
    rank = max(len(s) for s in shapes)
    out: List[Optional[int]] = [None] * rank
    for from_end in range(1, rank + 1):
        for s in shapes:
            if len(s) < from_end:
                continue
            size = s[len(s) - from_end]
            cur = out[rank - from_end]
            ok = (
                cur is None
                or cur == size
                or (special_case_ones and cur == 1 and size != 0)
                or (special_case_ones and size == 1 and cur != 0)
            )
            if not ok:
                listed = ", ".join("[" + ", ".join(str(x) for x in t) + "]" for t in shapes)
                raise _circuits.MiscInputNotBroadcastableError(
                    f"Shapes aren't broadcastable, [{listed}]"
                )
            out[rank - from_end] = size if cur is None else max(cur, size)
    return tuple(out)  # type: ignore[arg-type]


def broadcast_shapes(*shapes: Shape) -> Shape:
    """numpy's broadcasting of shapes (a size 1 stretches to any size but 0);
    MiscInputNotBroadcastableError when they do not broadcast."""
    return _broadcast(_shape_list(shapes, "broadcast_shapes"), True)


def get_shape_info_broadcast(
    shapes: Sequence[Shape], special_case_ones: bool = True
) -> GeneralFunctionShapeInfo:
    """Shape info of an elementwise function of broadcast inputs: inputs of the output's rank
    are batchable; the non-batchable output axes reach back to the first axis one of them is
    broadcast along."""
    shapes = _shape_list(shapes, "get_shape_info_broadcast")
    shape = _broadcast(shapes, special_case_ones)
    non_batchable = 0
    for s in shapes:
        if len(s) != len(shape):
            continue
        for i, (size, full) in enumerate(zip(reversed(s), reversed(shape))):
            if size != full:
                non_batchable = max(non_batchable, i + 1)
    return GeneralFunctionShapeInfo(shape, non_batchable, [len(s) == len(shape) for s in shapes])


def make_broadcast(node: Circuit, out_shape: Shape) -> Optional[Circuit]:
    """node as a Rearrange repeating it to out_shape (its size-1 axes and missing leading axes
    repeated), node itself when nothing changes, None when it cannot broadcast to out_shape."""
    out_shape = tuple(int(x) for x in out_shape)
    rank_dif = len(out_shape) - len(node.shape)
    if rank_dif < 0:
        return None
    for i, size in enumerate(node.shape):
        if size != 1 and size != out_shape[i + rank_dif]:
            return None
    if tuple(node.shape) == out_shape:
        return node
    input_ints = [[] if size == 1 else [i + rank_dif] for i, size in enumerate(node.shape)]
    output_ints = [[i] for i in range(len(out_shape))]
    return Rearrange(node, RearrangeSpec(input_ints, output_ints, list(out_shape)))


def add_make_broadcasts_explicit(node: Add) -> Optional[Add]:
    """The Add with each operand broadcast to its shape by make_broadcast, or None when every
    operand has it already."""
    if not isinstance(node, Add):
        raise TypeError(f"add_make_broadcasts_explicit takes an Add, not {type(node).__name__}")
    changed = False
    new = []
    for c in node.children:
        if tuple(c.shape) != tuple(node.shape):
            changed = True
            c = make_broadcast(c, node.shape)
        new.append(c)
    if not changed:
        return None
    return Add(*new, name=node.op_name)


def _spec_shape_info(spec, shapes: List[Shape]) -> GeneralFunctionShapeInfo:
    """spec's shape info: its own get_shape_info (specs written in Python), or the C spec's
    over Symbols of these shapes."""
    if hasattr(spec, "get_shape_info"):
        return spec.get_shape_info(*shapes)
    gf = GeneralFunction(*[Symbol.new_with_random_uuid(s) for s in shapes], spec=spec)
    shape, non_batchable, batchable = _circuits._gf_shape_info(gf)
    return GeneralFunctionShapeInfo(shape, non_batchable, batchable)


def _spec_function(spec, arrays: List[np.ndarray]) -> np.ndarray:
    try:
        gf = GeneralFunction(*[Array(a) for a in arrays], spec=spec)
        return np.asarray(gf.evaluate())
    except Exception as e:
        raise ExceptionWithRustContext(e, "failed to evaluate for test") from e


def _fail(message: str) -> ExceptionWithRustContext:
    return ExceptionWithRustContext(AssertionError(message), "GeneralFunctionSpecTester")


class GeneralFunctionSpecTester:
    """Checks that a spec's get_shape_info is consistent with batching and with its function,
    on random shapes (rc's GeneralFunctionSpecTester).

    min_frac_successful: the fraction of proposed input shapes that must be valid, for at least
    one number of inputs; min_frac_checked_batch: the same for shapes whose batching could be
    checked (0 for a function that never batches)."""

    def __init__(
        self,
        samples_per_batch_dims: int = 3,
        base_shapes_samples: int = 100,
        min_frac_successful: float = 0.1,
        min_frac_checked_batch: float = 0.1,
        start_num_inputs: int = 0,
        end_num_inputs: int = 5,
        start_ndim: int = 0,
        end_ndim: int = 10,
        start_shape_num: int = 0,
        end_shape_num: int = 10,
        test_with_rand: bool = True,
        randn_size_cap: int = 1024 * 16,
    ):
        self.samples_per_batch_dims = samples_per_batch_dims
        self.base_shapes_samples = base_shapes_samples
        self.min_frac_successful = min_frac_successful
        self.min_frac_checked_batch = min_frac_checked_batch
        self.start_num_inputs = start_num_inputs
        self.end_num_inputs = end_num_inputs
        self.start_ndim = start_ndim
        self.end_ndim = end_ndim
        self.start_shape_num = start_shape_num
        self.end_shape_num = end_shape_num
        self.test_with_rand = test_with_rand
        self.randn_size_cap = randn_size_cap
        self._rng = random.Random()

    def test_from_shapes(
        self, spec, shapes: Sequence[Shape], shapes_must_be_valid: bool = False
    ) -> Tuple[bool, bool]:
        """(valid, batching checked) for these input shapes; raises ExceptionWithRustContext
        when the spec is inconsistent."""
        shapes = _shape_list(shapes, "test_from_shapes")
        try:
            info = _spec_shape_info(spec, shapes)
        except Exception as e:
            if shapes_must_be_valid:
                raise ExceptionWithRustContext(
                    e, "was supposed to be valid, but actually wasn't!"
                ) from e
            return (False, False)
        shape = tuple(info.shape)
        n_nb = info.num_non_batchable_output_dims
        batchability = list(info.input_batchability)
        if n_nb > len(shape):
            raise _fail(
                f"too many non batchable output dims! num_non_batchable_output_dims={n_nb} "
                f"shape.len()={len(shape)}"
            )
        if len(batchability) != len(shapes):
            raise _fail(
                f"input batchability len doesn't match! input_batchability.len()="
                f"{len(batchability)} shapes.len()={len(shapes)}"
            )
        if not any(batchability):
            return (True, False)
        n_batch = len(shape) - n_nb
        for s, b in [(shape, True)] + list(zip(shapes, batchability)):
            if b and len(s) < n_batch:
                raise _fail(
                    f"some batchable shape too short for batch, shape.len()={len(s)} "
                    f"current_num_batch_dims={n_batch}"
                )
        batch_shapes = {shape[:n_batch]} | {s[:n_batch] for s, b in zip(shapes, batchability) if b}
        if len(batch_shapes) != 1:
            raise _fail(
                f"inputs and output have non-matching 'batch' shapes, all_batch_shapes="
                f"{sorted(batch_shapes)}"
            )
        for num_batch_dims in range(n_batch + 5):
            for _ in range(self.samples_per_batch_dims):
                self._sample(spec, shapes, info, num_batch_dims, False)
            self._sample(spec, shapes, info, num_batch_dims, self.test_with_rand)
        return (True, True)

    def _sample(self, spec, shapes, info, num_batch_dims: int, random_inputs: bool) -> None:
        rng = self._rng
        shape = tuple(info.shape)
        n_nb = info.num_non_batchable_output_dims
        batchability = list(info.input_batchability)
        n_batch = len(shape) - n_nb
        batch_shape = tuple(
            rng.randrange(self.start_shape_num, self.end_shape_num) for _ in range(num_batch_dims)
        )
        new_shapes = [batch_shape + s[n_batch:] if b else s for s, b in zip(shapes, batchability)]
        context = (
            f"shapes={shapes} shape={shape} new_shapes={new_shapes} "
            f"current_num_batch_dims={n_batch}"
        )
        try:
            new_info = _spec_shape_info(spec, new_shapes)
        except Exception as e:
            raise ExceptionWithRustContext(
                e, f"spec isn't consistent, error on valid shapes\n{context}"
            ) from e
        prefix = "spec isn't consistent, "
        if new_info.num_non_batchable_output_dims != n_nb:
            raise _fail(
                f"{prefix}changed num_non_batchable_output_dims when only batching was changed\n"
                f"new_info.num_non_batchable_output_dims={new_info.num_non_batchable_output_dims}"
                f" != num_non_batchable_output_dims={n_nb}\n{context}"
            )
        if list(new_info.input_batchability) != batchability:
            raise _fail(
                f"{prefix}changed input_batchability when only batching was changed\n"
                f"new_info.input_batchability={list(new_info.input_batchability)} != "
                f"input_batchability={batchability}\n{context}"
            )
        expected = batch_shape + shape[n_batch:]
        if tuple(new_info.shape) != expected:
            raise _fail(
                f"{prefix}unexpected shape\nnew_info.shape={tuple(new_info.shape)} != "
                f"expected_shape={expected}\n{context}"
            )

        def small(ss, out):
            return sum(int(np.prod(x)) for x in list(ss) + [out]) < self.randn_size_cap

        if not (
            random_inputs
            and small(shapes, shape)
            and small(new_shapes, new_info.shape)
            and num_batch_dims < n_batch
        ):
            return
        np_rng = np.random.default_rng(rng.randrange(2**32))
        arrays = [np_rng.standard_normal(s).astype(np.float32) for s in shapes]
        out = _spec_function(spec, arrays)
        if tuple(out.shape) != shape:
            raise _fail(
                f"{spec.name}: unexpected tensor shape\nout_tensor.shape={tuple(out.shape)} != "
                f"shape={shape}\n{context}"
            )
        to_remove = n_batch - num_batch_dims
        if any(x == 0 for x in shape[:to_remove]):
            return
        idx = tuple(rng.randrange(s) for s in shape[:to_remove])
        sub = _spec_function(spec, [a[idx] if b else a for a, b in zip(arrays, batchability)])
        if tuple(sub.shape) != shape[to_remove:]:
            raise _fail(
                f"{spec.name}: unexpected tensor shape\nnew_tensor.shape={tuple(sub.shape)} != "
                f"expected_shape={shape[to_remove:]}\n{context}"
            )
        if not np.allclose(sub, out[idx], rtol=1e-4, atol=1e-5, equal_nan=True):
            raise _fail(f"{spec.name}: tensors not close when batching\n{context}")

    def test_many_shapes(self, spec) -> None:
        """test_from_shapes on base_shapes_samples random shape lists per number of inputs;
        raises ExceptionWithRustContext when too few are valid or batch-checked."""
        rng = self._rng
        any_ok = False
        any_batch = False
        counts = range(self.start_num_inputs, self.end_num_inputs)
        for num_inputs in counts:
            ok = 0
            checked = 0
            for _ in range(self.base_shapes_samples):
                shapes = [
                    tuple(
                        rng.randrange(self.start_shape_num, self.end_shape_num)
                        for _ in range(rng.randrange(self.start_ndim, self.end_ndim))
                    )
                    for _ in range(num_inputs)
                ]
                valid, batch = self.test_from_shapes(spec, shapes, False)
                ok += valid
                checked += batch
            any_ok = any_ok or ok / self.base_shapes_samples >= self.min_frac_successful
            any_batch = (
                any_batch or checked / self.base_shapes_samples >= self.min_frac_checked_batch
            )
        if len(counts) > 0:
            if not any_ok:
                raise _fail(
                    f"frac successful too low: no number of inputs had at least "
                    f"min_frac_successful={self.min_frac_successful} valid shape lists"
                )
            if not any_batch:
                raise _fail(
                    f"frac checked batch too low: no number of inputs had at least "
                    f"min_frac_checked_batch={self.min_frac_checked_batch} batch-checked shape lists"
                )
