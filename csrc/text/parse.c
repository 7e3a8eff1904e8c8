// Parser of rc's text format (text/parse.h): lines split into identifier, name, AD flag,
// shape, node type and payload; indentation resolved with an explicit stack of open nodes
// (no recursion on input depth); nodes built bottom-up through their constructors, so every
// construction check applies. Every error names the line and column it comes from.
#include "text/parse.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodes/einsum_string.h"
#include "nodes/gf.h"
#include "nodes/module.h"
#include "nodes/rearrange.h"
#include "nodes/shape.h"
#include "util/alloc.h"
#include "util/blake3.h"
#include "util/error.h"
#include "util/hmap.h"
#include "util/str.h"

// Longest stretch of a line quoted in an error message, in bytes.
#define QUOTE_MAX 200

static const char NOT_SERIALIZABLE[] = "[NOT_SERIALIZABLE]";

// One line of the text: where it is, for messages.
typedef struct {
    const char *s;
    size_t len;
    int64_t no; // 1-based
} line_ctx;

// The parts of a node's line (or of the bound symbol after '!'). Pointers ending in _at point
// into the text, for error positions.
typedef struct {
    const char *ident_at;
    char *key;  // "#<serial>" or "'<quoted text>", owned
    char *name; // owned; NULL when unnamed
    int ad;
    int has_shape;
    int ndim;
    int64_t shape[CC_MAX_NDIM];
    const char *shape_at;
    int has_kind;
    cc_kind kind;
    const char *kind_at;
    char *extra; // owned; NULL when the line has no payload
    const char *extra_at;
} node_text;

// A defined identifier: its node once built (a reference held here), NULL while its lines
// are still open.
typedef struct {
    node_text text;
    cc_node *node;
} def;

// A built child with the Module binding its line carried, if any.
typedef struct {
    cc_node *node;   // new reference
    cc_node *symbol; // new reference, or NULL
    uint8_t flags[3];
} child;

// A node line whose children are still being read.
typedef struct {
    int col;         // indentation in characters
    line_ctx line;   // for errors raised when it closes
    int def_ix;      // the definition built when it closes; -1 for a repeat or a reference
    cc_node *fixed;  // a repeat's or a reference's node (new reference)
    int is_ref;      // fixed is a reference circuit
    cc_node *symbol; // the binding this line gives its parent Module (new reference) or NULL
    uint8_t flags[3];
    child *children;
    int n_children, cap_children;
} open_node;

typedef struct {
    const cc_parse_options *o;
    line_ctx cur;
    def *defs;
    size_t n_defs, cap_defs;
    cc_hmap by_key; // blake3 of a key -> position in defs + 1
    open_node *stack;
    size_t n_stack, cap_stack;
    cc_node **results;
    size_t n_results, cap_results;
} parser;

// --- errors ---------------------------------------------------------------------------------

// 1-based column of at in the current line, in characters (at NULL: the line's start).
static int
column(const parser *p, const char *at)
{
    int col = 1;
    if (at == NULL || at < p->cur.s || at > p->cur.s + p->cur.len) {
        return col;
    }
    for (const char *c = p->cur.s; c < at; c++) {
        col += ((unsigned char)*c & 0xC0) != 0x80;
    }
    return col;
}

// How many bytes of the current line a message quotes: at most QUOTE_MAX, whole characters.
static int
quoted_len(const parser *p)
{
    size_t n = p->cur.len;
    if (n > QUOTE_MAX) {
        n = QUOTE_MAX;
        while (n > 0 && ((unsigned char)p->cur.s[n] & 0xC0) == 0x80) {
            n--;
        }
    }
    return (int)n;
}

