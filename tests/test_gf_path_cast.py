"""GeneralFunctions by Python path (rc's new_by_path and the `<name> at <path>` text form),
casts (rc's new_cast and cast_from_..._to_... specs, every dtype), and the rotary position
embedding spec that rc's transformer files name by path."""

import math
import pickle
import sys
import textwrap
import uuid

import numpy as np
import pytest

import circuits as rc
from circuits.generalfuncs.rotary_pos_emb import ApplyRotaryPosEmb

torch = pytest.importorskip("torch")

ROTARY_PATH = "rust_circuit.generalfuncs.rotary_pos_emb:ApplyRotaryPosEmb"
DTYPES = [
    "float16",
    "bfloat16",
    "float32",
    "float64",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "bool",
]
GF_TYPE_UUID = uuid.UUID("3c655670-b352-4a5f-891c-0d7160609341").bytes
PY_WRAP_UUID = uuid.UUID("de3124ee-154c-4da8-bdb3-b7496ae6223c").bytes
NAME_DELIMITER = uuid.UUID("025e9af4-1366-4211-aa5f-7c28fc6cdf9f").bytes


def roundtrip(c):
    return rc.Parser()(c.repr())


def golden_gf(spec_hash, children, name):
    """rc's hash of a GeneralFunction node (docs/hashing.md)."""
    blake3 = pytest.importorskip("blake3")
    h = blake3.blake3()
    h.update(spec_hash)
    for child in children:
        h.update(child.hash)
    h.update(GF_TYPE_UUID)
    h.update(bytes([1]))
    h.update(name.encode())
    h.update(NAME_DELIMITER)
    h.update(bytes([1]))
    return h.digest()


# --- casts ---------------------------------------------------------------------------------


def source_tensor(dtype, to_dtype, seed=0):
    """Values every dtype holds (no overflow), non-negative when the target is unsigned."""
    g = torch.Generator().manual_seed(seed)
    values = (torch.randn(3, 5, generator=g, dtype=torch.float64) * 30).clamp(-100, 100)
    if to_dtype in ("uint8",) or dtype in ("uint8",):
        values = values.abs()
    if dtype == "bool":
        return values > 0
    return values.to(getattr(torch, dtype))


@pytest.mark.parametrize("src", DTYPES)
@pytest.mark.parametrize("dst", DTYPES)
def test_cast_every_pair_of_dtypes_as_torch(src, dst):
    t = source_tensor(src, dst)
    c = rc.GeneralFunction.new_cast(
        rc.Array(t, "x"), output=rc.TorchDeviceDtypeOp(dtype=dst), name="c"
    )
    assert c.dtype == dst
    assert c.device_dtype == rc.TorchDeviceDtypeOp("cpu", dst)
    out = c.evaluate()
    want = t.to(getattr(torch, dst))
    assert out.dtype == want.dtype
    assert torch.equal(out, want)


def test_float_to_int_truncates_toward_zero():
    x = rc.Array(torch.tensor([-2.7, -1.0, -0.5, 0.0, 0.5, 1.99, 2.7], dtype=torch.float32))
    for dst in ("int8", "int16", "int32", "int64"):
        out = rc.GeneralFunction.new_cast(x, output=rc.TorchDeviceDtypeOp(dtype=dst)).evaluate()
        assert out.tolist() == [-2, -1, 0, 0, 0, 1, 2]


def test_cast_spec_name_fields_and_open_output():
    x = rc.Array(torch.randn(2, 3), "x")
    c = rc.GeneralFunction.new_cast(
        x, rc.TorchDeviceDtypeOp("cpu", torch.float32), rc.TorchDeviceDtypeOp(None, "int64")
    )
    assert c.spec.name == "cast_from_{device:cpu,dtype:float32}_to_{device:None,dtype:int64}"
    assert c.spec.input_required_compatibility == rc.TorchDeviceDtypeOp("cpu", "float32")
    assert c.spec.output == rc.TorchDeviceDtypeOp(None, "int64")
    assert c.name == "cast_from_{device:cpu,dtype:float32}_to_{device:None,dtype:int64}(x)"
    assert c.shape == x.shape
    keep = rc.GeneralFunction.new_cast(x)
    assert keep.spec.name == "cast_from_{device:None,dtype:None}_to_{device:None,dtype:None}"
    assert keep.dtype == "float32"
    assert torch.equal(keep.evaluate(), x.value)


