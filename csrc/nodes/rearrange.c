// RearrangeSpec (rc's einops-style axis groups): validation, the string form, conforming to an
// input shape, the tensor operation as a view or one copy, and the Rearrange node kind.
#include "nodes/rearrange.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "nodes/named_axes.h"
#include "nodes/node_impl.h"
#include "nodes/payload_text.h"
#include "nodes/shape.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/str.h"

#define N_INTS 256 // ints are u8, as in rc
// rc's alphabet: a-z, A-Z, then Greek lower case alpha..psi (UTF-8); int i prints as entry i.
#define N_LETTERS 76

static const uint8_t SPEC_IN_UUID[16] = {0x87, 0x18, 0xe8, 0xa1, 0xbf, 0x0a, 0x46, 0xfe,
                                         0xbe, 0x66, 0xbe, 0x88, 0x94, 0xbc, 0x41, 0xbd};
static const uint8_t SPEC_OUT_UUID[16] = {0xeb, 0xd6, 0x67, 0x68, 0xbb, 0x20, 0x43, 0xa4,
                                          0x8f, 0x5a, 0xfd, 0x51, 0xe7, 0x6a, 0x03, 0x33};
// rc's OpSize marks an unknown size with the top bit of a u64; the hash feeds that raw value.
#define OPSIZE_NONE_BITS (UINT64_C(1) << 63)

// ---------------------------------------------------------------------------------------------
// Formatting helpers for messages

// Appends "[0, 1, 2]" (rc's Debug of a list of ints).
static void
append_ints(cc_str *m, const uint8_t *ints, int n)
{
    cc_str_append(m, "[");
    for (int i = 0; i < n; i++) {
        cc_str_appendf(m, i ? ", %d" : "%d", ints[i]);
    }
    cc_str_append(m, "]");
}

static void
append_groups(cc_str *m, int n, const int *start, const uint8_t *ints)
{
    cc_str_append(m, "[");
    for (int g = 0; g < n; g++) {
        if (g) {
            cc_str_append(m, ", ");
        }
        append_ints(m, ints + start[g], start[g + 1] - start[g]);
    }
    cc_str_append(m, "]");
}

static void
append_sizes(cc_str *m, int n, const int64_t *sizes)
{
    cc_str_append(m, "[");
    for (int i = 0; i < n; i++) {
        if (i) {
            cc_str_append(m, ", ");
        }
        if (sizes[i] == CC_REARRANGE_SIZE_NONE) {
            cc_str_append(m, "None");
        } else {
            cc_str_appendf(m, "%" PRId64, sizes[i]);
        }
    }
    cc_str_append(m, "]");
}

// Records kind with the built message (or a short fallback when building it ran out of memory).
static int
fail_msg(cc_error_kind kind, cc_str *m, const char *fallback)
{
    if (m->data != NULL) {
        cc_fail(kind, "%s", m->data);
    } else {
        cc_fail(kind, "%s", fallback);
    }
    cc_str_clear(m);
    return -1;
}

// ---------------------------------------------------------------------------------------------
// Construction, copy, free

// One block: the struct, then sizes, group starts and ints.
static cc_rearrange_spec *
spec_alloc(int n_in, int n_in_ints, int n_out, int n_out_ints, int n_sizes)
{
    size_t head = sizeof(cc_rearrange_spec);
    size_t sizes_bytes = (size_t)n_sizes * sizeof(int64_t);
    size_t starts_bytes = ((size_t)n_in + 1 + (size_t)n_out + 1) * sizeof(int);
    size_t total = head + sizes_bytes + starts_bytes + (size_t)n_in_ints + (size_t)n_out_ints;
    char *p = cc_malloc(total);
    if (p == NULL) {
        return NULL;
    }
    cc_rearrange_spec *s = (cc_rearrange_spec *)p;
    s->n_in = n_in;
    s->n_out = n_out;
    s->n_sizes = n_sizes;
    s->sizes = (int64_t *)(p + head);
    s->in_start = (int *)(p + head + sizes_bytes);
    s->out_start = s->in_start + n_in + 1;
    s->in_ints = (uint8_t *)(p + head + sizes_bytes + starts_bytes);
    s->out_ints = s->in_ints + n_in_ints;
    return s;
}

