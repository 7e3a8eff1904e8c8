"""Ablations: a component of a circuit replaced by zeros, its mean, its value on other inputs,
a scaled move towards that, or a swap of its projection on a few directions.

`ablate(circuit, component, kind)` returns the ablated circuit, built with
`circuit.update(matcher, fn)` along the matched paths (optionally only along `path`, for path
patching). Resampling uses the independence of the examples along the batch axis: the
component on permuted inputs is `Index(component, perm)`, which shares everything upstream;
the mean over the batch is an Einsum of the component, shared the same way.
`ablation_table` evaluates a metric for every (component, kind) and the unablated circuit
with one plan, so the subterms the ablations do not touch are computed once.
"""

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from .._circuits import (
    Add,
    Array,
    Circuit,
    Einsum,
    GeneralFunction,
    Index,
    IterativeMatcher,
    Module,
    Scalar,
    log_softmax,
    substitute_all_modules,
)
from .cache import _as_matcher, _not_found, evaluate_nodes, find_node, replace_inputs

__all__ = [
    "At",
    "Mean",
    "Project",
    "Resample",
    "Scaled",
    "Zero",
    "ablate",
    "ablation_table",
    "heads",
    "next_token_loss",
]


@dataclass(frozen=True)
class Zero:
    """The component replaced by zeros."""

    def label(self) -> str:
        return "zero"


@dataclass(frozen=True)
class Mean:
    """The component replaced by its mean over the batch axis: of its own batch when
    reference is None (an Einsum of the component, so shared), else of its value on the
    reference inputs (a dict {name: tensor} or one tensor, as `run_with_cache` takes),
    computed once and substituted as a constant."""

    reference: Any = field(default=None, compare=False)

    def label(self) -> str:
        return "mean"


@dataclass(frozen=True)
class Resample:
    """The component replaced by its value on other examples of the batch: perm (a sequence
    of batch indices, one per example) or, when None, a random permutation drawn with seed."""

    perm: Any = field(default=None, compare=False)
    seed: int = 0

    def label(self) -> str:
        return "resample"


@dataclass(frozen=True)
class Scaled:
    """component + alpha * (other - component), other being base's replacement (alpha 0 is
    the clean value, 1 the base ablation)."""

    alpha: float
    base: Any = field(default_factory=Resample)

    def label(self) -> str:
        return f"scaled({self.alpha:g}, {_kind(self.base).label()})"


@dataclass(frozen=True)
class Project:
    """Only the component's projection on the span of directions [k, d] (along its last
    axis) swapped for base's: c - c P + other P, P the orthogonal projector on that span
    (the directions need not be orthonormal)."""

    directions: Any = field(compare=False)
    base: Any = field(default_factory=Mean)

    def label(self) -> str:
        k = 1 if len(_shape(self.directions)) == 1 else _shape(self.directions)[0]
        return f"project(k={k}, {_kind(self.base).label()})"


_KINDS = {"zero": Zero, "mean": Mean, "resample": Resample}
Kind = Union[str, Zero, Mean, Resample, Scaled, Project]


def _kind(kind: Any) -> Any:
    if isinstance(kind, str):
        if kind not in _KINDS:
            raise ValueError(
                f"unknown ablation kind {kind!r}; kinds: {', '.join(_KINDS)}, or Zero(), Mean(), "
                "Resample(), Scaled(alpha), Project(directions)"
            )
        return _KINDS[kind]()
    if isinstance(kind, (Zero, Mean, Resample, Scaled, Project)):
        return kind
    raise TypeError(
        "an ablation kind is 'zero', 'mean', 'resample' or a Zero, Mean, Resample, Scaled or "
        f"Project, not {type(kind).__name__}"
    )


@dataclass(frozen=True)
class At:
    """Part of a component: the entries `index` (an int or a list of ints) along `axis` of
    the component's value, e.g. one head of TransformerLens's 'blocks.3.attn.hook_z'
    (rc's layout [*batch, head, pos, d_head], heads on axis -3). Only those entries are
    ablated. label names the part in tables."""

    component: Any
    index: Union[int, Sequence[int]]
    axis: int = -3
    label: Optional[str] = None

    def name(self) -> str:
        if self.label is not None:
            return self.label
        return f"{_component_label(self.component)}[axis {self.axis}: {self.index}]"


def heads(n_layers: int, n_heads: int, hook: str = "attn.hook_z") -> List[At]:
    """One `At` per head of a model that is not split by head: head h of TransformerLens hook
    'blocks.{l}.{hook}' (rc's layout, heads on axis -3), labelled 'L{l}H{h}'."""
    return [
        At(f"blocks.{layer}.{hook}", h, axis=-3, label=f"L{layer}H{h}")
        for layer in range(n_layers)
        for h in range(n_heads)
    ]


