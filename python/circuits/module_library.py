"""Transformers as circuits, with rc's module library names.

A transformer is a tree of Modules over a few shared bodies: layer norm (``ln``), attention
(``a``: one head ``a.head``, batched over a leading head axis by the ``a.heads`` module), the
MLP (``m``), a block (``b``) with its residual adds, and the whole model (``t.logits``) where
each block's weights are bound to per-layer symbols (``a0.w.q``, ``m1.w.proj_in``, ...).

Names follow rc's convention: a body ``x`` has children ``x.y``, weights ``x.w.y`` and
constants ``x.c.y``. Symbols keep rc's uuids, and the per-layer weight symbols are drawn the
way rc draws them, so rc's model files (``# info:`` header, then a ``'t.bind_w' Module`` binding
arrays to ``'t.logits'``) load here with `load_transformer_model_string`.

Sizes of the bodies are symbolic (`HIDDEN`, `SEQ`, `HEADS`, ...): binding weights and inputs
fixes them.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import random
from typing import Any, Callable, Dict, List, Literal, Optional, Sequence, Tuple, Union
from uuid import UUID

import numpy as np

from . import _circuits as _c
from ._modules import SymbolicSizeProduct
from ._circuits import (
    Add,
    Array,
    Circuit,
    Concat,
    Einsum,
    GeneralFunction,
    Index,
    Module,
    ModuleArgSpec,
    ModuleSpec,
    Rearrange,
    Scalar,
    SetSymbolicShape,
    Symbol,
)

(
    HIDDEN,
    SEQ,
    SEQ_Q,
    SEQ_K,
    HEADS,
    MLP_PROJ,
    BILINEAR_MLP_PROJ,
    QK_DIM,
    V_DIM,
    LOG_LIKELYHOOD_CLASSES,
    VOCAB_SIZE,
    HALF_ROTARY_DIM,
) = _c.symbolic_sizes()[:12]
OUT_HIDDEN = HIDDEN

MlpActType = Literal["gelu", "gelu_new", "relu", "bilinear"]
PosEncType = Literal["gpt", "shortformer", "none"]
NormType = Literal["ln", "bn"]


def _sym(shape, uuid: str, name: str) -> Symbol:
    return Symbol(tuple(shape), UUID(uuid), name)


def _ein(spec: str, *nodes: Circuit, name: str) -> Einsum:
    return Einsum.from_einsum_string(spec, *nodes, name=name)


def _gf(spec_name: str, node: Circuit, name: str) -> GeneralFunction:
    return GeneralFunction.new_by_name(node, spec_name=spec_name, name=name)


def _call(body: Circuit, *bindings: Tuple[Circuit, Symbol], name: str) -> Module:
    """A module calling body with each (argument, symbol) pair bound."""
    spec = ModuleSpec(body, [ModuleArgSpec(s) for _, s in bindings])
    return Module.new_flat(spec, *(arg for arg, _ in bindings), name=name)


def named_circuits(*roots: Circuit) -> Dict[str, Circuit]:
    """Every named node under roots (module bodies included), first one of each name."""
    out: Dict[str, Circuit] = {}
    seen = set()
    stack = list(reversed(roots))
    while stack:
        c = stack.pop()
        if c in seen:
            continue
        seen.add(c)
        if c.name and c.name not in out:
            out[c.name] = c
        stack.extend(reversed(c.children))
    return out


def make_spec(
    body: Circuit, order: Sequence[Circuit] = (), exclude: Callable[[Symbol], bool] = lambda _: False
):
    """rc's make_spec: a ModuleSpec of body's free symbols, those in order first by position
    (the rest first of all, in visit order), without the excluded ones."""
    rank = {c: i for i, c in enumerate(order)}
    free = [s for s in _c.get_free_symbols(body) if not exclude(s)]
    free.sort(key=lambda s: rank.get(s, -1))
    return ModuleSpec(body, [ModuleArgSpec(s) for s in free])


@dataclasses.dataclass(frozen=True)
class ModuleLibraryRet:
    """A library body: `body`, the spec of its free symbols, and its named nodes."""

    circs: Dict[str, Circuit]
    body: Circuit
    spec: ModuleSpec
    name: str

    @classmethod
    def mk(cls, body: Circuit, order: Sequence[Circuit] = ()) -> "ModuleLibraryRet":
        return cls(circs=named_circuits(body), body=body, spec=make_spec(body, order), name=body.name)


# --- layer norm and batch norm ---------------------------------------------------------------


def _layernorm() -> ModuleLibraryRet:
    inp = _sym((HIDDEN,), "981b4d2a-711b-4a9d-a11c-d859c311e80c", "ln.input")
    recip = _gf("reciprocal", _gf("last_dim_size", inp, "ln.c.hidden_size"), "ln.c.recip_hidden_size")
    neg_mean = _ein("h,z,->z", inp, Scalar(-1.0, (1,), "ln.neg"), recip, name="ln.neg_mean")
    centred = Add(inp, neg_mean, name="ln.mean_subbed")
    var = _ein("h,h,->", centred, centred, recip, name="ln.var")
    rsqrt = _gf("rsqrt", Add(Scalar(1e-5, (), "ln.c.eps"), var, name="ln.var_p_eps"), "ln.rsqrt")
    y = _ein("h,->h", centred, rsqrt, name="ln.y")
    bias = _sym((HIDDEN,), "621c7792-0177-45ab-87c5-7ff1c3bec487", "ln.w.bias")
    scale = _sym((HIDDEN,), "0fa341c3-34b3-4699-847f-08674808b28a", "ln.w.scale")
    body = Add(bias, _ein("h,h->h", y, scale, name="ln.y_scaled"), name="ln")
    return ModuleLibraryRet.mk(body, [inp, bias, scale])


def _batchnorm() -> ModuleLibraryRet:
    inp = _sym((HIDDEN,), "cfe0aa25-1214-4d3e-ad53-417fedbb9b7b", "bn.input")
    mean = _sym((HIDDEN,), "217403c9-03b6-4444-8f72-de03b95229d0", "bn.mean")
    var = _sym((HIDDEN,), "c4e41ca7-e3ab-429e-81b6-25bb14423fb4", "bn.var")
    centred = Add(
        inp, _ein("h,->h", mean, Scalar(-1.0, (), "bn.neg"), name="bn.neg_mean"), name="bn.mean_subbed"
    )
    rsqrt = _gf("rsqrt", Add(Scalar(1e-5, (), "bn.c.eps"), var, name="bn.var_p_eps"), "bn.rsqrt")
    y = _ein("h,h->h", centred, rsqrt, name="bn.y")
    bias = _sym((HIDDEN,), "3e861c08-9a74-4348-87df-3752a8557aea", "bn.w.bias")
    scale = _sym((HIDDEN,), "ccbac7e0-c931-422b-9724-1e24ab6e9c63", "bn.w.scale")
    body = Add(bias, _ein("h,h->h", y, scale, name="bn.y_scaled"), name="bn")
    return ModuleLibraryRet.mk(body, [inp, mean, var, bias, scale])


layernorm = _layernorm()
batchnorm = _batchnorm()
layernorm_circs = layernorm.circs
batchnorm_circs = batchnorm.circs


def _not_mask() -> ModuleLibraryRet:
    inp = _sym((), "b46f6370-11e1-4535-aabc-94554c234673", "not_mask.input")
    neg = _ein(",->", inp, Scalar(-1.0, (), "neg_one"), name="not_mask.neg_mask")
    return ModuleLibraryRet.mk(Add(Scalar(1.0, (), "one"), neg, name="not_mask"), [inp])


not_mask = _not_mask()

# --- attention -------------------------------------------------------------------------------

_HEAD_UUIDS = {
    "a.q.input": "4f80d1a1-86a4-4e44-94f7-909ec7089061",
    "a.w.q_h": "665efa60-d86c-40d5-92b2-b96d11686a8b",
    "a.w.q_bias_h": "7d531f53-6cce-4bf3-82db-5fe8b2eef974",
    "a.k.input": "664bddee-28ca-47e7-9fb7-9a718de06619",
    "a.w.k_h": "41177709-446d-4588-b9e5-c2bbf59d53a0",
    "a.w.k_bias_h": "a891aae4-3c24-4713-afc7-8b954c6fc1b5",
    "a.mask": "ccfe5bc9-b402-42dd-a5e1-191e6fb7c268",
    "a.v.input": "8fd4c632-7f28-49ee-84cc-3dde997e0693",
    "a.w.v_h": "79b6ebff-f9d0-411a-bcdc-530cc13e1524",
    "a.w.v_bias_h": "dfb2c4ec-9378-40ee-a360-7d58f2b96954",
    "a.w.o_h": "11a116cb-2168-4725-a06f-1b61a8ca6797",
    "a.input": "f9eabd07-e2ab-4ed4-8b4a-c9c039d61835",
    "a.pos_input": "eab8313e-d910-4174-8dbe-c612954eec34",
    "a.w.q": "cf8f9c58-1875-45b0-8007-66b66b8a405a",
    "a.w.q_bias": "e896a43e-ba35-43d5-97e7-e189caf3278b",
    "a.w.k": "c342f1cd-71e6-4848-86b4-1c3ffdd46753",
    "a.w.k_bias": "13465b29-c28a-4d55-8a27-22c26cc01c69",
    "a.w.v": "a90db69c-f4ad-47d6-8b76-faa4b107dacd",
    "a.w.v_bias": "ea64ee26-2438-4aa9-b777-0ef4f5f70e74",
    "a.w.o": "24e0e5cf-8b68-4bf2-b198-17237523b237",
    "a.w.o_bias": "61d54061-63e2-4a5d-9c7a-15c1ecc53b95",
    "qk": "442c7d04-1948-4904-b96a-5c0acf22f19c",
}
_ATTN_SHAPES = {
    "a.q.input": (SEQ_Q, HIDDEN),
    "a.k.input": (SEQ_K, HIDDEN),
    "a.v.input": (SEQ_K, HIDDEN),
    "a.mask": (SEQ_Q, SEQ_K),
    "a.w.q_h": (QK_DIM, HIDDEN),
    "a.w.k_h": (QK_DIM, HIDDEN),
    "a.w.v_h": (V_DIM, HIDDEN),
    "a.w.o_h": (OUT_HIDDEN, V_DIM),
    "a.w.q_bias_h": (QK_DIM,),
    "a.w.k_bias_h": (QK_DIM,),
    "a.w.v_bias_h": (V_DIM,),
    "a.input": (SEQ, HIDDEN),
    "a.pos_input": (SEQ, HIDDEN),
    "qk": (SEQ, QK_DIM),
}


def _attn_sym(name: str, heads: bool = False) -> Symbol:
    if heads:
        per_head = _ATTN_SHAPES[name + "_h"] if name != "a.w.o_bias" else (OUT_HIDDEN,)
        shape = per_head if name == "a.w.o_bias" else (HEADS,) + per_head
    else:
        shape = _ATTN_SHAPES[name]
    return _sym(shape, _HEAD_UUIDS[name], name)


def _plus_bias(node: Circuit, bias_name: str, name: str, bias: bool) -> Circuit:
    """node + bias symbol named name, or node itself when the model has no such bias."""
    return Add(node, _attn_sym(bias_name), name=name) if bias else node


def _rotary(qk_p_bias: Circuit, name: str) -> Module:
    """rc's qk_with_rot: rotary position embedding applied to the first half of the query
    (or key) features, the other half passed through."""
    from .generalfuncs.rotary_pos_emb import ApplyRotaryPosEmb

    qk = _attn_sym("qk")
    rot4 = 2 * 2 * HALF_ROTARY_DIM
    split = Rearrange.from_string(
        SetSymbolicShape(qk, (SEQ, rot4), name="qk_split.set"),
        "q (s:2 e:2 rh) -> q s:2 e:2 rh",
        name="qk_split",
    )
    rot = GeneralFunction(
        Index(split, (slice(None), 0), name="qk_rot.inp"), spec=ApplyRotaryPosEmb(), name="qk_rot"
    )
    cat = Concat(
        Rearrange.from_string(rot, "q e rh -> q 1 e rh", name="qk_with_rot.q_rot"),
        Index(split, (slice(None), slice(1, None)), name="qk_with_rot.q_pass"),
        axis=1,
        name="qk_with_rot.cat",
    )
    joined = Rearrange.from_string(cat, "q s:2 e:2 rh -> q (s:2 e:2 rh)", name="qk_with_rot.re")
    body = SetSymbolicShape(joined, (SEQ, QK_DIM), name="qk_with_rot")
    return _call(body, (qk_p_bias, qk), name=name)


def _attention(bias: bool, pos: bool, rope: bool) -> Tuple[Circuit, List[Circuit]]:
    """The attention body ('a', 'a.p_bias', 'a_rope' or 'a_rope.p_bias') and its symbols in
    rc's definition order."""
    pre = "a_rope" if rope else "a"
    q_in, k_in, v_in = _attn_sym("a.q.input"), _attn_sym("a.k.input"), _attn_sym("a.v.input")
    wq, wk, wv, wo = (_attn_sym(f"a.w.{x}_h") for x in "qkvo")
    mask = _attn_sym("a.mask")
    q = _plus_bias(_ein("qd,cd->qc", q_in, wq, name="a.q"), "a.w.q_bias_h", "a.q_p_bias", bias)
    k = _plus_bias(_ein("kd,cd->kc", k_in, wk, name="a.k"), "a.w.k_bias_h", "a.k_p_bias", bias)
    if rope:
        q, k = _rotary(q, "a_rope.q"), _rotary(k, "a_rope.k")
    head_size = _gf("last_dim_size", _ein("jk->j", wk, name="a.c.bias_for_head_size"), "a.c.head_size")
    scores_raw = _ein(
        "qc,kc,,qk->qk",
        q,
        k,
        _gf("rsqrt", head_size, "a.c.div_head_size"),
        mask,
        name=f"{pre}.attn_scores_raw",
    )
    not_masked = _call(not_mask.body, (mask, not_mask.spec.arg_specs[0].symbol), name="a.not_mask")
    neg_inf = _ein("qk,->qk", not_masked, Scalar(-10_000.0, (), "a.neg_inf"), name="a.score_neg_inf_bias")
    probs = _gf("softmax", Add(scores_raw, neg_inf, name=f"{pre}.attn_scores"), f"{pre}.attn_probs")
    v = _plus_bias(_ein("kd,Vd->kV", v_in, wv, name="a.v"), "a.w.v_bias_h", "a.v_p_bias", bias)
    head = _ein("sV,dV->sd", _ein("qk,kV->qV", probs, v, name=f"{pre}.comb_v"), wo, name=f"{pre}.head")

    inp = _attn_sym("a.input")
    qk_inp = Add(inp, _attn_sym("a.pos_input"), name="a.qk_input") if pos else inp
    on_inp = _call(head, (qk_inp, q_in), (qk_inp, k_in), (inp, v_in), name=f"{pre}.head.on_inp")

    weights = ["q", "q_bias", "k", "k_bias", "v", "v_bias", "o"] if bias else ["q", "k", "v", "o"]
    heads = _call(
        on_inp,
        *((_attn_sym(f"a.w.{w}", heads=True), _attn_sym(f"a.w.{w}_h")) for w in weights),
        name=f"{pre}.heads",
    )
    out = _ein("hsd->sd", heads, name=pre)
    if bias:
        out = Add(out, _attn_sym("a.w.o_bias", heads=True), name=f"{pre}.p_bias")
    order = [mask, inp] + ([_attn_sym("a.pos_input")] if pos else [])
    order += [_attn_sym(f"a.w.{w}", heads=True) for w in weights] + (
        [_attn_sym("a.w.o_bias", heads=True)] if bias else []
    )
    return out, order


