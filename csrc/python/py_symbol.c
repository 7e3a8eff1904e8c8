// circuits.Symbol: a placeholder of a shape, identified by a uuid and its name.
#include "python/bindings.h"

#define NODE(self) (((cc_py_node *)(self))->node)

static PyObject *
symbol_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    (void)type;
    static char *kwlist[] = {"shape", "uuid", "name", NULL};
    PyObject *shape_obj, *uuid_obj, *name_obj = Py_None;
    const char *name;
    int ndim;
    int64_t shape[CC_MAX_NDIM];
    uint8_t uuid[16];
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO|O:Symbol", kwlist, &shape_obj, &uuid_obj,
                                     &name_obj) ||
        cc_py_name_arg(name_obj, &name) < 0 || cc_py_shape_arg(shape_obj, &ndim, shape) < 0 ||
        cc_py_uuid_arg(uuid_obj, uuid) < 0) {
        return NULL;
    }
    return cc_py_wrap_steal(cc_symbol_new(ndim, shape, uuid, name));
}

static PyObject *
symbol_uuid(PyObject *self, void *closure)
{
    (void)closure;
    return cc_py_uuid_object(NODE(self)->u.symbol.uuid);
}

static PyGetSetDef symbol_getset[] = {
    {"uuid", symbol_uuid, NULL, "The uuid.UUID identifying the symbol.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot symbol_slots[] = {
    {Py_tp_new, symbol_new},
    {Py_tp_getset, symbol_getset},
    {Py_tp_doc, "Symbol(shape, uuid, name=None): a placeholder bound by a Module."},
    {0, NULL},
};

PyType_Spec cc_py_symbol_spec = {
    .name = "circuits.Symbol",
    .basicsize = sizeof(cc_py_node),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = symbol_slots,
};
