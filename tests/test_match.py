"""Matchers, iterative matchers and traversal (spec 3.1-3.5), against the brute-force reference in
match_reference.py (which walks every path from the root) and hand-computed answers."""

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

import circuits as rc
import match_reference as mref
import match_strategies as ms
from match_reference import Reference


def scalar(value, shape, name=None):
    return rc.Scalar(value, shape=shape, name=name)


@pytest.fixture
def abc():
    """a_name [1,2], b_other [2,3] and their (autonamed) Einsum c = a @ b."""
    a = scalar(1.0, (1, 2), "a_name")
    b = scalar(2.0, (2, 3), "b_other")
    c = rc.Einsum.from_einsum_string("ab,bc->ac", a, b)
    return a, b, c


@pytest.fixture(scope="module")
def tf():
    """The REMIX-style transformer: {name: node} for every named node, "root" = final.input."""
    root, _ = ms.small_transformer()
    nodes = {}
    root.visit(lambda c: nodes.setdefault(c.name, c))
    nodes["root"] = root
    return nodes


def branching():
    """spec 3.6: fin = Add(ein, soft(ein)), ein = Einsum(a, b)."""
    a = scalar(1.0, (1, 2), "a")
    b = scalar(2.0, (2, 3), "b")
    ein = rc.Einsum.from_einsum_string("ij,jk->ik", a, b, name="ein")
    soft = rc.softmax(ein, name="soft")
    return a, b, ein, soft, rc.Add(ein, soft, name="fin")


def spec_33_tree():
    """p = Add(c1, c2, x) with c1 = Add(x), c2 = Add(g), g = Add(y): Adds at depths 1 and 2."""
    x = scalar(1.0, (2,), "x")
    y = scalar(2.0, (2,), "y")
    c1 = rc.Add(x, name="c1")
    g = rc.Add(y, name="g")
    c2 = rc.Add(g, name="c2")
    p = rc.Add(c1, c2, x, name="p")
    return x, y, c1, g, c2, p


def check_against_reference(circuit, spec, exact_paths=True):
    """The engine's get / get_all_paths / get_paths / are_any_found for `spec` (a reference
    matcher) equal the literal reference's."""
    m = spec.to_rc()
    expected = Reference().get(circuit, spec)
    assert circuit.get(m) == expected
    assert m.are_any_found(circuit) == bool(expected)
    expected_all = Reference().get_all_paths(circuit, spec)
    got_all = circuit.get_all_paths(m)
    assert set(got_all) == set(expected_all)
    for node, paths in expected_all.items():
        assert sorted_paths(got_all[node]) == sorted_paths(paths)
    got_paths = circuit.get_paths(m)
    assert set(got_paths) == expected
    for node, path in got_paths.items():
        assert_valid_path(path, node, circuit)
        if exact_paths:
            assert path == expected_all[node][-1]
    return expected


def sorted_paths(paths):
    return sorted(tuple(c.hash for c in p) for p in paths)


def assert_valid_path(path, node, root):
    """path = [node, parent, ..., root], each element a child of the next."""
    assert path[0] == node and path[-1] == root
    for child, parent in zip(path, path[1:]):
        assert child in parent.children


# ---------------------------------------------------------------------------------------------
# The reference on its own, against hand-computed answers (these need only the node API).


def test_reference_branching_chain():
    a, b, ein, soft, fin = branching()
    r = Reference()
    assert r.get(fin, mref.new_chain("soft", "b")) == {b}
    assert r.get_all_paths(fin, mref.new_chain("soft", "b")) == {b: [[b, ein, soft, fin]]}
    # a plain matcher visits everything: b is reached along two paths, pre-order
    assert r.get_all_paths(fin, "b") == {b: [[b, ein, fin], [b, ein, soft, fin]]}
    assert r.get_paths(fin, "b") == {b: [b, ein, soft, fin]}
    assert r.get(fin, mref.matcher(rc.Scalar)) == {a, b}
    assert r.get(fin, mref.matcher()) == set()
    assert r.get(fin, mref.iterative()) == set()
    assert r.get_all_circuits_in_paths(fin, mref.new_chain("soft", "b")) == {b, ein, soft, fin}


def test_reference_chain_same_node_and_must_be_sub():
    s = scalar(1.0, (2,), "s")
    r = Reference()
    assert r.get(s, mref.new_chain(mref.matcher(rc.Scalar), rc.Scalar)) == {s}
    assert r.get(s, mref.new_chain(mref.matcher(rc.Scalar), rc.Scalar, must_be_sub=True)) == set()
    t = rc.Add(s, name="t")
    # ((Add, Scalar), must_be_sub): Add matches t, Scalar must match strictly below it
    assert r.get(t, mref.new_chain("t", "s", must_be_sub=True)) == {s}
    assert r.get(t, mref.new_chain("t", "t", must_be_sub=True)) == set()
    assert r.get(t, mref.new_chain("t", "t")) == {t}


def test_reference_restrict_examples():
    x, y, c1, g, c2, p = spec_33_tree()
    r = Reference()
    assert r.get(p, mref.restrict(rc.Add, start_depth=1, end_depth=2)) == {c1, c2}
    assert r.get(p, mref.new_traversal(end_depth=1)) == {p}
    assert r.get(p, mref.new_traversal(start_depth=2)) == {x, g, y}
    assert r.get(p, mref.traverse_until_depth(1)) == {p, c1, c2, x}
    assert r.get(p, mref.restrict(rc.Scalar, term_early_at="c2")) == {x}
    assert r.get(p, mref.restrict(rc.Add, term_if_matches=True)) == {p}
    b = rc.Add(name="B")
    c = rc.Add(name="C")
    a = rc.Add(b, c, name="A")
    assert r.get(a, mref.new_traversal(term_early_at=rc.Add, start_depth=0)) == {a}
    for d in range(1, 4):
        assert r.get(a, mref.new_traversal(term_early_at=rc.Add, start_depth=d)) == set()
    assert mref.new_traversal(start_depth=1, end_depth=0).iterate(a) == (mref.FINISHED, False)


def test_reference_children_matcher():
    x, y, c1, g, c2, p = spec_33_tree()
    r = Reference()
    root_only = mref.restrict(True, term_if_matches=True)
    assert r.get(p, root_only.children_matcher({1})) == {c2}
    assert r.get(p, mref.iterative("p").children_matcher({0, 2})) == {c1, x}
    assert r.get(p, mref.iterative("c2").children_matcher({0})) == {g}
    with pytest.raises(mref.RefError) as info:
        r.get(p, mref.iterative("c1").children_matcher({1}))
    assert info.value.kind == "IterativeMatcherChildNumbersOutOfBoundsError"


