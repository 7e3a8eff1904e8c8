// Module functions of the rewrite catalogue, part A (rc's names and signatures): the Add and
// Einsum rewrites outside simp's defaults, distribution and the canonical forms. Only argument
// translation lives here.
#include "python/bindings.h"

#include "python/py_match.h"
#include "rewrite/catalogue.h"
#include "rewrite/simp.h"

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

// rc's operand_idx (a usize): a non-negative int. 0, or -1 with an exception.
static int
operand_idx_arg(PyObject *obj, int *out)
{
    if (!PyLong_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "operand_idx must be an int, not %s", Py_TYPE(obj)->tp_name);
        return -1;
    }
    long long v = PyLong_AsLongLong(obj);
    if (v == -1 && PyErr_Occurred()) {
        return -1;
    }
    if (v < 0) {
        PyErr_Format(PyExc_OverflowError,
                     "operand_idx=%lld: can't convert negative int to "
                     "unsigned",
                     v);
        return -1;
    }
    *out = v > INT32_MAX ? INT32_MAX : (int)v;
    return 0;
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

// Optional rewrites taking one node of one kind.
#define ONE_NODE_FN(fn_name, kind)                                                                 \
    static PyObject *py_##fn_name(PyObject *self, PyObject *arg)                                   \
    {                                                                                              \
        (void)self;                                                                                \
        cc_node *n, *out;                                                                          \
        if (kind_arg(arg, kind, #fn_name, &n) < 0) {                                               \
            return NULL;                                                                           \
        }                                                                                          \
        int rc = cc_##fn_name(n, &out);                                                            \
        return wrap_optional(rc, out);                                                             \
    }
ONE_NODE_FN(add_collapse_scalar_inputs, CC_KIND_ADD)
ONE_NODE_FN(add_fuse_scalar_multiples, CC_KIND_ADD)
ONE_NODE_FN(add_outer_product_broadcasts_on_top, CC_KIND_ADD)
ONE_NODE_FN(add_make_broadcasts_explicit, CC_KIND_ADD)
ONE_NODE_FN(einsum_merge_scalars, CC_KIND_EINSUM)
ONE_NODE_FN(einsum_concat_to_add, CC_KIND_EINSUM)
ONE_NODE_FN(einsum_pull_removable_axes, CC_KIND_EINSUM)
ONE_NODE_FN(distribute_all, CC_KIND_EINSUM)
ONE_NODE_FN(add_pull_diags, CC_KIND_ADD)
ONE_NODE_FN(einsum_push_down_trace, CC_KIND_EINSUM)
#undef ONE_NODE_FN

static PyObject *
py_extract_add(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    static char *kwlist[] = {"add", "sub", NULL};
    PyObject *a, *s;
    cc_node *add, *sub, *out;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO:extract_add", kwlist, &a, &s) ||
        kind_arg(a, CC_KIND_ADD, "extract_add", &add) < 0 ||
        kind_arg(s, CC_KIND_ADD, "extract_add", &sub) < 0) {
        return NULL;
    }
    int rc = cc_extract_add(add, sub, &out);
    return wrap_optional(rc, out);
}

static PyObject *
py_make_broadcast(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    static char *kwlist[] = {"node", "out_shape", NULL};
    PyObject *obj, *shape_obj;
    cc_node *n;
    int ndim;
    int64_t shape[CC_MAX_NDIM];
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO:make_broadcast", kwlist, &obj, &shape_obj) ||
        !cc_py_node_check(obj, "make_broadcast", &n) ||
        cc_py_shape_arg(shape_obj, &ndim, shape) < 0) {
        return NULL;
    }
    // rc answers None where the node does not broadcast to out_shape
    int d = ndim - n->ndim;
    for (int k = 0; d >= 0 && k < n->ndim; k++) {
        if (n->shape[k] != 1 && n->shape[k] != shape[k + d]) {
            d = -1;
        }
    }
    if (d < 0) {
        Py_RETURN_NONE;
    }
    return cc_py_wrap_steal(cc_make_broadcast(n, ndim, shape));
}

static PyObject *
py_add_pull_removable_axes(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    static char *kwlist[] = {"add", "remove_non_common_axes", NULL};
    PyObject *a;
    int remove_non_common;
    cc_node *add, *out;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "Op:add_pull_removable_axes", kwlist, &a,
                                     &remove_non_common) ||
        kind_arg(a, CC_KIND_ADD, "add_pull_removable_axes", &add) < 0) {
        return NULL;
    }
    int rc = cc_add_pull_removable_axes(add, remove_non_common, &out);
    return wrap_optional(rc, out);
}

static PyObject *
py_distribute_once(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    static char *kwlist[] = {"node", "operand_idx", "do_broadcasts", "prefix", "suffix", NULL};
    PyObject *obj, *idx_obj, *prefix_obj = Py_None, *suffix_obj = Py_None;
    int do_broadcasts = 1, idx;
    cc_node *einsum;
    const char *prefix, *suffix;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO|pOO:distribute_once", kwlist, &obj, &idx_obj,
                                     &do_broadcasts, &prefix_obj, &suffix_obj) ||
        kind_arg(obj, CC_KIND_EINSUM, "distribute_once", &einsum) < 0 ||
        operand_idx_arg(idx_obj, &idx) < 0 || opt_str_arg(prefix_obj, "prefix", &prefix) < 0 ||
        opt_str_arg(suffix_obj, "suffix", &suffix) < 0) {
        return NULL;
    }
    return cc_py_wrap_steal(cc_distribute_once(einsum, idx, do_broadcasts, prefix, suffix));
}

