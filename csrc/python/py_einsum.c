// circuits.Einsum: contraction of children labelled by integer axes, plus the
// einsum-string constructors.
#include "python/bindings.h"
#include "nodes/einsum_string.h"
#include "util/alloc.h"
#include "util/error.h"

#define NODE(self) (((cc_py_node *)(self))->node)

// A sequence of ints in 0..255 -> labels; *n set. -1 with an exception otherwise.
static int
labels_arg(PyObject *obj, uint8_t *out, int cap, int *n)
{
    PyObject *fast = PySequence_Fast(obj, "einsum axes must be a sequence of ints");
    if (fast == NULL) {
        return -1;
    }
    Py_ssize_t len = PySequence_Fast_GET_SIZE(fast);
    if (len > cap) {
        Py_DECREF(fast);
        PyErr_Format(PyExc_ValueError, "einsum operand has %zd axes; at most %d are supported", len,
                     cap);
        return -1;
    }
    for (Py_ssize_t i = 0; i < len; i++) {
        long v = PyLong_AsLong(PySequence_Fast_GET_ITEM(fast, i));
        if (v == -1 && PyErr_Occurred()) {
            Py_DECREF(fast);
            return -1;
        }
        if (v < 0 || v > 255) {
            Py_DECREF(fast);
            PyErr_Format(PyExc_ValueError, "einsum axis labels are ints in 0..255, got %ld", v);
            return -1;
        }
        out[i] = (uint8_t)v;
    }
    *n = (int)len;
    Py_DECREF(fast);
    return 0;
}

static PyObject *
einsum_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    (void)type;
    PyObject *out_obj = kwds ? PyDict_GetItemString(kwds, "out_axes") : NULL;
    PyObject *name_obj = kwds ? PyDict_GetItemString(kwds, "name") : NULL;
    const char *name;
    if (out_obj == NULL) {
        PyErr_SetString(PyExc_TypeError, "Einsum() needs out_axes= (keyword)");
        return NULL;
    }
    if (PyDict_Size(kwds) != 1 + (name_obj != NULL)) {
        PyErr_SetString(PyExc_TypeError,
                        "Einsum() takes (circuit, axes) pairs, out_axes= and an optional name=");
        return NULL;
    }
    if (cc_py_name_arg(name_obj, &name) < 0) {
        return NULL;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(args);
    size_t slots = (size_t)(n ? n : 1);
    cc_node **children = PyMem_Malloc(sizeof(cc_node *) * slots);
    int *n_axes = PyMem_Malloc(sizeof(int) * slots);
    uint8_t *in_axes = PyMem_Malloc(slots * CC_MAX_NDIM);
    uint8_t out_axes[CC_MAX_NDIM];
    PyObject *out = NULL;
    if (children == NULL || n_axes == NULL || in_axes == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    int total = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *pair = PyTuple_GET_ITEM(args, i);
        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
            PyErr_Format(PyExc_TypeError, "Einsum operand %zd must be a (circuit, axes) tuple", i);
            goto done;
        }
        if (!cc_py_node_check(PyTuple_GET_ITEM(pair, 0), "each Einsum operand", &children[i]) ||
            labels_arg(PyTuple_GET_ITEM(pair, 1), in_axes + total, CC_MAX_NDIM, &n_axes[i]) < 0) {
            goto done;
        }
        total += n_axes[i];
    }
    cc_einsum_labels labels = {
        .n_operands = (int)n, .n_axes = n_axes, .in_axes = in_axes, .out_axes = out_axes};
    if (labels_arg(out_obj, out_axes, CC_MAX_NDIM, &labels.n_out) < 0) {
        goto done;
    }
    out = cc_py_wrap_steal(cc_einsum_new_from_labels((int)n, children, &labels, name));
done:
    PyMem_Free(children);
    PyMem_Free(n_axes);
    PyMem_Free(in_axes);
    return out;
}