def test_reference_per_child_func_and_all():
    a, b, ein, soft, fin = branching()

    def per_child(node):
        return (
            ([mref.FINISHED, mref.IMatch(mref.MAlways(True))], False)
            if node == ein
            else (None, False)
        )

    func = mref.IFunc(per_child, None)
    assert Reference().get(ein, func) == {b}
    assert Reference().get(fin, mref.all_of("a", rc.Scalar)) == {a}
    assert Reference().get(fin, mref.all_of("a", mref.ITerm(True))) == set()
    assert Reference().get(fin, mref.all_of("fin", mref.ITerm(True))) == {fin}


def test_reference_get_first():
    a = scalar(1.0, (1, 2), "a_name")
    b = scalar(2.0, (2, 3), "b_other")
    c = rc.Einsum.from_einsum_string("ab,bc->ac", a, b)
    assert mref.get_first(c, mref.matcher("a_name", "b_other")) == b
    assert mref.get_first(c, mref.matcher("a_name")) == a
    assert mref.get_first(c, mref.matcher("zzz")) is None
    d = rc.Einsum.from_einsum_string(
        "ab,bc->ac", rc.Add(a, name="x"), rc.Add(b, name="y"), name="z"
    )
    assert mref.get_first(d, mref.matcher({"x", "b_other"})) == b
    assert mref.get_first(d, mref.matcher({"x", "a_name"})) == d.children[0]
    assert mref.get_first(d, mref.matcher({"z", "a_name"})) == d


def test_reference_regex_dot_swap():
    assert mref.swap_dots("a.b") == r"a\.b"
    assert mref.swap_dots(r"a\.b") == "a.b"
    assert mref.swap_dots(r"^my.name.\.\.s_dot$") == r"^my\.name\...s_dot$"
    dotted = scalar(1.0, (), "a1.h0")
    assert mref.regex(r"[am]\d(.h\d)?$").call(dotted)
    assert not mref.regex(r"^a1.h0$").call(scalar(1.0, (), "a1xh0"))
    assert mref.regex(r"^a1.h0$", escape_dot=False).call(scalar(1.0, (), "a1xh0"))
    assert not mref.regex("").call(scalar(1.0, ()))


def test_reference_remix_patterns(tf):
    root = tf["root"]
    r = Reference()
    direct = mref.new_chain("final.input", mref.restrict("a1.h0", end_depth=2))
    assert r.get_all_paths(root, direct) == {tf["a1.h0"]: [[tf["a1.h0"], root]]}
    pos1 = mref.new_chain(direct, "a1.input.at_pos1")
    at = tf["a1.input.at_pos1"]
    assert r.get_all_paths(root, pos1) == {at: [[at, tf["a1.h0"], root]]}
    # a1.h0 reaches the root directly and through m1, a2.h0, a2.h1 and m2 (each of which sees it
    # directly and through every later component in between): 20 paths in all
    assert len(r.get_all_paths(root, "a1.h0")[tf["a1.h0"]]) == 20
    memo = Reference(memo=True)
    assert memo.get_all_paths(root, "a1.h0") == r.get_all_paths(root, "a1.h0")
    assert memo.visits < r.visits


@given(ms.dags_and_matchers())
def test_reference_memo_agrees_with_literal(case):
    root, _, spec = case
    try:
        expected = Reference().get_all_paths(root, spec)
    except mref.RefError as e:
        with pytest.raises(mref.RefError) as info:
            Reference(memo=True).get_all_paths(root, spec)
        assert info.value.kind == e.kind
        return
    assert Reference(memo=True).get_all_paths(root, spec) == expected
    assert Reference(memo=True).get(root, spec) == Reference().get(root, spec) == set(expected)
    assert Reference(memo=True).are_any_found(root, spec) == bool(expected)


# ---------------------------------------------------------------------------------------------
# Matcher (predicates on one node)


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda a, b, c: "a_name", (True, False, False)),
        (lambda a, b, c: {"a_name", "b_other"}, (True, True, False)),
        (lambda a, b, c: frozenset({"a_name", "b_other"}), (True, True, False)),
        (lambda a, b, c: rc.Scalar, (True, True, False)),
        (lambda a, b, c: rc.Einsum, (False, False, True)),
        (lambda a, b, c: {rc.Scalar, rc.Einsum}, (True, True, True)),
        (lambda a, b, c: frozenset({rc.Add}), (False, False, False)),
        (lambda a, b, c: a, (True, False, False)),
        (lambda a, b, c: {a, c}, (True, False, True)),
        (lambda a, b, c: frozenset({b}), (False, True, False)),
        (lambda a, b, c: rc.Regex("^a_name$"), (True, False, False)),
        (lambda a, b, c: rc.Regex("other"), (False, True, True)),
        (lambda a, b, c: (lambda x: x.shape == (2, 3)), (False, True, False)),
        (lambda a, b, c: True, (True, True, True)),
        (lambda a, b, c: False, (False, False, False)),
        (lambda a, b, c: rc.Matcher("b_other"), (False, True, False)),
        (lambda a, b, c: rc.IterativeMatcher("a_name").any_found(), (True, False, True)),
    ],
)
def test_matcher_inputs(abc, make, expected):
    inp = make(*abc)
    m = rc.Matcher(inp)
    assert tuple(m(x) for x in abc) == expected
    assert tuple(m.call(x) for x in abc) == expected
    assert tuple(rc.IterativeMatcher(inp).match_iterate(x).found for x in abc) == expected


def test_matcher_no_inputs_and_several(abc):
    a, b, c = abc
    assert [rc.Matcher()(x) for x in abc] == [False] * 3
    several = rc.Matcher("a_name", rc.Einsum)
    assert [several(x) for x in abc] == [True, False, True]
    assert several == rc.Matcher.any("a_name", rc.Einsum)
    assert rc.Matcher() == rc.Matcher(False) == rc.Matcher.false_matcher()


def test_matcher_names_are_exact_not_regex():
    assert not rc.Matcher("a.b")(scalar(1.0, (), "axb"))
    assert not rc.Matcher("a")(scalar(1.0, (), "ab"))
    assert rc.Matcher("a.b")(scalar(1.0, (), "a.b"))


def test_matcher_root_only(abc):
    a, b, c = abc
    assert not rc.Matcher("a_name")(c)
    assert rc.Matcher("a_name").are_any_found(c)
    assert rc.Matcher("a_name").get(c) == {a}


