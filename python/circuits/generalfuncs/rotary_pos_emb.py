"""Rotary position embeddings (GPT-J / GPT-NeoX style, as rc's module library applies them to
queries and keys), as a GeneralFunction spec.

The input is [..., seq, 2, half_rotary_dim]: the last two axes, flattened, are the rotary part
of one query or key vector (rotary_dim = 2 * half_rotary_dim entries), and seq is the position.
Entries 2i and 2i+1 of that vector form a pair rotated by the angle pos * theta_i, with
theta_i = 10000 ** (-2i / rotary_dim):

    out[2i]   = x[2i] * cos(pos * theta_i) - x[2i+1] * sin(pos * theta_i)
    out[2i+1] = x[2i+1] * cos(pos * theta_i) + x[2i] * sin(pos * theta_i)

The angles and their sines and cosines are computed in float32, as rc does; the rotation is
computed in float32 or, for a float64 input, float64, and the result has the input's dtype.
Any number of leading batch axes is accepted. Values are torch tensors or numpy arrays, as
circuits gives them to the spec.
"""

import uuid
from typing import Optional

import numpy as np

from .. import _circuits
from .._methods import GeneralFunctionShapeInfo, GeneralFunctionSpecBase

NAME = "apply_rotary_pos_emb"
# The path rc files use; circuits maps rust_circuit. to its own package, and rc reads it too.
PATH = "rust_circuit.generalfuncs.rotary_pos_emb:ApplyRotaryPosEmb"
# rc's identity bytes for this spec, so that circuit hashes agree with rc's.
HASH_UUID = uuid.UUID("a00070be-b82b-495f-953f-633d0ab6829b")
BASE = 10000.0


def _is_torch(x) -> bool:
    return type(x).__module__.startswith("torch")


def _angles_torch(seq: int, rotary_dim: int, device):
    import torch

    exponents = torch.arange(0, rotary_dim, 2, device=device, dtype=torch.float32) / rotary_dim
    theta = 1.0 / (BASE**exponents)
    positions = torch.arange(seq, device=device, dtype=torch.float32)
    return torch.outer(positions, theta)


def _angles_numpy(seq: int, rotary_dim: int):
    exponents = np.arange(0, rotary_dim, 2, dtype=np.float32) / np.float32(rotary_dim)
    theta = np.float32(1.0) / (np.float32(BASE) ** exponents)
    positions = np.arange(seq, dtype=np.float32)
    return np.outer(positions, theta)


def apply_rotary_pos_emb(x):
    """The rotation of x ([..., seq, 2, half_rotary_dim], torch or numpy), in x's dtype."""
    if x.ndim < 3 or x.shape[-2] != 2:
        raise ValueError(
            f"{NAME}: x must have shape [..., seq, 2, half_rotary_dim], got {tuple(x.shape)}"
        )
    seq, half = x.shape[-3], x.shape[-1]
    rotary_dim = 2 * half
    if _is_torch(x):
        import torch

        if not x.dtype.is_floating_point:
            raise TypeError(f"{NAME}: x must be floating point, got {x.dtype}")
        angles = _angles_torch(seq, rotary_dim, x.device)
        cos, sin = angles.cos(), angles.sin()
        flat = x.reshape(*x.shape[:-2], rotary_dim)
        even, odd = flat[..., 0::2], flat[..., 1::2]
        pairs = torch.stack((even * cos - odd * sin, odd * cos + even * sin), dim=-1)
        return pairs.reshape(x.shape).to(x.dtype)
    if x.dtype.kind != "f":
        raise TypeError(f"{NAME}: x must be floating point, got {x.dtype}")
    angles = _angles_numpy(seq, rotary_dim)
    cos, sin = np.cos(angles), np.sin(angles)
    flat = x.reshape(*x.shape[:-2], rotary_dim)
    even, odd = flat[..., 0::2], flat[..., 1::2]
    pairs = np.stack((even * cos - odd * sin, odd * cos + even * sin), axis=-1)
    return pairs.reshape(x.shape).astype(x.dtype, copy=False)


class ApplyRotaryPosEmb(GeneralFunctionSpecBase):
    """rc's ApplyRotaryPosEmb: rotary position embeddings of one query or key,
    [..., seq, 2, half_rotary_dim] in and out; the last three axes are not batch axes."""

    @property
    def name(self) -> str:
        return NAME

    @property
    def path(self) -> str:
        return PATH

    def compute_hash_bytes(self) -> bytes:
        return HASH_UUID.bytes

    def function(self, x):  # type: ignore[override]
        return apply_rotary_pos_emb(x)

    def get_shape_info(self, x_shape) -> GeneralFunctionShapeInfo:  # type: ignore[override]
        if len(x_shape) < 3:
            raise ValueError(f"{NAME}: x must have at least 3 dimensions, but got {len(x_shape)}")
        if x_shape[-2] != 2:
            raise ValueError(
                f"{NAME}: the second to last dimension of x must be 2, but got {x_shape[-2]}"
            )
        return GeneralFunctionShapeInfo(
            x_shape, num_non_batchable_output_dims=3, input_batchability=[True]
        )

    @classmethod
    def new(cls, x, name: Optional[str] = None):
        """GeneralFunction(x, spec=ApplyRotaryPosEmb(), name=name)."""
        return _circuits.GeneralFunction(x, spec=cls(), name=name)


def rotate_every_two(x):
    """rc's helper: each pair (x[2i], x[2i+1]) of the last axis becomes (-x[2i+1], x[2i])
    (torch or numpy; the last axis must have even length)."""
    if x.shape[-1] % 2 != 0:
        raise ValueError(
            f"rotate_every_two: the last axis must have even length, got {x.shape[-1]}"
        )
    even, odd = x[..., 0::2], x[..., 1::2]
    if _is_torch(x):
        import torch

        return torch.stack((-odd, even), dim=-1).flatten(-2)
    return np.stack((-odd, even), axis=-1).reshape(*x.shape)


def duplicate_interleave(m):
    """rc's helper: a matrix with each column repeated twice in place, [a, b] -> [a, a, b, b]
    along the last axis (torch or numpy, 2 dimensions)."""
    if m.ndim != 2:
        raise ValueError(f"duplicate_interleave: expected a matrix, got {m.ndim} dimensions")
    if _is_torch(m):
        return m.repeat_interleave(2, dim=-1)
    return np.repeat(m, 2, axis=-1)
