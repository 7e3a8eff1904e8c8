// Printer of circuits in rc's line format (text/print.h): identifiers and serial numbers,
// repeat references, shapes with symbolic sizes, per-kind payload text, the depth cut.
// Reads node payloads through node.h; knows nothing of evaluation or Python.
#include "text/print.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodes/einsum_string.h"
#include "nodes/gf.h"
#include "nodes/module.h"
#include "nodes/rearrange.h"
#include "nodes/shape.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/hmap.h"
#include "util/str.h"

#define DEFAULT_END_DEPTH 2

// One distinct node (by hash) of the printed circuits.
typedef struct {
    const cc_node *node;
    int64_t serial;      // -1 while unprinted, and for uniquely named nodes
    uint8_t name_shared; // another distinct node has the same name
    uint8_t printed;
} entry;

typedef struct {
    const cc_node *node;
    int depth;
    const cc_node *parent; // NULL for a root
    int child_ix;          // position under parent
} frame;

typedef struct {
    const cc_print_options *o;
    cc_hmap index; // node hash -> position in entries + 1
    entry *entries;
    size_t n_entries, cap_entries;
    frame *frames; // pending nodes of the pre-order walk
    size_t n_frames, cap_frames;
    int64_t next_serial;
    // Sizes >= the first symbolic prime seen without symbolic factors (slot: size % 64), so
    // that a repeated size such as a vocabulary is tested once.
    int64_t plain_sizes[64];
    cc_str text;
    int failed; // an error is recorded; later output is skipped
} printer;

void
cc_print_options_debug(cc_print_options *o)
{
    o->bijection = 0;
    o->shape_only_when_necessary = 0;
    o->end_depth = DEFAULT_END_DEPTH;
    const char *s = getenv("RR_DEBUG_END_DEPTH");
    if (s == NULL) {
        return;
    }
    // rc: "none" in any case means unlimited; otherwise Rust's usize parse (an optional '+'
    // then digits); anything else keeps the default.
    const char *none = "none";
    size_t i = 0;
    while (s[i] != '\0' && none[i] != '\0' && (s[i] | 0x20) == none[i]) {
        i++;
    }
    if (s[i] == '\0' && none[i] == '\0') {
        o->end_depth = -1;
        return;
    }
    const char *d = s[0] == '+' ? s + 1 : s;
    if (*d == '\0') {
        return;
    }
    uint64_t v = 0;
    for (; *d != '\0'; d++) {
        uint64_t digit = (uint64_t)(*d - '0');
        if (*d < '0' || *d > '9' || v > (UINT64_MAX - digit) / 10) {
            return;
        }
        v = v * 10 + digit;
    }
    // Depths past INT_MAX never occur in a graph, so they act as unlimited.
    o->end_depth = v > INT_MAX ? INT_MAX : (int)v;
}

static void
put_n(printer *p, const char *s, size_t n)
{
    if (!p->failed && cc_str_append_n(&p->text, s, n) < 0) {
        p->failed = 1;
    }
}

static void
put(printer *p, const char *s)
{
    put_n(p, s, strlen(s));
}

// Decimal digits without printf: a large print writes a few integers per line.
static void
put_i64(printer *p, int64_t v)
{
    char buf[24];
    char *c = buf + sizeof buf;
    uint64_t m = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        *--c = (char)('0' + m % 10);
        m /= 10;
    } while (m > 0);
    if (v < 0) {
        *--c = '-';
    }
    put_n(p, c, (size_t)(buf + sizeof buf - c));
}

static void
put_zeros(printer *p, int n)
{
    for (int i = 0; i < n; i++) {
        put_n(p, "0", 1);
    }
}

static void
put_indent(printer *p, int depth)
{
    static const char spaces[] = "                                                                ";
    size_t left = 2 * (size_t)depth;
    while (left > 0) {
        size_t k = left < sizeof spaces - 1 ? left : sizeof spaces - 1;
        put_n(p, spaces, k);
        left -= k;
    }
}

