// IterativeMatcher: rc's traversal states, with their constructors (term, any, all, new_chain,
// new_func, ...) and the builders (chain, children_matcher, module_arg_matcher, ...) that
// Matcher has too. The states and their steps are match/iterative.c.
#include "python/py_match.h"

#include "util/vec.h"

#define IMATCHER(o) CC_PY_IMATCHER(o)

static PyObject *
imatcher_of_tuple(PyObject *args, int kind_all)
{
    cc_imatcher **ms;
    int n;
    if (cc_py_imatchers_from_seq(args, &ms, &n) < 0) {
        return NULL;
    }
    cc_imatcher *m = kind_all ? cc_imatcher_all(n, ms) : cc_imatcher_any(n, ms);
    cc_py_imatchers_free(ms, n);
    return cc_py_imatcher_wrap(m);
}

static PyObject *
imatcher_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    (void)type;
    if (kwds != NULL && PyDict_GET_SIZE(kwds) > 0) {
        PyErr_SetString(PyExc_TypeError, "IterativeMatcher() takes no keyword arguments");
        return NULL;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(args);
    if (n == 0) {
        return cc_py_imatcher_wrap(cc_imatcher_term(0));
    }
    if (n == 1) {
        cc_imatcher *m = cc_py_imatcher_arg(PyTuple_GET_ITEM(args, 0));
        return m == NULL ? NULL : cc_py_imatcher_wrap(m);
    }
    return imatcher_of_tuple(args, 0);
}

static void
imatcher_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    cc_imatcher_decref(IMATCHER(self));
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyObject *
imatcher_match_iterate(PyObject *self, PyObject *circuit)
{
    cc_node *n;
    if (!cc_py_node_check(circuit, "circuit", &n)) {
        return NULL;
    }
    cc_step s;
    if (cc_imatcher_step(IMATCHER(self), n, &s) < 0) {
        return cc_py_raise();
    }
    PyObject *out = cc_py_results_of_step(&s);
    cc_step_clear(&s);
    return out;
}

static PyObject *
imatcher_debug_print(PyObject *self, PyObject *unused)
{
    (void)unused;
    return cc_py_imatcher_str(IMATCHER(self), "%s");
}

static PyObject *
imatcher_repr(PyObject *self)
{
    return cc_py_imatcher_str(IMATCHER(self), "IterativeMatcher(%s)");
}

static PyObject *
imatcher_noop(PyObject *cls, PyObject *unused)
{
    (void)cls;
    (void)unused;
    cc_matcher *t = cc_matcher_always(1);
    if (t == NULL) {
        return cc_py_raise();
    }
    cc_imatcher *m = cc_imatcher_match(t);
    cc_matcher_decref(t);
    return cc_py_imatcher_wrap(m);
}

static PyObject *
imatcher_term(PyObject *cls, PyObject *args, PyObject *kwds)
{
    (void)cls;
    static char *kwlist[] = {"match_next", NULL};
    int match_next = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|p:term", kwlist, &match_next)) {
        return NULL;
    }
    return cc_py_imatcher_wrap(cc_imatcher_term(match_next));
}

static PyObject *
imatcher_any(PyObject *cls, PyObject *args)
{
    (void)cls;
    return imatcher_of_tuple(args, 0);
}

static PyObject *
imatcher_all(PyObject *cls, PyObject *args)
{
    (void)cls;
    return imatcher_of_tuple(args, 1);
}

// must_be_sub from keywords (the only keyword these take). -1 with an exception.
static int
must_be_sub_arg(PyObject *kwds, const char *fname, int *out)
{
    *out = 0;
    if (kwds == NULL) {
        return 0;
    }
    PyObject *key;
    PyObject *value;
    Py_ssize_t pos = 0;
    while (PyDict_Next(kwds, &pos, &key, &value)) {
        if (!PyUnicode_Check(key) || PyUnicode_CompareWithASCIIString(key, "must_be_sub") != 0) {
            PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument %R", fname, key);
            return -1;
        }
        int t = PyObject_IsTrue(value);
        if (t < 0) {
            return -1;
        }
        *out = t;
    }
    return 0;
}

