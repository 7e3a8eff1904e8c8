"""Named axes (spec 1.2-1.6, 6.1-6.3): rename_axes / set_named_axes, the names children give
their parents (rc's child_axis_map, checked against a Python reference), propagate_named_axes
against a Python reference of rc's pass-down map, hashing (rc's byte layout; circuits without
names hash as before), printing ([a:3,b:4] shapes, fancy Einsum) and parsing, with a
hypothesis round trip, and every error path."""

import uuid

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import circuits as rc
from test_roundtrip import grow, leaves, rename, round_trip

AXIS_DELIMITER = uuid.UUID("db6b1967-35f7-4571-a69c-82ba3340215d").bytes


ELEMENTWISE = ("relu", "sigmoid", "tanh", "gelu", "exp", "sin")


def arr(*shape, name=None, seed=0):
    return rc.Array(np.random.default_rng(seed).standard_normal(shape), name=name)


# --- reference child_axis_map ---------------------------------------------------------------


def ref_child_axis_map(c):
    """rc's child_axis_map, in Python, for the kinds these tests build."""
    kids = c.children
    v = c.variant_string
    if v == "Add":
        out = []
        for k in kids:
            d = c.ndim - k.ndim
            out.append([j + d if c.shape[j + d] == k.shape[j] else None for j in range(k.ndim)])
        return out
    if v == "Einsum":
        labels = list(c.out_axes)
        inv = {}
        dead = set()
        for i, lab in enumerate(labels):
            if lab in inv and inv[lab] != i:
                dead.add(lab)
            inv.setdefault(lab, i)
        out = []
        for _, axes in c.args:
            out.append([None if list(axes).count(a) > 1 or a in dead else inv.get(a) for a in axes])
        return out
    if v == "Index":
        (k,) = kids
        cur = -1
        row = []
        for size, item in zip(k.shape, c.idx):
            if not isinstance(item, int):
                cur += 1
            full = isinstance(item, slice) and range(size)[item] == range(size)
            row.append(cur if full else None)
        return [row]
    if v == "Concat":
        return [[None if j == c.axis else j for j in range(k.ndim)] for k in kids]
    if v == "Rearrange":
        spec = c.spec
        row = []
        for group in spec.input_ints:
            pos = None
            if len(group) == 1:
                matches = [g for g, og in enumerate(spec.output_ints) if list(og) == list(group)]
                pos = matches[0] if matches else None
            row.append(pos)
        return [row]
    if v in ("Tag", "SetSymbolicShape"):
        return [list(range(kids[0].ndim))]
    if v == "GeneralFunction":
        return [list(range(k.ndim)) for k in kids]  # elementwise functions only
    if v == "Cumulant":
        out, place = [], 0
        for k in kids:
            out.append(list(range(place, place + k.ndim)))
            place += k.ndim
        return out
    if v == "DiscreteVar":
        return [[None] + list(range(c.ndim)), [None]]
    return [[None] * k.ndim for k in kids]


def ref_names_from_children(c):
    names = {}
    for k, row in zip(c.children, ref_child_axis_map(c)):
        for axis, name in sorted(k.named_axes.items()):
            if row[axis] is not None:
                names[row[axis]] = name
    return names


def ref_propagate(c, passed, abort_on_branch=True, memo=None):
    """rc's propagate_named_axes: deep_map_pass_down_branching, memoised on (node, names)."""
    memo = {} if memo is None else memo
    key = (c, tuple(sorted(passed.items())))
    if key in memo:
        return memo[key]
    branching = (
        abort_on_branch
        and c.variant_string == "Einsum"
        and any(len(set(axes)) != len(axes) for _, axes in c.args)
    )
    new_children = []
    for k, row in zip(c.children, ref_child_axis_map(c)):
        down = {}
        if not branching:
            down = {j: passed[a] for j, a in enumerate(row) if a is not None and a in passed}
        new_children.append(ref_propagate(k, down, abort_on_branch, memo))
    rebuilt = c if c.is_leaf else c.map_children_enumerate(lambda i, _: new_children[i])
    out = rc.set_named_axes(rebuilt, {**c.named_axes, **passed})
    memo[key] = out
    return out


# --- setting and reading ----------------------------------------------------------------------


