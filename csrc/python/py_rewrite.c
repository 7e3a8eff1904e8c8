// Module functions of the rewrites (rc's names and signatures): push_down_index, split_to_concat,
// add/einsum flattening, cast_circuit and diff_circuits. Only argument translation lives here.
#include "python/bindings.h"

#include <stdlib.h>
#include <string.h>

#include "python/py_match.h"
#include "rewrite/cast.h"
#include "rewrite/flatten.h"
#include "rewrite/push_down_index.h"
#include "rewrite/split.h"
#include "text/diff.h"
#include "util/alloc.h"
#include "util/error.h"

// A Circuit of the given kind (borrowed), else a TypeError as rc's "expected X but got Y".
static int
kind_arg(PyObject *obj, cc_kind kind, const char *what, cc_node **out)
{
    if (!cc_py_node_check(obj, what, out)) {
        return -1;
    }
    if ((*out)->kind != kind) {
        PyErr_Format(PyExc_TypeError, "%s: expected %s but got %s", what,
                     cc_kind_get_info(kind)->py_name, cc_kind_get_info((*out)->kind)->py_name);
        return -1;
    }
    return 0;
}

// rc's traversal argument (an IterativeMatcherIn): None -> NULL (the rewrite's default), else a
// new reference.
static int
traversal_arg(PyObject *obj, cc_imatcher **out)
{
    *out = NULL;
    if (obj == NULL || obj == Py_None) {
        return 0;
    }
    *out = cc_py_imatcher_arg(obj);
    return *out == NULL ? -1 : 0;
}

// None -> NULL, str -> its UTF-8 (borrowed from obj).
static int
opt_str_arg(PyObject *obj, const char *what, const char **out)
{
    *out = NULL;
    if (obj == NULL || obj == Py_None) {
        return 0;
    }
    if (!PyUnicode_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "%s must be a str or None, not %s", what,
                     Py_TYPE(obj)->tp_name);
        return -1;
    }
    *out = PyUnicode_AsUTF8(obj);
    return *out == NULL ? -1 : 0;
}

// The result of an rc Optional rewrite: None when out is NULL.
static PyObject *
wrap_optional(int rc, cc_node *out)
{
    if (rc < 0) {
        return cc_py_raise();
    }
    if (out == NULL) {
        Py_RETURN_NONE;
    }
    return cc_py_wrap_steal(out);
}

static PyObject *
py_push_down_index(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    static char *kwlist[] = {"index",         "traversal", "suffix", "allow_partial_pushdown",
                             "elim_identity", NULL};
    PyObject *obj, *traversal = Py_None, *suffix_obj = Py_None;
    int allow_partial = 0, elim_identity = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|OOpp:push_down_index", kwlist, &obj, &traversal,
                                     &suffix_obj, &allow_partial, &elim_identity)) {
        return NULL;
    }
    cc_node *index;
    cc_push_down_options o = {.allow_partial_pushdown = allow_partial,
                              .elim_identity = elim_identity};
    if (kind_arg(obj, CC_KIND_INDEX, "push_down_index", &index) < 0 ||
        opt_str_arg(suffix_obj, "suffix", &o.suffix) < 0 ||
        traversal_arg(traversal, &o.traversal) < 0) {
        return NULL;
    }
    PyObject *out = cc_py_wrap_steal(cc_push_down_index(index, &o));
    cc_imatcher_decref(o.traversal);
    return out;
}

static PyObject *
py_push_down_index_once(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    static char *kwlist[] = {"node", "allow_partial_pushdown", "suffix", NULL};
    PyObject *obj, *suffix_obj = Py_None, *partial_obj = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|OO:push_down_index_once", kwlist, &obj,
                                     &partial_obj, &suffix_obj)) {
        return NULL;
    }
    cc_node *index;
    const char *suffix;
    int allow_partial = partial_obj == Py_None ? 0 : PyObject_IsTrue(partial_obj);
    if (allow_partial < 0 || kind_arg(obj, CC_KIND_INDEX, "push_down_index_once", &index) < 0 ||
        opt_str_arg(suffix_obj, "suffix", &suffix) < 0) {
        return NULL;
    }
    return cc_py_wrap_steal(cc_push_down_index_once(index, allow_partial, suffix));
}

