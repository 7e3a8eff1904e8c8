// rc's simp surface: simp(circuit), each simplification as a function returning the rewritten
// node or None, and SimpFnSubset (a set of simplification names). Only argument translation.
#include "python/bindings.h"

#include <string.h>

#include "rewrite/simp.h"
#include "util/error.h"

// The simplification a Python function name stands for (its row), or NULL.
static const cc_simp_row *
row_named(const char *name, int *index)
{
    int n;
    const cc_simp_row *rows = cc_simp_rows(&n);
    for (int i = 0; i < n; i++) {
        if (strcmp(rows[i].name, name) == 0) {
            *index = i;
            return &rows[i];
        }
    }
    return NULL;
}

// One simplification applied to one node: the result, or None when it does not apply.
static PyObject *
apply_row(const char *fn_name, PyObject *arg)
{
    int i;
    const cc_simp_row *row = row_named(fn_name, &i);
    cc_node *n;
    if (row == NULL || !cc_py_node_check(arg, fn_name, &n)) {
        return NULL;
    }
    if (n->kind != row->kind) {
        PyErr_Format(PyExc_TypeError, "%s: expected %s but got %s", fn_name,
                     cc_kind_get_info(row->kind)->py_name, cc_kind_get_info(n->kind)->py_name);
        return NULL;
    }
    cc_node *out;
    if (row->fn(n, &out) < 0) {
        return cc_py_raise();
    }
    if (out == NULL) {
        Py_RETURN_NONE;
    }
    return cc_py_wrap_steal(out);
}

#define SIMP_FN(fn_name)                                                                           \
    static PyObject *py_##fn_name(PyObject *self, PyObject *arg)                                   \
    {                                                                                              \
        (void)self;                                                                                \
        return apply_row(#fn_name, arg);                                                           \
    }
SIMP_FN(remove_add_few_input)
SIMP_FN(add_elim_zeros)
SIMP_FN(add_deduplicate)
SIMP_FN(add_elim_removable_axes_weak)
SIMP_FN(einsum_elim_zero)
SIMP_FN(einsum_elim_identity)
SIMP_FN(einsum_of_permute_merge)
SIMP_FN(einsum_remove_one)
SIMP_FN(einsum_elim_removable_axes_weak)
SIMP_FN(einsum_permute_to_rearrange)
SIMP_FN(index_merge_scalar)
SIMP_FN(rearrange_elim_identity)
SIMP_FN(rearrange_fuse)
SIMP_FN(rearrange_merge_scalar)
SIMP_FN(permute_of_einsum_merge)
SIMP_FN(concat_elim_identity)
SIMP_FN(concat_merge_uniform)
SIMP_FN(concat_drop_size_zero)
SIMP_FN(concat_fuse)
SIMP_FN(concat_repeat_to_rearrange)
#undef SIMP_FN

static PyObject *
simp_with(uint64_t mask, PyObject *arg)
{
    cc_node *n;
    if (!cc_py_node_check(arg, "simp", &n)) {
        return NULL;
    }
    return cc_py_wrap_steal(cc_simp(n, mask));
}

static PyObject *
py_simp(PyObject *self, PyObject *arg)
{
    (void)self;
    return simp_with(cc_simp_default_mask(), arg);
}

// --- SimpFnSubset -----------------------------------------------------------------------------

typedef struct {
    PyObject_HEAD uint64_t mask; // bit i: row i of cc_simp_rows
} subset_obj;

static PyTypeObject *subset_type;

static PyObject *
subset_new_mask(uint64_t mask)
{
    subset_obj *s = PyObject_New(subset_obj, subset_type);
    if (s != NULL) {
        s->mask = mask;
    }
    return (PyObject *)s;
}

static void
subset_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_Free(self);
    Py_DECREF(tp);
}

static uint64_t
all_mask(void)
{
    int n;
    cc_simp_rows(&n);
    return n == 64 ? ~(uint64_t)0 : ((uint64_t)1 << n) - 1;
}

