// The circuits._circuits extension module: creates the exception classes, the
// node types, and registers the module functions. Only init is exported.
#include "python/bindings.h"
#include "eval/backend.h"
#include "python/py_hashing.h"
#include "python/py_match.h"
#include "tensor/blas.h"

static PyObject *
blas_config(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    return PyUnicode_FromString(cc_blas_config());
}

static PyObject *
blas_threads(PyObject *self, PyObject *args)
{
    (void)self;
    int n = -1;
    if (!PyArg_ParseTuple(args, "|i:blas_threads", &n)) {
        return NULL;
    }
    int previous = cc_blas_get_num_threads();
    if (n > 0) {
        cc_blas_set_num_threads(n);
    }
    return PyLong_FromLong(previous);
}

static PyMethodDef core_methods[] = {
    {"blas_config", blas_config, METH_NOARGS, "The BLAS library the engine links."},
    {"blas_threads", blas_threads, METH_VARARGS,
     "blas_threads(n=None) -> previous count; sets BLAS's thread count when n is given."},
    {NULL, NULL, 0, NULL},
};

// The core's functions for the extensions that register a backend (circuits._circuits_cuda):
// the core exports no symbols, so they find them through this capsule.
static int
add_backend_api(PyObject *m)
{
    // A NULL capsule makes PyModule_AddObjectRef fail with PyCapsule_New's exception.
    PyObject *capsule = PyCapsule_New((void *)cc_backend_api_get(), CC_BACKEND_API_CAPSULE, NULL);
    int rc = PyModule_AddObjectRef(m, "_backend_api", capsule);
    Py_XDECREF(capsule);
    return rc;
}

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "circuits._circuits",
    .m_doc = "The C engine of circuits.",
    .m_size = -1,
};

PyMODINIT_FUNC
PyInit__circuits(void)
{
    PyObject *m = PyModule_Create(&module_def);
    if (m == NULL) {
        return NULL;
    }
    if (cc_py_errors_init(m) < 0 || cc_py_convert_init(m) < 0 || cc_py_node_init(m) < 0 ||
        cc_py_kinds_init(m) < 0 || cc_py_rearrange_spec_init(m) < 0 || cc_py_gf_init(m) < 0 ||
        cc_py_module_init(m) < 0 || cc_py_module_rewrite_init(m) < 0 || cc_py_match_init(m) < 0 ||
        cc_py_getter_init(m) < 0 || cc_py_module_pusher_init(m) < 0 || cc_py_simp_init(m) < 0 ||
        cc_py_expander_init(m) < 0 || cc_py_scatter_rewrite_init(m) < 0 ||
        PyModule_AddFunctions(m, core_methods) < 0 ||
        PyModule_AddFunctions(m, cc_py_eval_methods) < 0 ||
        PyModule_AddFunctions(m, cc_py_rewrite_methods) < 0 ||
        PyModule_AddFunctions(m, cc_py_gf_module_methods) < 0 ||
        PyModule_AddFunctions(m, cc_py_print_methods) < 0 ||
        PyModule_AddFunctions(m, cc_py_named_axes_methods) < 0 ||
        cc_py_rewrite_catalogue_b_init(m) < 0 ||
        PyModule_AddFunctions(m, cc_py_sampler_methods) < 0 ||
        PyModule_AddFunctions(m, cc_py_parse_methods) < 0 ||
        PyModule_AddFunctions(m, cc_py_hashing_methods) < 0 ||
        PyModule_AddFunctions(m, cc_py_surface_methods) < 0 ||
        PyModule_AddFunctions(m, cc_py_rewrite_catalogue_a_methods) < 0 || add_backend_api(m) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
