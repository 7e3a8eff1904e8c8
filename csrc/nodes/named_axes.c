// Named axes: the sorted (axis, name) blocks nodes own, the names children give their parent
// through the kinds' child_axis_map, rc's set_named_axes and propagate_named_axes (an explicit
// stack over (node, names) pairs, memoised). Knows nothing of Python or evaluation.
#include "nodes/named_axes.h"

#include <ctype.h>
#include <string.h>

#include "nodes/node_impl.h"
#include "util/alloc.h"
#include "util/blake3.h"
#include "util/error.h"
#include "util/hmap.h"

cc_named_axes *
cc_named_axes_new(int n, const int *axes, const char *const *names, int *failed)
{
    if (n <= 0) {
        return NULL;
    }
    // Positions sorted by axis, stable, so that the last pair of an axis is the last of its run.
    int *order = cc_malloc((size_t)n * sizeof(int));
    if (order == NULL) {
        *failed = 1;
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        int j = i;
        while (j > 0 && axes[order[j - 1]] > axes[i]) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
    int kept = 0;
    size_t text = 0;
    for (int i = 0; i < n; i++) {
        if (i + 1 < n && axes[order[i + 1]] == axes[order[i]]) {
            continue;
        }
        kept++;
        text += strlen(names[order[i]]) + 1;
    }
    size_t head = sizeof(cc_named_axes) + (size_t)kept * sizeof(((cc_named_axes *)0)->items[0]);
    cc_named_axes *a = cc_malloc(head + text);
    if (a == NULL) {
        cc_free(order);
        *failed = 1;
        return NULL;
    }
    a->n = kept;
    char *at = (char *)a + head;
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (i + 1 < n && axes[order[i + 1]] == axes[order[i]]) {
            continue;
        }
        size_t len = strlen(names[order[i]]) + 1;
        memcpy(at, names[order[i]], len);
        a->items[k].axis = axes[order[i]];
        a->items[k].name = at;
        at += len;
        k++;
    }
    cc_free(order);
    return a;
}

// The pairs of a as two arrays of a->n entries.
static void
unzip(const cc_named_axes *a, int *axes, const char **names)
{
    for (int k = 0; k < a->n; k++) {
        axes[k] = a->items[k].axis;
        names[k] = a->items[k].name;
    }
}

cc_named_axes *
cc_named_axes_copy(const cc_named_axes *a, int *failed)
{
    if (a == NULL) {
        return NULL;
    }
    int axes[CC_MAX_NDIM];
    const char *names[CC_MAX_NDIM];
    unzip(a, axes, names);
    return cc_named_axes_new(a->n, axes, names, failed);
}

int
cc_named_axes_equal(const cc_named_axes *a, const cc_named_axes *b)
{
    int na = a == NULL ? 0 : a->n, nb = b == NULL ? 0 : b->n;
    if (na != nb) {
        return 0;
    }
    for (int k = 0; k < na; k++) {
        if (a->items[k].axis != b->items[k].axis ||
            strcmp(a->items[k].name, b->items[k].name) != 0) {
            return 0;
        }
    }
    return 1;
}

const char *
cc_named_axes_get(const cc_named_axes *a, int axis)
{
    for (int k = 0; a != NULL && k < a->n; k++) {
        if (a->items[k].axis == axis) {
            return a->items[k].name;
        }
    }
    return NULL;
}

int
cc_named_axes_check_names(int n, const char *const *names)
{
    for (int i = 0; i < n; i++) {
        for (const unsigned char *c = (const unsigned char *)names[i]; *c != 0; c++) {
            if (isspace(*c) || *c == ':' || *c == '[' || *c == ']') {
                return cc_fail(CC_E_NAMED_AXES_FORBIDDEN_CHARACTER,
                               "No whitespace, colon, or square brackets allowed in axis name "
                               "'%s' (character %ld is not allowed)",
                               names[i], (long)(c - (const unsigned char *)names[i]));
            }
        }
    }
    return 0;
}

int
cc_node_child_axis_map(const cc_node *n, int i, int *out)
{
    int (*map)(const cc_node *, int, int *) = cc_kind_ops_of(n->kind)->child_axis_map;
    if (map != NULL) {
        return map(n, i, out);
    }
    for (int j = 0; j < n->children[i]->ndim; j++) {
        out[j] = -1;
    }
    return 0;
}

