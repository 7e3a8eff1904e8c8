"""Model loaders: Hugging Face GPT-2 and TransformerLens models as rc weights and circuits.

The weight tests run a plain torch forward over the converted weights and compare it with the
source model's own logits; the error tests feed hand-made state dicts and configs and check
the exception type and message. Models are small random ones built from configs.
"""

import json
import math

import pytest

torch = pytest.importorskip("torch")

# transformer_lens 3 warns that HookedTransformer goes away in 4.
pytestmark = pytest.mark.filterwarnings("ignore:HookedTransformer is deprecated:DeprecationWarning")

import circuits as rc  # noqa: E402
from circuits import loaders  # noqa: E402
from circuits import module_library as ml  # noqa: E402
from circuits.loaders import (  # noqa: E402
    ModelConfig,
    circuits_from_weights,
    gpt2_weights_from_hf,
    load_hf_gpt2,
    load_transformer_lens,
    logits_circuit,
    run_with_tl_cache,
    tl_hook_matcher,
    tl_hook_names,
    tl_hook_to_tl_layout,
    weights_from_transformer_lens,
)

SMALL = dict(n_layers=2, d_model=32, n_heads=4, d_head=8, d_mlp=64, vocab=50, n_ctx=16)


def _gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


_ACT = {"gelu_new": _gelu_new, "gelu": torch.nn.functional.gelu, "relu": torch.relu}


def _ln(x, w, prefix, eps):
    x = x - x.mean(-1, keepdim=True)
    x = x / torch.sqrt((x * x).mean(-1, keepdim=True) + eps)
    return x * w[prefix + ".ln.w.scale"] + w[prefix + ".ln.w.bias"]


def reference_logits(w, cfg: ModelConfig, tokens):
    """GPT-2 forward written against rc's weight layouts, independent of any circuit."""
    seq = tokens.shape[-1]
    x = w["t.w.tok_embeds"][tokens] + w["t.w.pos_embeds"][:seq]
    allowed = torch.ones(seq, seq, dtype=torch.bool)
    if cfg.causal:
        allowed = torch.tril(allowed)
    for i in range(cfg.n_layers):
        h = _ln(x, w, f"a{i}", cfg.ln_eps)
        q = torch.einsum("bsd,hcd->bhsc", h, w[f"a{i}.w.q"]) + w[f"a{i}.w.q_bias"][:, None]
        k = torch.einsum("bsd,hcd->bhsc", h, w[f"a{i}.w.k"]) + w[f"a{i}.w.k_bias"][:, None]
        v = torch.einsum("bsd,hcd->bhsc", h, w[f"a{i}.w.v"]) + w[f"a{i}.w.v_bias"][:, None]
        scores = torch.einsum("bhqc,bhkc->bhqk", q, k) / math.sqrt(cfg.d_head)
        probs = torch.softmax(scores.masked_fill(~allowed, -torch.inf), -1)
        z = torch.einsum("bhqk,bhkc->bhqc", probs, v)
        x = x + torch.einsum("bhqc,hdc->bqd", z, w[f"a{i}.w.o"]) + w[f"a{i}.w.o_bias"]
        h = _ln(x, w, f"m{i}", cfg.ln_eps)
        pre = h @ w[f"m{i}.w.proj_in"].T + w[f"m{i}.w.in_bias"]
        x = x + _ACT[cfg.act](pre) @ w[f"m{i}.w.proj_out"].T + w[f"m{i}.w.out_bias"]
    logits = _ln(x, w, "final", cfg.ln_eps) @ w["t.w.unembed"].T
    if cfg.unembed_bias:
        logits = logits + w["t.w.unembed_bias"]
    return logits


def rel_err(a, b):
    return float((a - b).abs().max() / b.abs().max())


def tokens(batch=2, seq=SMALL["n_ctx"], seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, SMALL["vocab"], (batch, seq), generator=g)


# ---------------------------------------------------------------- Hugging Face GPT-2


def hf_config(**overrides):
    transformers = pytest.importorskip("transformers")
    kw = dict(
        n_layer=SMALL["n_layers"],
        n_embd=SMALL["d_model"],
        n_head=SMALL["n_heads"],
        n_inner=SMALL["d_mlp"],
        vocab_size=SMALL["vocab"],
        n_positions=SMALL["n_ctx"],
        bos_token_id=0,
        eos_token_id=0,
    )
    kw.update(overrides)
    return transformers.GPT2Config(**kw)


def hf_model(dtype=torch.float64, seed=0, **overrides):
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(seed)
    model = transformers.GPT2LMHeadModel(hf_config(**overrides)).to(dtype).eval()
    # Random layer norms and biases, so no parameter is left at its trivial initial value.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias") or ".ln_" in name:
                p.normal_(0.0, 0.5 if name.endswith("bias") else 1.0)
    return model


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-10), (torch.float32, 1e-5)])
def test_hf_weights_match_hf_logits(dtype, tol):
    model = hf_model(dtype)
    w, cfg = gpt2_weights_from_hf(model)
    assert cfg == ModelConfig(**SMALL, act="gelu_new", ln_eps=1e-5)
    assert all(t.dtype == dtype for t in w.values())
    toks = tokens()
    with torch.no_grad():
        expected = model(toks).logits
    assert rel_err(reference_logits(w, cfg, toks), expected) <= tol


