// rc's diff_circuits: two circuits walked in parallel (explicit stack, pre-order). Equal
// subtrees print once with "# same <id>", nodes equal in themselves print one line with
// "# changed <id>" and recurse, anything else prints both subtrees in full.
#include <stdio.h>
#include <string.h>

#include "text/diff.h"
#include "util/alloc.h"
#include "util/blake3.h"
#include "util/error.h"
#include "util/hmap.h"
#include "util/str.h"

static const int COLOR_CODES[14] = {31, 32, 33, 34, 35, 36, 90, 91, 92, 93, 94, 95, 96, 97};
static const char *const COLOR_NAMES[7] = {"Red",     "Green", "Yellow", "Blue",
                                           "Magenta", "Cyan",  "White"};

void
cc_diff_options_default(cc_diff_options *o)
{
    cc_print_options_default(&o->print);
    o->print.bijection = 0;
    o->require_child_count_same = 1;
    o->require_child_shapes_same = 0;
    o->require_name_same = 1;
    o->print_legend = 1;
    o->same_self_color = 3;
    o->same_color = CC_DIFF_NO_COLOR;
    o->new_color = 1;
    o->removed_color = 0;
}

// text (len bytes) wrapped in the terminal codes of color, as rc's color().
static int
append_colored(cc_str *s, const char *text, size_t len, int color)
{
    if (color < 0) {
        return cc_str_append_n(s, text, len);
    }
    if (cc_str_appendf(s, "\x1b[%dm", COLOR_CODES[color % 14]) < 0 ||
        cc_str_append_n(s, text, len) < 0) {
        return -1;
    }
    return cc_str_append(s, "\x1b[0m");
}

static int
append_spaces(cc_str *s, int n)
{
    for (int k = 0; k < n; k++) {
        if (cc_str_append(s, " ") < 0) {
            return -1;
        }
    }
    return 0;
}

// The printed subtree of c, each line coloured after the printer's own indentation, every line
// prefixed by indent spaces; tail (already coloured, may be NULL) ends the first line.
static int
append_subtree(cc_str *out, cc_node *c, const cc_print_options *po, int color, int indent,
               const char *tail)
{
    char *text = cc_print_repr(&c, 1, po);
    if (text == NULL) {
        return -1;
    }
    int rc = 0;
    const char *line = text;
    for (int first = 1; rc == 0; first = 0) {
        const char *end = strchr(line, '\n');
        size_t len = end != NULL ? (size_t)(end - line) : strlen(line);
        size_t lead = 0;
        while (lead < len && line[lead] == ' ') {
            lead++;
        }
        // the printer's " ..." (children not shown) stays outside the colour, as in rc
        size_t body = len;
        if (body - lead >= 4 && memcmp(line + body - 4, " ...", 4) == 0) {
            body -= 4;
        }
        if (append_spaces(out, indent) < 0 || cc_str_append_n(out, line, lead) < 0 ||
            append_colored(out, line + lead, body - lead, color) < 0 ||
            cc_str_append_n(out, line + body, len - body) < 0 ||
            (first && tail != NULL && cc_str_append(out, tail) < 0) ||
            cc_str_append(out, "\n") < 0) {
            rc = -1;
        }
        if (end == NULL) {
            break;
        }
        line = end + 1;
    }
    cc_free(text);
    return rc;
}

static int
same_shape(const cc_node *a, const cc_node *b)
{
    return a->ndim == b->ndim && memcmp(a->shape, b->shape, (size_t)a->ndim * sizeof(int64_t)) == 0;
}

// rc's compute_self_hash equality: shape, name, child count and child shapes as asked, and the
// node's own payload. The payload is compared by rebuilding old over new's children under
// new's name: the result equals new exactly when the payloads agree.
static int
same_self(cc_node *a, cc_node *b, const cc_diff_options *o)
{
    if (a->kind != b->kind || !same_shape(a, b) || a->n_children != b->n_children) {
        return 0;
    }
    if (o->require_name_same) {
        const char *na = a->name != NULL ? a->name : "", *nb = b->name != NULL ? b->name : "";
        if (strcmp(na, nb) != 0) {
            return 0;
        }
    }
    if (o->require_child_shapes_same) {
        for (int i = 0; i < a->n_children; i++) {
            if (!same_shape(a->children[i], b->children[i])) {
                return 0;
            }
        }
    }
    cc_node *r = cc_node_rebuild(b, a->children, a->name != NULL ? a->name : CC_NO_NAME);
    if (r != NULL && r->use_autoname != a->use_autoname) {
        cc_node *flipped = cc_node_with_autoname_disabled(r, !a->use_autoname);
        cc_node_decref(r);
        r = flipped;
    }
    if (r == NULL) {
        // old's payload does not even fit new's children: not the same node
        cc_error_clear();
        return 0;
    }
    int same = memcmp(r->hash, a->hash, 32) == 0;
    cc_node_decref(r);
    return same;
}

typedef struct {
    cc_node *new_c, *old_c;
    int depth;
} item;

static void
pair_key(const cc_node *a, const cc_node *b, uint8_t key[32])
{
    cc_blake3 h;
    cc_blake3_init(&h);
    cc_blake3_update(&h, a->hash, 32);
    cc_blake3_update(&h, b->hash, 32);
    cc_blake3_final(&h, key, 32);
}

