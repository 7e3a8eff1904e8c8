"""optimize_and_evaluate and its memory bound: OptimizationSettings, Schedule, values equal to
plain evaluation (hypothesis), chunked evaluation under a small max_memory (same values, a
measured peak within the bound), and the errors when no split fits."""

import gc
import io
import os
import sys
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import circuits as rc

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
import gpt2_circuit  # noqa: E402


def arr(rng, *shape, name=None):
    return rc.Array(rng.standard_normal(shape), name)


def close(actual, expected):
    np.testing.assert_allclose(np.asarray(actual), np.asarray(expected), rtol=1e-10, atol=1e-10)


def mlp(rng, batch=64, d=16, hidden=64):
    """x -> relu(x W1) W2 + x: intermediates of batch * hidden floats."""
    x = arr(rng, batch, d, name="x")
    w1 = arr(rng, d, hidden, name="w1")
    w2 = arr(rng, hidden, d, name="w2")
    h = rc.Einsum.from_einsum_string("bi,ih->bh", x, w1, name="h")
    out = rc.Einsum.from_einsum_string("bh,hi->bi", rc.relu(h), w2, name="out")
    return rc.Add(out, x, name="resid")


def run(circuits, max_memory=None, max_single=None):
    return rc._circuits._evaluate_bounded(
        circuits, max_memory=max_memory, max_single_tensor_memory=max_single
    )


# --- OptimizationSettings ------------------------------------------------------------------------


def test_settings_defaults_are_rcs():
    s = rc.OptimizationSettings()
    assert s.verbose == 0
    assert s.max_memory == 9_000_000_000
    assert s.max_single_tensor_memory == 9_000_000_000
    assert s.max_memory_fallback is None
    assert s.scheduling_num_mem_chunks == 200
    assert s.distribute_min_size is None
    assert s.scheduling_naive is False
    assert s.scheduling_timeout == 5_000
    assert s.scheduling_simplify is True
    assert s.adjust_numerical_scale is False
    assert s.numerical_scale_min == 1e-8
    assert s.numerical_scale_max == 1e8
    assert s.capture_and_print is False
    assert s.create_tests is False
    assert s.log_simplifications is False
    assert s.log_slow_einsums is False
    assert s.save_circ is False
    assert s.optimization_parallelism == 8
    assert s.keep_all_names is False
    assert s.push_down_index is True
    assert s.deep_maybe_distribute is True
    assert s.simp_fn_subset is None
    assert repr(s) == "OptimizationSettings()"


def test_settings_store_every_field_and_compare():
    s = rc.OptimizationSettings(
        verbose=2,
        max_memory=20_000_000_000,
        scheduling_naive=True,
        scheduling_simplify=False,
        max_memory_fallback=3,
        numerical_scale_min=1,
    )
    assert (s.verbose, s.max_memory, s.scheduling_naive, s.scheduling_simplify) == (
        2,
        20_000_000_000,
        True,
        False,
    )
    assert s.max_memory_fallback == 3
    assert isinstance(s.numerical_scale_min, float)
    assert "max_memory=20000000000" in repr(s) and "verbose=2" in repr(s)
    assert s == rc.OptimizationSettings(
        verbose=2,
        max_memory=20_000_000_000,
        scheduling_naive=True,
        scheduling_simplify=False,
        max_memory_fallback=3,
        numerical_scale_min=1.0,
    )
    assert s != rc.OptimizationSettings()
    s.max_memory = 5
    assert s.max_memory == 5
    with pytest.raises(AttributeError):
        s.no_such_setting = 1


def test_settings_errors():
    with pytest.raises(
        TypeError, match=r"OptimizationSettings\.max_memory must be an int, not str"
    ):
        rc.OptimizationSettings(max_memory="lots")
    with pytest.raises(
        ValueError, match=r"OptimizationSettings\.max_single_tensor_memory must be a positive "
    ):
        rc.OptimizationSettings(max_single_tensor_memory=0)
    with pytest.raises(TypeError, match=r"OptimizationSettings\.verbose must be an int"):
        rc.OptimizationSettings(verbose=1.5)
    s = rc.OptimizationSettings()
    with pytest.raises(ValueError, match=r"max_memory must be a positive number of bytes, not -1"):
        s.max_memory = -1


# --- plain values ---------------------------------------------------------------------------------


