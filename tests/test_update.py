"""Circuit.update and its object forms (spec 3.6), against the brute-force reference in
match_reference.py (a post-order rebuild along every followed path), hand-built expected
circuits and numpy forward passes of the REMIX-style transformer."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import circuits as rc
import match_reference as mref
import match_strategies as ms
import reference as ref
from match_reference import Reference


def scalar(value, shape, name=None):
    return rc.Scalar(value, shape=shape, name=name)


def branching():
    """spec 3.6: fin = Add(ein, soft(ein)), ein = Einsum(a, b); b_prime replaces b."""
    a = scalar(1.0, (1, 2), "a")
    b = scalar(2.0, (2, 3), "b")
    ein = rc.Einsum.from_einsum_string("ij,jk->ik", a, b, name="ein")
    soft = rc.softmax(ein, name="soft")
    return a, b, ein, soft, rc.Add(ein, soft, name="fin"), scalar(1.7, (2, 3), "b_prime")


def rebuilt_branching(a, b_first, b_second):
    """fin with the b under the direct ein and the b under soft's ein given separately."""
    ein1 = rc.Einsum.from_einsum_string("ij,jk->ik", a, b_first, name="ein")
    ein2 = rc.Einsum.from_einsum_string("ij,jk->ik", a, b_second, name="ein")
    return rc.Add(ein1, rc.softmax(ein2, name="soft"), name="fin")


@pytest.fixture(scope="module")
def tf():
    root, params = ms.small_transformer()
    nodes = {}
    root.visit(lambda c: nodes.setdefault(c.name, c))
    nodes["root"] = root
    return nodes, params


def zeros_like(c):
    return rc.Scalar(0.0, shape=c.shape, name=c.name + ".zero")


def final_from(nodes, replace):
    """final.input rebuilt from its components, with replace[name] in place of a component."""
    return rc.Add(*[replace.get(n, nodes[n]) for n in ms.COMPONENTS], name="final.input")


# ---------------------------------------------------------------------------------------------
# The reference on its own, against hand-built answers (needs only the node API).


def test_reference_update_branching():
    a, b, ein, soft, fin, b_prime = branching()
    for memo in [False, True]:
        r = Reference(memo=memo)
        assert r.update(fin, mref.new_chain("soft", "b"), lambda _: b_prime) == rebuilt_branching(
            a, b, b_prime
        )
        assert r.update(fin, "b", lambda _: b_prime) == rebuilt_branching(a, b_prime, b_prime)
        assert r.update(
            fin, mref.restrict("b", end_depth=3), lambda _: b_prime
        ) == rebuilt_branching(a, b_prime, b)
        assert r.update(fin, "zzz", lambda _: b_prime) == fin


def test_reference_update_transformer(tf):
    nodes, _ = tf
    root = nodes["root"]
    direct = mref.new_chain("final.input", mref.restrict("a1.h0", end_depth=2))
    expected = final_from(nodes, {"a1.h0": zeros_like(nodes["a1.h0"])})
    assert Reference().update(root, direct, zeros_like) == expected
    assert Reference(memo=True).update(root, direct, zeros_like) == expected


def test_reference_update_is_post_order():
    a, b, ein, soft, fin, b_prime = branching()
    seen = []

    def record(c):
        seen.append(c)
        return c.rename(c.name + "'")

    out = Reference().update(fin, mref.matcher({"b", "ein"}), record)
    # b is transformed before the ein that contains it, and ein sees the renamed b
    assert [c.name for c in seen][:2] == ["b", "ein"]
    assert seen[1].children[1].name == "b'"
    assert out.children[0].name == "ein'"


@given(ms.dags_and_matchers(), st.sampled_from(ms.TRANSFORMS))
def test_reference_update_memo_agrees_with_literal(case, transform):
    root, _, spec = case
    try:
        expected = Reference().update(root, spec, transform)
    except mref.RefError:
        return
    assert Reference(memo=True).update(root, spec, transform) == expected
    assert Reference(memo=True).update(root, spec, transform, cache_transform=False) == expected


# ---------------------------------------------------------------------------------------------
# spec 3.6 example and the object forms


