// Bindings of named axes (nodes/named_axes.h): rc's set_named_axes and propagate_named_axes,
// and the {axis: name} dict a node's named_axes property gives. Only translates.
#include "python/bindings.h"

#include <limits.h>

#include "nodes/named_axes.h"

// A {int: str} dict as arrays (names borrowed from the dict's strings, which the caller keeps
// alive through the dict). Axes are 0..255 as rc's u8 keys. *axes and *names freed with
// PyMem_Free. 0, or -1 with an exception.
static int
named_axes_arg(PyObject *obj, int *count, int **axes, const char ***names)
{
    *axes = NULL;
    *names = NULL;
    *count = 0;
    if (!PyDict_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "named_axes: expected a dict {axis: name}, got %s",
                     Py_TYPE(obj)->tp_name);
        return -1;
    }
    Py_ssize_t n = PyDict_Size(obj);
    if (n > INT_MAX) {
        PyErr_SetString(PyExc_OverflowError, "named_axes: too many entries");
        return -1;
    }
    *axes = PyMem_Malloc((size_t)(n > 0 ? n : 1) * sizeof(int));
    *names = PyMem_Malloc((size_t)(n > 0 ? n : 1) * sizeof(char *));
    if (*axes == NULL || *names == NULL) {
        PyErr_NoMemory();
        goto fail;
    }
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    while (PyDict_Next(obj, &pos, &key, &value)) {
        if (!PyLong_Check(key)) {
            PyErr_Format(PyExc_TypeError, "named_axes: axis keys must be ints, got %s",
                         Py_TYPE(key)->tp_name);
            goto fail;
        }
        long axis = PyLong_AsLong(key);
        if (axis == -1 && PyErr_Occurred()) {
            goto fail;
        }
        if (axis < 0 || axis > 255) {
            PyErr_Format(PyExc_OverflowError, "named_axes: axis %ld is not in 0..255", axis);
            goto fail;
        }
        if (!PyUnicode_Check(value)) {
            PyErr_Format(PyExc_TypeError, "named_axes: the name of axis %ld must be a str, got %s",
                         axis, Py_TYPE(value)->tp_name);
            goto fail;
        }
        const char *name = PyUnicode_AsUTF8(value);
        if (name == NULL) {
            goto fail;
        }
        (*axes)[*count] = (int)axis;
        (*names)[*count] = name;
        (*count)++;
    }
    return 0;
fail:
    PyMem_Free(*axes);
    PyMem_Free((void *)*names);
    *axes = NULL;
    *names = NULL;
    return -1;
}

PyObject *
cc_py_named_axes_dict(const cc_node *n)
{
    PyObject *d = PyDict_New();
    const cc_named_axes *a = n->named_axes;
    for (int k = 0; d != NULL && a != NULL && k < a->n; k++) {
        PyObject *key = PyLong_FromLong(a->items[k].axis);
        PyObject *value = key == NULL ? NULL : PyUnicode_FromString(a->items[k].name);
        if (value == NULL || PyDict_SetItem(d, key, value) < 0) {
            Py_XDECREF(key);
            Py_XDECREF(value);
            Py_DECREF(d);
            return NULL;
        }
        Py_DECREF(key);
        Py_DECREF(value);
    }
    return d;
}

PyObject *
cc_py_set_named_axes(PyObject *circuit, PyObject *named_axes)
{
    cc_node *n;
    if (!cc_py_node_check(circuit, "set_named_axes: circuit", &n)) {
        return NULL;
    }
    int count;
    int *axes;
    const char **names;
    if (named_axes_arg(named_axes, &count, &axes, &names) < 0) {
        return NULL;
    }
    cc_node *out = cc_node_set_named_axes(n, count, axes, names);
    PyMem_Free(axes);
    PyMem_Free((void *)names);
    return cc_py_wrap_steal(out);
}

static PyObject *
py_set_named_axes(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    static char *kwlist[] = {"circuit", "named_axes", NULL};
    PyObject *circuit, *named_axes;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO:set_named_axes", kwlist, &circuit,
                                     &named_axes)) {
        return NULL;
    }
    return cc_py_set_named_axes(circuit, named_axes);
}

static PyObject *
py_propagate_named_axes(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    static char *kwlist[] = {"circuit", "named_axes", "do_merge", NULL};
    PyObject *circuit, *named_axes;
    int abort_on_branch = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO|p:propagate_named_axes", kwlist, &circuit,
                                     &named_axes, &abort_on_branch)) {
        return NULL;
    }
    cc_node *n;
    if (!cc_py_node_check(circuit, "propagate_named_axes: circuit", &n)) {
        return NULL;
    }
    int count;
    int *axes;
    const char **names;
    if (named_axes_arg(named_axes, &count, &axes, &names) < 0) {
        return NULL;
    }
    cc_node *out = cc_node_propagate_named_axes(n, count, axes, names, abort_on_branch);
    PyMem_Free(axes);
    PyMem_Free((void *)names);
    return cc_py_wrap_steal(out);
}

// rc's child_axis_map: per child, per child axis, the axis it becomes or None.
static PyObject *
py_child_axis_map(PyObject *self, PyObject *arg)
{
    (void)self;
    cc_node *n;
    if (!cc_py_node_check(arg, "child_axis_map: circuit", &n)) {
        return NULL;
    }
    PyObject *out = PyList_New(n->n_children);
    for (int i = 0; out != NULL && i < n->n_children; i++) {
        int to[CC_MAX_NDIM];
        PyObject *row =
            cc_node_child_axis_map(n, i, to) < 0 ? cc_py_raise() : PyList_New(n->children[i]->ndim);
        for (int j = 0; row != NULL && j < n->children[i]->ndim; j++) {
            PyObject *v = to[j] < 0 ? Py_NewRef(Py_None) : PyLong_FromLong(to[j]);
            if (v == NULL) {
                Py_CLEAR(row);
                break;
            }
            PyList_SET_ITEM(row, j, v);
        }
        if (row == NULL) {
            Py_CLEAR(out);
            break;
        }
        PyList_SET_ITEM(out, i, row);
    }
    return out;
}

PyMethodDef cc_py_named_axes_methods[] = {
    {"set_named_axes", (PyCFunction)(void (*)(void))py_set_named_axes, METH_VARARGS | METH_KEYWORDS,
     "set_named_axes(circuit, named_axes)\n--\n\nThe circuit with these axis names ({axis: "
     "name}; an empty dict: the names its children give it)."},
    {"propagate_named_axes", (PyCFunction)(void (*)(void))py_propagate_named_axes,
     METH_VARARGS | METH_KEYWORDS,
     "propagate_named_axes(circuit, named_axes, do_merge=True)\n--\n\nNames the circuit's axes "
     "and every descendant axis that becomes one of them, over the names nodes already have. "
     "The third argument is rc's abort_on_branch: names stop at an Einsum that repeats a label "
     "within one operand."},
    {"_child_axis_map", py_child_axis_map, METH_O,
     "_child_axis_map(circuit)\n--\n\nrc's child_axis_map: per child, per child axis, the "
     "circuit's axis it becomes, or None."},
    {NULL, NULL, 0, NULL},
};