static PyObject *
py_index_elim_identity(PyObject *self, PyObject *obj)
{
    (void)self;
    cc_node *index;
    if (kind_arg(obj, CC_KIND_INDEX, "index_elim_identity", &index) < 0) {
        return NULL;
    }
    cc_node *out = cc_index_elim_identity(index);
    if (out == index) {
        cc_node_decref(out);
        out = NULL;
    }
    return wrap_optional(0, out);
}

static PyObject *
py_split_to_concat(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    static char *kwlist[] = {"circuit", "axis", "sections", NULL};
    PyObject *obj, *seq;
    int axis;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OiO:split_to_concat", kwlist, &obj, &axis,
                                     &seq)) {
        return NULL;
    }
    cc_node *c;
    if (!cc_py_node_check(obj, "split_to_concat", &c)) {
        return NULL;
    }
    PyObject *fast = PySequence_Fast(seq, "split_to_concat: sections must be a sequence of ints");
    if (fast == NULL) {
        return NULL;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    int64_t *sections = PyMem_Malloc((size_t)(n + 1) * sizeof(int64_t));
    PyObject *out = NULL;
    if (sections == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        sections[i] = PyLong_AsLongLong(PySequence_Fast_GET_ITEM(fast, i));
        if (sections[i] == -1 && PyErr_Occurred()) {
            goto done;
        }
    }
    if (n > INT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "split_to_concat: too many sections");
        goto done;
    }
    out = cc_py_wrap_steal(cc_split_to_concat(c, axis, (int)n, sections));
done:
    PyMem_Free(sections);
    Py_DECREF(fast);
    return out;
}

static PyObject *
py_add_flatten(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    static char *kwlist[] = {"add", "traversal", NULL};
    PyObject *obj, *traversal = Py_None;
    cc_node *add;
    cc_imatcher *t;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|O:add_flatten", kwlist, &obj, &traversal) ||
        kind_arg(obj, CC_KIND_ADD, "add_flatten", &add) < 0 || traversal_arg(traversal, &t) < 0) {
        return NULL;
    }
    PyObject *out = cc_py_wrap_steal(cc_add_flatten(add, t));
    cc_imatcher_decref(t);
    return out;
}

static PyObject *
py_einsum_flatten(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    static char *kwlist[] = {"einsum", "traversal", NULL};
    PyObject *obj, *traversal = Py_None;
    cc_node *einsum;
    cc_imatcher *t;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|O:einsum_flatten", kwlist, &obj, &traversal) ||
        kind_arg(obj, CC_KIND_EINSUM, "einsum_flatten", &einsum) < 0 ||
        traversal_arg(traversal, &t) < 0) {
        return NULL;
    }
    PyObject *out = cc_py_wrap_steal(cc_einsum_flatten(einsum, t));
    cc_imatcher_decref(t);
    return out;
}

static PyObject *
py_add_flatten_once(PyObject *self, PyObject *obj)
{
    (void)self;
    cc_node *add, *out;
    if (kind_arg(obj, CC_KIND_ADD, "add_flatten_once", &add) < 0) {
        return NULL;
    }
    int rc = cc_add_flatten_once(add, &out);
    return wrap_optional(rc, out);
}

static PyObject *
py_einsum_flatten_once(PyObject *self, PyObject *obj)
{
    (void)self;
    cc_node *einsum, *out;
    if (kind_arg(obj, CC_KIND_EINSUM, "einsum_flatten_once", &einsum) < 0) {
        return NULL;
    }
    int rc = cc_einsum_flatten_once(einsum, &out);
    return wrap_optional(rc, out);
}

