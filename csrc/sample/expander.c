// The Expander walk (sample/expander.h): an explicit stack of (node, one state per matcher)
// frames, memoised by the node's hash and its states' hashes, so a subtree shared under equal
// states is expanded once.
#include "sample/expander.h"

#include <string.h>

#include "expand/expand.h"
#include "util/alloc.h"
#include "util/blake3.h"
#include "util/error.h"
#include "util/hmap.h"
#include "util/str.h"

#define NOT_STARTED (-1)
#define MEMO_HIT (-2)

typedef struct {
    cc_node *out; // owned
    int any_found;
} memo_entry;

typedef struct {
    cc_node *node;          // borrowed: alive while the root is
    cc_imatcher **states;   // m owned references; NULL where a matcher no longer runs
    cc_imatcher **child_st; // n_children * m owned references (NULL entries allowed)
    cc_node **children_out; // n_children owned results
    int next;               // NOT_STARTED, MEMO_HIT, or the next child to visit
    int any_found;
    uint8_t key[32];
} frame;

typedef struct {
    int m;
    cc_imatcher *const *matchers;
    const cc_transform *transforms;
    const cc_expander_options *options;
    cc_hmap memo;
    frame *stack;
    size_t len, cap;
} walk;

static void
frame_clear(const walk *w, frame *f)
{
    int nc = f->node->n_children;
    for (int i = 0; i < w->m; i++) {
        cc_imatcher_decref(f->states[i]);
    }
    cc_free(f->states);
    if (f->child_st != NULL) {
        for (int i = 0; i < nc * w->m; i++) {
            cc_imatcher_decref(f->child_st[i]);
        }
        cc_free(f->child_st);
    }
    if (f->children_out != NULL) {
        for (int i = 0; i < nc; i++) {
            cc_node_decref(f->children_out[i]);
        }
        cc_free(f->children_out);
    }
}

// Pushes node with states (m references taken over by the frame). 0, or -1 (states released).
static int
push(walk *w, cc_node *node, cc_imatcher **states)
{
    if (w->len == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 64;
        frame *s = cc_realloc(w->stack, cap * sizeof(frame));
        if (s == NULL) {
            for (int i = 0; i < w->m; i++) {
                cc_imatcher_decref(states[i]);
            }
            cc_free(states);
            return -1;
        }
        w->stack = s;
        w->cap = cap;
    }
    frame *f = &w->stack[w->len++];
    memset(f, 0, sizeof *f);
    f->node = node;
    f->states = states;
    f->next = NOT_STARTED;
    cc_blake3 h;
    cc_blake3_init(&h);
    cc_blake3_update(&h, node->hash, 32);
    static const uint8_t none[32] = {0};
    for (int i = 0; i < w->m; i++) {
        cc_blake3_update(&h, states[i] != NULL ? states[i]->hash : none, 32);
    }
    cc_blake3_final(&h, f->key, 32);
    return 0;
}

// The states a child gets from a step: child c's entry for one matcher (new reference or NULL).
static cc_imatcher *
child_state(cc_imatcher *applied, const cc_step *s, int c)
{
    cc_imatcher *st = NULL;
    switch (s->kind) {
    case CC_STEP_SAME:
        st = applied;
        break;
    case CC_STEP_FINISHED:
        break;
    case CC_STEP_ONE:
        st = s->one;
        break;
    case CC_STEP_PER_CHILD:
        st = s->per_child != NULL ? s->per_child[c] : NULL;
        break;
    }
    if (st != NULL) {
        cc_imatcher_incref(st);
    }
    return st;
}

// Starts frame f: either its result now (*done, *out) or its children's states.
static int
start(walk *w, frame *f, cc_node **out, int *done)
{
    memo_entry *hit = cc_hmap_get(&w->memo, f->key);
    if (hit != NULL) {
        cc_node_incref(hit->out);
        *out = hit->out;
        f->any_found = hit->any_found;
        f->next = MEMO_HIT;
        *done = 1;
        return 0;
    }
    int m = w->m, nc = f->node->n_children;
    cc_step *steps = cc_calloc((size_t)(m > 0 ? m : 1), sizeof(cc_step));
    if (steps == NULL) {
        return -1;
    }
    int rc = 0, first = -1, n_found = 0, all_finished = 1;
    for (int i = 0; i < m; i++) {
        cc_step_init(&steps[i]);
    }
    for (int i = 0; rc == 0 && i < m; i++) {
        if (f->states[i] == NULL) {
            continue;
        }
        rc = cc_imatcher_step(f->states[i], f->node, &steps[i]);
        if (rc == 0 && steps[i].found) {
            n_found++;
            first = first < 0 ? i : first;
        }
        all_finished &= rc == 0 && cc_step_all_finished(&steps[i]);
    }
    if (rc == 0 && n_found > 1 && w->options->ban_multiple_matches_on_node) {
        rc = cc_fail(CC_E_PY_RUNTIME, "multiple matches! got %d != 1 (on %s '%s')", n_found,
                     cc_kind_get_info(f->node->kind)->py_name, f->node->name ? f->node->name : "");
    }
    if (rc == 0 && first >= 0) {
        const cc_transform *t = &w->transforms[first];
        if (t->identity) {
            cc_node_incref(f->node);
            *out = f->node;
        } else {
            *out = t->run(t->ctx, f->node);
        }
        rc = *out == NULL ? -1 : 0;
        f->any_found = 1;
        *done = 1;
    } else if (rc == 0 && (all_finished || nc == 0)) {
        cc_node_incref(f->node);
        *out = f->node;
        *done = 1;
    } else if (rc == 0) {
        f->child_st = cc_calloc((size_t)nc * (size_t)m, sizeof(cc_imatcher *));
        f->children_out = cc_calloc((size_t)nc, sizeof(cc_node *));
        rc = f->child_st == NULL || f->children_out == NULL ? -1 : 0;
        for (int c = 0; rc == 0 && c < nc; c++) {
            for (int i = 0; i < m; i++) {
                if (f->states[i] != NULL) {
                    f->child_st[c * m + i] = child_state(f->states[i], &steps[i], c);
                }
            }
        }
        f->next = 0;
        *done = 0;
    }
    for (int i = 0; i < m; i++) {
        cc_step_clear(&steps[i]);
    }
    cc_free(steps);
    return rc;
}

