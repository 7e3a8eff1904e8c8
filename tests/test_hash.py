"""Structural hashing (spec 1.3): equal structure means equal hash and ==, everything that
tells circuits apart changes the hash, ordering by (name, hash), and golden node hashes
recomputed in pure Python with the `blake3` package from rc's byte layout.

rc's layout (circuit_base: init_info_impl and compute_hash_info), for every node:
    blake3( kind payload and children hashes (below)
            ++ the kind's 16-byte type uuid
            ++ [1 if named else 0] ++ name as UTF-8 (nothing when unnamed)
            ++ uuid 025e9af4-1366-4211-aa5f-7c28fc6cdf9f (name delimiter)
            ++ [1 if use_autoname else 0] )          (no named axes here)
Kind payloads: Scalar: value as f64 little-endian, then each size as u64 LE. Symbol: uuid
bytes, then each size as u64 LE. Array: the 32-byte tensor hash. Add: the children hashes in
order. Einsum: the output labels (one byte each), then per operand its hash and its labels.
Concat: the axis as u64 LE, then the children hashes. Tag: uuid bytes, then the child hash.
"""

import math
import struct
import uuid

import numpy as np
import pytest

import circuits as rc

NAME_DELIMITER = uuid.UUID("025e9af4-1366-4211-aa5f-7c28fc6cdf9f").bytes
TYPE_UUIDS = {
    "Array": "b2aac9d5-1bfa-4c2a-9684-e3f9ecbc1b94",
    "Symbol": "13c3ee63-76e9-4afb-8057-40309d17b458",
    "Scalar": "78a77905-8b3f-4471-bb77-255673941fef",
    "Add": "88fb29e5-c81e-47fe-ae4c-678b22994670",
    "Einsum": "ed15422c-7c02-40c2-a3c2-e9224514d063",
    "Concat": "f2684583-c215-4f67-825e-6e4e51091ca7",
    "Tag": "63fdc4ce-2f1b-40b3-b8b6-13991b54cbd7",
}
U1 = uuid.UUID("00000000-0000-4000-8000-000000000001")
U2 = uuid.UUID("00000000-0000-4000-8000-000000000002")


def arr(values, name=None):
    return rc.Array(np.asarray(values, dtype=np.float64), name=name)


# --- golden hashes -------------------------------------------------------------------------


def golden(kind, payload, name, use_autoname=True):
    blake3 = pytest.importorskip("blake3")
    h = blake3.blake3()
    h.update(payload)
    h.update(uuid.UUID(TYPE_UUIDS[kind]).bytes)
    h.update(bytes([name is not None]))
    h.update(b"" if name is None else name.encode("utf-8"))
    h.update(NAME_DELIMITER)
    h.update(bytes([use_autoname]))
    return h.digest()


def u64(*values):
    return b"".join(struct.pack("<Q", v) for v in values)


def f64(value):
    return struct.pack("<d", value)


@pytest.mark.parametrize(
    "value, shape, name",
    [(1.0, (), "one"), (-2.5, (2, 3), None), (0.1, (5, 0, 7), "ü"), (float("inf"), (4,), "")],
)
def test_golden_scalar(value, shape, name):
    node = rc.Scalar(value, shape, name)
    assert node.hash == golden("Scalar", f64(value) + u64(*shape), name)


def test_golden_scalar_autoname_disabled():
    node = rc.Scalar(3.0, (2,), "s").with_autoname_disabled()
    assert node.hash == golden("Scalar", f64(3.0) + u64(2), "s", use_autoname=False)


def test_golden_add_of_two_named_scalars():
    p = rc.Scalar(1.0, (5, 5), "square_mat")
    q = rc.Scalar(2.0, (1, 5), "rect_mat")
    node = rc.Add(p, q)
    assert p.hash == golden("Scalar", f64(1.0) + u64(5, 5), "square_mat")
    assert q.hash == golden("Scalar", f64(2.0) + u64(1, 5), "rect_mat")
    assert node.hash == golden("Add", p.hash + q.hash, "square_mat + rect_mat")
    assert rc.Add(p, q, name=None).rename(None).hash == golden("Add", p.hash + q.hash, None)


