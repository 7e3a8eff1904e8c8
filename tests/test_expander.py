"""rc.Expander and replace_expand_bottom_up: batch axes that replacements add propagate to the
root (checked on random circuits against evaluating each batch element separately), first
matcher wins, found subtrees are not visited, suffixes, validation and the errors."""

import itertools

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import circuits as rc  # noqa: E402

SHAPE = (3, 4)


def arr(x, name=None):
    return rc.Array(torch.as_tensor(np.asarray(x, dtype=np.float64)), name)


# --- random circuits over leaves of one shape -------------------------------------------------

OPS = ["add", "mul", "rowsum_mul", "reverse", "split_concat", "relu", "softmax", "sin", "tag",
       "add_scalar", "rearrange"]


def apply_op(op, a, b, i):
    name = f"{op}{i}"
    if op == "add":
        return rc.Add(a, b, name=name)
    if op == "mul":
        return rc.Einsum.from_einsum_string("ij,ij->ij", a, b, name=name)
    if op == "rowsum_mul":
        return rc.Einsum.from_einsum_string("ij,ik->ij", a, b, name=name)
    if op == "reverse":
        return rc.Index(a, [torch.tensor([2, 1, 0])], name=name)
    if op == "split_concat":
        return rc.Concat(rc.Index(a, [slice(0, 1)]), rc.Index(b, [slice(1, 3)]), axis=0, name=name)
    if op == "relu":
        return rc.relu(a, name=name)
    if op == "softmax":
        return rc.softmax(a, name=name)
    if op == "sin":
        return rc.sin(a, name=name)
    if op == "tag":
        return rc.Tag(a, rc.Symbol.new_with_random_uuid(()).uuid, name=name)
    if op == "add_scalar":
        return rc.Add(a, rc.Scalar(0.5, (4,)), name=name)
    return rc.Rearrange.from_string(a, "a b -> a b", name=name)


@st.composite
def expansions(draw):
    n_leaves = draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    leaves = [arr(rng.standard_normal(SHAPE), f"l{i}") for i in range(n_leaves)]
    nodes = list(leaves)
    for i in range(draw(st.integers(1, 7))):
        op = draw(st.sampled_from(OPS))
        a = nodes[draw(st.integers(0, len(nodes) - 1))]
        b = nodes[draw(st.integers(0, len(nodes) - 1))]
        nodes.append(apply_op(op, a, b, i))
    root = nodes[-1]
    full = tuple(draw(st.lists(st.integers(1, 3), min_size=1, max_size=2)))
    replaced = draw(st.lists(st.sampled_from(leaves), min_size=1, max_size=n_leaves, unique=True))
    batched = {}
    for leaf in replaced:
        rank = draw(st.integers(1, len(full)))
        bshape = full[len(full) - rank:]
        batched[leaf] = rng.standard_normal(bshape + SHAPE)
    return root, batched


def per_element(root, batched):
    """The expanded root's expected value, one batch element at a time with plain updates."""
    shapes = [v.shape[:-2] for v in batched.values()]
    full = max(shapes, key=len)
    out = {}
    for idx in itertools.product(*[range(s) for s in full]):
        values = {leaf: v[idx[len(full) - (v.ndim - 2):]] for leaf, v in batched.items()}
        c = root
        for leaf, v in values.items():
            c = c.update(leaf, lambda _, v=v, name=leaf.name: arr(v, name + "_el"))
        out[idx] = np.asarray(c.evaluate())
    return full, out


@settings(max_examples=60, deadline=None)
@given(expansions())
def test_expander_matches_per_batch_element(case):
    root, batched = case
    pairs = [(leaf, lambda _, v=v, n=leaf.name: arr(v, n + "_b")) for leaf, v in batched.items()]
    expanded = rc.Expander(*pairs)(root)
    found = [leaf for leaf in batched if root.get(leaf)]
    if not found:
        assert expanded == root
        return
    full, expected = per_element(root, {k: v for k, v in batched.items() if k in found})
    assert expanded.shape == tuple(full) + root.shape
    got = np.asarray(expanded.evaluate())
    for idx, value in expected.items():
        np.testing.assert_allclose(got[idx], value, rtol=1e-10, atol=1e-12)
    # replace_expand_bottom_up is the same walk given as a function
    by_fn = rc.replace_expand_bottom_up(
        root, lambda c: next((t(c) for m, t in pairs if c == m), None))
    np.testing.assert_allclose(np.asarray(by_fn.evaluate()), got, rtol=1e-10, atol=1e-12)


# --- semantics ---------------------------------------------------------------------------------


