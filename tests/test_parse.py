"""rc.Parser on hand-written text: rc's own examples, the forms rc files use (spaces in shapes,
comments, arrows, only-child lines, Module bindings), options, and every error class with the
line and column it names."""

import re
import uuid

import numpy as np
import pytest

import circuits as rc

U1 = "00000000-0000-0000-0000-000000000001"


def parse(text, **options):
    return rc.Parser(**options)(text)


def test_rc_examples():
    assert parse("0 [] Einsum ->") == rc.Einsum(out_axes=()).rename(None)
    fancy = rc.Parser().parse_circuits(
        "0 Einsum fancy: first second, first third -> first\n"
        "  'a' [2,3] Scalar 1\n"
        "  'b' [2,4] Scalar 2"
    )[0]
    classic = parse("0 Einsum ab,ac->a\n  'a' [2,3] Scalar 1\n  'b' [2,4] Scalar 2")
    assert fancy == classic
    assert classic.shape == (2,)


def test_identifiers_names_and_sharing():
    (c,) = rc.Parser().parse_circuits(
        "'out' Add\n"
        "  0 'x' [2] Scalar 1\n"
        "  1 'x' [2] Scalar 2\n"
        "  0\n"
        "  'k' 'named' [2] Scalar 3\n"
        "  2 [2] Scalar 4\n"
        "  'k'\n"
    )
    names = [x.op_name for x in c.children]
    assert names == ["x", "x", "x", "named", None, "named"]
    assert c.children[0] == c.children[2] and c.children[0] != c.children[1]
    assert c.children[3] is not None and c.children[3] == c.children[5]
    assert c.name == "out"
    np.testing.assert_array_equal(c.evaluate(), [1 + 2 + 1 + 3 + 4 + 3] * 2)


def test_parsed_nodes_get_exactly_the_parsed_name():
    c = parse("0 Add\n  'a' [2] Scalar 1")
    assert c.op_name is None  # no autoname
    ad = parse("'s' AD Add\n  1 [2] Scalar 1")
    assert ad == rc.Add(rc.Scalar(1.0, (2,)).rename(None), name="s").with_autoname_disabled()


def test_rc_file_forms_spaces_comments_crlf_and_header():
    text = (
        "# info: {'note': 'a REMIX-style header'}\r\n"
        "\r\n"
        "'out' Add # a comment\r\n"
        "  'x' [2, 3] Scalar 1_000 # shapes with spaces, digits with underscores\r\n"
        "  # an indented comment line\r\n"
        "  'y' [ 2 , 3 ] Scalar -0.5\r\n"
    )
    c = parse(text)
    assert c.shape == (2, 3)
    np.testing.assert_array_equal(c.evaluate(), np.full((2, 3), 999.5))


def test_symbolic_sizes_and_symbols():
    c = parse(f"'s' [0s,2*1s,3] Symbol {U1}")
    assert c.repr() == f"'s' [0s,2*1s,3] Symbol {U1}"
    assert c.uuid == uuid.UUID(U1)
    nil = parse("'s' [2] Symbol")
    assert nil.uuid == uuid.UUID(int=0)
    r1, r2 = parse("'a' [2] Symbol rand"), parse("'a' [2] Symbol rand")
    assert r1.uuid != r2.uuid and r1.uuid.version == 4


def test_scalar_values():
    for text, value in [("1", 1.0), ("-0", -0.0), ("inf", np.inf), ("-inf", -np.inf), ("0.1", 0.1)]:
        assert parse(f"'s' [] Scalar {text}").value == value
    assert np.isnan(parse("'s' [] Scalar NaN").value)
    assert np.signbit(parse("'s' [] Scalar -0").value)


