// Module functions of einsum/add nesting and contraction-order optimisation (rc's
// einsum_nest_path, einsum_nest_optimize, deep_optimize_einsums, deep_heuristic_nest_adds, and
// the group-tree cores under nest_einsums / nest_adds, whose specs python/circuits/_nest.py
// resolves). Only argument translation lives here.
#include "python/bindings.h"

#include <string.h>

#include "rewrite/einsum_order.h"
#include "rewrite/nest.h"

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

// A sequence of ints as a new PyMem array (*n entries; never NULL on success). -1 on error.
static int
int_seq(PyObject *seq, const char *what, int **out, Py_ssize_t *n)
{
    *out = NULL;
    PyObject *fast = PySequence_Fast(seq, what);
    if (fast == NULL) {
        return -1;
    }
    *n = PySequence_Fast_GET_SIZE(fast);
    *out = PyMem_Malloc(((size_t)*n + 1) * sizeof(int));
    if (*out == NULL) {
        Py_DECREF(fast);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < *n; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(fast, i);
        if (!PyLong_Check(item)) {
            PyErr_Format(PyExc_TypeError, "%s, not %s", what, Py_TYPE(item)->tp_name);
            goto fail;
        }
        long v = PyLong_AsLong(item);
        if (v == -1 && PyErr_Occurred()) {
            goto fail;
        }
        if (v < INT32_MIN / 2 || v > INT32_MAX / 2) {
            PyErr_Format(PyExc_OverflowError, "%s: %ld is out of range", what, v);
            goto fail;
        }
        (*out)[i] = (int)v;
    }
    Py_DECREF(fast);
    return 0;
fail:
    Py_DECREF(fast);
    PyMem_Free(*out);
    *out = NULL;
    return -1;
}

typedef struct {
    Py_ssize_t n;
    cc_nest_group *groups;
    int **owned;      // 2 * n int arrays (members, perm)
    uint8_t **labels; // n arrays of output labels (or NULL)
} groups_arg;

static void
groups_clear(groups_arg *g)
{
    if (g->owned != NULL) {
        for (Py_ssize_t i = 0; i < 2 * g->n; i++) {
            PyMem_Free(g->owned[i]);
        }
    }
    if (g->labels != NULL) {
        for (Py_ssize_t i = 0; i < g->n; i++) {
            PyMem_Free(g->labels[i]);
        }
    }
    PyMem_Free(g->owned);
    PyMem_Free(g->labels);
    PyMem_Free(g->groups);
}

// groups: a list of (members, name or None, out_perm or None, out_labels or None). Names are
// borrowed from the list, which the caller keeps alive.
static int
groups_from_list(PyObject *list, groups_arg *g)
{
    g->n = 0;
    g->groups = NULL;
    g->owned = NULL;
    g->labels = NULL;
    if (!PyList_Check(list)) {
        PyErr_SetString(PyExc_TypeError, "groups must be a list of (members, name, perm)");
        return -1;
    }
    Py_ssize_t n = PyList_GET_SIZE(list);
    if (n > INT32_MAX / 4) {
        PyErr_SetString(PyExc_OverflowError, "too many groups");
        return -1;
    }
    g->groups = PyMem_Calloc((size_t)n + 1, sizeof(cc_nest_group));
    g->owned = PyMem_Calloc(2 * (size_t)n + 1, sizeof(int *));
    g->labels = PyMem_Calloc((size_t)n + 1, sizeof(uint8_t *));
    if (g->groups == NULL || g->owned == NULL || g->labels == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    g->n = n;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *t = PyList_GET_ITEM(list, i);
        if (!PyTuple_Check(t) || PyTuple_GET_SIZE(t) != 4) {
            PyErr_SetString(PyExc_TypeError,
                            "each group must be a tuple (members, name, perm, out_labels)");
            return -1;
        }
        PyObject *members = PyTuple_GET_ITEM(t, 0), *name = PyTuple_GET_ITEM(t, 1);
        PyObject *perm = PyTuple_GET_ITEM(t, 2), *labels = PyTuple_GET_ITEM(t, 3);
        Py_ssize_t nm, np = 0;
        if (int_seq(members, "group members must be ints", &g->owned[2 * i], &nm) < 0 ||
            cc_py_name_arg(name, &g->groups[i].name) < 0) {
            return -1;
        }
        if (perm != Py_None && int_seq(perm, "out_axes_perm must be a sequence of ints",
                                       &g->owned[2 * i + 1], &np) < 0) {
            return -1;
        }
        g->groups[i].n_members = (int)nm;
        g->groups[i].members = g->owned[2 * i];
        g->groups[i].out_perm = g->owned[2 * i + 1];
        g->groups[i].n_perm = (int)np;
        if (labels != Py_None) {
            int *ints;
            Py_ssize_t nl;
            if (int_seq(labels, "out_labels must be a sequence of ints", &ints, &nl) < 0) {
                return -1;
            }
            g->labels[i] = PyMem_Malloc((size_t)nl + 1);
            if (g->labels[i] == NULL) {
                PyMem_Free(ints);
                PyErr_NoMemory();
                return -1;
            }
            for (Py_ssize_t a = 0; a < nl; a++) {
                if (ints[a] < 0 || ints[a] > 255) {
                    PyErr_Format(PyExc_ValueError, "out_labels: %d is not a label in [0, 256)",
                                 ints[a]);
                    PyMem_Free(ints);
                    return -1;
                }
                g->labels[i][a] = (uint8_t)ints[a];
            }
            PyMem_Free(ints);
            g->groups[i].out_labels = g->labels[i];
            g->groups[i].n_out_labels = (int)nl;
        }
    }
    return 0;
}

