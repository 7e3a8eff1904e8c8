// Evaluation entry point: one plan for several circuits, prepared with the GIL held and run
// with it released on the requested device; results come back as the result type (torch
// tensors when torch is installed, else numpy arrays).
#include "python/bindings.h"
#include "eval/eval.h"
#include "util/error.h"

// "cpu", "cuda" (device 0) or "cuda:<n>"; any object is read through str(), so a torch.device
// works too.
static int
parse_device(PyObject *obj, cc_device *out)
{
    PyObject *str = PyObject_Str(obj);
    if (str == NULL) {
        return -1;
    }
    const char *s = PyUnicode_AsUTF8(str);
    int rc = -1;
    if (s == NULL) {
        goto done;
    }
    if (strcmp(s, "cpu") == 0) {
        *out = (cc_device){CC_DEVICE_CPU, 0};
        rc = 0;
    } else if (strcmp(s, "cuda") == 0) {
        *out = (cc_device){CC_DEVICE_CUDA, 0};
        rc = 0;
    } else if (strncmp(s, "cuda:", 5) == 0 && s[5] >= '0' && s[5] <= '9') {
        char *end;
        long index = strtol(s + 5, &end, 10);
        if (*end == '\0' && index < CC_BACKEND_MAX_DEVICES) {
            *out = (cc_device){CC_DEVICE_CUDA, (int)index};
            rc = 0;
        }
    }
    if (rc < 0) {
        PyErr_Format(PyExc_ValueError,
                     "invalid device %R: expected \"cpu\", \"cuda\" or \"cuda:<0..%d>\"", str,
                     CC_BACKEND_MAX_DEVICES - 1);
    }
done:
    Py_DECREF(str);
    return rc;
}

static PyObject *
evaluate_many(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    static char *kwlist[] = {"circuits", "device", NULL};
    PyObject *seq;
    PyObject *device_obj = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|O:evaluate_many", kwlist, &seq, &device_obj)) {
        return NULL;
    }
    cc_device device = {CC_DEVICE_CPU, 0};
    if (device_obj != NULL && device_obj != Py_None && parse_device(device_obj, &device) < 0) {
        return NULL;
    }
    cc_node **roots;
    Py_ssize_t n;
    if (cc_py_nodes_from_seq(seq, "each item of circuits", &roots, &n) < 0) {
        return NULL;
    }
    PyObject *list = NULL;
    cc_tensor *results = PyMem_Calloc((size_t)(n ? n : 1), sizeof(cc_tensor));
    cc_node **prepared = PyMem_Calloc((size_t)(n ? n : 1), sizeof(cc_node *));
    if (results == NULL || prepared == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    // The prepare phase changes node refcounts, so it runs before the GIL is released.
    if (cc_eval_prepare((int)n, roots, prepared) < 0) {
        cc_py_raise();
        goto done;
    }
    int rc;
    Py_BEGIN_ALLOW_THREADS rc = cc_eval_run((int)n, prepared, device, results, NULL);
    Py_END_ALLOW_THREADS if (rc < 0)
    {
        cc_py_raise();
        goto done;
    }
    list = PyList_New(n);
    for (Py_ssize_t i = 0; list != NULL && i < n; i++) {
        PyObject *value = cc_py_tensor_to_value(&results[i]);
        if (value == NULL) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, i, value);
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        cc_tensor_clear(&results[i]);
    }
done:
    if (prepared != NULL) {
        cc_eval_prepared_clear((int)n, prepared);
    }
    PyMem_Free(prepared);
    PyMem_Free(results);
    PyMem_Free(roots);
    return list;
}

// [(device, backend name)] of every registered backend, CPU first.
static PyObject *
backends(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    const cc_backend *all[CC_DEVICE_KIND_COUNT * CC_BACKEND_MAX_DEVICES];
    int n = cc_backend_list(all, (int)(sizeof all / sizeof all[0]));
    PyObject *list = PyList_New(n);
    for (int i = 0; list != NULL && i < n; i++) {
        char device[64];
        cc_device_describe((cc_device){all[i]->device, all[i]->device_index}, device,
                           sizeof device);
        PyObject *item = Py_BuildValue("(ss)", device, all[i]->name);
        if (item == NULL) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, i, item);
    }
    return list;
}

PyMethodDef cc_py_eval_methods[] = {
    {"evaluate_many", (PyCFunction)(void (*)(void))evaluate_many, METH_VARARGS | METH_KEYWORDS,
     "evaluate_many(circuits, device=\"cpu\") -> list of tensors (torch, or numpy without "
     "torch or after set_result_type(\"numpy\")): evaluates every circuit with one plan, each "
     "distinct subcircuit once, on the device's backend (\"cpu\", \"cuda:<n>\")."},
    {"_backends", backends, METH_NOARGS,
     "_backends() -> [(device, name)]: the registered evaluation backends."},
    {NULL, NULL, 0, NULL},
};