@pytest.mark.numpy_results
def test_arrays_from_loader_and_random():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    h = rc.Array(a).tensor_hash_base16()
    seen = []

    def loader(prefix):
        seen.append(prefix)
        assert h.startswith(prefix)
        return a

    x = parse(f"'x' [2,3] Array {h[:24]}", tensor_loader=loader)
    assert x == rc.Array(a, "x") and seen == [h[:24]]
    assert parse(f"'x' Array {h[:8]}", tensor_loader=loader) == x  # shape optional
    r = parse("'r' [4,5] Array rand")
    assert r.shape == (4, 5) and r.value.dtype == np.float32
    seeded = [parse(f"'r' [4] Array {h[:24]}", tensors_as_random=True, allow_hash_with_random=True)]
    seeded.append(
        parse(f"'r' [4] Array {h[:24]}", tensors_as_random=True, allow_hash_with_random=True)
    )
    assert seeded[0] == seeded[1]


def test_index_items_and_tensors():
    idx = np.array([2, 0], dtype=np.int64)
    h = rc.Array(idx).tensor_hash_base16()
    text = f"'i' [2,2] Index [t{h[:10]} [2],1:3]\n  'x' [3,4] Scalar 1"
    c = parse(text, tensor_loader=lambda p: idx)
    assert c == rc.Index(rc.Scalar(1.0, (3, 4), "x"), (idx, slice(1, 3)), name="i")
    literal = parse("'i' Index [[2, 0],-1]\n  'x' [3,4] Scalar 1")
    assert literal == rc.Index(rc.Scalar(1.0, (3, 4), "x"), (idx, -1), name="i")
    open_slices = parse("'i' Index [:2,1:]\n  'x' [3,4] Scalar 1")
    assert open_slices.shape == (2, 3)


def test_module_bindings_flags_and_options():
    text = (
        "'m' Module\n"
        "  'body' Add\n"
        f"    'in' [2] Symbol {U1}\n"
        "    'in'\n"
        "  'arg' [2] Scalar 1.5 ! 'in' ftf\n"
    )
    m = parse(text)
    sym = rc.Symbol((2,), uuid.UUID(U1), "in")
    spec = rc.ModuleSpec(rc.Add(sym, sym, name="body"), [rc.ModuleArgSpec(sym, False, True, False)])
    assert m == rc.Module(spec, name="m", **{"in": rc.Scalar(1.5, (2,), "arg")})
    np.testing.assert_array_equal(m.evaluate(), [3.0, 3.0])
    # a binding may define its symbol when the body does not name it
    unused = (
        "'m' Module\n" "  'body' [2] Scalar 0\n" f"  'arg' [2] Scalar 1.5 ! 'in' [2] Symbol {U1}\n"
    )
    with pytest.raises(rc.ConstructModuleSomeArgsNotPresentError, match="^line 1, column 5: "):
        parse(unused)
    assert parse(unused, module_check_all_inputs_used=False).shape == (2,)


def test_only_child_lines_and_arrows_round_trip():
    x = rc.Scalar(1.0, (2, 3), "x")
    c = rc.Add(
        rc.relu(rc.sigmoid(x)), rc.Einsum.from_einsum_string("ab->ab", x, name="e"), name="o"
    )
    for options in [dict(only_child_below=True), dict(arrows=True)]:
        text = rc._circuits.print_repr([c], bijection=True, **options)
        assert ("▼" in text) == ("only_child_below" in options)
        assert parse(text) == c, text


def test_reference_circuits():
    x = rc.Scalar(1.0, (2,), "x")
    text = "'out' Add\n  'the x'\n  'the x'"
    assert parse(text, reference_circuits={"the x": x}) == rc.Add(x, x, name="out")
    assert parse("'out' Add\n  'x'", reference_circuits_by_name=[x]) == rc.Add(x, name="out")
    with pytest.raises(rc.ParseCircuitReferenceCircuitHasChildrenError, match="line 3"):
        parse("'out' Add\n  'x'\n    'y' [2] Scalar 1", reference_circuits_by_name=[x])
    with pytest.raises(
        rc.ParseCircuitReferenceCircuitNameFollowedByAdditionalInfoError, match="line 2"
    ):
        parse("'out' Add\n  'x' [2] Scalar 1", reference_circuits_by_name=[x])


