"""einsum_nest_path, einsum_nest_optimize, deep_optimize_einsums and optimize_circuit: every
result evaluates equal to its input (float64, hypothesis random einsums); the exact search's
cost equals a brute-force search over all contraction trees on small cases; beyond 8 operands
the greedy search matches its Python reference (tests/einsum_order_reference.py) step for step;
and the error paths."""

import gc
import os
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import circuits as rc
import einsum_order_reference as ref


def close(actual, expected):
    np.testing.assert_allclose(np.asarray(actual), np.asarray(expected), rtol=1e-9, atol=1e-9)


@st.composite
def random_einsum(draw, min_ops=1, max_ops=7, max_size=4):
    n_labels = draw(st.integers(1, 7))
    sizes = draw(st.lists(st.integers(1, max_size), min_size=n_labels, max_size=n_labels))
    n_ops = draw(st.integers(min_ops, max_ops))
    ops = [
        draw(st.lists(st.integers(0, n_labels - 1), min_size=0, max_size=3)) for _ in range(n_ops)
    ]
    used = sorted({label for op in ops for label in op})
    out = draw(st.lists(st.sampled_from(used), unique=True, max_size=len(used))) if used else []
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    args = [(rc.Array(rng.standard_normal([sizes[l] for l in op])), tuple(op)) for op in ops]
    return rc.Einsum(*args, out_axes=tuple(out))


def is_pairwise(c):
    stack = [c]
    while stack:
        e = stack.pop()
        if isinstance(e, rc.Einsum):
            if len(e.children) > 2:
                return False
            stack.extend(e.children)
    return True


def chain(n, rng, sizes):
    """An n-operand matrix chain a0 a1, a1 a2, ... -> a0 a_n."""
    args = [
        (rc.Array(rng.standard_normal((sizes[i], sizes[i + 1])), name=f"m{i}"), (i, i + 1))
        for i in range(n)
    ]
    return rc.Einsum(*args, out_axes=(0, n), name="chain")


def test_nest_optimize_matrix_chain():
    rng = np.random.default_rng(0)
    x = chain(4, rng, [2, 30, 40, 3, 5])
    y = rc.einsum_nest_optimize(x)
    close(y.evaluate(), x.evaluate())
    assert y.name == "chain" and is_pairwise(y)
    # the cheap order: ((m0 m1) m2) m3 is 2*30*40 + 2*40*3 + 2*3*5 = 2670
    assert ref.nested_cost(y) == 2670.0
    assert rc._circuits._einsum_order(
        [[0, 1], [1, 2], [2, 3], [3, 4]], [0, 4], [2, 30, 40, 3, 5] + [1] * 251
    ) == ([(0, 1), (4, 2), (5, 3)], 2670.0)


def test_nest_optimize_small_einsums_unchanged():
    rng = np.random.default_rng(1)
    two = chain(2, rng, [2, 3, 4])
    assert rc.einsum_nest_optimize(two) == two
    one = rc.Einsum.from_einsum_string("ab->b", rc.Array(rng.standard_normal((2, 3))))
    assert rc.einsum_nest_optimize(one) == one
    empty = rc.Einsum(out_axes=())
    assert rc.einsum_nest_optimize(empty) == empty


@given(random_einsum(min_ops=1, max_ops=6))
def test_nest_optimize_is_identity_and_optimal(x):
    y = rc.einsum_nest_optimize(x)
    close(y.evaluate(), x.evaluate())
    assert y.shape == x.shape and is_pairwise(y)
    ops, out, sizes = ref.einsum_spec(x)
    if len(ops) >= 3:
        best = ref.brute_force_cost(ops, out, sizes)
        assert ref.nested_cost(y) == pytest.approx(best)
        assert rc._circuits._einsum_order(
            [sorted(o) for o in ops], out, [float(sizes.get(l, 1)) for l in range(256)]
        )[1] == pytest.approx(best)
        assert ref.nest_optimize(x) == y


@given(random_einsum(min_ops=9, max_ops=14, max_size=3))
def test_greedy_beyond_eight_matches_reference(x):
    y = rc.einsum_nest_optimize(x)
    close(y.evaluate(), x.evaluate())
    assert is_pairwise(y)
    ops, out, sizes = ref.einsum_spec(x)
    steps, cost = ref.order(ops, out, sizes)
    c_steps, c_cost = rc._circuits._einsum_order(
        [sorted(o) for o in ops], out, [float(sizes.get(l, 1)) for l in range(256)]
    )
    assert c_steps == steps and c_cost == pytest.approx(cost)
    assert ref.nest_optimize(x) == y