def test_hf_weight_names_and_shapes():
    w, cfg = gpt2_weights_from_hf(hf_model())
    d, h, c, m, v, n = 32, 4, 8, 64, 50, 16
    expected = {"t.w.tok_embeds": (v, d), "t.w.pos_embeds": (n, d), "t.w.unembed": (v, d)}
    expected.update({"final.ln.w.scale": (d,), "final.ln.w.bias": (d,)})
    for i in range(2):
        for p in ("a", "m"):
            expected.update({f"{p}{i}.ln.w.scale": (d,), f"{p}{i}.ln.w.bias": (d,)})
        for part in "qkv":
            expected.update({f"a{i}.w.{part}": (h, c, d), f"a{i}.w.{part}_bias": (h, c)})
        expected.update({f"a{i}.w.o": (h, d, c), f"a{i}.w.o_bias": (d,)})
        expected.update({f"m{i}.w.proj_in": (m, d), f"m{i}.w.in_bias": (m,)})
        expected.update({f"m{i}.w.proj_out": (d, m), f"m{i}.w.out_bias": (d,)})
    assert {k: tuple(t.shape) for k, t in w.items()} == expected
    assert all(t.is_contiguous() for t in w.values())


def test_hf_state_dict_with_config_dict_and_gpt2model():
    transformers = pytest.importorskip("transformers")
    model = hf_model()
    w, cfg = gpt2_weights_from_hf(model)
    w2, cfg2 = gpt2_weights_from_hf(model.state_dict(), model.config.to_dict())
    assert cfg2 == cfg
    assert all(torch.equal(w[k], w2[k]) for k in w)
    # GPT2Model: no 'transformer.' prefix and no lm_head; the unembedding is the tied embedding.
    base = transformers.GPT2Model(model.config).to(torch.float64)
    base.load_state_dict(model.transformer.state_dict())
    w3, cfg3 = gpt2_weights_from_hf(base)
    assert cfg3 == cfg
    assert all(torch.equal(w[k], w3[k]) for k in w)


@pytest.mark.parametrize("act,rc_act", [("gelu", "gelu"), ("relu", "relu"), ("gelu_pytorch_tanh", "gelu_new")])
def test_hf_other_activations(act, rc_act):
    model = hf_model(activation_function=act, layer_norm_epsilon=1e-3)
    w, cfg = gpt2_weights_from_hf(model)
    assert (cfg.act, cfg.ln_eps) == (rc_act, 1e-3)
    toks = tokens()
    with torch.no_grad():
        expected = model(toks).logits
    assert rel_err(reference_logits(w, cfg, toks), expected) <= 1e-10


def test_hf_numpy_state_dict_and_old_mask_buffers():
    model = hf_model()
    sd = {k: v.numpy() for k, v in model.state_dict().items()}
    sd["transformer.h.0.attn.bias"] = torch.ones(1, 1, 16, 16)
    sd["transformer.h.0.attn.masked_bias"] = torch.tensor(-1e4)
    w, _ = gpt2_weights_from_hf(sd, model.config)
    assert torch.equal(w["a0.w.q_bias"], model.state_dict()["transformer.h.0.attn.c_attn.bias"][:32].view(4, 8))


def test_hf_saved_folder_and_files(tmp_path):
    pytest.importorskip("safetensors")
    model = hf_model()
    w, cfg = gpt2_weights_from_hf(model)
    model.save_pretrained(tmp_path / "saved")
    for source, config in [
        (tmp_path / "saved", None),
        (str(tmp_path / "saved"), model.config),
        (tmp_path / "saved" / "model.safetensors", model.config.to_dict()),
    ]:
        w2, cfg2 = gpt2_weights_from_hf(source, config)
        assert cfg2 == cfg
        assert all(torch.equal(w[k], w2[k]) for k in w)
    torch.save(model.state_dict(), tmp_path / "weights.pt")
    w3, _ = gpt2_weights_from_hf(tmp_path / "weights.pt", model.config)
    assert all(torch.equal(w[k], w3[k]) for k in w)


def test_hf_sharded_and_bin_folders(tmp_path):
    safetensors_torch = pytest.importorskip("safetensors.torch")
    sd, config = hf_sd_and_config()
    w, cfg = gpt2_weights_from_hf(sd, config)
    keys = sorted(sd)
    shards = {"model-00001-of-00002.safetensors": keys[:10], "model-00002-of-00002.safetensors": keys[10:]}
    sharded = tmp_path / "sharded"
    sharded.mkdir()
    for file, names in shards.items():
        safetensors_torch.save_file({k: sd[k].contiguous() for k in names}, str(sharded / file))
    index = {"weight_map": {k: f for f, names in shards.items() for k in names}}
    (sharded / "model.safetensors.index.json").write_text(json.dumps(index))
    (sharded / "config.json").write_text(json.dumps(config))
    w2, cfg2 = gpt2_weights_from_hf(sharded)
    assert cfg2 == cfg and all(torch.equal(w[k], w2[k]) for k in w)
    pickled = tmp_path / "bin"
    pickled.mkdir()
    torch.save(sd, pickled / "pytorch_model.bin")
    w3, _ = gpt2_weights_from_hf(pickled, config)
    assert all(torch.equal(w[k], w3[k]) for k in w)


def test_hf_folder_without_config_or_weights(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"gpt2_weights_from_hf: no config.json in .* \(and no config given\)"):
        gpt2_weights_from_hf(tmp_path)
    (tmp_path / "config.json").write_text("{}")
    message = "no model.safetensors, model.safetensors.index.json or pytorch_model.bin in"
    with pytest.raises(FileNotFoundError, match=message):
        gpt2_weights_from_hf(tmp_path)
    with pytest.raises(FileNotFoundError, match="gpt2_weights_from_hf: no weights file or folder .*missing"):
        gpt2_weights_from_hf(tmp_path / "missing.safetensors", {})


