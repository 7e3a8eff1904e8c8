// Helpers of the kinds' expand slots (nodes/expand_kind.h).
#include "nodes/expand_kind.h"

#include <string.h>

#include "nodes/node_impl.h"
#include "nodes/rearrange.h"
#include "nodes/shape.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/str.h"

int
cc_expand_suffixed(const char *name, const char *suffix, char **out)
{
    *out = NULL;
    if (name == NULL) {
        return 0;
    }
    cc_str s;
    cc_str_init(&s);
    if (cc_str_append(&s, name) < 0 || cc_str_append(&s, suffix) < 0) {
        cc_str_clear(&s);
        return -1;
    }
    *out = cc_str_take(&s);
    return *out == NULL ? -1 : 0;
}

// Rearrange of x with single-int groups (in[i] and out[i] one int each).
static cc_node *
rearrange_single(cc_node *x, int n_in, const uint8_t *in, int n_out, const uint8_t *out,
                 int n_sizes, const int64_t *sizes, const char *name)
{
    int lens[2 * CC_MAX_NDIM];
    for (int i = 0; i < 2 * CC_MAX_NDIM; i++) {
        lens[i] = 1;
    }
    cc_rearrange_spec *spec =
        cc_rearrange_spec_new(n_in, lens, in, n_out, lens, out, n_sizes, sizes);
    if (spec == NULL) {
        return NULL;
    }
    cc_node *r = cc_rearrange_new(x, spec, name);
    cc_rearrange_spec_free(spec);
    return r;
}

cc_node *
cc_expand_prepend_batch(cc_node *x, int nb, const int64_t *bshape, const char *name)
{
    int rank = nb + x->ndim;
    if (rank > CC_MAX_NDIM) {
        return cc_fail_null(CC_E_CONSTRUCT_NOT_SUPPORTED_YET,
                            "adding %d batch axes to rank %d passes the maximum rank %d", nb,
                            x->ndim, CC_MAX_NDIM);
    }
    uint8_t in[CC_MAX_NDIM], out[CC_MAX_NDIM];
    int64_t sizes[CC_MAX_NDIM];
    for (int i = 0; i < rank; i++) {
        out[i] = (uint8_t)i;
        sizes[i] = i < nb ? bshape[i] : CC_REARRANGE_SIZE_NONE;
    }
    for (int i = 0; i < x->ndim; i++) {
        in[i] = (uint8_t)(nb + i);
    }
    return rearrange_single(x, x->ndim, in, rank, out, rank, sizes, name);
}

cc_node *
cc_expand_permute(cc_node *x, const int *perm, const char *name)
{
    uint8_t in[CC_MAX_NDIM], out[CC_MAX_NDIM];
    int64_t sizes[CC_MAX_NDIM];
    for (int i = 0; i < x->ndim; i++) {
        in[i] = (uint8_t)i;
        out[i] = (uint8_t)perm[i];
        sizes[i] = CC_REARRANGE_SIZE_NONE;
    }
    return rearrange_single(x, x->ndim, in, x->ndim, out, x->ndim, sizes, name);
}

cc_node *
cc_expand_unsqueeze_range(cc_node *x, int start, int count, const char *name)
{
    int rank = x->ndim + count;
    if (rank > CC_MAX_NDIM) {
        return cc_fail_null(CC_E_CONSTRUCT_NOT_SUPPORTED_YET,
                            "unsqueezing rank %d by %d passes the maximum rank %d", x->ndim, count,
                            CC_MAX_NDIM);
    }
    uint8_t in[CC_MAX_NDIM], out[CC_MAX_NDIM];
    int64_t sizes[CC_MAX_NDIM];
    for (int i = 0; i < x->ndim; i++) {
        in[i] = (uint8_t)i;
        sizes[i] = CC_REARRANGE_SIZE_NONE;
    }
    int next_old = 0, next_new = x->ndim;
    for (int pos = 0; pos < rank; pos++) {
        if (pos >= start && pos < start + count) {
            sizes[next_new] = 1;
            out[pos] = (uint8_t)next_new++;
        } else {
            out[pos] = (uint8_t)next_old++;
        }
    }
    return rearrange_single(x, x->ndim, in, rank, out, rank, sizes, name);
}

int64_t
cc_expand_find_non_symbolic(int n, const int64_t *sizes)
{
    for (int i = 0; i < n; i++) {
        if (!cc_size_has_symbolic(sizes[i])) {
            return sizes[i];
        }
    }
    return sizes[0];
}

int
cc_expand_batched_inputs(const cc_expand_call *e, const uint8_t *batchable, cc_node **out, int *bad)
{
    for (int i = 0; i < e->n; i++) {
        out[i] = NULL;
    }
    for (int i = 0; i < e->n; i++) {
        if (!batchable[i] && e->br[i] > 0) {
            *bad = i;
            goto undo;
        }
    }
    for (int i = 0; i < e->n; i++) {
        cc_node *inp = e->inputs[i];
        if (e->br[i] == e->batch_rank || !batchable[i]) {
            cc_node_incref(inp);
            out[i] = inp;
            continue;
        }
        char *name;
        if (cc_expand_suffixed(inp->name, " rep_for_batch", &name) < 0) {
            goto fail;
        }
        out[i] = cc_expand_prepend_batch(inp, e->batch_rank - e->br[i], e->bshape, name);
        cc_free(name);
        if (out[i] == NULL) {
            goto fail;
        }
    }
    return 0;
undo:
    return 1;
fail:
    for (int i = 0; i < e->n; i++) {
        cc_node_decref(out[i]);
        out[i] = NULL;
    }
    return -1;
}
