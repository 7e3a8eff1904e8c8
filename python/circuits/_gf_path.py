"""GeneralFunction specs named by a path: rc's `GeneralFunction.new_by_path` and the
`<name> at <path>` lines of the text format.

A path (rc's function locator) is `package.module:Attr`, which imports package.module, or
`/dir/sub_dir/file.py:Attr`, which runs that file from the rrfs directory (`$RR_RRFS_DIR`, else
`~/rrfs`, as rc). Attr is then called with no arguments, as rc does, and must give a spec: an
instance of `GeneralFunctionSpecBase`, or a built-in `GeneralFunctionSpec`. Loading a path
therefore runs code that the user's environment provides.

rc files name rc's own Python specs under `rust_circuit.`; such paths load circuits' modules
of the same name (`rust_circuit.generalfuncs.rotary_pos_emb:ApplyRotaryPosEmb` is
`circuits.generalfuncs.rotary_pos_emb.ApplyRotaryPosEmb`).
"""

import importlib
import importlib.util
import os
from pathlib import Path

from . import _circuits
from ._methods import GeneralFunctionSpecBase

RC_PACKAGE = "rust_circuit"
OWN_PACKAGE = "circuits"
RRFS_ENV = "RR_RRFS_DIR"
LOCATOR_FORMS = (
    "module.to.import:MyCustomSpec or /dir/sub_dir/.../file.py:MyCustomSpec "
    "(path relative to rrfs)"
)

_file_modules = {}


def rrfs_dir() -> Path:
    """rc's rrfs directory: $RR_RRFS_DIR, else ~/rrfs."""
    env = os.environ.get(RRFS_ENV)
    return Path(env) if env else Path.home() / "rrfs"


def module_name(module: str) -> str:
    """The module a locator's module part loads: rc's package maps to circuits."""
    if module == RC_PACKAGE or module.startswith(RC_PACKAGE + "."):
        return OWN_PACKAGE + module[len(RC_PACKAGE) :]
    return module


def _import(path: str, module: str):
    name = module_name(module)
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as e:
        mapped = (
            f" (paths under {RC_PACKAGE}. load modules of {OWN_PACKAGE})" if name != module else ""
        )
        raise ModuleNotFoundError(
            f"GeneralFunction path {path!r}: no module named {e.name!r}{mapped}", name=e.name
        ) from e


def _run_file(path: str, file: str):
    full = rrfs_dir() / file.lstrip("/")
    key = str(full)
    if key in _file_modules:
        return _file_modules[key]
    if not full.is_file():
        raise FileNotFoundError(
            f"GeneralFunction path {path!r}: no file {full} (file paths are relative to the rrfs "
            f"directory, ${RRFS_ENV} or ~/rrfs)"
        )
    spec = importlib.util.spec_from_file_location("user_funcs", full)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    _file_modules[key] = module
    return module


def spec_from_path(path: str):
    """The spec a locator names (see the module's doc)."""
    if not isinstance(path, str):
        raise TypeError(f"a GeneralFunction path must be a str, not {type(path).__name__}")
    module_part, sep, attr = path.partition(":")
    if not sep or not module_part or not attr:
        raise RuntimeError(
            f"GeneralFunction path {path!r}: a function locator must have the form {LOCATOR_FORMS}"
        )
    if module_part.startswith("/") and module_part.endswith(".py"):
        module = _run_file(path, module_part)
    else:
        module = _import(path, module_part)
    try:
        factory = getattr(module, attr)
    except AttributeError:
        raise AttributeError(
            f"GeneralFunction path {path!r}: module {module.__name__!r} has no attribute {attr!r}",
            name=attr,
            obj=module,
        ) from None
    if not callable(factory):
        raise _circuits.ConstructGeneralFunctionPyNotInstanceError(
            f"GeneralFunction path {path!r}: {attr} is a {type(factory).__name__}, not a callable "
            "returning a spec (it is called with no arguments; name the spec's class)"
        )
    try:
        spec = factory()
    except Exception as e:
        e.add_note(f"while loading the GeneralFunction spec at {path!r}")
        raise
    if not isinstance(spec, (GeneralFunctionSpecBase, _circuits.GeneralFunctionSpec)):
        raise _circuits.ConstructGeneralFunctionPyNotInstanceError(
            f"GeneralFunction path {path!r}: {attr}() gave a {type(spec).__name__}, not an "
            "instance of GeneralFunctionSpecBase"
        )
    return spec