def test_matcher_combinators(abc):
    a, b, c = abc
    A, B = rc.Matcher("a_name"), rc.Matcher("b_other")
    assert [(A | B)(x) for x in abc] == [True, True, False]
    assert [(A | "b_other")(x) for x in abc] == [True, True, False]
    assert [("b_other" | A)(x) for x in abc] == [True, True, False]
    assert [(A & rc.Scalar)(x) for x in abc] == [True, False, False]
    assert [(rc.Scalar & A)(x) for x in abc] == [True, False, False]
    assert [(~A)(x) for x in abc] == [False, True, True]
    assert [A.new_not()(x) for x in abc] == [False, True, True]
    assert [A.new_or("b_other", rc.Einsum)(x) for x in abc] == [True, True, True]
    assert [A.new_and(rc.Scalar)(x) for x in abc] == [True, False, False]
    assert [rc.Matcher.all("a_name", rc.Scalar)(x) for x in abc] == [True, False, False]
    assert [rc.Matcher.any("a_name", "b_other")(x) for x in abc] == [True, True, False]
    assert [rc.Matcher.all("a_name")(x) for x in abc] == [True, False, False]


def test_matcher_any_all_short_circuit(abc):
    a, b, c = abc
    calls = []

    def never_called(x):
        calls.append(x)
        return True

    assert not (rc.Matcher("a_name") & never_called)(b)
    assert not rc.Matcher.all("a_name", never_called)(b)
    assert rc.Matcher.any("b_other", never_called)(b)
    assert (rc.Matcher("b_other") | never_called)(b)
    assert calls == []


def test_matcher_and_or_keywords_raise(abc):
    with pytest.raises(TypeError, match="coerced to a boolean"):
        rc.Matcher("a_name") and rc.Matcher("b_other")
    with pytest.raises(TypeError, match="coerced to a boolean"):
        bool(rc.Matcher("a_name"))
    with pytest.raises(TypeError, match="coerced to a boolean"):
        rc.IterativeMatcher("a_name") or rc.IterativeMatcher("b_other")


def test_matcher_statics(abc):
    a, b, c = abc
    assert [rc.Matcher.true_matcher()(x) for x in abc] == [True] * 3
    assert [rc.Matcher.false_matcher()(x) for x in abc] == [False] * 3
    assert [rc.Matcher.types(rc.Scalar)(x) for x in abc] == [True, True, False]
    assert [rc.Matcher.types(rc.Add, rc.Einsum)(x) for x in abc] == [False, False, True]
    assert [rc.Matcher.circuits(a, c)(x) for x in abc] == [True, False, True]
    assert [rc.Matcher.regex("^b")(x) for x in abc] == [False, True, False]
    found_a = rc.Matcher.match_any_found(a)
    assert [found_a(x) for x in abc] == [True, False, True]
    child_a = rc.Matcher.match_any_child_found(a)
    assert [child_a(x) for x in abc] == [False, False, True]
    d = rc.Add(c, scalar(3.0, (1, 3), "hi"))
    assert child_a(d) and found_a(d)
    assert not rc.Matcher.match_any_child_found("hi")(d.children[1])


def test_matcher_equality_and_hash(abc):
    a, b, c = abc
    assert rc.Matcher("a_name") == rc.Matcher("a_name")
    assert rc.Matcher("a_name") != rc.Matcher("a_name_")
    assert rc.Matcher.types(rc.Scalar, rc.Einsum) == rc.Matcher({rc.Einsum, rc.Scalar})
    assert rc.Matcher.types(rc.Scalar, rc.Einsum) == rc.Matcher.types(rc.Einsum, rc.Scalar)
    assert rc.Matcher(rc.Scalar) != rc.Matcher(rc.Einsum)
    assert rc.Matcher.true_matcher() == rc.Matcher(True)
    assert rc.Matcher.false_matcher() != rc.Matcher(True)
    assert hash(rc.Matcher.false_matcher()) == hash(rc.Matcher(False))
    assert rc.Matcher({a, c}) == rc.Matcher.circuits(c, a)
    assert rc.Matcher(a) != rc.Matcher(b)
    assert rc.Matcher.regex("a_name") == rc.Matcher(rc.Regex("a_name"))
    assert rc.Matcher.regex("a_name") != rc.Matcher.regex("a_name", escape_dot=False)
    assert rc.Matcher.regex("a.b", escape_dot=False) == rc.Matcher(
        rc.Regex("a.b", escape_dot=False)
    )

    def f(x):
        return True

    assert rc.Matcher(f) == rc.Matcher(f)
    assert hash(rc.Matcher(f)) == hash(rc.Matcher(f))
    assert rc.Matcher(f) != rc.Matcher(lambda x: True)
    assert rc.Matcher("a_name").to_iterative_matcher() == rc.IterativeMatcher("a_name")
    assert rc.Matcher("a_name").to_iterative_matcher() != rc.IterativeMatcher("a_nam")
    assert len({rc.Matcher("x"), rc.Matcher("x"), rc.Matcher("y")}) == 2


def test_regex_escape_dot_both_ways():
    dotted = scalar(2.0, (2, 3), "my.name.has_dot")
    plain = scalar(2.0, (2, 3), "myxnamexhas_dot")
    cases = [
        # (pattern, escape_dot, matches dotted, matches plain)
        ("^my.name.has_dot$", True, True, False),
        ("^my.name...s_dot$", True, False, False),
        (r"^my.name.\.\.s_dot$", True, True, False),
        (r"^my\.name\.has_dot$", True, True, True),
        ("^my.name.has_dot$", False, True, True),
        (r"^my\.name\.has_dot$", False, True, False),
        ("^my.name...s_dot$", False, True, True),
        ("name", True, True, True),
        ("^name", True, False, False),
        (r"\d", True, False, False),
    ]
    for pattern, escape_dot, on_dotted, on_plain in cases:
        m = rc.Matcher.regex(pattern, escape_dot=escape_dot)
        assert (m(dotted), m(plain)) == (on_dotted, on_plain), (pattern, escape_dot)
        ref = mref.regex(pattern, escape_dot)
        assert (ref.call(dotted), ref.call(plain)) == (on_dotted, on_plain), (pattern, escape_dot)
        r = rc.Regex(pattern, escape_dot=escape_dot)
        assert r.pattern == pattern and r.escape_dot == escape_dot
        assert (r.call(dotted.name), r.call(plain.name)) == (on_dotted, on_plain)
    assert rc.Regex("a.b").escape_dot is True


def test_regex_unnamed_never_matches(abc):
    a, b, c = abc
    assert rc.Matcher.regex(r"^\.*$")(c)
    assert not rc.Matcher.regex(r"^\.*$")(c.rename(None))
    assert not rc.Matcher.regex("")(scalar(1.0, ()))
    assert rc.Matcher.regex("")(a)


def test_regex_heads_and_mlps(tf):
    expected = {tf[n] for n in ms.COMPONENTS if n != "emb"}
    m = rc.Regex(r"[am]\d(.h\d)?$")
    assert tf["root"].get(m) == expected
    assert tf["root"].get(rc.Matcher.regex(r"[am]\d(.h\d)?$")) == expected
    heads0 = {tf[f"a{i}.h0"] for i in range(3)}
    assert tf["root"].get(rc.Regex(r"^a\d.h0$")) == heads0
    assert tf["root"].get(rc.Regex(r"^a\d\.h0$", escape_dot=False)) == heads0
    check_against_reference(tf["root"], mref.IMatch(mref.regex(r"[am]\d(.h\d)?$")))


