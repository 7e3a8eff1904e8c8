// Node shapes: rc's broadcasting rule, the reserved symbolic-size primes, and the text
// forms of sizes and shapes. Knows nothing of node kinds.
#include "nodes/shape.h"

#include "tensor/tensor.h"
#include "util/error.h"

// The first 256 primes above 10 000, rc's symbolic sizes 0s .. 255s.
static const int64_t symbolic_primes[CC_N_SYMBOLIC_SIZES] = {
    10007, 10009, 10037, 10039, 10061, 10067, 10069, 10079, 10091, 10093, 10099, 10103, 10111,
    10133, 10139, 10141, 10151, 10159, 10163, 10169, 10177, 10181, 10193, 10211, 10223, 10243,
    10247, 10253, 10259, 10267, 10271, 10273, 10289, 10301, 10303, 10313, 10321, 10331, 10333,
    10337, 10343, 10357, 10369, 10391, 10399, 10427, 10429, 10433, 10453, 10457, 10459, 10463,
    10477, 10487, 10499, 10501, 10513, 10529, 10531, 10559, 10567, 10589, 10597, 10601, 10607,
    10613, 10627, 10631, 10639, 10651, 10657, 10663, 10667, 10687, 10691, 10709, 10711, 10723,
    10729, 10733, 10739, 10753, 10771, 10781, 10789, 10799, 10831, 10837, 10847, 10853, 10859,
    10861, 10867, 10883, 10889, 10891, 10903, 10909, 10937, 10939, 10949, 10957, 10973, 10979,
    10987, 10993, 11003, 11027, 11047, 11057, 11059, 11069, 11071, 11083, 11087, 11093, 11113,
    11117, 11119, 11131, 11149, 11159, 11161, 11171, 11173, 11177, 11197, 11213, 11239, 11243,
    11251, 11257, 11261, 11273, 11279, 11287, 11299, 11311, 11317, 11321, 11329, 11351, 11353,
    11369, 11383, 11393, 11399, 11411, 11423, 11437, 11443, 11447, 11467, 11471, 11483, 11489,
    11491, 11497, 11503, 11519, 11527, 11549, 11551, 11579, 11587, 11593, 11597, 11617, 11621,
    11633, 11657, 11677, 11681, 11689, 11699, 11701, 11717, 11719, 11731, 11743, 11777, 11779,
    11783, 11789, 11801, 11807, 11813, 11821, 11827, 11831, 11833, 11839, 11863, 11867, 11887,
    11897, 11903, 11909, 11923, 11927, 11933, 11939, 11941, 11953, 11959, 11969, 11971, 11981,
    11987, 12007, 12011, 12037, 12041, 12043, 12049, 12071, 12073, 12097, 12101, 12107, 12109,
    12113, 12119, 12143, 12149, 12157, 12161, 12163, 12197, 12203, 12211, 12227, 12239, 12241,
    12251, 12253, 12263, 12269, 12277, 12281, 12289, 12301, 12323, 12329, 12343, 12347, 12373,
    12377, 12379, 12391, 12401, 12409, 12413, 12421, 12433, 12437,
};

int
cc_shape_append(cc_str *s, int ndim, const int64_t *shape)
{
    if (cc_str_append(s, "[") < 0) {
        return -1;
    }
    for (int i = 0; i < ndim; i++) {
        if (cc_str_appendf(s, i ? ", %lld" : "%lld", (long long)shape[i]) < 0) {
            return -1;
        }
    }
    return cc_str_append(s, "]");
}

