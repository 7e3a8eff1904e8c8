"""Activation caches: many internal nodes of a circuit evaluated in one plan.

`run_with_cache(circuit, names, inputs)` finds each requested node (a name, a Matcher or
IterativeMatcher, or a TransformerLens hook name such as 'blocks.3.hook_resid_post'),
replaces the circuit's inputs when asked, and evaluates every requested node with one plan
(`_evaluate_bounded`, the engine's multi-output evaluation), so the work they share is done
once and only the requested values are kept. `max_memory` splits the run along the batch
axis with the engine's chunking (docs/memory.md). The result is an `ActivationCache`, a
read-only mapping from the names as given to tensors.

`resid_stream_names` / `stack_resid` and `head_output_names` / `stack_heads` name and stack
"the residual stream at every layer" and "every head's output" for models built by
`circuits.loaders` and `circuits.module_library` (also after
`model_rewrites.configure_transformer`, with or without head splitting).
"""

import difflib
import re
from collections.abc import Mapping
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

from .. import _circuits
from .._circuits import (
    Array,
    Circuit,
    DiscreteVar,
    IterativeMatcher,
    Matcher,
    Module,
    Symbol,
    substitute_all_modules,
)

__all__ = [
    "ActivationCache",
    "find_node",
    "head_output_names",
    "replace_inputs",
    "resid_stream_names",
    "run_with_cache",
    "stack_heads",
    "stack_resid",
]

# Names that TransformerLens gives its hooks: these are looked up through
# `loaders.tl_hook_matcher` rather than as node names.
_TL_HOOK = re.compile(r"^(blocks\.\d+\..*hook_\w+|hook_\w+|ln_final\.hook_\w+|unembed\.hook_\w+)$")

# The input a single tensor replaces, in order of preference: the loaders' token ids
# ('t.toks', from `loaders.logits_circuit`), then the module library's input symbol.
_INPUT_NAMES = ("t.toks", "t.input")


def _is_tl_hook(name: str) -> bool:
    return _TL_HOOK.match(name) is not None


def _describe(key: Any) -> str:
    return repr(key) if isinstance(key, str) else str(key)


def _node_names(circuit: Circuit) -> List[str]:
    return sorted({n.name for n in circuit.get(Matcher(True)) if n.name})


def _not_found(circuit: Circuit, key: Any, what: str) -> ValueError:
    message = f"{what}: {_describe(key)} matches no node of {circuit.name!r}"
    if isinstance(key, str):
        close = difflib.get_close_matches(key, _node_names(circuit), n=5, cutoff=0.6)
        if close:
            message += "; did you mean " + ", ".join(repr(c) for c in close) + "?"
    return ValueError(message)


def _as_matcher(key: Any, what: str) -> Any:
    if isinstance(key, str):
        if _is_tl_hook(key):
            from ..loaders import tl_hook_matcher

            return tl_hook_matcher(key)
        return Matcher(key)
    if isinstance(key, (Matcher, IterativeMatcher)):
        return key
    raise TypeError(
        f"{what}: a node is given by a name, a Matcher or an IterativeMatcher, "
        f"not {type(key).__name__}"
    )


def find_node(circuit: Circuit, key: Any, what: str = "find_node") -> Circuit:
    """The one node of circuit that key (a name, a TransformerLens hook name, a Matcher or an
    IterativeMatcher) matches. No match is a ValueError suggesting the nearest names; several
    distinct nodes are a ValueError naming them."""
    found = list(circuit.get(_as_matcher(key, what)))
    if not found:
        raise _not_found(circuit, key, what)
    if len(found) > 1:
        shown = ", ".join(sorted(f"{n.name!r} {tuple(n.shape)}" for n in found)[:6])
        raise ValueError(
            f"{what}: {_describe(key)} matches {len(found)} distinct nodes of {circuit.name!r} "
            f"({shown}); give a matcher that selects one"
        )
    return found[0]


def _shape_of(value: Any) -> Tuple[int, ...]:
    shape = getattr(value, "shape", None)
    if shape is None:
        raise TypeError(f"an input value must be a tensor or array, not {type(value).__name__}")
    return tuple(int(s) for s in shape)


