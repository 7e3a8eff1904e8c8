// Conversions between every pair of dtypes: float32 <-> float16 and float32 <-> bfloat16
// rounded to nearest even with NaN and infinity kept, and the strided cast kernel that
// cc_tensor_copy_into runs. Each element is loaded into a wide type (float, double or int64)
// and stored from it, as torch converts: half types through float32, floats to integers
// through int64 (truncated, then wrapped to the narrower width), anything to bool as != 0.
#include <string.h>

#include "tensor/strided.h"
#include "tensor/tensor.h"

// ---------------------------------------------------------------------------------------------
// half types

static uint32_t
f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float
f32_from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

uint16_t
cc_f32_to_f16(float f)
{
    uint32_t x = f32_bits(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    uint32_t ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u) {
        return sign | 0x7e00u; // NaN: the quiet NaN
    }
    if (ax >= 0x477ff000u) {
        return sign | 0x7c00u; // 65520 and above round to infinity
    }
    if (ax >= 0x38800000u) {
        // Normal in float16 (>= 2^-14): rebias the exponent by 127 - 15 and round off 13
        // mantissa bits, ties to even; a carry out of the mantissa bumps the exponent.
        uint32_t m = ax - 0x38000000u;
        m += 0xfffu + ((m >> 13) & 1u);
        return sign | (uint16_t)(m >> 13);
    }
    if (ax <= 0x33000000u) {
        return sign; // at most 2^-25: rounds to zero (2^-25 itself is a tie, to even 0)
    }
    // Subnormal in float16: the value in units of 2^-24 is mant * 2^(e - 126).
    uint32_t e = ax >> 23;
    uint32_t mant = (ax & 0x7fffffu) | 0x800000u;
    uint32_t shift = 126u - e; // 14 .. 24
    uint32_t q = mant >> shift;
    uint32_t rem = mant & ((1u << shift) - 1u);
    uint32_t half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (q & 1u))) {
        q++;
    }
    return sign | (uint16_t)q;
}

float
cc_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t e = (h >> 10) & 0x1fu;
    uint32_t m = h & 0x3ffu;
    if (e == 0x1fu) {
        return f32_from_bits(sign | 0x7f800000u | (m << 13));
    }
    if (e != 0) {
        return f32_from_bits(sign | ((e + 112u) << 23) | (m << 13));
    }
    // Zero or subnormal: m units of 2^-24, exact in float32.
    float v = (float)m * 0x1p-24f;
    return sign ? -v : v;
}

uint16_t
cc_f32_to_bf16(float f)
{
    uint32_t x = f32_bits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) {
        return 0x7fc0u; // NaN: the quiet NaN, as torch writes it
    }
    x += 0x7fffu + ((x >> 16) & 1u);
    return (uint16_t)(x >> 16);
}

float
cc_bf16_to_f32(uint16_t b)
{
    return f32_from_bits((uint32_t)b << 16);
}

// ---------------------------------------------------------------------------------------------
// element loads and stores

// The wide types, as the fields of wide_block below.
enum { WIDE_F32, WIDE_F64, WIDE_I64 };
#define WIDE_INDEX_f32 WIDE_F32
#define WIDE_INDEX_f64 WIDE_F64
#define WIDE_INDEX_i64 WIDE_I64
#define WIDE_INDEX_(field) WIDE_INDEX_##field
#define WIDE_INDEX(field) WIDE_INDEX_(field)

#define LOAD_F32(v) (v)
#define LOAD_F64(v) (v)
#define LOAD_F16(v) cc_f16_to_f32(v)
#define LOAD_BF16(v) cc_bf16_to_f32(v)
#define LOAD_I8(v) ((int64_t)(v))
#define LOAD_I16(v) ((int64_t)(v))
#define LOAD_I32(v) ((int64_t)(v))
#define LOAD_I64(v) (v)
#define LOAD_U8(v) ((int64_t)(v))
#define LOAD_BOOL(v) ((int64_t)((v) != 0))

// The wide field each dtype loads into.
#define WIDE_OF_F32 f32
#define WIDE_OF_F64 f64
#define WIDE_OF_F16 f32
#define WIDE_OF_BF16 f32
#define WIDE_OF_I8 i64
#define WIDE_OF_I16 i64
#define WIDE_OF_I32 i64
#define WIDE_OF_I64 i64
#define WIDE_OF_U8 i64
#define WIDE_OF_BOOL i64

// Any wide value as int64: integers unchanged, floats truncated (saturating, NaN -> INT64_MIN).
#define TO_I64(x) _Generic((x), int64_t: (x), default: cc_f64_to_i64((double)(x)))

#define STORE_F32(x) ((float)(x))
#define STORE_F64(x) ((double)(x))
#define STORE_F16(x) cc_f32_to_f16((float)(x))
#define STORE_BF16(x) cc_f32_to_bf16((float)(x))
#define STORE_I8(x) ((int8_t)TO_I64(x))
#define STORE_I16(x) ((int16_t)TO_I64(x))
#define STORE_I32(x) ((int32_t)TO_I64(x))
#define STORE_I64(x) TO_I64(x)
#define STORE_U8(x) ((uint8_t)TO_I64(x))
#define STORE_BOOL(x) ((uint8_t)((x) != 0))