// "Shapes aren't broadcastable, [every shape]" then note.
static int
fail_not_broadcastable(int n, const int *ndims, const int64_t *const *shapes, const char *note)
{
    cc_str s;
    cc_str_init(&s);
    int ok = cc_str_append(&s, "Shapes aren't broadcastable, [") == 0;
    for (int i = 0; ok && i < n; i++) {
        ok = (i == 0 || cc_str_append(&s, ", ") == 0) &&
             cc_shape_append(&s, ndims[i], shapes[i]) == 0;
    }
    ok = ok && cc_str_append(&s, "]") == 0 && cc_str_append(&s, note) == 0;
    if (!ok) {
        cc_str_clear(&s);
        return -1;
    }
    cc_fail(CC_E_MISC_INPUT_NOT_BROADCASTABLE, "%s", s.data);
    cc_str_clear(&s);
    return -1;
}

// Shapes right-aligned: per axis from the last, the sizes must be equal (equal_only), or else
// follow broadcasting (a 1 meets any size but 0).
static int
align_shapes(int n, const int *ndims, const int64_t *const *shapes, int equal_only, int *out_ndim,
             int64_t *out_shape)
{
    int rank = 0;
    for (int i = 0; i < n; i++) {
        rank = ndims[i] > rank ? ndims[i] : rank;
    }
    if (rank > CC_MAX_NDIM) {
        return equal_only ? cc_fail(CC_E_CONSTRUCT_NOT_SUPPORTED_YET,
                                    "batch rank %d passes the maximum %d", rank, CC_MAX_NDIM)
                          : cc_fail(CC_E_CONSTRUCT_NOT_SUPPORTED_YET,
                                    "rank %d is above the maximum of %d", rank, CC_MAX_NDIM);
    }
    for (int k = 1; k <= rank; k++) {
        int have = 0;
        int64_t cur = 0;
        for (int i = 0; i < n; i++) {
            if (ndims[i] < k) {
                continue;
            }
            int64_t len = shapes[i][ndims[i] - k];
            int fits = equal_only ? len == cur
                                  : len == cur || (cur == 1 && len != 0) || (len == 1 && cur != 0);
            if (have && !fits) {
                return fail_not_broadcastable(
                    n, ndims, shapes,
                    equal_only ? " (batch shapes must be equal where they overlap)" : "");
            }
            cur = have && cur > len ? cur : len;
            have = 1;
        }
        out_shape[rank - k] = cur;
    }
    *out_ndim = rank;
    return 0;
}

int
cc_shape_broadcast(int n, const int *ndims, const int64_t *const *shapes, int *out_ndim,
                   int64_t *out_shape)
{
    return align_shapes(n, ndims, shapes, 0, out_ndim, out_shape);
}

int64_t
cc_symbolic_size(int i)
{
    return i >= 0 && i < CC_N_SYMBOLIC_SIZES ? symbolic_primes[i] : 0;
}

int
cc_size_has_symbolic(int64_t size)
{
    for (int i = 0; i < CC_N_SYMBOLIC_SIZES && symbolic_primes[i] <= size; i++) {
        if (size % symbolic_primes[i] == 0) {
            return 1;
        }
    }
    return 0;
}

int
cc_size_append(cc_str *s, int64_t size)
{
    // rc divides out the primes in increasing order, stopping once the rest is smaller.
    int factors[64];
    int n_factors = 0;
    int64_t rest = size;
    for (int i = 0; i < CC_N_SYMBOLIC_SIZES && rest >= symbolic_primes[i]; i++) {
        while (rest % symbolic_primes[i] == 0 && n_factors < 64) {
            factors[n_factors++] = i;
            rest /= symbolic_primes[i];
        }
    }
    if (n_factors == 0) {
        return cc_str_appendf(s, "%lld", (long long)size);
    }
    if (rest != 1 && cc_str_appendf(s, "%lld*", (long long)rest) < 0) {
        return -1;
    }
    for (int k = 0; k < n_factors; k++) {
        if (cc_str_appendf(s, k ? "*%ds" : "%ds", factors[k]) < 0) {
            return -1;
        }
    }
    return 0;
}

int
cc_shape_right_align(int n, const int *ndims, const int64_t *const *shapes, int *out_ndim,
                     int64_t *out_shape)
{
    return align_shapes(n, ndims, shapes, 1, out_ndim, out_shape);
}