def _cast_like(value: Any, node: Circuit) -> Any:
    """value with node's dtype when node fixes one (token ids given as int32 for an int64
    input, float64 data for a float32 model)."""
    dtype = node.dtype
    if dtype is None:
        return value
    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None and isinstance(value, torch.Tensor):
        return value.to(getattr(torch, dtype))
    import numpy as np

    if isinstance(value, np.ndarray):
        return value.astype(dtype, copy=False)
    return value


def _unique_input(circuit: Circuit, what: str) -> Circuit:
    for name in _INPUT_NAMES:
        found = list(circuit.get(Matcher(name)))
        if len(found) == 1:
            return found[0]
    placeholders = list(circuit.get(Matcher(DiscreteVar) | Matcher(Symbol)))
    if len(placeholders) == 1:
        return placeholders[0]
    names = ", ".join(sorted(repr(p.name) for p in placeholders)[:6])
    raise ValueError(
        f"{what}: a single input tensor replaces the circuit's one input (a node named "
        f"{' or '.join(repr(n) for n in _INPUT_NAMES)}, else its only Symbol or DiscreteVar); "
        f"{circuit.name!r} has "
        + (f"{len(placeholders)} placeholders ({names})" if placeholders else "none")
        + "; pass a dict {name: tensor}"
    )


def replace_inputs(
    circuit: Circuit,
    inputs: Any,
    batch_axis: int = 0,
    what: str = "replace_inputs",
    partial: bool = False,
) -> Circuit:
    """circuit with its input nodes replaced by Arrays of new values.

    inputs is None (circuit unchanged), a dict {name or matcher: tensor} whose keys each
    match one Array, Symbol or DiscreteVar, or one tensor for the circuit's unique input: the
    node named 't.toks' (the token ids of `loaders.logits_circuit`), else 't.input' (the
    module library's input), else its only Symbol or DiscreteVar. A new value keeps the
    node's name and is cast to its dtype; its shape must equal the node's except along
    batch_axis (a new batch size), else a ValueError names the input and both shapes.
    With partial, dict keys that match nothing in circuit are skipped (a subcircuit that
    reads only some of the inputs), but at least one must match."""
    if inputs is None:
        return circuit
    if isinstance(inputs, Mapping):
        keys = list(inputs)
        if partial:
            keys = [k for k in keys if circuit.get(_as_matcher(k, what))]
            if not keys:
                raise ValueError(
                    f"{what}: {circuit.name!r} reads none of the inputs "
                    f"{', '.join(_describe(k) for k in inputs)}"
                )
        pairs = [(find_node(circuit, k, what), inputs[k], k) for k in keys]
    else:
        node = _unique_input(circuit, what)
        pairs = [(node, inputs, node.name)]
    out = circuit
    for node, value, key in pairs:
        if not isinstance(node, (Array, Symbol, DiscreteVar)):
            raise ValueError(
                f"{what}: input {_describe(key)} is a {type(node).__name__} node; only Array, "
                "Symbol and DiscreteVar inputs are replaced"
            )
        shape = _shape_of(value)
        expected = tuple(node.shape)
        axis = batch_axis + len(expected) if batch_axis < 0 else batch_axis
        same_rank = len(shape) == len(expected)
        if not same_rank or any(
            a != b for i, (a, b) in enumerate(zip(shape, expected)) if i != axis
        ):
            raise ValueError(
                f"{what}: input {_describe(key)} has shape {expected}; the value given has shape "
                f"{shape} (only the batch axis {batch_axis} may differ)"
            )
        replacement = Array(_cast_like(value, node), node.name)
        out = out.update(Matcher(node), lambda _c, r=replacement: r)
    return out


def _progress(progress: Optional[bool]):
    """(progress callback, close) for `_evaluate_bounded`: a tqdm bar over chunks when
    progress is True, the engine's default (a bar for long interactive runs) when None,
    nothing when False."""
    if progress is False:
        return None, None
    from .._optimize import OptimizationSettings, _progress_bar

    return _progress_bar(OptimizationSettings(verbose=1 if progress else 0))


def evaluate_nodes(
    nodes: Sequence[Circuit],
    *,
    max_memory: Optional[int] = None,
    device: Any = None,
    progress: Optional[bool] = None,
) -> Tuple[list, Dict[str, int]]:
    """(values, stats) of nodes evaluated with one plan, split into chunks along the leading
    axis when the plan would pass max_memory bytes, on device ('cpu', 'cuda:<n>')."""
    callback, close = _progress(progress)
    if device is not None and not isinstance(device, str):
        device = str(device)
    try:
        return _circuits._evaluate_bounded(
            list(nodes), device=device, max_memory=max_memory, progress=callback
        )
    finally:
        if close is not None:
            close()


