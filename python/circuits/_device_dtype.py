"""rc's TorchDeviceDtype and TorchDeviceDtypeOp: a device and a dtype, named as torch names them.

TorchDeviceDtypeOp leaves either field open (None); TorchDeviceDtype sets both. Both compare by
their fields. Dtypes may be given as strings, torch dtypes or numpy dtypes; devices as "cpu",
"cuda:<n>" (plain "cuda" means "cuda:0") or torch devices.

Also the device of a circuit (rc's rule: the device of the tensors below it), the check of an
evaluation device, and rc's upcast_tensor_devices / upcast_tensor_device_dtypes.
"""

import functools
import sys
from typing import List, Optional

DTYPES = (
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
)
DEVICES = ("cpu",) + tuple(f"cuda:{i}" for i in range(16))


def _dtype_name(dtype) -> str:
    if isinstance(dtype, str):
        name = dtype
    elif type(dtype).__module__ == "torch" and type(dtype).__name__ == "dtype":
        name = str(dtype)[len("torch.") :]
    else:
        import numpy as np

        try:
            name = np.dtype(dtype).name
        except TypeError:
            raise TypeError(
                f"dtype must be a str, a torch dtype or a numpy dtype, not {dtype!r}"
            ) from None
    if name not in DTYPES:
        raise ValueError(f"invalid dtype {name!r}: expected one of {', '.join(DTYPES)}")
    return name


def _device_name(device) -> str:
    if type(device).__module__ == "torch" and type(device).__name__ == "device":
        device = device.type if device.index is None else f"{device.type}:{device.index}"
    if not isinstance(device, str):
        raise TypeError(f"device must be a str or a torch device, not {device!r}")
    if device == "cuda":
        device = "cuda:0"
    if device not in DEVICES:
        raise ValueError(f'invalid device {device!r}: expected "cpu" or "cuda:<0..15>"')
    return device


def _order(device: Optional[str], dtype: Optional[str]):
    # rc orders by fields, None first, then in its enumeration order
    return (
        (device is not None, DEVICES.index(device) if device is not None else 0),
        (dtype is not None, DTYPES.index(dtype) if dtype is not None else 0),
    )


def _quoted(value: Optional[str]) -> str:
    return "None" if value is None else f'"{value}"'


def torch_dtype_of(name: Optional[str]):
    """The torch dtype of a dtype name (None for None); needs torch."""
    if name is None:
        return None
    try:
        import torch
    except ImportError:
        raise ModuleNotFoundError(
            f"the torch dtype of {name} needs torch, which is not installed "
            "(the dtype's name is .dtype)",
            name="torch",
        ) from None
    return getattr(torch, name)


@functools.total_ordering
class TorchDeviceDtypeOp:
    """A device and a dtype, either of which may be left open (None)."""

    __slots__ = ("_device", "_dtype")

    def __init__(self, device=None, dtype=None):
        self._device = None if device is None else _device_name(device)
        self._dtype = None if dtype is None else _dtype_name(dtype)

    @staticmethod
    def default() -> "TorchDeviceDtypeOp":
        return TorchDeviceDtypeOp()

    @property
    def device(self) -> Optional[str]:
        return self._device

    @property
    def dtype(self) -> Optional[str]:
        return self._dtype

    def get_torch_dtype(self):
        return torch_dtype_of(self._dtype)

    def only_keep_floating(self) -> "TorchDeviceDtypeOp":
        floating = self._dtype in ("float16", "bfloat16", "float32", "float64")
        return TorchDeviceDtypeOp(self._device, self._dtype if floating else None)

    def __repr__(self) -> str:
        return f"TorchDeviceDtypeOp(device={_quoted(self._device)}, dtype={_quoted(self._dtype)})"

    def __eq__(self, other) -> bool:
        if not isinstance(other, TorchDeviceDtypeOp):
            return NotImplemented
        return (self._device, self._dtype) == (other._device, other._dtype)

    def __lt__(self, other) -> bool:
        if not isinstance(other, TorchDeviceDtypeOp):
            return NotImplemented
        return _order(self._device, self._dtype) < _order(other._device, other._dtype)

    def __hash__(self) -> int:
        return hash(("TorchDeviceDtypeOp", self._device, self._dtype))


