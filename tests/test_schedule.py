"""Schedules: optimize_to_schedule / optimize_and_evaluate with settings.optimize (optimize_circuit
first) evaluate equal to plain evaluation (float64, hypothesis) and keep within max_memory;
rc's instruction view (constants, scalars, instructions, validate, get_stats); tensor
replacement; the JSON serialisation round trip; ScheduleToSend, SetOfCircuitIdentities,
opt_eval_each_subcircuit_until_fail; and the error paths."""

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import circuits as rc

OPT = rc.OptimizationSettings(optimize=True)


def close(actual, expected):
    np.testing.assert_allclose(np.asarray(actual), np.asarray(expected), rtol=1e-9, atol=1e-9)


def arr(rng, *shape, name=None):
    return rc.Array(rng.standard_normal(shape), name)


def model(rng, batch=32, d=8, hidden=24):
    """A residual MLP whose first layer is a three-operand einsum, plus a shared sum."""
    x = arr(rng, batch, d, name="x")
    w1 = arr(rng, d, hidden, name="w1")
    g = arr(rng, hidden, name="g")
    w2 = arr(rng, hidden, d, name="w2")
    h = rc.Einsum.from_einsum_string("bi,ih,h->bh", x, w1, g, name="h")
    out = rc.Einsum.from_einsum_string("bh,hi->bi", rc.relu(h), w2, name="out")
    bias = rc.Add(arr(rng, d, name="b0"), arr(rng, d, name="b1"), name="bias")
    return rc.Add(out, x, bias, arr(rng, d, name="b0"), name="resid")


@given(st.integers(1, 40), st.integers(1, 9), st.integers(1, 30), st.integers(0, 2**32 - 1))
def test_optimized_schedule_equals_plain_evaluation(batch, d, hidden, seed):
    rng = np.random.default_rng(seed)
    c = model(rng, batch, d, hidden)
    close(rc.optimize_and_evaluate(c, OPT), c.evaluate())
    a, b = rc.optimize_and_evaluate_many([c, c.children[0]], OPT)
    close(a, c.evaluate())
    close(b, c.children[0].evaluate())
    close(rc.optimize_to_schedule(c, OPT).evaluate(), c.evaluate())


def test_optimized_schedule_respects_max_memory():
    rng = np.random.default_rng(0)
    c = model(rng, batch=256, d=8, hidden=64)
    expected = c.evaluate()
    bound = 40_000
    settings = rc.OptimizationSettings(optimize=True, max_memory=bound)
    sched = rc.optimize_to_schedule(c, settings)
    close(sched.evaluate(), expected)
    stats = sched.last_stats
    assert stats.n_chunks > 1
    assert stats.measured_peak_bytes <= bound and stats.peak_bytes <= bound
    with pytest.raises(rc.SchedulingOOMError, match="max_memory=64"):
        rc.optimize_and_evaluate(c, rc.OptimizationSettings(optimize=True, max_memory=64))


def test_optimize_setting_changes_the_circuit():
    rng = np.random.default_rng(1)
    c = model(rng)
    plain = rc.optimize_to_schedule(c)
    assert plain.circuits == (c,)
    optimized = rc.optimize_to_schedule(c, OPT)
    assert optimized.circuits[0] != c
    assert optimized.settings.optimize and "optimize=True" in repr(optimized.settings)


def test_instruction_view():
    rng = np.random.default_rng(2)
    c = model(rng)
    sched = rc.optimize_to_schedule(c)
    constants, scalars, instructions = sched.constants, sched.scalars, sched.instructions
    assert all(isinstance(v, rc.Array) for v in constants.values())
    assert {v.name for v in constants.values()} == {"x", "w1", "g", "w2", "b0", "b1"}
    assert scalars == {}
    computed = [i for i in instructions if not isinstance(i, int)]
    drops = [i for i in instructions if isinstance(i, int)]
    keys = [k for k, _ in computed]
    assert len(keys) == len(set(keys))
    # each computed circuit reads its children through Symbols named by their ids
    known = set(constants)
    for ins in instructions:
        if isinstance(ins, int):
            assert ins in known
            known.discard(ins)
            continue
        key, circuit = ins
        for child in circuit.children:
            assert isinstance(child, rc.Symbol) and int(child.name) in known
        known.add(key)
    # everything but the output is dropped after its last use
    assert set(keys) - set(drops) == {keys[-1]}
    assert computed[-1][1].name == "resid"
    sched.validate(True)
    stats = sched.get_stats()
    assert isinstance(stats, rc.ScheduleStats)
    assert stats.constant_mem == sum(v.numel for v in constants.values())
    assert stats.max_mem >= max(circuit.numel for _, circuit in computed)
    assert all(isinstance(x, rc.Circuit) for x in stats.max_circuit_set)
    assert "ScheduleStats: max:" in str(stats)
    with_scalar = rc.optimize_to_schedule(rc.Add(c, rc.Scalar(2.0, (8,))))
    assert [s.value for s in with_scalar.scalars.values()] == [2.0]


def test_validate_errors():
    rng = np.random.default_rng(3)
    sched = rc.optimize_to_schedule(model(rng))
    constants, scalars, instructions, outputs = sched._build_view()
    first_key, first = instructions[0]
    cases = [
        ([5000], "drop=5000 not previously computed"),
        ([instructions[0], first_key, first_key], "was already dropped"),
        ([instructions[0], instructions[0]], "was already computed"),
        ([(9999, rc.Scalar(1.0))], "leaf circuit is being computed"),
        ([instructions[0]], "is never dropped"),
    ]
    for bad, message in cases:
        sched._view = (constants, scalars, bad, [])
        with pytest.raises(ValueError, match=message):
            sched.validate(True)
    sched._view = (constants, {next(iter(constants)): rc.Scalar(1.0)}, [], [])
    with pytest.raises(ValueError, match="used for both constants and scalars"):
        sched.validate(False)