def run_with_cache(
    circuit: Circuit,
    names: Sequence[Any],
    inputs: Any = None,
    *,
    max_memory: Optional[int] = None,
    device: Any = None,
    batch_axis: int = 0,
    progress: Optional[bool] = None,
) -> "ActivationCache":
    """The values of the nodes names select, computed with one plan, as an ActivationCache.

    names: node names, Matchers / IterativeMatchers, or TransformerLens hook names
    ('blocks.3.hook_resid_post', resolved by `loaders.tl_hook_matcher`); each must match
    exactly one node. A circuit with Modules is substituted first (`substitute_all_modules`),
    so nodes inside module bodies are nodes of their own. inputs: see `replace_inputs`.
    max_memory (bytes): the run is split along the leading axis so its live results stay
    under it (the engine's chunking; batch_axis must then be 0). device: where to evaluate
    ('cpu', 'cuda:<n>'). progress: True draws a tqdm bar over the chunks, False never, None
    only for long interactive runs. Values keep rc's layouts (`loaders.tl_hook_to_tl_layout`
    gives TransformerLens's).
    """
    what = "run_with_cache"
    if isinstance(names, (str, Matcher, IterativeMatcher)):
        names = [names]
    names = list(names)
    if not names:
        raise ValueError(f"{what}: no names given")
    if max_memory is not None and batch_axis != 0:
        raise ValueError(
            f"{what}: max_memory splits the leading axis; batch_axis must be 0, not {batch_axis}"
        )
    circuit = replace_inputs(circuit, inputs, batch_axis, what)
    if circuit.are_any_found(Module):
        circuit = substitute_all_modules(circuit)
    nodes = [find_node(circuit, n, what) for n in names]
    keys = []
    for given, node in zip(names, nodes):
        keys.append(given if isinstance(given, str) else node.name)
    if len(set(keys)) != len(keys):
        dup = sorted({k for k in keys if keys.count(k) > 1})
        raise ValueError(f"{what}: names {dup} are requested twice")
    values, stats = evaluate_nodes(nodes, max_memory=max_memory, device=device, progress=progress)
    return ActivationCache(dict(zip(keys, values)), stats)


def _is_torch(value: Any) -> bool:
    return type(value).__module__.startswith("torch")


def _stack(values: Sequence[Any]) -> Any:
    if values and _is_torch(values[0]):
        import torch

        return torch.stack(list(values))
    import numpy as np

    return np.stack(list(values))


def _moveaxis(value: Any, source: int, dest: int) -> Any:
    if _is_torch(value):
        return value.movedim(source, dest)
    import numpy as np

    return np.moveaxis(value, source, dest)