def hf_sd_and_config():
    """A GPT-2 state dict made by hand (no transformers needed) and its config dict."""
    d, m, v, n = 32, 64, 50, 16
    g = torch.Generator().manual_seed(0)
    shapes = {"transformer.wte.weight": (v, d), "transformer.wpe.weight": (n, d)}
    for i in range(2):
        h = f"transformer.h.{i}."
        shapes.update({h + "ln_1.weight": (d,), h + "ln_1.bias": (d,), h + "ln_2.weight": (d,)})
        shapes.update({h + "ln_2.bias": (d,), h + "attn.c_attn.weight": (d, 3 * d)})
        shapes.update({h + "attn.c_attn.bias": (3 * d,), h + "attn.c_proj.weight": (d, d)})
        shapes.update({h + "attn.c_proj.bias": (d,), h + "mlp.c_fc.weight": (d, m)})
        shapes.update({h + "mlp.c_fc.bias": (m,), h + "mlp.c_proj.weight": (m, d)})
        shapes.update({h + "mlp.c_proj.bias": (d,)})
    shapes.update({"transformer.ln_f.weight": (d,), "transformer.ln_f.bias": (d,), "lm_head.weight": (v, d)})
    sd = {k: torch.randn(*s, generator=g) for k, s in shapes.items()}
    config = dict(n_layer=2, n_embd=d, n_head=4, n_inner=m, vocab_size=v, n_positions=n, model_type="gpt2")
    return sd, config


def test_hf_hand_made_state_dict_loads():
    sd, config = hf_sd_and_config()
    w, cfg = gpt2_weights_from_hf(sd, config)
    assert cfg == ModelConfig(**SMALL, act="gelu_new", ln_eps=1e-5)
    # c_attn's output columns are q | k | v, each heads x d_head; rc's q is [heads, d_head, d].
    qkv = sd["transformer.h.1.attn.c_attn.weight"]
    assert torch.equal(w["a1.w.k"][2, 5], qkv[:, 32 + 2 * 8 + 5])
    assert torch.equal(w["a1.w.o"][3, :, 6], sd["transformer.h.1.attn.c_proj.weight"][3 * 8 + 6])
    del sd["lm_head.weight"]
    w, _ = gpt2_weights_from_hf(sd, config)
    assert w["t.w.unembed"] is w["t.w.tok_embeds"]


def test_hf_missing_key():
    sd, config = hf_sd_and_config()
    del sd["transformer.h.1.mlp.c_fc.bias"]
    with pytest.raises(KeyError, match=r"missing key 'transformer.h.1.mlp.c_fc.bias' \(expected shape \(64,\)\)"):
        gpt2_weights_from_hf(sd, config)


def test_hf_missing_embedding_and_untied_unembedding():
    sd, config = hf_sd_and_config()
    with pytest.raises(KeyError, match=r"missing key 'transformer.wte.weight' \(expected shape \(50, 32\)\)"):
        gpt2_weights_from_hf({k: t for k, t in sd.items() if "wte" not in k}, config)
    del sd["lm_head.weight"]
    with pytest.raises(KeyError, match=r"missing key 'lm_head.weight' \(expected shape \(50, 32\)\)"):
        gpt2_weights_from_hf(sd, {**config, "tie_word_embeddings": False})


def test_hf_misshaped_tensor():
    sd, config = hf_sd_and_config()
    sd["transformer.h.0.attn.c_attn.weight"] = torch.zeros(32, 95)
    with pytest.raises(
        ValueError, match=r"'transformer.h.0.attn.c_attn.weight' has shape \(32, 95\), expected \(32, 96\)"
    ):
        gpt2_weights_from_hf(sd, config)


def test_hf_unexpected_key():
    sd, config = hf_sd_and_config()
    sd["transformer.h.2.ln_1.weight"] = torch.zeros(32)
    with pytest.raises(ValueError, match=r"unexpected keys 'transformer.h.2.ln_1.weight'"):
        gpt2_weights_from_hf(sd, config)


def test_hf_state_dict_needs_config():
    sd, _ = hf_sd_and_config()
    with pytest.raises(ValueError, match="a state dict needs its config"):
        gpt2_weights_from_hf(sd)


def test_hf_not_a_model():
    message = r"expected a model with state_dict\(\), a mapping of names to tensors or a path, found int"
    with pytest.raises(ValueError, match=message):
        gpt2_weights_from_hf(3)


@pytest.mark.parametrize(
    "key,value,message",
    [
        ("model_type", "gpt_neox", "'model_type' is 'gpt_neox', unsupported: only GPT-2"),
        ("activation_function", "silu", "'activation_function' is 'silu'; supported: gelu, gelu_fast"),
        ("scale_attn_weights", False, "'scale_attn_weights' is False, unsupported"),
        ("scale_attn_by_inverse_layer_idx", True, "'scale_attn_by_inverse_layer_idx' is True, unsupported"),
        ("add_cross_attention", True, "'add_cross_attention' is True, unsupported: cross-attention"),
        ("n_head", 5, "n_embd 32 is not a multiple of n_head 5"),
        ("n_layer", 0, "config 'n_layer' must be a positive integer, found 0"),
        ("n_inner", 2.5, "config 'n_inner' must be a positive integer, found 2.5"),
        ("n_embd", None, "config has no 'n_embd'"),
    ],
)
def test_hf_unsupported_config(key, value, message):
    sd, config = hf_sd_and_config()
    with pytest.raises(ValueError, match=message):
        gpt2_weights_from_hf(sd, {**config, key: value})


def test_hf_config_object_attributes():
    sd, config = hf_sd_and_config()

    class Cfg:
        pass

    obj = Cfg()
    obj.__dict__.update(config)
    _, cfg = gpt2_weights_from_hf(sd, obj)
    assert cfg.n_layers == 2 and cfg.d_mlp == 64


# ---------------------------------------------------------------- TransformerLens


def tl_config(**overrides):
    tl = pytest.importorskip("transformer_lens")
    kw = dict(
        n_layers=SMALL["n_layers"],
        d_model=SMALL["d_model"],
        n_heads=SMALL["n_heads"],
        d_head=SMALL["d_head"],
        d_mlp=SMALL["d_mlp"],
        d_vocab=SMALL["vocab"],
        n_ctx=SMALL["n_ctx"],
        act_fn="gelu_new",
        normalization_type="LN",
        device="cpu",
        seed=0,
    )
    kw.update(overrides)
    return tl.HookedTransformerConfig(**kw)


