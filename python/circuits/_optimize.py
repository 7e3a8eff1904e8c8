"""rc's optimizing evaluation: OptimizationSettings, OptimizationContext, optimize_circuit,
optimize_and_evaluate(_many), optimize_to_schedule(_many), circuit_to_schedule(_many), Schedule
(with ScheduleStats, ScheduleToSend and rc's JSON serialisation) and SetOfCircuitIdentities.

optimize_circuit rewrites a circuit to an equal one that is cheaper to evaluate (names stripped
unless keep_all_names, single-callsite modules inlined, simp, shared partial sums nested by
deep_heuristic_nest_adds, every einsum nested in its cheapest contraction order by
deep_optimize_einsums). optimize_to_schedule(_many) and optimize_and_evaluate(_many) run it
first when settings.optimize (a setting of circuits' own, off by default, so evaluation takes
the circuits as given unless asked); circuit_to_schedule(_many) and scheduled_evaluate are the
same functions.

Every setting of rc is accepted and stored. The ones that act here are the memory bounds:
when the evaluation plan's peak would pass max_memory (or one tensor max_single_tensor_memory),
the outputs are computed in chunks along their shared leading axis, and when not even one row
fits, SchedulingOOMError (or SchedulingOOMSingleError) says the bytes needed and allowed.
verbose shows a progress bar over the chunks (tqdm, when installed), as does an interactive
stderr for runs longer than a second. The plan runs its nodes in the graph's order; the
settings for numerical scaling and logging have no effect.
"""

import json
import operator
import sys
import uuid
import warnings
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Set

from . import _circuits
from ._modules import any_children_with_symbolic_sizes

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
    "optimize",
)
_FLOAT_FIELDS = ("numerical_scale_min", "numerical_scale_max")
_POSITIVE_FIELDS = ("max_memory", "max_single_tensor_memory")


class OptimizationSettings:
    """rc's OptimizationSettings: the bounds and switches of optimize_and_evaluate. Sizes are in
    bytes. simp_fn_subset is stored as given (None: simp's default set). optimize (not rc's):
    run optimize_circuit before evaluating in optimize_to_schedule(_many) and
    optimize_and_evaluate(_many)."""

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
        optimize=False,
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


class OptimizingSymbolicSizeWarning(UserWarning):
    """optimize_circuit was given a circuit that still has symbolic sizes."""


class OptimizationContext:
    """rc's OptimizationContext: the settings of one optimisation run. The caches rc keeps here
    live in the C rewrites (each memoises by node hash within a call), so `cache` is None and
    there are no logs."""

    __slots__ = ("settings",)

    def __init__(self, settings: Optional[OptimizationSettings] = None):
        settings = OptimizationSettings() if settings is None else settings
        _check_settings(settings)
        self.settings = settings

    @property
    def cache(self):
        return None

    def stringify_logs(self) -> str:
        return "let slow_einsums = []; let simplifications= [];"

    @staticmethod
    def new_settings(settings: OptimizationSettings) -> "OptimizationContext":
        return OptimizationContext(settings)

    @staticmethod
    def new_settings_circuit(
        settings: OptimizationSettings, circuit: _circuits.Circuit
    ) -> "OptimizationContext":
        if not isinstance(circuit, _circuits.Circuit):
            raise TypeError(f"circuit must be a Circuit, not {type(circuit).__name__}")
        return OptimizationContext(settings)

    def __repr__(self):
        return f"OptimizationContext({self.settings!r})"


def _check_settings(settings):
    if not isinstance(settings, OptimizationSettings):
        raise TypeError(f"settings must be an OptimizationSettings, not {type(settings).__name__}")


def _until_same(circuit: _circuits.Circuit, step) -> _circuits.Circuit:
    """step applied until the circuit stops changing (at most 100 times, so a pair of rewrites
    that undo each other cannot loop for ever)."""
    for _ in range(100):
        after = step(circuit)
        if after == circuit:
            break
        circuit = after
    return circuit


