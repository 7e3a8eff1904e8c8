// get, get_unique, get_paths, ..., are_any_found, update as methods: of Matcher and
// IterativeMatcher (self the matcher, the circuit an argument) and of Circuit (self the
// circuit). Their types take these tables at creation.
#include "python/py_match.h"

#include "match/get.h"

#define NODE(o) (((cc_py_node *)(o))->node)

// --- methods of Matcher / IterativeMatcher: self is the matcher -------------------------------

static PyObject *
matcher_call_op(PyObject *self, PyObject *args, PyObject *kwds, cc_py_get_op op)
{
    static char *kw_validate[] = {"circuit", "fancy_validate", NULL};
    static char *kw_plain[] = {"circuit", NULL};
    PyObject *circuit;
    int fv = 0;
    int ok = cc_py_get_op_validates(op)
                 ? PyArg_ParseTupleAndKeywords(args, kwds, "O|p", kw_validate, &circuit, &fv)
                 : PyArg_ParseTupleAndKeywords(args, kwds, "O", kw_plain, &circuit);
    cc_node *root;
    if (!ok || !cc_py_node_check(circuit, "circuit", &root)) {
        return NULL;
    }
    return cc_py_get_run(op, root, self, fv);
}

#define MATCHER_METHOD(fname, op)                                                                  \
    static PyObject *fname(PyObject *self, PyObject *args, PyObject *kwds)                         \
    {                                                                                              \
        return matcher_call_op(self, args, kwds, op);                                              \
    }

MATCHER_METHOD(m_get, CC_PY_GET)
MATCHER_METHOD(m_get_unique, CC_PY_GET_UNIQUE)
MATCHER_METHOD(m_get_unique_op, CC_PY_GET_UNIQUE_OP)
MATCHER_METHOD(m_get_paths, CC_PY_GET_PATHS)
MATCHER_METHOD(m_get_all_paths, CC_PY_GET_ALL_PATHS)
MATCHER_METHOD(m_get_all_in_paths, CC_PY_GET_ALL_IN_PATHS)
MATCHER_METHOD(m_validate, CC_PY_GET_VALIDATE)

static PyObject *
m_getter(PyObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"default_fancy_validate", NULL};
    int dflt = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|p:getter", kwlist, &dflt)) {
        return NULL;
    }
    PyObject *g = cc_py_getter_make(dflt);
    if (g == NULL) {
        return NULL;
    }
    PyObject *out = cc_py_bound_make(cc_py_bound_getter_type, g, self);
    Py_DECREF(g);
    return out;
}

static PyObject *
m_are_any_found(PyObject *self, PyObject *circuit)
{
    cc_node *root;
    if (!cc_py_node_check(circuit, "circuit", &root)) {
        return NULL;
    }
    cc_imatcher *m = cc_py_imatcher_arg(self);
    if (m == NULL) {
        return NULL;
    }
    int found = 0;
    int rc = cc_any_found_run(NULL, root, m, &found);
    cc_imatcher_decref(m);
    return rc < 0 ? cc_py_raise() : PyBool_FromLong(found);
}

static PyObject *
m_any_found(PyObject *self, PyObject *unused)
{
    (void)unused;
    PyObject *fresh = cc_py_any_found_make();
    if (fresh == NULL) {
        return NULL;
    }
    PyObject *out = cc_py_bound_make(cc_py_bound_any_found_type, fresh, self);
    Py_DECREF(fresh);
    return out;
}

static PyObject *
m_update(PyObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {
        "circuit",          "transform", "cache_transform", "cache_update", "fancy_validate",
        "assert_any_found", NULL};
    PyObject *circuit, *transform;
    int ct = 1, cu = 1, fv = 0, aaf = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO|pppp:update", kwlist, &circuit, &transform,
                                     &ct, &cu, &fv, &aaf)) {
        return NULL;
    }
    cc_node *root;
    if (!cc_py_node_check(circuit, "circuit", &root)) {
        return NULL;
    }
    cc_imatcher *m = cc_py_imatcher_arg(self);
    if (m == NULL) {
        return NULL;
    }
    PyObject *out = cc_py_update_run(root, m, transform, ct, cu, fv, aaf);
    cc_imatcher_decref(m);
    return out;
}

