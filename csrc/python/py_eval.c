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

// A bound in bytes from a Python int; None is no bound.
static int
bytes_arg(PyObject *obj, const char *what, int64_t *out)
{
    *out = 0;
    if (obj == NULL || obj == Py_None) {
        return 0;
    }
    long long v = PyLong_AsLongLong(obj);
    if (v == -1 && PyErr_Occurred()) {
        return -1;
    }
    if (v <= 0) {
        PyErr_Format(PyExc_ValueError, "%s must be a positive number of bytes, not %lld", what, v);
        return -1;
    }
    *out = (int64_t)v;
    return 0;
}

static PyObject *
stats_dict(const cc_eval_stats *st)
{
    return Py_BuildValue("{sLsLsLsLsLsL}", "n_nodes_computed", (long long)st->n_nodes_computed,
                         "peak_bytes", (long long)st->peak_bytes, "measured_peak_bytes",
                         (long long)st->measured_peak_bytes, "batch_size",
                         (long long)st->batch_size, "chunk_size", (long long)st->chunk_size,
                         "n_chunks", (long long)st->n_chunks);
}

// progress(done, total) after each step; its exception stops the run.
static int
report_progress(PyObject *progress, int64_t done, int64_t total)
{
    if (progress == NULL || progress == Py_None) {
        return 0;
    }
    PyObject *r = PyObject_CallFunction(progress, "LL", (long long)done, (long long)total);
    Py_XDECREF(r);
    return r == NULL ? -1 : 0;
}

// Runs every step of c, the GIL released around each step's kernels.
static int
run_steps(cc_chunked_eval *c, cc_device device, PyObject *progress)
{
    int64_t total = cc_chunked_eval_n_steps(c);
    for (int64_t i = 0; i < total; i++) {
        if (cc_chunked_eval_prepare_step(c, i) < 0) {
            return cc_py_raise_int();
        }
        int rc;
        Py_BEGIN_ALLOW_THREADS rc = cc_chunked_eval_run_step(c, device);
        Py_END_ALLOW_THREADS if (rc < 0)
        {
            return cc_py_raise_int();
        }
        if (report_progress(progress, i + 1, total) < 0) {
            return -1;
        }
    }
    return 0;
}

static PyObject *
evaluate_bounded(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    static char *kwlist[] = {"circuits", "device", "max_memory", "max_single_tensor_memory",
                             "progress", NULL};
    PyObject *seq;
    PyObject *device_obj = NULL;
    PyObject *max_memory = NULL;
    PyObject *max_single = NULL;
    PyObject *progress = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|OOOO:_evaluate_bounded", kwlist, &seq,
                                     &device_obj, &max_memory, &max_single, &progress)) {
        return NULL;
    }
    cc_device device = {CC_DEVICE_CPU, 0};
    if (device_obj != NULL && device_obj != Py_None && parse_device(device_obj, &device) < 0) {
        return NULL;
    }
    cc_eval_limits lim;
    if (bytes_arg(max_memory, "max_memory", &lim.max_memory) < 0 ||
        bytes_arg(max_single, "max_single_tensor_memory", &lim.max_single_tensor_memory) < 0) {
        return NULL;
    }
    if (progress != NULL && progress != Py_None && !PyCallable_Check(progress)) {
        PyErr_Format(PyExc_TypeError, "progress must be callable or None, not %.100s",
                     Py_TYPE(progress)->tp_name);
        return NULL;
    }
    if (cc_backend_get(device) == NULL) {
        return cc_py_raise();
    }
    cc_node **roots;
    Py_ssize_t n;
    if (cc_py_nodes_from_seq(seq, "each item of circuits", &roots, &n) < 0) {
        return NULL;
    }
    PyObject *out = NULL;
    cc_chunked_eval *c = NULL;
    cc_eval_stats stats;
    cc_tensor *results = PyMem_Calloc((size_t)(n ? n : 1), sizeof(cc_tensor));
    cc_node **prepared = PyMem_Calloc((size_t)(n ? n : 1), sizeof(cc_node *));
    if (results == NULL || prepared == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    if (cc_eval_prepare((int)n, roots, prepared) < 0) {
        cc_py_raise();
        goto done;
    }
    c = cc_chunked_eval_new((int)n, prepared, &lim);
    if (c == NULL) {
        cc_py_raise();
        goto done;
    }
    if (run_steps(c, device, progress) < 0) {
        goto done;
    }
    cc_chunked_eval_finish(c, results, &stats);
    PyObject *list = PyList_New(n);
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
    if (list != NULL) {
        PyObject *d = stats_dict(&stats);
        out = d != NULL ? PyTuple_Pack(2, list, d) : NULL;
        Py_XDECREF(d);
        Py_DECREF(list);
    }
done:
    cc_chunked_eval_free(c);
    if (prepared != NULL) {
        cc_eval_prepared_clear((int)n, prepared);
    }
    PyMem_Free(prepared);
    PyMem_Free(results);
    PyMem_Free(roots);
    return out;
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
    {"_evaluate_bounded", (PyCFunction)(void (*)(void))evaluate_bounded,
     METH_VARARGS | METH_KEYWORDS,
     "_evaluate_bounded(circuits, device=\"cpu\", max_memory=None, "
     "max_single_tensor_memory=None, progress=None) -> (values, stats): evaluate_many within "
     "the memory bounds (bytes), splitting the outputs' leading axis into chunks when the plan "
     "would pass them; progress(done, total) is called after each step; stats is a dict "
     "(n_nodes_computed, peak_bytes, measured_peak_bytes, batch_size, chunk_size, n_chunks)."},
    {"_backends", backends, METH_NOARGS,
     "_backends() -> [(device, name)]: the registered evaluation backends."},
    {NULL, NULL, 0, NULL},
};
