// circuits.GeneralFunction, its spec objects, the module functions named in
// nodes/gf.def (circuits.relu, circuits.softmax, ...) and specs written in Python.
#include "python/bindings.h"

#include <string.h>

#include "nodes/gf.h"
#include "util/error.h"

#define NODE(self) (((cc_py_node *)(self))->node)

static PyTypeObject *spec_type;

typedef struct {
    PyObject_HEAD cc_gf_spec *spec;
} py_spec;

PyObject *
cc_py_gf_spec_wrap(cc_gf_spec *spec)
{
    if (spec->kind == CC_GF_CALLBACK) {
        return Py_NewRef((PyObject *)spec->callbacks.ctx);
    }
    py_spec *obj = PyObject_New(py_spec, spec_type);
    if (obj == NULL) {
        return NULL;
    }
    cc_gf_spec_incref(spec);
    obj->spec = spec;
    return (PyObject *)obj;
}

// --- specs written in Python -------------------------------------------------------------

static void
callback_incref(void *ctx)
{
    PyGILState_STATE g = PyGILState_Ensure();
    Py_INCREF((PyObject *)ctx);
    PyGILState_Release(g);
}

static void
callback_decref(void *ctx)
{
    PyGILState_STATE g = PyGILState_Ensure();
    Py_DECREF((PyObject *)ctx);
    PyGILState_Release(g);
}

// Records that a Python exception is pending (the bindings re-raise it).
static int
python_failed(PyGILState_STATE g)
{
    PyGILState_Release(g);
    return cc_fail(CC_E_PYTHON, "a Python GeneralFunction spec raised");
}

static int
read_shape_info(PyObject *info, int n, cc_gf_shape_info *out)
{
    PyObject *shape = PyObject_GetAttrString(info, "shape");
    if (shape == NULL || cc_py_shape_arg(shape, &out->ndim, out->shape) < 0) {
        Py_XDECREF(shape);
        return -1;
    }
    Py_DECREF(shape);
    PyObject *nb = PyObject_GetAttrString(info, "num_non_batchable_output_dims");
    if (nb == NULL) {
        return -1;
    }
    out->num_non_batchable_output_dims = (int)PyLong_AsLong(nb);
    Py_DECREF(nb);
    if (PyErr_Occurred()) {
        return -1;
    }
    PyObject *batchable = PyObject_GetAttrString(info, "input_batchability");
    PyObject *fast =
        batchable ? PySequence_Fast(batchable, "input_batchability: a sequence") : NULL;
    Py_XDECREF(batchable);
    if (fast == NULL) {
        return -1;
    }
    // As rc, entries pair with inputs as far as both go: an input without one is not
    // batchable, an entry without an input is ignored.
    Py_ssize_t given = PySequence_Fast_GET_SIZE(fast);
    for (int i = 0; i < n; i++) {
        if (i >= given) {
            out->input_batchable[i] = 0;
            continue;
        }
        int b = PyObject_IsTrue(PySequence_Fast_GET_ITEM(fast, i));
        if (b < 0) {
            Py_DECREF(fast);
            return -1;
        }
        out->input_batchable[i] = (uint8_t)b;
    }
    Py_DECREF(fast);
    return 0;
}

static int
callback_shape_info(void *ctx, int n, const int *ndims, const int64_t *const *shapes,
                    cc_gf_shape_info *out)
{
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *args = PyTuple_New(n);
    if (args == NULL) {
        return python_failed(g);
    }
    for (int i = 0; i < n; i++) {
        PyObject *shape = cc_py_shape_tuple(ndims[i], shapes[i]);
        if (shape == NULL) {
            Py_DECREF(args);
            return python_failed(g);
        }
        PyTuple_SET_ITEM(args, i, shape);
    }
    PyObject *method = PyObject_GetAttrString((PyObject *)ctx, "get_shape_info");
    PyObject *info = method ? PyObject_Call(method, args, NULL) : NULL;
    Py_XDECREF(method);
    Py_DECREF(args);
    if (info == NULL || read_shape_info(info, n, out) < 0) {
        Py_XDECREF(info);
        return python_failed(g);
    }
    Py_DECREF(info);
    PyGILState_Release(g);
    return 0;
}