static PyObject *
m_updater(PyObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"transform",
                             "cache_transform",
                             "cache_update",
                             "default_fancy_validate",
                             "default_assert_any_found",
                             NULL};
    PyObject *transform;
    int ct = 1, cu = 1, fv = 0, aaf = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|pppp:updater", kwlist, &transform, &ct, &cu,
                                     &fv, &aaf)) {
        return NULL;
    }
    PyObject *u = cc_py_updater_make(transform, ct, cu, fv, aaf);
    if (u == NULL) {
        return NULL;
    }
    PyObject *out = cc_py_bound_make(cc_py_bound_updater_type, u, self);
    Py_DECREF(u);
    return out;
}

PyMethodDef cc_py_traversal_methods[] = {
    {"get", (PyCFunction)(void (*)(void))m_get, METH_VARARGS | METH_KEYWORDS,
     "get(circuit, fancy_validate=False) -> the set of nodes found."},
    {"get_unique", (PyCFunction)(void (*)(void))m_get_unique, METH_VARARGS | METH_KEYWORDS,
     "get_unique(circuit, fancy_validate=False) -> the one node found."},
    {"get_unique_op", (PyCFunction)(void (*)(void))m_get_unique_op, METH_VARARGS | METH_KEYWORDS,
     "get_unique_op(circuit, fancy_validate=False) -> the node found, or None."},
    {"get_paths", (PyCFunction)(void (*)(void))m_get_paths, METH_VARARGS | METH_KEYWORDS,
     "get_paths(circuit) -> {found: [found, parent, ..., root]}."},
    {"get_all_paths", (PyCFunction)(void (*)(void))m_get_all_paths, METH_VARARGS | METH_KEYWORDS,
     "get_all_paths(circuit) -> {found: [path, ...]}."},
    {"get_all_circuits_in_paths", (PyCFunction)(void (*)(void))m_get_all_in_paths,
     METH_VARARGS | METH_KEYWORDS, "get_all_circuits_in_paths(circuit) -> [circuit, ...]."},
    {"validate", (PyCFunction)(void (*)(void))m_validate, METH_VARARGS | METH_KEYWORDS,
     "validate(circuit): fancy validation."},
    {"getter", (PyCFunction)(void (*)(void))m_getter, METH_VARARGS | METH_KEYWORDS,
     "getter(default_fancy_validate=False) -> BoundGetter."},
    {"are_any_found", m_are_any_found, METH_O,
     "are_any_found(circuit) -> whether anything is found (early exit)."},
    {"any_found", m_any_found, METH_NOARGS, "any_found() -> BoundAnyFound."},
    {"update", (PyCFunction)(void (*)(void))m_update, METH_VARARGS | METH_KEYWORDS,
     "update(circuit, transform, cache_transform=True, cache_update=True, fancy_validate=False, "
     "assert_any_found=False)."},
    {"updater", (PyCFunction)(void (*)(void))m_updater, METH_VARARGS | METH_KEYWORDS,
     "updater(transform, ...) -> BoundUpdater."},
    {NULL, NULL, 0, NULL},
};

// --- Circuit methods: self is the circuit -----------------------------------------------------

static PyObject *
circuit_call_op(PyObject *self, PyObject *args, PyObject *kwds, cc_py_get_op op)
{
    static char *kw_validate[] = {"matcher", "fancy_validate", NULL};
    static char *kw_plain[] = {"matcher", NULL};
    PyObject *matcher;
    int fv = 0;
    int ok = cc_py_get_op_validates(op)
                 ? PyArg_ParseTupleAndKeywords(args, kwds, "O|p", kw_validate, &matcher, &fv)
                 : PyArg_ParseTupleAndKeywords(args, kwds, "O", kw_plain, &matcher);
    if (!ok) {
        return NULL;
    }
    return cc_py_get_run(op, NODE(self), matcher, fv);
}

