// circuits.Conv: rc's channels-last convolution, with rc's padding shorthands (an int for
// every axis, one int per axis, or one (before, after) pair per axis).
#include "python/bindings.h"

#include "util/error.h"

#define NODE(self) (((cc_py_node *)(self))->node)
#define CONV_ARG_MAX 8

// A non-negative int (rc takes usize: a negative one is an OverflowError).
static int
usize_arg(PyObject *obj, const char *what, int64_t *out)
{
    if (PyBool_Check(obj) || !PyLong_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "Conv: %s must be an int, got %s", what,
                     Py_TYPE(obj)->tp_name);
        return -1;
    }
    long long v = PyLong_AsLongLong(obj);
    if (v == -1 && PyErr_Occurred()) {
        return -1;
    }
    if (v < 0) {
        PyErr_Format(PyExc_OverflowError, "Conv: %s must be non-negative, got %lld", what, v);
        return -1;
    }
    *out = v;
    return 0;
}

// A list of at most CONV_ARG_MAX items; new reference from PySequence_Fast, or NULL.
static PyObject *
short_list(PyObject *obj, const char *what)
{
    PyObject *fast = PySequence_Fast(obj, what);
    if (fast != NULL && PySequence_Fast_GET_SIZE(fast) > CONV_ARG_MAX) {
        PyErr_Format(PyExc_ValueError, "Conv: %zd values in %s; Conv takes at most 3 axes",
                     PySequence_Fast_GET_SIZE(fast), what);
        Py_CLEAR(fast);
    }
    return fast;
}

// rc's ConvPaddingShorthand: an int, a list of ints, or a list of (before, after) pairs.
static int
padding_arg(PyObject *obj, int n_stride, int64_t *padding, int *n_padding)
{
    int64_t v;
    if (PyLong_Check(obj) && !PyBool_Check(obj)) {
        if (usize_arg(obj, "padding", &v) < 0) {
            return -1;
        }
        for (int i = 0; i < 2 * n_stride; i++) {
            padding[i] = v;
        }
        *n_padding = n_stride;
        return 0;
    }
    PyObject *fast = short_list(obj, "padding must be an int, a list of ints or a list of "
                                     "(int, int) pairs");
    if (fast == NULL) {
        return -1;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(fast, i);
        if (PyLong_Check(item)) {
            if (usize_arg(item, "padding", &v) < 0) {
                Py_DECREF(fast);
                return -1;
            }
            padding[2 * i] = padding[2 * i + 1] = v;
            continue;
        }
        PyObject *pair = PySequence_Check(item) ? PySequence_Tuple(item) : NULL;
        if (pair == NULL || PyTuple_GET_SIZE(pair) != 2) {
            Py_XDECREF(pair);
            Py_DECREF(fast);
            PyErr_SetString(PyExc_TypeError, "Conv: padding must be an int, a list of ints or a "
                                             "list of (int, int) pairs");
            return -1;
        }
        int rc = usize_arg(PyTuple_GET_ITEM(pair, 0), "padding", &padding[2 * i]) < 0 ||
                         usize_arg(PyTuple_GET_ITEM(pair, 1), "padding", &padding[2 * i + 1]) < 0
                     ? -1
                     : 0;
        Py_DECREF(pair);
        if (rc < 0) {
            Py_DECREF(fast);
            return -1;
        }
    }
    *n_padding = (int)n;
    Py_DECREF(fast);
    return 0;
}

