// Parser of rc's text format (text/parse.h): lines split into identifier, name, AD flag,
// shape, node type and payload; indentation resolved with an explicit stack of open nodes
// (no recursion on input depth); nodes built bottom-up by their kinds' parse_payload
// (nodes/kind.h) through their constructors, so every construction check applies. Every
// error names the line and column it comes from.
#include "text/parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodes/kind.h"
#include "nodes/named_axes.h"
#include "nodes/shape.h"
#include "util/alloc.h"
#include "util/blake3.h"
#include "util/error.h"
#include "util/hmap.h"
#include "util/str.h"

#include "text/parse_impl.h"

// A defined identifier: its node once built (a reference held here), NULL while its lines
// are still open.
typedef struct {
    cc_parse_node_text text;
    cc_node *node;
} def;

// A built child with the binding (" ! ", for a Module) its line carried, if any.
typedef struct {
    cc_node *node;            // new reference
    cc_child_binding binding; // symbol: a new reference, or NULL
} child;

// A node line whose children are still being read.
typedef struct {
    int col;            // indentation in characters
    cc_parse_line line; // for errors raised when it closes
    int def_ix;         // the definition built when it closes; -1 for a repeat or a reference
    cc_node *fixed;     // a repeat's or a reference's node (new reference)
    int is_ref;         // fixed is a reference circuit
    cc_node *symbol;    // the binding this line gives its parent Module (new reference) or NULL
    uint8_t flags[3];
    child *children;
    int n_children;
    size_t cap_children;
} open_node;

typedef struct {
    const cc_parse_options *o;
    cc_parse_line cur;
    def *defs;
    size_t n_defs, cap_defs;
    cc_hmap by_key; // blake3 of a key -> position in defs + 1
    open_node *stack;
    size_t n_stack, cap_stack;
    cc_node **results;
    size_t n_results, cap_results;
} parser;

static void *
locate_null(parser *p, const char *at)
{
    cc_parse_locate(&p->cur, at);
    return NULL;
}

static int
shapes_equal(int na, const int64_t *a, int nb, const int64_t *b)
{
    return na == nb && (na == 0 || memcmp(a, b, (size_t)na * sizeof(int64_t)) == 0);
}

// Room for the text of any shape in a message (CC_MAX_NDIM sizes of at most 20 digits).
#define SHAPE_TEXT_MAX (CC_MAX_NDIM * 24 + 4)

// "[2, 3]" in buf, or "?" when there is no memory to build it.
static const char *
shape_text(char buf[SHAPE_TEXT_MAX], int ndim, const int64_t *shape)
{
    cc_str s;
    cc_str_init(&s);
    snprintf(buf, SHAPE_TEXT_MAX, "%s", cc_shape_append(&s, ndim, shape) < 0 ? "?" : s.data);
    cc_str_clear(&s);
    return buf;
}

static int
expect_children(parser *p, const cc_parse_node_text *t, int n, int want)
{
    if (n != want) {
        return cc_parse_fail_at(&p->cur, t->kind_at, CC_E_PARSE_CIRCUIT_WRONG_NUMBER_CHILDREN,
                                "%s takes %d child%s, the text gives it %d",
                                cc_kind_get_info(t->kind)->py_name, want, want == 1 ? "" : "ren",
                                n);
    }
    return 0;
}

// The caller's tensor source, for the kinds (cc_payload_parse.tensor).
static int
load_tensor(void *ctx, cc_payload_tensor_kind kind, const char *prefix, int ndim,
            const int64_t *shape, cc_tensor *out)
{
    const parser *p = ctx;
    cc_parse_tensor_kind k = kind == CC_PAYLOAD_TENSOR_ARRAY   ? CC_PARSE_TENSOR_ARRAY
                             : kind == CC_PAYLOAD_TENSOR_INDEX ? CC_PARSE_TENSOR_INDEX
                                                               : CC_PARSE_TENSOR_RANDOM;
    return p->o->hooks.tensor(p->o->hooks.ctx, k, prefix, ndim, shape, out);
}

static int
random_bytes(void *ctx, uint8_t *out, size_t n)
{
    const parser *p = ctx;
    return p->o->hooks.random_bytes(p->o->hooks.ctx, out, n);
}