def test_cast_of_a_circuit_without_tensors():
    s = rc.Symbol.new_with_random_uuid((3,), "s")
    c = rc.GeneralFunction.new_cast(
        s, rc.TorchDeviceDtypeOp(dtype="int16"), rc.TorchDeviceDtypeOp("cpu", "int64")
    )
    assert c.dtype == "int64"
    assert c.device == "cpu"
    assert rc.GeneralFunction.new_cast(s).dtype is None
    assert rc.GeneralFunction.new_cast(s).device is None


def test_rc_test_cast():
    arr = rc.Array.randn(1, 2, device_dtype=rc.TorchDeviceDtypeOp("cpu", "float16"))
    casty = rc.GeneralFunction.new_cast(
        arr,
        rc.TorchDeviceDtypeOp("cpu", torch.float16),
        rc.TorchDeviceDtypeOp("cpu", torch.float64),
    )
    assert casty.device_dtype == rc.TorchDeviceDtypeOp("cpu", "float64")
    assert casty.evaluate().dtype == torch.float64
    assert torch.equal(casty.evaluate(), arr.value.to(torch.float64))
    with pytest.raises(
        rc.MiscInputCastIncompatibleDeviceDtypeError,
        match=r"required compatibility \{device:cpu,dtype:int16\}  actual \{device:cpu,dtype:float16\}",
    ):
        rc.GeneralFunction.new_cast(
            arr,
            rc.TorchDeviceDtypeOp("cpu", "int16"),
            rc.TorchDeviceDtypeOp("cpu", "float64"),
            name="casty2",
        )


def test_incompatible_cast_message_names_the_node():
    x = rc.Array(torch.zeros(2, dtype=torch.int32), "x")
    with pytest.raises(rc.MiscInputCastIncompatibleDeviceDtypeError, match="GeneralFunction 'bad'"):
        rc.GeneralFunction.new_cast(x, rc.TorchDeviceDtypeOp(dtype="int64"), name="bad")


def test_enforce_dtype_device():
    x = rc.Array(torch.randn(4), "x")
    dd = rc.TorchDeviceDtypeOp("cpu", "float32")
    e = x.enforce_dtype_device(dd, name="e")
    assert e == rc.GeneralFunction.new_cast(x, dd, dd, name="e")
    assert e.dtype == "float32"
    with pytest.raises(rc.MiscInputCastIncompatibleDeviceDtypeError):
        x.enforce_dtype_device(rc.TorchDeviceDtypeOp(dtype="float64"))
    s = rc.Symbol.new_with_random_uuid((4,), "s")
    assert s.enforce_dtype_device(rc.TorchDeviceDtypeOp(dtype="float64")).dtype == "float64"


@pytest.mark.parametrize("dst", DTYPES)
def test_cast_roundtrips_through_text_and_by_name(dst):
    x = rc.Array(torch.randn(2, 3).to(torch.float64), "x")
    c = rc.GeneralFunction.new_cast(
        x, rc.TorchDeviceDtypeOp("cpu", "float64"), rc.TorchDeviceDtypeOp(dtype=dst), name="c"
    )
    back = roundtrip(c)
    assert back == c
    assert back.dtype == dst
    assert rc.GeneralFunction.new_by_name(x, spec_name=c.spec.name, name="c") == c
    assert pickle.loads(pickle.dumps(c)) == c


