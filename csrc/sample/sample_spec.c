// Sample specs: the replacement of one DiscreteVar (rc's sample_var) for seeded draws and for
// running every row of the listed groups.
#include "sample/sample_spec.h"

#include <stdio.h>
#include <string.h>

#include "nodes/gf.h"
#include "nodes/rearrange.h"
#include "nodes/shape.h"
#include "tensor/random.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/str.h"

int
cc_sample_spec_init_random(cc_sample_spec *s, int ndim, const int64_t *shape, int replace,
                           int simplify, cc_sample_seeder seeder, void *seeder_ctx)
{
    memset(s, 0, sizeof *s);
    if (ndim < 0 || ndim > CC_MAX_NDIM) {
        return cc_fail(CC_E_PY_VALUE,
                       "RandomSampleSpec: a sample shape of %d axes (at most %d are supported)",
                       ndim, CC_MAX_NDIM);
    }
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) {
            return cc_fail(CC_E_PY_VALUE,
                           "RandomSampleSpec: sample shape axis %d is %lld, not >= 0", i,
                           (long long)shape[i]);
        }
        s->shape[i] = shape[i];
    }
    s->kind = CC_SAMPLE_SPEC_RANDOM;
    s->ndim = ndim;
    s->replace = replace != 0;
    s->simplify = simplify != 0;
    s->seeder = seeder;
    s->seeder_ctx = seeder_ctx;
    return 0;
}

static int
group_ndim_error(int n, cc_node *const *groups)
{
    cc_str m;
    cc_str_init(&m);
    int ok = cc_str_append(&m, "RunDiscreteVarAllSpec: some probs_and_group has ndim != 1:") == 0;
    for (int i = 0; ok && i < n; i++) {
        ok = cc_str_appendf(&m, " group %d ('%s') has shape ", i,
                            groups[i]->name ? groups[i]->name : "") == 0 &&
             cc_shape_append(&m, groups[i]->ndim, groups[i]->shape) == 0 &&
             cc_str_append(&m, i + 1 < n ? "," : "") == 0;
    }
    int r = ok ? cc_fail(CC_E_SAMPLE_GROUP_WITH_INCORRECT_NDIM, "%s", m.data)
               : cc_fail(CC_E_NO_MEMORY, "RunDiscreteVarAllSpec: out of memory");
    cc_str_clear(&m);
    return r;
}

int
cc_sample_spec_init_run_all(cc_sample_spec *s, int n, cc_node *const *groups, int n_subsets,
                            const cc_index_item *subsets)
{
    memset(s, 0, sizeof *s);
    s->kind = CC_SAMPLE_SPEC_RUN_ALL;
    for (int i = 0; i < n; i++) {
        if (groups[i]->ndim != 1) {
            return group_ndim_error(n, groups);
        }
    }
    if (subsets != NULL && n_subsets != n) {
        return cc_fail(CC_E_SAMPLE_DIFFERENT_NUM_SUBSETS_THAN_GROUPS,
                       "RunDiscreteVarAllSpec: passed in %d subsets but %d groups", n_subsets, n);
    }
    if (n > CC_MAX_NDIM) {
        return cc_fail(CC_E_PY_VALUE,
                       "RunDiscreteVarAllSpec: %d groups give %d sample axes (at most %d are "
                       "supported)",
                       n, n, CC_MAX_NDIM);
    }
    size_t cap = (size_t)(n > 0 ? n : 1);
    s->groups = cc_calloc(cap, sizeof *s->groups);
    s->indexed = cc_calloc(cap, sizeof *s->indexed);
    s->subsets = cc_calloc(cap, sizeof *s->subsets);
    if (s->groups == NULL || s->indexed == NULL || s->subsets == NULL) {
        cc_sample_spec_clear(s);
        return -1;
    }
    s->ndim = n;
    for (int i = 0; i < n; i++) {
        if (subsets != NULL) {
            if (subsets[i].kind != CC_INDEX_SLICE) {
                cc_sample_spec_clear(s);
                return cc_fail(CC_E_PY_TYPE, "RunDiscreteVarAllSpec: subset %d is not a slice", i);
            }
            s->subsets[i] = subsets[i];
        } else {
            s->subsets[i] = (cc_index_item){.kind = CC_INDEX_SLICE};
        }
        cc_node_incref(groups[i]);
        s->groups[i] = groups[i];
        s->indexed[i] = cc_index_new(groups[i], 1, &s->subsets[i], NULL);
        if (s->indexed[i] == NULL) {
            cc_sample_spec_clear(s);
            return -1;
        }
        s->shape[i] = s->indexed[i]->shape[0];
    }
    return 0;
}

