// The Sampler's walk: one Expander pass whose transform is the sample spec's sample_var.
#include "sample/sampler.h"

#include <string.h>

#include "nodes/shape.h"
#include "sample/expander.h"
#include "util/error.h"
#include "util/str.h"

static cc_node *
sample_transform(void *ctx, cc_node *n)
{
    return cc_sample_spec_sample_var((const cc_sample_spec *)ctx, n);
}

static int
same_shape(int na, const int64_t *a, int nb, const int64_t *b)
{
    return na == nb && (na == 0 || memcmp(a, b, (size_t)na * sizeof *a) == 0);
}

static cc_node *
wrong_shape(cc_node *root, cc_node *out, const cc_sample_spec *spec)
{
    cc_str m;
    cc_str_init(&m);
    int ok = cc_str_appendf(&m, "Sampler: sampling '%s' gave shape ",
                            root->name ? root->name : "") == 0 &&
             cc_shape_append(&m, out->ndim, out->shape) == 0 &&
             cc_str_append(&m, ", which is neither the circuit's ") == 0 &&
             cc_shape_append(&m, root->ndim, root->shape) == 0 &&
             cc_str_append(&m, " nor the sample shape ") == 0 &&
             cc_shape_append(&m, spec->ndim, spec->shape) == 0 &&
             cc_str_append(&m, " in front of it") == 0;
    if (ok) {
        cc_fail(CC_E_PY_RUNTIME, "%s", m.data);
    } else {
        cc_fail(CC_E_NO_MEMORY, "Sampler: out of memory");
    }
    cc_str_clear(&m);
    return NULL;
}

cc_node *
cc_sampler_sample(cc_node *root, cc_imatcher *var_matcher, const cc_sample_spec *spec,
                  const char *suffix)
{
    cc_transform t = {.run = sample_transform, .ctx = (void *)spec};
    cc_expander_options options = {.ban_multiple_matches_on_node = 1, .suffix = suffix};
    int any_found = 0;
    cc_node *out = cc_expander_run(root, 1, &var_matcher, &t, &options, &any_found);
    if (out == NULL) {
        return NULL;
    }
    if (same_shape(out->ndim, out->shape, root->ndim, root->shape)) {
        int axes[CC_MAX_NDIM];
        for (int i = 0; i < spec->ndim; i++) {
            axes[i] = i;
        }
        cc_node *rep = cc_sample_repeat_at(out, spec->ndim, axes, spec->shape);
        cc_node_decref(out);
        return rep;
    }
    int64_t want[CC_MAX_NDIM];
    int n_want = spec->ndim + root->ndim;
    if (n_want <= CC_MAX_NDIM) {
        memcpy(want, spec->shape, (size_t)spec->ndim * sizeof *want);
        memcpy(want + spec->ndim, root->shape, (size_t)root->ndim * sizeof *want);
    }
    if (n_want > CC_MAX_NDIM || !same_shape(out->ndim, out->shape, n_want, want)) {
        wrong_shape(root, out, spec);
        cc_node_decref(out);
        return NULL;
    }
    return out;
}
