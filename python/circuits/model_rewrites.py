"""rc's transformer rewrites: from the module library's nested form ('t.bind_w', blocks bound
to weights) to forms where layers, heads and the residual stream are nodes of their own.

`configure_transformer` runs, in order and as asked: pulling attention/MLP biases out of
their modules, pushing weight bindings down to blocks, sublayers or heads, splitting heads,
pulling split heads up past their modules, clearing the block modules, and flattening the
residual stream. Every step keeps the circuit's value; the node names are rc's ('a1.h0',
'b0.m', 'final.norm', ...), so notebooks written for rc find the same nodes.
"""

from __future__ import annotations

import re
from enum import Enum
from typing import Dict, List, Literal, Optional, Set, Tuple, Union

from . import _circuits as rc
from .algebric_rewrite import explicit_reduce


class PushDownTransformerTo(Enum):
    """How far configure_transformer pushes the weight bindings: larger values push further."""

    BLOCK = 0
    ATTN_MLP = 1
    ATTN_MLP_NORM = 2
    ATTN_HEAD_MLP_NORM = 3


To = PushDownTransformerTo


def _layer_of(mods) -> Optional[int]:
    """The number of the innermost block module 'b<i>' among mods."""
    for m in mods:
        found = re.fullmatch(r"b(\d+)", m.name or "")
        if found:
            return int(found.group(1))
    return None


def push_down_transformer_namer(circ: rc.Circuit, _running, mods, _count) -> Optional[str]:
    """Names a node the pusher lands on by its layer: 'a.head' inside block 3 becomes 'a3.head',
    'ln' becomes its norm's name with the layer ('a3.norm')."""
    name = circ.name
    if not re.match(r"([amb]\.)|([am]$)|(ln$)", name or ""):
        return name
    if name == "ln":
        name = mods[0].name
    first, dot, rest = name.partition(".")
    num = _layer_of(mods)
    return f"{first}{'' if num is None else num}{dot}{rest}"


def strip_arr(c: rc.Circuit) -> rc.Circuit:
    """Arrays named '<x>_arr' renamed '<x>' (after the push-down no symbol holds that name)."""
    return c.update(
        rc.Matcher(rc.Array) & rc.Matcher(lambda x: (x.name or "").endswith("_arr")),
        lambda x: x.rename(x.name.removesuffix("_arr")),
    )


def pull_up_bias(c: rc.Circuit) -> rc.Circuit:
    """Attention and MLP output biases pulled out of the sublayer modules, so the bias is a
    term of the block ('b.a.p_bias' = module call + bias)."""

    def namer(x, _running, mods, _count):
        if not mods or x.name not in ("a", "m"):
            return x.name
        if mods[-1].name in ("b.a", "b.m"):
            if len(mods) not in (1, 2) or (
                len(mods) == 2 and mods[0].name not in ("a.norm_call", "m.norm_call")
            ):
                raise ValueError(
                    f"pull_up_bias: unexpected modules {[m.name for m in mods]} around '{x.name}'"
                )
            return f"b.{x.name}"
        if len(mods) == 1 and mods[0].name in ("a.norm_call", "m.norm_call"):
            return f"{x.name}.norm_call"
        raise ValueError(f"pull_up_bias: unexpected modules {[m.name for m in mods]} around '{x.name}'")

    out = rc.ModulePusher(namer=namer, flatten_modules=False).push_down_modules(
        c,
        traversal=rc.new_traversal(term_early_at=rc.Matcher.regex(r"^[am]$")),
        skip_module=~(rc.Matcher.regex(r"^[am].norm_call$") | rc.Matcher.regex(r"^b.[am]$")),
    )
    return out.update(
        rc.Matcher.regex(r"^b.[am]$") & rc.Matcher(rc.Add), lambda x: x.rename(x.name + ".p_bias")
    )


