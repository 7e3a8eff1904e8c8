// Getter and BoundGetter, the get operations they share with the traversal methods of the
// matchers and of Circuit, and what every bound type (BoundGetter, BoundUpdater,
// BoundAnyFound) shares. Only translates: the walks are match/get.c.
#include "python/py_match.h"

#include <stdlib.h>
#include <string.h>

#include "match/get.h"
#include "util/alloc.h"

int
cc_py_opt_bool(PyObject *obj, int dflt)
{
    if (obj == NULL || obj == Py_None) {
        return dflt;
    }
    return PyObject_IsTrue(obj);
}

static PyObject *
wrap_nodes_set(cc_node *const *nodes, int64_t n)
{
    PyObject *set = PySet_New(NULL);
    for (int64_t i = 0; set != NULL && i < n; i++) {
        PyObject *c = cc_py_wrap(nodes[i]);
        if (c == NULL || PySet_Add(set, c) < 0) {
            Py_XDECREF(c);
            Py_CLEAR(set);
            break;
        }
        Py_DECREF(c);
    }
    return set;
}

static PyObject *
wrap_path(const cc_match_paths *p, int64_t i)
{
    int64_t from = p->offsets[i];
    int64_t to = p->offsets[i + 1];
    PyObject *list = PyList_New((Py_ssize_t)(to - from));
    for (int64_t k = from; list != NULL && k < to; k++) {
        PyObject *c = cc_py_wrap(p->nodes[k]);
        if (c == NULL) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)(k - from), c);
    }
    return list;
}

// --- the operations, on a root node and a converted matcher ---------------------------------

// The found nodes (borrowed from root), validated when asked. -1 with an exception.
static int
found_nodes(cc_node *root, cc_imatcher *m, int fancy_validate, cc_node ***out, int64_t *n)
{
    if (cc_match_get(root, m, out, n) < 0) {
        return cc_py_raise_int();
    }
    if (fancy_validate && cc_imatcher_validate(m, *out, *n) < 0) {
        cc_free(*out);
        return cc_py_raise_int();
    }
    return 0;
}

static PyObject *
op_get(cc_node *root, cc_imatcher *m, int fancy_validate)
{
    cc_node **found;
    int64_t n;
    if (found_nodes(root, m, fancy_validate, &found, &n) < 0) {
        return NULL;
    }
    PyObject *set = wrap_nodes_set(found, n);
    cc_free(found);
    return set;
}

static int
compare_by_name(const void *a, const void *b)
{
    const cc_node *x = *(cc_node *const *)a;
    const cc_node *y = *(cc_node *const *)b;
    if (x->name == NULL || y->name == NULL) {
        if (x->name != NULL || y->name != NULL) {
            return x->name == NULL ? -1 : 1;
        }
    } else {
        int c = strcmp(x->name, y->name);
        if (c != 0) {
            return c;
        }
    }
    return memcmp(x->hash, y->hash, 32);
}

#define UNIQUE_LISTED 10

static PyObject *
op_get_unique(cc_node *root, cc_imatcher *m, int fancy_validate, int allow_none)
{
    cc_node **found;
    int64_t n;
    if (found_nodes(root, m, fancy_validate, &found, &n) < 0) {
        return NULL;
    }
    PyObject *out = NULL;
    if (n == 1) {
        out = cc_py_wrap(found[0]);
    } else if (n == 0) {
        if (allow_none) {
            out = Py_NewRef(Py_None);
        } else {
            PyErr_SetString(PyExc_RuntimeError, "found no matches!");
        }
    } else {
        qsort(found, (size_t)n, sizeof(cc_node *), compare_by_name);
        cc_str s;
        cc_str_init(&s);
        int rc = cc_str_appendf(&s, "found %lld matches which is > 1: ", (long long)n);
        for (int64_t i = 0; rc == 0 && i < n && i < UNIQUE_LISTED; i++) {
            const cc_node *c = found[i];
            const char *sep = i ? ", " : "";
            rc = c->name != NULL ? cc_str_appendf(&s, "%s'%s'", sep, c->name)
                                 : cc_str_appendf(&s, "%s<unnamed %s>", sep,
                                                  cc_kind_get_info(c->kind)->py_name);
        }
        if (rc == 0 && n > UNIQUE_LISTED) {
            rc = cc_str_appendf(&s, ", ... (%lld more)", (long long)(n - UNIQUE_LISTED));
        }
        if (rc < 0) {
            cc_py_raise();
        } else {
            PyErr_SetString(PyExc_RuntimeError, s.data);
        }
        cc_str_clear(&s);
    }
    cc_free(found);
    return out;
}

