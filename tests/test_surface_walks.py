"""rc's traversal and mapping utilities (visit_circuit, toposort_circuit, deep_map, replace_nodes,
update_nodes, prefix_all_names, replace_outside_traversal_symbols, append_matchers_to_names,
compute_self_hash, path helpers, evaluation checks) against small Python references on random
DAGs, and their errors."""

import gc
import os

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import circuits as rc
from match_strategies import dags

# --- references (recursive, written from rc's documented behaviour) ----------------------------


def ref_preorder(c, seen=None, out=None):
    seen = set() if seen is None else seen
    out = [] if out is None else out
    if c in seen:
        return out
    seen.add(c)
    out.append(c)
    for child in c.children:
        ref_preorder(child, seen, out)
    return out


def ref_toposort(root):
    refs = {}
    for c in ref_preorder(root):
        for child in c.children:
            refs[child] = refs.get(child, 0) + 1
    ready = [root]
    out = []
    while ready:
        ready.sort()
        here = ready.pop(0)
        out.append(here)
        for child in here.children:
            refs[child] -= 1
            if refs[child] == 0:
                ready.append(child)
    return out[::-1]


def ref_deep_map(c, f, memo=None):
    memo = {} if memo is None else memo
    if c not in memo:
        kids = [ref_deep_map(k, f, memo) for k in c.children]
        rebuilt = c if kids == list(c.children) else c.map_children_enumerate(lambda i, _: kids[i])
        memo[c] = f(rebuilt)
    return memo[c]


def ref_deep_map_preorder(c, f, memo=None):
    memo = {} if memo is None else memo
    if c not in memo:
        y = f(c)
        kids = [ref_deep_map_preorder(k, f, memo) for k in y.children]
        memo[c] = y if kids == list(y.children) else y.map_children_enumerate(lambda i, _: kids[i])
    return memo[c]


def leaf_plus_one(c):
    if isinstance(c, rc.Scalar):
        return rc.Scalar(c.value + 1.0, c.shape, c.op_name)
    return c


def wrap_relu(c):
    if isinstance(c, rc.Add):
        return rc.relu(c, name=None if c.op_name is None else c.op_name + "_r")
    return c


# --- walks ---------------------------------------------------------------------------------------


@given(dags())
def test_visit_circuit_is_preorder_each_node_once(dag):
    root, _ = dag
    seen = []
    assert rc.visit_circuit(root, seen.append) is None
    assert seen == ref_preorder(root)
    assert rc.count_nodes(root) == len(seen)
    assert rc.all_children(root) == set(seen)


@given(dags())
def test_toposort_matches_reference(dag):
    root, _ = dag
    order = rc.toposort_circuit(root)
    assert order == ref_toposort(root)
    position = {c: i for i, c in enumerate(order)}
    for c in order:
        for child in c.children:
            assert position[child] < position[c]
    assert order[-1] == root


@given(dags(), st.sampled_from([leaf_plus_one, wrap_relu, lambda c: c]))
def test_deep_map_matches_reference(dag, f):
    root, _ = dag
    assert rc.deep_map(root, f) == ref_deep_map(root, f)


def first_child_of_add(c):
    if isinstance(c, rc.Add) and c.children[0].shape == c.shape:
        return c.children[0]
    return c


# wrap_relu would never end top-down: each replacement contains the node again
@given(dags(), st.sampled_from([leaf_plus_one, first_child_of_add, lambda c: c]))
def test_deep_map_preorder_matches_reference(dag, f):
    root, _ = dag
    assert rc.deep_map_preorder(root, f) == ref_deep_map_preorder(root, f)


