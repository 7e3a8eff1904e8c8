"""Engine checks of matching and update (csrc/match) against hand-computed answers: the REMIX
patterns, spec 3.6, sharing and memoisation, deep circuits (no recursion), module matchers,
state-machine details and error paths. The brute-force comparisons live in test_match.py and
test_update.py."""

import re

import numpy as np
import pytest

import circuits as rc


def scalar(value, shape, name=None):
    return rc.Scalar(value, shape=shape, name=name)


def remix():
    """A 3-layer residual circuit named as in REMIX: final.input = Add(emb, a0.h0, a0.h1, m0,
    a1.h0, ...), each component reading an Add of the earlier ones."""
    components = [rc.Array(np.arange(4.0), name="emb")]
    for layer in range(3):
        inp = rc.Add(*components, name=f"a{layer}.input")
        for h in range(2):
            w = rc.Array(np.full(4, layer + 0.1 * h), name=f"a{layer}.h{h}.w")
            components.append(rc.Einsum.from_einsum_string("d,d->d", inp, w, name=f"a{layer}.h{h}"))
        m_inp = rc.Add(*components, name=f"m{layer}.input")
        components.append(rc.relu(m_inp, name=f"m{layer}"))
    return rc.Add(*components, name="final.input")


def named(circuit):
    out = {}
    circuit.visit(lambda c: out.setdefault(c.name, c))
    return out


def branching():
    a = scalar(1.0, (1, 2), "a")
    b = scalar(2.0, (2, 3), "b")
    ein = rc.Einsum.from_einsum_string("ij,jk->ik", a, b, name="ein")
    soft = rc.softmax(ein, name="soft")
    return a, b, ein, soft, rc.Add(ein, soft, name="fin")


# --- REMIX patterns ---------------------------------------------------------------------------


def test_direct_path_to_head():
    root = remix()
    nodes = named(root)
    m = rc.IterativeMatcher("final.input").chain(rc.restrict("a1.h0", end_depth=2))
    assert m.get(root) == {nodes["a1.h0"]}
    assert root.get_all_paths(m) == {nodes["a1.h0"]: [[nodes["a1.h0"], root]]}
    # by name alone: directly, and through m1.input, a2.input (twice) and m2.input, and
    # through m1 into each of those later reads
    assert len(root.get_all_paths("a1.h0")[nodes["a1.h0"]]) > 1


def test_chain_excluding_keeps_only_the_direct_path():
    pytest.importorskip("torch")  # circuits.causal_scrubbing needs torch, as rc's does
    from circuits.causal_scrubbing.hypothesis import chain_excluding, corr_root_matcher

    root = remix()
    nodes = named(root)
    m = chain_excluding(corr_root_matcher, "a1.h0", {"m2", "m1", "a2.h0", "a2.h1"})
    assert root.get_all_paths(m) == {nodes["a1.h0"]: [[nodes["a1.h0"], root]]}
    zero = root.update(m, lambda c: rc.Array(np.zeros(4), name="a1.h0"))
    expected = root.evaluate() - nodes["a1.h0"].evaluate()
    np.testing.assert_allclose(zero.evaluate(), expected)
    # m1 still reads the original head
    assert zero.get_unique("m1") == nodes["m1"]


def test_regex_heads_and_mlps():
    root = remix()
    found = {c.name for c in root.get(rc.Regex(r"[am]\d(.h\d)?$"))}
    assert found == {f"a{i}.h{h}" for i in range(3) for h in range(2)} | {"m0", "m1", "m2"}
    assert {c.name for c in root.get(rc.Regex(r"^a\d.h0$"))} == {"a0.h0", "a1.h0", "a2.h0"}


def test_update_through_mlps_only():
    root = remix()
    nodes = named(root)
    m = (rc.Matcher("m1") | rc.Matcher("m2")).chain("a0.h0")
    out = root.update(m, lambda c: c.mul_scalar(0.0))
    # the direct read of a0.h0 by final.input is untouched; m1 and m2 see it zeroed
    assert out.children[1] == nodes["a0.h0"]
    assert out.get_unique("m1") != nodes["m1"]
    # m0 is read directly (unchanged) and, inside m1 and m2, with a0.h0 zeroed (a new copy)
    assert nodes["m0"] in out.get("m0") and len(out.get("m0")) == 2
    # a2.h0 reads the new m1 (directly) or a zeroed a0.h0 (inside m2): the original is gone
    assert len(out.get("a2.h0")) == 2 and nodes["a2.h0"] not in out.get("a2.h0")


