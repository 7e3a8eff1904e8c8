// Per-thread error record of the core: a kind from errors.def and a message.
// Knows nothing of Python; the bindings map the kind to an exception class.
#pragma once

#include <stddef.h>

typedef enum {
    CC_E_NONE = 0,
#define CC_ERR(E, py, parent) CC_E_##E,
#include "util/errors.def"
#undef CC_ERR
    CC_E_COUNT
} cc_error_kind;

// Records kind and printf-style message; always returns -1.
int cc_fail(cc_error_kind kind, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// As cc_fail, returning NULL, for constructors.
void *cc_fail_null(cc_error_kind kind, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// Prepends "context: " to the current message (kind unchanged); returns -1.
int cc_error_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

// Keeps the message and changes the kind, for a caller that knows which class applies.
void cc_error_recast(cc_error_kind kind);

// The current record of this thread (CC_E_NONE and "" when clear).
cc_error_kind cc_error_kind_get(void);
const char *cc_error_message(void);
void cc_error_clear(void);
