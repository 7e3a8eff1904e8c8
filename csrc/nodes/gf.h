// GeneralFunction specs: the named single-input functions of gf.def, gen_index,
// explicit_index, pow, casts, and specs written in Python (reached through callbacks).
#pragma once

#include <stdint.h>

#include "nodes/node.h"
#include "tensor/tensor.h"
#include "util/str.h"

typedef enum {
#define CC_GF(name, impl, nb, rm, promote) CC_GF_ID_##name,
#include "nodes/gf.def"
#undef CC_GF
    CC_GF_ID_COUNT
} cc_gf_id;

typedef enum {
    CC_GF_SIMPLE,         // a row of gf.def
    CC_GF_GEN_INDEX,      // gather along index_dim by an I64 index circuit
    CC_GF_EXPLICIT_INDEX, // same, batch split given explicitly
    CC_GF_POW,            // broadcasting base ** exponent
    CC_GF_CAST,           // checks its input's dtype, casts it (rc's GeneralFunctionSetDDSpec)
    CC_GF_CALLBACK,       // spec implemented outside the core (a Python object)
    CC_GF_MULTINOMIAL,    // seeded draws of category indices (probs, seed)
} cc_gf_kind;

// rc's TorchDeviceDtypeOp in a cast spec. device: CC_GF_DEVICE_NONE, CC_GF_DEVICE_CPU, or
// CC_GF_DEVICE_CUDA0 + k for cuda:k (rc's TorchDevice order); dtype: a cc_dtype, or -1 for None.
typedef struct {
    int device;
    int dtype;
} cc_gf_device_dtype;

enum { CC_GF_DEVICE_NONE = -1, CC_GF_DEVICE_CPU = 0, CC_GF_DEVICE_CUDA0 = 1, CC_GF_N_CUDA = 16 };

// Shape information a spec derives from its input shapes (rc's GeneralFunctionShapeInfo).
typedef struct {
    int ndim;
    int64_t shape[CC_MAX_NDIM];
    int num_non_batchable_output_dims;
    uint8_t input_batchable[64]; // per input
} cc_gf_shape_info;

// Hooks for a spec implemented outside the core. All run with whatever lock the
// implementation needs (the bindings take the GIL inside them).
typedef struct {
    void *ctx;
    void (*incref)(void *ctx);
    void (*decref)(void *ctx);
    // 0, or -1 with an error recorded (CC_E_PYTHON keeps the Python exception).
    int (*shape_info)(void *ctx, int n, const int *ndims, const int64_t *const *shapes,
                      cc_gf_shape_info *out);
    // out initialised by the call, with the shape given by shape_info.
    int (*function)(void *ctx, int n, const cc_tensor *const *inputs, cc_tensor *out);
    // Optional (rc's get_device_dtype_override): the node's dtype from its inputs' (a cc_dtype,
    // or -1 where unknown) in *out and 1, or 0 when the spec overrides nothing; -1 on error.
    int (*dtype_override)(void *ctx, int n, const int *dtypes, int *out);
} cc_gf_callbacks;

struct cc_gf_spec {
    long refcount;
    cc_gf_kind kind;
    char *name; // serialised name: "softmax", "gen_index_at_0_c", "pow", custom name
    uint8_t hash[32];
    cc_gf_id simple_id;          // SIMPLE
    int64_t index_dim;           // GEN_INDEX, EXPLICIT_INDEX
    int batch_x, batch_index;    // GEN_INDEX
    int64_t x_non_batch_dims;    // EXPLICIT_INDEX
    int check_index_ints;        // GEN_INDEX, EXPLICIT_INDEX
    cc_gf_device_dtype cast_in;  // CAST: what the input must be compatible with
    cc_gf_device_dtype cast_out; // CAST: what the output is set to
    cc_gf_callbacks callbacks;   // CALLBACK
    char *path;                  // CALLBACK: where the text format finds the spec, or NULL
    int replacement;             // MULTINOMIAL: draws are put back
    int n_sample_dims;           // MULTINOMIAL: the sample shape appended to probs' batch axes
    int64_t sample_shape[CC_MAX_NDIM];
};

typedef struct {
    const char *name;
    int num_non_batchable_output_dims;
    int removed_from_end;
    int promote_int_to_f32; // an integer or bool input makes the node float32
} cc_gf_simple_info;
const cc_gf_simple_info *cc_gf_simple_get_info(cc_gf_id id);

// New references, or NULL with an error recorded.
// By name: CC_E_CONSTRUCT_UNKNOWN_GENERAL_FUNCTION when no row of gf.def has it.
cc_gf_spec *cc_gf_spec_simple_by_name(const char *name);
// A spec from its serialised name as rc's new_by_name reads it: gen_index_at_...,
// explicit_index_at_..., cast_from_{device:..,dtype:..}_to_{device:..,dtype:..}, pow,
// multinomial[_no_replace]_[...], or a row of gf.def; anything else
// CC_E_CONSTRUCT_UNKNOWN_GENERAL_FUNCTION.
cc_gf_spec *cc_gf_spec_by_name(const char *name);
cc_gf_spec *cc_gf_spec_simple(cc_gf_id id);
cc_gf_spec *cc_gf_spec_gen_index(int64_t index_dim, int batch_x, int batch_index,
                                 int check_index_ints);
cc_gf_spec *cc_gf_spec_explicit_index(int64_t index_dim, int64_t x_non_batch_dims,
                                      int check_index_ints);
cc_gf_spec *cc_gf_spec_pow(void);
// rc's cast spec, named cast_from_{device:<d>,dtype:<t>}_to_{device:<d>,dtype:<t>} (None for
// an open field). A cuda device is CC_E_PY_NOT_IMPLEMENTED: the tensors of a circuit live in
// host memory.
cc_gf_spec *cc_gf_spec_cast(const cc_gf_device_dtype *in, const cc_gf_device_dtype *out);
// rc's form of a device and dtype: "{device:cpu,dtype:None}" (Rust's Debug of
// TorchDeviceDtypeOp). 0, or -1 with CC_E_NO_MEMORY.
int cc_gf_device_dtype_append(cc_str *s, const cc_gf_device_dtype *dd);
// rc's multinomial spec: inputs (probs, seed); output probs.shape[:-1] + sample_shape, int64;
// not batchable. Named "multinomial[_no_replace]_[a, b]".
cc_gf_spec *cc_gf_spec_multinomial(int replacement, int n_sample_dims, const int64_t *sample_shape);
// hash_bytes: the spec's own identity bytes (rc: compute_hash_bytes); as in rc the spec hash
// covers only these (and a fixed uuid), not the name or the path. The spec holds a reference
// on ctx (callbacks->incref at creation, decref when freed). path: rc's spec locator,
// "package.module:Attr" or "/dir/file.py:Attr", or NULL when the spec has none. CC_E_PY_RUNTIME
// if name contains " at " or path is not such a locator.
cc_gf_spec *cc_gf_spec_callback(const char *name, const uint8_t *hash_bytes, size_t n_hash_bytes,
                                const cc_gf_callbacks *callbacks, const char *path);
void cc_gf_spec_incref(cc_gf_spec *s);
void cc_gf_spec_decref(cc_gf_spec *s); // NULL is a no-op

// Shape information for these input shapes; 0, or -1 with a CC_E_GENERAL_FUNCTION_SHAPE_*
// (or the callback's) error.
int cc_gf_spec_shape_info(const cc_gf_spec *s, int n, const int *ndims,
                          const int64_t *const *shapes, cc_gf_shape_info *out);
