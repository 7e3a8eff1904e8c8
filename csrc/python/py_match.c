// Matcher, IterativeMatcher, Regex, Finished/FINISHED and IterateMatchResults, the conversion
// of rc's MatcherIn / IterativeMatcherIn values, and restrict, restrict_sl, new_traversal,
// traverse_until_depth. Regexes and Python callables reach the core as callbacks that run with
// the GIL held (matching always holds it); the work is in match/.
#include "python/py_match.h"

#include <string.h>

#include "util/alloc.h"
#include "util/blake3.h"
#include "util/error.h"
#include "util/hmap.h"
#include "util/str.h"
#include "util/vec.h"

PyTypeObject *cc_py_matcher_type;
PyTypeObject *cc_py_imatcher_type;
static PyTypeObject *regex_type;
static PyTypeObject *finished_type;
static PyTypeObject *results_type;
static PyObject *finished_singleton; // rc.FINISHED
static PyObject *re_compile;         // re.compile

#define MATCHER(o) (((cc_py_matcher_obj *)(o))->m)
#define IMATCHER(o) (((cc_py_imatcher_obj *)(o))->m)

static void
py_incref(void *ctx)
{
    Py_INCREF((PyObject *)ctx);
}

static void
py_decref(void *ctx)
{
    Py_DECREF((PyObject *)ctx);
}

// Identity of a Python object for hashing callbacks: its address (the matcher keeps it alive).
static void
pointer_identity(uint8_t out[32], const void *p, const char *tag)
{
    cc_blake3 h;
    uintptr_t v = (uintptr_t)p;
    cc_blake3_init(&h);
    cc_blake3_update(&h, tag, strlen(tag));
    cc_blake3_update(&h, &v, sizeof v);
    cc_blake3_final(&h, out, 32);
}

// A short repr of obj for labels (new reference), or NULL with an exception.
static PyObject *
short_repr(PyObject *obj)
{
    PyObject *r = PyObject_Repr(obj);
    if (r == NULL || PyUnicode_GET_LENGTH(r) <= 80) {
        return r;
    }
    PyObject *cut = PyUnicode_Substring(r, 0, 77);
    Py_DECREF(r);
    if (cut == NULL) {
        return NULL;
    }
    PyObject *out = PyUnicode_FromFormat("%U...", cut);
    Py_DECREF(cut);
    return out;
}

static PyObject *
describe_to_str(int (*describe)(const void *, cc_str *), const void *m, const char *fmt)
{
    cc_str s;
    cc_str_init(&s);
    if (describe(m, &s) < 0 || s.data == NULL) {
        cc_str_clear(&s);
        return PyErr_NoMemory();
    }
    PyObject *out = PyUnicode_FromFormat(fmt, s.data);
    cc_str_clear(&s);
    return out;
}

static int
describe_matcher(const void *m, cc_str *s)
{
    return cc_matcher_describe(m, s);
}

static int
describe_imatcher(const void *m, cc_str *s)
{
    return cc_imatcher_describe(m, s);
}

// --- wrappers -------------------------------------------------------------------------------

PyObject *
cc_py_matcher_wrap(cc_matcher *m)
{
    if (m == NULL) {
        return cc_py_raise();
    }
    cc_py_matcher_obj *o = (cc_py_matcher_obj *)cc_py_matcher_type->tp_alloc(cc_py_matcher_type, 0);
    if (o == NULL) {
        cc_matcher_decref(m);
        return NULL;
    }
    o->m = m;
    return (PyObject *)o;
}

PyObject *
cc_py_imatcher_wrap(cc_imatcher *m)
{
    if (m == NULL) {
        return cc_py_raise();
    }
    cc_py_imatcher_obj *o =
        (cc_py_imatcher_obj *)cc_py_imatcher_type->tp_alloc(cc_py_imatcher_type, 0);
    if (o == NULL) {
        cc_imatcher_decref(m);
        return NULL;
    }
    o->m = m;
    return (PyObject *)o;
}

int
cc_py_add_methods(PyTypeObject *type, PyMethodDef *defs)
{
    for (PyMethodDef *d = defs; d->ml_name != NULL; d++) {
        PyObject *descr = PyDescr_NewMethod(type, d);
        if (descr == NULL) {
            return -1;
        }
        int rc = PyObject_SetAttrString((PyObject *)type, d->ml_name, descr);
        Py_DECREF(descr);
        if (rc < 0) {
            return -1;
        }
    }
    return 0;
}

// --- Regex ------------------------------------------------------------------------------------

typedef struct {
    PyObject_HEAD PyObject *pattern; // as given
    int escape_dot;
    PyObject *search; // the compiled pattern's search method
    cc_regex *native; // the same pattern in C (match/regex.c), or NULL outside its subset
    uint8_t identity[32];
} regex_obj;

// rc's escape_dot rewrite: "\." becomes "." (any character) and "." becomes "\." (a dot).
static PyObject *
swap_dots(PyObject *pattern)
{
    Py_ssize_t len;
    const char *s = PyUnicode_AsUTF8AndSize(pattern, &len);
    if (s == NULL) {
        return NULL;
    }
    char *out = PyMem_Malloc((size_t)len * 2 + 1);
    if (out == NULL) {
        return PyErr_NoMemory();
    }
    Py_ssize_t k = 0;
    for (Py_ssize_t i = 0; i < len; i++) {
        if (s[i] == '\\' && i + 1 < len && s[i + 1] == '.') {
            out[k++] = '.';
            i++;
        } else if (s[i] == '.') {
            out[k++] = '\\';
            out[k++] = '.';
        } else {
            out[k++] = s[i];
        }
    }
    PyObject *r = PyUnicode_FromStringAndSize(out, k);
    PyMem_Free(out);
    return r;
}

