// Getter, BoundGetter, Updater, BoundUpdater, AnyFound, BoundAnyFound and Transform, the
// traversal methods of Matcher / IterativeMatcher (get, update, ...) and of Circuit. Only
// translates: the walks are match/get.c and match/update.c; transforms are callbacks.
#include "python/py_match.h"

#include <stdlib.h>
#include <string.h>

#include "match/get.h"
#include "match/update.h"
#include "util/alloc.h"
#include "util/blake3.h"
#include "util/error.h"
#include "util/str.h"

PyTypeObject *cc_py_bound_any_found_type;
static PyTypeObject *transform_type;
static PyTypeObject *getter_type;
static PyTypeObject *bound_getter_type;
static PyTypeObject *updater_type;
static PyTypeObject *bound_updater_type;
static PyTypeObject *any_found_type;

#define NODE(o) (((cc_py_node *)(o))->node)
#define IMATCHER(o) (((cc_py_imatcher_obj *)(o))->m)

// An optional bool argument: NULL or None gives dflt. -1 with an exception.
static int
opt_bool(PyObject *obj, int dflt)
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

static PyObject *
op_validate(cc_node *root, cc_imatcher *m)
{
    cc_node **found;
    int64_t n;
    if (found_nodes(root, m, 1, &found, &n) < 0) {
        return NULL;
    }
    cc_free(found);
    Py_RETURN_NONE;
}

// --- Transform --------------------------------------------------------------------------------

typedef struct {
    PyObject_HEAD PyObject *fn; // NULL: the identity
} transform_obj;

static cc_node *
transform_cb(void *ctx, cc_node *n)
{
    PyObject *c = cc_py_wrap(n);
    if (c == NULL) {
        return cc_fail_null(CC_E_PYTHON, "wrapping a circuit failed");
    }
    PyObject *r = PyObject_CallOneArg((PyObject *)ctx, c);
    Py_DECREF(c);
    if (r == NULL) {
        return cc_fail_null(CC_E_PYTHON, "a transform raised");
    }
    if (!PyObject_TypeCheck(r, cc_py_circuit_type)) {
        PyErr_Format(PyExc_TypeError, "a transform must return a Circuit, not %.100s",
                     Py_TYPE(r)->tp_name);
        Py_DECREF(r);
        return cc_fail_null(CC_E_PYTHON, "a transform returned a non-circuit");
    }
    cc_node *out = NODE(r);
    cc_node_incref(out);
    Py_DECREF(r);
    return out;
}

// The callable of a TransformIn (new reference; Py_None for the identity). NULL with TypeError.
static PyObject *
transform_fn_arg(PyObject *obj)
{
    if (PyObject_TypeCheck(obj, transform_type)) {
        PyObject *fn = ((transform_obj *)obj)->fn;
        return Py_NewRef(fn != NULL ? fn : Py_None);
    }
    if (!PyCallable_Check(obj)) {
        return PyErr_Format(PyExc_TypeError,
                            "a transform is a callable Circuit -> Circuit or a Transform, not "
                            "%.100s",
                            Py_TYPE(obj)->tp_name);
    }
    return Py_NewRef(obj);
}

static PyObject *
transform_make(PyObject *fn_or_none)
{
    transform_obj *o = (transform_obj *)transform_type->tp_alloc(transform_type, 0);
    if (o != NULL) {
        o->fn = fn_or_none == Py_None ? NULL : Py_NewRef(fn_or_none);
    }
    return (PyObject *)o;
}

static PyObject *
transform_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    (void)type;
    static char *kwlist[] = {"inp", NULL};
    PyObject *inp;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O:Transform", kwlist, &inp)) {
        return NULL;
    }
    PyObject *fn = transform_fn_arg(inp);
    if (fn == NULL) {
        return NULL;
    }
    PyObject *out = transform_make(fn);
    Py_DECREF(fn);
    return out;
}

static void
transform_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    Py_XDECREF(((transform_obj *)self)->fn);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyObject *
transform_run(PyObject *self, PyObject *circuit)
{
    cc_node *n;
    if (!cc_py_node_check(circuit, "circuit", &n)) {
        return NULL;
    }
    PyObject *fn = ((transform_obj *)self)->fn;
    if (fn == NULL) {
        return Py_NewRef(circuit);
    }
    cc_node *out = transform_cb(fn, n);
    return out == NULL ? NULL : cc_py_wrap_steal(out);
}