@functools.lru_cache(maxsize=None)
def get_attention(bias: bool = False, pos: bool = False, rope: bool = False) -> ModuleLibraryRet:
    """rc's attention body: bias adds q/k/v/o biases, pos adds 'a.pos_input' to the query and
    key inputs (shortformer), rope applies rotary embeddings to queries and keys."""
    body, order = _attention(bias, pos, rope)
    return ModuleLibraryRet.mk(body, order)


# --- MLPs ------------------------------------------------------------------------------------

m_input = _sym((HIDDEN,), "13ec4cdc-5f25-4969-870b-0bfa2300187b", "m.input")


def _out_bias(body: Circuit, uuid: str, output_bias: bool) -> Tuple[Circuit, List[Circuit]]:
    if not output_bias:
        return body, []
    b = _sym((OUT_HIDDEN,), uuid, "m.w.out_bias")
    return Add(body, b, name="m.p_bias"), [b]


@functools.lru_cache(maxsize=None)
def get_pointwise_mlp(function_str: str = "gelu", output_bias: bool = False) -> ModuleLibraryRet:
    """rc's MLP: proj_in, bias, the pointwise function `function_str`, proj_out (+ out bias)."""
    w_in = _sym((MLP_PROJ, HIDDEN), "5217f963-0cdb-460e-bb1f-f82f7fbb3cd9", "m.w.proj_in")
    b_in = _sym((MLP_PROJ,), "c870ec00-8c6f-4080-907c-703ea85dde48", "m.w.in_bias")
    w_out = _sym((OUT_HIDDEN, MLP_PROJ), "fdefa9af-a7d6-4a38-a7ed-5ce816c6efe7", "m.w.proj_out")
    pre = Add(_ein("i,hi->h", m_input, w_in, name="m.pre_mul"), b_in, name="m.pre")
    body = _ein("h,oh->o", _gf(function_str, pre, "m.act"), w_out, name="m")
    body, extra = _out_bias(body, "113c30ba-fa88-4f34-a301-ea7912e03064", output_bias)
    return ModuleLibraryRet.mk(body, [m_input, w_in, b_in, w_out] + extra)