def tl_model(dtype=torch.float64, **overrides):
    tl = pytest.importorskip("transformer_lens")
    model = tl.HookedTransformer(tl_config(dtype=dtype, **overrides)).eval()
    torch.manual_seed(1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if ".b_" in name or ".ln" in name or "ln_final" in name:
                p.normal_(0.0, 0.5 if (".b_" in name or name.endswith(".b")) else 1.0)
    return model


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-10), (torch.float32, 1e-5)])
def test_tl_weights_match_tl_logits(dtype, tol):
    model = tl_model(dtype)
    w, cfg = weights_from_transformer_lens(model)
    assert cfg == ModelConfig(**SMALL, act="gelu_new", ln_eps=1e-5, unembed_bias=True)
    toks = tokens()
    with torch.no_grad():
        expected = model(toks)
    assert rel_err(reference_logits(w, cfg, toks), expected) <= tol


def test_tl_state_dict_and_config_dict():
    model = tl_model()
    w, cfg = weights_from_transformer_lens(model)
    w2, cfg2 = weights_from_transformer_lens(model.state_dict(), model.cfg.to_dict())
    assert cfg2 == cfg
    assert all(torch.equal(w[k], w2[k]) for k in w)
    assert torch.equal(w["a1.w.v"][2, 3], model.blocks[1].attn.W_V[2, :, 3])
    assert torch.equal(w["a0.w.o"][1, :, 7], model.blocks[0].attn.W_O[1, 7])


def test_tl_processed_weights():
    """Folded layer norms (LNPre), centred writing weights and unembedding, folded value biases."""
    tl = pytest.importorskip("transformer_lens")
    model = tl_model()
    toks = tokens()
    with torch.no_grad():
        expected = model(toks)
    processed = tl.HookedTransformer(tl_config(dtype=torch.float64)).eval()
    processed.load_and_process_state_dict(
        model.state_dict(), fold_ln=True, center_writing_weights=True, center_unembed=True, fold_value_biases=True
    )
    assert processed.cfg.normalization_type == "LNPre"
    w, cfg = weights_from_transformer_lens(processed)
    assert torch.equal(w["a0.ln.w.scale"], torch.ones(32, dtype=torch.float64))
    got = reference_logits(w, cfg, toks)
    with torch.no_grad():
        assert rel_err(got, processed(toks)) <= 1e-10
    # Centring the unembedding shifts every logit of a position by one constant; the
    # processing itself rounds (TransformerLens does part of it in float32).
    centred = expected - expected.mean(-1, keepdim=True)
    assert rel_err(got - got.mean(-1, keepdim=True), centred) <= 1e-5


def test_tl_bidirectional_and_relu():
    model = tl_model(attention_dir="bidirectional", act_fn="relu", eps=1e-4)
    w, cfg = weights_from_transformer_lens(model)
    assert (cfg.causal, cfg.act, cfg.ln_eps) == (False, "relu", 1e-4)
    toks = tokens()
    with torch.no_grad():
        expected = model(toks)
    assert rel_err(reference_logits(w, cfg, toks), expected) <= 1e-10


def test_hf_and_tl_loaders_agree_on_one_gpt2():
    """TransformerLens's own GPT-2 conversion and the Hugging Face loader give the same rc weights."""
    pytest.importorskip("transformer_lens")
    from transformer_lens.pretrained.weight_conversions.gpt2 import convert_gpt2_weights

    hf = hf_model()
    cfg = tl_config(dtype=torch.float64, act_fn="gelu_new", d_vocab_out=50)
    w_hf, cfg_hf = gpt2_weights_from_hf(hf)
    tl_state = convert_gpt2_weights(hf, cfg)
    assert "unembed.b_U" not in tl_state
    w_tl, cfg_tl = weights_from_transformer_lens(tl_state, cfg)
    assert cfg_tl == cfg_hf
    assert set(w_tl) == set(w_hf)
    assert all(torch.equal(w_hf[k], w_tl[k]) for k in w_hf), [k for k in w_hf if not torch.equal(w_hf[k], w_tl[k])]


def tl_sd_and_config():
    """A TransformerLens state dict made by hand and its config dict."""
    d, h, c, m, v, n = 32, 4, 8, 64, 50, 16
    g = torch.Generator().manual_seed(0)
    shapes = {"embed.W_E": (v, d), "pos_embed.W_pos": (n, d)}
    for i in range(2):
        b = f"blocks.{i}."
        shapes.update({b + "ln1.w": (d,), b + "ln1.b": (d,), b + "ln2.w": (d,), b + "ln2.b": (d,)})
        for p in "QKV":
            shapes.update({b + f"attn.W_{p}": (h, d, c), b + f"attn.b_{p}": (h, c)})
        shapes.update({b + "attn.W_O": (h, c, d), b + "attn.b_O": (d,)})
        shapes.update({b + "mlp.W_in": (d, m), b + "mlp.b_in": (m,), b + "mlp.W_out": (m, d), b + "mlp.b_out": (d,)})
    shapes.update({"ln_final.w": (d,), "ln_final.b": (d,), "unembed.W_U": (d, v), "unembed.b_U": (v,)})
    sd = {k: torch.randn(*s, generator=g) for k, s in shapes.items()}
    sd["blocks.0.attn.IGNORE"] = torch.tensor(-torch.inf)
    sd["blocks.0.attn.mask"] = torch.ones(n, n, dtype=torch.bool)
    config = dict(n_layers=2, d_model=d, n_heads=h, d_head=c, d_mlp=m, d_vocab=v, n_ctx=n, act_fn="gelu_new")
    return sd, config