static PyObject *
from_string_impl(PyObject *args, PyObject *kwds, int fancy)
{
    PyObject *name_obj = kwds ? PyDict_GetItemString(kwds, "name") : NULL;
    const char *name;
    if (kwds != NULL && PyDict_Size(kwds) != (name_obj != NULL)) {
        PyErr_SetString(PyExc_TypeError, "takes a string, circuits and an optional name=");
        return NULL;
    }
    if (cc_py_name_arg(name_obj, &name) < 0) {
        return NULL;
    }
    if (PyTuple_GET_SIZE(args) < 1 || !PyUnicode_Check(PyTuple_GET_ITEM(args, 0))) {
        PyErr_SetString(PyExc_TypeError, "the first argument must be the einsum string");
        return NULL;
    }
    const char *s = PyUnicode_AsUTF8(PyTuple_GET_ITEM(args, 0));
    PyObject *rest = PyTuple_GetSlice(args, 1, PyTuple_GET_SIZE(args));
    if (s == NULL || rest == NULL) {
        Py_XDECREF(rest);
        return NULL;
    }
    cc_node **children;
    Py_ssize_t n;
    PyObject *out = NULL;
    if (cc_py_nodes_from_seq(rest, "each einsum operand", &children, &n) == 0) {
        out = cc_py_wrap_steal(cc_einsum_new_from_string(s, fancy, (int)n, children, name));
        PyMem_Free(children);
    }
    Py_DECREF(rest);
    return out;
}

static PyObject *
einsum_from_einsum_string(PyObject *cls, PyObject *args, PyObject *kwds)
{
    (void)cls;
    return from_string_impl(args, kwds, 0);
}

static PyObject *
einsum_from_fancy_string(PyObject *cls, PyObject *args, PyObject *kwds)
{
    (void)cls;
    return from_string_impl(args, kwds, 1);
}

static PyObject *
labels_tuple(const uint8_t *labels, int n)
{
    PyObject *t = PyTuple_New(n);
    for (int i = 0; t != NULL && i < n; i++) {
        PyObject *v = PyLong_FromLong(labels[i]);
        if (v == NULL) {
            Py_CLEAR(t);
            break;
        }
        PyTuple_SET_ITEM(t, i, v);
    }
    return t;
}

static PyObject *
einsum_in_axes(PyObject *self, void *closure)
{
    (void)closure;
    cc_node *n = NODE(self);
    PyObject *list = PyList_New(n->n_children);
    for (int i = 0; list != NULL && i < n->n_children; i++) {
        PyObject *t = labels_tuple(cc_einsum_child_axes(n, i), n->children[i]->ndim);
        if (t == NULL) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, i, t);
    }
    return list;
}

static PyObject *
einsum_out_axes(PyObject *self, void *closure)
{
    (void)closure;
    cc_node *n = NODE(self);
    return labels_tuple(n->u.einsum.out_axes, n->ndim);
}

static PyObject *
einsum_string(PyObject *self, PyObject *unused)
{
    (void)unused;
    char *s = cc_einsum_to_string(NODE(self));
    if (s == NULL) {
        return cc_py_raise();
    }
    PyObject *out = PyUnicode_FromString(s);
    cc_free(s);
    return out;
}

static PyGetSetDef einsum_getset[] = {
    {"in_axes", einsum_in_axes, NULL, "The labels of each operand, as tuples.", NULL},
    {"out_axes", einsum_out_axes, NULL, "The labels of the output.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef einsum_methods[] = {
    {"from_einsum_string", (PyCFunction)(void (*)(void))einsum_from_einsum_string,
     METH_VARARGS | METH_KEYWORDS | METH_CLASS,
     "from_einsum_string('ij,jk->ik', a, b, name=None) -> Einsum"},
    {"from_fancy_string", (PyCFunction)(void (*)(void))einsum_from_fancy_string,
     METH_VARARGS | METH_KEYWORDS | METH_CLASS,
     "from_fancy_string('batch in, in out -> batch out', a, b, name=None) -> Einsum"},
    {"to_einsum_string", einsum_string, METH_NOARGS, "The einsum string, e.g. 'ab,bc->ac'."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot einsum_slots[] = {
    {Py_tp_new, einsum_new},
    {Py_tp_getset, einsum_getset},
    {Py_tp_methods, einsum_methods},
    {Py_tp_doc, "Einsum(*(circuit, axes), out_axes, name=None): contraction over integer axis "
                "labels; labels missing from out_axes are summed."},
    {0, NULL},
};

PyType_Spec cc_py_einsum_spec = {
    .name = "circuits.Einsum",
    .basicsize = sizeof(cc_py_node),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = einsum_slots,
};