static PyObject *
regex_make(PyTypeObject *type, PyObject *pattern, int escape_dot)
{
    if (!PyUnicode_Check(pattern)) {
        return PyErr_Format(PyExc_TypeError, "Regex pattern must be a str, not %.100s",
                            Py_TYPE(pattern)->tp_name);
    }
    PyObject *source = escape_dot ? swap_dots(pattern) : Py_NewRef(pattern);
    if (source == NULL) {
        return NULL;
    }
    // re validates the pattern (its errors are the ValueError's message) and serves what the
    // C engine declines.
    PyObject *compiled = PyObject_CallOneArg(re_compile, source);
    if (compiled == NULL) {
        Py_DECREF(source);
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        PyErr_NormalizeException(&type, &value, &tb);
        PyErr_Format(PyExc_ValueError, "invalid regex pattern '%U' (escape_dot=%s): %S", pattern,
                     escape_dot ? "True" : "False", value != NULL ? value : Py_None);
        Py_XDECREF(type);
        Py_XDECREF(value);
        Py_XDECREF(tb);
        return NULL;
    }
    PyObject *search = PyObject_GetAttrString(compiled, "search");
    Py_DECREF(compiled);
    if (search == NULL) {
        Py_DECREF(source);
        return NULL;
    }
    regex_obj *o = (regex_obj *)type->tp_alloc(type, 0);
    if (o == NULL) {
        Py_DECREF(search);
        Py_DECREF(source);
        return NULL;
    }
    o->pattern = Py_NewRef(pattern);
    o->escape_dot = escape_dot;
    o->search = search;
    Py_ssize_t len;
    const char *s = PyUnicode_AsUTF8AndSize(source, &len);
    int compiled_rc = s == NULL ? -1 : cc_regex_compile(s, (size_t)len, &o->native);
    Py_DECREF(source);
    if (s == NULL) {
        Py_DECREF(o);
        return NULL;
    }
    if (compiled_rc < 0) {
        Py_DECREF(o);
        return cc_py_raise();
    }
    s = PyUnicode_AsUTF8AndSize(pattern, &len);
    if (s == NULL) {
        Py_DECREF(o);
        return NULL;
    }
    cc_blake3 h;
    uint8_t flag = (uint8_t)escape_dot;
    cc_blake3_init(&h);
    cc_blake3_update(&h, "circuits.regex", 14);
    cc_blake3_update(&h, &flag, 1);
    cc_blake3_update(&h, s, (size_t)len);
    cc_blake3_final(&h, o->identity, 32);
    return (PyObject *)o;
}

static PyObject *
regex_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"pattern", "escape_dot", NULL};
    PyObject *pattern;
    int escape_dot = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|p:Regex", kwlist, &pattern, &escape_dot)) {
        return NULL;
    }
    return regex_make(type, pattern, escape_dot);
}

static void
regex_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    regex_obj *o = (regex_obj *)self;
    Py_XDECREF(o->pattern);
    Py_XDECREF(o->search);
    cc_regex_free(o->native);
    tp->tp_free(self);
    Py_DECREF(tp);
}

// 1 / 0 whether the pattern is found in name, -1 with an exception.
static int
regex_search(regex_obj *o, PyObject *name)
{
    PyObject *m = PyObject_CallOneArg(o->search, name);
    if (m == NULL) {
        return -1;
    }
    int found = m != Py_None;
    Py_DECREF(m);
    return found;
}

static PyObject *
regex_call(PyObject *self, PyObject *s)
{
    if (!PyUnicode_Check(s)) {
        return PyErr_Format(PyExc_TypeError, "Regex.call takes a str, not %.100s",
                            Py_TYPE(s)->tp_name);
    }
    regex_obj *o = (regex_obj *)self;
    if (o->native != NULL) {
        Py_ssize_t len;
        const char *u = PyUnicode_AsUTF8AndSize(s, &len);
        if (u == NULL) {
            // Lone surrogates have no UTF-8: re decides.
            if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) {
                return NULL;
            }
            PyErr_Clear();
        } else {
            int found = cc_regex_search(o->native, u, (size_t)len);
            if (found != CC_REGEX_UNSURE) {
                return PyBool_FromLong(found);
            }
        }
    }
    int r = regex_search(o, s);
    return r < 0 ? NULL : PyBool_FromLong(r);
}

static PyObject *
regex_get_pattern(PyObject *self, void *closure)
{
    (void)closure;
    return Py_NewRef(((regex_obj *)self)->pattern);
}

static PyObject *
regex_get_escape_dot(PyObject *self, void *closure)
{
    (void)closure;
    return PyBool_FromLong(((regex_obj *)self)->escape_dot);
}

static PyObject *
regex_get_native(PyObject *self, void *closure)
{
    (void)closure;
    return PyBool_FromLong(((regex_obj *)self)->native != NULL);
}

static PyObject *
regex_repr(PyObject *self)
{
    regex_obj *o = (regex_obj *)self;
    return PyUnicode_FromFormat("Regex(%R, escape_dot=%s)", o->pattern,
                                o->escape_dot ? "True" : "False");
}

static PyObject *
regex_richcompare(PyObject *self, PyObject *other, int op)
{
    if (!PyObject_TypeCheck(other, regex_type) || (op != Py_EQ && op != Py_NE)) {
        Py_RETURN_NOTIMPLEMENTED;
    }
    int eq = memcmp(((regex_obj *)self)->identity, ((regex_obj *)other)->identity, 32) == 0;
    return PyBool_FromLong(op == Py_EQ ? eq : !eq);
}

static Py_hash_t
regex_hash(PyObject *self)
{
    Py_hash_t h;
    memcpy(&h, ((regex_obj *)self)->identity, sizeof h);
    return h == -1 ? -2 : h;
}