def test_get_first_quirk(abc):
    a, b, c = abc
    assert rc.Matcher("b_other").get_first(c) == b
    assert rc.Matcher("a_name").get_first(c) == a
    # both children match: the pre-order walk keeps visiting siblings after a hit (spec 3.1)
    assert rc.Matcher("a_name", "b_other").get_first(c) == b
    assert rc.Matcher("nothing").get_first(c) is None
    assert rc.Matcher(rc.Einsum).get_first(c) == c
    d = rc.Einsum.from_einsum_string(
        "ab,bc->ac", rc.Add(a, name="x"), rc.Add(b, name="y"), name="z"
    )
    # "x" matches, so its child a is not visited; y's child b still is, and is the last hit
    assert rc.Matcher({"x", "b_other"}).get_first(d) == b
    assert rc.Matcher({"x", "y"}).get_first(d) == d.children[1]
    assert rc.Matcher({"z", "b_other"}).get_first(d) == d


@given(ms.dags(), st.data())
def test_random_get_first_matches_reference(dag, data):
    root, nodes = dag
    spec = data.draw(ms.predicate_matchers(nodes))
    assert spec.to_rc().get_first(root) == mref.get_first(root, spec)


# ---------------------------------------------------------------------------------------------
# IterativeMatcher protocol


def test_iterative_matcher_construction(abc):
    a, b, c = abc
    assert rc.IterativeMatcher() == rc.IterativeMatcher.term()
    assert rc.IterativeMatcher().get(c) == set()
    assert rc.IterativeMatcher("a_name", "b_other").get(c) == {a, b}
    assert rc.IterativeMatcher("a_name", "b_other") == rc.IterativeMatcher.any("a_name", "b_other")
    assert rc.IterativeMatcher(rc.IterativeMatcher("a_name")) == rc.IterativeMatcher("a_name")
    # a bare callable is a predicate
    assert rc.IterativeMatcher(lambda x: x.name == "b_other").get(c) == {b}
    assert rc.IterativeMatcher.noop_traversal().get(c) == {a, b, c}
    assert rc.IterativeMatcher.noop_traversal() == rc.IterativeMatcher(True)
    assert (rc.IterativeMatcher("a_name") | "b_other").get(c) == {a, b}
    assert ("b_other" | rc.IterativeMatcher("a_name")).get(c) == {a, b}
    assert (rc.IterativeMatcher(rc.Scalar) & "a_name").get(c) == {a}
    assert ("a_name" & rc.IterativeMatcher(rc.Scalar)).get(c) == {a}
    assert rc.IterativeMatcher("a_name").new_or("b_other").get(c) == {a, b}
    assert rc.IterativeMatcher.all(rc.Scalar, "b_other").get(c) == {b}


def test_match_iterate_results(abc):
    a, b, c = abc
    res = rc.IterativeMatcher("a_name").match_iterate(a)
    assert res.updated is None and res.found is True
    assert res.to_tup() == (None, True)
    term = rc.IterativeMatcher.term(match_next=True).match_iterate(a)
    assert term.updated == rc.FINISHED and term.found is True
    assert isinstance(rc.FINISHED, rc.Finished)
    assert rc.IterativeMatcher.term().match_iterate(a).found is False
    default = rc.IterateMatchResults()
    assert default.updated is None and default.found is False
    fin = rc.IterateMatchResults.new_finished(found=True)
    assert fin.updated == rc.FINISHED and fin.found is True
    # restrict at its last depth: found, and nothing below
    last = rc.restrict("a_name", end_depth=1).match_iterate(a)
    assert last.found and last.updated == rc.FINISHED
    # past end_depth: not found, finished
    assert rc.new_traversal(start_depth=1, end_depth=0).match_iterate(a).updated == rc.FINISHED
    # an early-terminating restrict still reports the node itself
    early = rc.restrict("a_name", term_early_at="a_name").match_iterate(a)
    assert early.found and early.updated == rc.FINISHED


def test_restrict_depth_sequence():
    """restrict_sl("a", depth_slice=3:5) applied to successive depths of one path."""
    a = scalar(1.0, (1, 2), "a")
    m = rc.restrict_sl("a", depth_slice=slice(3, 5))
    founds = []
    for _ in range(5):
        res = m.match_iterate(a)
        founds.append(res.found)
        if res.updated == rc.FINISHED:
            break
        m = m if res.updated is None else res.updated
    assert founds == [False, False, False, True, True]
    assert res.updated == rc.FINISHED


def test_new_func_per_child_updates(abc):
    a, b, c = abc

    def first_finished(x):
        assert x == c
        return rc.IterateMatchResults([rc.FINISHED, True], False)

    m = rc.IterativeMatcher.new_func(first_finished)
    res = m.match_iterate(c)
    assert not res.found
    assert isinstance(res.updated, list) and res.updated[0] == rc.FINISHED
    assert c.get(m) == {b}
    assert c.get(rc.IterativeMatcher.new_func(lambda x: rc.IterateMatchResults([True, True]))) == {
        a,
        b,
    }
    # names given per child are matchers for that child: "b_other" on a, "a_name" on b
    swapped = rc.IterativeMatcher.new_func(lambda x: rc.IterateMatchResults(["b_other", "a_name"]))
    assert c.get(swapped) == set()
    straight = rc.IterativeMatcher.new_func(lambda x: rc.IterateMatchResults(["a_name", "b_other"]))
    assert c.get(straight) == {a, b}


def test_new_func_wrong_number_of_updates(abc):
    a, b, c = abc
    m = rc.IterativeMatcher.new_func(lambda x: rc.IterateMatchResults([True], False))
    with pytest.raises(
        rc.IterativeMatcherNumUpdatedMatchersNEQToNumChildrenError,
        match="num_updated_matchers=1 != num_children=2",
    ):
        c.get(m)


def test_iterative_matcher_all_per_child(abc):
    a, b, c = abc
    both = rc.IterativeMatcher.all(
        rc.Scalar,
        rc.IterativeMatcher.new_func(
            lambda x: rc.IterateMatchResults([rc.FINISHED, rc.IterativeMatcher(True)], found=True)
        ),
    )
    res = both.match_iterate(c)
    assert not res.found
    assert res.updated == [
        rc.FINISHED,
        rc.IterativeMatcher.all(rc.Scalar, rc.IterativeMatcher(True)),
    ]
    assert c.get(both) == {b}
    out = rc.IterativeMatcher.all(
        rc.Scalar, rc.IterativeMatcher.term(match_next=True)
    ).match_iterate(a)
    assert out.found and out.updated == rc.FINISHED
    out = rc.IterativeMatcher.all(rc.Einsum, rc.IterativeMatcher.term()).match_iterate(a)
    assert not out.found and out.updated == rc.FINISHED