static PyObject *
subset_all_names(PyObject *cls, PyObject *unused)
{
    (void)cls;
    (void)unused;
    int n;
    const cc_simp_row *rows = cc_simp_rows(&n);
    PyObject *out = PyList_New(n);
    for (int i = 0; out != NULL && i < n; i++) {
        PyObject *s = PyUnicode_FromString(rows[i].name);
        if (s == NULL) {
            Py_CLEAR(out);
            break;
        }
        PyList_SET_ITEM(out, i, s);
    }
    return out;
}

static PyObject *
subset_init_all_with(PyObject *cls, PyObject *arg)
{
    (void)cls;
    int include = PyObject_IsTrue(arg);
    if (include < 0) {
        return NULL;
    }
    return subset_new_mask(include ? all_mask() : 0);
}

static PyObject *
subset_none(PyObject *cls, PyObject *unused)
{
    (void)cls;
    (void)unused;
    return subset_new_mask(0);
}

static PyObject *
subset_all(PyObject *cls, PyObject *unused)
{
    (void)cls;
    (void)unused;
    return subset_new_mask(all_mask());
}

static PyObject *
subset_default(PyObject *cls, PyObject *unused)
{
    (void)cls;
    (void)unused;
    return subset_new_mask(cc_simp_default_mask());
}

static PyObject *
subset_compiler_default(PyObject *cls, PyObject *unused)
{
    (void)cls;
    (void)unused;
    return subset_new_mask(cc_simp_compiler_mask());
}

static PyObject *
subset_values(PyObject *self, void *closure)
{
    (void)closure;
    uint64_t mask = ((subset_obj *)self)->mask;
    int n;
    const cc_simp_row *rows = cc_simp_rows(&n);
    PyObject *d = PyDict_New();
    for (int i = 0; d != NULL && i < n; i++) {
        if (PyDict_SetItemString(d, rows[i].name, (mask >> i & 1) ? Py_True : Py_False) < 0) {
            Py_CLEAR(d);
        }
    }
    return d;
}

// The rows of names (a sequence of str), as a mask; unknown names raise rc's
// SimpConfigFnNamesNotValidError listing them. 0, or -1 with an exception.
static int
names_mask(PyObject *names, uint64_t *mask)
{
    *mask = 0;
    if (PyUnicode_Check(names)) {
        PyErr_SetString(PyExc_TypeError, "names must be a sequence of str, not a str");
        return -1;
    }
    PyObject *seq = PySequence_Fast(names, "names must be a sequence of str");
    if (seq == NULL) {
        return -1;
    }
    PyObject *bad = PyList_New(0);
    int rc = bad == NULL ? -1 : 0;
    for (Py_ssize_t k = 0; rc == 0 && k < PySequence_Fast_GET_SIZE(seq); k++) {
        PyObject *item = PySequence_Fast_GET_ITEM(seq, k);
        const char *s = PyUnicode_Check(item) ? PyUnicode_AsUTF8(item) : NULL;
        if (s == NULL) {
            if (!PyErr_Occurred()) {
                PyErr_Format(PyExc_TypeError, "names must be str, not %s", Py_TYPE(item)->tp_name);
            }
            rc = -1;
            break;
        }
        int i;
        if (row_named(s, &i) != NULL) {
            *mask |= (uint64_t)1 << i;
        } else if (PyList_Append(bad, item) < 0) {
            rc = -1;
        }
    }
    if (rc == 0 && PyList_GET_SIZE(bad) > 0) {
        PyObject *parts = PyList_New(0);
        rc = -1;
        for (Py_ssize_t k = 0; parts != NULL && k < PyList_GET_SIZE(bad); k++) {
            PyObject *q = PyUnicode_FromFormat("\"%U\"", PyList_GET_ITEM(bad, k));
            if (q == NULL || PyList_Append(parts, q) < 0) {
                Py_XDECREF(q);
                Py_CLEAR(parts);
                break;
            }
            Py_DECREF(q);
        }
        PyObject *sep = parts == NULL ? NULL : PyUnicode_FromString(", ");
        PyObject *joined = sep == NULL ? NULL : PyUnicode_Join(sep, parts);
        if (joined != NULL) {
            cc_py_raise_kind(CC_E_SIMP_CONFIG_FN_NAMES_NOT_VALID,
                             "names=[%U] (SimpConfigFnNamesNotValidError): not simplification "
                             "names (see SimpFnSubset.all_names())",
                             joined);
        }
        Py_XDECREF(joined);
        Py_XDECREF(sep);
        Py_XDECREF(parts);
    }
    Py_XDECREF(bad);
    Py_DECREF(seq);
    return rc;
}