static PyObject *
transform_tp_call(PyObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"circuit", NULL};
    PyObject *circuit;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O:Transform.__call__", kwlist, &circuit)) {
        return NULL;
    }
    return transform_run(self, circuit);
}

static PyObject *
transform_ident(PyObject *cls, PyObject *unused)
{
    (void)cls;
    (void)unused;
    return transform_make(Py_None);
}

static PyObject *
transform_repr(PyObject *self)
{
    PyObject *fn = ((transform_obj *)self)->fn;
    if (fn == NULL) {
        return PyUnicode_FromString("Transform.ident()");
    }
    return PyUnicode_FromFormat("Transform(%R)", fn);
}

static PyObject *
transform_debug_print(PyObject *self, PyObject *unused)
{
    (void)unused;
    return transform_repr(self);
}

static PyObject *updater_make(PyObject *transform, int cache_transform, int cache_update,
                              int fancy_validate, int assert_any_found);

static PyObject *
transform_updater(PyObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"cache_transform", "cache_update", NULL};
    int cache_transform = 1, cache_update = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|pp:updater", kwlist, &cache_transform,
                                     &cache_update)) {
        return NULL;
    }
    return updater_make(self, cache_transform, cache_update, 0, 0);
}

static PyMethodDef transform_methods[] = {
    {"run", transform_run, METH_O, "run(circuit) -> the transformed circuit."},
    {"ident", transform_ident, METH_NOARGS | METH_STATIC, "The identity transform."},
    {"debug_print_to_str", transform_debug_print, METH_NOARGS, "A readable form."},
    {"updater", (PyCFunction)(void (*)(void))transform_updater, METH_VARARGS | METH_KEYWORDS,
     "updater(cache_transform=True, cache_update=True) -> Updater."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot transform_slots[] = {
    {Py_tp_new, transform_new},
    {Py_tp_dealloc, transform_dealloc},
    {Py_tp_call, transform_tp_call},
    {Py_tp_repr, transform_repr},
    {Py_tp_methods, transform_methods},
    {Py_tp_doc, "Transform(f): a replacement Circuit -> Circuit for update."},
    {0, NULL},
};

static PyType_Spec transform_spec = {
    .name = "circuits.Transform",
    .basicsize = sizeof(transform_obj),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = transform_slots,
};

// --- update -----------------------------------------------------------------------------------

static PyObject *
op_update(cc_node *root, cc_imatcher *m, PyObject *transform, int cache_transform, int cache_update,
          int fancy_validate, int assert_any_found)
{
    PyObject *fn = transform_fn_arg(transform);
    if (fn == NULL) {
        return NULL;
    }
    if (fancy_validate) {
        PyObject *ok = op_validate(root, m);
        if (ok == NULL) {
            Py_DECREF(fn);
            return NULL;
        }
        Py_DECREF(ok);
    }
    cc_transform t = {.run = transform_cb, .ctx = fn, .identity = fn == Py_None};
    cc_update_options options = {.cache_transform = cache_transform, .cache_update = cache_update};
    int any_found = 0;
    cc_node *out = cc_match_update(root, m, &t, &options, &any_found);
    Py_DECREF(fn);
    if (out == NULL) {
        return cc_py_raise();
    }
    if (assert_any_found && !any_found) {
        cc_node_decref(out);
        cc_str s;
        cc_str_init(&s);
        if (cc_imatcher_describe(m, &s) < 0 || s.data == NULL) {
            cc_str_clear(&s);
            return PyErr_NoMemory();
        }
        PyErr_Format(PyExc_RuntimeError,
                     "No matches found during update\nmatcher: %s, circuit: %s '%s'", s.data,
                     cc_kind_get_info(root->kind)->py_name, root->name ? root->name : "");
        cc_str_clear(&s);
        return NULL;
    }
    return cc_py_wrap_steal(out);
}

// --- Getter and BoundGetter -------------------------------------------------------------------

typedef struct {
    PyObject_HEAD int default_fancy_validate;
} getter_obj;

typedef struct {
    PyObject_HEAD PyObject *getter; // a Getter
    PyObject *matcher;              // an IterativeMatcher
} bound_obj;

#define GETTER_DEFAULT(o) (((getter_obj *)(o))->default_fancy_validate)

static PyObject *
getter_make(PyTypeObject *type, int default_fancy_validate)
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
    return getter_make(type, dflt);
}

// Which operation a getter-like call performs.
typedef enum {
    OP_GET,
    OP_UNIQUE,
    OP_UNIQUE_OP,
    OP_PATHS,
    OP_ALL_PATHS,
    OP_ALL_IN_PATHS,
    OP_VALIDATE,
} get_op;

static PyObject *
run_get_op(get_op op, cc_node *root, PyObject *matcher, int fancy_validate)
{
    cc_imatcher *m = cc_py_imatcher_arg(matcher);
    if (m == NULL) {
        return NULL;
    }
    PyObject *out = NULL;
    switch (op) {
    case OP_GET:
        out = op_get(root, m, fancy_validate);
        break;
    case OP_UNIQUE:
        out = op_get_unique(root, m, fancy_validate, 0);
        break;
    case OP_UNIQUE_OP:
        out = op_get_unique(root, m, fancy_validate, 1);
        break;
    case OP_PATHS:
        out = op_get_paths(root, m);
        break;
    case OP_ALL_PATHS:
        out = op_get_all_paths(root, m);
        break;
    case OP_ALL_IN_PATHS:
        out = op_get_all_circuits_in_paths(root, m);
        break;
    case OP_VALIDATE:
        out = op_validate(root, m);
        break;
    }
    cc_imatcher_decref(m);
    return out;
}

static int
op_takes_validate(get_op op)
{
    return op == OP_GET || op == OP_UNIQUE || op == OP_UNIQUE_OP;
}

// Getter.<op>(circuit, matcher[, fancy_validate]).
static PyObject *
getter_call_op(PyObject *self, PyObject *args, PyObject *kwds, get_op op)
{
    static char *kw_validate[] = {"circuit", "matcher", "fancy_validate", NULL};
    static char *kw_plain[] = {"circuit", "matcher", NULL};
    PyObject *circuit, *matcher, *fv = NULL;
    int ok =
        op_takes_validate(op)
            ? PyArg_ParseTupleAndKeywords(args, kwds, "OO|O", kw_validate, &circuit, &matcher, &fv)
            : PyArg_ParseTupleAndKeywords(args, kwds, "OO", kw_plain, &circuit, &matcher);
    cc_node *root;
    if (!ok || !cc_py_node_check(circuit, "circuit", &root)) {
        return NULL;
    }
    int validate = opt_bool(fv, GETTER_DEFAULT(self));
    if (validate < 0) {
        return NULL;
    }
    return run_get_op(op, root, matcher, validate);
}

#define GETTER_METHOD(fname, op)                                                                   \
    static PyObject *fname(PyObject *self, PyObject *args, PyObject *kwds)                         \
    {                                                                                              \
        return getter_call_op(self, args, kwds, op);                                               \
    }

GETTER_METHOD(getter_get, OP_GET)
GETTER_METHOD(getter_get_unique, OP_UNIQUE)
GETTER_METHOD(getter_get_unique_op, OP_UNIQUE_OP)
GETTER_METHOD(getter_get_paths, OP_PATHS)
GETTER_METHOD(getter_get_all_paths, OP_ALL_PATHS)
GETTER_METHOD(getter_get_all_in_paths, OP_ALL_IN_PATHS)
GETTER_METHOD(getter_validate, OP_VALIDATE)

static PyObject *
bound_make(PyTypeObject *type, PyObject *owner, PyObject *matcher)
{
    cc_imatcher *m = cc_py_imatcher_arg(matcher);
    if (m == NULL) {
        return NULL;
    }
    PyObject *mobj = cc_py_imatcher_wrap(m);
    if (mobj == NULL) {
        return NULL;
    }
    bound_obj *o = (bound_obj *)type->tp_alloc(type, 0);
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
    PyObject *copy = getter_make(getter_type, GETTER_DEFAULT(self));
    if (copy == NULL) {
        return NULL;
    }
    PyObject *out = bound_make(bound_getter_type, copy, matcher);
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

static PyType_Spec getter_spec = {
    .name = "circuits.Getter",
    .basicsize = sizeof(getter_obj),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = getter_slots,
};

// BoundGetter.<op>(circuit[, fancy_validate]).
static PyObject *
bound_getter_call_op(PyObject *self, PyObject *args, PyObject *kwds, get_op op)
{
    static char *kw_validate[] = {"circuit", "fancy_validate", NULL};
    static char *kw_plain[] = {"circuit", NULL};
    PyObject *circuit, *fv = NULL;
    int ok = op_takes_validate(op)
                 ? PyArg_ParseTupleAndKeywords(args, kwds, "O|O", kw_validate, &circuit, &fv)
                 : PyArg_ParseTupleAndKeywords(args, kwds, "O", kw_plain, &circuit);
    cc_node *root;
    if (!ok || !cc_py_node_check(circuit, "circuit", &root)) {
        return NULL;
    }
    bound_obj *b = (bound_obj *)self;
    int validate = opt_bool(fv, GETTER_DEFAULT(b->getter));
    if (validate < 0) {
        return NULL;
    }
    return run_get_op(op, root, b->matcher, validate);
}

#define BOUND_GETTER_METHOD(fname, op)                                                             \
    static PyObject *fname(PyObject *self, PyObject *args, PyObject *kwds)                         \
    {                                                                                              \
        return bound_getter_call_op(self, args, kwds, op);                                         \
    }

BOUND_GETTER_METHOD(bound_getter_get, OP_GET)
BOUND_GETTER_METHOD(bound_getter_get_unique, OP_UNIQUE)
BOUND_GETTER_METHOD(bound_getter_get_unique_op, OP_UNIQUE_OP)
BOUND_GETTER_METHOD(bound_getter_get_paths, OP_PATHS)
BOUND_GETTER_METHOD(bound_getter_get_all_paths, OP_ALL_PATHS)
BOUND_GETTER_METHOD(bound_getter_get_all_in_paths, OP_ALL_IN_PATHS)
BOUND_GETTER_METHOD(bound_getter_validate, OP_VALIDATE)

static void
bound_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    Py_XDECREF(((bound_obj *)self)->getter);
    Py_XDECREF(((bound_obj *)self)->matcher);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyObject *
bound_get_matcher(PyObject *self, void *closure)
{
    (void)closure;
    return Py_NewRef(((bound_obj *)self)->matcher);
}

static int
bound_set_matcher(PyObject *self, PyObject *value, void *closure)
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
    Py_SETREF(((bound_obj *)self)->matcher, mobj);
    return 0;
}

static PyObject *
bound_get_owner(PyObject *self, void *closure)
{
    (void)closure;
    return Py_NewRef(((bound_obj *)self)->getter);
}

static int
bound_set_owner(PyObject *self, PyObject *value, void *closure)
{
    PyTypeObject *want = *(PyTypeObject **)closure;
    if (value == NULL || !PyObject_TypeCheck(value, want)) {
        PyErr_Format(PyExc_TypeError, "expected a %s", want->tp_name);
        return -1;
    }
    Py_SETREF(((bound_obj *)self)->getter, Py_NewRef(value));
    return 0;
}

static PyObject *
bound_getter_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"getter", "matcher", NULL};
    PyObject *getter, *matcher;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!O:BoundGetter", kwlist, getter_type, &getter,
                                     &matcher)) {
        return NULL;
    }
    return bound_make(type, getter, matcher);
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
    {"getter", bound_get_owner, bound_set_owner, "The Getter.", &getter_type},
    {"matcher", bound_get_matcher, bound_set_matcher, "The IterativeMatcher.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot bound_getter_slots[] = {
    {Py_tp_new, bound_getter_new},
    {Py_tp_dealloc, bound_dealloc},
    {Py_tp_call, (void *)bound_getter_get},
    {Py_tp_methods, bound_getter_methods},
    {Py_tp_getset, bound_getter_getset},
    {Py_tp_doc, "BoundGetter(getter, matcher): a Getter with its matcher."},
    {0, NULL},
};