def test_cast_spec_hash_is_rcs():
    x = rc.Array(torch.arange(3, dtype=torch.int16), "x")
    c = rc.GeneralFunction.new_cast(x, output=rc.TorchDeviceDtypeOp(dtype="int64"), name="c")
    blake3 = pytest.importorskip("blake3")
    # rc's TorchDeviceDtypeOp::hash of the required (all open) then the output (dtype int64,
    # index 7 in rc's TorchDtype order)
    spec_hash = blake3.blake3(bytes([0, 0, 0, 0]) + bytes([0, 0, 1, 7])).digest()
    assert c.hash == golden_gf(spec_hash, [x], "c")
    d = rc.GeneralFunction.new_cast(x, rc.TorchDeviceDtypeOp("cpu", "int16"), name="c")
    spec_hash = blake3.blake3(bytes([1, 0, 1, 5]) + bytes([0, 0, 0, 0])).digest()
    assert d.hash == golden_gf(spec_hash, [x], "c")


def test_rc_token_upcast_module_text():
    text = textwrap.dedent("""\
        'upcast_toks' GeneralFunction cast_from_{device:None,dtype:None}_to_{device:None,dtype:int64}
          'upcast_toks.sub' Add
            'upcast_toks.int16_toks' [] Symbol
            'upcast_toks.signed_int16_min' [] Scalar 32768 # int16 min, torch doesn't support uint16 :(
        """)
    c = rc.Parser()(text)
    assert c.name == "upcast_toks"
    assert c.dtype == "int64"
    assert c.spec.output == rc.TorchDeviceDtypeOp(dtype="int64")
    assert roundtrip(c) == c


@pytest.mark.parametrize(
    "spec_name, match",
    [
        ("cast_from_{device:gpu,dtype:None}_to_{device:None,dtype:None}", "device 'gpu'"),
        ("cast_from_{device:None,dtype:float99}_to_{device:None,dtype:None}", "dtype 'float99'"),
        ("cast_from_{device:None,dtype:None}_to_{device:cuda:16,dtype:None}", "device 'cuda:16'"),
        ("cast_from_{device:None,dtype:None}", "unknown general function"),
        (
            "cast_from_{device:None,dtype:None}_to_{device:None,dtype:None}x",
            "unknown general function",
        ),
    ],
)
def test_bad_cast_names(spec_name, match):
    x = rc.Array(torch.randn(2), "x")
    with pytest.raises(rc.ConstructUnknownGeneralFunctionError, match=match):
        rc.GeneralFunction.new_by_name(x, spec_name=spec_name)
    assert rc.GeneralFunction.new_by_name_op(x, spec_name=spec_name) is None


def test_cast_to_cuda_is_not_available():
    x = rc.Array(torch.randn(2), "x")
    with pytest.raises(
        NotImplementedError, match=r"output device cuda:0 is not available.*host memory"
    ):
        rc.GeneralFunction.new_cast(x, output=rc.TorchDeviceDtypeOp("cuda:0", "float64"))
    with pytest.raises(NotImplementedError, match="input_required_compatibility device cuda:3"):
        rc.GeneralFunction.new_by_name(
            x, spec_name="cast_from_{device:cuda:3,dtype:None}_to_{device:None,dtype:None}"
        )


def test_new_cast_argument_errors():
    x = rc.Array(torch.randn(2), "x")
    with pytest.raises(ValueError, match="invalid dtype 'float99'"):
        rc.GeneralFunction.new_cast(x, output=rc.TorchDeviceDtypeOp(dtype="float99"))
    with pytest.raises(TypeError, match="output must be a TorchDeviceDtypeOp, not str"):
        rc.GeneralFunction.new_cast(x, output="float64")
    with pytest.raises(rc.GeneralFunctionShapeWrongNumShapesError, match="got=2 expected=1"):
        rc.GeneralFunction.new_by_name(
            x, x, spec_name="cast_from_{device:None,dtype:None}_to_{device:None,dtype:None}"
        )


def test_cast_batches_over_leading_axes():
    s = rc.Symbol.new_with_random_uuid((3,), "s")
    c = rc.GeneralFunction.new_cast(s, output=rc.TorchDeviceDtypeOp(dtype="int64"), name="c")
    spec = rc.ModuleSpec(c, [rc.ModuleArgSpec(s)])
    t = torch.randn(4, 3) * 10
    m = rc.Module(spec, name="m", s=rc.Array(t, "t"))
    assert m.shape == (4, 3)
    assert torch.equal(m.evaluate(), t.to(torch.int64))


