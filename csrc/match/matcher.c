// Matchers: construction (canonical sets, structural hash), evaluation on one node,
// validation of what a getter found, printing, and iterative freeing. Evaluation recurses
// only over a matcher's own structure, whose depth construction caps at CC_MATCH_MAX_DEPTH.
#include "match/matcher.h"

#include <stdlib.h>
#include <string.h>

#include "match/match_kind.h"
#include "util/alloc.h"
#include "util/blake3.h"
#include "util/error.h"
#include "util/vec.h"

struct matcher_kind CC_MATCH_KIND_OPS(cc_matcher, cc_ptrvec);

// The per-kind operations (defined below) and the table of kinds.
#define CC_MATCHER_KIND(E, tag, head, rel, desc, val)                                              \
    static void release_##rel(cc_matcher *m, cc_ptrvec *dead);                                     \
    static int describe_##desc(const cc_matcher *m, cc_str *out);                                  \
    static int validate_##val(const cc_matcher *m, cc_node *const *found, int64_t n_found);
#include "match/kinds.def"

static const struct matcher_kind kinds[] = {
#define CC_MATCHER_KIND(E, tag, head, rel, desc, val)                                              \
    [CC_MATCHER_##E] = {tag, head, release_##rel, describe_##desc, validate_##val},
#include "match/kinds.def"
};

// A new matcher of kind (refcount 1, depth 1), with h started as its structural hash.
static cc_matcher *
alloc_matcher(cc_matcher_kind kind, cc_blake3 *h)
{
    cc_matcher *m = cc_calloc(1, sizeof(cc_matcher));
    if (m != NULL) {
        m->refcount = 1;
        m->kind = kind;
        m->depth = 1;
        cc_match_hash_begin(h, "circuits.matcher.", kinds[kind].tag);
    }
    return m;
}

void
cc_matcher_incref(cc_matcher *m)
{
    if (m != NULL) {
        m->refcount++;
    }
}

// Frees m and what it owns; operands whose count reaches zero go on dead, for the caller's
// loop, so that freeing a deep matcher needs no recursion.
static void release(cc_matcher *m, cc_ptrvec *dead);

static void
drop_operand(cc_matcher *op, cc_ptrvec *dead)
{
    if (--op->refcount > 0) {
        return;
    }
    if (cc_ptrvec_push(dead, op) < 0) {
        // Out of memory for the worklist: free this operand directly. Its depth is bounded by
        // CC_MATCH_MAX_DEPTH, so the recursion is too.
        cc_error_clear();
        release(op, dead);
    }
}

static void
release(cc_matcher *m, cc_ptrvec *dead)
{
    kinds[m->kind].release(m, dead);
    cc_free(m);
}

void
cc_matcher_decref(cc_matcher *m)
{
    if (m == NULL || --m->refcount > 0) {
        return;
    }
    cc_ptrvec dead;
    cc_ptrvec_init(&dead);
    release(m, &dead);
    while (dead.len > 0) {
        release(dead.items[--dead.len], &dead);
    }
    cc_ptrvec_clear(&dead);
}

cc_matcher *
cc_matcher_always(int value)
{
    cc_blake3 h;
    cc_matcher *m = alloc_matcher(CC_MATCHER_ALWAYS, &h);
    if (m == NULL) {
        return NULL;
    }
    m->u.value = value != 0;
    uint8_t b = (uint8_t)m->u.value;
    cc_blake3_update(&h, &b, 1);
    cc_blake3_final(&h, m->hash, 32);
    return m;
}

static int
compare_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

cc_matcher *
cc_matcher_names(int n, const char *const *names)
{
    cc_blake3 h;
    cc_matcher *m = alloc_matcher(CC_MATCHER_NAMES, &h);
    if (m == NULL) {
        return NULL;
    }
    m->u.names.items = cc_calloc(n > 0 ? (size_t)n : 1, sizeof(char *));
    if (m->u.names.items == NULL) {
        cc_free(m);
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        m->u.names.items[i] = cc_strdup(names[i]);
        m->u.names.n = i + 1;
        if (m->u.names.items[i] == NULL) {
            cc_matcher_decref(m);
            return NULL;
        }
    }
    qsort(m->u.names.items, (size_t)n, sizeof(char *), compare_str);
    int kept = 0;
    for (int i = 0; i < n; i++) {
        if (kept > 0 && strcmp(m->u.names.items[kept - 1], m->u.names.items[i]) == 0) {
            cc_free(m->u.names.items[i]);
            continue;
        }
        m->u.names.items[kept++] = m->u.names.items[i];
    }
    m->u.names.n = kept;
    for (int i = 0; i < kept; i++) {
        m->u.names.filter |= (uint64_t)1 << (cc_name_hash(m->u.names.items[i]) & 63);
    }
    for (int i = 0; i < kept; i++) {
        size_t len = strlen(m->u.names.items[i]);
        cc_blake3_update_u64_le(&h, len);
        cc_blake3_update(&h, m->u.names.items[i], len);
    }
    cc_blake3_final(&h, m->hash, 32);
    return m;
}

cc_matcher *
cc_matcher_types(uint64_t mask)
{
    cc_blake3 h;
    cc_matcher *m = alloc_matcher(CC_MATCHER_TYPES, &h);
    if (m == NULL) {
        return NULL;
    }
    m->u.types = mask;
    cc_blake3_update_u64_le(&h, mask);
    cc_blake3_final(&h, m->hash, 32);
    return m;
}

static int
compare_node_hash(const void *a, const void *b)
{
    return memcmp((*(cc_node *const *)a)->hash, (*(cc_node *const *)b)->hash, 32);
}

cc_matcher *
cc_matcher_circuits(int n, cc_node *const *nodes)
{
    cc_blake3 h;
    cc_matcher *m = alloc_matcher(CC_MATCHER_CIRCUITS, &h);
    if (m == NULL) {
        return NULL;
    }
    m->u.circuits.items = cc_malloc((n > 0 ? (size_t)n : 1) * sizeof(cc_node *));
    if (m->u.circuits.items == NULL) {
        cc_free(m);
        return NULL;
    }
    if (n > 0) {
        memcpy(m->u.circuits.items, nodes, (size_t)n * sizeof(cc_node *));
    }
    qsort(m->u.circuits.items, (size_t)n, sizeof(cc_node *), compare_node_hash);
    int kept = 0;
    for (int i = 0; i < n; i++) {
        cc_node *c = m->u.circuits.items[i];
        if (kept > 0 && memcmp(m->u.circuits.items[kept - 1]->hash, c->hash, 32) == 0) {
            continue;
        }
        cc_node_incref(c);
        m->u.circuits.items[kept++] = c;
    }
    m->u.circuits.n = kept;
    for (int i = 0; i < kept; i++) {
        cc_blake3_update(&h, m->u.circuits.items[i]->hash, 32);
    }
    cc_blake3_final(&h, m->hash, 32);
    return m;
}

cc_matcher *
cc_matcher_callback(const cc_match_callback *cb)
{
    cc_blake3 h;
    cc_matcher *m = alloc_matcher(CC_MATCHER_CALLBACK, &h);
    if (m == NULL) {
        return NULL;
    }
    char *label = cc_strdup(cb->label != NULL ? cb->label : "callback");
    if (label == NULL) {
        cc_free(m);
        return NULL;
    }
    m->u.callback.cb = *cb;
    m->u.callback.cb.label = label;
    if (cb->incref != NULL) {
        cb->incref(cb->ctx);
    }
    uint8_t kind = (uint8_t)cb->kind;
    cc_blake3_update(&h, &kind, 1);
    cc_blake3_update(&h, cb->identity, 32);
    cc_blake3_final(&h, m->hash, 32);
    return m;
}

// An operator node over ms (kind NOT, ANY or ALL); operands of the same kind as an ANY or
// ALL are spliced in.
static cc_matcher *
new_ops(cc_matcher_kind kind, int n, cc_matcher *const *ms)
{
    int total = 0;
    for (int i = 0; i < n; i++) {
        total += (kind != CC_MATCHER_NOT && ms[i]->kind == kind) ? ms[i]->u.ops.n : 1;
    }
    cc_blake3 h;
    cc_matcher *m = alloc_matcher(kind, &h);
    if (m == NULL) {
        return NULL;
    }
    m->u.ops.items = cc_malloc((total > 0 ? (size_t)total : 1) * sizeof(cc_matcher *));
    if (m->u.ops.items == NULL) {
        cc_free(m);
        return NULL;
    }
    int k = 0;
    int depth = 0;
    for (int i = 0; i < n; i++) {
        int splice = kind != CC_MATCHER_NOT && ms[i]->kind == kind;
        int count = splice ? ms[i]->u.ops.n : 1;
        for (int j = 0; j < count; j++) {
            cc_matcher *op = splice ? ms[i]->u.ops.items[j] : ms[i];
            cc_matcher_incref(op);
            m->u.ops.items[k++] = op;
            depth = op->depth > depth ? op->depth : depth;
        }
    }
    m->u.ops.n = k;
    m->depth = depth + 1;
    if (m->depth > CC_MATCH_MAX_DEPTH) {
        cc_matcher_decref(m);
        return cc_fail_null(CC_E_PY_VALUE, "matcher nested more than %d levels deep",
                            CC_MATCH_MAX_DEPTH);
    }
    for (int i = 0; i < k; i++) {
        cc_blake3_update(&h, m->u.ops.items[i]->hash, 32);
    }
    cc_blake3_final(&h, m->hash, 32);
    return m;
}

cc_matcher *
cc_matcher_not(cc_matcher *m)
{
    return new_ops(CC_MATCHER_NOT, 1, &m);
}

cc_matcher *
cc_matcher_any(int n, cc_matcher *const *ms)
{
    return new_ops(CC_MATCHER_ANY, n, ms);
}

cc_matcher *
cc_matcher_all(int n, cc_matcher *const *ms)
{
    return new_ops(CC_MATCHER_ALL, n, ms);
}

static int
names_contain(const cc_matcher *m, const char *name)
{
    if (m->u.names.n == 1) {
        return strcmp(m->u.names.items[0], name) == 0;
    }
    int lo = 0;
    int hi = m->u.names.n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        int c = strcmp(m->u.names.items[mid], name);
        if (c == 0) {
            return 1;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return 0;
}

static int
circuits_contain(const cc_matcher *m, const cc_node *n)
{
    int lo = 0;
    int hi = m->u.circuits.n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        int c = memcmp(m->u.circuits.items[mid]->hash, n->hash, 32);
        if (c == 0) {
            return 1;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return 0;
}

int
cc_matcher_match(const cc_matcher *m, const cc_node *n, int *out)
{
    switch (m->kind) {
    case CC_MATCHER_ALWAYS:
        *out = m->u.value;
        return 0;
    case CC_MATCHER_NAMES:
        *out = n->name != NULL && ((m->u.names.filter >> (n->name_hash & 63)) & 1) &&
               names_contain(m, n->name);
        return 0;
    case CC_MATCHER_TYPES:
        *out = (int)((m->u.types >> n->kind) & 1);
        return 0;
    case CC_MATCHER_CIRCUITS:
        *out = circuits_contain(m, n);
        return 0;
    case CC_MATCHER_CALLBACK: {
        const cc_regex *re = m->u.callback.cb.regex;
        if (re != NULL) {
            if (n->name == NULL) {
                *out = 0; // as the callback: unnamed nodes never match a regex
                return 0;
            }
            int found = cc_regex_search_cstr(re, n->name);
            if (found != CC_REGEX_UNSURE) {
                *out = found;
                return 0;
            }
        }
        int r = 0;
        if (m->u.callback.cb.match(m->u.callback.cb.ctx, n, &r) < 0) {
            return -1;
        }
        *out = r != 0;
        return 0;
    }
    case CC_MATCHER_NOT: {
        int r = 0;
        if (cc_matcher_match(m->u.ops.items[0], n, &r) < 0) {
            return -1;
        }
        *out = !r;
        return 0;
    }
    case CC_MATCHER_ANY:
    case CC_MATCHER_ALL: {
        // any: the first true operand decides; all: the first false one.
        int decisive = m->kind == CC_MATCHER_ANY;
        for (int i = 0; i < m->u.ops.n; i++) {
            int r = 0;
            if (cc_matcher_match(m->u.ops.items[i], n, &r) < 0) {
                return -1;
            }
            if (r == decisive) {
                *out = decisive;
                return 0;
            }
        }
        *out = !decisive;
        return 0;
    }
    }
    return cc_fail(CC_E_PY_RUNTIME, "matcher of unknown kind %d", (int)m->kind);
}

// --- validation ------------------------------------------------------------------------------

static int
append_name_list(cc_str *s, int n, char *const *names)
{
    if (cc_str_append(s, "{") < 0) {
        return -1;
    }
    for (int i = 0; i < n; i++) {
        if (cc_str_appendf(s, "%s'%s'", i ? ", " : "", names[i]) < 0) {
            return -1;
        }
    }
    return cc_str_append(s, "}");
}

static int
append_type_list(cc_str *s, uint64_t mask)
{
    if (cc_str_append(s, "{") < 0) {
        return -1;
    }
    int first = 1;
    for (int k = 0; k < CC_KIND_COUNT; k++) {
        if ((mask >> k) & 1) {
            if (cc_str_appendf(s, "%s%s", first ? "" : ", ",
                               cc_kind_get_info((cc_kind)k)->py_name) < 0) {
                return -1;
            }
            first = 0;
        }
    }
    return cc_str_append(s, "}");
}

static int
append_circuit(cc_str *s, const cc_node *c)
{
    const char *kind = cc_kind_get_info(c->kind)->py_name;
    if (c->name == NULL) {
        return cc_str_appendf(s, "%s(None)", kind);
    }
    return cc_str_appendf(s, "%s('%s')", kind, c->name);
}

static int
append_circuit_list(cc_str *s, int n, cc_node *const *cs)
{
    if (cc_str_append(s, "[") < 0) {
        return -1;
    }
    for (int i = 0; i < n; i++) {
        if ((i && cc_str_append(s, ", ") < 0) || append_circuit(s, cs[i]) < 0) {
            return -1;
        }
    }
    return cc_str_append(s, "]");
}

// Fails with "Didn't match all <items> ..." from a message built in s (consumed).
static int
fail_with(cc_str *s)
{
    if (s->data == NULL) {
        return cc_fail(CC_E_NO_MEMORY, "out of memory while reporting a validation failure");
    }
    cc_fail(CC_E_PY_RUNTIME, "%s", s->data);
    cc_str_clear(s);
    return -1;
}

static int
validate_names(const cc_matcher *m, cc_node *const *found, int64_t n_found)
{
    // Names of the found nodes, sorted and distinct, then the matcher's names not among them.
    char **have = cc_malloc((size_t)(n_found > 0 ? n_found : 1) * sizeof(char *));
    char **missing = cc_malloc((size_t)(m->u.names.n > 0 ? m->u.names.n : 1) * sizeof(char *));
    cc_str s;
    cc_str_init(&s);
    int rc = -1;
    if (have == NULL || missing == NULL) {
        goto done;
    }
    int n_have = 0;
    for (int64_t i = 0; i < n_found; i++) {
        if (found[i]->name != NULL) {
            have[n_have++] = found[i]->name;
        }
    }
    qsort(have, (size_t)n_have, sizeof(char *), compare_str);
    int kept = 0;
    for (int i = 0; i < n_have; i++) {
        if (kept == 0 || strcmp(have[kept - 1], have[i]) != 0) {
            have[kept++] = have[i];
        }
    }
    n_have = kept;
    int n_missing = 0;
    for (int i = 0; i < m->u.names.n; i++) {
        const char *name = m->u.names.items[i];
        if (bsearch(&name, have, (size_t)n_have, sizeof(char *), compare_str) == NULL) {
            missing[n_missing++] = m->u.names.items[i];
        }
    }
    if (n_missing == 0) {
        rc = 0;
        goto done;
    }
    const char *intro = "Didn't match all names contained in this name matcher!\nmatcher: ";
    if (cc_str_append(&s, intro) < 0 || append_name_list(&s, m->u.names.n, m->u.names.items) < 0 ||
        cc_str_append(&s, ", found: ") < 0 || append_name_list(&s, n_have, have) < 0 ||
        cc_str_append(&s, ", missing: ") < 0 || append_name_list(&s, n_missing, missing) < 0) {
        goto done;
    }
    rc = fail_with(&s);
done:
    cc_free(have);
    cc_free(missing);
    cc_str_clear(&s);
    return rc;
}

static int
validate_types(const cc_matcher *m, cc_node *const *found, int64_t n_found)
{
    uint64_t have = 0;
    for (int64_t i = 0; i < n_found; i++) {
        have |= (uint64_t)1 << found[i]->kind;
    }
    uint64_t missing = m->u.types & ~have;
    if (missing == 0) {
        return 0;
    }
    cc_str s;
    cc_str_init(&s);
    const char *intro = "Didn't match all types contained in this type matcher!\nmatcher: ";
    if (cc_str_append(&s, intro) < 0 || append_type_list(&s, m->u.types) < 0 ||
        cc_str_append(&s, ", found: ") < 0 || append_type_list(&s, have) < 0 ||
        cc_str_append(&s, ", missing: ") < 0 || append_type_list(&s, missing) < 0) {
        cc_str_clear(&s);
        return -1;
    }
    return fail_with(&s);
}

static int
validate_circuits(const cc_matcher *m, cc_node *const *found, int64_t n_found)
{
    cc_node **missing = cc_malloc((size_t)m->u.circuits.n * sizeof(cc_node *) + 1);
    if (missing == NULL) {
        return -1;
    }
    int n_missing = 0;
    for (int i = 0; i < m->u.circuits.n; i++) {
        int seen = 0;
        for (int64_t j = 0; j < n_found && !seen; j++) {
            seen = memcmp(found[j]->hash, m->u.circuits.items[i]->hash, 32) == 0;
        }
        if (!seen) {
            missing[n_missing++] = m->u.circuits.items[i];
        }
    }
    int rc = 0;
    if (n_missing > 0) {
        cc_str s;
        cc_str_init(&s);
        if (cc_str_append(&s, "Didn't match all circuits contained in this circuit equality "
                              "matcher!\nmatcher: ") < 0 ||
            append_circuit_list(&s, m->u.circuits.n, m->u.circuits.items) < 0 ||
            cc_str_append(&s, ", found: ") < 0 ||
            append_circuit_list(&s, (int)(n_found < 64 ? n_found : 64), found) < 0 ||
            cc_str_append(&s, ", missing: ") < 0 ||
            append_circuit_list(&s, n_missing, missing) < 0) {
            cc_str_clear(&s);
            rc = -1;
        } else {
            rc = fail_with(&s);
        }
    }
    cc_free(missing);
    return rc;
}

static int
validate_one_match(const cc_matcher *m, cc_node *const *found, int64_t n_found)
{
    for (int64_t i = 0; i < n_found; i++) {
        int r = 0;
        if (cc_matcher_match(m, found[i], &r) < 0) {
            return -1;
        }
        if (r) {
            return 0;
        }
    }
    cc_str s;
    cc_str_init(&s);
    if (cc_str_append(&s, "This matcher matched nothing: ") < 0 || cc_matcher_describe(m, &s) < 0 ||
        cc_str_appendf(&s, " (%lld circuits were found)", (long long)n_found) < 0) {
        cc_str_clear(&s);
        return -1;
    }
    return fail_with(&s);
}

// --- per-kind operations (rows of match/kinds.def) -----------------------------------------

static void
release_none(cc_matcher *m, cc_ptrvec *dead)
{
    (void)m;
    (void)dead;
}

static void
release_names(cc_matcher *m, cc_ptrvec *dead)
{
    (void)dead;
    for (int i = 0; i < m->u.names.n; i++) {
        cc_free(m->u.names.items[i]);
    }
    cc_free(m->u.names.items);
}

static void
release_circuits(cc_matcher *m, cc_ptrvec *dead)
{
    (void)dead;
    for (int i = 0; i < m->u.circuits.n; i++) {
        cc_node_decref(m->u.circuits.items[i]);
    }
    cc_free(m->u.circuits.items);
}

static void
release_callback(cc_matcher *m, cc_ptrvec *dead)
{
    (void)dead;
    if (m->u.callback.cb.decref != NULL) {
        m->u.callback.cb.decref(m->u.callback.cb.ctx);
    }
    cc_free((char *)m->u.callback.cb.label);
}

static void
release_ops(cc_matcher *m, cc_ptrvec *dead)
{
    for (int i = 0; i < m->u.ops.n; i++) {
        drop_operand(m->u.ops.items[i], dead);
    }
    cc_free(m->u.ops.items);
}

static int
validate_none(const cc_matcher *m, cc_node *const *found, int64_t n_found)
{
    (void)m;
    (void)found;
    (void)n_found;
    return 0;
}

static int
validate_callback(const cc_matcher *m, cc_node *const *found, int64_t n_found)
{
    if (m->u.callback.cb.kind == CC_MATCH_CALLBACK_ANY_FOUND) {
        return 0;
    }
    return validate_one_match(m, found, n_found);
}

static int
validate_ops(const cc_matcher *m, cc_node *const *found, int64_t n_found)
{
    for (int i = 0; i < m->u.ops.n; i++) {
        if (cc_matcher_validate(m->u.ops.items[i], found, n_found) < 0) {
            return -1;
        }
    }
    return 0;
}

static int
describe_always(const cc_matcher *m, cc_str *out)
{
    return cc_str_append(out, m->u.value ? "True" : "False");
}

static int
describe_names(const cc_matcher *m, cc_str *out)
{
    if (m->u.names.n == 1) {
        return cc_str_appendf(out, "'%s'", m->u.names.items[0]);
    }
    return append_name_list(out, m->u.names.n, m->u.names.items);
}

static int
describe_types(const cc_matcher *m, cc_str *out)
{
    return append_type_list(out, m->u.types);
}

static int
describe_circuits(const cc_matcher *m, cc_str *out)
{
    return append_circuit_list(out, m->u.circuits.n, m->u.circuits.items);
}

static int
describe_callback(const cc_matcher *m, cc_str *out)
{
    return cc_str_append(out, m->u.callback.cb.label);
}

static int
describe_ops(const cc_matcher *m, cc_str *out)
{
    if (cc_str_appendf(out, "%s(", kinds[m->kind].head) < 0) {
        return -1;
    }
    for (int i = 0; i < m->u.ops.n; i++) {
        if ((i && cc_str_append(out, ", ") < 0) ||
            cc_matcher_describe(m->u.ops.items[i], out) < 0) {
            return -1;
        }
    }
    return cc_str_append(out, ")");
}

int
cc_matcher_validate(const cc_matcher *m, cc_node *const *found, int64_t n_found)
{
    return kinds[m->kind].validate(m, found, n_found);
}

int
cc_matcher_describe(const cc_matcher *m, cc_str *out)
{
    return kinds[m->kind].describe(m, out);
}