def push_down_transformer_weights(c: rc.Circuit, to: PushDownTransformerTo, use_strip_arr: bool = True):
    """The weight bindings of 't.bind_w' pushed down to each block (BLOCK), attention/MLP call
    (ATTN_MLP), attention/MLP body past its norm (ATTN_MLP_NORM), or attention heads
    (ATTN_HEAD_MLP_NORM); with use_strip_arr the '_arr' suffix of weights is dropped."""
    if c.name != "t.bind_w":
        raise ValueError(f"push_down_transformer_weights: expected the module 't.bind_w', got '{c.name}'")
    skip = ~rc.Matcher(
        rc.Matcher.regex(r"^b\d+$"), "final.norm", "t.bind_w", rc.Matcher.regex(r"^[am].norm$")
    )
    stops: List = ["ln", "bn"]
    if to == To.BLOCK:
        stops.append("b")
    elif to == To.ATTN_MLP:
        stops.append(rc.Matcher.regex(r"^[am].norm_call$"))
    if to.value <= To.ATTN_MLP_NORM.value:
        stops.append(rc.Matcher.regex(r"^[am](.p_bias)?$"))
    if to.value <= To.ATTN_HEAD_MLP_NORM.value:
        stops += [rc.Matcher.regex(r"^m(.p_bias)?$"), "a.head.on_inp"]
    out = rc.ModulePusher(namer=push_down_transformer_namer).push_down_modules(
        c, traversal=rc.new_traversal(term_early_at=rc.Matcher.any(*stops)), skip_module=skip
    )
    return strip_arr(out) if use_strip_arr else out


SplitConfigDict = Dict[int, List[Tuple[Union[int, slice], str]]]
SplitConfigSetDict = Union[Set[int], SplitConfigDict]
SplitConfig = Union[Literal["full"], SplitConfigSetDict]


def split_by_head(c: rc.Circuit, split: SplitConfig = "full") -> rc.Circuit:
    """Each attention layer 'a<i>' (weights pushed down to heads) as a sum of one circuit per
    head 'a<i>.h<j>' ("full": every layer; a set: those layers; a dict: layer -> [(index,
    name)] groups of heads)."""
    heads = c.get(rc.Matcher.regex(r"^a\d+.heads$"))
    if not heads:
        return c
    if split == "full":
        split = set(range(len(heads)))
    n_heads = next(iter(heads)).shape[0]
    if isinstance(split, set):
        split = {layer: [(h, f"h{h}") for h in range(n_heads)] for layer in split}
    out = c
    for layer, groups in split.items():
        if not out.are_any_found(f"a{layer}"):
            raise ValueError(
                f"split_by_head: no attention layer 'a{layer}' (push weights down to heads first)"
            )
        idxs = [i for i, _ in groups]
        names = [n for _, n in groups]
        out = out.update(
            f"a{layer}",
            lambda x: explicit_reduce(
                x,
                axis=0,
                element_index=0,
                partitioning_idxs=idxs,
                partitioning_idx_names=names,
                use_axis_name=False,
                run_on_index=lambda i, _, s: rc.push_down_index(i, suffix="." + s),
                use_dot=True,
            ),
        )
    return rc.simp(out).update(
        rc.Matcher.regex(r"^a\d+.heads."), lambda x: x.rename(x.name.replace(".heads.", "."))
    )


def pull_up_head_split(c: rc.Circuit, to_pull_up: Optional[Set[int]] = None) -> rc.Circuit:
    """Split heads pulled up past their norm and block modules, so each head binds its own
    norm and input ('b<i>.a.h<j>')."""
    block_call, norm_call = r"b\d+\.a$", r"a\d+\.norm_call$"

    def namer(x, _running, mods, _count):
        if not mods or not re.match(rf"{norm_call}|{block_call}", mods[0].name):
            return x.name
        if not re.match(r"^a\d+", x.name):
            raise ValueError(f"pull_up_head_split: unexpected node '{x.name}' under '{mods[0].name}'")
        if re.match(block_call, mods[-1].name):
            if len(mods) == 2 and not re.match(norm_call, mods[0].name):
                raise ValueError(f"pull_up_head_split: unexpected modules {[m.name for m in mods]}")
            layer, _, head = x.name.partition(".")
            return f"b{int(layer[1:])}.a.{head}"
        if len(mods) == 1:
            return f"{x.name}.norm_call"
        raise ValueError(f"pull_up_head_split: unexpected modules {[m.name for m in mods]}")

    layers = to_pull_up if to_pull_up is not None else set(range(len(c.get(rc.Matcher.regex(r"^a\d+$")))))
    out = c
    for i in sorted(layers):
        out = rc.ModulePusher(namer=namer, flatten_modules=False).push_down_modules(
            out,
            traversal=rc.new_traversal(term_early_at=~rc.Matcher.match_any_found(f"a{i}")).chain(
                rc.IterativeMatcher.term()
            ),
            skip_module=~(rc.Matcher(f"a{i}.norm_call") | f"b{i}.a"),
        )
    return out


