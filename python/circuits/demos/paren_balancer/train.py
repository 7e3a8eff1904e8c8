"""Train the paren balancer: the small transformer of REMIX day 4, from scratch.

Architecture (REMIX's jun9_paren_balancer): learned token embeddings [5, 56]
plus learned position embeddings [512, 56]; three pre-norm blocks, each
    x += attention(layer_norm(x))    2 heads of size 28, q/k/v/o biases,
                                     full attention (no causal mask), PAD keys masked
    x += mlp(layer_norm(x))          56 -> 56, ReLU, 56 -> 56, both with biases
then a final layer norm and an unembedding to 2 logits with a bias. The
classification is read at position 0 (START): logit 1 is "balanced", logit 0
"unbalanced". Attention scores are scaled by 1/sqrt(28); a masked score is set
to -10000 before the softmax, as rc's attention module does.

The weights are a dict of float32 tensors named as in REMIX's circuit file
(without its `_arr` suffix); `forward` computes logits from such a dict, and
training optimises the same dict, so the trained dict is the model.

Recipe (RECIPE below): AdamW, weight decay 0.01 on the matrices and
embeddings (not on biases or layer-norm weights); learning rate 2e-3 after 100 steps of linear warm-up, cosine decay
to 0 at step 3000; batches of 128 drawn without replacement from 200,000
strings of `data.generate(seed=0)` (about two passes). The held-out set is
`data.heldout` of 20,000 strings drawn with seed 1, about 12,500 once repeats
and training strings are removed. Training reads only the logits at position
0, so each step runs the last block there alone. With this recipe and two
threads the held-out accuracy is 99.6% (98.6% on horizon_fail, the hardest
kind), in about 4 minutes of CPU time. Run with

    python -m circuits.demos.paren_balancer.train --out DIR

It prints a progress line every --log-every steps, then the held-out accuracy
overall and per kind, and saves DIR/weights.pt (torch.save of the dict) and the
circuit model DIR/paren_balancer.circ with its tensors (DIR/tensors), the form
the package ships in circuits/models/.
"""

import argparse
import math
import os
import time
from typing import Dict, Optional

import numpy as np
import torch
import torch.nn.functional as F

from . import data

D_MODEL = 56
N_HEADS = 2
D_HEAD = 28
D_MLP = 56
N_LAYERS = 3
N_POSITIONS = 512
N_CLASSES = 2
LN_EPS = 1e-5
MASKED_SCORE = -10000.0

RECIPE = dict(
    seed=0,
    steps=3000,
    batch=128,
    lr=2e-3,
    weight_decay=0.01,
    warmup=100,
    n_train=200_000,
    n_heldout=20_000,
    heldout_seed=1,
)


def weight_shapes() -> Dict[str, tuple]:
    """Every weight's name and shape, in the order of REMIX's circuit file."""
    shapes = {
        "t.w.tok_embeds": (data.VOCAB_SIZE, D_MODEL),
        "t.w.pos_embeds": (N_POSITIONS, D_MODEL),
    }
    for i in range(N_LAYERS):
        shapes[f"a{i}.ln.w.bias"] = (D_MODEL,)
        shapes[f"a{i}.ln.w.scale"] = (D_MODEL,)
        for w in "qkv":
            shapes[f"a{i}.w.{w}"] = (N_HEADS, D_HEAD, D_MODEL)
        shapes[f"a{i}.w.o"] = (N_HEADS, D_MODEL, D_HEAD)
        for w in "qkv":
            shapes[f"a{i}.w.{w}_bias"] = (N_HEADS, D_HEAD)
        shapes[f"a{i}.w.o_bias"] = (D_MODEL,)
        shapes[f"m{i}.ln.w.bias"] = (D_MODEL,)
        shapes[f"m{i}.ln.w.scale"] = (D_MODEL,)
        shapes[f"m{i}.w.proj_in"] = (D_MLP, D_MODEL)
        shapes[f"m{i}.w.in_bias"] = (D_MLP,)
        shapes[f"m{i}.w.proj_out"] = (D_MODEL, D_MLP)
        shapes[f"m{i}.w.out_bias"] = (D_MODEL,)
    shapes["final.ln.w.bias"] = (D_MODEL,)
    shapes["final.ln.w.scale"] = (D_MODEL,)
    shapes["t.w.unembed"] = (N_CLASSES, D_MODEL)
    shapes["t.w.unembed_bias"] = (N_CLASSES,)
    return shapes


def init_weights(seed: int) -> Dict[str, torch.Tensor]:
    """Layer-norm scales 1, biases 0, embeddings N(0, 0.1), matrices N(0, 1/fan_in)."""
    gen = torch.Generator().manual_seed(seed)
    weights = {}
    for name, shape in weight_shapes().items():
        if name.endswith(".ln.w.scale"):
            w = torch.ones(shape)
        elif name.endswith("bias"):
            w = torch.zeros(shape)
        elif name.endswith("embeds"):
            w = 0.1 * torch.randn(shape, generator=gen)
        else:
            w = torch.randn(shape, generator=gen) / math.sqrt(shape[-1])
        weights[name] = w
    return weights