def test_rc_deep_map_examples():
    circ = rc.Add(rc.Array.randn(4, 3), rc.Scalar(1.0, (), None))
    assert rc.deep_map(circ, leaf_plus_one) == rc.Add(circ.children[0], rc.Scalar(2.0, (), None))
    nested = rc.Add(
        rc.Add(rc.Scalar(5.5, (2, 2), None), rc.Scalar(1.0, (), None)), rc.Scalar(1.0, (), None)
    )
    inner = nested.children[0]

    def exact(x):
        return rc.Scalar(9.9, (2, 2), None) if x == inner else leaf_plus_one(x)

    assert rc.deep_map_preorder(nested, exact) == rc.Add(
        rc.Scalar(9.9, (2, 2), None), rc.Scalar(2.0, (), None)
    )
    # bottom-up, the inner Add has changed before exact sees it
    assert rc.deep_map(nested, exact) == rc.deep_map(nested, leaf_plus_one)


def test_deep_map_visits_each_distinct_node_once():
    a = rc.Array(np.ones(2), name="a")
    s = rc.Add(a, a, name="s")
    root = rc.Add(s, s, rc.relu(s), name="root")
    calls = []
    rc.deep_map(root, lambda c: calls.append(c) or c)
    assert sorted(calls) == sorted(rc.all_children(root))


@given(dags())
def test_filter_nodes(dag):
    root, _ = dag
    found = rc.filter_nodes(root, lambda c: isinstance(c, rc.Add))
    assert found == {c for c in ref_preorder(root) if isinstance(c, rc.Add)}


@given(dags(), st.data())
def test_replace_nodes_matches_reference(dag, data):
    root, nodes = dag
    keys = data.draw(st.lists(st.sampled_from(nodes), max_size=2, unique=True))
    mapping = {k: rc.Scalar(-1.0 - i, k.shape, f"r{i}") for i, k in enumerate(keys)}
    expected = ref_deep_map_preorder(root, lambda c: mapping.get(c, c))
    assert rc.replace_nodes(root, mapping) == expected


@given(dags())
def test_update_nodes_matches_reference(dag):
    root, _ = dag

    def is_scalar(c):
        return isinstance(c, rc.Scalar)

    def bump(c):
        return rc.Scalar(c.value + 10.0, c.shape, c.op_name)

    expected = ref_deep_map_preorder(root, lambda c: bump(c) if is_scalar(c) else c)
    assert rc.update_nodes(root, is_scalar, bump) == expected


def test_replace_nodes_descends_into_replacements():
    a = rc.Array(np.ones(2), name="a")
    b = rc.Array(np.zeros(2), name="b")
    root = rc.Add(a, name="root")
    # a -> Add(b) and b -> c: the replacement's own children are replaced too
    c = rc.Scalar(3.0, (2,), "c")
    out = rc.replace_nodes(root, {a: rc.Add(b, name="ab"), b: c})
    assert out == rc.Add(rc.Add(c, name="ab"), name="root")


def test_replacement_containing_its_node_is_an_error():
    a = rc.Symbol.new_with_random_uuid((2,), "a")
    with pytest.raises(ValueError, match="contains the node again"):
        rc.replace_nodes(rc.Add(a, name="s"), {a: rc.Add(a, a, name="aa")})
    with pytest.raises(ValueError, match="contains the node again"):
        rc.deep_map_preorder(a, lambda c: rc.Add(c, name="w") if c == a else c)


@given(dags())
def test_prefix_all_names(dag):
    root, _ = dag

    def ref(c):
        return c if c.op_name is None else c.rename("p." + c.op_name)

    assert rc.prefix_all_names(root, "p.") == ref_deep_map(root, ref)


def test_path_get_and_update_path():
    s55 = rc.Scalar(5.5, (2, 2), None)
    circ = rc.Add(rc.Add(s55, rc.Scalar(1.0, (), None)), rc.Scalar(1.0, (), None))
    assert rc.path_get(circ, [0, 0]) == s55
    assert rc.path_get(circ, []) == circ
    assert rc.path_get(circ, [0, 5]) is None
    new = rc.Scalar(77.0, (2, 2), None)
    updated = rc.update_path(circ, [0, 0], lambda _: new)
    assert rc.path_get(updated, [0, 0]) == new
    assert updated.children[1] == circ.children[1]
    assert updated == rc.update_nodes(circ, lambda x: x == s55, lambda _: new)
    with pytest.raises(IndexError, match="index 3 at depth 1"):
        rc.update_path(circ, [0, 3], lambda c: c)
    with pytest.raises(TypeError, match="must return a Circuit"):
        rc.update_path(circ, [0], lambda c: 3)