static PyType_Spec bound_getter_spec = {
    .name = "circuits.BoundGetter",
    .basicsize = sizeof(bound_obj),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = bound_getter_slots,
};

// --- Updater and BoundUpdater -----------------------------------------------------------------

typedef struct {
    PyObject_HEAD PyObject *transform; // a Transform
    int cache_transform, cache_update, default_fancy_validate, default_assert_any_found;
} updater_obj;

static PyObject *
updater_make(PyObject *transform, int cache_transform, int cache_update, int fancy_validate,
             int assert_any_found)
{
    PyObject *t;
    if (PyObject_TypeCheck(transform, transform_type)) {
        t = Py_NewRef(transform);
    } else {
        PyObject *fn = transform_fn_arg(transform);
        if (fn == NULL) {
            return NULL;
        }
        t = transform_make(fn);
        Py_DECREF(fn);
        if (t == NULL) {
            return NULL;
        }
    }
    updater_obj *o = (updater_obj *)updater_type->tp_alloc(updater_type, 0);
    if (o == NULL) {
        Py_DECREF(t);
        return NULL;
    }
    o->transform = t;
    o->cache_transform = cache_transform;
    o->cache_update = cache_update;
    o->default_fancy_validate = fancy_validate;
    o->default_assert_any_found = assert_any_found;
    return (PyObject *)o;
}

