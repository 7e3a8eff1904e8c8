// AnyFound and BoundAnyFound: are_any_found with a cache kept across calls (match/get.c), and
// a BoundAnyFound as a Matcher input.
#include "python/py_match.h"

#include "match/get.h"
#include "util/blake3.h"
#include "util/str.h"

typedef struct {
    PyObject_HEAD cc_any_found *cache; // memo over (node, state) kept across calls, as rc's
} any_found_obj;

PyObject *
cc_py_any_found_make(void)
{
    any_found_obj *o = (any_found_obj *)cc_py_any_found_type->tp_alloc(cc_py_any_found_type, 0);
    if (o == NULL) {
        return NULL;
    }
    o->cache = cc_any_found_new();
    if (o->cache == NULL) {
        Py_DECREF(o);
        return cc_py_raise();
    }
    return (PyObject *)o;
}

static PyObject *
any_found_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    (void)type;
    if (PyTuple_GET_SIZE(args) > 0 || (kwds != NULL && PyDict_GET_SIZE(kwds) > 0)) {
        PyErr_SetString(PyExc_TypeError, "AnyFound() takes no arguments");
        return NULL;
    }
    return cc_py_any_found_make();
}

static void
any_found_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    cc_any_found_free(((any_found_obj *)self)->cache);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyObject *
any_found_run(PyObject *af, cc_node *root, PyObject *matcher)
{
    cc_imatcher *m = cc_py_imatcher_arg(matcher);
    if (m == NULL) {
        return NULL;
    }
    int found = 0;
    int rc = cc_any_found_run(((any_found_obj *)af)->cache, root, m, &found);
    cc_imatcher_decref(m);
    if (rc < 0) {
        return cc_py_raise();
    }
    return PyBool_FromLong(found);
}

static PyObject *
any_found_are_any_found(PyObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"circuit", "matcher", NULL};
    PyObject *circuit, *matcher;
    cc_node *root;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO:are_any_found", kwlist, &circuit, &matcher) ||
        !cc_py_node_check(circuit, "circuit", &root)) {
        return NULL;
    }
    return any_found_run(self, root, matcher);
}

static PyObject *
any_found_bind(PyObject *self, PyObject *matcher)
{
    (void)self;
    // rc's bind clones the AnyFound: the bound one gets a cache of its own.
    PyObject *fresh = cc_py_any_found_make();
    if (fresh == NULL) {
        return NULL;
    }
    PyObject *out = cc_py_bound_make(cc_py_bound_any_found_type, fresh, matcher);
    Py_DECREF(fresh);
    return out;
}

static PyMethodDef any_found_methods[] = {
    {"are_any_found", (PyCFunction)(void (*)(void))any_found_are_any_found,
     METH_VARARGS | METH_KEYWORDS,
     "are_any_found(circuit, matcher) -> whether the matcher finds anything (early exit)."},
    {"bind", any_found_bind, METH_O, "bind(matcher) -> BoundAnyFound."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot any_found_slots[] = {
    {Py_tp_new, any_found_new},
    {Py_tp_dealloc, any_found_dealloc},
    {Py_tp_call, (void *)any_found_are_any_found},
    {Py_tp_methods, any_found_methods},
    {Py_tp_doc, "AnyFound(): are_any_found with a cache kept across calls."},
    {0, NULL},
};

PyType_Spec cc_py_any_found_spec = {
    .name = "circuits.AnyFound",
    .basicsize = sizeof(any_found_obj),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = any_found_slots,
};

static PyObject *
bound_any_found_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"any_found", "matcher", NULL};
    PyObject *af, *matcher;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO:BoundAnyFound", kwlist, &af, &matcher)) {
        return NULL;
    }
    if (af == Py_None) {
        PyObject *fresh = cc_py_any_found_make();
        if (fresh == NULL) {
            return NULL;
        }
        PyObject *out = cc_py_bound_make(type, fresh, matcher);
        Py_DECREF(fresh);
        return out;
    }
    if (!PyObject_TypeCheck(af, cc_py_any_found_type)) {
        return PyErr_Format(PyExc_TypeError, "BoundAnyFound takes an AnyFound, not %.100s",
                            Py_TYPE(af)->tp_name);
    }
    return cc_py_bound_make(type, af, matcher);
}