static PyMethodDef regex_methods[] = {
    {"call", regex_call, METH_O, "call(s) -> whether the pattern is found in the string s."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef regex_getset[] = {
    {"pattern", regex_get_pattern, NULL, "The pattern as given.", NULL},
    {"escape_dot", regex_get_escape_dot, NULL, "Whether '.' and '\\.' are swapped.", NULL},
    {"_native", regex_get_native, NULL,
     "Whether the C engine searches (else Python's re: the pattern is outside its subset).", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot regex_slots[] = {
    {Py_tp_new, regex_new},
    {Py_tp_dealloc, regex_dealloc},
    {Py_tp_repr, regex_repr},
    {Py_tp_richcompare, regex_richcompare},
    {Py_tp_hash, regex_hash},
    {Py_tp_methods, regex_methods},
    {Py_tp_getset, regex_getset},
    {Py_tp_doc, "Regex(pattern, escape_dot=True): a search (not a full match) on node names "
                "as Python's re.search (run in C for common patterns, by re for the rest). With "
                "escape_dot, '.' is a literal dot and '\\.' any character. Unnamed nodes never "
                "match."},
    {0, NULL},
};

static PyType_Spec regex_spec = {
    .name = "circuits.Regex",
    .basicsize = sizeof(regex_obj),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = regex_slots,
};

// --- MatcherIn conversion -------------------------------------------------------------------

static int
regex_match_cb(void *ctx, const cc_node *n, int *out)
{
    if (n->name == NULL) {
        *out = 0;
        return 0;
    }
    PyObject *name = PyUnicode_FromString(n->name);
    int r = name == NULL ? -1 : regex_search((regex_obj *)ctx, name);
    Py_XDECREF(name);
    if (r < 0) {
        return cc_fail(CC_E_PYTHON, "a regex matcher raised");
    }
    *out = r;
    return 0;
}

static int
func_match_cb(void *ctx, const cc_node *n, int *out)
{
    PyObject *c = cc_py_wrap((cc_node *)n);
    if (c == NULL) {
        return cc_fail(CC_E_PYTHON, "wrapping a circuit failed");
    }
    PyObject *r = PyObject_CallOneArg((PyObject *)ctx, c);
    Py_DECREF(c);
    int truth = r == NULL ? -1 : PyObject_IsTrue(r);
    Py_XDECREF(r);
    if (truth < 0) {
        return cc_fail(CC_E_PYTHON, "a Python matcher raised");
    }
    *out = truth;
    return 0;
}

static cc_matcher *
regex_matcher(PyObject *regex)
{
    PyObject *label = PyObject_Repr(regex);
    if (label == NULL) {
        return NULL;
    }
    cc_match_callback cb = {
        .kind = CC_MATCH_CALLBACK_REGEX,
        .match = regex_match_cb,
        .incref = py_incref,
        .decref = py_decref,
        .ctx = regex,
        .label = PyUnicode_AsUTF8(label),
        .regex = ((regex_obj *)regex)->native,
    };
    memcpy(cb.identity, ((regex_obj *)regex)->identity, 32);
    cc_matcher *m = cb.label == NULL ? NULL : cc_matcher_callback(&cb);
    Py_DECREF(label);
    if (m == NULL && !PyErr_Occurred()) {
        cc_py_raise();
    }
    return m;
}

static cc_matcher *
function_matcher(PyObject *f)
{
    PyObject *label = short_repr(f);
    if (label == NULL) {
        return NULL;
    }
    cc_match_callback cb = {
        .kind = CC_MATCH_CALLBACK_FUNCTION,
        .match = func_match_cb,
        .incref = py_incref,
        .decref = py_decref,
        .ctx = f,
        .label = PyUnicode_AsUTF8(label),
    };
    pointer_identity(cb.identity, f, "circuits.function");
    cc_matcher *m = cb.label == NULL ? NULL : cc_matcher_callback(&cb);
    Py_DECREF(label);
    if (m == NULL && !PyErr_Occurred()) {
        cc_py_raise();
    }
    return m;
}

// The node kind of a circuit class, or -1 (no exception) when it is not one.
static int
kind_of_type(PyObject *t)
{
    for (int k = 0; k < CC_KIND_COUNT; k++) {
        if ((PyObject *)cc_py_kind_types[k] == t) {
            return k;
        }
    }
    return -1;
}

static cc_matcher *
raise_or(cc_matcher *m)
{
    if (m == NULL) {
        cc_py_raise();
    }
    return m;
}

static PyObject *
not_a_matcher(PyObject *obj)
{
    return PyErr_Format(PyExc_TypeError,
                        "expected a matcher input (bool, str, set of str, node type such as "
                        "rc.Add, Circuit, Regex, Matcher, BoundAnyFound or a callable), not "
                        "%.100s",
                        Py_TYPE(obj)->tp_name);
}

static PyObject *
not_a_node_type(PyObject *t)
{
    return PyErr_Format(PyExc_TypeError,
                        "%.100s is not a circuit node type: type matchers take node kinds such "
                        "as rc.Add or rc.Einsum",
                        ((PyTypeObject *)t)->tp_name);
}

static cc_matcher *
matcher_from_set(PyObject *set)
{
    Py_ssize_t n = PySet_GET_SIZE(set);
    PyObject *items = PySequence_List(set);
    if (items == NULL) {
        return NULL;
    }
    cc_matcher *m = NULL;
    const char **names = NULL;
    cc_node **nodes = NULL;
    PyObject *first = n > 0 ? PyList_GET_ITEM(items, 0) : NULL;
    if (first == NULL || PyUnicode_Check(first)) {
        names = PyMem_Malloc(sizeof(char *) * (size_t)(n ? n : 1));
        if (names == NULL) {
            PyErr_NoMemory();
            goto done;
        }
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *x = PyList_GET_ITEM(items, i);
            if (!PyUnicode_Check(x)) {
                PyErr_Format(PyExc_TypeError,
                             "a set matcher holds only names, only node types or only circuits; "
                             "got str and %.100s",
                             Py_TYPE(x)->tp_name);
                goto done;
            }
            if ((names[i] = PyUnicode_AsUTF8(x)) == NULL) {
                goto done;
            }
        }
        m = raise_or(cc_matcher_names((int)n, names));
    } else if (PyType_Check(first)) {
        uint64_t mask = 0;
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *x = PyList_GET_ITEM(items, i);
            int k = PyType_Check(x) ? kind_of_type(x) : -1;
            if (k < 0) {
                if (PyType_Check(x)) {
                    not_a_node_type(x);
                } else {
                    PyErr_Format(PyExc_TypeError,
                                 "a set matcher holds only names, only node types or only "
                                 "circuits; got a type and %.100s",
                                 Py_TYPE(x)->tp_name);
                }
                goto done;
            }
            mask |= (uint64_t)1 << k;
        }
        m = raise_or(cc_matcher_types(mask));
    } else if (PyObject_TypeCheck(first, cc_py_circuit_type)) {
        nodes = PyMem_Malloc(sizeof(cc_node *) * (size_t)n);
        if (nodes == NULL) {
            PyErr_NoMemory();
            goto done;
        }
        for (Py_ssize_t i = 0; i < n; i++) {
            if (!cc_py_node_check(PyList_GET_ITEM(items, i), "an item of a circuit set matcher",
                                  &nodes[i])) {
                goto done;
            }
        }
        m = raise_or(cc_matcher_circuits((int)n, nodes));
    } else {
        PyErr_Format(PyExc_TypeError,
                     "a set matcher holds names, node types or circuits, not %.100s (in a set)",
                     Py_TYPE(first)->tp_name);
    }
done:
    PyMem_Free(names);
    PyMem_Free(nodes);
    Py_DECREF(items);
    return m;
}

cc_matcher *
cc_py_matcher_arg(PyObject *obj)
{
    if (PyObject_TypeCheck(obj, cc_py_matcher_type)) {
        cc_matcher_incref(MATCHER(obj));
        return MATCHER(obj);
    }
    if (PyBool_Check(obj)) {
        return raise_or(cc_matcher_always(obj == Py_True));
    }
    if (PyUnicode_Check(obj)) {
        const char *name = PyUnicode_AsUTF8(obj);
        return name == NULL ? NULL : raise_or(cc_matcher_names(1, &name));
    }
    if (PyAnySet_Check(obj)) {
        return matcher_from_set(obj);
    }
    if (PyType_Check(obj)) {
        int k = kind_of_type(obj);
        if (k < 0) {
            not_a_node_type(obj);
            return NULL;
        }
        return raise_or(cc_matcher_types((uint64_t)1 << k));
    }
    if (PyObject_TypeCheck(obj, cc_py_circuit_type)) {
        cc_node *n = ((cc_py_node *)obj)->node;
        return raise_or(cc_matcher_circuits(1, &n));
    }
    if (PyObject_TypeCheck(obj, regex_type)) {
        return regex_matcher(obj);
    }
    if (cc_py_bound_any_found_type != NULL && PyObject_TypeCheck(obj, cc_py_bound_any_found_type)) {
        return cc_py_bound_any_found_matcher(obj);
    }
    if (PyObject_TypeCheck(obj, cc_py_imatcher_type)) {
        PyErr_SetString(PyExc_TypeError,
                        "expected a Matcher input, not an IterativeMatcher (a predicate on one "
                        "node cannot carry traversal state)");
        return NULL;
    }
    if (PyCallable_Check(obj)) {
        return function_matcher(obj);
    }
    not_a_matcher(obj);
    return NULL;
}

cc_imatcher *
cc_py_imatcher_arg(PyObject *obj)
{
    if (PyObject_TypeCheck(obj, cc_py_imatcher_type)) {
        cc_imatcher_incref(IMATCHER(obj));
        return IMATCHER(obj);
    }
    cc_matcher *m = cc_py_matcher_arg(obj);
    if (m == NULL) {
        return NULL;
    }
    cc_imatcher *im = cc_imatcher_match(m);
    cc_matcher_decref(m);
    if (im == NULL) {
        cc_py_raise();
    }
    return im;
}

// Converts every item of a tuple; *out freed with free_matchers. -1 with an exception.
static int
matchers_from_tuple(PyObject *args, Py_ssize_t from, cc_matcher ***out, int *n)
{
    Py_ssize_t len = PyTuple_GET_SIZE(args) - from;
    cc_matcher **ms = PyMem_Calloc((size_t)(len > 0 ? len : 1), sizeof(cc_matcher *));
    if (ms == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < len; i++) {
        ms[i] = cc_py_matcher_arg(PyTuple_GET_ITEM(args, from + i));
        if (ms[i] == NULL) {
            for (Py_ssize_t j = 0; j < i; j++) {
                cc_matcher_decref(ms[j]);
            }
            PyMem_Free(ms);
            return -1;
        }
    }
    *out = ms;
    *n = (int)len;
    return 0;
}

static void
free_matchers(cc_matcher **ms, int n)
{
    for (int i = 0; i < n; i++) {
        cc_matcher_decref(ms[i]);
    }
    PyMem_Free(ms);
}

static int
imatchers_from_seq(PyObject *seq, cc_imatcher ***out, int *n)
{
    PyObject *fast = PySequence_Fast(seq, "expected a sequence of iterative matcher inputs");
    if (fast == NULL) {
        return -1;
    }
    Py_ssize_t len = PySequence_Fast_GET_SIZE(fast);
    cc_imatcher **ms = PyMem_Calloc((size_t)(len > 0 ? len : 1), sizeof(cc_imatcher *));
    if (ms == NULL) {
        Py_DECREF(fast);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < len; i++) {
        ms[i] = cc_py_imatcher_arg(PySequence_Fast_GET_ITEM(fast, i));
        if (ms[i] == NULL) {
            for (Py_ssize_t j = 0; j < i; j++) {
                cc_imatcher_decref(ms[j]);
            }
            PyMem_Free(ms);
            Py_DECREF(fast);
            return -1;
        }
    }
    Py_DECREF(fast);
    *out = ms;
    *n = (int)len;
    return 0;
}

static void
free_imatchers(cc_imatcher **ms, int n)
{
    for (int i = 0; i < n; i++) {
        cc_imatcher_decref(ms[i]);
    }
    PyMem_Free(ms);
}

// --- Matcher ----------------------------------------------------------------------------------

static PyObject *
matcher_of_tuple(PyObject *args, Py_ssize_t from, int kind_all)
{
    cc_matcher **ms;
    int n;
    if (matchers_from_tuple(args, from, &ms, &n) < 0) {
        return NULL;
    }
    cc_matcher *m = kind_all ? cc_matcher_all(n, ms) : cc_matcher_any(n, ms);
    free_matchers(ms, n);
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
    return describe_to_str(describe_matcher, MATCHER(self), "%s");
}

static PyObject *
matcher_repr(PyObject *self)
{
    return describe_to_str(describe_matcher, MATCHER(self), "Matcher(%s)");
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
    PyObject *r = regex_new(regex_type, args, kwds);
    if (r == NULL) {
        return NULL;
    }
    cc_matcher *m = regex_matcher(r);
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
        int k = PyType_Check(t) ? kind_of_type(t) : -1;
        if (k < 0) {
            if (PyType_Check(t)) {
                return not_a_node_type(t);
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

static PyObject *
matcher_validate_matched(PyObject *self, PyObject *matched)
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
hash_richcompare(const uint8_t *a, const uint8_t *b, int op)
{
    if (op != Py_EQ && op != Py_NE) {
        Py_RETURN_NOTIMPLEMENTED;
    }
    int eq = memcmp(a, b, 32) == 0;
    return PyBool_FromLong(op == Py_EQ ? eq : !eq);
}

static PyObject *
matcher_richcompare(PyObject *self, PyObject *other, int op)
{
    if (!PyObject_TypeCheck(other, cc_py_matcher_type)) {
        Py_RETURN_NOTIMPLEMENTED;
    }
    return hash_richcompare(MATCHER(self)->hash, MATCHER(other)->hash, op);
}

static Py_hash_t
hash_of(const uint8_t *bytes)
{
    Py_hash_t h;
    memcpy(&h, bytes, sizeof h);
    return h == -1 ? -2 : h;
}

static Py_hash_t
matcher_hash(PyObject *self)
{
    return hash_of(MATCHER(self)->hash);
}

static PyMethodDef matcher_methods[] = {
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
    {"validate_matched", matcher_validate_matched, METH_O,
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
    {Py_tp_methods, matcher_methods},
    {Py_nb_or, matcher_or},
    {Py_nb_and, matcher_and},
    {Py_nb_invert, matcher_invert},
    {Py_nb_bool, matcher_bool},
    {Py_tp_doc, "Matcher(*inputs): a predicate on one node. No input never matches; several "
                "match when any does. Inputs: bool, name, set of names, node type(s), "
                "circuit(s), Regex, BoundAnyFound, Matcher or a callable Circuit -> bool."},
    {0, NULL},
};

static PyType_Spec matcher_spec = {
    .name = "circuits.Matcher",
    .basicsize = sizeof(cc_py_matcher_obj),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = matcher_slots,
};

// --- Finished and IterateMatchResults ---------------------------------------------------------

static PyObject *
finished_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    (void)type;
    if (PyTuple_GET_SIZE(args) > 0 || (kwds != NULL && PyDict_GET_SIZE(kwds) > 0)) {
        PyErr_SetString(PyExc_TypeError, "Finished() takes no arguments");
        return NULL;
    }
    return Py_NewRef(finished_singleton);
}

static PyObject *
finished_repr(PyObject *self)
{
    (void)self;
    return PyUnicode_FromString("FINISHED");
}

static void
plain_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyType_Slot finished_slots[] = {
    {Py_tp_new, finished_new},
    {Py_tp_dealloc, plain_dealloc},
    {Py_tp_repr, finished_repr},
    {Py_tp_doc, "Finished: an update saying the traversal stops here (rc.FINISHED)."},
    {0, NULL},
};

static PyType_Spec finished_spec = {
    .name = "circuits.Finished",
    .basicsize = sizeof(PyObject),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = finished_slots,
};

typedef struct {
    PyObject_HEAD PyObject *updated; // None, FINISHED, an IterativeMatcher or a list of them
    int found;
} results_obj;

static PyObject *
updated_item(PyObject *x)
{
    if (x == Py_None || PyObject_TypeCheck(x, finished_type)) {
        return Py_NewRef(finished_singleton);
    }
    cc_imatcher *m = cc_py_imatcher_arg(x);
    return m == NULL ? NULL : cc_py_imatcher_wrap(m);
}

// rc's UpdatedIterativeMatcherIn -> None, FINISHED, IterativeMatcher or list (new reference).
static PyObject *
convert_updated(PyObject *v)
{
    if (v == Py_None) {
        Py_RETURN_NONE;
    }
    if (PyObject_TypeCheck(v, finished_type)) {
        return Py_NewRef(finished_singleton);
    }
    if (PyList_Check(v) || PyTuple_Check(v)) {
        Py_ssize_t n = PySequence_Size(v);
        PyObject *out = PyList_New(n);
        for (Py_ssize_t i = 0; out != NULL && i < n; i++) {
            PyObject *item = updated_item(PySequence_Fast_GET_ITEM(v, i));
            if (item == NULL) {
                Py_CLEAR(out);
                break;
            }
            PyList_SET_ITEM(out, i, item);
        }
        return out;
    }
    cc_imatcher *m = cc_py_imatcher_arg(v);
    return m == NULL ? NULL : cc_py_imatcher_wrap(m);
}

static PyObject *
results_make(PyObject *updated, int found)
{
    results_obj *o = (results_obj *)results_type->tp_alloc(results_type, 0);
    if (o == NULL) {
        Py_DECREF(updated);
        return NULL;
    }
    o->updated = updated;
    o->found = found != 0;
    return (PyObject *)o;
}

static PyObject *
results_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    (void)type;
    static char *kwlist[] = {"updated", "found", NULL};
    PyObject *updated = Py_None;
    int found = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|Op:IterateMatchResults", kwlist, &updated,
                                     &found)) {
        return NULL;
    }
    PyObject *u = convert_updated(updated);
    return u == NULL ? NULL : results_make(u, found);
}

static void
results_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    Py_XDECREF(((results_obj *)self)->updated);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyObject *
results_get_updated(PyObject *self, void *closure)
{
    (void)closure;
    return Py_NewRef(((results_obj *)self)->updated);
}

static int
results_set_updated(PyObject *self, PyObject *value, void *closure)
{
    (void)closure;
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "updated cannot be deleted");
        return -1;
    }
    PyObject *u = convert_updated(value);
    if (u == NULL) {
        return -1;
    }
    Py_SETREF(((results_obj *)self)->updated, u);
    return 0;
}