static PyObject *
updater_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    (void)type;
    static char *kwlist[] = {"transform",
                             "cache_transform",
                             "cache_update",
                             "default_fancy_validate",
                             "default_assert_any_found",
                             NULL};
    PyObject *transform;
    int ct = 1, cu = 1, fv = 0, aaf = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|pppp:Updater", kwlist, &transform, &ct, &cu,
                                     &fv, &aaf)) {
        return NULL;
    }
    return updater_make(transform, ct, cu, fv, aaf);
}

static void
updater_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    Py_XDECREF(((updater_obj *)self)->transform);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyObject *
updater_run(PyObject *updater, PyObject *circuit, PyObject *matcher, PyObject *fv, PyObject *aaf)
{
    updater_obj *u = (updater_obj *)updater;
    cc_node *root;
    if (!cc_py_node_check(circuit, "circuit", &root)) {
        return NULL;
    }
    int validate = opt_bool(fv, u->default_fancy_validate);
    int assert_found = validate < 0 ? -1 : opt_bool(aaf, u->default_assert_any_found);
    if (assert_found < 0) {
        return NULL;
    }
    cc_imatcher *m = cc_py_imatcher_arg(matcher);
    if (m == NULL) {
        return NULL;
    }
    PyObject *out = op_update(root, m, u->transform, u->cache_transform, u->cache_update, validate,
                              assert_found);
    cc_imatcher_decref(m);
    return out;
}

