"""Parity of the loaders: a small random Hugging Face GPT-2 and TransformerLens model (2 layers,
d_model 32, 4 heads, d_mlp 64, vocabulary 50, 16 positions) loaded as circuits. Prints the
largest relative error of the logits (max |circuit - model| / max |model|) in float64 and
float32, and for TransformerLens the largest relative error over every hook of run_with_cache
(attention scores compared where unmasked).

    PYTHONPATH=python python bench/parity_loaders.py     (needs the 'models' extra)
"""

import warnings

import torch

from circuits import loaders

warnings.filterwarnings("ignore", category=DeprecationWarning)

SMALL = dict(n_layers=2, d_model=32, n_heads=4, d_head=8, d_mlp=64, vocab=50, n_ctx=16)


def randomise(model, is_bias):
    """Random biases and norm weights, so none stays at its trivial initial value."""
    torch.manual_seed(1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if is_bias(name):
                p.normal_(0.0, 0.5)


def rel(a, b):
    return float((a - b).abs().max() / b.abs().max())


def hf(dtype):
    import transformers

    cfg = transformers.GPT2Config(
        n_layer=SMALL["n_layers"], n_embd=SMALL["d_model"], n_head=SMALL["n_heads"], n_inner=SMALL["d_mlp"],
        vocab_size=SMALL["vocab"], n_positions=SMALL["n_ctx"], bos_token_id=0, eos_token_id=0,
    )  # fmt: skip
    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(cfg).to(dtype).eval()
    randomise(model, lambda n: n.endswith("bias") or ".ln_" in n)
    toks = torch.randint(0, SMALL["vocab"], (2, SMALL["n_ctx"]), generator=torch.Generator().manual_seed(0))
    circs, _, info = loaders.load_hf_gpt2(model, dtype=dtype)
    got = loaders.logits_circuit(circs, info, toks).evaluate()
    with torch.no_grad():
        return rel(got, model(toks).logits)


def tl(dtype):
    import transformer_lens

    cfg = transformer_lens.HookedTransformerConfig(
        n_layers=SMALL["n_layers"], d_model=SMALL["d_model"], n_heads=SMALL["n_heads"], d_head=SMALL["d_head"],
        d_mlp=SMALL["d_mlp"], d_vocab=SMALL["vocab"], n_ctx=SMALL["n_ctx"], act_fn="gelu_new",
        normalization_type="LN", device="cpu", seed=0, dtype=dtype,
    )  # fmt: skip
    model = transformer_lens.HookedTransformer(cfg).eval()
    randomise(model, lambda n: ".b_" in n or ".ln" in n or "ln_final" in n)
    toks = torch.randint(0, SMALL["vocab"], (2, SMALL["n_ctx"]), generator=torch.Generator().manual_seed(0))
    circs, _, info = loaders.load_transformer_lens(model, dtype=dtype)
    call = loaders.logits_circuit(circs, info, toks, substitute=True)
    with torch.no_grad():
        logits, cache = model.run_with_cache(toks)
    ours = loaders.run_with_tl_cache(call)
    worst, worst_name = 0.0, None
    for name, value in ours.items():
        if name not in cache.cache_dict:
            continue
        ref = cache.cache_dict[name]
        value = value.expand_as(ref) if value.shape != ref.shape else value
        if name.endswith("hook_attn_scores"):
            keep = torch.isfinite(ref)
            value, ref = value[keep], ref[keep]
        err = rel(value, ref)
        if err > worst:
            worst, worst_name = err, name
    return rel(call.evaluate(), logits), worst, worst_name, len(ours)


def main():
    print(f"model: {SMALL}")
    for dtype in (torch.float64, torch.float32):
        print(f"Hugging Face GPT-2 {str(dtype)[6:]}: logits relative error {hf(dtype):.2e}")
    for dtype in (torch.float64, torch.float32):
        logits, worst, name, n = tl(dtype)
        print(
            f"TransformerLens {str(dtype)[6:]}: logits relative error {logits:.2e}; "
            f"{n} hooks, largest relative error {worst:.2e} ({name})"
        )


if __name__ == "__main__":
    main()