def test_parse_circuits_and_one_circuit():
    text = "'a' [2] Scalar 1\n'b' Add\n  'a'"
    a, b = rc.Parser().parse_circuits(text)
    assert b.children == [a]
    with pytest.raises(rc.ParseCircuitExpectedOneCircuitGotMultipleError, match="has 2: 'a', 'b'"):
        parse(text)
    with pytest.raises(rc.ParseCircuitExpectedOneCircuitGotMultipleError, match="has 0"):
        parse("# nothing here\n")
    with pytest.raises(TypeError, match="expected the text as a str"):
        rc.Parser().parse_circuits(b"'a' [2] Scalar 1")


def test_repeat_info_check_can_be_turned_off():
    text = "0 Add\n  1 [2] Scalar 1\n  1 [3]"
    with pytest.raises(rc.ParseCircuitOnCircuitRepeatInfoIsNotSameError, match="shape"):
        parse(text)
    assert len(parse(text, on_repeat_check_info_same=False).children) == 2


ERRORS = [
    # (text, class, line, column, what the message says)
    ("0 [2] Scalar 1\n  ?? junk", rc.ParseCircuitError, 2, 3, "expected a serial number"),
    ("0 [2] Foo 1", rc.ParseCircuitInvalidVariantError, 1, 7, "unknown node type 'Foo'"),
    ("0 [2] Scatter [0:1]", rc.ParseCircuitWrongNumberChildrenError, 1, 7, "Scatter takes 1 child"),
    ("0 [2] scalar 1", rc.ParseCircuitInvalidVariantError, 1, 7, "expected a node type"),
    ("0 [2,x] Scalar 1", rc.ParseCircuitInvalidAxisShapeFormatError, 1, 6, "expected a size"),
    ("0 [2 Scalar 1", rc.ParseCircuitInvalidAxisShapeFormatError, 1, 6, "expected ','"),
    ("0 [b:x] Scalar 1", rc.ParseCircuitInvalidAxisShapeFormatError, 1, 6, "expected a size"),
    ("0 [300s] Symbol", rc.ParseSymbolicSizeNumberOutOfBoundsError, 1, 4, "300s"),
    ("0 [99999999999*99999999999] Symbol", rc.ParseFactorProductTooLargeError, 1, 4, "large"),
    ("0 [2] Symbol 1234", rc.ParseInvalidUuidError, 1, 14, "invalid uuid '1234'"),
    ("0 [2] Tag 1234\n  1 [2] Scalar 1", rc.ParseInvalidUuidError, 1, 11, "invalid uuid"),
    ("0 Add\n   1 [2] Scalar 1", rc.ParseCircuitInvalidIndentationError, 2, 4, "multiple of 2"),
    ("0 Add\n    1 [2] Scalar 1", rc.ParseCircuitInvalidIndentationError, 2, 5, "by 2"),
    ("  0 Add\n1 [2] Scalar 1", rc.ParseCircuitLessIndentationThanFirstItemError, 2, 1, "less"),
    ("0 Add\n  1", rc.ParseCircuitError, 2, 3, "serial number 1 refers to no node"),
    ("0 Add\n  'w'", rc.ParseCircuitError, 2, 3, "w refers to no node"),
    ("0 Add\n  0", rc.ParseCircuitCycleError, 2, 3, "cycle"),
    (
        "0 Add\n  1 [2] Scalar 1\n  1\n    2 [2] Scalar 1",
        rc.ParseCircuitRepeatedCircuitHasChildrenError,
        4,
        1,
        "repeats a node",
    ),
    ("0 Scalar 1", rc.ParseCircuitShapeNeededError, 1, 3, "needs a shape"),
    ("0 Array rand", rc.ParseCircuitShapeNeededError, 1, 3, "random"),
    ("0 [2] Scalar", rc.ParseCircuitError, 1, 7, "needs a value"),
    ("0 [2] Scalar abc", rc.ParseInvalidNumberError, 1, 14, "invalid Scalar value"),
    (
        "0 [2] Add\n  1 [3] Scalar 1",
        rc.ParseCircuitPassedInShapeDoesntMatchComputedShapeError,
        1,
        3,
        "[2]",
    ),
    ("0 [2] Scalar 1\n  1 [2] Scalar 1", rc.ParseCircuitWrongNumberChildrenError, 1, 7, "takes 0"),
    ("0 Tag " + U1, rc.ParseCircuitWrongNumberChildrenError, 1, 3, "takes 1 child"),
    ("0 Add 3\n  1 [2] Scalar 1", rc.ParseCircuitExpectedNoExtraInfoError, 1, 7, "'3'"),
    ("0 Add\n  1 [2] Scalar 1 ! 2 [2] Symbol", rc.ParseCircuitUnexpectedChildInfoError, 2, 18, "!"),
    ("0 [2] Scalar 1 ! 2 [2] Symbol", rc.ParseCircuitHasParentInfoButNoParentError, 1, 16, "top"),
    (
        "0 Module\n  1 [2] Scalar 1\n  2 [2] Scalar 1",
        rc.ParseCircuitModuleRequiresInputChildToHaveParentInfoError,
        3,
        1,
        "argument 0",
    ),
    ("0 Module", rc.ParseCircuitModuleNoSpecCircuitError, 1, 3, "body"),
    ("0 Index [x]\n  1 [2] Scalar 1", rc.ParseInvalidIndexError, 1, 10, "expected a number"),
    ("0 Index [0,]\n  1 [2] Scalar 1", rc.ParseInvalidIndexError, 1, 12, "empty index item"),
    ("0 Index [tzz [2]]\n  1 [2] Scalar 1", rc.ParseInvalidIndexError, 1, 10, "t<hash prefix>"),
    ("0 Index 0\n  1 [2] Scalar 1", rc.ParseInvalidIndexError, 1, 9, "brackets"),
    ("0 Concat x\n  1 [2] Scalar 1", rc.ParseInvalidNumberError, 1, 10, "expected a number"),
    ("'abc Add", rc.ParseCircuitError, 1, 1, "unterminated"),
    ("0 Einsum ab->\n  1 [2] Scalar 1", rc.ConstructError, 1, 10, "Einsum"),
    ("0 Einsum ab\n  1 [2] Scalar 1", rc.ParseEinsumStringNoArrowError, 1, 10, ""),
    ("0 Rearrange a b\n  1 [2] Scalar 1", rc.RearrangeParseError, 1, 13, "a b"),
    ("0 GeneralFunction nope\n  1 [2] Scalar 1", rc.ConstructError, 1, 19, "nope"),
    (
        "0 GeneralFunction double [NOT_SERIALIZABLE]\n  1 [2] Scalar 1",
        rc.ParseCircuitError,
        1,
        19,
        "written in Python",
    ),
    ("0 [2] Array 12zz", rc.ParseCircuitError, 1, 13, "hash prefix"),
    ("0 [2] Array abc", rc.ParseCircuitError, 1, 13, "allow_hash_with_random"),
    ("0 Add\n  ▼\n  1 [2] Scalar 1", rc.ParseCircuitInvalidIndentationError, 2, 3, "▼"),
    ("0 Add\n▼", rc.ParseCircuitError, 2, 1, "ends after a ▼ line"),
    ("0 Add\n▼ junk\n1 [2] Scalar 1", rc.ParseCircuitError, 2, 3, "holds nothing else"),
    ("0 [2] Scalar 1\x00", rc.ParseCircuitError, 1, 15, "NUL"),
]


