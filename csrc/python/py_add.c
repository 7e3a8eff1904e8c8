// circuits.Add: broadcasting sum of its children.
#include "python/bindings.h"

static PyObject *
add_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    (void)type;
    const char *name = NULL;
    if (kwds != NULL) {
        PyObject *name_obj = PyDict_GetItemString(kwds, "name");
        if (PyDict_Size(kwds) != (name_obj != NULL)) {
            PyErr_SetString(PyExc_TypeError, "Add() takes circuits and an optional name=");
            return NULL;
        }
        if (cc_py_name_arg(name_obj, &name) < 0) {
            return NULL;
        }
    }
    cc_node **children;
    Py_ssize_t n;
    if (cc_py_nodes_from_seq(args, "each operand of Add", &children, &n) < 0) {
        return NULL;
    }
    PyObject *out = cc_py_wrap_steal(cc_add_new((int)n, children, name));
    PyMem_Free(children);
    return out;
}

static PyType_Slot add_slots[] = {
    {Py_tp_new, add_new},
    {Py_tp_doc, "Add(*circuits, name=None): elementwise sum with numpy broadcasting."},
    {0, NULL},
};

PyType_Spec cc_py_add_spec = {
    .name = "circuits.Add",
    .basicsize = sizeof(cc_py_node),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = add_slots,
};
