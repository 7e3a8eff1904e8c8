// Symbolic size products and constraints (rc's rr_util symbolic_size.rs): product form of a
// size, rc's get_new rule for SetSymbolicShape, and a propagation check of constraint sets.
#include "nodes/symbolic_size.h"

#include <string.h>

#include "nodes/shape.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/str.h"

void
cc_size_product_from(int64_t size, cc_size_product *out)
{
    out->n = 0;
    int64_t rest = size;
    for (int i = 0; i < CC_N_SYMBOLIC_SIZES && rest >= cc_symbolic_size(i); i++) {
        int64_t p = cc_symbolic_size(i);
        while (rest % p == 0 && out->n < CC_SIZE_PRODUCT_MAX_FACTORS) {
            out->sizes[out->n++] = (int16_t)i;
            rest /= p;
        }
    }
    out->other_factor = rest;
}

// rc's canon: a zero factor drops the symbols (sizes are already sorted).
static void
canon(cc_size_product *p)
{
    if (p->other_factor == 0) {
        p->n = 0;
    }
}

static int
same_product(const cc_size_product *a, const cc_size_product *b)
{
    return a->other_factor == b->other_factor && a->n == b->n &&
           memcmp(a->sizes, b->sizes, (size_t)a->n * sizeof(a->sizes[0])) == 0;
}

static int
append_product(cc_str *s, const cc_size_product *p)
{
    if (p->n == 0) {
        return cc_str_appendf(s, "%lld", (long long)p->other_factor);
    }
    int first = 1;
    if (p->other_factor != 1) {
        if (cc_str_appendf(s, "%lld", (long long)p->other_factor) < 0) {
            return -1;
        }
        first = 0;
    }
    for (int i = 0; i < p->n; i++) {
        if (cc_str_appendf(s, first ? "%ds" : "*%ds", p->sizes[i]) < 0) {
            return -1;
        }
        first = 0;
    }
    return 0;
}

static int
fail_divide(const cc_size_product *factor_of, int64_t set_to)
{
    cc_str s;
    cc_str_init(&s);
    if (append_product(&s, factor_of) < 0) {
        cc_str_clear(&s);
        return -1;
    }
    cc_fail(CC_E_SYMBOLIC_SIZE_SET_FACTOR_DOESNT_DIVIDE_SET_TO,
            "factor=%lld doesn't divide set_to=%lld (trying to set symbolic size). size_prod=%s",
            (long long)factor_of->other_factor, (long long)set_to, s.data);
    cc_str_clear(&s);
    return -1;
}

int
cc_size_constraint_new(int64_t l, int64_t r, cc_size_constraint *out, int *has)
{
    cc_size_product a, b;
    cc_size_product_from(l, &a);
    cc_size_product_from(r, &b);
    canon(&a);
    canon(&b);
    *has = 0;
    if ((a.other_factor == 0 && b.other_factor == 0) || same_product(&a, &b)) {
        return 0;
    }
    // rc checks each side in turn as the one being set (r first, then l).
    for (int l_first = 0; l_first < 2; l_first++) {
        cc_size_product *set = l_first ? &a : &b;
        cc_size_product *other = l_first ? &b : &a;
        if (set->n == 0 &&
            (other->other_factor == 0 || set->other_factor % other->other_factor != 0)) {
            return fail_divide(other, set->other_factor);
        }
        if (set->other_factor == 0) {
            other->other_factor = 1;
        }
    }
    if (a.n > b.n) {
        out->l = a;
        out->r = b;
    } else {
        out->l = b;
        out->r = a;
    }
    *has = 1;
    return 0;
}

// Known values of symbolic sizes during the check.
typedef struct {
    uint8_t known[CC_N_SYMBOLIC_SIZES];
    int64_t value[CC_N_SYMBOLIC_SIZES];
} assignment;

// One side under the assignment: *known_factor is the product of the plain factor and the
// known symbols (0 on overflow, with *overflow set); *unknown the single unknown symbol
// index, -1 for none, -2 for several (or one repeated).
static void
evaluate_side(const cc_size_product *p, const assignment *a, int64_t *known_factor, int *unknown,
              int *overflow)
{
    int64_t f = p->other_factor;
    *unknown = -1;
    *overflow = 0;
    for (int i = 0; i < p->n; i++) {
        int s = p->sizes[i];
        if (a->known[s]) {
            if (__builtin_mul_overflow(f, a->value[s], &f)) {
                *overflow = 1;
                return;
            }
        } else {
            *unknown = *unknown == -1 ? s : -2;
        }
    }
    *known_factor = f;
}

static int
fail_unsat(const cc_size_constraint *c, const char *what)
{
    cc_str s;
    cc_str_init(&s);
    int ok = append_product(&s, &c->l) == 0 && cc_str_append(&s, "=") == 0 &&
             append_product(&s, &c->r) == 0;
    if (ok) {
        cc_fail(CC_E_SYMBOLIC_SIZE_SET_FAILED_TO_SATISFY_CONTRAINTS,
                "%s: symbolic size constraints can't all hold; constraint %s contradicts the "
                "sizes the others set",
                what, s.data);
    }
    cc_str_clear(&s);
    return -1;
}

// Applies one constraint: solves a single unknown against a known side, or checks two known
// sides. Returns 1 on progress, 0 when nothing follows, -1 on a contradiction.
static int
propagate(const cc_size_constraint *c, assignment *a)
{
    int64_t fl, fr;
    int ul, ur, ol, orr;
    evaluate_side(&c->l, a, &fl, &ul, &ol);
    evaluate_side(&c->r, a, &fr, &ur, &orr);
    if (ol || orr) {
        return 0;
    }
    if (ul == -1 && ur == -1) {
        return fl == fr ? 0 : -1;
    }
    int unknown = ul == -1 ? ur : ul;
    int64_t factor = ul == -1 ? fr : fl;
    int64_t target = ul == -1 ? fl : fr;
    if ((ul != -1 && ur != -1) || unknown < 0) {
        return 0;
    }
    if (factor == 0) {
        return target == 0 ? 0 : -1;
    }
    if (target % factor != 0) {
        return -1;
    }
    a->known[unknown] = 1;
    a->value[unknown] = target / factor;
    return 1;
}

int
cc_size_constraints_check(int n, const cc_size_constraint *c, const char *what)
{
    if (n == 0) {
        return 0;
    }
    assignment *a = cc_calloc(1, sizeof(assignment));
    if (a == NULL) {
        return -1;
    }
    int progress = 1;
    while (progress) {
        progress = 0;
        for (int i = 0; i < n; i++) {
            int r = propagate(&c[i], a);
            if (r < 0) {
                cc_free(a);
                return fail_unsat(&c[i], what);
            }
            progress |= r;
        }
    }
    cc_free(a);
    return 0;
}