@functools.lru_cache(maxsize=None)
def get_bilinear_mlp(output_bias: bool = False) -> ModuleLibraryRet:
    """rc's bilinear MLP: the input projection folded in two halves multiplied together."""
    w_in = _sym((BILINEAR_MLP_PROJ * 2, HIDDEN), "c171d519-8793-4a8b-ac5e-d550347f30a6", "m.w.proj_in")
    b_in = _sym((BILINEAR_MLP_PROJ * 2,), "886b5425-cd19-4db4-871a-c46cb1a23114", "m.w.in_bias")
    w_out = _sym((OUT_HIDDEN, BILINEAR_MLP_PROJ), "e61637eb-9f17-4325-b2c2-5eb2518026cf", "m.w.proj_out")
    pre = Add(_ein("i,hi->h", m_input, w_in, name="m.pre"), b_in, name="m.pre_p_bias")
    fold = Rearrange.from_string(pre, "(a:2 b) -> a:2 b", name="m.fold_pre")
    halves = [Index(fold, (i, slice(None)), name=f"m.pre{i}") for i in (0, 1)]
    body = _ein("h,h,oh->o", *halves, w_out, name="m")
    body, extra = _out_bias(body, "7efddf2e-20af-492c-a94e-1d19468f333f", output_bias)
    return ModuleLibraryRet.mk(body, [m_input, w_in, b_in, w_out] + extra)