def _layer_norm(weights, prefix: str, x: torch.Tensor) -> torch.Tensor:
    return F.layer_norm(
        x, (D_MODEL,), weights[f"{prefix}.ln.w.scale"], weights[f"{prefix}.ln.w.bias"], LN_EPS
    )


def _attention(weights, prefix: str, x: torch.Tensor, keep: torch.Tensor, n_queries: int) -> torch.Tensor:
    """Attention output [..., n_queries, d_model] at the first n_queries positions.

    x [..., seq, d_model]; keep [..., 1, 1, seq] is 1 for keys that may be attended to."""
    w = {
        name: weights[f"{prefix}.w.{name}"]
        for name in ("q", "k", "v", "o", "q_bias", "k_bias", "v_bias", "o_bias")
    }
    q = torch.einsum("...sd,hcd->...hsc", x[..., :n_queries, :], w["q"]) + w["q_bias"][:, None, :]
    kv = torch.einsum("...sd,hcd->...hsc", x, torch.cat([w["k"], w["v"]]))
    k, v = torch.split(kv, N_HEADS, dim=-3)
    k = k + w["k_bias"][:, None, :]
    v = v + w["v_bias"][:, None, :]
    scores = torch.einsum("...hqc,...hkc->...hqk", q, k) / math.sqrt(D_HEAD)
    scores = scores * keep + (1.0 - keep) * MASKED_SCORE
    mixed = torch.einsum("...hqk,...hkc->...hqc", scores.softmax(-1), v)
    return torch.einsum("...hqc,hdc->...qd", mixed, w["o"]) + w["o_bias"]


def _mlp(weights, prefix: str, x: torch.Tensor) -> torch.Tensor:
    hidden = torch.relu(x @ weights[f"{prefix}.w.proj_in"].T + weights[f"{prefix}.w.in_bias"])
    return hidden @ weights[f"{prefix}.w.proj_out"].T + weights[f"{prefix}.w.out_bias"]


def forward(weights: Dict[str, torch.Tensor], tokens, start_only: bool = False) -> torch.Tensor:
    """Logits [..., seq, 2] of int tokens [..., seq]; position 0 holds the classification.

    With start_only the last block and the unembedding run at position 0 alone,
    which gives the same logits there for less work; the result is [..., 1, 2]."""
    tokens = torch.as_tensor(tokens, dtype=torch.int64)
    seq = tokens.shape[-1]
    x = weights["t.w.tok_embeds"][tokens] + weights["t.w.pos_embeds"][:seq]
    keep = (tokens != data.PAD).to(x.dtype)[..., None, None, :]
    for i in range(N_LAYERS):
        n_queries = 1 if start_only and i == N_LAYERS - 1 else seq
        x = x[..., :n_queries, :] + _attention(
            weights, f"a{i}", _layer_norm(weights, f"a{i}", x), keep, n_queries
        )
        x = x + _mlp(weights, f"m{i}", _layer_norm(weights, f"m{i}", x))
    x = _layer_norm(weights, "final", x)
    return x @ weights["t.w.unembed"].T + weights["t.w.unembed_bias"]


def predict_balanced(weights: Dict[str, torch.Tensor], tokens, batch: int = 4096) -> torch.Tensor:
    """bool [n]: whether the model calls each row of tokens [n, seq] balanced."""
    out = []
    with torch.no_grad():
        for start in range(0, len(tokens), batch):
            chunk = tokens[start : start + batch]
            width = int((chunk != data.PAD).sum(-1).max())
            logits = forward(weights, chunk[:, :width], start_only=True)[:, 0]
            out.append(logits[:, 1] > logits[:, 0])
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.bool)


def accuracy_by_kind(predicted: torch.Tensor, kinds) -> Dict[str, float]:
    """Accuracy overall ("all") and for each kind present; a string is right when the
    model calls it balanced exactly when its kind is data.BALANCED."""
    kinds = np.asarray(kinds)
    right = predicted.numpy() == (kinds == data.BALANCED)
    out = {"all": float(right.mean())}
    for kind in data.KINDS:
        of_kind = kinds == kind
        if of_kind.any():
            out[kind] = float(right[of_kind].mean())
    return out


def _batches(n: int, batch: int, gen: torch.Generator):
    """Row indices of the batches of one pass over n rows in random order; rows left
    over after the last full batch sit this pass out."""
    order = torch.randperm(n, generator=gen)
    return [order[i : i + batch] for i in range(0, n - batch + 1, batch)][::-1]


def _lr_at(step: int, steps: int, lr: float, warmup: int) -> float:
    if step < warmup:
        return lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return lr * 0.5 * (1.0 + math.cos(math.pi * progress))