# ---------------------------------------------------------------------------------------------
# restrict / new_traversal (spec 3.3)


def test_restrict_direct_children():
    x, y, c1, g, c2, p = spec_33_tree()
    assert rc.restrict(rc.IterativeMatcher(rc.Add), start_depth=1, end_depth=2).get(p) == {c1, c2}
    assert rc.restrict(rc.Add, start_depth=1, end_depth=2).get(p) == {c1, c2}
    assert rc.IterativeMatcher(rc.Add).filter(start_depth=1, end_depth=2).get(p) == {c1, c2}
    assert rc.restrict_sl(rc.Add, depth_slice=slice(1, 2)).get(p) == {c1, c2}
    assert rc.restrict_sl(rc.Add, depth_slice=slice(1, 2)) == rc.restrict(
        rc.Add, start_depth=1, end_depth=2
    )
    assert rc.IterativeMatcher(rc.Add).filter(start_depth=1, end_depth=2) == rc.restrict(
        rc.Add, start_depth=1, end_depth=2
    )
    assert rc.restrict(rc.Add, start_depth=1) != rc.restrict(rc.Add, start_depth=2)
    assert rc.restrict(rc.Add, term_early_at="g") != rc.restrict(rc.Add)


def test_restrict_depths_are_end_exclusive_start_inclusive():
    x, y, c1, g, c2, p = spec_33_tree()
    assert rc.new_traversal(end_depth=1).get(p) == {p}
    assert rc.new_traversal(end_depth=0).get(p) == set()
    assert rc.new_traversal(start_depth=2).get(p) == {x, g, y}
    assert rc.new_traversal(start_depth=1, end_depth=3).get(p) == {c1, c2, x, g}
    assert rc.traverse_until_depth(0).get(p) == {p}
    assert rc.traverse_until_depth(1).get(p) == {p, c1, c2, x}
    assert rc.traverse_until_depth(None).get(p) == {x, y, c1, g, c2, p}
    assert rc.traverse_until_depth(1) == rc.new_traversal(end_depth=2)


def ladder(levels):
    """l{k} = Add(l{k-1}, x, name=f"l{k}"), l0 = x: x is reached at every depth from 1 to levels."""
    x = scalar(1.0, (2,), "x")
    node = x
    for k in range(1, levels + 1):
        node = rc.Add(node, x, name=f"l{k}")
    return x, node


@pytest.mark.parametrize("end_depth", [5, 33, 40, 45])
def test_many_depth_states_match_reference(end_depth):
    # A restrict's depth is part of its state: a walk of this ladder meets 45 states, so the
    # engine records some pairs in the nodes (states below 32) and the rest in its memo.
    x, root = ladder(44)
    spec = mref.restrict(mref.matcher({"x", "l3", "l40"}), end_depth=end_depth)
    # l{k} is at depth 44 - k and x at every depth from 1: found where depth < end_depth
    names = {"x", "l40"} | ({"l3"} if end_depth > 41 else set())
    assert {c.name for c in check_against_reference(root, spec)} == names
    m = spec.to_rc()
    renamed = root.update(m, lambda c: c.rename(c.name + "'"))
    assert renamed == Reference().update(root, spec, lambda c: c.rename(c.name + "'"))


def test_start_depth_with_term_early_at():
    b = rc.Add(name="B")
    c = rc.Add(name="C")
    a = rc.Add(b, c, name="A")
    assert rc.new_traversal(term_early_at=rc.Add, start_depth=0).get(a) == {a}
    for d in range(1, 4):
        assert rc.new_traversal(term_early_at=rc.Add, start_depth=d).get(a) == set()


def test_term_if_matches_and_term_early_at():
    x, y, c1, g, c2, p = spec_33_tree()
    assert rc.restrict(rc.Add, term_if_matches=True).get(p) == {p}
    assert rc.IterativeMatcher(rc.Add).get(p) == {p, c1, c2, g}
    assert rc.restrict(rc.Scalar, term_early_at="c2").get(p) == {x}
    assert rc.restrict(rc.Scalar, term_early_at={"c1", "c2"}).get(p) == {x}
    # the terminating node is itself still found
    assert rc.restrict(rc.Add, term_early_at="c2").get(p) == {p, c1, c2}
    for spec in [
        mref.restrict(rc.Add, term_if_matches=True),
        mref.restrict(rc.Scalar, term_early_at="c2"),
        mref.restrict(rc.Add, term_early_at="c2", start_depth=1),
        mref.new_traversal(2, 3),
    ]:
        check_against_reference(p, spec)


# ---------------------------------------------------------------------------------------------
# chain, children_matcher, any/all (spec 3.4)


def test_chain_constructors_are_equal():
    for sub in [False, True]:
        item = rc.Matcher("top").chain("mid", "leaf", must_be_sub=sub)
        assert rc.IterativeMatcher("top").chain("mid", "leaf", must_be_sub=sub) == item
        assert rc.IterativeMatcher.new_chain("top", "mid", "leaf", must_be_sub=sub) == item
        assert rc.Matcher("top").chain_many(["mid", "leaf"], must_be_sub=sub) == item
        assert rc.IterativeMatcher.new_chain_many(["top", "mid", "leaf"], must_be_sub=sub) == item
        assert rc.Matcher("top").chain("leaf", "mid", must_be_sub=sub) != item
    assert rc.Matcher("top").chain("leaf") != rc.Matcher("top").chain("leaf", must_be_sub=True)


def test_chain_branching_example():
    a, b, ein, soft, fin = branching()
    assert rc.Matcher("soft").chain("b").get(fin) == {b}
    assert fin.get_all_paths(rc.Matcher("soft").chain("b")) == {b: [[b, ein, soft, fin]]}
    via_ein = fin.get_all_paths(rc.Matcher("ein").chain("b"))
    assert set(via_ein) == {b}
    assert sorted_paths(via_ein[b]) == sorted_paths([[b, ein, fin], [b, ein, soft, fin]])
    assert rc.Matcher("b").chain("soft").get(fin) == set()


def test_chain_continues_at_the_same_node():
    s = scalar(1.0, (2,), "s")
    t = rc.Add(s, name="t")
    assert rc.IterativeMatcher(rc.Scalar).chain(rc.Scalar).get(s) == {s}
    assert rc.IterativeMatcher(rc.Scalar).chain(rc.Scalar, must_be_sub=True).get(s) == set()
    assert rc.IterativeMatcher("t").chain("t").get(t) == {t}
    assert rc.IterativeMatcher("t").chain("t", must_be_sub=True).get(t) == set()
    assert rc.IterativeMatcher("t").chain("s", must_be_sub=True).get(t) == {s}
    three = rc.IterativeMatcher("t").chain(rc.Add, "s")
    assert three.get(t) == {s}