static PyObject *
updater_update(PyObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"circuit", "matcher", "fancy_validate", "assert_any_found", NULL};
    PyObject *circuit, *matcher, *fv = NULL, *aaf = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO|OO:update", kwlist, &circuit, &matcher, &fv,
                                     &aaf)) {
        return NULL;
    }
    return updater_run(self, circuit, matcher, fv, aaf);
}

static PyObject *
updater_bind(PyObject *self, PyObject *matcher)
{
    return bound_make(bound_updater_type, self, matcher);
}

static PyObject *
updater_get_field(PyObject *self, void *closure)
{
    updater_obj *u = (updater_obj *)self;
    const char *which = closure;
    if (strcmp(which, "transform") == 0) {
        return Py_NewRef(u->transform);
    }
    if (strcmp(which, "cache_transform") == 0) {
        return PyBool_FromLong(u->cache_transform);
    }
    if (strcmp(which, "cache_update") == 0) {
        return PyBool_FromLong(u->cache_update);
    }
    if (strcmp(which, "default_fancy_validate") == 0) {
        return PyBool_FromLong(u->default_fancy_validate);
    }
    return PyBool_FromLong(u->default_assert_any_found);
}

static int
updater_set_flag(PyObject *self, PyObject *value, void *closure)
{
    updater_obj *u = (updater_obj *)self;
    int t = value == NULL ? -1 : PyObject_IsTrue(value);
    if (t < 0) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_AttributeError, "cannot delete this attribute");
        }
        return -1;
    }
    if (strcmp((const char *)closure, "default_fancy_validate") == 0) {
        u->default_fancy_validate = t;
    } else {
        u->default_assert_any_found = t;
    }
    return 0;
}

