// GeneralFunction specs (the named functions of gf.def, gen_index, explicit_index, pow, casts,
// and specs implemented outside the core through callbacks): names, rc's spec hashes, shape
// rules, and the GeneralFunction node kind. Evaluation lives in eval/; autonames in autoname.c.
#include "nodes/gf.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "nodes/expand_kind.h"
#include "nodes/node_impl.h"
#include "nodes/payload_text.h"
#include "nodes/shape.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/str.h"

#define MAX_INPUTS 64 // size of cc_gf_shape_info.input_batchable

// rc's uuids, fed to each spec's hash (docs/hashing.md, "GeneralFunction").
static const uint8_t SIMPLE_UUID[16] = {0xf1, 0xf0, 0xbc, 0x63, 0xf3, 0x90, 0x41, 0x2b,
                                        0x9e, 0x98, 0x74, 0xce, 0x65, 0x91, 0x10, 0x06};
static const uint8_t INDEX_UUID[16] = {0x44, 0x2f, 0xde, 0x55, 0xa1, 0xb7, 0x4a, 0x69,
                                       0x98, 0xff, 0xbd, 0x40, 0xd7, 0x03, 0x0e, 0xf2};
static const uint8_t POW_UUID[16] = {0x31, 0x5d, 0x28, 0x47, 0xa5, 0x6d, 0x49, 0xc8,
                                     0x8f, 0xef, 0x5b, 0xcf, 0x71, 0x0a, 0x7b, 0xc8};
static const uint8_t MULTINOMIAL_UUID[16] = {0x1f, 0x39, 0xec, 0x5e, 0xd3, 0xf8, 0x47, 0x06,
                                             0xb0, 0x75, 0x16, 0x12, 0xfd, 0x83, 0xee, 0xf8};
static const uint8_t PY_WRAP_UUID[16] = {0xde, 0x31, 0x24, 0xee, 0x15, 0x4c, 0x4d, 0xa8,
                                         0xbd, 0xb3, 0xb7, 0x49, 0x6a, 0xe6, 0x22, 0x3c};

static const cc_gf_simple_info SIMPLE_INFO[CC_GF_ID_COUNT] = {
#define CC_GF(name, impl, nb, rm, promote) [CC_GF_ID_##name] = {#name, nb, rm, promote},
#include "nodes/gf.def"
#undef CC_GF
};

const cc_gf_simple_info *
cc_gf_simple_get_info(cc_gf_id id)
{
    if ((int)id < 0 || id >= CC_GF_ID_COUNT) {
        return NULL;
    }
    return &SIMPLE_INFO[id];
}

// ---------------------------------------------------------------------------------------------
// Specs

static cc_gf_spec *
spec_new(cc_gf_kind kind, const char *name)
{
    cc_gf_spec *s = cc_calloc(1, sizeof *s);
    if (s == NULL) {
        return NULL;
    }
    s->name = cc_strdup(name);
    if (s->name == NULL) {
        cc_free(s);
        return NULL;
    }
    s->refcount = 1;
    s->kind = kind;
    return s;
}

cc_gf_spec *
cc_gf_spec_simple(cc_gf_id id)
{
    const cc_gf_simple_info *info = cc_gf_simple_get_info(id);
    if (info == NULL) {
        return cc_fail_null(CC_E_CONSTRUCT_UNKNOWN_GENERAL_FUNCTION,
                            "unknown general function id %d", (int)id);
    }
    cc_gf_spec *s = spec_new(CC_GF_SIMPLE, info->name);
    if (s == NULL) {
        return NULL;
    }
    s->simple_id = id;
    cc_blake3 h;
    cc_blake3_init(&h);
    cc_blake3_update(&h, SIMPLE_UUID, 16);
    cc_blake3_update(&h, info->name, strlen(info->name));
    cc_blake3_final(&h, s->hash, 32);
    return s;
}

cc_gf_spec *
cc_gf_spec_simple_by_name(const char *name)
{
    for (int id = 0; id < CC_GF_ID_COUNT; id++) {
        if (strcmp(SIMPLE_INFO[id].name, name) == 0) {
            return cc_gf_spec_simple((cc_gf_id)id);
        }
    }
    return cc_fail_null(CC_E_CONSTRUCT_UNKNOWN_GENERAL_FUNCTION, "unknown general function '%s'",
                        name);
}

cc_gf_spec *
cc_gf_spec_gen_index(int64_t index_dim, int batch_x, int batch_index, int check_index_ints)
{
    char name[96];
    snprintf(name, sizeof name, "gen_index_at_%" PRId64 "%s%s%s", index_dim,
             batch_x ? "_batch_x" : "", batch_index ? "" : "_no_batch_index",
             check_index_ints ? "_c" : "");
    cc_gf_spec *s = spec_new(CC_GF_GEN_INDEX, name);
    if (s == NULL) {
        return NULL;
    }
    s->index_dim = index_dim;
    s->batch_x = batch_x != 0;
    s->batch_index = batch_index != 0;
    s->check_index_ints = check_index_ints != 0;
    uint8_t flags[3] = {(uint8_t)s->batch_x, (uint8_t)s->batch_index, (uint8_t)s->check_index_ints};
    cc_blake3 h;
    cc_blake3_init(&h);
    cc_blake3_update(&h, INDEX_UUID, 16);
    cc_blake3_update_u64_le(&h, (uint64_t)index_dim);
    cc_blake3_update(&h, flags, 3);
    cc_blake3_final(&h, s->hash, 32);
    return s;
}

// rc's check_canon_idxs for one axis: item in [-count, count), made non-negative.
static int
canon_axis(int64_t item, int64_t count, int64_t *out)
{
    if (item >= count || item < -count) {
        return cc_fail(CC_E_MISC_INPUT_ITEM_OUT_OF_BOUNDS, "item=%" PRId64 " count=%" PRId64, item,
                       count);
    }
    *out = item < 0 ? item + count : item;
    return 0;
}

