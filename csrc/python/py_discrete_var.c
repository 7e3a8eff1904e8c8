// circuits.DiscreteVar: a random variable over the rows of its values, sampled jointly with the
// variables of the same probs_and_group (a fresh uniform group when none is given).
#include "python/bindings.h"
#include "sample/discrete_var.h"
#include "util/error.h"

#define NODE(self) (((cc_py_node *)(self))->node)

int
cc_py_random_uuid(uint8_t out[16])
{
    PyObject *mod = PyImport_ImportModule("uuid");
    PyObject *u = mod != NULL ? PyObject_CallMethod(mod, "uuid4", NULL) : NULL;
    Py_XDECREF(mod);
    int rc = u != NULL ? cc_py_uuid_arg(u, out) : -1;
    Py_XDECREF(u);
    return rc;
}

// rc's uniform group for values: a new reference, or NULL with an exception.
static cc_node *
uniform_group(int64_t size, const char *name)
{
    uint8_t uuid[16];
    if (cc_py_random_uuid(uuid) < 0) {
        return NULL;
    }
    cc_node *g = cc_discrete_var_uniform_group(size, uuid, name);
    if (g == NULL) {
        cc_py_raise();
    }
    return g;
}

// values with probs_and_group, or with a fresh uniform group when probs_obj is None.
static PyObject *
make_var(PyObject *values_obj, PyObject *probs_obj, PyObject *name_obj)
{
    const char *name;
    cc_node *values, *probs = NULL;
    if (cc_py_name_arg(name_obj, &name) < 0 || !cc_py_node_check(values_obj, "values", &values) ||
        (probs_obj != Py_None && !cc_py_node_check(probs_obj, "probs_and_group", &probs))) {
        return NULL;
    }
    if (probs != NULL) {
        return cc_py_wrap_steal(cc_discrete_var_new(values, probs, name));
    }
    if (values->ndim < 1) {
        return cc_py_raise_kind(CC_E_CONSTRUCT_DISCRETE_VAR_NO_SAMPLES_DIM,
                                "DiscreteVar%s%s%s: values must have a samples axis (axis 0), but "
                                "it is a scalar",
                                name ? " '" : "", name ? name : "", name ? "'" : "");
    }
    cc_node *group = uniform_group(values->shape[0], NULL);
    if (group == NULL) {
        return NULL;
    }
    cc_node *n = cc_discrete_var_new(values, group, name);
    cc_node_decref(group);
    return cc_py_wrap_steal(n);
}

static PyObject *
discrete_var_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    (void)type;
    static char *kwlist[] = {"values", "probs_and_group", "name", NULL};
    PyObject *values_obj, *probs_obj = Py_None, *name_obj = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|OO:DiscreteVar", kwlist, &values_obj,
                                     &probs_obj, &name_obj)) {
        return NULL;
    }
    return make_var(values_obj, probs_obj, name_obj);
}

static PyObject *
discrete_var_new_uniform(PyObject *cls, PyObject *args, PyObject *kwds)
{
    (void)cls;
    static char *kwlist[] = {"values", "name", NULL};
    PyObject *values_obj, *name_obj = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|O:new_uniform", kwlist, &values_obj,
                                     &name_obj)) {
        return NULL;
    }
    return make_var(values_obj, Py_None, name_obj);
}

static PyObject *
discrete_var_uniform_probs_and_group(PyObject *cls, PyObject *args, PyObject *kwds)
{
    (void)cls;
    static char *kwlist[] = {"size", "name", NULL};
    long long size;
    PyObject *name_obj = Py_None;
    const char *name;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "L|O:uniform_probs_and_group", kwlist, &size,
                                     &name_obj) ||
        cc_py_name_arg(name_obj, &name) < 0) {
        return NULL;
    }
    cc_node *g = uniform_group((int64_t)size, name);
    return g == NULL ? NULL : cc_py_wrap_steal(g);
}

static PyObject *
discrete_var_values(PyObject *self, void *closure)
{
    (void)closure;
    return cc_py_wrap(NODE(self)->children[0]);
}

static PyObject *
discrete_var_probs_and_group(PyObject *self, void *closure)
{
    (void)closure;
    return cc_py_wrap(NODE(self)->children[1]);
}

static PyGetSetDef discrete_var_getset[] = {
    {"values", discrete_var_values, NULL, "The values; axis 0 is the sample axis.", NULL},
    {"probs_and_group", discrete_var_probs_and_group, NULL,
     "The 1-D probabilities, whose identity is also the sampling group.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef discrete_var_methods[] = {
    {"new_uniform", (PyCFunction)(void (*)(void))discrete_var_new_uniform,
     METH_VARARGS | METH_KEYWORDS | METH_STATIC,
     "new_uniform(values, name=None): a variable over values' rows in a fresh uniform group."},
    {"uniform_probs_and_group", (PyCFunction)(void (*)(void))discrete_var_uniform_probs_and_group,
     METH_VARARGS | METH_KEYWORDS | METH_STATIC,
     "uniform_probs_and_group(size, name=None): Tag(Scalar(1/size, (size,)), random uuid)."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot discrete_var_slots[] = {
    {Py_tp_new, discrete_var_new},
    {Py_tp_getset, discrete_var_getset},
    {Py_tp_methods, discrete_var_methods},
    {Py_tp_doc, "DiscreteVar(values, probs_and_group=None, name=None): one row of values, drawn "
                "at sampling time; equal probs_and_group circuits are sampled jointly."},
    {0, NULL},
};

PyType_Spec cc_py_discrete_var_spec = {
    .name = "circuits.DiscreteVar",
    .basicsize = sizeof(cc_py_node),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = discrete_var_slots,
};
