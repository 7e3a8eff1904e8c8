"""Model loaders: Hugging Face GPT-2 and TransformerLens HookedTransformer models as circuits.

`gpt2_weights_from_hf` and `weights_from_transformer_lens` read a model (or its state dict
and config) and return the weights under rc's names and layouts ('t.w.tok_embeds',
'a0.w.q', 'm0.w.proj_in', 'final.ln.w.scale', ...) with a `ModelConfig` record. Both check
every key and shape and refuse what rc's GPT-style transformer cannot express.

`load_hf_gpt2` and `load_transformer_lens` go on to bind those weights to the module
library's logits circuit and return what `load_transformer_model_string` returns for a model
file: (circuits by name with 't.bind_w', tokenizer (None), TransformerInfo).
`logits_circuit` calls a loaded model on token ids.

TransformerLens hook names ('blocks.0.attn.hook_pattern', 'ln_final.hook_scale', ...) are
aliases of nodes of that call once its Modules are substituted: `tl_hook_matcher(name)` is
an IterativeMatcher for `circ.get_unique`, and `run_with_tl_cache` evaluates hooks in
TransformerLens's layouts.

torch and safetensors are imported inside the functions that need them; transformers and
transformer_lens are never imported here: a model is read through its `state_dict()` and
config attributes.
"""

import json
import math
import os
import re
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

__all__ = [
    "ModelConfig",
    "circuits_from_weights",
    "gpt2_weights_from_hf",
    "load_hf_gpt2",
    "load_transformer_lens",
    "logits_circuit",
    "run_with_tl_cache",
    "tl_hook_matcher",
    "tl_hook_names",
    "tl_hook_to_tl_layout",
    "weights_from_transformer_lens",
]


@dataclass(frozen=True)
class ModelConfig:
    """What a loaded GPT-style transformer is: sizes, activation, layer-norm epsilon, which
    biases it has and whether its attention is causal. `act` is a GeneralFunction name."""

    n_layers: int
    d_model: int
    n_heads: int
    d_head: int
    d_mlp: int
    vocab: int
    n_ctx: int
    act: str
    ln_eps: float
    attn_bias: bool = True
    mlp_output_bias: bool = True
    unembed_bias: bool = False
    causal: bool = True


# Activation names as Hugging Face and TransformerLens spell them -> GeneralFunction names.
# "gelu_fast" and "gelu_pytorch_tanh" are gelu_new's tanh formula with other constant roundings.
_ACTIVATIONS = {
    "gelu_new": "gelu_new",
    "gelu_fast": "gelu_new",
    "gelu_pytorch_tanh": "gelu_new",
    "gelu": "gelu",
    "relu": "relu",
}


def _config_getter(config: Any, what: str) -> Callable[[str, Any], Any]:
    if config is None:
        raise ValueError(f"{what}: a state dict needs its config (none was given)")
    if isinstance(config, Mapping):
        return lambda key, default: config.get(key, default)
    to_dict = getattr(config, "to_dict", None)
    if callable(to_dict):
        as_dict = to_dict()
        return lambda key, default: as_dict.get(key, default)
    return lambda key, default: getattr(config, key, default)


def _read_weights_file(path: str) -> Mapping[str, Any]:
    if path.endswith(".safetensors"):
        from safetensors.torch import load_file

        return load_file(path)
    import torch

    return torch.load(path, map_location="cpu", weights_only=True)


def _read_saved(path: str, config: Any, what: str):
    """A state dict from a weights file (.safetensors, else a torch pickle), or from a folder
    as `save_pretrained` writes it: config.json (unless config is given) and
    model.safetensors, its sharded form (model.safetensors.index.json), or pytorch_model.bin."""
    if not os.path.isdir(path):
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{what}: no weights file or folder {path}")
        return _read_weights_file(path), config
    if config is None:
        config_path = os.path.join(path, "config.json")
        if not os.path.isfile(config_path):
            raise FileNotFoundError(f"{what}: no config.json in {path} (and no config given)")
        with open(config_path) as f:
            config = json.load(f)
    index = os.path.join(path, "model.safetensors.index.json")
    if os.path.isfile(index):
        with open(index) as f:
            shards = sorted(set(json.load(f)["weight_map"].values()))
        state: Dict[str, Any] = {}
        for shard in shards:
            state.update(_read_weights_file(os.path.join(path, shard)))
        return state, config
    for name in ("model.safetensors", "pytorch_model.bin"):
        if os.path.isfile(os.path.join(path, name)):
            return _read_weights_file(os.path.join(path, name)), config
    raise FileNotFoundError(
        f"{what}: no model.safetensors, model.safetensors.index.json or pytorch_model.bin in {path}"
    )


