// Free-symbol sets of nodes (rc's free_symbols): which Symbols a node depends on without an
// enclosing Module binding them. Computed once per node at construction; sets are shared
// between a node and its only contributing child.
#pragma once

#include "nodes/node.h"

// The set of a node over these children: each child's set in child order, a Symbol child
// standing for itself, first appearance kept. *out is NULL (no free symbols), a new reference
// to a child's set when only that child contributes, or a new set. 0, or -1 (CC_E_NO_MEMORY).
int cc_symbol_set_of_children(int n, cc_node *const *children, cc_symbol_set **out);
// New set of the given Symbols (duplicates by hash dropped, first kept); *out NULL when n == 0.
// 0, or -1 (CC_E_NO_MEMORY).
int cc_symbol_set_new(int n, cc_node *const *symbols, cc_symbol_set **out);
void cc_symbol_set_incref(cc_symbol_set *s);
void cc_symbol_set_decref(cc_symbol_set *s); // NULL is a no-op
// 1 if s (may be NULL) holds a Symbol equal to sym (same hash).
int cc_symbol_set_contains(const cc_symbol_set *s, const cc_node *sym);
// rc's has_free_sym: c is sym itself (for a Symbol c) or sym is free in c.
int cc_node_has_free_symbol(const cc_node *c, const cc_node *sym);
// rc's get_free_symbols: [c] when c is a Symbol, else c's free set in order, as a new array of
// borrowed nodes (caller frees *out with cc_free; NULL when *n is 0). 0, or -1 (no memory).
int cc_node_free_symbol_list(cc_node *c, cc_node ***out, int *n);
