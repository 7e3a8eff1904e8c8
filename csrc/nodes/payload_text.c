// Payload text helpers of the kinds (nodes/payload_text.h).
#include "nodes/payload_text.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

int
cc_payload_put_i64(cc_str *s, int64_t v)
{
    char buf[24];
    char *c = buf + sizeof buf;
    uint64_t m = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        *--c = (char)('0' + m % 10);
        m /= 10;
    } while (m > 0);
    if (v < 0) {
        *--c = '-';
    }
    return cc_str_append_n(s, c, (size_t)(buf + sizeof buf - c));
}

static int
put_zeros(cc_str *s, int n)
{
    for (int i = 0; i < n; i++) {
        if (cc_str_append_n(s, "0", 1) < 0) {
            return -1;
        }
    }
    return 0;
}

// Reads the digits and decimal exponent of printf's "%e" text (any decimal point character):
// value = d[0].d[1..] * 10^exp10. Returns the number of digits.
static int
read_scientific(const char *text, char *digits, int *exp10)
{
    int n = 0;
    const char *c = text;
    for (; *c != 'e'; c++) {
        if (*c >= '0' && *c <= '9') {
            digits[n++] = *c;
        }
    }
    digits[n] = '\0';
    *exp10 = atoi(c + 1);
    return n;
}

// The shortest decimal that reads back as v (finite, > 0), the closest to v among those:
// what Rust's float Display prints. digits has no trailing zeros; v = 0.digits * 10^exp.
// Returns the number of digits.
static int
shortest_digits(double v, char digits[24], int *exp)
{
    char text[48];
    int n = 0, exp10 = 0;
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(text, sizeof text, "%.*e", prec - 1, v);
        n = read_scientific(text, digits, &exp10);
        if (strtod(text, NULL) == v) {
            break;
        }
        // When v is a power of two, the values reading back as v reach twice as far above v
        // as below it, so the next decimal up may read back where the nearest does not.
        char up[24];
        memcpy(up, digits, (size_t)n + 1);
        int k = n - 1;
        while (k >= 0 && up[k] == '9') {
            up[k--] = '0';
        }
        int up_exp10 = exp10;
        if (k >= 0) {
            up[k]++;
        } else {
            up[0] = '1';
            up_exp10++;
        }
        snprintf(text, sizeof text, "%se%d", up, up_exp10 - (n - 1));
        if (strtod(text, NULL) == v) {
            memcpy(digits, up, (size_t)n + 1);
            exp10 = up_exp10;
            break;
        }
    }
    while (n > 1 && digits[n - 1] == '0') {
        digits[--n] = '\0';
    }
    *exp = exp10 + 1;
    return n;
}

int
cc_payload_put_double(cc_str *s, double v)
{
    if (isnan(v)) {
        return cc_str_append(s, "NaN");
    }
    if (signbit(v)) {
        if (cc_str_append(s, "-") < 0) {
            return -1;
        }
        v = -v;
    }
    if (isinf(v)) {
        return cc_str_append(s, "inf");
    }
    if (v < 9007199254740992.0 && v == floor(v)) {
        // Below 2^53 neighbouring doubles are at most 1 apart, so an integral value's own
        // digits are its shortest form.
        return cc_payload_put_i64(s, (int64_t)v);
    }
    char digits[24];
    int exp;
    int n = shortest_digits(v, digits, &exp);
    if (exp <= 0) {
        return cc_str_append(s, "0.") < 0 || put_zeros(s, -exp) < 0 ||
                       cc_str_append_n(s, digits, (size_t)n) < 0
                   ? -1
                   : 0;
    }
    if (exp < n) {
        return cc_str_append_n(s, digits, (size_t)exp) < 0 || cc_str_append(s, ".") < 0 ||
                       cc_str_append_n(s, digits + exp, (size_t)(n - exp)) < 0
                   ? -1
                   : 0;
    }
    return cc_str_append_n(s, digits, (size_t)n) < 0 || put_zeros(s, exp - n) < 0 ? -1 : 0;
}

int
cc_payload_put_uuid(cc_str *s, const uint8_t uuid[16])
{
    char buf[40];
    int len = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            buf[len++] = '-';
        }
        len += snprintf(buf + len, sizeof buf - (size_t)len, "%02x", uuid[i]);
    }
    return cc_str_append_n(s, buf, (size_t)len);
}