static PyObject *
op_get_paths(cc_node *root, cc_imatcher *m)
{
    cc_match_paths p;
    if (cc_match_get_paths(root, m, &p) < 0) {
        return cc_py_raise();
    }
    PyObject *dict = PyDict_New();
    for (int64_t i = 0; dict != NULL && i < p.n_paths; i++) {
        PyObject *path = wrap_path(&p, i);
        if (path == NULL || PyDict_SetItem(dict, PyList_GET_ITEM(path, 0), path) < 0) {
            Py_XDECREF(path);
            Py_CLEAR(dict);
            break;
        }
        Py_DECREF(path);
    }
    cc_match_paths_clear(&p);
    return dict;
}

static PyObject *
op_get_all_paths(cc_node *root, cc_imatcher *m)
{
    cc_match_paths p;
    if (cc_match_get_all_paths(root, m, &p) < 0) {
        return cc_py_raise();
    }
    PyObject *dict = PyDict_New();
    for (int64_t i = 0; dict != NULL && i < p.n_paths; i++) {
        PyObject *path = wrap_path(&p, i);
        PyObject *paths = NULL;
        if (path != NULL) {
            paths = PyDict_GetItemWithError(dict, PyList_GET_ITEM(path, 0));
            if (paths == NULL && !PyErr_Occurred()) {
                paths = PyList_New(0);
                if (paths != NULL && PyDict_SetItem(dict, PyList_GET_ITEM(path, 0), paths) < 0) {
                    Py_CLEAR(paths);
                }
                Py_XDECREF(paths); // the dict holds it
            }
        }
        if (paths == NULL || PyList_Append(paths, path) < 0) {
            Py_XDECREF(path);
            Py_CLEAR(dict);
            break;
        }
        Py_DECREF(path);
    }
    cc_match_paths_clear(&p);
    return dict;
}

static PyObject *
op_get_all_circuits_in_paths(cc_node *root, cc_imatcher *m)
{
    cc_node **nodes;
    int64_t n;
    if (cc_match_get_all_circuits_in_paths(root, m, &nodes, &n) < 0) {
        return cc_py_raise();
    }
    PyObject *list = PyList_New((Py_ssize_t)n);
    for (int64_t i = 0; list != NULL && i < n; i++) {
        PyObject *c = cc_py_wrap(nodes[i]);
        if (c == NULL) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, c);
    }
    cc_free(nodes);
    return list;
}

int
cc_py_get_validate(cc_node *root, cc_imatcher *m)
{
    cc_node **found;
    int64_t n;
    if (found_nodes(root, m, 1, &found, &n) < 0) {
        return -1;
    }
    cc_free(found);
    return 0;
}

// --- Getter and BoundGetter -------------------------------------------------------------------

typedef struct {
    PyObject_HEAD int default_fancy_validate;
} getter_obj;

#define GETTER_DEFAULT(o) (((getter_obj *)(o))->default_fancy_validate)

static PyObject *
getter_alloc(PyTypeObject *type, int default_fancy_validate)
{
    getter_obj *o = (getter_obj *)type->tp_alloc(type, 0);
    if (o != NULL) {
        o->default_fancy_validate = default_fancy_validate;
    }
    return (PyObject *)o;
}

static PyObject *
getter_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"default_fancy_validate", NULL};
    int dflt = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|p:Getter", kwlist, &dflt)) {
        return NULL;
    }
    return getter_alloc(type, dflt);
}

PyObject *
cc_py_get_run(cc_py_get_op op, cc_node *root, PyObject *matcher, int fancy_validate)
{
    cc_imatcher *m = cc_py_imatcher_arg(matcher);
    if (m == NULL) {
        return NULL;
    }
    PyObject *out = NULL;
    switch (op) {
    case CC_PY_GET:
        out = op_get(root, m, fancy_validate);
        break;
    case CC_PY_GET_UNIQUE:
        out = op_get_unique(root, m, fancy_validate, 0);
        break;
    case CC_PY_GET_UNIQUE_OP:
        out = op_get_unique(root, m, fancy_validate, 1);
        break;
    case CC_PY_GET_PATHS:
        out = op_get_paths(root, m);
        break;
    case CC_PY_GET_ALL_PATHS:
        out = op_get_all_paths(root, m);
        break;
    case CC_PY_GET_ALL_IN_PATHS:
        out = op_get_all_circuits_in_paths(root, m);
        break;
    case CC_PY_GET_VALIDATE:
        out = cc_py_get_validate(root, m) < 0 ? NULL : Py_NewRef(Py_None);
        break;
    }
    cc_imatcher_decref(m);
    return out;
}

