// numpy / torch / DLPack / buffer-protocol objects <-> cc_tensor, and the type values go back
// to Python as. Input memory is borrowed zero-copy (the buffer keeps the Python exporter alive);
// results are exported through the _Tensor type's buffer protocol and DLPack, so numpy and
// torch view them without a copy.
#include "python/bindings.h"

#include <string.h>

#include "tensor/tensor_hash.h"
#include "util/alloc.h"
#include "util/error.h"

PyTypeObject *cc_py_tensor_type;
static PyObject *numpy_module;

typedef struct {
    PyObject_HEAD cc_tensor t;
    Py_ssize_t shape[CC_MAX_NDIM];
    Py_ssize_t strides[CC_MAX_NDIM]; // bytes
} py_tensor;

// --- input -------------------------------------------------------------------------------

static void
release_py_buffer(void *owner)
{
    PyGILState_STATE g = PyGILState_Ensure();
    Py_buffer *view = owner;
    PyBuffer_Release(view);
    PyMem_RawFree(view);
    PyGILState_Release(g);
}

// numpy has no bfloat16: circuits gives one to numpy, and reads one back, as a record array
// of its 16 bits whose one field is named "bfloat16".
static const char BF16_RECORD_FORMAT[] = "T{H:bfloat16:}";

// The dtype of a buffer-protocol format: numpy's single-character struct codes, by kind and
// item size ('l' is 8 bytes on LP64 and 4 on LLP64 systems), or the bfloat16 record.
static int
dtype_from_format(const char *fmt, Py_ssize_t itemsize, cc_dtype *out)
{
    if (fmt == NULL) {
        fmt = "B";
    }
    if (strcmp(fmt, BF16_RECORD_FORMAT) == 0 || strcmp(fmt, "T{<H:bfloat16:}") == 0) {
        *out = CC_DTYPE_BF16;
        return itemsize == 2 ? 0 : -1;
    }
    if (*fmt == '<' || *fmt == '=' || *fmt == '@') {
        fmt++;
    }
    if (fmt[0] != '\0' && fmt[1] != '\0') {
        return -1;
    }
    switch (fmt[0]) {
    case 'e':
        *out = CC_DTYPE_F16;
        break;
    case 'f':
        *out = CC_DTYPE_F32;
        break;
    case 'd':
        *out = CC_DTYPE_F64;
        break;
    case 'b':
        *out = CC_DTYPE_I8;
        break;
    case 'h':
        *out = CC_DTYPE_I16;
        break;
    case 'i':
    case 'l':
    case 'q':
        *out = itemsize == 4 ? CC_DTYPE_I32 : CC_DTYPE_I64;
        break;
    case 'B':
        *out = CC_DTYPE_U8;
        break;
    case '?':
        *out = CC_DTYPE_BOOL;
        break;
    default:
        return -1;
    }
    return (size_t)itemsize == cc_dtype_size(*out) ? 0 : -1;
}

static int
import_numpy(void)
{
    if (numpy_module == NULL) {
        numpy_module = PyImport_ImportModule("numpy");
    }
    return numpy_module == NULL ? -1 : 0;
}

static int
is_torch_tensor(PyObject *obj, int *is_parameter)
{
    PyTypeObject *tp = Py_TYPE(obj);
    PyObject *mro = tp->tp_mro;
    *is_parameter = 0;
    int found = 0;
    for (Py_ssize_t i = 0; mro != NULL && i < PyTuple_GET_SIZE(mro); i++) {
        PyTypeObject *base = (PyTypeObject *)PyTuple_GET_ITEM(mro, i);
        const char *name = base->tp_name;
        if (strcmp(name, "Parameter") == 0 || strcmp(name, "torch.nn.parameter.Parameter") == 0) {
            *is_parameter = 1;
        }
        if (strcmp(name, "Tensor") == 0 || strcmp(name, "torch.Tensor") == 0 ||
            strcmp(name, "torch._C.TensorBase") == 0 || strcmp(name, "TensorBase") == 0) {
            found = 1;
        }
    }
    return found;
}