def test_tl_hand_made_state_dict_loads():
    sd, config = tl_sd_and_config()
    w, cfg = weights_from_transformer_lens(sd, config)
    assert cfg == ModelConfig(**SMALL, act="gelu_new", ln_eps=1e-5, unembed_bias=True)
    assert torch.equal(w["m1.w.proj_out"], sd["blocks.1.mlp.W_out"].T)
    assert torch.equal(w["t.w.unembed"], sd["unembed.W_U"].T)
    del sd["unembed.b_U"]
    w, cfg = weights_from_transformer_lens(sd, config)
    assert not cfg.unembed_bias and "t.w.unembed_bias" not in w
    lnpre = {k: t for k, t in sd.items() if not (".ln" in k or k.startswith("ln_final"))}
    w, _ = weights_from_transformer_lens(lnpre, {**config, "normalization_type": "LNPre"})
    assert torch.equal(w["final.ln.w.bias"], torch.zeros(32))


def test_tl_weights_file(tmp_path):
    sd, config = tl_sd_and_config()
    w, cfg = weights_from_transformer_lens(sd, config)
    torch.save(sd, tmp_path / "tl.pt")
    w2, cfg2 = weights_from_transformer_lens(tmp_path / "tl.pt", config)
    assert cfg2 == cfg and all(torch.equal(w[k], w2[k]) for k in w)


def test_tl_missing_key():
    sd, config = tl_sd_and_config()
    del sd["blocks.1.attn.b_K"]
    with pytest.raises(KeyError, match=r"missing key 'blocks.1.attn.b_K' \(expected shape \(4, 8\)\)"):
        weights_from_transformer_lens(sd, config)


def test_tl_misshaped_tensor():
    sd, config = tl_sd_and_config()
    sd["blocks.0.attn.W_O"] = torch.zeros(4, 32, 8)
    with pytest.raises(ValueError, match=r"'blocks.0.attn.W_O' has shape \(4, 32, 8\), expected \(4, 8, 32\)"):
        weights_from_transformer_lens(sd, config)


def test_tl_unexpected_key():
    sd, config = tl_sd_and_config()
    sd["blocks.0.attn._W_K"] = torch.zeros(2, 32, 8)
    with pytest.raises(ValueError, match=r"unexpected keys 'blocks.0.attn._W_K'"):
        weights_from_transformer_lens(sd, config)


def test_tl_state_dict_needs_config():
    sd, _ = tl_sd_and_config()
    with pytest.raises(ValueError, match="weights_from_transformer_lens: a state dict needs its config"):
        weights_from_transformer_lens(sd)


@pytest.mark.parametrize(
    "key,value,message",
    [
        ("positional_embedding_type", "rotary", "'positional_embedding_type' is 'rotary', unsupported"),
        ("parallel_attn_mlp", True, "'parallel_attn_mlp' is True, unsupported: parallel attention and MLP"),
        ("attn_only", True, "'attn_only' is True, unsupported: attention-only models"),
        ("normalization_type", "RMS", "'normalization_type' is 'RMS', unsupported: only LayerNorm"),
        ("normalization_type", None, "'normalization_type' is None, unsupported: only LayerNorm"),
        ("d_vocab_out", 7, "'d_vocab_out' is 7, unsupported: an output vocabulary other than d_vocab 50"),
        ("gated_mlp", True, "'gated_mlp' is True, unsupported: gated MLPs"),
        ("final_rms", True, "'final_rms' is True, unsupported"),
        ("n_key_value_heads", 2, "'n_key_value_heads' is 2, unsupported: grouped-query attention"),
        ("attention_dir", "sideways", "'attention_dir' is 'sideways', unsupported"),
        ("use_attn_scale", False, "'use_attn_scale' is False, unsupported"),
        ("attn_scale", 4.0, r"'attn_scale' is 4.0, unsupported: rc divides scores by sqrt\(d_head\)"),
        ("output_logits_soft_cap", 30.0, "'output_logits_soft_cap' is 30.0, unsupported: soft-capped"),
        ("num_experts", 8, "'num_experts' is 8, unsupported: mixture of experts"),
        ("act_fn", "solu_ln", "'act_fn' is 'solu_ln'; supported: gelu, gelu_fast, gelu_new"),
        ("d_mlp", None, "config has no 'd_mlp'"),
        ("d_head", -8, "config 'd_head' must be a positive integer, found -8"),
    ],
)
def test_tl_unsupported_config(key, value, message):
    sd, config = tl_sd_and_config()
    with pytest.raises(ValueError, match=message):
        weights_from_transformer_lens(sd, {**config, key: value})


def test_tl_attn_scale_sqrt_d_head_is_fine():
    sd, config = tl_sd_and_config()
    _, cfg = weights_from_transformer_lens(sd, {**config, "attn_scale": math.sqrt(8), "d_vocab_out": 50})
    assert cfg.d_head == 8


def test_module_has_no_heavy_imports():
    assert not hasattr(loaders, "torch")
    assert not hasattr(loaders, "transformers")
    assert not hasattr(loaders, "transformer_lens")


# ---------------------------------------------------------------- circuits from loaded weights

@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-5), (torch.float32, 1e-4)])
def test_hf_circuit_logits_match_hf(dtype, tol):
    model = hf_model(dtype)
    circs, tokenizer, info = load_hf_gpt2(model)
    assert tokenizer is None
    block = ml.TransformerBlockParams(attn_bias=True, mlp_act_type="gelu_new", mlp_output_bias=True)
    assert info == ml.TransformerInfo(ml.TransformerParams(block, num_layers=2), model_class="GPT")
    assert circs["t.bind_w"].children[0] == info.params.get().body
    toks = tokens()
    logits = logits_circuit(circs, info, toks)
    assert logits.name == "t.call" and logits.shape == (2, 16, 50)
    got = logits.evaluate()
    assert got.dtype == dtype
    with torch.no_grad():
        expected = model(toks).logits
    assert rel_err(got, expected) <= tol


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-5), (torch.float32, 1e-4)])
def test_tl_circuit_logits_match_tl(dtype, tol):
    model = tl_model(dtype)
    circs, _, info = load_transformer_lens(model)
    assert info.params.output_bias
    toks = tokens(batch=3, seq=9, seed=2)
    got = logits_circuit(circs, info, toks).evaluate()
    with torch.no_grad():
        expected = model(toks)
    assert rel_err(got, expected) <= tol