// Checks rc's RearrangeSpec::check_valid conditions, in rc's order, on the raw groups.
static int
check_valid(int n_in, const int *in_start, const uint8_t *in_ints, int n_out, const int *out_start,
            const uint8_t *out_ints, int n_sizes, const int64_t *sizes)
{
    int n_in_ints = in_start[n_in], n_out_ints = out_start[n_out];
    int cnt_in[N_INTS] = {0}, cnt_out[N_INTS] = {0};
    int max_out = -1;
    for (int k = 0; k < n_in_ints; k++) {
        cnt_in[in_ints[k]]++;
    }
    for (int k = 0; k < n_out_ints; k++) {
        cnt_out[out_ints[k]]++;
        if (out_ints[k] > max_out) {
            max_out = out_ints[k];
        }
    }
    cc_str m;
    cc_str_init(&m);
    for (int side = 0; side < 2; side++) {
        const int *cnt = side == 0 ? cnt_in : cnt_out;
        for (int i = 0; i < N_INTS; i++) {
            if (cnt[i] > 1) {
                cc_str_appendf(&m, "invalid rearrange spec: ints not unique is_input=%s, ints=",
                               side == 0 ? "true" : "false");
                append_ints(&m, side == 0 ? in_ints : out_ints, side == 0 ? n_in_ints : n_out_ints);
                return fail_msg(CC_E_REARRANGE_SPEC_INTS_NOT_UNIQUE, &m,
                                "invalid rearrange spec: ints not unique");
            }
        }
    }
    uint8_t missing[N_INTS];
    int n_missing = 0;
    for (int i = 0; i < N_INTS; i++) {
        if (cnt_in[i] && !cnt_out[i]) {
            missing[n_missing++] = (uint8_t)i;
        }
    }
    if (n_missing > 0) {
        cc_str_append(&m, "invalid rearrange spec: inp int not in output difference=");
        append_ints(&m, missing, n_missing);
        cc_str_append(&m, ", input=");
        append_groups(&m, n_in, in_start, in_ints);
        cc_str_append(&m, ", output=");
        append_groups(&m, n_out, out_start, out_ints);
        return fail_msg(CC_E_REARRANGE_SPEC_INP_NOT_IN_OUT, &m,
                        "invalid rearrange spec: inp int not in output");
    }
    if (max_out >= n_sizes) {
        return cc_fail(CC_E_REARRANGE_SPEC_INT_NOT_IN_SIZES,
                       "invalid rearrange spec: int not in sizes vec, len_sizes=%d, max_int=%d",
                       n_sizes, max_out);
    }
    for (int i = 0; i < n_sizes; i++) {
        if (sizes[i] < CC_REARRANGE_SIZE_NONE) {
            return cc_fail(CC_E_REARRANGE_SPEC,
                           "invalid rearrange spec: int_sizes[%d]=%" PRId64 " is negative", i,
                           sizes[i]);
        }
    }
    n_missing = 0;
    for (int i = 0; i < N_INTS; i++) {
        if (cnt_out[i] && !cnt_in[i] && sizes[i] == CC_REARRANGE_SIZE_NONE) {
            missing[n_missing++] = (uint8_t)i;
        }
    }
    if (n_missing > 0) {
        cc_str_append(&m, "invalid rearrange spec: int only in output without size (a repeat "
                          "needs its count), only_in_output=");
        append_ints(&m, missing, n_missing);
        cc_str_append(&m, ", int_sizes=");
        append_sizes(&m, n_sizes, sizes);
        return fail_msg(CC_E_REARRANGE_SPEC_INT_ONLY_IN_OUTPUT_WITHOUT_SIZE, &m,
                        "invalid rearrange spec: int only in output without size");
    }
    for (int g = 0; g < n_in; g++) {
        int wild = 0;
        for (int k = in_start[g]; k < in_start[g + 1]; k++) {
            wild += sizes[in_ints[k]] == CC_REARRANGE_SIZE_NONE;
        }
        if (wild > 1) {
            cc_str_appendf(&m,
                           "invalid rearrange spec: input axis %d has multiple wildcards (%d ints "
                           "without a size), ints=",
                           g, wild);
            append_groups(&m, n_in, in_start, in_ints);
            cc_str_append(&m, " int_sizes=");
            append_sizes(&m, n_sizes, sizes);
            return fail_msg(CC_E_REARRANGE_SPEC_INPUT_AXIS_HAS_MULTIPLE_WILD_CARDS, &m,
                            "invalid rearrange spec: input axis has multiple wildcards");
        }
    }
    return 0;
}

// Fills starts from lengths; -1 with an error on a negative length or too many ints.
static int
lens_to_starts(int n, const int *lens, int *start, const char *side)
{
    start[0] = 0;
    for (int g = 0; g < n; g++) {
        if (lens[g] < 0 || lens[g] > N_INTS) {
            return cc_fail(CC_E_REARRANGE_SPEC, "invalid rearrange spec: %s axis %d has %d ints",
                           side, g, lens[g]);
        }
        if (start[g] + lens[g] > N_INTS) {
            // ints are u8 and unique per side, so more than 256 always repeats one
            return cc_fail(CC_E_REARRANGE_SPEC_INTS_NOT_UNIQUE,
                           "invalid rearrange spec: ints not unique is_input=%s "
                           "(more than %d ints)",
                           strcmp(side, "input") == 0 ? "true" : "false", N_INTS);
        }
        start[g + 1] = start[g] + lens[g];
    }
    return 0;
}

static cc_rearrange_spec *
spec_new_from_starts(int n_in, const int *in_start, const uint8_t *in_ints, int n_out,
                     const int *out_start, const uint8_t *out_ints, int n_sizes,
                     const int64_t *sizes)
{
    if (n_sizes < 0) {
        return cc_fail_null(CC_E_REARRANGE_SPEC, "invalid rearrange spec: %d sizes", n_sizes);
    }
    if (check_valid(n_in, in_start, in_ints, n_out, out_start, out_ints, n_sizes, sizes) < 0) {
        return NULL;
    }
    cc_rearrange_spec *s = spec_alloc(n_in, in_start[n_in], n_out, out_start[n_out], n_sizes);
    if (s == NULL) {
        return NULL;
    }
    memcpy(s->in_start, in_start, ((size_t)n_in + 1) * sizeof(int));
    memcpy(s->out_start, out_start, ((size_t)n_out + 1) * sizeof(int));
    if (in_start[n_in] > 0) {
        memcpy(s->in_ints, in_ints, (size_t)in_start[n_in]);
    }
    if (out_start[n_out] > 0) {
        memcpy(s->out_ints, out_ints, (size_t)out_start[n_out]);
    }
    if (n_sizes > 0) {
        memcpy(s->sizes, sizes, (size_t)n_sizes * sizeof(int64_t));
    }
    return s;
}

cc_rearrange_spec *
cc_rearrange_spec_new(int n_in, const int *in_lens, const uint8_t *in_ints, int n_out,
                      const int *out_lens, const uint8_t *out_ints, int n_sizes,
                      const int64_t *sizes)
{
    if (n_in < 0 || n_out < 0) {
        return cc_fail_null(CC_E_REARRANGE_SPEC,
                            "invalid rearrange spec: %d input axes, %d output axes", n_in, n_out);
    }
    int *starts = cc_malloc(((size_t)n_in + (size_t)n_out + 2) * sizeof(int));
    if (starts == NULL) {
        return NULL;
    }
    cc_rearrange_spec *s = NULL;
    int *in_start = starts, *out_start = starts + n_in + 1;
    if (lens_to_starts(n_in, in_lens, in_start, "input") == 0 &&
        lens_to_starts(n_out, out_lens, out_start, "output") == 0) {
        s = spec_new_from_starts(n_in, in_start, in_ints, n_out, out_start, out_ints, n_sizes,
                                 sizes);
    }
    cc_free(starts);
    return s;
}

cc_rearrange_spec *
cc_rearrange_spec_copy(const cc_rearrange_spec *s)
{
    cc_rearrange_spec *c =
        spec_alloc(s->n_in, s->in_start[s->n_in], s->n_out, s->out_start[s->n_out], s->n_sizes);
    if (c == NULL) {
        return NULL;
    }
    memcpy(c->in_start, s->in_start, ((size_t)s->n_in + 1) * sizeof(int));
    memcpy(c->out_start, s->out_start, ((size_t)s->n_out + 1) * sizeof(int));
    memcpy(c->in_ints, s->in_ints, (size_t)s->in_start[s->n_in]);
    memcpy(c->out_ints, s->out_ints, (size_t)s->out_start[s->n_out]);
    memcpy(c->sizes, s->sizes, (size_t)s->n_sizes * sizeof(int64_t));
    return c;
}