static int
callback_function(void *ctx, int n, const cc_tensor *const *inputs, cc_tensor *out)
{
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *args = PyTuple_New(n);
    if (args == NULL) {
        return python_failed(g);
    }
    for (int i = 0; i < n; i++) {
        PyObject *arr = cc_py_tensor_to_value(inputs[i]);
        if (arr == NULL) {
            Py_DECREF(args);
            return python_failed(g);
        }
        PyTuple_SET_ITEM(args, i, arr);
    }
    PyObject *method = PyObject_GetAttrString((PyObject *)ctx, "function");
    PyObject *result = method ? PyObject_Call(method, args, NULL) : NULL;
    Py_XDECREF(method);
    Py_DECREF(args);
    if (result == NULL) {
        return python_failed(g);
    }
    int rc = cc_py_to_tensor(result, out, 0);
    Py_DECREF(result);
    if (rc < 0) {
        return python_failed(g);
    }
    PyGILState_Release(g);
    return 0;
}

// rc's get_device_dtype_override(*TorchDeviceDtypeOp): None overrides nothing (0); else the
// returned object's dtype (None: unknown) in *out and 1.
static int
callback_dtype_override(void *ctx, int n, const int *dtypes, int *out)
{
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *module = PyImport_ImportModule("circuits._device_dtype");
    PyObject *op = module ? PyObject_GetAttrString(module, "TorchDeviceDtypeOp") : NULL;
    Py_XDECREF(module);
    PyObject *args = op ? PyTuple_New(n) : NULL;
    for (int i = 0; args != NULL && i < n; i++) {
        PyObject *dd = dtypes[i] >= 0 ? PyObject_CallFunction(op, "ss", "cpu",
                                                              cc_dtype_name((cc_dtype)dtypes[i]))
                                      : PyObject_CallFunction(op, "OO", Py_None, Py_None);
        if (dd == NULL) {
            Py_CLEAR(args);
            break;
        }
        PyTuple_SET_ITEM(args, i, dd);
    }
    Py_XDECREF(op);
    PyObject *method =
        args ? PyObject_GetAttrString((PyObject *)ctx, "get_device_dtype_override") : NULL;
    PyObject *result = method ? PyObject_Call(method, args, NULL) : NULL;
    Py_XDECREF(method);
    Py_XDECREF(args);
    if (result == NULL) {
        return python_failed(g);
    }
    int rc = 0;
    if (result != Py_None) {
        PyObject *dtype = PyObject_GetAttrString(result, "dtype");
        const char *name = dtype != NULL && dtype != Py_None ? PyUnicode_AsUTF8(dtype) : NULL;
        *out = -1;
        rc = 1;
        if (dtype == NULL || (dtype != Py_None && name == NULL)) {
            rc = -1;
        }
        for (int d = 0; name != NULL && d < CC_DTYPE_COUNT; d++) {
            if (strcmp(cc_dtype_name((cc_dtype)d), name) == 0) {
                *out = d;
            }
        }
        if (name != NULL && *out < 0) {
            PyErr_Format(PyExc_ValueError,
                         "get_device_dtype_override returned an unknown dtype '%s'", name);
            rc = -1;
        }
        Py_XDECREF(dtype);
    }
    Py_DECREF(result);
    if (rc < 0) {
        return python_failed(g);
    }
    PyGILState_Release(g);
    return rc;
}

