"""BLAKE3 (circuits._circuits._blake3) against the official test vectors, and Array tensor
hashes against rc's formula computed independently with the `blake3` package."""

import json
import os

import numpy as np
import pytest

import circuits
from circuits import _circuits

VECTORS = os.path.join(os.path.dirname(__file__), "data", "blake3_vectors.json")


def vector_cases():
    with open(VECTORS) as f:
        return json.load(f)["cases"]


def vector_input(n):
    return bytes(i % 251 for i in range(n))


@pytest.mark.parametrize("case", vector_cases(), ids=lambda c: "len%d" % c["input_len"])
def test_official_vector(case):
    data = vector_input(case["input_len"])
    expected = bytes.fromhex(case["hash"])
    assert _circuits._blake3(data, len(expected)) == expected
    assert _circuits._blake3(data) == expected[:32]
    # Extendable output: every shorter output is a prefix of the longer one.
    for n in (0, 1, 31, 33, 63, 64, 65, 100):
        assert _circuits._blake3(data, out_len=n) == expected[:n]


def test_bytes_like_inputs():
    data = vector_input(5000)
    expected = _circuits._blake3(data)
    assert _circuits._blake3(bytearray(data)) == expected
    assert _circuits._blake3(memoryview(data)) == expected
    assert _circuits._blake3(np.frombuffer(data, dtype=np.uint8)) == expected
    arr = np.arange(1000, dtype=np.float64)
    assert _circuits._blake3(arr) == _circuits._blake3(arr.tobytes())


def test_argument_errors():
    with pytest.raises(TypeError):
        _circuits._blake3("text")
    with pytest.raises(TypeError):
        _circuits._blake3(12)
    with pytest.raises(TypeError):
        _circuits._blake3(b"x", "32")
    with pytest.raises(ValueError):
        _circuits._blake3(b"x", -1)


@pytest.mark.parametrize("n", [2**20 - 1, 2**20 + 1, 3 * 2**20 + 12345, 9 * 2**20])
def test_large_inputs_match_blake3_package(n):
    blake3 = pytest.importorskip("blake3")
    data = np.random.default_rng(n).integers(0, 256, n, dtype=np.uint8).tobytes()
    assert _circuits._blake3(data, 100) == blake3.blake3(data).digest(100)
    # Lengths around the chunk and parallel-subtree boundaries of the same stream.
    for cut in (n - 1, n // 2 + 1, (n // 2048) * 1024):
        assert _circuits._blake3(data[:cut]) == blake3.blake3(data[:cut]).digest()


def test_long_extended_output():
    blake3 = pytest.importorskip("blake3")
    data = b"circuits"
    assert _circuits._blake3(data, 3 * 2**20 + 7) == blake3.blake3(data).digest(3 * 2**20 + 7)


# rc's tensor hash: blake3 over separators, the shape (8-byte big-endian signed sizes), the
# dtype tag, the device and the elements as numpy's tobytes() gives them.
DTYPE_TAGS = {
    np.dtype(np.float32): b"float32",
    np.dtype(np.float64): b"float64",
    np.dtype(np.int64): b"int64--",
    np.dtype(np.bool_): b"bool---",
}


def rc_tensor_hash(x):
    blake3 = pytest.importorskip("blake3")
    m = blake3.blake3()
    m.update(b"c3c5ce3e-7d06-4939-8340-2a7e6b2984b4")
    for size in x.shape:
        m.update(int(size).to_bytes(8, "big", signed=True))
    m.update(b"fb782993-5fe7-43ac-acc2-d57fb429c2fc")
    m.update(DTYPE_TAGS[x.dtype])
    m.update(b"cpu")
    m.update(b"9430f5c7-3c58-4339-b863-5449a4d74ee6")
    m.update(x.tobytes())
    return m.hexdigest()


def sample(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    if dtype == np.bool_:
        return rng.random(shape) < 0.5
    if dtype == np.int64:
        return rng.integers(-(10**12), 10**12, shape, dtype=np.int64)
    return rng.standard_normal(shape).astype(dtype)


DTYPES = [np.float32, np.float64, np.int64, np.bool_]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize(
    "make",
    [
        lambda b: b,
        lambda b: b[2, 3].reshape(()),
        lambda b: b[:0],
        lambda b: b[:, :0],
        lambda b: b.T,
        lambda b: b[1:8:2, 3:10],
        lambda b: b[::-1, ::-3],
        lambda b: b.reshape(1, 10, 1, 12)[:, 2:, :, 1::2],
        lambda b: np.broadcast_to(b[4], (3, 5, 12)),
        lambda b: np.broadcast_to(b[:, :1], (10, 9)),
    ],
    ids=[
        "contiguous",
        "0d",
        "empty_rows",
        "empty_cols",
        "transposed",
        "sliced",
        "reversed",
        "unit_axes",
        "broadcast_rows",
        "broadcast_cols",
    ],
)
def test_tensor_hash_matches_rc_formula(dtype, make):
    x = make(sample((10, 12), dtype))
    assert circuits.Array(x).tensor_hash_base16() == rc_tensor_hash(x)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_tensor_hash_of_scalar_array(dtype):
    x = sample((), dtype)
    assert circuits.Array(x).tensor_hash_base16() == rc_tensor_hash(x)


def test_tensor_hash_large_views():
    base = sample((700, 3000), np.float32, seed=1)
    for x in (base, base.T, base[:, 100:2900], base[3:, 10:500], base[::3, ::2],
              base.reshape(70, 10, 3000).transpose(1, 2, 0)):
        assert circuits.Array(x).tensor_hash_base16() == rc_tensor_hash(x)


def test_tensor_hash_depends_on_shape_and_dtype():
    x = np.arange(12, dtype=np.int64)
    hashes = {
        circuits.Array(x).tensor_hash_base16(),
        circuits.Array(x.reshape(3, 4)).tensor_hash_base16(),
        circuits.Array(x.reshape(4, 3)).tensor_hash_base16(),
        circuits.Array(x.view(np.float64)).tensor_hash_base16(),
    }
    assert len(hashes) == 4
