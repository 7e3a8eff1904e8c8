"""Tensor store, save/load of circuits, and pickling through the text format.

A tensor store is a directory of `.npy` files named by the 64 hex digits of rc's
tensor hash (what a bijective print shows the first 24 of on Array lines and the
first 10 of on Index tensors). Lookups are by unique prefix.

`save(circuit, path)` writes a directory holding `circuit.circ` (the bijective
text) and `tensors/` (the store of every tensor the text names); `load(path)`
reads it back. A bare `.circ` file (such as REMIX's) loads against a store given
by `tensor_store`, its sibling `tensors/` directory, or the default store
(`$CIRCUITS_TENSOR_STORE`, else `~/.cache/circuits/tensors`).
"""

import os
import pickle
import re
import tempfile
from pathlib import Path
from typing import Dict, Optional, Union

import numpy as np

from . import _circuits
from ._circuits import Array, Circuit, ParseCircuitError

PathLike = Union[str, os.PathLike]
TEXT_FILE = "circuit.circ"
TENSOR_DIR = "tensors"
STORE_ENV = "CIRCUITS_TENSOR_STORE"
_HEX = re.compile(r"[0-9a-f]{1,64}")


class TensorNotFoundError(ParseCircuitError):
    """No tensor, or several, in a store for a hash prefix."""


def default_store_dir() -> Path:
    env = os.environ.get(STORE_ENV)
    return Path(env) if env else Path.home() / ".cache" / "circuits" / "tensors"


def _check_prefix(prefix: str) -> str:
    if not isinstance(prefix, str) or not _HEX.fullmatch(prefix):
        raise ValueError(f"a tensor hash prefix is 1 to 64 lowercase hex digits, got {prefix!r}")
    return prefix


# .npy has no bfloat16: a bfloat16 tensor is stored as its 16 bits in a one-field record
# array whose field name marks the dtype, and read back as a torch.bfloat16 tensor.
_BF16_RECORD = np.dtype([("bfloat16", "<u2")])


def _as_numpy(array) -> np.ndarray:
    if isinstance(array, np.ndarray):
        return array
    if type(array).__module__.startswith("torch"):
        array = array.detach().cpu()
        if str(array.dtype) == "torch.bfloat16":
            import torch

            return array.view(torch.int16).numpy().view(np.uint16).view(_BF16_RECORD)
        return array.numpy()
    return np.asarray(array)


def _from_stored(array: np.ndarray):
    if array.dtype != _BF16_RECORD:
        return array
    try:
        import torch
    except ImportError:
        raise TensorNotFoundError("a bfloat16 tensor in the store: reading it needs torch") from None
    bits = np.ascontiguousarray(array).view(np.uint16).view(np.int16)
    return torch.from_numpy(bits).view(torch.bfloat16)


