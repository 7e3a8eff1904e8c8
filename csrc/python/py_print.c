// Bindings of the printer (text/print.h): print_repr with every PrintOptions knob as a keyword,
// and the per-node line and payload texts. Python colourers, commenters and the tensor sink
// run as the printer's hooks.
#include "python/bindings.h"

#include "python/py_match.h"
#include "text/print.h"
#include "util/alloc.h"
#include "util/error.h"

typedef struct {
    PyObject *colorer;    // callable or NULL
    PyObject *commenters; // tuple of callables or NULL
    PyObject *sink;       // callable(hash_hex, array) or NULL
} hooks_ctx;

// Calls f(circuit) with a new wrapper of n; a new reference, or NULL with an exception.
static PyObject *
call_on_node(PyObject *f, const cc_node *n)
{
    PyObject *c = cc_py_wrap((cc_node *)n);
    if (c == NULL) {
        return NULL;
    }
    PyObject *r = PyObject_CallOneArg(f, c);
    Py_DECREF(c);
    return r;
}

static int
hook_color(void *ctx, const cc_node *n, int *out)
{
    PyObject *r = call_on_node(((hooks_ctx *)ctx)->colorer, n);
    if (r == NULL) {
        return cc_fail(CC_E_PYTHON, "colorer");
    }
    *out = -1;
    if (r != Py_None) {
        long v = PyLong_Check(r) ? PyLong_AsLong(r) : -1;
        if (v < 0) {
            if (!PyErr_Occurred()) {
                PyErr_Format(PyExc_TypeError,
                             "PrintOptions colorer: expected None or an int >= 0, got %R", r);
            }
            Py_DECREF(r);
            return cc_fail(CC_E_PYTHON, "colorer");
        }
        *out = (int)(v % 14);
    }
    Py_DECREF(r);
    return 0;
}

static int
hook_comment(void *ctx, const cc_node *n, cc_str *out)
{
    PyObject *commenters = ((hooks_ctx *)ctx)->commenters;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(commenters); i++) {
        PyObject *r = call_on_node(PyTuple_GET_ITEM(commenters, i), n);
        if (r == NULL) {
            return cc_fail(CC_E_PYTHON, "commenter");
        }
        if (!PyUnicode_Check(r)) {
            PyErr_Format(PyExc_TypeError, "PrintOptions commenter: expected a str, got %R", r);
            Py_DECREF(r);
            return cc_fail(CC_E_PYTHON, "commenter");
        }
        Py_ssize_t len;
        const char *text = PyUnicode_AsUTF8AndSize(r, &len);
        int rc = 0;
        if (text == NULL) {
            rc = cc_fail(CC_E_PYTHON, "commenter");
        } else if (len > 0 &&
                   (cc_str_append(out, " # ") < 0 || cc_str_append_n(out, text, (size_t)len) < 0)) {
            rc = -1;
        }
        Py_DECREF(r);
        if (rc < 0) {
            return -1;
        }
    }
    return 0;
}

static int
hook_tensor(void *ctx, const uint8_t hash[32], const cc_tensor *t)
{
    PyObject *hex = cc_py_hex(hash, 32);
    PyObject *array = hex != NULL ? cc_py_tensor_to_numpy(t) : NULL;
    PyObject *r = array != NULL
                      ? PyObject_CallFunctionObjArgs(((hooks_ctx *)ctx)->sink, hex, array, NULL)
                      : NULL;
    Py_XDECREF(hex);
    Py_XDECREF(array);
    if (r == NULL) {
        return cc_fail(CC_E_PYTHON, "tensor sink");
    }
    Py_DECREF(r);
    return 0;
}

