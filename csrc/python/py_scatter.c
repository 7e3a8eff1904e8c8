// circuits.Scatter: its child written into zeros of a shape at start:stop slices.
#include "python/bindings.h"

#include "util/error.h"

#define NODE(self) (((cc_py_node *)(self))->node)

static PyObject *
scatter_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    (void)type;
    static char *kwlist[] = {"node", "index", "shape", "name", NULL};
    PyObject *node_obj, *idx_obj, *shape_obj, *name_obj = Py_None;
    const char *name;
    cc_node *child;
    int ndim;
    int64_t shape[CC_MAX_NDIM];
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOO|O:Scatter", kwlist, &node_obj, &idx_obj,
                                     &shape_obj, &name_obj) ||
        cc_py_name_arg(name_obj, &name) < 0 || !cc_py_node_check(node_obj, "node", &child) ||
        cc_py_shape_arg(shape_obj, &ndim, shape) < 0) {
        return NULL;
    }
    cc_index_item *items;
    int n;
    if (cc_py_index_arg(idx_obj, &items, &n) < 0) {
        return NULL;
    }
    cc_node *out = cc_scatter_new(child, n, items, ndim, shape, name);
    cc_index_items_clear(items, n);
    PyMem_Free(items);
    return cc_py_wrap_steal(out);
}

static PyObject *
scatter_idx(PyObject *self, void *closure)
{
    (void)closure;
    cc_node *n = NODE(self);
    PyObject *t = PyTuple_New(n->ndim);
    if (t == NULL) {
        return NULL;
    }
    for (int i = 0; i < n->ndim; i++) {
        PyObject *s = Py_BuildValue("(LL)", (long long)n->u.scatter.bounds[2 * i],
                                    (long long)n->u.scatter.bounds[2 * i + 1]);
        PyObject *slice =
            s ? PySlice_New(PyTuple_GET_ITEM(s, 0), PyTuple_GET_ITEM(s, 1), NULL) : NULL;
        Py_XDECREF(s);
        if (slice == NULL) {
            Py_DECREF(t);
            return NULL;
        }
        PyTuple_SET_ITEM(t, i, slice);
    }
    return t;
}

static PyObject *
scatter_node(PyObject *self, void *closure)
{
    (void)closure;
    return cc_py_wrap(NODE(self)->children[0]);
}

// rc's is_identity: the child already has the scatter's shape (so the slices are full).
static PyObject *
scatter_is_identity(PyObject *self, PyObject *unused)
{
    (void)unused;
    const cc_node *n = NODE(self);
    const cc_node *c = n->children[0];
    int same = c->ndim == n->ndim;
    for (int i = 0; same && i < n->ndim; i++) {
        same = c->shape[i] == n->shape[i];
    }
    return PyBool_FromLong(same);
}

static PyGetSetDef scatter_getset[] = {
    {"idx", scatter_idx, NULL, "One start:stop slice per axis (canonical: explicit bounds).", NULL},
    {"node", scatter_node, NULL, "The scattered circuit.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef scatter_methods[] = {
    {"is_identity", scatter_is_identity, METH_NOARGS,
     "True when the child has the scatter's shape (nothing is padded)."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot scatter_slots[] = {
    {Py_tp_new, scatter_new},
    {Py_tp_getset, scatter_getset},
    {Py_tp_methods, scatter_methods},
    {Py_tp_doc, "Scatter(node, index, shape, name=None): zeros of shape with node written at "
                "index, one start:stop slice per axis (missing ones are full). As "
                "torch.zeros(shape)[index] = node, dimwise."},
    {0, NULL},
};

PyType_Spec cc_py_scatter_spec = {
    .name = "circuits.Scatter",
    .basicsize = sizeof(cc_py_node),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = scatter_slots,
};
