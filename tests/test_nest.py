"""nest_einsums, nest_adds and deep_heuristic_nest_adds: regrouping is an identity on values
(float64, hypothesis random einsums and adds), the spec types (ints, matchers, NestRest,
NestMatcher, the Info types) build the nesting rc's demo describes, former names and axes are
kept where a group covers a former node's operands, and every error path has its class."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import circuits as rc
from circuits import NestAddsSpecInfo as AddInfo
from circuits import NestEinsumsSpecInfo as EinInfo
from circuits import NestMatcher, NestRest


def close(actual, expected):
    np.testing.assert_allclose(np.asarray(actual), np.asarray(expected), rtol=1e-10, atol=1e-10)


A, B, C, D, F, E = 2, 3, 4, 5, 6, 7


@pytest.fixture
def x():
    rng = np.random.default_rng(0)
    shapes = [
        ((A, B, C), "abc"),
        ((B, C, D), "bcd"),
        ((A, E), "ae"),
        ((B, D), "bd"),
        ((F, C), "ec"),
        ((A, C, D), "acd"),
        ((E, A, F), "eaf"),
    ]
    return rc.Einsum.from_einsum_string(
        "a b c, b c d, a e, b d, f c, a c d, e a f -> a c d f",
        *(rc.Array(rng.standard_normal(s), name=n) for s, n in shapes),
    )


def einsums_in(c):
    return [n for n in rc.IterativeMatcher(rc.Einsum).get(c)]


def test_nest_einsums_groups(x):
    z = rc.nest_einsums(x, ((0, 1, 2), (3, 4, 5, 6)))
    close(z.evaluate(), x.evaluate())
    assert len(z.children) == 2
    assert [len(c.children) for c in z.children] == [3, 4]
    assert z.name == x.name and z.shape == x.shape
    z = rc.nest_einsums(x, ((5, (1, 3)), 2, ((4,), 0), 6))
    close(z.evaluate(), x.evaluate())
    assert [c.name for c in z.children[0].children] == ["acd", "bcd * bd"]
    # a one-element group is an Einsum of one operand
    single = z.children[2].children[0]
    assert isinstance(single, rc.Einsum) and [c.name for c in single.children] == ["ec"]


def test_nest_einsums_identity_on_flat(x):
    assert rc.nest_einsums(x, (0, 1, 2, 3, 4, 5, 6)) == x
    assert rc.nest_einsums(x, NestRest()) == x
    assert rc.nest_einsums(x, NestRest(flat=True)) == x


def test_nest_rest_and_matchers(x):
    z = rc.nest_einsums(x, ((5, (1, 3)), 2, NestRest()))
    close(z.evaluate(), x.evaluate())
    assert [len(c.children) for c in z.children if isinstance(c, rc.Einsum)] == [2, 3]
    z_rest = rc.nest_einsums(x, ((5, (1, 3)), 2, NestRest(flat=True)))
    close(z_rest.evaluate(), x.evaluate())
    assert len(z_rest.children) == 5
    # a Rest that takes nothing adds nothing
    assert len(rc.nest_einsums(x, (0, 1, 2, 3, 4, 5, 6, NestRest())).children) == 7
    z_new = rc.nest_einsums(x, (("acd", ("bcd", rc.Matcher.regex("^bd$"))), 2, NestRest(flat=True)))
    assert z_new == z_rest
    z = rc.nest_einsums(x, (NestMatcher(rc.Matcher.regex("b")), NestRest(flat=True)))
    close(z.evaluate(), x.evaluate())
    assert sorted(c.name for c in z.children[0].children) == ["abc", "bcd", "bd"]
    z = rc.nest_einsums(
        x,
        (
            (
                NestMatcher({"bd", "ae"}, fancy_validate=True),
                NestMatcher("abc", assert_unique=True),
                NestMatcher("347387", assert_exists=False),
            ),
            NestRest(flat=True),
        ),
    )
    close(z.evaluate(), x.evaluate())
    # empty groups are dropped
    z = rc.nest_einsums(x, ("eaf", ("ec", 2), (), (), NestRest()))
    close(z.evaluate(), x.evaluate())
    assert all(len(e.children) > 0 for e in einsums_in(z))


def test_nest_info_names_and_perm(x):
    z = rc.nest_einsums(
        x, ((5, EinInfo((1, 3), name="my_new_name")), 2, EinInfo(NestRest(), name="named_rest"))
    )
    close(z.evaluate(), x.evaluate())
    named = rc.Matcher("my_new_name").get_unique(z)
    rc.Matcher("named_rest").get_unique(z)
    z_perm = rc.nest_einsums(
        x,
        (
            (5, EinInfo((1, 3), name="my_new_name", out_axes_perm=[2, 0, 1])),
            2,
            EinInfo(NestRest(), name="named_rest"),
        ),
    )
    close(z_perm.evaluate(), x.evaluate())
    permuted = rc.Matcher("my_new_name").get_unique(z_perm)
    close(permuted.evaluate(), np.transpose(np.asarray(named.evaluate()), (2, 0, 1)))
    z = rc.nest_einsums(x, ("eaf", ("ec", 2), EinInfo((3, 0), "hi", (1, 2, 0, 3)), NestRest()))
    close(z.evaluate(), x.evaluate())
    root_named = rc.nest_einsums(x, EinInfo((0, 1, 2, 3, 4, 5, 6), name="root"))
    assert root_named.name == "root"


def test_nest_keeps_former_names(x):
    z = rc.nest_einsums(
        x, (4, EinInfo((3, EinInfo((2, 1), "other"), EinInfo(((0, 5), 6), "here")), "outer"))
    )
    close(z.evaluate(), x.evaluate())
    here, other, outer = [rc.Matcher(n).get_unique(z) for n in ["here", "other", "outer"]]
    kept = rc.nest_einsums(z, (0, (1, 2, 3, (6, 4, 5))))
    close(kept.evaluate(), x.evaluate())
    close(rc.Matcher("here").get_unique(kept).evaluate(), here.evaluate())
    close(rc.Matcher("outer").get_unique(kept).evaluate(), outer.evaluate())
    assert rc.Matcher("other").get_unique_op(kept) is None
    via_match = rc.nest_einsums(
        z,
        (
            0,
            (
                NestMatcher({"abc", "acd", "eaf"}, flat=True),
                NestMatcher({"ae", "bcd"}, flat=True),
                1,
            ),
        ),
    )
    close(via_match.evaluate(), x.evaluate())
    close(rc.Matcher("other").get_unique(via_match).evaluate(), other.evaluate())
    via_rest = rc.nest_einsums(
        z, (0, (NestRest(flat=True), NestMatcher({"ae", "bcd"}, flat=True), 1))
    )
    assert via_rest == via_match


def test_nest_keeps_extra_axes_unless_shrunk():
    rng = np.random.default_rng(1)
    sub = rc.Einsum.from_einsum_string(
        "eab,ae->ab",
        rc.Array(rng.standard_normal((E, A, B)), name="eab"),
        rc.Array(rng.standard_normal((A, E)), name="ae"),
        name="sub",
    )
    outer = rc.Einsum.from_einsum_string(
        "ab,ac->c", sub, rc.Array(rng.standard_normal((A, C)), name="ac")
    )
    kept = rc.nest_einsums(outer, (2, (1, 0)))
    close(kept.evaluate(), outer.evaluate())
    close(rc.Matcher("sub").get_unique(kept).evaluate(), sub.evaluate())
    shrunk = rc.nest_einsums(outer, (2, EinInfo((1, 0), shrink_out_axes=True, name="sub_new")))
    close(shrunk.evaluate(), outer.evaluate())
    close(
        rc.Matcher("sub_new").get_unique(shrunk).evaluate(),
        np.asarray(sub.evaluate()).sum(axis=1),
    )


def test_nest_traversal(x):
    z_rest = rc.nest_einsums(x, ((5, (1, 3)), 2, NestRest(flat=True)))
    depth = rc.restrict(rc.new_traversal(term_early_at=~rc.Matcher(rc.Einsum)), end_depth=3)
    shallow = rc.restrict(
        rc.new_traversal(term_early_at=~rc.Matcher(rc.Einsum)), term_early_at="bcd * bd"
    )
    a = rc.nest_einsums(z_rest, (1, 2, 3, 0, 4, 5), traversal=shallow)
    close(a.evaluate(), x.evaluate())
    assert rc.Matcher("bcd * bd").get_unique(a) is not None
    assert rc.nest_einsums(z_rest, (1, 2, 3, 0, 4, 5), traversal=depth) == a


def test_nest_adds():
    rng = np.random.default_rng(2)
    shapes = [
        ((A, B, C), "abc"),
        ((A, 1, 1), "a11"),
        ((1, B, 1), "1b1"),
        ((B, C), "bc"),
        ((C,), "c"),
        ((1, C), "1c"),
    ]
    add = rc.Add(*(rc.Array(rng.standard_normal(s), name=n) for s, n in shapes))
    z = rc.nest_adds(add, ((0, 4, 2), (3, 1, 5)))
    close(z.evaluate(), add.evaluate())
    assert [len(c.children) for c in z.children] == [3, 3]
    z = rc.nest_adds(
        add, ((5, AddInfo((1, 3), name="my_new_name")), 2, AddInfo(NestRest(), name="named_rest"))
    )
    close(z.evaluate(), add.evaluate())
    rc.Matcher("my_new_name").get_unique(z)
    rc.Matcher("named_rest").get_unique(z)
    assert rc.nest_adds(add, NestRest()) == add
    kept = rc.nest_adds(
        rc.nest_adds(add, (AddInfo((0, 1), "pair"), 2, 3, 4, 5)), (5, (0, 1), 2, 3, 4)
    )
    assert rc.Matcher("pair").get_unique(kept).children == add.children[:2]


def test_nest_errors(x):
    with pytest.raises(rc.NestPermutationMissesIdxsAndNoRestInSpecError, match="operand number 1"):
        rc.nest_einsums(x, (0, 2))
    with pytest.raises(rc.PermIntsNotUniqueError, match=r"\[1\]"):
        rc.nest_einsums(x, (0, 1, 1, 2, 3, 4, 5, 6))
    with pytest.raises(rc.PermIntsNotUniqueError):
        rc.nest_einsums(x, (0, 1, 2, 3, 4, (5, 2), 6))
    with pytest.raises(rc.NestIntNotContainedInRangeCountError, match="int 9"):
        rc.nest_einsums(x, (9, NestRest()))
    with pytest.raises(rc.NestMatcherMatchedMultipleAndMustBeUniqueError, match="found 3"):
        rc.nest_einsums(x, (("acd", rc.Matcher.regex("b")), 2, NestRest(flat=True)))
    with pytest.raises(rc.NestMatcherMatchedNoneAndMustExistError, match="no operand"):
        rc.nest_einsums(x, ("nothing", NestRest()))
    with pytest.raises(rc.NestMatcherMatchedNoneAndMustExistError, match="assert_exists"):
        rc.nest_einsums(x, (NestMatcher("nothing"), NestRest()))
    with pytest.raises(rc.NestMatcherMatchedMultipleAndMustBeUniqueError, match="assert_unique"):
        rc.nest_einsums(x, (NestMatcher(rc.Matcher.regex("b"), assert_unique=True), NestRest()))
    with pytest.raises(rc.NestMultipleRestError, match="2 NestRest"):
        rc.nest_einsums(x, (NestRest(), (NestRest(),)))
    with pytest.raises(rc.NestMatchersOverlapError, match="operand 0"):
        rc.nest_einsums(x, (NestMatcher("abc"), NestMatcher({"abc", "ae"}), NestRest()))
    with pytest.raises(rc.NestMatcherOverlapsWithExplicitIntsError, match=r"\[0\]"):
        rc.nest_einsums(x, (0, NestMatcher("abc"), NestRest()))
    with pytest.raises(rc.NestPermHasWrongLenError, match="has 2 entries but the group has 3"):
        rc.nest_einsums(x, (EinInfo((1, 3), out_axes_perm=[1, 0]), NestRest()))
    with pytest.raises(rc.PermIntsNotUniqueError, match="repeats 0"):
        rc.nest_einsums(x, (EinInfo((1, 3), out_axes_perm=[0, 0, 1]), NestRest()))
    with pytest.raises(rc.NestError, match="outermost"):
        rc.nest_einsums(x, EinInfo(NestRest(), out_axes_perm=[0, 1, 2, 3]))
    with pytest.raises(RuntimeError, match="missing"):
        rc.nest_einsums(x, (NestMatcher({"abc", "zz"}, fancy_validate=True), NestRest()))
    with pytest.raises(TypeError, match="expected Einsum"):
        rc.nest_einsums(rc.Add(x), NestRest())
    with pytest.raises(TypeError, match="expected Add"):
        rc.nest_adds(x, NestRest())
    with pytest.raises(TypeError, match="NestEinsumsSpecInfo"):
        rc.nest_adds(rc.Add(x, x), (EinInfo((0,)), 1))
    with pytest.raises(TypeError, match="bool"):
        rc.nest_einsums(x, (True, NestRest()))


def test_nest_groups_core_errors(x):
    core = rc._circuits._einsum_nest_groups
    with pytest.raises(rc.NestError, match="not an earlier one"):
        core(x, [([-2], None, None, None), (list(range(7)), None, None, None)])
    with pytest.raises(rc.NestError, match="group 0 is not part"):
        core(x, [([0], None, None, None), (list(range(1, 7)), None, None, None)])
    with pytest.raises(rc.NestError, match="lack label"):
        core(x, [([0, 1], None, None, [0]), ([-1, 2, 3, 4, 5, 6], None, None, None)])
    with pytest.raises(rc.NestError, match="none of its operands"):
        core(x, [([0], None, None, [0, 1, 2, 5]), ([-1, 1, 2, 3, 4, 5, 6], None, None, None)])
    with pytest.raises(TypeError, match="members, name, perm, out_labels"):
        core(x, [([0],)])
    with pytest.raises(rc.NestError, match="no groups"):
        core(x, [])


# --- hypothesis: random einsums and adds, random groupings -------------------------------------


@st.composite
def einsum_and_tree(draw):
    n_labels = draw(st.integers(1, 5))
    sizes = draw(st.lists(st.integers(1, 3), min_size=n_labels, max_size=n_labels))
    n_ops = draw(st.integers(1, 6))
    ops = [
        draw(st.lists(st.integers(0, n_labels - 1), min_size=0, max_size=3)) for _ in range(n_ops)
    ]
    used = sorted({label for op in ops for label in op})
    out = draw(st.lists(st.sampled_from(used), unique=True, max_size=len(used))) if used else []
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    args = [(rc.Array(rng.standard_normal([sizes[l] for l in op])), tuple(op)) for op in ops]
    einsum = rc.Einsum(*args, out_axes=tuple(out))
    # a random tree over the operands: repeatedly group a random run of the current items
    items = list(range(n_ops))
    order = draw(st.permutations(items))
    items = list(order)
    while len(items) > 1 and draw(st.booleans()):
        i = draw(st.integers(0, len(items) - 1))
        j = draw(st.integers(i + 1, len(items)))
        items[i:j] = [tuple(items[i:j])]
    return einsum, tuple(items)


@given(einsum_and_tree())
def test_nest_einsums_is_identity(case):
    einsum, spec = case
    z = rc.nest_einsums(einsum, spec)
    close(z.evaluate(), einsum.evaluate())
    assert z.shape == einsum.shape


@given(einsum_and_tree())
def test_nest_adds_is_identity(case):
    einsum, spec = case
    rng = np.random.default_rng(len(einsum.children))
    shape = (2, 3)
    add = rc.Add(
        *(
            rc.Array(rng.standard_normal(shape[len(shape) - k % 3 :]))
            for k in range(len(einsum.children))
        )
    )
    z = rc.nest_adds(add, spec)
    close(z.evaluate(), add.evaluate())


def test_deep_heuristic_nest_adds():
    rng = np.random.default_rng(3)
    xs = [rc.Array(rng.standard_normal(4), name=f"x{i}") for i in range(5)]
    small = rc.Add(xs[0], xs[1], name="small")
    big = rc.Add(xs[2], xs[0], xs[3], xs[1], name="big")
    root = rc.Einsum.from_einsum_string("a,a->a", small, big)
    out = rc.deep_heuristic_nest_adds(root)
    close(out.evaluate(), root.evaluate())
    new_big = rc.Matcher("big").get_unique(out)
    assert small in new_big.children and len(new_big.children) == 3
    # nothing to share: unchanged
    assert rc.deep_heuristic_nest_adds(big) == big
    assert rc.deep_heuristic_nest_adds(xs[0]) == xs[0]


@given(st.lists(st.lists(st.integers(0, 5), min_size=2, max_size=5), min_size=1, max_size=5))
def test_deep_heuristic_nest_adds_is_identity(groups):
    rng = np.random.default_rng(sum(map(len, groups)))
    leaves = [rc.Array(rng.standard_normal(3)) for _ in range(6)]
    adds = [rc.Add(*(leaves[i] for i in g)) for g in groups]
    root = rc.Add(*adds, *(rc.Add(*adds[: k + 1], leaves[k]) for k in range(len(adds))))
    close(rc.deep_heuristic_nest_adds(root).evaluate(), root.evaluate())


def test_nest_equal_groups_from_different_flattenings_are_equal(x):
    z_new = rc.nest_einsums(
        x, (("acd", ("bcd", rc.Matcher.regex("^bd$"))), ("ae", "ec"), NestRest())
    )
    partial = rc.IterativeMatcher.new_func(
        lambda _: rc.IterateMatchResults(
            [rc.new_traversal(term_early_at=rc.Matcher.regex(r"^\w+ \* \w+$")), rc.FINISHED, True],
            True,
        )
    )
    sub = rc.nest_einsums(z_new, (4, 3, 0, 1, 2), partial)
    close(sub.evaluate(), x.evaluate())
    assert sub == rc.nest_einsums(
        z_new,
        (
            "eaf",
            "abc",
            "acd",
            NestMatcher({"bcd", "bd"}, flat=True),
            NestMatcher({"ae", "ec"}, flat=True),
        ),
    )