def test_rename_axes_sets_and_reads_names():
    a = arr(3, 4, name="a")
    assert a.named_axes == {}
    b = a.rename_axes({1: "feat", 0: "batch"})
    assert b.named_axes == {0: "batch", 1: "feat"}
    assert list(b.named_axes) == [0, 1]
    assert b.shape == a.shape and b.name == "a"
    assert rc.set_named_axes(a, {0: "batch", 1: "feat"}) == b
    assert b != a and b.hash != a.hash
    assert b.rename_axes({}) == a  # a leaf's children give it no names
    assert rc.set_named_axes(b, {0: "other"}).named_axes == {0: "other"}
    assert np.array_equal(np.asarray(b.evaluate()), np.asarray(a.evaluate()))


def test_names_kept_by_rename_and_autoname_flag_and_leaf_rebuild():
    a = arr(3, name="a").rename_axes({0: "i"})
    assert a.rename("z").named_axes == {0: "i"}
    assert a.rename(None).named_axes == {0: "i"}
    assert a.with_autoname_disabled().named_axes == {0: "i"}
    assert a.map_children(lambda x: x) == a
    s = rc.Add(a, arr(3, name="b")).rename_axes({0: "set"})
    assert s.rename("sum").named_axes == {0: "set"}
    assert s.with_autoname_disabled().named_axes == {0: "set"}
    # rebuilding a computed node goes through its constructor: names come from the children
    assert s.map_children(lambda x: x).named_axes == {0: "i"}


def test_axis_names_are_hashed_as_rc_hashes_them():
    blake3 = pytest.importorskip("blake3")
    import test_hash as th

    s = rc.Scalar(1.5, (2, 3), "s")
    plain = th.golden("Scalar", th.struct.pack("<d", 1.5) + th.u64(2, 3), "s")
    assert s.hash == plain  # no names: the hash rc gives a node without named axes
    named = s.rename_axes({1: "b", 0: "a"})
    h = blake3.blake3()
    h.update(th.struct.pack("<d", 1.5) + th.u64(2, 3))
    h.update(uuid.UUID(th.TYPE_UUIDS["Scalar"]).bytes)
    h.update(b"\x01s")
    h.update(th.NAME_DELIMITER)
    h.update(b"\x01")
    for axis, name in [(0, "a"), (1, "b")]:
        h.update(bytes([axis]) + name.encode() + AXIS_DELIMITER)
    assert named.hash == h.digest()


def test_parent_hashes_change_only_when_children_carry_names():
    a, b = arr(2, 3, name="a"), arr(3, name="b")
    plain = rc.Add(a, b)
    named = rc.Add(a.rename_axes({0: "r"}), b)
    assert plain.named_axes == {}
    assert named.named_axes == {0: "r"}
    assert named != plain
    assert rc.Add(a, b) == plain


# --- names given by children --------------------------------------------------------------------


def test_names_from_children_per_kind():
    x = arr(2, 3, name="x").rename_axes({0: "i", 1: "j"})
    y = arr(3, name="y").rename_axes({0: "k"})
    cases = [
        (rc.Add(x, y), {0: "i", 1: "k"}),  # later children win
        (rc.Add(x, arr(1, 3)), {0: "i", 1: "j"}),
        (rc.Add(arr(2, 1).rename_axes({0: "p", 1: "q"}), arr(2, 3)), {0: "p"}),  # broadcast
        (rc.Einsum.from_einsum_string("ij,j->ji", x, y), {0: "k", 1: "i"}),
        (rc.Einsum.from_einsum_string("ij->i", x), {0: "i"}),
        (rc.Einsum.from_einsum_string("ii->i", arr(3, 3).rename_axes({0: "a", 1: "b"})), {}),
        (rc.Einsum.from_einsum_string("ij->ii", x.index((slice(None), slice(0, 2)))), {}),
        (rc.Index(x, (0, slice(None))), {0: "j"}),
        (rc.Index(x, (slice(0, 1), slice(None))), {1: "j"}),
        (rc.Index(x, (slice(None), slice(-3, None))), {0: "i", 1: "j"}),
        (rc.Index(x, (np.array([1, 0]), slice(None))), {1: "j"}),
        (rc.Concat(x, arr(1, 3), axis=0), {1: "j"}),
        (rc.Rearrange.from_string(x, "a b -> b a"), {0: "j", 1: "i"}),
        (rc.Rearrange.from_string(x, "a b -> (a b)"), {}),
        (rc.Rearrange.from_string(x, "a b -> b 4 a"), {0: "j", 2: "i"}),
        (rc.Tag(x, uuid.UUID(int=5)), {0: "i", 1: "j"}),
        (rc.sigmoid(x), {0: "i", 1: "j"}),
        (rc.softmax(x), {0: "i"}),  # the last axis is not batchable
        (rc.Cumulant(y, x), {0: "k", 1: "i", 2: "j"}),
    ]
    for c, want in cases:
        assert c.named_axes == want, c.variant_string
        if c.variant_string != "GeneralFunction" or c.spec.name in ELEMENTWISE:
            assert ref_names_from_children(c) == want, c.variant_string