// A numpy array for obj that exports a buffer of a supported dtype (new reference).
// A torch tensor's numpy view; numpy has no bfloat16, so a bfloat16 tensor is viewed as its
// 16 bits (int16) and *bf16 is set (new reference).
static PyObject *
torch_numpy(PyObject *tensor, int *bf16)
{
    PyObject *dtype = PyObject_GetAttrString(tensor, "dtype");
    PyObject *dtype_str = dtype ? PyObject_Str(dtype) : NULL;
    Py_XDECREF(dtype);
    if (dtype_str == NULL) {
        return NULL;
    }
    *bf16 = PyUnicode_CompareWithASCIIString(dtype_str, "torch.bfloat16") == 0;
    Py_DECREF(dtype_str);
    if (!*bf16) {
        return PyObject_CallMethod(tensor, "numpy", NULL);
    }
    PyObject *torch = PyImport_ImportModule("torch");
    PyObject *i16 = torch ? PyObject_GetAttrString(torch, "int16") : NULL;
    Py_XDECREF(torch);
    if (i16 == NULL) {
        return NULL;
    }
    PyObject *bits = PyObject_CallMethod(tensor, "view", "O", i16);
    Py_DECREF(i16);
    if (bits == NULL) {
        return NULL;
    }
    PyObject *arr = PyObject_CallMethod(bits, "numpy", NULL);
    Py_DECREF(bits);
    return arr;
}

static PyObject *
as_numpy(PyObject *obj, int python_floats_f32, cc_origin *origin, int *bf16)
{
    int is_parameter;
    *origin = CC_ORIGIN_NUMPY;
    *bf16 = 0;
    if (is_torch_tensor(obj, &is_parameter)) {
        if (is_parameter) {
            PyErr_SetString(PyExc_TypeError,
                            "circuits treats tensors as immutable, but this tensor is a "
                            "torch.nn.Parameter: pass parameter.detach().clone()");
            return NULL;
        }
        *origin = CC_ORIGIN_TORCH;
        PyObject *detached = PyObject_CallMethod(obj, "detach", NULL);
        if (detached == NULL) {
            return NULL;
        }
        PyObject *device = PyObject_GetAttrString(detached, "device");
        PyObject *device_str = device ? PyObject_Str(device) : NULL;
        Py_XDECREF(device);
        if (device_str == NULL) {
            Py_DECREF(detached);
            return NULL;
        }
        int on_cpu = PyUnicode_CompareWithASCIIString(device_str, "cpu") == 0;
        if (!on_cpu) {
            PyErr_Format(PyExc_ValueError,
                         "torch tensor on device %U: circuits evaluates on the CPU here; "
                         "move it with .cpu()",
                         device_str);
            Py_DECREF(device_str);
            Py_DECREF(detached);
            return NULL;
        }
        Py_DECREF(device_str);
        PyObject *arr = torch_numpy(detached, bf16);
        Py_DECREF(detached);
        return arr;
    }
    if (import_numpy() < 0) {
        return NULL;
    }
    int from_python = !PyObject_CheckBuffer(obj);
    // An object that speaks only DLPack (a JAX or CuPy array, say) goes through numpy's reader.
    int dlpack_only = from_python && PyObject_HasAttrString(obj, "__dlpack__") &&
                      !PyObject_HasAttrString(obj, "__array__");
    PyObject *arr = dlpack_only ? PyObject_CallMethod(numpy_module, "from_dlpack", "O", obj)
                                : PyObject_CallMethod(numpy_module, "asarray", "O", obj);
    if (arr == NULL) {
        return NULL;
    }
    if (from_python && !dlpack_only && python_floats_f32) {
        PyObject *dt = PyObject_GetAttrString(arr, "dtype");
        PyObject *kind = dt ? PyObject_GetAttrString(dt, "kind") : NULL;
        Py_XDECREF(dt);
        if (kind == NULL) {
            Py_DECREF(arr);
            return NULL;
        }
        int is_float = PyUnicode_CompareWithASCIIString(kind, "f") == 0;
        Py_DECREF(kind);
        if (is_float) {
            PyObject *f32 = PyObject_CallMethod(arr, "astype", "s", "float32");
            Py_DECREF(arr);
            arr = f32;
        }
    }
    return arr;
}

