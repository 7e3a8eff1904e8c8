"""rc's optimizing evaluation: OptimizationSettings, optimize_and_evaluate(_many),
optimize_to_schedule(_many) and Schedule.

Every setting of rc is accepted and stored. The ones that act here are the memory bounds:
when the evaluation plan's peak would pass max_memory (or one tensor max_single_tensor_memory),
the outputs are computed in chunks along their shared leading axis, and when not even one row
fits, SchedulingOOMError (or SchedulingOOMSingleError) says the bytes needed and allowed.
verbose shows a progress bar over the chunks (tqdm, when installed), as does an interactive
stderr for runs longer than a second. The plan always runs its nodes in the graph's order, as
rc's scheduling_naive does; the other settings (simplification, numerical scaling, logging)
have no effect.
"""

import operator
import sys
from dataclasses import dataclass
from typing import List, Optional, Sequence

from . import _circuits

_INT_FIELDS = (
    "verbose",
    "max_memory",
    "max_single_tensor_memory",
    "scheduling_num_mem_chunks",
    "scheduling_timeout",
)
_OPTIONAL_INT_FIELDS = ("max_memory_fallback", "distribute_min_size", "optimization_parallelism")
_BOOL_FIELDS = (
    "scheduling_naive",
    "scheduling_simplify",
    "adjust_numerical_scale",
    "capture_and_print",
    "create_tests",
    "log_simplifications",
    "log_slow_einsums",
    "save_circ",
    "keep_all_names",
    "push_down_index",
    "deep_maybe_distribute",
)
_FLOAT_FIELDS = ("numerical_scale_min", "numerical_scale_max")
_POSITIVE_FIELDS = ("max_memory", "max_single_tensor_memory")


class OptimizationSettings:
    """rc's OptimizationSettings: the bounds and switches of optimize_and_evaluate. Sizes are in
    bytes. simp_fn_subset is stored as given (None: rc's compiler default)."""

    __slots__ = (
        _INT_FIELDS + _OPTIONAL_INT_FIELDS + _BOOL_FIELDS + _FLOAT_FIELDS + ("simp_fn_subset",)
    )

    def __init__(
        self,
        verbose=0,
        max_memory=9_000_000_000,
        max_single_tensor_memory=9_000_000_000,
        max_memory_fallback=None,
        scheduling_num_mem_chunks=200,
        distribute_min_size=None,
        scheduling_naive=False,
        scheduling_timeout=5_000,
        scheduling_simplify=True,
        adjust_numerical_scale=False,
        numerical_scale_min=1e-8,
        numerical_scale_max=1e8,
        capture_and_print=False,
        create_tests=False,
        log_simplifications=False,
        log_slow_einsums=False,
        save_circ=False,
        optimization_parallelism=8,
        keep_all_names=False,
        push_down_index=True,
        deep_maybe_distribute=True,
        simp_fn_subset=None,
    ):
        given = dict(locals())
        del given["self"]
        for name, value in given.items():
            setattr(self, name, value)

    def __setattr__(self, name, value):
        if name in _INT_FIELDS or (name in _OPTIONAL_INT_FIELDS and value is not None):
            try:
                value = operator.index(value)
            except TypeError:
                raise TypeError(
                    f"OptimizationSettings.{name} must be an int, not {type(value).__name__}"
                ) from None
            if name in _POSITIVE_FIELDS and value <= 0:
                raise ValueError(
                    f"OptimizationSettings.{name} must be a positive number of bytes, not {value}"
                )
        elif name in _BOOL_FIELDS:
            value = bool(value)
        elif name in _FLOAT_FIELDS:
            value = float(value)
        object.__setattr__(self, name, value)

    def _fields(self):
        return tuple((name, getattr(self, name)) for name in self.__slots__)

    def __eq__(self, other):
        if not isinstance(other, OptimizationSettings):
            return NotImplemented
        return self._fields() == other._fields()

    def __repr__(self):
        default = OptimizationSettings()
        changed = [f"{n}={v!r}" for n, v in self._fields() if getattr(default, n) != v]
        return f"OptimizationSettings({', '.join(changed)})"