int
cc_py_get_op_validates(cc_py_get_op op)
{
    return op == CC_PY_GET || op == CC_PY_GET_UNIQUE || op == CC_PY_GET_UNIQUE_OP;
}

// Getter.<op>(circuit, matcher[, fancy_validate]).
static PyObject *
getter_call_op(PyObject *self, PyObject *args, PyObject *kwds, cc_py_get_op op)
{
    static char *kw_validate[] = {"circuit", "matcher", "fancy_validate", NULL};
    static char *kw_plain[] = {"circuit", "matcher", NULL};
    PyObject *circuit, *matcher, *fv = NULL;
    int ok =
        cc_py_get_op_validates(op)
            ? PyArg_ParseTupleAndKeywords(args, kwds, "OO|O", kw_validate, &circuit, &matcher, &fv)
            : PyArg_ParseTupleAndKeywords(args, kwds, "OO", kw_plain, &circuit, &matcher);
    cc_node *root;
    if (!ok || !cc_py_node_check(circuit, "circuit", &root)) {
        return NULL;
    }
    int validate = cc_py_opt_bool(fv, GETTER_DEFAULT(self));
    if (validate < 0) {
        return NULL;
    }
    return cc_py_get_run(op, root, matcher, validate);
}

#define GETTER_METHOD(fname, op)                                                                   \
    static PyObject *fname(PyObject *self, PyObject *args, PyObject *kwds)                         \
    {                                                                                              \
        return getter_call_op(self, args, kwds, op);                                               \
    }

GETTER_METHOD(getter_get, CC_PY_GET)
GETTER_METHOD(getter_get_unique, CC_PY_GET_UNIQUE)
GETTER_METHOD(getter_get_unique_op, CC_PY_GET_UNIQUE_OP)
GETTER_METHOD(getter_get_paths, CC_PY_GET_PATHS)
GETTER_METHOD(getter_get_all_paths, CC_PY_GET_ALL_PATHS)
GETTER_METHOD(getter_get_all_in_paths, CC_PY_GET_ALL_IN_PATHS)
GETTER_METHOD(getter_validate, CC_PY_GET_VALIDATE)

PyObject *
cc_py_bound_make(PyTypeObject *type, PyObject *owner, PyObject *matcher)
{
    cc_imatcher *m = cc_py_imatcher_arg(matcher);
    if (m == NULL) {
        return NULL;
    }
    PyObject *mobj = cc_py_imatcher_wrap(m);
    if (mobj == NULL) {
        return NULL;
    }
    cc_py_bound_obj *o = (cc_py_bound_obj *)type->tp_alloc(type, 0);
    if (o == NULL) {
        Py_DECREF(mobj);
        return NULL;
    }
    o->getter = Py_NewRef(owner);
    o->matcher = mobj;
    return (PyObject *)o;
}

static PyObject *
getter_bind(PyObject *self, PyObject *matcher)
{
    PyObject *copy = cc_py_getter_make(GETTER_DEFAULT(self));
    if (copy == NULL) {
        return NULL;
    }
    PyObject *out = cc_py_bound_make(cc_py_bound_getter_type, copy, matcher);
    Py_DECREF(copy);
    return out;
}

static PyObject *
getter_get_default(PyObject *self, void *closure)
{
    (void)closure;
    return PyBool_FromLong(GETTER_DEFAULT(self));
}

static int
getter_set_default(PyObject *self, PyObject *value, void *closure)
{
    (void)closure;
    int t = value == NULL ? -1 : PyObject_IsTrue(value);
    if (t < 0) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_AttributeError, "cannot delete default_fancy_validate");
        }
        return -1;
    }
    GETTER_DEFAULT(self) = t;
    return 0;
}