def test_exact_search_beats_greedy_at_eight():
    # a chain of 8 with sizes that mislead the greedy rule: the exact search is never worse
    rng = np.random.default_rng(2)
    sizes = [7, 2, 9, 3, 8, 2, 10, 4, 6]
    x = chain(8, rng, sizes)
    ops, out, size_map = ref.einsum_spec(x)
    _, dp_cost = ref.order_dp([frozenset(o) for o in ops], out, size_map)
    _, greedy_cost = ref.order_greedy([frozenset(o) for o in ops], out, size_map)
    y = rc.einsum_nest_optimize(x)
    assert ref.nested_cost(y) == pytest.approx(dp_cost)
    assert dp_cost <= greedy_cost
    assert ref.nested_cost(y) == pytest.approx(ref.brute_force_cost(ops, out, size_map))


@given(random_einsum(min_ops=2, max_ops=6), st.data())
def test_nest_path_is_identity(x, data):
    n = len(x.children)
    path = []
    left = n
    while left > 1:
        k = data.draw(st.integers(2, left))
        path.append(data.draw(st.permutations(range(left)))[:k])
        left -= k - 1
    y = rc.einsum_nest_path(x, path)
    close(y.evaluate(), x.evaluate())
    assert y.shape == x.shape


def test_nest_path_as_rc():
    rng = np.random.default_rng(3)
    x = chain(4, rng, [2, 3, 4, 5, 6])
    y = rc.einsum_nest_path(x, [[0, 1], [0, 1], [0, 1]])
    close(y.evaluate(), x.evaluate())
    # each step takes its positions largest first and appends its result
    assert [c.name for c in y.children[0].children] == ["m3", "m2"]
    assert [c.name for c in y.children[1].children] == ["m1", "m0"]
    # inner Einsums number their labels by first appearance: m3 (3, 4), m2 (2, 3) -> (0, 1), (2, 0)
    assert y.children[0].in_axes == [(0, 1), (2, 0)] and y.children[0].out_axes == (2, 1)


def test_nest_path_errors():
    rng = np.random.default_rng(4)
    x = chain(3, rng, [2, 3, 4, 5])
    with pytest.raises(ValueError, match="position 3, but 3 operands are left"):
        rc.einsum_nest_path(x, [[0, 3]])
    with pytest.raises(ValueError, match="position 1 twice"):
        rc.einsum_nest_path(x, [[1, 1]])
    with pytest.raises(ValueError, match="leaves 2 operands"):
        rc.einsum_nest_path(x, [[0, 1]])
    with pytest.raises(ValueError, match="leaves 3 operands"):
        rc.einsum_nest_path(x, [])
    with pytest.raises(TypeError, match="expected Einsum but got Array"):
        rc.einsum_nest_path(x.children[0], [[0]])
    with pytest.raises(TypeError, match="list of ints"):
        rc.einsum_nest_path(x, [["a"]])
    with pytest.raises(TypeError, match="expected Einsum but got Array"):
        rc.einsum_nest_optimize(x.children[0])
    with pytest.raises(TypeError):
        rc.deep_optimize_einsums(3)


def test_deep_optimize_einsums():
    rng = np.random.default_rng(5)
    inner = chain(5, rng, [3, 20, 2, 20, 2, 3])
    outer = rc.Einsum(
        (rc.gelu(inner), (0, 1)),
        (inner, (1, 2)),
        (rc.Array(rng.standard_normal((3, 4))), (2, 3)),
        out_axes=(0, 3),
    )
    y = rc.deep_optimize_einsums(outer)
    close(y.evaluate(), outer.evaluate())
    assert is_pairwise(y)
    # the shared inner chain is optimised once and shared
    nodes = rc.IterativeMatcher(rc.Einsum).get(y)
    assert sum(1 for e in nodes if e.name == "chain") == 1
    assert rc.deep_optimize_einsums(inner.children[0]) == inner.children[0]


def test_optimize_circuit():
    rng = np.random.default_rng(6)
    x = chain(5, rng, [3, 20, 2, 20, 2, 3])
    a = rc.Array(rng.standard_normal(3), name="a")
    b = rc.Array(rng.standard_normal(3), name="b")
    c = rc.Array(rng.standard_normal(3), name="c")
    circuit = rc.Add(
        rc.Einsum.from_einsum_string("ab,b->a", x, rc.Add(a, b, name="ab")), rc.Add(a, b, c)
    )
    out = rc.optimize_circuit(circuit)
    close(out.evaluate(), circuit.evaluate())
    assert is_pairwise(out)
    kept = rc.optimize_circuit(circuit, rc.OptimizationSettings(keep_all_names=True))
    close(kept.evaluate(), circuit.evaluate())
    assert rc.Matcher("ab").get(kept)
    subset = rc.SimpFnSubset.none()
    close(
        rc.optimize_circuit(circuit, rc.OptimizationSettings(simp_fn_subset=subset)).evaluate(),
        circuit.evaluate(),
    )
    with pytest.raises(TypeError, match="OptimizationSettings"):
        rc.optimize_circuit(circuit, {})
    with pytest.raises(TypeError, match="expected a Circuit"):
        rc.optimize_circuit("x")