# --- specs by path -------------------------------------------------------------------------


def rotary_reference(x: "torch.Tensor") -> "torch.Tensor":
    """Rotary embeddings as complex rotations: entries 2i, 2i+1 of the flattened last two axes
    are one complex number, turned by pos * 10000 ** (-2i / rotary_dim); angles in float32."""
    *lead, seq, two, half = x.shape
    dim = 2 * half
    theta = 10000.0 ** (-(torch.arange(half, dtype=torch.float32) * 2) / dim)
    angle = torch.arange(seq, dtype=torch.float32)[:, None] * theta[None, :]
    rot = torch.polar(torch.ones_like(angle), angle).to(torch.complex128)
    pairs = x.reshape(*lead, seq, half, 2).to(torch.float64)
    z = torch.view_as_complex(pairs.contiguous()) * rot
    return torch.view_as_real(z).reshape(x.shape)


def table_rotary(x4: "torch.Tensor") -> "torch.Tensor":
    """GPT-J's rotary for [batch, seq, 2, half] inputs in its usual table form: x * cos + x' * sin
    with float32 sin and cos tables repeated per pair and x' each pair (a, b) turned to (-b, a)."""
    batch, seq, _, half = x4.shape
    dim = 2 * half
    inv = 1.0 / (10000 ** (torch.arange(0, dim, 2) / dim))
    freqs = torch.arange(seq, dtype=torch.float)[:, None] * inv[None, :]
    sin = freqs.sin().repeat_interleave(2, dim=-1)[None, :, None, :]
    cos = freqs.cos().repeat_interleave(2, dim=-1)[None, :, None, :]
    flat = x4.reshape(batch, seq, 1, dim)
    swapped = torch.stack((-flat[..., 1::2], flat[..., 0::2]), dim=-1).flatten(-2)
    return (flat * cos + swapped * sin).reshape(x4.shape)


@pytest.mark.parametrize("shape", [(5, 2, 4), (3, 7, 2, 8), (2, 3, 6, 2, 1), (1, 2, 3)])
def test_rotary_matches_a_complex_rotation(shape):
    t = torch.randn(*shape, generator=torch.Generator().manual_seed(1))
    g = rc.GeneralFunction.new_by_path(rc.Array(t, "x"), path=ROTARY_PATH, name="qk_rot")
    out = g.evaluate()
    assert out.dtype == torch.float32 and out.shape == t.shape
    torch.testing.assert_close(out.to(torch.float64), rotary_reference(t), rtol=1e-5, atol=1e-5)


def test_rotary_matches_rcs_computation_for_batched_input():
    t = torch.randn(2, 9, 2, 16, generator=torch.Generator().manual_seed(2))
    out = ApplyRotaryPosEmb.new(rc.Array(t)).evaluate()
    torch.testing.assert_close(out, table_rotary(t), rtol=0, atol=1e-6)


@pytest.mark.parametrize("dtype", ["float64", "float16", "bfloat16"])
def test_rotary_keeps_the_input_dtype(dtype):
    t = torch.randn(6, 2, 4, generator=torch.Generator().manual_seed(3)).to(getattr(torch, dtype))
    out = ApplyRotaryPosEmb.new(rc.Array(t)).evaluate()
    assert out.dtype == t.dtype
    want = rotary_reference(t.to(torch.float64))
    tol = 1e-6 if dtype == "float64" else 3e-2
    torch.testing.assert_close(out.to(torch.float64), want, rtol=tol, atol=tol)


def test_rotary_with_numpy_values():
    t = torch.randn(4, 2, 3, generator=torch.Generator().manual_seed(4))
    previous = rc.get_result_type()
    rc.set_result_type("numpy")
    try:
        out = ApplyRotaryPosEmb.new(rc.Array(t.numpy())).evaluate()
    finally:
        rc.set_result_type(previous)
    assert isinstance(out, np.ndarray) and out.dtype == np.float32
    np.testing.assert_allclose(out, rotary_reference(t).numpy(), rtol=1e-5, atol=1e-5)