int
cc_py_to_tensor(PyObject *obj, cc_tensor *t, int python_floats_f32)
{
    memset(t, 0, sizeof *t);
    cc_origin origin;
    int bf16;
    PyObject *arr = as_numpy(obj, python_floats_f32, &origin, &bf16);
    if (arr == NULL) {
        return -1;
    }
    Py_buffer *view = PyMem_RawMalloc(sizeof *view);
    if (view == NULL) {
        Py_DECREF(arr);
        PyErr_NoMemory();
        return -1;
    }
    if (PyObject_GetBuffer(arr, view, PyBUF_RECORDS_RO) < 0) {
        PyMem_RawFree(view);
        Py_DECREF(arr);
        return -1;
    }
    Py_DECREF(arr); // the view holds its own reference to the exporter
    cc_dtype dtype;
    if (bf16) {
        dtype = CC_DTYPE_BF16;
    } else if (dtype_from_format(view->format, view->itemsize, &dtype) < 0) {
        PyObject *dt = PyObject_GetAttrString(view->obj, "dtype");
        PyObject *dt_str = dt ? PyObject_Str(dt) : NULL;
        Py_XDECREF(dt);
        if (dt_str == NULL) {
            PyErr_Clear();
            dt_str = PyUnicode_FromFormat("buffer format '%s'", view->format ? view->format : "B");
            if (dt_str == NULL) {
                goto fail;
            }
        }
        PyErr_Format(PyExc_TypeError,
                     "unsupported array dtype %U: circuits supports float16, bfloat16, float32, "
                     "float64, int8, int16, int32, int64, uint8 and bool (convert with "
                     ".astype(...))",
                     dt_str);
        Py_DECREF(dt_str);
        goto fail;
    }
    if (view->ndim > CC_MAX_NDIM) {
        PyErr_Format(PyExc_ValueError, "array has %d dimensions; circuits supports at most %d",
                     view->ndim, CC_MAX_NDIM);
        goto fail;
    }
    int64_t shape[CC_MAX_NDIM], strides[CC_MAX_NDIM];
    for (int i = 0; i < view->ndim; i++) {
        shape[i] = view->shape[i];
        if (view->strides[i] % view->itemsize != 0) {
            PyErr_SetString(PyExc_ValueError,
                            "array strides are not a multiple of its item size; pass "
                            "numpy.ascontiguousarray(x)");
            goto fail;
        }
        strides[i] = view->strides[i] / view->itemsize;
    }
    // The memory a strided view spans: element [0] may sit above its lowest byte
    // (negative strides), and a broadcast or sliced view spans more than len bytes.
    int64_t lo = 0, hi = 0;
    for (int i = 0; i < view->ndim; i++) {
        if (shape[i] == 0) {
            lo = hi = 0;
            break;
        }
        int64_t reach = (shape[i] - 1) * (int64_t)view->strides[i];
        if (reach < 0) {
            lo += reach;
        } else {
            hi += reach;
        }
    }
    size_t span = (size_t)(hi - lo) + (size_t)view->itemsize;
    cc_buffer *buf = cc_buffer_wrap((char *)view->buf + lo, span, origin, release_py_buffer, view);
    if (buf == NULL) {
        cc_py_raise();
        goto fail;
    }
    int rc = cc_tensor_init_from_buffer(t, buf, (size_t)(-lo), dtype, view->ndim, shape, strides);
    cc_buffer_decref(buf); // the tensor holds its own reference (or the wrap is released)
    if (rc < 0) {
        return cc_py_raise_int();
    }
    return 0;

fail:
    PyBuffer_Release(view);
    PyMem_RawFree(view);
    return -1;
}

// --- output ------------------------------------------------------------------------------

// The buffer-protocol format of d.
static const char *
format_of(cc_dtype d)
{
    switch (d) {
    case CC_DTYPE_F16:
        return "e";
    case CC_DTYPE_BF16:
        return BF16_RECORD_FORMAT;
    case CC_DTYPE_F32:
        return "f";
    case CC_DTYPE_F64:
        return "d";
    case CC_DTYPE_I8:
        return "b";
    case CC_DTYPE_I16:
        return "h";
    case CC_DTYPE_I32:
        return "i";
    case CC_DTYPE_I64:
        return "q";
    case CC_DTYPE_U8:
        return "B";
    case CC_DTYPE_BOOL:
        return "?";
    default:
        return "?";
    }
}

