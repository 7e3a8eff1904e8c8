"""Every error path: the exception class (rc's, or the Python builtin rc uses) AND its message,
which names the node (given a distinctive name here) and the offending shapes, sizes or strings.
Also the class hierarchy of errors.def, Python spec exceptions reaching the caller unchanged,
and random junk fed to every constructor raising only ordinary Python exceptions."""

import math
import os
import re
import uuid

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import circuits as rc

ERRORS_DEF = os.path.join(os.path.dirname(__file__), os.pardir, "csrc", "util", "errors.def")


def arr(*shape, dtype=np.float64, name=None):
    return rc.Array(np.zeros(shape, dtype=dtype), name=name)


# --- class hierarchy -----------------------------------------------------------------------

FAMILIES = {
    "ConstructEinsumAxisSizeDifferentError": "ConstructError",
    "ConstructEinsumWrongNumChildrenError": "ConstructError",
    "ConstructEinsumOutputNotSubsetError": "ConstructError",
    "ConstructEinsumLenShapeDifferentFromAxesError": "ConstructError",
    "ConstructAxisOutOfBoundsError": "ConstructError",
    "ConstructConcatShapeDifferentError": "ConstructError",
    "ConstructConcatZeroNodesError": "ConstructError",
    "ConstructRearrangeWrongInputShapeError": "ConstructError",
    "ConstructUnknownGeneralFunctionError": "ConstructError",
    "MiscInputNotBroadcastableError": "MiscInputError",
    "MiscInputIndexDtypeNotI64Error": "MiscInputError",
    "MiscInputChildrenMultipleDtypesError": "MiscInputError",
    "MiscInputItemOutOfBoundsError": "MiscInputError",
    "ParseEinsumStringInvalidError": "ParseError",
    "ParseEinsumStringNoArrowError": "ParseError",
    "RearrangeParseError": "ParseError",
    "RearrangeParseArrowIssueError": "RearrangeParseError",
    "RearrangeParseFailedToMatchRegexError": "RearrangeParseError",
    "RearrangeSpecIntsNotUniqueError": "RearrangeSpecError",
    "RearrangeSpecInpNotInOutError": "RearrangeSpecError",
    "RearrangeSpecIntNotInSizesError": "RearrangeSpecError",
    "RearrangeSpecIntOnlyInOutputWithoutSizeError": "RearrangeSpecError",
    "RearrangeSpecInputAxisHasMultipleWildCardsError": "RearrangeSpecError",
    "RearrangeSpecInputNotConformableError": "RearrangeSpecError",
    "IndexIndexOutOfBoundsError": "IndexError",
    "IndexIndexRankTooHighError": "IndexError",
    "IndexTensorNDimNot1Error": "IndexError",
    "GeneralFunctionShapeNDimTooSmallError": "GeneralFunctionShapeError",
    "TensorEvalNotExplicitlyComputableError": "TensorEvalError",
}


@pytest.mark.parametrize("name, family", sorted(FAMILIES.items()))
def test_error_class_is_in_its_family(name, family):
    cls = getattr(rc, name)
    assert issubclass(cls, getattr(rc, family))
    assert issubclass(cls, ValueError)
    assert cls.__name__ == name


def test_rc_index_error_is_rcs_own_value_error():
    assert rc.IndexError is not IndexError
    assert issubclass(rc.IndexError, ValueError)
    assert not issubclass(rc.IndexError, IndexError)


def errors_def_rows():
    if not os.path.exists(ERRORS_DEF):
        pytest.skip("errors.def is not in this checkout")
    rows = []
    pattern = re.compile(r'^CC_ERR\((\w+), "(\w+)", (\w+)\)$')
    with open(ERRORS_DEF) as f:
        for line in f:
            m = pattern.match(line.strip())
            if m:
                rows.append(m.groups())
    return rows


BUILTIN_PARENTS = {
    "PY_VALUE": ValueError,
    "PY_RUNTIME": RuntimeError,
    "PY_OVERFLOW": OverflowError,
    "PY_TYPE": TypeError,
    "PY_KEY": KeyError,
}


def test_every_errors_def_class_exists_with_its_parent():
    rows = errors_def_rows()
    assert len(rows) > 150
    by_enum = {enum: cls_name for enum, cls_name, _ in rows}
    for enum, cls_name, parent in rows:
        cls = getattr(rc, cls_name)
        assert isinstance(cls, type) and issubclass(cls, Exception), cls_name
        parent_cls = BUILTIN_PARENTS.get(parent) or getattr(rc, by_enum[parent])
        assert cls.__bases__ == (parent_cls,), (cls_name, cls.__bases__, parent_cls)


