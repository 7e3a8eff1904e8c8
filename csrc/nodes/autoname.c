// rc's automatic names: each kind is an infix, infix-ambiguous, postfix or function
// operator (or none, for leaves); a child's name is parenthesised where rc's precedence
// rule says so, and multi-child names shorten long child names.
#include "nodes/autoname.h"

#include <string.h>

#include "nodes/gf.h"
#include "util/str.h"

#define CHILD_NAME_MAX_LEN 100

typedef enum {
    OP_NONE,
    OP_INFIX,
    OP_INFIX_AMBIGUOUS,
    OP_POSTFIX,
    OP_FUNCTION,
} op_class;

typedef struct {
    op_class cls;
    int priority;          // OP_INFIX only
    const char *separator; // OP_INFIX, OP_INFIX_AMBIGUOUS
    const char *suffix;    // OP_POSTFIX
} op_info;

static op_info
kind_op(cc_kind kind)
{
    switch (kind) {
    case CC_KIND_ADD:
        return (op_info){OP_INFIX, 0, " + ", NULL};
    case CC_KIND_EINSUM:
        return (op_info){OP_INFIX, 1, " * ", NULL};
    case CC_KIND_CONCAT:
        return (op_info){OP_INFIX_AMBIGUOUS, 0, " ++ ", NULL};
    case CC_KIND_REARRANGE:
        return (op_info){OP_POSTFIX, 0, NULL, " rearrange"};
    case CC_KIND_INDEX:
        return (op_info){OP_POSTFIX, 0, NULL, " idx"};
    case CC_KIND_TAG:
        return (op_info){OP_POSTFIX, 0, NULL, " tag"};
    case CC_KIND_SET_SYMBOLIC_SHAPE:
        return (op_info){OP_POSTFIX, 0, NULL, " set_shape"};
    case CC_KIND_GENERAL_FUNCTION:
    case CC_KIND_MODULE:
        return (op_info){OP_FUNCTION, 0, NULL, NULL};
    default:
        return (op_info){OP_NONE, 0, NULL, NULL};
    }
}

// rc's do_add_parenthesis_to_name.
static int
needs_parens(op_info parent, const cc_node *child)
{
    op_info c = kind_op(child->kind);
    if (parent.cls == OP_NONE || parent.cls == OP_FUNCTION) {
        return 0;
    }
    if (c.cls == OP_NONE || c.cls == OP_FUNCTION) {
        return 0;
    }
    if (parent.cls == OP_POSTFIX) {
        return c.cls != OP_POSTFIX;
    }
    if (c.cls == OP_POSTFIX) {
        return 0;
    }
    if (parent.cls == OP_INFIX_AMBIGUOUS || c.cls == OP_INFIX_AMBIGUOUS) {
        return 1;
    }
    return parent.priority > c.priority;
}

// Appends text, cut to CHILD_NAME_MAX_LEN bytes plus "..." when longer (rc's
// shorten_child_name). rc cuts at a byte offset; the cut here backs off to a UTF-8
// character boundary so the name stays valid text.
static int
append_shortened(cc_str *s, const char *text, size_t len)
{
    if (len <= CHILD_NAME_MAX_LEN) {
        return cc_str_append_n(s, text, len);
    }
    size_t cut = CHILD_NAME_MAX_LEN;
    while (cut > 0 && ((unsigned char)text[cut] & 0xC0) == 0x80) {
        cut--;
    }
    if (cc_str_append_n(s, text, cut) < 0) {
        return -1;
    }
    return cc_str_append(s, "...");
}

// Child name, parenthesised if needed, shortened when shorten is set.
static int
append_child(cc_str *s, op_info parent, const cc_node *child, int shorten)
{
    if (!needs_parens(parent, child)) {
        size_t len = strlen(child->name);
        return shorten ? append_shortened(s, child->name, len)
                       : cc_str_append_n(s, child->name, len);
    }
    cc_str wrapped;
    cc_str_init(&wrapped);
    int rc = cc_str_appendf(&wrapped, "(%s)", child->name);
    if (rc == 0) {
        rc = shorten ? append_shortened(s, wrapped.data, wrapped.len)
                     : cc_str_append_n(s, wrapped.data, wrapped.len);
    }
    cc_str_clear(&wrapped);
    return rc;
}

int
cc_autoname(const cc_node *n, char **out)
{
    *out = NULL;
    op_info op = kind_op(n->kind);
    if (op.cls == OP_NONE) {
        return 0;
    }
    for (int i = 0; i < n->n_children; i++) {
        if (n->children[i]->name == NULL) {
            return 0;
        }
    }
    cc_str s;
    cc_str_init(&s);
    int rc = 0;
    switch (op.cls) {
    case OP_POSTFIX:
        rc = append_child(&s, op, n->children[0], 0);
        rc = rc < 0 ? rc : cc_str_append(&s, op.suffix);
        break;
    case OP_FUNCTION: {
        // A Module is "<body name>(<arg names>)", its child names never shortened.
        int is_module = n->kind == CC_KIND_MODULE;
        int first = is_module ? 1 : 0;
        rc = cc_str_append(&s, is_module ? n->children[0]->name : n->u.gf.spec->name);
        rc = rc < 0 ? rc : cc_str_append(&s, "(");
        for (int i = first; rc == 0 && i < n->n_children; i++) {
            rc = i > first ? cc_str_append(&s, ", ") : 0;
            rc = rc < 0 ? rc : append_child(&s, op, n->children[i], !is_module);
        }
        rc = rc < 0 ? rc : cc_str_append(&s, ")");
        break;
    }
    default:
        for (int i = 0; rc == 0 && i < n->n_children; i++) {
            rc = i ? cc_str_append(&s, op.separator) : 0;
            rc = rc < 0 ? rc : append_child(&s, op, n->children[i], 1);
        }
        break;
    }
    if (rc < 0) {
        cc_str_clear(&s);
        return -1;
    }
    // Zero children (an empty Add or Einsum) give rc's name "".
    *out = cc_str_take(&s);
    return *out == NULL ? -1 : 0;
}
