// The sampling functions behind circuits.Sampler and the sample specs (python/circuits/
// _sampler.py): they translate a spec's fields into a cc_sample_spec and call
// sample/sampler.c. Seeders are Python callables.
#include "python/bindings.h"
#include "python/py_match.h"
#include "sample/sampler.h"
#include "util/error.h"

// ctx: the seeder, a callable Circuit -> int (an int64).
static int
call_seeder(void *ctx, cc_node *group, int64_t *seed)
{
    PyObject *c = cc_py_wrap(group);
    if (c == NULL) {
        return cc_fail(CC_E_PYTHON, "wrapping a circuit failed");
    }
    PyObject *r = PyObject_CallOneArg((PyObject *)ctx, c);
    Py_DECREF(c);
    if (r == NULL) {
        return cc_fail(CC_E_PYTHON, "a seeder raised");
    }
    if (!PyLong_Check(r)) {
        PyErr_Format(PyExc_TypeError, "a seeder must return an int, not %.100s (group '%s')",
                     Py_TYPE(r)->tp_name, group->name ? group->name : "");
        Py_DECREF(r);
        return cc_fail(CC_E_PYTHON, "a seeder returned a non-int");
    }
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(r, &overflow);
    Py_DECREF(r);
    if (overflow != 0) {
        PyErr_Format(PyExc_OverflowError,
                     "a seeder returned an int outside int64 for group '%s' (seeds are int64)",
                     group->name ? group->name : "");
        return cc_fail(CC_E_PYTHON, "a seeder returned an int outside int64");
    }
    if (v == -1 && PyErr_Occurred()) {
        return cc_fail(CC_E_PYTHON, "reading a seed failed");
    }
    *seed = (int64_t)v;
    return 0;
}

static int
slice_bound(PyObject *v, int i, const char *which, int *has, int64_t *out)
{
    if (v == Py_None) {
        *has = 0;
        return 0;
    }
    long long x = PyLong_AsLongLong(v);
    if (x == -1 && PyErr_Occurred()) {
        PyErr_Format(PyExc_TypeError, "RunDiscreteVarAllSpec: subset %d: %s must be an int or None",
                     i, which);
        return -1;
    }
    *has = 1;
    *out = x;
    return 0;
}

// subsets: None or a sequence of slices (start:stop, no step) -> items (PyMem_Malloc'd).
static int
subsets_arg(PyObject *obj, cc_index_item **items, int *n)
{
    *items = NULL;
    *n = 0;
    if (obj == Py_None) {
        return 0;
    }
    PyObject *seq =
        PySequence_Fast(obj, "RunDiscreteVarAllSpec: subsets must be a sequence of slices");
    if (seq == NULL) {
        return -1;
    }
    Py_ssize_t len = PySequence_Fast_GET_SIZE(seq);
    *items = PyMem_Calloc((size_t)(len > 0 ? len : 1), sizeof **items);
    if (*items == NULL) {
        Py_DECREF(seq);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < len; i++) {
        PyObject *s = PySequence_Fast_GET_ITEM(seq, i);
        if (!PySlice_Check(s)) {
            PyErr_Format(PyExc_TypeError,
                         "RunDiscreteVarAllSpec: subset %zd is a %.100s, not a slice", i,
                         Py_TYPE(s)->tp_name);
            goto fail;
        }
        PySliceObject *sl = (PySliceObject *)s;
        if (sl->step != Py_None) {
            PyErr_Format(PyExc_ValueError,
                         "RunDiscreteVarAllSpec: subset %zd has a step; only start:stop slices "
                         "are supported",
                         i);
            goto fail;
        }
        cc_index_item *it = &(*items)[i];
        it->kind = CC_INDEX_SLICE;
        if (slice_bound(sl->start, (int)i, "start", &it->has_start, &it->start) < 0 ||
            slice_bound(sl->stop, (int)i, "stop", &it->has_stop, &it->stop) < 0) {
            goto fail;
        }
    }
    Py_DECREF(seq);
    *n = (int)len;
    return 0;
fail:
    Py_DECREF(seq);
    PyMem_Free(*items);
    *items = NULL;
    return -1;
}