def _state_dict_and_config(model_or_state_dict: Any, config: Any, config_attr: str, what: str):
    """A model gives its state dict and (unless `config` is given) its config attribute; a
    path is read with `_read_saved`."""
    if isinstance(model_or_state_dict, Mapping):
        return model_or_state_dict, config
    if isinstance(model_or_state_dict, (str, os.PathLike)):
        return _read_saved(os.fspath(model_or_state_dict), config, what)
    state_dict = getattr(model_or_state_dict, "state_dict", None)
    if not callable(state_dict):
        raise ValueError(
            f"{what}: expected a model with state_dict(), a mapping of names to tensors or a path, "
            f"found {type(model_or_state_dict).__name__}"
        )
    if config is None:
        config = getattr(model_or_state_dict, config_attr, None)
    return state_dict(), config


def _positive_int(get: Callable[[str, Any], Any], key: str, what: str) -> int:
    value = get(key, None)
    if value is None:
        raise ValueError(f"{what}: config has no '{key}'")
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{what}: config '{key}' must be a positive integer, found {value!r}")
    return value


def _activation(name: Any, key: str, what: str) -> str:
    act = _ACTIVATIONS.get(name) if isinstance(name, str) else None
    if act is None:
        raise ValueError(
            f"{what}: config '{key}' is {name!r}; supported: {', '.join(sorted(_ACTIVATIONS))}"
        )
    return act


def _refuse(what: str, key: str, value: Any, why: str):
    raise ValueError(f"{what}: config '{key}' is {value!r}, unsupported: {why}")


class _Reader:
    """Takes tensors out of a state dict by name, checking each shape, and reports the keys
    left over at the end."""

    def __init__(self, state_dict: Mapping[str, Any], what: str, ignored: Tuple[str, ...] = ()):
        self._state = state_dict
        self._what = what
        self._left = {k for k in state_dict if not k.endswith(ignored)}

    def take(self, key: str, shape: Tuple[int, ...]):
        import torch

        if key not in self._state:
            raise KeyError(f"{self._what}: missing key '{key}' (expected shape {shape})")
        value = self._state[key]
        tensor = value.detach() if isinstance(value, torch.Tensor) else torch.as_tensor(value)
        if tuple(tensor.shape) != shape:
            found = tuple(tensor.shape)
            raise ValueError(f"{self._what}: '{key}' has shape {found}, expected {shape}")
        self._left.discard(key)
        return tensor

    def finish(self):
        if self._left:
            names = ", ".join(f"'{k}'" for k in sorted(self._left))
            raise ValueError(f"{self._what}: unexpected keys {names}")


def _ln_pair(weights: Dict[str, Any], rc_prefix: str, scale, bias):
    weights[f"{rc_prefix}.ln.w.scale"] = scale
    weights[f"{rc_prefix}.ln.w.bias"] = bias