class ActivationCache(Mapping):
    """A read-only mapping from the requested names to their values (torch tensors, or numpy
    arrays without torch), as `run_with_cache` returns. `stats` says what the evaluation did
    (nodes computed, peak bytes, chunks)."""

    def __init__(self, values: Dict[str, Any], stats: Optional[Dict[str, int]] = None):
        self._values = dict(values)
        self.stats = dict(stats or {})

    def __getitem__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            close = difflib.get_close_matches(str(name), list(self._values), n=5, cutoff=0.6)
            hint = "; did you mean " + ", ".join(repr(c) for c in close) + "?" if close else ""
            raise KeyError(f"{name!r} is not in the cache{hint}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def stack(self, names: Optional[Sequence[str]] = None) -> Any:
        """The values of names (all, in order, by default) stacked along a new axis 0; they
        must have one shape."""
        names = list(self._values) if names is None else list(names)
        if not names:
            raise ValueError("ActivationCache.stack: no names to stack")
        values = [self[n] for n in names]
        shapes = {tuple(v.shape) for v in values}
        if len(shapes) > 1:
            found = ", ".join(f"{n!r} {tuple(v.shape)}" for n, v in zip(names, values))
            raise ValueError(f"ActivationCache.stack: the values differ in shape: {found}")
        return _stack(values)

    def to(self, device: Any) -> "ActivationCache":
        """A cache with every value moved to device (torch values; numpy values only to
        'cpu')."""
        moved = {}
        for name, value in self._values.items():
            if _is_torch(value):
                moved[name] = value.to(device)
            elif str(device) == "cpu":
                moved[name] = value
            else:
                raise ValueError(
                    f"ActivationCache.to: {name!r} is a numpy array, which lives on the cpu only "
                    f"(asked for {device!r})"
                )
        return ActivationCache(moved, self.stats)

    def __repr__(self) -> str:
        lines = [f"ActivationCache({len(self)} activations"]
        for name, value in self._values.items():
            dtype = str(getattr(value, "dtype", "")).removeprefix("torch.")
            lines.append(f"  {name!r}: {tuple(value.shape)} {dtype}")
        return "\n".join(lines) + ("\n)" if len(lines) > 1 else ")")


# Residual-stream names -> position in the stream (0: the first block's input, l + 1: the
# output of block l).
_RESID_PATTERNS = (
    (re.compile(r"^blocks\.(\d+)\.hook_resid_pre$"), 0),
    (re.compile(r"^blocks\.(\d+)\.hook_resid_post$"), 1),
    (re.compile(r"^b(\d+)(\.call)?$"), 1),
)
_RESID_INPUTS = ("t.inp_tok_pos",)
_BLOCK_OUTPUT = re.compile(r"^b(\d+)(\.call)?$")


def _n_layers(circuit: Circuit) -> Tuple[int, Dict[int, str]]:
    blocks: Dict[int, str] = {}
    for node in circuit.get(Matcher.regex(r"^b\d+(\.call)?$")):
        found = _BLOCK_OUTPUT.match(node.name)
        layer = int(found.group(1))
        # 'b<i>.call' (a module call) is the block output; 'b<i>' alone is it once cleared.
        if layer not in blocks or node.name.endswith(".call"):
            blocks[layer] = node.name
    return len(blocks), blocks


def resid_stream_names(circuit_or_n_layers: Union[Circuit, int]) -> List[str]:
    """The residual stream at every layer: the first block's input and every block's
    output, n_layers + 1 names. For a number of layers, TransformerLens hook names
    ('blocks.0.hook_resid_pre', 'blocks.{l}.hook_resid_post'); for a circuit (from the
    loaders or the module library, configured or not), its nodes' names ('t.inp_tok_pos',
    then 'b{l}.call' or 'b{l}')."""
    if isinstance(circuit_or_n_layers, Circuit):
        n, blocks = _n_layers(circuit_or_n_layers)
        if n == 0 or sorted(blocks) != list(range(n)):
            raise ValueError(
                f"resid_stream_names: {circuit_or_n_layers.name!r} has no blocks "
                "'b0', 'b1', ... (or 'b0.call', ...) numbered from 0"
            )
        first = [name for name in _RESID_INPUTS if circuit_or_n_layers.are_any_found(Matcher(name))]
        if not first:
            raise ValueError(
                f"resid_stream_names: {circuit_or_n_layers.name!r} has no {_RESID_INPUTS[0]!r} "
                "(the embedded input of the first block)"
            )
        return first[:1] + [blocks[layer] for layer in range(n)]
    n = int(circuit_or_n_layers)
    if n <= 0:
        raise ValueError(f"resid_stream_names: n_layers must be positive, not {n}")
    return ["blocks.0.hook_resid_pre"] + [f"blocks.{layer}.hook_resid_post" for layer in range(n)]


def _resid_position(name: str) -> Optional[int]:
    if name in _RESID_INPUTS:
        return 0
    for pattern, offset in _RESID_PATTERNS:
        found = pattern.match(name)
        if found:
            return int(found.group(1)) + offset
    return None


def stack_resid(cache: Mapping, names: Optional[Sequence[str]] = None) -> Any:
    """The residual stream at every layer, [n_layers + 1, *value shape]: the cache's
    residual-stream entries (`resid_stream_names`' either spelling) ordered by depth, or
    the given names in their order."""
    if names is None:
        by_position: Dict[int, str] = {}
        for name in cache:
            position = _resid_position(name)
            if position is not None and position not in by_position:
                by_position[position] = name
        if not by_position:
            raise ValueError(
                "stack_resid: the cache has no residual-stream entries (see resid_stream_names)"
            )
        names = [by_position[p] for p in sorted(by_position)]
    return _stack_values(cache, names, "stack_resid")


def _stack_values(cache: Mapping, names: Sequence[str], what: str) -> Any:
    values = []
    for name in names:
        if name not in cache:
            raise KeyError(f"{what}: {name!r} is not in the cache")
        values.append(cache[name])
    shapes = {tuple(v.shape) for v in values}
    if len(shapes) > 1:
        found = ", ".join(f"{n!r} {tuple(v.shape)}" for n, v in zip(names, values))
        raise ValueError(f"{what}: the values differ in shape: {found}")
    return _stack(values)


_SPLIT_HEAD = (re.compile(r"^b(\d+)\.a\.h(\d+)$"), re.compile(r"^a(\d+)\.h(\d+)$"))
_LAYER_HEADS = re.compile(r"^blocks\.(\d+)\.attn\.hook_(result|z)$")


def head_output_names(circuit_or_n_layers: Union[Circuit, int]) -> List[str]:
    """Every head's output. For a circuit split by head (`configure_transformer` with
    split_by_head_config), its head nodes 'b{l}.a.h{h}' (with pull_up_head_split) or
    'a{l}.h{h}', layer by layer; for a circuit not split by head, or a number of layers,
    the per-layer TransformerLens hooks 'blocks.{l}.attn.hook_result' (rc's 'a.heads',
    [*batch, head, pos, d_model])."""
    if isinstance(circuit_or_n_layers, Circuit):
        circuit = circuit_or_n_layers
        for pattern in _SPLIT_HEAD:
            found = {}
            for node in circuit.get(Matcher.regex(pattern.pattern)):
                layer, head = pattern.match(node.name).groups()
                found[(int(layer), int(head))] = node.name
            if found:
                return [found[k] for k in sorted(found)]
        n, _ = _n_layers(circuit)
        if n == 0:
            raise ValueError(
                f"head_output_names: {circuit.name!r} has neither split heads ('a0.h0', "
                "'b0.a.h0', ...) nor blocks 'b0', ..."
            )
    else:
        n = int(circuit_or_n_layers)
        if n <= 0:
            raise ValueError(f"head_output_names: n_layers must be positive, not {n}")
    return [f"blocks.{layer}.attn.hook_result" for layer in range(n)]


def stack_heads(cache: Mapping, names: Optional[Sequence[str]] = None) -> Any:
    """Every head's output as [n_layers, n_heads, *per-head shape]. Split heads
    ('b{l}.a.h{h}' or 'a{l}.h{h}', each [*batch, pos, d_model]) are stacked by layer and
    head; per-layer hooks 'blocks.{l}.attn.hook_result' / 'hook_z' (rc's layout, heads on
    axis -3) are stacked by layer and their head axis moved to axis 1. names (default:
    every such entry of the cache) picks the entries."""
    keys = list(cache) if names is None else list(names)
    grid: Dict[Tuple[int, int], str] = {}
    layers: Dict[int, str] = {}
    for name in keys:
        for pattern in _SPLIT_HEAD:
            found = pattern.match(name)
            if found:
                grid.setdefault((int(found.group(1)), int(found.group(2))), name)
        found = _LAYER_HEADS.match(name)
        if found:
            layers.setdefault(int(found.group(1)), name)
    if grid and layers:
        raise ValueError(
            "stack_heads: the cache has both split heads and per-layer head hooks; pass names"
        )
    if layers:
        stacked = _stack_values(cache, [layers[k] for k in sorted(layers)], "stack_heads")
        rank = stacked.ndim
        if rank < 4:
            raise ValueError(
                f"stack_heads: per-layer head values must be [*batch, head, pos, d], found "
                f"shape {tuple(stacked.shape[1:])}"
            )
        return _moveaxis(stacked, rank - 3, 1)
    if not grid:
        raise ValueError("stack_heads: the cache has no head outputs (see head_output_names)")
    n_layers = 1 + max(layer for layer, _ in grid)
    n_heads = 1 + max(head for _, head in grid)
    missing = [f"L{l}H{h}" for l in range(n_layers) for h in range(n_heads) if (l, h) not in grid]
    if missing:
        raise ValueError(f"stack_heads: heads missing from the cache: {', '.join(missing[:8])}")
    rows = [
        _stack_values(cache, [grid[(l, h)] for h in range(n_heads)], "stack_heads")
        for l in range(n_layers)
    ]
    return _stack(rows)
