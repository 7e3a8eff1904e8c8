// Regex: rc's name search, run by match/regex.c for the patterns of its subset and by Python's
// re for the rest (which also validates every pattern).
#include "python/py_match.h"

#include <string.h>

#include "util/blake3.h"

static PyObject *re_compile; // re.compile, imported on first use

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
    if (re_compile == NULL) {
        PyObject *re = PyImport_ImportModule("re");
        re_compile = re == NULL ? NULL : PyObject_GetAttrString(re, "compile");
        Py_XDECREF(re);
        if (re_compile == NULL) {
            Py_DECREF(source);
            return NULL;
        }
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
    cc_py_regex_obj *o = (cc_py_regex_obj *)type->tp_alloc(type, 0);
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
    cc_py_regex_obj *o = (cc_py_regex_obj *)self;
    Py_XDECREF(o->pattern);
    Py_XDECREF(o->search);
    cc_regex_free(o->native);
    tp->tp_free(self);
    Py_DECREF(tp);
}

int
cc_py_regex_search(cc_py_regex_obj *o, PyObject *name)
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
    cc_py_regex_obj *o = (cc_py_regex_obj *)self;
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
    int r = cc_py_regex_search(o, s);
    return r < 0 ? NULL : PyBool_FromLong(r);
}

static PyObject *
regex_get_pattern(PyObject *self, void *closure)
{
    (void)closure;
    return Py_NewRef(((cc_py_regex_obj *)self)->pattern);
}

static PyObject *
regex_get_escape_dot(PyObject *self, void *closure)
{
    (void)closure;
    return PyBool_FromLong(((cc_py_regex_obj *)self)->escape_dot);
}

static PyObject *
regex_get_native(PyObject *self, void *closure)
{
    (void)closure;
    return PyBool_FromLong(((cc_py_regex_obj *)self)->native != NULL);
}

static PyObject *
regex_repr(PyObject *self)
{
    cc_py_regex_obj *o = (cc_py_regex_obj *)self;
    return PyUnicode_FromFormat("Regex(%R, escape_dot=%s)", o->pattern,
                                o->escape_dot ? "True" : "False");
}

static PyObject *
regex_richcompare(PyObject *self, PyObject *other, int op)
{
    if (!PyObject_TypeCheck(other, cc_py_regex_type) || (op != Py_EQ && op != Py_NE)) {
        Py_RETURN_NOTIMPLEMENTED;
    }
    int eq =
        memcmp(((cc_py_regex_obj *)self)->identity, ((cc_py_regex_obj *)other)->identity, 32) == 0;
    return PyBool_FromLong(op == Py_EQ ? eq : !eq);
}

static Py_hash_t
regex_hash(PyObject *self)
{
    Py_hash_t h;
    memcpy(&h, ((cc_py_regex_obj *)self)->identity, sizeof h);
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

PyType_Spec cc_py_regex_spec = {
    .name = "circuits.Regex",
    .basicsize = sizeof(cc_py_regex_obj),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = regex_slots,
};