def train(
    steps: int = RECIPE["steps"],
    batch: int = RECIPE["batch"],
    lr: float = RECIPE["lr"],
    weight_decay: float = RECIPE["weight_decay"],
    warmup: int = RECIPE["warmup"],
    seed: int = RECIPE["seed"],
    n_train: int = RECIPE["n_train"],
    n_heldout: int = RECIPE["n_heldout"],
    heldout_seed: int = RECIPE["heldout_seed"],
    log_every: Optional[int] = 250,
):
    """Train from scratch; returns (weights, held-out accuracy by kind)."""
    if not 0 < batch <= n_train:
        raise ValueError(f"train: batch must be between 1 and n_train ({n_train}), got {batch}")
    train_strings, train_kinds = data.generate(n_train, seed)
    heldout_strings, heldout_kinds = data.heldout(n_heldout, heldout_seed, set(train_strings))
    by_length = sorted(range(len(heldout_strings)), key=lambda i: len(heldout_strings[i]))
    heldout_strings = [heldout_strings[i] for i in by_length]
    heldout_kinds = [heldout_kinds[i] for i in by_length]
    train_tokens = torch.from_numpy(data.tokenize(train_strings))
    train_labels = torch.tensor([k == data.BALANCED for k in train_kinds], dtype=torch.int64)
    train_lengths = torch.tensor([len(s) for s in train_strings])
    heldout_tokens = torch.from_numpy(data.tokenize(heldout_strings))

    weights = init_weights(seed)
    for w in weights.values():
        w.requires_grad_(True)
    decayed = [w for name, w in weights.items() if not name.endswith("bias") and ".ln." not in name]
    others = [w for name, w in weights.items() if name.endswith("bias") or ".ln." in name]
    opt = torch.optim.AdamW(
        [{"params": decayed, "weight_decay": weight_decay}, {"params": others, "weight_decay": 0.0}], lr=lr
    )
    gen = torch.Generator().manual_seed(seed)
    batches = []
    start = time.time()
    loss_sum, right_sum, seen = 0.0, 0, 0
    for step in range(steps):
        if not batches:
            batches = _batches(n_train, batch, gen)
        rows = batches.pop()
        for group in opt.param_groups:
            group["lr"] = _lr_at(step, steps, lr, warmup)
        logits = forward(weights, train_tokens[rows, : int(train_lengths[rows].max()) + 2], start_only=True)[
            :, 0
        ]
        labels = train_labels[rows]
        loss = F.cross_entropy(logits, labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss_sum += loss.item() * len(rows)
        right_sum += int((logits.argmax(-1) == labels).sum())
        seen += len(rows)
        if log_every and ((step + 1) % log_every == 0 or step + 1 == steps):
            acc = accuracy_by_kind(predict_balanced(weights, heldout_tokens), heldout_kinds)
            print(
                f"step {step + 1:5d}/{steps}  loss {loss_sum / seen:.4f}  train acc {right_sum / seen:.2%}"
                f"  held-out acc {acc['all']:.2%}  {time.time() - start:6.1f}s",
                flush=True,
            )
            loss_sum, right_sum, seen = 0.0, 0, 0
    weights = {name: w.detach().to(torch.float32).contiguous() for name, w in weights.items()}
    acc = accuracy_by_kind(predict_balanced(weights, heldout_tokens), heldout_kinds)
    return weights, acc


MODEL_ID = "paren_balancer"


def model_info():
    """The model's `# info:` header: rc's paren-balancer architecture."""
    from ... import module_library as ml

    block = ml.TransformerBlockParams(
        norm_type="ln", attn_bias=True, use_mlp=True, mlp_act_type="relu", mlp_output_bias=True
    )
    params = ml.TransformerParams(block, num_layers=N_LAYERS, use_norm_output=True, output_bias=True)
    return ml.TransformerInfo(params, model_class="ParenBalancer", pos_enc_type="gpt", causal_mask=False)


def save_circuit_model(weights: Dict[str, torch.Tensor], directory: str) -> str:
    """The trained weights as rc's model file `<directory>/paren_balancer.circ` with its tensor
    store, which `module_library.load_model_id("paren_balancer")` reads (the package ships
    one in circuits/models/)."""
    from ... import module_library as ml

    arrays = {k: v.detach().to(torch.float32).contiguous() for k, v in weights.items()}
    return ml.save_model(directory, MODEL_ID, model_info(), arrays)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="folder for weights.pt")
    parser.add_argument("--steps", type=int, default=RECIPE["steps"])
    parser.add_argument("--n-train", type=int, default=RECIPE["n_train"], help="training strings")
    parser.add_argument("--n-heldout", type=int, default=RECIPE["n_heldout"], help="held-out strings drawn")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--log-every", type=int, default=250)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    start = time.time()
    weights, acc = train(
        steps=args.steps, n_train=args.n_train, n_heldout=args.n_heldout, log_every=args.log_every
    )
    print(f"held-out accuracy {acc['all']:.2%} (trained in {time.time() - start:.1f}s)")
    for kind in data.KINDS:
        if kind in acc:
            print(f"  {kind:13s} {acc[kind]:.2%}")
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "weights.pt")
    torch.save(weights, path)
    print(f"saved {path}")
    print(f"saved {save_circuit_model(weights, args.out)}")


if __name__ == "__main__":
    main()