def test_update_branching_all_forms():
    a, b, ein, soft, fin, b_prime = branching()

    def check(matcher, expected, transform):
        assert matcher.update(fin, transform) == expected
        assert fin.update(matcher, transform) == expected
        assert rc.Updater(transform)(fin, matcher) == expected
        assert rc.Updater(transform).update(fin, matcher) == expected
        assert rc.Updater(transform).bind(matcher)(fin) == expected
        assert rc.Updater(transform).bind(matcher).update(fin) == expected
        assert rc.BoundUpdater(rc.Updater(transform), matcher)(fin) == expected
        assert matcher.updater(transform)(fin) == expected
        assert rc.Transform(transform).updater()(fin, matcher) == expected
        assert fin.update(matcher, rc.Transform(transform)) == expected

    # replacing b everywhere, versus only the b under soft's copy of ein
    check(rc.Matcher(b), rebuilt_branching(a, b_prime, b_prime), lambda _: b_prime)
    check(rc.Matcher("b"), rebuilt_branching(a, b_prime, b_prime), lambda _: b_prime)
    check(rc.Matcher("soft").chain("b"), rebuilt_branching(a, b, b_prime), lambda _: b_prime)
    check(
        rc.IterativeMatcher.new_chain("soft", "b"),
        rebuilt_branching(a, b, b_prime),
        lambda _: b_prime,
    )
    out = fin.update(rc.Matcher("soft").chain("b"), lambda _: b_prime)
    assert out.children[0] == ein
    assert out.children[1].children[0] != ein
    # a depth-limited restrict reaches b at depth 2 (through ein) but not at depth 3 (through soft)
    check(rc.restrict("b", end_depth=3), rebuilt_branching(a, b_prime, b), lambda _: b_prime)
    check(rc.restrict("b", start_depth=3), rebuilt_branching(a, b, b_prime), lambda _: b_prime)


def test_transform_and_updater_objects():
    a, b, ein, soft, fin, b_prime = branching()
    assert rc.Transform.ident()(a) == a
    assert rc.Transform.ident().run(fin) == fin
    t = rc.Transform(lambda c: c.rename("renamed"))
    assert t.run(a).name == "renamed" and t(a).name == "renamed"
    assert rc.Transform(t)(b).name == "renamed"
    assert fin.update("b", rc.Transform.ident()) == fin
    u = rc.Updater(lambda c: c)
    assert u.cache_transform is True and u.cache_update is True
    assert u.default_fancy_validate is False
    u2 = rc.Updater(
        lambda c: c, cache_transform=False, cache_update=False, default_fancy_validate=True
    )
    assert u2.cache_transform is False and u2.cache_update is False and u2.default_fancy_validate
    assert isinstance(u2.transform, rc.Transform)
    bound = u.bind("b")
    assert isinstance(bound, rc.BoundUpdater)
    assert bound.matcher == rc.IterativeMatcher("b")


def test_transform_sees_updated_children():
    a, b, ein, soft, fin, b_prime = branching()
    seen = {}

    def record(c):
        seen.setdefault(c.name, []).append(c)
        return b_prime if c.name == "b" else c.rename(c.name + "'")

    out = fin.update(rc.Matcher({"b", "ein"}), record)
    assert [x.children[1] for x in seen["ein"]] == [b_prime]
    assert out == rc.Add(
        rc.Einsum.from_einsum_string("ij,jk->ik", a, b_prime, name="ein'"),
        rc.softmax(rc.Einsum.from_einsum_string("ij,jk->ik", a, b_prime, name="ein'"), name="soft"),
        name="fin",
    )
    assert out == Reference().update(fin, mref.matcher({"b", "ein"}), record)


def test_transform_output_is_not_traversed():
    a, b, ein, soft, fin, b_prime = branching()
    # the replacement contains a node named "b", which must not be matched again
    out = fin.update("b", lambda c: rc.Add(c, name="wrapped"))
    wrapped = rc.Add(b, name="wrapped")
    assert out == rebuilt_branching(a, wrapped, wrapped)


# ---------------------------------------------------------------------------------------------
# memoisation: by (node, matcher state) for updates, by input for transforms


