// Einsum: labelled operands contracted into labelled output axes (repeated labels mean
// diagonals, in inputs and in the output). Validates label counts, label sizes and the
// output labels; hashes in rc's order (output labels, then each child's hash and labels).
#include <stdio.h>
#include <string.h>

#include "nodes/einsum_string.h"
#include "nodes/expand_kind.h"
#include "nodes/named_axes.h"
#include "nodes/node_impl.h"
#include "nodes/payload_text.h"
#include "nodes/shape.h"
#include "util/alloc.h"
#include "util/error.h"

static void
einsum_hash_non_name(const cc_node *n, cc_blake3 *h)
{
    cc_blake3_update(h, n->u.einsum.out_axes, (size_t)n->ndim);
    const uint8_t *axes = n->u.einsum.in_axes;
    for (int i = 0; i < n->n_children; i++) {
        const cc_node *c = n->children[i];
        cc_blake3_update(h, c->hash, 32);
        cc_blake3_update(h, axes, (size_t)c->ndim);
        axes += c->ndim;
    }
}

static void
einsum_free_payload(cc_node *n)
{
    cc_free(n->u.einsum.in_axes);
    cc_free(n->u.einsum.out_axes);
    n->u.einsum.in_axes = NULL;
    n->u.einsum.out_axes = NULL;
}

// "j" for printable labels, "#80" for the others.
static const char *
label_text(uint8_t label, char buf[8])
{
    char c[4];
    if (cc_einsum_label_char(label, c) != NULL) {
        memcpy(buf, c, 4);
    } else {
        snprintf(buf, 8, "#%d", label);
    }
    return buf;
}

static cc_node *
fail_len(const char *what, int i, int count, const cc_node *child)
{
    cc_str s;
    cc_str_init(&s);
    if (cc_shape_append(&s, child->ndim, child->shape) == 0) {
        cc_fail(CC_E_CONSTRUCT_EINSUM_LEN_SHAPE_DIFFERENT_FROM_AXES,
                "%s: child %d has %d labels but rank %d (shape %s)", what, i, count, child->ndim,
                s.data);
    }
    cc_str_clear(&s);
    return NULL;
}

// The Einsum of children where child i carries counts[i] labels (NULL: its rank).
static cc_node *
einsum_build(int n, cc_node *const *children, const int *counts, const uint8_t *in_axes, int n_out,
             const uint8_t *out_axes, const char *name)
{
    char what[160];
    char label_buf[8];
    cc_node_describe(CC_KIND_EINSUM, name, what, sizeof(what));
    int64_t size[256];
    int first_child[256];
    for (int l = 0; l < 256; l++) {
        first_child[l] = -1;
    }
    size_t total = 0;
    const uint8_t *axes = in_axes;
    for (int i = 0; i < n; i++) {
        const cc_node *c = children[i];
        int count = counts != NULL ? counts[i] : c->ndim;
        if (count != c->ndim) {
            return fail_len(what, i, count, c);
        }
        for (int k = 0; k < c->ndim; k++) {
            uint8_t l = axes[k];
            if (first_child[l] < 0) {
                first_child[l] = i;
                size[l] = c->shape[k];
            } else if (size[l] != c->shape[k]) {
                return cc_fail_null(CC_E_CONSTRUCT_EINSUM_AXIS_SIZE_DIFFERENT,
                                    "%s: axis %s is %lld in child %d but %lld in child %d", what,
                                    label_text(l, label_buf), (long long)size[l], first_child[l],
                                    (long long)c->shape[k], i);
            }
        }
        axes += c->ndim;
        total += (size_t)c->ndim;
    }
    if (n_out > CC_MAX_NDIM) {
        return cc_fail_null(CC_E_CONSTRUCT_NOT_SUPPORTED_YET,
                            "%s: %d output axes, at most %d are supported", what, n_out,
                            CC_MAX_NDIM);
    }
    int64_t shape[CC_MAX_NDIM];
    for (int k = 0; k < n_out; k++) {
        uint8_t l = out_axes[k];
        if (first_child[l] < 0) {
            return cc_fail_null(CC_E_CONSTRUCT_EINSUM_OUTPUT_NOT_SUBSET,
                                "%s: output axis %s (position %d) is in no input", what,
                                label_text(l, label_buf), k);
        }
        shape[k] = size[l];
    }
    cc_node *node = cc_node_alloc(CC_KIND_EINSUM, n, children, n_out, shape);
    if (node == NULL) {
        return NULL;
    }
    node->u.einsum.in_axes = cc_malloc(total);
    node->u.einsum.out_axes = cc_malloc((size_t)n_out);
    if (node->u.einsum.in_axes == NULL || node->u.einsum.out_axes == NULL) {
        cc_node_free_one(node);
        return NULL;
    }
    if (total > 0) {
        memcpy(node->u.einsum.in_axes, in_axes, total);
    }
    if (n_out > 0) {
        memcpy(node->u.einsum.out_axes, out_axes, (size_t)n_out);
    }
    return cc_node_finish(node, name);
}