int
cc_payload_uuid_is_nil(const uint8_t uuid[16])
{
    for (int i = 0; i < 16; i++) {
        if (uuid[i] != 0) {
            return 0;
        }
    }
    return 1;
}

int
cc_payload_put_hex(cc_str *s, const uint8_t *bytes, int n_hex)
{
    static const char digits[] = "0123456789abcdef";
    char buf[64];
    for (int i = 0; i < n_hex; i++) {
        uint8_t b = bytes[i / 2];
        buf[i] = digits[i % 2 == 0 ? b >> 4 : b & 15];
    }
    return cc_str_append_n(s, buf, (size_t)n_hex);
}

static int
fail_at(const char **at, const char *where)
{
    *at = where;
    return -1;
}

int
cc_payload_parse_uint(const char **s, const char *e, int64_t *out, const char **at)
{
    const char *start = *s;
    if (start == e || !cc_payload_is_digit(*start)) {
        cc_fail(CC_E_PARSE_INVALID_NUMBER, "expected a number");
        return fail_at(at, start);
    }
    int64_t v = 0;
    const char *c = start;
    for (; c < e && (cc_payload_is_digit(*c) || *c == '_'); c++) {
        if (*c == '_') {
            continue;
        }
        if (v > (INT64_MAX - (*c - '0')) / 10) {
            cc_fail(CC_E_PARSE_INVALID_NUMBER, "number too large");
            return fail_at(at, start);
        }
        v = v * 10 + (*c - '0');
    }
    *s = c;
    *out = v;
    return 0;
}

int
cc_payload_parse_int(const char *s, const char *e, int64_t *out, const char **at)
{
    const char *start = s;
    int neg = s < e && *s == '-';
    s += neg || (s < e && *s == '+');
    int64_t v;
    if (cc_payload_parse_uint(&s, e, &v, at) < 0) {
        return -1;
    }
    if (s != e) {
        cc_fail(CC_E_PARSE_INVALID_NUMBER, "expected an integer, got '%.*s'", (int)(e - start),
                start);
        return fail_at(at, start);
    }
    *out = neg ? -v : v;
    return 0;
}

int
cc_payload_parse_uuid(const cc_payload_parse *in, uint8_t out[16], const char **at)
{
    const char *s = in->extra;
    int n = 0;
    for (const char *c = s; *c != '\0'; c++) {
        int hyphen_ok = n == 8 || n == 12 || n == 16 || n == 20;
        if (*c == '-' && hyphen_ok) {
            continue;
        }
        if (!cc_payload_is_hex(*c) || n == 32) {
            n = -1;
            break;
        }
        out[n / 2] =
            (uint8_t)((n % 2 == 0 ? 0 : out[n / 2]) | cc_payload_hex_value(*c) << (n % 2 ? 0 : 4));
        n++;
    }
    if (n != 32) {
        cc_fail(CC_E_PARSE_INVALID_UUID,
                "invalid uuid '%s' (expected 32 hex digits, as in "
                "12345678-9abc-def0-1234-56789abcdef0)",
                s);
        return fail_at(at, in->extra_at);
    }
    return 0;
}

int
cc_payload_is_hash_prefix(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (!cc_payload_is_hex(s[i]) || (s[i] >= 'A' && s[i] <= 'F')) {
            return 0;
        }
    }
    return 1;
}

int
cc_payload_expect_none(const cc_payload_parse *in, cc_kind kind, const char **at)
{
    if (in->extra != NULL) {
        cc_fail(CC_E_PARSE_CIRCUIT_EXPECTED_NO_EXTRA_INFO,
                "%s takes nothing after its type, got '%s'", cc_kind_get_info(kind)->py_name,
                in->extra);
        return fail_at(at, in->extra_at);
    }
    return 0;
}

int
cc_payload_expect(const cc_payload_parse *in, cc_kind kind, const char *what, const char **at)
{
    if (in->extra == NULL) {
        cc_fail(CC_E_PARSE_CIRCUIT, "%s needs %s after its type", cc_kind_get_info(kind)->py_name,
                what);
        return fail_at(at, in->kind_at);
    }
    return 0;
}

int
cc_payload_expect_shape(const cc_payload_parse *in, cc_kind kind, const char *why, const char **at)
{
    if (!in->has_shape) {
        cc_fail(CC_E_PARSE_CIRCUIT_SHAPE_NEEDED, "%s needs a shape such as [2,3] before its type%s",
                cc_kind_get_info(kind)->py_name, why);
        return fail_at(at, in->kind_at);
    }
    return 0;
}