def test_chain_many_and_any(tf):
    root = tf["root"]
    m = rc.IterativeMatcher("m2").chain_many(["a2.h0"], ["a2.h1"])
    assert m.get(root) == {tf["a2.h0"], tf["a2.h1"]}
    check_against_reference(
        root, mref.any_of(mref.new_chain("m2", "a2.h0"), mref.new_chain("m2", "a2.h1"))
    )


def test_children_matcher():
    x, y, c1, g, c2, p = spec_33_tree()
    root_only = rc.restrict(rc.IterativeMatcher(True), term_if_matches=True)
    assert root_only.children_matcher({1}).get(p) == {c2}
    assert rc.IterativeMatcher("p").children_matcher({0, 2}).get(p) == {c1, x}
    assert rc.IterativeMatcher("c2").children_matcher({0}).get(p) == {g}
    assert rc.IterativeMatcher.new_children_matcher("c2", {0}).get(p) == {g}
    assert rc.IterativeMatcher.new_children_matcher("c2", frozenset({0})) == rc.IterativeMatcher(
        "c2"
    ).children_matcher({0})
    # the matched node keeps traversing: an Add's first child, at every Add
    assert rc.IterativeMatcher(rc.Add).children_matcher({0}).get(p) == {c1, x, g, y}
    for spec in [
        mref.restrict(True, term_if_matches=True).children_matcher({1}),
        mref.iterative(rc.Add).children_matcher({0}),
        mref.iterative("p").children_matcher({0, 2}),
    ]:
        check_against_reference(p, spec)


def test_children_matcher_out_of_bounds():
    x, y, c1, g, c2, p = spec_33_tree()
    with pytest.raises(
        rc.IterativeMatcherChildNumbersOutOfBoundsError,
        match=r"child_numbers=.*1.* >= num_children=1",
    ):
        rc.IterativeMatcher("c1").children_matcher({1}).get(p)
    with pytest.raises(rc.IterativeMatcherChildNumbersOutOfBoundsError, match="num_children=3"):
        rc.IterativeMatcher("p").children_matcher({7}).get(p)
    assert issubclass(rc.IterativeMatcherChildNumbersOutOfBoundsError, rc.IterativeMatcherError)
    assert issubclass(rc.IterativeMatcherError, ValueError)


# ---------------------------------------------------------------------------------------------
# REMIX patterns on the transformer-like circuit


def test_remix_direct_path_to_head(tf):
    root, head = tf["root"], tf["a1.h0"]
    m = rc.IterativeMatcher("final.input").chain(rc.restrict("a1.h0", end_depth=2))
    assert m.get(root) == {head}
    assert root.get_all_paths(m) == {head: [[head, root]]}
    assert root.get_paths(m) == {head: [head, root]}
    # the head by name alone is reached along 20 paths
    assert len(root.get_all_paths("a1.h0")[head]) == 20
    check_against_reference(
        root, mref.new_chain("final.input", mref.restrict("a1.h0", end_depth=2))
    )
    check_against_reference(root, mref.IMatch(mref.matcher("a1.h0")))


def test_remix_chain_to_position(tf):
    root, head, at = tf["root"], tf["a1.h0"], tf["a1.input.at_pos1"]
    m = rc.IterativeMatcher("final.input").chain(rc.restrict("a1.h0", end_depth=2))
    pos = m.chain("a1.input.at_pos1")
    assert pos.get(root) == {at}
    assert root.get_all_paths(pos) == {at: [[at, head, root]]}
    spec = mref.new_chain(
        mref.new_chain("final.input", mref.restrict("a1.h0", end_depth=2)), "a1.input.at_pos1"
    )
    check_against_reference(root, spec)
    # through any path, the position node is reached more often
    assert len(root.get_all_paths("a1.input.at_pos1")[at]) > 1


def test_remix_chain_excluding(tf):
    pytest.importorskip("torch")  # circuits.causal_scrubbing needs torch, as rc's does
    from circuits.causal_scrubbing.hypothesis import chain_excluding, corr_root_matcher

    import circuits.causal_scrubbing as cs

    assert cs.hypothesis.corr_root_matcher == corr_root_matcher
    root, head = tf["root"], tf["a1.h0"]
    assert corr_root_matcher == rc.restrict(rc.new_traversal(), term_if_matches=True)
    assert corr_root_matcher.get(root) == {root}
    m = chain_excluding(corr_root_matcher, "a1.h0", {"m2", "m1", "a2.h0", "a2.h1"})
    assert m == rc.restrict(
        corr_root_matcher.chain(rc.IterativeMatcher("a1.h0")),
        term_early_at={"m2", "m1", "a2.h0", "a2.h1"},
    )
    assert m.get(root) == {head}
    assert root.get_all_paths(m) == {head: [[head, root]]}
    assert chain_excluding(corr_root_matcher, "a1.h0") == corr_root_matcher.chain("a1.h0")
    # keeping m1 open adds the path through the MLP
    through_m1 = root.get_all_paths(
        chain_excluding(corr_root_matcher, "a1.h0", {"m2", "a2.h0", "a2.h1"})
    )
    names = sorted(tuple(c.name for c in p) for p in through_m1[head])
    assert names == [
        ("a1.h0", "final.input"),
        ("a1.h0", "m1.input", "m1.pre", "m1", "final.input"),
    ]
    root_only = mref.restrict(mref.new_traversal(), term_if_matches=True)
    for excluded in [{"m2", "m1", "a2.h0", "a2.h1"}, {"m2", "a2.h0", "a2.h1"}, {"m1"}]:
        spec = mref.restrict(mref.new_chain(root_only, "a1.h0"), term_early_at=excluded)
        check_against_reference(root, spec)


def test_remix_mlp_paths_to_head(tf):
    root = tf["root"]
    m = (rc.Matcher("m1") | "m2").chain("a0.h0")
    assert m.get(root) == {tf["a0.h0"]}
    for path in root.get_all_paths(m)[tf["a0.h0"]]:
        assert {"m1", "m2"} & {c.name for c in path}
    check_against_reference(root, mref.new_chain(mref.matcher("m1") | "m2", "a0.h0"))


# ---------------------------------------------------------------------------------------------
# get, get_unique, get_paths, are_any_found, fancy_validate, object forms (spec 3.5)


