"""rc's automatic names, byte for byte (spec 1.2): the name each kind derives from its children,
parentheses by operator class, truncation of long child names, nodes left unnamed, the
autoname-disabled flag, and rebuilding through map_children (spec 1.1)."""

import uuid

import numpy as np
import pytest

import circuits as rc

UUID = uuid.UUID("12345678-1234-5678-1234-567812345678")


def leaf(name, *shape):
    return rc.Array(np.ones(shape or (3,)), name=name)


a, b, c = leaf("a"), leaf("b"), leaf("c")
c6 = leaf("c", 6)  # the shape of a ++ b
x = leaf("x", 3, 4)


# --- leaves --------------------------------------------------------------------------------


def test_leaves_never_autoname():
    for node in [
        rc.Array(np.ones(2)),
        rc.Scalar(1.0, (2,)),
        rc.Symbol.new_with_random_uuid((2,)),
        rc.Symbol.new_with_none_uuid((2,)),
    ]:
        assert node.op_name is None
        assert node.name == ""


def test_given_names_are_kept_exactly():
    for name in ["", " ", "a b", "ü∑", "x" * 300, "(a + b)", "'quoted'\\"]:
        node = rc.Array(np.ones(2), name=name)
        assert node.op_name == name
        assert node.name == name
        assert rc.Add(node, name=name).op_name == name


def test_empty_name_is_a_name():
    named_empty = rc.Array(np.ones(2), name="")
    assert named_empty.op_name == ""
    assert named_empty != rc.Array(np.ones(2))
    assert rc.Add(named_empty, leaf("b", 2)).name == " + b"


# --- one kind at a time --------------------------------------------------------------------


@pytest.mark.parametrize(
    "build, expected",
    [
        (lambda: rc.Add(a, b), "a + b"),
        (lambda: rc.Add(a, b, c), "a + b + c"),
        (lambda: rc.Add(a), "a"),
        (lambda: rc.Add(a, a), "a + a"),
        (lambda: a.add(b), "a + b"),
        (lambda: rc.Einsum.from_einsum_string("i,i->i", a, b), "a * b"),
        (lambda: rc.Einsum((a, (0,)), (b, (0,)), (c, (0,)), out_axes=()), "a * b * c"),
        (lambda: a.mul(b), "a * b"),
        (lambda: a.sum(), "a"),
        (lambda: rc.Einsum.identity(a), "a"),
        (lambda: rc.Concat(a, b, axis=0), "a ++ b"),
        (lambda: rc.Concat(a, axis=0), "a"),
        (lambda: rc.Concat(a, b, c, axis=-1), "a ++ b ++ c"),
        (lambda: rc.Rearrange.from_string(x, "p q -> q p"), "x rearrange"),
        (lambda: x.flatten(), "x rearrange"),
        (lambda: x.unsqueeze(0), "x rearrange"),
        (lambda: rc.Index(x, (0,)), "x idx"),
        (lambda: x.index((slice(0, 2), 1)), "x idx"),
        (lambda: rc.Tag(x, UUID), "x tag"),
        (lambda: rc.Tag.new_with_random_uuid(x), "x tag"),
        (lambda: rc.relu(x), "relu(x)"),
        (lambda: rc.softmax(x), "softmax(x)"),
        (lambda: rc.GeneralFunction.new_by_name(x, spec_name="gelu_new"), "gelu_new(x)"),
        (lambda: rc.pow(a, b), "pow(a, b)"),
        (
            lambda: rc.GeneralFunction.gen_index(
                x, rc.Array(np.array([0, 2], dtype=np.int64), name="i"), 1, batch_index=False
            ),
            "gen_index_at_1_no_batch_index_c(x, i)",
        ),
        (lambda: x.max(-1), "max(x rearrange)"),
    ],
)
def test_autoname(build, expected):
    node = build()
    assert node.name == expected
    assert node.op_name == expected