int
cc_named_axes_from_children(const cc_node *n, cc_named_axes **out)
{
    *out = NULL;
    int (*map)(const cc_node *, int, int *) = cc_kind_ops_of(n->kind)->child_axis_map;
    if (map == NULL) {
        return 0;
    }
    const char *names[CC_MAX_NDIM] = {0};
    int any = 0;
    for (int i = 0; i < n->n_children; i++) {
        const cc_named_axes *ca = n->children[i]->named_axes;
        if (ca == NULL) {
            continue;
        }
        int to[CC_MAX_NDIM];
        if (map(n, i, to) < 0) {
            return -1;
        }
        // Later children's names win, as rc's map inserts them in child order.
        for (int k = 0; k < ca->n; k++) {
            int a = to[ca->items[k].axis];
            if (a >= 0) {
                names[a] = ca->items[k].name;
                any = 1;
            }
        }
    }
    if (!any) {
        return 0;
    }
    int axes[CC_MAX_NDIM];
    const char *kept[CC_MAX_NDIM];
    int count = 0;
    for (int a = 0; a < n->ndim; a++) {
        if (names[a] != NULL) {
            axes[count] = a;
            kept[count++] = names[a];
        }
    }
    int failed = 0;
    *out = cc_named_axes_new(count, axes, kept, &failed);
    return failed ? -1 : 0;
}

// 0 when every axis is one of n's, else -1 with CC_E_CONSTRUCT_NAMED_AXIS_ABOVE_RANK.
static int
check_axes(const cc_node *n, int count, const int *axes, const char *const *names)
{
    for (int i = 0; i < count; i++) {
        if (axes[i] < 0 || axes[i] >= n->ndim) {
            return cc_fail(CC_E_CONSTRUCT_NAMED_AXIS_ABOVE_RANK,
                           "%s '%s': axis %d is named '%s' but the node has rank %d",
                           cc_kind_get_info(n->kind)->py_name, n->name ? n->name : "", axes[i],
                           names[i], n->ndim);
        }
    }
    return 0;
}

cc_node *
cc_node_set_named_axes(const cc_node *n, int count, const int *axes, const char *const *names)
{
    if (cc_named_axes_check_names(count, names) < 0 || check_axes(n, count, axes, names) < 0) {
        return NULL;
    }
    int failed = 0;
    cc_named_axes *a = cc_named_axes_new(count, axes, names, &failed);
    if (failed) {
        return NULL;
    }
    cc_node *m = cc_node_copy_with_named_axes(n, a);
    cc_free(a);
    return m;
}

// --- propagate_named_axes -----------------------------------------------------------------

// One (node, names passed down) pair being rebuilt.
typedef struct {
    const cc_node *node;
    cc_named_axes *passed; // owned
    uint8_t key[32];
    cc_node **new_children; // owned references, node->n_children slots
    int next;
} prop_frame;

static void
pair_key(const cc_node *n, const cc_named_axes *passed, uint8_t key[32])
{
    cc_blake3 h;
    cc_blake3_init(&h);
    cc_blake3_update(&h, n->hash, 32);
    for (int k = 0; passed != NULL && k < passed->n; k++) {
        uint8_t axis = (uint8_t)passed->items[k].axis;
        cc_blake3_update(&h, &axis, 1);
        cc_blake3_update(&h, passed->items[k].name, strlen(passed->items[k].name) + 1);
    }
    cc_blake3_final(&h, key, 32);
}

// rc's abort_on_branch test: an Einsum operand that repeats a label.
static int
is_branching_einsum(const cc_node *n)
{
    if (n->kind != CC_KIND_EINSUM) {
        return 0;
    }
    for (int i = 0; i < n->n_children; i++) {
        const uint8_t *l = cc_einsum_child_axes(n, i);
        for (int a = 0; a < n->children[i]->ndim; a++) {
            for (int b = 0; b < a; b++) {
                if (l[a] == l[b]) {
                    return 1;
                }
            }
        }
    }
    return 0;
}

// The names passed to child i of f's node: child axes mapping onto a passed name.
static int
passed_to_child(const prop_frame *f, int i, int abort_on_branch, cc_named_axes **out)
{
    *out = NULL;
    const cc_node *n = f->node;
    int (*map)(const cc_node *, int, int *) = cc_kind_ops_of(n->kind)->child_axis_map;
    if (f->passed == NULL || map == NULL || (abort_on_branch && is_branching_einsum(n))) {
        return 0;
    }
    int to[CC_MAX_NDIM];
    if (map(n, i, to) < 0) {
        return -1;
    }
    int axes[CC_MAX_NDIM];
    const char *names[CC_MAX_NDIM];
    int count = 0;
    for (int j = 0; j < n->children[i]->ndim; j++) {
        const char *name = to[j] >= 0 ? cc_named_axes_get(f->passed, to[j]) : NULL;
        if (name != NULL) {
            axes[count] = j;
            names[count++] = name;
        }
    }
    int failed = 0;
    *out = cc_named_axes_new(count, axes, names, &failed);
    return failed ? -1 : 0;
}