// A spec for a Python object with name, function and get_shape_info (new reference). Its path
// is the object's path attribute, or default_path (may be NULL) when that is None.
static cc_gf_spec *
spec_from_python(PyObject *obj, const char *default_path)
{
    PyObject *name = PyObject_GetAttrString(obj, "name");
    if (name == NULL) {
        return NULL;
    }
    if (!PyUnicode_Check(name)) {
        Py_DECREF(name);
        PyErr_SetString(PyExc_TypeError, "a GeneralFunction spec's name must be a str");
        return NULL;
    }
    PyObject *hash_bytes = NULL;
    if (PyObject_HasAttrString(obj, "compute_hash_bytes")) {
        hash_bytes = PyObject_CallMethod(obj, "compute_hash_bytes", NULL);
    } else {
        PyObject *id = PyLong_FromVoidPtr(obj);
        hash_bytes = id ? PyObject_CallMethod(id, "to_bytes", "is", 8, "big") : NULL;
        Py_XDECREF(id);
    }
    if (hash_bytes == NULL || !PyBytes_Check(hash_bytes)) {
        if (hash_bytes != NULL) {
            PyErr_SetString(PyExc_TypeError, "compute_hash_bytes() must return bytes");
        }
        Py_XDECREF(hash_bytes);
        Py_DECREF(name);
        return NULL;
    }
    PyObject *path = PyObject_HasAttrString(obj, "path") ? PyObject_GetAttrString(obj, "path")
                                                         : Py_NewRef(Py_None);
    if (path == NULL || (path != Py_None && !PyUnicode_Check(path))) {
        if (path != NULL) {
            PyErr_Format(PyExc_TypeError,
                         "GeneralFunction spec '%U': path must be a str or None, not %.100s", name,
                         Py_TYPE(path)->tp_name);
        }
        Py_XDECREF(path);
        Py_DECREF(hash_bytes);
        Py_DECREF(name);
        return NULL;
    }
    const char *path_utf8 = path != Py_None ? PyUnicode_AsUTF8(path) : default_path;
    cc_gf_callbacks cb = {
        .ctx = obj,
        .incref = callback_incref,
        .decref = callback_decref,
        .shape_info = callback_shape_info,
        .function = callback_function,
        .dtype_override = PyObject_HasAttrString(obj, "get_device_dtype_override")
                              ? callback_dtype_override
                              : NULL,
    };
    const char *name_utf8 = PyUnicode_AsUTF8(name);
    cc_gf_spec *spec = NULL;
    if (name_utf8 != NULL && (path == Py_None || path_utf8 != NULL)) {
        spec = cc_gf_spec_callback(name_utf8, (const uint8_t *)PyBytes_AS_STRING(hash_bytes),
                                   (size_t)PyBytes_GET_SIZE(hash_bytes), &cb, path_utf8);
    }
    Py_DECREF(path);
    Py_DECREF(hash_bytes);
    Py_DECREF(name);
    if (spec == NULL && !PyErr_Occurred()) {
        cc_py_raise();
    }
    return spec;
}

// A new spec reference from a spec object, or NULL with an exception.
static cc_gf_spec *
spec_arg(PyObject *obj)
{
    if (PyObject_TypeCheck(obj, spec_type)) {
        cc_gf_spec *s = ((py_spec *)obj)->spec;
        cc_gf_spec_incref(s);
        return s;
    }
    if (PyUnicode_Check(obj)) {
        const char *name = PyUnicode_AsUTF8(obj);
        cc_gf_spec *s = name ? cc_gf_spec_by_name(name) : NULL;
        if (s == NULL && !PyErr_Occurred()) {
            cc_py_raise();
        }
        return s;
    }
    if (PyObject_HasAttrString(obj, "function") && PyObject_HasAttrString(obj, "get_shape_info")) {
        return spec_from_python(obj, NULL);
    }
    PyErr_Format(PyExc_TypeError,
                 "spec must be a GeneralFunction spec, a function name or an "
                 "object with name, function and get_shape_info, not %.100s",
                 Py_TYPE(obj)->tp_name);
    return NULL;
}

cc_gf_spec *
cc_py_gf_spec_by_path(const char *path)
{
    PyObject *module = PyImport_ImportModule("circuits._gf_path");
    PyObject *obj = module ? PyObject_CallMethod(module, "spec_from_path", "s", path) : NULL;
    Py_XDECREF(module);
    if (obj == NULL) {
        return NULL;
    }
    cc_gf_spec *spec;
    if (PyObject_TypeCheck(obj, spec_type)) {
        spec = ((py_spec *)obj)->spec;
        cc_gf_spec_incref(spec);
    } else {
        spec = spec_from_python(obj, path);
    }
    Py_DECREF(obj);
    return spec;
}

// Builds the node and raises (keeping a pending Python exception) on failure.
static PyObject *
new_gf(int n, cc_node *const *children, cc_gf_spec *spec, const char *name)
{
    cc_node *node = cc_gf_new(n, children, spec, name);
    if (node == NULL && cc_error_kind_get() == CC_E_PYTHON && PyErr_Occurred()) {
        cc_error_clear();
        return NULL;
    }
    return cc_py_wrap_steal(node);
}