def optimize_circuit(
    circuit: _circuits.Circuit, settings: OptimizationSettings = OptimizationSettings()
) -> _circuits.Circuit:
    """rc's optimize_circuit: an equal circuit that is cheaper to evaluate. Steps, in rc's
    order: names and tags stripped (unless settings.keep_all_names), modules conformed and
    single-callsite ones inlined, a warning (OptimizingSymbolicSizeWarning) when symbolic sizes
    remain, deep_canonicalize, compiler_simp (settings.simp_fn_subset's simp when given), unused
    module inputs removed until nothing changes, indexes pushed down (settings.push_down_index),
    einsums distributed (settings.deep_maybe_distribute), each followed by the simplification
    until nothing changes and by deep_canonicalize, then deep_heuristic_nest_adds and
    deep_optimize_einsums."""
    if not isinstance(circuit, _circuits.Circuit):
        raise TypeError(f"optimize_circuit: expected a Circuit, not {type(circuit).__name__}")
    _check_settings(settings)
    if not settings.keep_all_names:
        circuit = _circuits.strip_names_and_tags(circuit)
    circuit = _circuits.inline_single_callsite_modules(_circuits.conform_all_modules(circuit))
    if any_children_with_symbolic_sizes(circuit):
        warnings.warn(
            "you're optimizing with symbolic sizes. This is not recommended!",
            OptimizingSymbolicSizeWarning,
            stacklevel=2,
        )
    subset = settings.simp_fn_subset
    simplify = subset.simp if subset is not None else _circuits.compiler_simp
    circuit = simplify(_circuits.deep_canonicalize(circuit))
    circuit = _until_same(
        circuit,
        lambda c: _circuits.deep_module_remove_unused_inputs(
            simplify(c), add_suffix_on_remove_unused=False, elim_empty=True
        ),
    )
    if settings.push_down_index:
        circuit = _until_same(circuit, lambda c: _circuits.deep_push_down_index_raw(simplify(c)))
    circuit = _circuits.deep_canonicalize(simplify(circuit))
    if settings.deep_maybe_distribute:
        circuit = _until_same(
            circuit, lambda c: simplify(_circuits.deep_maybe_distribute(c, settings))
        )
        circuit = _circuits.deep_canonicalize(circuit)
    circuit = _circuits.deep_heuristic_nest_adds(circuit)
    return _circuits.deep_optimize_einsums(circuit)


@dataclass(frozen=True)
class ScheduleStats:
    """rc's ScheduleStats, counted in elements as rc does: max_mem, the most the computed
    values held at once; constant_mem, the constants' elements; max_circuit_set, the
    computed circuits (with Symbol children) held at that point."""

    max_mem: int
    constant_mem: int
    max_circuit_set: Set[_circuits.Circuit]

    def __str__(self):
        return f"ScheduleStats: max: {self.max_mem} const: {self.constant_mem}"