def test_autonames_of_nothing_are_empty_strings():
    assert rc.Add().op_name == ""
    assert rc.Einsum(out_axes=()).op_name == ""
    assert rc.Einsum.empty().op_name == ""


def test_spec_example_square_plus_rect():
    node = rc.Add(rc.Scalar(1.0, (5, 5), "square_mat"), rc.Scalar(1.0, (1, 5), "rect_mat"))
    assert node.shape == (5, 5)
    assert node.name == "square_mat + rect_mat"


def test_explicit_name_wins_over_autoname():
    assert rc.Add(a, b, name="total").name == "total"
    assert rc.relu(x, name="r").name == "r"
    assert rc.Add(rc.Add(a, b, name="s"), c).name == "s + c"


# --- parentheses ---------------------------------------------------------------------------


def ab_add():
    return rc.Add(a, b)


def ab_mul():
    return a.mul(b)


def ab_cat():
    return rc.Concat(a, b, axis=0)


def rearranged():
    return rc.Rearrange.from_string(a, "p -> p")


def indexed(node=a):
    return rc.Index(node, (slice(0, 3),))


@pytest.mark.parametrize(
    "build, expected",
    [
        # Einsum (infix, priority 1) over Add (infix, priority 0)
        (lambda: ab_add().mul(c), "(a + b) * c"),
        (lambda: c.mul(ab_add()), "c * (a + b)"),
        # Add over Einsum, equal priorities: no parentheses
        (lambda: rc.Add(ab_mul(), c), "a * b + c"),
        (lambda: rc.Add(ab_add(), c), "a + b + c"),
        (lambda: ab_mul().mul(c), "a * b * c"),
        # postfix over infix and infix-ambiguous
        (lambda: indexed(ab_add()), "(a + b) idx"),
        (lambda: indexed(ab_mul()), "(a * b) idx"),
        (lambda: indexed(ab_cat()), "(a ++ b) idx"),
        (lambda: rc.Tag(ab_add(), UUID), "(a + b) tag"),
        (lambda: rc.Rearrange.from_string(ab_mul(), "p -> p"), "(a * b) rearrange"),
        # postfix over postfix or function: none
        (lambda: indexed(rearranged()), "a rearrange idx"),
        (lambda: rc.Tag(indexed(), UUID), "a idx tag"),
        (lambda: indexed(rc.relu(a)), "relu(a) idx"),
        # Concat (infix-ambiguous) over infix and infix-ambiguous
        (lambda: rc.Concat(ab_add(), c, axis=0), "(a + b) ++ c"),
        (lambda: rc.Concat(c, ab_mul(), axis=0), "c ++ (a * b)"),
        (lambda: rc.Concat(ab_cat(), c, axis=0), "(a ++ b) ++ c"),
        (lambda: rc.Concat(indexed(), rc.relu(c), axis=0), "a idx ++ relu(c)"),
        # infix over infix-ambiguous
        (lambda: rc.Add(ab_cat(), c6), "(a ++ b) + c"),
        (lambda: ab_cat().mul(c6), "(a ++ b) * c"),
        # infix over postfix and function: none
        (lambda: rc.Add(indexed(), c), "a idx + c"),
        (lambda: rc.relu(a).mul(c), "relu(a) * c"),
        # function over anything: none
        (lambda: rc.relu(ab_add()), "relu(a + b)"),
        (lambda: rc.pow(ab_add(), ab_mul()), "pow(a + b, a * b)"),
        (lambda: rc.relu(ab_cat()), "relu(a ++ b)"),
        (lambda: rc.Tag(rearranged(), UUID), "a rearrange tag"),
    ],
)
def test_parentheses(build, expected):
    assert build().name == expected


def test_parentheses_follow_the_child_kind_not_its_name():
    weird = rc.Add(rc.Array(np.ones(3), name="p + q"), c)
    assert weird.name == "p + q + c"
    assert rc.Add(a, b, name="s").mul(c).name == "(s) * c"
    assert rc.Index(rc.relu(a, name="a + b"), (0,)).name == "a + b idx"


