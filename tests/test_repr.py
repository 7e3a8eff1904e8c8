"""repr()/str() of circuits: rc's debug print (spec 6.1-6.2, docs/printing.md) wrapped in
"<...>": one line per node with its identifier, shape, kind and extra, children indented two
spaces, the traversal cut at depth 2 with " ...", names raw, serial numbers for unnamed or
shared names, repeated nodes printed as references."""

import uuid

import numpy as np
import pytest

import circuits as rc

TAG_UUID = uuid.UUID("0123abcd-0000-4000-8000-00000000cafe")


@pytest.fixture(autouse=True)
def default_depth(monkeypatch):
    monkeypatch.delenv("RR_DEBUG_END_DEPTH", raising=False)


def zeros(*shape, name=None):
    return rc.Array(np.zeros(shape), name=name)


# --- golden strings ------------------------------------------------------------------------


def test_golden_named_add():
    node = rc.Add(zeros(2, 3, name="x"), rc.Scalar(1.5, (3,), "bias"), name="sum")
    assert repr(node) == "<sum [2,3] Add\n  x [2,3] Array\n  bias [3] Scalar 1.5>"


def test_golden_unnamed_einsum_gets_serials():
    node = rc.Einsum.from_einsum_string("ij,jk->ik", zeros(2, 3), zeros(3, 4))
    assert repr(node) == "<0 [2,4] Einsum ij,jk->ik\n  1 [2,3] Array\n  2 [3,4] Array>"


def test_golden_depth_cut():
    x, y = zeros(2, name="x"), zeros(2, name="y")
    node = rc.Tag(rc.relu(rc.Add(x, y)), TAG_UUID, name="t")
    assert repr(node) == (
        "<t [2] Tag 0123abcd-0000-4000-8000-00000000cafe\n"
        "  relu(x + y) [2] GeneralFunction relu ...>"
    )


def test_golden_index_rearrange_concat():
    x = zeros(4, 5, name="x")
    ix = rc.Index(x, (np.array([0, 2, 3]), slice(1, 3)), name="ix")
    assert repr(ix) == "<ix [3,2] Index [[3],1:3]\n  x [4,5] Array>"
    open_slices = rc.Index(x, (slice(None, 2), slice(1, None)), name="o")
    assert repr(open_slices) == "<o [2,4] Index [:2,1:]\n  x [4,5] Array>"
    assert repr(rc.Index(x, (1, 2), name="i")) == "<i [] Index [1,2]\n  x [4,5] Array>"
    r = rc.Rearrange.from_string(x, "a b -> b a", name="r")
    assert repr(r) == "<r [5,4] Rearrange a b -> b a\n  x [4,5] Array>"
    cat = rc.Concat(x, x, axis=-1, name="cat")
    assert repr(cat) == "<cat [4,10] Concat 1\n  x [4,5] Array\n  x>"


# --- line parts ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, text",
    [(1.0, "1"), (-1.0, "-1"), (0.7, "0.7"), (1.2, "1.2"), (2.5e-5, "0.000025"),
     (1e20, "100000000000000000000"), (0.1 + 0.2, "0.30000000000000004")],
)
def test_scalar_values(value, text):
    assert repr(rc.Scalar(value, (2,), "s")) == f"<s [2] Scalar {text}>"


def test_zero_d_shape_and_leaf_kinds():
    assert repr(rc.Scalar(3.0, (), "s")) == "<s [] Scalar 3>"
    assert repr(zeros(name="z")) == "<z [] Array>"
    assert repr(rc.Symbol((2, 1), TAG_UUID, "sym")) == (
        "<sym [2,1] Symbol 0123abcd-0000-4000-8000-00000000cafe>"
    )
    assert repr(rc.Symbol.new_with_none_uuid((2,), "nil")) == "<nil [2] Symbol>"


def test_unnamed_leaf():
    assert repr(zeros(3)) == "<0 [3] Array>"


def test_names_are_printed_raw():
    node = rc.Add(zeros(2, name="it's a b"), name="yoyo ")
    assert repr(node) == "<yoyo  [2] Add\n  it's a b [2] Array>"


def test_repeated_node_is_a_reference():
    x = zeros(2, name="x")
    u = zeros(2)
    node = rc.Add(x, u, x, u, name="twice")
    assert repr(node) == "<twice [2] Add\n  x [2] Array\n  0 [2] Array\n  x\n  0 Array>"


def test_shared_names_get_serials():
    first = rc.Scalar(1.0, (2,), "dup")
    second = rc.Scalar(2.0, (2,), "dup")
    node = rc.Add(first, second, name="root")
    assert repr(node) == "<root [2] Add\n  0 dup [2] Scalar 1\n  1 dup [2] Scalar 2>"


def test_hidden_nodes_still_count_for_shared_names():
    # the second "dup" is below the depth cut, yet the visible one is shared
    visible = rc.Scalar(1.0, (2,), "dup")
    hidden_parent = rc.Add(rc.Scalar(2.0, (2,), "dup"), name="p")
    node = rc.Add(visible, hidden_parent, name="root")
    assert repr(node) == "<root [2] Add\n  0 dup [2] Scalar 1\n  p [2] Add ...>"


def test_depth_cut_only_marks_nodes_with_children():
    node = rc.Add(zeros(2, name="leaf"), rc.Add(zeros(2, name="inner"), name="mid"), name="top")
    text = repr(node)
    assert text == "<top [2] Add\n  leaf [2] Array\n  mid [2] Add ...>"
    assert "inner" not in text


def test_deep_circuit_prints_two_levels():
    node = zeros(2, name="n0")
    for i in range(1, 500):
        node = rc.Add(node, name=f"n{i}")
    assert repr(node) == "<n499 [2] Add\n  n498 [2] Add ...>"


def test_str_equals_repr():
    node = rc.Add(zeros(2, name="x"), zeros(2, name="y"))
    assert str(node) == repr(node)
    assert f"{node}" == repr(node)


def test_env_depth(monkeypatch):
    node = rc.Add(rc.Add(zeros(2, name="x"), name="mid"), name="top")
    monkeypatch.setenv("RR_DEBUG_END_DEPTH", "None")
    assert repr(node) == "<top [2] Add\n  mid [2] Add\n    x [2] Array>"
    monkeypatch.setenv("RR_DEBUG_END_DEPTH", "1")
    assert repr(node) == "<top [2] Add ...>"
    monkeypatch.setenv("RR_DEBUG_END_DEPTH", "3")
    assert repr(node) == "<top [2] Add\n  mid [2] Add\n    x [2] Array>"


def test_einsum_labels_beyond_lowercase():
    x = zeros(2, 2, name="x")
    node = rc.Einsum((x, (26, 52)), out_axes=(52,), name="e")
    assert repr(node) == "<e [2] Einsum Aα->α\n  x [2,2] Array>"


def test_general_function_shows_spec_name():
    x = zeros(3, 4, name="x")
    assert repr(rc.softmax(x)) == "<softmax(x) [3,4] GeneralFunction softmax\n  x [3,4] Array>"
    idx = rc.Array(np.array([0, 1, 2]), name="i")
    g = rc.GeneralFunction.gen_index(x, idx, -1, batch_x=True)
    spec_name = "gen_index_at_-1_batch_x_c"
    assert repr(g).splitlines()[0] == f"<{spec_name}(x, i) [3] GeneralFunction {spec_name}"
