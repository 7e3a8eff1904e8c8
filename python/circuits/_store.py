"""Tensor store, save/load of circuits, and pickling through the text format.

A tensor store is a directory of `.npy` files named by the 64 hex digits of rc's
tensor hash (what a bijective print shows the first 24 of on Array lines and the
first 10 of on Index tensors). Lookups are by unique prefix.

`save(circuit, path)` writes a directory holding `circuit.circ` (the bijective
text) and `tensors/` (the store of every tensor the text names); `load(path)`
reads it back. A bare `.circ` file (such as REMIX's) loads against a store given
by `tensor_store`, its sibling `tensors/` directory, or the default store
(`$CIRCUITS_TENSOR_STORE`, else `~/.cache/circuits/tensors`).

rc's tensor helpers work on the default store and on this process's tensor cache: a bijective
print puts every Array it prints in the cache, so `Parser()` finds them by prefix later in the
same process; `sync_all_unsynced_tensors()` writes the cached ones to the default store (and
drops them from memory), `save_tensor(t)` writes one at once, `get_tensor_prefix(prefix)` and
`tensor_from_hash(hash)` read them back (cache first) as the result type.
"""

import bisect
import os
import pickle
import re
import tempfile
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Union

import numpy as np

from . import _circuits
from ._circuits import Array, Circuit, ParseCircuitError
from ._values import as_result, hash_tensor

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
# array whose field name marks the dtype, the form circuits gives bfloat16 to numpy in.
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


class TensorStore:
    """A directory of tensors named by rc's tensor hash."""

    def __init__(self, path: PathLike):
        self.path = Path(path).expanduser()

    def __repr__(self):
        return f"TensorStore({str(self.path)!r})"

    def save(self, array, hash_hex: Optional[str] = None, force: bool = False) -> str:
        """Stores array (numpy or torch) unless a file of its hash is there (force: writes it
        again anyway); returns the hash. hash_hex, when the caller knows it, skips hashing the
        data again."""
        data = _as_numpy(array)
        if hash_hex is None:
            hash_hex = hash_tensor(data).hex()
        target = self.path / f"{hash_hex}.npy"
        if target.exists() and not force:
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
            array, name = np.load(path, allow_pickle=False), path.stem
        else:
            array, name = (
                _load_rc_file(path),
                path.parent.parent.name + path.parent.name + path.name,
            )
        if not hash_tensor(array).hex().startswith(name):
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
    return _as_numpy(torch.load(path, map_location="cpu", weights_only=True))


class _TensorCache:
    """Tensors this process printed (bijectively), by hash, kept until synced to the default
    store: rc's local tensor cache, held in memory."""

    def __init__(self):
        self.tensors: Dict[str, object] = {}
        self.sorted: List[str] = []

    def put(self, hash_hex: str, array) -> None:
        if hash_hex not in self.tensors:
            self.tensors[hash_hex] = array
            bisect.insort(self.sorted, hash_hex)

    def matches(self, prefix: str) -> List[str]:
        """The cached hashes starting with prefix (at most two: enough to tell unique)."""
        i = bisect.bisect_left(self.sorted, prefix)
        return [h for h in self.sorted[i : i + 2] if h.startswith(prefix)]

    def pop(self, hash_hex: str):
        del self.sorted[bisect.bisect_left(self.sorted, hash_hex)]
        return self.tensors.pop(hash_hex)


_cache = _TensorCache()


def remember_tensor(hash_hex: str, array) -> None:
    """Puts a printed tensor in the process's tensor cache (the printer's tensor sink)."""
    _cache.put(hash_hex, array)


def _default_store() -> TensorStore:
    return TensorStore(default_store_dir())


def _lookup(prefix: str):
    """The one tensor with hash prefix in the cache, else in the default store (as stored)."""
    prefix = _check_prefix(prefix)
    found = _cache.matches(prefix)
    if len(found) > 1:
        raise TensorNotFoundError(
            f"several tensors with hash prefix {prefix!r} in the tensor cache: give more digits"
        )
    if found:
        return _cache.tensors[found[0]]
    return _default_store().load(prefix)