static PyObject *
subset_check_names(PyObject *self, PyObject *names)
{
    (void)self;
    uint64_t m;
    if (names_mask(names, &m) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
set_all_to(PyObject *self, PyObject *names, int include)
{
    uint64_t m, mask = ((subset_obj *)self)->mask;
    if (names_mask(names, &m) < 0) {
        return NULL;
    }
    return subset_new_mask(include ? mask | m : mask & ~m);
}

static PyObject *
subset_set_all_to(PyObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"names", "include", NULL};
    PyObject *names;
    int include;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "Op:set_all_to", kwlist, &names, &include)) {
        return NULL;
    }
    return set_all_to(self, names, include);
}

static PyObject *
subset_include(PyObject *self, PyObject *names)
{
    return set_all_to(self, names, 1);
}

static PyObject *
subset_exclude(PyObject *self, PyObject *names)
{
    return set_all_to(self, names, 0);
}

// rc's set(**kw): each name set to its bool; None leaves it as it is.
static PyObject *
subset_set(PyObject *self, PyObject *args, PyObject *kwds)
{
    uint64_t mask = ((subset_obj *)self)->mask;
    if (PyTuple_GET_SIZE(args) > 0) {
        PyErr_SetString(PyExc_TypeError, "SimpFnSubset.set takes keyword arguments only");
        return NULL;
    }
    if (kwds == NULL) {
        return subset_new_mask(mask);
    }
    PyObject *keys = PyDict_Keys(kwds);
    uint64_t m;
    if (keys == NULL || names_mask(keys, &m) < 0) {
        Py_XDECREF(keys);
        return NULL;
    }
    Py_DECREF(keys);
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    while (PyDict_Next(kwds, &pos, &key, &value)) {
        if (value == Py_None) {
            continue;
        }
        if (!PyBool_Check(value)) {
            PyErr_Format(PyExc_TypeError, "SimpFnSubset.set: %U must be a bool or None, not %s",
                         key, Py_TYPE(value)->tp_name);
            return NULL;
        }
        int on = value == Py_True;
        int i = 0;
        row_named(PyUnicode_AsUTF8(key), &i);
        mask = on ? mask | (uint64_t)1 << i : mask & ~((uint64_t)1 << i);
    }
    return subset_new_mask(mask);
}