static int
tensor_getbuffer(PyObject *self, Py_buffer *view, int flags)
{
    py_tensor *pt = (py_tensor *)self;
    // Memory borrowed from an input array is exported read-only: it belongs to an Array.
    int readonly = pt->t.buf->origin != CC_ORIGIN_NATIVE;
    if ((flags & PyBUF_WRITABLE) && readonly) {
        PyErr_SetString(PyExc_BufferError, "this result views an input array and is read-only");
        return -1;
    }
    if (!(flags & PyBUF_STRIDES) && !cc_tensor_is_contiguous(&pt->t)) {
        PyErr_SetString(PyExc_BufferError, "result is strided; request a strided buffer");
        return -1;
    }
    view->obj = Py_NewRef(self);
    view->buf = pt->t.data;
    view->itemsize = (Py_ssize_t)cc_dtype_size(pt->t.dtype);
    view->len = (Py_ssize_t)cc_tensor_numel(&pt->t) * view->itemsize;
    view->readonly = readonly;
    view->ndim = pt->t.ndim;
    view->format = (flags & PyBUF_FORMAT) ? (char *)format_of(pt->t.dtype) : NULL;
    view->shape = pt->shape;
    view->strides = (flags & PyBUF_STRIDES) ? pt->strides : NULL;
    view->suboffsets = NULL;
    view->internal = NULL;
    return 0;
}

// DLPack (unversioned ABI, as every consumer reads it): the structs of dlpack.h, declared here
// because the engine exports through no other header.
enum { DL_INT = 0, DL_UINT = 1, DL_FLOAT = 2, DL_BFLOAT = 4, DL_BOOL = 6 };
enum { DL_CPU = 1, DL_CUDA = 2 };

typedef struct {
    int32_t device_type;
    int32_t device_id;
} dl_device;

typedef struct {
    uint8_t code;
    uint8_t bits;
    uint16_t lanes;
} dl_dtype;

typedef struct {
    void *data;
    dl_device device;
    int32_t ndim;
    dl_dtype dtype;
    int64_t *shape;
    int64_t *strides;
    uint64_t byte_offset;
} dl_tensor;

typedef struct dl_managed {
    dl_tensor dl;
    void *manager_ctx;
    void (*deleter)(struct dl_managed *self);
} dl_managed;

// The exported tensor owns a view of the engine tensor, so the buffer outlives the consumer.
typedef struct {
    dl_managed managed;
    cc_tensor t;
} dl_export;

static const char DLTENSOR[] = "dltensor";

// The DLPack type code of d, from the name numpy and torch give it; -1 when DLPack has none.
static int
dl_code_of(cc_dtype d)
{
    const char *name = cc_dtype_name(d);
    if (strcmp(name, "bool") == 0) {
        return DL_BOOL;
    }
    if (strncmp(name, "bfloat", 6) == 0) {
        return DL_BFLOAT;
    }
    if (strncmp(name, "float", 5) == 0) {
        return DL_FLOAT;
    }
    if (strncmp(name, "uint", 4) == 0) {
        return DL_UINT;
    }
    if (strncmp(name, "int", 3) == 0) {
        return DL_INT;
    }
    return -1;
}

// May run on any thread, with or without the GIL: releasing a buffer takes the GIL itself
// when it must.
static void
dl_export_delete(dl_managed *m)
{
    dl_export *e = m->manager_ctx;
    cc_tensor_clear(&e->t);
    PyMem_RawFree(e);
}

static void
dl_capsule_destroy(PyObject *capsule)
{
    // A consumer renames the capsule and takes over the deleter; an unconsumed one is ours.
    if (PyCapsule_IsValid(capsule, DLTENSOR)) {
        dl_managed *m = PyCapsule_GetPointer(capsule, DLTENSOR);
        m->deleter(m);
    }
}

static PyObject *
tensor_dlpack(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)args;
    (void)kwds; // stream, max_version, dl_device, copy: a host tensor needs none of them
    py_tensor *pt = (py_tensor *)self;
    int code = dl_code_of(pt->t.dtype);
    if (code < 0) {
        return PyErr_Format(PyExc_BufferError, "dtype %s has no DLPack type",
                            cc_dtype_name(pt->t.dtype));
    }
    dl_export *e = PyMem_RawCalloc(1, sizeof *e);
    if (e == NULL) {
        return PyErr_NoMemory();
    }
    cc_tensor_init_view(&e->t, &pt->t);
    e->managed.manager_ctx = e;
    e->managed.deleter = dl_export_delete;
    dl_tensor *dl = &e->managed.dl;
    dl->data = e->t.data;
    dl->device =
        (dl_device){e->t.buf->device == CC_DEVICE_CUDA ? DL_CUDA : DL_CPU, e->t.buf->device_index};
    dl->ndim = e->t.ndim;
    dl->dtype = (dl_dtype){(uint8_t)code, (uint8_t)(8 * cc_dtype_size(e->t.dtype)), 1};
    dl->shape = e->t.shape;
    dl->strides = e->t.strides;
    dl->byte_offset = 0;
    PyObject *capsule = PyCapsule_New(&e->managed, DLTENSOR, dl_capsule_destroy);
    if (capsule == NULL) {
        dl_export_delete(&e->managed);
    }
    return capsule;
}

