// What both matcher hierarchies share per kind: the shape of a kind's row (match/kinds.def
// lists the kinds) and the start of a structural hash. Matchers of either hierarchy are equal
// when their 32-byte hashes are; a hash starts with the hierarchy and the kind's tag.
#pragma once

#include <stdint.h>
#include <string.h>

#include "nodes/node.h"
#include "util/blake3.h"
#include "util/str.h"

// A kind's row, for matchers of type T: the tag and head of kinds.def, and the kind's
// operations that do not walk a circuit (matching and stepping stay switches in the hot paths):
// release frees what m owns, not m, pushing operands whose count reaches zero on dead (a D), so
// that freeing needs no recursion; describe appends m's readable form (0, or -1: no memory);
// validate is rc's validate_matched on found (0, or -1 with CC_E_PY_RUNTIME).
#define CC_MATCH_KIND_OPS(T, D)                                                                    \
    {                                                                                              \
        const char *tag;                                                                           \
        const char *head;                                                                          \
        void (*release)(T * m, D * dead);                                                          \
        int (*describe)(const T *m, cc_str *out);                                                  \
        int (*validate)(const T *m, cc_node *const *found, int64_t n_found);                       \
    }

// Starts h as the structural hash of a kind: prefix names the hierarchy, tag the kind.
static inline void
cc_match_hash_begin(cc_blake3 *h, const char *prefix, const char *tag)
{
    cc_blake3_init(h);
    cc_blake3_update(h, prefix, strlen(prefix));
    cc_blake3_update(h, tag, strlen(tag) + 1);
}
