// Matcher: rc's predicate on one node, with its constructors (true_matcher, regex, types,
// match_any_found, ...), combinators and get_first. Matching is match/matcher.c.
#include "python/py_match.h"

#include "util/hmap.h"
#include "util/vec.h"

#define MATCHER(o) CC_PY_MATCHER(o)
#define IMATCHER(o) CC_PY_IMATCHER(o)

static PyObject *
matcher_of_tuple(PyObject *args, Py_ssize_t from, int kind_all)
{
    cc_matcher **ms;
    int n;
    if (cc_py_matchers_from_tuple(args, from, &ms, &n) < 0) {
        return NULL;
    }
    cc_matcher *m = kind_all ? cc_matcher_all(n, ms) : cc_matcher_any(n, ms);
    cc_py_matchers_free(ms, n);
    return cc_py_matcher_wrap(m);
}

static PyObject *
matcher_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    (void)type;
    if (kwds != NULL && PyDict_GET_SIZE(kwds) > 0) {
        PyErr_SetString(PyExc_TypeError, "Matcher() takes no keyword arguments");
        return NULL;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(args);
    if (n == 0) {
        return cc_py_matcher_wrap(cc_matcher_always(0));
    }
    if (n == 1) {
        cc_matcher *m = cc_py_matcher_arg(PyTuple_GET_ITEM(args, 0));
        return m == NULL ? NULL : cc_py_matcher_wrap(m);
    }
    return matcher_of_tuple(args, 0, 0);
}

static void
matcher_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    cc_matcher_decref(MATCHER(self));
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyObject *
matcher_call_one(PyObject *self, PyObject *circuit)
{
    cc_node *n;
    if (!cc_py_node_check(circuit, "the argument of a Matcher call", &n)) {
        return NULL;
    }
    int r = 0;
    if (cc_matcher_match(MATCHER(self), n, &r) < 0) {
        return cc_py_raise();
    }
    return PyBool_FromLong(r);
}

static PyObject *
matcher_tp_call(PyObject *self, PyObject *args, PyObject *kwds)
{
    PyObject *circuit;
    static char *kwlist[] = {"circuit", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O:Matcher.__call__", kwlist, &circuit)) {
        return NULL;
    }
    return matcher_call_one(self, circuit);
}

static PyObject *
matcher_debug_print(PyObject *self, PyObject *unused)
{
    (void)unused;
    return cc_py_matcher_str(MATCHER(self), "%s");
}

static PyObject *
matcher_repr(PyObject *self)
{
    return cc_py_matcher_str(MATCHER(self), "Matcher(%s)");
}

// rc's get_first: a pre-order walk over distinct nodes that does not enter a matching node but
// keeps visiting its siblings, returning the last match.
static PyObject *
matcher_get_first(PyObject *self, PyObject *circuit)
{
    cc_node *root;
    if (!cc_py_node_check(circuit, "circuit", &root)) {
        return NULL;
    }
    cc_hmap seen;
    cc_ptrvec stack;
    cc_hmap_init(&seen);
    cc_ptrvec_init(&stack);
    cc_node *last = NULL;
    PyObject *out = NULL;
    if (cc_ptrvec_push(&stack, root) < 0) {
        cc_py_raise();
        goto done;
    }
    while (stack.len > 0) {
        cc_node *n = stack.items[--stack.len];
        size_t before = seen.len;
        if (cc_hmap_put(&seen, n->hash, n) < 0) {
            cc_py_raise();
            goto done;
        }
        if (seen.len == before) {
            continue;
        }
        int r = 0;
        if (cc_matcher_match(MATCHER(self), n, &r) < 0) {
            cc_py_raise();
            goto done;
        }
        if (r) {
            last = n;
            continue;
        }
        for (int i = n->n_children - 1; i >= 0; i--) {
            if (cc_ptrvec_push(&stack, n->children[i]) < 0) {
                cc_py_raise();
                goto done;
            }
        }
    }
    out = last == NULL ? Py_NewRef(Py_None) : cc_py_wrap(last);
done:
    cc_hmap_clear(&seen);
    cc_ptrvec_clear(&stack);
    return out;
}

