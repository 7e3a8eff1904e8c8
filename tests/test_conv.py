"""The Conv kind (rc's Conv, spec 2.15): channels-last N-d convolution with a stride and a
(before, after) zero padding per axis. Values against torch.nn.functional.conv1d/2d/3d on random
data (hypothesis over sizes, strides and paddings), rc's padding shorthands, every construction
error (class and message), rc's hash layout, the autoname, and printing (rc cannot parse it)."""

import struct
import uuid

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import circuits as rc

torch = pytest.importorskip("torch")

NAME_DELIMITER = uuid.UUID("025e9af4-1366-4211-aa5f-7c28fc6cdf9f").bytes
CONV_UUID = uuid.UUID("a329465f-a18f-4313-a2a6-51d8ebad7dd6").bytes
TORCH_CONV = {
    1: torch.nn.functional.conv1d,
    2: torch.nn.functional.conv2d,
    3: torch.nn.functional.conv3d,
}


def torch_reference(x, w, stride, padding):
    """Channels-last conv through torch: pad (before, after) explicitly, move channels first."""
    d = len(stride)
    batch = x.shape[: x.ndim - d - 1]
    xf = x.reshape((-1,) + x.shape[x.ndim - d - 1 :])
    pad = []
    for before, after in reversed(padding):
        pad += [before, after]
    xc = torch.movedim(xf, -1, 1)
    xc = torch.nn.functional.pad(xc, pad)
    wc = torch.movedim(w, -1, 1)
    out = torch.movedim(TORCH_CONV[d](xc, wc, None, stride), 1, -1)
    return out.reshape(batch + out.shape[1:])


@st.composite
def conv_cases(draw):
    d = draw(st.integers(1, 3))
    batch = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    c_in, c_out = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride, padding, sizes, kernel = [], [], [], []
    for _ in range(d):
        k = draw(st.integers(1, 3))
        s = draw(st.integers(1, 3))
        before, after = draw(st.integers(0, 2)), draw(st.integers(0, 2))
        out = draw(st.integers(1, 3))
        # the padded length less the kernel's reach must be a multiple of the stride
        size = out * s + k - 1 - before - after
        if size < 1:
            size += s * (1 - size // s + 1)
        stride.append(s)
        padding.append((before, after))
        sizes.append(size)
        kernel.append(k)
    return batch + tuple(sizes) + (c_in,), (c_out,) + tuple(kernel) + (c_in,), stride, padding


@settings(max_examples=40, deadline=None)
@given(conv_cases(), st.integers(0, 2**31 - 1))
def test_values_match_torch(case, seed):
    x_shape, w_shape, stride, padding = case
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(x_shape, dtype=torch.float64, generator=g)
    w = torch.randn(w_shape, dtype=torch.float64, generator=g)
    node = rc.Conv(rc.Array(x), rc.Array(w), stride, padding)
    want = torch_reference(x, w, stride, padding)
    assert node.shape == tuple(want.shape)
    got = torch.as_tensor(np.asarray(node.evaluate()))
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)


def test_rc_conv_2d_cases():
    for x_shape, w_shape, stride, padding in [
        ((2, 3, 5, 7), (11, 2, 2, 7), [1, 1], [(1, 1), (1, 1)]),
        ((2, 3, 5, 7), (11, 2, 2, 7), [2, 1], [(0, 0), (0, 0)]),
        ((4, 12, 10, 5), (6, 5, 4, 5), [2, 1], [(0, 0), (0, 0)]),
    ]:
        x = torch.randn(x_shape)
        w = torch.randn(w_shape)
        out = rc.Conv(rc.Array(x), rc.Array(w), stride, padding).evaluate()
        got = torch.as_tensor(np.asarray(out))
        assert got.dtype == torch.float32
        torch.testing.assert_close(
            got, torch_reference(x, w, stride, padding), rtol=1e-4, atol=1e-4
        )


