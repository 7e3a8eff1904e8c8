"""Causal scrubbing with shared subterms, on the paren-balancer shape (3 layers, 2 heads,
d_model 56, 42 positions): a correspondence that resamples the direct path of every head
separately, on 4,000 reference strings.

Prints, as medians over --repeats runs:
  scrub      the scrubbed circuit evaluated by the engine (optimize_and_evaluate under
             --max-memory): time and measured peak of live tensors;
  (a) tree   the same experiment with no subterm shared, every path through the treeified model
             computed on its own: its floating-point work counted exactly (work per node times
             the number of paths reaching it) and its time estimated from the scrubbed run's
             time per operation, since running it would take hours;
  (b) torch  a plain PyTorch loop running the resampled forward passes: time and peak of
             torch's CPU allocations seen by the profiler.

    PYTHONPATH=python python bench/bench_scrub.py [--samples 4000] [--repeats 3]
        [--max-memory 100000000] [--start-only]
"""

import argparse
import math
import statistics
import time

import torch

import circuits as rc
from circuits.causal_scrubbing.dataset import Dataset
from circuits.causal_scrubbing.experiment import Experiment, ExperimentEvalSettings
from circuits.causal_scrubbing.hypothesis import (
    Correspondence,
    ExactSampler,
    InterpNode,
    UncondSampler,
    chain_excluding,
    corr_root_matcher,
)
from circuits.demos.paren_balancer import circuit as pc
from circuits.demos.paren_balancer import data, train

HEADS = [f"a{l}.h{h}" for l in range(train.N_LAYERS) for h in range(train.N_HEADS)]
MLPS = [f"m{l}" for l in range(train.N_LAYERS)]


def make_dataset(n: int, seed: int) -> Dataset:
    strings, _ = data.generate(n, seed)
    toks = torch.as_tensor(data.tokenize(strings))
    return Dataset(
        [
            rc.Array(pc.one_hot(toks), "tokens"),
            rc.Array(toks, "tokens_flat"),
            rc.Array(torch.tensor([data.is_balanced(s) for s in strings]).float(), "is_balanced"),
        ],
        input_names={"tokens"},
    )


def every_head_corr() -> Correspondence:
    """The root keeps the reference data; each head's direct path to the logits gets data of
    its own, drawn at random."""
    corr = Correspondence()
    root = InterpNode(ExactSampler(), "logits", other_inputs_sampler=ExactSampler())
    corr.add(root, corr_root_matcher)
    for head in HEADS:
        others = set(HEADS + MLPS) - {head}
        corr.add(
            root.make_descendant(UncondSampler(), head),
            chain_excluding(corr_root_matcher, head, others),
        )
    return corr


def tree_flops(c: rc.Circuit):
    """(floating-point work of c with every subterm shared, work with none shared, nodes,
    nodes of the tree): a node's own work counted once, or once per path from the root."""
    order, seen, stack = [], set(), [(c, False)]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        if node in seen:
            continue
        seen.add(node)
        stack.append((node, True))
        stack.extend((ch, False) for ch in node.children)
    paths = {c: 1}
    for node in reversed(order):
        for ch in node.children:
            paths[ch] = paths.get(ch, 0) + paths[node]
    shared = sum(n.self_flops() for n in order)
    tree = sum(n.self_flops() * paths[n] for n in order)
    return shared, tree, len(order), sum(paths.values())


def torch_heads(w, x, keep, layer, n_queries):
    """Per-head outputs [batch, heads, n_queries, d_model] of layer `layer` on residual x, for
    the first n_queries positions."""
    p = f"a{layer}"
    ln = torch.nn.functional.layer_norm(
        x, (train.D_MODEL,), w[f"{p}.ln.w.scale"], w[f"{p}.ln.w.bias"], train.LN_EPS
    )
    q = (
        torch.einsum("bsd,hcd->bhsc", ln[:, :n_queries], w[f"{p}.w.q"])
        + w[f"{p}.w.q_bias"][:, None]
    )
    k = torch.einsum("bsd,hcd->bhsc", ln, w[f"{p}.w.k"]) + w[f"{p}.w.k_bias"][:, None]
    v = torch.einsum("bsd,hcd->bhsc", ln, w[f"{p}.w.v"]) + w[f"{p}.w.v_bias"][:, None]
    scores = torch.einsum("bhqc,bhkc->bhqk", q, k) / math.sqrt(train.D_HEAD)
    scores = scores * keep + (1.0 - keep) * train.MASKED_SCORE
    mixed = torch.einsum("bhqk,bhkc->bhqc", scores.softmax(-1), v)
    return torch.einsum("bhqc,hdc->bhqd", mixed, w[f"{p}.w.o"])


def torch_mlp(w, x, layer):
    p = f"m{layer}"
    ln = torch.nn.functional.layer_norm(
        x, (train.D_MODEL,), w[f"{p}.ln.w.scale"], w[f"{p}.ln.w.bias"], train.LN_EPS
    )
    hidden = torch.relu(ln @ w[f"{p}.w.proj_in"].T + w[f"{p}.w.in_bias"])
    return hidden @ w[f"{p}.w.proj_out"].T + w[f"{p}.w.out_bias"]