// Chains from Python sequences: chains[c] is a sequence of IterativeMatcherIn, preceded by
// first when first is not NULL.
static PyObject *
build_chains(PyObject *first, PyObject *chains, int must_be_sub)
{
    Py_ssize_t n_chains = PyTuple_GET_SIZE(chains);
    int *lens = PyMem_Calloc((size_t)(n_chains > 0 ? n_chains : 1), sizeof(int));
    cc_ptrvec items;
    cc_ptrvec_init(&items);
    PyObject *out = NULL;
    if (lens == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t c = 0; c < n_chains; c++) {
        PyObject *seq = PyTuple_GET_ITEM(chains, c);
        if (PyUnicode_Check(seq)) {
            PyErr_SetString(PyExc_TypeError, "a chain is a sequence of matchers, not a str");
            goto done;
        }
        cc_imatcher **ms;
        int n;
        if (cc_py_imatchers_from_seq(seq, &ms, &n) < 0) {
            goto done;
        }
        if (first != NULL) {
            cc_imatcher *f = cc_py_imatcher_arg(first);
            if (f == NULL || cc_ptrvec_push(&items, f) < 0) {
                cc_imatcher_decref(f);
                cc_py_imatchers_free(ms, n);
                if (!PyErr_Occurred()) {
                    cc_py_raise();
                }
                goto done;
            }
            lens[c] = 1;
        }
        for (int i = 0; i < n; i++) {
            if (cc_ptrvec_push(&items, ms[i]) < 0) {
                for (int j = i; j < n; j++) {
                    cc_imatcher_decref(ms[j]);
                }
                PyMem_Free(ms);
                cc_py_raise();
                goto done;
            }
        }
        PyMem_Free(ms);
        lens[c] += n;
    }
    out = cc_py_imatcher_wrap(
        cc_imatcher_chains((int)n_chains, lens, (cc_imatcher *const *)items.items, must_be_sub));
done:
    for (size_t i = 0; i < items.len; i++) {
        cc_imatcher_decref(items.items[i]);
    }
    cc_ptrvec_clear(&items);
    PyMem_Free(lens);
    return out;
}

// first followed by the items of rest, as one chain.
static PyObject *
build_one_chain(PyObject *first, PyObject *rest, int must_be_sub)
{
    PyObject *chains = PyTuple_Pack(1, rest);
    if (chains == NULL) {
        return NULL;
    }
    PyObject *out = build_chains(first, chains, must_be_sub);
    Py_DECREF(chains);
    return out;
}

static PyObject *
imatcher_new_chain(PyObject *cls, PyObject *args, PyObject *kwds)
{
    (void)cls;
    int sub;
    if (must_be_sub_arg(kwds, "new_chain", &sub) < 0) {
        return NULL;
    }
    if (PyTuple_GET_SIZE(args) < 1) {
        PyErr_SetString(PyExc_TypeError, "new_chain() needs a first matcher");
        return NULL;
    }
    PyObject *rest = PyTuple_GetSlice(args, 1, PyTuple_GET_SIZE(args));
    if (rest == NULL) {
        return NULL;
    }
    PyObject *out = build_one_chain(PyTuple_GET_ITEM(args, 0), rest, sub);
    Py_DECREF(rest);
    return out;
}

static PyObject *
imatcher_new_chain_many(PyObject *cls, PyObject *args, PyObject *kwds)
{
    (void)cls;
    int sub;
    if (must_be_sub_arg(kwds, "new_chain_many", &sub) < 0) {
        return NULL;
    }
    return build_chains(NULL, args, sub);
}

static PyObject *
self_chain(PyObject *self, PyObject *args, PyObject *kwds)
{
    int sub;
    if (must_be_sub_arg(kwds, "chain", &sub) < 0) {
        return NULL;
    }
    return build_one_chain(self, args, sub);
}