// rc's display of a size ("12", "0s", "2*1s"). Sizes below the first symbolic prime, and
// sizes already found free of symbolic factors, skip shape.c's trial divisions.
static void
put_size(printer *p, int64_t size)
{
    if (size < cc_symbolic_size(0) || p->plain_sizes[size % 64] == size) {
        put_i64(p, size);
    } else if (!cc_size_has_symbolic(size)) {
        p->plain_sizes[size % 64] = size;
        put_i64(p, size);
    } else if (!p->failed && cc_size_append(&p->text, size) < 0) {
        p->failed = 1;
    }
}

// Reads the digits and decimal exponent of printf's "%e" text (any decimal point character):
// value = d[0].d[1..] * 10^exp10. Returns the number of digits.
static int
read_scientific(const char *text, char *digits, int *exp10)
{
    int n = 0;
    const char *c = text;
    for (; *c != 'e'; c++) {
        if (*c >= '0' && *c <= '9') {
            digits[n++] = *c;
        }
    }
    digits[n] = '\0';
    *exp10 = atoi(c + 1);
    return n;
}

// The shortest decimal that reads back as v (finite, > 0), the closest to v among those:
// what Rust's float Display prints. digits has no trailing zeros; v = 0.digits * 10^exp.
// Returns the number of digits.
static int
shortest_digits(double v, char digits[24], int *exp)
{
    char text[48];
    int n = 0, exp10 = 0;
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(text, sizeof text, "%.*e", prec - 1, v);
        n = read_scientific(text, digits, &exp10);
        if (strtod(text, NULL) == v) {
            break;
        }
        // When v is a power of two, the values reading back as v reach twice as far above v
        // as below it, so the next decimal up may read back where the nearest does not.
        char up[24];
        memcpy(up, digits, (size_t)n + 1);
        int k = n - 1;
        while (k >= 0 && up[k] == '9') {
            up[k--] = '0';
        }
        int up_exp10 = exp10;
        if (k >= 0) {
            up[k]++;
        } else {
            up[0] = '1';
            up_exp10++;
        }
        snprintf(text, sizeof text, "%se%d", up, up_exp10 - (n - 1));
        if (strtod(text, NULL) == v) {
            memcpy(digits, up, (size_t)n + 1);
            exp10 = up_exp10;
            break;
        }
    }
    while (n > 1 && digits[n - 1] == '0') {
        digits[--n] = '\0';
    }
    *exp = exp10 + 1;
    return n;
}

// Rust's Display of an f64 (rc prints Scalar values with it): shortest round-trip digits,
// never an exponent, integral values without ".0"; NaN, inf, -inf, and "-0" for -0.0.
static void
put_double(printer *p, double v)
{
    if (isnan(v)) {
        put(p, "NaN");
        return;
    }
    if (signbit(v)) {
        put(p, "-");
        v = -v;
    }
    if (isinf(v)) {
        put(p, "inf");
        return;
    }
    if (v < 9007199254740992.0 && v == floor(v)) {
        // Below 2^53 neighbouring doubles are at most 1 apart, so an integral value's own
        // digits are its shortest form.
        put_i64(p, (int64_t)v);
        return;
    }
    char digits[24];
    int exp;
    int n = shortest_digits(v, digits, &exp);
    if (exp <= 0) {
        put(p, "0.");
        put_zeros(p, -exp);
        put_n(p, digits, (size_t)n);
    } else if (exp < n) {
        put_n(p, digits, (size_t)exp);
        put(p, ".");
        put_n(p, digits + exp, (size_t)(n - exp));
    } else {
        put_n(p, digits, (size_t)n);
        put_zeros(p, exp - n);
    }
}

