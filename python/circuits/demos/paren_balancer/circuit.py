"""The paren balancer as a circuit, with REMIX's names for the parts causal-scrubbing hypotheses
point at: the one-hot input "tokens" [seq, vocab], "embeds", "padding_mask", "a{l}.input" (the
residual stream into layer l >= 1; layer 0 reads "embeds"), the heads "a{l}.h{j}", the MLPs
"m{l}", "final.input" and "logits" (the two class logits at position 0). The same function as
train.forward."""

import math
import os
from typing import Dict, Optional

import torch

from ... import Add, Array, Circuit, Concat, Einsum, GeneralFunction, Index, Scalar
from ...module_library import get_model_path, load_model_id
from . import data, train


def model_weights() -> Dict[str, torch.Tensor]:
    """The shipped model's weights (module_library.load_model_id("paren_balancer")) by their rc
    names (the model file binds most of them as "<name>_arr" Arrays under "t.bind_w"), or,
    when no model is shipped, a seeded untrained initialisation (train.init_weights), so that
    the demos and benchmarks run either way; `weights_source()` says which."""
    try:
        circs, _, _ = load_model_id("paren_balancer")
    except FileNotFoundError:
        return train.init_weights(0)
    arrays = {c.name: c for root in circs.values() for c in root.get(Array)}
    out = {}
    for name in train.weight_shapes():
        found = arrays.get(f"{name}_arr", arrays.get(name))
        if found is None:
            raise KeyError(f"model_weights: the paren_balancer model has no Array '{name}'")
        out[name] = found.cast_array().value
    return out


def weights_source() -> str:
    path = get_model_path("paren_balancer")
    return "shipped model" if os.path.exists(path) else "untrained weights (no shipped model)"


def _ein(spec: str, *nodes: Circuit, name: Optional[str] = None) -> Circuit:
    return Einsum.from_einsum_string(spec, *nodes, name=name)


def _layer_norm(x: Circuit, w: Dict[str, torch.Tensor], prefix: str) -> Circuit:
    d = train.D_MODEL
    neg_mean = _ein("sd,->s", x, Scalar(-1.0 / d, ()), name=f"{prefix}.ln.neg_mean")
    c = Add(x, neg_mean.unsqueeze(-1), name=f"{prefix}.ln.centred")
    var = _ein("sd,sd,->s", c, c, Scalar(1.0 / d, ()), name=f"{prefix}.ln.var")
    eps = Add(var, Scalar(train.LN_EPS, ()), name=f"{prefix}.ln.var_eps")
    rs = GeneralFunction.new_by_name(eps, spec_name="rsqrt", name=f"{prefix}.ln.rsqrt")
    scaled = _ein(
        "sd,s,d->sd",
        c,
        rs,
        Array(w[f"{prefix}.ln.w.scale"], f"{prefix}.ln.w.scale"),
        name=f"{prefix}.ln.scaled",
    )
    return Add(
        scaled, Array(w[f"{prefix}.ln.w.bias"], f"{prefix}.ln.w.bias"), name=f"{prefix}.norm"
    )


def _head(x: Circuit, xq: Circuit, keep: Circuit, pad: Circuit, w, layer: int, h: int) -> Circuit:
    """Head h of layer `layer`: keys and values from x, queries from xq (x's first rows)."""
    p = f"a{layer}"

    def proj(which: str, src: Circuit) -> Circuit:
        mat = Array(w[f"{p}.w.{which}"][h], f"{p}.w.{which}.h{h}")
        bias = Array(w[f"{p}.w.{which}_bias"][h], f"{p}.w.{which}_bias.h{h}")
        return Add(_ein("sd,cd->sc", src, mat), bias, name=f"{p}.h{h}.{which}")

    q, k, v = proj("q", xq), proj("k", x), proj("v", x)
    scale = Scalar(1.0 / math.sqrt(train.D_HEAD), ())
    scores = _ein("qc,kc,->qk", q, k, scale, name=f"{p}.h{h}.scores")
    masked = Add(
        _ein("qk,k->qk", scores, keep),
        _ein("k,->k", pad, Scalar(train.MASKED_SCORE, ())),
        name=f"{p}.h{h}.masked",
    )
    probs = GeneralFunction.new_by_name(masked, spec_name="softmax", name=f"{p}.h{h}.probs")
    mixed = _ein("qk,kc->qc", probs, v, name=f"{p}.h{h}.mixed")
    return _ein("qc,dc->qd", mixed, Array(w[f"{p}.w.o"][h], f"{p}.w.o.h{h}"), name=f"{p}.h{h}")