static PyObject *
results_get_found(PyObject *self, void *closure)
{
    (void)closure;
    return PyBool_FromLong(((results_obj *)self)->found);
}

static int
results_set_found(PyObject *self, PyObject *value, void *closure)
{
    (void)closure;
    int t = value == NULL ? -1 : PyObject_IsTrue(value);
    if (t < 0) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_AttributeError, "found cannot be deleted");
        }
        return -1;
    }
    ((results_obj *)self)->found = t;
    return 0;
}

static PyObject *
results_new_finished(PyObject *cls, PyObject *args, PyObject *kwds)
{
    (void)cls;
    static char *kwlist[] = {"found", NULL};
    int found = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|p:new_finished", kwlist, &found)) {
        return NULL;
    }
    return results_make(Py_NewRef(finished_singleton), found);
}

static PyObject *
results_to_tup(PyObject *self, PyObject *unused)
{
    (void)unused;
    results_obj *o = (results_obj *)self;
    return Py_BuildValue("(ON)", o->updated, PyBool_FromLong(o->found));
}

static PyObject *
results_unwrap_or_same(PyObject *self, PyObject *matcher)
{
    results_obj *o = (results_obj *)self;
    PyObject *u = o->updated == Py_None ? convert_updated(matcher) : Py_NewRef(o->updated);
    if (u == NULL) {
        return NULL;
    }
    return Py_BuildValue("(NN)", u, PyBool_FromLong(o->found));
}

