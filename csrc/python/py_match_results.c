// Finished (rc.FINISHED) and IterateMatchResults: what an iterative matcher says at one node,
// and the conversion between them and the core's steps (for match_iterate and new_func).
#include "python/py_match.h"

#include "util/alloc.h"
#include "util/error.h"

static PyObject *finished_singleton; // rc.FINISHED

static PyObject *
finished_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    (void)type;
    if (PyTuple_GET_SIZE(args) > 0 || (kwds != NULL && PyDict_GET_SIZE(kwds) > 0)) {
        PyErr_SetString(PyExc_TypeError, "Finished() takes no arguments");
        return NULL;
    }
    return Py_NewRef(finished_singleton);
}

static PyObject *
finished_repr(PyObject *self)
{
    (void)self;
    return PyUnicode_FromString("FINISHED");
}

static void
plain_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyType_Slot finished_slots[] = {
    {Py_tp_new, finished_new},
    {Py_tp_dealloc, plain_dealloc},
    {Py_tp_repr, finished_repr},
    {Py_tp_doc, "Finished: an update saying the traversal stops here (rc.FINISHED)."},
    {0, NULL},
};

PyType_Spec cc_py_finished_spec = {
    .name = "circuits.Finished",
    .basicsize = sizeof(PyObject),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = finished_slots,
};

typedef struct {
    PyObject_HEAD PyObject *updated; // None, FINISHED, an IterativeMatcher or a list of them
    int found;
} results_obj;

static PyObject *
updated_item(PyObject *x)
{
    if (x == Py_None || PyObject_TypeCheck(x, cc_py_finished_type)) {
        return Py_NewRef(finished_singleton);
    }
    cc_imatcher *m = cc_py_imatcher_arg(x);
    return m == NULL ? NULL : cc_py_imatcher_wrap(m);
}

// rc's UpdatedIterativeMatcherIn -> None, FINISHED, IterativeMatcher or list (new reference).
static PyObject *
convert_updated(PyObject *v)
{
    if (v == Py_None) {
        Py_RETURN_NONE;
    }
    if (PyObject_TypeCheck(v, cc_py_finished_type)) {
        return Py_NewRef(finished_singleton);
    }
    if (PyList_Check(v) || PyTuple_Check(v)) {
        Py_ssize_t n = PySequence_Size(v);
        PyObject *out = PyList_New(n);
        for (Py_ssize_t i = 0; out != NULL && i < n; i++) {
            PyObject *item = updated_item(PySequence_Fast_GET_ITEM(v, i));
            if (item == NULL) {
                Py_CLEAR(out);
                break;
            }
            PyList_SET_ITEM(out, i, item);
        }
        return out;
    }
    cc_imatcher *m = cc_py_imatcher_arg(v);
    return m == NULL ? NULL : cc_py_imatcher_wrap(m);
}

static PyObject *
results_make(PyObject *updated, int found)
{
    results_obj *o = (results_obj *)cc_py_results_type->tp_alloc(cc_py_results_type, 0);
    if (o == NULL) {
        Py_DECREF(updated);
        return NULL;
    }
    o->updated = updated;
    o->found = found != 0;
    return (PyObject *)o;
}

static PyObject *
results_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    (void)type;
    static char *kwlist[] = {"updated", "found", NULL};
    PyObject *updated = Py_None;
    int found = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|Op:IterateMatchResults", kwlist, &updated,
                                     &found)) {
        return NULL;
    }
    PyObject *u = convert_updated(updated);
    return u == NULL ? NULL : results_make(u, found);
}

static void
results_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    Py_XDECREF(((results_obj *)self)->updated);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyObject *
results_get_updated(PyObject *self, void *closure)
{
    (void)closure;
    return Py_NewRef(((results_obj *)self)->updated);
}

static int
results_set_updated(PyObject *self, PyObject *value, void *closure)
{
    (void)closure;
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "updated cannot be deleted");
        return -1;
    }
    PyObject *u = convert_updated(value);
    if (u == NULL) {
        return -1;
    }
    Py_SETREF(((results_obj *)self)->updated, u);
    return 0;
}

static PyObject *
results_get_found(PyObject *self, void *closure)
{
    (void)closure;
    return PyBool_FromLong(((results_obj *)self)->found);
}

static int
results_set_found(PyObject *self, PyObject *value, void *closure)
{
    (void)closure;
    int t = value == NULL ? -1 : PyObject_IsTrue(value);
    if (t < 0) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_AttributeError, "found cannot be deleted");
        }
        return -1;
    }
    ((results_obj *)self)->found = t;
    return 0;
}

static PyObject *
results_new_finished(PyObject *cls, PyObject *args, PyObject *kwds)
{
    (void)cls;
    static char *kwlist[] = {"found", NULL};
    int found = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|p:new_finished", kwlist, &found)) {
        return NULL;
    }
    return results_make(Py_NewRef(finished_singleton), found);
}

static PyObject *
results_to_tup(PyObject *self, PyObject *unused)
{
    (void)unused;
    results_obj *o = (results_obj *)self;
    return Py_BuildValue("(ON)", o->updated, PyBool_FromLong(o->found));
}