// Elements are converted in blocks through a buffer of wide values.
#define BLOCK 256

typedef union {
    float f32[BLOCK];
    double f64[BLOCK];
    int64_t i64[BLOCK];
} wide_block;

typedef void (*load_fn)(wide_block *w, const char *p, int64_t step, int64_t n);
typedef void (*store_fn)(char *p, int64_t step, const wide_block *w, int64_t n);

static const int wide_of[CC_DTYPE_COUNT] = {
#define CC_DTYPE(E, ctype, size, name, hash_name) [CC_DTYPE_##E] = WIDE_INDEX(WIDE_OF_##E),
#include "tensor/dtypes.def"
#undef CC_DTYPE
};

// load_<E>: n elements of E (step bytes apart) into the block's wide field for E.
#define CC_DTYPE(E, ctype, size, name, hash_name)                                                  \
    static void load_##E(wide_block *w, const char *p, int64_t step, int64_t n)                    \
    {                                                                                              \
        for (int64_t i = 0; i < n; i++) {                                                          \
            ctype v;                                                                               \
            memcpy(&v, p + i * step, sizeof v);                                                    \
            w->WIDE_OF_##E[i] = LOAD_##E(v);                                                       \
        }                                                                                          \
    }
#include "tensor/dtypes.def"
#undef CC_DTYPE

static const load_fn loads[CC_DTYPE_COUNT] = {
#define CC_DTYPE(E, ctype, size, name, hash_name) [CC_DTYPE_##E] = load_##E,
#include "tensor/dtypes.def"
#undef CC_DTYPE
};

// store_<E>_<field>: n wide values of that field into elements of E.
#define STORE_FROM(E, ctype, K)                                                                    \
    static void store_##E##_##K(char *p, int64_t step, const wide_block *w, int64_t n)             \
    {                                                                                              \
        for (int64_t i = 0; i < n; i++) {                                                          \
            ctype v = STORE_##E(w->K[i]);                                                          \
            memcpy(p + i * step, &v, sizeof v);                                                    \
        }                                                                                          \
    }
#define CC_DTYPE(E, ctype, size, name, hash_name)                                                  \
    STORE_FROM(E, ctype, f32) STORE_FROM(E, ctype, f64) STORE_FROM(E, ctype, i64)
#include "tensor/dtypes.def"
#undef CC_DTYPE
#undef STORE_FROM

static const store_fn stores[CC_DTYPE_COUNT][3] = {
#define CC_DTYPE(E, ctype, size, name, hash_name)                                                  \
    [CC_DTYPE_##E] = {store_##E##_f32, store_##E##_f64, store_##E##_i64},
#include "tensor/dtypes.def"
#undef CC_DTYPE
};

typedef struct {
    load_fn load;
    store_fn store;
} cast_pair;

static void
cast_row(char *const *p, const int64_t *s, int64_t n, void *ctx)
{
    const cast_pair *c = ctx;
    wide_block w;
    for (int64_t i = 0; i < n; i += BLOCK) {
        int64_t m = n - i < BLOCK ? n - i : BLOCK;
        c->load(&w, p[1] + i * s[1], s[1], m);
        c->store(p[0] + i * s[0], s[0], &w, m);
    }
}

// Same dtype, strided: element copies of a fixed size.
#define COPY_ROW(T)                                                                                \
    static void copy_row_##T(char *const *p, const int64_t *s, int64_t n, void *ctx)               \
    {                                                                                              \
        (void)ctx;                                                                                 \
        for (int64_t i = 0; i < n; i++) {                                                          \
            memcpy(p[0] + i * s[0], p[1] + i * s[1], sizeof(T));                                   \
        }                                                                                          \
    }
COPY_ROW(uint8_t)
COPY_ROW(uint16_t)
COPY_ROW(uint32_t)
COPY_ROW(uint64_t)
#undef COPY_ROW

void
cc_cast_run(const cc_iter *it, cc_dtype dst, cc_dtype src)
{
    if (dst == src) {
        size_t size = cc_dtype_size(dst);
        cc_row_fn copy = size == 1   ? copy_row_uint8_t
                         : size == 2 ? copy_row_uint16_t
                         : size == 4 ? copy_row_uint32_t
                                     : copy_row_uint64_t;
        cc_iter_run(it, copy, NULL);
        return;
    }
    cast_pair c = {loads[src], stores[dst][wide_of[src]]};
    cc_iter_run(it, cast_row, &c);
}

void
cc_dtype_store_f64(void *p, cc_dtype d, double value)
{
    wide_block w;
    w.f64[0] = value;
    stores[d][WIDE_F64](p, 0, &w, 1);
}

double
cc_dtype_load_f64(const void *p, cc_dtype d)
{
    wide_block w;
    loads[d](&w, p, 0, 1);
    switch (wide_of[d]) {
    case WIDE_F32:
        return (double)w.f32[0];
    case WIDE_I64:
        return (double)w.i64[0];
    default:
        return w.f64[0];
    }
}
