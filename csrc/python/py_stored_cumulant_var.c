// circuits.StoredCumulantVar: a random variable given by its cumulants ({number: circuit},
// numbers 1 and 2 required) and a uuid.
#include "python/bindings.h"
#include "sample/cumulant.h"

#define NODE(self) (((cc_py_node *)(self))->node)

// The variable of dict {int: Circuit} with uuid_obj (None: random) and name_obj.
static PyObject *
make_var(PyObject *dict, PyObject *uuid_obj, PyObject *name_obj)
{
    const char *name;
    uint8_t uuid[16];
    if (cc_py_name_arg(name_obj, &name) < 0) {
        return NULL;
    }
    if (!PyDict_Check(dict)) {
        PyErr_Format(PyExc_TypeError, "cumulants must be a dict {int: Circuit}, not %.100s",
                     Py_TYPE(dict)->tp_name);
        return NULL;
    }
    if ((uuid_obj == Py_None ? cc_py_random_uuid(uuid) : cc_py_uuid_arg(uuid_obj, uuid)) < 0) {
        return NULL;
    }
    Py_ssize_t n = PyDict_Size(dict);
    int64_t *numbers = PyMem_Calloc((size_t)(n > 0 ? n : 1), sizeof(int64_t));
    cc_node **children = PyMem_Calloc((size_t)(n > 0 ? n : 1), sizeof(cc_node *));
    PyObject *out = NULL;
    if (numbers == NULL || children == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t pos = 0, i = 0;
    PyObject *key, *value;
    while (PyDict_Next(dict, &pos, &key, &value)) {
        long long k = PyLong_AsLongLong(key);
        if (k == -1 && PyErr_Occurred()) {
            goto done;
        }
        if (!cc_py_node_check(value, "each cumulant", &children[i])) {
            goto done;
        }
        numbers[i++] = (int64_t)k;
    }
    out = cc_py_wrap_steal(cc_stored_cumulant_var_new((int)n, numbers, children, uuid, name));
done:
    PyMem_Free(numbers);
    PyMem_Free(children);
    return out;
}

static PyObject *
scv_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    (void)type;
    static char *kwlist[] = {"cumulants", "uuid", "name", NULL};
    PyObject *dict, *uuid_obj = Py_None, *name_obj = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|OO:StoredCumulantVar", kwlist, &dict, &uuid_obj,
                                     &name_obj)) {
        return NULL;
    }
    return make_var(dict, uuid_obj, name_obj);
}

static PyObject *
scv_new_mv(PyObject *cls, PyObject *args, PyObject *kwds)
{
    (void)cls;
    static char *kwlist[] = {"mean", "variance", "higher_cumulants", "uuid", "name", NULL};
    PyObject *mean, *variance, *higher = Py_None, *uuid_obj = Py_None, *name_obj = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO|OOO:new_mv", kwlist, &mean, &variance, &higher,
                                     &uuid_obj, &name_obj)) {
        return NULL;
    }
    PyObject *dict = higher == Py_None ? PyDict_New() : PyDict_Copy(higher);
    if (dict == NULL) {
        if (higher != Py_None && !PyDict_Check(higher)) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError, "higher_cumulants must be a dict, not %.100s",
                         Py_TYPE(higher)->tp_name);
        }
        return NULL;
    }
    PyObject *one = PyLong_FromLong(1), *two = PyLong_FromLong(2);
    PyObject *out = NULL;
    if (one != NULL && two != NULL && PyDict_SetItem(dict, one, mean) == 0 &&
        PyDict_SetItem(dict, two, variance) == 0) {
        out = make_var(dict, uuid_obj, name_obj);
    }
    Py_XDECREF(one);
    Py_XDECREF(two);
    Py_DECREF(dict);
    return out;
}

static PyObject *
scv_cumulants(PyObject *self, void *closure)
{
    (void)closure;
    const cc_node *n = NODE(self);
    PyObject *dict = PyDict_New();
    for (int i = 0; dict != NULL && i < n->n_children; i++) {
        PyObject *k = PyLong_FromLongLong(n->u.stored_cumulant_var.numbers[i]);
        PyObject *v = k != NULL ? cc_py_wrap(n->children[i]) : NULL;
        if (v == NULL || PyDict_SetItem(dict, k, v) < 0) {
            Py_CLEAR(dict);
        }
        Py_XDECREF(k);
        Py_XDECREF(v);
    }
    return dict;
}

static PyObject *
scv_uuid(PyObject *self, void *closure)
{
    (void)closure;
    return cc_py_uuid_object(NODE(self)->u.stored_cumulant_var.uuid);
}

static PyGetSetDef scv_getset[] = {
    {"cumulants", scv_cumulants, NULL, "{cumulant number: circuit}, ascending.", NULL},
    {"uuid", scv_uuid, NULL, "The uuid.UUID that makes the variable distinct.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef scv_methods[] = {
    {"new_mv", (PyCFunction)(void (*)(void))scv_new_mv, METH_VARARGS | METH_KEYWORDS | METH_STATIC,
     "new_mv(mean, variance, higher_cumulants={}, uuid=None, name=None)."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot scv_slots[] = {
    {Py_tp_new, scv_new},
    {Py_tp_getset, scv_getset},
    {Py_tp_methods, scv_methods},
    {Py_tp_doc, "StoredCumulantVar(cumulants, uuid=None, name=None): a random variable given by "
                "its cumulants {k: circuit}; k=1 (mean) and k=2 (variance) are required."},
    {0, NULL},
};

PyType_Spec cc_py_stored_cumulant_var_spec = {
    .name = "circuits.StoredCumulantVar",
    .basicsize = sizeof(cc_py_node),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = scv_slots,
};