def test_tl_circuit_bidirectional_relu_eps():
    model = tl_model(attention_dir="bidirectional", act_fn="relu", eps=1e-3)
    circs, _, info = load_transformer_lens(model)
    assert info.causal_mask is False and info.params.block_params.mlp_act_type == "relu"
    assert {c.value for c in circs["t.bind_w"].get("ln.c.eps")} == {1e-3}
    toks = tokens(batch=1, seq=7)
    with torch.no_grad():
        expected = model(toks)
    assert rel_err(logits_circuit(circs, info, toks).evaluate(), expected) <= 1e-10


def test_tl_circuit_processed_weights():
    tl = pytest.importorskip("transformer_lens")
    processed = tl.HookedTransformer(tl_config(dtype=torch.float64)).eval()
    processed.load_and_process_state_dict(tl_model().state_dict(), fold_ln=True, center_writing_weights=True)
    circs, _, info = load_transformer_lens(processed)
    toks = tokens()
    with torch.no_grad():
        expected = processed(toks)
    assert rel_err(logits_circuit(circs, info, toks).evaluate(), expected) <= 1e-10


def test_hf_circuit_dtype_cast_and_unbatched_tokens():
    model = hf_model(torch.float32)
    circs, _, info = load_hf_gpt2(model, dtype="float64")
    assert circs["t.w.tok_embeds"].torch_dtype == torch.float64
    toks = tokens(batch=1, seq=5)[0]
    got = logits_circuit(circs, info, toks.tolist()).evaluate()
    assert got.shape == (5, 50) and got.dtype == torch.float64
    with torch.no_grad():
        expected = model.double()(toks[None]).logits[0]
    assert rel_err(got, expected) <= 1e-10


def test_hf_untied_unembedding_and_default_d_mlp():
    model = hf_model(tie_word_embeddings=False, n_inner=None)
    assert not torch.equal(model.lm_head.weight, model.transformer.wte.weight)
    circs, _, info = load_hf_gpt2(model)
    assert circs["t.bind_w"].get_unique("m0.w.proj_in_arr").shape == (128, 32)
    toks = tokens()
    with torch.no_grad():
        expected = model(toks).logits
    assert rel_err(logits_circuit(circs, info, toks).evaluate(), expected) <= 1e-10


def test_circuit_two_batch_axes():
    model = hf_model()
    circs, _, info = load_hf_gpt2(model)
    toks = tokens(batch=6, seq=5).reshape(2, 3, 5)
    got = logits_circuit(circs, info, toks).evaluate()
    assert got.shape == (2, 3, 5, 50)
    with torch.no_grad():
        expected = model(toks.reshape(6, 5)).logits.reshape(2, 3, 5, 50)
    assert rel_err(got, expected) <= 1e-10


def test_circuit_inp_mask_matches_hf_attention_mask():
    model = hf_model()
    circs, _, info = load_hf_gpt2(model)
    toks = tokens(batch=2, seq=6)
    mask = torch.ones(2, 6, dtype=torch.float64)
    mask[1, :2] = 0.0
    got = logits_circuit(circs, info, toks, inp_mask=mask).evaluate()
    with torch.no_grad():
        expected = model(toks, attention_mask=mask).logits
    # Query positions whose every key is masked are undefined in both; compare the others.
    assert rel_err(got[:, 2:], expected[:, 2:]) <= 1e-10
    assert rel_err(got[0], expected[0]) <= 1e-10
    for same in (mask.bool(), mask.tolist(), rc.Array(mask, "my_mask")):
        assert torch.equal(logits_circuit(circs, info, toks, inp_mask=same).evaluate(), got)


def test_circuits_from_weights_keeps_library_circuits_and_names():
    sd, config = hf_sd_and_config()
    weights, cfg = gpt2_weights_from_hf(sd, config)
    circs, _, info = circuits_from_weights(weights, cfg)
    for name, c in info.params.get().circs.items():
        assert circs[name] == c
    bound = circs["t.bind_w"]
    assert bound.name == "t.bind_w"
    assert {c.name for c in bound.children[1:]} == {k + "_arr" for k in weights} - {
        "t.w.tok_embeds_arr",
        "t.w.pos_embeds_arr",
    }
    assert torch.equal(bound.get_unique("a1.w.k_arr").value, weights["a1.w.k"])
    assert torch.equal(circs["t.w.pos_embeds"].value, weights["t.w.pos_embeds"])


def test_model_string_round_trip():
    model = hf_model()
    circs, _, info = load_hf_gpt2(model)
    text = info.dump_model_string(circs["t.w.tok_embeds"], circs["t.w.pos_embeds"], circs["t.bind_w"])
    assert text.startswith("# info:")
    again, _, info2 = ml.load_transformer_model_string(text)
    assert info2 == info
    assert again["t.bind_w"] == circs["t.bind_w"]
    toks = tokens(batch=1, seq=4)
    assert torch.equal(logits_circuit(again, info2, toks).evaluate(), logits_circuit(circs, info, toks).evaluate())


def test_circuits_from_weights_missing_weight():
    sd, config = hf_sd_and_config()
    weights, cfg = gpt2_weights_from_hf(sd, config)
    del weights["t.w.pos_embeds"]
    with pytest.raises(KeyError, match="circuits_from_weights: missing weight 't.w.pos_embeds'"):
        circuits_from_weights(weights, cfg)
    weights, cfg = gpt2_weights_from_hf(sd, config)
    del weights["m1.w.out_bias"]
    with pytest.raises(ValueError, match=r"bind_weights: missing weight 'm1.w.out_bias'"):
        circuits_from_weights(weights, cfg)