static PyObject *
self_chain_many(PyObject *self, PyObject *args, PyObject *kwds)
{
    int sub;
    if (must_be_sub_arg(kwds, "chain_many", &sub) < 0) {
        return NULL;
    }
    return build_chains(self, args, sub);
}

static PyObject *
children_matcher_of(PyObject *first, PyObject *numbers)
{
    PyObject *list = PySequence_List(numbers);
    if (list == NULL) {
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(list);
    int *nums = PyMem_Malloc(sizeof(int) * (size_t)(n > 0 ? n : 1));
    PyObject *out = NULL;
    if (nums == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        long v = PyLong_AsLong(PyList_GET_ITEM(list, i));
        if (v == -1 && PyErr_Occurred()) {
            goto done;
        }
        if (v < 0 || v > INT32_MAX) {
            PyErr_Format(PyExc_ValueError, "child numbers must be non-negative ints, got %ld", v);
            goto done;
        }
        nums[i] = (int)v;
    }
    cc_imatcher *inner = cc_py_imatcher_arg(first);
    if (inner != NULL) {
        out = cc_py_imatcher_wrap(cc_imatcher_children(inner, (int)n, nums));
        cc_imatcher_decref(inner);
    }
done:
    PyMem_Free(nums);
    Py_DECREF(list);
    return out;
}

static PyObject *
self_children_matcher(PyObject *self, PyObject *numbers)
{
    return children_matcher_of(self, numbers);
}

static PyObject *
imatcher_new_children_matcher(PyObject *cls, PyObject *args)
{
    (void)cls;
    PyObject *first;
    PyObject *numbers;
    if (!PyArg_ParseTuple(args, "OO:new_children_matcher", &first, &numbers)) {
        return NULL;
    }
    return children_matcher_of(first, numbers);
}

static PyObject *
module_matcher_of(PyObject *first, PyObject *arg_symbol, cc_imatcher_kind kind)
{
    cc_imatcher *inner = cc_py_imatcher_arg(first);
    if (inner == NULL) {
        return NULL;
    }
    cc_imatcher *m = NULL;
    if (kind == CC_IM_MODULE_ARG) {
        cc_matcher *sym = cc_py_matcher_arg(arg_symbol);
        if (sym == NULL) {
            cc_imatcher_decref(inner);
            return NULL;
        }
        m = cc_imatcher_module_arg(inner, sym);
        cc_matcher_decref(sym);
    } else if (kind == CC_IM_SPEC_CIRCUIT) {
        m = cc_imatcher_spec_circuit(inner);
    } else {
        m = cc_imatcher_no_module_spec(inner);
    }
    cc_imatcher_decref(inner);
    return cc_py_imatcher_wrap(m);
}

static PyObject *
self_module_arg_matcher(PyObject *self, PyObject *arg_symbol)
{
    return module_matcher_of(self, arg_symbol, CC_IM_MODULE_ARG);
}

static PyObject *
self_spec_circuit_matcher(PyObject *self, PyObject *unused)
{
    (void)unused;
    return module_matcher_of(self, NULL, CC_IM_SPEC_CIRCUIT);
}

static PyObject *
self_filter_module_spec(PyObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"enable", NULL};
    int enable = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|p:filter_module_spec", kwlist, &enable)) {
        return NULL;
    }
    if (!enable) {
        cc_imatcher *m = cc_py_imatcher_arg(self);
        return m == NULL ? NULL : cc_py_imatcher_wrap(m);
    }
    return module_matcher_of(self, NULL, CC_IM_NO_MODULE_SPEC);
}

static PyObject *
imatcher_new_module_arg_matcher(PyObject *cls, PyObject *args)
{
    (void)cls;
    PyObject *first;
    PyObject *sym;
    if (!PyArg_ParseTuple(args, "OO:new_module_arg_matcher", &first, &sym)) {
        return NULL;
    }
    return module_matcher_of(first, sym, CC_IM_MODULE_ARG);
}

