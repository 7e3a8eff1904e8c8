// rc's scatter rewrites as module functions: each takes one node and returns the rewritten
// circuit, or None where rc's returns None. Only argument translation.
#include "python/bindings.h"

#include "rewrite/scatter_rewrite.h"

static PyObject *
apply(int (*fn)(cc_node *, cc_node **), const char *name, PyObject *arg)
{
    cc_node *n, *out;
    if (!cc_py_node_check(arg, name, &n)) {
        return NULL;
    }
    if (fn(n, &out) < 0) {
        return cc_py_raise();
    }
    if (out == NULL) {
        Py_RETURN_NONE;
    }
    return cc_py_wrap_steal(out);
}

#define SCATTER_FN(name)                                                                           \
    static PyObject *py_##name(PyObject *self, PyObject *arg)                                      \
    {                                                                                              \
        (void)self;                                                                                \
        return apply(cc_##name, #name, arg);                                                       \
    }
SCATTER_FN(scatter_elim_identity)
SCATTER_FN(scatter_pull_removable_axes)
SCATTER_FN(einsum_pull_scatter)
SCATTER_FN(add_pull_scatter)
SCATTER_FN(index_einsum_to_scatter)
SCATTER_FN(concat_to_scatter)
SCATTER_FN(scatter_to_concat)
#undef SCATTER_FN

static PyMethodDef scatter_rewrite_functions[] = {
    {"scatter_elim_identity", py_scatter_elim_identity, METH_O,
     "scatter_elim_identity(scatter): its child when it pads nothing, else None."},
    {"scatter_pull_removable_axes", py_scatter_pull_removable_axes, METH_O,
     "scatter_pull_removable_axes(scatter): the child's broadcast axes that the Scatter fills "
     "whole removed below it and restored by a Rearrange above, or None."},
    {"einsum_pull_scatter", py_einsum_pull_scatter, METH_O,
     "einsum_pull_scatter(einsum): the Einsum of its operands indexed to where every Scatter "
     "operand is nonzero, scattered back (a zero Scalar when nothing is), or None without "
     "Scatter operands."},
    {"add_pull_scatter", py_add_pull_scatter, METH_O,
     "add_pull_scatter(add): for an Add of Scatters, the Add of them indexed to the union of "
     "what they fill, scattered back; None when that union is everything."},
    {"index_einsum_to_scatter", py_index_einsum_to_scatter, METH_O,
     "index_einsum_to_scatter(index): for an Index of an Einsum whose repeated output labels "
     "are indexed differently, the Einsum over their common part scattered into the indexed "
     "region, then indexed; else None."},
    {"concat_to_scatter", py_concat_to_scatter, METH_O,
     "concat_to_scatter(concat): the operands between leading and trailing zero Scalars "
     "concatenated and scattered, or None."},
    {"scatter_to_concat", py_scatter_to_concat, METH_O,
     "scatter_to_concat(scatter): the Scatter as Concats of its child with zero Scalars, one "
     "per axis."},
    {NULL, NULL, 0, NULL},
};

int
cc_py_scatter_rewrite_init(PyObject *module)
{
    return PyModule_AddFunctions(module, scatter_rewrite_functions);
}
