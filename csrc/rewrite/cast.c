// rc's cast_circuit: Arrays cast to the requested dtype (a new contiguous copy that remembers
// where the original tensor came from), every ancestor rebuilt over the new children.
#include <string.h>

#include "rewrite/cast.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/hmap.h"

// The cast copy of Array a, or a new reference to a when its dtype already fits.
static cc_node *
cast_array(cc_node *a, const cc_device_dtype *dd)
{
    const cc_tensor *value = a->u.array.value;
    if (!dd->has_dtype || value->dtype == dd->dtype) {
        cc_node_incref(a);
        return a;
    }
    cc_tensor t;
    if (cc_tensor_cast(&t, value, dd->dtype) < 0) {
        return NULL;
    }
    // evaluation hands back the kind of array the input was (torch in, torch out)
    if (t.buf != NULL && value->buf != NULL) {
        t.buf->origin = value->buf->origin;
    }
    cc_node *out = cc_array_new(&t, a->name != NULL ? a->name : CC_NO_NAME);
    cc_tensor_clear(&t);
    return out;
}

static void
map_clear(cc_hmap *m)
{
    for (size_t i = 0; i < m->cap; i++) {
        if (m->slots[i].used) {
            cc_node_decref(m->slots[i].value);
        }
    }
    cc_hmap_clear(m);
}

cc_node *
cc_cast_circuit(cc_node *c, const cc_device_dtype *dd)
{
    if (dd->has_device && dd->device != CC_DEVICE_CPU) {
        return cc_fail_null(CC_E_PY_NOT_IMPLEMENTED,
                            "cast_circuit: device cuda:%d is not available: circuits keeps the "
                            "tensors of a circuit in host memory; cast the dtype only (device "
                            "None or \"cpu\") and evaluate on the GPU with "
                            "evaluate(device=\"cuda:%d\")",
                            dd->device_index, dd->device_index);
    }
    cc_node **order = NULL;
    int64_t n = 0;
    if (cc_node_postorder_unique(c, &order, &n) < 0) {
        return NULL;
    }
    cc_hmap done;
    cc_hmap_init(&done);
    cc_node **kids = NULL;
    cc_node *out = NULL;
    for (int64_t k = 0; k < n; k++) {
        cc_node *x = order[k];
        cc_node *y = NULL;
        if (x->kind == CC_KIND_ARRAY) {
            y = cast_array(x, dd);
        } else {
            int changed = 0;
            cc_free(kids);
            kids = cc_malloc(((size_t)x->n_children + 1) * sizeof(cc_node *));
            if (kids == NULL) {
                goto done;
            }
            for (int i = 0; i < x->n_children; i++) {
                kids[i] = cc_hmap_get(&done, x->children[i]->hash);
                changed |= memcmp(kids[i]->hash, x->children[i]->hash, 32) != 0;
            }
            if (changed) {
                y = cc_node_rebuild(x, kids, x->name);
            } else {
                cc_node_incref(x);
                y = x;
            }
        }
        if (y == NULL || cc_hmap_put(&done, x->hash, y) < 0) {
            cc_node_decref(y);
            goto done;
        }
    }
    out = cc_hmap_get(&done, c->hash);
    cc_node_incref(out);
done:
    cc_free(kids);
    cc_free(order);
    map_clear(&done);
    return out;
}