def test_golden_einsum():
    p = rc.Scalar(1.0, (2, 3), "p")
    q = rc.Scalar(2.0, (3, 4), "q")
    node = rc.Einsum.from_einsum_string("ij,jk->ik", p, q, name="mm")
    # "ij,jk->ik" uses alphabet indices: i=8, j=9, k=10
    payload = bytes([8, 10]) + p.hash + bytes([8, 9]) + q.hash + bytes([9, 10])
    assert node.hash == golden("Einsum", payload, "mm")


def test_golden_einsum_with_raw_labels_and_autoname():
    p = rc.Scalar(1.0, (2, 2), "p")
    node = rc.Einsum((p, (3, 3)), (p, (3, 0)), out_axes=(0, 3, 3))
    payload = bytes([0, 3, 3]) + p.hash + bytes([3, 3]) + p.hash + bytes([3, 0])
    assert node.hash == golden("Einsum", payload, "p * p")


def test_golden_symbol():
    node = rc.Symbol((4, 1), U1, "sym")
    assert node.hash == golden("Symbol", U1.bytes + u64(4, 1), "sym")
    nil = rc.Symbol.new_with_none_uuid((2,))
    assert nil.hash == golden("Symbol", bytes(16) + u64(2), None)


def test_golden_array():
    node = arr([[1.0, 2.0], [3.0, 4.0]], name="m")
    tensor_hash = bytes.fromhex(node.tensor_hash_base16())
    assert len(tensor_hash) == 32
    assert node.hash == golden("Array", tensor_hash, "m")


def test_golden_concat_and_tag():
    p, q = rc.Scalar(1.0, (2, 3), "p"), rc.Scalar(2.0, (2, 1), "q")
    cat = rc.Concat(p, q, axis=-1)
    assert cat.hash == golden("Concat", u64(1) + p.hash + q.hash, "p ++ q")
    tag = rc.Tag(cat, U2)
    assert tag.hash == golden("Tag", U2.bytes + cat.hash, "(p ++ q) tag")


# --- structural equality -------------------------------------------------------------------


def build_sample(seed=0):
    rng = np.random.default_rng(seed)
    x = rc.Array(rng.standard_normal((3, 4)), name="x")
    w = rc.Array(rng.standard_normal((4, 2)), name="w")
    h = rc.Einsum.from_einsum_string("ij,jk->ik", x, w, name="h")
    r = rc.relu(rc.Add(h, rc.Scalar(0.5, (2,), "bias")))
    sel = rc.Index(r, (np.array([2, 0]), slice(0, 1)))
    cat = rc.Concat(sel, sel, axis=0)
    return rc.Tag(rc.Rearrange.from_string(cat, "a b -> b a"), U1)


def test_separately_built_identical_circuits_are_equal():
    one, two = build_sample(), build_sample()
    assert one is not two
    assert one == two
    assert not (one != two)
    assert one.hash == two.hash
    assert hash(one) == hash(two)
    assert len({one, two}) == 1
    table = {one: "value"}
    assert table[two] == "value"


def test_different_data_gives_a_different_circuit():
    one, other = build_sample(0), build_sample(1)
    assert one != other
    assert one.hash != other.hash
    assert len({one, other}) == 2


def test_children_compare_equal_to_their_rebuilt_copies():
    one, two = build_sample(), build_sample()
    assert one.children == two.children
    assert one.children[0].children[0] == two.children[0].children[0]


def test_hash_and_hash_base16():
    node = build_sample()
    assert isinstance(node.hash, bytes)
    assert len(node.hash) == 32
    assert node.hash_base16 == node.hash.hex()
    assert len(node.hash_base16) == 64
    assert set(node.hash_base16) <= set("0123456789abcdef")


def test_python_hash_is_stable_and_consistent():
    node = build_sample()
    assert hash(node) == hash(node)
    assert isinstance(hash(node), int)
    assert hash(node) != -1


# --- what changes the hash -----------------------------------------------------------------