def test_optimize_and_evaluate_matches_evaluate(rng):
    c = mlp(rng)
    close(rc.optimize_and_evaluate(c), c.evaluate())
    close(rc.optimize_and_evaluate(c, rc.OptimizationSettings(scheduling_naive=True)), c.evaluate())
    a, b = rc.optimize_and_evaluate_many([c, c.children[0]], rc.OptimizationSettings())
    close(a, c.evaluate())
    close(b, c.children[0].evaluate())
    assert rc.optimize_and_evaluate_many([]) == []


def test_schedule(rng):
    c = mlp(rng)
    sched = rc.optimize_to_schedule(c, rc.OptimizationSettings(max_memory=10**9))
    assert isinstance(sched, rc.Schedule)
    assert sched.last_stats is None
    close(sched.evaluate(), c.evaluate())
    st_ = sched.last_stats
    assert isinstance(st_, rc.EvaluationStats)
    assert st_.n_chunks == 0 and st_.batch_size == 0 and st_.chunk_size == 0
    assert st_.n_nodes_computed == 7
    assert 0 < st_.measured_peak_bytes <= st_.peak_bytes
    many = rc.optimize_to_schedule_many([c, c.children[1]])
    v0, v1 = many.evaluate_many()
    close(v1, c.children[1].evaluate())
    with pytest.raises(ValueError, match=r"the schedule has 2 outputs, not one"):
        many.evaluate()
    # Settings given to evaluate replace the schedule's.
    many.evaluate_many(rc.OptimizationSettings(max_memory=40_000))
    assert many.last_stats.n_chunks > 1
    assert rc.circuit_to_schedule is rc.optimize_to_schedule
    assert rc.circuit_to_schedule_many is rc.optimize_to_schedule_many
    close(rc.scheduled_evaluate(c, rc.OptimizationSettings()), c.evaluate())


def test_schedule_argument_errors(rng):
    c = mlp(rng)
    with pytest.raises(TypeError, match=r"settings must be an OptimizationSettings, not dict"):
        rc.optimize_and_evaluate(c, {"max_memory": 10})
    with pytest.raises(TypeError, match=r"each item of circuits must be a Circuit, not int"):
        rc.optimize_and_evaluate_many([c, 3])
    with pytest.raises(TypeError, match=r"settings must be an OptimizationSettings, not int"):
        rc.optimize_to_schedule(c).evaluate(7)
    with pytest.raises(ValueError, match=r"max_memory must be a positive number of bytes, not 0"):
        run([c], max_memory=0)
    with pytest.raises(TypeError, match=r"progress must be callable or None, not int"):
        rc._circuits._evaluate_bounded([c], progress=3)
    with pytest.raises(ValueError, match=r"invalid device 'tpu'"):
        rc._circuits._evaluate_bounded([c], device="tpu")


# --- random circuits (hypothesis) -----------------------------------------------------------------


