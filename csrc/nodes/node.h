// cc_node: an immutable, refcounted, hashed circuit node (kind, name, shape,
// children, kind payload). Knows nothing of Python or of evaluation.
// Refcounts change only while the GIL is held (the bindings guarantee it).
#pragma once

#include <stdint.h>

#include "tensor/tensor.h"

// Kind flags of nodes/kinds.def.
#define CC_LEAF 1
#define CC_ONE_CHILD 2
#define CC_SHAPE_SHOWN 4
#define CC_FREE_SYMBOL 8

typedef enum {
#define CC_KIND(E, n, py, f) CC_KIND_##E,
#include "nodes/kinds.def"
#undef CC_KIND
    CC_KIND_COUNT
} cc_kind;

typedef struct cc_rearrange_spec cc_rearrange_spec;   // nodes/rearrange.h
typedef struct cc_gf_spec cc_gf_spec;                 // nodes/gf.h
typedef struct cc_module_arg_spec cc_module_arg_spec; // expand/module.h

// An ordered set of Symbol nodes (rc's IndexSet of free symbols), refcounted so that a parent
// shares its only contributing child's set. Items are borrowed: each is a descendant of every
// node holding the set.
typedef struct {
    long refcount;
    int n;
    struct cc_node *items[];
} cc_symbol_set;

// rc's NamedAxes: names of some axes of a node, for printing (hashed). One block holding the
// entries (sorted by axis, one per axis) and their name strings; owned by its node.
typedef struct {
    int n;
    struct {
        int axis;
        const char *name;
    } items[];
} cc_named_axes;

typedef enum {
    CC_INDEX_INT,
    CC_INDEX_SLICE,
    CC_INDEX_TENSOR,
} cc_index_item_kind;

// The tensor of an Index item, shared by the items that hold it (copying an item is a
// reference, not a 536-byte tensor struct): Index nodes of per-position circuits stay small.
typedef struct {
    long refcount;
    cc_tensor value; // retained view, immutable
} cc_index_tensor;

// One entry of an Index, acting on one axis of the child ("dimwise").
typedef struct {
    cc_index_item_kind kind;
    int64_t i;               // INT: position, as given (may be negative)
    int has_start, has_stop; // SLICE: bounds as given; absent bound = open
    int64_t start, stop;
    cc_index_tensor *tensor; // TENSOR: 1-D I64 (checked by cc_index_new); a reference
    uint8_t tensor_hash[32]; // TENSOR: rc's tensor hash, filled by cc_index_new
} cc_index_item;