# --- Einsum --------------------------------------------------------------------------------


def test_einsum_axis_size_different():
    with pytest.raises(rc.ConstructEinsumAxisSizeDifferentError, match=r"bad_ein.*\b3\b.*\b4\b"):
        rc.Einsum((arr(2, 3), (0, 1)), (arr(4, 5), (1, 2)), out_axes=(0, 2), name="bad_ein")


def test_einsum_axis_size_different_within_one_operand():
    with pytest.raises(rc.ConstructEinsumAxisSizeDifferentError, match=r"diag_ein.*\b2\b.*\b3\b"):
        rc.Einsum((arr(2, 3), (0, 0)), out_axes=(0,), name="diag_ein")


def test_einsum_string_axis_size_different():
    with pytest.raises(rc.ConstructEinsumAxisSizeDifferentError, match=r"mm.*\b3\b.*\b5\b"):
        rc.Einsum.from_einsum_string("ij,jk->ik", arr(2, 3), arr(5, 4), name="mm")


@pytest.mark.parametrize("n_nodes", [1, 3])
def test_einsum_string_wrong_num_children(n_nodes):
    nodes = [arr(2, 2) for _ in range(n_nodes)]
    with pytest.raises(
        rc.ConstructEinsumWrongNumChildrenError, match=rf"wrong_n.*\b{n_nodes}\b.*\b2\b"
    ):
        rc.Einsum.from_einsum_string("ij,jk->ik", *nodes, name="wrong_n")


def test_einsum_output_not_subset():
    with pytest.raises(rc.ConstructEinsumOutputNotSubsetError, match="notsub"):
        rc.Einsum((arr(2, 3), (0, 1)), out_axes=(0, 2), name="notsub")


def test_einsum_string_output_not_subset():
    with pytest.raises(rc.ConstructEinsumOutputNotSubsetError, match="out_z"):
        rc.Einsum.from_einsum_string("ij->iz", arr(2, 3), name="out_z")


@pytest.mark.parametrize("axes", [(0,), (0, 1, 2)])
def test_einsum_len_shape_different_from_axes(axes):
    with pytest.raises(rc.ConstructEinsumLenShapeDifferentFromAxesError, match=r"lenbad.*2, 3"):
        rc.Einsum((arr(2, 3), axes), out_axes=(0,), name="lenbad")


def test_einsum_string_len_shape_different_from_axes():
    with pytest.raises(rc.ConstructEinsumLenShapeDifferentFromAxesError, match=r"lens.*2, 3"):
        rc.Einsum.from_einsum_string("ijk->i", arr(2, 3), name="lens")


@pytest.mark.parametrize("string", ["i$,jk->ik", "ij,j1->i", "ij,jk->i.k"])
def test_einsum_string_invalid(string):
    with pytest.raises(rc.ParseEinsumStringInvalidError, match=re.escape(string)):
        rc.Einsum.from_einsum_string(string, arr(2, 2), arr(2, 2))


@pytest.mark.parametrize("string", ["ij,jk", "ij,jk-ik", "ij->j->i"])
def test_einsum_string_no_arrow(string):
    with pytest.raises(rc.ParseEinsumStringNoArrowError, match=re.escape(string)):
        rc.Einsum.from_einsum_string(string, arr(2, 2), arr(2, 2))


# --- Add, dtypes ---------------------------------------------------------------------------


def test_add_not_broadcastable():
    with pytest.raises(rc.MiscInputNotBroadcastableError, match=r"bad_add.*\[2, 3\].*\[4\]"):
        rc.Add(arr(2, 3), arr(4), name="bad_add")


def test_add_size_one_does_not_broadcast_against_zero():
    assert rc.Add(arr(0, 3), arr(3)).shape == (0, 3)
    assert rc.Add(arr(0, 3), arr(0, 1)).shape == (0, 3)
    with pytest.raises(rc.MiscInputNotBroadcastableError, match=r"zero_add.*\[1, 3\].*\[0, 3\]"):
        rc.Add(arr(1, 3), arr(0, 3), name="zero_add")
    with pytest.raises(rc.MiscInputNotBroadcastableError, match=r"zero_add.*\[2\].*\[0\]"):
        rc.Add(arr(2), arr(0), name="zero_add")