static cc_node *
einsum_rebuild(const cc_node *n, cc_node *const *children, const char *name)
{
    int *counts = cc_malloc((size_t)(n->n_children > 0 ? n->n_children : 1) * sizeof(int));
    if (counts == NULL) {
        return NULL;
    }
    for (int i = 0; i < n->n_children; i++) {
        counts[i] = n->children[i]->ndim;
    }
    cc_node *out = einsum_build(n->n_children, children, counts, n->u.einsum.in_axes, n->ndim,
                                n->u.einsum.out_axes, name);
    cc_free(counts);
    return out;
}

static const uint8_t einsum_type_uuid[16] = {0xed, 0x15, 0x42, 0x2c, 0x7c, 0x02, 0x40, 0xc2,
                                             0xa3, 0xc2, 0xe9, 0x22, 0x45, 0x14, 0xd0, 0x63};

static const cc_name_op einsum_name_op = {.cls = CC_NAME_INFIX, .priority = 1, .text = " * "};

// A name the fancy form can carry: the parser splits it at ',' and "->" and ends the line's
// payload at '#' or '!'.
static int
fancy_word_ok(const char *name)
{
    return strpbrk(name, ",>#!") == NULL;
}

// rc's to_fancy_einsum_string: labels named by the node's named axes first, then by each
// operand's in order. 1 with the text appended when every label gets a distinct name, 0 when
// the node keeps the classic form, -1 on error.
static int
append_fancy(const cc_node *n, cc_str *out)
{
    const char *names[256] = {0};
    const cc_named_axes *own = n->named_axes;
    for (int k = 0; k < own->n; k++) {
        names[n->u.einsum.out_axes[own->items[k].axis]] = own->items[k].name;
    }
    for (int i = 0; i < n->n_children; i++) {
        const cc_node *c = n->children[i];
        const uint8_t *labels = cc_einsum_child_axes(n, i);
        if ((c->named_axes == NULL ? 0 : c->named_axes->n) < c->ndim) {
            return 0; // as rc: an operand names all its axes, or the classic form is kept
        }
        for (int j = 0; j < c->ndim; j++) {
            if (names[labels[j]] == NULL) {
                names[labels[j]] = cc_named_axes_get(c->named_axes, j);
            }
            if (names[labels[j]] == NULL) {
                return 0;
            }
        }
    }
    for (int a = 0; a < 256; a++) {
        if (names[a] == NULL) {
            continue;
        }
        if (!fancy_word_ok(names[a])) {
            return 0;
        }
        for (int b = 0; b < a; b++) {
            if (names[b] != NULL && strcmp(names[a], names[b]) == 0) {
                return 0;
            }
        }
    }
    cc_str text;
    cc_str_init(&text);
    int rc = cc_str_append(&text, "fancy: ");
    for (int i = 0; rc == 0 && i < n->n_children; i++) {
        const uint8_t *labels = cc_einsum_child_axes(n, i);
        rc = i > 0 ? cc_str_append(&text, ", ") : 0;
        for (int j = 0; rc == 0 && j < n->children[i]->ndim; j++) {
            rc = j > 0 ? cc_str_append(&text, " ") : 0;
            rc = rc < 0 ? rc : cc_str_append(&text, names[labels[j]]);
        }
    }
    rc = rc < 0 ? rc : cc_str_append(&text, " -> ");
    for (int a = 0; rc == 0 && a < n->ndim; a++) {
        rc = a > 0 ? cc_str_append(&text, " ") : 0;
        rc = rc < 0 ? rc : cc_str_append(&text, names[n->u.einsum.out_axes[a]]);
    }
    rc = rc < 0 ? rc : cc_str_append(out, text.data);
    cc_str_clear(&text);
    return rc < 0 ? -1 : 1;
}

// rc's to_maybe_fancy_string: the fancy form when the node has named axes and it names every
// label, else "ab,bc->ac".
static int
einsum_print_payload(const cc_node *n, const cc_payload_print *o, cc_str *out)
{
    (void)o;
    if (n->named_axes != NULL) {
        int fancy = append_fancy(n, out);
        if (fancy != 0) {
            return fancy < 0 ? -1 : 0;
        }
    }
    char *text = cc_einsum_to_string(n);
    if (text == NULL) {
        cc_error_prefix("Einsum '%s'", n->name ? n->name : "");
        return -1;
    }
    int rc = cc_str_append(out, text);
    cc_free(text);
    return rc;
}