def test_asymmetric_padding_1d():
    x = torch.randn(2, 10, 1, dtype=torch.float64)
    w = torch.tensor([[[1.0], [1.0], [1.0]]], dtype=torch.float64)
    node = rc.Conv(rc.Array(x), rc.Array(w), stride=[1], padding=[(0, 1)])
    assert node.shape == (2, 9, 1)
    padded = torch.nn.functional.pad(x[..., 0], (0, 1))
    want = padded[:, :-2] + padded[:, 1:-1] + padded[:, 2:]
    torch.testing.assert_close(torch.as_tensor(np.asarray(node.evaluate()))[..., 0], want)


def test_no_batch_axes_and_float32_dtype():
    x = np.random.default_rng(0).standard_normal((6, 2)).astype(np.float32)
    w = np.random.default_rng(1).standard_normal((3, 3, 2)).astype(np.float32)
    out = np.asarray(rc.Conv(rc.Array(x), rc.Array(w), [1]).evaluate())
    assert out.shape == (4, 3) and out.dtype == np.float32
    want = torch_reference(torch.as_tensor(x), torch.as_tensor(w), [1], [(0, 0)])
    np.testing.assert_allclose(out, want.numpy(), rtol=1e-5, atol=1e-5)


def test_integer_inputs_are_not_implemented_as_in_torch():
    x = rc.Array(np.ones((4, 1), dtype=np.int64))
    w = rc.Array(np.ones((1, 1, 1), dtype=np.int64))
    with pytest.raises(NotImplementedError, match="not implemented for 'Long'"):
        rc.Conv(x, w, [1]).evaluate()


# --- padding shorthands, getters, names ---------------------------------------------------


def test_padding_shorthands():
    x = rc.Array(np.ones((1, 6, 6, 2)))
    w = rc.Array(np.ones((3, 3, 3, 2)))
    assert rc.Conv(x, w, [1, 1], 1).padding == [(1, 1), (1, 1)]
    assert rc.Conv(x, w, [1, 1], [1, 2]).padding == [(1, 1), (2, 2)]
    assert rc.Conv(x, w, [1, 1], [(0, 1), (2, 1)]).padding == [(0, 1), (2, 1)]
    assert rc.Conv(x, w, [1, 1]).padding == [(0, 0), (0, 0)]
    assert rc.Conv(x, w, [1, 1], [(0, 1), (2, 1)]) != rc.Conv(x, w, [1, 1], [(1, 0), (2, 1)])


def test_getters_and_autoname():
    x = rc.Array(np.ones((5, 6, 6, 2)), name="x")
    w = rc.Array(np.ones((3, 3, 3, 2)), name="w")
    node = rc.Conv(x, w, [1, 1])
    assert node.name == "Conv(x, w)"
    assert node.input == x and node.filter == w
    assert node.stride == [1, 1] and node.strides == [1, 1]
    assert node.dims() == 2 and node.input_batch_shape() == (5,)
    assert node.shape == (5, 4, 4, 3)
    assert node.is_conv() and rc.Conv(x, w, [1, 1], name="c").name == "c"
    unnamed = rc.Conv(rc.Array(np.ones((6, 2))), rc.Array(np.ones((3, 3, 2))), [1])
    assert unnamed.name == rc.Add(rc.Array(np.ones(2))).name


# --- construction errors ------------------------------------------------------------------