static PyObject *
imatcher_new_spec_circuit_matcher(PyObject *cls, PyObject *first)
{
    (void)cls;
    return module_matcher_of(first, NULL, CC_IM_SPEC_CIRCUIT);
}

static PyObject *
imatcher_new_func(PyObject *cls, PyObject *f)
{
    (void)cls;
    if (!PyCallable_Check(f)) {
        return PyErr_Format(PyExc_TypeError,
                            "IterativeMatcher.new_func takes a callable Circuit -> "
                            "IterateMatchResults, not %.100s",
                            Py_TYPE(f)->tp_name);
    }
    PyObject *label = cc_py_short_repr(f);
    if (label == NULL) {
        return NULL;
    }
    cc_imatch_callback cb = {
        .iterate = cc_py_results_iterate_cb,
        .incref = cc_py_ctx_incref,
        .decref = cc_py_ctx_decref,
        .ctx = f,
        .label = PyUnicode_AsUTF8(label),
    };
    cc_py_pointer_identity(cb.identity, f, "circuits.iterative_function");
    PyObject *out = cb.label == NULL ? NULL : cc_py_imatcher_wrap(cc_imatcher_func(&cb));
    Py_DECREF(label);
    return out;
}

static PyObject *
imatcher_new_or(PyObject *self, PyObject *args)
{
    PyObject *all_args = PyTuple_New(PyTuple_GET_SIZE(args) + 1);
    if (all_args == NULL) {
        return NULL;
    }
    PyTuple_SET_ITEM(all_args, 0, Py_NewRef(self));
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(args); i++) {
        PyTuple_SET_ITEM(all_args, i + 1, Py_NewRef(PyTuple_GET_ITEM(args, i)));
    }
    PyObject *out = imatcher_of_tuple(all_args, 0);
    Py_DECREF(all_args);
    return out;
}

static PyObject *
imatcher_binary(PyObject *a, PyObject *b, int kind_all)
{
    cc_imatcher *ms[2];
    ms[0] = cc_py_imatcher_arg(a);
    if (ms[0] == NULL) {
        return NULL;
    }
    ms[1] = cc_py_imatcher_arg(b);
    if (ms[1] == NULL) {
        cc_imatcher_decref(ms[0]);
        return NULL;
    }
    cc_imatcher *m = kind_all ? cc_imatcher_all(2, ms) : cc_imatcher_any(2, ms);
    cc_imatcher_decref(ms[0]);
    cc_imatcher_decref(ms[1]);
    return cc_py_imatcher_wrap(m);
}

static PyObject *
imatcher_or(PyObject *a, PyObject *b)
{
    return imatcher_binary(a, b, 0);
}

static PyObject *
imatcher_and(PyObject *a, PyObject *b)
{
    return imatcher_binary(a, b, 1);
}

static int
imatcher_bool(PyObject *self)
{
    (void)self;
    PyErr_SetString(PyExc_TypeError, "IterativeMatcher was coerced to a boolean. Did you mean to "
                                     "use & or | instead of \"and\" or \"or\"?");
    return -1;
}

static PyObject *
imatcher_richcompare(PyObject *self, PyObject *other, int op)
{
    if (!PyObject_TypeCheck(other, cc_py_imatcher_type)) {
        Py_RETURN_NOTIMPLEMENTED;
    }
    return cc_py_hash_richcompare(IMATCHER(self)->hash, IMATCHER(other)->hash, op);
}

static Py_hash_t
imatcher_hash(PyObject *self)
{
    return cc_py_hash_of(IMATCHER(self)->hash);
}

