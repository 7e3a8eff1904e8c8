// Growable arrays of pointers and of int64: the explicit stacks of graph walks.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "util/alloc.h"

typedef struct {
    void **items;
    size_t len;
    size_t cap;
} cc_ptrvec;

static inline void
cc_ptrvec_init(cc_ptrvec *v)
{
    v->items = NULL;
    v->len = 0;
    v->cap = 0;
}

static inline void
cc_ptrvec_clear(cc_ptrvec *v)
{
    cc_free(v->items);
    cc_ptrvec_init(v);
}

// 0, or -1 with CC_E_NO_MEMORY.
static inline int
cc_ptrvec_push(cc_ptrvec *v, void *item)
{
    if (v->len == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 16;
        void **p = cc_realloc(v->items, cap * sizeof(void *));
        if (p == NULL) {
            return -1;
        }
        v->items = p;
        v->cap = cap;
    }
    v->items[v->len++] = item;
    return 0;
}
