// cc_node core: the kind tables, refcounting with iterative freeing, the common steps of
// construction (allocate, flags, dtype, name, hash), renaming, rebuilding, graph walks and
// flop counts. Per-kind behaviour is reached through the kinds' cc_kind_ops records.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nodes/autoname.h"
#include "nodes/named_axes.h"
#include "nodes/node_impl.h"
#include "nodes/symbol_set.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/hmap.h"

// Only its address matters: constructors compare name pointers against it.
const char CC_NO_NAME[1] = "";

// rc's delimiter between a node's name and its autoname flag in the hash.
static const uint8_t NAME_DELIMITER_UUID[16] = {
    0x02, 0x5e, 0x9a, 0xf4, 0x13, 0x66, 0x42, 0x11, 0xaa, 0x5f, 0x7c, 0x28, 0xfc, 0x6c, 0xdf, 0x9f,
};

// rc's delimiter after each (axis, name) pair of the named axes in the hash.
static const uint8_t AXIS_NAME_DELIMITER_UUID[16] = {
    0xdb, 0x6b, 0x19, 0x67, 0x35, 0xf7, 0x45, 0x71, 0xa6, 0x9c, 0x82, 0xba, 0x33, 0x40, 0x21, 0x5d,
};

const cc_kind_info cc_kind_info_table[CC_KIND_COUNT] = {
#define CC_KIND(E, c_name, py, flags) [CC_KIND_##E] = {py, flags},
#include "nodes/kinds.def"
#undef CC_KIND
};

const cc_kind_info *
cc_kind_get_info(cc_kind kind)
{
    if ((int)kind < 0 || kind >= CC_KIND_COUNT) {
        return NULL;
    }
    return &cc_kind_info_table[kind];
}

const char *
cc_node_describe(cc_kind kind, const char *name, char *buf, size_t cap)
{
    const char *py = cc_kind_info_table[kind].py_name;
    if (name == NULL || name == CC_NO_NAME) {
        snprintf(buf, cap, "%s", py);
    } else {
        snprintf(buf, cap, "%s '%s'", py, name);
    }
    return buf;
}

static uint64_t last_stamp;
static int stamp_held;

uint64_t
cc_walk_stamp_take(void)
{
    if (stamp_held) {
        return 0;
    }
    stamp_held = 1;
    return ++last_stamp;
}

void
cc_walk_stamp_release(void)
{
    stamp_held = 0;
}

void
cc_node_incref(cc_node *n)
{
    if (n != NULL) {
        n->refcount++;
    }
}

// Freeing links dead nodes into a list through their payload storage, which is free once
// the payload has been released; so freeing needs neither recursion nor allocation.
static void
set_link(cc_node *n, cc_node *next)
{
    memcpy(&n->u, &next, sizeof(next));
}

static cc_node *
get_link(const cc_node *n)
{
    cc_node *next;
    memcpy(&next, &n->u, sizeof(next));
    return next;
}

static void
release_own(cc_node *n)
{
    if (cc_kind_ops_table[n->kind]->free_payload != NULL) {
        cc_kind_ops_table[n->kind]->free_payload(n);
    }
    cc_free(n->name);
    n->name = NULL;
    cc_symbol_set_decref(n->free_symbols);
    n->free_symbols = NULL;
    cc_free(n->named_axes);
    n->named_axes = NULL;
}

static void
free_chain(cc_node *n)
{
    release_own(n);
    set_link(n, NULL);
    cc_node *head = n;
    while (head != NULL) {
        cc_node *x = head;
        head = get_link(x);
        for (int i = 0; i < x->n_children; i++) {
            cc_node *c = x->children[i];
            if (--c->refcount == 0) {
                release_own(c);
                set_link(c, head);
                head = c;
            }
        }
        cc_free(x);
    }
}

void
cc_node_decref(cc_node *n)
{
    if (n == NULL || --n->refcount > 0) {
        return;
    }
    free_chain(n);
}

void
cc_node_free_one(cc_node *n)
{
    if (n != NULL) {
        free_chain(n);
    }
}

void
cc_node_hash_children(const cc_node *n, cc_blake3 *h)
{
    for (int i = 0; i < n->n_children; i++) {
        cc_blake3_update(h, n->children[i]->hash, 32);
    }
}

uint32_t
cc_name_hash(const char *name)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *c = (const unsigned char *)name; *c != 0; c++) {
        h = (h ^ *c) * 16777619u;
    }
    return h;
}