// rc's device names: "cpu", "cuda:0" .. "cuda:15" ("cuda" is taken as "cuda:0").
static int
parse_device(const char *s, cc_device_dtype *dd)
{
    if (strcmp(s, "cpu") == 0) {
        dd->device = CC_DEVICE_CPU;
        return 0;
    }
    if (strncmp(s, "cuda", 4) == 0) {
        const char *rest = s + 4;
        int index = 0;
        if (*rest == ':') {
            char *end;
            long v = strtol(rest + 1, &end, 10);
            if (end == rest + 1 || *end != '\0' || v < 0 || v > 15) {
                goto bad;
            }
            index = (int)v;
        } else if (*rest != '\0') {
            goto bad;
        }
        dd->device = CC_DEVICE_CUDA;
        dd->device_index = index;
        return 0;
    }
bad:
    PyErr_Format(PyExc_ValueError, "invalid device \"%s\": expected \"cpu\" or \"cuda:<0..15>\"",
                 s);
    return -1;
}

static int
parse_dtype(const char *s, cc_device_dtype *dd)
{
    for (int d = 0; d < CC_DTYPE_COUNT; d++) {
        if (strcmp(s, cc_dtype_name((cc_dtype)d)) == 0) {
            dd->dtype = (cc_dtype)d;
            return 0;
        }
    }
    PyErr_Format(PyExc_ValueError, "invalid dtype \"%s\"", s);
    return -1;
}

// The device and dtype fields (each None or a str) of a TorchDeviceDtypeOp-like object.
static int
device_dtype_arg(PyObject *obj, cc_device_dtype *dd)
{
    memset(dd, 0, sizeof *dd);
    static const char *const fields[2] = {"device", "dtype"};
    for (int k = 0; k < 2; k++) {
        PyObject *v = PyObject_GetAttrString(obj, fields[k]);
        if (v == NULL) {
            return -1;
        }
        const char *s;
        int rc = opt_str_arg(v, fields[k], &s);
        if (rc == 0 && s != NULL) {
            if (k == 0) {
                dd->has_device = 1;
                rc = parse_device(s, dd);
            } else {
                dd->has_dtype = 1;
                rc = parse_dtype(s, dd);
            }
        }
        Py_DECREF(v);
        if (rc < 0) {
            return -1;
        }
    }
    return 0;
}

static PyObject *
py_cast_circuit(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    static char *kwlist[] = {"circuit", "device_dtype", NULL};
    PyObject *obj, *dd_obj;
    cc_node *c;
    cc_device_dtype dd;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO:cast_circuit", kwlist, &obj, &dd_obj) ||
        !cc_py_node_check(obj, "cast_circuit", &c) || device_dtype_arg(dd_obj, &dd) < 0) {
        return NULL;
    }
    return cc_py_wrap_steal(cc_cast_circuit(c, &dd));
}

// rc's CliColor: None, an int, or a colour name.
static int
color_arg(PyObject *obj, const char *what, int *out)
{
    static const char *const names[7] = {"Red",     "Green", "Yellow", "Blue",
                                         "Magenta", "Cyan",  "White"};
    if (obj == Py_None) {
        *out = CC_DIFF_NO_COLOR;
        return 0;
    }
    if (PyLong_Check(obj)) {
        long v = PyLong_AsLong(obj);
        if (v == -1 && PyErr_Occurred()) {
            return -1;
        }
        if (v < 0) {
            PyErr_Format(PyExc_ValueError, "%s: a colour number must be >= 0, got %ld", what, v);
            return -1;
        }
        *out = (int)(v % 14);
        return 0;
    }
    const char *s;
    if (opt_str_arg(obj, what, &s) < 0) {
        return -1;
    }
    for (int k = 0; k < 7; k++) {
        if (strcmp(s, names[k]) == 0) {
            *out = k;
            return 0;
        }
    }
    PyErr_Format(PyExc_ValueError, "%s: unknown color name %s", what, s);
    return -1;
}

