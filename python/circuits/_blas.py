"""Loads the OpenBLAS shipped by the scipy-openblas32 wheel before the engine.

The extension records the library by its soname; loading it here first (with
RTLD_GLOBAL) lets the dynamic linker find it wherever the wheel is installed,
including editable installs where the relative run path does not apply.
"""

import ctypes
import os


def set_thread_waiting():
    """Idle OpenMP and OpenBLAS threads sleep instead of spinning (unless the user chose).

    The engine alternates OpenMP loops (batched small GEMMs, elementwise kernels) with
    BLAS-threaded GEMMs; spinning idle threads of one pool steal the cores of the other,
    measured 2-3x slower on 2 cores. Both variables are read when the libraries load.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")


def preload():
    try:
        import scipy_openblas32
    except ImportError:  # built against a system CBLAS
        return
    lib_dir = scipy_openblas32.get_lib_dir()
    path = os.path.join(lib_dir, scipy_openblas32.get_library(fullname=True))
    ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