class ScheduleToSend:
    """rc's ScheduleToSend: a schedule as its serialised text, detached for sending. circuits
    has no remote evaluation server, so evaluate_remote raises NotImplementedError."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text

    def evaluate_remote(self, url: str, device: str):
        raise NotImplementedError(
            f"evaluate_remote({url!r}, {device!r}): circuits has no remote evaluation server; "
            "evaluate the schedule locally (Schedule.deserialize(text).evaluate())"
        )

    def evaluate_remote_many(self, url: str, device: str):
        return self.evaluate_remote(url, device)

    def load(self) -> "Schedule":
        return Schedule.deserialize(self.text)


def _postorder(circuits):
    """The distinct nodes of circuits, children before parents."""
    order, seen = [], set()
    for root in circuits:
        stack = [(root, False)]
        while stack:
            node, expanded = stack.pop()
            if node in seen:
                continue
            if expanded:
                seen.add(node)
                order.append(node)
                continue
            stack.append((node, True))
            stack.extend((c, False) for c in reversed(node.children) if c not in seen)
    return order


def _replace(circuits, mapping):
    """circuits with every node whose hash is a key of mapping replaced by its value."""
    done = {}
    for node in _postorder(circuits):
        if node.hash in mapping:
            done[node] = mapping[node.hash]
        elif any(done[c] is not c for c in node.children):
            done[node] = node.map_children(lambda c: done[c])
        else:
            done[node] = node
    return [done[c] for c in circuits]


_KEY_UUID = uuid.UUID(int=0)


class Schedule:
    """rc's Schedule: circuits to evaluate together under settings. evaluate() gives the first
    circuit's value, evaluate_many() all of them, within settings.max_memory (see
    docs/memory.md); last_stats (None before a run) says what the last evaluation computed and
    held.

    rc's view of a schedule as instructions is derived from the circuits: constants (Arrays and
    Symbols) and scalars by id, then `instructions`, in evaluation order, either (id, circuit)
    (circuit with each child replaced by a Symbol named by the child's id) or an int (the id
    whose value is no longer needed). serialize() writes that view as rc's JSON, whose Array
    lines name tensors by hash (the tensors stay in this process's tensor cache; see
    docs/loaders.md for syncing them to a store); deserialize() rebuilds the circuits."""

    def __init__(
        self, circuits: Sequence[_circuits.Circuit], settings: OptimizationSettings = None
    ):
        settings = OptimizationSettings() if settings is None else settings
        _check_settings(settings)
        self.circuits = tuple(circuits)
        for c in self.circuits:
            if not isinstance(c, _circuits.Circuit):
                raise TypeError(f"each item of circuits must be a Circuit, not {type(c).__name__}")
        self.settings = settings
        self.last_stats: Optional[EvaluationStats] = None
        self._view = None

    # --- evaluation ---

    def evaluate_many(self, settings: Optional[OptimizationSettings] = None) -> list:
        settings = self.settings if settings is None else settings
        _check_settings(settings)
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

    def evaluate_remote(self, url: str):
        return self.tosend().evaluate_remote(url, "cpu")

    def evaluate_remote_many(self, url: str):
        return self.tosend().evaluate_remote_many(url, "cpu")

    # --- rc's instruction view ---

    def _build_view(self):
        if self._view is not None:
            return self._view
        nodes = _postorder(self.circuits)
        ids = {}
        constants, scalars = {}, {}
        for node in nodes:
            if not node.children and not isinstance(node, _circuits.Scalar):
                ids[node] = len(ids)
                constants[ids[node]] = node
        for node in nodes:
            if isinstance(node, _circuits.Scalar):
                ids[node] = len(ids)
                scalars[ids[node]] = node
        computed = [n for n in nodes if n not in ids]
        for node in computed:
            ids[node] = len(ids)
        outputs = {ids[c] for c in self.circuits}
        last_use = {}
        for step, node in enumerate(computed):
            for child in node.children:
                last_use[ids[child]] = step
        drops_after = {}
        for key, step in last_use.items():
            if key not in outputs and key not in constants and key not in scalars:
                drops_after.setdefault(step, []).append(key)
        instructions = []
        for step, node in enumerate(computed):
            instructions.append((ids[node], self._with_key_children(node, ids)))
            instructions.extend(sorted(drops_after.get(step, ())))
        self._view = (constants, scalars, instructions, [ids[c] for c in self.circuits])
        return self._view

    @staticmethod
    def _with_key_children(node, ids):
        out = node.map_children(lambda c: _circuits.Symbol(c.shape, _KEY_UUID, name=str(ids[c])))
        # the Symbols' names must not become an automatic name of the node
        return out if out.name == node.name else out.rename(node.name or None)

    @property
    def constants(self) -> Dict[int, _circuits.Circuit]:
        return dict(self._build_view()[0])

    @property
    def scalars(self) -> Dict[int, _circuits.Scalar]:
        return dict(self._build_view()[1])

    @property
    def instructions(self) -> list:
        return list(self._build_view()[2])

    def validate(self, validate_output: bool) -> None:
        """rc's checks on the instruction view: ids computed once, dropped once and only after
        being computed, no leaf computed, and (validate_output) every computed value dropped or
        returned. ValueError naming the id otherwise."""
        constants, scalars, instructions, outputs = self._build_view()
        both = set(constants) & set(scalars)
        if both:
            raise ValueError(f"num={min(both)} used for both constants and scalars!")
        computed, dropped = set(), set()
        for ins in instructions:
            if isinstance(ins, int):
                if ins not in computed:
                    raise ValueError(f"drop={ins} not previously computed")
                if ins in dropped:
                    raise ValueError(f"drop={ins} was already dropped!")
                dropped.add(ins)
                continue
            key, circuit = ins
            if key in computed:
                raise ValueError(f"key={key} was already computed!")
            if not circuit.children:
                raise ValueError(f"leaf circuit is being computed circuit={circuit!r}")
            computed.add(key)
        if validate_output:
            for key in sorted(computed - dropped - set(outputs)):
                raise ValueError(f"computed={key} is never dropped (or returned)")

    def get_stats(self) -> ScheduleStats:
        constants, _, instructions, _ = self._build_view()
        mem = max_mem = 0
        current, biggest = {}, {}
        for ins in instructions:
            if isinstance(ins, int):
                mem -= current.pop(ins).numel
                continue
            key, circuit = ins
            current[key] = circuit
            mem += circuit.numel
            if mem > max_mem:
                max_mem, biggest = mem, dict(current)
        constant_mem = sum(c.numel for c in constants.values())
        return ScheduleStats(max_mem, constant_mem, set(biggest.values()))

    # --- constants ---

    def _constant_hashes(self):
        return {c.hash: c for c in self._build_view()[0].values() if isinstance(c, _circuits.Array)}

    def replace_tensors(self, map: Dict[bytes, object], allow_missing: bool = False) -> "Schedule":
        """The schedule with the Arrays whose hash is a key of map holding that tensor instead
        (same name; the shape must match). KeyError for a hash no Array of the schedule has,
        unless allow_missing."""
        arrays = self._constant_hashes()
        mapping = {}
        for key, tensor in map.items():
            old = arrays.get(key)
            if old is None:
                if allow_missing:
                    continue
                raise KeyError(f"key circuit wasn't present in original: {bytes(key).hex()[:24]}")
            new = _circuits.Array(tensor, name=old.name)
            if new.shape != old.shape:
                raise ValueError(
                    f"tensor shape doesn't match entry shape! {new.shape} given for Array "
                    f"{old.name!r} of shape {old.shape}"
                )
            mapping[key] = new
        return Schedule(_replace(self.circuits, mapping), self.settings)

    def map_tensors(self, f: Callable[[bytes], object]) -> "Schedule":
        """The schedule with each Array's tensor replaced by f(its hash) where that is not
        None."""
        found = {}
        for key in self._constant_hashes():
            tensor = f(key)
            if tensor is not None:
                found[key] = tensor
        return self.replace_tensors(found)

    # --- serialisation ---

    def serialize(self) -> str:
        """rc's JSON: instructions ({variant, key, info (the circuit's text), children}),
        constants and scalars ({id: text}), output_circuit ([id, shape] of the first output),
        split_shapes (None), old_constant_hashes ([[hash bytes], id]); plus output_circuits,
        every output's [id, shape]. ValueError when a constant is a Symbol."""
        constants, scalars, instructions, outputs = self._build_view()

        from ._store import remember_tensor

        def text(c):
            return _circuits.print_repr([c], bijection=True, tensor_sink=remember_tensor).rstrip(
                "\n"
            )

        for c in constants.values():
            if isinstance(c, _circuits.Symbol):
                raise ValueError(
                    f"schedules with symbols can't be sent: {c!r} is a free Symbol of the schedule"
                )
        sent_instructions = []
        for ins in instructions:
            if isinstance(ins, int):
                sent_instructions.append(
                    {"variant": "Drop", "key": ins, "info": "", "children": []}
                )
            else:
                key, circuit = ins
                sent_instructions.append(
                    {
                        "variant": "Compute",
                        "key": key,
                        "info": text(circuit),
                        "children": [int(c.name) for c in circuit.children],
                    }
                )
        shapes = {ids: list(c.shape) for ids, c in zip(outputs, self.circuits)}
        return json.dumps(
            {
                "instructions": sent_instructions,
                "constants": {str(k): text(c) for k, c in constants.items()},
                "scalars": {str(k): text(c) for k, c in scalars.items()},
                "output_circuit": [outputs[0], shapes[outputs[0]]] if outputs else None,
                "split_shapes": None,
                "old_constant_hashes": [
                    [list(c.hash), k]
                    for k, c in constants.items()
                    if isinstance(c, _circuits.Array)
                ],
                "output_circuits": [[k, shapes[k]] for k in outputs],
            }
        )

    @staticmethod
    def deserialize(string: str, tensor_cache=None) -> "Schedule":
        """The schedule serialize() wrote. tensor_cache: None (tensors from this process's
        cache and the default store), or a callable from a hash prefix to an array (Parser's
        tensor_loader). ValueError when the text is not such a schedule."""
        from ._parse import Parser

        try:
            sent = json.loads(string)
            instructions = sent["instructions"]
            constants, scalars = sent["constants"], sent["scalars"]
            outputs = sent.get("output_circuits")
            if outputs is None:
                outputs = [sent["output_circuit"]]
        except (ValueError, KeyError, TypeError) as e:
            raise ValueError(f"schedule deserialization failed due to json error: {e}") from None
        parser = Parser() if tensor_cache is None else Parser(tensor_loader=tensor_cache)
        live = {}
        for table in (constants, scalars):
            for key, text in table.items():
                live[int(key)] = parser(text)
        for ins in instructions:
            if ins.get("variant") == "Drop":
                continue
            if ins.get("variant") != "Compute":
                raise ValueError(
                    f"schedule deserialization: unknown variant {ins.get('variant')!r}"
                )
            circuit = parser(ins["info"])
            children = ins["children"]
            try:
                rebuilt = circuit.map_children_enumerate(lambda i, _: live[children[i]])
            except KeyError as e:
                raise ValueError(
                    f"schedule deserialization: instruction {ins['key']} uses {e} before it is "
                    "computed"
                ) from None
            # the text's name, not an automatic one from the children's names
            if rebuilt.name != circuit.name:
                rebuilt = rebuilt.rename(circuit.name or None)
            live[ins["key"]] = rebuilt
        return Schedule([live[k] for k, _ in outputs])

    def tosend(self) -> ScheduleToSend:
        return ScheduleToSend(self.serialize())

    def __repr__(self):
        return f"Schedule({len(self.circuits)} circuits, {self.settings!r})"