def test_circuits_from_weights_bad_dtype():
    sd, config = hf_sd_and_config()
    weights, cfg = gpt2_weights_from_hf(sd, config)
    with pytest.raises(ValueError, match="dtype must be a floating torch dtype or its name, found 'int32'"):
        circuits_from_weights(weights, cfg, dtype="int32")
    with pytest.raises(ValueError, match="found 'float128'"):
        circuits_from_weights(weights, cfg, dtype="float128")


@pytest.mark.parametrize(
    "toks,message",
    [
        ([[1.5, 2.0]], r"tokens must be integer ids \[\*batch, seq\], found torch.float32 of shape \(1, 2\)"),
        (3, r"tokens must be integer ids \[\*batch, seq\], found torch.int64 of shape \(\)"),
        ([[1, 50]], r"token id 50 is outside the vocabulary \[0, 50\)"),
        ([[-1, 2]], r"token id -1 is outside the vocabulary \[0, 50\)"),
        ([list(range(17))], r"tokens of shape \(1, 17\): the sequence axis must be at most n_ctx = 16 long"),
    ],
)
def test_logits_circuit_bad_tokens(toks, message):
    sd, config = hf_sd_and_config()
    circs, _, info = circuits_from_weights(*gpt2_weights_from_hf(sd, config))
    with pytest.raises(ValueError, match=message):
        logits_circuit(circs, info, toks)


def test_logits_circuit_token_circuit():
    sd, config = hf_sd_and_config()
    weights, cfg = gpt2_weights_from_hf(sd, config)
    circs, _, info = circuits_from_weights(weights, cfg)
    toks = tokens(batch=2, seq=5)
    got = logits_circuit(circs, info, rc.Array(toks, "my_toks")).evaluate()
    assert rel_err(got, reference_logits(weights, cfg, toks)) <= 1e-5
    with pytest.raises(ValueError, match="the sequence axis must be at most n_ctx = 16 long"):
        logits_circuit(circs, info, rc.Array(torch.zeros(1, 20, dtype=torch.int64), "long_toks"))


# ---------------------------------------------------------------- TransformerLens hook aliases


def _compare_hooks(got, cache, tol):
    for name, value in got.items():
        expected = cache[name]
        if name.endswith("hook_pos_embed"):
            value = value.expand_as(expected)
        assert value.shape == expected.shape, name
        if name.endswith("hook_attn_scores"):
            # Masked scores are -inf in TransformerLens and -10000 in rc, by design.
            finite = torch.isfinite(expected)
            assert (value[~finite] == -10000.0).all(), name
            value, expected = value[finite], expected[finite]
        assert rel_err(value, expected) <= tol, name


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-10), (torch.float32, 1e-4)])
def test_every_tl_hook_matches_run_with_cache(dtype, tol):
    model = tl_model(dtype, use_attn_result=True)
    circs, _, info = load_transformer_lens(model)
    toks = tokens(batch=2, seq=7)
    with torch.no_grad():
        _, cache = model.run_with_cache(toks)
    names = tl_hook_names(2, attn_result=True)
    assert set(names) == set(cache.keys())
    circ = logits_circuit(circs, info, toks, substitute=True)
    got = run_with_tl_cache(circ, names)
    assert list(got) == names
    _compare_hooks(got, cache, tol)


def test_tl_hooks_of_a_bidirectional_processed_model():
    tl = pytest.importorskip("transformer_lens")
    processed = tl.HookedTransformer(tl_config(dtype=torch.float64, attention_dir="bidirectional")).eval()
    processed.load_and_process_state_dict(tl_model(attention_dir="bidirectional").state_dict(), fold_ln=True)
    circs, _, info = load_transformer_lens(processed)
    toks = tokens(batch=1, seq=5)
    with torch.no_grad():
        _, cache = processed.run_with_cache(toks)
    got = run_with_tl_cache(logits_circuit(circs, info, toks, substitute=True))
    assert set(got) == set(cache.keys())
    _compare_hooks(got, cache, 1e-10)


def test_tl_hook_names_and_nodes():
    names = tl_hook_names(1)
    assert names[:3] == ["hook_embed", "hook_pos_embed", "blocks.0.hook_resid_pre"]
    assert "blocks.0.attn.hook_result" not in names
    assert names[-4:] == ["ln_final.hook_scale", "ln_final.hook_normalized", "unembed.hook_in", "unembed.hook_out"]
    sd, config = hf_sd_and_config()
    circs, _, info = circuits_from_weights(*gpt2_weights_from_hf(sd, config))
    circ = logits_circuit(circs, info, tokens(batch=2, seq=4), substitute=True, name="logits")
    expected = {
        "hook_pos_embed": "t.w.pos_embeds_idxed",
        "blocks.0.hook_resid_pre": "t.inp_tok_pos",
        "blocks.1.hook_resid_pre": "b0.call",
        "blocks.1.hook_resid_post": "b1.call",
        "blocks.1.hook_resid_mid": "b.resid.a",
        "blocks.0.attn.hook_pattern": "a.attn_probs",
        "blocks.1.ln2.hook_scale": "ln.rsqrt",
        "blocks.0.mlp.hook_post": "m.act",
        "ln_final.hook_normalized": "ln.y",
        "unembed.hook_in": "final.call",
        "unembed.hook_out": "logits",
        "blocks.0.hook_attn_out": "b.a",
        "blocks.1.hook_mlp_out": "b.m",
        "blocks.1.attn.hook_result": "a.heads",
    }
    for hook, node in expected.items():
        assert circ.get_unique(tl_hook_matcher(hook)).name == node
    embed = circ.get_unique(tl_hook_matcher("hook_embed"))
    assert embed.children[0].name == "t.w.tok_embeds"
    # The two layers' nodes of one name are told apart; so are a layer's two layer norms.
    pair = [circ.get_unique(tl_hook_matcher(f"blocks.{i}.ln1.hook_normalized")) for i in range(2)]
    pair += [circ.get_unique(tl_hook_matcher(f"blocks.{i}.ln2.hook_normalized")) for i in range(2)]
    assert len(set(pair)) == 4


