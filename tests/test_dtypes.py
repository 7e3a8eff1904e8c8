"""The dtypes rc has: float16, bfloat16, float32, float64, int8, int16, int32, int64, uint8 and
bool. Arrays of each from numpy and torch, results back, conversions between every pair (as
torch's .to()), rc's tensor hash of each (computed here from rc's rule: blake3 over the
separators, the shape, a 7-byte dtype tag, the device and the elements' bytes in C order),
and the tensor store."""

import numpy as np
import pytest

import circuits as rc

torch = pytest.importorskip("torch")

NUMPY_DTYPES = ["float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool"]
ALL_DTYPES = NUMPY_DTYPES[:1] + ["bfloat16"] + NUMPY_DTYPES[1:]
# rc's tag per dtype (its dtypes_to_bytes); rc has none for bfloat16, circuits uses "bfloat16".
HASH_TAGS = {
    "float16": b"float16",
    "bfloat16": b"bfloat16",
    "float32": b"float32",
    "float64": b"float64",
    "int8": b"int8---",
    "int16": b"int16--",
    "int32": b"int32--",
    "int64": b"int64--",
    "uint8": b"uint8--",
    "bool": b"bool---",
}


def torch_dtype(name):
    return getattr(torch, name)


def sample(shape, name, seed=0):
    g = torch.Generator().manual_seed(seed)
    if name == "bool":
        return torch.rand(shape, generator=g) < 0.5
    if name in ("int8", "int16", "int32", "int64", "uint8"):
        info = torch.iinfo(torch_dtype(name))
        low, high = max(info.min, -(10**12)), min(info.max, 10**12)
        return torch.randint(low, high, shape, generator=g, dtype=torch.int64).to(torch_dtype(name))
    return (torch.randn(shape, generator=g) * 100).to(torch_dtype(name))


def element_bytes(t):
    t = t.contiguous()
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)
    return t.numpy().tobytes()


def rc_rule_hash(t):
    blake3 = pytest.importorskip("blake3")
    m = blake3.blake3()
    m.update(b"c3c5ce3e-7d06-4939-8340-2a7e6b2984b4")
    for size in t.shape:
        m.update(int(size).to_bytes(8, "big", signed=True))
    m.update(b"fb782993-5fe7-43ac-acc2-d57fb429c2fc")
    m.update(HASH_TAGS[str(t.dtype)[len("torch.") :]])
    m.update(b"cpu")
    m.update(b"9430f5c7-3c58-4339-b863-5449a4d74ee6")
    m.update(element_bytes(t))
    return m.hexdigest()


def as_torch(value):
    return value if isinstance(value, torch.Tensor) else torch.from_numpy(np.asarray(value))