def test_construction_errors():
    x = rc.Array(np.ones((2, 6, 3)))
    w = rc.Array(np.ones((4, 3, 3)))
    with pytest.raises(
        rc.ConstructConvStridePaddingNotFullError, match="got stride len 1 padding len 2"
    ):
        rc.Conv(x, w, [1], [1, 1])
    with pytest.raises(rc.ConstructNotSupportedYetError, match="more than 3 dims"):
        rc.Conv(rc.Array(np.ones((2,) * 6)), rc.Array(np.ones((1,) * 6)), [1] * 4)
    with pytest.raises(rc.ConstructConvInputWrongShapeError, match="input wrong shape"):
        rc.Conv(rc.Array(np.ones(3)), w, [1])
    with pytest.raises(rc.ConstructConvFilterWrongShapeError, match="filter wrong shape"):
        rc.Conv(x, rc.Array(np.ones((3, 3))), [1])
    with pytest.raises(rc.ConstructNotSupportedYetError, match="Batch dims on filter"):
        rc.Conv(x, rc.Array(np.ones((2, 4, 3, 3))), [1])
    with pytest.raises(
        rc.ConstructConvInputFilterDifferentNumInputChannelsError, match="got 3 and 2"
    ):
        rc.Conv(x, rc.Array(np.ones((4, 3, 2))), [1])
    with pytest.raises(rc.ConstructConvStrideMustDivideError, match="not a multiple of stride 3"):
        rc.Conv(x, w, [3])
    with pytest.raises(rc.ConstructConvInputWrongShapeError, match="longer than its padded input"):
        rc.Conv(rc.Array(np.ones((2, 1, 3))), w, [1])
    assert rc.Conv(rc.Array(np.ones((2, 2, 3))), w, [1]).shape == (2, 0, 4)
    with pytest.raises(ValueError, match="strides must be positive"):
        rc.Conv(x, w, [0])
    with pytest.raises(OverflowError, match="non-negative"):
        rc.Conv(x, w, [1], -1)
    with pytest.raises(TypeError, match="padding must be"):
        rc.Conv(x, w, [1], ["a"])
    with pytest.raises(TypeError, match="stride must be an int"):
        rc.Conv(x, w, [1.5])
    assert issubclass(rc.ConstructConvStrideMustDivideError, rc.ConstructError)


# --- hash, print, parse -------------------------------------------------------------------


def test_golden_hash():
    blake3 = pytest.importorskip("blake3")
    x = rc.Array(np.ones((2, 7, 3)), name="x")
    w = rc.Array(np.ones((4, 3, 3)), name="w")
    node = rc.Conv(x, w, [2], [(1, 0)], name="c")
    h = blake3.blake3()
    h.update(struct.pack("<QQQ", 2, 1, 0))
    h.update(x.hash + w.hash)
    h.update(CONV_UUID)
    h.update(b"\x01c")
    h.update(NAME_DELIMITER)
    h.update(b"\x01")
    assert node.hash == h.digest()


def test_printed_without_payload_and_not_parseable():
    x = rc.Array(np.ones((2, 7, 3)), name="x")
    w = rc.Array(np.ones((4, 3, 3)), name="w")
    node = rc.Conv(x, w, [1], name="c")
    assert node.repr().splitlines()[0] == "'c' Conv"
    text = rc.PrintOptions(bijection=True).repr(node)
    by_prefix = {rc.hash_tensor(c.value).hex(): c.value for c in (x, w)}

    def loader(prefix):
        (found,) = [v for h, v in by_prefix.items() if h.startswith(prefix)]
        return found

    with pytest.raises(rc.ParseCircuitError, match="Conv can't be parsed"):
        rc.Parser(tensor_loader=loader)(text)


def test_map_children_and_matchers():
    x = rc.Array(np.ones((2, 7, 3)), name="x")
    w = rc.Array(np.ones((4, 3, 3)), name="w")
    node = rc.Conv(x, w, [2], [(1, 0)], name="c")
    y = rc.Array(np.full((2, 7, 3), 2.0), name="y")
    out = node.update("x", lambda _: y)
    assert out.is_conv() and out.padding == node.padding and out.stride == node.stride
    np.testing.assert_allclose(np.asarray(out.evaluate()), 2 * np.asarray(node.evaluate()))
    assert node.get(rc.Matcher.types(rc.Conv)) == {node}


def test_expand_over_new_batch_axes_is_unhandled_as_in_rc():
    x = rc.Array(np.ones((2, 7, 3)), name="x")
    w = rc.Array(np.ones((4, 3, 3)), name="w")
    node = rc.Conv(x, w, [1], name="c")
    with pytest.raises(rc.ExpandNodeUnhandledVariantError):
        rc.Expander((x, lambda _: rc.Array(np.ones((5, 2, 7, 3)))))(node)


def test_child_comments_are_rcs():
    x = rc.Array(np.ones((2, 7, 3)), name="x")
    w = rc.Array(np.ones((4, 3, 3)), name="w")
    text = rc.PrintOptions(bijection=False, comment_arg_names=True).repr(rc.Conv(x, w, [1]))
    assert text.splitlines()[1:] == ["  x [2,7,3] Array # Input", "  w [4,3,3] Array # Filter"]