typedef struct cc_node {
    // What graph walks read (matching reads little else) fills the first 64 bytes: at most two
    // adjacent cache lines per visited node, instead of three lines far apart.
    cc_kind kind;
    int n_children;
    char *name;                // NULL when unnamed
    struct cc_node **children; // owned references, stored after the struct
    uint64_t walk_mark;   // the stamp of the last marked walk that reached it (cc_walk_stamp_take)
    uint32_t walk_states; // that walk's own: bit s set once it has reached this node in state s
    uint32_t walk_index;  // that walk's own: its index of the last (node, state) pair added
    uint32_t name_hash;   // cc_name_hash(name) (0 when unnamed): most name tests end here
    uint8_t hash[32];     // walks compare its first 8 bytes; the rest is read on equality only
    int ndim;
    long refcount;
    int64_t *shape; // ndim sizes, stored after the children
    uint8_t use_autoname;
    uint8_t is_explicitly_computable;
    uint8_t is_constant;
    uint8_t can_be_sampled;  // rc's flag: no StoredCumulantVar of order > 2 below
    uint8_t contains_module; // a Module is at or below this node (substitution skips the rest)
    int8_t dtype; // a cc_dtype, or -1 when no Array below fixes it (Scalars: float64 at eval)
    // Symbols reachable without being bound by an enclosing Module, in rc's order (children
    // in order, first appearance); NULL when none. A Symbol's own set is NULL: rc counts a
    // Symbol as free in its parents, not in itself (nodes/symbol_set.h).
    cc_symbol_set *free_symbols;
    // Axis names (nodes/named_axes.c): set on the node, else those of its children carried
    // through the kind's child_axis_map; NULL when none.
    cc_named_axes *named_axes;
    union {
        struct {
            cc_tensor *value; // owned: a node holds only what walks and hashing need inline
            uint8_t tensor_hash[32];
        } array;
        struct {
            double value;
        } scalar;
        struct {
            uint8_t uuid[16];
        } symbol;
        struct {
            uint8_t *in_axes;  // concatenated labels of all children (sum of their ndims)
            uint8_t *out_axes; // ndim labels
        } einsum;
        struct {
            int n_items; // == child ndim (padded with full slices)
            cc_index_item *items;
        } index;
        struct {
            int axis; // canonical, >= 0
        } concat;
        struct {
            cc_rearrange_spec *spec; // as given, owned
        } rearrange;
        struct {
            cc_gf_spec *spec; // retained
        } gf;
        struct {
            uint8_t uuid[16];
        } tag;
        struct {
            cc_module_arg_spec *arg_specs; // n_children - 1 entries; children: [body, *args]
        } module;
        struct {
            char function_name[24]; // "K<number of children>", its autoname's function
        } cumulant;
        struct {
            int64_t *numbers; // owned: the cumulant number of each child, ascending
            uint8_t uuid[16];
        } stored_cumulant_var;
        struct {
            int64_t *bounds; // owned: start, stop of each axis (canonical: 0 <= both <= size)
        } scatter;
        struct {
            int dims;        // number of convolved axes (at most 3)
            int64_t *params; // owned: dims strides, then dims (before, after) paddings
        } conv;
    } u;
} cc_node;

// A 32-bit hash of a name (FNV-1a), kept in every node so that comparing names rarely reads
// them.
uint32_t cc_name_hash(const char *name);

// Name arguments of constructors: NULL asks for rc's automatic name (which may be
// none); CC_NO_NAME asks for no name at all; any other string is the name.
extern const char CC_NO_NAME[];

typedef struct {
    const char *py_name;
    int flags;
} cc_kind_info;
const cc_kind_info *cc_kind_get_info(cc_kind kind);
// The rows of nodes/kinds.def, by kind.
extern const cc_kind_info cc_kind_info_table[CC_KIND_COUNT];

// 1 when kind's row in nodes/kinds.def has flag.
static inline int
cc_kind_has(cc_kind kind, int flag)
{
    return (cc_kind_info_table[kind].flags & flag) != 0;
}

// Marked walks record what they have reached in the nodes themselves instead of in a set: a
// node's walk_states belong to the walk whose stamp is in its walk_mark (a stale stamp means
// "not reached yet"). Stamps never repeat (64 bits). One marked walk runs at a time:
// cc_walk_stamp_take returns 0 while another holds a stamp (a walk nested in a Python
// callback, say), and that caller uses a set instead. Like refcounts, stamps are taken and
// written only while the GIL is held.
uint64_t cc_walk_stamp_take(void);
void cc_walk_stamp_release(void);

void cc_node_incref(cc_node *n);
// NULL is a no-op. Frees iteratively (no recursion), so long chains are safe.
void cc_node_decref(cc_node *n);

// Labels of child i of an Einsum (child ndim entries).
const uint8_t *cc_einsum_child_axes(const cc_node *n, int i);

// Makes it a TENSOR item holding value, which it takes over (the caller's view is moved in).
// 0, or -1 with CC_E_NO_MEMORY (value is then cleared and it->tensor NULL).
int cc_index_item_set_tensor(cc_index_item *it, cc_tensor *value);
// Another holder of src's tensor: *dst = *src, with a reference of its own (and no tensor
// pointer at all when src is not a TENSOR item).
void cc_index_item_share(cc_index_item *dst, const cc_index_item *src);
// Drops a TENSOR item's reference (other kinds hold none); the item keeps its kind.
void cc_index_item_clear(cc_index_item *it);
// cc_index_item_clear on each of n items (the array itself is the caller's).
void cc_index_items_clear(cc_index_item *items, int n);

