"""Build of the C engine: the extension circuits._circuits from csrc/ (minus cuda/).

BLAS: OpenBLAS from the scipy-openblas32 wheel by default (its symbols carry the
"scipy_" prefix; only csrc/tensor/blas.c sees it). CIRCUITS_BLAS=system links a
system CBLAS found with pkg-config (CIRCUITS_BLAS_PC names the package, default
"cblas", falling back to "openblas").

CUDA: csrc/cuda/*.cu becomes a second extension, circuits._circuits_cuda, when
nvcc (CUDA 12 or later) is found on PATH or under CUDA_HOME; otherwise it is skipped
with a printed line. Each .cu is compiled by nvcc, the extension is linked by the host
compiler with the static CUDA runtime, so importing it needs only the driver.
CIRCUITS_NVCC_FLAGS adds nvcc options (e.g. "-arch=sm_90"). cuBLAS comes from the
nvidia-cublas wheel when it is installed (its headers and libcublas found through the
installed distribution's file list), else from the toolkit beside nvcc; the extension
opens libcublas with dlopen at its first GEMM (so importing it loads no CUDA library); with neither the extension builds without its GEMM path (einsum contractions
of two operands are then refused on the GPU).
"""

import glob
import os
import re
import shutil
import subprocess

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

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
    extensions = [core]
    cuda = cuda_toolkit()
    if cuda is not None:
        ext = Extension(
            "circuits._circuits_cuda",
            sources=sorted(glob.glob(os.path.join("csrc", "cuda", "*.cu"))),
            depends=c_headers() + sorted(glob.glob(os.path.join("csrc", "cuda", "*.cuh"))),
            include_dirs=["csrc"],
            library_dirs=[cuda["lib"]],
            libraries=["cudart_static", "dl", "rt", "pthread", "stdc++"],
        )
        ext.nvcc = cuda["nvcc"]
        ext.nvcc_flags = []
        cublas = cublas_options(cuda)
        if cublas is not None:
            ext.nvcc_flags = ["-DCC_HAVE_CUBLAS", f'-DCC_CUBLAS_DIR="{cublas["lib"]}"',
                              f'-DCC_CUBLAS_SONAME="{cublas["soname"]}"']
            ext.nvcc_flags += ["-I" + d for d in cublas["include"]]
        extensions.append(ext)
    return extensions


def cuda_toolkit():
    """nvcc and the toolkit's library folder, or None (and a printed line) to skip CUDA."""
    if not glob.glob(os.path.join("csrc", "cuda", "*.cu")):
        return None
    nvcc = shutil.which("nvcc")
    if nvcc is None and os.environ.get("CUDA_HOME"):
        candidate = os.path.join(os.environ["CUDA_HOME"], "bin", "nvcc")
        nvcc = candidate if os.access(candidate, os.X_OK) else None
    if nvcc is None:
        print("circuits: nvcc not found, building without the CUDA backend")
        return None
    version = subprocess.run([nvcc, "--version"], capture_output=True, text=True).stdout
    match = re.search(r"release (\d+)\.", version)
    if match is None or int(match.group(1)) < 12:
        print(f"circuits: {nvcc} is not CUDA 12 or later, building without the CUDA backend")
        return None
    # nvcc may be a wrapper script outside the toolkit, hence the usual roots too.
    roots = [os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH"),
             os.path.dirname(os.path.dirname(os.path.realpath(nvcc))), "/usr/local/cuda"]
    for root in filter(None, roots):
        for lib in ("lib64", "lib", os.path.join("targets", "x86_64-linux", "lib"),
                    os.path.join("targets", "sbsa-linux", "lib")):
            if os.path.exists(os.path.join(root, lib, "libcudart_static.a")):
                return {"nvcc": nvcc, "lib": os.path.join(root, lib)}
    print("circuits: no libcudart_static.a beside nvcc or under CUDA_HOME, building without "
          "the CUDA backend")
    return None


def cublas_options(cuda):
    """Compile and link options for cuBLAS (wheel first, then toolkit), or None to go without."""
    from importlib import metadata
    for dist_name in ("nvidia-cublas", "nvidia-cublas-cu13", "nvidia-cublas-cu12"):
        try:
            dist = metadata.distribution(dist_name)
        except metadata.PackageNotFoundError:
            continue
        files = [str(f) for f in dist.files or []]
        header = next((f for f in files if f.endswith("cublas_v2.h")), None)
        library = next((f for f in files if re.search(r"/libcublas\.so\.\d+$", f)), None)
        if header is None or library is None:
            continue
        include = str(dist.locate_file(os.path.dirname(header)))
        lib_dir = str(dist.locate_file(os.path.dirname(library)))
        print(f"circuits: cuBLAS from the {dist_name} wheel ({lib_dir})")
        return {"include": [include], "lib": lib_dir, "soname": os.path.basename(library)}
    # nvcc finds the toolkit's own headers.
    for path in sorted(glob.glob(os.path.join(cuda["lib"], "libcublas.so.*"))):
        if re.search(r"libcublas\.so\.\d+$", path):
            print(f"circuits: cuBLAS from the CUDA toolkit ({cuda['lib']})")
            return {"include": [], "lib": cuda["lib"], "soname": os.path.basename(path)}
    print("circuits: no cuBLAS (pip install nvidia-cublas), building the CUDA backend without "
          "einsum contractions")
    return None


class BuildExt(build_ext):
    """Compiles the CUDA extension's .cu files with nvcc; links every extension as usual."""

    def build_extension(self, ext):
        if not hasattr(ext, "nvcc"):
            super().build_extension(ext)
            return
        flags = ["-O3", "-std=c++17", "-Xcompiler", "-fPIC,-fvisibility=hidden,-Wall,-Wextra"]
        flags += ext.nvcc_flags + os.environ.get("CIRCUITS_NVCC_FLAGS", "").split()
        includes = ["-I" + d for d in ext.include_dirs + self.include_dirs]
        objects = []
        for source in ext.sources:
            obj = os.path.join(self.build_temp, os.path.splitext(source)[0] + ".o")
            os.makedirs(os.path.dirname(obj), exist_ok=True)
            if self.force or newer_than(obj, [source] + ext.depends):
                self.spawn([ext.nvcc, "-c", source, "-o", obj] + flags + includes)
            objects.append(obj)
        self.compiler.link_shared_object(
            objects, self.get_ext_fullpath(ext.name), library_dirs=ext.library_dirs,
            libraries=ext.libraries, extra_postargs=ext.extra_link_args,
            build_temp=self.build_temp)


def newer_than(target, sources):
    """Whether target is missing or older than any source."""
    if not os.path.exists(target):
        return True
    mtime = os.path.getmtime(target)
    return any(os.path.getmtime(s) > mtime for s in sources)


setup(ext_modules=extensions(), cmdclass={"build_ext": BuildExt})