@dataclass(frozen=True)
class EvaluationStats:
    """What the last evaluation of a Schedule did. Bytes count result tensors (leaves' memory
    and views of it count nothing); peak_bytes is the plans' estimate, measured_peak_bytes what
    the run held. batch_size, chunk_size and n_chunks are 0 when nothing was split."""

    n_nodes_computed: int
    peak_bytes: int
    measured_peak_bytes: int
    batch_size: int
    chunk_size: int
    n_chunks: int


def _progress_bar(settings: OptimizationSettings):
    """progress(done, total) for the C loop, drawing a tqdm bar over chunked runs when verbose
    or when stderr is a terminal (then only for runs past a second); None when silent."""
    interactive = hasattr(sys.stderr, "isatty") and sys.stderr.isatty()
    if settings.verbose <= 0 and not interactive:
        return None, None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None, None
    state = {}

    def progress(done, total):
        if total <= 1:
            return
        bar = state.get("bar")
        if bar is None:
            bar = state["bar"] = tqdm(
                total=total,
                desc="evaluating chunks",
                unit="step",
                delay=0.0 if settings.verbose > 0 else 1.0,
                leave=settings.verbose > 0,
            )
        bar.update(done - bar.n)

    def close():
        bar = state.get("bar")
        if bar is not None:
            bar.close()

    return progress, close


class Schedule:
    """rc's Schedule: circuits with the settings they are evaluated under. evaluate() gives the
    first circuit's value, evaluate_many() all of them; last_stats (None before a run) says
    what the last evaluation computed and held."""

    def __init__(self, circuits: Sequence[_circuits.Circuit], settings: OptimizationSettings):
        if not isinstance(settings, OptimizationSettings):
            raise TypeError(
                f"settings must be an OptimizationSettings, not {type(settings).__name__}"
            )
        self.circuits = tuple(circuits)
        for c in self.circuits:
            if not isinstance(c, _circuits.Circuit):
                raise TypeError(f"each item of circuits must be a Circuit, not {type(c).__name__}")
        self.settings = settings
        self.last_stats: Optional[EvaluationStats] = None

    def evaluate_many(self, settings: Optional[OptimizationSettings] = None) -> list:
        settings = self.settings if settings is None else settings
        if not isinstance(settings, OptimizationSettings):
            raise TypeError(
                f"settings must be an OptimizationSettings, not {type(settings).__name__}"
            )
        progress, close = _progress_bar(settings)
        try:
            values, stats = _circuits._evaluate_bounded(
                list(self.circuits),
                max_memory=settings.max_memory,
                max_single_tensor_memory=settings.max_single_tensor_memory,
                progress=progress,
            )
        finally:
            if close is not None:
                close()
        self.last_stats = EvaluationStats(**stats)
        return values

    def evaluate(self, settings: Optional[OptimizationSettings] = None):
        if len(self.circuits) != 1:
            raise ValueError(
                f"Schedule.evaluate: the schedule has {len(self.circuits)} outputs, not one "
                "(use evaluate_many)"
            )
        return self.evaluate_many(settings)[0]

    def __repr__(self):
        return f"Schedule({len(self.circuits)} circuits, {self.settings!r})"


def optimize_to_schedule_many(
    circuits: List[_circuits.Circuit], settings: OptimizationSettings = OptimizationSettings()
) -> Schedule:
    return Schedule(circuits, settings)


def optimize_to_schedule(
    circuit: _circuits.Circuit, settings: OptimizationSettings = OptimizationSettings()
) -> Schedule:
    return Schedule([circuit], settings)


def optimize_and_evaluate_many(
    circuits: List[_circuits.Circuit], settings: OptimizationSettings = OptimizationSettings()
) -> list:
    """The values of circuits, with one plan sharing their common subcircuits, computed in
    chunks along the outputs' leading axis when the plan would pass settings.max_memory."""
    return Schedule(circuits, settings).evaluate_many()


def optimize_and_evaluate(
    circuit: _circuits.Circuit, settings: OptimizationSettings = OptimizationSettings()
):
    """The value of circuit within settings' memory bounds (see optimize_and_evaluate_many)."""
    return Schedule([circuit], settings).evaluate()


circuit_to_schedule = optimize_to_schedule
circuit_to_schedule_many = optimize_to_schedule_many
scheduled_evaluate = optimize_and_evaluate
