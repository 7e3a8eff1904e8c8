// Printer of circuits in rc's line format (text/print.h): identifiers and serial numbers,
// repeat references, shapes with symbolic sizes, per-kind payload text in both the debug and
// the bijective (parseable) form, traversal cuts, tree arrows, colours and comments. Payload
// text, bindings and child comments come from the kinds (nodes/kind.h); knows nothing of
// evaluation or Python.
#include "text/print.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodes/kind.h"
#include "nodes/named_axes.h"
#include "nodes/payload_text.h"
#include "nodes/shape.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/hmap.h"
#include "util/str.h"

#define DEFAULT_END_DEPTH 2

static const char BAR[] = "│";
static const char TEE[] = "├";
static const char ARROW[] = "‣";
static const char UP_ELBOW[] = "└";
static const char DOWN_ELBOW[] = "┌";
static const int COLOR_CODES[14] = {31, 32, 33, 34, 35, 36, 90, 91, 92, 93, 94, 95, 96, 97};
#define MAGENTA 4

// One distinct node (by hash) of the printed circuits.
typedef struct {
    const cc_node *node;
    int64_t serial;      // -1 while unprinted, and for nodes identified by name alone
    uint8_t name_shared; // another distinct node has the same name
    uint8_t printed;
} entry;

typedef struct {
    const cc_node *node;
    const cc_node *parent; // NULL for a root
    int child_ix;          // position under parent
    int depth;             // indentation (rc's last-child vector length)
    int level;             // distance from the root, for the end_depth cut
    uint8_t is_last;       // the last child of its parent
    uint8_t below_marker;  // an only child printed after a ▼ line, at its parent's depth
    uint8_t finished;      // the traversal gave this node no state: printed, not expanded
    cc_imatcher *state;    // owned traversal state, NULL without a traversal
} frame;

typedef struct {
    const cc_print_options *o;
    cc_hmap index; // node hash -> position in entries + 1
    entry *entries;
    size_t n_entries, cap_entries;
    frame *frames; // pending nodes of the pre-order walk
    size_t n_frames, cap_frames;
    cc_hmap refs;    // node hash -> position in o->ref_nodes + 1
    cc_hmap tensors; // tensor hashes already given to hooks.tensor
    uint8_t *last;   // last[d]: the node on this line's path at depth d + 1 is a last child
    size_t cap_last;
    int64_t next_serial;
    int64_t next_leaf;
    // Sizes >= the first symbolic prime seen without symbolic factors (slot: size % 64), so
    // that a repeated size such as a vocabulary is tested once.
    int64_t plain_sizes[64];
    cc_str text;
    int failed; // an error is recorded; later output is skipped
} printer;

void
cc_print_options_default(cc_print_options *o)
{
    memset(o, 0, sizeof *o);
    o->bijection = 1;
    o->shape_only_when_necessary = 1;
    o->end_depth = -1;
}

int
cc_print_options_validate(const cc_print_options *o)
{
    if (!o->bijection) {
        return 0;
    }
    const char *bad = o->leaves_on_top          ? "leaves_on_top"
                      : o->traversal != NULL    ? "a traversal"
                      : o->end_depth >= 0       ? "an end depth"
                      : o->tensor_index_literal ? "tensor_index_literal"
                      : o->number_leaves        ? "number_leaves"
                                                : NULL;
    if (bad != NULL) {
        return cc_fail(CC_E_PY_VALUE,
                       "PrintOptions: bijection=True cannot be combined with %s (the text must "
                       "parse back to the same circuit); pass bijection=False",
                       bad);
    }
    return 0;
}

