// circuits.Concat: concatenation of its children along one axis.
#include "python/bindings.h"

#define NODE(self) (((cc_py_node *)(self))->node)

static PyObject *
concat_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    (void)type;
    PyObject *axis_obj = kwds ? PyDict_GetItemString(kwds, "axis") : NULL;
    PyObject *name_obj = kwds ? PyDict_GetItemString(kwds, "name") : NULL;
    const char *name;
    if (axis_obj == NULL) {
        PyErr_SetString(PyExc_TypeError, "Concat() needs axis= (keyword)");
        return NULL;
    }
    if (PyDict_Size(kwds) != 1 + (name_obj != NULL)) {
        PyErr_SetString(PyExc_TypeError, "Concat() takes circuits, axis= and an optional name=");
        return NULL;
    }
    long axis = PyLong_AsLong(axis_obj);
    if ((axis == -1 && PyErr_Occurred()) || cc_py_name_arg(name_obj, &name) < 0) {
        return NULL;
    }
    cc_node **children;
    Py_ssize_t n;
    if (cc_py_nodes_from_seq(args, "each operand of Concat", &children, &n) < 0) {
        return NULL;
    }
    PyObject *out = cc_py_wrap_steal(cc_concat_new((int)n, children, (int)axis, name));
    PyMem_Free(children);
    return out;
}

static PyObject *
concat_axis(PyObject *self, void *closure)
{
    (void)closure;
    return PyLong_FromLong(NODE(self)->u.concat.axis);
}

static PyGetSetDef concat_getset[] = {
    {"axis", concat_axis, NULL, "The concatenation axis (non-negative).", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot concat_slots[] = {
    {Py_tp_new, concat_new},
    {Py_tp_getset, concat_getset},
    {Py_tp_doc, "Concat(*circuits, axis, name=None): concatenation along axis."},
    {0, NULL},
};

PyType_Spec cc_py_concat_spec = {
    .name = "circuits.Concat",
    .basicsize = sizeof(cc_py_node),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = concat_slots,
};