int
cc_py_reference_circuits_arg(PyObject *dict, int circuit_keys, int *n, cc_node ***nodes,
                             const char ***idents)
{
    const char *want = circuit_keys ? "{Circuit: str}" : "{str: Circuit}";
    *n = 0;
    if (dict == Py_None) {
        return 0;
    }
    if (!PyDict_Check(dict)) {
        PyErr_Format(PyExc_TypeError, "reference_circuits: expected a dict %s, got %R", want, dict);
        return -1;
    }
    Py_ssize_t size = PyDict_Size(dict);
    if (size > INT_MAX) {
        PyErr_SetString(PyExc_OverflowError, "reference_circuits: too many circuits");
        return -1;
    }
    *nodes = PyMem_Calloc((size_t)size + 1, sizeof(cc_node *));
    *idents = PyMem_Calloc((size_t)size + 1, sizeof(char *));
    if (*nodes == NULL || *idents == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    for (Py_ssize_t i = 0; PyDict_Next(dict, &pos, &key, &value); i++) {
        PyObject *circuit = circuit_keys ? key : value, *ident = circuit_keys ? value : key;
        if (!cc_py_node_check(circuit, "reference_circuits", &(*nodes)[i])) {
            return -1;
        }
        if (!PyUnicode_Check(ident)) {
            PyErr_Format(PyExc_TypeError, "reference_circuits: expected a dict %s, got the item %R",
                         want, ident);
            return -1;
        }
        (*idents)[i] = PyUnicode_AsUTF8(ident);
        if ((*idents)[i] == NULL) {
            return -1;
        }
    }
    *n = (int)size;
    return 0;
}

static PyObject *
py_print_repr(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    static char *kwlist[] = {"circuits",
                             "bijection",
                             "shape_only_when_necessary",
                             "end_depth",
                             "traversal",
                             "arrows",
                             "leaves_on_top",
                             "only_child_below",
                             "force_use_serial_numbers",
                             "number_leaves",
                             "comment_arg_names",
                             "tensor_index_literal",
                             "reference_circuits",
                             "colorer",
                             "commenters",
                             "tensor_sink",
                             "show_all_named_axes",
                             NULL};
    cc_print_options o;
    cc_print_options_default(&o);
    PyObject *circuits, *traversal = Py_None, *refs = Py_None, *colorer = Py_None;
    PyObject *commenters = Py_None, *sink = Py_None;
    if (!PyArg_ParseTupleAndKeywords(
            args, kwds, "O|$ppiOpppppppOOOOp:print_repr", kwlist, &circuits, &o.bijection,
            &o.shape_only_when_necessary, &o.end_depth, &traversal, &o.arrows, &o.leaves_on_top,
            &o.only_child_below, &o.force_use_serial_numbers, &o.number_leaves,
            &o.comment_arg_names, &o.tensor_index_literal, &refs, &colorer, &commenters, &sink,
            &o.show_all_named_axes)) {
        return NULL;
    }
    cc_node **nodes = NULL, **ref_nodes = NULL;
    const char **ref_idents = NULL;
    Py_ssize_t n = 0;
    PyObject *result = NULL;
    hooks_ctx ctx = {0};
    o.hooks.ctx = &ctx;
    if (cc_py_nodes_from_seq(circuits, "print: circuits", &nodes, &n) < 0 ||
        cc_py_reference_circuits_arg(refs, 1, &o.n_refs, &ref_nodes, &ref_idents) < 0) {
        goto done;
    }
    o.ref_nodes = ref_nodes;
    o.ref_idents = ref_idents;
    if (n > INT_MAX) {
        PyErr_SetString(PyExc_OverflowError, "print: too many circuits");
        goto done;
    }
    if (traversal != Py_None && (o.traversal = cc_py_imatcher_arg(traversal)) == NULL) {
        goto done;
    }
    if (colorer != Py_None) {
        ctx.colorer = colorer;
        o.hooks.color = hook_color;
    }
    if (commenters != Py_None) {
        ctx.commenters = PySequence_Tuple(commenters);
        if (ctx.commenters == NULL) {
            goto done;
        }
        o.hooks.comment = hook_comment;
    }
    if (sink != Py_None) {
        ctx.sink = sink;
        o.hooks.tensor = hook_tensor;
    }
    char *text = cc_print_repr(nodes, (int)n, &o);
    if (text == NULL) {
        cc_py_raise();
        goto done;
    }
    result = PyUnicode_FromString(text);
    cc_free(text);
done:
    cc_imatcher_decref(o.traversal);
    Py_XDECREF(ctx.commenters);
    PyMem_Free(nodes);
    PyMem_Free(ref_nodes);
    PyMem_Free(ref_idents);
    return result;
}

// print_line_info / print_extra_info: one node's text under the two knobs they read.
static PyObject *
print_one(PyObject *args, PyObject *kwds, const char *format,
          char *(*fn)(const cc_node *, const cc_print_options *))
{
    static char *kwlist[] = {"circuit", "bijection", "shape_only_when_necessary",
                             "show_all_named_axes", NULL};
    cc_print_options o;
    cc_print_options_default(&o);
    PyObject *obj;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, format, kwlist, &obj, &o.bijection,
                                     &o.shape_only_when_necessary, &o.show_all_named_axes)) {
        return NULL;
    }
    cc_node *n;
    if (!cc_py_node_check(obj, "circuit", &n)) {
        return NULL;
    }
    char *text = fn(n, &o);
    if (text == NULL) {
        return cc_py_raise();
    }
    PyObject *out = PyUnicode_FromString(text);
    cc_free(text);
    return out;
}

static PyObject *
py_print_line_info(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    return print_one(args, kwds, "O|$ppp:print_line_info", cc_print_line_info);
}

static PyObject *
py_print_extra_info(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    return print_one(args, kwds, "O|$ppp:print_extra_info", cc_print_extra_info);
}

PyMethodDef cc_py_print_methods[] = {
    {"print_repr", (PyCFunction)(void (*)(void))py_print_repr, METH_VARARGS | METH_KEYWORDS,
     "print_repr(circuits, *, bijection=True, shape_only_when_necessary=True, end_depth=-1, "
     "traversal=None, arrows=False, leaves_on_top=False, only_child_below=False, "
     "force_use_serial_numbers=False, number_leaves=False, comment_arg_names=False, "
     "tensor_index_literal=False, reference_circuits=None, colorer=None, commenters=None, "
     "tensor_sink=None, show_all_named_axes=False)\n--\n\nThe text of circuits in rc's line "
     "format."},
    {"print_line_info", (PyCFunction)(void (*)(void))py_print_line_info,
     METH_VARARGS | METH_KEYWORDS,
     "print_line_info(circuit, *, bijection=True, shape_only_when_necessary=True, "
     "show_all_named_axes=False)\n--\n\n"
     "rc's repr_line_info: ' [shape] Variant extra'."},
    {"print_extra_info", (PyCFunction)(void (*)(void))py_print_extra_info,
     METH_VARARGS | METH_KEYWORDS,
     "print_extra_info(circuit, *, bijection=True, shape_only_when_necessary=True, "
     "show_all_named_axes=False)\n--\n\n"
     "rc's repr_extra_info: the payload text of one node."},
    {NULL, NULL, 0, NULL},
};
