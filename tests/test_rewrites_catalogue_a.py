"""rc's rewrite catalogue, part A: Add and Einsum rewrites, distribution and canonical forms.
Each rewrite keeps the value (float64, tight tolerance) on random circuits where it applies,
names and shapes its result as rc does, returns None where rc does, and raises rc's errors.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import circuits as rc

SETTINGS = settings(max_examples=40, deadline=None)


def arr(rng, shape, name=None):
    return rc.Array(rng.standard_normal(shape), name)


def value(c):
    return np.asarray(c.evaluate())


def assert_same_value(new, old):
    a, b = value(new), value(old)
    assert a.shape == b.shape == tuple(old.shape)
    np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)


@st.composite
def einsum_with_adds(draw, max_adds=3):
    """A random Einsum over 2-4 operands, some of them Adds (with broadcast operands)."""
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    n_labels = draw(st.integers(1, 4))
    sizes = [draw(st.integers(1, 3)) for _ in range(n_labels)]
    n_ops = draw(st.integers(1, 4))
    ops, add_idxs = [], []
    for i in range(n_ops):
        rank = draw(st.integers(0, min(3, n_labels)))
        labels = tuple(draw(st.permutations(range(n_labels)))[:rank])
        shape = tuple(sizes[k] for k in labels)
        if len(add_idxs) < max_adds and draw(st.booleans()):
            n_terms = draw(st.integers(0, 3)) if rank == 0 else draw(st.integers(1, 3))
            terms = []
            for j in range(n_terms):
                # a term after the first may broadcast: drop leading axes or make some 1
                drop = draw(st.integers(0, len(shape))) if j else 0
                sub = tuple(1 if j and draw(st.booleans()) else s for s in shape[drop:])
                terms.append(arr(rng, sub, f"t{i}_{j}"))
            ops.append((rc.Add(*terms, name=f"add{i}"), labels))
            add_idxs.append(i)
        else:
            ops.append((arr(rng, shape, f"x{i}"), labels))
    used = sorted({k for _, labels in ops for k in labels})
    out = tuple(k for k in used if draw(st.booleans()))
    return rc.Einsum(*ops, out_axes=out, name="ein"), add_idxs


# --- distribute -------------------------------------------------------------------------------


def test_distribute_once_remix_example():
    arg0 = rc.Array(np.array([[1.0, 3.0, 5.0], [2.0, 4.0, 6.0]]), name="arg0")
    arg1 = rc.Array(np.array([1.0, -1.0]), name="arg1")
    parts = [rc.Array(np.arange(8.0).reshape(2, 4), name=f"arg2.{i}") for i in range(3)]
    ein = rc.Einsum.from_einsum_string(
        "ij,i,ik->jk", arg0, arg1, rc.Add(*parts, name="sum"), name="ein_three"
    )
    out = rc.distribute_once(ein, 2)
    assert isinstance(out, rc.Add) and out.name == "ein_three"
    assert all(isinstance(c, rc.Einsum) for c in out.children)
    assert [c.name for c in out.children] == [f"arg0 * arg1 * arg2.{i}" for i in range(3)]
    assert out.children[0].children == [arg0, arg1, parts[0]]
    expected = np.array(
        [[-24.0, -27.0, -30.0, -33.0], [-48.0, -51.0, -54.0, -57.0], [-72.0, -75.0, -78.0, -81.0]]
    )
    np.testing.assert_allclose(value(out), expected)
    named = rc.distribute_once(ein, 2, prefix="p.", suffix=".s")
    assert [c.name for c in named.children] == [f"p.arg2.{i}.s" for i in range(3)]


def test_distribute_remix_day3_usage(rng):
    # rc.distribute(x.cast_einsum(), operand_idx=0, suffix=".a.comb_v") as REMIX day 3 calls it
    probs = arr(rng, (4, 4), "a.attn_probs")
    mask = rc.Array(np.tril(np.ones((4, 4)), -1), "mask_prev")
    masked = rc.Add(
        rc.Einsum.from_einsum_string("q k, q k -> q k", probs, mask, name="a.attn_probs_mask_prev"),
        rc.Einsum.from_einsum_string(
            "q k, q k -> q k", probs, rc.Scalar(0.5, (4, 4), "half"), name="a.attn_probs_half"
        ),
        name="a.attn_probs_mask",
    )
    v = arr(rng, (4, 3), "a.v")
    comb = rc.Einsum.from_einsum_string("q k, k d -> q d", masked, v, name="a.comb_v")
    out = rc.distribute(comb, operand_idx=0, suffix=".a.comb_v")
    assert out.name == "a.comb_v"
    assert [c.name for c in out.children] == [
        "a.attn_probs_mask_prev.a.comb_v",
        "a.attn_probs_half.a.comb_v",
    ]
    assert out.are_any_found("a.attn_probs_mask_prev.a.comb_v")
    assert_same_value(out, comb)


def test_distribute_traversal_depth(rng):
    a, b, c = arr(rng, (3,), "a"), arr(rng, (3,), "b"), arr(rng, (3,), "c")
    w = arr(rng, (3,), "w")
    inner = rc.Add(b, c, name="bc")
    ein = rc.Einsum.from_einsum_string("i,i->i", rc.Add(a, inner, name="abc"), w, name="e")
    one = rc.distribute(ein, 0)
    assert [x.children[0] for x in one.children] == [a, inner]
    deep = rc.distribute(ein, 0, traversal=rc.traverse_until_depth(2))
    assert deep.children[0].children[0] == a
    assert isinstance(deep.children[1], rc.Add)
    assert [x.children[0] for x in deep.children[1].children] == [b, c]
    assert_same_value(deep, ein)
    # a traversal that never continues changes nothing
    with pytest.raises(rc.DistributeNoopError, match="operand_idx=0"):
        rc.distribute(ein, 0, traversal=rc.traverse_until_depth(0))


def test_distribute_errors(rng):
    a, w = arr(rng, (3,), "a"), arr(rng, (2, 3), "w")
    ein = rc.Einsum.from_einsum_string("i,ji->j", a, w, name="e")
    with pytest.raises(rc.DistributeNoopError, match="Einsum 'e'"):
        rc.distribute(ein, 0)
    with pytest.raises(rc.DistributeOperandIsNotAddError, match="operand 0 of Einsum 'e'"):
        rc.distribute(ein, 0, allow_partial_distribute=False)
    with pytest.raises(rc.DistributeOperandIsNotAddError, match="it is Array"):
        rc.distribute_once(ein, 0)
    with pytest.raises(rc.DistributeOperandIdxTooLargeError, match="operand_idx=5 .* 2 operands"):
        rc.distribute_once(ein, 5)
    with pytest.raises(rc.DistributeOperandIdxTooLargeError):
        rc.distribute(ein, 5, allow_partial_distribute=False)
    with pytest.raises(rc.DistributeNoopError):
        rc.distribute(ein, 5)
    bc = rc.Einsum.from_einsum_string(
        "i,ji->j", rc.Add(a, rc.Scalar(1.0, (), "one"), name="s"), w, name="e"
    )
    with pytest.raises(rc.DistributeCouldntBroadcastError, match="do_broadcasts=False"):
        rc.distribute_once(bc, 0, do_broadcasts=False)
    empty = rc.Einsum.from_einsum_string(",ji->j", rc.Add(name="z"), w, name="e")
    with pytest.raises(rc.DistributeEmptyAddUnsupportedError, match="without operands"):
        rc.distribute_once(empty, 0)
    assert issubclass(rc.DistributeNoopError, rc.DistributeError)
    assert issubclass(rc.DistributeError, ValueError)
    with pytest.raises(TypeError, match="expected Einsum but got Array"):
        rc.distribute_once(a, 0)
    with pytest.raises(OverflowError):
        rc.distribute_once(ein, -1)


def test_distribute_broadcast_operands(rng):
    a, w = arr(rng, (3,), "a"), arr(rng, (2, 3), "w")
    s = rc.Add(a, rc.Scalar(2.0, (), "two"), name="s")
    ein = rc.Einsum.from_einsum_string("i,ji->j", s, w, name="e")
    out = rc.distribute_once(ein, 0)
    assert out.children[0].children[0] == a
    broadcast = out.children[1].children[0]
    assert isinstance(broadcast, rc.Rearrange) and broadcast.shape == (3,)
    assert broadcast.name == "two rearrange"
    assert_same_value(out, ein)


@SETTINGS
@given(einsum_with_adds(), st.data())
def test_distribute_once_keeps_value(case, data):
    ein, adds = case
    if not adds:
        return
    idx = data.draw(st.sampled_from(adds))
    if ein.children[idx].children:
        out = rc.distribute_once(ein, idx)
        assert out.name == "ein" and len(out.children) == len(ein.children[idx].children)
        assert_same_value(out, ein)
        whole = rc.distribute(ein, idx)
        assert whole == out
    else:
        with pytest.raises(rc.DistributeEmptyAddUnsupportedError):
            rc.distribute_once(ein, idx)


@SETTINGS
@given(einsum_with_adds())
def test_distribute_all_keeps_value(case):
    ein, adds = case
    nonempty = [i for i in adds if ein.children[i].children]
    out = rc.distribute_all(ein)
    if not nonempty:
        assert out is None
        return
    assert isinstance(out, rc.Add) and out.name == "ein"
    n_terms = int(np.prod([len(ein.children[i].children) for i in nonempty]))
    assert len(out.children) == n_terms
    assert all(isinstance(c, rc.Einsum) for c in out.children)
    assert_same_value(out, ein)


def test_distribute_all_order(rng):
    a, b, c, d = (arr(rng, (2,), n) for n in "abcd")
    ein = rc.Einsum.from_einsum_string(
        "i,i->i", rc.Add(a, b, name="ab"), rc.Add(c, d, name="cd"), name="e"
    )
    out = rc.distribute_all(ein)
    assert [x.children for x in out.children] == [[a, c], [a, d], [b, c], [b, d]]
    assert_same_value(out, ein)


# --- Add --------------------------------------------------------------------------------------


def test_add_collapse_scalar_inputs(rng):
    a = arr(rng, (2, 3), "a")
    add = rc.Add(rc.Scalar(1.5, (3,)), a, rc.Scalar(2.0, (), "two"), name="s")
    out = rc.add_collapse_scalar_inputs(add)
    assert out == rc.Add(a, rc.Scalar(3.5, (2, 3)), name="s")
    assert_same_value(out, add)
    assert rc.add_collapse_scalar_inputs(rc.Add(a, rc.Scalar(1.0, ()), name="s")) is None
    with pytest.raises(TypeError, match="expected Add but got Array"):
        rc.add_collapse_scalar_inputs(a)


@SETTINGS
@given(st.integers(0, 2**31 - 1), st.integers(0, 4), st.integers(0, 3))
def test_add_collapse_scalar_inputs_keeps_value(seed, n_scalars, n_arrays):
    rng = np.random.default_rng(seed)
    ops = [
        rc.Scalar(float(rng.standard_normal()), (3,)[: rng.integers(0, 2)])
        for _ in range(n_scalars)
    ]
    ops += [arr(rng, (2, 3)[rng.integers(0, 2) :], f"a{i}") for i in range(n_arrays)]
    rng.shuffle(ops)
    add = rc.Add(*ops, name="s")
    out = rc.add_collapse_scalar_inputs(add)
    if n_scalars <= 1:
        assert out is None
        return
    assert out.name == "s" and isinstance(out.children[-1], rc.Scalar)
    assert out.children[-1].shape == add.shape
    assert_same_value(out, add)


def test_add_outer_product_broadcasts_on_top(rng):
    a, b, c = arr(rng, (3, 1), "a"), arr(rng, (4,), "b"), arr(rng, (3, 4), "c")
    add = rc.Add(a, b, name="s")
    out = rc.add_outer_product_broadcasts_on_top(add)
    assert out.name == "a + b" and [x.children for x in out.children] == [[a], [b]]
    assert_same_value(out, add)
    # c covers both: everything nests in one group
    assert rc.add_outer_product_broadcasts_on_top(rc.Add(c, a, b, name="s")) is None
    assert rc.add_outer_product_broadcasts_on_top(rc.Add(name="z")) is None


@SETTINGS
@given(st.integers(0, 2**31 - 1), st.integers(1, 5))
def test_add_outer_product_broadcasts_keeps_value(seed, n):
    rng = np.random.default_rng(seed)
    full = (2, 3, 4)
    ops = [arr(rng, tuple(s if rng.integers(0, 2) else 1 for s in full), f"o{i}") for i in range(n)]
    add = rc.Add(*ops, name="s")
    out = rc.add_outer_product_broadcasts_on_top(add)
    if out is not None:
        assert_same_value(out, add)
        assert sum(len(g.children) for g in out.children) == n


def test_extract_add(rng):
    a, b, c = arr(rng, (2,), "a"), arr(rng, (2,), "b"), arr(rng, (2,), "c")
    add = rc.Add(a, b, c, a, name="s")
    sub = rc.Add(a, c, name="ac")
    out = rc.extract_add(add, sub)
    assert out == rc.Add(a, b, sub, name="s")
    assert_same_value(out, add)
    assert rc.extract_add(add, rc.Add(c, c, name="cc")) is None
    assert rc.extract_add(add, rc.Add(arr(rng, (2,), "d"), name="d")) is None
    with pytest.raises(TypeError, match="expected Add"):
        rc.extract_add(add, a)


@SETTINGS
@given(st.integers(0, 2**31 - 1), st.lists(st.integers(0, 3), min_size=1, max_size=6), st.data())
def test_extract_add_keeps_value(seed, picks, data):
    rng = np.random.default_rng(seed)
    pool = [arr(rng, (3,), f"p{i}") for i in range(4)]
    add = rc.Add(*[pool[i] for i in picks], name="s")
    sub_picks = data.draw(st.lists(st.integers(0, 3), min_size=0, max_size=4))
    sub = rc.Add(*[pool[i] for i in sub_picks], name="sub")
    out = rc.extract_add(add, sub)
    if any(sub_picks.count(i) > picks.count(i) for i in set(sub_picks)):
        assert out is None
        return
    assert out.name == "s" and sub in out.children
    assert len(out.children) == len(picks) - len(sub_picks) + 1
    assert_same_value(out, add)


def test_add_fuse_scalar_multiples(rng):
    a, b = arr(rng, (2, 3), "a"), arr(rng, (2, 3), "b")
    two = rc.Einsum.scalar_mul(a, 2.0, name="a2", scalar_name="two")
    three = rc.Einsum.scalar_mul(a, 3.0, name="a3", scalar_name="three")
    add = rc.Add(two, b, three, name="s")
    out = rc.add_fuse_scalar_multiples(add)
    assert out is None  # the Einsums differ by name, so nothing merges
    two = rc.Einsum.scalar_mul(a, 2.0, name="am", scalar_name="two")
    three = rc.Einsum.scalar_mul(a, 3.0, name="am", scalar_name="three")
    add = rc.Add(two, b, three, name="s")
    out = rc.add_fuse_scalar_multiples(add)
    assert out.name == "s" and len(out.children) == 2
    fused = out.children[0]
    assert fused.name == "am" and fused.children[-1] == rc.Scalar(5.0, (), "two")
    assert_same_value(out, add)
    assert rc.add_fuse_scalar_multiples(rc.Add(a, b, name="s")) is None


@SETTINGS
@given(st.integers(0, 2**31 - 1), st.lists(st.integers(0, 2), min_size=1, max_size=6))
def test_add_fuse_scalar_multiples_keeps_value(seed, picks):
    rng = np.random.default_rng(seed)
    pool = [arr(rng, (2,), f"p{i}") for i in range(3)]
    ops = [
        (
            rc.Einsum.scalar_mul(pool[i], float(rng.integers(1, 4)), name=f"m{i}")
            if rng.integers(0, 2)
            else pool[i]
        )
        for i in picks
    ]
    add = rc.Add(*ops, name="s")
    out = rc.add_fuse_scalar_multiples(add)
    if out is not None:
        assert out.name == "s" and len(out.children) < len(ops)
        assert_same_value(out, add)


# --- Einsum -----------------------------------------------------------------------------------


def test_einsum_merge_scalars(rng):
    a = arr(rng, (2, 3), "a")
    ein = rc.Einsum(
        (rc.Scalar(2.0, (), "x"), ()),
        (a, (0, 1)),
        (rc.Scalar(3.0, ()), ()),
        out_axes=(1, 0),
        name="e",
    )
    out = rc.einsum_merge_scalars(ein)
    # as in rc the result is built unnamed, so it takes its autoname
    assert out == rc.Einsum((a, (0, 1)), (rc.Scalar(6.0, ()), ()), out_axes=(1, 0))
    assert_same_value(out, ein)
    one = rc.Einsum((a, (0, 1)), (rc.Scalar(1.0, ()), ()), out_axes=(0, 1), name="e")
    assert rc.einsum_merge_scalars(one).children == [a]
    single = rc.Einsum((a, (0, 1)), (rc.Scalar(2.0, ()), ()), out_axes=(0, 1), name="e")
    assert rc.einsum_merge_scalars(single) is None
    assert rc.einsum_merge_scalars(rc.Einsum((a, (0, 1)), out_axes=(0,), name="e")) is None


@SETTINGS
@given(st.integers(0, 2**31 - 1), st.lists(st.sampled_from([0.5, 1.0, 2.0, -3.0]), max_size=4))
def test_einsum_merge_scalars_keeps_value(seed, factors):
    rng = np.random.default_rng(seed)
    a, b = arr(rng, (2, 3), "a"), arr(rng, (3,), "b")
    ops = [(a, (0, 1)), (b, (1,))] + [(rc.Scalar(f, ()), ()) for f in factors]
    order = rng.permutation(len(ops))
    ein = rc.Einsum(*[ops[i] for i in order], out_axes=(0,), name="e")
    out = rc.einsum_merge_scalars(ein)
    if not factors or (len(factors) == 1 and factors[0] != 1.0):
        assert out is None
        return
    assert sum(isinstance(c, rc.Scalar) for c in out.children) <= 1
    assert_same_value(out, ein)


def test_einsum_concat_to_add(rng):
    p, q, w = arr(rng, (2, 3), "p"), arr(rng, (1, 3), "q"), arr(rng, (3, 4), "w")
    cat = rc.Concat(p, q, axis=0, name="cat")
    ein = rc.Einsum.from_einsum_string("ij,jk->k", cat, w, name="e")
    out = rc.einsum_concat_to_add(ein)
    assert isinstance(out, rc.Add) and len(out.children) == 2
    assert [c.children[0] for c in out.children] == [p, q]
    assert_same_value(out, ein)
    # the concat axis is kept, shared or repeated: no rewrite
    assert rc.einsum_concat_to_add(rc.Einsum.from_einsum_string("ij,jk->ik", cat, w)) is None
    shared = arr(rng, (3, 4), "x")
    assert rc.einsum_concat_to_add(rc.Einsum.from_einsum_string("ij,ik->k", cat, shared)) is None
    square = rc.Concat(arr(rng, (1, 3), "r"), arr(rng, (2, 3), "s"), axis=0, name="sq")
    assert rc.einsum_concat_to_add(rc.Einsum.from_einsum_string("ii->", square)) is None
    assert rc.einsum_concat_to_add(rc.Einsum.from_einsum_string("ij,jk->k", p, w)) is None


@SETTINGS
@given(st.integers(0, 2**31 - 1), st.integers(1, 3), st.booleans())
def test_einsum_concat_to_add_keeps_value(seed, n_parts, keep_other):
    rng = np.random.default_rng(seed)
    parts = [arr(rng, (int(rng.integers(1, 3)), 3), f"p{i}") for i in range(n_parts)]
    cat = rc.Concat(*parts, axis=0, name="cat")
    w = arr(rng, (3, 2), "w")
    ein = rc.Einsum.from_einsum_string("ij,jk->jk" if keep_other else "ij,jk->", cat, w, name="e")
    out = rc.einsum_concat_to_add(ein)
    assert isinstance(out, rc.Add) and len(out.children) == n_parts
    assert_same_value(out, ein)


# --- canonical forms --------------------------------------------------------------------------


def test_canonicalize_node(rng):
    a, b = arr(rng, (2, 3), "a"), arr(rng, (3,), "b")
    add = rc.Add(b, a, name="s")
    assert rc.canonicalize_node(add).children == [a, b]
    ein = rc.Einsum((b, (7,)), (a, (5, 7)), out_axes=(5,), name="e")
    c = rc.canonicalize_node(ein)
    assert c.children == [a, b] and c.name == "e"
    assert c.in_axes == [(0, 1), (1,)] and c.out_axes == (0,)
    assert_same_value(c, ein)
    idx = rc.Index(a, (-1, slice(None, None)), name="i")
    ci = rc.canonicalize_node(idx)
    assert ci.idx == (1, slice(0, 3)) and ci.name == "i"
    r = rc.Rearrange.from_string(arr(rng, (2, 1, 3), "x"), "a b c -> (a b) c", name="r")
    cr = rc.canonicalize_node(r)
    assert cr.name == "r" and str(cr.spec) == "a:2 () b:3 -> a:2 b:3"
    assert_same_value(cr, r)
    assert rc.canonicalize_node(a) == a


def test_normalize_node(rng):
    a = arr(rng, (2, 3), "a")
    ein = rc.Einsum((a, (9, 4)), out_axes=(4,), name="e")
    n = rc.normalize_node(ein)
    assert n.in_axes == [(0, 1)] and n.out_axes == (1,) and n.name == "e"
    r = rc.Rearrange.from_string(arr(rng, (2, 1, 3), "x"), "a b c -> (a b) c", name="r")
    assert str(rc.normalize_node(r).spec) == "a b c -> (a b) c"
    merged = rc.Rearrange.from_string(arr(rng, (2, 1, 3), "x"), "a b c -> (a b) c", name="r")
    assert rc.normalize_node(merged).name == "r"
    add = rc.Add(a, name="s")
    assert rc.normalize_node(add) == add


@st.composite
def random_circuit(draw):
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    leaves = [arr(rng, (2, 3), f"l{i}") for i in range(3)] + [arr(rng, (3,), "v")]
    nodes = list(leaves)
    for k in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["add", "einsum", "index", "rearrange"]))
        pick = [n for n in nodes if n.shape == (2, 3)]
        x = draw(st.sampled_from(pick))
        if kind == "add":
            y = draw(st.sampled_from(nodes))
            nodes.append(rc.Add(y, x) if y.shape == (3,) else rc.Add(y, x, name=f"s{k}"))
        elif kind == "einsum":
            y = draw(st.sampled_from(pick))
            nodes.append(rc.Einsum((y, (3, 8)), (x, (3, 8)), (leaves[3], (8,)), out_axes=(3, 8)))
        elif kind == "index":
            nodes.append(rc.Index(rc.Concat(x, x, axis=0), (slice(-2, None),), name=f"i{k}"))
        else:
            nodes.append(rc.Rearrange.from_string(x, "a b -> a b"))
    return nodes[-1]


@SETTINGS
@given(random_circuit())
def test_deep_canonicalize_and_normalize_keep_value(c):
    dc = rc.deep_canonicalize(c)
    assert_same_value(dc, c)
    assert rc.deep_canonicalize(dc) == dc
    dn = rc.deep_normalize(c)
    assert_same_value(dn, c)
    assert rc.deep_normalize(dn) == dn


def test_deep_canonicalize_equates_orders(rng):
    a, b, c = arr(rng, (3,), "a"), arr(rng, (3,), "b"), arr(rng, (3,), "c")
    x = rc.Einsum((rc.Add(a, b, c, name="s"), (0,)), (a, (0,)), out_axes=(0,), name="e")
    y = rc.Einsum((a, (4,)), (rc.Add(c, a, b, name="s"), (4,)), out_axes=(4,), name="e")
    assert x != y
    assert rc.deep_canonicalize(x) == rc.deep_canonicalize(y)


# --- removable axes ---------------------------------------------------------------------------


def test_einsum_pull_removable_axes(rng):
    a, b = arr(rng, (2, 3), "a"), arr(rng, (3,), "b")
    rb = rc.Rearrange.from_string(b, "c -> z:4 c", name="rb")
    ein = rc.Einsum(
        (rb, (0, 1)), (a, (2, 1)), (rc.Scalar(2.0, (5,)), (3,)), out_axes=(0, 2), name="e"
    )
    out = rc.einsum_pull_removable_axes(ein)
    assert isinstance(out, rc.Rearrange) and out.shape == (4, 2)
    inner = out.node
    assert inner.name == "e" and inner.children[:2] == [b, a]
    # the summed axis of size 5 only the Scalar had becomes a factor
    assert inner.children[-1] == rc.Scalar(5.0, ())
    assert_same_value(out, ein)
    kept = rc.Einsum((rb, (0, 1)), (a, (2, 1)), out_axes=(1, 2), name="e")
    out = rc.einsum_pull_removable_axes(kept)
    assert out.name == "e" and out.children[0] == b
    assert_same_value(out, kept)
    assert rc.einsum_pull_removable_axes(rc.Einsum((a, (0, 1)), out_axes=(1,), name="e")) is None
    # a repeated output label cannot be restored by a Rearrange
    diag = rc.Einsum((rb, (0, 1)), out_axes=(0, 0, 1), name="d")
    assert rc.einsum_pull_removable_axes(diag) is None


@SETTINGS
@given(st.integers(0, 2**31 - 1), st.data())
def test_einsum_pull_removable_axes_keeps_value(seed, data):
    rng = np.random.default_rng(seed)
    sizes = [2, 3, 4]
    ops = []
    for i in range(data.draw(st.integers(1, 3))):
        labels = tuple(data.draw(st.permutations(range(3)))[: data.draw(st.integers(0, 3))])
        shape = tuple(sizes[k] for k in labels)
        kind = data.draw(st.sampled_from(["array", "scalar", "broadcast"]))
        if kind == "scalar":
            node = rc.Scalar(float(rng.standard_normal()), shape, f"s{i}")
        elif kind == "broadcast" and labels:
            base = arr(rng, shape[1:], f"b{i}")
            node = rc.Rearrange.from_string(
                base, _broadcast_spec(len(shape), shape[0]), name=f"r{i}"
            )
        else:
            node = arr(rng, shape, f"a{i}")
        ops.append((node, labels))
    used = sorted({k for _, labels in ops for k in labels})
    out_axes = tuple(k for k in used if data.draw(st.booleans()))
    ein = rc.Einsum(*ops, out_axes=out_axes, name="e")
    out = rc.einsum_pull_removable_axes(ein)
    if out is not None:
        assert_same_value(out, ein)


def _broadcast_spec(rank, first):
    rest = " ".join(f"x{k}" for k in range(rank - 1))
    return f"{rest} -> n:{first} {rest}"


def test_add_pull_removable_axes(rng):
    b, c = arr(rng, (3,), "b"), arr(rng, (1, 3), "c")
    rb = rc.Rearrange.from_string(b, "c -> z:4 c", name="rb")
    add = rc.Add(rb, rc.Scalar(1.0, (4, 3)), c, name="s")
    common = rc.add_pull_removable_axes(add, False)
    assert isinstance(common, rc.Rearrange) and common.node.name == "s"
    assert common.node.children == [
        b,
        rc.Scalar(1.0, (3,)),
        rc.Rearrange.from_string(c, "() a:3 -> a:3", name="c_rem_ax"),
    ]
    assert_same_value(common, add)
    own = rc.add_pull_removable_axes(add, True)
    assert own.node.children[1] == rc.Scalar(1.0, ())
    assert_same_value(own, add)
    a = arr(rng, (4, 3), "a")
    assert rc.add_pull_removable_axes(rc.Add(a, c, name="s"), False) is None
    assert rc.add_pull_removable_axes(rc.Add(a, a, name="s"), True) is None
    assert rc.add_pull_removable_axes(rc.Add(name="z"), False) is None


@SETTINGS
@given(st.integers(0, 2**31 - 1), st.integers(1, 4), st.booleans())
def test_add_pull_removable_axes_keeps_value(seed, n, non_common):
    rng = np.random.default_rng(seed)
    full = (2, 3)
    ops = []
    for i in range(n):
        kind = rng.integers(0, 4)
        drop = int(rng.integers(0, 3))
        shape = tuple(1 if rng.integers(0, 3) == 0 else s for s in full[drop:])
        if kind == 0:
            ops.append(rc.Scalar(float(rng.standard_normal()), shape, f"s{i}"))
        elif kind == 1 and len(shape) == 2:
            ops.append(
                rc.Rearrange.from_string(arr(rng, shape[1:], f"b{i}"), f"x -> n:{shape[0]} x")
            )
        else:
            ops.append(arr(rng, shape, f"a{i}"))
    add = rc.Add(*ops, name="s")
    out = rc.add_pull_removable_axes(add, non_common)
    if out is not None:
        assert out.shape == add.shape
        assert_same_value(out, add)


# --- maybe_distribute -------------------------------------------------------------------------


def test_maybe_distribute(rng):
    a, b, w = arr(rng, (3,), "a"), arr(rng, (3,), "b"), arr(rng, (2, 3), "w")
    ein = rc.Einsum.from_einsum_string("i,ji->j", rc.Add(a, b, name="s"), w, name="e")
    small = rc.OptimizationSettings(distribute_min_size=3)
    out = rc.maybe_distribute(ein, small)
    assert isinstance(out, rc.Add) and len(out.children) == 2
    assert_same_value(out, ein)
    assert rc.maybe_distribute(ein, rc.OptimizationSettings(distribute_min_size=4)) is None
    assert rc.maybe_distribute(ein) is None  # max_single_tensor_memory is far above 3
    top = rc.Add(ein, arr(rng, (2,), "c"), name="top")
    deep = rc.deep_maybe_distribute(top, small)
    assert deep.name == "top" and isinstance(deep.children[0], rc.Add)
    assert_same_value(deep, top)
    assert rc.deep_maybe_distribute(ein, rc.OptimizationSettings()) == ein
    with pytest.raises(TypeError, match="expected Einsum"):
        rc.maybe_distribute(a, small)


@SETTINGS
@given(einsum_with_adds())
def test_deep_maybe_distribute_keeps_value(case):
    ein, _ = case
    out = rc.deep_maybe_distribute(ein, rc.OptimizationSettings(distribute_min_size=1))
    assert_same_value(out, ein)


# --- extract_rewrite --------------------------------------------------------------------------


def test_extract_rewrite_raw(rng):
    a, b, w = arr(rng, (3,), "a0.inp"), arr(rng, (3,), "a0.bias"), arr(rng, (2, 3), "a0.w")
    body = rc.Einsum.from_einsum_string("i,ji->j", rc.Add(a, b, name="a0.sum"), w, name="a0.out")
    specs = [(c, rc.ModuleArgSpec.just_name_shape(c)) for c in (w, a, b)]
    m = rc.extract_rewrite_raw(body, specs, "a0.", "a0")
    assert isinstance(m, rc.Module) and m.name == "a0"
    assert m.spec.circuit.name == "out"
    assert [s.symbol.name for s in m.spec.arg_specs] == ["a0.w", "a0.inp", "a0.bias"]
    assert m.children[1:] == [w, a, b]
    assert_same_value(m, body)
    assert rc.substitute_all_modules(m) == body.rename("a0")
    kept = rc.extract_rewrite_raw(body, specs, "zz.", None)
    assert kept.spec.circuit.name == "a0.out"
    with pytest.raises(rc.ConstructModuleExtractNotPresentError):
        rc.extract_rewrite_raw(
            body, specs + [(arr(rng, (3,), "x"), rc.ModuleArgSpec.just_name_shape(a))]
        )


def test_extract_rewrite(rng):
    a, b, w = arr(rng, (3,), "a0.inp"), arr(rng, (3,), "a0.bias"), arr(rng, (2, 3), "a0.w")
    body = rc.Einsum.from_einsum_string("i,ji->j", rc.Add(a, b, name="a0.sum"), w, name="a0.out")
    m = rc.extract_rewrite(body, rc.Matcher(rc.Array), "a0.", "a0")
    # arguments are ordered by name
    assert [s.symbol.name for s in m.spec.arg_specs] == ["a0.bias", "a0.inp", "a0.w"]
    assert all(s.batchable and s.expandable for s in m.spec.arg_specs)
    assert_same_value(m, body)
    custom = rc.extract_rewrite(
        body,
        rc.Matcher("a0.inp"),
        module_name="m",
        circuit_to_arg_spec=lambda c: rc.ModuleArgSpec.just_name_shape(c, batchable=False),
    )
    assert custom.name == "m" and not custom.spec.arg_specs[0].batchable
    assert_same_value(custom, body)


# --- diagonals --------------------------------------------------------------------------------


def test_add_pull_diags(rng):
    x, y = arr(rng, (3, 3), "x"), arr(rng, (3,), "y")
    add = rc.Add(
        rc.Einsum((x, (0, 1)), out_axes=(0, 0), name="dx"),
        rc.Einsum((y, (0,)), out_axes=(0, 0), name="dy"),
        name="s",
    )
    out = rc.add_pull_diags(add)
    assert isinstance(out, rc.Einsum) and out.in_axes == [(0,)] and out.out_axes == (0, 0)
    inner = out.children[0]
    assert inner.name == "s" and [c.out_axes for c in inner.children] == [(0,), (0,)]
    assert_same_value(out, add)
    # one operand is not diagonal, or an operand is not an Einsum: no rewrite
    assert (
        rc.add_pull_diags(rc.Add(add.children[0], rc.Einsum((x, (0, 1)), out_axes=(0, 1)))) is None
    )
    assert rc.add_pull_diags(rc.Add(add.children[0], x, name="s")) is None
    assert rc.add_pull_diags(rc.Add(name="z")) is None


@SETTINGS
@given(st.integers(0, 2**31 - 1), st.integers(1, 3), st.data())
def test_add_pull_diags_keeps_value(seed, n, data):
    rng = np.random.default_rng(seed)
    ops = []
    for i in range(n):
        pattern = data.draw(st.sampled_from([(0, 0, 1), (0, 0), (0, 1, 0), (0, 1), (0, 0, 0)]))
        used = sorted(set(pattern))
        base = arr(rng, tuple(3 if k == 0 else 2 for k in used), f"b{i}")
        ops.append(rc.Einsum((base, tuple(used)), out_axes=pattern, name=f"e{i}"))
    try:
        add = rc.Add(*ops, name="s")
    except rc.MiscInputNotBroadcastableError:
        return
    out = rc.add_pull_diags(add)
    if out is not None:
        assert_same_value(out, add)


def test_einsum_push_down_trace(rng):
    x, y = arr(rng, (3, 3), "x"), arr(rng, (3,), "y")
    ein = rc.Einsum((rc.Add(x, y, name="a"), (0, 0)), out_axes=(0,), name="tr")
    out = rc.einsum_push_down_trace(ein)
    assert out.name == "tr" and out.in_axes == [(0,)]
    assert [c.in_axes for c in out.children[0].children] == [[(0, 0)], [(0, 0)]]
    assert_same_value(out, ein)
    cat = rc.Concat(arr(rng, (3, 2, 3), "p"), arr(rng, (3, 1, 3), "q"), axis=1, name="c")
    ein = rc.Einsum((cat, (0, 1, 0)), out_axes=(1,), name="tr")
    out = rc.einsum_push_down_trace(ein)
    assert isinstance(out.children[0], rc.Concat) and out.children[0].axis == 1
    assert_same_value(out, ein)
    z = arr(rng, (3, 4, 3), "z")
    idx = rc.Index(z, (slice(None), slice(1, 3), slice(None)), name="i")
    ein = rc.Einsum((idx, (0, 1, 0)), out_axes=(0, 1), name="tr")
    out = rc.einsum_push_down_trace(ein)
    assert isinstance(out.children[0], rc.Index) and out.children[0].shape == (3, 2)
    assert_same_value(out, ein)
    r = rc.Rearrange.from_string(arr(rng, (3, 2, 3), "w"), "a b c -> a c b", name="r")
    ein = rc.Einsum((r, (0, 0, 1)), out_axes=(1,), name="tr")
    out = rc.einsum_push_down_trace(ein)
    assert isinstance(out.children[0], rc.Rearrange) and out.children[0].shape == (3, 2)
    assert_same_value(out, ein)
    # no repeated labels, or an operand that cannot take the trace
    assert rc.einsum_push_down_trace(rc.Einsum((x, (0, 1)), out_axes=(0,))) is None
    assert rc.einsum_push_down_trace(rc.Einsum((x, (0, 0)), out_axes=(0,))) is None
    # a non-identity index on the repeated axis keeps the trace above
    sliced = rc.Index(x, (slice(0, 2), slice(0, 2)))
    assert rc.einsum_push_down_trace(rc.Einsum((sliced, (0, 0)), out_axes=())) is None


@SETTINGS
@given(
    st.integers(0, 2**31 - 1), st.sampled_from(["add", "concat", "index", "rearrange"]), st.data()
)
def test_einsum_push_down_trace_keeps_value(seed, kind, data):
    rng = np.random.default_rng(seed)
    labels = data.draw(st.sampled_from([(0, 0, 1), (0, 1, 0), (1, 0, 0), (0, 0, 0)]))
    out_axes = tuple(sorted(set(labels)))[: data.draw(st.integers(0, 2))]
    shape = (3, 3, 3)
    if kind == "add":
        node = rc.Add(arr(rng, shape, "a"), arr(rng, (3, 1), "b"), name="s")
    elif kind == "concat":
        axis = data.draw(st.integers(0, 2))
        parts = [
            arr(rng, tuple(1 if k == axis else 3 for k in range(3)), f"p{j}") for j in range(3)
        ]
        node = rc.Concat(*parts, axis=axis, name="c")
    elif kind == "index":
        node = rc.Index(
            arr(rng, (3, 4, 3, 5), "z"), (slice(None), slice(1, 4), slice(None), 2), name="i"
        )
    else:
        perm = data.draw(st.permutations("abc"))
        node = rc.Rearrange.from_string(
            arr(rng, shape, "w"), f"a b c -> {' '.join(perm)}", name="r"
        )
    ein = rc.Einsum((node, labels), out_axes=out_axes, name="tr")
    out = rc.einsum_push_down_trace(ein)
    if out is not None:
        assert out.name == "tr"
        assert_same_value(out, ein)


# --- cumulant rewrites ------------------------------------------------------------------------


def _weighted_vars(rng, n_vars=3, n=5):
    p = rng.random(n)
    p /= p.sum()
    group = rc.Array(p, "probs")
    vs = [
        rc.DiscreteVar(rc.Array(rng.standard_normal((n, 3)), f"x{i}"), group, name=f"v{i}")
        for i in range(n_vars)
    ]
    return group, vs


def _assert_same_estimate(sampler, new, old):
    a = np.asarray(sampler.estimate(new).evaluate())
    b = np.asarray(sampler.estimate(old).evaluate())
    assert a.shape == b.shape == tuple(old.shape)
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-10)


def test_rewrite_cum_to_circuit_of_cum_kinds(rng):
    group, vs = _weighted_vars(rng)
    s = rc.Sampler(rc.RunDiscreteVarAllSpec([group]))
    w = rc.Array(rng.standard_normal((2, 3)), "w")
    e = rc.Einsum.from_einsum_string("i,ji->j", vs[0], w, name="e")
    e2 = rc.Einsum.from_einsum_string("i,i->i", vs[0], vs[1], name="e2")
    cases = [
        (rc.Cumulant(e), e),
        (rc.Cumulant(e, vs[1]), e),
        (rc.Cumulant(vs[1], e, vs[2]), e),
        (rc.Cumulant(e2, vs[2]), e2),
        (rc.Cumulant(vs[2], rc.Add(vs[0], vs[1], rc.Scalar(1.0, (1,)), name="a")), None),
        (rc.Cumulant(vs[1], rc.Rearrange.from_string(vs[0], "a -> a 1", name="r"), vs[2]), None),
        (rc.Cumulant(vs[1], rc.Index(vs[0], (slice(0, 2),), name="i")), None),
        (rc.Cumulant(vs[2], rc.Concat(vs[0], vs[1], axis=0, name="c")), None),
        (
            rc.Cumulant(rc.Tag(vs[0], rc.Tag.new_with_random_uuid(vs[0]).uuid, name="t"), vs[1]),
            None,
        ),
    ]
    for cum, node in cases:
        if node is None:
            node = next(c for c in cum.children if not isinstance(c, rc.DiscreteVar))
        out = rc.rewrite_cum_to_circuit_of_cum(cum, node)
        assert out.name == cum.name
        assert not isinstance(out, rc.Cumulant)
        _assert_same_estimate(s, out, cum)


def test_rewrite_cum_to_circuit_of_cum_constants_and_errors(rng):
    group, vs = _weighted_vars(rng)
    a = rc.Array(rng.standard_normal(3), "a")
    assert rc.rewrite_cum_to_circuit_of_cum(rc.Cumulant(name="k"), a) == rc.Scalar(1.0, (), "k")
    assert rc.rewrite_cum_to_circuit_of_cum(rc.Cumulant(a, name="k"), a) == a.rename("k")
    assert rc.rewrite_cum_to_circuit_of_cum(rc.Cumulant(a, vs[0], name="k"), a) == rc.Scalar(
        0.0, (3, 3), "k"
    )
    with pytest.raises(rc.CumulantRewriteNodeToExpandNotFoundError, match="node 'v1'"):
        rc.rewrite_cum_to_circuit_of_cum(rc.Cumulant(vs[0]), vs[1])
    with pytest.raises(rc.CumulantRewriteUnexpandableTypeError, match="GeneralFunction"):
        relu = rc.relu(vs[0])
        rc.rewrite_cum_to_circuit_of_cum(rc.Cumulant(relu), relu)
    with pytest.raises(rc.CumulantRewriteUnimplementedTypeError, match="DiscreteVar"):
        rc.rewrite_cum_to_circuit_of_cum(rc.Cumulant(vs[0]), vs[0])
    assert issubclass(rc.CumulantRewriteError, ValueError)
    with pytest.raises(TypeError, match="expected Cumulant"):
        rc.rewrite_cum_to_circuit_of_cum(a, a)


def test_rewrite_cum_namer_and_on_sub(rng):
    group, vs = _weighted_vars(rng)
    e = rc.Einsum.from_einsum_string("i,i->i", vs[0], vs[1], name="e")
    out = rc.rewrite_cum_to_circuit_of_cum(
        rc.Cumulant(e, vs[2]), e, namer=lambda c: "k" + str(len(c.children))
    )
    names = {c.name for c in out.get(rc.Matcher(rc.Cumulant))}
    assert names <= {"k1", "k2", "k3"}
    seen = []
    rc.rewrite_cum_to_circuit_of_cum(
        rc.Cumulant(e, vs[2]), e, on_sub_cumulant_fn=lambda c: seen.append(c) or c
    )
    assert seen and all(isinstance(c, rc.Cumulant) for c in seen)


@SETTINGS
@given(st.integers(0, 2**31 - 1), st.integers(1, 3), st.integers(0, 2))
def test_rewrite_cum_of_einsum_keeps_value(seed, n_ops, n_others):
    rng = np.random.default_rng(seed)
    group, vs = _weighted_vars(rng, n_vars=4)
    ops = [(vs[int(rng.integers(0, 4))], (0,)) for _ in range(n_ops)]
    e = rc.Einsum(*ops, out_axes=(0,) if rng.integers(0, 2) else (), name="e")
    others = [vs[int(rng.integers(0, 4))] for _ in range(n_others)]
    pos = int(rng.integers(0, n_others + 1))
    cum = rc.Cumulant(*others[:pos], e, *others[pos:])
    out = rc.rewrite_cum_to_circuit_of_cum(cum, e)
    _assert_same_estimate(rc.Sampler(rc.RunDiscreteVarAllSpec([group])), out, cum)


def test_kappa_term(rng):
    group, vs = _weighted_vars(rng)
    prod, cums = rc.kappa_term([[(0, vs[0]), (2, vs[1])], [(1, vs[2])]])
    assert cums == [rc.Cumulant(vs[0], vs[1]), rc.Cumulant(vs[2])]
    assert prod.children == cums and prod.out_axes == (0, 2, 1)
    s = rc.Sampler(rc.RunDiscreteVarAllSpec([group]))
    k01 = np.asarray(s.estimate(cums[0]).evaluate())
    k2 = np.asarray(s.estimate(cums[1]).evaluate())
    np.testing.assert_allclose(
        np.asarray(s.estimate(prod).evaluate()), np.einsum("ik,j->ijk", k01, k2), atol=1e-12
    )
    named, _ = rc.kappa_term([[(0, vs[0])]], namer=lambda c: "n")
    assert named.children[0].name == "n"


def test_make_broadcast_and_explicit_broadcasts(rng):
    a = arr(rng, (3, 1), "a")
    out = rc.make_broadcast(a, (2, 3, 4))
    assert isinstance(out, rc.Rearrange) and out.shape == (2, 3, 4) and out.node == a
    np.testing.assert_allclose(value(out), np.broadcast_to(value(a), (2, 3, 4)))
    assert rc.make_broadcast(a, (3, 1)) == a
    assert rc.make_broadcast(a, (4, 4)) is None
    assert rc.make_broadcast(a, (3,)) is None
    add = rc.Add(a, arr(rng, (4,), "b"), name="s")
    explicit = rc.add_make_broadcasts_explicit(add)
    assert explicit.name == "s" and all(c.shape == (3, 4) for c in explicit.children)
    assert_same_value(explicit, add)
    assert rc.add_make_broadcasts_explicit(explicit) is None