def _component_label(component: Any) -> str:
    if isinstance(component, At):
        return component.name()
    if isinstance(component, str):
        return component
    return repr(component)


def _shape(value: Any) -> Tuple[int, ...]:
    return tuple(int(s) for s in getattr(value, "shape", ()))


def _np_dtype(node: Circuit) -> str:
    dtype = node.dtype
    return dtype if dtype in ("float16", "float32", "float64") else "float32"


def _constant(values: Any, node: Circuit, name: str) -> Array:
    """An Array of values in node's float dtype."""
    import numpy as np

    if type(values).__module__.startswith("torch"):
        import torch

        return Array(values.to(getattr(torch, _np_dtype(node))), name)
    return Array(np.asarray(values, dtype=_np_dtype(node)), name)


def _neg(node: Circuit) -> Circuit:
    return Einsum.scalar_mul(node, -1.0, name=f"neg {node.name}", scalar_name="neg_1")


def _sub(a: Circuit, b: Circuit, name: str) -> Circuit:
    return Add(a, _neg(b), name=name)


def _axis(axis: int, rank: int, what: str, node: Circuit) -> int:
    if not -rank <= axis < rank:
        raise ValueError(
            f"{what}: axis {axis} is out of range for {node.name!r} of shape {tuple(node.shape)}"
        )
    return axis % rank


def _broadcast_mean(mean: Circuit, node: Circuit, axis: int) -> Circuit:
    return mean.expand_at_axes(axis, node.shape[axis], name=f"{node.name}.mean")


class _Context:
    """What one ablation needs besides the matched node: the batch axis, and the values of
    the matched nodes on reference inputs, computed once."""

    def __init__(self, what: str, batch_axis: int, reference_means: Dict[Any, Any]):
        self.what = what
        self.batch_axis = batch_axis
        self.reference_means = reference_means

    def batch(self, node: Circuit) -> int:
        return _axis(self.batch_axis, node.ndim, f"{self.what}: batch_axis", node)

    def other(self, kind: Any, node: Circuit) -> Circuit:
        """The value that replaces node under kind (of node's shape)."""
        if isinstance(kind, Zero):
            return Scalar(0.0, tuple(node.shape), f"{node.name}.zero")
        if isinstance(kind, Mean):
            axis = self.batch(node)
            if kind.reference is None:
                return _broadcast_mean(node.mean(axis, name=f"{node.name}.batch_mean"), node, axis)
            mean = self.reference_means[(id(kind), node.hash)]
            return _broadcast_mean(mean, node, axis)
        if isinstance(kind, Resample):
            axis = self.batch(node)
            perm = _permutation(kind, node.shape[axis], self.what, node)
            entries = [slice(None)] * axis + [perm]
            return Index(node, tuple(entries), name=f"{node.name}.resampled")
        if isinstance(kind, Scaled):
            other = self.other(_kind(kind.base), node)
            delta = Einsum.scalar_mul(
                _sub(other, node, f"{node.name}.delta"), float(kind.alpha), scalar_name="alpha"
            )
            return Add(node, delta, name=f"{node.name}.scaled")
        if isinstance(kind, Project):
            other = self.other(_kind(kind.base), node)
            projector = _projector(kind.directions, node, self.what)
            letters = "abcdefghijklmnopqrstuvwxy"[: node.ndim]
            spec = f"{letters},{letters[-1]}z->{letters[:-1]}z"
            delta = Einsum.from_einsum_string(
                spec,
                _sub(other, node, f"{node.name}.delta"),
                projector,
                name=f"{node.name}.projected_delta",
            )
            return Add(node, delta, name=f"{node.name}.projected")
        raise TypeError(f"{self.what}: unknown ablation kind {kind!r}")


def _permutation(kind: Resample, size: int, what: str, node: Circuit) -> Any:
    import numpy as np

    if kind.perm is None:
        perm = np.random.default_rng(kind.seed).permutation(size)
    else:
        perm = np.asarray(
            kind.perm.tolist() if hasattr(kind.perm, "tolist") else kind.perm, dtype=np.int64
        )
    if perm.ndim != 1 or perm.shape[0] != size:
        raise ValueError(
            f"{what}: Resample perm of shape {tuple(perm.shape)} does not fit {node.name!r} of "
            f"shape {tuple(node.shape)}: it needs one batch index per example ({size})"
        )
    if size and (perm.min() < 0 or perm.max() >= size):
        raise ValueError(
            f"{what}: Resample perm has entries outside [0, {size}) for {node.name!r} of shape "
            f"{tuple(node.shape)}"
        )
    try:
        import torch

        return torch.as_tensor(perm, dtype=torch.int64)
    except ImportError:
        return perm.astype(np.int64)