static PyObject *
nest_groups(PyObject *args, cc_kind kind, const char *what)
{
    PyObject *obj, *list;
    cc_node *n;
    if (!PyArg_ParseTuple(args, "OO", &obj, &list) || kind_arg(obj, kind, what, &n) < 0) {
        return NULL;
    }
    groups_arg g;
    PyObject *out = NULL;
    if (groups_from_list(list, &g) == 0) {
        cc_node *r = kind == CC_KIND_EINSUM ? cc_einsum_nest_groups(n, (int)g.n, g.groups)
                                            : cc_add_nest_groups(n, (int)g.n, g.groups);
        out = cc_py_wrap_steal(r);
    }
    groups_clear(&g);
    return out;
}

static PyObject *
py_einsum_nest_groups(PyObject *self, PyObject *args)
{
    (void)self;
    return nest_groups(args, CC_KIND_EINSUM, "nest_einsums");
}

static PyObject *
py_add_nest_groups(PyObject *self, PyObject *args)
{
    (void)self;
    return nest_groups(args, CC_KIND_ADD, "nest_adds");
}

static PyObject *
py_einsum_nest_path(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    static char *kwlist[] = {"node", "path", NULL};
    PyObject *obj, *path;
    cc_node *einsum;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO:einsum_nest_path", kwlist, &obj, &path) ||
        kind_arg(obj, CC_KIND_EINSUM, "einsum_nest_path", &einsum) < 0) {
        return NULL;
    }
    PyObject *fast =
        PySequence_Fast(path, "einsum_nest_path: path must be a list of lists of ints");
    if (fast == NULL) {
        return NULL;
    }
    Py_ssize_t n_steps = PySequence_Fast_GET_SIZE(fast);
    int *lens = PyMem_Malloc(((size_t)n_steps + 1) * sizeof(int));
    int *positions = NULL;
    size_t total = 0, cap = 0;
    PyObject *out = NULL;
    if (lens == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t k = 0; k < n_steps; k++) {
        int *step;
        Py_ssize_t len;
        if (int_seq(PySequence_Fast_GET_ITEM(fast, k),
                    "einsum_nest_path: each step of path must be a list of ints", &step,
                    &len) < 0) {
            goto done;
        }
        if (total + (size_t)len + 1 > cap) {
            cap = 2 * (total + (size_t)len + 1);
            int *p = PyMem_Realloc(positions, cap * sizeof(int));
            if (p == NULL) {
                PyMem_Free(step);
                PyErr_NoMemory();
                goto done;
            }
            positions = p;
        }
        memcpy(positions + total, step, (size_t)len * sizeof(int));
        PyMem_Free(step);
        lens[k] = (int)len;
        total += (size_t)len;
    }
    if (n_steps > INT32_MAX / 4) {
        PyErr_SetString(PyExc_OverflowError, "einsum_nest_path: too many steps");
        goto done;
    }
    out = cc_py_wrap_steal(cc_einsum_nest_path(einsum, (int)n_steps, lens, positions));