@pytest.mark.parametrize("text, cls, line, col, what", ERRORS, ids=[e[0][:30] for e in ERRORS])
def test_errors_name_line_column_and_text(text, cls, line, col, what):
    options = {"tensors_as_random": True} if "allow_hash" in what else {}
    with pytest.raises(cls) as info:
        rc.Parser(**options).parse_circuits(text)
    msg = str(info.value)
    assert msg.startswith(f"line {line}, column {col}: "), msg
    assert what in msg
    offending = text.replace("\r", "").split("\n")[line - 1].replace("\x00", "")
    assert msg.replace("\x00", "").rstrip().endswith(offending.rstrip()), msg


def test_missing_tensor_names_hash_store_and_line(tmp_path):
    store = rc.TensorStore(tmp_path / "store")
    with pytest.raises(rc.TensorNotFoundError, match=re.escape(str(tmp_path / "store"))) as info:
        parse("'out' Add\n  'x' [2] Array abc123", tensor_loader=store.load)
    assert "'abc123'" in str(info.value)
    assert "while parsing line 2, column 17: tensor loader" in info.value.__notes__[0]


def test_loader_errors_and_bad_tensors():
    with pytest.raises(ZeroDivisionError):
        parse("'x' [2] Array abc", tensor_loader=lambda p: 1 / 0)
    with pytest.raises(
        rc.ParseCircuitArrayShapeLoadedFromHashDiffersFromProvidedShapeError,
        match="line 1, column 5: .*\\[3\\].*\\[2\\]",
    ):
        parse("'x' [2] Array abc", tensor_loader=lambda p: np.zeros(3, np.float32))
    with pytest.raises(rc.ParseInvalidIndexError, match="not 1-D of length 2"):
        parse("'i' Index [tabc [2]]\n  'x' [3] Scalar 1", tensor_loader=lambda p: np.zeros(3))