void
cc_rearrange_spec_free(cc_rearrange_spec *s)
{
    cc_free(s);
}

// Same groups, other sizes (already known to keep the spec valid).
static cc_rearrange_spec *
spec_with_sizes(const cc_rearrange_spec *s, const int64_t *sizes)
{
    cc_rearrange_spec *c = cc_rearrange_spec_copy(s);
    if (c != NULL) {
        memcpy(c->sizes, sizes, (size_t)s->n_sizes * sizeof(int64_t));
    }
    return c;
}

// ---------------------------------------------------------------------------------------------
// String form

// Appends rc's letter for int i; -1 with an error when rc's alphabet has none.
static int
append_letter(cc_str *m, int i)
{
    if (i >= N_LETTERS) {
        return cc_fail(CC_E_REARRANGE_SPEC, "rearrange int %d has no letter (rc's alphabet has %d)",
                       i, N_LETTERS);
    }
    if (i < 26) {
        char c[2] = {(char)('a' + i), 0};
        return cc_str_append(m, c);
    }
    if (i < 52) {
        char c[2] = {(char)('A' + i - 26), 0};
        return cc_str_append(m, c);
    }
    // U+03B1 (alpha) + k, encoded as UTF-8
    unsigned cp = 0x3B1u + (unsigned)(i - 52);
    char c[3] = {(char)(0xC0u | (cp >> 6)), (char)(0x80u | (cp & 0x3Fu)), 0};
    return cc_str_append(m, c);
}

static int
append_side(cc_str *m, const cc_rearrange_spec *s, int n, const int *start, const uint8_t *ints,
            const uint8_t *in_other)
{
    for (int g = 0; g < n; g++) {
        int len = start[g + 1] - start[g];
        if (g > 0 && cc_str_append(m, " ") < 0) {
            return -1;
        }
        if (len != 1 && cc_str_append(m, "(") < 0) {
            return -1;
        }
        for (int k = start[g]; k < start[g + 1]; k++) {
            int i = ints[k];
            int64_t size = s->sizes[i];
            if (k > start[g] && cc_str_append(m, " ") < 0) {
                return -1;
            }
            if (in_other[i] || size == CC_REARRANGE_SIZE_NONE) {
                if (append_letter(m, i) < 0) {
                    return -1;
                }
                if (size != CC_REARRANGE_SIZE_NONE &&
                    (cc_str_append(m, ":") < 0 || cc_size_append(m, size) < 0)) {
                    return -1;
                }
            } else if (cc_size_append(m, size) < 0) {
                return -1;
            }
        }
        if (len != 1 && cc_str_append(m, ")") < 0) {
            return -1;
        }
    }
    return 0;
}

static int
append_spec(cc_str *m, const cc_rearrange_spec *s)
{
    uint8_t in_inp[N_INTS] = {0}, in_out[N_INTS] = {0};
    for (int k = 0; k < s->in_start[s->n_in]; k++) {
        in_inp[s->in_ints[k]] = 1;
    }
    for (int k = 0; k < s->out_start[s->n_out]; k++) {
        in_out[s->out_ints[k]] = 1;
    }
    if (append_side(m, s, s->n_in, s->in_start, s->in_ints, in_out) < 0 ||
        cc_str_append(m, " -> ") < 0 ||
        append_side(m, s, s->n_out, s->out_start, s->out_ints, in_inp) < 0) {
        return -1;
    }
    return 0;
}

char *
cc_rearrange_spec_to_string(const cc_rearrange_spec *s)
{
    cc_str m;
    cc_str_init(&m);
    if (append_spec(&m, s) < 0) {
        cc_str_clear(&m);
        return NULL;
    }
    return cc_str_take(&m);
}

// Appends the spec for a message: its string, or its raw groups when it has no string form
// (only while an error is being reported, so the record that fails here is replaced anyway).
static void
describe_spec(cc_str *m, const cc_rearrange_spec *s)
{
    cc_str t;
    cc_str_init(&t);
    if (append_spec(&t, s) == 0 && t.data != NULL) {
        cc_str_append(m, t.data);
    } else {
        cc_str_append(m, "input_ints=");
        append_groups(m, s->n_in, s->in_start, s->in_ints);
        cc_str_append(m, " output_ints=");
        append_groups(m, s->n_out, s->out_start, s->out_ints);
        cc_str_append(m, " int_sizes=");
        append_sizes(m, s->n_sizes, s->sizes);
    }
    cc_str_clear(&t);
}

typedef struct {
    const char *text; // the whole string, for messages
    int n_sizes;
    int64_t sizes[N_INTS];
    int n_names;
    const char *name_at[N_INTS]; // the name of named int k starts here (inside text)
    int name_len[N_INTS];
    uint8_t name_int[N_INTS];
    // groups of the side being parsed
    int n_groups;
    size_t cap_groups;
    int *start; // n_groups + 1 entries
    int n_ints;
    uint8_t ints[N_INTS];
} parse_state;

static int
parse_fail(const parse_state *ps, cc_error_kind kind, const char *what, const char *at)
{
    return cc_fail(kind, "rearrange string \"%s\": %s at column %d", ps->text, what,
                   (int)(at - ps->text) + 1);
}

static int
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int
is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
is_word(char c)
{
    return is_alpha(c) || is_digit(c) || c == '_';
}

static int
is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// One factor: a digit then digits or '_' (rc's UINT_WITH_UNDERSCORE), with an optional 's'
// marking a symbolic size ("3s" stands for the 4th reserved prime). Advances *p.
static int
parse_factor(parse_state *ps, const char **p, const char *end, uint64_t *out, int *symbolic)
{
    const char *q = *p;
    uint64_t v = 0;
    if (q >= end || !is_digit(*q)) {
        return parse_fail(ps, CC_E_REARRANGE_PARSE_FAILED_TO_MATCH_REGEX, "expected a size", q);
    }
    for (; q < end && (is_digit(*q) || *q == '_'); q++) {
        if (*q == '_') {
            continue;
        }
        uint64_t d = (uint64_t)(*q - '0');
        if (v > (UINT64_MAX - d) / 10) {
            return parse_fail(ps, CC_E_PARSE_INVALID_NUMBER, "number too large", *p);
        }
        v = v * 10 + d;
    }
    *symbolic = q < end && *q == 's';
    if (*symbolic) {
        if (v >= CC_N_SYMBOLIC_SIZES) {
            return parse_fail(ps, CC_E_PARSE_SYMBOLIC_SIZE_NUMBER_OUT_OF_BOUNDS,
                              "symbolic size number out of bounds (there are 256)", *p);
        }
        v = (uint64_t)cc_symbolic_size((int)v);
        q++;
    }
    *p = q;
    *out = v;
    return 0;
}