// spec_args: ("random", shape, replace, simplify, seeder) or ("all", groups, subsets). The
// seeder stays borrowed from spec_args. 0, or -1 with an exception.
static int
spec_arg(PyObject *args, cc_sample_spec *s)
{
    const char *kind;
    PyObject *a, *b, *c = Py_None, *d = Py_None;
    if (!PyTuple_Check(args) ||
        !PyArg_ParseTuple(args, "sOO|OO:sample spec", &kind, &a, &b, &c, &d)) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_TypeError, "a sample spec's arguments must be a tuple");
        }
        return -1;
    }
    if (strcmp(kind, "random") == 0) {
        int ndim;
        int64_t shape[CC_MAX_NDIM];
        int replace = PyObject_IsTrue(b), simplify = PyObject_IsTrue(c);
        if (cc_py_shape_arg(a, &ndim, shape) < 0 || replace < 0 || simplify < 0) {
            return -1;
        }
        if (!PyCallable_Check(d)) {
            PyErr_Format(PyExc_TypeError,
                         "RandomSampleSpec: seeder must be a callable Circuit -> int, not %.100s",
                         Py_TYPE(d)->tp_name);
            return -1;
        }
        return cc_sample_spec_init_random(s, ndim, shape, replace, simplify, call_seeder, d) < 0
                   ? cc_py_raise_int()
                   : 0;
    }
    if (strcmp(kind, "all") != 0) {
        PyErr_Format(PyExc_ValueError, "unknown sample spec kind '%s'", kind);
        return -1;
    }
    cc_node **groups = NULL;
    Py_ssize_t n_groups = 0;
    cc_index_item *subsets = NULL;
    int n_subsets = 0;
    if (cc_py_nodes_from_seq(a, "RunDiscreteVarAllSpec groups", &groups, &n_groups) < 0) {
        return -1;
    }
    if (subsets_arg(b, &subsets, &n_subsets) < 0) {
        PyMem_Free(groups);
        return -1;
    }
    int r = cc_sample_spec_init_run_all(s, (int)n_groups, groups, n_subsets, subsets);
    PyMem_Free(groups);
    PyMem_Free(subsets);
    return r < 0 ? cc_py_raise_int() : 0;
}

static PyObject *
py_sample(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *c_obj, *m_obj, *spec_obj, *suffix_obj;
    cc_node *root;
    if (!PyArg_ParseTuple(args, "OOOO:_sample", &c_obj, &m_obj, &spec_obj, &suffix_obj) ||
        !cc_py_node_check(c_obj, "circuit", &root)) {
        return NULL;
    }
    if (!PyObject_TypeCheck(m_obj, cc_py_imatcher_type)) {
        return PyErr_Format(PyExc_TypeError,
                            "_sample: var_matcher must be an IterativeMatcher, not %.100s",
                            Py_TYPE(m_obj)->tp_name);
    }
    const char *suffix = NULL;
    if (suffix_obj != Py_None && (suffix = PyUnicode_AsUTF8(suffix_obj)) == NULL) {
        return NULL;
    }
    cc_sample_spec spec;
    if (spec_arg(spec_obj, &spec) < 0) {
        return NULL;
    }
    cc_node *out = cc_sampler_sample(root, CC_PY_IMATCHER(m_obj), &spec, suffix);
    cc_sample_spec_clear(&spec);
    return cc_py_wrap_steal(out);
}

static PyObject *
py_sample_var(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *spec_obj, *v_obj;
    cc_node *var;
    if (!PyArg_ParseTuple(args, "OO:_sample_var", &spec_obj, &v_obj) ||
        !cc_py_node_check(v_obj, "d", &var)) {
        return NULL;
    }
    cc_sample_spec spec;
    if (spec_arg(spec_obj, &spec) < 0) {
        return NULL;
    }
    cc_node *out = cc_sample_spec_sample_var(&spec, var);
    cc_sample_spec_clear(&spec);
    return cc_py_wrap_steal(out);
}

static PyObject *
py_sample_shape(PyObject *self, PyObject *spec_obj)
{
    (void)self;
    cc_sample_spec spec;
    if (spec_arg(spec_obj, &spec) < 0) {
        return NULL;
    }
    PyObject *out = cc_py_shape_tuple(spec.ndim, spec.shape);
    cc_sample_spec_clear(&spec);
    return out;
}

PyMethodDef cc_py_sampler_methods[] = {
    {"_sample", py_sample, METH_VARARGS,
     "_sample(circuit, var_matcher, spec_args, suffix): rc's Sampler.sample without "
     "run_on_sampled."},
    {"_sample_var", py_sample_var, METH_VARARGS,
     "_sample_var(spec_args, var): rc's SampleSpec.sample_var."},
    {"_sample_shape", py_sample_shape, METH_O,
     "_sample_shape(spec_args): the spec's sample shape, after checking its fields."},
    {NULL, NULL, 0, NULL},
};