# --- unnamed children ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "build",
    [
        lambda u: rc.Add(a, u),
        lambda u: rc.Add(u, a),
        lambda u: rc.Einsum.from_einsum_string("i,i->i", a, u),
        lambda u: rc.Concat(a, u, axis=0),
        lambda u: rc.Index(u, (0,)),
        lambda u: rc.Rearrange.from_string(u, "p -> p"),
        lambda u: rc.Tag(u, UUID),
        lambda u: rc.relu(u),
        lambda u: rc.pow(a, u),
        lambda u: u.sum(),
        lambda u: rc.Add(rc.Add(a, u), b),
    ],
)
def test_no_autoname_when_a_child_is_unnamed(build):
    unnamed = rc.Array(np.ones(3))
    node = build(unnamed)
    assert node.op_name is None
    assert node.name == ""


def test_mul_scalar_autonames_only_with_a_scalar_name():
    assert a.mul_scalar(2.0).op_name is None
    assert a.mul_scalar(2.0, scalar_name="two").name == "a * two"


def test_sub():
    node = a.sub(b)
    assert node.name == "a + neg b"
    neg = node.children[1]
    assert neg.name == "neg b"
    assert [ch.name for ch in neg.children] == ["b", "neg_1"]
    assert a.sub(rc.Array(np.ones(3))).op_name is None


def test_sub_values():
    va, vb = np.arange(3.0), np.array([5.0, -1.0, 0.5])
    out = rc.Array(va, name="a").sub(rc.Array(vb, name="b")).evaluate()
    np.testing.assert_array_equal(out, va - vb)


# --- truncation ----------------------------------------------------------------------------


def long(n, ch="n"):
    return rc.Array(np.ones(3), name=ch * n)


@pytest.mark.parametrize(
    "join, build",
    [
        (" + ", lambda p, q: rc.Add(p, q)),
        (" * ", lambda p, q: p.mul(q)),
        (" ++ ", lambda p, q: rc.Concat(p, q, axis=0)),
    ],
)
def test_infix_child_names_over_100_chars_are_truncated(join, build):
    n100 = "n" * 100
    assert build(long(100), b).name == n100 + join + "b"
    assert build(long(101, "m"), b).name == "m" * 100 + "..." + join + "b"
    assert build(a, long(250, "k")).name == "a" + join + "k" * 100 + "..."
    assert build(long(101, "m"), long(100)).name == "m" * 100 + "..." + join + n100


def test_function_child_names_over_100_chars_are_truncated():
    assert rc.relu(long(101)).name == "relu(" + "n" * 100 + "...)"
    expected = "pow(" + "p" * 100 + "..., " + "q" * 100 + ")"
    assert rc.pow(long(150, "p"), long(100, "q")).name == expected


def test_truncation_counts_the_parentheses():
    inner = rc.Add(long(60, "p"), long(60, "q"))
    full = "(" + "p" * 60 + " + " + "q" * 60 + ")"
    assert inner.mul(c).name == full[:100] + "... * c"


def test_postfix_names_are_not_truncated():
    big = long(300)
    assert rc.Index(big, (0,)).name == "n" * 300 + " idx"
    assert rc.Tag(big, UUID).name == "n" * 300 + " tag"
    assert rc.Rearrange.from_string(big, "p -> p").name == "n" * 300 + " rearrange"


def test_names_nest_without_limit():
    node = a
    for _ in range(50):
        node = rc.Tag(node, UUID)
    assert node.name == "a" + " tag" * 50


# --- rename --------------------------------------------------------------------------------


def test_rename_none_gives_no_name():
    named = rc.Add(a, b)
    unnamed = named.rename(None)
    assert unnamed.op_name is None
    assert unnamed.name == ""
    assert unnamed != named
    assert unnamed.shape == named.shape