# --- traversals ------------------------------------------------------------------------------------


def chain_circuit():
    x = rc.Scalar(1.0, (2, 2, 2), "x")
    inner = rc.Add(x, name="inner")
    mid = rc.Add(inner, name="mid")
    return rc.Rearrange.from_string(mid, "a b c -> b c a", name="top")


@pytest.mark.parametrize("end_depth", [1, 2, 3, 4])
def test_replace_outside_traversal_symbols(end_depth):
    circ = chain_circuit()
    trav = rc.new_traversal(start_depth=0, end_depth=end_depth)
    replaced, back = rc.replace_outside_traversal_symbols(circ, trav)
    # the node at depth end_depth - 1 (where the traversal stops) becomes a Symbol
    stop = rc.path_get(circ, [0] * (end_depth - 1))
    sym = rc.path_get(replaced, [0] * (end_depth - 1))
    # (a leaf too: rc replaces every node whose state visits no child)
    assert isinstance(sym, rc.Symbol) and sym.shape == stop.shape and sym.name == stop.name
    assert back == {sym: stop}
    assert rc.replace_nodes(replaced, back) == circ


def test_replace_outside_traversal_symbols_namer():
    circ = chain_circuit()
    trav = rc.new_traversal(end_depth=2)
    replaced, back = rc.replace_outside_traversal_symbols(circ, trav, lambda c: "nameyname")
    assert [s.name for s in back] == ["nameyname"]
    replaced, back = rc.replace_outside_traversal_symbols(circ, trav, lambda c: None)
    assert [s.op_name for s in back] == [None]
    with pytest.raises(ZeroDivisionError):
        rc.replace_outside_traversal_symbols(circ, trav, lambda c: 1 / 0)
    with pytest.raises(TypeError, match="name must be a str"):
        rc.replace_outside_traversal_symbols(circ, trav, lambda c: 3)


def test_apply_in_traversal():
    circ = chain_circuit()
    trav = rc.new_traversal(end_depth=2)
    seen = []

    def f(c):
        seen.append(c)
        return c.children[0]  # drop the Rearrange

    out = rc.apply_in_traversal(circ, trav, f)
    assert out == circ.children[0]
    (inside,) = seen
    assert isinstance(inside.children[0], rc.Symbol)
    assert inside.children[0].name == "mid_symbol_replacement"
    assert rc.apply_in_traversal(circ, trav, lambda c: c) == circ


def ref_append(c, m, discard):
    if isinstance(c, rc.Symbol):
        return c
    r = m.match_iterate(c)
    upd = r.updated
    n = len(c.children)
    if upd is None:
        per = [m] * n
    elif isinstance(upd, rc.Finished):
        per = [None] * n
    elif isinstance(upd, list):
        per = [None if isinstance(u, rc.Finished) else u for u in upd]
    else:
        per = [upd] * n
    kids = [k if p is None else ref_append(k, p, discard) for k, p in zip(c.children, per)]
    rebuilt = c if kids == list(c.children) else c.map_children_enumerate(lambda i, _: kids[i])
    text = str(m)[len("IterativeMatcher(") : -1]
    if discard:
        return rebuilt.rename(text)
    return rebuilt.rename(None if c.op_name is None else f"{c.op_name} Matcher {text}")


@given(dags(), st.integers(1, 3), st.booleans())
def test_append_matchers_to_names(dag, depth, discard):
    root, _ = dag
    trav = rc.new_traversal(end_depth=depth)
    out = rc.append_matchers_to_names(root, trav, discard_old_name=discard)
    assert out == ref_append(root, trav, discard)


