// circuits.Scalar: a constant tensor of one value (float64 when evaluated alone).
#include "python/bindings.h"

#define NODE(self) (((cc_py_node *)(self))->node)

static PyObject *
scalar_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    (void)type;
    static char *kwlist[] = {"value", "shape", "name", NULL};
    double value;
    PyObject *shape_obj = NULL, *name_obj = Py_None;
    const char *name;
    int ndim = 0;
    int64_t shape[CC_MAX_NDIM];
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "d|OO:Scalar", kwlist, &value, &shape_obj,
                                     &name_obj) ||
        cc_py_name_arg(name_obj, &name) < 0) {
        return NULL;
    }
    if (shape_obj != NULL && cc_py_shape_arg(shape_obj, &ndim, shape) < 0) {
        return NULL;
    }
    return cc_py_wrap_steal(cc_scalar_new(value, ndim, shape, name));
}

static PyObject *
scalar_value(PyObject *self, void *closure)
{
    (void)closure;
    return PyFloat_FromDouble(NODE(self)->u.scalar.value);
}

static PyGetSetDef scalar_getset[] = {
    {"value", scalar_value, NULL, "The value.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot scalar_slots[] = {
    {Py_tp_new, scalar_new},
    {Py_tp_getset, scalar_getset},
    {Py_tp_doc, "Scalar(value, shape=(), name=None): a tensor of shape filled with value."},
    {0, NULL},
};

PyType_Spec cc_py_scalar_spec = {
    .name = "circuits.Scalar",
    .basicsize = sizeof(cc_py_node),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = scalar_slots,
};