def _projector(directions: Any, node: Circuit, what: str) -> Array:
    """The orthogonal projector [d, d] on the span of directions [k, d] (or [d]), from a QR
    factorisation of their transpose."""
    shape = _shape(directions)
    width = node.shape[-1] if node.ndim else None
    if len(shape) not in (1, 2) or shape[-1] != width or shape[-1] == 0:
        raise ValueError(
            f"{what}: Project directions of shape {shape} do not fit {node.name!r} of shape "
            f"{tuple(node.shape)}: they must be [k, {width}] (or [{width}])"
        )
    if type(directions).__module__.startswith("torch"):
        import torch

        d = directions.detach().to("cpu", torch.float64).reshape(-1, shape[-1])
        q, _ = torch.linalg.qr(d.T)
        return _constant(q @ q.T, node, f"{node.name}.projector")
    import numpy as np

    d = np.asarray(directions, dtype=np.float64).reshape(-1, shape[-1])
    q, _ = np.linalg.qr(d.T)
    return _constant(q @ q.T, node, f"{node.name}.projector")


def _part(node: Circuit, other: Circuit, at: At, what: str) -> Circuit:
    """node with only at's entries replaced by other's: node + E (other - node)[entries],
    E scattering the k entries back along the axis."""
    import numpy as np

    axis = _axis(at.axis, node.ndim, f"{what}: At axis", node)
    size = node.shape[axis]
    picked = [at.index] if isinstance(at.index, int) else list(at.index)
    if not picked or any(not isinstance(i, int) or not -size <= i < size for i in picked):
        raise ValueError(
            f"{what}: At index {at.index!r} is outside axis {at.axis} (size {size}) of "
            f"{node.name!r} of shape {tuple(node.shape)}"
        )
    picked = [i % size for i in picked]
    entries = [slice(None)] * axis
    if len(picked) == 1:
        entries.append(slice(picked[0], picked[0] + 1))
    else:
        entries.append(np.asarray(picked, dtype=np.int64))
    delta = _sub(
        Index(other, tuple(entries)), Index(node, tuple(entries)), f"{node.name}.part_delta"
    )
    scatter = np.zeros((len(picked), size), dtype=_np_dtype(node))
    scatter[np.arange(len(picked)), picked] = 1.0
    letters = "abcdefghijklmnopqrstuvwx"[: node.ndim]
    spec = f"{letters},{letters[axis]}z->{letters[:axis]}z{letters[axis + 1:]}"
    placed = Einsum.from_einsum_string(
        spec, delta, Array(scatter, f"{node.name}.scatter"), name=f"{node.name}.part_placed"
    )
    return Add(node, placed, name=f"{node.name}.part")


def _path_matcher(path: Any) -> Optional[IterativeMatcher]:
    if path is None:
        return None
    if isinstance(path, (list, tuple)):
        if not path:
            raise ValueError("ablate: path is an empty list")
        out = IterativeMatcher(_as_matcher(path[0], "ablate: path"))
        for step in path[1:]:
            out = out.chain(_as_matcher(step, "ablate: path"))
        return out
    return IterativeMatcher(_as_matcher(path, "ablate: path"))


def _target(component: Any, path: Any, what: str) -> Tuple[Any, Optional[At]]:
    at = component if isinstance(component, At) else None
    base = at.component if at is not None else component
    matcher = _as_matcher(base, what)
    chain = _path_matcher(path)
    if chain is not None:
        matcher = chain.chain(matcher)
    return matcher, at


def _prepare(circuit: Circuit, inputs: Any, batch_axis: int, what: str) -> Circuit:
    if not isinstance(circuit, Circuit):
        raise TypeError(f"{what}: expected a Circuit, not {type(circuit).__name__}")
    circuit = replace_inputs(circuit, inputs, batch_axis, what)
    if circuit.are_any_found(Module):
        circuit = substitute_all_modules(circuit)
    return circuit