def test_get_unique(tf):
    root = tf["root"]
    assert root.get_unique("a1.h0") == tf["a1.h0"]
    assert root.get_unique(rc.Matcher("a1.h0")) == tf["a1.h0"]
    assert root.get_unique(rc.IterativeMatcher("a1.h0")) == tf["a1.h0"]
    assert root.get_unique_op("a1.h0") == tf["a1.h0"]
    assert root.get_unique_op("nothing") is None
    assert rc.Matcher("a1.h0").get_unique(root) == tf["a1.h0"]
    assert rc.Matcher("nothing").get_unique_op(root) is None
    assert root.get("nothing") == set()


def test_get_unique_errors(tf):
    root = tf["root"]
    with pytest.raises(RuntimeError, match="found no matches!"):
        root.get_unique("nothing")
    with pytest.raises(RuntimeError, match="found no matches!"):
        rc.Matcher("nothing").get_unique(root)
    for call in [
        lambda: root.get_unique({"a0.h0", "a0.h1"}),
        lambda: root.get_unique_op({"a0.h0", "a0.h1"}),
        lambda: rc.Getter().get_unique(root, {"a0.h0", "a0.h1"}),
    ]:
        with pytest.raises(RuntimeError, match=r"found 2 matches which is > 1") as info:
            call()
        assert "'a0.h0'" in str(info.value) and "'a0.h1'" in str(info.value)
    with pytest.raises(RuntimeError, match=r"found 9 matches which is > 1: '") as info:
        root.get_unique(rc.Regex(r"[am]\d(.h\d)?$"))


def test_get_paths_and_all_paths():
    a = rc.Scalar(1.0, name="match")
    a_bis = rc.Add(name="other")
    b = rc.Add(a, a_bis, name="parent")
    c = rc.Add(b, name="grandparent")
    expected = {a: [a, b, c]}
    assert rc.Getter().get_paths(c, rc.Matcher(rc.Scalar)) == expected
    assert rc.Matcher(rc.Scalar).get_paths(c) == expected
    assert c.get_paths(rc.Scalar) == expected
    assert rc.Getter().bind(rc.Scalar).get_paths(c) == expected
    assert c.get_paths(rc.Array) == {}
    assert c.get_paths({a, c, a_bis}) == {a: [a, b, c], a_bis: [a_bis, b, c], c: [c]}
    assert c.get_all_paths(rc.Scalar) == {a: [[a, b, c]]}
    assert rc.Matcher(rc.Scalar).get_all_paths(c) == {a: [[a, b, c]]}
    assert rc.Getter().get_all_paths(c, {a, c, a_bis}) == {
        a: [[a, b, c]],
        a_bis: [[a_bis, b, c]],
        c: [[c]],
    }
    d = rc.Add(a, a)
    assert d.get_all_paths(rc.Scalar) == {a: [[a, d], [a, d]]}
    e = rc.Add(c, b)
    all_paths = e.get_all_paths(rc.Scalar)
    assert sorted_paths(all_paths[a]) == sorted_paths([[a, b, c, e], [a, b, e]])
    # of several paths, get_paths keeps the last one discovered in child order
    assert e.get_paths(rc.Scalar) == {a: [a, b, e]}
    assert set(e.get_all_circuits_in_paths(rc.Scalar)) == {a, b, c, e}
    assert set(rc.Matcher(rc.Scalar).get_all_circuits_in_paths(e)) == {a, b, c, e}


def test_are_any_found(abc):
    a, b, c = abc
    assert c.are_any_found(rc.Scalar)
    assert not c.are_any_found("nothing")
    assert rc.AnyFound()(c, rc.Einsum)
    assert rc.AnyFound().are_any_found(c, rc.Einsum)
    assert not rc.AnyFound()(b, rc.Einsum)
    assert rc.IterativeMatcher(rc.Einsum).any_found()(c)
    assert not rc.IterativeMatcher(rc.Einsum).any_found().are_any_found(b)
    bound = rc.AnyFound().bind("a_name")
    assert bound(c) and not bound(b)
    assert bound.matcher == rc.IterativeMatcher("a_name")
    assert rc.BoundAnyFound(rc.AnyFound(), "b_other")(c)
    # early exit: the predicate is not called after the first hit (root found first)
    calls = []
    assert c.are_any_found(lambda x: calls.append(x) or True)
    assert calls == [c]


def test_getter_object_forms(abc):
    a, b, c = abc
    g = rc.Getter()
    assert g(c, rc.Scalar) == {a, b}
    assert g.get(c, rc.Scalar) == {a, b}
    assert g.get_unique(c, "a_name") == a
    assert g.get_unique_op(c, "zzz") is None
    assert g.get_paths(c, "a_name") == {a: [a, c]}
    assert g.get_all_paths(c, "a_name") == {a: [[a, c]]}
    g.validate(c, "a_name")
    bound = g.bind(rc.Scalar)
    assert isinstance(bound, rc.BoundGetter)
    assert bound(c) == {a, b} and bound.get(c) == {a, b}
    assert bound.matcher == rc.IterativeMatcher(rc.Scalar)
    assert rc.BoundGetter(rc.Getter(), "b_other").get_unique(c) == b
    assert rc.BoundGetter(rc.Getter(), "b_other").get_unique_op(c) == b
    assert rc.Matcher("a_name").getter().get_all_paths(c) == {a: [[a, c]]}
    assert rc.Matcher("a_name").getter().get_paths(c) == {a: [a, c]}
    assert rc.IterativeMatcher(rc.Scalar).getter()(c) == {a, b}
    assert rc.Getter().default_fancy_validate is False
    assert rc.Getter(default_fancy_validate=True).default_fancy_validate is True