def gpt2_weights_from_hf(
    model_or_state_dict: Any, config: Any = None
) -> Tuple[Dict[str, Any], ModelConfig]:
    """Weights of a Hugging Face GPT-2 (`GPT2LMHeadModel`, `GPT2Model`, a state dict of
    either with its `GPT2Config` or the config's dict, or the path of a folder that
    `save_pretrained` wrote or of a weights file) under rc's names and layouts.

    Returns (name -> torch tensor, ModelConfig). Conv1D weights are [in, out] and c_attn
    packs q, k, v along its output; rc keeps heads as a leading axis ('a{i}.w.q' is
    [heads, d_head, d], 'a{i}.w.o' is [heads, d, d_head]). Without 'lm_head.weight' the
    unembedding is the tied token embedding. Tensors keep their dtype and device.
    """
    what = "gpt2_weights_from_hf"
    state, config = _state_dict_and_config(model_or_state_dict, config, "config", what)
    get = _config_getter(config, what)

    model_type = get("model_type", "gpt2")
    if model_type != "gpt2":
        _refuse(what, "model_type", model_type, "only GPT-2 is read by this loader")
    n_layers = _positive_int(get, "n_layer", what)
    d_model = _positive_int(get, "n_embd", what)
    n_heads = _positive_int(get, "n_head", what)
    vocab = _positive_int(get, "vocab_size", what)
    n_ctx = _positive_int(get, "n_positions", what)
    d_mlp = get("n_inner", None)
    d_mlp = 4 * d_model if d_mlp is None else _positive_int(get, "n_inner", what)
    if d_model % n_heads != 0:
        raise ValueError(f"{what}: n_embd {d_model} is not a multiple of n_head {n_heads}")
    d_head = d_model // n_heads
    act = _activation(get("activation_function", "gelu_new"), "activation_function", what)
    eps = float(get("layer_norm_epsilon", 1e-5))
    if not get("scale_attn_weights", True):
        _refuse(what, "scale_attn_weights", False, "rc's attention divides scores by sqrt(d_head)")
    if get("scale_attn_by_inverse_layer_idx", False):
        _refuse(what, "scale_attn_by_inverse_layer_idx", True, "per-layer score scaling")
    if get("add_cross_attention", False):
        _refuse(what, "add_cross_attention", True, "cross-attention")

    if "transformer.wte.weight" in state:
        prefix = "transformer."
    elif "wte.weight" in state:
        prefix = ""
    else:
        shape = (vocab, d_model)
        raise KeyError(f"{what}: missing key 'transformer.wte.weight' (expected shape {shape})")
    # Causal-mask buffers that older checkpoints save; they carry no weights.
    read = _Reader(state, what, ignored=(".attn.bias", ".attn.masked_bias"))

    d = d_model
    w: Dict[str, Any] = {}
    w["t.w.tok_embeds"] = read.take(prefix + "wte.weight", (vocab, d))
    w["t.w.pos_embeds"] = read.take(prefix + "wpe.weight", (n_ctx, d))
    for i in range(n_layers):
        h = f"{prefix}h.{i}."
        _ln_pair(w, f"a{i}", read.take(h + "ln_1.weight", (d,)), read.take(h + "ln_1.bias", (d,)))
        qkv = read.take(h + "attn.c_attn.weight", (d, 3 * d))
        qkv_bias = read.take(h + "attn.c_attn.bias", (3 * d,))
        for j, part in enumerate("qkv"):
            w[f"a{i}.w.{part}"] = qkv[:, j * d : (j + 1) * d].T.reshape(n_heads, d_head, d)
            w[f"a{i}.w.{part}_bias"] = qkv_bias[j * d : (j + 1) * d].reshape(n_heads, d_head)
        proj = read.take(h + "attn.c_proj.weight", (d, d))
        w[f"a{i}.w.o"] = proj.reshape(n_heads, d_head, d).permute(0, 2, 1)
        w[f"a{i}.w.o_bias"] = read.take(h + "attn.c_proj.bias", (d,))
        _ln_pair(w, f"m{i}", read.take(h + "ln_2.weight", (d,)), read.take(h + "ln_2.bias", (d,)))
        w[f"m{i}.w.proj_in"] = read.take(h + "mlp.c_fc.weight", (d, d_mlp)).T
        w[f"m{i}.w.in_bias"] = read.take(h + "mlp.c_fc.bias", (d_mlp,))
        w[f"m{i}.w.proj_out"] = read.take(h + "mlp.c_proj.weight", (d_mlp, d)).T
        w[f"m{i}.w.out_bias"] = read.take(h + "mlp.c_proj.bias", (d,))
    f = prefix + "ln_f."
    _ln_pair(w, "final", read.take(f + "weight", (d,)), read.take(f + "bias", (d,)))
    if "lm_head.weight" in state:
        w["t.w.unembed"] = read.take("lm_head.weight", (vocab, d))
    elif get("tie_word_embeddings", True):
        w["t.w.unembed"] = w["t.w.tok_embeds"]
    else:
        raise KeyError(f"{what}: missing key 'lm_head.weight' (expected shape {(vocab, d)})")
    read.finish()
    w = {name: t.contiguous() for name, t in w.items()}

    cfg = ModelConfig(
        n_layers=n_layers,
        d_model=d_model,
        n_heads=n_heads,
        d_head=d_head,
        d_mlp=d_mlp,
        vocab=vocab,
        n_ctx=n_ctx,
        act=act,
        ln_eps=eps,
        attn_bias=True,
        mlp_output_bias=True,
        unembed_bias=False,
        causal=True,
    )
    return w, cfg