def test_update_branching_spec_36():
    a, b, ein, soft, fin = branching()
    b2 = scalar(1.7, (2, 3), "b_prime")
    out = fin.update(rc.Matcher("soft").chain("b"), lambda _: b2)
    assert out.children[0] == ein
    assert out.children[1].children[0].children[1] == b2
    everywhere = fin.update("b", lambda _: b2)
    assert everywhere.children[0].children[1] == b2
    assert everywhere.children[1].children[0].children[1] == b2
    # the copy under soft and the direct child are the same node again
    assert everywhere.children[0] == everywhere.children[1].children[0]


def test_identity_update_is_the_same_circuit():
    root = remix()
    matchers = ["a1.h0", rc.Regex("h"), rc.new_traversal(end_depth=3)]
    for m in matchers + [rc.Matcher(rc.Add).chain("emb")]:
        out = root.update(m, lambda c: c)
        assert out.hash == root.hash
        assert root.update(m, rc.Transform.ident()) == root


def test_update_shares_untouched_subtrees():
    root = remix()
    nodes = named(root)
    m = rc.IterativeMatcher("final.input").chain(rc.restrict("m2", end_depth=2))
    out = root.update(m, lambda c: c.mul_scalar(2.0))
    # only the root and m2 changed; every other child object is shared
    assert [x is y or x == y for x, y in zip(out.children, root.children)].count(False) == 1
    assert out.get_unique("m1") == nodes["m1"]


# --- state machine details --------------------------------------------------------------------


def test_restrict_depth_counter_and_finish():
    x = scalar(1.0, (2,), "x")
    chain = x
    for i in range(5):
        chain = rc.Add(chain, name=f"n{i}")
    # depths: n4 = 0, n3 = 1, ... x = 5
    got = chain.get(rc.new_traversal(start_depth=2, end_depth=4))
    assert {c.name for c in got} == {"n2", "n1"}
    m = rc.restrict("x", end_depth=3)
    res = m.match_iterate(chain)
    assert not res.found and isinstance(res.updated, rc.IterativeMatcher)
    res2 = res.updated.match_iterate(chain.children[0])
    res3 = res2.updated.match_iterate(chain.children[0].children[0])
    assert res3.updated == rc.FINISHED


def test_children_matcher_and_per_child_states():
    a, b, ein, soft, fin = branching()
    m = rc.IterativeMatcher("ein").children_matcher({1})
    assert fin.get(m) == {b}
    res = m.match_iterate(ein)
    assert not res.found and isinstance(res.updated, list) and len(res.updated) == 2
    with pytest.raises(rc.IterativeMatcherChildNumbersOutOfBoundsError, match="num_children=2"):
        fin.get(rc.IterativeMatcher("ein").children_matcher({2}))


def test_children_matcher_still_visits_the_children_it_does_not_find():
    # rc gives the other children term(False): they find nothing but are stepped, so another
    # member of an all() still meets them (here a GeneralFunction with one child).
    x = scalar(1.0, (2,), "x")
    g = rc.relu(x, name="g")
    root = rc.Add(scalar(2.0, (2,), "a"), g, name="root")
    first = rc.restrict(True, term_if_matches=True).children_matcher({0})
    assert root.get(first) == {root.children[0]}
    res = first.match_iterate(root)
    assert res.updated == [rc.IterativeMatcher.term(True), rc.IterativeMatcher.term(False)]
    both = rc.IterativeMatcher.all(
        first, rc.IterativeMatcher(rc.GeneralFunction).children_matcher({0, 1})
    )
    with pytest.raises(rc.IterativeMatcherChildNumbersOutOfBoundsError, match="'g'"):
        root.get(both)
    with pytest.raises(rc.IterativeMatcherChildNumbersOutOfBoundsError, match="'g'"):
        root.update(both, lambda c: c)


def test_all_finishes_when_a_member_finishes():
    a, b, ein, soft, fin = branching()
    both = rc.IterativeMatcher.all(rc.Scalar, rc.restrict(True, end_depth=3))
    assert fin.get(both) == {a, b}
    assert fin.get(rc.IterativeMatcher.all(rc.Scalar, rc.restrict(True, end_depth=2))) == set()


def test_union_of_unions_is_flat_and_equal():
    x = rc.IterativeMatcher("x")
    y = rc.IterativeMatcher("y")
    z = rc.IterativeMatcher("z")
    assert (x | y) | z == x | (y | z) == rc.IterativeMatcher.any(x, y, z)
    m = rc.Matcher(False)
    for i in range(5000):
        m = m | f"name{i}"  # a long fold stays flat
    assert m(scalar(1.0, (), "name4999"))
    assert not m(scalar(1.0, (), "name5000"))