def test_transform_called_once_per_distinct_input():
    a, b, ein, soft, fin, b_prime = branching()
    calls = []

    def transform(c):
        calls.append(c)
        return b_prime

    # b is reached along two paths with the same matcher state: transformed once, stays shared
    out = fin.update("b", transform)
    assert out == rebuilt_branching(a, b_prime, b_prime)
    assert calls == [b]
    assert out.children[0] == out.children[1].children[0]
    # the cache switches change the work done, never the result
    for cache_transform in [False, True]:
        for cache_update in [False, True]:
            again = fin.update(
                "b", transform, cache_transform=cache_transform, cache_update=cache_update
            )
            assert again == out


def test_update_visits_each_node_state_pair_once():
    """x_{k+1} = Add(x_k, x_k): 2**30 paths but 31 distinct nodes; a predicate matcher keeps
    its state, so it is called once per node."""
    node = scalar(1.0, (2,), "leaf")
    for k in range(30):
        node = rc.Add(node, node, name=f"x{k}")
    calls = []

    def is_leaf(c):
        calls.append(c)
        return c.name == "leaf"

    out = node.update(is_leaf, lambda c: c.rename("new_leaf"))
    assert len(calls) == 31
    assert out.get_unique(rc.Scalar).name == "new_leaf"
    calls.clear()
    assert node.get(is_leaf) == {node.get_unique("leaf")}
    assert len(calls) == 31
    calls.clear()
    assert len(node.get_paths(is_leaf)[node.get_unique("leaf")]) == 31
    assert len(calls) == 31
    # a depth-limited restrict has a different state at every depth: still one visit per pair
    calls.clear()
    out = node.update(rc.restrict(is_leaf, end_depth=31), lambda c: c.rename("new_leaf"))
    assert len(calls) == 31
    assert out.get_unique(rc.Scalar).name == "new_leaf"


# ---------------------------------------------------------------------------------------------
# REMIX patterns on the transformer, against numpy


def test_remix_update_direct_path_only(tf):
    nodes, params = tf
    root, head = nodes["root"], nodes["a1.h0"]
    m = rc.IterativeMatcher("final.input").chain(rc.restrict("a1.h0", end_depth=2))
    out = root.update(m, zeros_like)
    assert out == final_from(nodes, {"a1.h0": zeros_like(head)})
    # the head is unchanged everywhere else: through m1, a2.h*, m2
    assert out.get_unique("m1") == nodes["m1"]
    assert out.get_unique("m2") == nodes["m2"]
    assert out.get("a1.h0") == {head}
    expected = ms.forward_np(params, swap={("final.input", "a1.h0"): 0.0})["final.input"]
    ref.assert_close(out.evaluate(), expected)
    spec = mref.new_chain("final.input", mref.restrict("a1.h0", end_depth=2))
    assert out == Reference().update(root, spec, zeros_like)


def test_remix_update_position_under_direct_head(tf):
    nodes, params = tf
    root = nodes["root"]
    new_pos = np.linspace(-1.0, 1.0, ms.D)
    m = (
        rc.IterativeMatcher("final.input")
        .chain(rc.restrict("a1.h0", end_depth=2))
        .chain("a1.input.at_pos1")
    )
    out = root.update(m, lambda c: rc.Array(new_pos, name=c.name))
    clean = ms.forward_np(params)
    inp = clean["emb"] + sum(clean[n] for n in ["a0.h0", "a0.h1", "m0"])
    patched_head = np.einsum("sd,d,de->se", inp, new_pos, params["a1.h0.w"])
    ref.assert_close(out.evaluate(), clean["final.input"] - clean["a1.h0"] + patched_head)
    assert out.get_unique("m1") == nodes["m1"]
    assert len(out.get("a1.h0")) == 2
    spec = mref.new_chain(
        mref.new_chain("final.input", mref.restrict("a1.h0", end_depth=2)), "a1.input.at_pos1"
    )
    assert out == Reference().update(root, spec, lambda c: rc.Array(new_pos, name=c.name))


def test_remix_update_through_mlps(tf):
    nodes, params = tf
    root = nodes["root"]
    m = (rc.Matcher("m1") | rc.Matcher("m2")).chain("a0.h0")
    out = root.update(m, zeros_like)
    # every m1 and m2 sees a0.h0 zeroed in its whole subtree; other components read a0.h0
    # unchanged but read the patched m1
    corrupted = ms.forward_np(params, override={"a0.h0": 0.0 * params["emb"]})
    expected = ms.forward_np(params, override={"m1": corrupted["m1"], "m2": corrupted["m2"]})
    ref.assert_close(out.evaluate(), expected["final.input"])
    assert out.children[ms.COMPONENTS.index("a0.h0")] == nodes["a0.h0"]
    assert out.children[ms.COMPONENTS.index("a2.h0")] != nodes["a2.h0"]
    spec = mref.new_chain(mref.matcher("m1") | "m2", "a0.h0")
    assert out == Reference().update(root, spec, zeros_like)
    assert out == Reference(memo=True).update(root, spec, zeros_like)