// rc's init_info_impl and compute_hash_info: the kind's non-name part, the kind uuid, then
// name presence, name bytes, delimiter, autoname flag, then each named axis (axis byte, name,
// delimiter): a node without named axes hashes as before names existed.
static void
compute_hash(cc_node *n)
{
    const cc_kind_ops *ops = cc_kind_ops_table[n->kind];
    cc_blake3 h;
    cc_blake3_init(&h);
    ops->hash_non_name(n, &h);
    cc_blake3_update(&h, ops->type_uuid, 16);
    uint8_t has_name = n->name != NULL;
    n->name_hash = has_name ? cc_name_hash(n->name) : 0;
    cc_blake3_update(&h, &has_name, 1);
    if (n->name != NULL) {
        cc_blake3_update(&h, n->name, strlen(n->name));
    }
    cc_blake3_update(&h, NAME_DELIMITER_UUID, 16);
    uint8_t use_autoname = n->use_autoname != 0;
    cc_blake3_update(&h, &use_autoname, 1);
    const cc_named_axes *axes = n->named_axes;
    for (int k = 0; axes != NULL && k < axes->n; k++) {
        uint8_t axis = (uint8_t)axes->items[k].axis;
        cc_blake3_update(&h, &axis, 1);
        cc_blake3_update(&h, axes->items[k].name, strlen(axes->items[k].name));
        cc_blake3_update(&h, AXIS_NAME_DELIMITER_UUID, 16);
    }
    cc_blake3_final(&h, n->hash, 32);
}

// The common allocation; merge: dtype from the children (else the given dtype).
static cc_node *
alloc_node(cc_kind kind, int n_children, cc_node *const *children, int ndim, const int64_t *shape,
           int merge, int dtype)
{
    if (ndim < 0 || ndim > CC_MAX_NDIM) {
        return cc_fail_null(CC_E_CONSTRUCT_NOT_SUPPORTED_YET,
                            "%s of rank %d: at most %d axes are supported",
                            cc_kind_info_table[kind].py_name, ndim, CC_MAX_NDIM);
    }
    // One block: the struct, the child pointers, the shape. A node is then small and its
    // child array next to it, which is what walks over large circuits read.
    size_t nc = n_children > 0 ? (size_t)n_children : 0;
    cc_node *n =
        cc_calloc(1, sizeof(cc_node) + nc * sizeof(cc_node *) + (size_t)ndim * sizeof(int64_t));
    if (n == NULL) {
        return NULL;
    }
    n->refcount = 1;
    n->kind = kind;
    n->children = (cc_node **)(n + 1);
    n->shape = (int64_t *)(n->children + nc);
    n->ndim = ndim;
    if (ndim > 0) {
        memcpy(n->shape, shape, (size_t)ndim * sizeof(int64_t));
    }
    n->use_autoname = 1;
    n->is_explicitly_computable = 1;
    n->is_constant = 1;
    n->can_be_sampled = 1;
    n->contains_module = cc_kind_ops_table[kind]->child_binding != NULL;
    n->dtype = (int8_t)(merge ? -1 : dtype);
    if (n_children > 0) {
        for (int i = 0; i < n_children; i++) {
            n->children[i] = children[i];
            cc_node_incref(children[i]);
        }
        n->n_children = n_children;
        if (cc_symbol_set_of_children(n_children, children, &n->free_symbols) < 0) {
            cc_node_free_one(n);
            return NULL;
        }
    }
    int dtype_from = -1; // the child that fixed n->dtype, for the error message
    for (int i = 0; i < n_children; i++) {
        const cc_node *c = children[i];
        n->use_autoname &= c->use_autoname;
        n->is_explicitly_computable &= c->is_explicitly_computable;
        n->is_constant &= c->is_constant;
        n->can_be_sampled &= c->can_be_sampled;
        n->contains_module |= c->contains_module;
        if (!merge || c->dtype < 0) {
            continue;
        }
        if (n->dtype >= 0 && n->dtype != c->dtype) {
            const cc_node *first = children[dtype_from];
            cc_fail(CC_E_MISC_INPUT_CHILDREN_MULTIPLE_DTYPES,
                    "%s: children have different dtypes: %s in child %d ('%s' %s) but %s in "
                    "child %d ('%s' %s); cast one of the arrays",
                    cc_kind_info_table[kind].py_name, cc_dtype_name(n->dtype), dtype_from,
                    first->name ? first->name : "", cc_kind_info_table[first->kind].py_name,
                    cc_dtype_name(c->dtype), i, c->name ? c->name : "",
                    cc_kind_info_table[c->kind].py_name);
            cc_node_free_one(n);
            return NULL;
        }
        if (n->dtype < 0) {
            dtype_from = i;
        }
        n->dtype = c->dtype;
    }
    return n;
}