// A size product: factor ('*' factor)*, e.g. "2*1s"; spaces around '*' only when allow_spaces.
static int
parse_size(parse_state *ps, const char **p, const char *end, int allow_spaces, int64_t *out)
{
    const char *start = *p;
    uint64_t plain = 1, symbolic = 1, f = 0;
    int is_sym = 0;
    for (;;) {
        if (parse_factor(ps, p, end, &f, &is_sym) < 0) {
            return -1;
        }
        uint64_t *acc = is_sym ? &symbolic : &plain;
        if (__builtin_mul_overflow(*acc, f, acc)) {
            return parse_fail(ps,
                              is_sym ? CC_E_SYMBOLIC_SIZE_OVERFLOW_PRODUCT_TOO_LARGE
                                     : CC_E_PARSE_FACTOR_PRODUCT_TOO_LARGE,
                              "size product too large", start);
        }
        const char *q = *p;
        while (allow_spaces && q < end && is_space(*q)) {
            q++;
        }
        if (q >= end || *q != '*') {
            break;
        }
        q++;
        while (allow_spaces && q < end && is_space(*q)) {
            q++;
        }
        if (q >= end || !is_digit(*q)) {
            break; // as rc's regex: the product ends before a '*' not followed by a factor
        }
        *p = q;
    }
    uint64_t total;
    if (__builtin_mul_overflow(plain, symbolic, &total)) {
        return parse_fail(ps, CC_E_SYMBOLIC_SIZE_OVERFLOW_PRODUCT_TOO_LARGE,
                          "size product too large", start);
    }
    if (total > (uint64_t)INT64_MAX) {
        return parse_fail(ps, CC_E_PARSE_INVALID_NUMBER, "size too large", start);
    }
    *out = (int64_t)total;
    return 0;
}

// A fresh int (rc: pushes a size; more than 256 ints is TooManyAxes).
static int
new_int(parse_state *ps, int64_t size, const char *at)
{
    if (ps->n_sizes >= N_INTS) {
        return parse_fail(ps, CC_E_REARRANGE_PARSE_TOO_MANY_AXES, "more than 256 axis ints", at);
    }
    ps->sizes[ps->n_sizes] = size;
    return ps->n_sizes++;
}

static int
push_int(parse_state *ps, int i, const char *at)
{
    if (ps->n_ints >= N_INTS) {
        // an int repeated on one side; check_valid reports it the way rc does
        return parse_fail(ps, CC_E_REARRANGE_SPEC_INTS_NOT_UNIQUE, "more than 256 ints on one side",
                          at);
    }
    ps->ints[ps->n_ints++] = (uint8_t)i;
    return 0;
}

// A name, optionally ":size" (no spaces around ':'); the int of the name, created on first use.
static int
parse_name(parse_state *ps, const char **p, const char *end)
{
    const char *s = *p, *q = *p;
    while (q < end && is_word(*q)) {
        q++;
    }
    int len = (int)(q - s);
    int id = -1;
    for (int k = 0; k < ps->n_names; k++) {
        if (ps->name_len[k] == len && memcmp(ps->name_at[k], s, (size_t)len) == 0) {
            id = ps->name_int[k];
            break;
        }
    }
    if (id < 0) {
        id = new_int(ps, CC_REARRANGE_SIZE_NONE, s);
        if (id < 0) {
            return -1;
        }
        ps->name_at[ps->n_names] = s;
        ps->name_len[ps->n_names] = len;
        ps->name_int[ps->n_names] = (uint8_t)id;
        ps->n_names++;
    }
    if (q < end && *q == ':') {
        q++;
        int64_t size;
        if (parse_size(ps, &q, end, 1, &size) < 0) {
            return -1;
        }
        ps->sizes[id] = size;
    }
    *p = q;
    return id;
}

static int
open_group(parse_state *ps)
{
    // close_group writes the entry after this one
    if (cc_grow((void **)&ps->start, &ps->cap_groups, (size_t)ps->n_groups + 2, sizeof(int)) < 0) {
        return -1;
    }
    ps->start[ps->n_groups] = ps->n_ints;
    return 0;
}

static void
close_group(parse_state *ps)
{
    ps->n_groups++;
    ps->start[ps->n_groups] = ps->n_ints;
}

// One item of a group: a bare size (a fresh int) or a name[:size]. Returns the int.
static int
parse_item(parse_state *ps, const char **p, const char *end, int allow_spaces)
{
    if (is_digit(**p)) {
        const char *at = *p;
        int64_t size;
        if (parse_size(ps, p, end, allow_spaces, &size) < 0) {
            return -1;
        }
        return new_int(ps, size, at);
    }
    if (is_alpha(**p)) {
        return parse_name(ps, p, end);
    }
    return parse_fail(ps, CC_E_REARRANGE_PARSE_FAILED_TO_MATCH_REGEX,
                      "expected a name, a size or '('", *p);
}

// Parses one side, [p, end), into ps's groups and ints.
static int
parse_side(parse_state *ps, const char *p, const char *end)
{
    ps->n_groups = 0;
    ps->n_ints = 0;
    for (;;) {
        while (p < end && is_space(*p)) {
            p++;
        }
        if (p >= end) {
            break;
        }
        if (open_group(ps) < 0) {
            return -1;
        }
        if (*p == '(') {
            const char *open = p++;
            for (;;) {
                while (p < end && is_space(*p)) {
                    p++;
                }
                if (p >= end) {
                    return parse_fail(ps, CC_E_REARRANGE_PARSE_FAILED_TO_MATCH_REGEX,
                                      "unclosed '('", open);
                }
                if (*p == ')') {
                    p++;
                    break;
                }
                const char *at = p;
                int i = parse_item(ps, &p, end, 0);
                if (i < 0 || push_int(ps, i, at) < 0) {
                    return -1;
                }
                // rc splits a group on whitespace, so items inside one must be separated
                if (p < end && !is_space(*p) && *p != ')') {
                    return parse_fail(ps, CC_E_REARRANGE_PARSE_FAILED_TO_MATCH_REGEX,
                                      "unexpected character in group", p);
                }
            }
        } else {
            const char *at = p;
            int i = parse_item(ps, &p, end, 1);
            if (i < 0 || push_int(ps, i, at) < 0) {
                return -1;
            }
        }
        close_group(ps);
    }
    return 0;
}