static PyMethodDef getter_methods[] = {
    {"get", (PyCFunction)(void (*)(void))getter_get, METH_VARARGS | METH_KEYWORDS,
     "get(circuit, matcher, fancy_validate=None) -> set of found circuits."},
    {"get_unique", (PyCFunction)(void (*)(void))getter_get_unique, METH_VARARGS | METH_KEYWORDS,
     "get_unique(circuit, matcher, fancy_validate=None) -> the one found circuit."},
    {"get_unique_op", (PyCFunction)(void (*)(void))getter_get_unique_op,
     METH_VARARGS | METH_KEYWORDS,
     "get_unique_op(circuit, matcher, fancy_validate=None) -> the found circuit or None."},
    {"get_paths", (PyCFunction)(void (*)(void))getter_get_paths, METH_VARARGS | METH_KEYWORDS,
     "get_paths(circuit, matcher) -> {found: [found, parent, ..., root]}."},
    {"get_all_paths", (PyCFunction)(void (*)(void))getter_get_all_paths,
     METH_VARARGS | METH_KEYWORDS, "get_all_paths(circuit, matcher) -> {found: [path, ...]}."},
    {"get_all_circuits_in_paths", (PyCFunction)(void (*)(void))getter_get_all_in_paths,
     METH_VARARGS | METH_KEYWORDS,
     "get_all_circuits_in_paths(circuit, matcher) -> the circuits on paths to found ones."},
    {"validate", (PyCFunction)(void (*)(void))getter_validate, METH_VARARGS | METH_KEYWORDS,
     "validate(circuit, matcher): fancy validation of what the matcher finds."},
    {"bind", getter_bind, METH_O, "bind(matcher) -> BoundGetter."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef getter_getset[] = {
    {"default_fancy_validate", getter_get_default, getter_set_default,
     "fancy_validate when a call does not say.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static void
getter_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyType_Slot getter_slots[] = {
    {Py_tp_new, getter_new},
    {Py_tp_dealloc, getter_dealloc},
    {Py_tp_call, (void *)getter_get},
    {Py_tp_methods, getter_methods},
    {Py_tp_getset, getter_getset},
    {Py_tp_doc, "Getter(default_fancy_validate=False): get / get_unique / get_paths of a "
                "matcher in a circuit."},
    {0, NULL},
};

PyType_Spec cc_py_getter_spec = {
    .name = "circuits.Getter",
    .basicsize = sizeof(getter_obj),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = getter_slots,
};

// BoundGetter.<op>(circuit[, fancy_validate]).
static PyObject *
bound_getter_call_op(PyObject *self, PyObject *args, PyObject *kwds, cc_py_get_op op)
{
    static char *kw_validate[] = {"circuit", "fancy_validate", NULL};
    static char *kw_plain[] = {"circuit", NULL};
    PyObject *circuit, *fv = NULL;
    int ok = cc_py_get_op_validates(op)
                 ? PyArg_ParseTupleAndKeywords(args, kwds, "O|O", kw_validate, &circuit, &fv)
                 : PyArg_ParseTupleAndKeywords(args, kwds, "O", kw_plain, &circuit);
    cc_node *root;
    if (!ok || !cc_py_node_check(circuit, "circuit", &root)) {
        return NULL;
    }
    cc_py_bound_obj *b = (cc_py_bound_obj *)self;
    int validate = cc_py_opt_bool(fv, GETTER_DEFAULT(b->getter));
    if (validate < 0) {
        return NULL;
    }
    return cc_py_get_run(op, root, b->matcher, validate);
}

#define BOUND_GETTER_METHOD(fname, op)                                                             \
    static PyObject *fname(PyObject *self, PyObject *args, PyObject *kwds)                         \
    {                                                                                              \
        return bound_getter_call_op(self, args, kwds, op);                                         \
    }

BOUND_GETTER_METHOD(bound_getter_get, CC_PY_GET)
BOUND_GETTER_METHOD(bound_getter_get_unique, CC_PY_GET_UNIQUE)
BOUND_GETTER_METHOD(bound_getter_get_unique_op, CC_PY_GET_UNIQUE_OP)
BOUND_GETTER_METHOD(bound_getter_get_paths, CC_PY_GET_PATHS)
BOUND_GETTER_METHOD(bound_getter_get_all_paths, CC_PY_GET_ALL_PATHS)
BOUND_GETTER_METHOD(bound_getter_get_all_in_paths, CC_PY_GET_ALL_IN_PATHS)
BOUND_GETTER_METHOD(bound_getter_validate, CC_PY_GET_VALIDATE)

void
cc_py_bound_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    Py_XDECREF(((cc_py_bound_obj *)self)->getter);
    Py_XDECREF(((cc_py_bound_obj *)self)->matcher);
    tp->tp_free(self);
    Py_DECREF(tp);
}

PyObject *
cc_py_bound_get_matcher(PyObject *self, void *closure)
{
    (void)closure;
    return Py_NewRef(((cc_py_bound_obj *)self)->matcher);
}

int
cc_py_bound_set_matcher(PyObject *self, PyObject *value, void *closure)
{
    (void)closure;
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "cannot delete matcher");
        return -1;
    }
    cc_imatcher *m = cc_py_imatcher_arg(value);
    PyObject *mobj = m == NULL ? NULL : cc_py_imatcher_wrap(m);
    if (mobj == NULL) {
        return -1;
    }
    Py_SETREF(((cc_py_bound_obj *)self)->matcher, mobj);
    return 0;
}

PyObject *
cc_py_bound_get_owner(PyObject *self, void *closure)
{
    (void)closure;
    return Py_NewRef(((cc_py_bound_obj *)self)->getter);
}

int
cc_py_bound_set_owner(PyObject *self, PyObject *value, void *closure)
{
    PyTypeObject *want = *(PyTypeObject **)closure;
    if (value == NULL || !PyObject_TypeCheck(value, want)) {
        PyErr_Format(PyExc_TypeError, "expected a %s", want->tp_name);
        return -1;
    }
    Py_SETREF(((cc_py_bound_obj *)self)->getter, Py_NewRef(value));
    return 0;
}

static PyObject *
bound_getter_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"getter", "matcher", NULL};
    PyObject *getter, *matcher;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!O:BoundGetter", kwlist, cc_py_getter_type,
                                     &getter, &matcher)) {
        return NULL;
    }
    return cc_py_bound_make(type, getter, matcher);
}