static PyObject *
conv_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    (void)type;
    static char *kwlist[] = {"input", "filter", "stride", "padding", "name", NULL};
    PyObject *input_obj, *filter_obj, *stride_obj, *padding_obj = NULL, *name_obj = Py_None;
    const char *name;
    cc_node *input, *filter;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOO|OO:Conv", kwlist, &input_obj, &filter_obj,
                                     &stride_obj, &padding_obj, &name_obj) ||
        cc_py_name_arg(name_obj, &name) < 0 || !cc_py_node_check(input_obj, "input", &input) ||
        !cc_py_node_check(filter_obj, "filter", &filter)) {
        return NULL;
    }
    PyObject *fast = short_list(stride_obj, "stride must be a list of ints");
    if (fast == NULL) {
        return NULL;
    }
    int64_t stride[CONV_ARG_MAX], padding[2 * CONV_ARG_MAX];
    int n_stride = (int)PySequence_Fast_GET_SIZE(fast), n_padding = 0;
    for (int i = 0; i < n_stride; i++) {
        if (usize_arg(PySequence_Fast_GET_ITEM(fast, i), "stride", &stride[i]) < 0) {
            Py_DECREF(fast);
            return NULL;
        }
    }
    Py_DECREF(fast);
    if (padding_obj == NULL) {
        for (int i = 0; i < 2 * n_stride; i++) {
            padding[i] = 0;
        }
        n_padding = n_stride;
    } else if (padding_arg(padding_obj, n_stride, padding, &n_padding) < 0) {
        return NULL;
    }
    return cc_py_wrap_steal(cc_conv_new(input, filter, n_stride, stride, n_padding, padding, name));
}

static PyObject *
conv_stride(PyObject *self, void *closure)
{
    (void)closure;
    const cc_node *n = NODE(self);
    PyObject *l = PyList_New(n->u.conv.dims);
    for (int i = 0; l != NULL && i < n->u.conv.dims; i++) {
        PyObject *v = PyLong_FromLongLong(n->u.conv.params[i]);
        if (v == NULL) {
            Py_CLEAR(l);
            break;
        }
        PyList_SET_ITEM(l, i, v);
    }
    return l;
}

static PyObject *
conv_padding(PyObject *self, void *closure)
{
    (void)closure;
    const cc_node *n = NODE(self);
    int d = n->u.conv.dims;
    PyObject *l = PyList_New(d);
    for (int i = 0; l != NULL && i < d; i++) {
        PyObject *v = Py_BuildValue("(LL)", (long long)n->u.conv.params[d + 2 * i],
                                    (long long)n->u.conv.params[d + 2 * i + 1]);
        if (v == NULL) {
            Py_CLEAR(l);
            break;
        }
        PyList_SET_ITEM(l, i, v);
    }
    return l;
}

static PyObject *
conv_input(PyObject *self, void *closure)
{
    (void)closure;
    return cc_py_wrap(NODE(self)->children[0]);
}

static PyObject *
conv_filter(PyObject *self, void *closure)
{
    (void)closure;
    return cc_py_wrap(NODE(self)->children[1]);
}

static PyObject *
conv_dims(PyObject *self, PyObject *unused)
{
    (void)unused;
    return PyLong_FromLong(NODE(self)->u.conv.dims);
}

static PyObject *
conv_input_batch_shape(PyObject *self, PyObject *unused)
{
    (void)unused;
    const cc_node *n = NODE(self);
    return cc_py_shape_tuple(n->ndim - 1 - n->u.conv.dims, n->children[0]->shape);
}

static PyGetSetDef conv_getset[] = {
    {"input", conv_input, NULL, "The input (batch..., conv axes..., in channels).", NULL},
    {"filter", conv_filter, NULL, "The filter (out channels, kernel axes..., in channels).", NULL},
    {"stride", conv_stride, NULL, "The stride of each conv axis.", NULL},
    {"strides", conv_stride, NULL, "The stride of each conv axis (as stride).", NULL},
    {"padding", conv_padding, NULL, "The (before, after) zero padding of each conv axis.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef conv_methods[] = {
    {"dims", conv_dims, METH_NOARGS, "The number of conv axes."},
    {"input_batch_shape", conv_input_batch_shape, METH_NOARGS,
     "The input's leading (batch) sizes."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot conv_slots[] = {
    {Py_tp_new, conv_new},
    {Py_tp_getset, conv_getset},
    {Py_tp_methods, conv_methods},
    {Py_tp_doc, "Conv(input, filter, stride, padding=0, name=None): channels-last convolution "
                "of input (batch..., conv axes..., in channels) with filter (out channels, "
                "kernel axes..., in channels); padding is an int, one int per axis, or one "
                "(before, after) pair per axis."},
    {0, NULL},
};

PyType_Spec cc_py_conv_spec = {
    .name = "circuits.Conv",
    .basicsize = sizeof(cc_py_node),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = conv_slots,
};