cc_node *
cc_node_alloc(cc_kind kind, int n_children, cc_node *const *children, int ndim,
              const int64_t *shape)
{
    return alloc_node(kind, n_children, children, ndim, shape, 1, -1);
}

cc_node *
cc_node_alloc_with_dtype(cc_kind kind, int n_children, cc_node *const *children, int ndim,
                         const int64_t *shape, int dtype)
{
    return alloc_node(kind, n_children, children, ndim, shape, 0, dtype);
}

cc_node *
cc_node_finish(cc_node *n, const char *name)
{
    if (cc_named_axes_from_children(n, &n->named_axes) < 0) {
        cc_node_free_one(n);
        return NULL;
    }
    if (name == NULL) {
        if (n->use_autoname && cc_autoname(n, &n->name) < 0) {
            cc_node_free_one(n);
            return NULL;
        }
    } else if (name != CC_NO_NAME) {
        n->name = cc_strdup(name);
        if (n->name == NULL) {
            cc_node_free_one(n);
            return NULL;
        }
    }
    compute_hash(n);
    return n;
}

cc_node *
cc_node_finish_leaf_copy(cc_node *m, const cc_node *n, const char *name)
{
    m->dtype = n->dtype;
    m->is_explicitly_computable = n->is_explicitly_computable;
    m->is_constant = n->is_constant;
    m->can_be_sampled = n->can_be_sampled;
    return cc_node_finish(m, name);
}

// A new leaf with n's payload and flags, through the kind's rebuild (which copies the
// payload, so an Array's tensor is not hashed again).
static cc_node *
copy_leaf(const cc_node *n, const char *name)
{
    return cc_kind_ops_table[n->kind]->rebuild(n, NULL, name);
}

static int
same_name(const char *a, const char *b)
{
    if (a == NULL || b == NULL) {
        return a == b;
    }
    return strcmp(a, b) == 0;
}

// Gives a fresh node m (referenced only by the caller, so it may still change) a copy of axes
// in place of the names its children gave it, checking the rank. m, or NULL after freeing m.
static cc_node *
set_axes(cc_node *m, const cc_named_axes *axes)
{
    if (cc_named_axes_equal(m->named_axes, axes)) {
        return m;
    }
    for (int k = 0; k < axes->n; k++) {
        if (axes->items[k].axis >= m->ndim) {
            cc_fail(CC_E_CONSTRUCT_NAMED_AXIS_ABOVE_RANK,
                    "%s '%s': axis %d is named '%s' but the node has rank %d",
                    cc_kind_info_table[m->kind].py_name, m->name ? m->name : "",
                    axes->items[k].axis, axes->items[k].name, m->ndim);
            cc_node_free_one(m);
            return NULL;
        }
    }
    int failed = 0;
    cc_named_axes *copy = cc_named_axes_copy(axes, &failed);
    if (failed) {
        cc_node_free_one(m);
        return NULL;
    }
    cc_free(m->named_axes);
    m->named_axes = copy;
    compute_hash(m);
    return m;
}

// Leaves are handled here (their ops' rebuild calls back in): they ignore children, and a
// leaf has no autoname, so NULL and CC_NO_NAME both mean "no name".
cc_node *
cc_node_rebuild(const cc_node *n, cc_node *const *children, const char *name)
{
    if (!(cc_kind_info_table[n->kind].flags & CC_LEAF)) {
        return cc_kind_ops_table[n->kind]->rebuild(n, children, name);
    }
    const char *own = name == CC_NO_NAME ? NULL : name;
    if (same_name(own, n->name)) {
        cc_node_incref((cc_node *)n);
        return (cc_node *)n;
    }
    cc_node *m = copy_leaf(n, own == NULL ? CC_NO_NAME : own);
    if (m != NULL && n->named_axes != NULL) {
        m = set_axes(m, n->named_axes);
    }
    return m;
}