static PyObject *
bound_any_found_call(PyObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"circuit", NULL};
    PyObject *circuit;
    cc_node *root;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O:are_any_found", kwlist, &circuit) ||
        !cc_py_node_check(circuit, "circuit", &root)) {
        return NULL;
    }
    cc_py_bound_obj *b = (cc_py_bound_obj *)self;
    return any_found_run(b->getter, root, b->matcher);
}

static int
bound_any_found_cb(void *ctx, const cc_node *n, int *out)
{
    cc_py_bound_obj *b = ctx;
    return cc_any_found_run(((any_found_obj *)b->getter)->cache, (cc_node *)n,
                            CC_PY_IMATCHER(b->matcher), out);
}

cc_matcher *
cc_py_bound_any_found_matcher(PyObject *obj)
{
    cc_py_bound_obj *b = (cc_py_bound_obj *)obj;
    // A snapshot, so that later assignments to obj.matcher leave this matcher as it is.
    PyObject *snapshot = cc_py_bound_make(cc_py_bound_any_found_type, b->getter, b->matcher);
    if (snapshot == NULL) {
        return NULL;
    }
    cc_imatcher *finder = CC_PY_IMATCHER(b->matcher);
    cc_str label;
    cc_str_init(&label);
    cc_matcher *m = NULL;
    if (cc_str_append(&label, "AnyFound(") == 0 && cc_imatcher_describe(finder, &label) == 0 &&
        cc_str_append(&label, ")") == 0) {
        cc_match_callback cb = {
            .kind = CC_MATCH_CALLBACK_ANY_FOUND,
            .match = bound_any_found_cb,
            .incref = cc_py_ctx_incref,
            .decref = cc_py_ctx_decref,
            .ctx = snapshot,
            .label = label.data,
        };
        cc_blake3 h;
        cc_blake3_init(&h);
        cc_blake3_update(&h, "circuits.any_found", 18);
        cc_blake3_update(&h, finder->hash, 32);
        cc_blake3_final(&h, cb.identity, 32);
        m = cc_matcher_callback(&cb);
    }
    cc_str_clear(&label);
    Py_DECREF(snapshot);
    if (m == NULL) {
        cc_py_raise();
    }
    return m;
}

static PyMethodDef bound_any_found_methods[] = {
    {"are_any_found", (PyCFunction)(void (*)(void))bound_any_found_call,
     METH_VARARGS | METH_KEYWORDS, "are_any_found(circuit) -> whether the matcher finds anything."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef bound_any_found_getset[] = {
    {"any_found", cc_py_bound_get_owner, cc_py_bound_set_owner, "The AnyFound.",
     &cc_py_any_found_type},
    {"matcher", cc_py_bound_get_matcher, cc_py_bound_set_matcher, "The IterativeMatcher.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot bound_any_found_slots[] = {
    {Py_tp_new, bound_any_found_new},
    {Py_tp_dealloc, cc_py_bound_dealloc},
    {Py_tp_call, (void *)bound_any_found_call},
    {Py_tp_methods, bound_any_found_methods},
    {Py_tp_getset, bound_any_found_getset},
    {Py_tp_doc, "BoundAnyFound(any_found, matcher): also usable as a Matcher input (matches "
                "nodes under which the matcher finds something)."},
    {0, NULL},
};

PyType_Spec cc_py_bound_any_found_spec = {
    .name = "circuits.BoundAnyFound",
    .basicsize = sizeof(cc_py_bound_obj),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = bound_any_found_slots,
};