// "ab,bc->ac", or "fancy:" and the long-label form.
static cc_node *
einsum_parse_payload(const cc_payload_parse *in, const char **at)
{
    if (cc_payload_expect(in, CC_KIND_EINSUM, "its axes such as ab,bc->ac", at) < 0) {
        return NULL;
    }
    *at = in->extra_at;
    const char *fancy = "fancy:";
    int is_fancy = strncmp(in->extra, fancy, strlen(fancy)) == 0;
    return cc_einsum_new_from_string(in->extra + (is_fancy ? strlen(fancy) : 0), is_fancy,
                                     in->n_children, in->children, in->name);
}

// The printer's comment on an operand: its labels.
static int
einsum_child_comment(const cc_node *n, int i, cc_str *out)
{
    const cc_node *c = n->children[i];
    const uint8_t *axes = cc_einsum_child_axes(n, i);
    for (int a = 0; a < c->ndim; a++) {
        char buf[4];
        if (cc_str_append(out, cc_einsum_label_char(axes[a], buf)) < 0) {
            return -1;
        }
    }
    return 0;
}

static cc_node *
einsum_expand(const cc_expand_call *e)
{
    cc_node **xs = e->xs;
    const cc_node *c = e->c;
    int next_axis = 0;
    int total_in = 0;
    for (int i = 0; i < e->n; i++) {
        total_in += c->children[i]->ndim;
    }
    for (int k = 0; k < total_in; k++) {
        next_axis = c->u.einsum.in_axes[k] + 1 > next_axis ? c->u.einsum.in_axes[k] + 1 : next_axis;
    }
    for (int k = 0; k < c->ndim; k++) {
        int a = c->u.einsum.out_axes[k];
        next_axis = a + 1 > next_axis ? a + 1 : next_axis;
    }
    int br = e->batch_rank;
    if (next_axis + br > 256) {
        return cc_fail_null(CC_E_CONSTRUCT_NOT_SUPPORTED_YET,
                            "%s: adding %d batch axes needs more than 256 einsum labels", e->what,
                            br);
    }
    int total_new = 0;
    for (int i = 0; i < e->n; i++) {
        total_new += e->inputs[i]->ndim;
    }
    uint8_t *in_axes = cc_malloc((size_t)(total_new > 0 ? total_new : 1));
    cc_node *out = NULL;
    if (in_axes == NULL) {
        return NULL;
    }
    uint8_t out_axes[CC_MAX_NDIM];
    for (int b = 0; b < br; b++) {
        out_axes[b] = (uint8_t)(next_axis + b);
    }
    memcpy(out_axes + br, c->u.einsum.out_axes, (size_t)c->ndim);
    int64_t label_size[256];
    uint8_t label_seen[256] = {0};
    int pos = 0;
    const uint8_t *old_axes = c->u.einsum.in_axes;
    for (int i = 0; i < e->n; i++) {
        int r = e->br[i];
        for (int b = 0; b < r; b++) {
            in_axes[pos + b] = (uint8_t)(next_axis + (br - r) + b);
        }
        memcpy(in_axes + pos + r, old_axes, (size_t)c->children[i]->ndim);
        old_axes += c->children[i]->ndim;
        for (int k = 0; k < e->inputs[i]->ndim; k++) {
            int label = in_axes[pos + k];
            int64_t size = e->inputs[i]->shape[k];
            // rc's find_non_symbolic over every occurrence: the first concrete size wins.
            if (!label_seen[label] ||
                (cc_size_has_symbolic(label_size[label]) && !cc_size_has_symbolic(size))) {
                label_size[label] = size;
                label_seen[label] = 1;
            }
        }
        pos += e->inputs[i]->ndim;
    }
    pos = 0;
    for (int i = 0; i < e->n; i++) {
        int64_t want[CC_MAX_NDIM];
        for (int k = 0; k < e->inputs[i]->ndim; k++) {
            want[k] = label_size[in_axes[pos + k]];
        }
        pos += e->inputs[i]->ndim;
        xs[i] = cc_set_symbolic_shape_some_set_and_symbolic_neq(e->inputs[i], want, NULL);
        if (xs[i] == NULL) {
            cc_error_prefix("%s: failed to set symbolic sizes in expand einsum", e->what);
            goto done;
        }
    }
    out = cc_einsum_new(e->n, xs, in_axes, br + c->ndim, out_axes, c->name);
done:
    cc_free(in_axes);
    return out;
}

