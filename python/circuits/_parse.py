"""rc.Parser: reads the text format back into circuits (the C parser, csrc/text/parse.c).

Array values and Index tensors come from `tensor_loader(hash_prefix) -> array`, by default the
tensors this process printed, then the default tensor store. Random values (an Array line saying `rand`, or `tensors_as_random=True`)
are standard-normal float32 of the printed shape, seeded by the hash prefix when there is one,
so that a structure-only load is reproducible.
"""

from typing import Callable, Dict, Iterable, List, Optional

import numpy as np

from . import _circuits
from ._circuits import Circuit, ParseCircuitExpectedOneCircuitGotMultipleError

TensorLoader = Callable[[str], Optional[np.ndarray]]


RANDOM_DTYPES = ("float32", "float64")


def random_tensor(prefix: Optional[str], shape, dtype: str = "float32") -> np.ndarray:
    """Standard-normal values of shape, seeded by a hash prefix (fresh ones without)."""
    seed = int(prefix, 16) if prefix else None
    return np.random.default_rng(seed).standard_normal(tuple(shape)).astype(dtype)


def _random_dtype(device_dtype) -> str:
    """The dtype of random tensors from rc's tensors_as_random_device_dtype (CPU only)."""
    if device_dtype is None:
        return "float32"
    device, dtype = getattr(device_dtype, "device", None), getattr(device_dtype, "dtype", None)
    if device not in (None, "cpu"):
        raise ValueError(
            f"tensors_as_random_device_dtype: random tensors are made on the CPU, not {device!r}"
        )
    if dtype not in (None,) + RANDOM_DTYPES:
        raise ValueError(
            f"tensors_as_random_device_dtype: random tensors are float32 or float64, not {dtype!r}"
        )
    return dtype or "float32"


class Parser:
    """rc's Parser: `parser(text)` is the one circuit of text; `parse_circuits(text)` all of
    them in order.

    reference_circuits {ident: circuit} and reference_circuits_by_name [circuits] let the text
    name circuits it does not define ('ident' alone on a line). tensor_loader maps a hash prefix
    to an array; when it returns None for an Array whose line gives a shape, the Array gets
    seeded random values (how `load(random_when_missing=True)` works)."""

    def __init__(
        self,
        reference_circuits: Optional[Dict[str, Circuit]] = None,
        reference_circuits_by_name: Iterable[Circuit] = (),
        tensors_as_random: bool = False,
        tensors_as_random_device_dtype=None,
        allow_hash_with_random: bool = False,
        on_repeat_check_info_same: bool = True,
        module_check_all_inputs_used: bool = True,
        module_check_unique_arg_names: bool = False,
        tensor_loader: Optional[TensorLoader] = None,
    ):
        refs = dict(reference_circuits or {})
        for c in reference_circuits_by_name:
            if not isinstance(c, Circuit) or c.name is None:
                raise ValueError(f"reference_circuits_by_name: expected named circuits, got {c!r}")
            refs[c.name] = c
        self.reference_circuits = refs
        self.tensors_as_random = tensors_as_random
        self.tensors_as_random_device_dtype = tensors_as_random_device_dtype
        self._random_dtype = _random_dtype(tensors_as_random_device_dtype)
        self.allow_hash_with_random = allow_hash_with_random
        self.on_repeat_check_info_same = on_repeat_check_info_same
        self.module_check_all_inputs_used = module_check_all_inputs_used
        self.module_check_unique_arg_names = module_check_unique_arg_names
        if tensor_loader is None:
            from ._store import cached_or_stored

            tensor_loader = cached_or_stored
        self.tensor_loader = tensor_loader

    def _load(self, kind: str, prefix: Optional[str], shape):
        if kind == "random":
            return random_tensor(prefix, shape, self._random_dtype)
        value = self.tensor_loader(prefix)
        if kind == "index":
            if value is None:
                from ._store import TensorNotFoundError

                raise TensorNotFoundError(f"no index tensor with hash prefix {prefix!r}")
            return np.asarray(value, dtype=np.int64)
        if value is None:
            if shape is None:
                raise ValueError(
                    f"no tensor with hash prefix {prefix!r}, and the line gives no shape to "
                    "make random values of"
                )
            return random_tensor(prefix, shape, self._random_dtype)
        return value

    def parse_circuits(self, text: str) -> List[Circuit]:
        if not isinstance(text, str):
            raise TypeError(f"Parser: expected the text as a str, got {type(text).__name__}")
        return _circuits.parse_circuits(
            text,
            reference_circuits=self.reference_circuits,
            tensors_as_random=self.tensors_as_random,
            allow_hash_with_random=self.allow_hash_with_random,
            on_repeat_check_info_same=self.on_repeat_check_info_same,
            module_check_all_inputs_used=self.module_check_all_inputs_used,
            module_check_unique_arg_names=self.module_check_unique_arg_names,
            load=self._load,
        )

    def parse_circuit(self, text: str) -> Circuit:
        circuits = self.parse_circuits(text)
        if len(circuits) != 1:
            names = ", ".join(repr(c.name) for c in circuits[:5])
            raise ParseCircuitExpectedOneCircuitGotMultipleError(
                f"expected one top-level circuit, the text has {len(circuits)}"
                + (f": {names}{', ...' if len(circuits) > 5 else ''}" if circuits else "")
            )
        return circuits[0]

    __call__ = parse_circuit