void
cc_sample_spec_clear(cc_sample_spec *s)
{
    for (int i = 0; i < s->ndim && s->kind == CC_SAMPLE_SPEC_RUN_ALL; i++) {
        if (s->groups != NULL) {
            cc_node_decref(s->groups[i]);
        }
        if (s->indexed != NULL) {
            cc_node_decref(s->indexed[i]);
        }
    }
    cc_free(s->groups);
    cc_free(s->indexed);
    cc_free(s->subsets);
    memset(s, 0, sizeof *s);
}

// *out = "<name><suffix>" (in buf), or NULL (rc's automatic name) when name is NULL. 0, or -1
// with CC_E_NO_MEMORY.
static int
suffixed(const char *name, const char *suffix, cc_str *buf, const char **out)
{
    *out = NULL;
    if (name == NULL) {
        return 0;
    }
    if (cc_str_append(buf, name) < 0 || cc_str_append(buf, suffix) < 0) {
        return -1;
    }
    *out = buf->data;
    return 0;
}

// The draws of a group that is a Tag of an Array or Scalar, made now (rc's eager evaluation
// of the indices under simplify): an Array named like the multinomial node.
static cc_node *
eager_indices(const cc_sample_spec *s, const cc_node *leaf, int64_t seed, const char *name)
{
    cc_tensor probs, out;
    int rc;
    if (leaf->kind == CC_KIND_ARRAY) {
        cc_tensor_init_view(&probs, leaf->u.array.value);
        rc = 0;
    } else {
        cc_tensor one;
        rc = cc_tensor_init_scalar(&one, CC_DTYPE_F64, leaf->u.scalar.value);
        if (rc == 0) {
            rc = cc_tensor_broadcast_to(&one, leaf->ndim, leaf->shape);
            if (rc == 0) {
                rc = cc_tensor_contiguous(&probs, &one);
            }
            cc_tensor_clear(&one);
        }
    }
    if (rc < 0) {
        return NULL;
    }
    rc = cc_multinomial(&out, &probs, s->ndim, s->shape, s->replace, (uint64_t)seed);
    cc_tensor_clear(&probs);
    if (rc < 0) {
        return NULL;
    }
    cc_node *a = cc_array_new(&out, name == NULL ? CC_NO_NAME : name);
    cc_tensor_clear(&out);
    return a;
}

// rc's generalfunction_gen_index_const_to_index: a gather along axis 0 by a 1-D Array is an
// Index by its tensor. The gather itself (new reference) otherwise.
static cc_node *
gather_to_index(cc_node *gather)
{
    cc_node *idx = gather->children[1];
    if (idx->kind != CC_KIND_ARRAY || idx->ndim != 1) {
        cc_node_incref(gather);
        return gather;
    }
    cc_index_item item = {.kind = CC_INDEX_TENSOR};
    cc_tensor view;
    cc_tensor_init_view(&view, idx->u.array.value);
    if (cc_index_item_set_tensor(&item, &view) < 0) {
        return NULL;
    }
    cc_node *out = cc_index_new(gather->children[0], 1, &item,
                                gather->name == NULL ? CC_NO_NAME : gather->name);
    cc_index_item_clear(&item);
    return out;
}

static cc_node *
sample_random(const cc_sample_spec *s, cc_node *var)
{
    cc_node *values = var->children[0], *group = var->children[1];
    int64_t seed = 0;
    if (s->seeder(s->seeder_ctx, group, &seed) < 0) {
        return NULL;
    }
    cc_tensor seed_t;
    if (cc_tensor_init_scalar(&seed_t, CC_DTYPE_I64, 0) < 0) {
        return NULL;
    }
    *(int64_t *)seed_t.data = seed; // exact: a double cannot hold every int64
    char seed_name[40];
    snprintf(seed_name, sizeof seed_name, "seed_%lld", (long long)seed);
    cc_node *seed_node = cc_array_new(&seed_t, seed_name);
    cc_tensor_clear(&seed_t);
    if (seed_node == NULL) {
        return NULL;
    }
    cc_gf_spec *mspec = cc_gf_spec_multinomial(s->replace, s->ndim, s->shape);
    cc_node *idx = NULL, *gather = NULL, *out = NULL;
    cc_str name;
    cc_str_init(&name);
    if (mspec == NULL) {
        goto done;
    }
    cc_node *m_children[2] = {group, seed_node};
    const char *idx_name;
    if (suffixed(group->name, " sampled_idxs", &name, &idx_name) == 0) {
        idx = cc_gf_new(2, m_children, mspec, idx_name);
    }
    cc_gf_spec_decref(mspec);
    if (idx == NULL) {
        goto done;
    }
    if (s->simplify && group->kind == CC_KIND_TAG &&
        (group->children[0]->kind == CC_KIND_ARRAY || group->children[0]->kind == CC_KIND_SCALAR)) {
        cc_node *eager = eager_indices(s, group->children[0], seed, idx->name);
        if (eager == NULL) {
            goto done;
        }
        cc_node_decref(idx);
        idx = eager;
    }
    cc_gf_spec *gspec = cc_gf_spec_gen_index(-(int64_t)values->ndim, 1, 0, 1);
    if (gspec == NULL) {
        goto done;
    }
    cc_str_clear(&name);
    cc_node *g_children[2] = {values, idx};
    const char *gather_name;
    if (suffixed(var->name, " sampled", &name, &gather_name) == 0) {
        gather = cc_gf_new(2, g_children, gspec, gather_name);
    }
    cc_gf_spec_decref(gspec);
    if (gather == NULL) {
        goto done;
    }
    if (s->simplify) {
        out = gather_to_index(gather);
    } else {
        out = gather;
        gather = NULL;
    }
done:
    cc_str_clear(&name);
    cc_node_decref(seed_node);
    cc_node_decref(idx);
    cc_node_decref(gather);
    return out;
}