cc_gf_spec *
cc_gf_spec_explicit_index(int64_t index_dim, int64_t x_non_batch_dims, int check_index_ints)
{
    int64_t canon;
    if (canon_axis(index_dim, x_non_batch_dims, &canon) < 0) {
        cc_error_prefix("index_dim=%" PRId64 " out of bounds for x_non_batch_dims=%" PRId64,
                        index_dim, x_non_batch_dims);
        return NULL;
    }
    char name[96];
    snprintf(name, sizeof name, "explicit_index_at_%" PRId64 "_x_non_b_%" PRId64 "%s", index_dim,
             x_non_batch_dims, check_index_ints ? "_c" : "");
    cc_gf_spec *s = spec_new(CC_GF_EXPLICIT_INDEX, name);
    if (s == NULL) {
        return NULL;
    }
    s->index_dim = index_dim;
    s->x_non_batch_dims = x_non_batch_dims;
    s->check_index_ints = check_index_ints != 0;
    uint8_t flag = (uint8_t)s->check_index_ints;
    cc_blake3 h;
    cc_blake3_init(&h);
    cc_blake3_update(&h, INDEX_UUID, 16);
    cc_blake3_update_u64_le(&h, (uint64_t)index_dim);
    cc_blake3_update_u64_le(&h, (uint64_t)x_non_batch_dims); // rc: usize, 8 bytes on 64-bit hosts
    cc_blake3_update(&h, &flag, 1);
    cc_blake3_final(&h, s->hash, 32);
    return s;
}

cc_gf_spec *
cc_gf_spec_pow(void)
{
    cc_gf_spec *s = spec_new(CC_GF_POW, "pow");
    if (s == NULL) {
        return NULL;
    }
    cc_blake3 h;
    cc_blake3_init(&h);
    cc_blake3_update(&h, POW_UUID, 16);
    cc_blake3_final(&h, s->hash, 32);
    return s;
}

// rc's dtypes in the order of its TorchDtype enumeration, whose index the cast spec hashes.
static const char *const RC_DTYPE_ORDER[] = {"float16", "bfloat16", "float32", "float64", "int8",
                                             "int16",   "int32",    "int64",   "uint8",   "bool"};
#define N_RC_DTYPES (int)(sizeof RC_DTYPE_ORDER / sizeof RC_DTYPE_ORDER[0])

static int
rc_dtype_index(cc_dtype d)
{
    const char *name = cc_dtype_name(d);
    for (int i = 0; i < N_RC_DTYPES; i++) {
        if (strcmp(RC_DTYPE_ORDER[i], name) == 0) {
            return i;
        }
    }
    return 0;
}

int
cc_gf_device_dtype_append(cc_str *s, const cc_gf_device_dtype *dd)
{
    int rc = cc_str_append(s, "{device:");
    if (dd->device == CC_GF_DEVICE_NONE) {
        rc |= cc_str_append(s, "None");
    } else if (dd->device == CC_GF_DEVICE_CPU) {
        rc |= cc_str_append(s, "cpu");
    } else {
        rc |= cc_str_appendf(s, "cuda:%d", dd->device - CC_GF_DEVICE_CUDA0);
    }
    rc |= cc_str_append(s, ",dtype:");
    rc |= cc_str_append(s, dd->dtype < 0 ? "None" : cc_dtype_name((cc_dtype)dd->dtype));
    rc |= cc_str_append(s, "}");
    return rc < 0 ? -1 : 0;
}

static int
check_cast_side(const cc_gf_device_dtype *dd, const char *which)
{
    if (dd->dtype < -1 || dd->dtype >= CC_DTYPE_COUNT) {
        return cc_fail(CC_E_PY_VALUE, "cast spec: %s dtype %d is not a dtype", which, dd->dtype);
    }
    if (dd->device < CC_GF_DEVICE_NONE || dd->device >= CC_GF_DEVICE_CUDA0 + CC_GF_N_CUDA) {
        return cc_fail(CC_E_PY_VALUE, "cast spec: %s device %d is not a device", which, dd->device);
    }
    if (dd->device >= CC_GF_DEVICE_CUDA0) {
        return cc_fail(CC_E_PY_NOT_IMPLEMENTED,
                       "cast spec: %s device cuda:%d is not available: circuits keeps the tensors "
                       "of a circuit in host memory; cast the dtype only (device None or \"cpu\") "
                       "and evaluate on the GPU with evaluate(device=\"cuda:%d\")",
                       which, dd->device - CC_GF_DEVICE_CUDA0, dd->device - CC_GF_DEVICE_CUDA0);
    }
    return 0;
}

// rc's TorchDeviceDtypeOp::hash: (1, index) per set field, (0, 0) per open one.
static void
hash_device_dtype(cc_blake3 *h, const cc_gf_device_dtype *dd)
{
    uint8_t b[4] = {dd->device != CC_GF_DEVICE_NONE, 0, dd->dtype >= 0, 0};
    if (dd->device != CC_GF_DEVICE_NONE) {
        b[1] = (uint8_t)dd->device;
    }
    if (dd->dtype >= 0) {
        b[3] = (uint8_t)rc_dtype_index((cc_dtype)dd->dtype);
    }
    cc_blake3_update(h, b, 4);
}

cc_gf_spec *
cc_gf_spec_cast(const cc_gf_device_dtype *in, const cc_gf_device_dtype *out)
{
    if (check_cast_side(in, "input_required_compatibility") < 0 ||
        check_cast_side(out, "output") < 0) {
        return NULL;
    }
    cc_str name;
    cc_str_init(&name);
    if (cc_str_append(&name, "cast_from_") < 0 || cc_gf_device_dtype_append(&name, in) < 0 ||
        cc_str_append(&name, "_to_") < 0 || cc_gf_device_dtype_append(&name, out) < 0) {
        cc_str_clear(&name);
        return NULL;
    }
    cc_gf_spec *s = spec_new(CC_GF_CAST, name.data);
    cc_str_clear(&name);
    if (s == NULL) {
        return NULL;
    }
    s->cast_in = *in;
    s->cast_out = *out;
    cc_blake3 h;
    cc_blake3_init(&h);
    hash_device_dtype(&h, in);
    hash_device_dtype(&h, out);
    cc_blake3_final(&h, s->hash, 32);
    return s;
}

