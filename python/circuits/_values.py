"""The type of the values circuits gives back: torch tensors, as rc's, or numpy arrays.

Every tensor the package returns (evaluate, evaluate_many, Array.value, Index tensors, the inputs
of a Python GeneralFunction spec's function, the tensor-store helpers) is a `torch.Tensor` when
torch is installed and a numpy array otherwise. `set_result_type("numpy")` selects numpy arrays
with torch installed; the environment variable CIRCUITS_RESULT_TYPE ("numpy" or "torch") sets
the type at import. Results share memory with the engine's tensors either way; torch itself is
imported only when the first value is converted, so `import circuits` stays fast.
"""

import importlib.util
import os

from . import _circuits

RESULT_TYPES = ("numpy", "torch")
RESULT_TYPE_ENV = "CIRCUITS_RESULT_TYPE"
HAS_TORCH = importlib.util.find_spec("torch") is not None


def set_result_type(kind: str) -> None:
    """Selects "torch" (torch.Tensor values, the default when torch is installed) or "numpy"
    (numpy arrays, the only choice without torch)."""
    if kind not in RESULT_TYPES:
        raise ValueError(f"set_result_type: expected 'numpy' or 'torch', got {kind!r}")
    if kind == "torch" and not HAS_TORCH:
        raise ImportError(
            "set_result_type('torch'): torch is not installed; install torch, or keep numpy results"
        )
    _circuits._set_result_type(kind)


def get_result_type() -> str:
    """"torch" or "numpy": the type of the values circuits gives back."""
    return _circuits._get_result_type()


def as_result(array):
    """array (numpy, torch or any array-like) as the result type, sharing its memory where the
    layout allows."""
    if get_result_type() == "torch" and type(array).__module__.startswith("torch"):
        return array
    return _circuits._as_result(array)


def hash_tensor(x) -> bytes:
    """rc's 32-byte hash of a tensor (shape, dtype, device, elements): the bytes behind
    `Array(x).tensor_hash_base16()` and the names in the tensor store."""
    return _circuits._hash_tensor(x)


def init_from_environment() -> None:
    kind = os.environ.get(RESULT_TYPE_ENV)
    if kind is None:
        kind = "torch" if HAS_TORCH else "numpy"
    elif kind not in RESULT_TYPES:
        raise ValueError(f"{RESULT_TYPE_ENV}: expected 'numpy' or 'torch', got {kind!r}")
    set_result_type(kind)