def test_remix_chain_excluding_update(tf):
    pytest.importorskip("torch")  # circuits.causal_scrubbing needs torch, as rc's does
    from circuits.causal_scrubbing.hypothesis import chain_excluding, corr_root_matcher

    nodes, params = tf
    root = nodes["root"]
    m = chain_excluding(corr_root_matcher, "a1.h0", {"m2", "m1", "a2.h0", "a2.h1"})
    out = root.update(m, zeros_like)
    assert out == final_from(nodes, {"a1.h0": zeros_like(nodes["a1.h0"])})
    out_m1 = root.update(
        chain_excluding(corr_root_matcher, "a1.h0", {"m2", "a2.h0", "a2.h1"}), zeros_like
    )
    swap = {("final.input", "a1.h0"): 0.0}
    clean_m1 = ms.forward_np(params)["m1"]
    patched_m1 = ms.forward_np(params, swap={("m1", "a1.h0"): 0.0})["m1"]
    expected = ms.forward_np(params, swap=swap)["final.input"] - clean_m1 + patched_m1
    ref.assert_close(out_m1.evaluate(), expected)


def test_update_per_child_and_children_matcher():
    a, b, ein, soft, fin, b_prime = branching()
    a_prime = scalar(5.0, (1, 2), "a_prime")

    def swap(c):
        return {"a": a_prime, "b": b_prime}[c.name]

    second_only = rc.IterativeMatcher.new_func(
        lambda c: (
            rc.IterateMatchResults([rc.FINISHED, True]) if c == ein else rc.IterateMatchResults()
        )
    )
    out = fin.update(second_only, swap)
    assert out == rebuilt_branching(a, b_prime, b_prime)
    first = rc.IterativeMatcher("ein").children_matcher({0})
    new_ein = rc.Einsum.from_einsum_string("ij,jk->ik", a_prime, b, name="ein")
    assert fin.update(first, swap) == rc.Add(new_ein, rc.softmax(new_ein, name="soft"), name="fin")


# ---------------------------------------------------------------------------------------------
# what is rebuilt: constructors run again (autonames), finished children are kept as they are


def test_rebuilt_unnamed_node_gets_an_autoname():
    a = scalar(1.0, (2,), "a")
    b = scalar(2.0, (2,), "b")
    unnamed = rc.Add(a, b).rename(None)
    root = rc.Add(unnamed, name="r")
    assert unnamed.name == ""
    # visited and rebuilt through the constructor (spec 1.1), although nothing matched
    assert root.update("zzz", lambda c: c).children[0].name == "a + b"
    assert root.update("a", lambda c: c.rename("a2")).children[0].name == "a2 + b"
    # finished at the unnamed node's parent, or at the node itself: kept as it is
    assert root.update(rc.restrict("zzz", end_depth=1), lambda c: c) == root
    assert root.update(rc.restrict("zzz", end_depth=2), lambda c: c) == root


# ---------------------------------------------------------------------------------------------
# errors and validation


def test_update_assert_any_found_and_fancy_validate():
    a, b, ein, soft, fin, b_prime = branching()
    assert fin.update("zzz", lambda c: b_prime) == fin
    with pytest.raises(RuntimeError, match="No matches found during update"):
        fin.update("zzz", lambda c: b_prime, assert_any_found=True)
    with pytest.raises(RuntimeError, match="No matches found during update"):
        rc.Updater(lambda c: c, default_assert_any_found=True)(fin, "zzz")
    with pytest.raises(RuntimeError, match="No matches found during update"):
        rc.Matcher("zzz").updater(lambda c: c, default_assert_any_found=True)(fin)
    assert (
        rc.Updater(lambda c: c, default_assert_any_found=True)(fin, "zzz", assert_any_found=False)
        == fin
    )
    assert fin.update("b", lambda c: b_prime, assert_any_found=True) == rebuilt_branching(
        a, b_prime, b_prime
    )
    with pytest.raises(RuntimeError, match="Didn't match all names"):
        fin.update({"b", "zzz"}, lambda c: b_prime, fancy_validate=True)
    with pytest.raises(RuntimeError, match="Didn't match all names"):
        rc.Updater(lambda c: c, default_fancy_validate=True)(fin, {"b", "zzz"})
    with pytest.raises(RuntimeError, match="Didn't match all names"):
        rc.Matcher({"b", "zzz"}).update(fin, lambda c: c, fancy_validate=True)
    # validation runs before updating: the transform is never called
    calls = []
    with pytest.raises(RuntimeError, match="Didn't match all types"):
        fin.update(rc.Matcher.types(rc.Scalar, rc.Symbol), calls.append, fancy_validate=True)
    assert calls == []