static PyObject *
matcher_true(PyObject *cls, PyObject *unused)
{
    (void)cls;
    (void)unused;
    return cc_py_matcher_wrap(cc_matcher_always(1));
}

static PyObject *
matcher_false(PyObject *cls, PyObject *unused)
{
    (void)cls;
    (void)unused;
    return cc_py_matcher_wrap(cc_matcher_always(0));
}

static PyObject *
matcher_regex(PyObject *cls, PyObject *args, PyObject *kwds)
{
    (void)cls;
    PyObject *r = PyObject_Call((PyObject *)cc_py_regex_type, args, kwds);
    if (r == NULL) {
        return NULL;
    }
    cc_matcher *m = cc_py_regex_matcher(r);
    Py_DECREF(r);
    return m == NULL ? NULL : cc_py_matcher_wrap(m);
}

// A callback matcher asking a fresh BoundAnyFound of finder (rc's match_any_found).
static PyObject *
any_found_matcher_of(cc_imatcher *finder)
{
    PyObject *finder_obj = cc_py_imatcher_wrap(finder);
    if (finder_obj == NULL) {
        return NULL;
    }
    PyObject *bound = PyObject_CallFunctionObjArgs((PyObject *)cc_py_bound_any_found_type, Py_None,
                                                   finder_obj, NULL);
    Py_DECREF(finder_obj);
    if (bound == NULL) {
        return NULL;
    }
    cc_matcher *m = cc_py_bound_any_found_matcher(bound);
    Py_DECREF(bound);
    return m == NULL ? NULL : cc_py_matcher_wrap(m);
}

static PyObject *
matcher_match_any_found(PyObject *cls, PyObject *finder)
{
    (void)cls;
    cc_imatcher *im = cc_py_imatcher_arg(finder);
    return im == NULL ? NULL : any_found_matcher_of(im);
}

static PyObject *
matcher_match_any_child_found(PyObject *cls, PyObject *finder)
{
    (void)cls;
    cc_imatcher *im = cc_py_imatcher_arg(finder);
    if (im == NULL) {
        return NULL;
    }
    cc_matcher *never = cc_matcher_always(0);
    cc_imatcher *below = never == NULL ? NULL : cc_imatcher_restrict(im, 0, 1, 1, 0, 0, never);
    cc_matcher_decref(never);
    cc_imatcher_decref(im);
    if (below == NULL) {
        return cc_py_raise();
    }
    return any_found_matcher_of(below);
}

static PyObject *
matcher_types(PyObject *cls, PyObject *args)
{
    (void)cls;
    uint64_t mask = 0;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(args); i++) {
        PyObject *t = PyTuple_GET_ITEM(args, i);
        int k = PyType_Check(t) ? cc_py_kind_of_type(t) : -1;
        if (k < 0) {
            if (PyType_Check(t)) {
                return cc_py_not_a_node_type(t);
            }
            return PyErr_Format(PyExc_TypeError, "Matcher.types takes node types, not %.100s",
                                Py_TYPE(t)->tp_name);
        }
        mask |= (uint64_t)1 << k;
    }
    return cc_py_matcher_wrap(cc_matcher_types(mask));
}

static PyObject *
matcher_circuits(PyObject *cls, PyObject *args)
{
    (void)cls;
    cc_node **nodes;
    Py_ssize_t n;
    if (cc_py_nodes_from_seq(args, "an argument of Matcher.circuits", &nodes, &n) < 0) {
        return NULL;
    }
    PyObject *out = cc_py_matcher_wrap(cc_matcher_circuits((int)n, nodes));
    PyMem_Free(nodes);
    return out;
}

static PyObject *
matcher_all(PyObject *cls, PyObject *args)
{
    (void)cls;
    return matcher_of_tuple(args, 0, 1);
}

static PyObject *
matcher_any(PyObject *cls, PyObject *args)
{
    (void)cls;
    return matcher_of_tuple(args, 0, 0);
}

