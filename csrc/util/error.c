// Per-thread error record. Messages are truncated to a fixed buffer; they are
// for people, so a long shape list cut short is acceptable.
#include "util/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MESSAGE_CAP 2048

static _Thread_local cc_error_kind current_kind = CC_E_NONE;
static _Thread_local char current_message[MESSAGE_CAP];

static void
record(cc_error_kind kind, const char *fmt, va_list ap)
{
    current_kind = kind;
    vsnprintf(current_message, MESSAGE_CAP, fmt, ap);
}

int
cc_fail(cc_error_kind kind, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    record(kind, fmt, ap);
    va_end(ap);
    return -1;
}

void *
cc_fail_null(cc_error_kind kind, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    record(kind, fmt, ap);
    va_end(ap);
    return NULL;
}

int
cc_error_prefix(const char *fmt, ...)
{
    char prefix[MESSAGE_CAP];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, MESSAGE_CAP, fmt, ap);
    va_end(ap);
    size_t plen = strlen(prefix);
    if (plen > MESSAGE_CAP - 3) {
        plen = MESSAGE_CAP - 3;
    }
    // Shift the old message right to make room for "prefix: "; its tail may be cut.
    memmove(current_message + plen + 2, current_message, MESSAGE_CAP - plen - 3);
    current_message[MESSAGE_CAP - 1] = '\0';
    memcpy(current_message, prefix, plen);
    current_message[plen] = ':';
    current_message[plen + 1] = ' ';
    return -1;
}

void
cc_error_recast(cc_error_kind kind)
{
    current_kind = kind;
}

cc_error_kind
cc_error_kind_get(void)
{
    return current_kind;
}

const char *
cc_error_message(void)
{
    return current_message;
}

void
cc_error_clear(void)
{
    current_kind = CC_E_NONE;
    current_message[0] = '\0';
}