// Finishes frame f once every child has its result: f's node, or its expansion over the new
// children (suffixed when it changed).
static cc_node *
finish(walk *w, frame *f)
{
    cc_node *n = f->node;
    int same = 1;
    for (int c = 0; c < n->n_children; c++) {
        same &= memcmp(f->children_out[c]->hash, n->children[c]->hash, 32) == 0;
    }
    if (same) {
        cc_node_incref(n);
        return n;
    }
    cc_node *out = cc_expand_node(n, f->children_out);
    if (out == NULL || w->options->suffix == NULL || out->name == NULL ||
        memcmp(out->hash, n->hash, 32) == 0) {
        return out;
    }
    cc_str name;
    cc_str_init(&name);
    cc_node *renamed = NULL;
    if (cc_str_appendf(&name, "%s_%s", out->name, w->options->suffix) == 0) {
        renamed = cc_node_rename(out, name.data);
    }
    cc_str_clear(&name);
    cc_node_decref(out);
    return renamed;
}

static int
memo_put(walk *w, const frame *f, cc_node *out)
{
    memo_entry *e = cc_malloc(sizeof *e);
    if (e == NULL) {
        return -1;
    }
    cc_node_incref(out);
    e->out = out;
    e->any_found = f->any_found;
    if (cc_hmap_put(&w->memo, f->key, e) < 0) {
        cc_node_decref(out);
        cc_free(e);
        return -1;
    }
    return 0;
}

cc_node *
cc_expander_run(cc_node *root, int n, cc_imatcher *const *matchers, const cc_transform *transforms,
                const cc_expander_options *options, int *any_found)
{
    *any_found = 0;
    walk w = {.m = n, .matchers = matchers, .transforms = transforms, .options = options};
    cc_hmap_init(&w.memo);
    cc_node *result = NULL;
    cc_imatcher **states = cc_calloc((size_t)(n > 0 ? n : 1), sizeof(cc_imatcher *));
    if (states == NULL) {
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        cc_imatcher_incref(matchers[i]);
        states[i] = matchers[i];
    }
    int rc = push(&w, root, states);
    while (rc == 0 && w.len > 0) {
        frame *f = &w.stack[w.len - 1];
        cc_node *out = NULL;
        int done = 0;
        if (f->next == NOT_STARTED) {
            rc = start(&w, f, &out, &done);
        } else if (f->next < f->node->n_children) {
            int c = f->next++;
            cc_imatcher **cs = cc_malloc((size_t)(n > 0 ? n : 1) * sizeof(cc_imatcher *));
            if (cs == NULL) {
                rc = -1;
                break;
            }
            memcpy(cs, f->child_st + (size_t)c * (size_t)n, (size_t)n * sizeof(cc_imatcher *));
            memset(f->child_st + (size_t)c * (size_t)n, 0, (size_t)n * sizeof(cc_imatcher *));
            rc = push(&w, f->node->children[c], cs);
            continue;
        } else {
            out = finish(&w, f);
            rc = out == NULL ? -1 : 0;
            done = 1;
            if (rc == 0) {
                rc = memo_put(&w, f, out);
            }
        }
        if (rc < 0 || !done) {
            cc_node_decref(out);
            continue;
        }
        if (f->next == NOT_STARTED && (rc = memo_put(&w, f, out)) < 0) {
            cc_node_decref(out);
            continue;
        }
        int found = f->any_found;
        frame_clear(&w, f);
        w.len--;
        if (w.len == 0) {
            result = out;
            *any_found = found;
        } else {
            frame *p = &w.stack[w.len - 1];
            p->children_out[p->next - 1] = out;
            p->any_found |= found;
        }
    }
    while (w.len > 0) {
        frame_clear(&w, &w.stack[--w.len]);
    }
    cc_free(w.stack);
    for (size_t s = 0; s < w.memo.cap; s++) {
        if (w.memo.slots[s].used) {
            memo_entry *e = w.memo.slots[s].value;
            cc_node_decref(e->out);
            cc_free(e);
        }
    }
    cc_hmap_clear(&w.memo);
    if (rc < 0) {
        cc_node_decref(result);
        return NULL;
    }
    return result;
}
