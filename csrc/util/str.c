// String builder.
#include "util/str.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/alloc.h"

void
cc_str_init(cc_str *s)
{
    s->data = NULL;
    s->len = 0;
    s->cap = 0;
}

void
cc_str_clear(cc_str *s)
{
    cc_free(s->data);
    cc_str_init(s);
}

static int
reserve(cc_str *s, size_t extra)
{
    size_t need = s->len + extra + 1;
    if (need <= s->cap) {
        return 0;
    }
    size_t cap = s->cap ? s->cap : 32;
    while (cap < need) {
        cap *= 2;
    }
    char *p = cc_realloc(s->data, cap);
    if (p == NULL) {
        return -1;
    }
    s->data = p;
    s->cap = cap;
    return 0;
}

int
cc_str_append_n(cc_str *s, const char *text, size_t n)
{
    if (reserve(s, n) < 0) {
        return -1;
    }
    memcpy(s->data + s->len, text, n);
    s->len += n;
    s->data[s->len] = '\0';
    return 0;
}

int
cc_str_append(cc_str *s, const char *text)
{
    return cc_str_append_n(s, text, strlen(text));
}

int
cc_str_appendf(cc_str *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || reserve(s, (size_t)n) < 0) {
        return -1;
    }
    va_start(ap, fmt);
    vsnprintf(s->data + s->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    s->len += (size_t)n;
    return 0;
}

char *
cc_str_take(cc_str *s)
{
    char *out = s->data;
    if (out == NULL) {
        out = cc_strdup("");
    }
    cc_str_init(s);
    return out;
}