static PyObject *
py_distribute(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    static char *kwlist[] = {"einsum",        "operand_idx", "traversal",
                             "prefix",        "suffix",      "allow_partial_distribute",
                             "do_broadcasts", NULL};
    PyObject *obj, *idx_obj, *traversal = Py_None, *prefix_obj = Py_None, *suffix_obj = Py_None;
    cc_distribute_opts o = {.allow_partial_distribute = 1, .do_broadcasts = 1};
    cc_node *einsum;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO|OOOpp:distribute", kwlist, &obj, &idx_obj,
                                     &traversal, &prefix_obj, &suffix_obj,
                                     &o.allow_partial_distribute, &o.do_broadcasts) ||
        kind_arg(obj, CC_KIND_EINSUM, "distribute", &einsum) < 0 ||
        operand_idx_arg(idx_obj, &o.operand_idx) < 0 ||
        opt_str_arg(prefix_obj, "prefix", &o.prefix) < 0 ||
        opt_str_arg(suffix_obj, "suffix", &o.suffix) < 0) {
        return NULL;
    }
    if (traversal != Py_None && (o.traversal = cc_py_imatcher_arg(traversal)) == NULL) {
        return NULL;
    }
    PyObject *out = cc_py_wrap_steal(cc_distribute(einsum, &o));
    cc_imatcher_decref(o.traversal);
    return out;
}

