"""Research workflows against TransformerLens: (a) caching every residual stream and every
head's output, (b) mean-ablating each head one at a time and measuring the next-token loss.

    python bench/bench_workflows.py            # GPT-2-small shape, batch 8, seq 128
    python bench/bench_workflows.py --quick    # a small model, for a check that it runs
    python bench/bench_workflows.py --flops    # the FLOPs of (b), shared plan against forwards

--quick runs every measurement in this process (one import of TransformerLens), so its peaks
are indicative only; the full run gives each measurement a fresh subprocess.

The model is a TransformerLens HookedTransformer with random weights (fixed seed), converted
with `circuits.loaders.load_transformer_lens`; both sides run in float32 on the CPU with the
same number of threads. Every measurement runs in a fresh subprocess, which builds the model
and inputs, then reports the median time of the workflow (bench/timing.py) and its peak
resident memory above the process's level once the model and inputs were built (VmHWM after
resetting it through /proc/self/clear_refs, minus VmRSS at that point).

(a) circuits: `run_with_cache` of 'blocks.0.hook_resid_pre', 'blocks.{l}.hook_resid_post'
    and 'blocks.{l}.attn.hook_result' (every head's output, [batch, head, pos, d_model]);
    TransformerLens (use_attn_result=True): `run_with_cache` with a names_filter for the
    same hooks, and without a filter. Then both again with 'blocks.{l}.attn.hook_z' for the
    heads (TransformerLens without use_attn_result, filtered), which leaves out
    TransformerLens's per-head output projection.
(b) circuits: `ablation_table` over `heads(n_layers, n_heads)` (each head of 'attn.hook_z'
    replaced by its batch mean) with `next_token_loss()`, every variant in one plan;
    TransformerLens: a loop of forwards with a hook on 'blocks.{l}.attn.hook_z' setting
    one head to its batch mean, return_type='loss'. Both include the unablated loss.
"""

import argparse
import gc
import json
import os
import subprocess
import sys
import time

FULL = dict(
    n_layers=12,
    d_model=768,
    n_heads=12,
    d_head=64,
    d_mlp=3072,
    d_vocab=50257,
    n_ctx=1024,
    batch=8,
    seq=128,
)
QUICK = dict(
    n_layers=2,
    d_model=64,
    n_heads=4,
    d_head=16,
    d_mlp=256,
    d_vocab=1000,
    n_ctx=64,
    batch=4,
    seq=32,
)
WORKERS = (
    "a-circuits",
    "a-tl-filtered",
    "a-tl-all",
    "a-circuits-z",
    "a-tl-z",
    "b-circuits",
    "b-tl",
)

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("--quick", action="store_true", help="a small model (a check that it runs)")
parser.add_argument("--threads", type=int, default=2)
parser.add_argument(
    "--reps-a", type=int, default=None, help="timed runs of (a) (default 5; 2 quick)"
)
parser.add_argument("--reps-b", type=int, default=1, help="timed runs of (b)")
parser.add_argument("--only", choices=("a", "b"), default=None, help="run one part only")
parser.add_argument(
    "--flops",
    action="store_true",
    help="print the FLOPs of (b): the variants in one plan against separate forwards, by node",
)
parser.add_argument("--batch", type=int, default=None, help="batch size (default 8; 4 quick)")
parser.add_argument("--seq", type=int, default=None, help="sequence length (default 128; 32 quick)")
parser.add_argument("--worker", choices=WORKERS, default=None, help=argparse.SUPPRESS)
args = parser.parse_args()

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(args.threads)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

SIZES = dict(QUICK if args.quick else FULL)
for key in ("batch", "seq"):
    if getattr(args, key) is not None:
        SIZES[key] = getattr(args, key)
REPS_A = args.reps_a if args.reps_a is not None else (2 if args.quick else 5)