def test_nesting_limit_is_an_error_not_a_crash():
    m = rc.Matcher("a")
    with pytest.raises(ValueError, match="nested more than"):
        for _ in range(2000):
            m = ~m


def test_get_paths_takes_the_last_child_path():
    a = scalar(1.0, (), "a")
    b = rc.Add(a, name="b")
    c = rc.Add(b, a, name="c")
    d = rc.Add(c, b, name="d")
    # paths to a: d>c>b>a, d>c>a, d>b>a; the last child at each step: d>b>a
    assert d.get_paths("a") == {a: [a, b, d]}
    assert [len(p) for p in d.get_all_paths("a")[a]] == [4, 3, 3]


def test_are_any_found_stops_early_and_caches():
    calls = []
    leaf = scalar(1.0, (2,), "leaf")
    node = leaf
    for k in range(40):
        node = rc.Add(node, node, name=f"x{k}")
    bound = rc.IterativeMatcher(lambda c: calls.append(c.name) or c.name == "leaf").any_found()
    assert bound(node)
    assert len(calls) == 41  # one call per distinct node, not per path
    calls.clear()
    assert bound(node)  # answered from the cache kept by the BoundAnyFound
    assert calls == []


def test_get_calls_a_plain_matcher_once_per_node_object():
    calls = []
    node = scalar(1.0, (2,), "leaf")
    for k in range(40):
        node = rc.Add(node, node, name=f"x{k}")
    found = node.get(lambda c: calls.append(c.name) or c.name.startswith("x3"))
    assert sorted(calls) == sorted(["leaf"] + [f"x{k}" for k in range(40)])
    assert found == {c for c in node.get(rc.Add) if c.name.startswith("x3")}
    assert len(found) == 11  # x3, x30 ... x39


def test_get_dedups_equal_nodes_that_are_different_objects():
    leaf = scalar(1.0, (2,), "leaf")
    a = rc.Add(leaf, name="s")
    b = rc.Add(leaf, name="s")
    assert a is not b and a == b
    root = rc.Add(a, b, name="root")
    assert root.get("s") == {a}
    assert len(root.get(rc.Add)) == 2
    assert root.are_any_found("s")
    assert root.get_unique("s") == a


def test_get_nested_in_a_callable_matcher():
    # The inner walks run while the outer one is under way; both must visit each node once.
    root = remix()
    sizes = {c.name: len(c.get(True)) for c in root.get(True)}
    outer_calls, inner_calls = [], []

    def big(c):
        outer_calls.append(c.name)
        inner = c.get(lambda x: inner_calls.append(x) or True)
        return len(inner) > 10

    assert {c.name for c in root.get(big)} == {n for n, size in sizes.items() if size > 10}
    assert sorted(outer_calls) == sorted(sizes)
    assert len(inner_calls) == sum(sizes.values())
    assert root.get(lambda c: re.fullmatch(r"a2\.h\d", c.name)) == {
        root.get_unique("a2.h0"),
        root.get_unique("a2.h1"),
    }


def test_update_and_paths_nested_in_a_callable_matcher():
    root = remix()
    big = {c.name for c in root.get(True) if len(c.get(True)) > 10}

    calls = []

    def is_big(c):
        calls.append(c)
        return len(c.get(lambda x: bool(x.get_paths(True)))) > 10

    def suffix(c):
        return c.rename(c.name + "'")

    assert root.update(is_big, suffix) == root.update(big, suffix)
    assert len(calls) == len(root.get(True))  # the inner walks leave the outer one's marks
    assert root.get_all_paths(is_big) == root.get_all_paths(big)


def test_get_after_a_failing_callable_matcher():
    root = remix()

    def fail(c):
        if c.name == "m1":
            raise KeyError("m1")
        return False

    with pytest.raises(KeyError):
        root.get(fail)
    calls = []
    assert root.get(lambda c: calls.append(c) or c.name == "m1") == {root.get_unique("m1")}
    assert len(calls) == len(root.get(True))


# --- deep and wide circuits -------------------------------------------------------------------


def test_deep_circuit_has_no_recursion_limit():
    x = scalar(1.0, (2,), "bottom")
    node = x
    for i in range(20000):
        node = rc.Add(node, name=f"d{i}")
    assert node.get_unique("bottom") == x
    assert node.are_any_found("bottom")
    path = node.get_paths("bottom")[x]
    assert len(path) == 20001
    out = node.update("bottom", lambda c: c.rename("new_bottom"))
    assert out.get_unique(rc.Scalar).name == "new_bottom"
    deep = rc.restrict("bottom", end_depth=20001)
    assert node.get(deep) == {x}
    assert node.get(rc.restrict("bottom", end_depth=20000)) == set()