def variants():
    """Pairs of circuits that differ in exactly one respect."""
    x = arr([[1.0, 2.0], [3.0, 4.0]], "x")
    y = arr([[5.0, 6.0], [7.0, 8.0]], "y")
    return {
        "leaf name": (x, x.rename("x2")),
        "leaf name vs none": (x, x.rename(None)),
        "empty name vs none": (x.rename(""), x.rename(None)),
        "inner name": (rc.Add(x, y), rc.Add(x, y, name="s")),
        "deep name": (rc.relu(rc.Add(x, y)), rc.relu(rc.Add(x, y.rename("z")), name="relu(x + y)")),
        "autoname vs no name": (rc.Add(x, y), rc.Add(x, y).rename(None)),
        "autoname flag": (x, x.with_autoname_disabled()),
        "array value": (x, arr([[1.0, 2.0], [3.0, 4.0000001]], "x")),
        "array dtype": (x, rc.Array(np.array([[1, 2], [3, 4]], dtype=np.float32), name="x")),
        "array int vs float": (
            rc.Array(np.array([1, 2], dtype=np.int64), name="i"),
            rc.Array(np.array([1.0, 2.0]), name="i"),
        ),
        "array shape": (arr([1.0, 2.0, 3.0, 4.0], "x"), arr([[1.0, 2.0, 3.0, 4.0]], "x")),
        "scalar value": (rc.Scalar(1.0, (2,), "s"), rc.Scalar(1.0 + 2**-52, (2,), "s")),
        "scalar zero sign": (rc.Scalar(0.0, (), "s"), rc.Scalar(-0.0, (), "s")),
        "scalar shape": (rc.Scalar(1.0, (2, 3), "s"), rc.Scalar(1.0, (3, 2), "s")),
        "scalar rank": (rc.Scalar(1.0, (), "s"), rc.Scalar(1.0, (1,), "s")),
        "children order": (rc.Add(x, y, name="s"), rc.Add(y, x, name="s")),
        "children count": (rc.Add(x, x, name="s"), rc.Add(x, x, x, name="s")),
        "einsum out axes": (
            rc.Einsum.from_einsum_string("ij->ij", x, name="e"),
            rc.Einsum.from_einsum_string("ij->ji", x, name="e"),
        ),
        "einsum in axes": (
            rc.Einsum.from_einsum_string("ij,ij->i", x, y, name="e"),
            rc.Einsum.from_einsum_string("ij,ji->i", x, y, name="e"),
        ),
        "einsum operand order": (
            rc.Einsum.from_einsum_string("ij,jk->ik", x, y, name="e"),
            rc.Einsum.from_einsum_string("jk,ij->ik", y, x, name="e"),
        ),
        "concat axis": (rc.Concat(x, y, axis=0, name="c"), rc.Concat(x, y, axis=1, name="c")),
        "index int": (rc.Index(x, (0,), name="i"), rc.Index(x, (1,), name="i")),
        "index int vs slice": (rc.Index(x, (0,), name="i"), rc.Index(x, (slice(0, 1),), name="i")),
        "index slice": (
            rc.Index(x, (slice(0, 1),), name="i"),
            rc.Index(x, (slice(1, 2),), name="i"),
        ),
        "index tensor": (
            rc.Index(x, (np.array([0, 1]),), name="i"),
            rc.Index(x, (np.array([1, 0]),), name="i"),
        ),
        "rearrange spec": (
            rc.Rearrange.from_string(x, "a b -> b a", name="r"),
            rc.Rearrange.from_string(x, "a b -> a b", name="r"),
        ),
        "function": (rc.relu(x, name="f"), rc.gelu(x, name="f")),
        "tag uuid": (rc.Tag(x, U1, name="t"), rc.Tag(x, U2, name="t")),
        "symbol uuid": (rc.Symbol((2,), U1, "s"), rc.Symbol((2,), U2, "s")),
        "symbol shape": (rc.Symbol((2,), U1, "s"), rc.Symbol((3,), U1, "s")),
        "kind": (rc.Add(x, name="k"), rc.Einsum.identity(x, name="k")),
        "scalar vs array": (rc.Scalar(1.0, (2,), "o"), arr([1.0, 1.0], "o")),
    }