def test_discrete_var_and_module_names():
    values = arr(4, 3, name="v").rename_axes({0: "samples", 1: "f"})
    probs = rc.Tag(rc.Scalar(0.25, (4,)).rename_axes({0: "p"}), uuid.UUID(int=1))
    dv = rc.DiscreteVar(values, probs)
    assert dv.named_axes == {0: "f"}
    sym = rc.Symbol((3,), uuid.UUID(int=7), "in")
    m = rc.Module(rc.ModuleSpec(rc.Add(sym, name="body"), [rc.ModuleArgSpec(sym)]), **{"in": dv})
    assert m.named_axes == {0: "f"}
    assert m.child_axis_map_inputs() == [[0]]


def test_module_names_follow_the_body():
    a = rc.Symbol((2, 3), uuid.UUID(int=11), "a")
    b = rc.Symbol((3,), uuid.UUID(int=12), "b")
    body = rc.Einsum.from_einsum_string("ij,j->ji", a, b, name="body")
    spec = rc.ModuleSpec(body, [rc.ModuleArgSpec(a), rc.ModuleArgSpec(b)])
    x = rc.Array(np.ones((2, 3)), "x").rename_axes({0: "row", 1: "col"})
    y = rc.Array(np.ones(3), "y").rename_axes({0: "k"})
    m = rc.Module(spec, a=x, b=y, name="m")
    assert m.child_axis_map_inputs() == [[1, 0], [0]]
    assert rc._circuits._child_axis_map(m) == [[None, None], [1, 0], [0]]
    assert m.named_axes == {0: "k", 1: "row"}  # later arguments win, as for every kind
    batched = rc.Module(spec, a=rc.Array(np.ones((4, 2, 3)), "xb").rename_axes({0: "batch"}), b=y)
    assert batched.shape == (4, 3, 2)
    assert batched.child_axis_map_inputs() == [[0, 2, 1], [1]]
    assert batched.named_axes == {0: "batch", 1: "k"}
    trace = rc.ModuleSpec(
        rc.Einsum.from_einsum_string("ii->i", rc.Symbol((3, 3), uuid.UUID(int=13), "t")),
        [rc.ModuleArgSpec(rc.Symbol((3, 3), uuid.UUID(int=13), "t"))],
    )
    tm = rc.Module(trace, t=rc.Array(np.ones((3, 3))).rename_axes({0: "p"}))
    assert tm.child_axis_map_inputs() == [[None, None]]  # names stop at a trace
    assert tm.named_axes == {}
    text = rc.PrintOptions().repr(m)
    assert rc.Parser()(text) == m


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_names_from_children_match_reference_on_random_circuits(data):
    pool = []
    for _ in range(data.draw(st.integers(1, 3))):
        leaf = data.draw(leaves())
        names = data.draw(st.dictionaries(st.integers(0, max(leaf.ndim - 1, 0)), AXIS_NAMES))
        pool.append(leaf.rename_axes(names if leaf.ndim else {}))
    for _ in range(data.draw(st.integers(1, 6))):
        c = grow(data.draw, pool)
        if c.variant_string in ("Module", "StoredCumulantVar", "DiscreteVar"):
            continue
        if c.variant_string == "GeneralFunction" and c.spec.name not in ELEMENTWISE:
            continue
        assert c.named_axes == ref_names_from_children(c), PRINT.repr(c)
        if c.variant_string != "GeneralFunction":
            assert rc._circuits._child_axis_map(c) == ref_child_axis_map(c), PRINT.repr(c)
        pool.append(c)


# --- propagate_named_axes -----------------------------------------------------------------------