def _reference_means(nodes: List[Circuit], kind: Any, batch_axis: int, what: str) -> Dict[Any, Any]:
    """(id(mean kind), node hash) -> Array of the mean over the batch of each node on the
    reference inputs of every Mean(reference) inside kind, each computed with one plan."""
    means: Dict[Any, Any] = {}
    pending = [kind]
    while pending:
        k = pending.pop()
        if isinstance(k, (Scaled, Project)):
            pending.append(_kind(k.base))
            continue
        if not isinstance(k, Mean) or k.reference is None:
            continue
        # Each node on the reference inputs: its own subcircuit with the inputs replaced.
        ref_nodes = [
            replace_inputs(node, k.reference, batch_axis, f"{what}: Mean reference", partial=True)
            for node in nodes
        ]
        values, _ = evaluate_nodes(ref_nodes)
        for node, value in zip(nodes, values):
            axis = _axis(batch_axis, node.ndim, f"{what}: batch_axis", node)
            mean = value.mean(axis)
            expected = tuple(s for i, s in enumerate(node.shape) if i != axis)
            if _shape(mean) != expected:
                raise ValueError(
                    f"{what}: the reference mean of {node.name!r} has shape {_shape(mean)}, "
                    f"expected {expected} (its shape {tuple(node.shape)} without the batch axis)"
                )
            means[(id(k), node.hash)] = _constant(mean, node, f"{node.name}.reference_mean")
    return means


def _ablate_prepared(
    circuit: Circuit, component: Any, kind: Any, path: Any, batch_axis: int, what: str
) -> Circuit:
    kind = _kind(kind)
    matcher, at = _target(component, path, what)
    nodes = list(circuit.get(matcher))
    if not nodes:
        shown = at.component if at is not None else component
        if path is not None:
            raise ValueError(
                f"{what}: {_component_label(shown)!r} matches no node of {circuit.name!r} "
                f"along path {path!r}"
            )
        raise _not_found(circuit, shown, what)
    ctx = _Context(what, batch_axis, _reference_means(nodes, kind, batch_axis, what))

    def replace(node: Circuit) -> Circuit:
        other = ctx.other(kind, node)
        return other if at is None else _part(node, other, at, what)

    return circuit.update(matcher, replace)


def ablate(
    circuit: Circuit,
    component: Any,
    kind: Kind,
    *,
    path: Any = None,
    batch_axis: int = 0,
    reference: Any = None,
    inputs: Any = None,
) -> Circuit:
    """circuit with component ablated by kind.

    component: a node name, a TransformerLens hook name, a Matcher or IterativeMatcher (every
    node it matches is ablated; none is a ValueError suggesting the nearest names), or an
    `At` for some entries of one axis (a head of a per-layer hook). kind: 'zero', 'mean',
    'resample' or Zero(), Mean(reference), Resample(perm, seed), Scaled(alpha, base),
    Project(directions, base); reference is a shortcut for Mean(reference) with kind 'mean'.
    path: matchers from the root towards the component (a chain, or a list chained in
    order); the component is then matched below the path's end and only along it (path
    patching). The replacement is computed from the unablated node, and the new node is
    named after it ('<name>.batch_mean', '<name>.resampled', '<name>.part', ...). A circuit
    with Modules is substituted first; inputs replaces its inputs (see `run_with_cache`).
    """
    what = "ablate"
    if reference is not None:
        if not (kind == "mean" or isinstance(kind, Mean) and kind.reference is None):
            raise ValueError(f"{what}: reference is for kind 'mean', not {kind!r}")
        kind = Mean(reference)
    circuit = _prepare(circuit, inputs, batch_axis, what)
    return _ablate_prepared(circuit, component, kind, path, batch_axis, what)


def _metric_circuit(metric: Any, circuit: Circuit, what: str) -> Circuit:
    if isinstance(metric, str):
        value = find_node(circuit, metric, what)
    elif callable(metric):
        value = metric(circuit)
        if not isinstance(value, Circuit):
            raise TypeError(f"{what}: metric must return a Circuit, not {type(value).__name__}")
    else:
        raise TypeError(
            f"{what}: metric is a node name or a function circuit -> circuit, not "
            f"{type(metric).__name__}"
        )
    return value.mean(name="metric") if value.ndim else value


def _progress_bar(total: int, progress: Optional[bool]):
    if progress is False or total <= 1:
        return None
    import sys

    interactive = hasattr(sys.stderr, "isatty") and sys.stderr.isatty()
    if not progress and not interactive:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc="ablation variants", unit="variant", delay=0 if progress else 1)