def test_tl_hook_matcher_updates_one_layer():
    """Patching a hook through its matcher changes what TransformerLens's hook changes."""
    model = tl_model()
    circs, _, info = load_transformer_lens(model)
    toks = tokens(batch=2, seq=6)
    circ = logits_circuit(circs, info, toks, substitute=True)

    def uniform(c):
        return rc.Array(torch.full(c.shape, 1.0 / 6, dtype=torch.float64), "uniform")

    patched = circ.update(tl_hook_matcher("blocks.1.attn.hook_pattern"), uniform)
    assert len(patched.get("uniform")) == 1
    with torch.no_grad():
        expected = model.run_with_hooks(
            toks,
            fwd_hooks=[("blocks.1.attn.hook_pattern", lambda pattern, hook: torch.full_like(pattern, 1.0 / 6))],
        )
    assert rel_err(patched.evaluate(), expected) <= 1e-10
    assert rel_err(circ.evaluate(), expected) > 1e-3


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"to": "ATTN_MLP"},
        {"to": "BLOCK", "use_clear_block_module": False},
        {"to": "ATTN_HEAD_MLP_NORM"},
        {"use_pull_up_bias": False},
    ],
)
def test_tl_hooks_after_configure_transformer(options):
    """rc's configure_transformer renames blocks, residual adds, norms and sublayer outputs by
    layer ('b1', 'b1.resid.a', 'a1.norm', 'b1.a.p_bias'); the aliases find them there too."""
    mr = pytest.importorskip("circuits.model_rewrites")
    model = tl_model(use_attn_result=True)
    circs, _, info = load_transformer_lens(model)
    toks = tokens(batch=2, seq=5)
    with torch.no_grad():
        _, cache = model.run_with_cache(toks)
    if "to" in options:
        options = {**options, "to": mr.PushDownTransformerTo[options["to"]]}
    configured = mr.configure_transformer(circs["t.bind_w"], **options)
    embeds = circs["t.w.tok_embeds"], circs["t.w.pos_embeds"]
    call = info.bind_to_input_tokens(configured, rc.Array(toks, "toks"), *embeds)
    got = run_with_tl_cache(rc.substitute_all_modules(call), tl_hook_names(2, attn_result=True))
    _compare_hooks(got, cache, 1e-10)


def test_tl_hook_to_tl_layout():
    v = torch.arange(2 * 3 * 4 * 5.0).reshape(2, 3, 4, 5)
    assert torch.equal(tl_hook_to_tl_layout("blocks.3.attn.hook_z", v), v.transpose(1, 2))
    assert torch.equal(tl_hook_to_tl_layout("blocks.0.attn.hook_pattern", v), v)
    scale = torch.tensor([[2.0, 4.0]])
    assert torch.equal(tl_hook_to_tl_layout("ln_final.hook_scale", scale), torch.tensor([[[0.5], [0.25]]]))
    assert torch.equal(tl_hook_to_tl_layout("hook_embed", v), v)


@pytest.mark.parametrize(
    "name", ["blocks.0.attn.hook_foo", "blocks.x.hook_resid_pre", "hook_tokens", "ln_final.hook_foo", 3]
)
def test_tl_hook_unknown_name(name):
    with pytest.raises(ValueError, match=r"unknown TransformerLens hook .*; supported: hook_embed, hook_pos_embed"):
        tl_hook_matcher(name)
    with pytest.raises(ValueError, match="unknown TransformerLens hook"):
        tl_hook_to_tl_layout(name, torch.zeros(1))


def test_tl_hook_missing_layer_and_unsubstituted_call():
    sd, config = hf_sd_and_config()
    circs, _, info = circuits_from_weights(*gpt2_weights_from_hf(sd, config))
    circ = logits_circuit(circs, info, tokens(batch=1, seq=3), substitute=True)
    with pytest.raises(RuntimeError, match="found no matches"):
        circ.get_unique(tl_hook_matcher("blocks.2.hook_resid_post"))
    with pytest.raises(ValueError, match="run_with_tl_cache: 't.call' still has Modules; hooks are nodes of a subst"):
        run_with_tl_cache(logits_circuit(circs, info, tokens(batch=1, seq=3)))


def test_tl_hooks_of_an_hf_model_match_its_hidden_states_and_attentions():
    model = hf_model()
    circs, _, info = load_hf_gpt2(model)
    toks = tokens(batch=2, seq=6)
    with torch.no_grad():
        out = model(toks, output_hidden_states=True, output_attentions=True)
    names = [f"blocks.{i}.hook_resid_pre" for i in range(2)] + ["unembed.hook_in"]
    names += [f"blocks.{i}.attn.hook_pattern" for i in range(2)]
    got = run_with_tl_cache(logits_circuit(circs, info, toks, substitute=True), names)
    # Hugging Face's last hidden state is after the final layer norm.
    for name, expected in zip(names, list(out.hidden_states) + list(out.attentions)):
        assert rel_err(got[name], expected) <= 1e-10, name


@pytest.mark.parametrize("key", sorted(loaders._TL_REFUSED))
def test_tl_every_refused_flag(key):
    sd, config = tl_sd_and_config()
    fine, why = loaders._TL_REFUSED[key]
    value = 4 if fine is None else (not fine)
    with pytest.raises(ValueError, match=rf"weights_from_transformer_lens: config '{key}' is {value!r}, unsupported: "):
        weights_from_transformer_lens(sd, {**config, key: value})
    # The fine value loads.
    weights_from_transformer_lens(sd, {**config, key: fine})