@functools.total_ordering
class TorchDeviceDtype:
    """A device and a dtype, both set."""

    __slots__ = ("_device", "_dtype")

    def __init__(self, device, dtype):
        self._device = _device_name(device)
        self._dtype = _dtype_name(dtype)

    @property
    def device(self) -> str:
        return self._device

    @property
    def dtype(self) -> str:
        return self._dtype

    def get_torch_dtype(self):
        return torch_dtype_of(self._dtype)

    def op(self) -> TorchDeviceDtypeOp:
        return TorchDeviceDtypeOp(self._device, self._dtype)

    def cast_tensor(self, tensor):
        """The tensor on this device with this dtype (torch tensors and numpy arrays)."""
        if type(tensor).__module__ == "torch":
            return tensor.to(device=self._device, dtype=self.get_torch_dtype())
        if self._device != "cpu":
            raise ValueError(f"a numpy array cannot move to {self._device}")
        return tensor.astype(self._dtype)

    @staticmethod
    def from_tensor(tensor) -> "TorchDeviceDtype":
        device = getattr(tensor, "device", "cpu")
        return TorchDeviceDtype("cpu" if str(device) == "cpu" else device, tensor.dtype)

    def __repr__(self) -> str:
        return f'TorchDeviceDtype(device="{self._device}", dtype="{self._dtype}")'

    def __eq__(self, other) -> bool:
        if not isinstance(other, TorchDeviceDtype):
            return NotImplemented
        return (self._device, self._dtype) == (other._device, other._dtype)

    def __lt__(self, other) -> bool:
        if not isinstance(other, TorchDeviceDtype):
            return NotImplemented
        return _order(self._device, self._dtype) < _order(other._device, other._dtype)

    def __hash__(self) -> int:
        return hash(("TorchDeviceDtype", self._device, self._dtype))


# --- devices of circuits and of evaluation ------------------------------------------------


def circuit_device(circuit) -> Optional[str]:
    """rc's device of a circuit: that of the tensors below it (Arrays, and Index tensors that
    are not 0-d) or of a cast below that sets one, None when it holds none (Scalars and Symbols
    have no device). circuits keeps every tensor of a circuit in host memory, so the device is
    "cpu" or None."""
    from ._circuits import Array, GeneralFunction, GeneralFunctionSpec, Index

    if circuit.dtype is not None:  # only an Array below fixes a dtype
        return "cpu"
    stack, seen = [circuit], {circuit.hash}
    while stack:
        c = stack.pop()
        if isinstance(c, Array):
            return "cpu"
        if isinstance(c, Index) and any(not isinstance(i, (int, slice)) for i in c.idx):
            return "cpu"
        if isinstance(c, GeneralFunction) and isinstance(c.spec, GeneralFunctionSpec):
            output = getattr(c.spec, "output", None)  # cast specs
            if output is not None and output.device is not None:
                return output.device
        for child in c.children:
            if child.hash not in seen:
                seen.add(child.hash)
                stack.append(child)
    return None


CUDA_EXTENSION = "circuits._circuits_cuda"


def evaluation_device(device) -> str:
    """The name of device ("cpu", "cuda:<n>"; plain "cuda" is "cuda:0"; torch devices too)
    when an evaluation backend serves it, else TensorEvalDeviceUnavailableError saying what is
    missing: the CUDA extension, or the GPU."""
    from ._circuits import TensorEvalDeviceUnavailableError, _backends

    name = _device_name(device)
    if name == "cpu" or any(d == name for d, _ in _backends()):
        return name
    cuda = sys.modules.get(CUDA_EXTENSION)
    if cuda is None:
        raise TensorEvalDeviceUnavailableError(
            f"no evaluation backend for device {name}: the CUDA extension {CUDA_EXTENSION} is "
            "not installed. Reinstall circuits (pip install .) where the CUDA toolkit's nvcc "
            "(CUDA 12 or later) is on PATH or under CUDA_HOME, so that the build makes it"
        )
    gpus = [d for d, _ in _backends() if d != "cpu"]
    why = getattr(cuda, "no_device_reason", None)
    raise TensorEvalDeviceUnavailableError(
        f"no evaluation backend for device {name}: {CUDA_EXTENSION} is installed but "
        + (f"registered only {', '.join(gpus)}" if gpus else "found no GPU")
        + (f" ({why})" if why else "")
    )


# --- rc's tensor upcasts --------------------------------------------------------------------


def _tensor_device(t) -> str:
    return _device_name(getattr(t, "device", "cpu"))


def _first_other(values: List[str], common: str) -> Optional[str]:
    """None when values all agree, else the first that is not common (or common)."""
    if all(v == values[0] for v in values):
        return None
    return next((v for v in values if v != common), common)


def upcast_tensor_devices(tensors):
    """rc's upcast_tensor_devices: when the tensors are on different devices, all of them on
    the first non-CPU one (dtypes unchanged); else the tensors as they are."""
    tensors = list(tensors)
    if not tensors:
        return tensors
    device = _first_other([_tensor_device(t) for t in tensors], "cpu")
    if device is None:
        return tensors
    return [TorchDeviceDtype(device, t.dtype).cast_tensor(t) for t in tensors]


def upcast_tensor_device_dtypes(tensors):
    """rc's upcast_tensor_device_dtypes: devices as upcast_tensor_devices, and when the dtypes
    differ, all of them in the first dtype that is not float64."""
    tensors = list(tensors)
    if not tensors:
        return tensors
    device = _first_other([_tensor_device(t) for t in tensors], "cpu")
    dtype = _first_other([_dtype_name(t.dtype) for t in tensors], "float64")
    if device is None and dtype is None:
        return tensors
    return [
        TorchDeviceDtype(
            device or _tensor_device(t), dtype or _dtype_name(t.dtype)
        ).cast_tensor(t)
        for t in tensors
    ]