def test_propagate_names_leaves_through_the_graph():
    a, w = arr(2, 3, name="a"), arr(3, 4, name="w")
    e = rc.Einsum.from_einsum_string("ab,bc->ac", a, w, name="e")
    p = rc.propagate_named_axes(e, {0: "batch", 1: "out"})
    assert p.named_axes == {0: "batch", 1: "out"}
    pa, pw = p.children
    assert pa.named_axes == {0: "batch"} and pw.named_axes == {1: "out"}
    assert p == ref_propagate(e, {0: "batch", 1: "out"})
    assert np.allclose(np.asarray(p.evaluate()), np.asarray(e.evaluate()))


def test_propagate_merges_over_existing_names_and_stops_at_traces():
    a = arr(3, 3, name="a").rename_axes({0: "old", 1: "keep"})
    t = rc.Einsum.from_einsum_string("ii,ij->i", arr(3, 3, name="d"), a, name="t")
    p = rc.propagate_named_axes(t, {0: "r"})
    assert p.named_axes == {0: "r"}
    assert p.children[1].named_axes == {0: "old", 1: "keep"}  # the trace stops names
    q = rc.propagate_named_axes(t, {0: "r"}, False)
    assert q.children[1].named_axes == {0: "r", 1: "keep"}
    assert q.children[0].named_axes == {}  # a repeated label maps nowhere
    assert q == ref_propagate(t, {0: "r"}, abort_on_branch=False)
    assert rc.propagate_named_axes(t, {}, True) == t


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_propagate_matches_reference_on_random_circuits(data):
    pool = [data.draw(leaves()) for _ in range(data.draw(st.integers(1, 3)))]
    for _ in range(data.draw(st.integers(1, 6))):
        c = grow(data.draw, pool)
        if c.variant_string in ("Module", "StoredCumulantVar", "DiscreteVar", "GeneralFunction"):
            continue
        pool.append(c)
    root = pool[-1]
    names = data.draw(st.dictionaries(st.integers(0, max(root.ndim - 1, 0)), AXIS_NAMES))
    names = names if root.ndim else {}
    branch = data.draw(st.booleans())
    got = rc.propagate_named_axes(root, names, branch)
    assert got == ref_propagate(root, names, branch), PRINT.repr(got)


# --- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["a b", "tab\there", "new\nline", "x:y", "[", "]", "a[0]", " "])
def test_forbidden_characters(bad):
    a = arr(3, name="a")
    for call in (
        lambda: a.rename_axes({0: bad}),
        lambda: rc.set_named_axes(a, {0: bad}),
        lambda: rc.propagate_named_axes(a, {0: bad}),
    ):
        with pytest.raises(rc.NamedAxesForbiddenCharacterError) as info:
            call()
        assert repr(bad)[1:-1] in repr(str(info.value)) or bad in str(info.value)
        assert "No whitespace, colon, or square brackets" in str(info.value)
        assert isinstance(info.value, rc.NamedAxesError)
        assert isinstance(info.value, RuntimeError)


def test_axis_above_rank_and_bad_arguments():
    a = arr(2, 3, name="a")
    with pytest.raises(rc.ConstructNamedAxisAboveRankError, match="axis 2 is named 'z'.*rank 2"):
        a.rename_axes({2: "z"})
    with pytest.raises(rc.ConstructNamedAxisAboveRankError, match="Array 'a'"):
        rc.propagate_named_axes(a, {5: "z"})
    with pytest.raises(rc.ConstructError):
        rc.set_named_axes(rc.Add(a), {3: "z"})
    with pytest.raises(OverflowError, match="axis -1"):
        a.rename_axes({-1: "z"})
    with pytest.raises(OverflowError, match="axis 256"):
        a.rename_axes({256: "z"})
    with pytest.raises(TypeError, match="axis keys must be ints"):
        a.rename_axes({"0": "z"})
    with pytest.raises(TypeError, match="must be a str"):
        a.rename_axes({0: 3})
    with pytest.raises(TypeError, match="expected a dict"):
        a.rename_axes([(0, "z")])
    with pytest.raises(TypeError, match="circuit"):
        rc.set_named_axes("not a circuit", {})
    with pytest.raises(TypeError):
        rc.propagate_named_axes(a)


# --- printing and parsing ---------------------------------------------------------------------

PRINT = rc.PrintOptions(bijection=False, shape_only_when_necessary=False)
AXIS_NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.]{0,6}", fullmatch=True)