@pytest.mark.parametrize(
    "build",
    [
        lambda a, b: rc.Add(a, b, name="mixed"),
        lambda a, b: rc.Concat(a, b, axis=0, name="mixed"),
        lambda a, b: rc.Einsum((a, (0,)), (b, (0,)), out_axes=(0,), name="mixed"),
    ],
    ids=["add", "concat", "einsum"],
)
def test_children_multiple_dtypes(build):
    a, b = arr(3, dtype=np.float32), arr(3, dtype=np.float64)
    with pytest.raises(
        rc.MiscInputChildrenMultipleDtypesError, match=r"float32.*float64|float64.*float32"
    ):
        build(a, b)


def test_multiple_dtypes_found_below_the_direct_children():
    deep32 = rc.Add(rc.Add(arr(3, dtype=np.float32), rc.Scalar(1.0)), rc.Scalar(2.0))
    with pytest.raises(
        rc.MiscInputChildrenMultipleDtypesError, match=r"float32.*float64|float64.*float32"
    ):
        rc.Add(deep32, arr(3, dtype=np.float64))


# --- Concat --------------------------------------------------------------------------------


@pytest.mark.parametrize("axis", [2, -3, 100])
def test_concat_axis_out_of_bounds(axis):
    with pytest.raises(rc.ConstructAxisOutOfBoundsError, match=rf"cat_ax.*{axis}.*\b2\b"):
        rc.Concat(arr(2, 3), arr(2, 3), axis=axis, name="cat_ax")


def test_concat_stack_axis_out_of_bounds():
    # stack inserts an axis, so the bound is the rank plus one
    assert rc.Concat.stack(arr(2, 3), arr(2, 3), axis=2).shape == (2, 3, 2)
    with pytest.raises(rc.ConstructAxisOutOfBoundsError, match=r"\b3\b"):
        rc.Concat.stack(arr(2, 3), arr(2, 3), axis=3)


def test_concat_shape_different():
    with pytest.raises(rc.ConstructConcatShapeDifferentError, match=r"cat2.*\[2, 3\].*\[2, 4\]"):
        rc.Concat(arr(2, 3), arr(2, 4), axis=0, name="cat2")


def test_concat_rank_different():
    with pytest.raises(rc.ConstructConcatShapeDifferentError, match=r"cat3.*\[2, 3\].*\[2\]"):
        rc.Concat(arr(2, 3), arr(2), axis=0, name="cat3")


def test_concat_zero_nodes():
    with pytest.raises(rc.ConstructConcatZeroNodesError, match="empty_cat"):
        rc.Concat(axis=0, name="empty_cat")


# --- Rearrange -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "string, shape",
    [("a b c -> c b a", (2, 3)), ("(a:2 b:2) -> a b", (5,)), ("a:4 b -> b a", (2, 3))],
)
def test_rearrange_wrong_input_shape(string, shape):
    size_text = ", ".join(str(s) for s in shape)
    with pytest.raises(
        rc.ConstructRearrangeWrongInputShapeError, match=rf"rr_node.*\[{size_text}\]"
    ):
        rc.Rearrange.from_string(arr(*shape), string, name="rr_node")


def test_rearrange_spec_object_wrong_input_shape():
    spec = rc.RearrangeSpec([[0], [1]], [[1], [0]], [None, None])
    with pytest.raises(rc.ConstructRearrangeWrongInputShapeError, match=r"perm.*\[2, 3, 4\]"):
        rc.Rearrange(arr(2, 3, 4), spec, name="perm")
    with pytest.raises(rc.ConstructRearrangeWrongInputShapeError, match=r"\[2, 3, 4\]"):
        arr(2, 3, 4).rearrange(spec)


@pytest.mark.parametrize(
    "string, error",
    [
        ("a b", rc.RearrangeParseArrowIssueError),
        ("a -> b -> a", rc.RearrangeParseArrowIssueError),
        ("", rc.RearrangeParseArrowIssueError),
        ("a $ -> a", rc.RearrangeParseFailedToMatchRegexError),
        ("(a b -> a b", rc.RearrangeParseFailedToMatchRegexError),
        ("a:x -> a", rc.RearrangeParseFailedToMatchRegexError),
    ],
)
def test_rearrange_parse_errors(string, error):
    with pytest.raises(error, match=re.escape(f'"{string}"')):
        rc.RearrangeSpec.from_string(string)
    with pytest.raises(error, match=re.escape(f'"{string}"')):
        rc.Rearrange.from_string(arr(2, 3), string)


