// The CUDA backend, the extension circuits._circuits_cuda: on import it registers one
// cc_backend per visible GPU with the core, through the capsule
// circuits._circuits._backend_api, with the kernels of kernels.cu and the caching allocator
// of alloc.cu, and offers the pool's statistics and the TF32 switch.
// Without a GPU or a driver it registers nothing and says why in its module attributes.
#include <Python.h>

#include "cuda/device.cuh"
#include "cuda/kernels.cuh"

const cc_backend_api *cc_cuda_core = NULL;

static cc_backend backends[CC_BACKEND_MAX_DEVICES];
static cc_cuda_device devices[CC_BACKEND_MAX_DEVICES];
static int n_devices = 0;

static void *
cuda_alloc(const cc_backend *b, size_t nbytes)
{
    cc_cuda_enter enter(cc_cuda_state(b));
    CC_CUDA_TRY(enter.err);
    return cc_cuda_pool_alloc(cc_cuda_state(b), nbytes);
fail:
    return NULL;
}

static void
cuda_free(const cc_backend *b, void *data)
{
    cc_cuda_pool_free(cc_cuda_state(b), data);
}

// Copies wait for the stream: the host side reads or reuses its memory right after.
static int
cuda_copy_to_host(const cc_backend *b, void *dst, const void *src, size_t nbytes)
{
    cc_cuda_device *d = cc_cuda_state(b);
    cc_cuda_enter enter(d);
    CC_CUDA_TRY(enter.err);
    CC_CUDA_TRY(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyDeviceToHost, d->stream));
    CC_CUDA_TRY(cudaStreamSynchronize(d->stream));
    return 0;
fail:
    return -1;
}

static int
cuda_copy_from_host(const cc_backend *b, void *dst, const void *src, size_t nbytes)
{
    cc_cuda_device *d = cc_cuda_state(b);
    cc_cuda_enter enter(d);
    CC_CUDA_TRY(enter.err);
    CC_CUDA_TRY(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyHostToDevice, d->stream));
    CC_CUDA_TRY(cudaStreamSynchronize(d->stream));
    return 0;
fail:
    return -1;
}

static int
cuda_synchronize(const cc_backend *b)
{
    cc_cuda_device *d = cc_cuda_state(b);
    cc_cuda_enter enter(d);
    CC_CUDA_TRY(enter.err);
    CC_CUDA_TRY(cudaStreamSynchronize(d->stream));
    return 0;
fail:
    return -1;
}

// Registers a backend per GPU; returns how many GPUs there are, 0 with *why set when the
// runtime finds none (no driver, no device), or -1 with a Python exception.
static int
register_devices(const char **why)
{
    int count = 0;
    cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess) {
        *why = cudaGetErrorString(err);
        return 0;
    }
    if (count == 0) {
        *why = "no CUDA device";
        return 0;
    }
    if (count > CC_BACKEND_MAX_DEVICES) {
        count = CC_BACKEND_MAX_DEVICES;
    }
    for (int i = 0; i < count; i++) {
        cc_backend *b = &backends[i];
        b->name = "cuda";
        b->device = CC_DEVICE_CUDA;
        b->device_index = i;
        devices[i].index = i;
        b->state = &devices[i];
        b->alloc = cuda_alloc;
        b->free = cuda_free;
        b->copy_to_host = cuda_copy_to_host;
        b->copy_from_host = cuda_copy_from_host;
        b->synchronize = cuda_synchronize;
        cc_cuda_install_kernels(b);
        if (cc_cuda_core->backend_register(b) < 0) {
            PyErr_SetString(PyExc_RuntimeError,
                            "circuits._circuits_cuda: registering a backend failed");
            return -1;
        }
    }
    n_devices = count;
    return count;
}

// The device argument of the module's functions: an index of a registered GPU.
static cc_cuda_device *
device_arg(PyObject *args)
{
    int index = 0;
    if (!PyArg_ParseTuple(args, "|i", &index)) {
        return NULL;
    }
    if (index < 0 || index >= n_devices) {
        PyErr_Format(PyExc_ValueError, "no CUDA backend for device %d (%d registered)", index,
                     n_devices);
        return NULL;
    }
    return &devices[index];
}