// rc's arg_fmt: the rows grouped under rc's circuit kinds in rc's order, each line from the
// row's flag (skip: rows whose flag equals the base's), kinds without lines as "(none)" unless
// exclude_if_none.
static PyObject *
arg_fmt(uint64_t mask, int has_base, uint64_t base, int exclude_if_none)
{
    static const char *const kinds[] = {"Einsum",
                                        "Array",
                                        "Symbol",
                                        "Scalar",
                                        "Add",
                                        "Rearrange",
                                        "Index",
                                        "GeneralFunction",
                                        "Concat",
                                        "Scatter",
                                        "Conv",
                                        "Module",
                                        "SetSymbolicShape",
                                        "Tag",
                                        "DiscreteVar",
                                        "StoredCumulantVar",
                                        "Cumulant"};
    int n;
    const cc_simp_row *rows = cc_simp_rows(&n);
    PyObject *groups = PyList_New(0);
    for (size_t k = 0; groups != NULL && k < sizeof kinds / sizeof kinds[0]; k++) {
        PyObject *lines = PyList_New(0);
        if (lines == NULL) {
            Py_CLEAR(groups);
            break;
        }
        for (int i = 0; i < n; i++) {
            int on = (int)(mask >> i & 1);
            if (strcmp(cc_kind_get_info(rows[i].kind)->py_name, kinds[k]) != 0 ||
                (has_base && on == (int)(base >> i & 1))) {
                continue;
            }
            PyObject *line =
                PyUnicode_FromFormat("    %s = %s,", rows[i].name, on ? "True" : "False");
            if (line == NULL || PyList_Append(lines, line) < 0) {
                Py_XDECREF(line);
                Py_CLEAR(lines);
                break;
            }
            Py_DECREF(line);
        }
        PyObject *group = NULL;
        if (lines != NULL && PyList_GET_SIZE(lines) > 0) {
            PyObject *nl = PyUnicode_FromString("\n");
            PyObject *body = nl == NULL ? NULL : PyUnicode_Join(nl, lines);
            group = body == NULL ? NULL : PyUnicode_FromFormat("    # %s\n%U", kinds[k], body);
            Py_XDECREF(body);
            Py_XDECREF(nl);
        } else if (lines != NULL && !exclude_if_none) {
            group = PyUnicode_FromFormat("    # %s (none)", kinds[k]);
        } else if (lines != NULL) {
            Py_DECREF(lines);
            continue;
        }
        Py_XDECREF(lines);
        if (group == NULL || PyList_Append(groups, group) < 0) {
            Py_XDECREF(group);
            Py_CLEAR(groups);
            break;
        }
        Py_DECREF(group);
    }
    if (groups == NULL) {
        return NULL;
    }
    PyObject *nl = PyUnicode_FromString("\n");
    PyObject *out = nl == NULL ? NULL : PyUnicode_Join(nl, groups);
    Py_XDECREF(nl);
    Py_DECREF(groups);
    return out;
}

static PyObject *
subset_repr(PyObject *self)
{
    PyObject *args = arg_fmt(((subset_obj *)self)->mask, 1, cc_simp_default_mask(), 1);
    if (args == NULL) {
        return NULL;
    }
    PyObject *out = PyUnicode_GET_LENGTH(args) == 0
                        ? PyUnicode_FromString("SimpFnSubset.default()")
                        : PyUnicode_FromFormat("SimpFnSubset.default().set(\n%U\n)", args);
    Py_DECREF(args);
    return out;
}

static PyObject *
subset_none_repr(PyObject *self, PyObject *unused)
{
    (void)unused;
    PyObject *args = arg_fmt(((subset_obj *)self)->mask, 0, 0, 0);
    if (args == NULL) {
        return NULL;
    }
    PyObject *out = PyUnicode_FromFormat("SimpFnSubset.none().set(\n%U\n)", args);
    Py_DECREF(args);
    return out;
}

static PyObject *
subset_simp(PyObject *self, PyObject *arg)
{
    return simp_with(((subset_obj *)self)->mask, arg);
}

static PyObject *
subset_simp_step(PyObject *self, PyObject *arg)
{
    cc_node *n, *out;
    if (!cc_py_node_check(arg, "simp_step", &n)) {
        return NULL;
    }
    if (cc_simp_step(n, ((subset_obj *)self)->mask, &out) < 0) {
        return cc_py_raise();
    }
    if (out == NULL) {
        Py_RETURN_NONE;
    }
    return cc_py_wrap_steal(out);
}