done:
    PyMem_Free(lens);
    PyMem_Free(positions);
    Py_DECREF(fast);
    return out;
}

static PyObject *
py_einsum_nest_optimize(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    static char *kwlist[] = {"node", NULL};
    PyObject *obj;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O:einsum_nest_optimize", kwlist, &obj)) {
        return NULL;
    }
    cc_node *einsum;
    if (kind_arg(obj, CC_KIND_EINSUM, "einsum_nest_optimize", &einsum) < 0) {
        return NULL;
    }
    return cc_py_wrap_steal(cc_einsum_nest_optimize(einsum));
}

static PyObject *
py_deep_optimize_einsums(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    static char *kwlist[] = {"node", NULL};
    PyObject *obj;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O:deep_optimize_einsums", kwlist, &obj)) {
        return NULL;
    }
    cc_node *n;
    if (!cc_py_node_check(obj, "deep_optimize_einsums", &n)) {
        return NULL;
    }
    return cc_py_wrap_steal(cc_deep_optimize_einsums(n));
}

static PyObject *
py_deep_heuristic_nest_adds(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    static char *kwlist[] = {"circuit", NULL};
    PyObject *obj;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O:deep_heuristic_nest_adds", kwlist, &obj)) {
        return NULL;
    }
    cc_node *n;
    if (!cc_py_node_check(obj, "deep_heuristic_nest_adds", &n)) {
        return NULL;
    }
    return cc_py_wrap_steal(cc_deep_heuristic_nest_adds(n));
}