def small():
    x, y = arr(np.ones(SHAPE), "x"), arr(np.full(SHAPE, 2.0), "y")
    e = rc.Einsum.from_einsum_string("ij,ij->ij", x, y, name="e")
    return x, y, e, rc.Add(e, y, name="s")


def test_shape_names_and_suffix():
    x, y, e, s = small()
    xb = arr(np.ones((5,) + SHAPE), "xb")
    out = rc.Expander((x, lambda _: xb), suffix="b")(s)
    assert out.shape == (5, 3, 4)
    assert out.name == "s_b" and out.children[0].name == "e_b"
    assert out.children[1] == y  # unchanged children keep their names
    plain = rc.Expander((x, lambda _: xb)).batch(s)
    assert plain.name == "s" and plain.children[0].name == "e"
    np.testing.assert_allclose(np.asarray(plain.evaluate()), np.full((5, 3, 4), 4.0))


def test_one_pass_zips_two_pass_nests():
    x, y, e, s = small()
    xb, yb = arr(np.ones((5,) + SHAPE), "xb"), arr(np.ones((5,) + SHAPE), "yb")
    zipped = rc.Expander((x, lambda _: xb), (y, lambda _: yb))(s)
    assert zipped.shape == (5, 3, 4)
    nested = rc.Expander((y, lambda _: yb))(rc.Expander((x, lambda _: xb))(s))
    assert nested.shape == (5, 5, 3, 4)


def test_first_matcher_wins_and_found_subtree_is_not_visited():
    x, y, e, s = small()
    seen = []

    def record(c):
        seen.append(c.name)
        return False

    first = rc.Expander(("e", lambda c: rc.Tag(c, rc.Symbol.new_with_random_uuid(()).uuid, "t1")),
                        ("e", lambda c: rc.Tag(c, rc.Symbol.new_with_random_uuid(()).uuid, "t2")),
                        (rc.Matcher(record), lambda c: c))
    out = first(s)
    assert out.children[0].name == "t1"
    assert "x" not in seen and "e" in seen  # e was found: x below it never reached
    with pytest.raises(RuntimeError, match="multiple matches! got 2 != 1"):
        rc.Expander(("e", lambda c: c), ("e", lambda c: c), ban_multiple_matches_on_node=True)(s)


def test_transform_sees_original_node():
    x, y, e, s = small()
    xb = arr(np.ones((2,) + SHAPE), "xb")
    seen = []
    rc.Expander((x, lambda _: xb), ("s", lambda c: seen.append(c) or c))(s)
    assert seen == [s]


def test_iterative_matchers_and_attributes():
    x, y, e, s = small()
    yb = arr(np.ones((2,) + SHAPE), "yb")
    # only the y under e (restricted to depth 2), not the direct child of s
    ex = rc.Expander((rc.restrict("y", start_depth=2), lambda _: yb), default_assert_any_found=True)
    out = ex(s)
    assert out.shape == (2, 3, 4)
    assert out.children[1] == y
    assert [str(m) for m in ex.matchers] == [str(rc.restrict("y", start_depth=2))]
    assert isinstance(ex.replacements[0], rc.Transform)
    assert ex.suffix is None and ex.default_assert_any_found and not ex.default_fancy_validate
    ex.ban_multiple_matches_on_node = True
    assert ex.ban_multiple_matches_on_node


def test_no_match_and_errors():
    x, y, e, s = small()
    assert rc.Expander(("nothing", lambda c: c))(s) == s
    with pytest.raises(RuntimeError, match="No matches found during expand"):
        rc.Expander(("nothing", lambda c: c))(s, assert_any_found=True)
    with pytest.raises(TypeError, match="must return a Circuit"):
        rc.Expander((x, lambda c: 3))(s)
    with pytest.raises(TypeError, match="pairs"):
        rc.Expander(x)
    with pytest.raises(TypeError, match="callable"):
        rc.Expander((x, 3))
    with pytest.raises(TypeError, match="unexpected keyword"):
        rc.Expander((x, lambda c: c), bogus=1)
    with pytest.raises(ZeroDivisionError):
        rc.Expander((x, lambda c: 1 / 0))(s)
    bad = arr(np.ones((2, 3, 5)), "bad")
    with pytest.raises(rc.ConstructEinsumAxisSizeDifferentError, match="axis j is 5"):
        rc.Expander((x, lambda _: bad))(s)
    lower = arr(np.ones(4), "low")
    with pytest.raises(rc.ExpandBatchingRankTooLowError):
        rc.Expander((x, lambda _: lower))(s)


