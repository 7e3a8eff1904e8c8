// Channels-last N-d convolution as padding, a patch view and one einsum (tensor/conv.h).
#include "tensor/conv.h"

#include "tensor/einsum.h"
#include "util/error.h"

int
cc_conv(cc_tensor *out, const cc_tensor *x, const cc_tensor *w, int d, const int64_t *stride,
        const int64_t *padding)
{
    int nb = x->ndim - d - 1;
    if (nb < 0 || w->ndim != d + 2 || 2 * d + 2 > CC_MAX_NDIM) {
        return cc_fail(CC_E_PY_VALUE, "conv: input rank %d and filter rank %d don't fit %d axes",
                       x->ndim, w->ndim, d);
    }
    // The input as (batch, s_1..s_d, c), zero-padded.
    int64_t xshape[CC_MAX_NDIM], pshape[CC_MAX_NDIM];
    xshape[0] = 1;
    for (int i = 0; i < nb; i++) {
        xshape[0] *= x->shape[i];
    }
    pshape[0] = xshape[0];
    for (int i = 0; i <= d; i++) {
        xshape[1 + i] = x->shape[nb + i];
        pshape[1 + i] = xshape[1 + i] + (i < d ? padding[2 * i] + padding[2 * i + 1] : 0);
    }
    cc_tensor xr, p, interior;
    if (cc_tensor_reshape(&xr, x, d + 2, xshape) < 0) {
        return -1;
    }
    if (cc_tensor_init_zeros(&p, x->dtype, d + 2, pshape) < 0) {
        cc_tensor_clear(&xr);
        return -1;
    }
    cc_tensor_init_view(&interior, &p);
    int rc = 0;
    for (int i = 0; i < d && rc == 0; i++) {
        rc = cc_tensor_slice(&interior, 1 + i, padding[2 * i], padding[2 * i] + xshape[1 + i]);
    }
    rc = rc < 0 ? rc : cc_tensor_copy_into(&interior, &xr);
    cc_tensor_clear(&interior);
    cc_tensor_clear(&xr);
    if (rc < 0) {
        cc_tensor_clear(&p);
        return -1;
    }
    // Patches (batch, o_1..o_d, k_1..k_d, c): output position o and kernel offset k read
    // padded position o * stride + k.
    cc_tensor v;
    cc_tensor_init_view(&v, &p);
    v.ndim = 2 * d + 2;
    v.shape[0] = pshape[0];
    v.strides[0] = p.strides[0];
    for (int i = 0; i < d; i++) {
        int64_t k = w->shape[1 + i];
        int64_t reach = pshape[1 + i] - (k - 1);
        v.shape[1 + i] = reach > 0 ? reach / stride[i] : 0;
        v.strides[1 + i] = p.strides[1 + i] * stride[i];
        v.shape[1 + d + i] = k;
        v.strides[1 + d + i] = p.strides[1 + i];
    }
    v.shape[2 * d + 1] = pshape[d + 1];
    v.strides[2 * d + 1] = p.strides[d + 1];
    uint8_t vl[CC_MAX_NDIM], wl[CC_MAX_NDIM], ol[CC_MAX_NDIM];
    for (int a = 0; a < 2 * d + 2; a++) {
        vl[a] = (uint8_t)a;
    }
    wl[0] = (uint8_t)(2 * d + 2);
    for (int i = 0; i <= d; i++) {
        wl[1 + i] = (uint8_t)(d + 1 + i);
    }
    for (int i = 0; i <= d; i++) {
        ol[i] = (uint8_t)i;
    }
    ol[d + 1] = (uint8_t)(2 * d + 2);
    const cc_tensor *ops[2] = {&v, w};
    const uint8_t *labels[2] = {vl, wl};
    cc_tensor r;
    rc = cc_einsum(&r, 2, ops, labels, d + 2, ol, x->dtype);
    cc_tensor_clear(&v);
    cc_tensor_clear(&p);
    if (rc < 0) {
        return -1;
    }
    int64_t oshape[CC_MAX_NDIM];
    for (int i = 0; i < nb; i++) {
        oshape[i] = x->shape[i];
    }
    for (int i = 0; i <= d; i++) {
        oshape[nb + i] = r.shape[1 + i];
    }
    rc = cc_tensor_reshape(out, &r, nb + d + 1, oshape);
    cc_tensor_clear(&r);
    return rc;
}