cc_rearrange_spec *
cc_rearrange_spec_from_string(const char *s)
{
    const char *arrow = strstr(s, "->");
    if (arrow == NULL || strstr(arrow + 2, "->") != NULL) {
        return cc_fail_null(CC_E_REARRANGE_PARSE_ARROW_ISSUE,
                            "rearrange string \"%s\" must contain exactly one \"->\"", s);
    }
    parse_state *ps = cc_calloc(1, sizeof(parse_state));
    if (ps == NULL) {
        return NULL;
    }
    ps->text = s;
    cc_rearrange_spec *out = NULL;
    int *in_start = NULL;
    uint8_t in_ints[N_INTS];
    int n_in = 0;
    if (parse_side(ps, s, arrow) < 0) {
        goto done;
    }
    n_in = ps->n_groups;
    in_start = cc_malloc(((size_t)n_in + 1) * sizeof(int));
    if (in_start == NULL) {
        goto done;
    }
    if (n_in == 0) {
        in_start[0] = 0;
    } else {
        memcpy(in_start, ps->start, ((size_t)n_in + 1) * sizeof(int));
    }
    memcpy(in_ints, ps->ints, (size_t)ps->n_ints);
    if (parse_side(ps, arrow + 2, s + strlen(s)) < 0) {
        goto done;
    }
    int empty_start = 0;
    out = spec_new_from_starts(n_in, in_start, in_ints, ps->n_groups,
                               ps->n_groups ? ps->start : &empty_start, ps->ints, ps->n_sizes,
                               ps->sizes);
    if (out == NULL) {
        cc_error_prefix("rearrange string \"%s\"", s);
    }
done:
    cc_free(in_start);
    cc_free(ps->start);
    cc_free(ps);
    return out;
}

// ---------------------------------------------------------------------------------------------
// Shapes

static int
fail_not_conformable(const cc_rearrange_spec *s, int ndim, const int64_t *shape, const char *why)
{
    cc_str m;
    cc_str_init(&m);
    cc_str_append(&m, "RearrangeSpec not conformable, ");
    describe_spec(&m, s);
    cc_str_append(&m, " ");
    cc_shape_append(&m, ndim, shape);
    cc_str_appendf(&m, " (%s)", why);
    return fail_msg(CC_E_REARRANGE_SPEC_INPUT_NOT_CONFORMABLE, &m, "RearrangeSpec not conformable");
}

cc_rearrange_spec *
cc_rearrange_spec_conform(const cc_rearrange_spec *s, int ndim, const int64_t *shape)
{
    if (ndim != s->n_in) {
        fail_not_conformable(s, ndim, shape, "the spec has another number of input axes");
        return NULL;
    }
    int64_t *sizes = cc_malloc(((size_t)s->n_sizes + 1) * sizeof(int64_t));
    if (sizes == NULL) {
        return NULL;
    }
    if (s->n_sizes > 0) {
        memcpy(sizes, s->sizes, (size_t)s->n_sizes * sizeof(int64_t));
    }
    for (int g = 0; g < s->n_in; g++) {
        int wildcard = -1;
        int64_t known = 1;
        for (int k = s->in_start[g]; k < s->in_start[g + 1]; k++) {
            int64_t size = s->sizes[s->in_ints[k]];
            if (size == CC_REARRANGE_SIZE_NONE) {
                wildcard = s->in_ints[k]; // check_valid allows at most one per group
            } else if (__builtin_mul_overflow(known, size, &known)) {
                cc_free(sizes);
                fail_not_conformable(s, ndim, shape, "sizes overflow");
                return NULL;
            }
        }
        int64_t l = shape[g];
        int ok;
        if (wildcard < 0) {
            ok = l == known;
        } else {
            // with a zero-sized sibling the wildcard's size is not determined
            ok = known != 0 && l % known == 0;
        }
        if (!ok) {
            char why[96];
            snprintf(why, sizeof why, "axis %d has size %" PRId64 ", the spec %s %" PRId64, g, l,
                     wildcard < 0 ? "needs" : "needs a multiple of", known);
            cc_free(sizes);
            fail_not_conformable(s, ndim, shape, why);
            return NULL;
        }
        if (wildcard >= 0) {
            sizes[wildcard] = l / known;
        }
    }
    cc_rearrange_spec *c = spec_with_sizes(s, sizes);
    cc_free(sizes);
    return c;
}

// Size of each group of one side; -1 with HAS_WILDCARD_SIZES or on overflow.
static int
side_shape(const cc_rearrange_spec *s, int n, const int *start, const uint8_t *ints, int64_t *shape)
{
    for (int g = 0; g < n; g++) {
        int64_t total = 1;
        for (int k = start[g]; k < start[g + 1]; k++) {
            int64_t size = s->sizes[ints[k]];
            if (size == CC_REARRANGE_SIZE_NONE) {
                cc_str m;
                cc_str_init(&m);
                cc_str_append(&m, "RearrangeSpec has wildcard sizes, ");
                describe_spec(&m, s);
                return fail_msg(CC_E_REARRANGE_SPEC_HAS_WILDCARD_SIZES, &m,
                                "RearrangeSpec has wildcard sizes");
            }
            if (__builtin_mul_overflow(total, size, &total)) {
                return cc_fail(CC_E_REARRANGE_SPEC, "rearrange axis %d: size overflows", g);
            }
        }
        shape[g] = total;
    }
    return 0;
}

int
cc_rearrange_spec_out_shape(const cc_rearrange_spec *s, int *ndim, int64_t *shape)
{
    if (s->n_out > CC_MAX_NDIM) {
        return cc_fail(CC_E_REARRANGE_SPEC_LEN_SHAPE_TOO_LARGE,
                       "len_shape=%d > %d: a rearrange output may have at most %d axes", s->n_out,
                       CC_MAX_NDIM, CC_MAX_NDIM);
    }
    if (side_shape(s, s->n_out, s->out_start, s->out_ints, shape) < 0) {
        return -1;
    }
    *ndim = s->n_out;
    return 0;
}

// ---------------------------------------------------------------------------------------------
// Tensor operation