def test_repr_matcher_debug():
    a = rc.Array(np.ones(2), name="a")
    b = rc.Array(np.ones(2), name="b")
    circ = rc.Add(a, b, name="s")
    text = rc.repr_matcher_debug(circ, rc.IterativeMatcher("a"))
    lines = text.rstrip("\n").split("\n")
    assert len(lines) == 3
    assert "Found" in lines[1] and "Found" not in lines[0] and "Found" not in lines[2]
    assert all("IterativeMatcher('a')" in line for line in lines)
    shared = rc.Add(a, a, name="t")
    lines = rc.repr_matcher_debug(shared, rc.IterativeMatcher(True)).rstrip("\n").split("\n")
    assert lines[-1].strip() == "'a'..."


# --- hashes, checks, predicates ----------------------------------------------------------------


def test_compute_self_hash():
    a = rc.Array(np.ones(3), name="a")
    b = rc.Array(np.zeros(3), name="b")
    e1 = rc.Einsum.from_einsum_string("i,i->i", a, a, name="e")
    e2 = rc.Einsum.from_einsum_string("i,i->i", b, a, name="e")
    e3 = rc.Einsum.from_einsum_string("i,i->", a, a, name="e")
    assert len(rc.compute_self_hash(e1)) == 32
    # the children's contents do not count, the node's own payload and name do
    assert rc.compute_self_hash(e1) == rc.compute_self_hash(e2)
    assert rc.compute_self_hash(e1) != rc.compute_self_hash(e3)
    renamed = e1.rename("f")
    assert rc.compute_self_hash(e1) != rc.compute_self_hash(renamed)
    assert rc.compute_self_hash(e1, hash_name=False) == rc.compute_self_hash(
        renamed, hash_name=False
    )
    add2 = rc.Add(a, a, name="s")
    add3 = rc.Add(a, a, a, name="s")
    assert rc.compute_self_hash(add2) != rc.compute_self_hash(add3)
    wide = rc.Add(rc.Array(np.ones((2, 3))), a, name="s")
    assert rc.compute_self_hash(rc.Add(a, a, name="s"), hash_child_shapes=True) != (
        rc.compute_self_hash(rc.Add(a, rc.Array(np.ones(1)), name="s"), hash_child_shapes=True)
    )
    assert rc.compute_self_hash(wide) != rc.compute_self_hash(add2)
    assert rc.compute_self_hash(a) != rc.compute_self_hash(b)


def test_check_evaluable_and_evaluate():
    a = rc.Array(np.arange(3.0), name="a")
    assert rc.check_evaluable(a) is None
    np.testing.assert_allclose(np.asarray(rc.evaluate(rc.Add(a, a))), 2 * np.arange(3.0))
    sym = rc.Symbol.new_with_random_uuid((3,), "s")
    with pytest.raises(rc.TensorEvalNotExplicitlyComputableError, match="'s'"):
        rc.check_evaluable(rc.Add(sym, name="s"))
    with pytest.raises(rc.TensorEvalError):
        rc.evaluate(sym)


def test_circuit_kind_predicates():
    a = rc.Array(np.ones(2))
    s = rc.Scalar(1.0, (2,))
    y = rc.Symbol.new_with_random_uuid((2,))
    add = rc.Add(a, s)
    var = rc.DiscreteVar(rc.Array(np.ones((3, 2))))
    table = {
        rc.circuit_is_leaf: {a, s, y},
        rc.circuit_is_irreducible_node: {a, y},
        rc.circuit_is_leaf_constant: {a, s},
        rc.circuit_is_var: {var},
    }
    for pred, yes in table.items():
        for c in (a, s, y, add, var):
            assert pred(c) == (c in yes), (pred.__name__, c)


def test_oom_fmt():
    assert [rc.oom_fmt(n) for n in (0, 999, 1000, 1_500_000, 10**24, 10**27)] == [
        "0",
        "999",
        "1K",
        "1M",
        "1Y",
        "1000Y",
    ]


