// restrict, restrict_sl, new_traversal and traverse_until_depth (module functions), and the
// restrict / filter methods of Matcher and IterativeMatcher: rc's depth-window states.
#include "python/py_match.h"

// An optional depth: None, or an int in [0, 2**32). -1 with an exception.
static int
depth_arg(PyObject *obj, const char *what, int *has, uint32_t *value)
{
    *has = 0;
    *value = 0;
    if (obj == NULL || obj == Py_None) {
        return 0;
    }
    long long v = PyLong_AsLongLong(obj);
    if (v == -1 && PyErr_Occurred()) {
        return -1;
    }
    if (v < 0 || v > (long long)UINT32_MAX) {
        PyErr_Format(PyExc_ValueError, "%s must be None or an int in [0, 2**32), got %lld", what,
                     v);
        return -1;
    }
    *has = 1;
    *value = (uint32_t)v;
    return 0;
}

static PyObject *
restrict_impl(PyObject *matcher, int term_if_matches, PyObject *start, PyObject *end,
              PyObject *term_early_at)
{
    int has_start, has_end;
    uint32_t s, e;
    if (depth_arg(start, "start_depth", &has_start, &s) < 0 ||
        depth_arg(end, "end_depth", &has_end, &e) < 0) {
        return NULL;
    }
    cc_matcher *early =
        term_early_at == NULL ? cc_matcher_always(0) : cc_py_matcher_arg(term_early_at);
    if (early == NULL) {
        return PyErr_Occurred() ? NULL : cc_py_raise();
    }
    cc_imatcher *inner = matcher == NULL ? NULL : cc_py_imatcher_arg(matcher);
    if (inner == NULL && matcher != NULL) {
        cc_matcher_decref(early);
        return NULL;
    }
    if (inner == NULL) {
        cc_matcher *t = cc_matcher_always(1);
        inner = t == NULL ? NULL : cc_imatcher_match(t);
        cc_matcher_decref(t);
        if (inner == NULL) {
            cc_matcher_decref(early);
            return cc_py_raise();
        }
    }
    cc_imatcher *m = cc_imatcher_restrict(inner, term_if_matches, has_start, s, has_end, e, early);
    cc_imatcher_decref(inner);
    cc_matcher_decref(early);
    return cc_py_imatcher_wrap(m);
}

static PyObject *
py_restrict(PyObject *module, PyObject *args, PyObject *kwds)
{
    (void)module;
    static char *kwlist[] = {"matcher",   "term_if_matches", "start_depth",
                             "end_depth", "term_early_at",   NULL};
    PyObject *matcher;
    PyObject *start = Py_None, *end = Py_None, *early = NULL;
    int term_if_matches = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|pOOO:restrict", kwlist, &matcher,
                                     &term_if_matches, &start, &end, &early)) {
        return NULL;
    }
    return restrict_impl(matcher, term_if_matches, start, end, early);
}

static PyObject *
self_restrict(PyObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"term_if_matches", "start_depth", "end_depth", "term_early_at", NULL};
    PyObject *start = Py_None, *end = Py_None, *early = NULL;
    int term_if_matches = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|pOOO:restrict", kwlist, &term_if_matches, &start,
                                     &end, &early)) {
        return NULL;
    }
    return restrict_impl(self, term_if_matches, start, end, early);
}

static PyObject *
py_restrict_sl(PyObject *module, PyObject *args, PyObject *kwds)
{
    (void)module;
    static char *kwlist[] = {"matcher", "term_if_matches", "depth_slice", "term_early_at", NULL};
    PyObject *matcher;
    PyObject *sl = NULL, *early = NULL;
    int term_if_matches = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|pOO:restrict_sl", kwlist, &matcher,
                                     &term_if_matches, &sl, &early)) {
        return NULL;
    }
    PyObject *start = Py_None, *stop = Py_None;
    if (sl != NULL && sl != Py_None) {
        if (!PySlice_Check(sl)) {
            return PyErr_Format(PyExc_TypeError, "depth_slice must be a slice, not %.100s",
                                Py_TYPE(sl)->tp_name);
        }
        PySliceObject *s = (PySliceObject *)sl;
        if (s->step != Py_None) {
            PyErr_SetString(PyExc_ValueError, "depth_slice cannot have a step");
            return NULL;
        }
        start = s->start;
        stop = s->stop;
    }
    return restrict_impl(matcher, term_if_matches, start, stop, early);
}

static PyObject *
py_new_traversal(PyObject *module, PyObject *args, PyObject *kwds)
{
    (void)module;
    static char *kwlist[] = {"start_depth", "end_depth", "term_early_at", NULL};
    PyObject *start = Py_None, *end = Py_None, *early = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|OOO:new_traversal", kwlist, &start, &end,
                                     &early)) {
        return NULL;
    }
    return restrict_impl(NULL, 0, start, end, early);
}

static PyObject *
py_traverse_until_depth(PyObject *module, PyObject *args, PyObject *kwds)
{
    (void)module;
    static char *kwlist[] = {"depth", NULL};
    PyObject *depth = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:traverse_until_depth", kwlist, &depth)) {
        return NULL;
    }
    if (depth == Py_None) {
        return restrict_impl(NULL, 0, Py_None, Py_None, NULL);
    }
    int has;
    uint32_t d;
    if (depth_arg(depth, "depth", &has, &d) < 0) {
        return NULL;
    }
    PyObject *end = PyLong_FromUnsignedLongLong((unsigned long long)d + 1);
    if (end == NULL) {
        return NULL;
    }
    PyObject *out = restrict_impl(NULL, 0, Py_None, end, NULL);
    Py_DECREF(end);
    return out;
}

PyMethodDef cc_py_restrict_functions[] = {
    {"restrict", (PyCFunction)(void (*)(void))py_restrict, METH_VARARGS | METH_KEYWORDS,
     "restrict(matcher, term_if_matches=False, start_depth=None, end_depth=None, "
     "term_early_at=False): depths from 0 at the root, start inclusive, end exclusive."},
    {"restrict_sl", (PyCFunction)(void (*)(void))py_restrict_sl, METH_VARARGS | METH_KEYWORDS,
     "restrict_sl(matcher, term_if_matches=False, depth_slice=slice(None), "
     "term_early_at=False)."},
    {"new_traversal", (PyCFunction)(void (*)(void))py_new_traversal, METH_VARARGS | METH_KEYWORDS,
     "new_traversal(start_depth=None, end_depth=None, term_early_at=False): matches everything "
     "within the restrictions."},
    {"traverse_until_depth", (PyCFunction)(void (*)(void))py_traverse_until_depth,
     METH_VARARGS | METH_KEYWORDS,
     "traverse_until_depth(depth=None) = new_traversal(end_depth=depth + 1); None: no limit."},
    {NULL, NULL, 0, NULL},
};

PyMethodDef cc_py_restrict_methods[] = {
    {"restrict", (PyCFunction)(void (*)(void))self_restrict, METH_VARARGS | METH_KEYWORDS,
     "restrict(term_if_matches=False, start_depth=None, end_depth=None, term_early_at=False)."},
    {"filter", (PyCFunction)(void (*)(void))self_restrict, METH_VARARGS | METH_KEYWORDS,
     "Alias of restrict."},
    {NULL, NULL, 0, NULL},
};