int
cc_rearrange_apply(cc_tensor *out, const cc_rearrange_spec *s, const cc_tensor *x)
{
    int n_out = 0;
    int64_t out_shape[CC_MAX_NDIM];
    if (cc_rearrange_spec_out_shape(s, &n_out, out_shape) < 0) {
        return -1;
    }
    if (x->ndim != s->n_in) {
        return fail_not_conformable(s, x->ndim, x->shape, "tensor has another number of axes");
    }
    int64_t in_shape[CC_MAX_NDIM];
    if (side_shape(s, s->n_in, s->in_start, s->in_ints, in_shape) < 0) {
        return -1;
    }
    // Stride of each int: input groups split row-major; ints only in the output repeat (0).
    int64_t stride[N_INTS] = {0};
    for (int g = 0; g < s->n_in; g++) {
        if (in_shape[g] != x->shape[g]) {
            return fail_not_conformable(s, x->ndim, x->shape, "tensor shape differs");
        }
        int64_t st = x->strides[g];
        for (int k = s->in_start[g + 1] - 1; k >= s->in_start[g]; k--) {
            stride[s->in_ints[k]] = st;
            st *= s->sizes[s->in_ints[k]];
        }
    }
    // Each output group as one strided axis when its (non-1) ints nest exactly.
    int64_t out_strides[CC_MAX_NDIM];
    int is_view = 1;
    for (int g = 0; g < n_out; g++) {
        int last = -1;
        for (int k = s->out_start[g]; k < s->out_start[g + 1]; k++) {
            int i = s->out_ints[k];
            if (s->sizes[i] == 1) {
                continue;
            }
            if (last >= 0 && stride[last] != stride[i] * s->sizes[i]) {
                is_view = 0;
            }
            last = i;
        }
        out_strides[g] = last >= 0 ? stride[last] : 0;
    }
    if (is_view || cc_shape_numel(n_out, out_shape) == 0) {
        cc_tensor_init_view(out, x);
        out->ndim = n_out;
        for (int g = 0; g < n_out; g++) {
            out->shape[g] = out_shape[g];
            out->strides[g] = is_view ? out_strides[g] : 0;
        }
        return 0;
    }
    // Otherwise one copy: a view with an axis per run of nesting ints, in output order,
    // reshaped (copied) to the output groups.
    cc_tensor t;
    cc_tensor_init_view(&t, x);
    int nd = 0;
    for (int g = 0; g < n_out; g++) {
        int last = -1;
        for (int k = s->out_start[g]; k < s->out_start[g + 1]; k++) {
            int i = s->out_ints[k];
            int64_t size = s->sizes[i];
            if (size == 1) {
                continue;
            }
            if (last >= 0 && stride[last] == stride[i] * size) {
                t.shape[nd - 1] *= size;
                t.strides[nd - 1] = stride[i];
            } else {
                if (nd == CC_MAX_NDIM) {
                    cc_tensor_clear(&t);
                    return cc_fail(CC_E_REARRANGE_SPEC_LEN_SHAPE_TOO_LARGE,
                                   "rearrange needs more than %d intermediate axes", CC_MAX_NDIM);
                }
                t.shape[nd] = size;
                t.strides[nd] = stride[i];
                nd++;
            }
            last = i;
        }
    }
    t.ndim = nd;
    int rc = cc_tensor_reshape(out, &t, n_out, out_shape);
    cc_tensor_clear(&t);
    return rc;
}

// ---------------------------------------------------------------------------------------------
// Hash and the node kind

void
cc_rearrange_spec_hash(const cc_rearrange_spec *s, uint8_t out[32])
{
    cc_blake3 h;
    cc_blake3_init(&h);
    for (int g = 0; g < s->n_in; g++) {
        cc_blake3_update(&h, SPEC_IN_UUID, 16);
        cc_blake3_update(&h, s->in_ints + s->in_start[g],
                         (size_t)(s->in_start[g + 1] - s->in_start[g]));
    }
    for (int g = 0; g < s->n_out; g++) {
        cc_blake3_update(&h, SPEC_OUT_UUID, 16);
        cc_blake3_update(&h, s->out_ints + s->out_start[g],
                         (size_t)(s->out_start[g + 1] - s->out_start[g]));
    }
    cc_blake3_update(&h, SPEC_OUT_UUID, 16);
    for (int i = 0; i < s->n_sizes; i++) {
        int64_t size = s->sizes[i];
        cc_blake3_update(&h, SPEC_OUT_UUID, 16);
        cc_blake3_update_u64_le(&h,
                                size == CC_REARRANGE_SIZE_NONE ? OPSIZE_NONE_BITS : (uint64_t)size);
    }
    cc_blake3_final(&h, out, 32);
}

cc_node *
cc_rearrange_new(cc_node *child, const cc_rearrange_spec *spec, const char *name)
{
    int ndim = 0;
    int64_t shape[CC_MAX_NDIM];
    cc_rearrange_spec *conformed = cc_rearrange_spec_conform(spec, child->ndim, child->shape);
    if (conformed == NULL || cc_rearrange_spec_out_shape(conformed, &ndim, shape) < 0) {
        // A shape that does not fit is the construction error rc declares for it (rc itself
        // surfaces the spec's NotConformable class); other spec errors keep their class.
        if (cc_error_kind_get() == CC_E_REARRANGE_SPEC_INPUT_NOT_CONFORMABLE) {
            cc_error_recast(CC_E_CONSTRUCT_REARRANGE_WRONG_INPUT_SHAPE);
        }
        char label[160];
        cc_str m;
        cc_str_init(&m);
        cc_str_append(&m, cc_node_describe(CC_KIND_REARRANGE, name, label, sizeof label));
        cc_str_append(&m, " with child shape ");
        cc_shape_append(&m, child->ndim, child->shape);
        cc_error_prefix("%s", m.data != NULL ? m.data : "Rearrange");
        cc_str_clear(&m);
        cc_rearrange_spec_free(conformed);
        return NULL;
    }
    cc_rearrange_spec_free(conformed);
    cc_rearrange_spec *copy = cc_rearrange_spec_copy(spec);
    if (copy == NULL) {
        return NULL;
    }
    cc_node *n = cc_node_alloc(CC_KIND_REARRANGE, 1, &child, ndim, shape);
    if (n == NULL) {
        cc_rearrange_spec_free(copy);
        return NULL;
    }
    n->u.rearrange.spec = copy;
    return cc_node_finish(n, name);
}