void
cc_print_options_debug(cc_print_options *o)
{
    cc_print_options_default(o);
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

static void
put_i64(printer *p, int64_t v)
{
    if (!p->failed && cc_payload_put_i64(&p->text, v) < 0) {
        p->failed = 1;
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

// Gives a tensor a bijective line names to hooks.tensor, once per distinct hash
// (cc_payload_print.note_tensor).
static int
note_tensor(void *ctx, const uint8_t hash[32], const cc_tensor *t)
{
    printer *p = ctx;
    if (p->failed || p->o->hooks.tensor == NULL || cc_hmap_get(&p->tensors, hash) != NULL) {
        return 0;
    }
    if (cc_hmap_put(&p->tensors, hash, (void *)1) < 0 ||
        p->o->hooks.tensor(p->o->hooks.ctx, hash, t) < 0) {
        return -1;
    }
    return 0;
}

// rc's repr_extra_info, from the kind.
static void
put_extra(printer *p, const cc_node *n)
{
    if (p->failed) {
        return;
    }
    cc_payload_print o = {.bijection = p->o->bijection,
                          .tensor_index_literal = p->o->tensor_index_literal,
                          .note_tensor = note_tensor,
                          .ctx = p};
    if (cc_kind_ops_of(n->kind)->print_payload(n, &o, &p->text) < 0) {
        p->failed = 1;
    }
}

// rc's rule, plus (bijection) nodes whose named axes are not those their children give them,
// so that the parser, which sets the names a shape shows, gives back the same node.
static int
shape_is_shown(printer *p, const cc_node *n)
{
    if (!p->o->shape_only_when_necessary || cc_kind_has(n->kind, CC_SHAPE_SHOWN) ||
        (p->o->show_all_named_axes && n->named_axes != NULL)) {
        return 1;
    }
    if (!p->o->bijection || n->named_axes == NULL || p->failed) {
        return 0;
    }
    cc_named_axes *given;
    if (cc_named_axes_from_children(n, &given) < 0) {
        p->failed = 1;
        return 0;
    }
    int same = cc_named_axes_equal(given, n->named_axes);
    cc_free(given);
    return !same;
}

// rc's repr_line_info: "[ AD][ [shape]] Variant extra", at most two trailing spaces removed.
static void
put_line_info(printer *p, const cc_node *n)
{
    size_t start = p->text.len;
    if (p->o->bijection && !n->use_autoname) {
        put(p, " AD");
    }
    if (shape_is_shown(p, n)) {
        put(p, " [");
        for (int a = 0; a < n->ndim; a++) {
            if (a > 0) {
                put(p, ",");
            }
            const char *axis_name = cc_named_axes_get(n->named_axes, a);
            if (axis_name != NULL) {
                put(p, axis_name);
                put(p, ":");
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

// A name as an identifier: quoted with \ and ' escaped in bijection, raw otherwise.
static void
put_name(printer *p, const char *name)
{
    if (!p->o->bijection) {
        put(p, name);
        return;
    }
    put(p, "'");
    for (const char *c = name; *c != '\0'; c++) {
        if (*c == '\\' || *c == '\'') {
            put(p, "\\");
        }
        put_n(p, c, 1);
    }
    put(p, "'");
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
        put_name(p, e->node->name);
    }
}

static entry *
find_entry(const printer *p, const cc_node *n)
{
    uintptr_t at = (uintptr_t)cc_hmap_get(&p->index, n->hash);
    return &p->entries[at - 1];
}

// rc's repr_full_line: the identifier of a reference circuit or the reference of a node
// already printed (returns 1), else its identifier and line info, marking it printed
// (returns 0).
static int
put_full_line(printer *p, const cc_node *n)
{
    uintptr_t ref = (uintptr_t)cc_hmap_get(&p->refs, n->hash);
    if (ref != 0) {
        put_name(p, p->o->ref_idents[ref - 1]);
        return 1;
    }
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
    if (n->name == NULL || e->name_shared || p->o->force_use_serial_numbers) {
        e->serial = p->next_serial++;
    }
    put_ident(p, e);
    put_line_info(p, n);
    return 0;
}

// rc's child info of a bound child (a Module argument): " ! <symbol line>" and the binding's
// flags as t/f letters when not all true.
static void
put_child_info(printer *p, const cc_node *parent, int child_ix)
{
    if (parent == NULL) {
        return;
    }
    int (*binding)(const cc_node *, int, cc_child_binding *) =
        cc_kind_ops_of(parent->kind)->child_binding;
    cc_child_binding b;
    if (binding == NULL || !binding(parent, child_ix, &b)) {
        return;
    }
    put(p, " ! ");
    put_full_line(p, b.symbol);
    if (!(b.flags[0] && b.flags[1] && b.flags[2])) {
        put(p, b.flags[0] ? " t" : " f");
        put(p, b.flags[1] ? "t" : "f");
        put(p, b.flags[2] ? "t" : "f");
    }
}

// rc's last_child_arrows: two spaces per depth, or the tree drawing; is_output puts an elbow
// or a tee before this line's node, otherwise the line continues the bars.
static void
put_arrows(printer *p, int depth, int is_output)
{
    if (!p->o->arrows) {
        put_indent(p, depth);
        return;
    }
    for (int i = 0; i < depth - 1; i++) {
        put(p, p->last[i] ? " " : BAR);
        put(p, " ");
    }
    if (depth == 0) {
        return;
    }
    int last = p->last[depth - 1];
    if (is_output) {
        put(p, last ? UP_ELBOW : TEE);
        put(p, ARROW);
    } else {
        put(p, last ? " " : BAR);
        put(p, " ");
    }
}

static void
put_comment(printer *p, const char *text, int color)
{
    put(p, " # ");
    if (color >= 0) {
        char code[16];
        snprintf(code, sizeof code, "\x1b[%dm", COLOR_CODES[color]);
        put(p, code);
    }
    put(p, text);
    if (color >= 0) {
        put(p, "\x1b[0m");
    }
}

// rc's get_child_comments (with comment_arg_names), from the parent's kind: an Einsum
// operand's labels, "Spec" for a Module's body.
static void
put_arg_name_comment(printer *p, const frame *f)
{
    const cc_node *parent = f->parent;
    if (!p->o->comment_arg_names || parent == NULL || f->below_marker || p->failed) {
        return;
    }
    int (*comment)(const cc_node *, int, cc_str *) = cc_kind_ops_of(parent->kind)->child_comment;
    if (comment == NULL) {
        return;
    }
    cc_str text;
    cc_str_init(&text);
    if (comment(parent, f->child_ix, &text) < 0) {
        p->failed = 1;
    } else if (text.len > 0) {
        put_comment(p, text.data, -1);
    }
    cc_str_clear(&text);
}

static void
put_hook_comments(printer *p, const cc_node *n)
{
    if (!p->failed && p->o->hooks.comment != NULL &&
        p->o->hooks.comment(p->o->hooks.ctx, n, &p->text) < 0) {
        p->failed = 1;
    }
}

static int
push_frame(printer *p, const frame *f)
{
    if (cc_grow((void **)&p->frames, &p->cap_frames, p->n_frames + 1, sizeof(frame)) < 0) {
        return -1;
    }
    p->frames[p->n_frames++] = *f;
    return 0;
}

// Records the last-child flag of a line at depth, for the arrows of it and its subtree.
static int
set_last(printer *p, const frame *f)
{
    if (f->depth == 0 || f->below_marker) {
        return 0;
    }
    if (cc_grow((void **)&p->last, &p->cap_last, (size_t)f->depth, 1) < 0) {
        return -1;
    }
    p->last[f->depth - 1] = f->is_last;
    return 0;
}

// The state child c gets from a step (a new reference; NULL: finished).
static cc_imatcher *
child_state(const cc_step *s, cc_imatcher *applied, int c)
{
    cc_imatcher *m = s->kind == CC_STEP_SAME                                ? applied
                     : s->kind == CC_STEP_ONE                               ? s->one
                     : s->kind == CC_STEP_PER_CHILD && s->per_child != NULL ? s->per_child[c]
                                                                            : NULL;
    if (m != NULL) {
        cc_imatcher_incref(m);
    }
    return m;
}

// Pushes f's children (last first, so the first is printed next: rc's pre-order), or its only
// child after a ▼ line. s: the traversal's step on f's node, or NULL without a traversal.
static int
push_children(printer *p, const frame *f, const cc_step *s)
{
    const cc_node *n = f->node;
    int below = p->o->only_child_below && n->n_children == 1;
    if (below) {
        put_arrows(p, f->depth, 0);
        put(p, "▼\n");
    }
    for (int c = n->n_children - 1; c >= 0; c--) {
        frame child = {
            .node = n->children[c],
            .parent = n,
            .child_ix = c,
            .depth = below ? f->depth : f->depth + 1,
            .level = f->level + 1,
            .is_last = below ? f->is_last : c == n->n_children - 1,
            .below_marker = (uint8_t)below,
        };
        if (s != NULL) {
            child.state = child_state(s, f->state, c);
            child.finished = child.state == NULL;
        }
        if (push_frame(p, &child) < 0) {
            cc_imatcher_decref(child.state);
            return -1;
        }
    }
    return 0;
}

// Whether the traversal stops at f's node (rc's op_traversal_per all finished); *s is
// filled when it does not.
static int
traversal_stops(const frame *f, cc_step *s, int *stops)
{
    if (f->finished) {
        *stops = 1;
        return 0;
    }
    if (cc_imatcher_step(f->state, f->node, s) < 0) {
        cc_error_prefix("the print traversal failed");
        return -1;
    }
    *stops = cc_step_all_finished(s);
    return 0;
}

// Prints one line (rc's recurse) and pushes the node's children when they are printed.
static int
print_line(printer *p, const frame *f)
{
    const cc_node *n = f->node;
    if (set_last(p, f) < 0) {
        return -1;
    }
    put_arrows(p, f->depth, !f->below_marker);
    int color = -1;
    if (p->o->hooks.color != NULL && p->o->hooks.color(p->o->hooks.ctx, n, &color) < 0) {
        return -1;
    }
    if (color >= 0) {
        char code[16];
        snprintf(code, sizeof code, "\x1b[%dm", COLOR_CODES[color % 14]);
        put(p, code);
    }
    int repeat = put_full_line(p, n);
    if (color >= 0) {
        put(p, "\x1b[0m");
    }
    put_child_info(p, f->parent, f->child_ix);
    cc_step step;
    cc_step_init(&step);
    int stops = 1;
    if (!repeat) {
        if (f->state != NULL || f->finished) {
            if (traversal_stops(f, &step, &stops) < 0) {
                return -1;
            }
        } else {
            int end = p->o->end_depth;
            stops = end >= 0 && f->level >= (end > 1 ? end - 1 : 0);
        }
        if (stops && n->n_children > 0) {
            put(p, " ...");
        }
    }
    put_arg_name_comment(p, f);
    if (p->o->number_leaves && (repeat || stops || n->n_children == 0)) {
        char number[24];
        snprintf(number, sizeof number, "%lld", (long long)p->next_leaf++);
        put_comment(p, number, MAGENTA);
    }
    put_hook_comments(p, n);
    put(p, "\n");
    int rc = 0;
    if (!repeat && !stops && !p->failed) {
        rc = push_children(p, f, f->state != NULL ? &step : NULL);
    }
    cc_step_clear(&step);
    return rc;
}

static int
add_entry(printer *p, const cc_node *n)
{
    if (cc_grow((void **)&p->entries, &p->cap_entries, p->n_entries + 1, sizeof(entry)) < 0) {
        return -1;
    }
    entry *e = &p->entries[p->n_entries++];
    e->node = n;
    e->serial = -1;
    e->name_shared = 0;
    e->printed = 0;
    return cc_hmap_put(&p->index, n->hash, (void *)(uintptr_t)p->n_entries);
}

// Every distinct node of the circuits, whether or not a cut prints it: rc decides which
// names are shared over the whole graphs. Uses the frame stack, which it leaves empty.
static int
collect_entries(printer *p, cc_node *const *circuits, int n)
{
    for (int i = 0; i < n; i++) {
        frame f = {.node = circuits[i]};
        if (push_frame(p, &f) < 0) {
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
            frame f = {.node = node->children[c]};
            if (push_frame(p, &f) < 0) {
                return -1;
            }
        }
        // The symbols bound children stand for (a Module's arguments) are printed beside them
        // (rc counts them too).
        int (*binding)(const cc_node *, int, cc_child_binding *) =
            cc_kind_ops_of(node->kind)->child_binding;
        cc_child_binding b;
        for (int c = 0; binding != NULL && c < node->n_children; c++) {
            frame f = {.node = binding(node, c, &b) ? b.symbol : NULL};
            if (f.node != NULL && push_frame(p, &f) < 0) {
                return -1;
            }
        }
    }
    for (int i = 0; i < p->o->n_refs; i++) {
        if (cc_hmap_put(&p->refs, p->o->ref_nodes[i]->hash, (void *)(uintptr_t)(i + 1)) < 0) {
            return -1;
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
        frame f = {.node = circuits[i]};
        if (p->o->traversal != NULL) {
            f.state = p->o->traversal;
            cc_imatcher_incref(f.state);
        }
        if (push_frame(p, &f) < 0) {
            cc_imatcher_decref(f.state);
            return -1;
        }
    }
    while (p->n_frames > 0 && !p->failed) {
        frame f = p->frames[--p->n_frames];
        int rc = print_line(p, &f);
        cc_imatcher_decref(f.state);
        if (rc < 0) {
            return -1;
        }
    }
    return p->failed ? -1 : 0;
}

// rc's leaves_on_top: the lines in reverse order, elbows pointing down.
static char *
flip_lines(const char *text)
{
    size_t len = strlen(text);
    cc_str out;
    cc_str_init(&out);
    size_t end = len;
    int ok = 1;
    while (ok && end > 0) {
        size_t start = end;
        while (start > 0 && text[start - 1] != '\n') {
            start--;
        }
        for (size_t i = start; ok && i < end;) {
            size_t k = sizeof UP_ELBOW - 1;
            if (end - i >= k && memcmp(text + i, UP_ELBOW, k) == 0) {
                ok = cc_str_append(&out, DOWN_ELBOW) == 0;
                i += k;
            } else {
                ok = cc_str_append_n(&out, text + i, 1) == 0;
                i++;
            }
        }
        if (ok && start > 0) {
            ok = cc_str_append(&out, "\n") == 0;
        }
        end = start > 0 ? start - 1 : 0;
    }
    if (!ok) {
        cc_str_clear(&out);
        return NULL;
    }
    return cc_str_take(&out);
}

static void
printer_init(printer *p, const cc_print_options *o)
{
    memset(p, 0, sizeof *p);
    p->o = o;
    cc_hmap_init(&p->index);
    cc_hmap_init(&p->refs);
    cc_hmap_init(&p->tensors);
    cc_str_init(&p->text);
}

static void
printer_clear(printer *p)
{
    for (size_t i = 0; i < p->n_frames; i++) {
        cc_imatcher_decref(p->frames[i].state);
    }
    cc_str_clear(&p->text);
    cc_hmap_clear(&p->index);
    cc_hmap_clear(&p->refs);
    cc_hmap_clear(&p->tensors);
    cc_free(p->entries);
    cc_free(p->frames);
    cc_free(p->last);
}

char *
cc_print_repr(cc_node *const *circuits, int n, const cc_print_options *o)
{
    if (cc_print_options_validate(o) < 0) {
        return NULL;
    }
    printer p;
    printer_init(&p, o);
    char *out = NULL;
    if (collect_entries(&p, circuits, n) < 0 || mark_shared_names(&p) < 0 ||
        print_all(&p, circuits, n) < 0) {
        goto done;
    }
    if (p.text.len > 0 && p.text.data[p.text.len - 1] == '\n') {
        p.text.data[--p.text.len] = '\0';
    }
    out = o->leaves_on_top ? flip_lines(p.text.len > 0 ? p.text.data : "") : cc_str_take(&p.text);
done:
    printer_clear(&p);
    return out;
}

// The text one put_* function writes for n alone.
static char *
print_one(const cc_node *n, const cc_print_options *o, void (*write)(printer *, const cc_node *))
{
    cc_print_options quiet = *o;
    memset(&quiet.hooks, 0, sizeof quiet.hooks);
    printer p;
    printer_init(&p, &quiet);
    write(&p, n);
    char *out = NULL;
    if (!p.failed) {
        out = p.text.len > 0 ? cc_str_take(&p.text) : cc_strdup("");
    }
    printer_clear(&p);
    return out;
}

char *
cc_print_line_info(const cc_node *n, const cc_print_options *o)
{
    return print_one(n, o, put_line_info);
}

char *
cc_print_extra_info(const cc_node *n, const cc_print_options *o)
{
    return print_one(n, o, put_extra);
}