class SetOfCircuitIdentities:
    """rc's SetOfCircuitIdentities: a set of circuits' hashes; tells whether a circuit (by its
    hash) is in it without keeping the circuits."""

    __slots__ = ("_hashes",)

    def __init__(self, hashes=()):
        self._hashes = set(hashes)

    def __contains__(self, circuit: _circuits.Circuit) -> bool:
        return _hash_of(circuit) in self._hashes

    def __len__(self) -> int:
        return len(self._hashes)

    def insert(self, circuit: _circuits.Circuit) -> None:
        self._hashes.add(_hash_of(circuit))

    def extend(self, other: "SetOfCircuitIdentities") -> None:
        self._hashes |= _set_of(other)._hashes

    def union(self, other: "SetOfCircuitIdentities") -> "SetOfCircuitIdentities":
        return SetOfCircuitIdentities(self._hashes | _set_of(other)._hashes)

    def intersection(self, other: "SetOfCircuitIdentities") -> "SetOfCircuitIdentities":
        return SetOfCircuitIdentities(self._hashes & _set_of(other)._hashes)

    def __repr__(self):
        return f"SetOfCircuitIdentities({len(self._hashes)} circuits)"


def _hash_of(circuit):
    if not isinstance(circuit, _circuits.Circuit):
        raise TypeError(f"expected a Circuit, not {type(circuit).__name__}")
    return circuit.hash


