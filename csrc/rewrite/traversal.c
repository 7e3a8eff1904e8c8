// rc's traversals (IterativeMatchers) as the rewrites use them: a state applied to a node says
// whether the walk stops there and which state each child continues with.
#include "rewrite/rewrite_impl.h"
#include "util/alloc.h"

int
cc_traversal_children(cc_imatcher *state, const cc_node *n, int *finished,
                      cc_imatcher ***child_states)
{
    *child_states = NULL;
    *finished = 1;
    if (state == NULL) {
        return 0;
    }
    cc_step s;
    if (cc_imatcher_step(state, n, &s) < 0) {
        return -1;
    }
    if (cc_step_all_finished(&s)) {
        cc_step_clear(&s);
        return 0;
    }
    cc_imatcher **out = cc_calloc((size_t)n->n_children + 1, sizeof(cc_imatcher *));
    if (out == NULL) {
        cc_step_clear(&s);
        return -1;
    }
    for (int i = 0; i < n->n_children; i++) {
        cc_imatcher *m = s.kind == CC_STEP_SAME  ? state
                         : s.kind == CC_STEP_ONE ? s.one
                                                 : s.per_child[i];
        cc_imatcher_incref(m);
        out[i] = m;
    }
    cc_step_clear(&s);
    *finished = 0;
    *child_states = out;
    return 0;
}

void
cc_traversal_free(cc_imatcher **states, int n)
{
    if (states == NULL) {
        return;
    }
    for (int i = 0; i < n; i++) {
        cc_imatcher_decref(states[i]);
    }
    cc_free(states);
}