# --- norm bindings ---------------------------------------------------------------------------

_NORM_UUIDS = {
    "m": [
        "fe330d51-0164-4b49-a504-81769d550bb1",
        "771e2d50-3414-459e-87ff-879f83d4a15c",
        "bf7ea689-c481-4ad4-89d0-0a59cd476739",
        "cf2adbd9-b04f-42af-86d7-cc5c8890607b",
        "f63f8838-9d69-4da2-a902-8eaf325f07a7",
    ],
    "a": [
        "c564149d-e226-4e3d-8e47-7d6e2ceea99e",
        "2c737289-2702-404c-a22e-ad37c2652620",
        "33774cb3-f047-4a1e-ac0c-e6f8c93d2bb2",
        "981982a3-253b-4c0d-8789-c0bc9dcd229b",
        "6a622698-fd68-4d25-aeee-e8d38e68049e",
    ],
    "final": [
        "2110aef7-70d5-4f77-a929-044e40c31cbd",
        "10652dc2-e9a8-4f1e-8bad-99d46804c7b3",
        "6cfcb4e6-7081-4d2d-bef9-1e9db52d4444",
        "94e8bc7f-1689-429f-bfec-67d33965aef5",
        "0851aebd-0d39-4f65-89f9-8a8afaed631a",
    ],
}
_NORM_UUIDS["p"] = _NORM_UUIDS["a"]


@functools.lru_cache(maxsize=None)
def get_norm_bind(prefix: str, norm_type: NormType) -> ModuleLibraryRet:
    """'<prefix>.norm': the norm body bound to '<prefix>.norm.input' [SEQ, HIDDEN] and the
    weight symbols '<prefix>.<norm_type>.w.bias' / '.w.scale' (and '.mean', '.var' for bn)."""
    if norm_type not in ("ln", "bn"):
        raise ValueError(f"get_norm_bind: norm_type must be 'ln' or 'bn', not {norm_type!r}")
    lib = layernorm if norm_type == "ln" else batchnorm
    uuids = _NORM_UUIDS[prefix]
    inp = _sym((SEQ, HIDDEN), uuids[4], f"{prefix}.norm.input")
    parts = {"mean": 3, "var": 2, "w.bias": 1, "w.scale": 0}
    args = [(inp, lib.spec.arg_specs[0].symbol)]
    for spec in lib.spec.arg_specs[1:]:
        part = spec.symbol.name[len(norm_type) + 1 :]
        args.append((_sym((HIDDEN,), uuids[parts[part]], f"{prefix}.{norm_type}.{part}"), spec.symbol))
    body = _call(lib.body, *args, name=f"{prefix}.norm")
    return ModuleLibraryRet.mk(body, [a for a, _ in args])


def _norm_call(prefix: str, body: Circuit, input_sym: Symbol, norm_type: NormType) -> Module:
    """'<prefix>.norm_call': body called on the normed input."""
    return _call(body, (get_norm_bind(prefix, norm_type).body, input_sym), name=f"{prefix}.norm_call")


def add_number(name: str, num: int) -> str:
    """'a.w.q', 3 -> 'a3.w.q'."""
    before, _, after = name.partition(".")
    return f"{before}{num}.{after}"


b_input = _sym((SEQ, HIDDEN), "5837c4fd-f5ac-4bff-8456-abf3e95bcf36", "b.input")
_P_INPUT = _sym((SEQ, HIDDEN), "e76c1fd7-a230-4295-9199-17dc8dad79d0", "p.input")
_NON_WEIGHTY = frozenset({"b.input", "a.pos_input", "a.mask"})