# TransformerLens config fields whose non-default values change the computation in ways rc's
# GPT-style transformer does not express: field -> (value that is fine, why another is not).
_TL_REFUSED = {
    "attn_only": (False, "attention-only models (no MLP)"),
    "parallel_attn_mlp": (False, "parallel attention and MLP"),
    "gated_mlp": (False, "gated MLPs"),
    "final_rms": (False, "RMS final normalization"),
    "use_local_attn": (False, "local attention"),
    "scale_attn_by_inverse_layer_idx": (False, "per-layer score scaling"),
    "use_qk_norm": (False, "query/key normalization"),
    "use_normalization_before_and_after": (False, "normalization after each sublayer"),
    "post_embedding_ln": (False, "a layer norm after the embedding"),
    "use_logn_attn": (False, "log-n attention scaling"),
    "use_attention_sinks": (False, "attention sinks"),
    "num_experts": (None, "mixture of experts"),
    "clip_qkv": (None, "clipped q, k, v"),
}


def weights_from_transformer_lens(
    model_or_state_dict: Any, cfg: Any = None
) -> Tuple[Dict[str, Any], ModelConfig]:
    """Weights of a TransformerLens `HookedTransformer` (or its state dict with its
    `HookedTransformerConfig` or the config's dict; or a weights file's path with the config)
    under rc's names and layouts.

    Returns (name -> torch tensor, ModelConfig). TransformerLens keeps W_Q/W_K/W_V as
    [heads, d, d_head] and W_O as [heads, d_head, d]; rc's are [heads, d_head, d] and
    [heads, d, d_head]. Processed weights load as they are: folded layer norms
    (normalization_type 'LNPre') become unit scales and zero biases, and centred weights or
    folded value biases need nothing more. The unembedding bias b_U is kept; a state dict
    without it (as TransformerLens's own weight conversions give) has none.
    """
    what = "weights_from_transformer_lens"
    state, cfg = _state_dict_and_config(model_or_state_dict, cfg, "cfg", what)
    get = _config_getter(cfg, what)

    n_layers = _positive_int(get, "n_layers", what)
    d = _positive_int(get, "d_model", what)
    n_heads = _positive_int(get, "n_heads", what)
    d_head = _positive_int(get, "d_head", what)
    n_ctx = _positive_int(get, "n_ctx", what)
    vocab = _positive_int(get, "d_vocab", what)
    vocab_out = get("d_vocab_out", -1)
    if vocab_out not in (-1, vocab):
        _refuse(what, "d_vocab_out", vocab_out, f"an output vocabulary other than d_vocab {vocab}")
    for key, (fine, why) in _TL_REFUSED.items():
        value = get(key, fine)
        if value != fine:
            _refuse(what, key, value, why)
    d_mlp = _positive_int(get, "d_mlp", what)
    act = _activation(get("act_fn", None), "act_fn", what)
    norm = get("normalization_type", "LN")
    if norm not in ("LN", "LNPre"):
        _refuse(what, "normalization_type", norm, "only LayerNorm ('LN' or 'LNPre')")
    pos = get("positional_embedding_type", "standard")
    if pos != "standard":
        _refuse(what, "positional_embedding_type", pos, "only learned absolute ('standard')")
    kv_heads = get("n_key_value_heads", None)
    if kv_heads not in (None, n_heads):
        _refuse(what, "n_key_value_heads", kv_heads, "grouped-query attention")
    direction = get("attention_dir", "causal")
    if direction not in ("causal", "bidirectional"):
        _refuse(what, "attention_dir", direction, "only 'causal' or 'bidirectional'")
    if get("use_attn_scale", True) is not True:
        value = get("use_attn_scale", True)
        _refuse(what, "use_attn_scale", value, "rc divides scores by sqrt(d_head)")
    scale = get("attn_scale", -1.0)
    if scale not in (-1.0, None) and not math.isclose(scale, math.sqrt(d_head), rel_tol=1e-12):
        why = f"rc divides scores by sqrt(d_head) = {math.sqrt(d_head)}"
        _refuse(what, "attn_scale", scale, why)
    for key, fine in (("attn_scores_soft_cap", -1.0), ("output_logits_soft_cap", -1.0)):
        value = get(key, fine)
        if value is not None and value > 0:
            _refuse(what, key, value, "soft-capped scores or logits")
    eps = float(get("eps", 1e-5))

    # Causal-mask buffers; they carry no weights.
    import torch

    read = _Reader(state, what, ignored=(".attn.mask", ".attn.IGNORE"))
    w: Dict[str, Any] = {}
    w["t.w.tok_embeds"] = read.take("embed.W_E", (vocab, d))
    w["t.w.pos_embeds"] = read.take("pos_embed.W_pos", (n_ctx, d))
    ref = w["t.w.tok_embeds"]

    def norm_weights(rc_prefix: str, tl_prefix: str):
        if norm == "LN":
            scale, bias = read.take(tl_prefix + ".w", (d,)), read.take(tl_prefix + ".b", (d,))
            _ln_pair(w, rc_prefix, scale, bias)
        else:
            ones = torch.ones(d, dtype=ref.dtype, device=ref.device)
            _ln_pair(w, rc_prefix, ones, torch.zeros_like(ones))

    for i in range(n_layers):
        b = f"blocks.{i}."
        norm_weights(f"a{i}", b + "ln1")
        for part in "qkv":
            tl_w = read.take(b + f"attn.W_{part.upper()}", (n_heads, d, d_head))
            w[f"a{i}.w.{part}"] = tl_w.permute(0, 2, 1)
            w[f"a{i}.w.{part}_bias"] = read.take(b + f"attn.b_{part.upper()}", (n_heads, d_head))
        w[f"a{i}.w.o"] = read.take(b + "attn.W_O", (n_heads, d_head, d)).permute(0, 2, 1)
        w[f"a{i}.w.o_bias"] = read.take(b + "attn.b_O", (d,))
        norm_weights(f"m{i}", b + "ln2")
        w[f"m{i}.w.proj_in"] = read.take(b + "mlp.W_in", (d, d_mlp)).T
        w[f"m{i}.w.in_bias"] = read.take(b + "mlp.b_in", (d_mlp,))
        w[f"m{i}.w.proj_out"] = read.take(b + "mlp.W_out", (d_mlp, d)).T
        w[f"m{i}.w.out_bias"] = read.take(b + "mlp.b_out", (d,))
    norm_weights("final", "ln_final")
    w["t.w.unembed"] = read.take("unembed.W_U", (d, vocab)).T
    unembed_bias = "unembed.b_U" in state
    if unembed_bias:
        w["t.w.unembed_bias"] = read.take("unembed.b_U", (vocab,))
    read.finish()
    w = {name: t.contiguous() for name, t in w.items()}

    cfg_out = ModelConfig(
        n_layers=n_layers,
        d_model=d,
        n_heads=n_heads,
        d_head=d_head,
        d_mlp=d_mlp,
        vocab=vocab,
        n_ctx=n_ctx,
        act=act,
        ln_eps=eps,
        attn_bias=True,
        mlp_output_bias=True,
        unembed_bias=unembed_bias,
        causal=direction == "causal",
    )
    return w, cfg_out