static void
put_uuid(printer *p, const uint8_t uuid[16])
{
    char buf[40];
    int len = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            buf[len++] = '-';
        }
        len += snprintf(buf + len, sizeof buf - (size_t)len, "%02x", uuid[i]);
    }
    put(p, buf);
}

static int
uuid_is_nil(const uint8_t uuid[16])
{
    for (int i = 0; i < 16; i++) {
        if (uuid[i] != 0) {
            return 0;
        }
    }
    return 1;
}

static void
put_einsum(printer *p, const cc_node *n)
{
    if (p->failed) {
        return;
    }
    char *text = cc_einsum_to_string(n);
    if (text == NULL) {
        cc_error_prefix("Einsum '%s'", n->name ? n->name : "");
        p->failed = 1;
        return;
    }
    put(p, text);
    cc_free(text);
}

// rc's Display of a TensorIndex: ints, start:stop with absent bounds empty, a tensor as
// its length in brackets.
static void
put_index(printer *p, const cc_node *n)
{
    put(p, "[");
    for (int i = 0; i < n->u.index.n_items; i++) {
        const cc_index_item *it = &n->u.index.items[i];
        if (i > 0) {
            put(p, ",");
        }
        if (it->kind == CC_INDEX_INT) {
            put_i64(p, it->i);
        } else if (it->kind == CC_INDEX_SLICE) {
            if (it->has_start) {
                put_i64(p, it->start);
            }
            put(p, ":");
            if (it->has_stop) {
                put_i64(p, it->stop);
            }
        } else {
            put(p, "[");
            put_i64(p, it->tensor.shape[0]);
            put(p, "]");
        }
    }
    put(p, "]");
}

static void
put_rearrange(printer *p, const cc_node *n)
{
    if (p->failed) {
        return;
    }
    char *spec = cc_rearrange_spec_to_string(n->u.rearrange.spec);
    if (spec == NULL) {
        p->failed = 1;
        return;
    }
    put(p, spec);
    cc_free(spec);
}

// rc's repr_extra_info, non-bijection form.
static void
put_extra(printer *p, const cc_node *n)
{
    switch (n->kind) {
    case CC_KIND_SCALAR:
        put_double(p, n->u.scalar.value);
        break;
    case CC_KIND_SYMBOL:
        if (!uuid_is_nil(n->u.symbol.uuid)) {
            put_uuid(p, n->u.symbol.uuid);
        }
        break;
    case CC_KIND_EINSUM:
        put_einsum(p, n);
        break;
    case CC_KIND_INDEX:
        put_index(p, n);
        break;
    case CC_KIND_CONCAT:
        put_i64(p, n->u.concat.axis);
        break;
    case CC_KIND_REARRANGE:
        put_rearrange(p, n);
        break;
    case CC_KIND_GENERAL_FUNCTION:
        put(p, n->u.gf.spec->name);
        break;
    case CC_KIND_TAG:
        put_uuid(p, n->u.tag.uuid);
        break;
    default:
        break;
    }
}

static int
shape_is_shown(const printer *p, const cc_node *n)
{
    return !p->o->shape_only_when_necessary || (cc_kind_get_info(n->kind)->flags & CC_LEAF) ||
           n->kind == CC_KIND_INDEX || n->kind == CC_KIND_SET_SYMBOLIC_SHAPE;
}

// rc's repr_line_info: " [shape] Variant extra", at most two trailing spaces removed.
static void
put_line_info(printer *p, const cc_node *n)
{
    size_t start = p->text.len;
    if (shape_is_shown(p, n)) {
        put(p, " [");
        for (int a = 0; a < n->ndim; a++) {
            if (a > 0) {
                put(p, ",");
            }
            put_size(p, n->shape[a]);
        }
        put(p, "]");
    }
    put(p, " ");
    put(p, cc_kind_get_info(n->kind)->py_name);
    put(p, " ");
    put_extra(p, n);
    for (int k = 0; k < 2 && !p->failed && p->text.len > start; k++) {
        if (p->text.data[p->text.len - 1] == ' ') {
            p->text.data[--p->text.len] = '\0';
        }
    }
}

