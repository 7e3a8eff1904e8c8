// Growable string builder for names and messages.
#pragma once

#include <stddef.h>

typedef struct {
    char *data; // NUL-terminated; NULL until the first append
    size_t len;
    size_t cap;
} cc_str;

void cc_str_init(cc_str *s);
void cc_str_clear(cc_str *s);
// 0, or -1 with CC_E_NO_MEMORY.
int cc_str_append(cc_str *s, const char *text);
int cc_str_append_n(cc_str *s, const char *text, size_t n);
int cc_str_appendf(cc_str *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// Hands the buffer to the caller (free with cc_free) and resets s; never NULL after a
// successful append, "" (newly allocated) when empty, NULL on allocation failure.
char *cc_str_take(cc_str *s);