// --- the node ----------------------------------------------------------------------------

// Splits *args circuits and a name= keyword; other keywords are taken from kw_names.
static int
circuits_and_name(PyObject *args, PyObject *kwds, const char *extra_kw, PyObject **extra,
                  cc_node ***nodes, Py_ssize_t *n, const char **name)
{
    PyObject *name_obj = kwds ? PyDict_GetItemString(kwds, "name") : NULL;
    *extra = (kwds && extra_kw) ? PyDict_GetItemString(kwds, extra_kw) : NULL;
    Py_ssize_t expected = (name_obj != NULL) + (*extra != NULL);
    if (kwds != NULL && PyDict_Size(kwds) != expected) {
        PyErr_Format(PyExc_TypeError, "unexpected keyword argument (accepted: %s%sname)",
                     extra_kw ? extra_kw : "", extra_kw ? ", " : "");
        return -1;
    }
    if (cc_py_name_arg(name_obj, name) < 0) {
        return -1;
    }
    return cc_py_nodes_from_seq(args, "each input of GeneralFunction", nodes, n);
}

static PyObject *
gf_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    (void)type;
    PyObject *spec_obj;
    cc_node **nodes;
    Py_ssize_t n;
    const char *name;
    if (circuits_and_name(args, kwds, "spec", &spec_obj, &nodes, &n, &name) < 0) {
        return NULL;
    }
    PyObject *out = NULL;
    if (spec_obj == NULL) {
        PyErr_SetString(PyExc_TypeError, "GeneralFunction() needs spec= (keyword)");
    } else {
        cc_gf_spec *spec = spec_arg(spec_obj);
        if (spec != NULL) {
            out = new_gf((int)n, nodes, spec, name);
            cc_gf_spec_decref(spec);
        }
    }
    PyMem_Free(nodes);
    return out;
}

static PyObject *
gf_new_by_name_impl(PyObject *args, PyObject *kwds, int op)
{
    PyObject *spec_name;
    cc_node **nodes;
    Py_ssize_t n;
    const char *name;
    if (circuits_and_name(args, kwds, "spec_name", &spec_name, &nodes, &n, &name) < 0) {
        return NULL;
    }
    PyObject *out = NULL;
    const char *sname = spec_name ? PyUnicode_AsUTF8(spec_name) : NULL;
    if (spec_name == NULL) {
        PyErr_SetString(PyExc_TypeError, "new_by_name() needs spec_name= (keyword)");
    } else if (sname != NULL) {
        cc_gf_spec *spec = cc_gf_spec_by_name(sname);
        if (spec == NULL && op) {
            cc_error_clear();
            out = Py_NewRef(Py_None);
        } else if (spec == NULL) {
            cc_py_raise();
        } else {
            out = new_gf((int)n, nodes, spec, name);
            cc_gf_spec_decref(spec);
        }
    }
    PyMem_Free(nodes);
    return out;
}

static PyObject *
gf_new_by_name(PyObject *cls, PyObject *args, PyObject *kwds)
{
    (void)cls;
    return gf_new_by_name_impl(args, kwds, 0);
}

static PyObject *
gf_new_by_name_op(PyObject *cls, PyObject *args, PyObject *kwds)
{
    (void)cls;
    return gf_new_by_name_impl(args, kwds, 1);
}

static PyObject *
gf_new_by_path(PyObject *cls, PyObject *args, PyObject *kwds)
{
    (void)cls;
    PyObject *path_obj;
    cc_node **nodes;
    Py_ssize_t n;
    const char *name;
    if (circuits_and_name(args, kwds, "path", &path_obj, &nodes, &n, &name) < 0) {
        return NULL;
    }
    PyObject *out = NULL;
    if (path_obj == NULL || !PyUnicode_Check(path_obj)) {
        PyErr_SetString(PyExc_TypeError, "new_by_path() needs path= (keyword, a str)");
    } else {
        const char *path = PyUnicode_AsUTF8(path_obj);
        cc_gf_spec *spec = path != NULL ? cc_py_gf_spec_by_path(path) : NULL;
        if (spec != NULL) {
            out = new_gf((int)n, nodes, spec, name);
            cc_gf_spec_decref(spec);
        }
    }
    PyMem_Free(nodes);
    return out;
}