// A fresh node equal to n but for its name (given explicitly, never autonamed), an autoname
// flag of use_autoname and the named axes axes (NULL: those its children give) (rc's
// init_info_impl with is_initial false).
static cc_node *
copy_with(const cc_node *n, const char *name, int use_autoname, const cc_named_axes *axes)
{
    cc_node *m;
    if (cc_kind_info_table[n->kind].flags & CC_LEAF) {
        m = copy_leaf(n, name);
    } else {
        m = cc_kind_ops_table[n->kind]->rebuild(n, n->children, name);
    }
    if (m != NULL && m->use_autoname != use_autoname) {
        m->use_autoname = (uint8_t)use_autoname;
        compute_hash(m);
    }
    if (m != NULL && axes != NULL) {
        m = set_axes(m, axes);
    }
    return m;
}

static int
children_allow_autoname(const cc_node *n)
{
    for (int i = 0; i < n->n_children; i++) {
        if (!n->children[i]->use_autoname) {
            return 0;
        }
    }
    return 1;
}

cc_node *
cc_node_rename(const cc_node *n, const char *name)
{
    const char *own = name == NULL || name == CC_NO_NAME ? NULL : name;
    if (same_name(own, n->name)) {
        cc_node_incref((cc_node *)n);
        return (cc_node *)n;
    }
    // rc keeps a cleared autoname flag across renames.
    int use_autoname = n->use_autoname && children_allow_autoname(n);
    return copy_with(n, own == NULL ? CC_NO_NAME : own, use_autoname, n->named_axes);
}

cc_node *
cc_node_with_autoname_disabled(const cc_node *n, int disable)
{
    int use_autoname = !disable && children_allow_autoname(n);
    if (use_autoname == n->use_autoname) {
        cc_node_incref((cc_node *)n);
        return (cc_node *)n;
    }
    return copy_with(n, n->name == NULL ? CC_NO_NAME : n->name, use_autoname, n->named_axes);
}

cc_node *
cc_node_copy_with_named_axes(const cc_node *n, const cc_named_axes *axes)
{
    int use_autoname = n->use_autoname && children_allow_autoname(n);
    return copy_with(n, n->name == NULL ? CC_NO_NAME : n->name, use_autoname, axes);
}

typedef struct {
    cc_node *node;
    int next_child;
} walk_frame;

int
cc_node_postorder_unique(cc_node *root, cc_node ***out, int64_t *n_out)
{
    cc_hmap seen;
    cc_hmap_init(&seen);
    walk_frame *stack = NULL;
    size_t depth = 0, stack_cap = 0;
    cc_node **order = NULL;
    size_t n_order = 0, order_cap = 0;

    if (cc_hmap_put(&seen, root->hash, root) < 0) {
        goto fail;
    }
    if (cc_grow((void **)&stack, &stack_cap, 1, sizeof(walk_frame)) < 0) {
        goto fail;
    }
    stack[depth++] = (walk_frame){root, 0};
    while (depth > 0) {
        walk_frame *f = &stack[depth - 1];
        if (f->next_child < f->node->n_children) {
            cc_node *c = f->node->children[f->next_child++];
            if (cc_hmap_get(&seen, c->hash) != NULL) {
                continue;
            }
            if (cc_hmap_put(&seen, c->hash, c) < 0) {
                goto fail;
            }
            if (cc_grow((void **)&stack, &stack_cap, depth + 1, sizeof(walk_frame)) < 0) {
                goto fail;
            }
            stack[depth++] = (walk_frame){c, 0};
            continue;
        }
        if (cc_grow((void **)&order, &order_cap, n_order + 1, sizeof(cc_node *)) < 0) {
            goto fail;
        }
        order[n_order++] = f->node;
        depth--;
    }
    cc_free(stack);
    cc_hmap_clear(&seen);
    *out = order;
    *n_out = (int64_t)n_order;
    return 0;

fail:
    cc_free(stack);
    cc_free(order);
    cc_hmap_clear(&seen);
    *out = NULL;
    *n_out = 0;
    return -1;
}

double
cc_node_self_flops(const cc_node *n)
{
    double (*flops)(const cc_node *) = cc_kind_ops_table[n->kind]->self_flops;
    return flops != NULL ? flops(n) : 0.0;
}

double
cc_node_total_flops(cc_node *root)
{
    cc_node **order;
    int64_t n_order;
    if (cc_node_postorder_unique(root, &order, &n_order) < 0) {
        return NAN;
    }
    double total = 0.0;
    for (int64_t i = 0; i < n_order; i++) {
        total += cc_node_self_flops(order[i]);
    }
    cc_free(order);
    return total;
}
