// Evaluation entry point: one plan for several circuits, run with the GIL
// released; results come back as numpy arrays, or torch tensors when an input was torch.
#include "python/bindings.h"
#include "eval/eval.h"
#include "nodes/kind.h"
#include "nodes/module.h"
#include "util/alloc.h"
#include "util/error.h"

static int
is_torch_tensor(void *ctx, const cc_tensor *t)
{
    (void)ctx;
    return t->buf->origin == CC_ORIGIN_TORCH;
}

// 1 when some tensor held below the roots (an Array's, an Index's) was built from torch.
static int
any_torch_input(cc_node *const *roots, Py_ssize_t n, int *out)
{
    *out = 0;
    for (Py_ssize_t r = 0; r < n && !*out; r++) {
        cc_node **nodes;
        int64_t count;
        if (cc_node_postorder_unique(roots[r], &nodes, &count) < 0) {
            return -1;
        }
        for (int64_t i = 0; i < count && !*out; i++) {
            const cc_kind_ops *ops = cc_kind_ops_of(nodes[i]->kind);
            *out = ops->for_each_tensor != NULL &&
                   ops->for_each_tensor(nodes[i], is_torch_tensor, NULL);
        }
        cc_free(nodes);
    }
    return 0;
}

static PyObject *
evaluate_many(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    static char *kwlist[] = {"circuits", NULL};
    PyObject *seq;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O:evaluate_many", kwlist, &seq)) {
        return NULL;
    }
    cc_node **roots;
    Py_ssize_t n;
    if (cc_py_nodes_from_seq(seq, "each item of circuits", &roots, &n) < 0) {
        return NULL;
    }
    PyObject *list = NULL;
    int want_torch;
    cc_tensor *results = PyMem_Calloc((size_t)(n ? n : 1), sizeof(cc_tensor));
    // Modules are substituted here, while the GIL guards node refcounts (rc's evaluate does
    // the same); the plan then sees only computable kinds.
    cc_node **flat = PyMem_Calloc((size_t)(n ? n : 1), sizeof(cc_node *));
    if (results == NULL || flat == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        flat[i] = cc_substitute_all_modules(roots[i]);
        if (flat[i] == NULL) {
            cc_py_raise();
            goto done;
        }
        roots[i] = flat[i];
    }
    if (any_torch_input(roots, n, &want_torch) < 0) {
        cc_py_raise();
        goto done;
    }
    int rc;
    Py_BEGIN_ALLOW_THREADS rc = cc_evaluate_many((int)n, roots, results, NULL);
    Py_END_ALLOW_THREADS if (rc < 0)
    {
        cc_py_raise();
        goto done;
    }
    list = PyList_New(n);
    for (Py_ssize_t i = 0; list != NULL && i < n; i++) {
        PyObject *arr = cc_py_tensor_to_array(&results[i], want_torch);
        if (arr == NULL) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, i, arr);
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        cc_tensor_clear(&results[i]);
    }
done:
    if (flat != NULL) {
        for (Py_ssize_t i = 0; i < n; i++) {
            cc_node_decref(flat[i]);
        }
    }
    PyMem_Free(flat);
    PyMem_Free(results);
    PyMem_Free(roots);
    return list;
}

PyMethodDef cc_py_eval_methods[] = {
    {"evaluate_many", (PyCFunction)(void (*)(void))evaluate_many, METH_VARARGS | METH_KEYWORDS,
     "evaluate_many(circuits) -> list of arrays: evaluates every circuit with one plan, each "
     "distinct subcircuit once."},
    {NULL, NULL, 0, NULL},
};