def _torch_dtype(dtype: Any):
    import torch

    if dtype is None or isinstance(dtype, torch.dtype):
        return dtype
    found = getattr(torch, str(dtype).removeprefix("torch."), None)
    if not isinstance(found, torch.dtype) or not found.is_floating_point:
        raise ValueError(
            "circuits_from_weights: dtype must be a floating torch dtype or its name, "
            f"found {dtype!r}"
        )
    return found


def circuits_from_weights(
    weights: Mapping[str, Any], cfg: ModelConfig, dtype: Any = None
) -> Tuple[Dict[str, Any], None, Any]:
    """(circs, None, TransformerInfo) for weights in rc's names and layouts (as the weight
    functions here return them), as `load_transformer_model_string` gives for a model file.

    circs holds the module library's circuits for the architecture (such as 't.logits'),
    't.w.tok_embeds' and 't.w.pos_embeds' (Arrays), and 't.bind_w': 't.logits' (or
    't.logits_p_bias') with every weight bound to an Array named '<weight>_arr'. A layer-norm
    epsilon other than the library's 1e-5 replaces the 'ln.c.eps' scalars; the bound body is
    then no longer the library's, so `TransformerInfo.dump_model_string` cannot write it as a
    model file (whose library circuits are referred to by name). dtype (a torch dtype or its
    name) casts every weight; by default they keep theirs.
    """
    from ._circuits import Array, Scalar
    from .module_library import TransformerBlockParams, TransformerInfo, TransformerParams

    cast = _torch_dtype(dtype)
    params = TransformerParams(
        block_params=TransformerBlockParams(
            norm_type="ln",
            attn_bias=cfg.attn_bias,
            mlp_act_type=cfg.act,
            mlp_output_bias=cfg.mlp_output_bias,
        ),
        num_layers=cfg.n_layers,
        use_norm_output=True,
        output_bias=cfg.unembed_bias,
    )
    info = TransformerInfo(params, model_class="GPT", pos_enc_type="gpt", causal_mask=cfg.causal)

    def array(name: str, array_name: str) -> Any:
        if name not in weights:
            raise KeyError(f"circuits_from_weights: missing weight '{name}'")
        tensor = weights[name]
        return Array(tensor if cast is None else tensor.to(cast), array_name)

    embeds = {name: array(name, name) for name in ("t.w.tok_embeds", "t.w.pos_embeds")}
    arrays = {name: array(name, name + "_arr") for name in weights if name not in embeds}
    bound = params.bind_weights(arrays)
    if cfg.ln_eps != 1e-5:
        bound = bound.update("ln.c.eps", lambda c: Scalar(cfg.ln_eps, c.shape, c.name))
    circs = {**params.get().circs, **embeds, "t.bind_w": bound}
    return circs, None, info


