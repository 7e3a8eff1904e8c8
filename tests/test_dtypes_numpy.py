"""rc's dtypes with numpy alone (no torch needed): Arrays of every numpy dtype rc has, bfloat16
as circuits' record array of its bits, numpy results, and integer evaluation."""

import numpy as np
import pytest

import circuits as rc

BF16 = np.dtype([("bfloat16", "<u2")])
NUMPY_DTYPES = ["float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool"]


@pytest.fixture(autouse=True)
def numpy_results():
    before = rc.get_result_type()
    rc.set_result_type("numpy")
    yield
    rc.set_result_type(before)


@pytest.mark.parametrize("name", NUMPY_DTYPES)
def test_each_numpy_dtype_round_trips(name):
    x = (np.arange(12).reshape(3, 4) - 5).astype(name)
    a = rc.Array(x)
    assert a.dtype == name
    out = a.evaluate()
    assert out.dtype == x.dtype and np.array_equal(out, x)


def bf16_bits(values):
    # the upper 16 bits of float32 values that are exact in bfloat16
    return (np.asarray(values, np.float32).view(np.uint32) >> 16).astype(np.uint16).view(BF16)


def test_bfloat16_record_array_is_read_as_bfloat16():
    a = rc.Array(bf16_bits([1.5, -2.0, np.inf]))
    assert a.dtype == "bfloat16"
    out = a.evaluate()
    assert out.dtype == np.float32 and out.tolist() == [1.5, -2.0, np.inf]


def test_bfloat16_sum_is_rounded_to_bfloat16():
    # 1 + 2^-9 is not a bfloat16: the sum rounds to 1 (to even)
    a = rc.Array(bf16_bits([1.0]))
    b = rc.Array(bf16_bits([2.0**-9]))
    assert rc.Add(a, b).evaluate().tolist() == [1.0]


def test_int8_sum_wraps_and_sigmoid_is_float32():
    a = rc.Array(np.array([100, -128], np.int8))
    assert rc.Add(a, a).evaluate().tolist() == [-56, 0]
    s = rc.sigmoid(a)
    assert s.dtype == "float32" and s.evaluate().dtype == np.float32


def test_softmax_of_integers_raises_not_implemented():
    with pytest.raises(NotImplementedError, match="not implemented for 'Char'"):
        rc.softmax(rc.Array(np.arange(3, dtype=np.int8))).evaluate()