@dataclasses.dataclass(frozen=True)
class TransformerBlockParams:
    """One block: pre-norm attention then (pre-norm) MLP, each added to the residual stream;
    with use_parallel_residual both read one shared norm of the block input."""

    norm_type: Optional[NormType] = "ln"
    attn_bias: bool = False
    attn_pos: bool = False
    use_mlp: bool = True
    mlp_act_type: MlpActType = "gelu"
    mlp_output_bias: bool = False
    use_parallel_residual: bool = False
    use_rope: bool = False

    def __post_init__(self):
        if self.norm_type not in (None, "ln", "bn"):
            raise ValueError(
                f"TransformerBlockParams: norm_type must be 'ln', 'bn' or None, not {self.norm_type!r}"
            )
        if self.mlp_act_type not in ("gelu", "gelu_new", "relu", "bilinear"):
            raise ValueError(
                "TransformerBlockParams: mlp_act_type must be 'gelu', 'gelu_new', 'relu' or 'bilinear', "
                f"not {self.mlp_act_type!r}"
            )
        if self.use_parallel_residual and (not self.use_mlp or self.norm_type is None):
            raise ValueError("TransformerBlockParams: use_parallel_residual needs use_mlp and a norm_type")

    def _mlp(self) -> ModuleLibraryRet:
        if self.mlp_act_type == "bilinear":
            return get_bilinear_mlp(self.mlp_output_bias)
        return get_pointwise_mlp(self.mlp_act_type, self.mlp_output_bias)

    @functools.lru_cache(maxsize=None)
    def get(self) -> ModuleLibraryRet:
        """The block body 'b' over the symbol 'b.input' [SEQ, HIDDEN]."""
        nt = self.norm_type
        attn = get_attention(self.attn_bias, self.attn_pos, self.use_rope)
        a_input = attn.spec.arg_specs[1].symbol
        order: List[Circuit] = []
        if self.use_mlp:
            mlp = self._mlp()
            order += mlp.spec.arg_specs[1:]
            if nt is not None:
                order += get_norm_bind("m", nt).spec.arg_specs[1:]
        if self.use_parallel_residual:
            order += get_norm_bind("p", nt).spec.arg_specs[1:]
        order += attn.spec.arg_specs
        if nt is not None:
            order += get_norm_bind("a", nt).spec.arg_specs[1:]
        order = [s.symbol for s in order]

        if self.use_parallel_residual:
            both = Add(
                _call(attn.body, (_P_INPUT, a_input), name="b.a"),
                _call(mlp.body, (_P_INPUT, m_input), name="b.m"),
                name="b.add",
            )
            normed = _call(both, (get_norm_bind("p", nt).body, _P_INPUT), name="p.norm_call")
            p_in = get_norm_bind("p", nt).spec.arg_specs[0].symbol
            resid = Add(_call(normed, (b_input, p_in), name="b.p"), b_input, name="b.resid.p")
            return ModuleLibraryRet.mk(resid.rename("b"), order)

        def sublayer(prefix: str, body: Circuit, input_sym: Symbol, resid: Circuit, name: str) -> Circuit:
            if nt is None:
                return _call(body, (resid, input_sym), name=name)
            called = _norm_call(prefix, body, input_sym, nt)
            return _call(called, (resid, get_norm_bind(prefix, nt).spec.arg_specs[0].symbol), name=name)

        resid = Add(sublayer("a", attn.body, a_input, b_input, "b.a"), b_input, name="b.resid.a")
        if self.use_mlp:
            resid = Add(sublayer("m", mlp.body, m_input, resid, "b.m"), resid, name="b.resid.m")
        return ModuleLibraryRet.mk(resid.rename("b"), order)

    @functools.lru_cache(maxsize=None)
    def get_rebound_weighty(self, num: int) -> ModuleLibraryRet:
        """'b<num>': the block with each weight symbol replaced by a layer-numbered one
        ('a.w.q' -> 'a<num>.w.q'), uuids drawn as rc draws them (Python's random seeded by num,
        one 128-bit draw per weight in the block spec's order)."""
        block = self.get()
        weights = [a for a in block.spec.arg_specs if a.symbol.name not in _NON_WEIGHTY]
        rd = random.Random(num)
        symbols = [
            Symbol(a.symbol.shape, UUID(int=rd.getrandbits(128)), add_number(a.symbol.name, num))
            for a in weights
        ]
        spec = ModuleSpec(block.body, weights)
        return ModuleLibraryRet.mk(Module.new_flat(spec, *symbols, name=f"b{num}"), symbols)

    def _norm_weights(self, hidden_size: int, device_dtype) -> Dict[str, Circuit]:
        if self.norm_type is None:
            return {}
        nt = self.norm_type
        out = {}
        if nt == "bn":
            out[f"{nt}.mean"] = Array.randn(hidden_size, device_dtype=device_dtype)
            out[f"{nt}.var"] = Array(
                np.square(np.asarray(Array.randn(hidden_size, device_dtype=device_dtype).value))
            )
        out[f"{nt}.w.bias"] = Array.randn(hidden_size, device_dtype=device_dtype)
        out[f"{nt}.w.scale"] = Array.randn(hidden_size, device_dtype=device_dtype)
        return out

    def garbage_init_weights(
        self, hidden_size: int, head_size: int, num_heads: int, device_dtype=None
    ) -> Dict[str, Circuit]:
        """Standard-normal weights of every shape the block needs, keyed '<weight>_arr' by the
        block's (unnumbered) weight names. Not an initialisation that trains."""
        norms = ["p"] if self.use_parallel_residual else ["a"] + (["m"] if self.use_mlp else [])
        w: Dict[str, Circuit] = {
            f"{p}.{k}": v for p in norms for k, v in self._norm_weights(hidden_size, device_dtype).items()
        }
        rn = functools.partial(Array.randn, device_dtype=device_dtype)
        w["a.w.q"] = rn(num_heads, head_size, hidden_size)
        w["a.w.k"] = rn(num_heads, head_size, hidden_size)
        w["a.w.v"] = rn(num_heads, head_size, hidden_size)
        w["a.w.o"] = rn(num_heads, hidden_size, head_size)
        if self.attn_bias:
            for x in "qkv":
                w[f"a.w.{x}_bias"] = rn(num_heads, head_size)
            w["a.w.o_bias"] = rn(hidden_size)
        if self.use_mlp:
            w["m.w.proj_in"] = rn(hidden_size * 4, hidden_size)
            w["m.w.in_bias"] = rn(hidden_size * 4)
            w["m.w.proj_out"] = rn(hidden_size, hidden_size * (2 if self.mlp_act_type == "bilinear" else 4))
            if self.mlp_output_bias:
                w["m.w.out_bias"] = rn(hidden_size)
        return {k + "_arr": v.rename(k + "_arr") for k, v in w.items()}


# --- losses ----------------------------------------------------------------------------------


def _log_likelyhood() -> Tuple[ModuleLibraryRet, ModuleLibraryRet]:
    inp = _sym((LOG_LIKELYHOOD_CLASSES,), "b9d111e5-b793-4f63-84a0-2f8590b9f39c", "ll.input")
    label = _sym((), "74c503b9-fe2c-4f8b-9350-7351a292c351", "ll.label")
    ll = GeneralFunction.gen_index(_gf("log_softmax", inp, "log_probs"), label, 0, batch_x=True, name="ll")
    nll = _ein(",->", ll, Scalar(-1.0, (), "nll.neg"), name="nll")
    return ModuleLibraryRet.mk(ll, [inp, label]), ModuleLibraryRet.mk(nll, [inp, label])