static PyObject *
results_unwrap_or_same(PyObject *self, PyObject *matcher)
{
    results_obj *o = (results_obj *)self;
    PyObject *u = o->updated == Py_None ? convert_updated(matcher) : Py_NewRef(o->updated);
    if (u == NULL) {
        return NULL;
    }
    return Py_BuildValue("(NN)", u, PyBool_FromLong(o->found));
}

static PyObject *
results_repr(PyObject *self)
{
    results_obj *o = (results_obj *)self;
    return PyUnicode_FromFormat("IterateMatchResults(updated=%R, found=%s)", o->updated,
                                o->found ? "True" : "False");
}

static PyMethodDef results_methods[] = {
    {"new_finished", (PyCFunction)(void (*)(void))results_new_finished,
     METH_VARARGS | METH_KEYWORDS | METH_STATIC,
     "new_finished(found=False): finished here, with found."},
    {"to_tup", results_to_tup, METH_NOARGS, "(updated, found)."},
    {"unwrap_or_same", results_unwrap_or_same, METH_O,
     "unwrap_or_same(matcher) -> (updated, or matcher when None, found)."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef results_getset[] = {
    {"updated", results_get_updated, results_set_updated,
     "None (same matcher for the children), FINISHED, a matcher for every child, or a list "
     "with one matcher or FINISHED per child.",
     NULL},
    {"found", results_get_found, results_set_found, "Whether this node is matched.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot results_slots[] = {
    {Py_tp_new, results_new},
    {Py_tp_dealloc, results_dealloc},
    {Py_tp_repr, results_repr},
    {Py_tp_methods, results_methods},
    {Py_tp_getset, results_getset},
    {Py_tp_doc, "IterateMatchResults(updated=None, found=False): what an iterative matcher "
                "says at one node."},
    {0, NULL},
};

PyType_Spec cc_py_results_spec = {
    .name = "circuits.IterateMatchResults",
    .basicsize = sizeof(results_obj),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = results_slots,
};

PyObject *
cc_py_results_of_step(const cc_step *s)
{
    PyObject *updated = NULL;
    switch (s->kind) {
    case CC_STEP_SAME:
        updated = Py_NewRef(Py_None);
        break;
    case CC_STEP_FINISHED:
        updated = Py_NewRef(finished_singleton);
        break;
    case CC_STEP_ONE:
        cc_imatcher_incref(s->one);
        updated = cc_py_imatcher_wrap(s->one);
        break;
    case CC_STEP_PER_CHILD:
        updated = PyList_New(s->n);
        for (int i = 0; updated != NULL && i < s->n; i++) {
            PyObject *item;
            if (s->per_child[i] == NULL) {
                item = Py_NewRef(finished_singleton);
            } else {
                cc_imatcher_incref(s->per_child[i]);
                item = cc_py_imatcher_wrap(s->per_child[i]);
            }
            if (item == NULL) {
                Py_CLEAR(updated);
                break;
            }
            PyList_SET_ITEM(updated, i, item);
        }
        break;
    }
    return updated == NULL ? NULL : results_make(updated, s->found);
}

int
cc_py_results_iterate_cb(void *ctx, const cc_node *n, cc_step *out)
{
    PyObject *c = cc_py_wrap((cc_node *)n);
    if (c == NULL) {
        return cc_fail(CC_E_PYTHON, "wrapping a circuit failed");
    }
    PyObject *r = PyObject_CallOneArg((PyObject *)ctx, c);
    Py_DECREF(c);
    if (r == NULL) {
        return cc_fail(CC_E_PYTHON, "an iterative matcher function raised");
    }
    if (!PyObject_TypeCheck(r, cc_py_results_type)) {
        PyErr_Format(PyExc_TypeError,
                     "an IterativeMatcher.new_func function must return IterateMatchResults, "
                     "not %.100s",
                     Py_TYPE(r)->tp_name);
        Py_DECREF(r);
        return cc_fail(CC_E_PYTHON, "bad result of an iterative matcher function");
    }
    results_obj *o = (results_obj *)r;
    out->found = o->found;
    PyObject *u = o->updated;
    if (u == Py_None) {
        out->kind = CC_STEP_SAME;
    } else if (u == finished_singleton) {
        out->kind = CC_STEP_FINISHED;
    } else if (PyList_Check(u)) {
        Py_ssize_t len = PyList_GET_SIZE(u);
        out->per_child = cc_calloc((size_t)(len > 0 ? len : 1), sizeof(cc_imatcher *));
        if (out->per_child == NULL) {
            Py_DECREF(r);
            return -1;
        }
        out->kind = CC_STEP_PER_CHILD;
        out->n = (int)len;
        for (Py_ssize_t i = 0; i < len; i++) {
            PyObject *x = PyList_GET_ITEM(u, i);
            if (x != finished_singleton) {
                out->per_child[i] = CC_PY_IMATCHER(x);
                cc_imatcher_incref(out->per_child[i]);
            }
        }
    } else {
        out->kind = CC_STEP_ONE;
        out->one = CC_PY_IMATCHER(u);
        cc_imatcher_incref(out->one);
    }
    Py_DECREF(r);
    return 0;
}

int
cc_py_finished_init(PyObject *module)
{
    finished_singleton = cc_py_finished_type->tp_alloc(cc_py_finished_type, 0);
    if (finished_singleton == NULL) {
        return -1;
    }
    return PyModule_AddObjectRef(module, "FINISHED", finished_singleton);
}
