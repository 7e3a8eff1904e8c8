// rc's automatic names: each kind is an infix, infix-ambiguous, postfix or function
// operator (or none, for leaves), as its name_op says (nodes/kind.h); a child's name is
// parenthesised where rc's precedence rule says so, and multi-child names shorten long child names.
#include "nodes/autoname.h"

#include <string.h>

#include "nodes/kind.h"
#include "util/str.h"

#define CHILD_NAME_MAX_LEN 100

// rc's do_add_parenthesis_to_name.
static int
needs_parens(const cc_name_op *parent, const cc_node *child)
{
    const cc_name_op *c = cc_kind_ops_of(child->kind)->name_op;
    if (parent->cls == CC_NAME_NONE || parent->cls == CC_NAME_FUNCTION) {
        return 0;
    }
    if (c->cls == CC_NAME_NONE || c->cls == CC_NAME_FUNCTION) {
        return 0;
    }
    if (parent->cls == CC_NAME_POSTFIX) {
        return c->cls != CC_NAME_POSTFIX;
    }
    if (c->cls == CC_NAME_POSTFIX) {
        return 0;
    }
    if (parent->cls == CC_NAME_INFIX_AMBIGUOUS || c->cls == CC_NAME_INFIX_AMBIGUOUS) {
        return 1;
    }
    return parent->priority > c->priority;
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
append_child(cc_str *s, const cc_name_op *parent, const cc_node *child, int shorten)
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
    const cc_name_op *op = cc_kind_ops_of(n->kind)->name_op;
    if (op->cls == CC_NAME_NONE) {
        return 0;
    }
    // A postfix name reads its first child only (a DiscreteVar's group takes no part).
    int named = op->cls == CC_NAME_POSTFIX ? (n->n_children > 0) : n->n_children;
    for (int i = 0; i < named; i++) {
        if (n->children[i]->name == NULL) {
            return 0;
        }
    }
    cc_str s;
    cc_str_init(&s);
    int rc = 0;
    switch (op->cls) {
    case CC_NAME_POSTFIX:
        rc = append_child(&s, op, n->children[0], 0);
        rc = rc < 0 ? rc : cc_str_append(&s, op->text);
        break;
    case CC_NAME_FUNCTION: {
        int first = op->first_arg;
        rc = cc_str_append(&s, op->function_name(n));
        rc = rc < 0 ? rc : cc_str_append(&s, "(");
        for (int i = first; rc == 0 && i < n->n_children; i++) {
            rc = i > first ? cc_str_append(&s, ", ") : 0;
            rc = rc < 0 || op->arg_label == NULL ? rc : op->arg_label(n, i, &s);
            rc = rc < 0 ? rc : append_child(&s, op, n->children[i], !op->full_arg_names);
        }
        rc = rc < 0 ? rc : cc_str_append(&s, ")");
        break;
    }
    default:
        for (int i = 0; rc == 0 && i < n->n_children; i++) {
            rc = i ? cc_str_append(&s, op->text) : 0;
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
