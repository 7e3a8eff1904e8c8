// circuits.Array: a leaf holding a tensor (numpy, torch or any array-like).
#include "python/bindings.h"

#define NODE(self) (((cc_py_node *)(self))->node)

static PyObject *
array_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    (void)type;
    static char *kwlist[] = {"value", "name", NULL};
    PyObject *value, *name_obj = Py_None;
    const char *name;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|O:Array", kwlist, &value, &name_obj) ||
        cc_py_name_arg(name_obj, &name) < 0) {
        return NULL;
    }
    cc_tensor t;
    if (cc_py_to_tensor(value, &t, 1) < 0) {
        return NULL;
    }
    cc_node *n = cc_array_new(&t, name);
    cc_tensor_clear(&t);
    return cc_py_wrap_steal(n);
}

static PyObject *
array_value(PyObject *self, void *closure)
{
    (void)closure;
    return cc_py_tensor_to_value(NODE(self)->u.array.value);
}

static PyObject *
array_tensor_hash_base16(PyObject *self, PyObject *unused)
{
    (void)unused;
    return cc_py_hex(NODE(self)->u.array.tensor_hash, 32);
}

static PyGetSetDef array_getset[] = {
    {"value", array_value, NULL,
     "The tensor, as the result type (torch when installed, else numpy).", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef array_methods[] = {
    {"tensor_hash_base16", array_tensor_hash_base16, METH_NOARGS,
     "rc's hash of the tensor (shape, dtype, device, bytes) in hexadecimal."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot array_slots[] = {
    {Py_tp_new, array_new},
    {Py_tp_getset, array_getset},
    {Py_tp_methods, array_methods},
    {Py_tp_doc, "Array(value, name=None): a constant tensor. Python floats become float32."},
    {0, NULL},
};

PyType_Spec cc_py_array_spec = {
    .name = "circuits.Array",
    .basicsize = sizeof(cc_py_node),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = array_slots,
};