// rc's PyClassLocator: "module.path:Attr" or "/dir/file.py:Attr", both parts non-empty. The
// text format writes it after " at " to the end of the line, so it may not hold a comment or
// binding marker, a line break, or surrounding spaces.
static int
check_path(const char *name, const char *path)
{
    const char *colon = strchr(path, ':');
    size_t len = strlen(path);
    int bad_char =
        strpbrk(path, "#!\n\r\t") != NULL || path[0] == ' ' || (len > 0 && path[len - 1] == ' ');
    if (colon == NULL || colon == path || colon[1] == '\0' || bad_char) {
        return cc_fail(CC_E_PY_RUNTIME,
                       "GeneralFunction spec '%s': path '%s' is not a function locator: it must "
                       "have the form module.to.import:MyCustomSpec or "
                       "/dir/sub_dir/.../file.py:MyCustomSpec, without '#', '!', tabs, line breaks "
                       "or surrounding spaces",
                       name, path);
    }
    return 0;
}

cc_gf_spec *
cc_gf_spec_multinomial(int replacement, int n_sample_dims, const int64_t *sample_shape)
{
    if (n_sample_dims < 0 || n_sample_dims > CC_MAX_NDIM) {
        return cc_fail_null(CC_E_CONSTRUCT_NOT_SUPPORTED_YET,
                            "multinomial: a sample shape of %d axes (at most %d are supported)",
                            n_sample_dims, CC_MAX_NDIM);
    }
    cc_str name;
    cc_str_init(&name);
    int ok = cc_str_append(&name, replacement ? "multinomial_" : "multinomial_no_replace_") == 0 &&
             cc_shape_append(&name, n_sample_dims, sample_shape) == 0;
    cc_gf_spec *s = ok ? spec_new(CC_GF_MULTINOMIAL, name.data) : NULL;
    cc_str_clear(&name);
    if (s == NULL) {
        return NULL;
    }
    s->replacement = replacement != 0;
    s->n_sample_dims = n_sample_dims;
    uint8_t flag = (uint8_t)s->replacement;
    cc_blake3 h;
    cc_blake3_init(&h);
    cc_blake3_update(&h, MULTINOMIAL_UUID, 16);
    cc_blake3_update(&h, &flag, 1);
    for (int i = 0; i < n_sample_dims; i++) {
        s->sample_shape[i] = sample_shape[i];
        cc_blake3_update_u64_le(&h, (uint64_t)sample_shape[i]); // rc: usize, 8 bytes
    }
    cc_blake3_final(&h, s->hash, 32);
    return s;
}

cc_gf_spec *
cc_gf_spec_callback(const char *name, const uint8_t *hash_bytes, size_t n_hash_bytes,
                    const cc_gf_callbacks *callbacks, const char *path)
{
    if (strstr(name, " at ") != NULL) {
        return cc_fail_null(CC_E_PY_RUNTIME,
                            "Function names can't contain the substring ` at ` because it could "
                            "interfere with parsing (name '%s').",
                            name);
    }
    if (path != NULL && check_path(name, path) < 0) {
        return NULL;
    }
    cc_gf_spec *s = spec_new(CC_GF_CALLBACK, name);
    if (s == NULL) {
        return NULL;
    }
    if (path != NULL) {
        s->path = cc_strdup(path);
        if (s->path == NULL) {
            cc_free(s->name);
            cc_free(s);
            return NULL;
        }
    }
    s->callbacks = *callbacks;
    if (s->callbacks.incref != NULL) {
        s->callbacks.incref(s->callbacks.ctx);
    }
    cc_blake3 h;
    cc_blake3_init(&h);
    cc_blake3_update(&h, PY_WRAP_UUID, 16);
    if (n_hash_bytes > 0) {
        cc_blake3_update(&h, hash_bytes, n_hash_bytes);
    }
    cc_blake3_final(&h, s->hash, 32);
    return s;
}

void
cc_gf_spec_incref(cc_gf_spec *s)
{
    s->refcount++;
}

void
cc_gf_spec_decref(cc_gf_spec *s)
{
    if (s == NULL || --s->refcount > 0) {
        return;
    }
    if (s->kind == CC_GF_CALLBACK && s->callbacks.decref != NULL) {
        s->callbacks.decref(s->callbacks.ctx);
    }
    cc_free(s->path);
    cc_free(s->name);
    cc_free(s);
}

// Reads a decimal (with an optional '-' when allow_sign) at *p into *v and advances *p:
// 0, -1 when there are no digits, -2 when it does not fit an int64.
static int
read_int(const char **p, int allow_sign, int64_t *v)
{
    const char *q = *p;
    int neg = allow_sign && *q == '-';
    if (neg) {
        q++;
    }
    if (*q < '0' || *q > '9') {
        return -1;
    }
    uint64_t acc = 0;
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; *q >= '0' && *q <= '9'; q++) {
        uint64_t d = (uint64_t)(*q - '0');
        if (acc > (limit - d) / 10) {
            return -2;
        }
        acc = acc * 10 + d;
    }
    if (!neg) {
        *v = (int64_t)acc;
    } else {
        *v = acc > (uint64_t)INT64_MAX ? INT64_MIN : -(int64_t)acc;
    }
    *p = q;
    return 0;
}

// Consumes suffix at *p if present.
static int
eat(const char **p, const char *suffix)
{
    size_t n = strlen(suffix);
    if (strncmp(*p, suffix, n) == 0) {
        *p += n;
        return 1;
    }
    return 0;
}

static void
skip_spaces(const char **p)
{
    while (**p == ' ' || **p == '\t') {
        (*p)++;
    }
}

