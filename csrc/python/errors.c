// The core's error record -> rc's exception classes. The classes are created
// at module init from util/errors.def, parents before children.
#include "python/bindings.h"
#include "util/error.h"

static const struct {
    const char *py_name;
    cc_error_kind parent;
} rows[CC_E_COUNT] = {
    [CC_E_NONE] = {NULL, CC_E_NONE},
#define CC_ERR(E, py, parent) [CC_E_##E] = {py, CC_E_##parent},
#include "util/errors.def"
#undef CC_ERR
};

PyObject *cc_py_exceptions[CC_E_COUNT];

static PyObject *
builtin_for(cc_error_kind kind)
{
    switch (kind) {
    case CC_E_PY_RUNTIME:
    case CC_E_PYTHON:
    case CC_E_NONE:
        return PyExc_RuntimeError;
    case CC_E_PY_OVERFLOW:
        return PyExc_OverflowError;
    case CC_E_PY_TYPE:
        return PyExc_TypeError;
    case CC_E_PY_KEY:
        return PyExc_KeyError;
    case CC_E_PY_NOT_IMPLEMENTED:
        return PyExc_NotImplementedError;
    case CC_E_NO_MEMORY:
        return PyExc_MemoryError;
    default:
        return PyExc_ValueError;
    }
}

int
cc_py_errors_init(PyObject *module)
{
    for (int k = 0; k < CC_E_COUNT; k++) {
        if (rows[k].py_name == NULL) {
            cc_py_exceptions[k] = builtin_for((cc_error_kind)k);
            continue;
        }
        PyObject *base = cc_py_exceptions[rows[k].parent];
        char qualified[160];
        PyOS_snprintf(qualified, sizeof qualified, "circuits.%s", rows[k].py_name);
        PyObject *cls = PyErr_NewException(qualified, base, NULL);
        if (cls == NULL) {
            return -1;
        }
        if (PyModule_AddObjectRef(module, rows[k].py_name, cls) < 0) {
            Py_DECREF(cls);
            return -1;
        }
        // The module keeps the class alive for the life of the process.
        cc_py_exceptions[k] = cls;
        Py_DECREF(cls);
    }
    return 0;
}

PyObject *
cc_py_raise(void)
{
    cc_error_kind kind = cc_error_kind_get();
    if (kind == CC_E_PYTHON && PyErr_Occurred()) {
        return NULL; // the callback's own exception is still set
    }
    if (kind == CC_E_NONE) {
        PyErr_SetString(PyExc_RuntimeError, "circuits: internal error without a message");
        return NULL;
    }
    PyErr_SetString(cc_py_exceptions[kind], cc_error_message());
    cc_error_clear();
    return NULL;
}

int
cc_py_raise_int(void)
{
    cc_py_raise();
    return -1;
}

PyObject *
cc_py_raise_kind(int kind, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    PyObject *msg = PyUnicode_FromFormatV(fmt, ap);
    va_end(ap);
    if (msg == NULL) {
        return NULL;
    }
    PyErr_SetObject(cc_py_exceptions[kind], msg);
    Py_DECREF(msg);
    return NULL;
}