// f's node over its new children, named with its own names (keep_own) merged under the
// passed ones.
static cc_node *
make_node(const prop_frame *f, int keep_own)
{
    const cc_node *n = f->node;
    cc_node *rebuilt = cc_node_rebuild(n, f->new_children, n->name);
    if (rebuilt == NULL) {
        return NULL;
    }
    int axes[2 * CC_MAX_NDIM];
    const char *names[2 * CC_MAX_NDIM];
    int count = 0;
    if (keep_own && n->named_axes != NULL) {
        unzip(n->named_axes, axes, names);
        count = n->named_axes->n;
    }
    if (f->passed != NULL) {
        unzip(f->passed, axes + count, names + count);
        count += f->passed->n;
    }
    int failed = 0;
    cc_named_axes *merged = cc_named_axes_new(count, axes, names, &failed);
    if (failed) {
        cc_node_decref(rebuilt);
        return NULL;
    }
    if (cc_named_axes_equal(merged, rebuilt->named_axes)) {
        cc_free(merged);
        return rebuilt;
    }
    cc_node *m = cc_node_copy_with_named_axes(rebuilt, merged);
    cc_free(merged);
    cc_node_decref(rebuilt);
    return m;
}

static void
frame_clear(prop_frame *f)
{
    cc_free(f->passed);
    for (int i = 0; i < f->next; i++) {
        cc_node_decref(f->new_children[i]);
    }
    cc_free(f->new_children);
}

// Pushes the frame of (n, passed), taking passed. 0, or -1 (passed freed).
static int
push(prop_frame **stack, size_t *depth, size_t *cap, const cc_node *n, cc_named_axes *passed)
{
    if (cc_grow((void **)stack, cap, *depth + 1, sizeof(prop_frame)) < 0) {
        cc_free(passed);
        return -1;
    }
    prop_frame *f = &(*stack)[*depth];
    *f = (prop_frame){.node = n, .passed = passed};
    if (n->n_children > 0) {
        f->new_children = cc_calloc((size_t)n->n_children, sizeof(cc_node *));
        if (f->new_children == NULL) {
            cc_free(passed);
            return -1;
        }
    }
    pair_key(n, passed, f->key);
    (*depth)++;
    return 0;
}

static cc_node *
propagate(cc_node *root, int count, const int *axes, const char *const *names, int abort_on_branch,
          int keep_own)
{
    if (cc_named_axes_check_names(count, names) < 0 || check_axes(root, count, axes, names) < 0) {
        return NULL;
    }
    int failed = 0;
    cc_named_axes *initial = cc_named_axes_new(count, axes, names, &failed);
    if (failed) {
        return NULL;
    }
    cc_hmap memo; // pair key -> result (a reference held in held)
    cc_hmap_init(&memo);
    cc_node **held = NULL;
    size_t n_held = 0, cap_held = 0;
    prop_frame *stack = NULL;
    size_t depth = 0, cap = 0;
    cc_node *result = NULL;
    if (push(&stack, &depth, &cap, root, initial) < 0) {
        goto done;
    }
    while (depth > 0) {
        prop_frame *f = &stack[depth - 1];
        if (f->next < f->node->n_children) {
            cc_named_axes *down;
            if (passed_to_child(f, f->next, abort_on_branch, &down) < 0) {
                goto done;
            }
            const cc_node *c = f->node->children[f->next];
            uint8_t key[32];
            pair_key(c, down, key);
            cc_node *known = cc_hmap_get(&memo, key);
            if (known != NULL) {
                cc_free(down);
                cc_node_incref(known);
                f->new_children[f->next++] = known;
                continue;
            }
            if (push(&stack, &depth, &cap, c, down) < 0) {
                goto done;
            }
            continue;
        }
        cc_node *made = make_node(f, keep_own);
        if (made == NULL) {
            goto done;
        }
        if (cc_grow((void **)&held, &cap_held, n_held + 1, sizeof(cc_node *)) < 0 ||
            cc_hmap_put(&memo, f->key, made) < 0) {
            cc_node_decref(made);
            goto done;
        }
        held[n_held++] = made;
        frame_clear(f);
        depth--;
        if (depth == 0) {
            result = made;
            cc_node_incref(result);
        } else {
            prop_frame *parent = &stack[depth - 1];
            cc_node_incref(made);
            parent->new_children[parent->next++] = made;
        }
    }

done:
    while (depth > 0) {
        frame_clear(&stack[--depth]);
    }
    cc_free(stack);
    for (size_t i = 0; i < n_held; i++) {
        cc_node_decref(held[i]);
    }
    cc_free(held);
    cc_hmap_clear(&memo);
    return result;
}

cc_node *
cc_node_propagate_named_axes(cc_node *root, int count, const int *axes, const char *const *names,
                             int abort_on_branch)
{
    return propagate(root, count, axes, names, abort_on_branch, 1);
}

cc_node *
cc_node_name_axes_afresh(cc_node *root, int count, const int *axes, const char *const *names,
                         int abort_on_branch)
{
    return propagate(root, count, axes, names, abort_on_branch, 0);
}
