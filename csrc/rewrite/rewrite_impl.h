// Shared by the rewrites of rewrite/: Index entries as values (rc's TensorAxisIndex arithmetic),
// the RearrangeSpec steps push_down_index needs, and traversal steps. Not a public contract.
#pragma once

#include <stdint.h>

#include "match/iterative.h"
#include "nodes/node.h"
#include "nodes/rearrange.h"

// Entries built here own a reference to their tensor (copies: cc_index_item_share); free
// arrays with cc_index_items_free.
cc_index_item cc_item_full(void); // rc's IDENT: a slice with both bounds absent
cc_index_item cc_item_int(int64_t i);
cc_index_item cc_item_slice(int64_t start, int64_t stop);
// Releases the tensors of n entries, then the array (NULL is a no-op).
void cc_index_items_free(cc_index_item *items, int n);

// rc's Slice::to_uslice: the bounds read against axis length l, saturating.
void cc_item_uslice(const cc_index_item *it, int64_t l, int64_t *start, int64_t *stop);
// rc's is_identity: a slice covering all of an axis of length l (ints and tensors never are).
int cc_item_is_identity(const cc_index_item *it, int64_t l);
int cc_items_are_identity(int n, const cc_index_item *items, const int64_t *shape);
// rc's axis_len: 0 for an int, the slice's or tensor's length otherwise.
int64_t cc_item_axis_len(const cc_index_item *it, int64_t l);
// Value k of a 1-D int64 CPU tensor (any stride).
int64_t cc_item_tensor_at(const cc_tensor *t, int64_t k);
// rc's canonical entry against length l: an int in [0, l), a slice with explicit bounds, and a
// tensor whose values step by one (or an empty one) as the equivalent slice. *out owns its tensor.
void cc_item_canonicalize(const cc_index_item *it, int64_t l, cc_index_item *out);
// An index entry from positions (n values in [0, l)): a slice when they step by one (or n is 0),
// else a new int64 tensor. 0, or -1 with CC_E_NO_MEMORY.
int cc_item_from_positions(const int64_t *pos, int64_t n, cc_index_item *out);

// rc's RearrangeSpec::canonicalize: size-1 ints dropped (when special_case_ones), ints that
// always appear together merged, ints renumbered by first appearance. NULL on error.
cc_rearrange_spec *cc_rearrange_spec_canonicalize(const cc_rearrange_spec *s,
                                                  int special_case_ones);
// rc's push down of an Index through the Rearrange r: items (r->ndim entries, as in the Index)
// become *pre (r's child ndim entries, owned) below and *spec (owned) above. 0 on success,
// 1 when the index cannot be moved below r, -1 on error.
int cc_rearrange_index_before(const cc_node *r, const cc_index_item *items, cc_index_item **pre,
                              cc_rearrange_spec **spec);
// rc's RearrangeSpec::is_identity: the same groups on both sides.
int cc_rearrange_spec_is_identity(const cc_rearrange_spec *s);

// rc's traversal step: state (borrowed; NULL: finished) applied to n. *finished when nothing
// below n is visited; else *child_states holds n->n_children new references (NULL: that child
// is not visited), freed with cc_traversal_free. 0, or -1 with the matcher's error.
int cc_traversal_children(cc_imatcher *state, const cc_node *n, int *finished,
                          cc_imatcher ***child_states);
void cc_traversal_free(cc_imatcher **states, int n); // NULL is a no-op