// "multinomial[_no_replace]_[a, b, ...]" (rc's pattern: spaces around the numbers, an optional
// trailing comma). NULL with no error recorded when name is not of that form.
static cc_gf_spec *
multinomial_by_name(const char *name)
{
    const char *p = name;
    if (!eat(&p, "multinomial")) {
        return NULL;
    }
    int no_replace = eat(&p, "_no_replace");
    if (!eat(&p, "_[")) {
        return NULL;
    }
    int64_t shape[CC_MAX_NDIM];
    int n = 0;
    skip_spaces(&p);
    while (*p != ']') {
        int64_t v;
        if (n == CC_MAX_NDIM || read_int(&p, 0, &v) != 0) {
            return NULL;
        }
        shape[n++] = v;
        skip_spaces(&p);
        if (eat(&p, ",")) {
            skip_spaces(&p);
        } else if (*p != ']') {
            return NULL;
        }
    }
    if (p[1] != '\0') {
        return NULL;
    }
    return cc_gf_spec_multinomial(!no_replace, n, shape);
}

// Matches the n bytes at q against "None", "cpu" and "cuda:<k>" (device) or "None" and the dtype
// names (dtype) into *out; -1 with an error naming the cast spec when none fits.
static int
read_device(const char *q, size_t n, const char *spec_name, int *out)
{
    if (n == 4 && strncmp(q, "None", 4) == 0) {
        *out = CC_GF_DEVICE_NONE;
        return 0;
    }
    if (n == 3 && strncmp(q, "cpu", 3) == 0) {
        *out = CC_GF_DEVICE_CPU;
        return 0;
    }
    if (n > 5 && n <= 7 && strncmp(q, "cuda:", 5) == 0) {
        int k = 0, ok = 1;
        for (size_t i = 5; i < n; i++) {
            ok &= q[i] >= '0' && q[i] <= '9';
            k = k * 10 + (q[i] - '0');
        }
        if (ok && k < CC_GF_N_CUDA) {
            *out = CC_GF_DEVICE_CUDA0 + k;
            return 0;
        }
    }
    return cc_fail(CC_E_CONSTRUCT_UNKNOWN_GENERAL_FUNCTION,
                   "unknown general function '%s': device '%.*s' is not None, cpu or cuda:<0..%d>",
                   spec_name, (int)n, q, CC_GF_N_CUDA - 1);
}

static int
read_dtype(const char *q, size_t n, const char *spec_name, int *out)
{
    if (n == 4 && strncmp(q, "None", 4) == 0) {
        *out = -1;
        return 0;
    }
    for (int d = 0; d < CC_DTYPE_COUNT; d++) {
        const char *dn = cc_dtype_name((cc_dtype)d);
        if (strlen(dn) == n && strncmp(q, dn, n) == 0) {
            *out = d;
            return 0;
        }
    }
    return cc_fail(CC_E_CONSTRUCT_UNKNOWN_GENERAL_FUNCTION,
                   "unknown general function '%s': dtype '%.*s' is not None or a dtype (float16, "
                   "bfloat16, float32, float64, int8, int16, int32, int64, uint8, bool)",
                   spec_name, (int)n, q);
}

// One "{device:<d>,dtype:<t>}" of a cast spec's name at *p, which it advances past: 1 when
// read, 0 when the text has another form, -1 with an error for an unknown device or dtype.
static int
read_device_dtype(const char **p, const char *spec_name, cc_gf_device_dtype *out)
{
    const char *q = *p;
    if (!eat(&q, "{device:")) {
        return 0;
    }
    size_t n = strcspn(q, ",}");
    const char *device = q, *dtype;
    size_t device_n = n, dtype_n;
    q += n;
    if (!eat(&q, ",dtype:")) {
        return 0;
    }
    dtype = q;
    dtype_n = strcspn(q, "}");
    q += dtype_n;
    if (!eat(&q, "}")) {
        return 0;
    }
    if (read_device(device, device_n, spec_name, &out->device) < 0 ||
        read_dtype(dtype, dtype_n, spec_name, &out->dtype) < 0) {
        return -1;
    }
    *p = q;
    return 1;
}

cc_gf_spec *
cc_gf_spec_by_name(const char *name)
{
    const char *p = name;
    int64_t a, b;
    if (eat(&p, "gen_index_at_")) {
        int r = read_int(&p, 1, &a);
        if (r == 0) {
            int batch_x = eat(&p, "_batch_x");
            int no_batch_index = eat(&p, "_no_batch_index");
            int check = eat(&p, "_c");
            if (*p == '\0') {
                return cc_gf_spec_gen_index(a, batch_x, !no_batch_index, check);
            }
        } else if (r == -2) {
            return cc_fail_null(CC_E_PY_RUNTIME, "failed to parse index_dim for gen_index_at: '%s'",
                                name);
        }
    }
    p = name;
    if (eat(&p, "explicit_index_at_")) {
        int r = read_int(&p, 1, &a);
        if (r == 0 && eat(&p, "_x_non_b_")) {
            r = read_int(&p, 0, &b);
            if (r == 0) {
                int check = eat(&p, "_c");
                if (*p == '\0') {
                    return cc_gf_spec_explicit_index(a, b, check);
                }
            }
        }
        if (r == -2) {
            return cc_fail_null(CC_E_PY_RUNTIME, "failed to parse explicit_index_at: '%s'", name);
        }
    }
    p = name;
    if (eat(&p, "cast_from_")) {
        cc_gf_device_dtype in, out;
        int r = read_device_dtype(&p, name, &in);
        if (r == 1 && eat(&p, "_to_")) {
            r = read_device_dtype(&p, name, &out);
            if (r == 1 && *p == '\0') {
                return cc_gf_spec_cast(&in, &out);
            }
        }
        if (r < 0) {
            return NULL;
        }
    }
    if (strcmp(name, "pow") == 0) {
        return cc_gf_spec_pow();
    }
    cc_gf_spec *multinomial = multinomial_by_name(name);
    if (multinomial != NULL) {
        return multinomial;
    }
    return cc_gf_spec_simple_by_name(name);
}

// ---------------------------------------------------------------------------------------------
// Shape information

static int
push_dims(cc_gf_shape_info *out, const int64_t *dims, int64_t n)
{
    if (out->ndim + n > CC_MAX_NDIM) {
        return cc_fail(CC_E_GENERAL_FUNCTION_SHAPE,
                       "the output would have %" PRId64 " axes; at most %d are supported",
                       out->ndim + n, CC_MAX_NDIM);
    }
    for (int64_t i = 0; i < n; i++) {
        out->shape[out->ndim++] = dims[i];
    }
    return 0;
}