static PyObject *
results_repr(PyObject *self)
{
    results_obj *o = (results_obj *)self;
    return PyUnicode_FromFormat("IterateMatchResults(updated=%R, found=%s)", o->updated,
                                o->found ? "True" : "False");
}

static PyMethodDef results_methods[] = {
    {"new_finished", (PyCFunction)(void (*)(void))results_new_finished,
     METH_VARARGS | METH_KEYWORDS | METH_STATIC,
     "new_finished(found=False): finished here, with found."},
    {"to_tup", results_to_tup, METH_NOARGS, "(updated, found)."},
    {"unwrap_or_same", results_unwrap_or_same, METH_O,
     "unwrap_or_same(matcher) -> (updated, or matcher when None, found)."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef results_getset[] = {
    {"updated", results_get_updated, results_set_updated,
     "None (same matcher for the children), FINISHED, a matcher for every child, or a list "
     "with one matcher or FINISHED per child.",
     NULL},
    {"found", results_get_found, results_set_found, "Whether this node is matched.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot results_slots[] = {
    {Py_tp_new, results_new},
    {Py_tp_dealloc, results_dealloc},
    {Py_tp_repr, results_repr},
    {Py_tp_methods, results_methods},
    {Py_tp_getset, results_getset},
    {Py_tp_doc, "IterateMatchResults(updated=None, found=False): what an iterative matcher "
                "says at one node."},
    {0, NULL},
};

static PyType_Spec results_spec = {
    .name = "circuits.IterateMatchResults",
    .basicsize = sizeof(results_obj),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = results_slots,
};

// A step as IterateMatchResults (new reference).
static PyObject *
results_of_step(const cc_step *s)
{
    PyObject *updated = NULL;
    switch (s->kind) {
    case CC_STEP_SAME:
        updated = Py_NewRef(Py_None);
        break;
    case CC_STEP_FINISHED:
        updated = Py_NewRef(finished_singleton);
        break;
    case CC_STEP_ONE:
        cc_imatcher_incref(s->one);
        updated = cc_py_imatcher_wrap(s->one);
        break;
    case CC_STEP_PER_CHILD:
        updated = PyList_New(s->n);
        for (int i = 0; updated != NULL && i < s->n; i++) {
            PyObject *item;
            if (s->per_child[i] == NULL) {
                item = Py_NewRef(finished_singleton);
            } else {
                cc_imatcher_incref(s->per_child[i]);
                item = cc_py_imatcher_wrap(s->per_child[i]);
            }
            if (item == NULL) {
                Py_CLEAR(updated);
                break;
            }
            PyList_SET_ITEM(updated, i, item);
        }
        break;
    }
    return updated == NULL ? NULL : results_make(updated, s->found);
}

// The step of IterativeMatcher.new_func: f(circuit) must return IterateMatchResults.
static int
func_iterate_cb(void *ctx, const cc_node *n, cc_step *out)
{
    PyObject *c = cc_py_wrap((cc_node *)n);
    if (c == NULL) {
        return cc_fail(CC_E_PYTHON, "wrapping a circuit failed");
    }
    PyObject *r = PyObject_CallOneArg((PyObject *)ctx, c);
    Py_DECREF(c);
    if (r == NULL) {
        return cc_fail(CC_E_PYTHON, "an iterative matcher function raised");
    }
    if (!PyObject_TypeCheck(r, results_type)) {
        PyErr_Format(PyExc_TypeError,
                     "an IterativeMatcher.new_func function must return IterateMatchResults, "
                     "not %.100s",
                     Py_TYPE(r)->tp_name);
        Py_DECREF(r);
        return cc_fail(CC_E_PYTHON, "bad result of an iterative matcher function");
    }
    results_obj *o = (results_obj *)r;
    out->found = o->found;
    PyObject *u = o->updated;
    if (u == Py_None) {
        out->kind = CC_STEP_SAME;
    } else if (u == finished_singleton) {
        out->kind = CC_STEP_FINISHED;
    } else if (PyList_Check(u)) {
        Py_ssize_t len = PyList_GET_SIZE(u);
        out->per_child = cc_calloc((size_t)(len > 0 ? len : 1), sizeof(cc_imatcher *));
        if (out->per_child == NULL) {
            Py_DECREF(r);
            return -1;
        }
        out->kind = CC_STEP_PER_CHILD;
        out->n = (int)len;
        for (Py_ssize_t i = 0; i < len; i++) {
            PyObject *x = PyList_GET_ITEM(u, i);
            if (x != finished_singleton) {
                out->per_child[i] = IMATCHER(x);
                cc_imatcher_incref(out->per_child[i]);
            }
        }
    } else {
        out->kind = CC_STEP_ONE;
        out->one = IMATCHER(u);
        cc_imatcher_incref(out->one);
    }
    Py_DECREF(r);
    return 0;
}

// --- IterativeMatcher -------------------------------------------------------------------------

static PyObject *
imatcher_of_tuple(PyObject *args, int kind_all)
{
    cc_imatcher **ms;
    int n;
    if (imatchers_from_seq(args, &ms, &n) < 0) {
        return NULL;
    }
    cc_imatcher *m = kind_all ? cc_imatcher_all(n, ms) : cc_imatcher_any(n, ms);
    free_imatchers(ms, n);
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
    PyObject *out = results_of_step(&s);
    cc_step_clear(&s);
    return out;
}

static PyObject *
imatcher_debug_print(PyObject *self, PyObject *unused)
{
    (void)unused;
    return describe_to_str(describe_imatcher, IMATCHER(self), "%s");
}

static PyObject *
imatcher_repr(PyObject *self)
{
    return describe_to_str(describe_imatcher, IMATCHER(self), "IterativeMatcher(%s)");
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
        if (imatchers_from_seq(seq, &ms, &n) < 0) {
            goto done;
        }
        if (first != NULL) {
            cc_imatcher *f = cc_py_imatcher_arg(first);
            if (f == NULL || cc_ptrvec_push(&items, f) < 0) {
                cc_imatcher_decref(f);
                free_imatchers(ms, n);
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
    PyObject *label = short_repr(f);
    if (label == NULL) {
        return NULL;
    }
    cc_imatch_callback cb = {
        .iterate = func_iterate_cb,
        .incref = py_incref,
        .decref = py_decref,
        .ctx = f,
        .label = PyUnicode_AsUTF8(label),
    };
    pointer_identity(cb.identity, f, "circuits.iterative_function");
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
    return hash_richcompare(IMATCHER(self)->hash, IMATCHER(other)->hash, op);
}

static Py_hash_t
imatcher_hash(PyObject *self)
{
    return hash_of(IMATCHER(self)->hash);
}

static PyMethodDef imatcher_methods[] = {
    {"match_iterate", imatcher_match_iterate, METH_O,
     "match_iterate(circuit) -> IterateMatchResults at this node."},
    {"debug_print_to_str", imatcher_debug_print, METH_NOARGS, "A readable form of the matcher."},
    {"validate_matched", matcher_validate_matched, METH_O,
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
    {Py_tp_methods, imatcher_methods},
    {Py_nb_or, imatcher_or},
    {Py_nb_and, imatcher_and},
    {Py_nb_bool, imatcher_bool},
    {Py_tp_doc, "IterativeMatcher(*inputs): a traversal state machine run from the root. No "
                "input is term(); several are their union. A bare callable is a Matcher "
                "predicate; use IterativeMatcher.new_func for a step function."},
    {0, NULL},
};

static PyType_Spec imatcher_spec = {
    .name = "circuits.IterativeMatcher",
    .basicsize = sizeof(cc_py_imatcher_obj),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = imatcher_slots,
};

// --- restrict and friends ---------------------------------------------------------------------

// An optional depth: None, or an int in [0, 2**32). -1 with an exception.
static int
depth_arg(PyObject *obj, const char *what, int *has, uint32_t *value)
{
    *has = 0;
    *value = 0;
    if (obj == NULL || obj == Py_None) {
        return 0;
    }
    long long v = PyLong_AsLongLong(obj);
    if (v == -1 && PyErr_Occurred()) {
        return -1;
    }
    if (v < 0 || v > (long long)UINT32_MAX) {
        PyErr_Format(PyExc_ValueError, "%s must be None or an int in [0, 2**32), got %lld", what,
                     v);
        return -1;
    }
    *has = 1;
    *value = (uint32_t)v;
    return 0;
}

static PyObject *
restrict_impl(PyObject *matcher, int term_if_matches, PyObject *start, PyObject *end,
              PyObject *term_early_at)
{
    int has_start, has_end;
    uint32_t s, e;
    if (depth_arg(start, "start_depth", &has_start, &s) < 0 ||
        depth_arg(end, "end_depth", &has_end, &e) < 0) {
        return NULL;
    }
    cc_matcher *early =
        term_early_at == NULL ? cc_matcher_always(0) : cc_py_matcher_arg(term_early_at);
    if (early == NULL) {
        return PyErr_Occurred() ? NULL : cc_py_raise();
    }
    cc_imatcher *inner = matcher == NULL ? NULL : cc_py_imatcher_arg(matcher);
    if (inner == NULL && matcher != NULL) {
        cc_matcher_decref(early);
        return NULL;
    }
    if (inner == NULL) {
        cc_matcher *t = cc_matcher_always(1);
        inner = t == NULL ? NULL : cc_imatcher_match(t);
        cc_matcher_decref(t);
        if (inner == NULL) {
            cc_matcher_decref(early);
            return cc_py_raise();
        }
    }
    cc_imatcher *m = cc_imatcher_restrict(inner, term_if_matches, has_start, s, has_end, e, early);
    cc_imatcher_decref(inner);
    cc_matcher_decref(early);
    return cc_py_imatcher_wrap(m);
}

static PyObject *
py_restrict(PyObject *module, PyObject *args, PyObject *kwds)
{
    (void)module;
    static char *kwlist[] = {"matcher",   "term_if_matches", "start_depth",
                             "end_depth", "term_early_at",   NULL};
    PyObject *matcher;
    PyObject *start = Py_None, *end = Py_None, *early = NULL;
    int term_if_matches = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|pOOO:restrict", kwlist, &matcher,
                                     &term_if_matches, &start, &end, &early)) {
        return NULL;
    }
    return restrict_impl(matcher, term_if_matches, start, end, early);
}

static PyObject *
self_restrict(PyObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"term_if_matches", "start_depth", "end_depth", "term_early_at", NULL};
    PyObject *start = Py_None, *end = Py_None, *early = NULL;
    int term_if_matches = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|pOOO:restrict", kwlist, &term_if_matches, &start,
                                     &end, &early)) {
        return NULL;
    }
    return restrict_impl(self, term_if_matches, start, end, early);
}

static PyObject *
py_restrict_sl(PyObject *module, PyObject *args, PyObject *kwds)
{
    (void)module;
    static char *kwlist[] = {"matcher", "term_if_matches", "depth_slice", "term_early_at", NULL};
    PyObject *matcher;
    PyObject *sl = NULL, *early = NULL;
    int term_if_matches = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|pOO:restrict_sl", kwlist, &matcher,
                                     &term_if_matches, &sl, &early)) {
        return NULL;
    }
    PyObject *start = Py_None, *stop = Py_None;
    if (sl != NULL && sl != Py_None) {
        if (!PySlice_Check(sl)) {
            return PyErr_Format(PyExc_TypeError, "depth_slice must be a slice, not %.100s",
                                Py_TYPE(sl)->tp_name);
        }
        PySliceObject *s = (PySliceObject *)sl;
        if (s->step != Py_None) {
            PyErr_SetString(PyExc_ValueError, "depth_slice cannot have a step");
            return NULL;
        }
        start = s->start;
        stop = s->stop;
    }
    return restrict_impl(matcher, term_if_matches, start, stop, early);
}

