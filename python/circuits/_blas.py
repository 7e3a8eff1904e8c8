"""Loads the OpenBLAS shipped by the scipy-openblas32 wheel before the engine.

The extension records the library by its soname; loading it here first (with
RTLD_GLOBAL) lets the dynamic linker find it wherever the wheel is installed,
including editable installs where the relative run path does not apply.
"""

import ctypes
import os


def preload():
    try:
        import scipy_openblas32
    except ImportError:  # built against a system CBLAS
        return
    lib_dir = scipy_openblas32.get_lib_dir()
    path = os.path.join(lib_dir, scipy_openblas32.get_library(fullname=True))
    ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