static int
wrong_num(const cc_gf_spec *s, int got, int expected)
{
    return cc_fail(CC_E_GENERAL_FUNCTION_SHAPE_WRONG_NUM_SHAPES,
                   "general function %s: got=%d expected=%d input shapes", s->name, got, expected);
}

static int
shape_info_simple(const cc_gf_spec *s, int n, const int *ndims, const int64_t *const *shapes,
                  cc_gf_shape_info *out)
{
    const cc_gf_simple_info *info = &SIMPLE_INFO[s->simple_id];
    if (n != 1) {
        return wrong_num(s, n, 1);
    }
    int need = info->num_non_batchable_output_dims + info->removed_from_end;
    if (ndims[0] < need) {
        return cc_fail(CC_E_GENERAL_FUNCTION_SHAPE_NDIM_TOO_SMALL,
                       "general function %s: ndim=%d < num_non_batchable_output_dims=%d + "
                       "removed_from_end=%d",
                       s->name, ndims[0], info->num_non_batchable_output_dims,
                       info->removed_from_end);
    }
    out->num_non_batchable_output_dims = info->num_non_batchable_output_dims;
    out->input_batchable[0] = 1;
    return push_dims(out, shapes[0], ndims[0] - info->removed_from_end);
}

// rc's get_shape_info_broadcast: an input is batchable when it has the output's rank; the
// non-batchable output dims reach back to the first axis such an input broadcasts along.
static int
shape_info_broadcast(int n, const int *ndims, const int64_t *const *shapes, cc_gf_shape_info *out)
{
    if (cc_shape_broadcast(n, ndims, shapes, &out->ndim, out->shape) < 0) {
        return -1;
    }
    int rank = out->ndim, non_batch = 0;
    for (int i = 0; i < n; i++) {
        out->input_batchable[i] = ndims[i] == rank;
        if (ndims[i] != rank) {
            continue;
        }
        for (int d = 0; d < rank; d++) {
            if (shapes[i][d] != out->shape[d] && rank - d > non_batch) {
                non_batch = rank - d;
            }
        }
    }
    out->num_non_batchable_output_dims = non_batch;
    return 0;
}

// Records kind with "general function <name>: x_shape=[..] index_shape=[..]<tail>".
static int
fail_index_shapes(cc_error_kind kind, const cc_gf_spec *s, const int *ndims,
                  const int64_t *const *shapes, const char *tail)
{
    cc_str m;
    cc_str_init(&m);
    cc_str_appendf(&m, "general function %s: x_shape=", s->name);
    cc_shape_append(&m, ndims[0], shapes[0]);
    cc_str_append(&m, " index_shape=");
    cc_shape_append(&m, ndims[1], shapes[1]);
    cc_str_append(&m, tail);
    cc_fail(kind, "%s", m.data != NULL ? m.data : s->name);
    cc_str_clear(&m);
    return -1;
}

static int
index_shape_invalid(const cc_gf_spec *s, const int *ndims, const int64_t *const *shapes)
{
    return fail_index_shapes(CC_E_GENERAL_FUNCTION_SHAPE_INDEX_SHAPE_INVALID, s, ndims, shapes,
                             s->batch_x ? " batch_x=true" : " batch_x=false");
}

static int
shape_info_gen_index(const cc_gf_spec *s, int n, const int *ndims, const int64_t *const *shapes,
                     cc_gf_shape_info *out)
{
    if (n != 2) {
        return wrong_num(s, n, 2);
    }
    int xn = ndims[0], in = ndims[1];
    const int64_t *x = shapes[0], *index = shapes[1];
    int64_t d = 0;
    if (s->batch_x && s->batch_index) {
        // index is a proper prefix of x; gather along index_dim of the remaining suffix
        if (in >= xn || memcmp(x, index, (size_t)in * sizeof(int64_t)) != 0) {
            return index_shape_invalid(s, ndims, shapes);
        }
        if (canon_axis(s->index_dim, xn - in, &d) < 0) {
            return cc_error_prefix("index dim out of bounds for 'suffix'");
        }
        d += in;
        out->num_non_batchable_output_dims = xn - in - 1;
        out->input_batchable[0] = 1;
        out->input_batchable[1] = 1;
        if (push_dims(out, x, d) < 0 || push_dims(out, x + d + 1, xn - d - 1) < 0) {
            return -1;
        }
        return 0;
    }
    if (s->batch_index) {
        if (canon_axis(s->index_dim, xn, &d) < 0) {
            return cc_error_prefix("index dim out of bounds for x_shape");
        }
        out->num_non_batchable_output_dims = xn - 1;
        out->input_batchable[0] = 0;
        out->input_batchable[1] = 1;
        if (push_dims(out, index, in) < 0 || push_dims(out, x, d) < 0 ||
            push_dims(out, x + d + 1, xn - d - 1) < 0) {
            return -1;
        }
        return 0;
    }
    if (s->batch_x && s->index_dim >= 0) {
        return cc_fail(CC_E_PY_RUNTIME,
                       "index dim must be negative if you're only batching over x (%s)", s->name);
    }
    if (canon_axis(s->index_dim, xn, &d) < 0) {
        return cc_error_prefix("index dim out of bounds for x_shape");
    }
    if (push_dims(out, x, d) < 0 || push_dims(out, index, in) < 0 ||
        push_dims(out, x + d + 1, xn - d - 1) < 0) {
        return -1;
    }
    out->num_non_batchable_output_dims = s->batch_x ? (int)(in + xn - d - 1) : out->ndim;
    out->input_batchable[0] = (uint8_t)s->batch_x;
    out->input_batchable[1] = 0;
    return 0;
}