static void
rearrange_hash_non_name(const cc_node *n, cc_blake3 *h)
{
    uint8_t spec_hash[32];
    cc_rearrange_spec_hash(n->u.rearrange.spec, spec_hash);
    cc_blake3_update(h, spec_hash, 32);
    cc_node_hash_children(n, h);
}

static void
rearrange_free_payload(cc_node *n)
{
    cc_rearrange_spec_free(n->u.rearrange.spec);
    n->u.rearrange.spec = NULL;
}

static cc_node *
rearrange_rebuild(const cc_node *n, cc_node *const *children, const char *name)
{
    return cc_rearrange_new(children[0], n->u.rearrange.spec, name);
}

// rc's node_type_uuid of Rearrange: 13204d30-2f12-4edd-8765-34bc8b458ef2
static const uint8_t rearrange_type_uuid[16] = {0x13, 0x20, 0x4d, 0x30, 0x2f, 0x12, 0x4e, 0xdd,
                                                0x87, 0x65, 0x34, 0xbc, 0x8b, 0x45, 0x8e, 0xf2};

static const cc_name_op rearrange_name_op = {.cls = CC_NAME_POSTFIX, .text = " rearrange"};

// A name rearrange strings read back as one axis name: a letter, then letters, digits or '_'.
static int
is_spec_word(const char *name)
{
    if (!isalpha((unsigned char)name[0]) || (unsigned char)name[0] >= 0x80) {
        return 0;
    }
    for (const char *c = name; *c != '\0'; c++) {
        if ((unsigned char)*c >= 0x80 || !(isalnum((unsigned char)*c) || *c == '_')) {
            return 0;
        }
    }
    return 1;
}

// rc's to_fancy_einops_string ("batch d -> d batch"), for the specs whose fancy text parses
// back to the same spec: a permutation of size-less ints numbered in input order, every int
// named (the node's own names over its child's), the names distinct words. 1 with the text
// appended, 0 when the node keeps its spec string, -1 on error.
static int
append_fancy(const cc_node *n, cc_str *out)
{
    const cc_rearrange_spec *s = n->u.rearrange.spec;
    const cc_named_axes *below = n->children[0]->named_axes;
    if ((n->named_axes == NULL && below == NULL) || s->n_in != s->n_out || s->n_sizes != s->n_in) {
        return 0;
    }
    const char *names[CC_MAX_NDIM] = {0};
    for (int g = 0; g < s->n_in; g++) {
        if (s->in_start[g + 1] - s->in_start[g] != 1 || s->in_ints[s->in_start[g]] != g ||
            s->out_start[g + 1] - s->out_start[g] != 1 || s->sizes[g] != CC_REARRANGE_SIZE_NONE) {
            return 0;
        }
        names[g] = cc_named_axes_get(below, g);
    }
    for (int g = 0; g < s->n_out; g++) {
        const char *own = cc_named_axes_get(n->named_axes, g);
        if (own != NULL) {
            names[s->out_ints[s->out_start[g]]] = own;
        }
    }
    for (int i = 0; i < s->n_in; i++) {
        if (names[i] == NULL || !is_spec_word(names[i])) {
            return 0;
        }
        for (int j = 0; j < i; j++) {
            if (strcmp(names[i], names[j]) == 0) {
                return 0;
            }
        }
    }
    cc_str text;
    cc_str_init(&text);
    int rc = 0;
    for (int g = 0; rc == 0 && g < s->n_in; g++) {
        rc = g > 0 ? cc_str_append(&text, " ") : 0;
        rc = rc < 0 ? rc : cc_str_append(&text, names[g]);
    }
    rc = rc < 0 ? rc : cc_str_append(&text, " ->");
    for (int g = 0; rc == 0 && g < s->n_out; g++) {
        rc = cc_str_append(&text, " ");
        rc = rc < 0 ? rc : cc_str_append(&text, names[s->out_ints[s->out_start[g]]]);
    }
    rc = rc < 0 ? rc : cc_str_append(out, text.data != NULL ? text.data : "");
    cc_str_clear(&text);
    return rc < 0 ? -1 : 1;
}

// rc's to_maybe_fancy_einops_string: the fancy form where it applies, else the spec string.
static int
rearrange_print_payload(const cc_node *n, const cc_payload_print *o, cc_str *out)
{
    (void)o;
    int fancy = append_fancy(n, out);
    if (fancy != 0) {
        return fancy < 0 ? -1 : 0;
    }
    char *spec = cc_rearrange_spec_to_string(n->u.rearrange.spec);
    if (spec == NULL) {
        return -1;
    }
    int rc = cc_str_append(out, spec);
    cc_free(spec);
    return rc;
}

static cc_node *
rearrange_parse_payload(const cc_payload_parse *in, const char **at)
{
    if (cc_payload_expect(in, CC_KIND_REARRANGE, "its spec such as a b -> b a", at) < 0) {
        return NULL;
    }
    *at = in->extra_at;
    cc_rearrange_spec *spec = cc_rearrange_spec_from_string(in->extra);
    if (spec == NULL) {
        return NULL;
    }
    *at = in->kind_at;
    cc_node *out = cc_rearrange_new(in->children[0], spec, in->name);
    cc_rearrange_spec_free(spec);
    return out;
}

