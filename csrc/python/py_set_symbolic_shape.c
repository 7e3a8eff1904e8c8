// circuits.SetSymbolicShape: a child with its symbolic sizes pinned to given sizes.
#include "python/bindings.h"

#include "expand/expand.h"

#define NODE(self) (((cc_py_node *)(self))->node)

static PyObject *
sss_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    (void)type;
    static char *kwlist[] = {"node", "shape", "name", NULL};
    PyObject *node_obj, *shape_obj, *name_obj = Py_None;
    const char *name;
    cc_node *child;
    int ndim;
    int64_t shape[CC_MAX_NDIM];
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO|O:SetSymbolicShape", kwlist, &node_obj,
                                     &shape_obj, &name_obj) ||
        cc_py_name_arg(name_obj, &name) < 0 || !cc_py_node_check(node_obj, "node", &child) ||
        cc_py_shape_arg(shape_obj, &ndim, shape) < 0) {
        return NULL;
    }
    return cc_py_wrap_steal(cc_set_symbolic_shape_new(child, ndim, shape, name));
}

// A shape whose entries may be None ("keep"), of the node's rank; None becomes -1.
static int
op_shape_arg(PyObject *obj, const cc_node *node, int64_t *shape)
{
    PyObject *fast = PySequence_Fast(obj, "shape must be a sequence of ints or None");
    if (fast == NULL) {
        return -1;
    }
    Py_ssize_t len = PySequence_Fast_GET_SIZE(fast);
    if (len != node->ndim) {
        Py_DECREF(fast);
        PyErr_Format(PyExc_ValueError, "shape has %zd entries but the node has rank %d", len,
                     node->ndim);
        return -1;
    }
    for (Py_ssize_t i = 0; i < len; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(fast, i);
        if (item == Py_None) {
            shape[i] = -1;
            continue;
        }
        long long v = PyLong_AsLongLong(item);
        if (v == -1 && PyErr_Occurred()) {
            Py_DECREF(fast);
            return -1;
        }
        if (v < 0) {
            Py_DECREF(fast);
            PyErr_Format(PyExc_ValueError, "shape sizes must be >= 0, got %lld at axis %zd", v, i);
            return -1;
        }
        shape[i] = v;
    }
    Py_DECREF(fast);
    return 0;
}

static PyObject *
some_set(PyObject *args, PyObject *kwds, int only_symbolic)
{
    static char *kwlist[] = {"node", "shape", "name", NULL};
    PyObject *node_obj, *shape_obj, *name_obj = Py_None;
    const char *name;
    cc_node *node;
    int64_t shape[CC_MAX_NDIM];
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO|O", kwlist, &node_obj, &shape_obj,
                                     &name_obj) ||
        cc_py_name_arg(name_obj, &name) < 0 || !cc_py_node_check(node_obj, "node", &node) ||
        op_shape_arg(shape_obj, node, shape) < 0) {
        return NULL;
    }
    cc_node *out = only_symbolic
                       ? cc_set_symbolic_shape_some_set_and_symbolic_neq(node, shape, name)
                       : cc_set_symbolic_shape_some_set_neq(node, shape, name);
    return cc_py_wrap_steal(out);
}

static PyObject *
sss_some_set_neq(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    return some_set(args, kwds, 0);
}

static PyObject *
sss_some_set_and_symbolic_neq(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    return some_set(args, kwds, 1);
}

static PyObject *
sss_node(PyObject *self, void *closure)
{
    (void)closure;
    return cc_py_wrap(NODE(self)->children[0]);
}

static PyGetSetDef sss_getset[] = {
    {"node", sss_node, NULL, "The child whose sizes are pinned.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef sss_methods[] = {
    {"some_set_neq", (PyCFunction)(void (*)(void))sss_some_set_neq,
     METH_VARARGS | METH_KEYWORDS | METH_STATIC,
     "some_set_neq(node, shape, name=None): node with the non-None sizes of shape pinned, or "
     "node itself when they already hold."},
    {"some_set_and_symbolic_neq", (PyCFunction)(void (*)(void))sss_some_set_and_symbolic_neq,
     METH_VARARGS | METH_KEYWORDS | METH_STATIC,
     "some_set_and_symbolic_neq(node, shape, name=None): as some_set_neq, only on axes whose "
     "size is symbolic."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot sss_slots[] = {
    {Py_tp_new, sss_new},
    {Py_tp_getset, sss_getset},
    {Py_tp_methods, sss_methods},
    {Py_tp_doc, "SetSymbolicShape(node, shape, name=None): node with its symbolic sizes set to "
                "shape; records the constraints, not explicitly computable."},
    {0, NULL},
};

PyType_Spec cc_py_set_symbolic_shape_spec = {
    .name = "circuits.SetSymbolicShape",
    .basicsize = sizeof(cc_py_node),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = sss_slots,
};