static int
append_legend(cc_str *s, const cc_diff_options *o)
{
    const int colors[4] = {o->same_color, o->same_self_color, o->new_color, o->removed_color};
    const char *const what[4] = {"Same as original", "Children changed", "New", "Removed"};
    for (int k = 0; k < 4; k++) {
        char text[64], name[16];
        if (colors[k] < 0) {
            snprintf(name, sizeof name, "None");
        } else if (colors[k] % 14 < 7) {
            snprintf(name, sizeof name, "%s", COLOR_NAMES[colors[k] % 14]);
        } else {
            snprintf(name, sizeof name, "%d", colors[k] % 14);
        }
        snprintf(text, sizeof text, "%s: %s", name, what[k]);
        if ((k > 0 && cc_str_append(s, " ") < 0) ||
            append_colored(s, text, strlen(text), colors[k]) < 0) {
            return -1;
        }
    }
    return cc_str_append(s, "\n");
}

// One pair of the walk: its text into out, its children pairs onto the stack.
static int
visit(const item *it, cc_str *out, cc_hmap *seen, size_t *n_seen, item **stack, size_t *n,
      size_t *cap, const cc_diff_options *o, const cc_print_options *po)
{
    uint8_t key[32];
    pair_key(it->new_c, it->old_c, key);
    const char *known = cc_hmap_get(seen, key);
    int indent = 2 * it->depth;
    if (known != NULL) {
        if (append_spaces(out, indent) < 0 || cc_str_append(out, known) < 0 ||
            cc_str_append(out, "\n") < 0) {
            return -1;
        }
        return 0;
    }
    size_t id = *n_seen;
    int same = memcmp(it->new_c->hash, it->old_c->hash, 32) == 0;
    if (!same && !same_self(it->new_c, it->old_c, o)) {
        if (append_subtree(out, it->new_c, po, o->new_color, indent, NULL) < 0 ||
            append_subtree(out, it->old_c, po, o->removed_color, indent, NULL) < 0) {
            return -1;
        }
        return 0;
    }
    char tag[48];
    snprintf(tag, sizeof tag, " # %s %zu", same ? "same" : "changed", id);
    cc_str idstr;
    cc_str_init(&idstr);
    int color = same ? o->same_color : o->same_self_color;
    if (append_colored(&idstr, tag, strlen(tag), color) < 0) {
        return -1;
    }
    char *stored = cc_str_take(&idstr);
    if (stored == NULL || cc_hmap_put(seen, key, stored) < 0) {
        cc_free(stored);
        return -1;
    }
    (*n_seen)++;
    if (same) {
        return append_subtree(out, it->new_c, po, o->same_color, indent, stored);
    }
    char *info = cc_print_line_info(it->new_c, po);
    if (info == NULL) {
        return -1;
    }
    cc_str line;
    cc_str_init(&line);
    // rc writes the name, a space, then the line info (which starts with a space)
    int rc = 0;
    if (it->new_c->name != NULL &&
        (cc_str_append(&line, it->new_c->name) < 0 || cc_str_append(&line, " ") < 0)) {
        rc = -1;
    }
    if (rc == 0 && cc_str_append(&line, info) < 0) {
        rc = -1;
    }
    cc_free(info);
    if (rc == 0 && (append_spaces(out, indent) < 0 ||
                    append_colored(out, line.data, line.len, o->same_self_color) < 0 ||
                    cc_str_append(out, stored) < 0 || cc_str_append(out, "\n") < 0)) {
        rc = -1;
    }
    cc_str_clear(&line);
    if (rc < 0) {
        return -1;
    }
    // children in order: pushed last first
    if (cc_grow((void **)stack, cap, *n + (size_t)it->new_c->n_children, sizeof(item)) < 0) {
        return -1;
    }
    for (int i = it->new_c->n_children - 1; i >= 0; i--) {
        (*stack)[(*n)++] = (item){it->new_c->children[i], it->old_c->children[i], it->depth + 1};
    }
    return 0;
}

char *
cc_diff_circuits(cc_node *new_c, cc_node *old_c, const cc_diff_options *o)
{
    cc_print_options po = o->print;
    po.bijection = 0;
    cc_str out;
    cc_str_init(&out);
    cc_hmap seen;
    cc_hmap_init(&seen);
    size_t n_seen = 0, n = 0, cap = 0;
    item *stack = NULL;
    char *result = NULL;
    if (cc_grow((void **)&stack, &cap, 1, sizeof(item)) < 0) {
        goto done;
    }
    stack[n++] = (item){new_c, old_c, 0};
    while (n > 0) {
        item it = stack[--n];
        if (visit(&it, &out, &seen, &n_seen, &stack, &n, &cap, o, &po) < 0) {
            goto done;
        }
    }
    if (o->print_legend) {
        if ((out.len == 0 || out.data[out.len - 1] != '\n') && cc_str_append(&out, "\n") < 0) {
            goto done;
        }
        if (append_legend(&out, o) < 0) {
            goto done;
        }
    }
    result = cc_str_take(&out);
done:
    for (size_t i = 0; i < seen.cap; i++) {
        if (seen.slots[i].used) {
            cc_free(seen.slots[i].value);
        }
    }
    cc_hmap_clear(&seen);
    cc_free(stack);
    cc_str_clear(&out);
    return result;
}