@pytest.mark.parametrize(
    "string, error",
    [
        ("a a -> a", rc.RearrangeSpecIntsNotUniqueError),
        ("a b -> a a b", rc.RearrangeSpecIntsNotUniqueError),
        ("a b -> a", rc.RearrangeSpecInpNotInOutError),
        ("1 a -> a", rc.RearrangeSpecInpNotInOutError),
        ("a -> a b", rc.RearrangeSpecIntOnlyInOutputWithoutSizeError),
        ("(a b) -> a b", rc.RearrangeSpecInputAxisHasMultipleWildCardsError),
    ],
)
def test_rearrange_spec_string_errors(string, error):
    with pytest.raises(error, match=re.escape(string)):
        rc.RearrangeSpec.from_string(string)


@pytest.mark.parametrize(
    "args, error, message",
    [
        (([[0], [0]], [[0]], [None]), rc.RearrangeSpecIntsNotUniqueError, "not unique"),
        (([[0]], [[0], [0]], [None]), rc.RearrangeSpecIntsNotUniqueError, "not unique"),
        (([[0], [1]], [[0]], [None, None]), rc.RearrangeSpecInpNotInOutError, "not in output"),
        (([[0]], [[0]], []), rc.RearrangeSpecIntNotInSizesError, "not in sizes"),
        (
            ([[0]], [[0], [1]], [None, None]),
            rc.RearrangeSpecIntOnlyInOutputWithoutSizeError,
            "only in output without size",
        ),
        (
            ([[0, 1]], [[0], [1]], [None, None]),
            rc.RearrangeSpecInputAxisHasMultipleWildCardsError,
            "multiple wild",
        ),
    ],
)
def test_rearrange_spec_constructor_errors(args, error, message):
    with pytest.raises(error, match=message):
        rc.RearrangeSpec(*args)


# --- GeneralFunction -----------------------------------------------------------------------


def test_unknown_general_function():
    with pytest.raises(rc.ConstructUnknownGeneralFunctionError, match="not_a_function"):
        rc.GeneralFunction.new_by_name(arr(3), spec_name="not_a_function")
    assert rc.GeneralFunction.new_by_name_op(arr(3), spec_name="not_a_function") is None


@pytest.mark.parametrize("fn", ["softmax", "log_softmax", "max", "min", "last_dim_size"])
def test_general_function_ndim_too_small(fn):
    zero_d = rc.Scalar(1.0, (), "s0")
    with pytest.raises(rc.GeneralFunctionShapeNDimTooSmallError, match=rf"{fn}.*\b0\b"):
        getattr(rc, fn)(zero_d)
    with pytest.raises(rc.GeneralFunctionShapeNDimTooSmallError, match=rf"{fn}.*\b0\b"):
        rc.GeneralFunction.new_by_name(zero_d, spec_name=fn)


def test_elementwise_function_of_a_0d_is_fine():
    assert rc.relu(rc.Scalar(-1.0, (), "s0")).evaluate() == 0.0


def test_gen_index_float_index():
    x = arr(4, 5, name="x")
    idx = rc.Array(np.array([0.0, 1.0]), name="fidx")
    with pytest.raises(rc.MiscInputIndexDtypeNotI64Error, match="float64"):
        rc.GeneralFunction.gen_index(x, idx, 0)


def test_index_float_array():
    with pytest.raises(rc.MiscInputIndexDtypeNotI64Error, match=r"fl_ix.*float64"):
        rc.Index(arr(4, 5), (np.array([0.0, 1.0]),), name="fl_ix")


# --- Index ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "index, shown",
    [
        ((4,), "4"),
        ((-5,), "-5"),
        ((0, 5), "5"),
        ((slice(0, 5),), "5"),
        ((slice(-5, None),), "-5"),
        ((slice(3, 1),), "3"),
    ],
)
def test_index_out_of_bounds(index, shown):
    with pytest.raises(rc.IndexIndexOutOfBoundsError, match=rf"oob_ix.*{shown}") as info:
        rc.Index(arr(4, 5), index, name="oob_ix")
    assert "4, 5" in str(info.value)