static PyMethodDef bound_getter_methods[] = {
    {"get", (PyCFunction)(void (*)(void))bound_getter_get, METH_VARARGS | METH_KEYWORDS,
     "get(circuit, fancy_validate=None) -> set of found circuits."},
    {"get_unique", (PyCFunction)(void (*)(void))bound_getter_get_unique,
     METH_VARARGS | METH_KEYWORDS, "get_unique(circuit, fancy_validate=None)."},
    {"get_unique_op", (PyCFunction)(void (*)(void))bound_getter_get_unique_op,
     METH_VARARGS | METH_KEYWORDS, "get_unique_op(circuit, fancy_validate=None)."},
    {"get_paths", (PyCFunction)(void (*)(void))bound_getter_get_paths, METH_VARARGS | METH_KEYWORDS,
     "get_paths(circuit)."},
    {"get_all_paths", (PyCFunction)(void (*)(void))bound_getter_get_all_paths,
     METH_VARARGS | METH_KEYWORDS, "get_all_paths(circuit)."},
    {"get_all_circuits_in_paths", (PyCFunction)(void (*)(void))bound_getter_get_all_in_paths,
     METH_VARARGS | METH_KEYWORDS, "get_all_circuits_in_paths(circuit)."},
    {"validate", (PyCFunction)(void (*)(void))bound_getter_validate, METH_VARARGS | METH_KEYWORDS,
     "validate(circuit)."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef bound_getter_getset[] = {
    {"getter", cc_py_bound_get_owner, cc_py_bound_set_owner, "The Getter.", &cc_py_getter_type},
    {"matcher", cc_py_bound_get_matcher, cc_py_bound_set_matcher, "The IterativeMatcher.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot bound_getter_slots[] = {
    {Py_tp_new, bound_getter_new},
    {Py_tp_dealloc, cc_py_bound_dealloc},
    {Py_tp_call, (void *)bound_getter_get},
    {Py_tp_methods, bound_getter_methods},
    {Py_tp_getset, bound_getter_getset},
    {Py_tp_doc, "BoundGetter(getter, matcher): a Getter with its matcher."},
    {0, NULL},
};

PyType_Spec cc_py_bound_getter_spec = {
    .name = "circuits.BoundGetter",
    .basicsize = sizeof(cc_py_bound_obj),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = bound_getter_slots,
};

PyObject *
cc_py_getter_make(int default_fancy_validate)
{
    return getter_alloc(cc_py_getter_type, default_fancy_validate);
}
