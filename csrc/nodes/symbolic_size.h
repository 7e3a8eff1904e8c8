// rc's SymbolicSizeProduct and SymbolicSizeConstraint: a size as a plain factor times
// symbolic primes (nodes/shape.h), and the equalities SetSymbolicShape records between a
// child's size and the size it is pinned to, with rc's checks on them.
#pragma once

#include <stdint.h>

#include "nodes/node.h"

#define CC_SIZE_PRODUCT_MAX_FACTORS 64

typedef struct {
    int64_t other_factor;
    int n;                                      // symbolic factors
    int16_t sizes[CC_SIZE_PRODUCT_MAX_FACTORS]; // symbolic indices (i of "<i>s"), increasing
} cc_size_product;

// l = r between two products; the side with more symbolic factors is l.
typedef struct {
    cc_size_product l, r;
} cc_size_constraint;

// The product form of a size (rc's From<usize>): symbolic primes divided out in increasing
// order while the rest is at least the prime.
void cc_size_product_from(int64_t size, cc_size_product *out);
// rc's SymbolicSizeConstraint::get_new_from(l, r): *has 0 when the sizes say nothing (equal,
// or both zero), else *out. 0, or -1 with CC_E_SYMBOLIC_SIZE_SET_FACTOR_DOESNT_DIVIDE_SET_TO
// when a side without symbols cannot be the other's multiple.
int cc_size_constraint_new(int64_t l, int64_t r, cc_size_constraint *out, int *has);
// Whether the constraints can hold together. rc asks z3; this decides the cases that matter
// for module expansion (a symbol pinned to a size through a chain of constraints with one
// unknown each, and sides that become fully known) and accepts the rest. 0, or -1 with
// CC_E_SYMBOLIC_SIZE_SET_FAILED_TO_SATISFY_CONTRAINTS naming the clash; `what` prefixes it.
int cc_size_constraints_check(int n, const cc_size_constraint *c, const char *what);
// The constraints of every SetSymbolicShape in circuit together (rc checks the union of a
// node's children's constraints with its own whenever it builds one): 0, or -1 with
// CC_E_SYMBOLIC_SIZE_SET_FAILED_TO_SATISFY_CONTRAINTS naming the clash.
int cc_size_constraints_check_circuit(cc_node *circuit, const char *what);