def load_hf_gpt2(
    model_or_state_dict: Any, config: Any = None, dtype: Any = None
) -> Tuple[Dict[str, Any], None, Any]:
    """A Hugging Face GPT-2 as circuits: `gpt2_weights_from_hf` then `circuits_from_weights`.
    Returns (circs with 't.bind_w', None, TransformerInfo)."""
    weights, cfg = gpt2_weights_from_hf(model_or_state_dict, config)
    return circuits_from_weights(weights, cfg, dtype)


def load_transformer_lens(
    model_or_state_dict: Any, cfg: Any = None, dtype: Any = None
) -> Tuple[Dict[str, Any], None, Any]:
    """A TransformerLens HookedTransformer as circuits: `weights_from_transformer_lens` then
    `circuits_from_weights`. Returns (circs with 't.bind_w', None, TransformerInfo)."""
    weights, model_cfg = weights_from_transformer_lens(model_or_state_dict, cfg)
    return circuits_from_weights(weights, model_cfg, dtype)


def logits_circuit(
    circs: Mapping[str, Any],
    info: Any,
    tokens: Any,
    inp_mask: Any = None,
    name: str = "t.call",
    substitute: bool = False,
) -> Any:
    """The logits [*batch, seq, vocab] of a loaded model (circs and info as the loaders
    return them) on token ids [*batch, seq]: a Circuit, or anything torch.as_tensor takes.
    inp_mask ([*batch, seq], 1 or True where a key may be attended to; data is cast to the
    weights' dtype) is passed to `TransformerInfo.bind_to_input_tokens`. With substitute,
    every Module is substituted (`substitute_all_modules`), so each layer's activations are
    nodes of their own, the form `tl_hook_matcher` selects in."""
    from ._circuits import Array, Circuit, substitute_all_modules

    vocab, n_ctx = circs["t.w.tok_embeds"].shape[0], circs["t.w.pos_embeds"].shape[0]
    if not isinstance(tokens, Circuit):
        import torch

        ids = torch.as_tensor(tokens)
        if ids.dtype.is_floating_point or ids.dtype == torch.bool or ids.ndim == 0:
            raise ValueError(
                f"logits_circuit: tokens must be integer ids [*batch, seq], found {ids.dtype} "
                f"of shape {tuple(ids.shape)}"
            )
        low, high = (int(ids.min()), int(ids.max())) if ids.numel() else (0, 0)
        if low < 0 or high >= vocab:
            found = low if low < 0 else high
            raise ValueError(
                f"logits_circuit: token id {found} is outside the vocabulary [0, {vocab})"
            )
        tokens = Array(ids.to(torch.int64), "t.toks")
    if tokens.ndim == 0 or tokens.shape[-1] > n_ctx:
        raise ValueError(
            f"logits_circuit: tokens of shape {tuple(tokens.shape)}: the sequence axis must be "
            f"at most n_ctx = {n_ctx} long"
        )
    if inp_mask is not None and not isinstance(inp_mask, Circuit):
        import torch

        dtype = circs["t.w.tok_embeds"].torch_dtype
        inp_mask = Array(torch.as_tensor(inp_mask).to(dtype), "t.inp_mask")
    call = info.bind_to_input_tokens(
        circs["t.bind_w"], tokens, circs["t.w.tok_embeds"], circs["t.w.pos_embeds"], inp_mask
    )
    if substitute:
        call = substitute_all_modules(call)
    return call.rename(name)