static PyObject *
pool_stats(PyObject *self, PyObject *args)
{
    (void)self;
    cc_cuda_device *d = device_arg(args);
    if (d == NULL) {
        return NULL;
    }
    cc_cuda_pool_stats s;
    cc_cuda_pool_get_stats(d, &s);
    return Py_BuildValue("{s:L,s:L,s:L,s:L,s:L,s:L,s:L}", "requests", s.requests, "cache_hits",
                         s.cache_hits, "device_allocs", s.device_allocs, "device_frees",
                         s.device_frees, "bytes_in_use", s.bytes_in_use, "bytes_cached",
                         s.bytes_cached, "peak_bytes_in_use", s.peak_bytes_in_use);
}

static PyObject *
empty_cache(PyObject *self, PyObject *args)
{
    (void)self;
    cc_cuda_device *d = device_arg(args);
    if (d == NULL) {
        return NULL;
    }
    cc_cuda_array_cache_clear(d->index);
    cc_cuda_enter enter(d);
    if (enter.err != cudaSuccess) {
        PyErr_Format(PyExc_RuntimeError, "empty_cache: %s", cudaGetErrorString(enter.err));
        return NULL;
    }
    if (cc_cuda_pool_empty(d) < 0) {
        PyErr_SetString(PyExc_RuntimeError, "empty_cache: synchronising the device failed");
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
set_allow_tf32(PyObject *self, PyObject *arg)
{
    (void)self;
    int allow = PyObject_IsTrue(arg);
    if (allow < 0) {
        return NULL;
    }
    cc_cuda_allow_tf32 = allow;
    Py_RETURN_NONE;
}

static PyObject *
cublas_error(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    const char *why = cc_cuda_cublas_error();
    return why != NULL ? PyUnicode_FromString(why) : Py_NewRef(Py_None);
}

static PyObject *
set_array_cache(PyObject *self, PyObject *arg)
{
    (void)self;
    int on = PyObject_IsTrue(arg);
    if (on < 0) {
        return NULL;
    }
    cc_cuda_array_cache_on = on;
    if (!on) {
        for (int i = 0; i < n_devices; i++) {
            cc_cuda_array_cache_clear(i);
        }
    }
    Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
    {"set_array_cache", set_array_cache, METH_O,
     "set_array_cache(flag): keep host Arrays on the GPU after their first upload, for later "
     "evaluations (off by default; a cached host tensor must not be written to). Turning it "
     "off, or empty_cache(device), drops the cached copies."},
    {"cublas_error", cublas_error, METH_NOARGS,
     "cublas_error(): None when cuBLAS is loaded (it is opened on this call or the first "
     "contraction), else why einsum contractions cannot run."},
    {"pool_stats", pool_stats, METH_VARARGS,
     "pool_stats(device=0): the caching allocator's counters for cuda:<device>, a dict of "
     "requests, cache_hits, device_allocs, device_frees, bytes_in_use, bytes_cached, "
     "peak_bytes_in_use."},
    {"empty_cache", empty_cache, METH_VARARGS,
     "empty_cache(device=0): drops cuda:<device>'s cached Arrays, waits for it and returns "
     "its cached blocks to the driver."},
    {"set_allow_tf32", set_allow_tf32, METH_O,
     "set_allow_tf32(flag): float32 GEMMs may use TF32 tensor cores (off by default)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    "circuits._circuits_cuda",
    "The CUDA evaluation backend of circuits: registers one backend per GPU on import.",
    -1,
    module_methods,
    NULL,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC
PyInit__circuits_cuda(void)
{
    cc_cuda_core = (const cc_backend_api *)PyCapsule_Import(CC_BACKEND_API_CAPSULE, 0);
    if (cc_cuda_core == NULL) {
        return NULL;
    }
    if (cc_cuda_core->version != CC_BACKEND_API_VERSION ||
        cc_cuda_core->backend_size != sizeof(cc_backend)) {
        PyErr_SetString(PyExc_ImportError,
                        "circuits._circuits_cuda was built for another circuits._circuits");
        return NULL;
    }
    const char *why = NULL;
    int count = register_devices(&why);
    if (count < 0) {
        return NULL;
    }
    PyObject *m = PyModule_Create(&module_def);
    if (m == NULL) {
        return NULL;
    }
    PyObject *reason = why != NULL ? PyUnicode_FromString(why) : Py_NewRef(Py_None);
    if (PyModule_AddIntConstant(m, "device_count", count) < 0 ||
        PyModule_AddIntConstant(m, "has_cublas", cc_cuda_has_cublas) < 0 ||
        PyModule_AddObjectRef(m, "no_device_reason", reason) < 0) {
        Py_XDECREF(reason);
        Py_DECREF(m);
        return NULL;
    }
    Py_DECREF(reason);
    return m;
}