static PyObject *
py_new_traversal(PyObject *module, PyObject *args, PyObject *kwds)
{
    (void)module;
    static char *kwlist[] = {"start_depth", "end_depth", "term_early_at", NULL};
    PyObject *start = Py_None, *end = Py_None, *early = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|OOO:new_traversal", kwlist, &start, &end,
                                     &early)) {
        return NULL;
    }
    return restrict_impl(NULL, 0, start, end, early);
}

static PyObject *
py_traverse_until_depth(PyObject *module, PyObject *args, PyObject *kwds)
{
    (void)module;
    static char *kwlist[] = {"depth", NULL};
    PyObject *depth = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:traverse_until_depth", kwlist, &depth)) {
        return NULL;
    }
    if (depth == Py_None) {
        return restrict_impl(NULL, 0, Py_None, Py_None, NULL);
    }
    int has;
    uint32_t d;
    if (depth_arg(depth, "depth", &has, &d) < 0) {
        return NULL;
    }
    PyObject *end = PyLong_FromUnsignedLongLong((unsigned long long)d + 1);
    if (end == NULL) {
        return NULL;
    }
    PyObject *out = restrict_impl(NULL, 0, Py_None, end, NULL);
    Py_DECREF(end);
    return out;
}

static PyMethodDef module_functions[] = {
    {"restrict", (PyCFunction)(void (*)(void))py_restrict, METH_VARARGS | METH_KEYWORDS,
     "restrict(matcher, term_if_matches=False, start_depth=None, end_depth=None, "
     "term_early_at=False): depths from 0 at the root, start inclusive, end exclusive."},
    {"restrict_sl", (PyCFunction)(void (*)(void))py_restrict_sl, METH_VARARGS | METH_KEYWORDS,
     "restrict_sl(matcher, term_if_matches=False, depth_slice=slice(None), "
     "term_early_at=False)."},
    {"new_traversal", (PyCFunction)(void (*)(void))py_new_traversal, METH_VARARGS | METH_KEYWORDS,
     "new_traversal(start_depth=None, end_depth=None, term_early_at=False): matches everything "
     "within the restrictions."},
    {"traverse_until_depth", (PyCFunction)(void (*)(void))py_traverse_until_depth,
     METH_VARARGS | METH_KEYWORDS,
     "traverse_until_depth(depth=None) = new_traversal(end_depth=depth + 1); None: no limit."},
    {NULL, NULL, 0, NULL},
};

