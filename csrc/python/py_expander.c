// circuits.Expander: rc's batch-aware replacement. Only translates: the walk is
// sample/expander.c; transforms are Python callables (Transform objects included).
#include "python/py_match.h"
#include "sample/expander.h"
#include "util/error.h"
#include "util/str.h"

#define NODE(o) (((cc_py_node *)(o))->node)

typedef struct {
    PyObject_HEAD PyObject *matchers; // tuple of IterativeMatcher
    PyObject *replacements;           // tuple of Transform
    PyObject *suffix;                 // str or None
    int ban_multiple_matches_on_node;
    int default_fancy_validate;
    int default_assert_any_found;
} expander_obj;

static PyTypeObject *expander_type;

// A TransformIn as a Transform (new reference), or NULL with TypeError.
static PyObject *
transform_arg(PyObject *obj)
{
    if (PyObject_TypeCheck(obj, cc_py_transform_type)) {
        return Py_NewRef(obj);
    }
    if (!PyCallable_Check(obj)) {
        return PyErr_Format(PyExc_TypeError,
                            "an Expander transform is a callable Circuit -> Circuit or a "
                            "Transform, not %.100s",
                            Py_TYPE(obj)->tp_name);
    }
    return PyObject_CallOneArg((PyObject *)cc_py_transform_type, obj);
}

static PyObject *
expander_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static const char *flags[] = {"ban_multiple_matches_on_node", "default_fancy_validate",
                                  "default_assert_any_found"};
    int values[3] = {0, 0, 0};
    PyObject *suffix = Py_None;
    if (kwds != NULL) {
        Py_ssize_t pos = 0;
        PyObject *k, *v;
        while (PyDict_Next(kwds, &pos, &k, &v)) {
            const char *key = PyUnicode_AsUTF8(k);
            if (key == NULL) {
                return NULL;
            }
            int known = 0;
            for (int i = 0; i < 3; i++) {
                if (strcmp(key, flags[i]) == 0) {
                    values[i] = PyObject_IsTrue(v);
                    if (values[i] < 0) {
                        return NULL;
                    }
                    known = 1;
                }
            }
            if (strcmp(key, "suffix") == 0) {
                if (v != Py_None && !PyUnicode_Check(v)) {
                    return PyErr_Format(PyExc_TypeError, "suffix must be a str or None, not %.100s",
                                        Py_TYPE(v)->tp_name);
                }
                suffix = v;
                known = 1;
            }
            if (!known) {
                return PyErr_Format(PyExc_TypeError, "Expander() got an unexpected keyword '%s'",
                                    key);
            }
        }
    }
    Py_ssize_t n = PyTuple_GET_SIZE(args);
    PyObject *matchers = PyTuple_New(n), *replacements = PyTuple_New(n);
    if (matchers == NULL || replacements == NULL) {
        goto fail;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *pair = PyTuple_GET_ITEM(args, i);
        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
            PyErr_Format(PyExc_TypeError,
                         "Expander takes (matcher, transform) pairs; argument %zd is %.100s", i,
                         Py_TYPE(pair)->tp_name);
            goto fail;
        }
        cc_imatcher *m = cc_py_imatcher_arg(PyTuple_GET_ITEM(pair, 0));
        PyObject *mo = m != NULL ? cc_py_imatcher_wrap(m) : NULL;
        if (mo == NULL) {
            goto fail;
        }
        PyTuple_SET_ITEM(matchers, i, mo);
        PyObject *t = transform_arg(PyTuple_GET_ITEM(pair, 1));
        if (t == NULL) {
            goto fail;
        }
        PyTuple_SET_ITEM(replacements, i, t);
    }
    expander_obj *self = (expander_obj *)type->tp_alloc(type, 0);
    if (self == NULL) {
        goto fail;
    }
    self->matchers = matchers;
    self->replacements = replacements;
    self->suffix = Py_NewRef(suffix);
    self->ban_multiple_matches_on_node = values[0];
    self->default_fancy_validate = values[1];
    self->default_assert_any_found = values[2];
    return (PyObject *)self;
fail:
    Py_XDECREF(matchers);
    Py_XDECREF(replacements);
    return NULL;
}

