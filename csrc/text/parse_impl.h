// Private to the parser (text/parse.c builds nodes, text/parse_lex.c reads lines): where a
// line is, for messages, and the parts of a node line.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "nodes/node.h"
#include "util/error.h"

// One line of the text: where it is, for messages.
typedef struct {
    const char *s;
    size_t len;
    int64_t no; // 1-based
} cc_parse_line;

// The parts of a node's line (or of the bound symbol after '!'). Pointers ending in _at point
// into the text, for error positions.
typedef struct {
    const char *ident_at;
    char *key;         // "#<serial>" or "'<quoted text>", owned
    char *name;        // owned; NULL when unnamed
    int explicit_name; // a second quoted string gave the name (a repeat's name to check)
    int ad;
    int has_shape;
    int ndim;
    int64_t shape[CC_MAX_NDIM];
    char *axis_names[CC_MAX_NDIM]; // owned; NULL for an axis the shape gives no name
    const char *shape_at;
    int has_kind;
    cc_kind kind;
    const char *kind_at;
    char *extra; // owned; NULL when the line has no payload
    const char *extra_at;
} cc_parse_node_text;

// Records kind with "line L, column C: <message>" and the line quoted below (at: where in the
// line, NULL for its start). Returns -1.
int cc_parse_fail_at(const cc_parse_line *l, const char *at, cc_error_kind kind, const char *fmt,
                     ...) __attribute__((format(printf, 4, 5)));
// The same, returning NULL, for functions that return a node.
void *cc_parse_fail_null(const cc_parse_line *l, const char *at, cc_error_kind kind,
                         const char *fmt, ...) __attribute__((format(printf, 4, 5)));
// Gives the error a constructor or a hook recorded the position of at. Returns -1.
int cc_parse_locate(const cc_parse_line *l, const char *at);

// Bytes of the indentation character at s (a space, a tab, or tree drawing), 0 for another.
int cc_parse_indent_char_len(const char *s, const char *e);
// An unsigned integer with optional '_' separators at *s, which it advances past. 0, or -1
// with ParseInvalidNumberError.
int cc_parse_uint(const cc_parse_line *l, const char **s, const char *e, int64_t *out);
// The identifier, name, AD, shape, node type and payload of [s, e) into t (owned strings; clear
// with cc_parse_node_text_clear, also after a failure). The payload ends at '#', and also at
// '!' unless child_info (a Module binding, which may end in t/f flags: *flags). A payload
// without a node type is kept too (only a repeated node's line may have one). *stop: where the
// payload ended. 0, or -1 with a CC_E_PARSE_* error.
int cc_parse_lex_line(const cc_parse_line *l, const char *s, const char *e, int child_info,
                      cc_parse_node_text *t, uint8_t flags[3], const char **stop);
void cc_parse_node_text_clear(cc_parse_node_text *t);

static inline int
cc_parse_is_space(char c)
{
    return c == ' ' || c == '\t';
}

static inline const char *
cc_parse_skip_ws(const char *s, const char *e)
{
    while (s < e && cc_parse_is_space(*s)) {
        s++;
    }
    return s;
}

static inline int
cc_parse_is_digit(char c)
{
    return c >= '0' && c <= '9';
}