static double
product(int ndim, const int64_t *shape)
{
    double p = 1.0;
    for (int i = 0; i < ndim; i++) {
        p *= (double)shape[i];
    }
    return p;
}

// rc's EinsumSpec::flops: (operands - 1) products over every distinct input label, plus
// one addition per summed element of each output position.
static double
einsum_self_flops(const cc_node *n)
{
    if (n->n_children == 0) {
        return 0.0;
    }
    int64_t size[256];
    uint8_t used[256] = {0}, in_out[256] = {0};
    const uint8_t *axes = n->u.einsum.in_axes;
    for (int i = 0; i < n->n_children; i++) {
        const cc_node *c = n->children[i];
        for (int k = 0; k < c->ndim; k++) {
            used[axes[k]] = 1;
            size[axes[k]] = c->shape[k];
        }
        axes += c->ndim;
    }
    for (int k = 0; k < n->ndim; k++) {
        in_out[n->u.einsum.out_axes[k]] = 1;
    }
    double all = 1.0, summed = 1.0;
    for (int l = 0; l < 256; l++) {
        if (used[l]) {
            all *= (double)size[l];
            summed *= in_out[l] ? 1.0 : (double)size[l];
        }
    }
    double muls = (double)(n->n_children - 1) * all;
    // rc's unsigned "summed - 1" has no meaning for an empty summed axis; count none.
    double sums = product(n->ndim, n->shape) * (summed > 0.0 ? summed - 1.0 : 0.0);
    return muls + sums;
}

// rc's child_axis_map: an operand axis whose label it does not repeat is the output axis of
// that label, when the output holds the label once.
static int
einsum_child_axis_map(const cc_node *n, int i, int *out)
{
    const cc_node *c = n->children[i];
    const uint8_t *labels = cc_einsum_child_axes(n, i);
    for (int j = 0; j < c->ndim; j++) {
        out[j] = -1;
        int repeated = 0;
        for (int k = 0; k < c->ndim; k++) {
            repeated |= k != j && labels[k] == labels[j];
        }
        if (repeated) {
            continue;
        }
        for (int a = 0; a < n->ndim; a++) {
            if (n->u.einsum.out_axes[a] == labels[j]) {
                out[j] = out[j] == -1 ? a : -2;
            }
        }
        out[j] = out[j] < 0 ? -1 : out[j];
    }
    return 0;
}

CC_DEFINE_KIND_OPS(einsum, .free_payload = einsum_free_payload, .expand = einsum_expand,
                   .self_flops = einsum_self_flops, .child_comment = einsum_child_comment,
                   .child_axis_map = einsum_child_axis_map);

cc_node *
cc_einsum_new(int n, cc_node *const *children, const uint8_t *in_axes, int n_out,
              const uint8_t *out_axes, const char *name)
{
    return einsum_build(n, children, NULL, in_axes, n_out, out_axes, name);
}

const uint8_t *
cc_einsum_child_axes(const cc_node *n, int i)
{
    const uint8_t *axes = n->u.einsum.in_axes;
    for (int k = 0; k < i; k++) {
        axes += n->children[k]->ndim;
    }
    return axes;
}

cc_node *
cc_einsum_new_from_labels(int n, cc_node *const *children, const cc_einsum_labels *l,
                          const char *name)
{
    int n_operands = l->n_operands;
    if (n == 0 && n_operands == 1 && l->n_axes[0] == 0) {
        n_operands = 0;
    }
    if (n_operands != n) {
        char what[160];
        return cc_fail_null(CC_E_CONSTRUCT_EINSUM_WRONG_NUM_CHILDREN,
                            "%s: %d nodes given but the labels name %d operands",
                            cc_node_describe(CC_KIND_EINSUM, name, what, sizeof(what)), n,
                            n_operands);
    }
    return einsum_build(n, children, l->n_axes, l->in_axes, l->n_out, l->out_axes, name);
}

cc_node *
cc_einsum_new_from_string(const char *s, int fancy, int n, cc_node *const *children,
                          const char *name)
{
    cc_einsum_labels l;
    int rc = fancy ? cc_einsum_parse_fancy(s, &l) : cc_einsum_parse_string(s, &l);
    if (rc < 0) {
        return NULL;
    }
    cc_node *out = cc_einsum_new_from_labels(n, children, &l, name);
    cc_einsum_labels_clear(&l);
    return out;
}