log_likelyhood, negative_log_likelyhood = _log_likelyhood()

# --- whole models ----------------------------------------------------------------------------

t_input = _sym((SEQ, HIDDEN), "ece2bb5d-c6d6-4b7a-93a5-32b5ac264888", "t.input")
_UNEMBED = _sym((VOCAB_SIZE, HIDDEN), "85d5a05a-ef9e-4910-a967-3f27951f67cf", "t.w.unembed")
_UNEMBED_BIAS = _sym((VOCAB_SIZE,), "62d9f91a-5df2-4eb8-af75-5bdfb15eb974", "t.w.unembed_bias")


@dataclasses.dataclass(frozen=True)
class TransformerParams:
    """A stack of num_layers blocks over 't.input' [SEQ, HIDDEN], an optional final norm and
    the unembedding: the body 't.logits' (or 't.logits_p_bias' with output_bias)."""

    block_params: TransformerBlockParams = TransformerBlockParams()
    num_layers: int = 2
    use_norm_output: bool = True
    output_bias: bool = False

    def __post_init__(self):
        if not isinstance(self.num_layers, int) or self.num_layers < 0:
            raise ValueError(f"TransformerParams: num_layers must be an int >= 0, not {self.num_layers!r}")

    @property
    def norm_type(self):
        return self.block_params.norm_type

    @functools.lru_cache(maxsize=None)
    def get(self) -> ModuleLibraryRet:
        out: Circuit = t_input
        weights: List[Circuit] = []
        for i in range(self.num_layers):
            block = self.block_params.get_rebound_weighty(i)
            weights += block.body.children[1:]
            out = _call(block.body, (out, b_input), name=f"b{i}.call")
        if self.norm_type is not None and self.use_norm_output:
            final = get_norm_bind("final", self.norm_type)
            out = _call(final.body, (out, final.spec.arg_specs[0].symbol), name="final.call")
            weights += [a.symbol for a in final.spec.arg_specs[1:]]
        logits = _ein("sh,vh->sv", out, _UNEMBED, name="t.logits")
        weights.append(_UNEMBED)
        if self.output_bias:
            logits = Add(logits, _UNEMBED_BIAS, name="t.logits_p_bias")
            weights.append(_UNEMBED_BIAS)
        lib = ModuleLibraryRet.mk(logits, [t_input] + weights)
        # rc's model files define the per-layer weight symbols themselves (in 't.bind_w').
        numbered = {s.name for s in weights} - {"final.ln.w.bias", "final.ln.w.scale", "final.bn.mean"}
        numbered -= {"final.bn.var", "final.bn.w.bias", "final.bn.w.scale", "t.w.unembed", "t.w.unembed_bias"}
        circs = {k: v for k, v in lib.circs.items() if k not in numbered}
        return dataclasses.replace(lib, circs=circs)

    def garbage_init_weights(
        self,
        hidden_size: int = 3,
        head_size: int = 5,
        num_heads: int = 7,
        vocab_size: int = 11,
        device_dtype=None,
    ) -> Dict[str, Circuit]:
        """Standard-normal weights for every weight symbol, keyed '<symbol name>_arr'."""
        w: Dict[str, Circuit] = {}
        for i in range(self.num_layers):
            for k, v in self.block_params.garbage_init_weights(
                hidden_size, head_size, num_heads, device_dtype
            ).items():
                w[add_number(k, i)] = v.rename(add_number(k, i))
        if self.norm_type is not None and self.use_norm_output:
            for k, v in self.block_params._norm_weights(hidden_size, device_dtype).items():
                w[f"final.{k}_arr"] = v.rename(f"final.{k}_arr")
        w["t.w.unembed_arr"] = Array.randn(vocab_size, hidden_size, device_dtype=device_dtype).rename(
            "t.w.unembed_arr"
        )
        if self.output_bias:
            w["t.w.unembed_bias_arr"] = Array.randn(vocab_size, device_dtype=device_dtype).rename(
                "t.w.unembed_bias_arr"
            )
        return w

    def bind_weights(self, weights: Dict[str, Circuit], name: str = "t.bind_w") -> Module:
        """'t.bind_w': the model body with each weight symbol bound to weights[<symbol name>]
        (a key may also carry rc's '_arr' suffix). A missing or misshaped weight is a
        ValueError naming it, its expected and its found shape."""
        body = self.get()
        spec_syms = [
            a.symbol for a in body.spec.arg_specs if a.symbol.name not in ("t.input", "a.mask", "a.pos_input")
        ]
        bindings = []
        sizes: Dict[int, Tuple[int, str]] = {}  # symbolic size -> (value, weight that set it)
        for s in spec_syms:
            w = weights.get(s.name, weights.get(s.name + "_arr"))
            if w is None:
                raise ValueError(f"bind_weights: missing weight '{s.name}' of shape {_show_shape(s.shape)}")
            problem = _shape_mismatch(s.shape, tuple(w.shape), sizes, s.name)
            if problem is not None:
                raise ValueError(
                    f"bind_weights: weight '{s.name}' has shape {tuple(w.shape)}, expected {_show_shape(s.shape)}"
                    + problem
                )
            bindings.append((w, s))
        return _call(body.body, *bindings, name=name)

    def garbage_call(
        self,
        hidden_size: int = 3,
        head_size: int = 5,
        num_heads: int = 7,
        seq_len: int = 9,
        vocab_size: int = 11,
        batch_shape: Tuple[int, ...] = (13, 2),
        device_dtype=None,
    ):
        """The model on random weights and random inputs: (circuit 't.call', weights, inputs)."""
        weights = self.garbage_init_weights(hidden_size, head_size, num_heads, vocab_size, device_dtype)
        bound = self.bind_weights(weights)
        inputs = {"t.input": Array.randn(*batch_shape, seq_len, hidden_size, device_dtype=device_dtype)}
        inputs["a.mask"] = Array.randn(seq_len, seq_len, device_dtype=device_dtype)
        if self.block_params.attn_pos:
            inputs["a.pos_input"] = Array.randn(*batch_shape, seq_len, hidden_size, device_dtype=device_dtype)
        inputs = {k: v.rename(k + "_rand_inp") for k, v in inputs.items()}
        return bind_by_name(bound, *inputs.items(), name="t.call"), weights, inputs