def test_fancy_validate():
    x, y, e, s = small()
    ok = rc.Expander((x, lambda c: c), default_fancy_validate=True)
    assert ok(s) == s
    with pytest.raises(Exception):
        rc.Expander(("nothing", lambda c: c))(s, fancy_validate=True)


def test_sampling_style_var_replacement():
    values = np.random.default_rng(0).standard_normal((6, 3))
    v = rc.DiscreteVar(arr(values, "vals"), name="v")
    c = rc.Einsum.from_einsum_string("i,i->", v, arr(np.ones(3), "w"), name="dot")
    idx = torch.tensor([4, 0, 5, 5])
    out = rc.Expander((rc.DiscreteVar, lambda d: rc.Index(d.values, [idx], name="v sampled")),
                      suffix="sample")(c)
    assert out.name == "dot_sample" and out.shape == (4,)
    np.testing.assert_allclose(np.asarray(out.evaluate()), values[idx.numpy()].sum(-1))


def test_replace_expand_bottom_up():
    x, y, e, s = small()
    calls = []

    def f(c):
        calls.append(c.name)
        return arr(np.ones((3,) + SHAPE), "xb") if c == x else None

    out = rc.replace_expand_bottom_up(s, f)
    assert out.shape == (3, 3, 4)
    assert calls.count("y") == 1  # once per distinct node
    assert rc.replace_expand_bottom_up(s, lambda c: None) == s
    d = rc.replace_expand_bottom_up_dict(s, {x: arr(np.ones((3,) + SHAPE), "xb")})
    assert d == out


# --- batch_to_concat ---------------------------------------------------------------------------


@st.composite
def random_circuits(draw):
    root, _ = draw(expansions())
    return root


@settings(max_examples=80, deadline=None)
@given(random_circuits(), st.integers(0, 1), st.integers(1, 4))
def test_batch_to_concat_keeps_the_value(root, axis, batch_size):
    try:
        out = rc.batch_to_concat(root, axis, batch_size)
    except (rc.BatchAxisOriginatesTooHighError, rc.BatchRequiresMultipleAxesError):
        return
    assert isinstance(out, rc.Concat) and out.axis == axis and out.shape == root.shape
    n = root.shape[axis]
    assert len(out.children) == -(-n // batch_size)
    np.testing.assert_allclose(np.asarray(out.evaluate()), np.asarray(root.evaluate()),
                               rtol=1e-10, atol=1e-12)


def test_batch_to_concat_pieces():
    x = arr(np.random.default_rng(0).standard_normal((7, 4)), "x")
    w = arr(np.random.default_rng(1).standard_normal((4, 5)), "w")
    c = rc.relu(rc.Einsum.from_einsum_string("ab,bc->ac", x, w, name="mm"), name="r")
    out = rc.batch_to_concat(c, 0, 3)
    assert [k.shape for k in out.children] == [(3, 5), (3, 5), (1, 5)]
    np.testing.assert_allclose(np.asarray(out.evaluate()), np.asarray(c.evaluate()))
    cols = rc.batch_to_concat(c, 1, 2)
    assert [k.shape for k in cols.children] == [(7, 2), (7, 2), (7, 1)]
    np.testing.assert_allclose(np.asarray(cols.evaluate()), np.asarray(c.evaluate()))
    assert rc.batch_to_concat(c, 0, 7, allow_partial_batch=False).children[0].shape == (7, 5)


def test_batch_to_concat_errors():
    x = arr(np.ones((6, 4)), "x")
    c = rc.softmax(x, name="s")
    with pytest.raises(rc.BatchBatchSizeIsZeroError, match="greater than 0"):
        rc.batch_to_concat(c, 0, 0)
    with pytest.raises(rc.BatchPartialBatchNotAllowedError, match="size 6 is not a multiple of"):
        rc.batch_to_concat(c, 0, 4, allow_partial_batch=False)
    with pytest.raises(rc.BatchError, match="nonexistent axis 2"):
        rc.batch_to_concat(c, 2, 1)
    with pytest.raises(rc.BatchAxisOriginatesTooHighError, match="GeneralFunction 's'"):
        rc.batch_to_concat(c, 1, 2)
    y = arr(np.ones((4, 4)), "y")
    sym = rc.Einsum.from_einsum_string("ab,ba->ab", y, y, name="sym")
    with pytest.raises(rc.BatchRequiresMultipleAxesError, match="as axis [01] and as axis [01]"):
        rc.batch_to_concat(sym, 0, 2)
    mixed = rc.Add(x, rc.Einsum.from_einsum_string("ab->b", x), name="m")
    with pytest.raises(rc.BatchRequiresMultipleAxesError, match="both along the batch axis"):
        rc.batch_to_concat(mixed, 0, 2)