static int
shape_info_explicit_index(const cc_gf_spec *s, int n, const int *ndims,
                          const int64_t *const *shapes, cc_gf_shape_info *out)
{
    if (n != 2) {
        return wrong_num(s, n, 2);
    }
    int xn = ndims[0], in = ndims[1];
    const int64_t *x = shapes[0], *index = shapes[1];
    int64_t batch_len = xn - s->x_non_batch_dims;
    if (batch_len < 0 || in < batch_len ||
        memcmp(x, index, (size_t)batch_len * sizeof(int64_t)) != 0) {
        char tail[96];
        snprintf(tail, sizeof tail, " index_dim=%" PRId64 " x_non_batch_dims=%" PRId64,
                 s->index_dim, s->x_non_batch_dims);
        return fail_index_shapes(CC_E_GENERAL_FUNCTION_SHAPE_EXPLICIT_INDEX_SHAPE_INVALID, s, ndims,
                                 shapes, tail);
    }
    int64_t d = 0;
    canon_axis(s->index_dim, s->x_non_batch_dims, &d); // checked when the spec was made
    d += batch_len;
    if (push_dims(out, index, in) < 0 || push_dims(out, x + batch_len, d - batch_len) < 0 ||
        push_dims(out, x + d + 1, xn - d - 1) < 0) {
        return -1;
    }
    out->num_non_batchable_output_dims = out->ndim - (int)batch_len;
    out->input_batchable[0] = 1;
    out->input_batchable[1] = 1;
    return 0;
}

// rc's multinomial shape rule: probs of rank >= 1, a 0-d seed; neither input batchable (a
// batched draw would not repeat the unbatched one's values).
static int
shape_info_multinomial(const cc_gf_spec *s, int n, const int *ndims, const int64_t *const *shapes,
                       cc_gf_shape_info *out)
{
    if (n != 2) {
        return wrong_num(s, n, 2);
    }
    if (ndims[1] != 0) {
        return cc_fail(CC_E_GENERAL_FUNCTION_SHAPE,
                       "general function %s: the seed must be 0-d, got rank %d", s->name, ndims[1]);
    }
    if (ndims[0] < 1) {
        return cc_fail(CC_E_GENERAL_FUNCTION_SHAPE_NDIM_TOO_SMALL,
                       "general function %s: probs must have at least one axis", s->name);
    }
    if (push_dims(out, shapes[0], ndims[0] - 1) < 0 ||
        push_dims(out, s->sample_shape, s->n_sample_dims) < 0) {
        return -1;
    }
    out->num_non_batchable_output_dims = s->n_sample_dims;
    out->input_batchable[0] = 0;
    out->input_batchable[1] = 0;
    return 0;
}

int
cc_gf_spec_shape_info(const cc_gf_spec *s, int n, const int *ndims, const int64_t *const *shapes,
                      cc_gf_shape_info *out)
{
    memset(out, 0, sizeof *out);
    if (n < 0 || n > MAX_INPUTS) {
        return cc_fail(CC_E_GENERAL_FUNCTION_SHAPE,
                       "general function %s: %d inputs; at most %d are supported", s->name, n,
                       MAX_INPUTS);
    }
    switch (s->kind) {
    case CC_GF_SIMPLE:
        return shape_info_simple(s, n, ndims, shapes, out);
    case CC_GF_GEN_INDEX:
        return shape_info_gen_index(s, n, ndims, shapes, out);
    case CC_GF_EXPLICIT_INDEX:
        return shape_info_explicit_index(s, n, ndims, shapes, out);
    case CC_GF_POW:
        if (n != 2) {
            return wrong_num(s, n, 2);
        }
        return shape_info_broadcast(n, ndims, shapes, out);
    case CC_GF_MULTINOMIAL:
        return shape_info_multinomial(s, n, ndims, shapes, out);
    case CC_GF_CAST:
        if (n != 1) {
            return wrong_num(s, n, 1);
        }
        out->input_batchable[0] = 1;
        return push_dims(out, shapes[0], ndims[0]);
    case CC_GF_CALLBACK:
        if (s->callbacks.shape_info(s->callbacks.ctx, n, ndims, shapes, out) < 0) {
            return -1;
        }
        if (out->ndim < 0 || out->ndim > CC_MAX_NDIM || out->num_non_batchable_output_dims < 0 ||
            out->num_non_batchable_output_dims > out->ndim) {
            return cc_fail(CC_E_GENERAL_FUNCTION_SHAPE,
                           "general function %s: shape info has %d axes and %d non-batchable "
                           "output dims",
                           s->name, out->ndim, out->num_non_batchable_output_dims);
        }
        return 0;
    }
    return cc_fail(CC_E_GENERAL_FUNCTION_SHAPE, "general function %s: unknown spec kind %d",
                   s->name, (int)s->kind);
}

// ---------------------------------------------------------------------------------------------
// The node kind

// rc's multinomial override: float probs, an int64 seed (where their dtypes are known); the
// indices are int64.
static cc_node *
multinomial_node_alloc(int n, cc_node *const *children, const cc_gf_shape_info *info,
                       const char *label)
{
    int probs = children[0]->dtype, seed = children[1]->dtype;
    if (probs >= 0 && !cc_dtype_is_floating_point((cc_dtype)probs)) {
        return cc_fail_null(CC_E_MISC_INPUT, "%s: probs have dtype %s, not a floating point one",
                            label, cc_dtype_name((cc_dtype)probs));
    }
    if (seed >= 0 && seed != CC_DTYPE_I64) {
        return cc_fail_null(CC_E_MISC_INPUT, "%s: the seed has dtype %s, not int64", label,
                            cc_dtype_name((cc_dtype)seed));
    }
    return cc_node_alloc_with_dtype(CC_KIND_GENERAL_FUNCTION, n, children, info->ndim, info->shape,
                                    CC_DTYPE_I64);
}