def _shape_mismatch(expected, found, sizes: Dict[int, Tuple[int, str]], who: str) -> Optional[str]:
    """None when found fits expected, a symbolic size taking the value sizes already gave it
    (else setting it); otherwise the text to add to the error ('' or ', with ...')."""
    if len(expected) != len(found):
        return ""
    for e, f in zip(expected, found):
        prod = SymbolicSizeProduct.from_size(e)
        if not prod.symbolic_sizes:
            if e != f:
                return ""
            continue
        if len(prod.symbolic_sizes) != 1 or f % prod.other_factor:
            return ""
        value = f // prod.other_factor
        sym = prod.symbolic_sizes[0]
        if sym in sizes and sizes[sym][0] != value:
            return f", with {sym}s = {sizes[sym][0]} as set by '{sizes[sym][1]}'"
        sizes.setdefault(sym, (value, who))
    return None


def _show_shape(shape) -> str:
    return "[" + ", ".join(repr(SymbolicSizeProduct.from_size(d)) for d in shape) + "]"


def bind_by_name(spec_circuit: Circuit, *binders: Tuple[str, Circuit], name: Optional[str] = None) -> Module:
    """A Module over spec_circuit binding, for each (symbol name, circuit), the one free Symbol
    of that name."""
    free = {}
    for s in _c.get_free_symbols(spec_circuit):
        free.setdefault(s.name, []).append(s)
    pairs = []
    for sym_name, arg in binders:
        found = free.get(sym_name, [])
        if len(found) != 1:
            raise ValueError(
                f"bind_by_name: expected one free symbol named {sym_name!r} in {spec_circuit.name!r}, found {len(found)}"
            )
        pairs.append((arg, found[0]))
    return _call(spec_circuit, *pairs, name=name)


# --- model files -----------------------------------------------------------------------------

KNOWN_MODEL_CLASSES = ("GPT", "GPTBeginEndToks", "ParenBalancer")


def _from_dict(cls, d: Dict[str, Any], where: str):
    """cls built from the JSON object d, nested dataclasses included; unknown keys are errors."""
    if not isinstance(d, dict):
        raise ValueError(f"{where}: expected a JSON object for {cls.__name__}, got {d!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(d) - set(fields))
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {unknown} for {cls.__name__}")
    kw = {}
    for k, v in d.items():
        nested = {"params": TransformerParams, "block_params": TransformerBlockParams}.get(k)
        kw[k] = _from_dict(nested, v, f"{where}.{k}") if nested is not None else v
    try:
        return cls(**kw)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{where}: {e}") from None


@dataclasses.dataclass(frozen=True)
class TransformerInfo:
    """What a model file's `# info:` header says: the architecture (params), the model class
    (which tokenizer it was trained with), how positions are encoded, whether attention is
    causal."""

    params: TransformerParams
    model_class: str = "GPTBeginEndToks"
    pos_enc_type: Optional[PosEncType] = "gpt"
    causal_mask: Optional[bool] = True
    extra: Optional[Any] = None

    def __post_init__(self):
        if self.model_class not in KNOWN_MODEL_CLASSES:
            raise ValueError(
                f"TransformerInfo: unknown model_class {self.model_class!r}; known: {', '.join(KNOWN_MODEL_CLASSES)}"
            )
        if self.pos_enc_type not in (None, "gpt", "shortformer", "none"):
            raise ValueError(
                f"TransformerInfo: pos_enc_type must be 'gpt', 'shortformer', 'none' or None, not {self.pos_enc_type!r}"
            )

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "TransformerInfo":
        try:
            d = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"model info header: not JSON ({e})") from None
        return _from_dict(cls, d, "model info header")

    def dump_model_string(self, *circs: Circuit) -> str:
        """A model file: the `# info:` line, then circs printed with the library's circuits
        written by name (as rc's model files)."""
        from ._printing import PrintOptions

        refs = {c: name for name, c in self.params.get().circs.items()}
        return f"# info:{self.to_json()}\n" + PrintOptions(reference_circuits=refs).repr(*circs) + "\n"

    def bind_to_input(
        self,
        c: Circuit,
        inp_tok_embeds: Circuit,
        pos_embed_weights: Optional[Circuit] = None,
        inp_mask: Optional[Circuit] = None,
        inp_mask_has_q: bool = False,
        prefix: str = "t",
    ) -> Module:
        """'<prefix>.call': c (a model such as 't.bind_w') called on token embeddings
        [*batch, seq, hidden], with positions embedded as the info says, the causal or full
        mask, and inp_mask ([*batch, seq] keys allowed, or [*batch, seq, seq] with
        inp_mask_has_q) multiplied into the mask."""
        seq_len = inp_tok_embeds.shape[-2]
        pos_embeds = None
        if pos_embed_weights is not None:
            pos_embeds = Index(pos_embed_weights, (slice(None, seq_len),), name="t.w.pos_embeds_idxed")
        if self.pos_enc_type in ("gpt", "shortformer") and pos_embeds is None:
            raise ValueError(f"bind_to_input: pos_enc_type {self.pos_enc_type!r} needs pos_embed_weights")
        inp: Circuit = inp_tok_embeds
        if self.pos_enc_type == "gpt":
            inp = Add(inp_tok_embeds, pos_embeds, name=f"{prefix}.inp_tok_pos")
        dtype = _float_dtype(inp_tok_embeds)
        if self.causal_mask:
            causal = np.tril(np.ones((seq_len, seq_len), dtype=dtype))
            mask: Circuit = Array(causal, "t.a.c.causal_mask")
        else:
            mask = Scalar(1.0, (seq_len, seq_len), "t.a.c.full_mask")
        if inp_mask is not None:
            batch = inp_mask.ndim - 1 - (1 if inp_mask_has_q else 0)
            if batch < 0:
                raise ValueError(f"bind_to_input: inp_mask of shape {tuple(inp_mask.shape)} has too few axes")
            letters = "abcdefghijklmnop"[:batch]
            mask_axes = letters + ("qk" if inp_mask_has_q else "k")
            mask = _ein(f"{mask_axes},qk->{letters}qk", inp_mask, mask, name=f"{prefix}.a.mask")
        pairs = [("t.input", inp), ("a.mask", mask)]
        if self.pos_enc_type == "shortformer":
            pairs.append(("a.pos_input", pos_embeds))
        return bind_by_name(c, *pairs, name=f"{prefix}.call")

    def bind_to_input_tokens(
        self,
        c: Circuit,
        toks: Circuit,
        tok_embed_weights: Circuit,
        pos_embed_weights: Optional[Circuit],
        inp_mask: Optional[Circuit] = None,
        inp_mask_has_q: bool = False,
        prefix: str = "t",
    ) -> Module:
        """bind_to_input on the embeddings of int64 token ids toks [*batch, seq]."""
        embedded = GeneralFunction.gen_index(tok_embed_weights, toks, -2)
        return self.bind_to_input(c, embedded, pos_embed_weights, inp_mask, inp_mask_has_q, prefix)