RC_FORMS = [
    """
0 [5, 3, 6] Add
  1 [3, 1] Index [0:3,0:1]
    2 [4, 1] Scalar 1.0
  4 '# my name' [5, 3, 6] Concat 0
    5 '#\\\\\\'\\\\\\'' [2, 3, 6] Scalar 1.2
    6 '\\' hi\\\\\\'' [3, 3, 6] Scalar 1.2""",
    """
        # comment before, indented
0 [5, 3, 6] Add#c
  1 [3, 1] Index [0:3,0:1] # comment
# comment mid
    2 [4, 1] Scalar 1.0
  4 '# my name' [5, 3, 6] Concat 0#dfj
    5 '#\\\\\\'\\\\\\'' [2, 3, 6] Scalar 1.2      #  sldkj#*$&fstuf
    6 '\\' hi\\\\\\'' [3, 3, 6] Scalar 1.2###
""",
    """
           # extra indentation for the whole text
           0 [5, 3, 6] Add
             1 [3, 1] Index [0:3,0:1]
               # now an indented comment

               2 [4, 1] Scalar 1.0
             4 '# my name' [5, 3, 6] Concat 0
               5 '#\\\\\\'\\\\\\'' [2, 3, 6] Scalar 1.2
               6 '\\' hi\\\\\\'' [3, 3, 6] Scalar 1.2
    """,
]


def test_rc_comment_and_indentation_forms_parse_alike():
    circuits = [parse(text) for text in RC_FORMS]
    assert len(set(circuits)) == 1
    names = [c.op_name for c in circuits[0].children[1].children]
    assert names == ["#\\'\\'", "' hi\\'"]


def test_bad_reference_circuits():
    with pytest.raises(TypeError, match="reference_circuits: expected a dict {str: Circuit}"):
        rc._circuits.parse_circuits("'a' [2] Scalar 1", reference_circuits=[1])
    with pytest.raises(TypeError, match="reference_circuits must be a Circuit, not int"):
        parse("'a'", reference_circuits={"a": 1})
    with pytest.raises(TypeError, match=r"expected a dict \{str: Circuit\}, got the item 1"):
        rc._circuits.parse_circuits("'a'", reference_circuits={1: rc.Scalar(1.0)})


@pytest.mark.numpy_results
def test_random_tensor_dtype():
    op = rc.TorchDeviceDtypeOp
    r = parse("'r' [3] Array rand", tensors_as_random_device_dtype=op("cpu", "float64"))
    assert r.value.dtype == np.float64
    assert parse("'r' [3] Array rand", tensors_as_random_device_dtype=op()).value.dtype == np.float32
    with pytest.raises(ValueError, match="float32 or float64, not 'int64'"):
        rc.Parser(tensors_as_random_device_dtype=op(dtype="int64"))
    with pytest.raises(ValueError, match="made on the CPU, not 'cuda:0'"):
        rc.Parser(tensors_as_random_device_dtype=op("cuda:0", "float32"))