// rc's MiscInputCastIncompatibleDeviceDtypeError. A known input dtype means an Array below,
// whose tensor is in host memory, so the input's device is the CPU.
static cc_node *
cast_incompatible(const char *label, const cc_gf_spec *spec, int in_dtype)
{
    cc_gf_device_dtype actual = {CC_GF_DEVICE_CPU, in_dtype};
    cc_str m;
    cc_str_init(&m);
    cc_str_appendf(&m, "%s: Cast node got incompatible input, required compatibility ", label);
    cc_gf_device_dtype_append(&m, &spec->cast_in);
    cc_str_append(&m, "  actual ");
    cc_gf_device_dtype_append(&m, &actual);
    cc_fail(CC_E_MISC_INPUT_CAST_INCOMPATIBLE_DEVICE_DTYPE, "%s", m.data != NULL ? m.data : label);
    cc_str_clear(&m);
    return NULL;
}

// A spec written outside the core that decides the node's dtype (rc's
// get_device_dtype_override); where it decides nothing, the children's dtypes merge as usual.
static cc_node *
callback_node_alloc(int n, cc_node *const *children, const cc_gf_shape_info *info,
                    const cc_gf_spec *spec, const char *label)
{
    int dtypes[MAX_INPUTS], out = -1;
    for (int i = 0; i < n; i++) {
        dtypes[i] = children[i]->dtype;
    }
    int rc = spec->callbacks.dtype_override(spec->callbacks.ctx, n, dtypes, &out);
    if (rc < 0) {
        cc_error_prefix("%s: failed to get the device and dtype override", label);
        return NULL;
    }
    if (rc == 0) {
        return cc_node_alloc(CC_KIND_GENERAL_FUNCTION, n, children, info->ndim, info->shape);
    }
    return cc_node_alloc_with_dtype(CC_KIND_GENERAL_FUNCTION, n, children, info->ndim, info->shape,
                                    out);
}

cc_node *
cc_gf_new(int n, cc_node *const *children, cc_gf_spec *spec, const char *name)
{
    char desc[128], label[256];
    snprintf(label, sizeof label, "%s (%s)",
             cc_node_describe(CC_KIND_GENERAL_FUNCTION, name, desc, sizeof desc), spec->name);
    if (n < 0 || n > MAX_INPUTS) {
        return cc_fail_null(CC_E_GENERAL_FUNCTION_SHAPE,
                            "%s: %d children; at most %d are supported", label, n, MAX_INPUTS);
    }
    int ndims[MAX_INPUTS];
    const int64_t *shapes[MAX_INPUTS];
    for (int i = 0; i < n; i++) {
        ndims[i] = children[i]->ndim;
        shapes[i] = children[i]->shape;
    }
    cc_gf_shape_info info;
    if (cc_gf_spec_shape_info(spec, n, ndims, shapes, &info) < 0) {
        // rc raises the shape error's own class, with the node as context
        cc_error_prefix("%s: failed to compute shape info", label);
        return NULL;
    }
    cc_node *node;
    if (spec->kind == CC_GF_GEN_INDEX || spec->kind == CC_GF_EXPLICIT_INDEX) {
        // rc's index override: the index must be int64 (when known), the result is x's dtype
        int index_dtype = children[1]->dtype;
        if (index_dtype >= 0 && index_dtype != CC_DTYPE_I64) {
            return cc_fail_null(CC_E_MISC_INPUT_INDEX_DTYPE_NOT_I64,
                                "%s: the index has dtype %s, not int64", label,
                                cc_dtype_name((cc_dtype)index_dtype));
        }
        node = cc_node_alloc_with_dtype(CC_KIND_GENERAL_FUNCTION, n, children, info.ndim,
                                        info.shape, children[0]->dtype);
    } else if (spec->kind == CC_GF_MULTINOMIAL) {
        node = multinomial_node_alloc(n, children, &info, label);
    } else if (spec->kind == CC_GF_CAST) {
        // rc's cast override: the input must be compatible with what the spec requires, the
        // output takes the spec's fields and the input's where the spec leaves them open
        int in_dtype = children[0]->dtype;
        if (spec->cast_in.dtype >= 0 && in_dtype >= 0 && in_dtype != spec->cast_in.dtype) {
            return cast_incompatible(label, spec, in_dtype);
        }
        node =
            cc_node_alloc_with_dtype(CC_KIND_GENERAL_FUNCTION, n, children, info.ndim, info.shape,
                                     spec->cast_out.dtype >= 0 ? spec->cast_out.dtype : in_dtype);
    } else if (spec->kind == CC_GF_SIMPLE && SIMPLE_INFO[spec->simple_id].promote_int_to_f32 &&
               children[0]->dtype >= 0 &&
               !cc_dtype_is_floating_point((cc_dtype)children[0]->dtype)) {
        // rc's override for functions torch computes in float: integer or bool in, float32 out
        node = cc_node_alloc_with_dtype(CC_KIND_GENERAL_FUNCTION, n, children, info.ndim,
                                        info.shape, CC_DTYPE_F32);
    } else if (spec->kind == CC_GF_CALLBACK && spec->callbacks.dtype_override != NULL) {
        node = callback_node_alloc(n, children, &info, spec, label);
    } else {
        node = cc_node_alloc(CC_KIND_GENERAL_FUNCTION, n, children, info.ndim, info.shape);
    }
    if (node == NULL) {
        return NULL;
    }
    cc_gf_spec_incref(spec);
    node->u.gf.spec = spec;
    return cc_node_finish(node, name);
}

static void
gf_hash_non_name(const cc_node *n, cc_blake3 *h)
{
    cc_blake3_update(h, n->u.gf.spec->hash, 32);
    cc_node_hash_children(n, h);
}

static void
gf_free_payload(cc_node *n)
{
    cc_gf_spec_decref(n->u.gf.spec);
    n->u.gf.spec = NULL;
}

static cc_node *
gf_rebuild(const cc_node *n, cc_node *const *children, const char *name)
{
    return cc_gf_new(n->n_children, children, n->u.gf.spec, name);
}

// rc's node_type_uuid of GeneralFunction: 3c655670-b352-4a5f-891c-0d7160609341
static const uint8_t gf_type_uuid[16] = {0x3c, 0x65, 0x56, 0x70, 0xb3, 0x52, 0x4a, 0x5f,
                                         0x89, 0x1c, 0x0d, 0x71, 0x60, 0x60, 0x93, 0x41};

static const char *
gf_function_name(const cc_node *n)
{
    return n->u.gf.spec->name;
}