def test_fancy_validate():
    a, b, ein, soft, fin = branching()
    other = rc.Symbol.new_with_random_uuid((3,))
    assert rc.Getter()(fin, rc.Scalar, fancy_validate=True) == {a, b}
    assert fin.get(~rc.Matcher(rc.Scalar), fancy_validate=True) == {ein, soft, fin}
    assert fin.get_unique(ein, fancy_validate=True) == ein
    cases = [
        ("zzz", "Didn't match all names"),
        ({"zzz", "ein"}, "Didn't match all names"),
        (rc.Symbol, "Didn't match all types"),
        (rc.Matcher.types(rc.Einsum, rc.Symbol), "Didn't match all types"),
        (other, "Didn't match all circuits"),
        (rc.Matcher.circuits(other, a), "Didn't match all circuits"),
        (rc.Matcher.any(rc.Matcher.circuits(other, a), "dif"), "Didn't match all circuit"),
        (rc.Matcher.any("dif", rc.Matcher.circuits(other, a)), "Didn't match all names"),
        (rc.Matcher.all("dif", rc.Matcher.circuits(other, a)), "Didn't match all names"),
        (rc.Regex("^zzz$"), "matched nothing"),
        (False, "matched nothing"),
        (lambda x: False, "matched nothing"),
        (rc.Matcher("ein").chain("zzz"), "Didn't match all names"),
        (
            rc.Matcher("ein").chain("a").new_or(rc.Matcher("fin").chain(other)),
            "Didn't match all circuits",
        ),
        (rc.Matcher("ein").chain_many(["a"], ["zzz"]), "Didn't match all names"),
    ]
    for m, message in cases:
        with pytest.raises(RuntimeError, match=message):
            rc.Getter()(fin, m, fancy_validate=True)
        with pytest.raises(RuntimeError, match=message):
            fin.get(m, fancy_validate=True)
        with pytest.raises(RuntimeError, match=message):
            rc.IterativeMatcher(m).validate(fin)
        with pytest.raises(RuntimeError, match=message):
            rc.IterativeMatcher(m).getter(default_fancy_validate=True).get(fin)
        rc.IterativeMatcher(m).getter(default_fancy_validate=True).get(fin, fancy_validate=False)
        fin.get(m)
    with pytest.raises(RuntimeError, match="Didn't match all types"):
        rc.Matcher.types(rc.Einsum, rc.Symbol).get_unique_op(fin, fancy_validate=True)
    with pytest.raises(RuntimeError, match="Didn't match all names"):
        rc.Getter(default_fancy_validate=True).get(fin, "zzz")
    with pytest.raises(RuntimeError, match="Didn't match all names"):
        rc.Getter(default_fancy_validate=False).get(fin, "zzz", fancy_validate=True)
    # a chain validates its last element only: "zzz" in the first element is never checked
    assert rc.Matcher({"ein", "zzz"}).chain("a").get(fin, fancy_validate=True) == {a}
    with pytest.raises(RuntimeError, match="Didn't match all names"):
        rc.Matcher("ein").chain({"a", "zzz"}).get(fin, fancy_validate=True)


# ---------------------------------------------------------------------------------------------
# Errors


@pytest.mark.parametrize("pattern", ["a(", "[unclosed", "*a"])
def test_bad_regex_names_the_pattern(pattern):
    with pytest.raises(ValueError, match=re.escape(pattern)):
        rc.Regex(pattern)
    with pytest.raises(ValueError, match=re.escape(pattern)):
        rc.Matcher.regex(pattern, escape_dot=False)


def test_wrong_matcher_type_is_type_error(abc):
    a, b, c = abc

    class Unrelated:
        pass

    with pytest.raises(TypeError, match="Unrelated"):
        rc.Matcher(Unrelated())
    with pytest.raises(TypeError, match="float"):
        rc.IterativeMatcher(1.5)
    with pytest.raises(TypeError, match="float"):
        c.get(1.5)
    with pytest.raises(TypeError, match="float"):
        rc.Matcher("a") | 1.5
    with pytest.raises(TypeError, match="Unrelated"):
        rc.IterativeMatcher.new_func(Unrelated())
    with pytest.raises(TypeError, match="int|set"):
        rc.Matcher({1, 2})


def test_matcher_callable_errors_propagate(abc):
    a, b, c = abc

    def boom(x):
        raise KeyError("from the predicate")

    with pytest.raises(KeyError, match="from the predicate"):
        c.get(boom)


# ---------------------------------------------------------------------------------------------
# Random DAGs and random matchers against the literal reference


def expect_same_error(call, error):
    with pytest.raises(getattr(rc, error.kind)):
        call()


@given(ms.dags_and_matchers())
def test_random_get_matches_reference(case):
    root, _, spec = case
    m = spec.to_rc()
    try:
        expected = Reference().get(root, spec)
    except mref.RefError as e:
        expect_same_error(lambda: root.get(m), e)
        return
    assert root.get(m) == expected
    assert rc.Getter()(root, m) == expected
    assert root.are_any_found(m) == bool(expected)
    if len(expected) == 1:
        assert root.get_unique_op(m) == next(iter(expected))


@given(ms.dags_and_matchers())
def test_random_paths_match_reference(case):
    root, _, spec = case
    m = spec.to_rc()
    try:
        expected_all = Reference().get_all_paths(root, spec)
    except mref.RefError as e:
        expect_same_error(lambda: root.get_all_paths(m), e)
        return
    got_all = root.get_all_paths(m)
    assert set(got_all) == set(expected_all)
    for node, paths in expected_all.items():
        assert sorted_paths(got_all[node]) == sorted_paths(paths)
    got = root.get_paths(m)
    assert set(got) == set(expected_all)
    for node, path in got.items():
        assert_valid_path(path, node, root)
    assert set(root.get_all_circuits_in_paths(m)) == {
        c for paths in expected_all.values() for p in paths for c in p
    }


@given(ms.dags_and_matchers())
def test_random_get_paths_keeps_the_last_path(case):
    root, _, spec = case
    try:
        expected = Reference().get_paths(root, spec)
    except mref.RefError:
        return
    assert root.get_paths(spec.to_rc()) == expected


@given(ms.dags_and_matchers(), st.booleans())
def test_random_fancy_validate_matches_reference(case, use_getter):
    root, _, spec = case
    if any(isinstance(x, mref.IAll) for x in _walk_spec(spec)):
        return  # IterativeMatcher.all validates nothing (rc); the spec leaves it open
    m = spec.to_rc()
    try:
        found = Reference().get(root, spec)
    except mref.RefError:
        return
    try:
        spec.validate(found)
    except mref.RefValidationError:
        with pytest.raises(RuntimeError, match="Didn't match all|matched nothing"):
            if use_getter:
                rc.Getter(default_fancy_validate=True)(root, m)
            else:
                root.get(m, fancy_validate=True)
        return
    assert root.get(m, fancy_validate=True) == found


TF_ROOT, TF_NODES = ms.transformer_nodes()


@given(ms.iterative_matchers(TF_NODES))
def test_random_matchers_on_the_transformer(spec):
    """Dense sharing: every head is reached along many paths with different matcher states."""
    m = spec.to_rc()
    try:
        expected = Reference().get_all_paths(TF_ROOT, spec)
    except mref.RefError as e:
        expect_same_error(lambda: TF_ROOT.get(m), e)
        return
    assert TF_ROOT.get(m) == set(expected)
    got = TF_ROOT.get_all_paths(m)
    assert set(got) == set(expected)
    for node, paths in expected.items():
        assert sorted_paths(got[node]) == sorted_paths(paths)
    assert TF_ROOT.get_paths(m) == {k: v[-1] for k, v in expected.items()}


def _walk_spec(spec):
    yield spec
    for child in getattr(spec, "__dict__", {}).values():
        if isinstance(child, mref.IM):
            yield from _walk_spec(child)
    if isinstance(spec, mref.IChains):
        for chain in spec.chains:
            for x in chain:
                yield from _walk_spec(x)
    if isinstance(spec, mref.IAll):
        for x in spec.ms:
            yield from _walk_spec(x)