static PyMethodDef subset_methods[] = {
    {"all_names", subset_all_names, METH_NOARGS | METH_STATIC,
     "all_names(): the names of every simplification, in order."},
    {"init_all_with", subset_init_all_with, METH_O | METH_STATIC,
     "init_all_with(include): every simplification set to include."},
    {"none", subset_none, METH_NOARGS | METH_STATIC, "none(): no simplification."},
    {"all", subset_all, METH_NOARGS | METH_STATIC, "all(): every simplification."},
    {"default", subset_default, METH_NOARGS | METH_STATIC,
     "default(): the simplifications of simp()."},
    {"compiler_default", subset_compiler_default, METH_NOARGS | METH_STATIC,
     "compiler_default(): the simplifications of compiler_simp()."},
    {"none_repr", subset_none_repr, METH_NOARGS,
     "none_repr(): the repr built on SimpFnSubset.none()."},
    {"check_names", subset_check_names, METH_O,
     "check_names(names): SimpConfigFnNamesNotValidError for unknown names."},
    {"set_all_to", (PyCFunction)(void (*)(void))subset_set_all_to, METH_VARARGS | METH_KEYWORDS,
     "set_all_to(names, include): a copy with the names set to include."},
    {"set", (PyCFunction)(void (*)(void))subset_set, METH_VARARGS | METH_KEYWORDS,
     "set(**names): a copy with each name set to its bool (None: unchanged)."},
    {"exclude", subset_exclude, METH_O, "exclude(names): set_all_to(names, False)."},
    {"include", subset_include, METH_O, "include(names): set_all_to(names, True)."},
    {"simp_step", subset_simp_step, METH_O,
     "simp_step(circuit): the first simplification that applies to the node, or None."},
    {"simp", subset_simp, METH_O, "simp(circuit): the circuit simplified to a fixpoint."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef subset_getset[] = {
    {"values", subset_values, NULL, "{name: included} for every simplification.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot subset_slots[] = {
    {Py_tp_dealloc, subset_dealloc},
    {Py_tp_repr, subset_repr},
    {Py_tp_methods, subset_methods},
    {Py_tp_getset, subset_getset},
    {Py_tp_doc, "SimpFnSubset: a set of simp's simplifications, by name (rc's names)."},
    {0, NULL},
};

static PyType_Spec subset_spec = {
    .name = "circuits.SimpFnSubset",
    .basicsize = sizeof(subset_obj),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = subset_slots,
};

#define SIMP_DEF(fn_name, kind_arg)                                                                \
    {#fn_name, py_##fn_name, METH_O,                                                               \
     #fn_name "(" kind_arg "): the rewritten node, or None when it does not apply."}

static PyMethodDef simp_functions[] = {
    {"simp", py_simp, METH_O,
     "simp(circuit): rc's default simplifications applied bottom-up to a fixpoint."},
    SIMP_DEF(remove_add_few_input, "add"),
    SIMP_DEF(add_elim_zeros, "add"),
    SIMP_DEF(add_deduplicate, "add"),
    SIMP_DEF(add_elim_removable_axes_weak, "add"),
    SIMP_DEF(einsum_elim_zero, "einsum"),
    SIMP_DEF(einsum_elim_identity, "einsum"),
    SIMP_DEF(einsum_of_permute_merge, "einsum"),
    SIMP_DEF(einsum_remove_one, "einsum"),
    SIMP_DEF(einsum_elim_removable_axes_weak, "einsum"),
    SIMP_DEF(einsum_permute_to_rearrange, "einsum"),
    SIMP_DEF(index_merge_scalar, "index"),
    SIMP_DEF(rearrange_elim_identity, "rearrange"),
    SIMP_DEF(rearrange_fuse, "rearrange"),
    SIMP_DEF(rearrange_merge_scalar, "rearrange"),
    SIMP_DEF(permute_of_einsum_merge, "rearrange"),
    SIMP_DEF(concat_elim_identity, "concat"),
    SIMP_DEF(concat_merge_uniform, "concat"),
    SIMP_DEF(concat_drop_size_zero, "concat"),
    SIMP_DEF(concat_fuse, "concat"),
    SIMP_DEF(concat_repeat_to_rearrange, "concat"),
    {NULL, NULL, 0, NULL},
};

#undef SIMP_DEF

int
cc_py_simp_init(PyObject *module)
{
    subset_type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &subset_spec, NULL);
    if (subset_type == NULL ||
        PyModule_AddObjectRef(module, "SimpFnSubset", (PyObject *)subset_type) < 0) {
        return -1;
    }
    return PyModule_AddFunctions(module, simp_functions);
}