// _einsum_order(labels, out, sizes): (the SSA pairs as a list of (a, b), total cost) of
// cc_einsum_order; labels: one list of ints in [0, 256) per operand, sizes: 256 floats.
static PyObject *
py_einsum_order(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *labels_obj, *out_obj, *sizes_obj;
    if (!PyArg_ParseTuple(args, "OOO:_einsum_order", &labels_obj, &out_obj, &sizes_obj)) {
        return NULL;
    }
    PyObject *fast = PySequence_Fast(labels_obj, "_einsum_order: labels must be a sequence");
    if (fast == NULL) {
        return NULL;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    int *n_labels = PyMem_Calloc((size_t)n + 1, sizeof(int));
    uint8_t **labels = PyMem_Calloc((size_t)n + 1, sizeof(uint8_t *));
    uint8_t *out = NULL;
    int *pairs = PyMem_Malloc((2 * (size_t)n + 1) * sizeof(int));
    int *ints = NULL, *out_ints = NULL;
    double size[256];
    PyObject *result = NULL;
    Py_ssize_t len, n_out;
    if (n_labels == NULL || labels == NULL || pairs == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (int_seq(PySequence_Fast_GET_ITEM(fast, i), "_einsum_order: labels must be ints", &ints,
                    &len) < 0) {
            goto done;
        }
        labels[i] = PyMem_Malloc((size_t)len + 1);
        if (labels[i] == NULL) {
            PyErr_NoMemory();
            goto done;
        }
        for (Py_ssize_t a = 0; a < len; a++) {
            if (ints[a] < 0 || ints[a] > 255) {
                PyErr_Format(PyExc_ValueError, "_einsum_order: label %d is not in [0, 256)",
                             ints[a]);
                goto done;
            }
            labels[i][a] = (uint8_t)ints[a];
        }
        n_labels[i] = (int)len;
        PyMem_Free(ints);
        ints = NULL;
    }
    if (int_seq(out_obj, "_einsum_order: out must be ints", &out_ints, &n_out) < 0) {
        goto done;
    }
    out = PyMem_Malloc((size_t)n_out + 1);
    if (out == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t a = 0; a < n_out; a++) {
        if (out_ints[a] < 0 || out_ints[a] > 255) {
            PyErr_Format(PyExc_ValueError, "_einsum_order: label %d is not in [0, 256)",
                         out_ints[a]);
            goto done;
        }
        out[a] = (uint8_t)out_ints[a];
    }
    PyObject *sfast = PySequence_Fast(sizes_obj, "_einsum_order: sizes must be a sequence");
    if (sfast == NULL) {
        goto done;
    }
    if (PySequence_Fast_GET_SIZE(sfast) != 256) {
        Py_DECREF(sfast);
        PyErr_SetString(PyExc_ValueError, "_einsum_order: sizes must have 256 entries");
        goto done;
    }
    for (int l = 0; l < 256; l++) {
        size[l] = PyFloat_AsDouble(PySequence_Fast_GET_ITEM(sfast, l));
        if (size[l] == -1.0 && PyErr_Occurred()) {
            Py_DECREF(sfast);
            goto done;
        }
    }
    Py_DECREF(sfast);
    double cost;
    if (n > INT32_MAX / 4) {
        PyErr_SetString(PyExc_OverflowError, "_einsum_order: too many operands");
        goto done;
    }
    if (cc_einsum_order((int)n, n_labels, (const uint8_t *const *)labels, (int)n_out, out, size,
                        pairs, &cost) < 0) {
        cc_py_raise();
        goto done;
    }
    PyObject *steps = PyList_New(n > 1 ? n - 1 : 0);
    if (steps == NULL) {
        goto done;
    }
    for (Py_ssize_t k = 0; k + 1 < n; k++) {
        PyObject *t = Py_BuildValue("(ii)", pairs[2 * k], pairs[2 * k + 1]);
        if (t == NULL) {
            Py_DECREF(steps);
            goto done;
        }
        PyList_SET_ITEM(steps, k, t);
    }
    result = Py_BuildValue("(Nd)", steps, cost);
done:
    if (labels != NULL) {
        for (Py_ssize_t i = 0; i < n; i++) {
            PyMem_Free(labels[i]);
        }
    }
    PyMem_Free(labels);
    PyMem_Free(n_labels);
    PyMem_Free(pairs);
    PyMem_Free(out);
    PyMem_Free(ints);
    PyMem_Free(out_ints);
    Py_DECREF(fast);
    return result;
}

static PyMethodDef nest_methods[] = {
    {"_einsum_nest_groups", py_einsum_nest_groups, METH_VARARGS,
     "_einsum_nest_groups(einsum, groups): einsum's operands nested as the groups say (a list "
     "of (members, name, out_axes_perm, out_labels); members >= 0 are operands, -1-g group g; the "
     "last "
     "group is the root)."},
    {"_add_nest_groups", py_add_nest_groups, METH_VARARGS,
     "_add_nest_groups(add, groups): add's operands nested as the groups say."},
    {"einsum_nest_path", (PyCFunction)(void (*)(void))py_einsum_nest_path,
     METH_VARARGS | METH_KEYWORDS,
     "einsum_nest_path(node, path): node's operands contracted in the order of path (lists of "
     "positions in the current operand list; each step's result goes to the end)."},
    {"einsum_nest_optimize", (PyCFunction)(void (*)(void))py_einsum_nest_optimize,
     METH_VARARGS | METH_KEYWORDS,
     "einsum_nest_optimize(node): node nested as a pairwise tree in the cheapest contraction "
     "order (optimal up to 8 operands, greedy beyond)."},
    {"deep_optimize_einsums", (PyCFunction)(void (*)(void))py_deep_optimize_einsums,
     METH_VARARGS | METH_KEYWORDS,
     "deep_optimize_einsums(node): every Einsum of three operands or more nested by "
     "einsum_nest_optimize."},
    {"deep_heuristic_nest_adds", (PyCFunction)(void (*)(void))py_deep_heuristic_nest_adds,
     METH_VARARGS | METH_KEYWORDS,
     "deep_heuristic_nest_adds(circuit): Adds that contain another Add's operands take that "
     "Add as an operand instead."},
    {"_einsum_order", py_einsum_order, METH_VARARGS,
     "_einsum_order(labels, out, sizes): (steps, cost) of the contraction-order search."},
    {NULL, NULL, 0, NULL},
};

int
cc_py_nest_init(PyObject *module)
{
    return PyModule_AddFunctions(module, nest_methods);
}
