// circuits.Cumulant: the joint cumulant of its children (constant; computed directly only when
// the children are constant, else estimated by a Sampler).
#include "python/bindings.h"
#include "sample/cumulant.h"
#include "util/error.h"

#define NODE(self) (((cc_py_node *)(self))->node)

static PyObject *
cumulant_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    (void)type;
    const char *name = NULL;
    if (kwds != NULL) {
        PyObject *name_obj = PyDict_GetItemString(kwds, "name");
        if (PyDict_Size(kwds) != (name_obj != NULL)) {
            PyErr_SetString(PyExc_TypeError, "Cumulant() takes circuits and an optional name=");
            return NULL;
        }
        if (cc_py_name_arg(name_obj, &name) < 0) {
            return NULL;
        }
    }
    cc_node **children;
    Py_ssize_t n;
    if (cc_py_nodes_from_seq(args, "each argument of Cumulant", &children, &n) < 0) {
        return NULL;
    }
    PyObject *out = cc_py_wrap_steal(cc_cumulant_new((int)n, children, name));
    PyMem_Free(children);
    return out;
}

static PyObject *
cumulant_nodes(PyObject *self, void *closure)
{
    (void)closure;
    const cc_node *n = NODE(self);
    PyObject *list = PyList_New(n->n_children);
    for (int i = 0; list != NULL && i < n->n_children; i++) {
        PyObject *c = cc_py_wrap(n->children[i]);
        if (c == NULL) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, i, c);
    }
    return list;
}

static PyObject *
cumulant_number(PyObject *self, void *closure)
{
    (void)closure;
    return PyLong_FromLong(NODE(self)->n_children);
}

// rc's: with computable children, the circuit of the same value (a Scalar 0 for none, the
// child for one, zeros for more).
static PyObject *
cumulant_equivalent(PyObject *self, PyObject *unused)
{
    (void)unused;
    const cc_node *n = NODE(self);
    if (!n->is_explicitly_computable) {
        return cc_py_raise_kind(CC_E_CONSTRUCT_NO_EQUIVALENT_EXPLICITLY_COMPUTABLE,
                                "Cumulant '%s' has a child that is not explicitly computable, so "
                                "no explicitly computable circuit equals it",
                                n->name ? n->name : "");
    }
    if (n->n_children == 1) {
        return cc_py_wrap(n->children[0]);
    }
    return cc_py_wrap_steal(cc_scalar_new(0.0, n->ndim, n->shape, CC_NO_NAME));
}

static PyGetSetDef cumulant_getset[] = {
    {"nodes", cumulant_nodes, NULL, "The children (deprecated: use .children).", NULL},
    {"cumulant_number", cumulant_number, NULL, "The number of children.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef cumulant_methods[] = {
    {"equivalent_explicitly_computable_circuit", cumulant_equivalent, METH_NOARGS,
     "The explicitly computable circuit of the same value (children must be computable)."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot cumulant_slots[] = {
    {Py_tp_new, cumulant_new},
    {Py_tp_getset, cumulant_getset},
    {Py_tp_methods, cumulant_methods},
    {Py_tp_doc, "Cumulant(*args, name=None): the joint cumulant of the arguments; its shape is "
                "their shapes one after another."},
    {0, NULL},
};

PyType_Spec cc_py_cumulant_spec = {
    .name = "circuits.Cumulant",
    .basicsize = sizeof(cc_py_node),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = cumulant_slots,
};
