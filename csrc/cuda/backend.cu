// The CUDA backend, the extension circuits._circuits_cuda: on import it registers one
// cc_backend per visible GPU with the core, through the capsule
// circuits._circuits._backend_api. It has no kernels yet, so supports() refuses every node.
// Without a GPU or a driver it registers nothing and says why in its module attributes.
#include <Python.h>

#include "cuda/check.cuh"

const cc_backend_api *cc_cuda_core = NULL;

static cc_backend backends[CC_BACKEND_MAX_DEVICES];

// Makes a GPU current for the guard's lifetime and then restores the caller's, so that
// evaluation leaves torch's current device as it found it.
struct device_guard {
    int previous = -1;
    cudaError_t err = cudaSuccess;
    explicit device_guard(int index)
    {
        err = cudaGetDevice(&previous);
        if (err == cudaSuccess && previous != index) {
            err = cudaSetDevice(index);
        }
    }
    ~device_guard()
    {
        if (err == cudaSuccess && previous >= 0) {
            cudaSetDevice(previous);
        }
    }
};

static void *
cuda_alloc(const cc_backend *b, size_t nbytes)
{
    void *data = NULL;
    device_guard guard(b->device_index);
    CC_CUDA_TRY(guard.err);
    CC_CUDA_TRY(cudaMalloc(&data, nbytes > 0 ? nbytes : 1));
    return data;
fail:
    return NULL;
}

// cudaFree also reports errors of earlier asynchronous work; the next checked call sees them.
static void
cuda_free(const cc_backend *b, void *data)
{
    device_guard guard(b->device_index);
    cudaFree(data);
}

static int
cuda_copy_to_host(const cc_backend *b, void *dst, const void *src, size_t nbytes)
{
    device_guard guard(b->device_index);
    CC_CUDA_TRY(guard.err);
    CC_CUDA_TRY(cudaMemcpy(dst, src, nbytes, cudaMemcpyDeviceToHost));
    return 0;
fail:
    return -1;
}

static int
cuda_copy_from_host(const cc_backend *b, void *dst, const void *src, size_t nbytes)
{
    device_guard guard(b->device_index);
    CC_CUDA_TRY(guard.err);
    CC_CUDA_TRY(cudaMemcpy(dst, src, nbytes, cudaMemcpyHostToDevice));
    return 0;
fail:
    return -1;
}

static int
cuda_synchronize(const cc_backend *b)
{
    device_guard guard(b->device_index);
    CC_CUDA_TRY(guard.err);
    CC_CUDA_TRY(cudaDeviceSynchronize());
    return 0;
fail:
    return -1;
}

static int
cuda_supports(const cc_backend *b, const cc_node *n)
{
    (void)b;
    (void)n;
    return 0;
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
        b->state = NULL;
        b->alloc = cuda_alloc;
        b->free = cuda_free;
        b->copy_to_host = cuda_copy_to_host;
        b->copy_from_host = cuda_copy_from_host;
        b->synchronize = cuda_synchronize;
        b->supports = cuda_supports;
        if (cc_cuda_core->backend_register(b) < 0) {
            PyErr_SetString(PyExc_RuntimeError,
                            "circuits._circuits_cuda: registering a backend failed");
            return -1;
        }
    }
    return count;
}

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    "circuits._circuits_cuda",
    "The CUDA evaluation backend of circuits: registers one backend per GPU on import.",
    -1,
    NULL,
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
        PyModule_AddObjectRef(m, "no_device_reason", reason) < 0) {
        Py_XDECREF(reason);
        Py_DECREF(m);
        return NULL;
    }
    Py_DECREF(reason);
    return m;
}