static PyObject *
gf_gen_index(PyObject *cls, PyObject *args, PyObject *kwds)
{
    (void)cls;
    static char *kwlist[] = {
        "x", "index", "index_dim", "batch_x", "batch_index", "check_index_ints", "name", NULL};
    PyObject *x_obj, *idx_obj, *name_obj = Py_None;
    long long index_dim;
    int batch_x = 0, batch_index = 1, check = 1;
    cc_node *nodes[2];
    const char *name;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOL|pppO:gen_index", kwlist, &x_obj, &idx_obj,
                                     &index_dim, &batch_x, &batch_index, &check, &name_obj) ||
        !cc_py_node_check(x_obj, "x", &nodes[0]) ||
        !cc_py_node_check(idx_obj, "index", &nodes[1]) || cc_py_name_arg(name_obj, &name) < 0) {
        return NULL;
    }
    cc_gf_spec *spec = cc_gf_spec_gen_index(index_dim, batch_x, batch_index, check);
    if (spec == NULL) {
        return cc_py_raise();
    }
    PyObject *out = new_gf(2, nodes, spec, name);
    cc_gf_spec_decref(spec);
    return out;
}

static PyObject *
gf_explicit_index(PyObject *cls, PyObject *args, PyObject *kwds)
{
    (void)cls;
    static char *kwlist[] = {"x",    "index", "index_dim", "x_non_batch_dims", "check_index_ints",
                             "name", NULL};
    PyObject *x_obj, *idx_obj, *name_obj = Py_None;
    long long index_dim, x_non_batch;
    int check = 1;
    cc_node *nodes[2];
    const char *name;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOLL|pO:explicit_index", kwlist, &x_obj, &idx_obj,
                                     &index_dim, &x_non_batch, &check, &name_obj) ||
        !cc_py_node_check(x_obj, "x", &nodes[0]) ||
        !cc_py_node_check(idx_obj, "index", &nodes[1]) || cc_py_name_arg(name_obj, &name) < 0) {
        return NULL;
    }
    cc_gf_spec *spec = cc_gf_spec_explicit_index(index_dim, x_non_batch, check);
    if (spec == NULL) {
        return cc_py_raise();
    }
    PyObject *out = new_gf(2, nodes, spec, name);
    cc_gf_spec_decref(spec);
    return out;
}

static PyObject *
gf_spec_get(PyObject *self, void *closure)
{
    (void)closure;
    return cc_py_gf_spec_wrap(NODE(self)->u.gf.spec);
}

static PyObject *
gf_spec_path_get(PyObject *self, void *closure)
{
    (void)closure;
    const cc_gf_spec *s = NODE(self)->u.gf.spec;
    return s->kind == CC_GF_CALLBACK && s->path != NULL ? PyUnicode_FromString(s->path)
                                                        : Py_NewRef(Py_None);
}

