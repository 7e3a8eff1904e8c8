// rc's Index, Concat and GeneralFunction rewrites, the concat pulls, deep_push_down_index_raw and
// compiler_simp as module functions. Only argument translation.
#include "python/bindings.h"

#include "rewrite/rewrite_catalogue_b.h"
#include "rewrite/simp.h"

// fn applied to arg, which must be a node of kind: the result, or None when it does not apply.
static PyObject *
apply(const char *fn_name, cc_kind kind, cc_simp_fn fn, PyObject *arg)
{
    cc_node *n;
    if (!cc_py_node_check(arg, fn_name, &n)) {
        return NULL;
    }
    if (n->kind != kind) {
        PyErr_Format(PyExc_TypeError, "%s: expected %s but got %s", fn_name,
                     cc_kind_get_info(kind)->py_name, cc_kind_get_info(n->kind)->py_name);
        return NULL;
    }
    cc_node *out;
    if (fn(n, &out) < 0) {
        return cc_py_raise();
    }
    if (out == NULL) {
        Py_RETURN_NONE;
    }
    return cc_py_wrap_steal(out);
}

#define ONE_NODE(fn_name, kind)                                                                    \
    static PyObject *py_##fn_name(PyObject *self, PyObject *arg)                                   \
    {                                                                                              \
        (void)self;                                                                                \
        return apply(#fn_name, kind, cc_##fn_name, arg);                                           \
    }
ONE_NODE(index_fuse, CC_KIND_INDEX)
ONE_NODE(index_concat_drop_unreached, CC_KIND_INDEX)
ONE_NODE(concat_elim_split, CC_KIND_CONCAT)
ONE_NODE(concat_pull_removable_axes, CC_KIND_CONCAT)
ONE_NODE(generalfunction_pull_removable_axes, CC_KIND_GENERAL_FUNCTION)
ONE_NODE(generalfunction_merge_inverses, CC_KIND_GENERAL_FUNCTION)
ONE_NODE(generalfunction_special_case_simplification, CC_KIND_GENERAL_FUNCTION)
ONE_NODE(generalfunction_evaluate_simple, CC_KIND_GENERAL_FUNCTION)
ONE_NODE(generalfunction_gen_index_const_to_index, CC_KIND_GENERAL_FUNCTION)
#undef ONE_NODE

// index_split_axes(node, top_axes): top_axes a set (any iterable) of non-negative ints.
static PyObject *
py_index_split_axes(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    static char *kwlist[] = {"node", "top_axes", NULL};
    PyObject *obj, *axes_obj;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO:index_split_axes", kwlist, &obj, &axes_obj)) {
        return NULL;
    }
    cc_node *n;
    if (!cc_py_node_check(obj, "index_split_axes", &n)) {
        return NULL;
    }
    if (n->kind != CC_KIND_INDEX) {
        PyErr_Format(PyExc_TypeError, "index_split_axes: expected Index but got %s",
                     cc_kind_get_info(n->kind)->py_name);
        return NULL;
    }
    PyObject *seq = PySequence_Fast(axes_obj, "index_split_axes: top_axes must be a set of ints");
    if (seq == NULL) {
        return NULL;
    }
    Py_ssize_t m = PySequence_Fast_GET_SIZE(seq);
    int64_t *axes = PyMem_Malloc((size_t)(m > 0 ? m : 1) * sizeof(int64_t));
    if (axes == NULL) {
        Py_DECREF(seq);
        return PyErr_NoMemory();
    }
    int ok = 1;
    for (Py_ssize_t i = 0; ok && i < m; i++) {
        long long v = PyLong_AsLongLong(PySequence_Fast_GET_ITEM(seq, i));
        if (v == -1 && PyErr_Occurred()) {
            ok = 0;
        } else if (v < 0) {
            PyErr_Format(PyExc_OverflowError,
                         "index_split_axes: top_axes holds %lld; axes are non-negative", v);
            ok = 0;
        }
        axes[i] = v;
    }
    Py_DECREF(seq);
    cc_node *out = NULL;
    if (ok && cc_index_split_axes(n, (int)m, axes, &out) < 0) {
        ok = 0;
        cc_py_raise();
    }
    PyMem_Free(axes);
    if (!ok) {
        return NULL;
    }
    if (out == NULL) {
        Py_RETURN_NONE;
    }
    return cc_py_wrap_steal(out);
}