// Constructors: new reference, or NULL with a CC_E_CONSTRUCT_* (or MISC_INPUT, INDEX, ...)
// error whose message names the node and the shapes. Children and payload are borrowed.
cc_node *cc_array_new(const cc_tensor *value, const char *name);
cc_node *cc_scalar_new(double value, int ndim, const int64_t *shape, const char *name);
cc_node *cc_symbol_new(int ndim, const int64_t *shape, const uint8_t uuid[16], const char *name);
cc_node *cc_add_new(int n, cc_node *const *children, const char *name);
// in_axes: concatenated labels of the children in order (child i has children[i]->ndim labels).
cc_node *cc_einsum_new(int n, cc_node *const *children, const uint8_t *in_axes, int n_out,
                       const uint8_t *out_axes, const char *name);
// items: up to child ndim entries (padded with full slices). Tensors retained.
cc_node *cc_index_new(cc_node *child, int n_items, const cc_index_item *items, const char *name);
cc_node *cc_concat_new(int n, cc_node *const *children, int axis, const char *name);
cc_node *cc_rearrange_new(cc_node *child, const cc_rearrange_spec *spec, const char *name);
cc_node *cc_gf_new(int n, cc_node *const *children, cc_gf_spec *spec, const char *name);
cc_node *cc_tag_new(cc_node *child, const uint8_t uuid[16], const char *name);
// rc's Scatter: zeros of shape with child written at index (start:stop slices only, one per
// axis of shape at most; missing ones are full). Items borrowed.
cc_node *cc_scatter_new(cc_node *child, int n_items, const cc_index_item *items, int ndim,
                        const int64_t *shape, const char *name);
// rc's Conv: input (batch..., conv axes..., in channels) convolved with filter (out channels,
// kernel axes..., in channels); dims = n_stride strides and n_padding (before, after) pairs
// (2 * n_padding values).
cc_node *cc_conv_new(cc_node *input, cc_node *filter, int n_stride, const int64_t *stride,
                     int n_padding, const int64_t *padding, const char *name);
// rc's SetSymbolicShape: child with its symbolic sizes pinned to shape (same rank); records
// the constraints (CC_E_SYMBOLIC_SIZE_SET_* when they cannot hold). Not explicitly computable.
cc_node *cc_set_symbolic_shape_new(cc_node *child, int ndim, const int64_t *shape,
                                   const char *name);
// SetSymbolicShape helpers of expansion (rc's some_set_neq, some_set_and_symbolic_neq). shape
// has node's rank, -1 meaning "keep". The node itself (new reference) when nothing changes.
cc_node *cc_set_symbolic_shape_some_set_neq(cc_node *node, const int64_t *shape, const char *name);
// As above, but only axes whose current size is symbolic are set.
cc_node *cc_set_symbolic_shape_some_set_and_symbolic_neq(cc_node *node, const int64_t *shape,
                                                         const char *name);
// Module constructors are in expand/module.h.

// The same node rebuilt through its constructor with new children (same kind payload);
// name as for constructors. Leaves ignore children and return a new reference to n
// when name is n's own name.
cc_node *cc_node_rebuild(const cc_node *n, cc_node *const *children, const char *name);
// Same node with another name (CC_NO_NAME: none).
cc_node *cc_node_rename(const cc_node *n, const char *name);
// Same node with use_autoname cleared (disable=1) or set where children allow (disable=0).
cc_node *cc_node_with_autoname_disabled(const cc_node *n, int disable);

// Post-order list (children before parents) of the distinct nodes (by hash) of root, borrowed
// pointers; caller frees *out with cc_free. 0, or -1 with CC_E_NO_MEMORY.
int cc_node_postorder_unique(cc_node *root, cc_node ***out, int64_t *n_out);
// rc's self_flops: Einsum's multiply-adds, Add's numel * operands, 0 for other kinds.
double cc_node_self_flops(const cc_node *n);
// Floating-point operations of the whole circuit (each distinct node once); NaN with
// CC_E_NO_MEMORY.
double cc_node_total_flops(cc_node *root);