@pytest.mark.parametrize("integer", [np.int64, np.int32, np.uint8])
def test_numpy_integers_index_like_ints(integer):
    x = np.arange(20.0).reshape(4, 5)
    node = rc.Index(rc.Array(x), (integer(2), slice(integer(1), integer(3))))
    assert node.shape == (2,)
    np.testing.assert_array_equal(node.evaluate(), x[2, 1:3])


def test_index_rank_too_high():
    with pytest.raises(rc.IndexIndexRankTooHighError, match=r"deep_ix.*\b3\b.*\b2\b"):
        rc.Index(arr(4, 5), (0, 0, 0), name="deep_ix")


@pytest.mark.parametrize("shape", [(2, 2), (1, 3)])
def test_index_tensor_ndim_not_1(shape):
    t = np.zeros(shape, dtype=np.int64)
    with pytest.raises(rc.IndexTensorNDimNot1Error, match=r"nd_ix.*\b2\b"):
        rc.Index(arr(4, 5), (t,), name="nd_ix")


def test_index_slice_with_step():
    with pytest.raises(ValueError, match="step"):
        rc.Index(arr(4, 5), (slice(0, 4, 2),))


def test_index_value_out_of_range_at_evaluation():
    node = rc.Index(arr(4, 5, name="x"), (np.array([1, 4]),), name="late_ix")
    assert node.shape == (2, 5)
    with pytest.raises(
        (rc.IndexIndexOutOfBoundsError, rc.MiscInputItemOutOfBoundsError), match=r"late_ix.*\b4\b"
    ):
        node.evaluate()


@pytest.mark.parametrize("bad", [5, -6])
def test_gen_index_value_out_of_range_at_evaluation(bad):
    x = rc.Array(np.arange(5.0), name="x")
    idx = rc.Array(np.array([0, bad], dtype=np.int64), name="i")
    node = rc.GeneralFunction.gen_index(x, idx, 0, batch_index=False, name="gather_node")
    assert node.shape == (2,)
    with pytest.raises(rc.MiscInputItemOutOfBoundsError, match=rf"gather_node.*{bad}.*\b5\b"):
        node.evaluate()


# --- evaluation ----------------------------------------------------------------------------


def test_evaluate_symbol():
    sym = rc.Symbol.new_with_random_uuid((2, 3), name="free_sym")
    with pytest.raises(rc.TensorEvalNotExplicitlyComputableError, match="free_sym"):
        sym.evaluate()


def test_evaluate_circuit_containing_a_symbol():
    sym = rc.Symbol.new_with_random_uuid((2, 3), name="free_sym")
    node = rc.Add(arr(2, 3, name="x"), rc.relu(sym), name="outer")
    with pytest.raises(rc.TensorEvalNotExplicitlyComputableError, match="free_sym"):
        node.evaluate()
    with pytest.raises(rc.TensorEvalNotExplicitlyComputableError, match="free_sym"):
        rc.evaluate_many([arr(1), node])


# --- TypeErrors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "build",
    [
        lambda x: rc.Add(x, 3.0),
        lambda x: rc.Add(x, np.zeros(3)),
        lambda x: rc.Einsum((x, (0,)), ("x", (0,)), out_axes=(0,)),
        lambda x: rc.Einsum.from_einsum_string("i,i->i", x, None),
        lambda x: rc.Concat(x, [1.0, 2.0, 3.0], axis=0),
        lambda x: rc.Index("x", (0,)),
        lambda x: rc.Rearrange(np.zeros(3), rc.RearrangeSpec([[0]], [[0]], [None])),
        lambda x: rc.Rearrange.from_string(None, "a -> a"),
        lambda x: rc.GeneralFunction(x, 1, spec=rc.relu(x).spec),
        lambda x: rc.GeneralFunction.new_by_name(object(), spec_name="relu"),
        lambda x: rc.GeneralFunction.gen_index(x, [0, 1], 0),
        lambda x: rc.relu(None),
        lambda x: rc.pow(x, 2.0),
        lambda x: rc.Tag(np.zeros(3), uuid.uuid4()),
        lambda x: rc.evaluate_many([x, "y"]),
    ],
)
def test_non_circuit_children_are_type_errors(build):
    with pytest.raises(TypeError, match="Circuit"):
        build(rc.Array(np.zeros(3), name="x"))