// Rewrites of any node that always return a circuit.
#define ANY_NODE_FN(fn_name, expr)                                                                 \
    static PyObject *py_##fn_name(PyObject *self, PyObject *arg)                                   \
    {                                                                                              \
        (void)self;                                                                                \
        cc_node *n;                                                                                \
        if (!cc_py_node_check(arg, #fn_name, &n)) {                                                \
            return NULL;                                                                           \
        }                                                                                          \
        return cc_py_wrap_steal(expr);                                                             \
    }
ANY_NODE_FN(canonicalize_node, cc_canonicalize_node(n))
ANY_NODE_FN(deep_canonicalize, cc_deep_map_nodes(n, cc_canonicalize_node))
ANY_NODE_FN(normalize_node, cc_normalize_node(n))
ANY_NODE_FN(deep_normalize, cc_deep_map_nodes(n, cc_normalize_node))
#undef ANY_NODE_FN

// rc's OptimizationSettings as maybe_distribute reads it: distribute_min_size, or else
// max_single_tensor_memory (None: rc's defaults). 0, or -1 with an exception.
static int
min_size_arg(PyObject *settings, double *out)
{
    *out = 9e9;
    if (settings == NULL || settings == Py_None) {
        return 0;
    }
    PyObject *v = PyObject_GetAttrString(settings, "distribute_min_size");
    if (v == Py_None) {
        Py_DECREF(v);
        v = PyObject_GetAttrString(settings, "max_single_tensor_memory");
    }
    if (v == NULL) {
        return -1;
    }
    *out = PyFloat_AsDouble(v);
    Py_DECREF(v);
    return *out == -1.0 && PyErr_Occurred() ? -1 : 0;
}

static PyObject *
maybe_distribute_impl(PyObject *args, PyObject *kwds, int deep)
{
    static char *kwlist[] = {"node", "settings", NULL};
    PyObject *obj, *settings = Py_None;
    int times = 0;
    cc_maybe_distribute_opts o = {.simp_mask = cc_simp_compiler_mask(),
                                  .times_distributed = &times};
    cc_node *n, *out;
    if (!PyArg_ParseTupleAndKeywords(args, kwds,
                                     deep ? "O|O:deep_maybe_distribute" : "O|O:maybe_distribute",
                                     kwlist, &obj, &settings) ||
        (deep ? !cc_py_node_check(obj, "deep_maybe_distribute", &n)
              : kind_arg(obj, CC_KIND_EINSUM, "maybe_distribute", &n) < 0) ||
        min_size_arg(settings, &o.min_size) < 0) {
        return NULL;
    }
    if (deep) {
        return cc_py_wrap_steal(cc_deep_maybe_distribute(n, &o));
    }
    int rc = cc_maybe_distribute(n, &o, &out);
    return wrap_optional(rc, out);
}

static PyObject *
py_maybe_distribute(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    return maybe_distribute_impl(args, kwds, 0);
}

static PyObject *
py_deep_maybe_distribute(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    return maybe_distribute_impl(args, kwds, 1);
}

#define OPT_DOC(fn_name, arg)                                                                      \
    fn_name "(" arg "): the rewritten node, or None when it does not apply."

PyMethodDef cc_py_rewrite_catalogue_a_methods[] = {
    {"add_collapse_scalar_inputs", py_add_collapse_scalar_inputs, METH_O,
     OPT_DOC("add_collapse_scalar_inputs", "add") " Two or more Scalar operands become one."},
    {"add_fuse_scalar_multiples", py_add_fuse_scalar_multiples, METH_O,
     OPT_DOC("add_fuse_scalar_multiples", "add") " Einsums equal up to () Scalar factors merge."},
    {"add_outer_product_broadcasts_on_top", py_add_outer_product_broadcasts_on_top, METH_O,
     OPT_DOC("add_outer_product_broadcasts_on_top",
             "add") " Operands grouped so that no group holds an outer product."},
    {"add_make_broadcasts_explicit", py_add_make_broadcasts_explicit, METH_O,
     OPT_DOC("add_make_broadcasts_explicit", "add") " Broadcast operands become Rearranges."},
    {"extract_add", (PyCFunction)(void (*)(void))py_extract_add, METH_VARARGS | METH_KEYWORDS,
     "extract_add(add, sub): add with sub's operands replaced by sub itself, or None when they "
     "are not among add's."},
    {"einsum_merge_scalars", py_einsum_merge_scalars, METH_O,
     OPT_DOC("einsum_merge_scalars", "einsum") " () Scalar operands multiplied into one."},
    {"make_broadcast", (PyCFunction)(void (*)(void))py_make_broadcast, METH_VARARGS | METH_KEYWORDS,
     "make_broadcast(node, out_shape): node broadcast to out_shape by a Rearrange (node itself "
     "when nothing changes), or None when it does not broadcast to it."},
    {"add_pull_removable_axes", (PyCFunction)(void (*)(void))py_add_pull_removable_axes,
     METH_VARARGS | METH_KEYWORDS,
     "add_pull_removable_axes(add, remove_non_common_axes): axes every operand broadcasts or can "
     "drop moved to one Rearrange above the Add (with remove_non_common_axes, each operand's own "
     "such axes too); None when there are none."},
    {"einsum_pull_removable_axes", py_einsum_pull_removable_axes, METH_O,
     OPT_DOC("einsum_pull_removable_axes",
             "einsum") " Axes operands only broadcast move above the Einsum."},
    {"einsum_concat_to_add", py_einsum_concat_to_add, METH_O,
     OPT_DOC("einsum_concat_to_add", "einsum") " A summed Concat operand becomes an Add."},
    {"add_pull_diags", py_add_pull_diags, METH_O,
     OPT_DOC("add_pull_diags", "add") " A diagonal all operand Einsums share moves above the Add."},
    {"einsum_push_down_trace", py_einsum_push_down_trace, METH_O,
     OPT_DOC(
         "einsum_push_down_trace",
         "einsum") " Repeated labels of an Add, Concat, Index or Rearrange operand move below it."},
    {"distribute_once", (PyCFunction)(void (*)(void))py_distribute_once,
     METH_VARARGS | METH_KEYWORDS,
     "distribute_once(node, operand_idx, do_broadcasts=True, prefix=None, suffix=None) -> Add: "
     "the Einsum distributed over its Add operand."},
    {"distribute", (PyCFunction)(void (*)(void))py_distribute, METH_VARARGS | METH_KEYWORDS,
     "distribute(einsum, operand_idx, traversal=traverse_until_depth(1), prefix=None, "
     "suffix=None, allow_partial_distribute=True, do_broadcasts=True): distribute_once repeated "
     "while the traversal continues; DistributeNoopError when nothing changes."},
    {"distribute_all", py_distribute_all, METH_O,
     OPT_DOC("distribute_all", "einsum") " Every Add operand distributed."},
    {"maybe_distribute", (PyCFunction)(void (*)(void))py_maybe_distribute,
     METH_VARARGS | METH_KEYWORDS,
     "maybe_distribute(node, settings=OptimizationSettings()): the first non-empty Add operand "
     "with at least settings.distribute_min_size (else max_single_tensor_memory) elements "
     "distributed, simplified and canonicalised; None when there is none."},
    {"deep_maybe_distribute", (PyCFunction)(void (*)(void))py_deep_maybe_distribute,
     METH_VARARGS | METH_KEYWORDS,
     "deep_maybe_distribute(node, settings=OptimizationSettings()): maybe_distribute on every "
     "Einsum, bottom-up."},
    {"canonicalize_node", py_canonicalize_node, METH_O,
     "canonicalize_node(node): Rearrange spec conformed and canonicalised, Index bounds explicit, "
     "Add/Einsum operands sorted (numel descending, kind, hash), Einsum labels renumbered."},
    {"deep_canonicalize", py_deep_canonicalize, METH_O,
     "deep_canonicalize(node): canonicalize_node applied to every node, bottom-up."},
    {"normalize_node", py_normalize_node, METH_O,
     "normalize_node(node): canon rearrange spec (without special casing 1s) + normalize einsum "
     "ints."},
    {"deep_normalize", py_deep_normalize, METH_O,
     "deep_normalize(node): normalize_node applied to every node, bottom-up."},
    {NULL, NULL, 0, NULL},
};