// Methods that build iterative matchers, on Matcher and IterativeMatcher alike.
static PyMethodDef builder_methods[] = {
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
    {"restrict", (PyCFunction)(void (*)(void))self_restrict, METH_VARARGS | METH_KEYWORDS,
     "restrict(term_if_matches=False, start_depth=None, end_depth=None, term_early_at=False)."},
    {"filter", (PyCFunction)(void (*)(void))self_restrict, METH_VARARGS | METH_KEYWORDS,
     "Alias of restrict."},
    {NULL, NULL, 0, NULL},
};

int
cc_py_match_init(PyObject *module)
{
    PyObject *re = PyImport_ImportModule("re");
    if (re == NULL) {
        return -1;
    }
    re_compile = PyObject_GetAttrString(re, "compile");
    Py_DECREF(re);
    if (re_compile == NULL) {
        return -1;
    }
    struct {
        PyType_Spec *spec;
        PyTypeObject **out;
        const char *name;
    } types[] = {
        {&regex_spec, &regex_type, "Regex"},
        {&matcher_spec, &cc_py_matcher_type, "Matcher"},
        {&imatcher_spec, &cc_py_imatcher_type, "IterativeMatcher"},
        {&finished_spec, &finished_type, "Finished"},
        {&results_spec, &results_type, "IterateMatchResults"},
    };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        PyObject *t = PyType_FromModuleAndSpec(module, types[i].spec, NULL);
        if (t == NULL) {
            return -1;
        }
        *types[i].out = (PyTypeObject *)t;
        if (PyModule_AddObjectRef(module, types[i].name, t) < 0) {
            return -1;
        }
    }
    finished_singleton = finished_type->tp_alloc(finished_type, 0);
    if (finished_singleton == NULL ||
        PyModule_AddObjectRef(module, "FINISHED", finished_singleton) < 0) {
        return -1;
    }
    if (cc_py_add_methods(cc_py_matcher_type, builder_methods) < 0 ||
        cc_py_add_methods(cc_py_imatcher_type, builder_methods) < 0) {
        return -1;
    }
    return PyModule_AddFunctions(module, module_functions);
}