def cached_or_stored(prefix: str):
    """Parser's default tensor loader: the tensor cache, then the default store."""
    return _lookup(prefix)


def get_tensor_prefix(prefix: str):
    """The tensor whose hash starts with prefix (tensor cache first, then the default store),
    as the result type; TensorNotFoundError when none or several match."""
    return as_result(_lookup(prefix))


def tensor_from_hash(hash: str):
    """The tensor of a hash in base 16 (a unique prefix works too), as get_tensor_prefix."""
    return get_tensor_prefix(hash)


def save_tensor(tensor, force: bool = False) -> bool:
    """Writes tensor to the default store; False when a file of its hash was already there
    (force: writes it anyway)."""
    store = _default_store()
    hash_hex = hash_tensor(tensor).hex()
    existed = (store.path / f"{hash_hex}.npy").exists()
    store.save(tensor, hash_hex=hash_hex, force=force)
    return force or not existed


def save_tensor_rrfs(tensor) -> str:
    """Writes tensor to the default store; returns its hash in base 16."""
    return _default_store().save(tensor)


def _check_parallelism(parallelism: int) -> None:
    if not isinstance(parallelism, int) or parallelism < 1:
        raise ValueError(f"parallelism must be a positive int, got {parallelism!r}")


def sync_specific_tensors(tensor_hash_prefixes: Iterable[str], parallelism: int = 15) -> None:
    """Writes the cached tensors of these prefixes to the default store and drops them from the
    cache. A prefix may also name a tensor already in the store; TensorNotFoundError when it
    names none or several. parallelism is rc's; the writes are local and made in order."""
    _check_parallelism(parallelism)
    prefixes = [_check_prefix(p) for p in tensor_hash_prefixes]
    store = _default_store()
    for prefix in prefixes:
        found = _cache.matches(prefix)
        if len(found) > 1:
            raise TensorNotFoundError(
                f"several tensors with hash prefix {prefix!r} in the tensor cache"
            )
        if not found:
            store.find(prefix)
            continue
        store.save(_cache.tensors[found[0]], hash_hex=found[0])
        _cache.pop(found[0])


def sync_all_unsynced_tensors(parallelism: int = 15) -> None:
    """Writes every tensor of the cache to the default store and empties the cache."""
    sync_specific_tensors(list(_cache.sorted), parallelism)


def array_from_hash(name: Optional[str], hash_base16: str) -> Array:
    """rc's Array.from_hash: an Array of the tensor of that hash (cache, then default store)."""
    return Array(_lookup(hash_base16), name)


def array_from_hash_prefix(name: Optional[str], hash_base16: str, cache=None) -> Array:
    """rc's Array.from_hash_prefix; cache, when given, is a store (an object with load(prefix))
    searched instead of the tensor cache and the default store."""
    return Array(_lookup(hash_base16) if cache is None else cache.load(hash_base16), name)


def array_save_rrfs(self, force: bool = False) -> str:
    """rc's Array.save_rrfs: writes the Array's tensor to the default store; returns its hash."""
    return _default_store().save(self.value, hash_hex=self.tensor_hash_base16(), force=force)


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
    """A GeneralFunction written in Python has no text the parser could rebuild it from, unless
    its spec has a path (the text names it "<name> at <path>")."""
    for gf in circuit.get(_circuits.GeneralFunction):
        if not isinstance(gf.spec, _circuits.GeneralFunctionSpec) and gf._spec_path is None:
            raise pickle.PicklingError(
                f"{what}: GeneralFunction {gf.name!r} has a spec written in Python "
                f"({type(gf.spec).__name__}) without a path, which the text format cannot hold "
                "(give the spec a path, 'package.module:SpecClass', to name it by)"
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
    Array.from_hash = staticmethod(array_from_hash)
    Array.from_hash_prefix = staticmethod(array_from_hash_prefix)
    Array.save_rrfs = array_save_rrfs
    Circuit.__reduce__ = circuit_reduce
    # Circuits are immutable: a copy is the circuit itself.
    Circuit.__copy__ = _same
    Circuit.__deepcopy__ = _same