def clear_block_module(c: rc.Circuit) -> rc.Circuit:
    """Each block call 'b<i>.call' substituted and named 'b<i>', so the residual adds are not
    inside a module (once the weights are pushed past the blocks)."""
    return c.update(
        rc.Matcher.regex(r"^b\d+.call$"),
        lambda x: x.cast_module().substitute().rename(x.name.partition(".")[0]),
    )


def flatten_res(c: rc.Circuit, flatten_components: bool = False) -> rc.Circuit:
    """The residual stream as one Add per block; flatten_components also flattens inside the
    attention/MLP terms (split heads, biases)."""
    if flatten_components:
        traversal = rc.new_traversal()
    else:
        traversal = rc.new_traversal(
            term_early_at=rc.Matcher.regex(r"^b\d+.[am](.p_bias)?$") | rc.Matcher.regex("^[am].(.p_bias)?")
        )
    return c.update(rc.Matcher.regex(r"^b\d+(.resid.\w)?$"), lambda x: rc.add_flatten(x, traversal=traversal))


def configure_transformer(
    c: rc.Circuit,
    to: Optional[PushDownTransformerTo] = To.ATTN_MLP_NORM,
    use_pull_up_bias: bool = True,
    use_strip_arr: bool = True,
    split_by_head_config: Optional[SplitConfig] = None,
    use_pull_up_head_split: bool = False,
    use_clear_block_module: bool = True,
    use_flatten_res: bool = False,
    flatten_components: bool = False,
    check_valid: bool = True,
) -> rc.Circuit:
    """The model 't.bind_w' rewritten by the steps above that are switched on (see each
    function). check_valid refuses combinations that cannot work, naming the option."""
    if c.name != "t.bind_w":
        raise ValueError(f"configure_transformer: expected the module 't.bind_w', got '{c.name}'")
    if check_valid:
        if use_strip_arr and to is None:
            raise ValueError(
                "configure_transformer: use_strip_arr without pushing weights down (to=None) collides names"
            )
        if split_by_head_config is not None and to != To.ATTN_HEAD_MLP_NORM:
            raise ValueError("configure_transformer: split_by_head_config needs to=To.ATTN_HEAD_MLP_NORM")
        if use_pull_up_head_split and split_by_head_config is None:
            raise ValueError("configure_transformer: use_pull_up_head_split needs split_by_head_config")
        if use_clear_block_module and (to is None or to.value < To.ATTN_MLP.value):
            raise ValueError("configure_transformer: use_clear_block_module needs to >= To.ATTN_MLP")
        if use_flatten_res and not use_clear_block_module:
            raise ValueError("configure_transformer: use_flatten_res needs use_clear_block_module")
        if flatten_components and not use_flatten_res:
            raise ValueError(
                "configure_transformer: flatten_components has no effect without use_flatten_res"
            )
    if use_pull_up_bias:
        c = pull_up_bias(c)
    if to is not None:
        c = push_down_transformer_weights(c, to, use_strip_arr=use_strip_arr)
    if split_by_head_config is not None:
        c = split_by_head(c, split_by_head_config)
    if use_pull_up_head_split:
        layers = None
        if isinstance(split_by_head_config, set):
            layers = split_by_head_config
        elif isinstance(split_by_head_config, dict):
            layers = set(split_by_head_config)
        c = pull_up_head_split(c, to_pull_up=layers)
    if use_clear_block_module:
        c = clear_block_module(c)
    if use_flatten_res:
        c = flatten_res(c, flatten_components=flatten_components)
    return c.update(rc.SetSymbolicShape, lambda x: x.rename(x.get_autoname()))