# TransformerLens hooks -> the library node computing each, in a model call whose Modules are
# substituted, as it comes from the loaders or after model_rewrites.configure_transformer's
# default rewrites. Block i runs from its input (resid_pre: 't.inp_tok_pos', or block i-1's
# output) to its output ('b{i}.call', 'b{i}' once configured); a node of block i is searched
# from the output down to, not past, a stop node. Names that configure_transformer numbers
# by layer are given in both spellings ('{i}' is the layer).
# Entries: hook -> (rc node names, names of a node to pass through first or None, stop node
# ('pre' for the block input, 'mid' for the residual after attention), layout).
_RESID_MID = ("b.resid.a", "b{i}.resid.a")
_TL_BLOCK_HOOKS = {
    "hook_resid_mid": (_RESID_MID, None, "pre", "same"),
    "ln1.hook_scale": (("ln.rsqrt",), ("a.norm", "a{i}.norm"), "pre", "scale"),
    "ln1.hook_normalized": (("ln.y",), ("a.norm", "a{i}.norm"), "pre", "same"),
    "ln2.hook_scale": (("ln.rsqrt",), ("m.norm", "m{i}.norm"), "mid", "scale"),
    "ln2.hook_normalized": (("ln.y",), ("m.norm", "m{i}.norm"), "mid", "same"),
    "attn.hook_q": (("a.q_p_bias",), None, "pre", "heads"),
    "attn.hook_k": (("a.k_p_bias",), None, "pre", "heads"),
    "attn.hook_v": (("a.v_p_bias",), None, "pre", "heads"),
    "attn.hook_attn_scores": (("a.attn_scores",), None, "pre", "same"),
    "attn.hook_pattern": (("a.attn_probs",), None, "pre", "same"),
    "attn.hook_z": (("a.comb_v",), None, "pre", "heads"),
    "attn.hook_result": (("a.heads", "a{i}.heads"), None, "pre", "heads"),
    "mlp.hook_pre": (("m.pre",), None, "pre", "same"),
    "mlp.hook_post": (("m.act",), None, "pre", "same"),
}
# The sublayer outputs are the first terms of the residual adds ('b.a' + resid_pre is the
# residual after attention, 'b.m' + that the block output), whatever their names.
_TL_SUBLAYER_OUT_HOOKS = ("hook_attn_out", "hook_mlp_out")
_TL_FINAL_HOOKS = {
    "ln_final.hook_scale": ("ln.rsqrt", "scale"),
    "ln_final.hook_normalized": ("ln.y", "same"),
}
_TL_UNEMBED_HOOKS = ("unembed.hook_in", "unembed.hook_out")
_TL_TOP_HOOKS = ("hook_embed", "hook_pos_embed")
_TL_BLOCK_NAME = re.compile(r"blocks\.(\d+)\.(.+)")


def _tl_hook_parts(name: str) -> Tuple[Optional[int], str]:
    """(layer or None, hook within the block or the whole name), or a ValueError."""
    found = _TL_BLOCK_NAME.fullmatch(name) if isinstance(name, str) else None
    if found is not None:
        hook = found.group(2)
        if hook in _TL_BLOCK_HOOKS or hook in _TL_SUBLAYER_OUT_HOOKS:
            return int(found.group(1)), hook
        if hook in ("hook_resid_pre", "hook_resid_post"):
            return int(found.group(1)), hook
    elif name in _TL_FINAL_HOOKS or name in _TL_TOP_HOOKS or name in _TL_UNEMBED_HOOKS:
        return None, name
    known = ", ".join(
        list(_TL_TOP_HOOKS)
        + [f"blocks.{{i}}.{h}" for h in _tl_block_hook_order(True)]
        + list(_TL_FINAL_HOOKS)
        + list(_TL_UNEMBED_HOOKS)
    )
    raise ValueError(f"unknown TransformerLens hook {name!r}; supported: {known}")


def tl_hook_names(n_layers: int, attn_result: bool = False) -> List[str]:
    """Every TransformerLens hook name `tl_hook_matcher` knows for an n_layers model, in
    TransformerLens's order within a block; 'attn.hook_result' only with attn_result (as
    TransformerLens caches it only with use_attn_result)."""
    names = list(_TL_TOP_HOOKS)
    for i in range(n_layers):
        names += [f"blocks.{i}.{h}" for h in _tl_block_hook_order(attn_result)]
    return names + list(_TL_FINAL_HOOKS) + list(_TL_UNEMBED_HOOKS)


def _tl_block_hook_order(attn_result: bool) -> List[str]:
    hooks = ["hook_resid_pre", "hook_resid_mid", *_TL_SUBLAYER_OUT_HOOKS]
    hooks += [h for h in _TL_BLOCK_HOOKS if h != "hook_resid_mid"]
    if not attn_result:
        hooks.remove("attn.hook_result")
    return hooks + ["hook_resid_post"]


def _block_output(layer: int) -> Any:
    from ._circuits import Matcher

    return Matcher(f"b{layer}.call", f"b{layer}")