def _status(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def _reset_peak():
    """Starts a new resident-memory high-water mark; returns the resident bytes now."""
    gc.collect()
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    return _status("VmRSS")


def _build(use_attn_result):
    import torch
    import transformer_lens as tl

    torch.set_num_threads(args.threads)
    s = SIZES
    cfg = tl.HookedTransformerConfig(
        n_layers=s["n_layers"],
        d_model=s["d_model"],
        n_heads=s["n_heads"],
        d_head=s["d_head"],
        d_mlp=s["d_mlp"],
        d_vocab=s["d_vocab"],
        n_ctx=s["n_ctx"],
        act_fn="gelu_new",
        normalization_type="LN",
        device="cpu",
        seed=0,
        dtype=torch.float32,
        use_attn_result=use_attn_result,
    )
    model = tl.HookedTransformer(cfg).eval()
    g = torch.Generator().manual_seed(1)
    tokens = torch.randint(0, s["d_vocab"], (s["batch"], s["seq"]), generator=g)
    return model, tokens


def _circuit(model, tokens):
    from circuits import loaders

    circs, _, info = loaders.load_transformer_lens(model)
    return loaders.logits_circuit(circs, info, tokens)


def _cache_names(z=False):
    """The residual stream at every layer and every head's output ('attn.hook_result'), or
    with z every head's value-weighted sum before the output projection ('attn.hook_z')."""
    from circuits.experiments import head_output_names, resid_stream_names

    n = SIZES["n_layers"]
    if z:
        return resid_stream_names(n) + [f"blocks.{layer}.attn.hook_z" for layer in range(n)]
    return resid_stream_names(n) + head_output_names(n)


def _worker_fn(name):
    """(function to measure, what it returns as a summary) for one worker."""
    import torch

    n_layers, n_heads = SIZES["n_layers"], SIZES["n_heads"]
    if name.startswith("a-"):
        z = name.endswith("-z")
        model, tokens = _build(use_attn_result=not z)
        names = _cache_names(z)
        if name.startswith("a-circuits"):
            import circuits as rc

            circ = _circuit(model, tokens)
            del model
            return lambda: rc.run_with_cache(circ, names), lambda out: sorted(out)
        filt = None if name == "a-tl-all" else set(names)

        def tl_cache():
            with torch.no_grad():
                _, cache = model.run_with_cache(tokens, names_filter=filt and (lambda n: n in filt))
            return cache

        return tl_cache, lambda out: len(out)

    model, tokens = _build(use_attn_result=False)
    if name == "b-circuits":
        from circuits.experiments import ablation_table, heads, next_token_loss

        circ = _circuit(model, tokens)
        del model

        def run():
            return ablation_table(
                circ, heads(n_layers, n_heads), "mean", next_token_loss(), as_dataframe=False
            )

        def summary(rows):
            return {
                "base": rows[0]["metric"] - rows[0]["delta"],
                "losses": [r["metric"] for r in rows],
            }

        return run, summary

    def tl_loop():
        losses = []
        with torch.no_grad():
            base = model(tokens, return_type="loss").item()
            for layer in range(n_layers):
                for head in range(n_heads):

                    def hook(z, hook, head=head):
                        z[:, :, head] = z[:, :, head].mean(0, keepdim=True)
                        return z

                    hooks = [(f"blocks.{layer}.attn.hook_z", hook)]
                    loss = model.run_with_hooks(tokens, return_type="loss", fwd_hooks=hooks)
                    losses.append(loss.item())
        return {"base": base, "losses": losses}

    return tl_loop, lambda out: out


def measure(name):
    """{'peak_bytes', 'first_s', 'median_s', 'summary'} of one workflow."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from timing import median_times

    fn, summary = _worker_fn(name)
    base = _reset_peak()
    t0 = time.perf_counter()
    out = fn()
    first = time.perf_counter() - t0
    peak = _status("VmHWM") - base
    result = {"peak_bytes": peak, "first_s": first, "summary": summary(out)}
    del out
    reps = REPS_A if name.startswith("a-") else args.reps_b
    if reps > 1 or name.startswith("a-"):
        result["median_s"] = median_times([fn], reps)[0]
    else:
        result["median_s"] = first
    return result


def run_worker(name):
    if args.quick:
        return measure(name)
    cmd = [
        sys.executable,
        os.path.abspath(__file__),
        "--worker",
        name,
        "--threads",
        str(args.threads),
    ]
    cmd += [
        "--reps-b",
        str(args.reps_b),
        "--batch",
        str(SIZES["batch"]),
        "--seq",
        str(SIZES["seq"]),
    ]
    if args.reps_a is not None:
        cmd += ["--reps-a", str(args.reps_a)]
    if args.quick:
        cmd.append("--quick")
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"worker {name} failed with exit status {done.returncode}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def flops_of_b():
    """The floating-point operations (b) needs: every distinct node of the variants' metrics
    counted once (one plan) against one full forward per variant, and the node names that
    take most of the shared plan."""
    from collections import Counter

    import circuits as rc
    from circuits.experiments import heads, next_token_loss
    from circuits.experiments.ablation import _ablate_prepared, _metric_circuit, _prepare

    model, tokens = _build(use_attn_result=False)
    circ = _prepare(_circuit(model, tokens), None, 0, "flops")
    del model
    metric = next_token_loss()
    clean = _metric_circuit(metric, circ, "flops")
    parts = heads(SIZES["n_layers"], SIZES["n_heads"])
    variants = [
        _metric_circuit(metric, _ablate_prepared(circ, p, "mean", None, 0, "flops"), "flops")
        for p in parts
    ]

    def distinct(roots):
        found = {}
        for root in roots:
            for node in root.get(rc.Matcher(True)):
                found[node.hash] = node
        return found.values()

    one = sum(n.self_flops() for n in distinct([clean]))
    nodes = list(distinct([clean] + variants))
    shared = sum(n.self_flops() for n in nodes)
    separate = one * (len(variants) + 1)
    print(
        f"\n(b) FLOPs: one forward and loss {one / 1e9:.1f} G; {len(variants)} variants and the "
        f"unablated one in one plan {shared / 1e9:.1f} G; as separate forwards "
        f"{separate / 1e9:.1f} G ({separate / shared:.2f}x the plan's)"
    )
    by_name = Counter()
    for n in nodes:
        by_name[n.name] += n.self_flops()
    for name, f in by_name.most_common(6):
        print(f"  {name:24s} {f / 1e9:10.1f} G  {f / shared:6.1%} of the plan")


def mib(n):
    return f"{n / 2**20:8.1f} MiB"


def share(ours, theirs):
    """ours / theirs as '0.25x', or 'n/a' when theirs is 0 (a peak below the page size)."""
    return f"{ours / theirs:.2f}x" if theirs > 0 else "n/a"


def main():
    if args.worker is not None:
        print(json.dumps(measure(args.worker)))
        return
    sys.stdout.reconfigure(line_buffering=True)
    s = SIZES
    print(
        f"model: {s['n_layers']} layers, d_model {s['d_model']}, {s['n_heads']} heads of "
        f"{s['d_head']}, d_mlp {s['d_mlp']}, vocab {s['d_vocab']}; batch {s['batch']}, seq "
        f"{s['seq']}, float32, {args.threads} threads"
    )
    where = "this process, indicative only" if args.quick else "fresh subprocess each"
    print(
        "peak = resident-memory high-water mark above the process's level after the model "
        f"and inputs were built ({where})"
    )
    if args.flops:
        flops_of_b()
        return
    if args.only in (None, "a"):
        n_names = len(_cache_names())
        print(
            f"\n(a) cache every residual stream and every head's output ({n_names} hooks), "
            f"median of {REPS_A}"
        )
        ours = None
        for name, label in (
            ("a-circuits", "circuits run_with_cache"),
            ("a-tl-filtered", "TL run_with_cache, names_filter"),
            ("a-tl-all", "TL run_with_cache, no filter"),
        ):
            r = run_worker(name)
            ours = ours or r
            ratio = (
                ""
                if r is ours
                else (
                    f"   circuits: {share(r['median_s'], ours['median_s'])} faster, "
                    f"{share(ours['peak_bytes'], r['peak_bytes'])} the peak"
                )
            )
            print(f"  {label:34s} {r['median_s']:8.3f} s  peak {mib(r['peak_bytes'])}{ratio}")
        print(
            "  the same with 'attn.hook_z' for the heads (TransformerLens without use_attn_result)"
        )
        ours = run_worker("a-circuits-z")
        print(
            f"  {'circuits run_with_cache':34s} {ours['median_s']:8.3f} s  peak {mib(ours['peak_bytes'])}"
        )
        r = run_worker("a-tl-z")
        print(
            f"  {'TL run_with_cache, names_filter':34s} {r['median_s']:8.3f} s  peak "
            f"{mib(r['peak_bytes'])}   circuits: {share(r['median_s'], ours['median_s'])} faster, "
            f"{share(ours['peak_bytes'], r['peak_bytes'])} the peak"
        )
    if args.only in (None, "b"):
        n = s["n_layers"] * s["n_heads"]
        print(
            f"\n(b) mean-ablate each of the {n} heads, mean next-token loss (median of "
            f"{args.reps_b}; both include the unablated loss)"
        )
        ours = run_worker("b-circuits")
        print(
            f"  circuits ablation_table (one plan)  {ours['median_s']:8.2f} s  peak "
            f"{mib(ours['peak_bytes'])}"
        )
        tl = run_worker("b-tl")
        print(
            f"  TL hook loop ({n + 1} forwards)      {tl['median_s']:8.2f} s  peak "
            f"{mib(tl['peak_bytes'])}   circuits: {share(tl['median_s'], ours['median_s'])} faster"
        )
        diff = max(abs(x - y) for x, y in zip(ours["summary"]["losses"], tl["summary"]["losses"]))
        print(
            f"  losses agree to {diff:.2e} (unablated: circuits {ours['summary']['base']:.5f}, "
            f"TL {tl['summary']['base']:.5f})"
        )


if __name__ == "__main__":
    main()