def test_transform_with_wrong_shape_names_parent_and_child(tf):
    nodes, _ = tf
    root = nodes["root"]
    pos = (
        rc.IterativeMatcher("final.input")
        .chain(rc.restrict("a1.h0", end_depth=2))
        .chain("a1.input.at_pos1")
    )
    with pytest.raises(rc.ConstructEinsumAxisSizeDifferentError, match="a1.h0") as info:
        root.update(pos, lambda c: rc.Scalar(0.0, shape=(ms.D + 1,), name=c.name))
    assert "a1.input.at_pos1" in str(info.value)
    head = rc.IterativeMatcher("final.input").chain(rc.restrict("a1.h0", end_depth=2))
    with pytest.raises(rc.MiscInputNotBroadcastableError, match="final.input") as info:
        root.update(head, lambda c: rc.Scalar(0.0, shape=(2,), name=c.name))
    assert "a1.h0" in str(info.value)


def test_transform_errors_propagate():
    a, b, ein, soft, fin, b_prime = branching()

    def boom(c):
        raise KeyError("from the transform")

    with pytest.raises(KeyError, match="from the transform"):
        fin.update("b", boom)


def test_transform_must_return_a_circuit():
    a, b, ein, soft, fin, b_prime = branching()
    with pytest.raises(TypeError, match="int"):
        fin.update("b", lambda c: 3)
    with pytest.raises(TypeError, match="float"):
        fin.update(2.5, lambda c: c)


# ---------------------------------------------------------------------------------------------
# random DAGs and matchers against the literal reference


@given(ms.dags_and_matchers(), st.sampled_from(ms.TRANSFORMS))
def test_random_update_matches_reference(case, transform):
    root, _, spec = case
    m = spec.to_rc()
    try:
        expected = Reference().update(root, spec, transform)
    except mref.RefError as e:
        with pytest.raises(getattr(rc, e.kind)):
            root.update(m, transform)
        return
    out = root.update(m, transform)
    assert out.hash == expected.hash, (out, expected)
    for cache_transform in [False, True]:
        for cache_update in [False, True]:
            again = root.update(
                m, transform, cache_transform=cache_transform, cache_update=cache_update
            )
            assert again == expected
    found = Reference().get(root, spec)
    if not found:
        with pytest.raises(RuntimeError, match="No matches found during update"):
            root.update(m, transform, assert_any_found=True)
    else:
        assert root.update(m, transform, assert_any_found=True) == expected


@given(ms.dags_and_matchers())
def test_random_identity_update_is_equal(case):
    root, _, spec = case
    m = spec.to_rc()
    try:
        Reference().get(root, spec)
    except mref.RefError:
        return
    assert root.update(m, lambda c: c).hash == root.hash
    assert root.update(m, rc.Transform.ident()) == root
    assert m.updater(lambda c: c)(root) == root


TF_ROOT, TF_NODES = ms.transformer_nodes()


@given(ms.iterative_matchers(TF_NODES), st.sampled_from(ms.TRANSFORMS))
def test_random_update_on_the_transformer(spec, transform):
    """Dense sharing: the result holds separate copies wherever the matcher states differ."""
    m = spec.to_rc()
    try:
        expected = Reference().update(TF_ROOT, spec, transform)
    except mref.RefError as e:
        with pytest.raises(getattr(rc, e.kind)):
            TF_ROOT.update(m, transform)
        return
    assert TF_ROOT.update(m, transform) == expected