static PyObject *
py_diff_circuits(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    static char *kwlist[] = {"new",
                             "old",
                             "options",
                             "require_child_count_same",
                             "require_child_shapes_same",
                             "require_name_same",
                             "print_legend",
                             "same_self_color",
                             "same_color",
                             "new_color",
                             "removed_color",
                             NULL};
    PyObject *new_obj, *old_obj, *options = Py_None;
    PyObject *same_self = NULL, *same = Py_None, *new_col = NULL, *removed = NULL;
    cc_diff_options o;
    cc_diff_options_default(&o);
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO|OppppOOOO:diff_circuits", kwlist, &new_obj,
                                     &old_obj, &options, &o.require_child_count_same,
                                     &o.require_child_shapes_same, &o.require_name_same,
                                     &o.print_legend, &same_self, &same, &new_col, &removed)) {
        return NULL;
    }
    cc_node *new_c, *old_c;
    if (!cc_py_node_check(new_obj, "diff_circuits: new", &new_c) ||
        !cc_py_node_check(old_obj, "diff_circuits: old", &old_c) ||
        (same_self != NULL && color_arg(same_self, "same_self_color", &o.same_self_color) < 0) ||
        color_arg(same, "same_color", &o.same_color) < 0 ||
        (new_col != NULL && color_arg(new_col, "new_color", &o.new_color) < 0) ||
        (removed != NULL && color_arg(removed, "removed_color", &o.removed_color) < 0)) {
        return NULL;
    }
    if (options != Py_None) {
        // rc's PrintOptions: of its knobs the diff reads shape_only_when_necessary
        PyObject *v = PyObject_GetAttrString(options, "shape_only_when_necessary");
        if (v == NULL) {
            PyErr_Clear();
        } else {
            int t = PyObject_IsTrue(v);
            Py_DECREF(v);
            if (t < 0) {
                return NULL;
            }
            o.print.shape_only_when_necessary = t;
        }
    }
    char *text = cc_diff_circuits(new_c, old_c, &o);
    if (text == NULL) {
        return cc_py_raise();
    }
    PyObject *out = PyUnicode_FromString(text);
    cc_free(text);
    return out;
}

PyMethodDef cc_py_rewrite_methods[] = {
    {"push_down_index", (PyCFunction)(void (*)(void))py_push_down_index,
     METH_VARARGS | METH_KEYWORDS,
     "push_down_index(index, traversal=None, suffix=None, allow_partial_pushdown=False, "
     "elim_identity=True): the Index moved down while the traversal continues (None: "
     "default_index_traversal(), stopping at Index and Array); same value."},
    {"push_down_index_once", (PyCFunction)(void (*)(void))py_push_down_index_once,
     METH_VARARGS | METH_KEYWORDS,
     "push_down_index_once(node, allow_partial_pushdown=False, suffix=None): one step of "
     "push_down_index."},
    {"index_elim_identity", py_index_elim_identity, METH_O,
     "index_elim_identity(index): the child when the Index selects everything, else None."},
    {"split_to_concat", (PyCFunction)(void (*)(void))py_split_to_concat,
     METH_VARARGS | METH_KEYWORDS,
     "split_to_concat(circuit, axis, sections): Concat of consecutive slices of the given "
     "widths."},
    {"add_flatten", (PyCFunction)(void (*)(void))py_add_flatten, METH_VARARGS | METH_KEYWORDS,
     "add_flatten(add, traversal=None): nested Adds reached by the traversal (None: all) "
     "inlined into one Add."},
    {"einsum_flatten", (PyCFunction)(void (*)(void))py_einsum_flatten, METH_VARARGS | METH_KEYWORDS,
     "einsum_flatten(einsum, traversal=None): nested Einsums reached by the traversal (None: "
     "all) inlined into one Einsum."},
    {"add_flatten_once", py_add_flatten_once, METH_O,
     "add_flatten_once(add): Add children inlined one level, or None."},
    {"einsum_flatten_once", py_einsum_flatten_once, METH_O,
     "einsum_flatten_once(einsum): Einsum children inlined one level, or None."},
    {"cast_circuit", (PyCFunction)(void (*)(void))py_cast_circuit, METH_VARARGS | METH_KEYWORDS,
     "cast_circuit(circuit, device_dtype): Arrays cast to a TorchDeviceDtypeOp, names kept."},
    {"diff_circuits", (PyCFunction)(void (*)(void))py_diff_circuits, METH_VARARGS | METH_KEYWORDS,
     "diff_circuits(new, old, options=None, ...): a text diff of two circuits."},
    {NULL, NULL, 0, NULL},
};