// Parses (circuit, min_size=None); min_size -1 for None. 0, or -1 with an exception.
static int
circuit_min_size(PyObject *args, PyObject *kwds, const char *fmt, cc_node **n, int64_t *min_size)
{
    static char *kwlist[] = {"circuit", "min_size", NULL};
    PyObject *obj, *ms = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, fmt, kwlist, &obj, &ms)) {
        return -1;
    }
    if (!cc_py_node_check(obj, "circuit", n)) {
        return -1;
    }
    *min_size = -1;
    if (ms != Py_None) {
        long long v = PyLong_AsLongLong(ms);
        if (v == -1 && PyErr_Occurred()) {
            return -1;
        }
        if (v < 0) {
            PyErr_Format(PyExc_OverflowError, "min_size is %lld; it must be non-negative", v);
            return -1;
        }
        *min_size = v;
    }
    return 0;
}

static PyObject *
py_deep_push_down_index_raw(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    cc_node *n;
    int64_t min_size;
    if (circuit_min_size(args, kwds, "O|O:deep_push_down_index_raw", &n, &min_size) < 0) {
        return NULL;
    }
    return cc_py_wrap_steal(cc_deep_push_down_index_raw(n, min_size));
}

static PyObject *
py_deep_pull_concat_messy(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    cc_node *n;
    int64_t min_size;
    if (circuit_min_size(args, kwds, "O|O:deep_pull_concat_messy", &n, &min_size) < 0) {
        return NULL;
    }
    return cc_py_wrap_steal(cc_deep_pull_concat_pass(n, min_size, 1));
}

static PyObject *
py_deep_pull_concat_new(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    cc_node *n;
    int64_t min_size;
    if (circuit_min_size(args, kwds, "O|O:deep_pull_concat_new", &n, &min_size) < 0) {
        return NULL;
    }
    return cc_py_wrap_steal(cc_deep_pull_concat_pass(n, min_size, 0));
}

static PyObject *
py_deep_pull_concat(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    cc_node *n;
    int64_t min_size;
    if (circuit_min_size(args, kwds, "O|O:deep_pull_concat", &n, &min_size) < 0) {
        return NULL;
    }
    return cc_py_wrap_steal(cc_deep_pull_concat(n, min_size));
}

static PyObject *
pull_once(PyObject *arg, int raw)
{
    cc_node *n, *out;
    if (!cc_py_node_check(arg, raw ? "pull_concat_once_raw" : "pull_concat_once", &n)) {
        return NULL;
    }
    if (cc_pull_concat_once(n, raw, &out) < 0) {
        return cc_py_raise();
    }
    if (out == NULL) {
        Py_RETURN_NONE;
    }
    return cc_py_wrap_steal(out);
}

static PyObject *
py_pull_concat_once(PyObject *self, PyObject *arg)
{
    (void)self;
    return pull_once(arg, 0);
}

static PyObject *
py_pull_concat_once_raw(PyObject *self, PyObject *arg)
{
    (void)self;
    return pull_once(arg, 1);
}

static PyObject *
py_flat_concat(PyObject *self, PyObject *arg)
{
    (void)self;
    cc_node **nodes;
    Py_ssize_t n;
    if (cc_py_nodes_from_seq(arg, "flat_concat", &nodes, &n) < 0) {
        return NULL;
    }
    cc_node *out = cc_flat_concat((int)n, nodes);
    PyMem_Free(nodes);
    return cc_py_wrap_steal(out);
}

static PyObject *
py_flat_concat_back(PyObject *self, PyObject *arg)
{
    (void)self;
    cc_node **nodes;
    Py_ssize_t n;
    if (cc_py_nodes_from_seq(arg, "flat_concat_back", &nodes, &n) < 0) {
        return NULL;
    }
    cc_node **backs = PyMem_Calloc((size_t)(n > 0 ? n : 1), sizeof(cc_node *));
    if (backs == NULL) {
        PyMem_Free(nodes);
        return PyErr_NoMemory();
    }
    cc_node *flat;
    int rc = cc_flat_concat_back((int)n, nodes, &flat, backs);
    PyMem_Free(nodes);
    if (rc < 0) {
        PyMem_Free(backs);
        return cc_py_raise();
    }
    PyObject *list = PyList_New(n);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *w = list == NULL ? NULL : cc_py_wrap(backs[i]);
        cc_node_decref(backs[i]);
        if (w == NULL) {
            Py_CLEAR(list);
        } else {
            PyList_SET_ITEM(list, i, w);
        }
    }
    PyMem_Free(backs);
    PyObject *f = cc_py_wrap_steal(flat);
    if (list == NULL || f == NULL) {
        Py_XDECREF(list);
        Py_XDECREF(f);
        return NULL;
    }
    return Py_BuildValue("(NN)", f, list);
}