static cc_gf_spec *
gf_spec_by_path(void *ctx, const char *path)
{
    const parser *p = ctx;
    return p->o->hooks.gf_spec_by_path(p->o->hooks.ctx, path);
}

// The node of a definition from its text and built children (ch[i].node borrowed), by its
// kind's parse_payload once the number of children fits the kind.
static cc_node *
build_kind(parser *p, const cc_parse_node_text *t, int n, const child *ch, cc_node *const *kids)
{
    int want = cc_kind_has(t->kind, CC_LEAF) ? 0 : cc_kind_has(t->kind, CC_ONE_CHILD) ? 1 : -1;
    if (want >= 0 && expect_children(p, t, n, want) < 0) {
        return NULL;
    }
    const cc_kind_ops *ops = cc_kind_ops_of(t->kind);
    cc_child_binding *bindings = NULL;
    if (ops->child_binding != NULL && n > 0) {
        bindings = cc_malloc((size_t)n * sizeof *bindings);
        if (bindings == NULL) {
            return NULL;
        }
        for (int i = 0; i < n; i++) {
            bindings[i] = ch[i].binding;
        }
    }
    cc_payload_parse in = {
        .extra = t->extra,
        .extra_at = t->extra_at,
        .kind_at = t->kind_at,
        .shape_at = t->shape_at,
        .has_shape = t->has_shape,
        .ndim = t->ndim,
        .shape = t->shape,
        .name = t->name != NULL ? t->name : CC_NO_NAME,
        .n_children = n,
        .children = kids,
        .bindings = bindings,
        .tensors_as_random = p->o->tensors_as_random,
        .allow_hash_with_random = p->o->allow_hash_with_random,
        .check_all_inputs_used = p->o->module_check_all_inputs_used,
        .check_unique_arg_names = p->o->module_check_unique_arg_names,
        .tensor = p->o->hooks.tensor != NULL ? load_tensor : NULL,
        .random_bytes = p->o->hooks.random_bytes != NULL ? random_bytes : NULL,
        .gf_spec_by_path = p->o->hooks.gf_spec_by_path != NULL ? gf_spec_by_path : NULL,
        .ctx = p,
    };
    const char *at = NULL;
    cc_node *out = ops->parse_payload(&in, &at);
    cc_free(bindings);
    return out != NULL ? out : locate_null(p, at);
}

// rc: the names a line's shape gives its axes are set on the node (none: those its children
// give it, which it has already). 0, or -1 with *out released.
static int
set_axis_names(parser *p, const cc_parse_node_text *t, cc_node **out)
{
    int axes[CC_MAX_NDIM];
    const char *names[CC_MAX_NDIM];
    int count = 0;
    for (int a = 0; a < t->ndim; a++) {
        if (t->axis_names[a] != NULL) {
            axes[count] = a;
            names[count++] = t->axis_names[a];
        }
    }
    if (count == 0) {
        return 0;
    }
    cc_node *m = cc_node_set_named_axes(*out, count, axes, names);
    cc_node_decref(*out);
    *out = m;
    if (m == NULL) {
        return cc_parse_locate(&p->cur, t->shape_at);
    }
    return 0;
}

