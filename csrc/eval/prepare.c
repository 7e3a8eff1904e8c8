// The prepare phase of evaluation, run with the GIL held because it makes and drops node
// references: every Module substituted (as rc's evaluate does), so that the plan sees only
// kinds a backend computes.
#include <string.h>

#include "eval/eval.h"
#include "expand/module.h"

int
cc_eval_prepare(int n, cc_node *const *outputs, cc_node **prepared)
{
    if (n > 0) {
        memset(prepared, 0, (size_t)n * sizeof(cc_node *));
    }
    for (int i = 0; i < n; i++) {
        prepared[i] = cc_substitute_all_modules(outputs[i]);
        if (prepared[i] == NULL) {
            cc_eval_prepared_clear(i, prepared);
            return -1;
        }
    }
    return 0;
}

void
cc_eval_prepared_clear(int n, cc_node **prepared)
{
    for (int i = 0; i < n; i++) {
        cc_node_decref(prepared[i]);
        prepared[i] = NULL;
    }
}