def _set_of(other):
    if not isinstance(other, SetOfCircuitIdentities):
        raise TypeError(f"expected a SetOfCircuitIdentities, not {type(other).__name__}")
    return other


def optimize_to_schedule_many(
    circuits: List[_circuits.Circuit], settings: OptimizationSettings = OptimizationSettings()
) -> Schedule:
    """The circuits (through optimize_circuit when settings.optimize) as one Schedule."""
    _check_settings(settings)
    circuits = list(circuits)
    if settings.optimize:
        circuits = [optimize_circuit(c, settings) for c in circuits]
    return Schedule(circuits, settings)


def optimize_to_schedule(
    circuit: _circuits.Circuit, settings: OptimizationSettings = OptimizationSettings()
) -> Schedule:
    return optimize_to_schedule_many([circuit], settings)


def optimize_and_evaluate_many(
    circuits: List[_circuits.Circuit], settings: OptimizationSettings = OptimizationSettings()
) -> list:
    """The values of circuits (optimized as optimize_to_schedule_many does), with one plan
    sharing their common subcircuits, computed in chunks along the outputs' leading axis when
    the plan would pass settings.max_memory."""
    return optimize_to_schedule_many(circuits, settings).evaluate_many()


def optimize_and_evaluate(
    circuit: _circuits.Circuit, settings: OptimizationSettings = OptimizationSettings()
):
    """The value of circuit within settings' memory bounds (see optimize_and_evaluate_many)."""
    return optimize_to_schedule_many([circuit], settings).evaluate()


def opt_eval_each_subcircuit_until_fail(
    circuit: _circuits.Circuit, settings: OptimizationSettings
) -> None:
    """rc's debugging aid: every subcircuit (children first, under 2e9 elements) evaluated
    plainly and through optimize_and_evaluate; where the two differ, prints the difference, the
    subcircuit and its optimized form. Evaluation errors of the optimized side are skipped, as
    rc does."""
    import numpy as np

    _check_settings(settings)
    for sub in _postorder([circuit]):
        if sub.numel >= 2_000_000_000:
            continue
        reference = np.asarray(sub.evaluate())
        try:
            optimized = np.asarray(optimize_and_evaluate(sub, settings))
        except Exception:
            continue
        if reference.shape != optimized.shape or not np.allclose(
            reference, optimized, rtol=1e-3, atol=1e-5, equal_nan=True
        ):
            print(f"not close: shapes {reference.shape} and {optimized.shape}")
            sub.print()
            optimize_circuit(sub, settings).print()


circuit_to_schedule = optimize_to_schedule
circuit_to_schedule_many = optimize_to_schedule_many
scheduled_evaluate = optimize_and_evaluate
