"""A GPT-2-small-shaped transformer written directly as circuit nodes (no Modules),
and the same forward pass in PyTorch eager, over one set of random weights.

Used by bench_core.py; the test suite checks a tiny configuration against torch.
"""

from dataclasses import dataclass

import numpy as np

import circuits as rc


@dataclass
class Config:
    n_layers: int = 12
    d_model: int = 768
    n_heads: int = 12
    d_head: int = 64
    d_mlp: int = 3072
    vocab: int = 50257
    eps: float = 1e-5


def random_weights(cfg: Config, seed: int = 0):
    rng = np.random.default_rng(seed)

    def w(*shape, scale=0.02):
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    weights = {
        "embed": w(cfg.vocab, cfg.d_model),
        "ln_f.w": 1 + w(cfg.d_model),
        "ln_f.b": w(cfg.d_model),
    }
    for l in range(cfg.n_layers):
        p = f"b{l}."
        weights.update(
            {
                p + "ln1.w": 1 + w(cfg.d_model),
                p + "ln1.b": w(cfg.d_model),
                p + "ln2.w": 1 + w(cfg.d_model),
                p + "ln2.b": w(cfg.d_model),
                p + "W_Q": w(cfg.n_heads, cfg.d_head, cfg.d_model),
                p + "W_K": w(cfg.n_heads, cfg.d_head, cfg.d_model),
                p + "W_V": w(cfg.n_heads, cfg.d_head, cfg.d_model),
                p + "b_Q": w(cfg.n_heads, cfg.d_head),
                p + "b_K": w(cfg.n_heads, cfg.d_head),
                p + "b_V": w(cfg.n_heads, cfg.d_head),
                p + "W_O": w(cfg.d_model, cfg.n_heads, cfg.d_head),
                p + "b_O": w(cfg.d_model),
                p + "W_in": w(cfg.d_mlp, cfg.d_model),
                p + "b_in": w(cfg.d_mlp),
                p + "W_out": w(cfg.d_model, cfg.d_mlp),
                p + "b_out": w(cfg.d_model),
            }
        )
    return weights


def layer_norm(x: rc.Circuit, w: rc.Circuit, b: rc.Circuit, eps: float, name: str):
    centered = x.sub(x.mean(axis=-1).unsqueeze(-1), name=name + ".centered")
    var = rc.Einsum.from_einsum_string("bsd,bsd->bs", centered, centered)
    var = var.mul_scalar(1.0 / x.shape[-1]).add(rc.Scalar(eps))
    rstd = rc.rsqrt(var, name=name + ".rstd")
    scaled = rc.Einsum.from_einsum_string("bsd,bs,d->bsd", centered, rstd, w)
    return rc.Add(scaled, b, name=name)


def circuit(cfg: Config, weights, x_embedded: np.ndarray) -> rc.Circuit:
    """Logits (batch, seq, vocab) for already-embedded inputs (batch, seq, d_model)."""
    A = {k: rc.Array(v, k) for k, v in weights.items()}
    seq = x_embedded.shape[1]
    mask = np.triu(np.full((seq, seq), -1e4, dtype=np.float32), k=1)
    mask = rc.Array(mask, "causal_mask")
    resid = rc.Array(x_embedded, "embeds")
    for l in range(cfg.n_layers):
        p = f"b{l}."
        h = layer_norm(resid, A[p + "ln1.w"], A[p + "ln1.b"], cfg.eps, p + "ln1")
        q = rc.Add(rc.Einsum.from_einsum_string("bsd,hkd->bshk", h, A[p + "W_Q"]), A[p + "b_Q"])
        k = rc.Add(rc.Einsum.from_einsum_string("bsd,hkd->bshk", h, A[p + "W_K"]), A[p + "b_K"])
        v = rc.Add(rc.Einsum.from_einsum_string("bsd,hkd->bshk", h, A[p + "W_V"]), A[p + "b_V"])
        scores = rc.Einsum.from_einsum_string("bshk,bthk->bhst", q, k)
        scores = rc.Add(scores.mul_scalar(1.0 / np.sqrt(cfg.d_head)), mask)
        pattern = rc.softmax(scores, name=p + "pattern")
        z = rc.Einsum.from_einsum_string("bhst,bthk->bshk", pattern, v)
        attn = rc.Add(
            rc.Einsum.from_einsum_string("bshk,dhk->bsd", z, A[p + "W_O"]),
            A[p + "b_O"],
            name=p + "attn",
        )
        resid = rc.Add(resid, attn, name=p + "resid_mid")
        h = layer_norm(resid, A[p + "ln2.w"], A[p + "ln2.b"], cfg.eps, p + "ln2")
        pre = rc.Add(rc.Einsum.from_einsum_string("bsd,md->bsm", h, A[p + "W_in"]), A[p + "b_in"])
        mlp = rc.Add(
            rc.Einsum.from_einsum_string("bsm,dm->bsd", rc.gelu_new(pre), A[p + "W_out"]),
            A[p + "b_out"],
            name=p + "mlp",
        )
        resid = rc.Add(resid, mlp, name=f"b{l}")
    final = layer_norm(resid, A["ln_f.w"], A["ln_f.b"], cfg.eps, "ln_f")
    return rc.Einsum.from_einsum_string("bsd,vd->bsv", final, A["embed"], name="logits")


def torch_forward(cfg: Config, weights, x_embedded: np.ndarray):
    """The same forward pass in PyTorch eager (float32)."""
    import torch

    W = {k: torch.from_numpy(v) for k, v in weights.items()}
    return torch_forward_tensors(cfg, W, torch.from_numpy(x_embedded))


def torch_forward_tensors(cfg: Config, W, x):
    """torch_forward on torch tensors, on whatever device they are."""
    import torch
    import torch.nn.functional as F

    b, seq, d = x.shape
    mask = torch.triu(torch.full((seq, seq), -1e4, device=x.device), diagonal=1)
    hk = cfg.n_heads * cfg.d_head
    with torch.no_grad():
        for l in range(cfg.n_layers):
            p = f"b{l}."
            h = F.layer_norm(x, (d,), W[p + "ln1.w"], W[p + "ln1.b"], cfg.eps)
            qkv_w = torch.cat([W[p + n].reshape(hk, d) for n in ("W_Q", "W_K", "W_V")])
            qkv_b = torch.cat([W[p + n].reshape(hk) for n in ("b_Q", "b_K", "b_V")])
            q, k, v = F.linear(h, qkv_w, qkv_b).split(hk, dim=-1)
            q, k, v = (
                t.reshape(b, seq, cfg.n_heads, cfg.d_head).transpose(1, 2) for t in (q, k, v)
            )
            scores = q @ k.transpose(-1, -2) / np.sqrt(cfg.d_head) + mask
            z = torch.softmax(scores, dim=-1) @ v
            z = z.transpose(1, 2).reshape(b, seq, hk)
            x = x + F.linear(z, W[p + "W_O"].reshape(d, hk), W[p + "b_O"])
            h = F.layer_norm(x, (d,), W[p + "ln2.w"], W[p + "ln2.b"], cfg.eps)
            pre = F.linear(h, W[p + "W_in"], W[p + "b_in"])
            x = x + F.linear(F.gelu(pre, approximate="tanh"), W[p + "W_out"], W[p + "b_out"])
        final = F.layer_norm(x, (d,), W["ln_f.w"], W["ln_f.b"], cfg.eps)
        return final @ W["embed"].T