def test_printed_shapes_carry_names():
    a = rc.Scalar(1.0, (3, 4)).rename_axes({1: "b"})
    assert rc.PrintOptions().repr(a) == "0 [3,b:4] Scalar 1"
    assert PRINT.repr(a) == "0 [3,b:4] Scalar 1"
    s = rc.Add(a.rename("x"), name="s")
    assert rc.PrintOptions().repr(s) == "'s' Add\n  'x' [3,b:4] Scalar 1"
    shown = rc.PrintOptions(show_all_named_axes=True)
    assert shown.repr(s) == "'s' [3,b:4] Add\n  'x' [3,b:4] Scalar 1"
    assert shown.repr_line_info(s) == " [3,b:4] Add"
    assert rc.PrintOptions().repr_line_info(s) == " Add"


# rc's test_parse_named_axes (python/tests/test_rust_printing.py): text that prints back the same
RC_PARSE_CASES = [
    "0 [large:3] Einsum ab,ac->a\n  1 [large:3,small:1] Scalar 1\n  2 [large:3,small:1] Scalar 1.5",
    "0 [small:1,large:3] Einsum ab,cb->bc\n  1 [large:3,small:1] Scalar 1\n"
    "  2 [large:3,small:1] Scalar 1.5",
    "0 [small:1,large:3] Einsum ab,cb->bc\n  1 [3,1] Scalar 1\n  2 [large:3,small:1] Scalar 1.5",
    "0 [small:1,3] Einsum ab,cb->bc\n  1 [3,1] Scalar 1\n  2 [3,small:1] Scalar 1.5",
    "0 [small:1,large:3] Einsum fancy: largerrr small, large small -> small large\n"
    "  1 [largerrr:3,small:1] Scalar 1\n  2 [large:3,small:1] Scalar 1.5",
    "0 [small:1,large:3] Einsum fancy: largerrr small, large small -> small large\n"
    "  1 [largerrr:3,small:1] Scalar 1\n  2 [large:3,smaller:1] Scalar 1.5",
]


@pytest.mark.parametrize("text", RC_PARSE_CASES)
def test_rc_named_axes_texts_print_back(text):
    printer = rc.PrintOptions(show_all_named_axes=True)
    parsed = rc.Parser()(text)
    assert printer.repr(parsed) == text
    assert rc.Parser()(rc.PrintOptions().repr(parsed)) == parsed


def test_fancy_einsum_parses_to_the_same_circuit():
    x = rc.Scalar(1.0, (3, 2)).rename_axes({0: "first", 1: "second"})
    y = rc.Scalar(2.0, (3, 4)).rename_axes({0: "first", 1: "third"})
    e = rc.Einsum.from_einsum_string("ab,ac->a", x, y).rename_axes({0: "first"})
    text = rc.PrintOptions().repr(e)
    assert text.split("\n")[0] == "0 Einsum fancy: first second, first third -> first"
    assert rc.Parser()(text) == e
    plain = rc.Einsum.from_einsum_string("ab,ac->a", x, y)
    assert plain.named_axes == {0: "first"}  # given by the children: the same node
    assert plain == e


def test_fancy_form_needs_distinct_names_every_operand_named_and_safe_words():
    x = rc.Scalar(1.0, (3,)).rename_axes({0: "n"})
    y = rc.Scalar(1.0, (3,))
    assert "fancy" not in PRINT.repr(rc.Einsum.from_einsum_string("a,a->a", x, y))
    two = rc.Scalar(1.0, (3, 3)).rename_axes({0: "n", 1: "n"})
    assert "fancy" not in PRINT.repr(rc.Einsum.from_einsum_string("ab->ab", two))
    comma = rc.Scalar(1.0, (3,)).rename_axes({0: "a,b"})
    assert (
        PRINT.repr(rc.Einsum.from_einsum_string("a->a", comma))
        .split("\n")[0]
        .endswith("Einsum a->a")
    )
    ok = rc.Einsum.from_einsum_string("a->a", x)
    assert PRINT.repr(ok).split("\n")[0] == "0 [n:3] Einsum fancy: n -> n"


