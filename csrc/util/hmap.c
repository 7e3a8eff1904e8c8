// Hash-keyed map: open addressing with linear probing over a power-of-two table. Keys are
// 32-byte BLAKE3 digests, already uniform, so their first 8 bytes pick the home slot.
// There is no removal, hence no tombstones: a probe stops at the first unused slot.
#include "util/hmap.h"

#include <string.h>

#include "util/alloc.h"

#define MIN_CAP 16

static size_t
home_slot(const uint8_t key[32], size_t cap)
{
    uint64_t h;
    memcpy(&h, key, sizeof(h));
    return (size_t)h & (cap - 1);
}

// Index of the slot holding key, or of the unused slot where it would go; the table has a
// free slot.
static size_t
find_index(const cc_hmap_slot *slots, size_t cap, const uint8_t key[32])
{
    size_t i = home_slot(key, cap);
    while (slots[i].used && memcmp(slots[i].key, key, 32) != 0) {
        i = (i + 1) & (cap - 1);
    }
    return i;
}

static int
grow(cc_hmap *m)
{
    size_t cap = m->cap ? m->cap * 2 : MIN_CAP;
    cc_hmap_slot *slots = cc_calloc(cap, sizeof(cc_hmap_slot));
    if (slots == NULL) {
        return -1;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (m->slots[i].used) {
            slots[find_index(slots, cap, m->slots[i].key)] = m->slots[i];
        }
    }
    cc_free(m->slots);
    m->slots = slots;
    m->cap = cap;
    return 0;
}

void
cc_hmap_init(cc_hmap *m)
{
    m->slots = NULL;
    m->cap = 0;
    m->len = 0;
}

void
cc_hmap_clear(cc_hmap *m)
{
    cc_free(m->slots);
    cc_hmap_init(m);
}

void *
cc_hmap_get(const cc_hmap *m, const uint8_t key[32])
{
    if (m->len == 0) {
        return NULL;
    }
    const cc_hmap_slot *s = &m->slots[find_index(m->slots, m->cap, key)];
    return s->used ? s->value : NULL;
}

int
cc_hmap_put(cc_hmap *m, const uint8_t key[32], void *value)
{
    if (m->cap != 0) {
        cc_hmap_slot *s = &m->slots[find_index(m->slots, m->cap, key)];
        if (s->used) {
            s->value = value;
            return 0;
        }
    }
    // Keep the load at or below 2/3, where linear probes stay short.
    if ((m->len + 1) * 3 > m->cap * 2 && grow(m) < 0) {
        return -1;
    }
    cc_hmap_slot *s = &m->slots[find_index(m->slots, m->cap, key)];
    memcpy(s->key, key, 32);
    s->value = value;
    s->used = 1;
    m->len++;
    return 0;
}
