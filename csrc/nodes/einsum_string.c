// Einsum labels as text: rc's classic and fancy strings parsed into per-operand label
// lists, and labels printed as rc's alphabet (a..z, A..Z, then Greek α..ψ in UTF-8).
// Knows nothing of shapes; construction checks live in einsum.c.
#include "nodes/einsum_string.h"

#include <string.h>

#include "util/alloc.h"
#include "util/error.h"
#include "util/str.h"

#define GREEK_FIRST 0x3B1 // α
#define GREEK_LAST 0x3C8  // ψ (rc's range 'α'..'ω' excludes ω; it includes final sigma ς)
#define N_LABEL_CHARS (52 + GREEK_LAST - GREEK_FIRST + 1)

void
cc_einsum_labels_init(cc_einsum_labels *l)
{
    memset(l, 0, sizeof(*l));
}

void
cc_einsum_labels_clear(cc_einsum_labels *l)
{
    cc_free(l->n_axes);
    cc_free(l->in_axes);
    cc_free(l->out_axes);
    cc_einsum_labels_init(l);
}

// Growable arrays behind a cc_einsum_labels being parsed.
typedef struct {
    cc_einsum_labels *l;
    size_t in_cap, out_cap, ops_cap;
    size_t n_in;
} builder;

static int
start_operand(builder *b)
{
    cc_einsum_labels *l = b->l;
    if (cc_grow((void **)&l->n_axes, &b->ops_cap, (size_t)l->n_operands + 1, sizeof(int)) < 0) {
        return -1;
    }
    l->n_axes[l->n_operands++] = 0;
    return 0;
}

static int
add_label(builder *b, int in_output, uint8_t label)
{
    cc_einsum_labels *l = b->l;
    if (in_output) {
        if (cc_grow((void **)&l->out_axes, &b->out_cap, (size_t)l->n_out + 1, 1) < 0) {
            return -1;
        }
        l->out_axes[l->n_out++] = label;
        return 0;
    }
    if (cc_grow((void **)&l->in_axes, &b->in_cap, b->n_in + 1, 1) < 0) {
        return -1;
    }
    l->in_axes[b->n_in++] = label;
    l->n_axes[l->n_operands - 1]++;
    return 0;
}

// The single "->" of s (rc splits at "->" and needs exactly two parts), or NULL with
// CC_E_PARSE_EINSUM_STRING_NO_ARROW.
static const char *
find_arrow(const char *s)
{
    const char *a = strstr(s, "->");
    if (a == NULL || strstr(a + 2, "->") != NULL) {
        return cc_fail_null(CC_E_PARSE_EINSUM_STRING_NO_ARROW,
                            "Einsum string doesn't have arrow (exactly one \"->\"): '%s'", s);
    }
    return a;
}

// Decodes one UTF-8 character at s (before end) into *cp; its length, or 0 if malformed.
static size_t
decode_utf8(const char *s, const char *end, uint32_t *cp)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t avail = (size_t)(end - s);
    size_t len;
    uint32_t c;
    if (u[0] < 0x80) {
        *cp = u[0];
        return 1;
    } else if ((u[0] & 0xE0) == 0xC0) {
        len = 2;
        c = u[0] & 0x1F;
    } else if ((u[0] & 0xF0) == 0xE0) {
        len = 3;
        c = u[0] & 0x0F;
    } else if ((u[0] & 0xF8) == 0xF0) {
        len = 4;
        c = u[0] & 0x07;
    } else {
        return 0;
    }
    if (len > avail) {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if ((u[i] & 0xC0) != 0x80) {
            return 0;
        }
        c = (c << 6) | (u[i] & 0x3F);
    }
    *cp = c;
    return len;
}

static int
char_label(uint32_t cp)
{
    if (cp >= 'a' && cp <= 'z') {
        return (int)(cp - 'a');
    }
    if (cp >= 'A' && cp <= 'Z') {
        return 26 + (int)(cp - 'A');
    }
    if (cp >= GREEK_FIRST && cp <= GREEK_LAST) {
        return 52 + (int)(cp - GREEK_FIRST);
    }
    return -1;
}

// Labels of the characters in [p, end), spaces skipped.
static int
parse_chars(builder *b, const char *s, const char *p, const char *end, int in_output)
{
    while (p < end) {
        if (*p == ' ') {
            p++;
            continue;
        }
        uint32_t cp = 0;
        size_t len = decode_utf8(p, end, &cp);
        int label = len ? char_label(cp) : -1;
        if (label < 0) {
            return cc_fail(CC_E_PARSE_EINSUM_STRING_INVALID,
                           "Einsum string invalid '%s': character '%.*s' is not an axis letter", s,
                           (int)(len ? len : 1), p);
        }
        if (add_label(b, in_output, (uint8_t)label) < 0) {
            return -1;
        }
        p += len;
    }
    return 0;
}