def test_rotary_position_zero_is_the_identity():
    t = torch.randn(1, 2, 5)
    assert torch.equal(ApplyRotaryPosEmb.new(rc.Array(t)).evaluate(), t)


def test_rotary_shape_errors():
    with pytest.raises(ValueError, match="at least 3 dimensions, but got 2"):
        ApplyRotaryPosEmb.new(rc.Array(torch.randn(2, 4)))
    with pytest.raises(ValueError, match="second to last dimension of x must be 2, but got 3"):
        ApplyRotaryPosEmb.new(rc.Array(torch.randn(5, 3, 4)))
    with pytest.raises(TypeError, match="must be floating point, got torch.int64"):
        ApplyRotaryPosEmb().function(torch.zeros(3, 2, 2, dtype=torch.int64))


def test_new_by_path_maps_rust_circuit_to_circuits():
    x = rc.Array(torch.randn(5, 2, 4), "x")
    by_path = rc.GeneralFunction.new_by_path(x, path=ROTARY_PATH, name="qk_rot")
    own = rc.GeneralFunction.new_by_path(
        x, path="circuits.generalfuncs.rotary_pos_emb:ApplyRotaryPosEmb", name="qk_rot"
    )
    assert by_path == own == ApplyRotaryPosEmb.new(x, name="qk_rot")
    assert isinstance(by_path.spec, ApplyRotaryPosEmb)
    assert by_path.spec.name == "apply_rotary_pos_emb"


def test_rotary_spec_hash_is_rcs():
    x = rc.Array(torch.randn(5, 2, 4), "x")
    g = ApplyRotaryPosEmb.new(x, name="qk_rot")
    blake3 = pytest.importorskip("blake3")
    spec_hash = blake3.blake3(
        PY_WRAP_UUID + uuid.UUID("a00070be-b82b-495f-953f-633d0ab6829b").bytes
    ).digest()
    assert g.hash == golden_gf(spec_hash, [x], "qk_rot")


def test_path_spec_prints_name_at_path_and_parses_back():
    x = rc.Array(torch.randn(5, 2, 4), "x")
    g = ApplyRotaryPosEmb.new(x, name="qk_rot")
    assert (
        g.repr().splitlines()[0]
        == f"'qk_rot' GeneralFunction apply_rotary_pos_emb at {ROTARY_PATH}"
    )
    back = roundtrip(g)
    assert back == g and back.name == "qk_rot"
    assert torch.equal(back.evaluate(), g.evaluate())
    assert pickle.loads(pickle.dumps(g)) == g
    # the non-bijective print shows the name only
    assert "apply_rotary_pos_emb at" not in g.repr(rc.PrintOptions(bijection=False))


def test_rc_module_library_rotary_text_loads_and_batches():
    text = textwrap.dedent(f"""\
        'qk_with_rot' [7, 16] SetSymbolicShape
          'qk_with_rot.re' [7, 2*2*4] Rearrange q s:2 e:2 rh -> q (s:2 e:2 rh)
            'qk_with_rot.cat' [7, 2, 2, 4] Concat 1
              'qk_with_rot.q_rot' Rearrange q e rh -> q 1 e rh
                'qk_rot' [7, 2, 4] GeneralFunction apply_rotary_pos_emb at {ROTARY_PATH}
                  'qk_rot.inp' Index [:, 0]
                    'qk_split' [7, 2, 2, 4] Rearrange q (s:2 e:2 rh) -> q s:2 e:2 rh
                      'qk_split.set' [7, 2*2*4] SetSymbolicShape
                        # q or k
                        'qk' [7, 16] Symbol 442c7d04-1948-4904-b96a-5c0acf22f19c
              'qk_with_rot.q_pass' Index [:, 1:]
                'qk_split'
        """)
    body = rc.Parser()(text)
    rot = body.get_unique("qk_rot")
    assert isinstance(rot.spec, ApplyRotaryPosEmb) and rot.shape == (7, 2, 4)
    q = torch.randn(3, 7, 16, generator=torch.Generator().manual_seed(5))
    m = rc.Module(
        rc.ModuleSpec(body, [rc.ModuleArgSpec(body.get_unique("qk"))]),
        name="m",
        qk=rc.Array(q, "q"),
    )
    out = m.evaluate()
    split = q.reshape(3, 7, 2, 2, 4)
    want = torch.cat(
        [rotary_reference(split[:, :, 0]).to(torch.float32)[:, :, None], split[:, :, 1:]], dim=2
    )
    torch.testing.assert_close(out, want.reshape(3, 7, 16), rtol=1e-5, atol=1e-5)