class TensorStore:
    """A directory of tensors named by rc's tensor hash."""

    def __init__(self, path: PathLike):
        self.path = Path(path).expanduser()

    def __repr__(self):
        return f"TensorStore({str(self.path)!r})"

    def save(self, array, hash_hex: Optional[str] = None) -> str:
        """Stores array (numpy or torch) unless a file of its hash is there; returns the hash.
        hash_hex, when the caller knows it, skips hashing the data again."""
        data = _as_numpy(array)
        if hash_hex is None:
            hash_hex = Array(_from_stored(data)).tensor_hash_base16()
        target = self.path / f"{hash_hex}.npy"
        if target.exists():
            return hash_hex
        self.path.mkdir(parents=True, exist_ok=True)
        # Written under a temporary name and renamed, so a reader never sees half a file.
        fd, tmp = tempfile.mkstemp(dir=self.path, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                np.save(f, np.ascontiguousarray(data), allow_pickle=False)
            os.replace(tmp, target)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return hash_hex

    def find(self, prefix: str) -> Path:
        """The file whose hash starts with prefix; TensorNotFoundError names the prefix and the
        directory when there is none or more than one."""
        prefix = _check_prefix(prefix)
        matches = []
        if self.path.is_dir():
            matches = sorted(self.path.glob(f"{prefix}*.npy"))
            # rc's own tensor_db: <hex[0:4]>/<hex[4:8]>/<hex[8:64]>, written with torch.save.
            if len(prefix) >= 8:
                rc_dir = self.path / prefix[:4] / prefix[4:8]
                matches += sorted(p for p in rc_dir.glob(f"{prefix[8:]}*") if _is_rc_file(p))
        if len(matches) != 1:
            what = "no tensor" if not matches else f"{len(matches)} tensors"
            raise TensorNotFoundError(
                f"{what} with hash prefix {prefix!r} in the tensor store {str(self.path)!r}"
            )
        return matches[0]

    def load(self, prefix: str) -> np.ndarray:
        path = self.find(prefix)
        if path.suffix == ".npy":
            array, name = _from_stored(np.load(path, allow_pickle=False)), path.stem
        else:
            array, name = (
                _load_rc_file(path),
                path.parent.parent.name + path.parent.name + path.name,
            )
        if not Array(array).tensor_hash_base16().startswith(name):
            raise TensorNotFoundError(
                f"tensor file {str(path)!r} does not hold the tensor its name says (corrupt store)"
            )
        return array

    def __contains__(self, prefix: str) -> bool:
        try:
            self.find(prefix)
        except TensorNotFoundError:
            return False
        return True


def _is_rc_file(path: Path) -> bool:
    return path.is_file() and _HEX.fullmatch(path.name) is not None


def _load_rc_file(path: Path) -> np.ndarray:
    """A tensor rc saved with torch.save, as a numpy array."""
    try:
        import torch
    except ImportError:
        raise TensorNotFoundError(
            f"tensor file {str(path)!r} is in rc's torch.save format: reading it needs torch"
        ) from None
    tensor = torch.load(path, map_location="cpu", weights_only=True).detach()
    # numpy has no bfloat16: such a tensor stays a torch tensor
    return tensor if tensor.dtype == torch.bfloat16 else tensor.numpy()


class _DictStore:
    """Tensors of a pickled circuit, looked up by the prefixes the text uses."""

    def __init__(self, tensors: Dict[str, np.ndarray]):
        self.tensors = tensors

    def load(self, prefix: str) -> np.ndarray:
        prefix = _check_prefix(prefix)
        found = [h for h in self.tensors if h.startswith(prefix)]
        if len(found) != 1:
            raise TensorNotFoundError(
                f"{len(found)} tensors with hash prefix {prefix!r} in the pickled circuit"
            )
        return self.tensors[found[0]]


def _bijective_text(circuit: Circuit, sink) -> str:
    return _circuits.print_repr([circuit], bijection=True, tensor_sink=sink)


def save(circuit: Circuit, path: PathLike) -> Path:
    """Writes circuit to the directory path: `circuit.circ` and the tensors it names in
    `tensors/`. Returns the path of the text file."""
    if not isinstance(circuit, Circuit):
        raise TypeError(f"save: expected a Circuit, got {circuit!r}")
    _check_serializable(circuit, "save")
    directory = Path(path)
    store = TensorStore(directory / TENSOR_DIR)
    text = _bijective_text(circuit, lambda h, a: store.save(a, hash_hex=h))
    directory.mkdir(parents=True, exist_ok=True)
    text_path = directory / TEXT_FILE
    text_path.write_text(text + "\n", encoding="utf-8")
    return text_path


def _store_for(text_path: Path, tensor_store) -> object:
    if tensor_store is not None:
        return tensor_store if hasattr(tensor_store, "load") else TensorStore(tensor_store)
    sibling = text_path.parent / TENSOR_DIR
    return TensorStore(sibling if sibling.is_dir() else default_store_dir())


def load(
    path: PathLike,
    tensor_store=None,
    tensors_as_random: bool = False,
    random_when_missing: bool = False,
    **parser_options,
) -> Circuit:
    """Reads a circuit written by `save` (a directory) or a `.circ` file.

    tensor_store: a TensorStore or a directory (default: the sibling `tensors/`, else the
    default store). tensors_as_random: every Array becomes seeded random values of its printed
    shape (structure-only work, no store needed); random_when_missing: only Arrays whose hash is
    not in the store do. Other keywords go to `Parser`."""
    from ._parse import Parser

    path = Path(path)
    text_path = path / TEXT_FILE if path.is_dir() else path
    text = text_path.read_text(encoding="utf-8")
    store = _store_for(text_path, tensor_store)
    loader = store.load
    if random_when_missing:

        def loader(prefix):
            try:
                return store.load(prefix)
            except TensorNotFoundError:
                return None

    parser = Parser(
        tensors_as_random=tensors_as_random,
        allow_hash_with_random=tensors_as_random,
        tensor_loader=loader,
        **parser_options,
    )
    return parser.parse_circuit(text)


def _unpickle(text: str, tensors: Dict[str, np.ndarray]) -> Circuit:
    from ._parse import Parser

    return Parser(tensor_loader=_DictStore(tensors).load).parse_circuit(text)


def _check_serializable(circuit: Circuit, what: str) -> None:
    """A GeneralFunction written in Python has no text the parser could rebuild it from."""
    for gf in circuit.get(_circuits.GeneralFunction):
        if not isinstance(gf.spec, _circuits.GeneralFunctionSpec):
            raise pickle.PicklingError(
                f"{what}: GeneralFunction {gf.name!r} has a spec written in Python "
                f"({type(gf.spec).__name__}), which the text format cannot hold"
            )


def circuit_reduce(self: Circuit):
    """Pickles as the bijective text plus the tensors it names (numpy arrays)."""
    _check_serializable(self, "pickle")
    tensors: Dict[str, np.ndarray] = {}
    text = _bijective_text(self, lambda h, a: tensors.setdefault(h, np.array(_as_numpy(a))))
    return (_unpickle, (text, tensors))


def _same(self, memo=None):
    return self


def install():
    Circuit.__reduce__ = circuit_reduce
    # Circuits are immutable: a copy is the circuit itself.
    Circuit.__copy__ = _same
    Circuit.__deepcopy__ = _same