// The identifier of a printed node: its serial number, its name, or both.
static void
put_ident(printer *p, const entry *e)
{
    if (e->serial >= 0) {
        put_i64(p, e->serial);
    }
    if (e->node->name != NULL) {
        if (e->serial >= 0) {
            put(p, " ");
        }
        put(p, e->node->name);
    }
}

static entry *
find_entry(const printer *p, const cc_node *n)
{
    uintptr_t at = (uintptr_t)cc_hmap_get(&p->index, n->hash);
    return &p->entries[at - 1];
}

// rc's repr_full_line: the reference of a node already printed (returns 1), else its
// identifier and line info, marking it printed (returns 0).
static int
put_full_line(printer *p, const cc_node *n)
{
    entry *e = find_entry(p, n);
    if (e->printed) {
        put_ident(p, e);
        if (n->name == NULL) {
            put(p, " ");
            put(p, cc_kind_get_info(n->kind)->py_name);
        }
        return 1;
    }
    e->printed = 1;
    if (n->name == NULL || e->name_shared) {
        e->serial = p->next_serial++;
    }
    put_ident(p, e);
    put_line_info(p, n);
    return 0;
}

// rc's child info of a Module argument: " ! <symbol line>" and the arg spec's flags as
// t/f letters when not all true.
static void
put_child_info(printer *p, const cc_node *parent, int child_ix)
{
    if (parent == NULL || parent->kind != CC_KIND_MODULE || child_ix == 0) {
        return;
    }
    const cc_module_arg_spec *s = &parent->u.module.arg_specs[child_ix - 1];
    put(p, " ! ");
    put_full_line(p, s->symbol);
    if (!(s->batchable && s->expandable && s->ban_non_symbolic_size_expand)) {
        put(p, s->batchable ? " t" : " f");
        put(p, s->expandable ? "t" : "f");
        put(p, s->ban_non_symbolic_size_expand ? "t" : "f");
    }
}

// Prints one line; returns 1 when the node's children are to be printed below it.
static int
print_line(printer *p, const frame *f)
{
    const cc_node *n = f->node;
    put_indent(p, f->depth);
    int repeat = put_full_line(p, n);
    put_child_info(p, f->parent, f->child_ix);
    if (repeat) {
        // A repeat is printed as its reference only, without children.
        put(p, "\n");
        return 0;
    }
    int end = p->o->end_depth;
    int cut = end >= 0 && f->depth >= (end > 1 ? end - 1 : 0);
    if (cut && n->n_children > 0) {
        put(p, " ...");
    }
    put(p, "\n");
    return !cut;
}

static int
push_frame(printer *p, const cc_node *n, int depth, const cc_node *parent, int child_ix)
{
    if (p->n_frames == p->cap_frames) {
        size_t cap = p->cap_frames ? p->cap_frames * 2 : 64;
        frame *f = cc_realloc(p->frames, cap * sizeof(frame));
        if (f == NULL) {
            return -1;
        }
        p->frames = f;
        p->cap_frames = cap;
    }
    p->frames[p->n_frames].node = n;
    p->frames[p->n_frames].depth = depth;
    p->frames[p->n_frames].parent = parent;
    p->frames[p->n_frames].child_ix = child_ix;
    p->n_frames++;
    return 0;
}

static int
add_entry(printer *p, const cc_node *n)
{
    if (p->n_entries == p->cap_entries) {
        size_t cap = p->cap_entries ? p->cap_entries * 2 : 64;
        entry *e = cc_realloc(p->entries, cap * sizeof(entry));
        if (e == NULL) {
            return -1;
        }
        p->entries = e;
        p->cap_entries = cap;
    }
    entry *e = &p->entries[p->n_entries++];
    e->node = n;
    e->serial = -1;
    e->name_shared = 0;
    e->printed = 0;
    return cc_hmap_put(&p->index, n->hash, (void *)(uintptr_t)p->n_entries);
}