static PyObject *
matcher_new_not(PyObject *self, PyObject *unused)
{
    (void)unused;
    return cc_py_matcher_wrap(cc_matcher_not(MATCHER(self)));
}

// self followed by the converted items of args, combined with any / all.
static PyObject *
matcher_combine(PyObject *self, PyObject *args, int kind_all)
{
    PyObject *all_args = PyTuple_New(PyTuple_GET_SIZE(args) + 1);
    if (all_args == NULL) {
        return NULL;
    }
    PyTuple_SET_ITEM(all_args, 0, Py_NewRef(self));
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(args); i++) {
        PyTuple_SET_ITEM(all_args, i + 1, Py_NewRef(PyTuple_GET_ITEM(args, i)));
    }
    PyObject *out = matcher_of_tuple(all_args, 0, kind_all);
    Py_DECREF(all_args);
    return out;
}

static PyObject *
matcher_new_and(PyObject *self, PyObject *args)
{
    return matcher_combine(self, args, 1);
}

static PyObject *
matcher_new_or(PyObject *self, PyObject *args)
{
    return matcher_combine(self, args, 0);
}

static PyObject *
matcher_to_iterative(PyObject *self, PyObject *unused)
{
    (void)unused;
    cc_imatcher *im = cc_imatcher_match(MATCHER(self));
    return cc_py_imatcher_wrap(im);
}

// The circuits of a set (or any iterable) as borrowed nodes; *out freed with PyMem_Free.
static int
nodes_of_iterable(PyObject *matched, PyObject **list, cc_node ***out, Py_ssize_t *n)
{
    *list = PySequence_List(matched);
    if (*list == NULL) {
        return -1;
    }
    if (cc_py_nodes_from_seq(*list, "an item of matched", out, n) < 0) {
        Py_CLEAR(*list);
        return -1;
    }
    return 0;
}

PyObject *
cc_py_validate_matched(PyObject *self, PyObject *matched)
{
    PyObject *list;
    cc_node **nodes;
    Py_ssize_t n;
    if (nodes_of_iterable(matched, &list, &nodes, &n) < 0) {
        return NULL;
    }
    int rc = PyObject_TypeCheck(self, cc_py_matcher_type)
                 ? cc_matcher_validate(MATCHER(self), nodes, n)
                 : cc_imatcher_validate(IMATCHER(self), nodes, n);
    PyMem_Free(nodes);
    Py_DECREF(list);
    if (rc < 0) {
        return cc_py_raise();
    }
    Py_RETURN_NONE;
}

// Binary operators: a | b and a & b with a Matcher on either side (reversed: a plain
// MatcherIn on the left). An IterativeMatcher operand is left to IterativeMatcher's slot.
static PyObject *
matcher_binary(PyObject *a, PyObject *b, int kind_all)
{
    if (PyObject_TypeCheck(a, cc_py_imatcher_type) || PyObject_TypeCheck(b, cc_py_imatcher_type)) {
        Py_RETURN_NOTIMPLEMENTED;
    }
    cc_matcher *ms[2];
    ms[0] = cc_py_matcher_arg(a);
    if (ms[0] == NULL) {
        return NULL;
    }
    ms[1] = cc_py_matcher_arg(b);
    if (ms[1] == NULL) {
        cc_matcher_decref(ms[0]);
        return NULL;
    }
    cc_matcher *m = kind_all ? cc_matcher_all(2, ms) : cc_matcher_any(2, ms);
    cc_matcher_decref(ms[0]);
    cc_matcher_decref(ms[1]);
    return cc_py_matcher_wrap(m);
}

static PyObject *
matcher_or(PyObject *a, PyObject *b)
{
    return matcher_binary(a, b, 0);
}

static PyObject *
matcher_and(PyObject *a, PyObject *b)
{
    return matcher_binary(a, b, 1);
}

static PyObject *
matcher_invert(PyObject *self)
{
    return cc_py_matcher_wrap(cc_matcher_not(MATCHER(self)));
}

