// Bindings of the hashing support: circuits._circuits._blake3 over any contiguous bytes-like
// object, with extendable output. Only translates; the hash is util/blake3.c's.
#include "python/py_hashing.h"

#include "util/blake3.h"

// Inputs or outputs past this size are hashed with the GIL released.
#define RELEASE_GIL_BYTES (1 << 20)

static PyObject *
py_blake3(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    static char *kwlist[] = {"data", "out_len", NULL};
    Py_buffer view;
    Py_ssize_t out_len = CC_BLAKE3_OUT_LEN;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "y*|n:_blake3", kwlist, &view, &out_len)) {
        return NULL;
    }
    if (out_len < 0) {
        PyBuffer_Release(&view);
        return PyErr_Format(PyExc_ValueError, "_blake3: out_len must be >= 0, got %zd", out_len);
    }
    PyObject *out = PyBytes_FromStringAndSize(NULL, out_len);
    if (out == NULL) {
        PyBuffer_Release(&view);
        return NULL;
    }
    // The new bytes object is referenced from here only, so it may be written without the GIL.
    uint8_t *dst = (uint8_t *)PyBytes_AS_STRING(out);
    cc_blake3 h;
    if (view.len > RELEASE_GIL_BYTES || out_len > RELEASE_GIL_BYTES) {
        Py_BEGIN_ALLOW_THREADS cc_blake3_init(&h);
        cc_blake3_update(&h, view.buf, (size_t)view.len);
        cc_blake3_final(&h, dst, (size_t)out_len);
        Py_END_ALLOW_THREADS
    } else {
        cc_blake3_init(&h);
        cc_blake3_update(&h, view.buf, (size_t)view.len);
        cc_blake3_final(&h, dst, (size_t)out_len);
    }
    PyBuffer_Release(&view);
    return out;
}

PyMethodDef cc_py_hashing_methods[] = {
    {"_blake3", (PyCFunction)(void (*)(void))py_blake3, METH_VARARGS | METH_KEYWORDS,
     "_blake3(data, out_len=32) -> bytes: BLAKE3 hash of a bytes-like object, out_len bytes "
     "of extendable output."},
    {NULL, NULL, 0, NULL},
};