// Every distinct node of the circuits, whether or not the depth cut prints it: rc decides
// which names are shared over the whole graphs.
static int
collect_entries(printer *p, cc_node *const *circuits, int n)
{
    for (int i = 0; i < n; i++) {
        if (push_frame(p, circuits[i], 0, NULL, 0) < 0) {
            return -1;
        }
    }
    while (p->n_frames > 0) {
        const cc_node *node = p->frames[--p->n_frames].node;
        if (cc_hmap_get(&p->index, node->hash) != NULL) {
            continue;
        }
        if (add_entry(p, node) < 0) {
            return -1;
        }
        for (int c = 0; c < node->n_children; c++) {
            if (push_frame(p, node->children[c], 0, NULL, 0) < 0) {
                return -1;
            }
        }
        // A Module's argument symbols are printed beside its arguments (rc counts them too).
        for (int c = 0; node->kind == CC_KIND_MODULE && c < node->n_children - 1; c++) {
            if (push_frame(p, node->u.module.arg_specs[c].symbol, 0, NULL, 0) < 0) {
                return -1;
            }
        }
    }
    return 0;
}

static int
compare_names(const void *a, const void *b)
{
    const entry *ea = *(const entry *const *)a;
    const entry *eb = *(const entry *const *)b;
    return strcmp(ea->node->name, eb->node->name);
}

// Marks names carried by more than one distinct node; those nodes get serial numbers.
static int
mark_shared_names(printer *p)
{
    entry **named = cc_malloc((p->n_entries ? p->n_entries : 1) * sizeof(entry *));
    if (named == NULL) {
        return -1;
    }
    size_t m = 0;
    for (size_t i = 0; i < p->n_entries; i++) {
        if (p->entries[i].node->name != NULL) {
            named[m++] = &p->entries[i];
        }
    }
    qsort(named, m, sizeof(entry *), compare_names);
    for (size_t i = 1; i < m; i++) {
        if (strcmp(named[i - 1]->node->name, named[i]->node->name) == 0) {
            named[i - 1]->name_shared = 1;
            named[i]->name_shared = 1;
        }
    }
    cc_free(named);
    return 0;
}

static int
print_all(printer *p, cc_node *const *circuits, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        if (push_frame(p, circuits[i], 0, NULL, 0) < 0) {
            return -1;
        }
    }
    while (p->n_frames > 0 && !p->failed) {
        frame f = p->frames[--p->n_frames];
        if (!print_line(p, &f)) {
            continue;
        }
        // Pushed last-first so the first child is printed next: rc's pre-order.
        for (int c = f.node->n_children - 1; c >= 0; c--) {
            if (push_frame(p, f.node->children[c], f.depth + 1, f.node, c) < 0) {
                return -1;
            }
        }
    }
    return p->failed ? -1 : 0;
}

char *
cc_print_repr(cc_node *const *circuits, int n, const cc_print_options *o)
{
    if (o->bijection) {
        return cc_fail_null(CC_E_PY_NOT_IMPLEMENTED,
                            "printing with bijection=True is not supported yet");
    }
    printer p = {.o = o};
    cc_hmap_init(&p.index);
    cc_str_init(&p.text);
    char *out = NULL;
    if (collect_entries(&p, circuits, n) < 0 || mark_shared_names(&p) < 0 ||
        print_all(&p, circuits, n) < 0) {
        goto done;
    }
    if (p.text.len > 0 && p.text.data[p.text.len - 1] == '\n') {
        p.text.data[--p.text.len] = '\0';
    }
    out = cc_str_take(&p.text);
done:
    cc_str_clear(&p.text);
    cc_hmap_clear(&p.index);
    cc_free(p.entries);
    cc_free(p.frames);
    return out;
}