static void
expander_dealloc(PyObject *self)
{
    expander_obj *e = (expander_obj *)self;
    PyTypeObject *tp = Py_TYPE(self);
    Py_XDECREF(e->matchers);
    Py_XDECREF(e->replacements);
    Py_XDECREF(e->suffix);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyObject *
expander_batch(PyObject *self, PyObject *args, PyObject *kwds)
{
    expander_obj *e = (expander_obj *)self;
    static char *kwlist[] = {"circuit", "fancy_validate", "assert_any_found", NULL};
    PyObject *c_obj, *fv_obj = Py_None, *aaf_obj = Py_None;
    cc_node *root;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|OO:batch", kwlist, &c_obj, &fv_obj, &aaf_obj) ||
        !cc_py_node_check(c_obj, "circuit", &root)) {
        return NULL;
    }
    int fancy_validate = cc_py_opt_bool(fv_obj, e->default_fancy_validate);
    int assert_any_found = cc_py_opt_bool(aaf_obj, e->default_assert_any_found);
    if (fancy_validate < 0 || assert_any_found < 0) {
        return NULL;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(e->matchers);
    cc_imatcher **ms = PyMem_Calloc((size_t)(n > 0 ? n : 1), sizeof(cc_imatcher *));
    cc_transform *ts = PyMem_Calloc((size_t)(n > 0 ? n : 1), sizeof(cc_transform));
    if (ms == NULL || ts == NULL) {
        PyMem_Free(ms);
        PyMem_Free(ts);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        ms[i] = CC_PY_IMATCHER(PyTuple_GET_ITEM(e->matchers, i));
        ts[i] = (cc_transform){.run = cc_py_transform_call,
                               .ctx = PyTuple_GET_ITEM(e->replacements, i)};
    }
    PyObject *out = NULL;
    for (Py_ssize_t i = 0; fancy_validate && i < n; i++) {
        if (cc_py_get_validate(root, ms[i]) < 0) {
            goto done;
        }
    }
    cc_expander_options options = {
        .ban_multiple_matches_on_node = e->ban_multiple_matches_on_node,
        .suffix = e->suffix == Py_None ? NULL : PyUnicode_AsUTF8(e->suffix),
    };
    if (e->suffix != Py_None && options.suffix == NULL) {
        goto done;
    }
    int any_found = 0;
    cc_node *r = cc_expander_run(root, (int)n, ms, ts, &options, &any_found);
    if (r == NULL) {
        cc_py_raise();
        goto done;
    }
    if (assert_any_found && !any_found) {
        cc_node_decref(r);
        cc_str s;
        cc_str_init(&s);
        int ok = cc_str_append(&s, "[") == 0;
        for (Py_ssize_t i = 0; ok && i < n; i++) {
            ok = (i == 0 || cc_str_append(&s, ", ") == 0) && cc_imatcher_describe(ms[i], &s) == 0;
        }
        ok = ok && cc_str_append(&s, "]") == 0;
        if (ok) {
            PyErr_Format(PyExc_RuntimeError,
                         "No matches found during expand\nmatchers: %s, circuit: %s '%s'", s.data,
                         cc_kind_get_info(root->kind)->py_name, root->name ? root->name : "");
        } else {
            PyErr_NoMemory();
        }
        cc_str_clear(&s);
        goto done;
    }
    out = cc_py_wrap_steal(r);
done:
    PyMem_Free(ms);
    PyMem_Free(ts);
    return out;
}

static PyObject *
expander_get(PyObject *self, void *closure)
{
    expander_obj *e = (expander_obj *)self;
    const char *which = closure;
    if (strcmp(which, "matchers") == 0) {
        return PySequence_List(e->matchers);
    }
    if (strcmp(which, "replacements") == 0) {
        return PySequence_List(e->replacements);
    }
    if (strcmp(which, "suffix") == 0) {
        return Py_NewRef(e->suffix);
    }
    if (strcmp(which, "ban_multiple_matches_on_node") == 0) {
        return PyBool_FromLong(e->ban_multiple_matches_on_node);
    }
    if (strcmp(which, "default_fancy_validate") == 0) {
        return PyBool_FromLong(e->default_fancy_validate);
    }
    return PyBool_FromLong(e->default_assert_any_found);
}

static int
expander_set_flag(PyObject *self, PyObject *value, void *closure)
{
    expander_obj *e = (expander_obj *)self;
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "cannot delete an Expander flag");
        return -1;
    }
    int v = PyObject_IsTrue(value);
    if (v < 0) {
        return -1;
    }
    const char *which = closure;
    if (strcmp(which, "ban_multiple_matches_on_node") == 0) {
        e->ban_multiple_matches_on_node = v;
    } else if (strcmp(which, "default_fancy_validate") == 0) {
        e->default_fancy_validate = v;
    } else {
        e->default_assert_any_found = v;
    }
    return 0;
}

static PyGetSetDef expander_getset[] = {
    {"matchers", expander_get, NULL, "The IterativeMatchers, one per pair.", "matchers"},
    {"replacements", expander_get, NULL, "The Transforms, one per pair.", "replacements"},
    {"suffix", expander_get, NULL, "Appended as _<suffix> to changed named nodes, or None.",
     "suffix"},
    {"ban_multiple_matches_on_node", expander_get, expander_set_flag,
     "Two matchers finding one node is an error.", "ban_multiple_matches_on_node"},
    {"default_fancy_validate", expander_get, expander_set_flag,
     "Validate the matchers on each call unless told otherwise.", "default_fancy_validate"},
    {"default_assert_any_found", expander_get, expander_set_flag,
     "Raise when no matcher finds anything unless told otherwise.", "default_assert_any_found"},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef expander_methods[] = {
    {"batch", (PyCFunction)(void (*)(void))expander_batch, METH_VARARGS | METH_KEYWORDS,
     "batch(circuit, fancy_validate=None, assert_any_found=None): the expanded circuit."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot expander_slots[] = {
    {Py_tp_new, expander_new},
    {Py_tp_dealloc, expander_dealloc},
    {Py_tp_call, expander_batch},
    {Py_tp_getset, expander_getset},
    {Py_tp_methods, expander_methods},
    {Py_tp_doc, "Expander(*(matcher, transform), ban_multiple_matches_on_node=False, "
                "default_fancy_validate=False, default_assert_any_found=False, suffix=None): "
                "replaces what the matchers find (first matcher wins, found subtrees not "
                "visited) and re-derives every ancestor, so replacements may add batch axes."},
    {0, NULL},
};

static PyType_Spec expander_spec = {
    .name = "circuits.Expander",
    .basicsize = sizeof(expander_obj),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = expander_slots,
};

int
cc_py_expander_init(PyObject *module)
{
    expander_type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &expander_spec, NULL);
    if (expander_type == NULL) {
        return -1;
    }
    return PyModule_AddObjectRef(module, "Expander", (PyObject *)expander_type);
}