// rc's RearrangeSpec::expand_to_spec_or_shape: the spec's sizes adjusted to a new input shape
// (a single mismatching int of a group becomes a wildcard). *spec_out is the new spec, or NULL
// with forced[] (-1 = free) giving sizes the input must be pinned to (error_on_ambiguous 0).
static int
expand_spec(const cc_rearrange_spec *s, int ndim, const int64_t *shape, int error_on_ambiguous,
            cc_rearrange_spec **spec_out, int64_t *forced, const char *what)
{
    *spec_out = NULL;
    if (ndim != s->n_in) {
        return cc_fail(CC_E_REARRANGE_SPEC_INPUT_NOT_CONFORMABLE,
                       "%s: the spec has %d input axes but the expanded input has %d", what,
                       s->n_in, ndim);
    }
    int64_t *sizes = cc_malloc((size_t)(s->n_sizes > 0 ? s->n_sizes : 1) * sizeof(int64_t));
    if (sizes == NULL) {
        return -1;
    }
    memcpy(sizes, s->sizes, (size_t)s->n_sizes * sizeof(int64_t));
    int any_forced = 0;
    for (int d = 0; d < ndim; d++) {
        forced[d] = -1;
        int start = s->in_start[d], end = s->in_start[d + 1];
        int64_t current = 1;
        int wildcard = 0;
        for (int k = start; k < end; k++) {
            int64_t sz = s->sizes[s->in_ints[k]];
            wildcard |= sz == CC_REARRANGE_SIZE_NONE;
            current *= sz;
        }
        if (wildcard || current == shape[d]) {
            continue;
        }
        if (end - start == 1) {
            sizes[s->in_ints[start]] = CC_REARRANGE_SIZE_NONE;
            continue;
        }
        int failing = 0, failing_at = -1;
        for (int k = start; k < end; k++) {
            int64_t sz = s->sizes[s->in_ints[k]];
            if (!(sz != 0 && shape[d] % sz == 0)) {
                failing++;
                failing_at = k;
            }
        }
        if (failing != 1) {
            if (error_on_ambiguous) {
                cc_free(sizes);
                return cc_fail(CC_E_REARRANGE_SPEC_AMBIGUOUS_EXPAND,
                               "%s: can't tell which int of input axis %d (size %lld) takes the "
                               "new size %lld (%d of its ints fail to divide it)",
                               what, d, (long long)current, (long long)shape[d], failing);
            }
            forced[d] = current;
            any_forced = 1;
            continue;
        }
        sizes[s->in_ints[failing_at]] = CC_REARRANGE_SIZE_NONE;
    }
    if (any_forced) {
        cc_free(sizes);
        return 0;
    }
    int in_lens[CC_MAX_NDIM], out_lens[CC_MAX_NDIM];
    for (int g = 0; g < s->n_in; g++) {
        in_lens[g] = s->in_start[g + 1] - s->in_start[g];
    }
    for (int g = 0; g < s->n_out; g++) {
        out_lens[g] = s->out_start[g + 1] - s->out_start[g];
    }
    *spec_out = cc_rearrange_spec_new(s->n_in, in_lens, s->in_ints, s->n_out, out_lens, s->out_ints,
                                      s->n_sizes, sizes);
    cc_free(sizes);
    return *spec_out == NULL ? -1 : 0;
}

// rc's add_batch_dims: nb fresh wildcard ints leading both sides.
static cc_rearrange_spec *
add_batch_dims(const cc_rearrange_spec *s, int nb, const char *what)
{
    if (s->n_sizes + nb > 256 || s->n_in + nb > CC_MAX_NDIM || s->n_out + nb > CC_MAX_NDIM) {
        return cc_fail_null(CC_E_CONSTRUCT_NOT_SUPPORTED_YET,
                            "%s: adding %d batch axes passes the limits of a rearrange spec", what,
                            nb);
    }
    int n_in_ints = s->in_start[s->n_in], n_out_ints = s->out_start[s->n_out];
    int in_lens[CC_MAX_NDIM], out_lens[CC_MAX_NDIM];
    uint8_t in_ints[CC_MAX_NDIM + 256], out_ints[CC_MAX_NDIM + 256];
    int64_t sizes[256 + CC_MAX_NDIM];
    for (int b = 0; b < nb; b++) {
        in_lens[b] = out_lens[b] = 1;
        in_ints[b] = out_ints[b] = (uint8_t)(s->n_sizes + b);
        sizes[s->n_sizes + b] = CC_REARRANGE_SIZE_NONE;
    }
    for (int g = 0; g < s->n_in; g++) {
        in_lens[nb + g] = s->in_start[g + 1] - s->in_start[g];
    }
    for (int g = 0; g < s->n_out; g++) {
        out_lens[nb + g] = s->out_start[g + 1] - s->out_start[g];
    }
    memcpy(in_ints + nb, s->in_ints, (size_t)n_in_ints);
    memcpy(out_ints + nb, s->out_ints, (size_t)n_out_ints);
    memcpy(sizes, s->sizes, (size_t)s->n_sizes * sizeof(int64_t));
    return cc_rearrange_spec_new(s->n_in + nb, in_lens, in_ints, s->n_out + nb, out_lens, out_ints,
                                 s->n_sizes + nb, sizes);
}

static cc_node *
rearrange_expand(const cc_expand_call *e)
{
    const cc_rearrange_spec *spec = e->c->u.rearrange.spec;
    cc_node *x = e->inputs[0];
    int nb = e->br[0];
    int64_t forced[CC_MAX_NDIM];
    cc_rearrange_spec *expanded = NULL;
    if (expand_spec(spec, x->ndim - nb, x->shape + nb, 0, &expanded, forced, e->what) < 0) {
        return NULL;
    }
    cc_node *input = x;
    cc_node_incref(input);
    if (expanded == NULL) {
        int64_t full[CC_MAX_NDIM];
        for (int i = 0; i < x->ndim; i++) {
            full[i] = i < nb ? -1 : forced[i - nb];
        }
        cc_node_decref(input);
        input = cc_set_symbolic_shape_some_set_and_symbolic_neq(x, full, NULL);
        if (input == NULL) {
            cc_error_prefix("%s: failed to set symbolic sizes in expand rearrange", e->what);
            return NULL;
        }
        if (expand_spec(spec, input->ndim - nb, input->shape + nb, 1, &expanded, forced, e->what) <
            0) {
            cc_node_decref(input);
            return NULL;
        }
    }
    cc_rearrange_spec *batched = add_batch_dims(expanded, nb, e->what);
    cc_rearrange_spec_free(expanded);
    cc_node *out = batched == NULL ? NULL : cc_rearrange_new(input, batched, e->c->name);
    cc_rearrange_spec_free(batched);
    cc_node_decref(input);
    return out;
}

// rc's child_axis_map: an input group of one int is the output group of that int alone.
static int
rearrange_child_axis_map(const cc_node *n, int i, int *out)
{
    const cc_rearrange_spec *s = n->u.rearrange.spec;
    for (int j = 0; j < n->children[i]->ndim; j++) {
        out[j] = -1;
        if (j >= s->n_in || s->in_start[j + 1] - s->in_start[j] != 1) {
            continue;
        }
        uint8_t x = s->in_ints[s->in_start[j]];
        for (int g = 0; g < s->n_out && out[j] < 0; g++) {
            if (s->out_start[g + 1] - s->out_start[g] == 1 && s->out_ints[s->out_start[g]] == x) {
                out[j] = g;
            }
        }
    }
    return 0;
}

CC_DEFINE_KIND_OPS(rearrange, .free_payload = rearrange_free_payload, .expand = rearrange_expand,
                   .child_axis_map = rearrange_child_axis_map);