static PyMethodDef updater_methods[] = {
    {"update", (PyCFunction)(void (*)(void))updater_update, METH_VARARGS | METH_KEYWORDS,
     "update(circuit, matcher, fancy_validate=None, assert_any_found=None) -> the circuit with "
     "every found node transformed."},
    {"bind", updater_bind, METH_O, "bind(matcher) -> BoundUpdater."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef updater_getset[] = {
    {"transform", updater_get_field, NULL, "The Transform.", "transform"},
    {"cache_transform", updater_get_field, NULL, "Transforms cached by input.", "cache_transform"},
    {"cache_update", updater_get_field, NULL, "Results cached by (node, matcher).", "cache_update"},
    {"default_fancy_validate", updater_get_field, updater_set_flag, "Default fancy_validate.",
     "default_fancy_validate"},
    {"default_assert_any_found", updater_get_field, updater_set_flag, "Default assert_any_found.",
     "default_assert_any_found"},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot updater_slots[] = {
    {Py_tp_new, updater_new},
    {Py_tp_dealloc, updater_dealloc},
    {Py_tp_call, (void *)updater_update},
    {Py_tp_methods, updater_methods},
    {Py_tp_getset, updater_getset},
    {Py_tp_doc, "Updater(transform, cache_transform=True, cache_update=True, "
                "default_fancy_validate=False, default_assert_any_found=False)."},
    {0, NULL},
};

static PyType_Spec updater_spec = {
    .name = "circuits.Updater",
    .basicsize = sizeof(updater_obj),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = updater_slots,
};

static PyObject *
bound_updater_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"updater", "matcher", NULL};
    PyObject *updater, *matcher;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!O:BoundUpdater", kwlist, updater_type, &updater,
                                     &matcher)) {
        return NULL;
    }
    return bound_make(type, updater, matcher);
}

static PyObject *
bound_updater_update(PyObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"circuit", "fancy_validate", "assert_any_found", NULL};
    PyObject *circuit, *fv = NULL, *aaf = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|OO:update", kwlist, &circuit, &fv, &aaf)) {
        return NULL;
    }
    bound_obj *b = (bound_obj *)self;
    return updater_run(b->getter, circuit, b->matcher, fv, aaf);
}

