// Transform, Updater and BoundUpdater, and the update operation they share with the update
// methods of the matchers and of Circuit. Only translates: the rebuild is match/update.c;
// transforms are callbacks.
#include "python/py_match.h"

#include <string.h>

#include "match/update.h"
#include "util/error.h"
#include "util/str.h"

#define NODE(o) (((cc_py_node *)(o))->node)

typedef struct {
    PyObject_HEAD PyObject *fn; // NULL: the identity
} transform_obj;

cc_node *
cc_py_transform_call(void *ctx, cc_node *n)
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
    if (PyObject_TypeCheck(obj, cc_py_transform_type)) {
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
    transform_obj *o = (transform_obj *)cc_py_transform_type->tp_alloc(cc_py_transform_type, 0);
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
    cc_node *out = cc_py_transform_call(fn, n);
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

static PyObject *
transform_updater(PyObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"cache_transform", "cache_update", NULL};
    int cache_transform = 1, cache_update = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|pp:updater", kwlist, &cache_transform,
                                     &cache_update)) {
        return NULL;
    }
    return cc_py_updater_make(self, cache_transform, cache_update, 0, 0);
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

PyType_Spec cc_py_transform_spec = {
    .name = "circuits.Transform",
    .basicsize = sizeof(transform_obj),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = transform_slots,
};

// --- update -----------------------------------------------------------------------------------

PyObject *
cc_py_update_run(cc_node *root, cc_imatcher *m, PyObject *transform, int cache_transform,
                 int cache_update, int fancy_validate, int assert_any_found)
{
    PyObject *fn = transform_fn_arg(transform);
    if (fn == NULL) {
        return NULL;
    }
    if (fancy_validate) {
        if (cc_py_get_validate(root, m) < 0) {
            Py_DECREF(fn);
            return NULL;
        }
    }
    cc_transform t = {.run = cc_py_transform_call, .ctx = fn, .identity = fn == Py_None};
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

// --- Updater and BoundUpdater -----------------------------------------------------------------

typedef struct {
    PyObject_HEAD PyObject *transform; // a Transform
    int cache_transform, cache_update, default_fancy_validate, default_assert_any_found;
} updater_obj;

PyObject *
cc_py_updater_make(PyObject *transform, int cache_transform, int cache_update, int fancy_validate,
                   int assert_any_found)
{
    PyObject *t;
    if (PyObject_TypeCheck(transform, cc_py_transform_type)) {
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
    updater_obj *o = (updater_obj *)cc_py_updater_type->tp_alloc(cc_py_updater_type, 0);
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
    return cc_py_updater_make(transform, ct, cu, fv, aaf);
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
    int validate = cc_py_opt_bool(fv, u->default_fancy_validate);
    int assert_found = validate < 0 ? -1 : cc_py_opt_bool(aaf, u->default_assert_any_found);
    if (assert_found < 0) {
        return NULL;
    }
    cc_imatcher *m = cc_py_imatcher_arg(matcher);
    if (m == NULL) {
        return NULL;
    }
    PyObject *out = cc_py_update_run(root, m, u->transform, u->cache_transform, u->cache_update,
                                     validate, assert_found);
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
    return cc_py_bound_make(cc_py_bound_updater_type, self, matcher);
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

PyType_Spec cc_py_updater_spec = {
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
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!O:BoundUpdater", kwlist, cc_py_updater_type,
                                     &updater, &matcher)) {
        return NULL;
    }
    return cc_py_bound_make(type, updater, matcher);
}

static PyObject *
bound_updater_update(PyObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"circuit", "fancy_validate", "assert_any_found", NULL};
    PyObject *circuit, *fv = NULL, *aaf = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|OO:update", kwlist, &circuit, &fv, &aaf)) {
        return NULL;
    }
    cc_py_bound_obj *b = (cc_py_bound_obj *)self;
    return updater_run(b->getter, circuit, b->matcher, fv, aaf);
}

static PyMethodDef bound_updater_methods[] = {
    {"update", (PyCFunction)(void (*)(void))bound_updater_update, METH_VARARGS | METH_KEYWORDS,
     "update(circuit, fancy_validate=None, assert_any_found=None)."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef bound_updater_getset[] = {
    {"updater", cc_py_bound_get_owner, cc_py_bound_set_owner, "The Updater.", &cc_py_updater_type},
    {"matcher", cc_py_bound_get_matcher, cc_py_bound_set_matcher, "The IterativeMatcher.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot bound_updater_slots[] = {
    {Py_tp_new, bound_updater_new},
    {Py_tp_dealloc, cc_py_bound_dealloc},
    {Py_tp_call, (void *)bound_updater_update},
    {Py_tp_methods, bound_updater_methods},
    {Py_tp_getset, bound_updater_getset},
    {Py_tp_doc, "BoundUpdater(updater, matcher): an Updater with its matcher."},
    {0, NULL},
};

PyType_Spec cc_py_bound_updater_spec = {
    .name = "circuits.BoundUpdater",
    .basicsize = sizeof(cc_py_bound_obj),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = bound_updater_slots,
};
