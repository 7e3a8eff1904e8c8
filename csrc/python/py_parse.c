// Bindings of the parser (text/parse.h): parse_circuits with rc's Parser options as keywords.
// Tensors come from a Python callable, random uuids from os.urandom; a Python exception raised
// by either keeps its class and gains a note saying which line it came from.
#include "python/bindings.h"

#include "text/parse.h"
#include "util/alloc.h"
#include "util/error.h"

typedef struct {
    PyObject *load;    // load(kind, prefix or None, shape or None) -> array-like
    PyObject *urandom; // os.urandom, imported on first use
} parse_ctx;

static int
hook_tensor(void *ctx, cc_parse_tensor_kind kind, const char *prefix, int ndim,
            const int64_t *shape, cc_tensor *out)
{
    static const char *const kinds[] = {"array", "index", "random"};
    PyObject *load = ((parse_ctx *)ctx)->load;
    if (load == Py_None) {
        return cc_fail(CC_E_PARSE_CIRCUIT, "no tensor loader to find tensor %s",
                       prefix != NULL ? prefix : "(random)");
    }
    PyObject *shape_obj = ndim < 0 ? Py_NewRef(Py_None) : cc_py_shape_tuple(ndim, shape);
    PyObject *prefix_obj = prefix != NULL ? PyUnicode_FromString(prefix) : Py_NewRef(Py_None);
    PyObject *r = NULL;
    if (shape_obj != NULL && prefix_obj != NULL) {
        r = PyObject_CallFunction(load, "sOO", kinds[kind], prefix_obj, shape_obj);
    }
    Py_XDECREF(shape_obj);
    Py_XDECREF(prefix_obj);
    if (r == NULL) {
        return cc_fail(CC_E_PYTHON, "tensor loader");
    }
    int rc = cc_py_to_tensor(r, out, 0);
    Py_DECREF(r);
    return rc < 0 ? cc_fail(CC_E_PYTHON, "tensor loader") : 0;
}

static int
hook_random_bytes(void *ctx, uint8_t *out, size_t n)
{
    parse_ctx *c = ctx;
    if (c->urandom == NULL) {
        PyObject *os = PyImport_ImportModule("os");
        c->urandom = os != NULL ? PyObject_GetAttrString(os, "urandom") : NULL;
        Py_XDECREF(os);
        if (c->urandom == NULL) {
            return cc_fail(CC_E_PYTHON, "os.urandom");
        }
    }
    PyObject *bytes = PyObject_CallFunction(c->urandom, "n", (Py_ssize_t)n);
    if (bytes == NULL || !PyBytes_Check(bytes) || (size_t)PyBytes_GET_SIZE(bytes) != n) {
        if (bytes != NULL) {
            PyErr_SetString(PyExc_RuntimeError, "os.urandom returned the wrong number of bytes");
        }
        Py_XDECREF(bytes);
        return cc_fail(CC_E_PYTHON, "os.urandom");
    }
    memcpy(out, PyBytes_AS_STRING(bytes), n);
    Py_DECREF(bytes);
    return 0;
}

static cc_gf_spec *
hook_gf_spec_by_path(void *ctx, const char *path)
{
    (void)ctx;
    cc_gf_spec *spec = cc_py_gf_spec_by_path(path);
    if (spec == NULL) {
        cc_fail(CC_E_PYTHON, "GeneralFunction spec at %s", path);
    }
    return spec;
}

// Adds the parser's position message as a note to the pending Python exception.
static void
add_position_note(void)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    PyObject *note = PyUnicode_FromFormat("while parsing %s", cc_error_message());
    PyObject *r =
        note != NULL && value != NULL ? PyObject_CallMethod(value, "add_note", "O", note) : NULL;
    Py_XDECREF(note);
    Py_XDECREF(r);
    if (r == NULL) {
        PyErr_Clear();
    }
    PyErr_Restore(type, value, tb);
    cc_error_clear();
}

static PyObject *
py_parse_circuits(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    static char *kwlist[] = {"text",
                             "reference_circuits",
                             "tensors_as_random",
                             "allow_hash_with_random",
                             "on_repeat_check_info_same",
                             "module_check_all_inputs_used",
                             "module_check_unique_arg_names",
                             "load",
                             NULL};
    cc_parse_options o;
    cc_parse_options_default(&o);
    PyObject *text, *refs = Py_None;
    parse_ctx ctx = {.load = Py_None};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "U|$OpppppO:parse_circuits", kwlist, &text, &refs,
                                     &o.tensors_as_random, &o.allow_hash_with_random,
                                     &o.on_repeat_check_info_same, &o.module_check_all_inputs_used,
                                     &o.module_check_unique_arg_names, &ctx.load)) {
        return NULL;
    }
    cc_node **ref_nodes = NULL, **nodes = NULL;
    const char **ref_idents = NULL;
    PyObject *result = NULL;
    Py_ssize_t len;
    const char *utf8 = PyUnicode_AsUTF8AndSize(text, &len);
    if (utf8 == NULL ||
        cc_py_reference_circuits_arg(refs, 0, &o.n_refs, &ref_nodes, &ref_idents) < 0) {
        goto done;
    }
    o.ref_nodes = ref_nodes;
    o.ref_idents = ref_idents;
    o.hooks.ctx = &ctx;
    o.hooks.tensor = hook_tensor;
    o.hooks.random_bytes = hook_random_bytes;
    o.hooks.gf_spec_by_path = hook_gf_spec_by_path;
    int n = cc_parse_circuits(utf8, (size_t)len, &o, &nodes);
    if (n < 0) {
        if (cc_error_kind_get() == CC_E_PYTHON && PyErr_Occurred()) {
            add_position_note();
        } else {
            cc_py_raise();
        }
        goto done;
    }
    result = PyList_New(n);
    for (int i = 0; i < n; i++) {
        PyObject *c = result != NULL ? cc_py_wrap(nodes[i]) : NULL;
        if (c == NULL) {
            Py_CLEAR(result);
        } else {
            PyList_SET_ITEM(result, i, c);
        }
        cc_node_decref(nodes[i]);
    }
    cc_free(nodes);
done:
    PyMem_Free(ref_nodes);
    PyMem_Free(ref_idents);
    Py_XDECREF(ctx.urandom);
    return result;
}

PyMethodDef cc_py_parse_methods[] = {
    {"parse_circuits", (PyCFunction)(void (*)(void))py_parse_circuits, METH_VARARGS | METH_KEYWORDS,
     "parse_circuits(text, *, reference_circuits=None, tensors_as_random=False, "
     "allow_hash_with_random=False, on_repeat_check_info_same=True, "
     "module_check_all_inputs_used=True, module_check_unique_arg_names=False, load=None)\n"
     "The top-level circuits of rc's text format, in order."},
    {NULL, NULL, 0, NULL},
};