def test_exponentially_many_paths_cost_linear_work():
    leaf = scalar(1.0, (2,), "leaf")
    node = leaf
    for k in range(60):
        node = rc.Add(node, node, name=f"x{k}")
    calls = []
    out = node.update(lambda c: calls.append(c) or c.name == "leaf", lambda c: c.rename("new"))
    assert len(calls) == 61
    assert out.get_unique(rc.Scalar).name == "new"
    assert len(node.get_all_circuits_in_paths("leaf")) == 61


# --- modules ------------------------------------------------------------------------------------


def module_circuit():
    x = rc.Symbol.new_with_random_uuid((2,), "x")
    body = rc.Add(x, scalar(1.0, (2,), "one"), name="body")
    spec = rc.ModuleSpec(body, [rc.ModuleArgSpec(x)])
    arg = rc.Array(np.ones(2), name="arg")
    return rc.Module(spec, name="mod", x=arg), body, arg


def test_module_matchers():
    mod, body, arg = module_circuit()
    assert mod.get("one") == {body.children[1]}
    assert rc.IterativeMatcher("one").filter_module_spec().get(mod) == set()
    assert rc.IterativeMatcher("arg").filter_module_spec().get(mod) == {arg}
    assert rc.IterativeMatcher("mod").spec_circuit_matcher().get(mod) == {body}
    assert rc.IterativeMatcher("mod").module_arg_matcher("x").get(mod) == {arg}
    assert rc.IterativeMatcher("mod").module_arg_matcher("y").get(mod) == set()
    with pytest.raises(rc.IterativeMatcherExpectedModuleError, match="not a module"):
        rc.IterativeMatcher("arg").spec_circuit_matcher().get(mod)


# --- Python surface ---------------------------------------------------------------------------


def test_repr_and_debug_print():
    m = rc.restrict(rc.Matcher("a") | rc.Add, end_depth=2, term_early_at="z")
    text = m.debug_print_to_str()
    assert "'a'" in text and "Add" in text and "end_depth=2" in text and "'z'" in text
    assert repr(rc.Matcher("a")) == "Matcher('a')"
    assert repr(rc.FINISHED) == "FINISHED"
    assert rc.Finished() is rc.FINISHED


def test_iterate_match_results_conversion():
    r = rc.IterateMatchResults(["a", None, rc.FINISHED], True)
    assert r.updated == [rc.IterativeMatcher("a"), rc.FINISHED, rc.FINISHED]
    r.updated = "b"
    assert r.updated == rc.IterativeMatcher("b")
    assert r.unwrap_or_same(rc.IterativeMatcher("c")) == (rc.IterativeMatcher("b"), True)
    with pytest.raises(TypeError, match="float"):
        rc.IterateMatchResults(1.5)


def test_new_func_must_return_results():
    a, b, ein, soft, fin = branching()
    with pytest.raises(TypeError, match="IterateMatchResults, not int"):
        fin.get(rc.IterativeMatcher.new_func(lambda c: 3))


def test_matcher_type_errors_name_the_type():
    with pytest.raises(TypeError, match="Circuit is not a circuit node type"):
        rc.Matcher(rc.Circuit)
    with pytest.raises(TypeError, match="not an IterativeMatcher"):
        rc.Matcher(rc.IterativeMatcher("a"))
    with pytest.raises(TypeError, match="int"):
        rc.Matcher({"a", 1})


def test_bad_regex_is_value_error_naming_pattern():
    with pytest.raises(ValueError, match=re.escape("'a[b'")):
        rc.Regex("a[b")


def test_transform_shape_error_names_parent_and_child():
    a, b, ein, soft, fin = branching()
    with pytest.raises(rc.ConstructEinsumAxisSizeDifferentError) as info:
        fin.update("b", lambda c: scalar(0.0, (5, 3), "wide"))
    message = str(info.value)
    assert "Einsum 'ein'" in message and "Scalar 'b'" in message and "(5, 3)" in message


def test_getter_updater_objects_and_defaults():
    a, b, ein, soft, fin = branching()
    u = rc.Updater(lambda c: c.rename(c.name + "!"), default_assert_any_found=True)
    assert u(fin, "a").get_unique("a!").shape == a.shape
    with pytest.raises(RuntimeError, match="No matches found during update"):
        u(fin, "zzz")
    u.default_assert_any_found = False
    assert u(fin, "zzz") == fin
    g = rc.Getter()
    g.default_fancy_validate = True
    with pytest.raises(RuntimeError, match="Didn't match all names"):
        g(fin, {"a", "zzz"})
