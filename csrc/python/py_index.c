// circuits.Index: per-axis ("dimwise") indexing by ints, slices and int64 tensors.
#include "python/bindings.h"

#include <string.h>

#include "util/error.h"

#define NODE(self) (((cc_py_node *)(self))->node)

static int
slice_bound(PyObject *v, int *has, int64_t *out, const char *which)
{
    if (v == Py_None) {
        *has = 0;
        return 0;
    }
    long long x = PyLong_AsLongLong(v);
    if (x == -1 && PyErr_Occurred()) {
        PyErr_Format(PyExc_TypeError, "Index: slice %s must be an int or None", which);
        return -1;
    }
    *has = 1;
    *out = x;
    return 0;
}

// Python ints and 0-d integer scalars (numpy.int64(3)) index like ints; bools do not.
static int
is_int_like(PyObject *obj)
{
    if (PyBool_Check(obj) || !PyIndex_Check(obj)) {
        return 0;
    }
    if (PyLong_Check(obj)) {
        return 1;
    }
    PyObject *ndim = PyObject_GetAttrString(obj, "ndim");
    if (ndim == NULL) {
        PyErr_Clear();
        return 1;
    }
    int scalar = PyLong_Check(ndim) && PyLong_AsLong(ndim) == 0;
    Py_DECREF(ndim);
    return scalar;
}

static int
parse_item(PyObject *obj, int axis, cc_index_item *item)
{
    memset(item, 0, sizeof *item);
    if (is_int_like(obj)) {
        item->kind = CC_INDEX_INT;
        PyObject *as_int = PyNumber_Index(obj);
        item->i = as_int ? PyLong_AsLongLong(as_int) : -1;
        Py_XDECREF(as_int);
        return (item->i == -1 && PyErr_Occurred()) ? -1 : 0;
    }
    if (PySlice_Check(obj)) {
        PySliceObject *s = (PySliceObject *)obj;
        if (s->step != Py_None) {
            PyErr_Format(PyExc_ValueError,
                         "Index: slice at axis %d has a step; only "
                         "start:stop slices are supported",
                         axis);
            return -1;
        }
        item->kind = CC_INDEX_SLICE;
        if (slice_bound(s->start, &item->has_start, &item->start, "start") < 0 ||
            slice_bound(s->stop, &item->has_stop, &item->stop, "stop") < 0) {
            return -1;
        }
        return 0;
    }
    cc_tensor t;
    if (cc_py_to_tensor(obj, &t, 0) < 0) {
        item->kind = CC_INDEX_INT;
        return -1;
    }
    return cc_index_item_set_tensor(item, &t) < 0 ? cc_py_raise_int() : 0;
}

int
cc_py_index_arg(PyObject *idx, cc_index_item **out, int *n_out)
{
    PyObject *seq;
    if (PyTuple_Check(idx) || PyList_Check(idx)) {
        seq = Py_NewRef(idx);
    } else {
        seq = PyTuple_Pack(1, idx);
        if (seq == NULL) {
            return -1;
        }
    }
    Py_ssize_t n = PySequence_Size(seq);
    if (n < 0) {
        Py_DECREF(seq);
        return -1;
    }
    if (n > CC_MAX_NDIM) {
        Py_DECREF(seq);
        cc_py_raise_kind(CC_E_INDEX_INDEX_RANK_TOO_HIGH,
                         "Index has %zd entries, more than any supported rank", n);
        return -1;
    }
    cc_index_item *items = PyMem_Calloc((size_t)(n ? n : 1), sizeof *items);
    if (items == NULL) {
        Py_DECREF(seq);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *obj = PySequence_GetItem(seq, i);
        int rc = obj ? parse_item(obj, (int)i, &items[i]) : -1;
        Py_XDECREF(obj);
        if (rc < 0) {
            cc_index_items_clear(items, (int)i);
            PyMem_Free(items);
            Py_DECREF(seq);
            return -1;
        }
    }
    Py_DECREF(seq);
    *out = items;
    *n_out = (int)n;
    return 0;
}

static PyObject *
index_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    (void)type;
    static char *kwlist[] = {"node", "index", "name", NULL};
    PyObject *node_obj, *idx_obj, *name_obj = Py_None;
    const char *name;
    cc_node *child;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO|O:Index", kwlist, &node_obj, &idx_obj,
                                     &name_obj) ||
        cc_py_name_arg(name_obj, &name) < 0 || !cc_py_node_check(node_obj, "node", &child)) {
        return NULL;
    }
    cc_index_item *items;
    int n;
    if (cc_py_index_arg(idx_obj, &items, &n) < 0) {
        return NULL;
    }
    cc_node *out = cc_index_new(child, n, items, name);
    cc_index_items_clear(items, n);
    PyMem_Free(items);
    return cc_py_wrap_steal(out);
}

static PyObject *
item_object(const cc_index_item *item)
{
    switch (item->kind) {
    case CC_INDEX_INT:
        return PyLong_FromLongLong(item->i);
    case CC_INDEX_SLICE: {
        PyObject *start = item->has_start ? PyLong_FromLongLong(item->start) : Py_NewRef(Py_None);
        PyObject *stop = item->has_stop ? PyLong_FromLongLong(item->stop) : Py_NewRef(Py_None);
        PyObject *s = (start && stop) ? PySlice_New(start, stop, NULL) : NULL;
        Py_XDECREF(start);
        Py_XDECREF(stop);
        return s;
    }
    default:
        return cc_py_tensor_to_value(&item->tensor->value);
    }
}

static PyObject *
index_idx(PyObject *self, void *closure)
{
    (void)closure;
    cc_node *n = NODE(self);
    PyObject *t = PyTuple_New(n->u.index.n_items);
    if (t == NULL) {
        return NULL;
    }
    for (int i = 0; i < n->u.index.n_items; i++) {
        PyObject *v = item_object(&n->u.index.items[i]);
        if (v == NULL) {
            Py_DECREF(t);
            return NULL;
        }
        PyTuple_SET_ITEM(t, i, v);
    }
    return t;
}

static PyObject *
index_node(PyObject *self, void *closure)
{
    (void)closure;
    return cc_py_wrap(NODE(self)->children[0]);
}

static PyGetSetDef index_getset[] = {
    {"idx", index_idx, NULL, "One entry per axis: int, slice or int64 array.", NULL},
    {"node", index_node, NULL, "The indexed circuit.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot index_slots[] = {
    {Py_tp_new, index_new},
    {Py_tp_getset, index_getset},
    {Py_tp_doc, "Index(node, index, name=None): each entry (int, start:stop slice or 1-D int64 "
                "array) acts on its own axis; missing entries keep the axis."},
    {0, NULL},
};

PyType_Spec cc_py_index_spec = {
    .name = "circuits.Index",
    .basicsize = sizeof(cc_py_node),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = index_slots,
};
