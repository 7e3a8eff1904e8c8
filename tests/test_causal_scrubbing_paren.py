"""Causal scrubbing on the paren-balancer circuit: the circuit against train.forward, a scrubbed
experiment resampling every head against a plain torch loop over the same sampled data (with
every branch of the same data shared), REMIX's circuit rewrites, and the demo's numbers under a
fixed seed."""

import importlib.util
import math
import os

import pytest

torch = pytest.importorskip("torch")


import circuits as rc  # noqa: E402
from circuits.causal_scrubbing.experiment import Experiment, ExperimentEvalSettings  # noqa: E402
from circuits.demos.paren_balancer import circuit as pc  # noqa: E402
from circuits.demos.paren_balancer import data, scrub, train  # noqa: E402

BENCH = os.path.join(os.path.dirname(__file__), "..", "bench", "bench_scrub.py")


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_scrub", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def weights():
    return train.init_weights(3)


def test_circuit_matches_train_forward(weights):
    strings, _ = data.generate(6, 2)
    toks = torch.as_tensor(data.tokenize(strings))
    want = train.forward(weights, toks)[:, 0]
    for start_only in (True, False):
        c = pc.build(weights, start_only=start_only)
        got = torch.stack(
            [
                c.update("tokens", lambda a, t=t: rc.Array(pc.one_hot(t), "tokens")).evaluate()
                for t in toks
            ]
        )
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("start_only", [True, False])
def test_every_head_resampled_matches_torch_loop(bench, weights, start_only):
    model = pc.build(weights, start_only=start_only)
    ds = bench.make_dataset(120, seed=4)
    exp = Experiment(model, ds, bench.every_head_corr(), random_seed=9)
    sc = exp.scrub(40)
    out = sc.evaluate()
    head_toks = {
        h: sc.sampled_inputs[exp.nodes.get_by_name(h)].tokens_flat.value for h in bench.HEADS
    }
    with torch.no_grad():
        want = bench.torch_scrubbed(weights, sc.ref_ds.tokens_flat.value, head_toks, start_only)
    torch.testing.assert_close(out, want, rtol=1e-4, atol=1e-5)
    # one DiscreteVar per distinct dataset: the reference and one per head
    assert len(set(sc.circuit.get(rc.DiscreteVar))) == 1 + len(bench.HEADS)
    shared, tree, n_nodes, n_tree = bench.tree_flops(sc.circuit)
    assert n_tree > 1000 * n_nodes and tree > 100 * shared


def test_remix_rewrites(weights):
    model = pc.build(weights)
    c = scrub.circuit_ex2(model)
    from circuits.causal_scrubbing.hypothesis import chain_excluding

    for l in (1, 2):
        head = rc.IterativeMatcher(f"a{l}.h0")
        assert head.chain(f"a{l}.input_concat").are_any_found(c)
        assert not chain_excluding(head, f"a{l}.input", f"a{l}.input_concat").are_any_found(c)
    assert rc.IterativeMatcher("a2.h1").chain("a2.input").are_any_found(c)
    assert not rc.IterativeMatcher("a2.h1").chain("a2.input_concat").are_any_found(c)
    assert len(c.get(scrub.m_10_p1.chain("a0.h0.at_pos1"))) == 1
    assert scrub.m_20_p1.get_unique(c).shape == (1, train.D_MODEL)
    strings, _ = data.generate(3, 5)
    t = pc.one_hot(torch.as_tensor(data.tokenize(strings))[0])
    fill = rc.IterativeMatcher("tokens")
    torch.testing.assert_close(
        fill.update(c, lambda a: rc.Array(t, "tokens")).evaluate(),
        fill.update(model, lambda a: rc.Array(t, "tokens")).evaluate(),
    )


def test_dataset_features():
    ds = scrub.ParenDataset.generate(200, seed=3)
    strings = data.decode(ds.tokens_flat.value)
    assert ds.count_test.tolist() == [s.count("(") == s.count(")") for s in strings]
    horizon = [
        all(p[: i + 1].count(")") <= p[: i + 1].count("(") for i in range(len(p))) for p in strings
    ]
    balanced = [h and c for h, c in zip(horizon, ds.count_test.tolist())]
    assert ds.is_balanced.value.bool().tolist() == balanced
    reversed_ok = [
        all(s[i:].count("(") <= s[i:].count(")") for i in range(len(s))) for s in strings
    ]
    assert ds.horizon_test.bool().tolist() == reversed_ok
    p1 = ds.p1_if_starts_open
    for s, v in zip(strings, p1.tolist()):
        if s.startswith("("):
            assert math.isclose(v, s.count("(") / len(s), rel_tol=1e-6)
        else:
            assert v == -1.0
    assert str(ds[0]).startswith("ParenDS(str:")


def test_demo_numbers_are_stable(weights):
    a = scrub.results(n=30, n_data=150, seed=2, weights=weights)
    b = scrub.results(n=30, n_data=150, seed=2, weights=weights)
    assert [r[0] for r in a] == [
        "0  full model",
        "0  random logits",
        "1a count (1.0, 2.0), horizon (2.1)",
        "1b count and starts open (1.0, 2.0)",
        "2  open proportion via 0.0 at position 1",
    ]
    assert a == b
    assert a[0][3] == 1.0 and a[1][3] == 0.0
    full = scrub.run(
        pc.build(weights),
        scrub.ParenDataset.generate(150, 2),
        scrub.corr_model(scrub.ExactSampler()),
        30,
        2,
    )
    assert full == (a[0][1], a[0][2])


def test_scrubbed_transformer_under_memory_bound(bench, weights):
    model = pc.build(weights, start_only=False)
    exp = Experiment(model, bench.make_dataset(160, seed=4), bench.every_head_corr())
    sc = exp.scrub(80)
    sampled = ExperimentEvalSettings().get_sampler(sc.group, sc.seed).sample(sc.circuit)
    free = rc.optimize_to_schedule(sampled, rc.OptimizationSettings())
    want = free.evaluate()
    bound = free.last_stats.measured_peak_bytes // 2
    sched = rc.optimize_to_schedule(sampled, rc.OptimizationSettings(max_memory=bound))
    got = sched.evaluate()
    torch.testing.assert_close(got, want)
    assert sched.last_stats.n_chunks > 1
    assert sched.last_stats.measured_peak_bytes <= 1.1 * bound
    assert torch.equal(sc.evaluate(ExperimentEvalSettings(optim_settings=sched.settings)), got)