def same_bits(a, b):
    a, b = as_torch(a), as_torch(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    if a.dtype in (torch.float16, torch.bfloat16):
        a, b = a.view(torch.int16), b.view(torch.int16)
    return torch.equal(a, b)


# --- construction and results ------------------------------------------------------------


@pytest.fixture
def numpy_results():
    rc.set_result_type("numpy")
    yield
    rc.set_result_type("torch")


@pytest.mark.parametrize("name", NUMPY_DTYPES)
def test_numpy_array_of_each_dtype_round_trips(name, numpy_results):
    x = sample((3, 4), name).numpy()
    a = rc.Array(x)
    assert a.dtype == name
    out = a.evaluate()
    assert isinstance(out, np.ndarray) and out.dtype == x.dtype
    assert np.array_equal(out, x)


@pytest.mark.parametrize("name", ALL_DTYPES)
def test_torch_array_of_each_dtype_round_trips(name):
    t = sample((2, 5), name)
    a = rc.Array(t)
    assert a.dtype == name
    out = a.evaluate()
    assert isinstance(out, torch.Tensor) and out.dtype == t.dtype
    assert same_bits(out, t)


def test_bfloat16_keeps_nan_and_infinities():
    t = torch.tensor([float("nan"), float("inf"), -float("inf"), -0.0, 1e-40], dtype=torch.bfloat16)
    assert same_bits(rc.Array(t).evaluate(), t)


def test_bfloat16_numpy_result_is_float32(numpy_results):
    t = torch.tensor([1.5, -3.0, float("inf")], dtype=torch.bfloat16)
    out = rc.Array(t).evaluate()
    assert isinstance(out, np.ndarray) and out.dtype == np.float32
    assert out.tolist() == [1.5, -3.0, float("inf")]


def test_bfloat16_with_negative_strides_comes_back_as_torch():
    t = torch.tensor([1.5, -3.0, 2.0, 0.25], dtype=torch.bfloat16)
    out = rc.Index(rc.Array(t), (np.array([3, 2, 1, 0]),)).evaluate()
    assert out.dtype == torch.bfloat16 and out.tolist() == [0.25, 2.0, -3.0, 1.5]


def test_bfloat16_as_numpy_is_a_marked_record_that_reads_back():
    # what a tensor sink (printing, the tensor store) receives: the 16 bits, marked
    t = torch.tensor([1.5, -3.0], dtype=torch.bfloat16)
    seen = []
    rc._circuits.print_repr([rc.Array(t, "x")], bijection=True,
                            tensor_sink=lambda h, a: seen.append(a))
    (arr,) = seen
    assert arr.dtype.names == ("bfloat16",)
    assert same_bits(rc.Array(arr).evaluate(), t)


# --- conversions ---------------------------------------------------------------------------


def cast(value, name):
    """value cast by circuits, as numpy (float16 too) or, for bfloat16, torch."""
    out = rc.cast_circuit(rc.Array(value), rc.TorchDeviceDtypeOp(dtype=name)).evaluate()
    return out if name == "bfloat16" else np.asarray(out)


def test_float16_from_float32_rounds_as_numpy_on_every_pattern():
    rng = np.random.default_rng(0)
    bits = rng.integers(0, 2**32, 200_000, dtype=np.uint64).astype(np.uint32)
    # exponents around float16's range and the special values
    near = rng.integers(0x33000000 - 5000, 0x47800000 + 5000, 200_000).astype(np.uint32)
    special = np.array(
        [0, 0x80000000, 0x7F800000, 0xFF800000, 0x7FC00000, 0x477FE000, 0x477FEFFF, 0x477FF000,
         0x38800000, 0x387FFFFF, 0x33000000, 0x33000001, 0x33800000, 0x337FFFFF],
        dtype=np.uint32,
    )
    x = np.concatenate([bits, near, near | 0x80000000, special]).view(np.float32)
    out = cast(x, "float16")
    with np.errstate(over="ignore"):
        expect = x.astype(np.float16)
    nan = np.isnan(expect)
    assert np.array_equal(np.isnan(out), nan)
    assert np.array_equal(out[~nan].view(np.uint16), expect[~nan].view(np.uint16))


def test_float16_to_float32_exact_on_every_pattern():
    h = np.arange(2**16, dtype=np.uint32).astype(np.uint16).view(np.float16)
    out = cast(h, "float32")
    expect = h.astype(np.float32)
    nan = np.isnan(expect)
    assert np.array_equal(np.isnan(out), nan)
    assert np.array_equal(out[~nan].view(np.uint32), expect[~nan].view(np.uint32))


def test_bfloat16_conversions_match_torch():
    rng = np.random.default_rng(1)
    x = np.concatenate(
        [rng.integers(0, 2**32, 300_000, dtype=np.uint64).astype(np.uint32).view(np.float32),
         np.array([np.inf, -np.inf, np.nan, 0.0, -0.0, 3.3895314e38, 3.4e38], np.float32)]
    )
    out = cast(x, "bfloat16")
    expect = torch.from_numpy(x).to(torch.bfloat16)
    nan = torch.isnan(expect)
    assert torch.equal(torch.isnan(out), nan)
    assert torch.equal(out[~nan].view(torch.int16), expect[~nan].view(torch.int16))
    bits = torch.arange(-(2**15), 2**15, dtype=torch.int32).to(torch.int16).view(torch.bfloat16)
    back = torch.from_numpy(cast(bits, "float32"))
    expect = bits.float()
    nan = torch.isnan(expect)
    assert torch.equal(torch.isnan(back), nan)
    assert torch.equal(back[~nan], expect[~nan])


@pytest.mark.parametrize("src", ALL_DTYPES)
@pytest.mark.parametrize("dst", ALL_DTYPES)
def test_cast_between_every_pair_matches_torch(src, dst):
    if src in ("float16", "bfloat16", "float32", "float64"):
        # in range of every destination: out-of-range float -> int is undefined in torch
        t = (torch.randn(40, generator=torch.Generator().manual_seed(2)) * 50).to(torch_dtype(src))
        t = t.clamp(-120, 120) if dst != "uint8" else t.abs().clamp(0, 250)
    else:
        t = sample((40,), src, seed=3)
    # a strided view, so the kernel walks a non-contiguous source
    t = torch.stack([t, t]).T[:, 0]
    out = cast(t, dst)
    assert same_bits(out, t.to(torch_dtype(dst)))


# --- hashing -------------------------------------------------------------------------------


LAYOUTS = {
    "contiguous": lambda b: b,
    "0d": lambda b: b[2, 3],
    "empty": lambda b: b[:0],
    "transposed": lambda b: b.T,
    "sliced": lambda b: b[1:8:2, 3:10],
    "reversed": lambda b: b.flip(0)[:, ::3],
    "broadcast": lambda b: b[4].expand(3, 5, 12),
}


@pytest.mark.parametrize("name", ALL_DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_tensor_hash_follows_rcs_rule(name, layout):
    t = LAYOUTS[layout](sample((10, 12), name))
    assert rc.Array(t).tensor_hash_base16() == rc_rule_hash(t)
    if name != "bfloat16":
        assert rc.Array(t.numpy()).tensor_hash_base16() == rc_rule_hash(t)


def test_tensor_hash_tells_dtypes_of_the_same_bytes_apart():
    x = torch.arange(8, dtype=torch.int16)
    hashes = {rc.Array(x.view(d)).tensor_hash_base16() for d in (torch.int16, torch.float16, torch.bfloat16)}
    assert len(hashes) == 3


# --- tensor store --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL_DTYPES)
def test_tensor_store_round_trips_each_dtype(tmp_path, name):
    store = rc.TensorStore(tmp_path)
    t = sample((3, 2), name)
    h = store.save(t)
    assert h == rc.Array(t).tensor_hash_base16()
    back = store.load(h[:12])
    assert isinstance(back, np.ndarray)
    # bfloat16 comes back as its marked 16 bits, which an Array reads as bfloat16
    assert same_bits(rc.Array(back).evaluate(), t)


def test_save_and_load_a_circuit_with_bfloat16(tmp_path):
    c = rc.Add(rc.Array(sample((3,), "bfloat16"), "a"), rc.Array(sample((3,), "bfloat16", 1), "b"))
    rc.save(c, tmp_path / "c")
    back = rc.load(tmp_path / "c")
    assert back == c