#define CIRCUIT_METHOD(fname, op)                                                                  \
    static PyObject *fname(PyObject *self, PyObject *args, PyObject *kwds)                         \
    {                                                                                              \
        return circuit_call_op(self, args, kwds, op);                                              \
    }

CIRCUIT_METHOD(c_get, CC_PY_GET)
CIRCUIT_METHOD(c_get_unique, CC_PY_GET_UNIQUE)
CIRCUIT_METHOD(c_get_unique_op, CC_PY_GET_UNIQUE_OP)
CIRCUIT_METHOD(c_get_paths, CC_PY_GET_PATHS)
CIRCUIT_METHOD(c_get_all_paths, CC_PY_GET_ALL_PATHS)
CIRCUIT_METHOD(c_get_all_in_paths, CC_PY_GET_ALL_IN_PATHS)

static PyObject *
c_are_any_found(PyObject *self, PyObject *matcher)
{
    cc_imatcher *m = cc_py_imatcher_arg(matcher);
    if (m == NULL) {
        return NULL;
    }
    int found = 0;
    int rc = cc_any_found_run(NULL, NODE(self), m, &found);
    cc_imatcher_decref(m);
    return rc < 0 ? cc_py_raise() : PyBool_FromLong(found);
}

static PyObject *
c_update(PyObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {
        "matcher",          "transform", "cache_transform", "cache_update", "fancy_validate",
        "assert_any_found", NULL};
    PyObject *matcher, *transform;
    int ct = 1, cu = 1, fv = 0, aaf = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO|pppp:update", kwlist, &matcher, &transform,
                                     &ct, &cu, &fv, &aaf)) {
        return NULL;
    }
    cc_imatcher *m = cc_py_imatcher_arg(matcher);
    if (m == NULL) {
        return NULL;
    }
    PyObject *out = cc_py_update_run(NODE(self), m, transform, ct, cu, fv, aaf);
    cc_imatcher_decref(m);
    return out;
}

PyMethodDef cc_py_circuit_match_methods[] = {
    {"get", (PyCFunction)(void (*)(void))c_get, METH_VARARGS | METH_KEYWORDS,
     "get(matcher, fancy_validate=False) -> the set of nodes the matcher finds."},
    {"get_unique", (PyCFunction)(void (*)(void))c_get_unique, METH_VARARGS | METH_KEYWORDS,
     "get_unique(matcher, fancy_validate=False) -> the one node found (RuntimeError otherwise)."},
    {"get_unique_op", (PyCFunction)(void (*)(void))c_get_unique_op, METH_VARARGS | METH_KEYWORDS,
     "get_unique_op(matcher, fancy_validate=False) -> the node found, or None."},
    {"get_paths", (PyCFunction)(void (*)(void))c_get_paths, METH_VARARGS | METH_KEYWORDS,
     "get_paths(matcher) -> {found: [found, parent, ..., self]}."},
    {"get_all_paths", (PyCFunction)(void (*)(void))c_get_all_paths, METH_VARARGS | METH_KEYWORDS,
     "get_all_paths(matcher) -> {found: [path, ...]} (every path)."},
    {"get_all_circuits_in_paths", (PyCFunction)(void (*)(void))c_get_all_in_paths,
     METH_VARARGS | METH_KEYWORDS,
     "get_all_circuits_in_paths(matcher) -> the circuits on paths to found nodes."},
    {"are_any_found", c_are_any_found, METH_O,
     "are_any_found(matcher) -> whether the matcher finds anything (early exit)."},
    {"update", (PyCFunction)(void (*)(void))c_update, METH_VARARGS | METH_KEYWORDS,
     "update(matcher, transform, cache_transform=True, cache_update=True, fancy_validate=False, "
     "assert_any_found=False) -> this circuit with every found node transformed (post-order); "
     "only matched paths are rebuilt."},
    {NULL, NULL, 0, NULL},
};
