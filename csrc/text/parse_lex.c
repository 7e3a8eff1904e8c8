// Lexer of the parser's lines (text/parse_impl.h): identifiers, quoted names, shapes with
// symbolic sizes, node types and payload text, and the messages that point into a line.
// Builds no nodes.
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "nodes/payload_text.h"
#include "nodes/shape.h"
#include "text/parse_impl.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/str.h"

// Longest stretch of a line quoted in an error message, in bytes.
#define QUOTE_MAX 200

// --- errors ---------------------------------------------------------------------------------

// 1-based column of at in the current line, in characters (at NULL: the line's start).
static int
column(const cc_parse_line *l, const char *at)
{
    int col = 1;
    if (at == NULL || at < l->s || at > l->s + l->len) {
        return col;
    }
    for (const char *c = l->s; c < at; c++) {
        col += ((unsigned char)*c & 0xC0) != 0x80;
    }
    return col;
}

// How many bytes of the current line a message quotes: at most QUOTE_MAX, whole characters.
static int
quoted_len(const cc_parse_line *l)
{
    size_t n = l->len;
    if (n > QUOTE_MAX) {
        n = QUOTE_MAX;
        while (n > 0 && ((unsigned char)l->s[n] & 0xC0) == 0x80) {
            n--;
        }
    }
    return (int)n;
}

static int
vfail(const cc_parse_line *l, const char *at, cc_error_kind kind, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    return cc_fail(kind, "line %lld, column %d: %s\n    %.*s%s", (long long)l->no, column(l, at),
                   msg, quoted_len(l), l->s, l->len > QUOTE_MAX ? " ..." : "");
}

int
cc_parse_fail_at(const cc_parse_line *l, const char *at, cc_error_kind kind, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vfail(l, at, kind, fmt, ap);
    va_end(ap);
    return rc;
}

void *
cc_parse_fail_null(const cc_parse_line *l, const char *at, cc_error_kind kind, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(l, at, kind, fmt, ap);
    va_end(ap);
    return NULL;
}

// Gives the error a constructor or a hook recorded the position of at; returns -1.
int
cc_parse_locate(const cc_parse_line *l, const char *at)
{
    cc_error_kind kind = cc_error_kind_get();
    if (kind == CC_E_NO_MEMORY) {
        return -1;
    }
    char *msg = cc_strdup(cc_error_message());
    if (msg == NULL) {
        return -1;
    }
    cc_parse_fail_at(l, at, kind, "%s", msg);
    cc_free(msg);
    return -1;
}

// --- lexing -----------------------------------------------------------------------------------