@pytest.mark.parametrize("bad_name", [5, b"bytes", ["n"], 1.5])
@pytest.mark.parametrize(
    "build",
    [
        lambda x, n: rc.Array(np.zeros(3), name=n),
        lambda x, n: rc.Scalar(1.0, (3,), n),
        lambda x, n: rc.Symbol((3,), uuid.uuid4(), n),
        lambda x, n: rc.Add(x, name=n),
        lambda x, n: rc.Einsum((x, (0,)), out_axes=(0,), name=n),
        lambda x, n: rc.Index(x, (0,), name=n),
        lambda x, n: rc.Concat(x, axis=0, name=n),
        lambda x, n: rc.Rearrange.from_string(x, "a -> a", name=n),
        lambda x, n: rc.relu(x, name=n),
        lambda x, n: rc.Tag(x, uuid.uuid4(), name=n),
        lambda x, n: x.rename(n),
    ],
)
def test_bad_names_are_type_errors(build, bad_name):
    with pytest.raises(TypeError, match="name"):
        build(rc.Array(np.zeros(3), name="x"), bad_name)


def test_circuit_base_cannot_be_instantiated():
    with pytest.raises(TypeError, match="Circuit"):
        rc.Circuit()


def test_torch_parameter_is_rejected():
    torch = pytest.importorskip("torch")
    p = torch.nn.Parameter(torch.zeros(3))
    with pytest.raises(TypeError, match="Parameter"):
        rc.Array(p)
    # A detached copy is an ordinary tensor.
    assert rc.Array(p.detach().clone()).shape == (3,)


@pytest.mark.parametrize("dtype", ["uint16", "uint32", "uint64", "float128", "complex64"])
def test_unsupported_numpy_dtype_names_the_dtype(dtype):
    with pytest.raises(TypeError, match=dtype):
        rc.Array(np.zeros(3, dtype=dtype))


def test_unsupported_object_and_string_arrays():
    with pytest.raises(TypeError, match="dtype"):
        rc.Array(np.array(["a", "b"]))
    with pytest.raises(TypeError, match="dtype"):
        rc.Array(np.array([object(), object()]))


# --- Python specs: their exceptions reach the caller unchanged ----------------------------


class SpecError(Exception):
    pass


class RaisingSpec(rc.GeneralFunctionSpecBase):
    """Raises `error` from `where` ("function" or "get_shape_info")."""

    def __init__(self, where, error):
        self.where = where
        self.error = error

    @property
    def name(self):
        return "raising_spec"

    def function(self, *arrays):
        if self.where == "function":
            raise self.error
        return arrays[0]

    def get_shape_info(self, *shapes):
        if self.where == "get_shape_info":
            raise self.error
        return rc.GeneralFunctionShapeInfo(shapes[0], 0, [True] * len(shapes))


@pytest.mark.parametrize(
    "error",
    [SpecError("boom 42 from function"), KeyError("boom 42 from function"),
     ZeroDivisionError("boom 42 from function")],
    ids=lambda e: type(e).__name__,
)
def test_spec_function_exception_reaches_evaluate(error):
    spec = RaisingSpec("function", error)
    node = rc.GeneralFunction(arr(3, name="x"), spec=spec)
    with pytest.raises(type(error), match="boom 42 from function") as info:
        node.evaluate()
    assert info.value is error
    # The engine stays usable after the failed evaluation.
    np.testing.assert_array_equal(rc.Add(arr(3), rc.Scalar(1.0)).evaluate(), np.ones(3))


def test_spec_shape_info_exception_reaches_constructor():
    error = SpecError("boom 7 from get_shape_info")
    spec = RaisingSpec("get_shape_info", error)
    with pytest.raises(SpecError, match="boom 7 from get_shape_info") as info:
        rc.GeneralFunction(arr(3, name="x"), spec=spec)
    assert info.value is error


def test_spec_exception_inside_a_larger_circuit():
    error = SpecError("boom inside")
    inner = rc.GeneralFunction(arr(3, name="x"), spec=RaisingSpec("function", error))
    outer = rc.Einsum.from_einsum_string("i,i->", rc.relu(inner), arr(3, name="y"))
    with pytest.raises(SpecError, match="boom inside"):
        outer.evaluate()


# --- random junk never crashes -------------------------------------------------------------