def _float_dtype(c: Circuit) -> str:
    """The float dtype of c's values for a mask built beside it: float32 when c fixes none, or
    fixes bfloat16 (numpy has none; the engine's dtype rule casts the mask)."""
    dtype = c.dtype or "float32"
    return dtype if dtype in ("float16", "float32", "float64") else "float32"


def load_transformer_model_string(
    s: str, parser=None, tensors_as_random: bool = False
) -> Tuple[Dict[str, Circuit], Any, TransformerInfo]:
    """(circuits by name, tokenizer, info) of a model file's text: its `# info:` header gives
    the architecture, whose library circuits (such as 't.logits') the rest may name. The
    tokenizer is the paren balancer's CharTokenizer for model_class 'ParenBalancer', else
    None (GPT tokenizers cannot be fetched here: tokenizers are the caller's).
    Array values come from the parser's tensor loader, or are seeded random with
    tensors_as_random."""
    from ._parse import Parser

    s = s.strip("\n")
    first = s.partition("\n")[0]
    if not first.startswith("# info:"):
        raise ValueError(f"model file: the first line must be '# info:{{...}}', got {first[:60]!r}")
    info = TransformerInfo.from_json(first.removeprefix("# info:"))
    circs = info.params.get().circs
    if parser is None:
        parser = Parser(tensors_as_random=tensors_as_random, allow_hash_with_random=tensors_as_random)
    parser.reference_circuits = {**parser.reference_circuits, **circs}
    parsed = parser.parse_circuits(s)
    added = dict(circs)
    for c in parsed:
        added[c.name] = c
    return added, _tokenizer_for(info.model_class), info


def _tokenizer_for(model_class: str):
    """The paren balancer's character tokenizer (rc's CharTokenizer: [BEGIN]=0, pad=1,
    [END]=2, '('=3, ')'=4, strings of up to 40 characters); None for other model classes,
    whose tokenizers are the caller's."""
    if model_class != "ParenBalancer":
        return None
    from .tokenizers import CharTokenizer

    return CharTokenizer(start=0, end=2, pad=1, pad_width=42, mapping={"(": 3, ")": 4}, error_if_over=True)


def save_model(directory: str, model_id: str, info: TransformerInfo, weights: Dict[str, Any]) -> str:
    """Writes `<directory>/<model_id>.circ` (rc's model format) and the tensors it names into
    the store `<directory>/tensors`, so that load_model_id(model_id) reads them back with
    CIRCUITS_MODELS_DIR=directory. weights maps rc's weight names (without '_arr') to arrays:
    every weight symbol of info.params, plus 't.w.tok_embeds' and 't.w.pos_embeds'."""
    from ._store import TensorStore

    store = TensorStore(os.path.join(directory, "tensors"))
    arrays = {
        name: Array(value, name if name.startswith("t.w.") and "embeds" in name else name + "_arr")
        for name, value in weights.items()
    }
    embeds = [arrays.pop(k) for k in ("t.w.tok_embeds", "t.w.pos_embeds") if k in arrays]
    bound = info.params.bind_weights(arrays)
    for a in embeds + list(arrays.values()):
        store.save(a.value)
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, f"{model_id}.circ")
    with open(path, "w") as f:
        f.write(info.dump_model_string(*embeds, bound))
    return path


def model_dir() -> str:
    """Where load_model_id looks: $CIRCUITS_MODELS_DIR, else the models shipped in the package."""
    return os.environ.get("CIRCUITS_MODELS_DIR") or os.path.join(os.path.dirname(__file__), "models")


def get_model_path(model_id: str) -> str:
    return os.path.join(model_dir(), f"{model_id}.circ")


def load_model_path(path: str, parser=None, tensors_as_random: bool = False):
    """load_transformer_model_string on a file; Array values from the tensor store beside it
    (a 'tensors' folder) when there is one, else the default store."""
    with open(path) as f:
        text = f.read()
    if parser is None and not tensors_as_random:
        from ._parse import Parser
        from ._store import TensorStore

        store_dir = os.path.join(os.path.dirname(os.path.abspath(path)), "tensors")
        if os.path.isdir(store_dir):
            store = TensorStore(store_dir)
            parser = Parser(tensor_loader=store.load)
    return load_transformer_model_string(text, parser=parser, tensors_as_random=tensors_as_random)


def load_model_id(model_id: str, parser=None, tensors_as_random: bool = False):
    """(circuits, tokenizer, info) of the model file `<model_dir()>/<model_id>.circ`."""
    path = get_model_path(model_id)
    if not os.path.exists(path):
        shipped = (
            sorted(f[:-5] for f in os.listdir(model_dir()) if f.endswith(".circ"))
            if os.path.isdir(model_dir())
            else []
        )
        raise FileNotFoundError(f"load_model_id: no model file {path}; available: {shipped}")
    return load_model_path(path, parser=parser, tensors_as_random=tensors_as_random)