@pytest.mark.parametrize("which", sorted(variants()))
def test_one_difference_changes_the_hash(which):
    first, second = variants()[which]
    assert first != second
    assert first.hash != second.hash
    assert first.hash_base16 != second.hash_base16
    assert len({first, second}) == 2


def test_nan_scalars_are_equal_circuits():
    assert rc.Scalar(math.nan, (2,), "n") == rc.Scalar(math.nan, (2,), "n")


def test_renaming_back_restores_equality():
    x = arr([1.0, 2.0], "x")
    assert x.rename("y").rename("x") == x
    node = rc.Add(x, x)
    assert node.rename("q").rename("x + x") == node


def test_symbols_with_the_same_uuid_are_equal():
    assert rc.Symbol((2,), U1, "s") == rc.Symbol((2,), U1, "s")
    assert rc.Symbol.new_with_none_uuid((2,), "s") == rc.Symbol.new_with_none_uuid((2,), "s")
    assert rc.Symbol.new_with_random_uuid((2,), "s") != rc.Symbol.new_with_random_uuid((2,), "s")


def test_tag_uuids_distinguish_equal_subtrees():
    sub_one, sub_two = build_sample(), build_sample()
    assert sub_one == sub_two
    t1, t2 = rc.Tag(sub_one, U1), rc.Tag(sub_two, U2)
    assert t1 != t2
    assert rc.Tag(sub_two, U1) == t1
    assert len({t1, t2, rc.Tag(sub_one, U1)}) == 2
    # both copies survive as distinct children
    both = rc.Add(t1, t2)
    assert both.children[0] != both.children[1]
    assert rc.Tag.new_with_random_uuid(sub_one) != rc.Tag.new_with_random_uuid(sub_one)


class Doubler(rc.GeneralFunctionSpecBase):
    def __init__(self, key=None):
        self.key = key

    @property
    def name(self):
        return "doubler"

    def function(self, x):
        return 2 * x

    def get_shape_info(self, shape):
        return rc.GeneralFunctionShapeInfo(shape, 0, [True])

    def compute_hash_bytes(self):
        if self.key is None:
            return super().compute_hash_bytes()
        return self.key


def test_python_specs_hash_by_their_hash_bytes():
    x = arr([1.0, 2.0], "x")
    assert rc.GeneralFunction(x, spec=Doubler(b"k")) == rc.GeneralFunction(x, spec=Doubler(b"k"))
    assert rc.GeneralFunction(x, spec=Doubler(b"k")) != rc.GeneralFunction(x, spec=Doubler(b"j"))
    first, second = Doubler(), Doubler()
    assert rc.GeneralFunction(x, spec=first) != rc.GeneralFunction(x, spec=second)
    assert rc.GeneralFunction(x, spec=first) == rc.GeneralFunction(x, spec=first)


# --- ordering ------------------------------------------------------------------------------


def test_ordering_by_name_then_hash_with_unnamed_first():
    x = arr([1.0], "x")
    nodes = [
        rc.Scalar(1.0, (), "b"),
        rc.Scalar(2.0, (), "b"),
        rc.Scalar(3.0, (), "a"),
        rc.Scalar(4.0, ()),
        rc.Scalar(5.0, ()),
        x,
        rc.Add(x, name=""),
        rc.Scalar(6.0, (), "B"),
    ]
    expected = sorted(nodes, key=lambda n: (n.op_name is not None, n.name.encode(), n.hash))
    assert sorted(nodes) == expected
    assert expected[0].op_name is None and expected[1].op_name is None
    assert expected[2].op_name == ""
    assert [n.name for n in expected[3:]] == ["B", "a", "b", "b", "x"]


def test_comparison_operators_agree():
    p, q = rc.Scalar(1.0, (), "p"), rc.Scalar(1.0, (), "q")
    assert p < q and p <= q and q > p and q >= p
    assert not (q < p) and not (p > q)
    assert p <= p and p >= p and not (p < p)
    unnamed = rc.Scalar(9.0, ())
    assert unnamed < p


def test_comparison_with_other_types():
    node = arr([1.0], "x")
    assert node != 1
    assert not (node == "x")
    with pytest.raises(TypeError):
        node < 1  # noqa: B015
