"""Build of the C engine: the extension circuits._circuits from csrc/ (minus cuda/).

BLAS: OpenBLAS from the scipy-openblas32 wheel by default (its symbols carry the
"scipy_" prefix; only csrc/tensor/blas.c sees it). CIRCUITS_BLAS=system links a
system CBLAS found with pkg-config (CIRCUITS_BLAS_PC names the package, default
"cblas", falling back to "openblas").

CUDA: csrc/cuda/ becomes a second extension, circuits._circuits_cuda, when it
holds sources and nvcc is found; otherwise it is skipped.
"""

import glob
import os
import shutil
import subprocess

from setuptools import Extension, setup

HERE = os.path.dirname(os.path.abspath(__file__))
CFLAGS = ["-std=c11", "-O3", "-Wall", "-Wextra", "-fopenmp", "-fvisibility=hidden",
          "-fno-strict-aliasing"]


def c_sources():
    files = glob.glob(os.path.join("csrc", "**", "*.c"), recursive=True)
    return sorted(f for f in files if os.sep + "cuda" + os.sep not in f)


def c_headers():
    """Every header: a change to one rebuilds the extension (no object keeps a stale layout)."""
    files = glob.glob(os.path.join("csrc", "**", "*.h"), recursive=True)
    return sorted(f for f in files if os.sep + "cuda" + os.sep not in f)


def pkg_config(package, flag):
    out = subprocess.run(["pkg-config", flag, package], capture_output=True, text=True)
    if out.returncode != 0:
        return None
    return out.stdout.split()


def blas_options():
    if os.environ.get("CIRCUITS_BLAS", "openblas-wheel") == "system":
        for package in (os.environ.get("CIRCUITS_BLAS_PC", "cblas"), "openblas"):
            libs = pkg_config(package, "--libs")
            if libs is not None:
                cflags = pkg_config(package, "--cflags") or []
                return {"extra_compile_args": cflags + ["-DCC_BLAS_SYSTEM"],
                        "extra_link_args": libs, "define_macros": []}
        raise RuntimeError("CIRCUITS_BLAS=system but pkg-config finds neither "
                           "cblas nor openblas")
    import scipy_openblas32

    lib_dir = scipy_openblas32.get_lib_dir()
    return {
        "extra_compile_args": ["-I" + scipy_openblas32.get_include_dir()],
        # The wheel's library is found beside the installed package at run time
        # (circuits/__init__.py also preloads it, for editable installs).
        "extra_link_args": ["-L" + lib_dir, "-l" + scipy_openblas32.get_library(),
                            "-Wl,-rpath,$ORIGIN/../scipy_openblas32/lib"],
        "define_macros": [("CC_BLAS_PREFIX", "scipy_")],
    }


def extensions():
    blas = blas_options()
    core = Extension(
        "circuits._circuits",
        sources=c_sources(),
        depends=c_headers(),
        include_dirs=["csrc"],
        define_macros=blas["define_macros"],
        extra_compile_args=CFLAGS + blas["extra_compile_args"]
        + os.environ.get("CIRCUITS_EXTRA_CFLAGS", "").split(),
        extra_link_args=["-fopenmp"] + blas["extra_link_args"]
        + os.environ.get("CIRCUITS_EXTRA_LDFLAGS", "").split(),
    )
    if cuda_sources():
        raise RuntimeError("csrc/cuda has sources but no build rule yet")
    return [core]


def cuda_sources():
    """The CUDA backend's sources, or [] when there are none or nvcc is absent."""
    sources = sorted(glob.glob(os.path.join("csrc", "cuda", "*.cu")))
    if not sources or shutil.which("nvcc") is None:
        print("circuits: building without the CUDA backend (no csrc/cuda sources or no nvcc)")
        return []
    return sources


setup(ext_modules=extensions())