static PyObject *
py_compiler_simp(PyObject *self, PyObject *arg)
{
    (void)self;
    cc_node *n;
    if (!cc_py_node_check(arg, "compiler_simp", &n)) {
        return NULL;
    }
    return cc_py_wrap_steal(cc_simp(n, cc_simp_compiler_mask()));
}

static PyObject *
py_compiler_simp_step(PyObject *self, PyObject *arg)
{
    (void)self;
    cc_node *n, *out;
    if (!cc_py_node_check(arg, "compiler_simp_step", &n)) {
        return NULL;
    }
    if (cc_simp_step(n, cc_simp_compiler_mask(), &out) < 0) {
        return cc_py_raise();
    }
    if (out == NULL) {
        Py_RETURN_NONE;
    }
    return cc_py_wrap_steal(out);
}

#define ONE_DEF(fn_name, kind_arg)                                                                 \
    {#fn_name, py_##fn_name, METH_O,                                                               \
     #fn_name "(" kind_arg "): the rewritten node, or None when it does not apply."}
#define KW_DEF(fn_name, doc)                                                                       \
    {#fn_name, (PyCFunction)(void (*)(void))py_##fn_name, METH_VARARGS | METH_KEYWORDS, doc}

static PyMethodDef catalogue_b_functions[] = {
    ONE_DEF(index_fuse, "index"),
    ONE_DEF(index_concat_drop_unreached, "index"),
    ONE_DEF(concat_elim_split, "concat"),
    ONE_DEF(concat_pull_removable_axes, "concat"),
    ONE_DEF(generalfunction_pull_removable_axes, "node"),
    ONE_DEF(generalfunction_merge_inverses, "node"),
    ONE_DEF(generalfunction_special_case_simplification, "node"),
    ONE_DEF(generalfunction_evaluate_simple, "node"),
    ONE_DEF(generalfunction_gen_index_const_to_index, "node"),
    KW_DEF(index_split_axes, "index_split_axes(node, top_axes): Index(Index(child, bottom), top) "
                             "with the top_axes entries on top; None when an axis is past the "
                             "child's rank."),
    KW_DEF(deep_push_down_index_raw,
           "deep_push_down_index_raw(circuit, min_size=None): every node whose parents are all "
           "Indexes indexed once by their union, pushed one step down."),
    KW_DEF(deep_pull_concat_messy,
           "deep_pull_concat_messy(circuit, min_size=None): concats fused and pulled up (raw) "
           "bottom-up."),
    KW_DEF(deep_pull_concat_new,
           "deep_pull_concat_new(circuit, min_size=None): concats fused and pulled up bottom-up, "
           "each pull simplified."),
    KW_DEF(deep_pull_concat,
           "deep_pull_concat(circuit, min_size=None): deep_pull_concat_messy, then compiler_simp "
           "and deep_push_down_index_raw until nothing changes."),
    {"pull_concat_once", py_pull_concat_once, METH_O,
     "pull_concat_once(circuit): a Concat operand of an Add, Einsum or GeneralFunction moved above "
     "it, the result simplified; None when it does not apply."},
    {"pull_concat_once_raw", py_pull_concat_once_raw, METH_O,
     "pull_concat_once_raw(circuit): add(args@(concat(_),_)) => concat(index(add(args))), "
     "gf(args@(concat(_),_)) => concat(gf(index(args))), eins(args@(concat(_),_)) => "
     "(concats & adds & einsums)(index(args)); None when it does not apply."},
    {"flat_concat", py_flat_concat, METH_O,
     "flat_concat(circuits): the circuits flattened and concatenated."},
    {"flat_concat_back", py_flat_concat_back, METH_O,
     "flat_concat_back(circuits): (flat_concat(circuits), each circuit read back from it)."},
    {"compiler_simp", py_compiler_simp, METH_O,
     "compiler_simp(circuit): SimpFnSubset.compiler_default() applied bottom-up to a fixpoint."},
    {"compiler_simp_step", py_compiler_simp_step, METH_O,
     "compiler_simp_step(circuit): the first compiler simplification that applies, or None."},
    {NULL, NULL, 0, NULL},
};

#undef ONE_DEF
#undef KW_DEF

int
cc_py_rewrite_catalogue_b_init(PyObject *module)
{
    return PyModule_AddFunctions(module, catalogue_b_functions);
}