// Indentation characters: spaces, tabs and the tree drawing of PrintOptions(arrows=True).
int
cc_parse_indent_char_len(const char *s, const char *e)
{
    static const char *const drawing[] = {"│", "└", "├", "‣", "─", "┌"};
    if (cc_parse_is_space(*s)) {
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
int
cc_parse_uint(const cc_parse_line *l, const char **s, const char *e, int64_t *out)
{
    const char *at;
    return cc_payload_parse_uint(s, e, out, &at) < 0 ? cc_parse_locate(l, at) : 0;
}

// A quoted name: '...' with \ escaping the next character. *s at the opening quote.
static int
lex_quoted(const cc_parse_line *l, const char **s, const char *e, char **out)
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
        return cc_parse_fail_at(l, start, CC_E_PARSE_CIRCUIT, "unterminated quoted name");
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
lex_size(const cc_parse_line *l, const char **s, const char *e, int64_t *out)
{
    const char *start = *s;
    int64_t size = 1;
    for (;;) {
        const char *at = *s;
        int64_t v;
        if (cc_parse_uint(l, s, e, &v) < 0) {
            return -1;
        }
        if (*s < e && **s == 's') {
            (*s)++;
            if (v >= CC_N_SYMBOLIC_SIZES) {
                return cc_parse_fail_at(l, at, CC_E_PARSE_SYMBOLIC_SIZE_NUMBER_OUT_OF_BOUNDS,
                                        "symbolic size %llds: only 0s to %ds exist", (long long)v,
                                        CC_N_SYMBOLIC_SIZES - 1);
            }
            v = cc_symbolic_size((int)v);
        }
        if (v != 0 && size > INT64_MAX / v) {
            return cc_parse_fail_at(l, start, CC_E_PARSE_FACTOR_PRODUCT_TOO_LARGE,
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
lex_shape(const cc_parse_line *l, const char **s, const char *e, cc_parse_node_text *t)
{
    const char *c = *s + 1;
    t->shape_at = *s;
    t->has_shape = 1;
    t->ndim = 0;
    for (;;) {
        c = cc_parse_skip_ws(c, e);
        if (c < e && *c == ']') {
            break;
        }
        if (t->ndim == CC_MAX_NDIM) {
            return cc_parse_fail_at(l, t->shape_at, CC_E_PARSE_CIRCUIT_INVALID_AXIS_SHAPE_FORMAT,
                                    "a shape has at most %d axes", CC_MAX_NDIM);
        }
        // rc's named axis "name:size": the text before the axis's first ':'.
        const char *colon = c;
        while (colon < e && *colon != ':' && *colon != ',' && *colon != ']') {
            colon++;
        }
        if (colon < e && *colon == ':') {
            const char *end = colon;
            while (end > c && (end[-1] == ' ' || end[-1] == '\t')) {
                end--;
            }
            char *axis_name = cc_malloc((size_t)(end - c) + 1);
            if (axis_name == NULL) {
                return -1;
            }
            memcpy(axis_name, c, (size_t)(end - c));
            axis_name[end - c] = '\0';
            t->axis_names[t->ndim] = axis_name;
            c = cc_parse_skip_ws(colon + 1, e);
        }
        if (c == e || !cc_parse_is_digit(*c)) {
            return cc_parse_fail_at(l, c, CC_E_PARSE_CIRCUIT_INVALID_AXIS_SHAPE_FORMAT,
                                    "expected a size (such as 3, 0s or 2*1s) or ']' in a shape");
        }
        if (lex_size(l, &c, e, &t->shape[t->ndim++]) < 0) {
            return -1;
        }
        c = cc_parse_skip_ws(c, e);
        if (c < e && *c == ',') {
            c++;
        } else if (c == e || *c != ']') {
            return cc_parse_fail_at(l, c, CC_E_PARSE_CIRCUIT_INVALID_AXIS_SHAPE_FORMAT,
                                    "expected ',' or ']' in a shape");
        }
    }
    *s = c + 1;
    return 0;
}

static int
lex_kind(const cc_parse_line *l, const char **s, const char *e, cc_parse_node_text *t)
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
    return cc_parse_fail_at(
        l, *s, CC_E_PARSE_CIRCUIT_INVALID_VARIANT,
        "unknown node type '%.*s' (expected Array, Scalar, Symbol, Add, Einsum, "
        "Index, Concat, Rearrange, GeneralFunction, Tag, Module, SetSymbolicShape, "
        "DiscreteVar, StoredCumulantVar, Cumulant, Scatter or Conv)",
        (int)n, *s);
}

void
cc_parse_node_text_clear(cc_parse_node_text *t)
{
    cc_free(t->key);
    cc_free(t->name);
    cc_free(t->extra);
    for (int a = 0; a < CC_MAX_NDIM; a++) {
        cc_free(t->axis_names[a]);
    }
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

int
cc_parse_lex_line(const cc_parse_line *l, const char *s, const char *e, int child_info,
                  cc_parse_node_text *t, uint8_t flags[3], const char **stop)
{
    memset(t, 0, sizeof *t);
    s = cc_parse_skip_ws(s, e);
    t->ident_at = s;
    cc_str key;
    cc_str_init(&key);
    if (s < e && cc_parse_is_digit(*s)) {
        int64_t serial;
        if (cc_parse_uint(l, &s, e, &serial) < 0 ||
            cc_str_appendf(&key, "#%lld", (long long)serial) < 0) {
            cc_str_clear(&key);
            return -1;
        }
    } else if (s < e && *s == '\'') {
        char *quoted;
        if (lex_quoted(l, &s, e, &quoted) < 0) {
            return -1;
        }
        t->name = quoted;
        if (cc_str_append(&key, "'") < 0 || cc_str_append(&key, quoted) < 0) {
            cc_str_clear(&key);
            return -1;
        }
    } else {
        return cc_parse_fail_at(l, s, CC_E_PARSE_CIRCUIT,
                                "expected a serial number or a quoted name at the start of a node");
    }
    t->key = cc_str_take(&key);
    if (t->key == NULL) {
        return -1;
    }
    s = cc_parse_skip_ws(s, e);
    if (s < e && *s == '\'') {
        char *name;
        if (lex_quoted(l, &s, e, &name) < 0) {
            return -1;
        }
        cc_free(t->name);
        t->name = name;
        t->explicit_name = 1;
        s = cc_parse_skip_ws(s, e);
    }
    if (e - s >= 2 && s[0] == 'A' && s[1] == 'D' && (e - s == 2 || cc_parse_is_space(s[2]))) {
        t->ad = 1;
        s = cc_parse_skip_ws(s + 2, e);
    }
    if (s < e && *s == '[') {
        if (lex_shape(l, &s, e, t) < 0) {
            return -1;
        }
        s = cc_parse_skip_ws(s, e);
    }
    // The node type is a capitalised word standing alone (followed by a space, a comment or a
    // binding, or ending the line). Anything else starts the payload, which a repeated node's
    // line may carry as free text (as rc's printer writes "8 tok_embeds").
    const char *word = s;
    while (word < e && ((*word >= 'A' && *word <= 'Z') || (*word >= 'a' && *word <= 'z'))) {
        word++;
    }
    if (s < e && *s >= 'A' && *s <= 'Z' &&
        (word == e || cc_parse_is_space(*word) || *word == '#' || *word == '!')) {
        if (lex_kind(l, &s, e, t) < 0) {
            return -1;
        }
        s = cc_parse_skip_ws(s, e);
    }
    const char *end = s;
    while (end < e && *end != '#' && (child_info || *end != '!')) {
        end++;
    }
    *stop = end;
    while (end > s && cc_parse_is_space(end[-1])) {
        end--;
    }
    if (child_info) {
        const char *w = end;
        while (w > s && !cc_parse_is_space(w[-1])) {
            w--;
        }
        if (is_flags(w, (size_t)(end - w))) {
            for (int i = 0; i < 3; i++) {
                flags[i] = w[i] == 't';
            }
            end = w;
            while (end > s && cc_parse_is_space(end[-1])) {
                end--;
            }
        }
    }
    if (end > s) {
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