@pytest.mark.parametrize(
    "push_down_index, distribute", [(True, True), (False, False), (True, False), (False, True)]
)
def test_optimize_circuit_on_the_shipped_transformer(push_down_index, distribute):
    from test_paren_balancer_model import model_circuit

    from circuits import module_library

    _, tokenizer, _ = module_library.load_model_id("paren_balancer")
    tokens = np.asarray(tokenizer.tokenize_strings(["(())", "(()", ")(", "()()()"]))
    circuit = model_circuit(tokens)
    settings = rc.OptimizationSettings(
        push_down_index=push_down_index, deep_maybe_distribute=distribute
    )
    out = rc.optimize_circuit(circuit, settings)
    np.testing.assert_allclose(
        np.asarray(out.evaluate()), np.asarray(circuit.evaluate()), rtol=1e-4, atol=1e-4
    )


def test_optimize_circuit_symbolic_warning():
    s = """
0 Einsum ij,jk->ik
  1 [1s,2s] Symbol 6594dafb-81f8-49a3-8381-6ffc4746b474
  2 [2s,3s] Symbol bc646cfe-a299-4580-9a54-d8d5001a566b
"""
    with pytest.warns(rc.OptimizingSymbolicSizeWarning, match="symbolic sizes"):
        rc.optimize_circuit(rc.Parser()(s))
    rng = np.random.default_rng(7)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rc.optimize_circuit(chain(3, rng, [2, 3, 4, 5]))


def test_optimization_context():
    settings = rc.OptimizationSettings(max_memory=1000)
    ctx = rc.OptimizationContext.new_settings(settings)
    assert ctx.settings is settings and ctx.cache is None
    assert "slow_einsums" in ctx.stringify_logs()
    ctx2 = rc.OptimizationContext.new_settings_circuit(settings, rc.Scalar(1.0))
    assert ctx2.settings == settings
    with pytest.raises(TypeError, match="OptimizationSettings"):
        rc.OptimizationContext.new_settings(3)
    with pytest.raises(TypeError, match="Circuit"):
        rc.OptimizationContext.new_settings_circuit(settings, 3)


def test_einsum_order_errors():
    with pytest.raises(ValueError, match="256 entries"):
        rc._circuits._einsum_order([[0]], [0], [1.0])
    with pytest.raises(ValueError, match="not in"):
        rc._circuits._einsum_order([[300]], [], [1.0] * 256)


def test_rewrites_and_their_errors_do_not_leak():
    if "libasan" in os.environ.get("LD_PRELOAD", ""):
        pytest.skip("AddressSanitizer's quarantine keeps freed memory resident")
    statm = "/proc/self/statm"
    if not os.path.exists(statm):
        pytest.skip("needs /proc/self/statm")

    def resident():
        with open(statm) as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    rng = np.random.default_rng(9)
    big = chain(12, rng, [2, 3] * 6 + [2])
    small = chain(5, rng, [3, 20, 2, 20, 2, 3])
    xs = [rc.Array(rng.standard_normal(8)) for _ in range(4)]
    adds = rc.Add(rc.Add(xs[0], xs[1]), rc.Add(xs[2], xs[0], xs[1], xs[3]))

    def step():
        rc.deep_optimize_einsums(rc.Add(big, big))
        rc.einsum_nest_optimize(small)
        rc.einsum_nest_path(small, [[0, 1], [0, 1], [0, 1], [0, 1]])
        rc.nest_einsums(small, ((0, 1), rc.NestRest()))
        rc.nest_adds(adds.children[1], ((0, 1), rc.NestRest()))
        rc.deep_heuristic_nest_adds(adds)
        with pytest.raises(ValueError):
            rc.einsum_nest_path(small, [[0, 9]])
        with pytest.raises(rc.PermIntsNotUniqueError):
            rc.nest_einsums(small, (0, 0, rc.NestRest()))
        with pytest.raises(rc.NestPermHasWrongLenError):
            rc.nest_einsums(small, (rc.NestEinsumsSpecInfo((0, 1), out_axes_perm=[0]), 2, 3, 4))

    for _ in range(100):
        step()
    gc.collect()
    before = resident()
    for _ in range(1000):
        step()
    gc.collect()
    assert resident() - before < 2 << 20


def test_keyword_arguments_as_rc():
    rng = np.random.default_rng(10)
    x = chain(3, rng, [2, 3, 4, 5])
    assert rc.einsum_nest_optimize(node=x) == rc.einsum_nest_optimize(x)
    assert rc.deep_optimize_einsums(node=x) == rc.einsum_nest_optimize(x)
    assert rc.einsum_nest_path(node=x, path=[[0, 1], [0, 1]]) == rc.einsum_nest_path(
        x, [[0, 1], [0, 1]]
    )
    assert rc.deep_heuristic_nest_adds(circuit=x) == x