cc_node *
cc_sample_repeat_at(cc_node *x, int count, const int *axes, const int64_t *sizes)
{
    int out_rank = x->ndim + count;
    int in_lens[CC_MAX_NDIM], out_lens[CC_MAX_NDIM * 2];
    uint8_t in_ints[CC_MAX_NDIM], out_ints[CC_MAX_NDIM * 2];
    int64_t int_sizes[CC_MAX_NDIM * 2];
    if (out_rank > CC_MAX_NDIM) {
        return cc_fail_null(CC_E_PY_VALUE,
                            "sampling: %d sample axes on a circuit of rank %d make %d axes (at "
                            "most %d are supported)",
                            count, x->ndim, out_rank, CC_MAX_NDIM);
    }
    for (int i = 0; i < x->ndim; i++) {
        in_lens[i] = 1;
        in_ints[i] = (uint8_t)i;
        int_sizes[i] = CC_REARRANGE_SIZE_NONE;
    }
    int next_old = 0, next_new = 0;
    for (int pos = 0; pos < out_rank; pos++) {
        out_lens[pos] = 1;
        if (next_new < count && axes[next_new] == pos) {
            int_sizes[x->ndim + next_new] = sizes[next_new];
            out_ints[pos] = (uint8_t)(x->ndim + next_new++);
        } else {
            out_ints[pos] = (uint8_t)next_old++;
        }
    }
    cc_rearrange_spec *spec = cc_rearrange_spec_new(x->ndim, in_lens, in_ints, out_rank, out_lens,
                                                    out_ints, x->ndim + count, int_sizes);
    if (spec == NULL) {
        return NULL;
    }
    cc_node *out = cc_rearrange_new(x, spec, NULL);
    cc_rearrange_spec_free(spec);
    return out;
}

static cc_node *
sample_run_all(const cc_sample_spec *s, cc_node *var)
{
    cc_node *group = var->children[1];
    int at = -1;
    for (int i = 0; i < s->ndim && at < 0; i++) {
        if (memcmp(s->groups[i]->hash, group->hash, 32) == 0) {
            at = i;
        }
    }
    if (at < 0) {
        return cc_fail_null(CC_E_SAMPLE_UNHANDLED_VAR_ERROR,
                            "This var wasn't handled by the corresponding function: DiscreteVar "
                            "'%s' has probs_and_group '%s' of %lld rows, which is not among the "
                            "%d groups of the RunDiscreteVarAllSpec",
                            var->name ? var->name : "", group->name ? group->name : "",
                            (long long)group->shape[0], s->ndim);
    }
    cc_node *rows = cc_index_new(var->children[0], 1, &s->subsets[at], NULL);
    if (rows == NULL || s->ndim == 1) {
        return rows;
    }
    int axes[CC_MAX_NDIM];
    int64_t sizes[CC_MAX_NDIM];
    int n = 0;
    for (int i = 0; i < s->ndim; i++) {
        if (i != at) {
            axes[n] = i;
            sizes[n++] = s->shape[i];
        }
    }
    cc_node *out = cc_sample_repeat_at(rows, n, axes, sizes);
    cc_node_decref(rows);
    return out;
}

cc_node *
cc_sample_spec_sample_var(const cc_sample_spec *s, cc_node *var)
{
    if (var->kind != CC_KIND_DISCRETE_VAR) {
        return cc_fail_null(CC_E_PY_TYPE, "sample_var: '%s' is a %s, not a DiscreteVar",
                            var->name ? var->name : "", cc_kind_get_info(var->kind)->py_name);
    }
    return s->kind == CC_SAMPLE_SPEC_RANDOM ? sample_random(s, var) : sample_run_all(s, var);
}
