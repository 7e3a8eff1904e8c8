// Argument conversion shared by the matcher bindings: rc's MatcherIn and IterativeMatcherIn
// values to core matchers (regexes and Python callables become callbacks that run with the GIL
// held; matching always holds it), the matcher wrappers, and small helpers of the types' files.
#include "python/py_match.h"

#include <string.h>

#include "util/blake3.h"
#include "util/error.h"
#include "util/str.h"

void
cc_py_ctx_incref(void *ctx)
{
    Py_INCREF((PyObject *)ctx);
}

void
cc_py_ctx_decref(void *ctx)
{
    Py_DECREF((PyObject *)ctx);
}

void
cc_py_pointer_identity(uint8_t out[32], const void *p, const char *tag)
{
    cc_blake3 h;
    uintptr_t v = (uintptr_t)p;
    cc_blake3_init(&h);
    cc_blake3_update(&h, tag, strlen(tag));
    cc_blake3_update(&h, &v, sizeof v);
    cc_blake3_final(&h, out, 32);
}

PyObject *
cc_py_short_repr(PyObject *obj)
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

PyObject *
cc_py_matcher_str(const cc_matcher *m, const char *fmt)
{
    return describe_to_str(describe_matcher, m, fmt);
}

PyObject *
cc_py_imatcher_str(const cc_imatcher *m, const char *fmt)
{
    return describe_to_str(describe_imatcher, m, fmt);
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

// --- MatcherIn conversion -------------------------------------------------------------------

static int
regex_match_cb(void *ctx, const cc_node *n, int *out)
{
    if (n->name == NULL) {
        *out = 0;
        return 0;
    }
    PyObject *name = PyUnicode_FromString(n->name);
    int r = name == NULL ? -1 : cc_py_regex_search((cc_py_regex_obj *)ctx, name);
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

cc_matcher *
cc_py_regex_matcher(PyObject *regex)
{
    PyObject *label = PyObject_Repr(regex);
    if (label == NULL) {
        return NULL;
    }
    cc_match_callback cb = {
        .kind = CC_MATCH_CALLBACK_REGEX,
        .match = regex_match_cb,
        .incref = cc_py_ctx_incref,
        .decref = cc_py_ctx_decref,
        .ctx = regex,
        .label = PyUnicode_AsUTF8(label),
        .regex = ((cc_py_regex_obj *)regex)->native,
    };
    memcpy(cb.identity, ((cc_py_regex_obj *)regex)->identity, 32);
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
    PyObject *label = cc_py_short_repr(f);
    if (label == NULL) {
        return NULL;
    }
    cc_match_callback cb = {
        .kind = CC_MATCH_CALLBACK_FUNCTION,
        .match = func_match_cb,
        .incref = cc_py_ctx_incref,
        .decref = cc_py_ctx_decref,
        .ctx = f,
        .label = PyUnicode_AsUTF8(label),
    };
    cc_py_pointer_identity(cb.identity, f, "circuits.function");
    cc_matcher *m = cb.label == NULL ? NULL : cc_matcher_callback(&cb);
    Py_DECREF(label);
    if (m == NULL && !PyErr_Occurred()) {
        cc_py_raise();
    }
    return m;
}

int
cc_py_kind_of_type(PyObject *t)
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

PyObject *
cc_py_not_a_node_type(PyObject *t)
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
            int k = PyType_Check(x) ? cc_py_kind_of_type(x) : -1;
            if (k < 0) {
                if (PyType_Check(x)) {
                    cc_py_not_a_node_type(x);
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
        cc_matcher_incref(CC_PY_MATCHER(obj));
        return CC_PY_MATCHER(obj);
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
        int k = cc_py_kind_of_type(obj);
        if (k < 0) {
            cc_py_not_a_node_type(obj);
            return NULL;
        }
        return raise_or(cc_matcher_types((uint64_t)1 << k));
    }
    if (PyObject_TypeCheck(obj, cc_py_circuit_type)) {
        cc_node *n = ((cc_py_node *)obj)->node;
        return raise_or(cc_matcher_circuits(1, &n));
    }
    if (PyObject_TypeCheck(obj, cc_py_regex_type)) {
        return cc_py_regex_matcher(obj);
    }
    if (PyObject_TypeCheck(obj, cc_py_bound_any_found_type)) {
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
        cc_imatcher_incref(CC_PY_IMATCHER(obj));
        return CC_PY_IMATCHER(obj);
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

int
cc_py_matchers_from_tuple(PyObject *args, Py_ssize_t from, cc_matcher ***out, int *n)
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

void
cc_py_matchers_free(cc_matcher **ms, int n)
{
    for (int i = 0; i < n; i++) {
        cc_matcher_decref(ms[i]);
    }
    PyMem_Free(ms);
}

int
cc_py_imatchers_from_seq(PyObject *seq, cc_imatcher ***out, int *n)
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

void
cc_py_imatchers_free(cc_imatcher **ms, int n)
{
    for (int i = 0; i < n; i++) {
        cc_imatcher_decref(ms[i]);
    }
    PyMem_Free(ms);
}

PyObject *
cc_py_hash_richcompare(const uint8_t *a, const uint8_t *b, int op)
{
    if (op != Py_EQ && op != Py_NE) {
        Py_RETURN_NOTIMPLEMENTED;
    }
    int eq = memcmp(a, b, 32) == 0;
    return PyBool_FromLong(op == Py_EQ ? eq : !eq);
}

Py_hash_t
cc_py_hash_of(const uint8_t *bytes)
{
    Py_hash_t h;
    memcpy(&h, bytes, sizeof h);
    return h == -1 ? -2 : h;
}