int
cc_einsum_parse_string(const char *s, cc_einsum_labels *l)
{
    cc_einsum_labels_init(l);
    const char *arrow = find_arrow(s);
    if (arrow == NULL) {
        return -1;
    }
    builder b = {l, 0, 0, 0, 0};
    const char *p = s;
    for (;;) {
        const char *comma = memchr(p, ',', (size_t)(arrow - p));
        const char *stop = comma != NULL ? comma : arrow;
        if (start_operand(&b) < 0 || parse_chars(&b, s, p, stop, 0) < 0) {
            cc_einsum_labels_clear(l);
            return -1;
        }
        if (comma == NULL) {
            break;
        }
        p = comma + 1;
    }
    if (parse_chars(&b, s, arrow + 2, arrow + strlen(arrow), 1) < 0) {
        cc_einsum_labels_clear(l);
        return -1;
    }
    return 0;
}

// Words of a fancy string, numbered by first appearance.
typedef struct {
    const char *start[256];
    size_t len[256];
    int n;
} word_table;

static int
is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static int
parse_words(builder *b, word_table *w, const char *s, const char *p, const char *end, int in_output)
{
    while (p < end) {
        if (is_space(*p)) {
            p++;
            continue;
        }
        const char *q = p;
        while (q < end && !is_space(*q)) {
            q++;
        }
        size_t len = (size_t)(q - p);
        int label = -1;
        for (int i = 0; i < w->n; i++) {
            if (w->len[i] == len && memcmp(w->start[i], p, len) == 0) {
                label = i;
                break;
            }
        }
        if (label < 0) {
            if (w->n == 256) {
                return cc_fail(CC_E_PARSE_EINSUM_STRING_INVALID,
                               "Einsum string invalid '%s': more than 256 distinct axis names", s);
            }
            label = w->n++;
            w->start[label] = p;
            w->len[label] = len;
        }
        if (add_label(b, in_output, (uint8_t)label) < 0) {
            return -1;
        }
        p = q;
    }
    return 0;
}

int
cc_einsum_parse_fancy(const char *s, cc_einsum_labels *l)
{
    cc_einsum_labels_init(l);
    const char *arrow = find_arrow(s);
    if (arrow == NULL) {
        return -1;
    }
    builder b = {l, 0, 0, 0, 0};
    word_table w;
    w.n = 0;
    const char *p = s;
    for (;;) {
        const char *comma = memchr(p, ',', (size_t)(arrow - p));
        const char *stop = comma != NULL ? comma : arrow;
        if (start_operand(&b) < 0 || parse_words(&b, &w, s, p, stop, 0) < 0) {
            cc_einsum_labels_clear(l);
            return -1;
        }
        if (comma == NULL) {
            break;
        }
        p = comma + 1;
    }
    if (parse_words(&b, &w, s, arrow + 2, arrow + strlen(arrow), 1) < 0) {
        cc_einsum_labels_clear(l);
        return -1;
    }
    return 0;
}

const char *
cc_einsum_label_char(uint8_t label, char buf[4])
{
    if (label < 26) {
        buf[0] = (char)('a' + label);
        buf[1] = '\0';
    } else if (label < 52) {
        buf[0] = (char)('A' + label - 26);
        buf[1] = '\0';
    } else if (label < N_LABEL_CHARS) {
        uint32_t cp = GREEK_FIRST + (uint32_t)(label - 52);
        buf[0] = (char)(0xC0 | (cp >> 6));
        buf[1] = (char)(0x80 | (cp & 0x3F));
        buf[2] = '\0';
    } else {
        return NULL;
    }
    return buf;
}

static int
append_labels(cc_str *s, const uint8_t *labels, int n)
{
    for (int k = 0; k < n; k++) {
        char buf[4];
        if (cc_einsum_label_char(labels[k], buf) == NULL) {
            return cc_fail(CC_E_PY_VALUE, "einsum label %d has no letter (labels 0..%d do)",
                           labels[k], N_LABEL_CHARS - 1);
        }
        if (cc_str_append(s, buf) < 0) {
            return -1;
        }
    }
    return 0;
}

char *
cc_einsum_to_string(const cc_node *n)
{
    cc_str s;
    cc_str_init(&s);
    const uint8_t *axes = n->u.einsum.in_axes;
    int rc = 0;
    for (int i = 0; rc == 0 && i < n->n_children; i++) {
        rc = i ? cc_str_append(&s, ",") : 0;
        rc = rc < 0 ? rc : append_labels(&s, axes, n->children[i]->ndim);
        axes += n->children[i]->ndim;
    }
    rc = rc < 0 ? rc : cc_str_append(&s, "->");
    rc = rc < 0 ? rc : append_labels(&s, n->u.einsum.out_axes, n->ndim);
    if (rc < 0) {
        cc_str_clear(&s);
        return NULL;
    }
    return cc_str_take(&s);
}