def _mlp(x: Circuit, w, layer: int) -> Circuit:
    p = f"m{layer}"
    pre = Add(
        _ein("sd,hd->sh", x, Array(w[f"{p}.w.proj_in"], f"{p}.w.proj_in")),
        Array(w[f"{p}.w.in_bias"], f"{p}.w.in_bias"),
        name=f"{p}.pre",
    )
    hidden = GeneralFunction.new_by_name(pre, spec_name="relu", name=f"{p}.hidden")
    return Add(
        _ein("sh,dh->sd", hidden, Array(w[f"{p}.w.proj_out"], f"{p}.w.proj_out")),
        Array(w[f"{p}.w.out_bias"], f"{p}.w.out_bias"),
        name=p,
    )


def build(
    weights: Dict[str, torch.Tensor], seq_len: int = data.MAX_LEN + 2, start_only: bool = True
) -> Circuit:
    """The model on one one-hot input "tokens" [seq_len, vocab] (float32), giving "logits" [2]
    at position 0. With start_only (as train.forward's) the last layer's queries, MLP and
    unembedding run at position 0 alone, which gives the same logits for less work."""
    w = weights
    tokens = Array(torch.zeros(seq_len, data.VOCAB_SIZE), "tokens")
    not_pad = torch.ones(data.VOCAB_SIZE)
    not_pad[data.PAD] = 0.0
    keep = _ein("sv,v->s", tokens, Array(not_pad, "not_pad"), name="padding_mask")
    pad = _ein("sv,v->s", tokens, Array(1.0 - not_pad, "is_pad"), name="pad_positions")
    x = Add(
        _ein("sv,vd->sd", tokens, Array(w["t.w.tok_embeds"], "t.w.tok_embeds")),
        Array(w["t.w.pos_embeds"][:seq_len], "t.w.pos_embeds"),
        name="embeds",
    )
    for layer in range(train.N_LAYERS):
        ln = _layer_norm(x, w, f"a{layer}")
        last = start_only and layer == train.N_LAYERS - 1
        lnq = Index(ln, (slice(0, 1),), name=f"a{layer}.norm.at_pos0") if last else ln
        xq = Index(x, (slice(0, 1),), name=f"a{layer}.input.at_pos0") if last else x
        heads = [_head(ln, lnq, keep, pad, w, layer, h) for h in range(train.N_HEADS)]
        o_bias = Array(w[f"a{layer}.w.o_bias"], f"a{layer}.w.o_bias")
        x = Add(xq, *heads, o_bias, name=f"m{layer}.input")
        nxt = "final.input" if layer == train.N_LAYERS - 1 else f"a{layer + 1}.input"
        x = Add(x, _mlp(_layer_norm(x, w, f"m{layer}"), w, layer), name=nxt)
    ln = _layer_norm(x, w, "final")
    all_logits = Add(
        _ein("sd,cd->sc", ln, Array(w["t.w.unembed"], "t.w.unembed")),
        Array(w["t.w.unembed_bias"], "t.w.unembed_bias"),
        name="logits_all",
    )
    return Index(all_logits, (0,), name="logits")


def separate_pos1(c: Circuit) -> Circuit:
    """`c` [seq, ...] as the Concat of its rows 0, 1 and 2 onwards, named "<c>.at_pos0",
    "<c>.at_pos1", "<c>.at_pos2_<seq>" (REMIX's split), under "<c>_concat"."""
    n = c.shape[0]
    parts = [
        Index(c, (slice(0, 1),), name=f"{c.name}.at_pos0"),
        Index(c, (slice(1, 2),), name=f"{c.name}.at_pos1"),
        Index(c, (slice(2, n),), name=f"{c.name}.at_pos2_{n}"),
    ]
    return Concat(*parts, axis=0, name=f"{c.name}_concat")


def one_hot(tokens: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.one_hot(torch.as_tensor(tokens), data.VOCAB_SIZE).to(torch.float32)