static PyGetSetDef gf_getset[] = {
    {"spec", gf_spec_get, NULL, "The function's spec.", NULL},
    {"_spec_path", gf_spec_path_get, NULL,
     "Where the text format finds a spec written in Python (\"<name> at <path>\"); None for a "
     "built-in spec and for one without a path.",
     NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef gf_methods[] = {
    {"new_by_name", (PyCFunction)(void (*)(void))gf_new_by_name,
     METH_VARARGS | METH_KEYWORDS | METH_CLASS,
     "new_by_name(*nodes, spec_name, name=None): a named function such as 'gelu'."},
    {"new_by_name_op", (PyCFunction)(void (*)(void))gf_new_by_name_op,
     METH_VARARGS | METH_KEYWORDS | METH_CLASS,
     "new_by_name_op(*nodes, spec_name, name=None): as new_by_name, None for unknown names."},
    {"new_by_path", (PyCFunction)(void (*)(void))gf_new_by_path,
     METH_VARARGS | METH_KEYWORDS | METH_CLASS,
     "new_by_path(*nodes, path, name=None): the spec a locator names, 'package.module:Attr' or "
     "'/dir/file.py:Attr' (relative to the rrfs directory): imports the module and calls Attr() "
     "with no arguments. Paths under rust_circuit. load circuits' own modules."},
    {"gen_index", (PyCFunction)(void (*)(void))gf_gen_index,
     METH_VARARGS | METH_KEYWORDS | METH_CLASS,
     "gen_index(x, index, index_dim, batch_x=False, batch_index=True, check_index_ints=True, "
     "name=None): gather x along index_dim by an int64 index circuit."},
    {"explicit_index", (PyCFunction)(void (*)(void))gf_explicit_index,
     METH_VARARGS | METH_KEYWORDS | METH_CLASS,
     "explicit_index(x, index, index_dim, x_non_batch_dims, check_index_ints=True, name=None)"},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot gf_slots[] = {
    {Py_tp_new, gf_new},
    {Py_tp_getset, gf_getset},
    {Py_tp_methods, gf_methods},
    {Py_tp_doc, "GeneralFunction(*circuits, spec, name=None): a function of tensors, named "
                "(rc.relu, rc.softmax, ...) or written in Python."},
    {0, NULL},
};

PyType_Spec cc_py_gf_spec = {
    .name = "circuits.GeneralFunction",
    .basicsize = sizeof(cc_py_node),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = gf_slots,
};

// --- spec objects ------------------------------------------------------------------------

static void
spec_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    cc_gf_spec_decref(((py_spec *)self)->spec);
    PyObject_Free(self);
    Py_DECREF(tp);
}

// circuits.TorchDeviceDtypeOp(device, dtype) of a cast spec's field.
static PyObject *
device_dtype_op(const cc_gf_device_dtype *dd)
{
    char device[16];
    if (dd->device >= CC_GF_DEVICE_CUDA0) {
        snprintf(device, sizeof device, "cuda:%d", dd->device - CC_GF_DEVICE_CUDA0);
    } else {
        snprintf(device, sizeof device, "cpu");
    }
    PyObject *module = PyImport_ImportModule("circuits");
    PyObject *cls = module ? PyObject_GetAttrString(module, "TorchDeviceDtypeOp") : NULL;
    Py_XDECREF(module);
    if (cls == NULL) {
        return NULL;
    }
    PyObject *dev =
        dd->device == CC_GF_DEVICE_NONE ? Py_NewRef(Py_None) : PyUnicode_FromString(device);
    PyObject *dtype = dd->dtype < 0 ? Py_NewRef(Py_None)
                                    : PyUnicode_FromString(cc_dtype_name((cc_dtype)dd->dtype));
    PyObject *out = dev && dtype ? PyObject_CallFunctionObjArgs(cls, dev, dtype, NULL) : NULL;
    Py_XDECREF(dev);
    Py_XDECREF(dtype);
    Py_DECREF(cls);
    return out;
}

static PyObject *
spec_attr(PyObject *self, void *closure)
{
    const cc_gf_spec *s = ((py_spec *)self)->spec;
    const char *which = closure;
    if (strcmp(which, "name") == 0) {
        return PyUnicode_FromString(s->name);
    }
    if (s->kind == CC_GF_SIMPLE) {
        const cc_gf_simple_info *info = cc_gf_simple_get_info(s->simple_id);
        if (strcmp(which, "num_non_batchable_output_dims") == 0) {
            return PyLong_FromLong(info->num_non_batchable_output_dims);
        }
        if (strcmp(which, "removed_from_end") == 0) {
            return PyLong_FromLong(info->removed_from_end);
        }
        if (strcmp(which, "promote_int_to_f32") == 0) {
            return PyBool_FromLong(info->promote_int_to_f32);
        }
    }
    if (s->kind == CC_GF_GEN_INDEX || s->kind == CC_GF_EXPLICIT_INDEX) {
        if (strcmp(which, "index_dim") == 0) {
            return PyLong_FromLongLong(s->index_dim);
        }
        if (strcmp(which, "check_index_ints") == 0) {
            return PyBool_FromLong(s->check_index_ints);
        }
    }
    if (s->kind == CC_GF_GEN_INDEX) {
        if (strcmp(which, "batch_x") == 0) {
            return PyBool_FromLong(s->batch_x);
        }
        if (strcmp(which, "batch_index") == 0) {
            return PyBool_FromLong(s->batch_index);
        }
    }
    if (s->kind == CC_GF_MULTINOMIAL && strcmp(which, "replacement") == 0) {
        return PyBool_FromLong(s->replacement);
    }
    if (s->kind == CC_GF_MULTINOMIAL && strcmp(which, "shape") == 0) {
        return cc_py_shape_tuple(s->n_sample_dims, s->sample_shape);
    }
    if (s->kind == CC_GF_EXPLICIT_INDEX && strcmp(which, "x_non_batch_dims") == 0) {
        return PyLong_FromLongLong(s->x_non_batch_dims);
    }
    if (s->kind == CC_GF_CAST && strcmp(which, "input_required_compatibility") == 0) {
        return device_dtype_op(&s->cast_in);
    }
    if (s->kind == CC_GF_CAST && strcmp(which, "output") == 0) {
        return device_dtype_op(&s->cast_out);
    }
    PyErr_Format(PyExc_AttributeError, "spec '%s' has no attribute '%s'", s->name, which);
    return NULL;
}

static PyObject *
spec_repr(PyObject *self)
{
    return PyUnicode_FromFormat("GeneralFunctionSpec('%s')", ((py_spec *)self)->spec->name);
}

static PyObject *
spec_richcompare(PyObject *self, PyObject *other, int op)
{
    if (!PyObject_TypeCheck(other, spec_type) || (op != Py_EQ && op != Py_NE)) {
        Py_RETURN_NOTIMPLEMENTED;
    }
    int eq = memcmp(((py_spec *)self)->spec->hash, ((py_spec *)other)->spec->hash, 32) == 0;
    return PyBool_FromLong(op == Py_EQ ? eq : !eq);
}

static Py_hash_t
spec_hash(PyObject *self)
{
    Py_hash_t h;
    memcpy(&h, ((py_spec *)self)->spec->hash, sizeof h);
    return h == -1 ? -2 : h;
}

static PyGetSetDef spec_getset[] = {
    {"name", spec_attr, NULL, "The function's serialised name.", "name"},
    {"num_non_batchable_output_dims", spec_attr, NULL,
     "Trailing output axes that are not batch "
     "axes (named functions).",
     "num_non_batchable_output_dims"},
    {"removed_from_end", spec_attr, NULL, "Input axes removed from the end (named functions).",
     "removed_from_end"},
    {"promote_int_to_f32", spec_attr, NULL,
     "An integer or bool input makes a float32 node (named functions).", "promote_int_to_f32"},
    {"index_dim", spec_attr, NULL, "Gathered axis (index functions).", "index_dim"},
    {"batch_x", spec_attr, NULL, "gen_index: x is batched.", "batch_x"},
    {"batch_index", spec_attr, NULL, "gen_index: index is batched.", "batch_index"},
    {"x_non_batch_dims", spec_attr, NULL, "explicit_index: x's non-batch axes.",
     "x_non_batch_dims"},
    {"check_index_ints", spec_attr, NULL, "Index values are checked at evaluation.",
     "check_index_ints"},
    {"replacement", spec_attr, NULL, "multinomial: draws are put back.", "replacement"},
    {"shape", spec_attr, NULL, "multinomial: the sample shape.", "shape"},
    {"input_required_compatibility", spec_attr, NULL,
     "cast: the TorchDeviceDtypeOp the input must be compatible with.",
     "input_required_compatibility"},
    {"output", spec_attr, NULL, "cast: the TorchDeviceDtypeOp the output is set to.", "output"},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot spec_slots[] = {
    {Py_tp_dealloc, spec_dealloc},
    {Py_tp_repr, spec_repr},
    {Py_tp_richcompare, spec_richcompare},
    {Py_tp_hash, spec_hash},
    {Py_tp_getset, spec_getset},
    {Py_tp_doc, "The spec of a built-in GeneralFunction (named, index, pow or cast)."},
    {0, NULL},
};

static PyType_Spec spec_spec = {
    .name = "circuits.GeneralFunctionSpec",
    .basicsize = sizeof(py_spec),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = spec_slots,
};

// --- module functions --------------------------------------------------------------------

// circuits.<name>(circuit, name=None) for each row of gf.def; self is the row's id.
static PyObject *
named_function(PyObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"circuit", "name", NULL};
    PyObject *c_obj, *name_obj = Py_None;
    cc_node *child;
    const char *name;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|O", kwlist, &c_obj, &name_obj) ||
        !cc_py_node_check(c_obj, "circuit", &child) || cc_py_name_arg(name_obj, &name) < 0) {
        return NULL;
    }
    long id = PyLong_AsLong(self);
    if (id == -1 && PyErr_Occurred()) {
        return NULL;
    }
    cc_gf_spec *spec = cc_gf_spec_simple((cc_gf_id)id);
    if (spec == NULL) {
        return cc_py_raise();
    }
    PyObject *out = new_gf(1, &child, spec, name);
    cc_gf_spec_decref(spec);
    return out;
}

static PyMethodDef named_defs[] = {
#define CC_GF(fname, impl, nb, rm, promote)                                                        \
    {#fname, (PyCFunction)(void (*)(void))named_function, METH_VARARGS | METH_KEYWORDS,            \
     #fname "(circuit, name=None) -> GeneralFunction"},
#include "nodes/gf.def"
#undef CC_GF
};

static PyObject *
pow_function(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    static char *kwlist[] = {"base", "exponent", "name", NULL};
    PyObject *b_obj, *e_obj, *name_obj = Py_None;
    cc_node *nodes[2];
    const char *name;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO|O:pow", kwlist, &b_obj, &e_obj, &name_obj) ||
        !cc_py_node_check(b_obj, "base", &nodes[0]) ||
        !cc_py_node_check(e_obj, "exponent", &nodes[1]) || cc_py_name_arg(name_obj, &name) < 0) {
        return NULL;
    }
    cc_gf_spec *spec = cc_gf_spec_pow();
    if (spec == NULL) {
        return cc_py_raise();
    }
    PyObject *out = new_gf(2, nodes, spec, name);
    cc_gf_spec_decref(spec);
    return out;
}

static PyObject *
multinomial_function(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    static char *kwlist[] = {"probs", "seed", "shape", "replacement", "name", NULL};
    PyObject *p_obj, *s_obj, *shape_obj, *name_obj = Py_None;
    int replacement = 1;
    cc_node *nodes[2];
    const char *name;
    int ndim;
    int64_t shape[CC_MAX_NDIM];
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOO|pO:multinomial", kwlist, &p_obj, &s_obj,
                                     &shape_obj, &replacement, &name_obj) ||
        !cc_py_node_check(p_obj, "probs", &nodes[0]) ||
        !cc_py_node_check(s_obj, "seed", &nodes[1]) ||
        cc_py_shape_arg(shape_obj, &ndim, shape) < 0 || cc_py_name_arg(name_obj, &name) < 0) {
        return NULL;
    }
    cc_gf_spec *spec = cc_gf_spec_multinomial(replacement, ndim, shape);
    if (spec == NULL) {
        return cc_py_raise();
    }
    PyObject *out = new_gf(2, nodes, spec, name);
    cc_gf_spec_decref(spec);
    return out;
}

