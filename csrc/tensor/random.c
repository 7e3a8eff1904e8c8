// Seeded sampling kernels (tensor/random.h): the SplitMix64 stream and multinomial draws by
// inverse cumulative weights.
#include "tensor/random.h"

#include <math.h>

#include "util/alloc.h"
#include "util/error.h"

static uint64_t
splitmix64_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

// Uniform in [0, 1).
static double
uniform(uint64_t *state)
{
    return (double)(splitmix64_next(state) >> 11) * 0x1.0p-53;
}

// The index i of w (k weights, total > 0) where the running sum first passes target: only
// categories of positive weight are ever chosen.
static int64_t
pick(const double *w, int64_t k, double target)
{
    double acc = 0.0;
    int64_t last = -1;
    for (int64_t i = 0; i < k; i++) {
        if (w[i] <= 0.0) {
            continue;
        }
        acc += w[i];
        last = i;
        if (acc > target) {
            return i;
        }
    }
    return last; // rounding left target at the total: the last positive category
}

// One row: n samples of w (k weights, checked) into out.
static int
sample_row(double *w, int64_t k, int64_t n, int replacement, uint64_t *state, int64_t *out,
           int64_t row)
{
    double total = 0.0;
    int64_t positive = 0;
    for (int64_t i = 0; i < k; i++) {
        if (!(w[i] >= 0.0) || isinf(w[i])) {
            return cc_fail(CC_E_TENSOR_EVAL,
                           "multinomial: probability %lld of row %lld is %g; weights must be "
                           "finite and >= 0",
                           (long long)i, (long long)row, w[i]);
        }
        total += w[i];
        positive += w[i] > 0.0;
    }
    if (!(total > 0.0)) {
        return cc_fail(CC_E_TENSOR_EVAL,
                       "multinomial: row %lld of the probabilities sums to 0 (nothing to draw)",
                       (long long)row);
    }
    if (!replacement && n > positive) {
        return cc_fail(CC_E_TENSOR_EVAL,
                       "multinomial: %lld samples without replacement from row %lld, which has "
                       "only %lld categories of non-zero weight",
                       (long long)n, (long long)row, (long long)positive);
    }
    for (int64_t s = 0; s < n; s++) {
        int64_t i = pick(w, k, uniform(state) * total);
        out[s] = i;
        if (!replacement) {
            total -= w[i];
            w[i] = 0.0;
            // Summing again keeps the total exact for what is left.
            if (s + 1 < n) {
                total = 0.0;
                for (int64_t j = 0; j < k; j++) {
                    total += w[j];
                }
            }
        }
    }
    return 0;
}

int
cc_multinomial(cc_tensor *out, const cc_tensor *probs, int n_sample_dims,
               const int64_t *sample_shape, int replacement, uint64_t seed)
{
    int ndim = probs->ndim - 1 + n_sample_dims;
    if (probs->ndim < 1 || n_sample_dims < 0 || ndim > CC_MAX_NDIM) {
        return cc_fail(CC_E_TENSOR_EVAL,
                       "multinomial: probs of rank %d and %d sample axes do not make a result of "
                       "rank 1 to %d",
                       probs->ndim, n_sample_dims, CC_MAX_NDIM);
    }
    int64_t shape[CC_MAX_NDIM];
    int64_t rows = 1, n_samples = 1;
    for (int d = 0; d < probs->ndim - 1; d++) {
        shape[d] = probs->shape[d];
        rows *= probs->shape[d];
    }
    for (int d = 0; d < n_sample_dims; d++) {
        shape[probs->ndim - 1 + d] = sample_shape[d];
        n_samples *= sample_shape[d];
    }
    cc_tensor w;
    if (cc_tensor_cast(&w, probs, CC_DTYPE_F64) < 0) {
        return -1;
    }
    cc_tensor wc;
    int rc = cc_tensor_copy(&wc, &w); // owned and contiguous: rows are zeroed as they are drawn
    cc_tensor_clear(&w);
    if (rc < 0) {
        return -1;
    }
    int64_t k = probs->shape[probs->ndim - 1];
    if (cc_tensor_init_empty(out, CC_DTYPE_I64, ndim, shape) < 0) {
        cc_tensor_clear(&wc);
        return -1;
    }
    uint64_t state = seed;
    double *wd = wc.data;
    int64_t *od = out->data;
    for (int64_t r = 0; rc == 0 && r < rows; r++) {
        rc = sample_row(wd + r * k, k, n_samples, replacement, &state, od + r * n_samples, r);
    }
    cc_tensor_clear(&wc);
    if (rc < 0) {
        cc_tensor_clear(out);
    }
    return rc;
}