def test_exception_with_rust_context():
    inner = KeyError("k")
    e = rc.ExceptionWithRustContext(inner, "while testing")
    assert e.exc is inner
    assert isinstance(e, Exception) and "while testing" in str(e)


def test_replace_all_randn_seeded():
    a = rc.Array(np.ones((3, 4), dtype=np.float32), name="a")
    b = rc.Array(np.zeros((3, 4), dtype=np.float32), name="b")
    idx = rc.Index(rc.Add(a, b, name="s"), (np.array([2, 0]),), name="ix")
    out = rc.replace_all_randn_seeded(idx)
    again = rc.replace_all_randn_seeded(idx)
    assert out == again  # seeded by the tensors' hashes
    new_a = out.get_unique("a")
    assert new_a.shape == (3, 4) and new_a.dtype == "float32"
    assert new_a != a and new_a != out.get_unique("b")
    positions = np.asarray(out.idx[0])
    assert positions.shape == (2,) and ((0 <= positions) & (positions < 3)).all()
    assert out.shape == idx.shape and out.name == "ix"


# --- argument errors ---------------------------------------------------------------------------


def test_argument_errors():
    a = rc.Array(np.ones(2), name="a")
    for fn in (rc.all_children, rc.toposort_circuit, rc.count_nodes):
        with pytest.raises(TypeError, match="circuit"):
            fn(3)
    with pytest.raises(TypeError, match="circuit"):
        rc.visit_circuit("x", print)
    with pytest.raises(TypeError, match="must return a Circuit"):
        rc.deep_map(a, lambda c: 1)
    with pytest.raises(ZeroDivisionError):
        rc.deep_map(a, lambda c: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        rc.filter_nodes(a, lambda c: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        rc.visit_circuit(a, lambda c: 1 / 0)
    with pytest.raises(TypeError, match="dict"):
        rc.replace_nodes(a, [(a, a)])
    with pytest.raises(TypeError, match="value of map"):
        rc.replace_nodes(a, {a: 3})
    with pytest.raises(TypeError):
        rc.prefix_all_names(a, 3)
    with pytest.raises(TypeError):
        rc.replace_outside_traversal_symbols(a, 3.5)


# --- memory ----------------------------------------------------------------------------------------


def test_walks_release_what_they_build():
    statm = "/proc/self/statm"
    if not os.path.exists(statm):
        pytest.skip("needs /proc/self/statm")
    if "libasan" in os.environ.get("LD_PRELOAD", ""):
        pytest.skip("AddressSanitizer's quarantine keeps freed memory resident")

    def resident():
        with open(statm) as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    trav = rc.new_traversal(end_depth=3)

    def step(i):
        # a fresh 16 KB tensor each time: a leaked node would keep it resident
        a = rc.Array(np.full(4096, float(i), dtype=np.float32), name="a")
        c = rc.Add(rc.relu(rc.Add(a, a, name="s")), a, name="top")
        rc.deep_map(c, leaf_plus_one)
        rc.deep_map_preorder(c, lambda x: x)
        rc.replace_nodes(c, {a: rc.Scalar(1.0, a.shape, "one")})
        rc.update_nodes(c, lambda x: x == a, lambda x: rc.Scalar(2.0, x.shape, "two"))
        rc.prefix_all_names(c, "p.")
        rc.replace_outside_traversal_symbols(c, trav)
        rc.append_matchers_to_names(c, trav)
        rc.toposort_circuit(c)
        rc.all_children(c)
        rc.filter_nodes(c, lambda x: True)
        rc.compute_self_hash(c)
        with pytest.raises(ZeroDivisionError):
            rc.deep_map(c, lambda x: 1 / 0)
        with pytest.raises(ValueError):
            rc.replace_nodes(c, {a: rc.Add(a, name="loop")})

    for i in range(300):
        step(i)
    gc.collect()
    before = resident()
    for i in range(3000):
        step(i)
    gc.collect()
    growth = resident() - before
    assert growth < 20 * (1 << 20), f"resident memory grew by {growth / (1 << 20):.1f} MB"