PyMethodDef cc_py_gf_module_methods[] = {
    {"multinomial", (PyCFunction)(void (*)(void))multinomial_function, METH_VARARGS | METH_KEYWORDS,
     "multinomial(probs, seed, shape, replacement=True, name=None): int64 indices drawn from "
     "probs' last axis, seeded by the 0-d int64 circuit seed."},
    {"pow", (PyCFunction)(void (*)(void))pow_function, METH_VARARGS | METH_KEYWORDS,
     "pow(base, exponent, name=None): broadcasting base ** exponent."},
    {NULL, NULL, 0, NULL},
};

int
cc_py_gf_init(PyObject *module)
{
    spec_type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &spec_spec, NULL);
    if (spec_type == NULL ||
        PyModule_AddObjectRef(module, "GeneralFunctionSpec", (PyObject *)spec_type) < 0) {
        return -1;
    }
    PyObject *module_name = PyUnicode_FromString("circuits");
    if (module_name == NULL) {
        return -1;
    }
    for (int i = 0; i < CC_GF_ID_COUNT; i++) {
        PyObject *id = PyLong_FromLong(i);
        PyObject *f = id ? PyCFunction_NewEx(&named_defs[i], id, module_name) : NULL;
        Py_XDECREF(id);
        if (f == NULL || PyModule_AddObject(module, named_defs[i].ml_name, f) < 0) {
            Py_XDECREF(f);
            Py_DECREF(module_name);
            return -1;
        }
    }
    Py_DECREF(module_name);
    return 0;
}