static int
matcher_bool(PyObject *self)
{
    (void)self;
    PyErr_SetString(PyExc_TypeError, "Matcher was coerced to a boolean. Did you mean to use & or "
                                     "| instead of \"and\" or \"or\"?");
    return -1;
}

static PyObject *
matcher_richcompare(PyObject *self, PyObject *other, int op)
{
    if (!PyObject_TypeCheck(other, cc_py_matcher_type)) {
        Py_RETURN_NOTIMPLEMENTED;
    }
    return cc_py_hash_richcompare(MATCHER(self)->hash, MATCHER(other)->hash, op);
}

static Py_hash_t
matcher_hash(PyObject *self)
{
    return cc_py_hash_of(MATCHER(self)->hash);
}

PyMethodDef cc_py_matcher_methods[] = {
    {"call", matcher_call_one, METH_O, "call(circuit) -> whether the root matches."},
    {"debug_print_to_str", matcher_debug_print, METH_NOARGS, "A readable form of the matcher."},
    {"get_first", matcher_get_first, METH_O,
     "get_first(circuit) -> a matching node of a pre-order walk (rc's: the last one hit, "
     "matches are not entered), or None."},
    {"true_matcher", matcher_true, METH_NOARGS | METH_STATIC, "A matcher that always matches."},
    {"false_matcher", matcher_false, METH_NOARGS | METH_STATIC, "A matcher that never matches."},
    {"regex", (PyCFunction)(void (*)(void))matcher_regex,
     METH_VARARGS | METH_KEYWORDS | METH_STATIC,
     "regex(pattern, escape_dot=True) -> Matcher(Regex(pattern, escape_dot))."},
    {"match_any_found", matcher_match_any_found, METH_O | METH_STATIC,
     "match_any_found(finder): matches a node when finder finds something in its subtree."},
    {"match_any_child_found", matcher_match_any_child_found, METH_O | METH_STATIC,
     "match_any_child_found(finder): as match_any_found, from depth 1."},
    {"types", matcher_types, METH_VARARGS | METH_STATIC, "types(*types): nodes of these kinds."},
    {"circuits", matcher_circuits, METH_VARARGS | METH_STATIC,
     "circuits(*circuits): nodes equal to one of these."},
    {"all", matcher_all, METH_VARARGS | METH_STATIC, "all(*matchers): short-circuit and."},
    {"any", matcher_any, METH_VARARGS | METH_STATIC, "any(*matchers): short-circuit or."},
    {"new_not", matcher_new_not, METH_NOARGS, "The negation."},
    {"new_and", matcher_new_and, METH_VARARGS, "new_and(*others): self and all others."},
    {"new_or", matcher_new_or, METH_VARARGS, "new_or(*others): self or any other."},
    {"to_iterative_matcher", matcher_to_iterative, METH_NOARGS,
     "The IterativeMatcher that applies this matcher at every node."},
    {"validate_matched", cc_py_validate_matched, METH_O,
     "validate_matched(matched): fancy validation of a set of found circuits."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot matcher_slots[] = {
    {Py_tp_new, matcher_new},
    {Py_tp_dealloc, matcher_dealloc},
    {Py_tp_call, matcher_tp_call},
    {Py_tp_repr, matcher_repr},
    {Py_tp_richcompare, matcher_richcompare},
    {Py_tp_hash, matcher_hash},
    {Py_nb_or, matcher_or},
    {Py_nb_and, matcher_and},
    {Py_nb_invert, matcher_invert},
    {Py_nb_bool, matcher_bool},
    {Py_tp_doc, "Matcher(*inputs): a predicate on one node. No input never matches; several "
                "match when any does. Inputs: bool, name, set of names, node type(s), "
                "circuit(s), Regex, BoundAnyFound, Matcher or a callable Circuit -> bool."},
    {0, NULL},
};

PyType_Spec cc_py_matcher_spec = {
    .name = "circuits.Matcher",
    .basicsize = sizeof(cc_py_matcher_obj),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = matcher_slots,
};