POOL = [
    rc.Array(np.arange(6.0).reshape(2, 3), name="a"),
    rc.Array(np.arange(3, dtype=np.float32)),
    rc.Scalar(2.0, (3,), "s"),
    rc.Symbol.new_with_random_uuid((2, 3), "sym"),
    rc.Array(np.array([0, 1], dtype=np.int64), name="i"),
]

ODD_ARRAYS = [
    np.zeros((2, 0)),
    np.zeros(3, dtype=np.int32),
    np.zeros(3, dtype=np.float16),
    np.array(["x"]),
    np.array([None, 1], dtype=object),
    np.zeros((1,) * 40)[(0,) * 20],
    np.arange(12.0).reshape(3, 4)[::2, ::-1],
    np.array([1, 2], dtype=np.int64),
    np.array(True),
]

atoms = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-3, max_value=8),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["a b -> b a", "ij,jk->ik", "->", "a -> a 1000000000", "relu", "(a b) -> a"]),
    st.binary(max_size=8),
    st.sampled_from(POOL),
    st.sampled_from(ODD_ARRAYS),
    st.just(slice(None, 2)),
    st.just(slice(1, None, 2)),
    st.just(uuid.UUID(int=5)),
)
junk = st.recursive(
    atoms,
    lambda inner: st.lists(inner, max_size=4) | st.lists(inner, max_size=4).map(tuple),
    max_leaves=12,
)


def seq(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


CONSTRUCTORS = {
    "Array": lambda a, b, c: rc.Array(a, name=b),
    "Scalar": lambda a, b, c: rc.Scalar(a, b, c),
    "Symbol": lambda a, b, c: rc.Symbol(a, b, c),
    "Add": lambda a, b, c: rc.Add(*seq(a), name=b),
    "Einsum": lambda a, b, c: rc.Einsum(*seq(a), out_axes=b, name=c),
    "from_einsum_string": lambda a, b, c: rc.Einsum.from_einsum_string(a, *seq(b), name=c),
    "from_fancy_string": lambda a, b, c: rc.Einsum.from_fancy_string(a, *seq(b), name=c),
    "Index": lambda a, b, c: rc.Index(a, b, name=c),
    "Index_of_pool": lambda a, b, c: rc.Index(POOL[0], a, name=b),
    "Concat": lambda a, b, c: rc.Concat(*seq(a), axis=b, name=c),
    "RearrangeSpec": lambda a, b, c: rc.RearrangeSpec(a, b, c),
    "RearrangeSpec.from_string": lambda a, b, c: rc.RearrangeSpec.from_string(a),
    "Rearrange": lambda a, b, c: rc.Rearrange(a, b, name=c),
    "Rearrange.from_string": lambda a, b, c: rc.Rearrange.from_string(POOL[0], a, name=b),
    "GeneralFunction": lambda a, b, c: rc.GeneralFunction(*seq(a), spec=b, name=c),
    "new_by_name": lambda a, b, c: rc.GeneralFunction.new_by_name(*seq(a), spec_name=b, name=c),
    "gen_index": lambda a, b, c: rc.GeneralFunction.gen_index(a, b, c),
    "gen_index_of_pool": lambda a, b, c: rc.GeneralFunction.gen_index(POOL[0], POOL[4], a),
    "softmax": lambda a, b, c: rc.softmax(a, name=b),
    "pow": lambda a, b, c: rc.pow(a, b, name=c),
    "Tag": lambda a, b, c: rc.Tag(a, b, name=c),
    "rename": lambda a, b, c: POOL[0].rename(a),
    "index_method": lambda a, b, c: POOL[0].index(a),
    "sum": lambda a, b, c: POOL[0].sum(a),
    "expand_at_axes": lambda a, b, c: POOL[0].expand_at_axes(a, b),
    "evaluate_many": lambda a, b, c: rc.evaluate_many(a),
}


@pytest.mark.parametrize("ctor", sorted(CONSTRUCTORS))
@given(a=junk, b=junk, c=junk)
def test_junk_raises_only_python_exceptions(ctor, a, b, c):
    try:
        out = CONSTRUCTORS[ctor](a, b, c)
    except SystemError:
        raise
    except Exception:
        return
    if isinstance(out, rc.Circuit):
        assert isinstance(out.shape, tuple)
        repr(out)
        if out.is_explicitly_computable and math.prod(out.shape) <= 10_000:
            try:
                out.evaluate()
            except SystemError:
                raise
            except Exception:
                pass
