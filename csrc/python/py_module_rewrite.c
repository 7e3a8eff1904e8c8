// Module functions of rc's module algebra: elim_empty_module, elim_no_input_module,
// module_remove_unused_inputs, deep_module_remove_unused_inputs. Only argument translation
// lives here; the rewrites are in rewrite/module_rewrite.c.
#include "python/bindings.h"

#include "rewrite/module_rewrite.h"

// A Module (borrowed), else a TypeError naming the argument and what it got.
static int
module_arg(PyObject *obj, const char *what, cc_node **out)
{
    if (!cc_py_node_check(obj, what, out)) {
        return -1;
    }
    if ((*out)->kind != CC_KIND_MODULE) {
        PyErr_Format(PyExc_TypeError, "%s: expected Module but got %s", what,
                     cc_kind_get_info((*out)->kind)->py_name);
        return -1;
    }
    return 0;
}

// rc's Optional result: None when the rewrite does not apply.
static PyObject *
wrap_optional(int rc, cc_node *out)
{
    if (rc < 0) {
        return cc_py_raise();
    }
    if (out == NULL) {
        Py_RETURN_NONE;
    }
    return cc_py_wrap_steal(out);
}

static PyObject *
py_elim_empty_module(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    static char *kwlist[] = {"module", NULL};
    PyObject *obj;
    cc_node *m, *out;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O:elim_empty_module", kwlist, &obj) ||
        module_arg(obj, "elim_empty_module", &m) < 0) {
        return NULL;
    }
    int rc = cc_elim_empty_module(m, &out);
    return wrap_optional(rc, out);
}

static PyObject *
py_elim_no_input_module(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    static char *kwlist[] = {"module", NULL};
    PyObject *obj;
    cc_node *m, *out;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O:elim_no_input_module", kwlist, &obj) ||
        module_arg(obj, "elim_no_input_module", &m) < 0) {
        return NULL;
    }
    int rc = cc_elim_no_input_module(m, &out);
    return wrap_optional(rc, out);
}

static PyObject *
py_module_remove_unused_inputs(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    static char *kwlist[] = {"m", "add_suffix_on_remove_unused", "use_elim_no_input_module", NULL};
    PyObject *obj;
    int add_suffix = 1, elim_no_input = 1;
    cc_node *m, *out;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|pp:module_remove_unused_inputs", kwlist, &obj,
                                     &add_suffix, &elim_no_input) ||
        module_arg(obj, "module_remove_unused_inputs", &m) < 0) {
        return NULL;
    }
    if (cc_module_remove_unused_inputs_op(m, add_suffix, elim_no_input, &out) < 0) {
        return cc_py_raise();
    }
    return out != NULL ? cc_py_wrap_steal(out) : cc_py_wrap(m);
}

static PyObject *
py_deep_module_remove_unused_inputs(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    static char *kwlist[] = {"circuit", "add_suffix_on_remove_unused", "use_elim_no_input_module",
                             "elim_empty", NULL};
    PyObject *obj;
    int add_suffix = 1, elim_no_input = 1, elim_empty = 0;
    cc_node *c;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|ppp:deep_module_remove_unused_inputs", kwlist,
                                     &obj, &add_suffix, &elim_no_input, &elim_empty) ||
        !cc_py_node_check(obj, "deep_module_remove_unused_inputs", &c)) {
        return NULL;
    }
    return cc_py_wrap_steal(
        cc_deep_module_remove_unused_inputs(c, add_suffix, elim_no_input, elim_empty));
}

PyMethodDef cc_py_module_rewrite_methods[] = {
    {"elim_empty_module", (PyCFunction)(void (*)(void))py_elim_empty_module,
     METH_VARARGS | METH_KEYWORDS,
     "elim_empty_module(module) -> Optional[Circuit]: the substituted module when its body is "
     "a single node."},
    {"elim_no_input_module", (PyCFunction)(void (*)(void))py_elim_no_input_module,
     METH_VARARGS | METH_KEYWORDS,
     "elim_no_input_module(module) -> Optional[Circuit]: the body of a module binding no "
     "arguments."},
    {"module_remove_unused_inputs", (PyCFunction)(void (*)(void))py_module_remove_unused_inputs,
     METH_VARARGS | METH_KEYWORDS,
     "module_remove_unused_inputs(m, add_suffix_on_remove_unused=True, "
     "use_elim_no_input_module=True) -> Circuit: the module without the arguments its body "
     "does not use."},
    {"deep_module_remove_unused_inputs",
     (PyCFunction)(void (*)(void))py_deep_module_remove_unused_inputs, METH_VARARGS | METH_KEYWORDS,
     "deep_module_remove_unused_inputs(circuit, add_suffix_on_remove_unused=True, "
     "use_elim_no_input_module=True, elim_empty=False) -> Circuit: module_remove_unused_inputs "
     "(after elim_empty_module with elim_empty) on every Module, bottom-up."},
    {NULL, NULL, 0, NULL},
};