def ablation_table(
    circuit: Circuit,
    components: Sequence[Any],
    kinds: Union[Kind, Sequence[Kind]],
    metric: Union[str, Callable[[Circuit], Circuit]],
    *,
    baseline: bool = True,
    path: Any = None,
    batch_axis: int = 0,
    inputs: Any = None,
    variants_per_plan: Optional[int] = None,
    max_memory: Optional[int] = None,
    device: Any = None,
    progress: Optional[bool] = None,
    as_dataframe: Optional[bool] = None,
) -> Any:
    """metric for every (component, kind), evaluated with one plan.

    metric: a function circuit -> circuit (e.g. `next_token_loss()`), or a node name; a
    value that is not a scalar is averaged. Every ablated circuit's metric (and, with
    baseline, the unablated one's) is an output of one `evaluate_many` plan, so what the
    ablations do not touch is computed once; variants_per_plan splits the variants into
    plans of that many (each still sharing within itself), and max_memory bounds each plan
    (the engine's chunking along the leading axis). Returns a pandas DataFrame with columns
    component, kind, metric and delta (metric minus the baseline; NaN without baseline) when
    pandas is installed (as_dataframe None or True), else a list of dicts with those keys.
    Components and kinds are as `ablate` takes them; path applies to every component.
    """
    what = "ablation_table"
    if isinstance(kinds, (str, Zero, Mean, Resample, Scaled, Project)):
        kinds = [kinds]
    kinds = [_kind(k) for k in kinds]
    components = list(components)
    if not components or not kinds:
        raise ValueError(f"{what}: no components or no kinds given")
    if variants_per_plan is not None and variants_per_plan <= 0:
        raise ValueError(f"{what}: variants_per_plan must be positive, not {variants_per_plan}")
    circuit = _prepare(circuit, inputs, batch_axis, what)
    rows: List[Dict[str, Any]] = []
    outputs: List[Circuit] = []
    for component in components:
        for kind in kinds:
            ablated = _ablate_prepared(circuit, component, kind, path, batch_axis, what)
            outputs.append(_metric_circuit(metric, ablated, what))
            rows.append({"component": _component_label(component), "kind": kind.label()})
    clean = _metric_circuit(metric, circuit, what) if baseline else None
    per_plan = variants_per_plan or len(outputs)
    bar = _progress_bar(len(outputs), progress)
    values: List[float] = []
    base_value = math.nan
    try:
        for start in range(0, len(outputs), per_plan):
            group = outputs[start : start + per_plan]
            if clean is not None and start == 0:
                group = [clean] + group
            got, _ = evaluate_nodes(group, max_memory=max_memory, device=device, progress=False)
            got = [float(v) for v in got]
            if clean is not None and start == 0:
                base_value = got.pop(0)
            values += got
            if bar is not None:
                bar.update(len(got))
    finally:
        if bar is not None:
            bar.close()
    for row, value in zip(rows, values):
        row["metric"] = value
        row["delta"] = value - base_value
    return _table(rows, as_dataframe)


def _table(rows: List[Dict[str, Any]], as_dataframe: Optional[bool]) -> Any:
    if as_dataframe is False:
        return rows
    try:
        import pandas
    except ImportError:
        if as_dataframe:
            raise
        return rows
    return pandas.DataFrame(rows, columns=["component", "kind", "metric", "delta"])


def next_token_loss(tokens: Any = None) -> Callable[[Circuit], Circuit]:
    """A metric for `ablation_table`: logits [*batch, seq, vocab] -> the mean next-token
    cross-entropy, -log_softmax(logits)[..., :-1, :] at tokens[..., 1:]. tokens is the
    token-id node's name (default 't.toks', the loaders' input), or ids [*batch, seq]."""

    def metric(circuit: Circuit) -> Circuit:
        if tokens is None or isinstance(tokens, str):
            toks = find_node(circuit, tokens or "t.toks", "next_token_loss")
        else:
            import numpy as np

            ids = tokens if type(tokens).__module__.startswith("torch") else np.asarray(tokens)
            toks = Array(ids, "next_token_loss.tokens")
        if circuit.ndim < 2 or tuple(circuit.shape[:-1]) != tuple(toks.shape):
            raise ValueError(
                f"next_token_loss: logits {circuit.name!r} of shape {tuple(circuit.shape)} do not "
                f"fit tokens of shape {tuple(toks.shape)}: expected [*batch, seq, vocab]"
            )
        lead = [slice(None)] * (toks.ndim - 1)
        logits = Index(circuit, tuple(lead + [slice(None, -1)]), name="next_token_loss.logits")
        targets = Index(toks, tuple(lead + [slice(1, None)]), name="next_token_loss.targets")
        logprobs = log_softmax(logits, name="next_token_loss.logprobs")
        picked = GeneralFunction.gen_index(
            logprobs, targets, -1, batch_x=True, name="next_token_loss.picked"
        )
        return Einsum.scalar_mul(picked.mean(), -1.0, name="next_token_loss", scalar_name="neg_1")

    return metric