def torch_forward(w, toks, start_only, stop_layer=None):
    """Residual stream pieces of a forward pass on int tokens [batch, seq]: embeddings, each
    layer's per-head outputs and MLP outputs, with start_only the last layer at position 0
    alone; stops after layer `stop_layer`'s heads."""
    seq = toks.shape[-1]
    x = w["t.w.tok_embeds"][toks] + w["t.w.pos_embeds"][:seq]
    keep = (toks != data.PAD).float()[:, None, None, :]
    pieces = {"embeds": x}
    for layer in range(train.N_LAYERS):
        n_queries = 1 if start_only and layer == train.N_LAYERS - 1 else seq
        heads = torch_heads(w, x, keep, layer, n_queries)
        pieces[f"a{layer}"] = heads
        if layer == stop_layer:
            return pieces
        x = x[:, :n_queries] + heads.sum(1) + w[f"a{layer}.w.o_bias"]
        m = torch_mlp(w, x, layer)
        pieces[f"m{layer}"] = m
        x = x + m
    pieces["final.input"] = x
    return pieces


def torch_scrubbed(w, ref_toks, head_toks, start_only=False):
    """The scrubbed logits by plain torch: the reference forward pass with each head's direct
    contribution replaced by that head run on its own resampled tokens."""
    ref = torch_forward(w, ref_toks, start_only)
    x = ref["final.input"]
    for head, toks in head_toks.items():
        layer, h = int(head[1]), int(head[4])
        own = torch_forward(w, toks, start_only, stop_layer=layer)[f"a{layer}"][:, h]
        x = x - ref[f"a{layer}"][:, h, :1] + own[:, :1]
    ln = torch.nn.functional.layer_norm(
        x, (train.D_MODEL,), w["final.ln.w.scale"], w["final.ln.w.bias"], train.LN_EPS
    )
    return (ln @ w["t.w.unembed"].T + w["t.w.unembed_bias"])[:, 0]


def torch_peak(fn):
    with torch.profiler.profile(
        activities=[torch.profiler.ProfilerActivity.CPU], profile_memory=True
    ) as prof:
        fn()
    live, peak = 0, 0
    events = sorted(
        (e for e in prof.events() if e.self_cpu_memory_usage != 0),
        key=lambda e: e.time_range.start,
    )
    for e in events:
        live += e.self_cpu_memory_usage
        peak = max(peak, live)
    return peak


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=4000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--max-memory", type=int, default=100_000_000)
    ap.add_argument(
        "--start-only",
        action="store_true",
        help="run the last layer at position 0 alone (both the circuit and the torch loop)",
    )
    args = ap.parse_args()
    w = pc.model_weights()
    model = pc.build(w, start_only=args.start_only)
    ds = make_dataset(2 * args.samples, seed=11)
    exp = Experiment(model, ds, every_head_corr(), random_seed=0)
    t0 = time.perf_counter()
    scrubbed = exp.scrub(args.samples)
    t_scrub = time.perf_counter() - t0
    sampled = ExperimentEvalSettings().get_sampler(scrubbed.group, 0).sample(scrubbed.circuit)
    settings = rc.OptimizationSettings(max_memory=args.max_memory)
    times, peaks, chunks = [], [], 0
    for _ in range(args.repeats):
        sched = rc.optimize_to_schedule(sampled, settings)
        t0 = time.perf_counter()
        out = sched.evaluate()
        times.append(time.perf_counter() - t0)
        peaks.append(sched.last_stats.measured_peak_bytes)
        chunks = sched.last_stats.n_chunks
    t_ours = statistics.median(times)

    ref_toks = scrubbed.ref_ds.tokens_flat.value
    nodes = exp.nodes
    head_toks = {h: scrubbed.sampled_inputs[nodes.get_by_name(h)].tokens_flat.value for h in HEADS}
    torch_times = []
    with torch.no_grad():
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            want = torch_scrubbed(w, ref_toks, head_toks, args.start_only)
            torch_times.append(time.perf_counter() - t0)
        torch_mem = torch_peak(lambda: torch_scrubbed(w, ref_toks, head_toks, args.start_only))
    t_torch = statistics.median(torch_times)
    err = (out - want).abs().max().item()

    shared, tree, n_nodes, n_tree = tree_flops(sampled)
    t_tree = t_ours * tree / shared
    mb = 1e6
    print(f"paren-balancer shape, {args.samples} samples, {len(HEADS)} heads resampled separately")
    print(f"scrub (sampling + building the circuit): {t_scrub:.2f} s")
    print(f"scrubbed circuit: {n_nodes} distinct nodes; {n_tree:.3g} nodes as a tree")
    scale = want.abs().max().item()
    print(f"largest difference from the torch loop: {err:.2e} (logits up to {scale:.2f})")
    print(f"{'':10} {'time (s)':>12} {'peak (MB)':>12} {'GFLOP':>10}")
    print(
        f"{'scrub':10} {t_ours:12.3f} {statistics.median(peaks) / mb:12.1f} {shared / 1e9:10.2f}"
        f"   (max_memory {args.max_memory / mb:.0f} MB, {chunks} chunks)"
    )
    print(f"{'(a) tree':10} {t_tree:12.0f} {'':>12} {tree / 1e9:10.0f}   (estimated, not run)")
    print(f"{'(b) torch':10} {t_torch:12.3f} {torch_mem / mb:12.1f}")
    print(f"speed-up: {t_tree / t_ours:.0f}x over (a), {t_torch / t_ours:.2f}x over (b)")


if __name__ == "__main__":
    main()
