"""A numpy forward pass of a pre-norm GPT-style transformer over weights keyed by rc's weight
names ('a0.w.q' [heads, d_head, d], 'm0.w.proj_in' [d_mlp, d], ...), written from the textbook
definitions: the independent reference the module library's circuits are checked against."""

import math

import numpy as np


def layer_norm(x, bias, scale, eps=1e-5):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * scale + bias


def softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def act(name, x):
    if name == "relu":
        return np.maximum(x, 0)
    if name == "gelu":
        erf = np.vectorize(math.erf)
        return 0.5 * x * (1 + erf(x / math.sqrt(2)))
    if name == "gelu_new":
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
    raise ValueError(name)


def attention(w, i, x, pos, mask, bias):
    """Attention of layer i on x [..., s, d]; pos (shortformer) is added to queries and keys."""
    qk_in = x if pos is None else x + pos
    q = np.einsum("...sd,hcd->...hsc", qk_in, w[f"a{i}.w.q"])
    k = np.einsum("...sd,hcd->...hsc", qk_in, w[f"a{i}.w.k"])
    v = np.einsum("...sd,hcd->...hsc", x, w[f"a{i}.w.v"])
    if bias:
        q = q + w[f"a{i}.w.q_bias"][:, None, :]
        k = k + w[f"a{i}.w.k_bias"][:, None, :]
        v = v + w[f"a{i}.w.v_bias"][:, None, :]
    scores = np.einsum("...hqc,...hkc->...hqk", q, k) / math.sqrt(q.shape[-1])
    mask = mask[..., None, :, :]  # the same mask for every head
    scores = scores * mask + (1 - mask) * -10_000.0
    z = np.einsum("...hqk,...hkc->...hqc", softmax(scores), v)
    out = np.einsum("...hsc,hdc->...sd", z, w[f"a{i}.w.o"])
    return out + w[f"a{i}.w.o_bias"] if bias else out


def mlp(w, i, x, act_name, out_bias):
    pre = x @ w[f"m{i}.w.proj_in"].T + w[f"m{i}.w.in_bias"]
    if act_name == "bilinear":
        half = pre.shape[-1] // 2
        post = pre[..., :half] * pre[..., half:]
    else:
        post = act(act_name, pre)
    out = post @ w[f"m{i}.w.proj_out"].T
    return out + w[f"m{i}.w.out_bias"] if out_bias else out


def norm(w, prefix, x, norm_type):
    if norm_type is None:
        return x
    if norm_type == "ln":
        return layer_norm(x, w[f"{prefix}.ln.w.bias"], w[f"{prefix}.ln.w.scale"])
    mean, var = w[f"{prefix}.bn.mean"], w[f"{prefix}.bn.var"]
    return (x - mean) / np.sqrt(var + 1e-5) * w[f"{prefix}.bn.w.scale"] + w[f"{prefix}.bn.w.bias"]


def forward(
    w,
    x,
    mask,
    *,
    n_layers,
    attn_bias,
    use_mlp,
    act_name,
    mlp_out_bias,
    output_bias,
    pos=None,
    norm_type="ln",
    parallel=False,
):
    """Logits of embedded input x [..., s, d] under mask [..., s, s] (1 where allowed)."""
    for i in range(n_layers):
        if parallel:
            normed = norm(w, f"p{i}", x, norm_type)
            x = x + attention(w, i, normed, pos, mask, attn_bias) + mlp(w, i, normed, act_name, mlp_out_bias)
            continue
        x = x + attention(w, i, norm(w, f"a{i}", x, norm_type), pos, mask, attn_bias)
        if use_mlp:
            x = x + mlp(w, i, norm(w, f"m{i}", x, norm_type), act_name, mlp_out_bias)
    if norm_type is not None:
        x = norm(w, "final", x, norm_type)
    logits = x @ w["t.w.unembed"].T
    return logits + w["t.w.unembed_bias"] if output_bias else logits