// Records kind with "line L, column C: <message>" and the line quoted below; returns -1.
static int fail_at(parser *p, const char *at, cc_error_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int
fail_at(parser *p, const char *at, cc_error_kind kind, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return cc_fail(kind, "line %lld, column %d: %s\n    %.*s%s", (long long)p->cur.no,
                   column(p, at), msg, quoted_len(p), p->cur.s,
                   p->cur.len > QUOTE_MAX ? " ..." : "");
}

// Gives the error a constructor or a hook recorded the position of at; returns -1.
static int
locate(parser *p, const char *at)
{
    cc_error_kind kind = cc_error_kind_get();
    if (kind == CC_E_NO_MEMORY) {
        return -1;
    }
    char *msg = cc_strdup(cc_error_message());
    if (msg == NULL) {
        return -1;
    }
    fail_at(p, at, kind, "%s", msg);
    cc_free(msg);
    return -1;
}

static void *
locate_null(parser *p, const char *at)
{
    locate(p, at);
    return NULL;
}

// --- lexing -----------------------------------------------------------------------------------

static int
is_space(char c)
{
    return c == ' ' || c == '\t';
}

static const char *
skip_ws(const char *s, const char *e)
{
    while (s < e && is_space(*s)) {
        s++;
    }
    return s;
}

static int
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int
is_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int
hex_value(char c)
{
    return is_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10;
}

// Indentation characters: spaces, tabs and the tree drawing of PrintOptions(arrows=True).
static int
indent_char_len(const char *s, const char *e)
{
    static const char *const drawing[] = {"│", "└", "├", "‣", "─", "┌"};
    if (is_space(*s)) {
        return 1;
    }
    for (size_t i = 0; i < sizeof drawing / sizeof drawing[0]; i++) {
        size_t n = strlen(drawing[i]);
        if ((size_t)(e - s) >= n && memcmp(s, drawing[i], n) == 0) {
            return (int)n;
        }
    }
    return 0;
}

// An unsigned integer with optional '_' separators. 0, or -1 with ParseInvalidNumberError.
static int
lex_uint(parser *p, const char **s, const char *e, int64_t *out)
{
    const char *start = *s;
    if (start == e || !is_digit(*start)) {
        return fail_at(p, start, CC_E_PARSE_INVALID_NUMBER, "expected a number");
    }
    int64_t v = 0;
    const char *c = start;
    for (; c < e && (is_digit(*c) || *c == '_'); c++) {
        if (*c == '_') {
            continue;
        }
        if (v > (INT64_MAX - (*c - '0')) / 10) {
            return fail_at(p, start, CC_E_PARSE_INVALID_NUMBER, "number too large");
        }
        v = v * 10 + (*c - '0');
    }
    *s = c;
    *out = v;
    return 0;
}

// An optionally signed integer ending at e. 0, or -1 with ParseInvalidNumberError.
static int
lex_int_all(parser *p, const char *s, const char *e, int64_t *out)
{
    const char *start = s;
    int neg = s < e && *s == '-';
    s += neg || (s < e && *s == '+');
    int64_t v;
    if (lex_uint(p, &s, e, &v) < 0) {
        return -1;
    }
    if (s != e) {
        return fail_at(p, start, CC_E_PARSE_INVALID_NUMBER, "expected an integer, got '%.*s'",
                       (int)(e - start), start);
    }
    *out = neg ? -v : v;
    return 0;
}

// A quoted name: '...' with \ escaping the next character. *s at the opening quote.
static int
lex_quoted(parser *p, const char **s, const char *e, char **out)
{
    const char *start = *s;
    cc_str text;
    cc_str_init(&text);
    const char *c = start + 1;
    while (c < e && *c != '\'') {
        if (*c == '\\') {
            c++;
            if (c == e) {
                break;
            }
        }
        if (cc_str_append_n(&text, c, 1) < 0) {
            cc_str_clear(&text);
            return -1;
        }
        c++;
    }
    if (c >= e) {
        cc_str_clear(&text);
        return fail_at(p, start, CC_E_PARSE_CIRCUIT, "unterminated quoted name");
    }
    if (text.data == NULL && cc_str_append(&text, "") < 0) {
        return -1;
    }
    *s = c + 1;
    *out = cc_str_take(&text);
    return *out == NULL ? -1 : 0;
}

// A size: terms joined by '*', each a number or "<i>s" (symbolic size i).
static int
lex_size(parser *p, const char **s, const char *e, int64_t *out)
{
    const char *start = *s;
    int64_t size = 1;
    for (;;) {
        const char *at = *s;
        int64_t v;
        if (lex_uint(p, s, e, &v) < 0) {
            return -1;
        }
        if (*s < e && **s == 's') {
            (*s)++;
            if (v >= CC_N_SYMBOLIC_SIZES) {
                return fail_at(p, at, CC_E_PARSE_SYMBOLIC_SIZE_NUMBER_OUT_OF_BOUNDS,
                               "symbolic size %llds: only 0s to %ds exist", (long long)v,
                               CC_N_SYMBOLIC_SIZES - 1);
            }
            v = cc_symbolic_size((int)v);
        }
        if (v != 0 && size > INT64_MAX / v) {
            return fail_at(p, start, CC_E_PARSE_FACTOR_PRODUCT_TOO_LARGE,
                           "size '%.*s' is too large", (int)(e - start), start);
        }
        size *= v;
        if (*s == e || **s != '*') {
            break;
        }
        (*s)++;
    }
    *out = size;
    return 0;
}

// "[d0,d1,...]" with optional spaces. *s at '['.
static int
lex_shape(parser *p, const char **s, const char *e, node_text *t)
{
    const char *c = *s + 1;
    t->shape_at = *s;
    t->has_shape = 1;
    t->ndim = 0;
    for (;;) {
        c = skip_ws(c, e);
        if (c < e && *c == ']') {
            break;
        }
        if (t->ndim == CC_MAX_NDIM) {
            return fail_at(p, t->shape_at, CC_E_PARSE_CIRCUIT_INVALID_AXIS_SHAPE_FORMAT,
                           "a shape has at most %d axes", CC_MAX_NDIM);
        }
        if (c == e || !is_digit(*c)) {
            const char *colon = c;
            while (colon < e && *colon != ':' && *colon != ',' && *colon != ']') {
                colon++;
            }
            return fail_at(p, c, CC_E_PARSE_CIRCUIT_INVALID_AXIS_SHAPE_FORMAT,
                           colon < e && *colon == ':'
                               ? "named axes are not supported"
                               : "expected a size (such as 3, 0s or 2*1s) or ']' in a shape");
        }
        if (lex_size(p, &c, e, &t->shape[t->ndim++]) < 0) {
            return -1;
        }
        c = skip_ws(c, e);
        if (c < e && *c == ',') {
            c++;
        } else if (c == e || *c != ']') {
            return fail_at(p, c, CC_E_PARSE_CIRCUIT_INVALID_AXIS_SHAPE_FORMAT,
                           "expected ',' or ']' in a shape");
        }
    }
    *s = c + 1;
    return 0;
}

static const char *const UNSUPPORTED_KINDS[] = {"Scatter", "Conv", "DiscreteVar",
                                                "StoredCumulantVar", "Cumulant"};

static int
lex_kind(parser *p, const char **s, const char *e, node_text *t)
{
    const char *c = *s;
    while (c < e && ((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z'))) {
        c++;
    }
    size_t n = (size_t)(c - *s);
    t->kind_at = *s;
    for (int k = 0; k < CC_KIND_COUNT; k++) {
        const char *name = cc_kind_get_info((cc_kind)k)->py_name;
        if (strlen(name) == n && memcmp(name, *s, n) == 0) {
            t->has_kind = 1;
            t->kind = (cc_kind)k;
            *s = c;
            return 0;
        }
    }
    for (size_t k = 0; k < sizeof UNSUPPORTED_KINDS / sizeof UNSUPPORTED_KINDS[0]; k++) {
        if (strlen(UNSUPPORTED_KINDS[k]) == n && memcmp(UNSUPPORTED_KINDS[k], *s, n) == 0) {
            return fail_at(p, *s, CC_E_PARSE_CIRCUIT_INVALID_VARIANT, "circuits has no %s nodes",
                           UNSUPPORTED_KINDS[k]);
        }
    }
    return fail_at(p, *s, CC_E_PARSE_CIRCUIT_INVALID_VARIANT,
                   "unknown node type '%.*s' (expected Array, Scalar, Symbol, Add, Einsum, "
                   "Index, Concat, Rearrange, GeneralFunction, Tag, Module or SetSymbolicShape)",
                   (int)n, *s);
}

static void
node_text_clear(node_text *t)
{
    cc_free(t->key);
    cc_free(t->name);
    cc_free(t->extra);
    memset(t, 0, sizeof *t);
}

static int
is_flags(const char *s, size_t n)
{
    if (n != 3) {
        return 0;
    }
    for (size_t i = 0; i < 3; i++) {
        if (s[i] != 't' && s[i] != 'f') {
            return 0;
        }
    }
    return 1;
}

// The identifier, name, AD, shape, node type and payload of [s, e). The payload ends at '#',
// and also at '!' unless child_info (a Module binding, which may end in t/f flags: *flags).
// *stop: where the payload ended.
static int
lex_node_text(parser *p, const char *s, const char *e, int child_info, node_text *t,
              uint8_t flags[3], const char **stop)
{
    memset(t, 0, sizeof *t);
    s = skip_ws(s, e);
    t->ident_at = s;
    cc_str key;
    cc_str_init(&key);
    if (s < e && is_digit(*s)) {
        int64_t serial;
        if (lex_uint(p, &s, e, &serial) < 0 ||
            cc_str_appendf(&key, "#%lld", (long long)serial) < 0) {
            cc_str_clear(&key);
            return -1;
        }
    } else if (s < e && *s == '\'') {
        char *quoted;
        if (lex_quoted(p, &s, e, &quoted) < 0) {
            return -1;
        }
        t->name = quoted;
        if (cc_str_append(&key, "'") < 0 || cc_str_append(&key, quoted) < 0) {
            cc_str_clear(&key);
            return -1;
        }
    } else {
        return fail_at(p, s, CC_E_PARSE_CIRCUIT,
                       "expected a serial number or a quoted name at the start of a node");
    }
    t->key = cc_str_take(&key);
    if (t->key == NULL) {
        return -1;
    }
    s = skip_ws(s, e);
    if (s < e && *s == '\'') {
        char *name;
        if (lex_quoted(p, &s, e, &name) < 0) {
            return -1;
        }
        cc_free(t->name);
        t->name = name;
        s = skip_ws(s, e);
    }
    if (e - s >= 2 && s[0] == 'A' && s[1] == 'D' && (e - s == 2 || is_space(s[2]))) {
        t->ad = 1;
        s = skip_ws(s + 2, e);
    }
    if (s < e && *s == '[') {
        if (lex_shape(p, &s, e, t) < 0) {
            return -1;
        }
        s = skip_ws(s, e);
    }
    if (s < e && *s >= 'A' && *s <= 'Z') {
        if (lex_kind(p, &s, e, t) < 0) {
            return -1;
        }
        if (s < e && !is_space(*s) && *s != '#' && *s != '!') {
            return fail_at(p, t->kind_at, CC_E_PARSE_CIRCUIT_INVALID_VARIANT,
                           "expected a space after the node type");
        }
        s = skip_ws(s, e);
    }
    const char *end = s;
    while (end < e && *end != '#' && (child_info || *end != '!')) {
        end++;
    }
    *stop = end;
    while (end > s && is_space(end[-1])) {
        end--;
    }
    if (child_info) {
        const char *w = end;
        while (w > s && !is_space(w[-1])) {
            w--;
        }
        if (is_flags(w, (size_t)(end - w))) {
            for (int i = 0; i < 3; i++) {
                flags[i] = w[i] == 't';
            }
            end = w;
            while (end > s && is_space(end[-1])) {
                end--;
            }
        }
    }
    if (end > s) {
        if (!t->has_kind) {
            return fail_at(p, s, CC_E_PARSE_CIRCUIT_INVALID_VARIANT,
                           "expected a node type (such as Add or Einsum), got '%.*s'",
                           (int)(end - s), s);
        }
        t->extra_at = s;
        t->extra = cc_malloc((size_t)(end - s) + 1);
        if (t->extra == NULL) {
            return -1;
        }
        memcpy(t->extra, s, (size_t)(end - s));
        t->extra[end - s] = '\0';
    }
    return 0;
}

// --- payloads ---------------------------------------------------------------------------------

static int
parse_uuid(parser *p, const node_text *t, uint8_t out[16])
{
    const char *s = t->extra;
    int n = 0;
    for (const char *c = s; *c != '\0'; c++) {
        int hyphen_ok = n == 8 || n == 12 || n == 16 || n == 20;
        if (*c == '-' && hyphen_ok) {
            continue;
        }
        if (!is_hex(*c) || n == 32) {
            n = -1;
            break;
        }
        out[n / 2] = (uint8_t)((n % 2 == 0 ? 0 : out[n / 2]) | hex_value(*c) << (n % 2 ? 0 : 4));
        n++;
    }
    if (n != 32) {
        return fail_at(p, t->extra_at, CC_E_PARSE_INVALID_UUID,
                       "invalid uuid '%s' (expected 32 hex digits, as in "
                       "12345678-9abc-def0-1234-56789abcdef0)",
                       s);
    }
    return 0;
}

// A payload that must be absent.
static int
expect_no_extra(parser *p, const node_text *t)
{
    if (t->extra != NULL) {
        return fail_at(p, t->extra_at, CC_E_PARSE_CIRCUIT_EXPECTED_NO_EXTRA_INFO,
                       "%s takes nothing after its type, got '%s'",
                       cc_kind_get_info(t->kind)->py_name, t->extra);
    }
    return 0;
}

static int
expect_extra(parser *p, const node_text *t, const char *what)
{
    if (t->extra == NULL) {
        return fail_at(p, t->kind_at, CC_E_PARSE_CIRCUIT, "%s needs %s after its type",
                       cc_kind_get_info(t->kind)->py_name, what);
    }
    return 0;
}

static int
expect_shape(parser *p, const node_text *t, const char *why)
{
    if (!t->has_shape) {
        return fail_at(p, t->kind_at, CC_E_PARSE_CIRCUIT_SHAPE_NEEDED,
                       "%s needs a shape such as [2,3] before its type%s",
                       cc_kind_get_info(t->kind)->py_name, why);
    }
    return 0;
}

static int
is_hash_prefix(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (!is_hex(s[i]) || (s[i] >= 'A' && s[i] <= 'F')) {
            return 0;
        }
    }
    return 1;
}

static int
shapes_equal(int na, const int64_t *a, int nb, const int64_t *b)
{
    return na == nb && (na == 0 || memcmp(a, b, (size_t)na * sizeof(int64_t)) == 0);
}

static void
shape_text(cc_str *s, int ndim, const int64_t *shape)
{
    if (cc_shape_append(s, ndim, shape) < 0) {
        cc_str_clear(s);
    }
}

static cc_node *
build_array(parser *p, const node_text *t, const char *name)
{
    if (expect_extra(p, t, "a tensor hash prefix or 'rand'") < 0) {
        return NULL;
    }
    int is_rand = strcmp(t->extra, "rand") == 0;
    if (!is_rand && !is_hash_prefix(t->extra)) {
        return fail_at(p, t->extra_at, CC_E_PARSE_CIRCUIT,
                       "an Array's payload is a tensor hash prefix (lowercase hex) or 'rand', "
                       "got '%s'",
                       t->extra),
               NULL;
    }
    int random = is_rand || p->o->tensors_as_random;
    if (random && !is_rand && !p->o->allow_hash_with_random) {
        return fail_at(p, t->extra_at, CC_E_PARSE_CIRCUIT,
                       "Array has the tensor hash %s but tensors are random "
                       "(pass allow_hash_with_random=True to ignore hashes)",
                       t->extra),
               NULL;
    }
    if (random && expect_shape(p, t, " to make random values") < 0) {
        return NULL;
    }
    cc_tensor value;
    cc_parse_tensor_kind kind = random ? CC_PARSE_TENSOR_RANDOM : CC_PARSE_TENSOR_ARRAY;
    if (p->o->hooks.tensor == NULL) {
        return fail_at(p, t->extra_at, CC_E_PARSE_CIRCUIT, "no tensor source for Array %s",
                       t->extra),
               NULL;
    }
    if (p->o->hooks.tensor(p->o->hooks.ctx, kind, is_rand ? NULL : t->extra,
                           t->has_shape ? t->ndim : -1, t->shape, &value) < 0) {
        return locate_null(p, t->extra_at);
    }
    if (t->has_shape && !shapes_equal(t->ndim, t->shape, value.ndim, value.shape)) {
        cc_str want, got;
        cc_str_init(&want);
        cc_str_init(&got);
        shape_text(&want, t->ndim, t->shape);
        shape_text(&got, value.ndim, value.shape);
        fail_at(p, t->shape_at,
                CC_E_PARSE_CIRCUIT_ARRAY_SHAPE_LOADED_FROM_HASH_DIFFERS_FROM_PROVIDED_SHAPE,
                "the tensor of hash %s has shape %s, the line says %s", t->extra,
                got.data ? got.data : "?", want.data ? want.data : "?");
        cc_str_clear(&want);
        cc_str_clear(&got);
        cc_tensor_clear(&value);
        return NULL;
    }
    cc_node *n = cc_array_new(&value, name);
    cc_tensor_clear(&value);
    return n != NULL ? n : locate_null(p, t->extra_at);
}

static cc_node *
build_scalar(parser *p, const node_text *t, const char *name)
{
    if (expect_shape(p, t, "") < 0 || expect_extra(p, t, "a value") < 0) {
        return NULL;
    }
    size_t n = strlen(t->extra);
    char *digits = cc_malloc(n + 1);
    if (digits == NULL) {
        return NULL;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (t->extra[i] != '_') {
            digits[k++] = t->extra[i];
        }
    }
    digits[k] = '\0';
    char *end = NULL;
    double v = k > 0 && !is_space(digits[0]) ? strtod(digits, &end) : 0.0;
    int ok = end != NULL && *end == '\0';
    cc_free(digits);
    if (!ok) {
        return fail_at(p, t->extra_at, CC_E_PARSE_INVALID_NUMBER,
                       "invalid Scalar value '%s' (expected a number such as 1, -0.5, inf or NaN)",
                       t->extra),
               NULL;
    }
    cc_node *s = cc_scalar_new(v, t->ndim, t->shape, name);
    return s != NULL ? s : locate_null(p, t->shape_at);
}

static cc_node *
build_symbol(parser *p, const node_text *t, const char *name)
{
    if (expect_shape(p, t, "") < 0) {
        return NULL;
    }
    uint8_t uuid[16] = {0};
    if (t->extra != NULL && strcmp(t->extra, "rand") == 0) {
        if (p->o->hooks.random_bytes == NULL) {
            return fail_at(p, t->extra_at, CC_E_PARSE_CIRCUIT, "no source of random uuids"), NULL;
        }
        if (p->o->hooks.random_bytes(p->o->hooks.ctx, uuid, sizeof uuid) < 0) {
            return locate_null(p, t->extra_at);
        }
        uuid[6] = (uint8_t)((uuid[6] & 0x0F) | 0x40); // version 4
        uuid[8] = (uint8_t)((uuid[8] & 0x3F) | 0x80); // RFC 4122 variant
    } else if (t->extra != NULL && parse_uuid(p, t, uuid) < 0) {
        return NULL;
    }
    cc_node *s = cc_symbol_new(t->ndim, t->shape, uuid, name);
    return s != NULL ? s : locate_null(p, t->shape_at);
}

// A list literal of integers "[1, 2, 3]" as a 1-D int64 tensor. [s, e) is the literal.
static int
index_literal(parser *p, const char *s, const char *e, cc_tensor *out)
{
    int64_t n = 0;
    for (const char *c = s + 1; c < e - 1; c++) {
        n += *c == ',';
    }
    const char *inner = skip_ws(s + 1, e - 1);
    n += inner < e - 1;
    if (cc_tensor_init_empty(out, CC_DTYPE_I64, 1, &n) < 0) {
        return -1;
    }
    int64_t *values = out->data;
    const char *c = s + 1;
    for (int64_t i = 0; i < n; i++) {
        const char *end = c;
        while (end < e - 1 && *end != ',') {
            end++;
        }
        const char *a = skip_ws(c, end), *b = end;
        while (b > a && is_space(b[-1])) {
            b--;
        }
        if (lex_int_all(p, a, b, &values[i]) < 0) {
            cc_error_recast(CC_E_PARSE_INVALID_INDEX);
            cc_tensor_clear(out);
            return -1;
        }
        c = end + 1;
    }
    return 0;
}

// "t<hash prefix> [len]": an index tensor from the caller.
static int
index_hashed(parser *p, const char *s, const char *e, cc_tensor *out)
{
    const char *c = s + 1;
    while (c < e && is_hex(*c)) {
        c++;
    }
    char prefix[65];
    size_t n = (size_t)(c - s - 1);
    const char *len_at = skip_ws(c, e);
    int64_t len = -1;
    if (n > 0 && n <= 64 && len_at < e && *len_at == '[') {
        const char *l = len_at + 1;
        if (lex_uint(p, &l, e, &len) < 0) {
            return -1;
        }
        if (l + 1 != e || *l != ']') {
            len = -1;
        }
    }
    if (len < 0 || !is_hash_prefix((memcpy(prefix, s + 1, n), prefix[n] = '\0', prefix))) {
        return fail_at(p, s, CC_E_PARSE_INVALID_INDEX,
                       "expected an index tensor as t<hash prefix> [length], got '%.*s'",
                       (int)(e - s), s);
    }
    if (p->o->hooks.tensor == NULL) {
        return fail_at(p, s, CC_E_PARSE_CIRCUIT, "no tensor source for index tensor %s", prefix);
    }
    if (p->o->hooks.tensor(p->o->hooks.ctx, CC_PARSE_TENSOR_INDEX, prefix, 1, &len, out) < 0) {
        return locate(p, s);
    }
    if (out->ndim != 1 || out->shape[0] != len) {
        cc_tensor_clear(out);
        return fail_at(p, s, CC_E_PARSE_INVALID_INDEX, "index tensor %s is not 1-D of length %lld",
                       prefix, (long long)len);
    }
    return 0;
}

// One item of an Index: an int, a slice start:stop (bounds optional), or a tensor.
static int
index_item(parser *p, const char *s, const char *e, cc_index_item *it)
{
    memset(it, 0, sizeof *it);
    if (s == e) {
        return fail_at(p, s, CC_E_PARSE_INVALID_INDEX, "empty index item");
    }
    if (*s == 't') {
        it->kind = CC_INDEX_TENSOR;
        return index_hashed(p, s, e, &it->tensor);
    }
    if (*s == '[') {
        it->kind = CC_INDEX_TENSOR;
        return index_literal(p, s, e, &it->tensor);
    }
    const char *colon = memchr(s, ':', (size_t)(e - s));
    if (colon == NULL) {
        it->kind = CC_INDEX_INT;
        return lex_int_all(p, s, e, &it->i) < 0 ? (cc_error_recast(CC_E_PARSE_INVALID_INDEX), -1)
                                                : 0;
    }
    it->kind = CC_INDEX_SLICE;
    const char *a_end = colon, *b = skip_ws(colon + 1, e);
    while (a_end > s && is_space(a_end[-1])) {
        a_end--;
    }
    it->has_start = a_end > s;
    it->has_stop = b < e;
    if ((it->has_start && lex_int_all(p, s, a_end, &it->start) < 0) ||
        (it->has_stop && lex_int_all(p, b, e, &it->stop) < 0)) {
        cc_error_recast(CC_E_PARSE_INVALID_INDEX);
        return -1;
    }
    return 0;
}

static void
clear_items(cc_index_item *items, int n)
{
    for (int i = 0; i < n; i++) {
        if (items[i].kind == CC_INDEX_TENSOR) {
            cc_tensor_clear(&items[i].tensor);
        }
    }
}

static cc_node *
build_index(parser *p, const node_text *t, cc_node *child, const char *name)
{
    if (expect_extra(p, t, "its items such as [0,1:3,:]") < 0) {
        return NULL;
    }
    const char *s = t->extra_at, *e = s + strlen(t->extra);
    if (*s != '[' || e[-1] != ']') {
        return fail_at(p, s, CC_E_PARSE_INVALID_INDEX, "an Index's items are in brackets: [...]"),
               NULL;
    }
    cc_index_item items[CC_MAX_NDIM];
    int n = 0;
    const char *c = skip_ws(s + 1, e - 1);
    while (c < e - 1) {
        const char *end = c;
        int depth = 0;
        while (end < e - 1 && (depth > 0 || *end != ',')) {
            depth += (*end == '[') - (*end == ']');
            end++;
        }
        const char *b = end;
        while (b > c && is_space(b[-1])) {
            b--;
        }
        if (n == CC_MAX_NDIM) {
            clear_items(items, n);
            return fail_at(p, c, CC_E_PARSE_INVALID_INDEX, "more than %d index items", CC_MAX_NDIM),
                   NULL;
        }
        if (index_item(p, c, b, &items[n]) < 0) {
            clear_items(items, n);
            return NULL;
        }
        n++;
        c = end < e - 1 ? skip_ws(end + 1, e - 1) : end;
        if (end < e - 1 && c == e - 1) {
            clear_items(items, n);
            return fail_at(p, c, CC_E_PARSE_INVALID_INDEX, "empty index item"), NULL;
        }
    }
    cc_node *out = cc_index_new(child, n, items, name);
    clear_items(items, n);
    return out != NULL ? out : locate_null(p, t->extra_at);
}

static cc_node *
build_gf(parser *p, const node_text *t, int n, cc_node *const *children, const char *name)
{
    if (expect_extra(p, t, "its function's name") < 0) {
        return NULL;
    }
    size_t len = strlen(t->extra), k = sizeof NOT_SERIALIZABLE - 1;
    if (len >= k && strcmp(t->extra + len - k, NOT_SERIALIZABLE) == 0) {
        return fail_at(p, t->extra_at, CC_E_PARSE_CIRCUIT,
                       "GeneralFunction %.*s was written in Python and cannot be read back from "
                       "text",
                       (int)(len - k), t->extra),
               NULL;
    }
    cc_gf_spec *spec = cc_gf_spec_by_name(t->extra);
    if (spec == NULL) {
        return locate_null(p, t->extra_at);
    }
    cc_node *out = cc_gf_new(n, children, spec, name);
    cc_gf_spec_decref(spec);
    return out != NULL ? out : locate_null(p, t->kind_at);
}

static cc_node *
build_module(parser *p, const node_text *t, int n, const child *ch, const char *name)
{
    int n_args = n - 1;
    cc_module_arg_spec *specs = cc_calloc((size_t)(n_args > 0 ? n_args : 1), sizeof *specs);
    cc_node **args = cc_calloc((size_t)(n_args > 0 ? n_args : 1), sizeof *args);
    cc_node *out = NULL;
    if (specs == NULL || args == NULL) {
        goto done;
    }
    for (int i = 0; i < n_args; i++) {
        specs[i].symbol = ch[i + 1].symbol;
        specs[i].batchable = ch[i + 1].flags[0];
        specs[i].expandable = ch[i + 1].flags[1];
        specs[i].ban_non_symbolic_size_expand = ch[i + 1].flags[2];
        args[i] = ch[i + 1].node;
    }
    cc_node *body = ch[0].node;
    if ((p->o->module_check_all_inputs_used &&
         cc_module_spec_check_all_inputs_used(body, n_args, specs) < 0) ||
        (p->o->module_check_unique_arg_names &&
         cc_module_spec_check_unique_arg_names(n_args, specs) < 0)) {
        locate(p, t->kind_at);
        goto done;
    }
    out = cc_module_new(body, n_args, specs, args, name);
    if (out == NULL) {
        locate(p, t->kind_at);
    }
done:
    cc_free(specs);
    cc_free(args);
    return out;
}

static int
expect_children(parser *p, const node_text *t, int n, int want)
{
    if (n != want) {
        return fail_at(p, t->kind_at, CC_E_PARSE_CIRCUIT_WRONG_NUMBER_CHILDREN,
                       "%s takes %d child%s, the text gives it %d",
                       cc_kind_get_info(t->kind)->py_name, want, want == 1 ? "" : "ren", n);
    }
    return 0;
}

static int
parse_axis(parser *p, const node_text *t, int64_t *axis)
{
    if (expect_extra(p, t, "an axis") < 0) {
        return -1;
    }
    return lex_int_all(p, t->extra_at, t->extra_at + strlen(t->extra), axis);
}

// The node of a definition from its text and built children (ch[i].node borrowed).
static cc_node *
build_kind(parser *p, const node_text *t, int n, const child *ch, cc_node *const *kids)
{
    const char *name = t->name != NULL ? t->name : CC_NO_NAME;
    int leaf = cc_kind_get_info(t->kind)->flags & CC_LEAF;
    int one_child = t->kind == CC_KIND_INDEX || t->kind == CC_KIND_REARRANGE ||
                    t->kind == CC_KIND_TAG || t->kind == CC_KIND_SET_SYMBOLIC_SHAPE;
    if ((leaf && expect_children(p, t, n, 0) < 0) ||
        (one_child && expect_children(p, t, n, 1) < 0)) {
        return NULL;
    }
    cc_node *out = NULL;
    switch (t->kind) {
    case CC_KIND_ARRAY:
        return build_array(p, t, name);
    case CC_KIND_SCALAR:
        return build_scalar(p, t, name);
    case CC_KIND_SYMBOL:
        return build_symbol(p, t, name);
    case CC_KIND_ADD:
        if (expect_no_extra(p, t) < 0) {
            return NULL;
        }
        out = cc_add_new(n, kids, name);
        break;
    case CC_KIND_EINSUM: {
        if (expect_extra(p, t, "its axes such as ab,bc->ac") < 0) {
            return NULL;
        }
        const char *fancy = "fancy:";
        int is_fancy = strncmp(t->extra, fancy, strlen(fancy)) == 0;
        out = cc_einsum_new_from_string(t->extra + (is_fancy ? strlen(fancy) : 0), is_fancy, n,
                                        kids, name);
        return out != NULL ? out : locate_null(p, t->extra_at);
    }
    case CC_KIND_INDEX:
        return build_index(p, t, kids[0], name);
    case CC_KIND_CONCAT: {
        int64_t axis;
        if (parse_axis(p, t, &axis) < 0) {
            return NULL;
        }
        if (axis < -CC_MAX_NDIM || axis >= CC_MAX_NDIM) {
            return fail_at(p, t->extra_at, CC_E_PARSE_INVALID_NUMBER,
                           "Concat axis %lld is out of range", (long long)axis),
                   NULL;
        }
        out = cc_concat_new(n, kids, (int)axis, name);
        break;
    }
    case CC_KIND_REARRANGE: {
        if (expect_extra(p, t, "its spec such as a b -> b a") < 0) {
            return NULL;
        }
        cc_rearrange_spec *spec = cc_rearrange_spec_from_string(t->extra);
        if (spec == NULL) {
            return locate_null(p, t->extra_at);
        }
        out = cc_rearrange_new(kids[0], spec, name);
        cc_rearrange_spec_free(spec);
        break;
    }
    case CC_KIND_GENERAL_FUNCTION:
        return build_gf(p, t, n, kids, name);
    case CC_KIND_TAG: {
        uint8_t uuid[16];
        if (expect_extra(p, t, "a uuid") < 0 || parse_uuid(p, t, uuid) < 0) {
            return NULL;
        }
        out = cc_tag_new(kids[0], uuid, name);
        break;
    }
    case CC_KIND_MODULE:
        if (n == 0) {
            return fail_at(p, t->kind_at, CC_E_PARSE_CIRCUIT_MODULE_NO_SPEC_CIRCUIT,
                           "a Module's first child is its body; this one has none"),
                   NULL;
        }
        if (expect_no_extra(p, t) < 0) {
            return NULL;
        }
        return build_module(p, t, n, ch, name);
    case CC_KIND_SET_SYMBOLIC_SHAPE:
        if (expect_shape(p, t, "") < 0 || expect_no_extra(p, t) < 0) {
            return NULL;
        }
        out = cc_set_symbolic_shape_new(kids[0], t->ndim, t->shape, name);
        break;
    default:
        return fail_at(p, t->kind_at, CC_E_PARSE_CIRCUIT_INVALID_VARIANT, "cannot parse %s",
                       cc_kind_get_info(t->kind)->py_name),
               NULL;
    }
    return out != NULL ? out : locate_null(p, t->kind_at);
}

// build_kind, then the line's shape checked and its AD flag applied.
static cc_node *
build(parser *p, const node_text *t, int n, const child *ch)
{
    cc_node **kids = cc_malloc((size_t)(n > 0 ? n : 1) * sizeof(cc_node *));
    if (kids == NULL) {
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        kids[i] = ch[i].node;
    }
    cc_node *out = build_kind(p, t, n, ch, kids);
    cc_free(kids);
    if (out == NULL) {
        return NULL;
    }
    if (t->has_shape && !shapes_equal(t->ndim, t->shape, out->ndim, out->shape)) {
        cc_str want, got;
        cc_str_init(&want);
        cc_str_init(&got);
        shape_text(&want, t->ndim, t->shape);
        shape_text(&got, out->ndim, out->shape);
        fail_at(p, t->shape_at, CC_E_PARSE_CIRCUIT_PASSED_IN_SHAPE_DOESNT_MATCH_COMPUTED_SHAPE,
                "the line says shape %s but the %s has shape %s", want.data ? want.data : "?",
                cc_kind_get_info(t->kind)->py_name, got.data ? got.data : "?");
        cc_str_clear(&want);
        cc_str_clear(&got);
        cc_node_decref(out);
        return NULL;
    }
    if (t->ad && out->use_autoname) {
        cc_node *m = cc_node_with_autoname_disabled(out, 1);
        cc_node_decref(out);
        out = m != NULL ? m : locate_null(p, t->ident_at);
    }
    return out;
}

// --- identifiers ------------------------------------------------------------------------------

static void
key_hash(const char *key, uint8_t out[32])
{
    cc_blake3 h;
    cc_blake3_init(&h);
    cc_blake3_update(&h, key, strlen(key));
    cc_blake3_final(&h, out, 32);
}

static def *
find_def(parser *p, const char *key)
{
    uint8_t h[32];
    key_hash(key, h);
    uintptr_t at = (uintptr_t)cc_hmap_get(&p->by_key, h);
    return at == 0 ? NULL : &p->defs[at - 1];
}

// Moves *t into a new definition; its position in defs.
static int
add_def(parser *p, node_text *t, size_t *ix)
{
    if (p->n_defs == p->cap_defs) {
        size_t cap = p->cap_defs ? p->cap_defs * 2 : 64;
        def *d = cc_realloc(p->defs, cap * sizeof(def));
        if (d == NULL) {
            return -1;
        }
        p->defs = d;
        p->cap_defs = cap;
    }
    uint8_t h[32];
    key_hash(t->key, h);
    if (cc_hmap_put(&p->by_key, h, (void *)(uintptr_t)(p->n_defs + 1)) < 0) {
        return -1;
    }
    *ix = p->n_defs;
    p->defs[p->n_defs].text = *t;
    p->defs[p->n_defs].node = NULL;
    p->n_defs++;
    memset(t, 0, sizeof *t);
    return 0;
}

static cc_node *
find_ref(const parser *p, const node_text *t)
{
    if (t->key[0] != '\'') {
        return NULL;
    }
    for (int i = 0; i < p->o->n_refs; i++) {
        if (strcmp(p->o->ref_idents[i], t->key + 1) == 0) {
            return p->o->ref_nodes[i];
        }
    }
    return NULL;
}

static int
has_info(const node_text *t, int name_counts)
{
    return (name_counts && t->name != NULL) || t->ad || t->has_shape || t->has_kind ||
           t->extra != NULL;
}

static int
repeat_differs(parser *p, const def *d, const char *what, const char *at)
{
    return fail_at(p, at, CC_E_PARSE_CIRCUIT_ON_CIRCUIT_REPEAT_INFO_IS_NOT_SAME,
                   "%s repeats a node with a different %s than where it was defined",
                   d->text.key + 1, what);
}

// A repeated identifier's info, checked against its definition.
static int
check_repeat(parser *p, const node_text *t, const def *d)
{
    const cc_node *n = d->node;
    if (!p->o->on_repeat_check_info_same) {
        return 0;
    }
    if (t->name != NULL && (n->name == NULL || strcmp(t->name, n->name) != 0)) {
        return repeat_differs(p, d, "name", t->ident_at);
    }
    if (t->ad && n->use_autoname) {
        return repeat_differs(p, d, "AD flag", t->ident_at);
    }
    if (t->has_shape && !shapes_equal(t->ndim, t->shape, n->ndim, n->shape)) {
        return repeat_differs(p, d, "shape", t->shape_at);
    }
    if (t->has_kind && t->kind != n->kind) {
        return repeat_differs(p, d, "node type", t->kind_at);
    }
    if (t->extra != NULL && (d->text.extra == NULL || strcmp(t->extra, d->text.extra) != 0)) {
        return repeat_differs(p, d, "payload", t->extra_at);
    }
    return 0;
}

// The node an identifier already stands for (a new reference in *out), or *out NULL when t
// defines a new one. 0, or -1.
static int
resolve(parser *p, const node_text *t, cc_node **out, int *is_ref)
{
    *out = NULL;
    *is_ref = 0;
    cc_node *ref = find_ref(p, t);
    if (ref != NULL) {
        if (has_info(t, t->key[0] == '#')) {
            return fail_at(p, t->ident_at,
                           CC_E_PARSE_CIRCUIT_REFERENCE_CIRCUIT_NAME_FOLLOWED_BY_ADDITIONAL_INFO,
                           "'%s' is a reference circuit: its line holds nothing else", t->key + 1);
        }
        cc_node_incref(ref);
        *out = ref;
        *is_ref = 1;
        return 0;
    }
    def *d = find_def(p, t->key);
    if (d == NULL) {
        if (!t->has_kind) {
            return fail_at(p, t->ident_at, CC_E_PARSE_CIRCUIT,
                           "%s%s refers to no node defined above (a new node needs a type such "
                           "as Add)",
                           t->key[0] == '#' ? "serial number " : "", t->key + 1);
        }
        return 0;
    }
    if (d->node == NULL) {
        return fail_at(p, t->ident_at, CC_E_PARSE_CIRCUIT_CYCLE,
                       "%s refers to a node it is inside of (a cycle)", t->key + 1);
    }
    if (check_repeat(p, t, d) < 0) {
        return -1;
    }
    cc_node_incref(d->node);
    *out = d->node;
    return 0;
}

// The node of a Module binding's text (after '!'): a reference, or a new leaf built now.
static cc_node *
binding_node(parser *p, node_text *t)
{
    cc_node *n;
    int is_ref;
    if (resolve(p, t, &n, &is_ref) < 0) {
        return NULL;
    }
    if (n != NULL) {
        return n;
    }
    n = build(p, t, 0, NULL);
    size_t ix;
    if (n == NULL || add_def(p, t, &ix) < 0) {
        cc_node_decref(n);
        return NULL;
    }
    p->defs[ix].node = n;
    cc_node_incref(n);
    return n;
}

// --- structure --------------------------------------------------------------------------------

static void
open_node_clear(open_node *e)
{
    cc_node_decref(e->fixed);
    cc_node_decref(e->symbol);
    for (int i = 0; i < e->n_children; i++) {
        cc_node_decref(e->children[i].node);
        cc_node_decref(e->children[i].symbol);
    }
    cc_free(e->children);
}

static int
push_result(parser *p, cc_node *n)
{
    if (p->n_results == p->cap_results) {
        size_t cap = p->cap_results ? p->cap_results * 2 : 8;
        cc_node **r = cc_realloc(p->results, cap * sizeof(cc_node *));
        if (r == NULL) {
            return -1;
        }
        p->results = r;
        p->cap_results = cap;
    }
    p->results[p->n_results++] = n;
    return 0;
}

static int
add_child(open_node *parent, cc_node *n, cc_node *symbol, const uint8_t flags[3])
{
    if (parent->n_children == parent->cap_children) {
        int cap = parent->cap_children ? parent->cap_children * 2 : 4;
        child *c = cc_realloc(parent->children, (size_t)cap * sizeof(child));
        if (c == NULL) {
            return -1;
        }
        parent->children = c;
        parent->cap_children = cap;
    }
    child *c = &parent->children[parent->n_children++];
    c->node = n;
    c->symbol = symbol;
    memcpy(c->flags, flags, 3);
    return 0;
}

// Builds the innermost open node and hands it to its parent (or the results).
static int
close_top(parser *p)
{
    open_node e = p->stack[--p->n_stack];
    cc_node *n = e.fixed;
    e.fixed = NULL;
    int rc = 0;
    if (e.def_ix >= 0) {
        line_ctx saved = p->cur;
        p->cur = e.line;
        def *d = &p->defs[e.def_ix];
        n = build(p, &d->text, e.n_children, e.children);
        p->cur = saved;
        if (n == NULL) {
            rc = -1;
        } else {
            d->node = n;
            cc_node_incref(n);
        }
    }
    if (rc == 0) {
        if (p->n_stack > 0) {
            rc = add_child(&p->stack[p->n_stack - 1], n, e.symbol, e.flags);
        } else {
            rc = push_result(p, n);
        }
        if (rc == 0) {
            n = NULL;
            e.symbol = NULL;
        }
    }
    cc_node_decref(n);
    open_node_clear(&e);
    return rc;
}

// Checks what a new line under parent (NULL at top level) says of its place.
static int
check_place(parser *p, const open_node *parent, int has_binding, const char *bang)
{
    if (parent == NULL) {
        return has_binding ? fail_at(p, bang, CC_E_PARSE_CIRCUIT_HAS_PARENT_INFO_BUT_NO_PARENT,
                                     "a top-level node has a Module binding ('!')")
                           : 0;
    }
    if (parent->def_ix < 0) {
        return fail_at(p, NULL,
                       parent->is_ref ? CC_E_PARSE_CIRCUIT_REFERENCE_CIRCUIT_HAS_CHILDREN
                                      : CC_E_PARSE_CIRCUIT_REPEATED_CIRCUIT_HAS_CHILDREN,
                       "line %lld %s, so it cannot have children lines", (long long)parent->line.no,
                       parent->is_ref ? "names a reference circuit"
                                      : "repeats a node defined above");
    }
    const node_text *pt = &p->defs[parent->def_ix].text;
    int ix = parent->n_children;
    if (pt->kind == CC_KIND_MODULE && ix > 0 && !has_binding) {
        return fail_at(p, NULL, CC_E_PARSE_CIRCUIT_MODULE_REQUIRES_INPUT_CHILD_TO_HAVE_PARENT_INFO,
                       "argument %d of Module %s needs its binding: ! <symbol> after the node",
                       ix - 1, pt->key + 1);
    }
    if (has_binding && (pt->kind != CC_KIND_MODULE || ix == 0)) {
        return fail_at(p, bang, CC_E_PARSE_CIRCUIT_UNEXPECTED_CHILD_INFO,
                       "only a Module's arguments carry a binding ('!'); this is child %d of a "
                       "%s",
                       ix, cc_kind_get_info(pt->kind)->py_name);
    }
    return 0;
}

static int
push_open(parser *p, const open_node *e)
{
    if (p->n_stack == p->cap_stack) {
        size_t cap = p->cap_stack ? p->cap_stack * 2 : 64;
        open_node *s = cc_realloc(p->stack, cap * sizeof(open_node));
        if (s == NULL) {
            return -1;
        }
        p->stack = s;
        p->cap_stack = cap;
    }
    p->stack[p->n_stack++] = *e;
    return 0;
}

// A node line at indentation col: [s, e) after the indentation. below: it follows a ▼ line,
// so it is the only child of the line above at the same indentation.
static int
node_line(parser *p, int col, const char *s, const char *e, int below)
{
    if (!below) {
        while (p->n_stack > 0 && p->stack[p->n_stack - 1].col >= col) {
            if (close_top(p) < 0) {
                return -1;
            }
        }
        if (p->n_stack > 0 && p->stack[p->n_stack - 1].col != col - 2) {
            return fail_at(p, s, CC_E_PARSE_CIRCUIT_INVALID_INDENTATION,
                           "indented %d characters past its parent's line: a child is indented "
                           "by 2",
                           col - p->stack[p->n_stack - 1].col);
        }
    }
    open_node o = {.col = col, .line = p->cur, .def_ix = -1, .flags = {1, 1, 1}};
    node_text t, binding;
    memset(&binding, 0, sizeof binding);
    const char *stop;
    int has_binding = 0;
    int rc = lex_node_text(p, s, e, 0, &t, NULL, &stop);
    const char *bang = stop;
    if (rc == 0 && stop < e && *stop == '!') {
        has_binding = 1;
        rc = lex_node_text(p, stop + 1, e, 1, &binding, o.flags, &stop);
    }
    open_node *parent = p->n_stack > 0 ? &p->stack[p->n_stack - 1] : NULL;
    if (rc == 0) {
        rc = check_place(p, parent, has_binding, bang);
    }
    if (rc == 0) {
        rc = resolve(p, &t, &o.fixed, &o.is_ref);
    }
    if (rc == 0 && o.fixed == NULL) {
        size_t ix;
        rc = add_def(p, &t, &ix);
        o.def_ix = (int)ix;
    }
    if (rc == 0 && has_binding) {
        o.symbol = binding_node(p, &binding);
        rc = o.symbol == NULL ? -1 : 0;
    }
    if (rc == 0) {
        rc = push_open(p, &o);
    }
    if (rc < 0) {
        cc_node_decref(o.fixed);
        cc_node_decref(o.symbol);
    }
    node_text_clear(&t);
    node_text_clear(&binding);
    return rc;
}

static int
is_marker(const char *s, const char *e, const char **after)
{
    static const char down[] = "▼";
    size_t n = sizeof down - 1;
    if ((size_t)(e - s) >= n && memcmp(s, down, n) == 0) {
        *after = s + n;
        return 1;
    }
    if (e - s >= 2 && s[0] == '|' && s[1] == '/') {
        *after = s + 2;
        return 1;
    }
    return 0;
}

typedef struct {
    int base;         // indentation of the first node line; -1 before it
    int pending_only; // a ▼ line waits for its child
} layout;

static int
one_line(parser *p, layout *l)
{
    const char *s = p->cur.s, *e = s + p->cur.len;
    int col = 0;
    for (int k; s < e && (k = indent_char_len(s, e)) > 0; s += k) {
        col++;
    }
    const char *after;
    if (s == e || *s == '#') {
        return 0;
    }
    if (is_marker(s, e, &after)) {
        after = skip_ws(after, e);
        if (after < e && *after != '#') {
            return fail_at(p, after, CC_E_PARSE_CIRCUIT, "a ▼ line holds nothing else");
        }
        if (l->pending_only || p->n_stack == 0 || p->stack[p->n_stack - 1].col != col) {
            return fail_at(p, s, CC_E_PARSE_CIRCUIT_INVALID_INDENTATION,
                           "a ▼ line comes right after its parent's line, at the same "
                           "indentation");
        }
        l->pending_only = 1;
        return 0;
    }
    if (l->base < 0) {
        l->base = col;
    }
    if (col < l->base) {
        return fail_at(p, s, CC_E_PARSE_CIRCUIT_LESS_INDENTATION_THAN_FIRST_ITEM,
                       "indented %d characters, less than the first node's %d", col, l->base);
    }
    if ((col - l->base) % 2 != 0) {
        return fail_at(p, s, CC_E_PARSE_CIRCUIT_INVALID_INDENTATION,
                       "indented %d characters past the first node: not a multiple of 2",
                       col - l->base);
    }
    int below = l->pending_only;
    if (below && p->stack[p->n_stack - 1].col != col) {
        return fail_at(p, s, CC_E_PARSE_CIRCUIT_INVALID_INDENTATION,
                       "the child after a ▼ line is at its parent's indentation");
    }
    l->pending_only = 0;
    return node_line(p, col, s, e, below);
}

void
cc_parse_options_default(cc_parse_options *o)
{
    memset(o, 0, sizeof *o);
    o->on_repeat_check_info_same = 1;
    o->module_check_all_inputs_used = 1;
}

static void
parser_clear(parser *p)
{
    while (p->n_stack > 0) {
        open_node_clear(&p->stack[--p->n_stack]);
    }
    cc_free(p->stack);
    for (size_t i = 0; i < p->n_defs; i++) {
        node_text_clear(&p->defs[i].text);
        cc_node_decref(p->defs[i].node);
    }
    cc_free(p->defs);
    cc_hmap_clear(&p->by_key);
    for (size_t i = 0; i < p->n_results; i++) {
        cc_node_decref(p->results[i]);
    }
    cc_free(p->results);
}

int
cc_parse_circuits(const char *text, size_t len, const cc_parse_options *o, cc_node ***out)
{
    parser p;
    memset(&p, 0, sizeof p);
    p.o = o;
    cc_hmap_init(&p.by_key);
    layout l = {.base = -1};
    const char *end = text + len;
    int rc = 0;
    for (const char *line = text; rc == 0;) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        const char *le = nl != NULL ? nl : end;
        p.cur = (line_ctx){line, (size_t)(le - line), p.cur.no + 1};
        if (p.cur.len > 0 && line[p.cur.len - 1] == '\r') {
            p.cur.len--;
        }
        const char *nul = memchr(line, '\0', p.cur.len);
        rc = nul != NULL ? fail_at(&p, nul, CC_E_PARSE_CIRCUIT, "NUL character in the text")
                         : one_line(&p, &l);
        if (nl == NULL) {
            break;
        }
        line = nl + 1;
    }
    if (rc == 0 && l.pending_only) {
        rc = fail_at(&p, NULL, CC_E_PARSE_CIRCUIT, "the text ends after a ▼ line");
    }
    while (rc == 0 && p.n_stack > 0) {
        rc = close_top(&p);
    }
    if (rc < 0) {
        parser_clear(&p);
        return -1;
    }
    int n = (int)p.n_results;
    *out = p.results;
    p.results = NULL;
    p.n_results = 0;
    parser_clear(&p);
    return n;
}