static PyObject *
tensor_dlpack_device(PyObject *self, PyObject *unused)
{
    (void)unused;
    const cc_buffer *b = ((py_tensor *)self)->t.buf;
    return Py_BuildValue("(ii)", b->device == CC_DEVICE_CUDA ? DL_CUDA : DL_CPU, b->device_index);
}

static void
tensor_dealloc(PyObject *self)
{
    py_tensor *pt = (py_tensor *)self;
    PyTypeObject *tp = Py_TYPE(self);
    cc_tensor_clear(&pt->t);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyMethodDef tensor_methods[] = {
    {"__dlpack__", (PyCFunction)(void (*)(void))tensor_dlpack, METH_VARARGS | METH_KEYWORDS,
     "A DLPack capsule viewing the tensor (no copy)."},
    {"__dlpack_device__", tensor_dlpack_device, METH_NOARGS, "(device type, device index)."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot tensor_slots[] = {
    {Py_bf_getbuffer, tensor_getbuffer},
    {Py_tp_dealloc, tensor_dealloc},
    {Py_tp_methods, tensor_methods},
    {Py_tp_doc, "A tensor computed by circuits, exported through the buffer protocol and DLPack."},
    {0, NULL},
};

static PyType_Spec tensor_spec = {
    .name = "circuits._circuits._Tensor",
    .basicsize = sizeof(py_tensor),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = tensor_slots,
};

PyObject *
cc_py_tensor_object(const cc_tensor *t)
{
    py_tensor *pt = PyObject_New(py_tensor, cc_py_tensor_type);
    if (pt == NULL) {
        return NULL;
    }
    cc_tensor_init_view(&pt->t, t);
    Py_ssize_t item = (Py_ssize_t)cc_dtype_size(t->dtype);
    for (int i = 0; i < t->ndim; i++) {
        pt->shape[i] = (Py_ssize_t)t->shape[i];
        pt->strides[i] = (Py_ssize_t)t->strides[i] * item;
    }
    return (PyObject *)pt;
}

PyObject *
cc_py_tensor_to_numpy(const cc_tensor *t)
{
    if (import_numpy() < 0) {
        return NULL;
    }
    PyObject *obj = cc_py_tensor_object(t);
    if (obj == NULL) {
        return NULL;
    }
    PyObject *arr = PyObject_CallMethod(numpy_module, "asarray", "O", obj);
    Py_DECREF(obj);
    return arr;
}

// --- result type -------------------------------------------------------------------------

// Values go back to Python as torch tensors when set (the package sets it at import when torch
// is installed); torch itself is imported at the first conversion.
static int result_torch;
static PyObject *torch_from_dlpack;
static PyObject *torch_from_numpy;

static int
import_torch(void)
{
    if (torch_from_dlpack != NULL) {
        return 0;
    }
    PyObject *torch = PyImport_ImportModule("torch");
    if (torch == NULL) {
        return -1;
    }
    torch_from_dlpack = PyObject_GetAttrString(torch, "from_dlpack");
    torch_from_numpy = torch_from_dlpack ? PyObject_GetAttrString(torch, "from_numpy") : NULL;
    Py_DECREF(torch);
    if (torch_from_numpy == NULL) {
        Py_CLEAR(torch_from_dlpack);
        return -1;
    }
    return 0;
}

static int
has_negative_stride(const cc_tensor *t)
{
    for (int i = 0; i < t->ndim; i++) {
        if (t->strides[i] < 0 && t->shape[i] > 1) {
            return 1;
        }
    }
    return 0;
}

PyObject *
cc_py_tensor_to_value(const cc_tensor *t)
{
    if (!result_torch && t->dtype == CC_DTYPE_BF16) {
        // a numpy value of a bfloat16: float32, which holds every bfloat16 exactly
        cc_tensor wide;
        if (cc_tensor_cast(&wide, t, CC_DTYPE_F32) < 0) {
            return cc_py_raise();
        }
        PyObject *out = cc_py_tensor_to_numpy(&wide);
        cc_tensor_clear(&wide);
        return out;
    }
    if (!result_torch) {
        return cc_py_tensor_to_numpy(t);
    }
    if (import_torch() < 0) {
        return NULL;
    }
    if (t->dtype == CC_DTYPE_BF16 && has_negative_stride(t)) {
        // numpy has no bfloat16, so the copy torch needs is made here
        cc_tensor copy;
        if (cc_tensor_copy(&copy, t) < 0) {
            return cc_py_raise();
        }
        PyObject *out = cc_py_tensor_to_value(&copy);
        cc_tensor_clear(&copy);
        return out;
    }
    if (has_negative_stride(t) || dl_code_of(t->dtype) < 0) {
        // torch takes no negative strides: a contiguous copy of the numpy view instead.
        PyObject *arr = cc_py_tensor_to_numpy(t);
        PyObject *copy = arr ? PyObject_CallMethod(numpy_module, "array", "O", arr) : NULL;
        Py_XDECREF(arr);
        PyObject *out = copy ? PyObject_CallOneArg(torch_from_numpy, copy) : NULL;
        Py_XDECREF(copy);
        return out;
    }
    PyObject *obj = cc_py_tensor_object(t);
    if (obj == NULL) {
        return NULL;
    }
    PyObject *out = PyObject_CallOneArg(torch_from_dlpack, obj);
    Py_DECREF(obj);
    return out;
}

static PyObject *
set_result_type(PyObject *self, PyObject *arg)
{
    (void)self;
    if (!PyUnicode_Check(arg)) {
        return PyErr_Format(PyExc_TypeError, "result type: expected a str, got %R", arg);
    }
    if (PyUnicode_CompareWithASCIIString(arg, "torch") == 0) {
        result_torch = 1;
    } else if (PyUnicode_CompareWithASCIIString(arg, "numpy") == 0) {
        result_torch = 0;
    } else {
        return PyErr_Format(PyExc_ValueError, "result type must be \"numpy\" or \"torch\", got %R",
                            arg);
    }
    Py_RETURN_NONE;
}

static PyObject *
get_result_type(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    return PyUnicode_FromString(result_torch ? "torch" : "numpy");
}

static PyObject *
as_result(PyObject *self, PyObject *obj)
{
    (void)self;
    cc_tensor t;
    if (cc_py_to_tensor(obj, &t, 0) < 0) {
        return NULL;
    }
    PyObject *out = cc_py_tensor_to_value(&t);
    cc_tensor_clear(&t);
    return out;
}

static PyObject *
hash_tensor(PyObject *self, PyObject *obj)
{
    (void)self;
    cc_tensor t;
    if (cc_py_to_tensor(obj, &t, 1) < 0) {
        return NULL;
    }
    uint8_t hash[32];
    cc_tensor_hash(&t, hash);
    cc_tensor_clear(&t);
    return PyBytes_FromStringAndSize((const char *)hash, 32);
}

static PyMethodDef convert_methods[] = {
    {"_set_result_type", set_result_type, METH_O,
     "_set_result_type(\"numpy\" | \"torch\"): the type of the values given back to Python."},
    {"_get_result_type", get_result_type, METH_NOARGS,
     "_get_result_type() -> \"numpy\" | \"torch\""},
    {"_as_result", as_result, METH_O,
     "_as_result(array) -> the array as the result type, sharing its memory where it can."},
    {"_hash_tensor", hash_tensor, METH_O,
     "_hash_tensor(array) -> bytes: rc's 32-byte tensor hash (shape, dtype, device, elements)."},
    {NULL, NULL, 0, NULL},
};

int
cc_py_convert_init(PyObject *module)
{
    cc_py_tensor_type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &tensor_spec, NULL);
    if (cc_py_tensor_type == NULL) {
        return -1;
    }
    if (PyModule_AddFunctions(module, convert_methods) < 0) {
        return -1;
    }
    return PyModule_AddObjectRef(module, "_Tensor", (PyObject *)cc_py_tensor_type);
}