def test_set_names_that_differ_from_the_childrens_print_their_shape():
    x = rc.Scalar(1.0, (3,)).rename_axes({0: "n"}).rename("x")
    s = rc.Add(x, name="s").rename_axes({0: "m"})
    text = rc.PrintOptions().repr(s)
    assert text.split("\n")[0] == "'s' [m:3] Add"
    assert rc.Parser()(text) == s


def test_parse_errors_in_named_shapes():
    with pytest.raises(rc.NamedAxesForbiddenCharacterError, match="line 1, column 3"):
        rc.Parser()("0 [a b:3] Scalar 1")
    with pytest.raises(rc.NamedAxesForbiddenCharacterError, match=r"'\['"):
        rc.Parser()("0 [[:3] Scalar 1")
    with pytest.raises(rc.ParseCircuitInvalidAxisShapeFormatError, match="expected a size"):
        rc.Parser()("0 [a:b:3] Scalar 1")
    with pytest.raises(rc.ParseCircuitInvalidAxisShapeFormatError, match="expected a size"):
        rc.Parser()("0 [a:] Scalar 1")
    with pytest.raises(rc.ParseCircuitPassedInShapeDoesntMatchComputedShapeError):
        rc.Parser()("0 [a:4] Add\n  1 [a:3] Scalar 1")
    c = rc.Parser()("0 [ a : 3 , b:0s ] Symbol")
    assert c.named_axes == {0: "a", 1: "b"}


@st.composite
def named_circuits(draw):
    def with_names(c):
        if c.ndim == 0 or draw(st.integers(0, 2)) == 0:
            return c
        names = draw(st.dictionaries(st.integers(0, c.ndim - 1), AXIS_NAMES, max_size=c.ndim))
        return c.rename_axes(names)

    pool = [with_names(rename(draw, draw(leaves()))) for _ in range(draw(st.integers(1, 3)))]
    for _ in range(draw(st.integers(0, 6))):
        pool.append(with_names(rename(draw, grow(draw, pool))))
    return pool[-1]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(named_circuits(), st.booleans(), st.booleans())
def test_random_named_circuits_round_trip(c, shapes_only_necessary, show_all):
    text, parsed = round_trip(
        [c], shape_only_when_necessary=shapes_only_necessary, show_all_named_axes=show_all
    )
    assert parsed == [c], text
    assert parsed[0].named_axes == c.named_axes


def test_rearrange_prints_named_permutations_in_rcs_fancy_form():
    x = rc.Scalar(1.0, (2, 3)).rename_axes({0: "batch", 1: "d"})
    r = rc.Rearrange.from_string(x, "a b -> b a")
    assert r.named_axes == {0: "d", 1: "batch"}
    text = rc.PrintOptions().repr(r)
    assert text.split("\n")[0] == "0 Rearrange batch d -> d batch"
    assert rc.Parser()(text) == r
    own = r.rename_axes({1: "b2"})
    assert PRINT.repr(own).split("\n")[0] == "0 [3,b2:2] Rearrange b2 d -> d b2"
    assert rc.Parser()(rc.PrintOptions().repr(own)) == own


def test_rearrange_keeps_its_spec_string_where_fancy_text_would_not_read_back():
    x = rc.Scalar(1.0, (2, 3)).rename_axes({0: "batch", 1: "d"})
    cases = [
        rc.Rearrange.from_string(x, "a b -> (a b)"),  # a group of two ints
        rc.Rearrange.from_string(x, "a:2 b -> b a:2"),  # a size the fancy text would drop
        rc.Rearrange.from_string(x, "a b -> a b 4"),  # an int in the output only
        rc.Rearrange.from_string(x.rename_axes({0: "x.y", 1: "d"}), "a b -> b a"),  # not a word
        rc.Rearrange.from_string(x.rename_axes({0: "d", 1: "d"}), "a b -> b a"),  # repeated
        rc.Rearrange.from_string(x.rename_axes({0: "n"}), "a b -> b a"),  # an unnamed axis
    ]
    for r in cases:
        line = PRINT.repr(r).split("\n")[0]
        assert line.endswith("Rearrange " + r.spec.to_string()), line
        assert rc.Parser()(rc.PrintOptions().repr(r)) == r
    # ints not numbered in input order: the fancy text would renumber them
    r = rc.Rearrange(x, rc.RearrangeSpec([[1], [0]], [[0], [1]], [None, None]))
    assert PRINT.repr(r).split("\n")[0].endswith("Rearrange b a -> a b")