@st.composite
def batched_circuits(draw):
    """A circuit over inputs with a leading batch axis: Einsums with weights (and sometimes a
    contraction over the batch axis), Adds, GeneralFunctions, Rearranges, Indexes, Concats and
    reductions, several outputs sharing subterms."""
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    batch = draw(st.integers(1, 9))
    width = draw(st.sampled_from([2, 3, 4]))
    pool = [arr(rng, batch, width, name="x0"), arr(rng, batch, width, name="x1")]
    for step in range(draw(st.integers(1, 7))):
        op = draw(st.sampled_from(["einsum", "add", "gf", "rearrange", "index", "concat", "tag"]))
        a = pool[draw(st.integers(0, len(pool) - 1))]
        b = pool[draw(st.integers(0, len(pool) - 1))]
        if op == "einsum":
            w = arr(rng, a.shape[1], width)
            node = rc.Einsum.from_einsum_string("bi,ij->bj", a, w, name=f"e{step}")
        elif op == "add":
            if a.shape == b.shape:
                node = rc.Add(a, b, name=f"a{step}")
            else:
                node = rc.Add(a, arr(rng, a.shape[1]), name=f"a{step}")
        elif op == "gf":
            fn = draw(st.sampled_from([rc.relu, rc.sigmoid, rc.softmax, rc.gelu]))
            node = fn(a)
        elif op == "rearrange":
            node = rc.Rearrange.from_string(a, "b i -> b i ()", name=f"r{step}")
            node = rc.Rearrange.from_string(node, "b i o -> b (i o)", name=f"q{step}")
        elif op == "index":
            node = rc.Index(a, [slice(None), slice(0, max(1, a.shape[1] - 1))], name=f"i{step}")
        elif op == "concat":
            node = rc.Concat(a, b, axis=1, name=f"c{step}")
        else:
            node = rc.Tag.new_with_random_uuid(a)
        pool.append(node)
    outputs = [pool[-1]]
    extra = draw(st.sampled_from(["none", "shared", "sum", "batch_contraction"]))
    if extra == "shared":
        outputs.append(pool[len(pool) // 2])
    elif extra == "sum":
        outputs.append(pool[-1].sum(axis=1))
        outputs.append(pool[-1].sum())
    elif extra == "batch_contraction":
        outputs.append(rc.Einsum.from_einsum_string("bi,bj->ij", pool[-1], pool[1], name="gram"))
    return outputs


@settings(max_examples=60, deadline=None)
@given(batched_circuits(), st.sampled_from([None, 0.9, 0.5, 0.25]))
def test_random_circuits_match_evaluate(outputs, fraction):
    expected = [o.evaluate() for o in outputs]
    values, whole = run(outputs)
    for v, e in zip(values, expected):
        close(v, e)
    if fraction is None:
        return
    bound = max(1, int(whole["peak_bytes"] * fraction))
    try:
        values, stats = run(outputs, max_memory=bound)
    except rc.SchedulingOOMError as e:
        assert f"more than max_memory={bound}" in str(e)
        return
    for v, e in zip(values, expected):
        close(v, e)
    assert stats["measured_peak_bytes"] <= bound * 1.1


# --- chunked evaluation -------------------------------------------------------------------------


@pytest.mark.parametrize("max_memory", [60_000, 30_000, 12_000])
def test_chunked_values_and_measured_peak(rng, max_memory):
    c = mlp(rng)
    expected = c.evaluate()
    values, whole = run([c])
    assert whole["peak_bytes"] > max_memory
    sched = rc.optimize_to_schedule(c, rc.OptimizationSettings(max_memory=max_memory))
    close(sched.evaluate(), expected)
    stats = sched.last_stats
    assert stats.batch_size == 64
    assert stats.n_chunks == -(-64 // stats.chunk_size) > 1
    assert stats.peak_bytes <= max_memory
    assert stats.measured_peak_bytes <= max_memory * 1.1
    # The chunk is the largest that fits, within the search's eighth.
    assert stats.chunk_size * (1 + 1 / 4) >= (max_memory - 64 * 16 * 8) / (whole["peak_bytes"] / 64)


def test_chunked_transformer_computes_each_subterm_once_per_chunk():
    cfg = gpt2_circuit.Config(n_layers=2, d_model=16, n_heads=2, d_head=8, d_mlp=64, vocab=11)
    weights = gpt2_circuit.random_weights(cfg)
    x = np.random.default_rng(3).standard_normal((12, 5, cfg.d_model)).astype(np.float32)
    logits = gpt2_circuit.circuit(cfg, weights, x)
    (expected,), whole = run([logits])
    bound = 12 * 5 * cfg.vocab * 4 + whole["peak_bytes"] // 4
    (got,), stats = run([logits], max_memory=bound)
    np.testing.assert_allclose(np.asarray(got), np.asarray(expected), rtol=1e-5, atol=1e-6)
    assert stats["n_chunks"] > 1
    assert stats["measured_peak_bytes"] <= bound * 1.1
    # Each chunk plans the same subterms as the whole run (slices of the leaves aside).
    assert stats["n_nodes_computed"] <= stats["n_chunks"] * (whole["n_nodes_computed"] + 8)


def test_chunked_with_unsplit_outputs(rng):
    c = mlp(rng)
    rows = c.sum(axis=1)
    w1 = c.get_unique("w1")
    gram = rc.Einsum.from_einsum_string("ih,jh->ij", w1, w1, name="gram")
    circuits = [c, gram, rows, w1.sum(), c]
    values, stats = run(circuits, max_memory=40_000)
    for v, o in zip(values, circuits):
        close(v, o.evaluate())
    assert stats["n_chunks"] > 1 and stats["batch_size"] == 64
    assert stats["measured_peak_bytes"] <= 40_000 * 1.1


def test_outputs_summing_over_the_batch_add_up_their_chunks(rng):
    c = mlp(rng)
    x = c.get_unique("x")
    gram = rc.Einsum.from_einsum_string("bi,bj->ij", c, x, name="gram")
    dot = rc.Einsum.from_einsum_string("bi,bi->", c, c, name="dot")
    outputs = [c.sum(), c.mean(), c.sum(axis=0), gram, dot, c.mean(axis=1)]
    for chosen in (outputs, outputs[:2], [gram]):
        values, stats = run(chosen, max_memory=20_000)
        for v, o in zip(values, chosen):
            close(v, o.evaluate())
        assert stats["batch_size"] == 64 and stats["n_chunks"] > 1
        assert stats["measured_peak_bytes"] <= 20_000 * 1.1
    # Without a float result or with the batch label twice in a child, the output is computed
    # whole.
    square = arr(rng, 64, 64, name="sq")
    trace = rc.Einsum.from_einsum_string("bb->", rc.relu(square), name="trace")
    (got, _), stats = run([trace, c], max_memory=60_000)
    close(got, trace.evaluate())
    assert stats["n_chunks"] > 1
    with pytest.raises(rc.SchedulingOOMError, match=r"^evaluation of the outputs computed whole"):
        run([trace, c], max_memory=30_000)


def test_chunked_views_and_dtypes(rng, torch):
    x = rc.Array(torch.randn(32, 8, dtype=torch.float32), "x")
    w = rc.Array(torch.randn(8, 64, dtype=torch.float32), "w")
    h = rc.Einsum.from_einsum_string("bi,ih->bh", x, w, name="h")
    tagged = rc.Tag.new_with_random_uuid(rc.Index(rc.relu(h), [slice(None), slice(0, 32)]))
    out = rc.Rearrange.from_string(tagged, "b j -> b j ()", name="r")
    values, stats = run([out, x], max_memory=8_000)
    assert values[0].dtype == torch.float32
    close(values[0], out.evaluate())
    close(values[1], x.evaluate())
    assert stats["n_chunks"] > 1
    assert stats["measured_peak_bytes"] <= 8_000 * 1.1


def test_chunked_through_a_python_general_function(rng):
    class Double(rc.GeneralFunctionSpecBase):
        @property
        def name(self):
            return "double"

        def function(self, x):
            return np.asarray(x) * 2

        def get_shape_info(self, shape):
            return rc.GeneralFunctionShapeInfo(shape, 0, [True])

    c = mlp(rng)
    g = rc.GeneralFunction(c, spec=Double())
    values, stats = run([g], max_memory=30_000)
    close(values[0], 2 * np.asarray(c.evaluate()))
    assert stats["n_chunks"] > 1


def test_chunked_matches_with_modules(rng):
    sym = rc.Symbol.new_with_random_uuid((64, 16), "sym")
    w = arr(rng, 16, 64, name="w")
    body = rc.relu(rc.Einsum.from_einsum_string("bi,ih->bh", sym, w, name="hb"))
    spec = rc.ModuleSpec(body, [rc.ModuleArgSpec(sym)])
    m = rc.Module(spec, name="m", sym=arr(rng, 64, 16, name="xin"))
    values, stats = run([m], max_memory=45_000)
    close(values[0], m.evaluate())
    assert stats["n_chunks"] > 1


def test_progress_is_reported_per_step(rng):
    c = mlp(rng)
    calls = []
    values, stats = rc._circuits._evaluate_bounded(
        [c, rc.relu(c.get_unique("w1"))],
        max_memory=30_000,
        progress=lambda done, total: calls.append((done, total)),
    )
    total = stats["n_chunks"] + 1  # the unsplit output's step, then the chunks
    assert calls == [(i, total) for i in range(1, total + 1)]


def test_progress_exception_stops_the_run(rng):
    def stop(done, total):
        raise KeyboardInterrupt("stop here")

    with pytest.raises(KeyboardInterrupt, match="stop here"):
        rc._circuits._evaluate_bounded([mlp(rng)], max_memory=30_000, progress=stop)


def test_verbose_shows_a_progress_bar(rng, monkeypatch):
    pytest.importorskip("tqdm")
    err = io.StringIO()
    monkeypatch.setattr("sys.stderr", err)
    c = mlp(rng)
    rc.optimize_and_evaluate(c, rc.OptimizationSettings(max_memory=30_000, verbose=1))
    assert "evaluating chunks" in err.getvalue()
    err.truncate(0)
    rc.optimize_and_evaluate(c, rc.OptimizationSettings(max_memory=30_000))
    assert err.getvalue() == ""


def test_evaluation_runs_beside_other_threads(rng):
    c = mlp(rng, batch=256, hidden=256)
    expected = c.evaluate()
    results = []

    def work():
        results.append(rc.optimize_and_evaluate(c, rc.OptimizationSettings(max_memory=200_000)))

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 3
    for r in results:
        close(r, expected)


# --- errors ---------------------------------------------------------------------------------------


def test_error_when_one_row_does_not_fit(rng):
    c = mlp(rng)
    with pytest.raises(
        rc.SchedulingOOMError,
        match=r"^evaluation in chunks of 1 row along the leading axis \(size 64\) needs \d+ bytes "
        r"at its peak \(8192 of them for the full outputs\), more than max_memory=9000$",
    ):
        rc.optimize_and_evaluate(c, rc.OptimizationSettings(max_memory=9_000))


def test_error_when_nothing_can_be_split(rng):
    c = rc.relu(mlp(rng).sum())
    with pytest.raises(
        rc.SchedulingOOMError,
        match=r"^evaluation as one plan needs \d+ bytes at its peak, more than max_memory=1000, "
        r"and no output has a leading axis longer than 1 or sums over one to split along$",
    ):
        rc.optimize_and_evaluate(c, rc.OptimizationSettings(max_memory=1_000))


def test_error_when_unsplit_outputs_do_not_fit(rng):
    c = mlp(rng)
    with pytest.raises(
        rc.SchedulingOOMError,
        match=r"^evaluation of the outputs computed whole needs \d+ bytes at its peak, more than "
        r"max_memory=20000$",
    ):
        rc.optimize_and_evaluate_many(
            [c, rc.relu(c.sum())], rc.OptimizationSettings(max_memory=20_000)
        )


def test_error_single_tensor(rng):
    x = arr(rng, 1, 4096, name="x")
    big = rc.relu(x)
    with pytest.raises(
        rc.SchedulingOOMSingleError,
        match=r"^evaluation as one plan needs a tensor of 32768 bytes \(GeneralFunction '[^']+' "
        r"\[1,4096\]\), more than max_single_tensor_memory=1000, and no output has a leading "
        r"axis longer than 1 or sums over one to split along$",
    ):
        rc.optimize_and_evaluate(big, rc.OptimizationSettings(max_single_tensor_memory=1_000))
    assert issubclass(rc.SchedulingOOMSingleError, rc.SchedulingOOMError)
    # A single-tensor bound that chunks can meet.
    c = mlp(rng)
    sched = rc.optimize_to_schedule(c, rc.OptimizationSettings(max_single_tensor_memory=4_096))
    close(sched.evaluate(), c.evaluate())
    assert sched.last_stats.chunk_size <= 8


def test_error_not_computable(rng):
    sym = rc.Symbol.new_with_random_uuid((3,), "free")
    with pytest.raises(rc.TensorEvalNotExplicitlyComputableError, match=r"'free'.*no value"):
        rc.optimize_and_evaluate(rc.relu(sym))


def test_chunked_runs_and_errors_do_not_leak(rng):
    if "libasan" in os.environ.get("LD_PRELOAD", ""):
        pytest.skip("AddressSanitizer's quarantine keeps freed memory resident")
    statm = "/proc/self/statm"
    if not os.path.exists(statm):
        pytest.skip("needs /proc/self/statm")

    def resident():
        with open(statm) as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    table = arr(rng, 10, 8, name="table")
    tokens = rng.integers(0, 10, size=(24,)).astype(np.int64)
    emb = rc.Index(table, [tokens], name="emb")
    w = arr(rng, 8, 32, name="w")
    h = rc.relu(rc.Einsum.from_einsum_string("bi,ih->bh", emb, w, name="h"))
    out = rc.Index(h, [slice(1, 20)], name="rows")
    expected = out.evaluate()

    def step():
        (v,), stats = run([out], max_memory=7_000)
        assert stats["n_chunks"] > 1
        with pytest.raises(rc.SchedulingOOMError):
            run([out], max_memory=100)
        return v

    for _ in range(200):
        close(step(), expected)
    gc.collect()
    before = resident()
    for _ in range(2_000):
        step()
    gc.collect()
    assert resident() - before < 8 << 20