static const cc_name_op gf_name_op = {.cls = CC_NAME_FUNCTION, .function_name = gf_function_name};

// What a bijective line shows after a GeneralFunction whose spec is written in Python (rc's
// marker): the text cannot rebuild it, and the parser says so.
#define NOT_SERIALIZABLE "[NOT_SERIALIZABLE]"

// Between a Python spec's name and its path in the text (rc's serialisation).
#define PATH_SEPARATOR " at "

static int
gf_print_payload(const cc_node *n, const cc_payload_print *o, cc_str *out)
{
    const cc_gf_spec *s = n->u.gf.spec;
    if (cc_str_append(out, s->name) < 0) {
        return -1;
    }
    if (!o->bijection || s->kind != CC_GF_CALLBACK) {
        return 0;
    }
    if (s->path == NULL) {
        return cc_str_append(out, " " NOT_SERIALIZABLE);
    }
    return cc_str_append(out, PATH_SEPARATOR) < 0 ? -1 : cc_str_append(out, s->path);
}

// "<spec name> at <path>": the spec the caller loads from path (rc's new_from_parse). The
// node takes the line's name; the spec's own name is the one the loaded spec gives.
static cc_node *
parse_by_path(const cc_payload_parse *in, const char *sep, const char **at)
{
    const char *path = sep + strlen(PATH_SEPARATOR);
    *at = in->extra_at + (path - in->extra);
    if (in->gf_spec_by_path == NULL) {
        return cc_fail_null(CC_E_PARSE_CIRCUIT,
                            "GeneralFunction %.*s: this parse cannot load Python specs (path %s)",
                            (int)(sep - in->extra), in->extra, path);
    }
    cc_gf_spec *spec = in->gf_spec_by_path(in->ctx, path);
    if (spec == NULL) {
        return NULL;
    }
    *at = in->kind_at;
    cc_node *out = cc_gf_new(in->n_children, in->children, spec, in->name);
    cc_gf_spec_decref(spec);
    return out;
}

// A built-in spec's name, or a Python spec's name and path.
static cc_node *
gf_parse_payload(const cc_payload_parse *in, const char **at)
{
    if (cc_payload_expect(in, CC_KIND_GENERAL_FUNCTION, "its function's name", at) < 0) {
        return NULL;
    }
    *at = in->extra_at;
    size_t len = strlen(in->extra), k = sizeof NOT_SERIALIZABLE - 1;
    if (len >= k && strcmp(in->extra + len - k, NOT_SERIALIZABLE) == 0) {
        return cc_fail_null(CC_E_PARSE_CIRCUIT,
                            "GeneralFunction %.*s was written in Python and cannot be read back "
                            "from text",
                            (int)(len - k), in->extra);
    }
    const char *sep = strstr(in->extra, PATH_SEPARATOR);
    if (sep != NULL) {
        return parse_by_path(in, sep, at);
    }
    cc_gf_spec *spec = cc_gf_spec_by_name(in->extra);
    if (spec == NULL) {
        return NULL;
    }
    *at = in->kind_at;
    cc_node *out = cc_gf_new(in->n_children, in->children, spec, in->name);
    cc_gf_spec_decref(spec);
    return out;
}

static cc_node *
gf_expand(const cc_expand_call *e)
{
    cc_node **xs = e->xs;
    const cc_node *c = e->c;
    cc_gf_spec *spec = c->u.gf.spec;
    int *ndims = cc_malloc((size_t)(e->n > 0 ? e->n : 1) * sizeof(int));
    const int64_t **shapes = cc_malloc((size_t)(e->n > 0 ? e->n : 1) * sizeof(int64_t *));
    uint8_t *batchable = cc_malloc((size_t)(e->n > 0 ? e->n : 1));
    cc_node *out = NULL;
    if (ndims == NULL || shapes == NULL || batchable == NULL) {
        goto done;
    }
    for (int i = 0; i < e->n; i++) {
        ndims[i] = c->children[i]->ndim;
        shapes[i] = c->children[i]->shape;
    }
    cc_gf_shape_info info;
    if (cc_gf_spec_shape_info(spec, e->n, ndims, shapes, &info) < 0) {
        goto done;
    }
    for (int i = 0; i < e->n; i++) {
        batchable[i] = i < 64 ? info.input_batchable[i] : 0;
    }
    int bad;
    int r = cc_expand_batched_inputs(e, batchable, xs, &bad);
    if (r == 1) {
        cc_fail(CC_E_EXPAND_GENERAL_FUNCTION_TRIED_TO_BATCH_NON_BATCHABLE_INPUT,
                "input_i=%d is not batchable, but tried to batch it: %s (%s) got %d batch axes "
                "on input %d",
                bad, e->what, spec->name, e->br[bad], bad);
        goto done;
    }
    if (r < 0) {
        goto done;
    }
    out = cc_gf_new(e->n, xs, spec, c->name);
done:
    cc_free(ndims);
    cc_free(shapes);
    cc_free(batchable);
    return out;
}

// rc's child_axis_map: a batchable input's leading batch axes are the output's; the spec's
// shape information says which inputs are batchable and how many axes are batch axes.
static int
gf_child_axis_map(const cc_node *n, int i, int *out)
{
    int ndims[MAX_INPUTS];
    const int64_t *shapes[MAX_INPUTS];
    for (int k = 0; k < n->n_children; k++) {
        ndims[k] = n->children[k]->ndim;
        shapes[k] = n->children[k]->shape;
    }
    cc_gf_shape_info info;
    if (cc_gf_spec_shape_info(n->u.gf.spec, n->n_children, ndims, shapes, &info) < 0) {
        return -1;
    }
    int n_batch = n->ndim - info.num_non_batchable_output_dims;
    for (int j = 0; j < ndims[i]; j++) {
        out[j] = info.input_batchable[i] && j < n_batch ? j : -1;
    }
    return 0;
}

CC_DEFINE_KIND_OPS(gf, .free_payload = gf_free_payload, .expand = gf_expand,
                   .child_axis_map = gf_child_axis_map);
