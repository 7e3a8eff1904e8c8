// Pieces of the kinds' payload text (nodes/kind.h print_payload and parse_payload): numbers,
// uuids and hashes as rc writes them, and the checks every payload parser makes. Errors are
// recorded with cc_fail and the position they are about given back through an `at` pointer,
// which the parser turns into "line L, column C".
#pragma once

#include <stdint.h>

#include "nodes/kind.h"
#include "util/str.h"

static inline int
cc_payload_is_space(char c)
{
    return c == ' ' || c == '\t';
}

static inline const char *
cc_payload_skip_ws(const char *s, const char *e)
{
    while (s < e && cc_payload_is_space(*s)) {
        s++;
    }
    return s;
}

static inline int
cc_payload_is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static inline int
cc_payload_is_hex(char c)
{
    return cc_payload_is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static inline int
cc_payload_hex_value(char c)
{
    return cc_payload_is_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10;
}

// --- printing: each appends to s; 0, or -1 with CC_E_NO_MEMORY --------------------------------

// Decimal digits without printf.
int cc_payload_put_i64(cc_str *s, int64_t v);
// Rust's Display of an f64 (rc prints Scalar values with it): shortest round-trip digits,
// never an exponent, integral values without ".0"; NaN, inf, -inf, and "-0" for -0.0.
int cc_payload_put_double(cc_str *s, double v);
// 8-4-4-4-12 lowercase hex.
int cc_payload_put_uuid(cc_str *s, const uint8_t uuid[16]);
// The first n_hex hex digits (at most 64) of bytes.
int cc_payload_put_hex(cc_str *s, const uint8_t *bytes, int n_hex);
int cc_payload_uuid_is_nil(const uint8_t uuid[16]);

// --- parsing: 0, or -1 with an error recorded and *at set -------------------------------------

// An unsigned integer with optional '_' separators at *s, which it advances past
// (ParseInvalidNumberError).
int cc_payload_parse_uint(const char **s, const char *e, int64_t *out, const char **at);
// An optionally signed integer filling [s, e) (ParseInvalidNumberError).
int cc_payload_parse_int(const char *s, const char *e, int64_t *out, const char **at);
// The payload as a uuid, 32 hex digits with optional hyphens at the usual places
// (ParseInvalidUuidError).
int cc_payload_parse_uuid(const cc_payload_parse *in, uint8_t out[16], const char **at);
// 1 when s is a tensor hash prefix: 1 to 64 lowercase hex digits.
int cc_payload_is_hash_prefix(const char *s);
// The line must have no payload / a payload (what it should be, for the message) / a shape
// (why, appended to the message).
int cc_payload_expect_none(const cc_payload_parse *in, cc_kind kind, const char **at);
int cc_payload_expect(const cc_payload_parse *in, cc_kind kind, const char *what, const char **at);
int cc_payload_expect_shape(const cc_payload_parse *in, cc_kind kind, const char *why,
                            const char **at);