PyMethodDef cc_py_imatcher_methods[] = {
    {"match_iterate", imatcher_match_iterate, METH_O,
     "match_iterate(circuit) -> IterateMatchResults at this node."},
    {"debug_print_to_str", imatcher_debug_print, METH_NOARGS, "A readable form of the matcher."},
    {"validate_matched", cc_py_validate_matched, METH_O,
     "validate_matched(matched): fancy validation of a set of found circuits."},
    {"noop_traversal", imatcher_noop, METH_NOARGS | METH_STATIC,
     "Matches everything and never finishes."},
    {"term", (PyCFunction)(void (*)(void))imatcher_term, METH_VARARGS | METH_KEYWORDS | METH_STATIC,
     "term(match_next=False): finished at once, found = match_next."},
    {"any", imatcher_any, METH_VARARGS | METH_STATIC, "any(*matchers): the union."},
    {"all", imatcher_all, METH_VARARGS | METH_STATIC,
     "all(*matchers): found where all find; finished where any finishes."},
    {"new_chain", (PyCFunction)(void (*)(void))imatcher_new_chain,
     METH_VARARGS | METH_KEYWORDS | METH_STATIC,
     "new_chain(first, *rest, must_be_sub=False) = first.chain(*rest)."},
    {"new_chain_many", (PyCFunction)(void (*)(void))imatcher_new_chain_many,
     METH_VARARGS | METH_KEYWORDS | METH_STATIC,
     "new_chain_many(*chains, must_be_sub=False): each chain a non-empty sequence."},
    {"new_children_matcher", imatcher_new_children_matcher, METH_VARARGS | METH_STATIC,
     "new_children_matcher(first_match, child_numbers)."},
    {"new_module_arg_matcher", imatcher_new_module_arg_matcher, METH_VARARGS | METH_STATIC,
     "new_module_arg_matcher(module_matcher, arg_sym_matcher)."},
    {"new_spec_circuit_matcher", imatcher_new_spec_circuit_matcher, METH_O | METH_STATIC,
     "new_spec_circuit_matcher(module_matcher)."},
    {"new_func", imatcher_new_func, METH_O | METH_STATIC,
     "new_func(f): f(circuit) -> IterateMatchResults at each node."},
    {"new_or", imatcher_new_or, METH_VARARGS, "new_or(*others): the union with others."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot imatcher_slots[] = {
    {Py_tp_new, imatcher_new},
    {Py_tp_dealloc, imatcher_dealloc},
    {Py_tp_repr, imatcher_repr},
    {Py_tp_richcompare, imatcher_richcompare},
    {Py_tp_hash, imatcher_hash},
    {Py_nb_or, imatcher_or},
    {Py_nb_and, imatcher_and},
    {Py_nb_bool, imatcher_bool},
    {Py_tp_doc, "IterativeMatcher(*inputs): a traversal state machine run from the root. No "
                "input is term(); several are their union. A bare callable is a Matcher "
                "predicate; use IterativeMatcher.new_func for a step function."},
    {0, NULL},
};

PyType_Spec cc_py_imatcher_spec = {
    .name = "circuits.IterativeMatcher",
    .basicsize = sizeof(cc_py_imatcher_obj),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = imatcher_slots,
};

PyMethodDef cc_py_builder_methods[] = {
    {"chain", (PyCFunction)(void (*)(void))self_chain, METH_VARARGS | METH_KEYWORDS,
     "chain(*rest, must_be_sub=False): nodes reached by a path along which self, then each of "
     "rest, match in order."},
    {"chain_many", (PyCFunction)(void (*)(void))self_chain_many, METH_VARARGS | METH_KEYWORDS,
     "chain_many(*rest, must_be_sub=False): the chains [self, *r] for each sequence r."},
    {"children_matcher", self_children_matcher, METH_O,
     "children_matcher(child_numbers): where self matches, those children are found instead."},
    {"module_arg_matcher", self_module_arg_matcher, METH_O,
     "module_arg_matcher(arg_sym_matcher): where self matches a Module, the arguments whose "
     "symbol matches are found."},
    {"spec_circuit_matcher", self_spec_circuit_matcher, METH_NOARGS,
     "Where self matches a Module, its body (spec circuit) is found."},
    {"filter_module_spec", (PyCFunction)(void (*)(void))self_filter_module_spec,
     METH_VARARGS | METH_KEYWORDS, "filter_module_spec(enable=True): never enter a Module's body."},
    {NULL, NULL, 0, NULL},
};