def test_rename_does_not_change_kind_or_children():
    node = rc.Add(a, b).rename("z")
    assert isinstance(node, rc.Add)
    assert node.name == "z"
    assert node.children == [a, b]
    assert node.rename("a + b") == rc.Add(a, b)


def test_rename_of_a_leaf():
    renamed = a.rename("other")
    assert renamed.name == "other"
    np.testing.assert_array_equal(renamed.evaluate(), a.evaluate())
    assert a.rename(None).op_name is None


# --- autoname disabled ---------------------------------------------------------------------


def test_with_autoname_disabled_propagates_to_ancestors():
    b_dis = b.with_autoname_disabled()
    assert b_dis.name == "b"
    assert b_dis != b
    assert rc.Add(b_dis).op_name is None
    assert rc.Add(a, b_dis).op_name is None
    assert rc.Add(rc.Add(b_dis, a, name="kept"), c).op_name is None
    assert rc.relu(rc.Tag(b_dis, UUID, name="t")).op_name is None
    assert rc.Add(a, b_dis, name="explicit").name == "explicit"


def test_with_autoname_disabled_on_an_inner_node():
    s = rc.Add(a, b).with_autoname_disabled(True)
    assert s.name == "a + b"
    assert s.mul(c).op_name is None
    assert rc.Index(s, (0,)).op_name is None


def test_with_autoname_disabled_false_restores_only_where_children_allow():
    b_dis = b.with_autoname_disabled()
    assert b_dis.with_autoname_disabled(False) == b
    assert rc.Add(b_dis.with_autoname_disabled(False), a).name == "b + a"
    # the parent's flag comes back on the parent, but its child still has it cleared
    parent = rc.Add(a, b_dis, name="p")
    assert rc.Add(parent.with_autoname_disabled(False), c).op_name is None


def test_disabled_flag_is_kept_through_rename():
    b_dis = b.with_autoname_disabled()
    assert rc.Add(b_dis.rename("bb"), a).op_name is None


# --- rebuilding (spec 1.1) -----------------------------------------------------------------


def test_map_children_autonames_an_unnamed_parent():
    unnamed = rc.Add(a, b).rename(None)
    assert unnamed.op_name is None
    rebuilt = unnamed.map_children(lambda ch: ch)
    assert rebuilt.name == "a + b"
    assert rebuilt == rc.Add(a, b)


def test_map_children_keeps_the_current_name():
    auto = rc.Add(a, b)
    renamed_children = auto.map_children(lambda ch: ch.rename(ch.name.upper()))
    assert [ch.name for ch in renamed_children.children] == ["A", "B"]
    assert renamed_children.name == "a + b"
    assert rc.Add(a, b, name="s").map_children(lambda ch: c).name == "s"


def test_map_children_enumerate_names_unnamed_children():
    u, v = rc.Array(np.ones(3)), rc.Array(np.zeros(3))
    parent = rc.Einsum.from_einsum_string("i,i->i", u, v)
    assert parent.op_name is None
    rebuilt = parent.map_children_enumerate(lambda i, ch: ch.rename(f"c{i}"))
    assert rebuilt.name == "c0 * c1"


def test_map_child_rebuilds_one_child():
    u = rc.Array(np.ones(3))
    parent = rc.Concat(a, u, axis=0)
    assert parent.op_name is None
    assert parent.map_child(1, lambda ch: ch.rename("w")).name == "a ++ w"


def test_map_children_of_a_leaf_returns_it():
    assert a.map_children(lambda ch: ch) == a


def test_get_autoname_is_the_name_children_would_give():
    x = rc.Array(np.ones(3), "x")
    named = rc.Add(x, x, name="total")
    assert named.name == "total"
    assert named.get_autoname() == "x + x"
    assert x.get_autoname() is None
    assert rc.Add(x, rc.Array(np.ones(3))).get_autoname() is None