// build_kind, then the line's shape checked, its axis names set and its AD flag applied.
static cc_node *
build(parser *p, const cc_parse_node_text *t, int n, const child *ch)
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
        char want[SHAPE_TEXT_MAX], got[SHAPE_TEXT_MAX];
        cc_parse_fail_at(
            &p->cur, t->shape_at, CC_E_PARSE_CIRCUIT_PASSED_IN_SHAPE_DOESNT_MATCH_COMPUTED_SHAPE,
            "the line says shape %s but the %s has shape %s", shape_text(want, t->ndim, t->shape),
            cc_kind_get_info(t->kind)->py_name, shape_text(got, out->ndim, out->shape));
        cc_node_decref(out);
        return NULL;
    }
    if (t->has_shape && set_axis_names(p, t, &out) < 0) {
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
add_def(parser *p, cc_parse_node_text *t, size_t *ix)
{
    if (cc_grow((void **)&p->defs, &p->cap_defs, p->n_defs + 1, sizeof(def)) < 0) {
        return -1;
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
find_ref(const parser *p, const cc_parse_node_text *t)
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
has_info(const cc_parse_node_text *t)
{
    return t->explicit_name || t->ad || t->has_shape || t->has_kind || t->extra != NULL;
}

static int
repeat_differs(parser *p, const def *d, const char *what, const char *at)
{
    return cc_parse_fail_at(&p->cur, at, CC_E_PARSE_CIRCUIT_ON_CIRCUIT_REPEAT_INFO_IS_NOT_SAME,
                            "%s repeats a node with a different %s than where it was defined",
                            d->text.key + 1, what);
}

// A repeated identifier's info, checked against its definition.
static int
check_repeat(parser *p, const cc_parse_node_text *t, const def *d)
{
    const cc_node *n = d->node;
    if (!p->o->on_repeat_check_info_same) {
        return 0;
    }
    if (t->explicit_name && (n->name == NULL || strcmp(t->name, n->name) != 0)) {
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
resolve(parser *p, const cc_parse_node_text *t, cc_node **out, int *is_ref)
{
    *out = NULL;
    *is_ref = 0;
    cc_node *ref = find_ref(p, t);
    if (ref != NULL) {
        if (has_info(t)) {
            return cc_parse_fail_at(
                &p->cur, t->ident_at,
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
        if (!t->has_kind && t->extra != NULL) {
            return cc_parse_fail_at(&p->cur, t->extra_at, CC_E_PARSE_CIRCUIT_INVALID_VARIANT,
                                    "expected a node type (such as Add or Einsum), got '%s'",
                                    t->extra);
        }
        if (!t->has_kind) {
            return cc_parse_fail_at(
                &p->cur, t->ident_at, CC_E_PARSE_CIRCUIT,
                "%s%s refers to no node defined above (a new node needs a type such "
                "as Add)",
                t->key[0] == '#' ? "serial number " : "", t->key + 1);
        }
        return 0;
    }
    if (d->node == NULL) {
        return cc_parse_fail_at(&p->cur, t->ident_at, CC_E_PARSE_CIRCUIT_CYCLE,
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
binding_node(parser *p, cc_parse_node_text *t)
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
        cc_node_decref(e->children[i].binding.symbol);
    }
    cc_free(e->children);
}

static int
push_result(parser *p, cc_node *n)
{
    if (cc_grow((void **)&p->results, &p->cap_results, p->n_results + 1, sizeof(cc_node *)) < 0) {
        return -1;
    }
    p->results[p->n_results++] = n;
    return 0;
}

static int
add_child(open_node *parent, cc_node *n, cc_node *symbol, const uint8_t flags[3])
{
    if (cc_grow((void **)&parent->children, &parent->cap_children, parent->n_children + 1,
                sizeof(child)) < 0) {
        return -1;
    }
    child *c = &parent->children[parent->n_children++];
    c->node = n;
    c->binding.symbol = symbol;
    memcpy(c->binding.flags, flags, 3);
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
        cc_parse_line saved = p->cur;
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
        return has_binding ? cc_parse_fail_at(&p->cur, bang,
                                              CC_E_PARSE_CIRCUIT_HAS_PARENT_INFO_BUT_NO_PARENT,
                                              "a top-level node has a Module binding ('!')")
                           : 0;
    }
    if (parent->def_ix < 0) {
        return cc_parse_fail_at(
            &p->cur, NULL,
            parent->is_ref ? CC_E_PARSE_CIRCUIT_REFERENCE_CIRCUIT_HAS_CHILDREN
                           : CC_E_PARSE_CIRCUIT_REPEATED_CIRCUIT_HAS_CHILDREN,
            "line %lld %s, so it cannot have children lines", (long long)parent->line.no,
            parent->is_ref ? "names a reference circuit" : "repeats a node defined above");
    }
    const cc_parse_node_text *pt = &p->defs[parent->def_ix].text;
    int ix = parent->n_children;
    // A binding kind's children after the body each carry one; no other child does.
    int binds = cc_kind_ops_of(pt->kind)->child_binding != NULL;
    if (binds && ix > 0 && !has_binding) {
        return cc_parse_fail_at(&p->cur, NULL,
                                CC_E_PARSE_CIRCUIT_MODULE_REQUIRES_INPUT_CHILD_TO_HAVE_PARENT_INFO,
                                "argument %d of %s %s needs its binding: ! <symbol> after the node",
                                ix - 1, cc_kind_get_info(pt->kind)->py_name, pt->key + 1);
    }
    if (has_binding && (!binds || ix == 0)) {
        return cc_parse_fail_at(
            &p->cur, bang, CC_E_PARSE_CIRCUIT_UNEXPECTED_CHILD_INFO,
            "only a Module's arguments carry a binding ('!'); this is child %d of a "
            "%s",
            ix, cc_kind_get_info(pt->kind)->py_name);
    }
    return 0;
}

static int
push_open(parser *p, const open_node *e)
{
    if (cc_grow((void **)&p->stack, &p->cap_stack, p->n_stack + 1, sizeof(open_node)) < 0) {
        return -1;
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
            return cc_parse_fail_at(
                &p->cur, s, CC_E_PARSE_CIRCUIT_INVALID_INDENTATION,
                "indented %d characters past its parent's line: a child is indented "
                "by 2",
                col - p->stack[p->n_stack - 1].col);
        }
    }
    open_node o = {.col = col, .line = p->cur, .def_ix = -1, .flags = {1, 1, 1}};
    cc_parse_node_text t, binding;
    memset(&binding, 0, sizeof binding);
    const char *stop;
    int has_binding = 0;
    int rc = cc_parse_lex_line(&p->cur, s, e, 0, &t, NULL, &stop);
    const char *bang = stop;
    if (rc == 0 && stop < e && *stop == '!') {
        has_binding = 1;
        rc = cc_parse_lex_line(&p->cur, stop + 1, e, 1, &binding, o.flags, &stop);
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
    cc_parse_node_text_clear(&t);
    cc_parse_node_text_clear(&binding);
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
    for (int k; s < e && (k = cc_parse_indent_char_len(s, e)) > 0; s += k) {
        col++;
    }
    const char *after;
    if (s == e || *s == '#') {
        return 0;
    }
    if (is_marker(s, e, &after)) {
        after = cc_parse_skip_ws(after, e);
        if (after < e && *after != '#') {
            return cc_parse_fail_at(&p->cur, after, CC_E_PARSE_CIRCUIT,
                                    "a ▼ line holds nothing else");
        }
        if (l->pending_only || p->n_stack == 0 || p->stack[p->n_stack - 1].col != col) {
            return cc_parse_fail_at(&p->cur, s, CC_E_PARSE_CIRCUIT_INVALID_INDENTATION,
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
        return cc_parse_fail_at(&p->cur, s, CC_E_PARSE_CIRCUIT_LESS_INDENTATION_THAN_FIRST_ITEM,
                                "indented %d characters, less than the first node's %d", col,
                                l->base);
    }
    if ((col - l->base) % 2 != 0) {
        return cc_parse_fail_at(&p->cur, s, CC_E_PARSE_CIRCUIT_INVALID_INDENTATION,
                                "indented %d characters past the first node: not a multiple of 2",
                                col - l->base);
    }
    int below = l->pending_only;
    if (below && p->stack[p->n_stack - 1].col != col) {
        return cc_parse_fail_at(&p->cur, s, CC_E_PARSE_CIRCUIT_INVALID_INDENTATION,
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
        cc_parse_node_text_clear(&p->defs[i].text);
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
        p.cur = (cc_parse_line){line, (size_t)(le - line), p.cur.no + 1};
        if (p.cur.len > 0 && line[p.cur.len - 1] == '\r') {
            p.cur.len--;
        }
        const char *nul = memchr(line, '\0', p.cur.len);
        rc = nul != NULL
                 ? cc_parse_fail_at(&p.cur, nul, CC_E_PARSE_CIRCUIT, "NUL character in the text")
                 : one_line(&p, &l);
        if (nl == NULL) {
            break;
        }
        line = nl + 1;
    }
    if (rc == 0 && l.pending_only) {
        rc = cc_parse_fail_at(&p.cur, NULL, CC_E_PARSE_CIRCUIT, "the text ends after a ▼ line");
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
