// Module-level hashing functions of the bindings (BLAKE3 exposed for tests and tools).
#pragma once

#define PY_SSIZE_T_CLEAN
#include <Python.h>

// NULL-terminated; the module registers these as module functions.
extern PyMethodDef cc_py_hashing_methods[];