static PyMethodDef bound_updater_methods[] = {
    {"update", (PyCFunction)(void (*)(void))bound_updater_update, METH_VARARGS | METH_KEYWORDS,
     "update(circuit, fancy_validate=None, assert_any_found=None)."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef bound_updater_getset[] = {
    {"updater", bound_get_owner, bound_set_owner, "The Updater.", &updater_type},
    {"matcher", bound_get_matcher, bound_set_matcher, "The IterativeMatcher.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot bound_updater_slots[] = {
    {Py_tp_new, bound_updater_new},
    {Py_tp_dealloc, bound_dealloc},
    {Py_tp_call, (void *)bound_updater_update},
    {Py_tp_methods, bound_updater_methods},
    {Py_tp_getset, bound_updater_getset},
    {Py_tp_doc, "BoundUpdater(updater, matcher): an Updater with its matcher."},
    {0, NULL},
};

static PyType_Spec bound_updater_spec = {
    .name = "circuits.BoundUpdater",
    .basicsize = sizeof(bound_obj),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = bound_updater_slots,
};

// --- AnyFound and BoundAnyFound ---------------------------------------------------------------

typedef struct {
    PyObject_HEAD cc_any_found *cache; // memo over (node, state) kept across calls, as rc's
} any_found_obj;

static PyObject *
any_found_make(void)
{
    any_found_obj *o = (any_found_obj *)any_found_type->tp_alloc(any_found_type, 0);
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
    return any_found_make();
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
    PyObject *fresh = any_found_make();
    if (fresh == NULL) {
        return NULL;
    }
    PyObject *out = bound_make(cc_py_bound_any_found_type, fresh, matcher);
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

static PyType_Spec any_found_spec = {
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
        PyObject *fresh = any_found_make();
        if (fresh == NULL) {
            return NULL;
        }
        PyObject *out = bound_make(type, fresh, matcher);
        Py_DECREF(fresh);
        return out;
    }
    if (!PyObject_TypeCheck(af, any_found_type)) {
        return PyErr_Format(PyExc_TypeError, "BoundAnyFound takes an AnyFound, not %.100s",
                            Py_TYPE(af)->tp_name);
    }
    return bound_make(type, af, matcher);
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
    bound_obj *b = (bound_obj *)self;
    return any_found_run(b->getter, root, b->matcher);
}

static int
bound_any_found_cb(void *ctx, const cc_node *n, int *out)
{
    bound_obj *b = ctx;
    return cc_any_found_run(((any_found_obj *)b->getter)->cache, (cc_node *)n, IMATCHER(b->matcher),
                            out);
}

static void
py_incref(void *ctx)
{
    Py_INCREF((PyObject *)ctx);
}

static void
py_decref(void *ctx)
{
    Py_DECREF((PyObject *)ctx);
}

cc_matcher *
cc_py_bound_any_found_matcher(PyObject *obj)
{
    bound_obj *b = (bound_obj *)obj;
    // A snapshot, so that later assignments to obj.matcher leave this matcher as it is.
    PyObject *snapshot = bound_make(cc_py_bound_any_found_type, b->getter, b->matcher);
    if (snapshot == NULL) {
        return NULL;
    }
    cc_imatcher *finder = IMATCHER(b->matcher);
    cc_str label;
    cc_str_init(&label);
    cc_matcher *m = NULL;
    if (cc_str_append(&label, "AnyFound(") == 0 && cc_imatcher_describe(finder, &label) == 0 &&
        cc_str_append(&label, ")") == 0) {
        cc_match_callback cb = {
            .kind = CC_MATCH_CALLBACK_ANY_FOUND,
            .match = bound_any_found_cb,
            .incref = py_incref,
            .decref = py_decref,
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
    {"any_found", bound_get_owner, bound_set_owner, "The AnyFound.", &any_found_type},
    {"matcher", bound_get_matcher, bound_set_matcher, "The IterativeMatcher.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot bound_any_found_slots[] = {
    {Py_tp_new, bound_any_found_new},
    {Py_tp_dealloc, bound_dealloc},
    {Py_tp_call, (void *)bound_any_found_call},
    {Py_tp_methods, bound_any_found_methods},
    {Py_tp_getset, bound_any_found_getset},
    {Py_tp_doc, "BoundAnyFound(any_found, matcher): also usable as a Matcher input (matches "
                "nodes under which the matcher finds something)."},
    {0, NULL},
};

static PyType_Spec bound_any_found_spec = {
    .name = "circuits.BoundAnyFound",
    .basicsize = sizeof(bound_obj),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = bound_any_found_slots,
};

// --- methods of Matcher / IterativeMatcher: self is the matcher -------------------------------

static PyObject *
matcher_call_op(PyObject *self, PyObject *args, PyObject *kwds, get_op op)
{
    static char *kw_validate[] = {"circuit", "fancy_validate", NULL};
    static char *kw_plain[] = {"circuit", NULL};
    PyObject *circuit;
    int fv = 0;
    int ok = op_takes_validate(op)
                 ? PyArg_ParseTupleAndKeywords(args, kwds, "O|p", kw_validate, &circuit, &fv)
                 : PyArg_ParseTupleAndKeywords(args, kwds, "O", kw_plain, &circuit);
    cc_node *root;
    if (!ok || !cc_py_node_check(circuit, "circuit", &root)) {
        return NULL;
    }
    return run_get_op(op, root, self, fv);
}

#define MATCHER_METHOD(fname, op)                                                                  \
    static PyObject *fname(PyObject *self, PyObject *args, PyObject *kwds)                         \
    {                                                                                              \
        return matcher_call_op(self, args, kwds, op);                                              \
    }

MATCHER_METHOD(m_get, OP_GET)
MATCHER_METHOD(m_get_unique, OP_UNIQUE)
MATCHER_METHOD(m_get_unique_op, OP_UNIQUE_OP)
MATCHER_METHOD(m_get_paths, OP_PATHS)
MATCHER_METHOD(m_get_all_paths, OP_ALL_PATHS)
MATCHER_METHOD(m_get_all_in_paths, OP_ALL_IN_PATHS)
MATCHER_METHOD(m_validate, OP_VALIDATE)

static PyObject *
m_getter(PyObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"default_fancy_validate", NULL};
    int dflt = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|p:getter", kwlist, &dflt)) {
        return NULL;
    }
    PyObject *g = getter_make(getter_type, dflt);
    if (g == NULL) {
        return NULL;
    }
    PyObject *out = bound_make(bound_getter_type, g, self);
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
    PyObject *fresh = any_found_make();
    if (fresh == NULL) {
        return NULL;
    }
    PyObject *out = bound_make(cc_py_bound_any_found_type, fresh, self);
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
    PyObject *out = op_update(root, m, transform, ct, cu, fv, aaf);
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
    PyObject *u = updater_make(transform, ct, cu, fv, aaf);
    if (u == NULL) {
        return NULL;
    }
    PyObject *out = bound_make(bound_updater_type, u, self);
    Py_DECREF(u);
    return out;
}

static PyMethodDef traversal_methods[] = {
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
circuit_call_op(PyObject *self, PyObject *args, PyObject *kwds, get_op op)
{
    static char *kw_validate[] = {"matcher", "fancy_validate", NULL};
    static char *kw_plain[] = {"matcher", NULL};
    PyObject *matcher;
    int fv = 0;
    int ok = op_takes_validate(op)
                 ? PyArg_ParseTupleAndKeywords(args, kwds, "O|p", kw_validate, &matcher, &fv)
                 : PyArg_ParseTupleAndKeywords(args, kwds, "O", kw_plain, &matcher);
    if (!ok) {
        return NULL;
    }
    return run_get_op(op, NODE(self), matcher, fv);
}

#define CIRCUIT_METHOD(fname, op)                                                                  \
    static PyObject *fname(PyObject *self, PyObject *args, PyObject *kwds)                         \
    {                                                                                              \
        return circuit_call_op(self, args, kwds, op);                                              \
    }

CIRCUIT_METHOD(c_get, OP_GET)
CIRCUIT_METHOD(c_get_unique, OP_UNIQUE)
CIRCUIT_METHOD(c_get_unique_op, OP_UNIQUE_OP)
CIRCUIT_METHOD(c_get_paths, OP_PATHS)
CIRCUIT_METHOD(c_get_all_paths, OP_ALL_PATHS)
CIRCUIT_METHOD(c_get_all_in_paths, OP_ALL_IN_PATHS)

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
    PyObject *out = op_update(NODE(self), m, transform, ct, cu, fv, aaf);
    cc_imatcher_decref(m);
    return out;
}

static PyMethodDef circuit_methods[] = {
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

int
cc_py_getter_init(PyObject *module)
{
    struct {
        PyType_Spec *spec;
        PyTypeObject **out;
        const char *name;
    } types[] = {
        {&transform_spec, &transform_type, "Transform"},
        {&getter_spec, &getter_type, "Getter"},
        {&bound_getter_spec, &bound_getter_type, "BoundGetter"},
        {&updater_spec, &updater_type, "Updater"},
        {&bound_updater_spec, &bound_updater_type, "BoundUpdater"},
        {&any_found_spec, &any_found_type, "AnyFound"},
        {&bound_any_found_spec, &cc_py_bound_any_found_type, "BoundAnyFound"},
    };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        PyObject *t = PyType_FromModuleAndSpec(module, types[i].spec, NULL);
        if (t == NULL) {
            return -1;
        }
        *types[i].out = (PyTypeObject *)t;
        if (PyModule_AddObjectRef(module, types[i].name, t) < 0) {
            return -1;
        }
    }
    if (cc_py_add_methods(cc_py_matcher_type, traversal_methods) < 0 ||
        cc_py_add_methods(cc_py_imatcher_type, traversal_methods) < 0 ||
        cc_py_add_methods(cc_py_circuit_type, circuit_methods) < 0) {
        return -1;
    }
    return 0;
}
