// Sample specs (rc's RandomSampleSpec and RunDiscreteVarAllSpec): what a DiscreteVar becomes
// when a Sampler draws from it, and the sample axes that the replacement puts in front.
#pragma once

#include <stdint.h>

#include "nodes/node.h"

typedef enum {
    CC_SAMPLE_SPEC_RANDOM,  // rc's RandomSampleSpec: seeded draws, one index per sample
    CC_SAMPLE_SPEC_RUN_ALL, // rc's RunDiscreteVarAllSpec: every row of the listed groups
} cc_sample_spec_kind;

// rc's seeder: the seed of a probs_and_group. 0, or -1 with an error recorded.
typedef int (*cc_sample_seeder)(void *ctx, cc_node *probs_and_group, int64_t *seed);

typedef struct {
    cc_sample_spec_kind kind;
    int ndim; // the sample shape (RUN_ALL: the length of each group's subset)
    int64_t shape[CC_MAX_NDIM];
    int replace;  // RANDOM: draws are put back
    int simplify; // RANDOM: draws from a constant group are made at once, gathers become Index
    cc_sample_seeder seeder; // RANDOM
    void *seeder_ctx;
    cc_node **groups;       // RUN_ALL: ndim 1-D probs_and_group circuits, owned references
    cc_node **indexed;      // RUN_ALL: Index(group, subset) of each group, owned references
    cc_index_item *subsets; // RUN_ALL: one slice item per group
} cc_sample_spec;

// A RANDOM spec of sample shape (ndim, shape). 0, or -1 with CC_E_PY_VALUE for a negative size
// or more than CC_MAX_NDIM axes.
int cc_sample_spec_init_random(cc_sample_spec *s, int ndim, const int64_t *shape, int replace,
                               int simplify, cc_sample_seeder seeder, void *seeder_ctx);
// A RUN_ALL spec over n groups. subsets: NULL (every row) or n_subsets slice items. 0, or -1
// with CC_E_SAMPLE_GROUP_WITH_INCORRECT_NDIM (a group not 1-D),
// CC_E_SAMPLE_DIFFERENT_NUM_SUBSETS_THAN_GROUPS, or an Index error for a bad slice. Borrows
// groups.
int cc_sample_spec_init_run_all(cc_sample_spec *s, int n, cc_node *const *groups, int n_subsets,
                                const cc_index_item *subsets);
// Releases what the spec holds; s is then zeroed.
void cc_sample_spec_clear(cc_sample_spec *s);
// rc's sample_var: the circuit replacing the DiscreteVar var, of shape sample shape +
// var.shape. New reference, or NULL with an error (CC_E_SAMPLE_UNHANDLED_VAR_ERROR for a
// RUN_ALL group that is not listed, a seeder's error, a construction's). Borrows var.
cc_node *cc_sample_spec_sample_var(const cc_sample_spec *s, cc_node *var);
// rc's expand_at_axes: x under a Rearrange with count new axes, axis axes[i] (ascending output
// positions) of size sizes[i], x's axes filling the other positions in order. New reference,
// or NULL with an error (CC_E_PY_VALUE past CC_MAX_NDIM axes). Borrows x.
cc_node *cc_sample_repeat_at(cc_node *x, int count, const int *axes, const int64_t *sizes);