def test_serialize_round_trip():
    rng = np.random.default_rng(4)
    c = model(rng)
    for settings in (rc.OptimizationSettings(), OPT):
        sched = rc.optimize_to_schedule_many([c, c.children[0]], settings)
        text = sched.serialize()
        sent = json.loads(text)
        assert {"instructions", "constants", "scalars", "output_circuit"} <= set(sent)
        assert sent["instructions"][0]["variant"] == "Compute"
        assert any(i["variant"] == "Drop" for i in sent["instructions"])
        back = rc.Schedule.deserialize(text)
        assert back.circuits == sched.circuits
        a, b = back.evaluate_many()
        close(a, c.evaluate())
        close(b, c.children[0].evaluate())
        assert rc.Schedule.deserialize(sched.tosend().text).circuits == sched.circuits
        assert sched.tosend().load().circuits == sched.circuits


def test_serialize_errors():
    rng = np.random.default_rng(5)
    sym = rc.Symbol.new_with_random_uuid((3,), name="s")
    with pytest.raises(ValueError, match="schedules with symbols can't be sent"):
        rc.optimize_to_schedule(rc.Add(sym, arr(rng, 3))).serialize()
    with pytest.raises(ValueError, match="json error"):
        rc.Schedule.deserialize("{not json")
    with pytest.raises(ValueError, match="json error"):
        rc.Schedule.deserialize('{"instructions": []}')
    bad = json.dumps(
        {
            "instructions": [{"variant": "Jump", "key": 0, "info": "", "children": []}],
            "constants": {},
            "scalars": {},
            "output_circuit": [0, []],
        }
    )
    with pytest.raises(ValueError, match="unknown variant 'Jump'"):
        rc.Schedule.deserialize(bad)
    text = json.loads(rc.optimize_to_schedule(model(rng)).serialize())
    text["constants"] = {}
    with pytest.raises(ValueError, match="before it is computed"):
        rc.Schedule.deserialize(json.dumps(text))
    with pytest.raises(NotImplementedError, match="no remote evaluation server"):
        rc.optimize_to_schedule(model(rng)).evaluate_remote("http://localhost:1")
    with pytest.raises(NotImplementedError):
        rc.optimize_to_schedule(model(rng)).tosend().evaluate_remote_many("http://x", "cpu")


def test_replace_and_map_tensors():
    rng = np.random.default_rng(6)
    c = model(rng)
    sched = rc.optimize_to_schedule(c)
    w1 = rc.Matcher("w1").get_unique(c)
    new_w1 = rng.standard_normal(w1.shape)
    replaced = sched.replace_tensors({w1.hash: new_w1})
    expected = c.update("w1", lambda _: rc.Array(new_w1, name="w1")).evaluate()
    close(replaced.evaluate(), expected)
    close(sched.evaluate(), c.evaluate())  # the original is unchanged
    mapped = sched.map_tensors(lambda h: new_w1 if h == w1.hash else None)
    assert mapped.circuits == replaced.circuits
    assert sched.replace_tensors({b"\0" * 32: new_w1}, allow_missing=True).circuits == (c,)
    with pytest.raises(KeyError, match="wasn't present in original"):
        sched.replace_tensors({b"\0" * 32: new_w1})
    with pytest.raises(ValueError, match="doesn't match entry shape"):
        sched.replace_tensors({w1.hash: np.zeros(3)})


def test_set_of_circuit_identities():
    rng = np.random.default_rng(7)
    a, b, c = arr(rng, 2), arr(rng, 2), arr(rng, 2)
    s = rc.SetOfCircuitIdentities()
    s.insert(a)
    s.insert(rc.Array(np.asarray(a.value)))  # equal circuit, same identity
    assert a in s and b not in s and len(s) == 1
    t = rc.SetOfCircuitIdentities()
    t.insert(b)
    t.insert(a)
    assert len(s.union(t)) == 2 and len(s.intersection(t)) == 1
    s.extend(t)
    s.insert(c)
    assert len(s) == 3 and c in s
    with pytest.raises(TypeError, match="SetOfCircuitIdentities"):
        s.union({a})
    with pytest.raises(TypeError, match="expected a Circuit"):
        s.insert("a")
    with pytest.raises(TypeError, match="expected a Circuit"):
        "a" in s


def test_opt_eval_each_subcircuit_until_fail(capsys):
    rng = np.random.default_rng(8)
    rc.opt_eval_each_subcircuit_until_fail(model(rng), OPT)
    assert capsys.readouterr().out == ""
    with pytest.raises(TypeError, match="OptimizationSettings"):
        rc.opt_eval_each_subcircuit_until_fail(model(rng), None)


def test_schedule_errors():
    with pytest.raises(TypeError, match="must be a Circuit"):
        rc.Schedule([3], rc.OptimizationSettings())
    with pytest.raises(TypeError, match="OptimizationSettings"):
        rc.Schedule([], 3)
    with pytest.raises(TypeError, match="OptimizationSettings"):
        rc.optimize_to_schedule_many([], None)