SPEC_MODULE = """
import torch
import circuits as rc


class Twice(rc.GeneralFunctionSpecBase):
    path = {path!r}

    @property
    def name(self):
        return "twice"

    def compute_hash_bytes(self):
        return b"twice"

    def function(self, x):
        return x * 2

    def get_shape_info(self, shape):
        return rc.GeneralFunctionShapeInfo(shape, 0, [True])


class NoPath(Twice):
    path = None

    def compute_hash_bytes(self):
        return b"no path"


def make_twice():
    return Twice()


def not_a_spec():
    return 3


def broken():
    raise ZeroDivisionError("broken spec factory")


INSTANCE = Twice()
"""


@pytest.fixture
def spec_module(tmp_path, monkeypatch):
    name = f"gf_specs_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(SPEC_MODULE.format(path=f"{name}:Twice"))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


def test_user_spec_by_path_roundtrips(spec_module):
    x = rc.Array(torch.randn(3), "x")
    g = rc.GeneralFunction.new_by_path(x, path=f"{spec_module}:Twice", name="g")
    assert g.repr().splitlines()[0] == f"'g' GeneralFunction twice at {spec_module}:Twice"
    assert roundtrip(g) == g
    assert torch.equal(g.evaluate(), x.value * 2)
    # any callable returning a spec will do; the spec's own path is what gets printed
    h = rc.GeneralFunction.new_by_path(x, path=f"{spec_module}:make_twice", name="g")
    assert h == g and h.repr() == g.repr()


def test_path_given_to_new_by_path_is_kept_when_the_spec_has_none(spec_module):
    x = rc.Array(torch.randn(3), "x")
    g = rc.GeneralFunction.new_by_path(x, path=f"{spec_module}:NoPath", name="g")
    assert f"twice at {spec_module}:NoPath" in g.repr()
    assert roundtrip(g) == g
    direct = rc.GeneralFunction(x, spec=sys.modules[spec_module].NoPath(), name="g")
    assert direct == g
    assert "[NOT_SERIALIZABLE]" in direct.repr()


def test_spec_by_file_path_relative_to_rrfs(tmp_path, monkeypatch):
    folder = tmp_path / "test"
    folder.mkdir()
    (folder / "general_function.py").write_text(
        SPEC_MODULE.format(path="/test/general_function.py:Twice")
    )
    monkeypatch.setenv("RR_RRFS_DIR", str(tmp_path))
    x = rc.Array(torch.randn(3), "x")
    g = rc.GeneralFunction.new_by_path(x, path="/test/general_function.py:Twice", name="g")
    assert "twice at /test/general_function.py:Twice" in g.repr()
    assert roundtrip(g) == g
    assert torch.equal(g.evaluate(), x.value * 2)
    with pytest.raises(FileNotFoundError, match="'/test/missing.py:Twice': no file .*missing.py"):
        rc.GeneralFunction.new_by_path(x, path="/test/missing.py:Twice")