def tl_hook_matcher(name: str) -> Any:
    """An IterativeMatcher for the node that computes TransformerLens hook `name` in a model
    call whose Modules are substituted (`logits_circuit(..., substitute=True)`, or
    `substitute_all_modules` of any call of a loaded 't.bind_w', also after
    `model_rewrites.configure_transformer` without head splitting or residual flattening):
    `circ.get_unique(it)` gives that node, and `circ.update(it, f)` rewrites it, in that
    layer only.

    The node's value is in rc's layout; `tl_hook_to_tl_layout` turns it into
    TransformerLens's. Layer norms: hook_scale is 'ln.rsqrt' (1 / TransformerLens's scale),
    hook_normalized is 'ln.y'. Attention scores are 'a.attn_scores', whose masked entries
    are -10000 where TransformerLens has -inf. 'unembed.hook_out' is the circuit's root (the
    logits of the call).
    """
    from ._circuits import IterativeMatcher, Matcher, restrict

    layer, hook = _tl_hook_parts(name)
    if hook == "hook_embed":
        return IterativeMatcher("t.inp_tok_pos").children_matcher({0})
    if hook == "hook_pos_embed":
        return IterativeMatcher("t.w.pos_embeds_idxed")
    if hook == "unembed.hook_in":
        return IterativeMatcher("final.call")
    if hook == "unembed.hook_out":
        return restrict(Matcher(True), end_depth=1)
    if layer is None:
        node, _ = _TL_FINAL_HOOKS[hook]
        below = Matcher.regex(r"^b\d+(\.call)?$") | Matcher("t.inp_tok_pos")
        return IterativeMatcher("final.call").chain(restrict(node, term_early_at=below))

    def names(spelled: Tuple[str, ...]) -> Any:
        return Matcher(*(n.format(i=layer) for n in spelled))

    block_input = Matcher("t.inp_tok_pos") if layer == 0 else _block_output(layer - 1)
    if hook == "hook_resid_pre":
        return IterativeMatcher(block_input)
    out = IterativeMatcher(_block_output(layer))
    if hook == "hook_resid_post":
        return out
    if hook == "hook_mlp_out":
        return out.children_matcher({0})
    if hook == "hook_attn_out":
        resid_mid = restrict(names(_RESID_MID), term_early_at=block_input)
        return out.chain(resid_mid).children_matcher({0})
    node, via, stop, _ = _TL_BLOCK_HOOKS[hook]
    stop_at = block_input if stop == "pre" else names(_RESID_MID)
    if via is not None:
        out = out.chain(restrict(names(via), term_early_at=block_input))
    return out.chain(restrict(names(node), term_early_at=stop_at))


def tl_hook_to_tl_layout(name: str, value: Any) -> Any:
    """The value of `tl_hook_matcher(name)`'s node, a tensor in rc's layout, in
    TransformerLens's: heads move from before the position axis to after it
    ([*batch, head, pos, d_head] -> [*batch, pos, head, d_head]); a layer norm's 'ln.rsqrt'
    [*batch, pos] becomes the scale [*batch, pos, 1]; hook_pos_embed stays [pos, d_model]
    (TransformerLens's [batch, pos, d_model] is it broadcast). Other hooks are unchanged."""
    layer, hook = _tl_hook_parts(name)
    if layer is None:
        layout = _TL_FINAL_HOOKS[hook][1] if hook in _TL_FINAL_HOOKS else "same"
    else:
        layout = _TL_BLOCK_HOOKS[hook][3] if hook in _TL_BLOCK_HOOKS else "same"
    if layout == "heads":
        return value.transpose(-2, -3)
    if layout == "scale":
        return 1.0 / value[..., None]
    return value


def run_with_tl_cache(circ: Any, names: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    """TransformerLens's `run_with_cache` cache, from a substituted model call: hook name ->
    value in TransformerLens's layout (`tl_hook_to_tl_layout`), every hook evaluated in one
    plan. names defaults to `tl_hook_names` for the layers the circuit has."""
    from ._circuits import Matcher, Module, evaluate_many

    if circ.are_any_found(Module):
        raise ValueError(
            f"run_with_tl_cache: {circ.name!r} still has Modules; hooks are nodes of a substituted "
            "call (logits_circuit(..., substitute=True) or substitute_all_modules)"
        )
    if names is None:
        n_layers = len(circ.get(Matcher.regex(r"^b\d+(\.call)?$")))
        names = tl_hook_names(n_layers)
    nodes = [circ.get_unique(tl_hook_matcher(n)) for n in names]
    values = evaluate_many(nodes)
    return {n: tl_hook_to_tl_layout(n, v) for n, v in zip(names, values)}