def test_path_errors(spec_module):
    x = rc.Array(torch.randn(3), "x")
    with pytest.raises(
        ModuleNotFoundError,
        match=r"path 'no_such_module_xyz:Spec': no module named 'no_such_module_xyz'",
    ):
        rc.GeneralFunction.new_by_path(x, path="no_such_module_xyz:Spec")
    with pytest.raises(
        ModuleNotFoundError,
        match=r"no module named 'circuits.nothing_here' \(paths under rust_circuit",
    ):
        rc.GeneralFunction.new_by_path(x, path="rust_circuit.nothing_here:Spec")
    with pytest.raises(
        AttributeError,
        match=f"path '{spec_module}:Missing': module '{spec_module}' has no attribute 'Missing'",
    ):
        rc.GeneralFunction.new_by_path(x, path=f"{spec_module}:Missing")
    with pytest.raises(
        rc.ConstructGeneralFunctionPyNotInstanceError, match="INSTANCE is a Twice, not a callable"
    ):
        rc.GeneralFunction.new_by_path(x, path=f"{spec_module}:INSTANCE")
    with pytest.raises(
        rc.ConstructGeneralFunctionPyNotInstanceError,
        match=r"not_a_spec\(\) gave a int, not an instance of GeneralFunctionSpecBase",
    ):
        rc.GeneralFunction.new_by_path(x, path=f"{spec_module}:not_a_spec")
    with pytest.raises(ZeroDivisionError, match="broken spec factory") as info:
        rc.GeneralFunction.new_by_path(x, path=f"{spec_module}:broken")
    assert any(f"{spec_module}:broken" in note for note in info.value.__notes__)
    for bad in ["no_colon", ":Spec", "module:", ""]:
        with pytest.raises(RuntimeError, match="function locator must have the form"):
            rc.GeneralFunction.new_by_path(x, path=bad)
    with pytest.raises(TypeError, match="needs path="):
        rc.GeneralFunction.new_by_path(x)


def test_parse_errors_for_paths(spec_module):
    text = f"'g' GeneralFunction twice at {spec_module}:Missing\n  'x' [3] Symbol\n"
    with pytest.raises(AttributeError, match="has no attribute 'Missing'") as info:
        rc.Parser()(text)
    assert any("line 1" in note for note in info.value.__notes__)
    with pytest.raises(ModuleNotFoundError) as info:
        rc.Parser()("'g' GeneralFunction twice at no_such_module_xyz:Twice\n  'x' [3] Symbol\n")
    assert any("no_such_module_xyz:Twice" in note for note in info.value.__notes__)


@pytest.mark.parametrize(
    "path", ["no_colon", "mod:Spec # comment", "mod:A!b", " mod:Spec", "mod:Spec\n"]
)
def test_spec_paths_must_be_locators(path):
    class Bad(rc.GeneralFunctionSpecBase):
        name = "bad"

        def function(self, x):
            return x

        def get_shape_info(self, shape):
            return rc.GeneralFunctionShapeInfo(shape, 0, [True])

    Bad.path = path
    with pytest.raises(RuntimeError, match="is not a function locator"):
        rc.GeneralFunction(rc.Array(torch.randn(2)), spec=Bad())
    Bad.path = 3
    with pytest.raises(TypeError, match="path must be a str or None, not int"):
        rc.GeneralFunction(rc.Array(torch.randn(2)), spec=Bad())


def test_rotary_turns_the_first_pair_by_the_position():
    t = torch.zeros(3, 2, 2)
    t[..., 0, 1] = 1.0  # pair (0, 1) of the flattened [2, 2]: entry 1 is the pair's y
    out = ApplyRotaryPosEmb.new(rc.Array(t)).evaluate()
    for pos in range(3):
        assert out[pos, 0, 0].item() == pytest.approx(-math.sin(pos), abs=1e-6)
        assert out[pos, 0, 1].item() == pytest.approx(math.cos(pos), abs=1e-6)


def test_specs_loaded_by_path_are_released_with_their_nodes():
    import gc
    import weakref

    x = rc.Array(torch.randn(5, 2, 4), "x")
    text = ApplyRotaryPosEmb.new(x, name="qk_rot").repr()
    node = rc.Parser()(text)
    ref = weakref.ref(node.spec)
    assert roundtrip(node) == node
    del node
    gc.collect()
    assert ref() is None
    spec = ApplyRotaryPosEmb()
    before = sys.getrefcount(spec)
    for _ in range(20):
        g = rc.GeneralFunction(x, spec=spec, name="g")
        g.evaluate()
        g.repr()
    del g
    gc.collect()
    assert sys.getrefcount(spec) == before
