// circuits.Rearrange and circuits.RearrangeSpec: einops-style reshapes, permutes
// and repeats.
#include "python/bindings.h"
#include "util/alloc.h"

#define NODE(self) (((cc_py_node *)(self))->node)

PyTypeObject *cc_py_rearrange_spec_type;

PyObject *
cc_py_rearrange_spec_wrap(cc_rearrange_spec *spec_stolen)
{
    if (spec_stolen == NULL) {
        return cc_py_raise();
    }
    cc_py_rspec_obj *obj = PyObject_New(cc_py_rspec_obj, cc_py_rearrange_spec_type);
    if (obj == NULL) {
        cc_rearrange_spec_free(spec_stolen);
        return NULL;
    }
    obj->spec = spec_stolen;
    return (PyObject *)obj;
}

cc_rearrange_spec *
cc_py_rearrange_spec_arg(PyObject *obj)
{
    if (PyUnicode_Check(obj)) {
        const char *s = PyUnicode_AsUTF8(obj);
        if (s == NULL) {
            return NULL;
        }
        cc_rearrange_spec *spec = cc_rearrange_spec_from_string(s);
        if (spec == NULL) {
            cc_py_raise();
        }
        return spec;
    }
    if (!PyObject_TypeCheck(obj, cc_py_rearrange_spec_type)) {
        PyErr_Format(PyExc_TypeError, "expected a RearrangeSpec or a string, not %.100s",
                     Py_TYPE(obj)->tp_name);
        return NULL;
    }
    cc_rearrange_spec *spec = cc_rearrange_spec_copy(((cc_py_rspec_obj *)obj)->spec);
    if (spec == NULL) {
        cc_py_raise();
    }
    return spec;
}

// A list of int groups -> flat ints and group lengths (PyMem; caller frees both).
static int
parse_groups(PyObject *obj, const char *what, int *n_groups, int **lens, uint8_t **ints)
{
    PyObject *fast = PySequence_Fast(obj, "expected a list of lists of ints");
    if (fast == NULL) {
        return -1;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    Py_ssize_t total = 0, cap = 16;
    *lens = PyMem_Malloc(sizeof(int) * (size_t)(n ? n : 1));
    *ints = PyMem_Malloc((size_t)cap);
    if (*lens == NULL || *ints == NULL) {
        goto nomem;
    }
    for (Py_ssize_t g = 0; g < n; g++) {
        PyObject *group = PySequence_Fast(PySequence_Fast_GET_ITEM(fast, g),
                                          "each axis group must be a list of ints");
        if (group == NULL) {
            goto fail;
        }
        Py_ssize_t len = PySequence_Fast_GET_SIZE(group);
        (*lens)[g] = (int)len;
        for (Py_ssize_t j = 0; j < len; j++) {
            long v = PyLong_AsLong(PySequence_Fast_GET_ITEM(group, j));
            if (v == -1 && PyErr_Occurred()) {
                Py_DECREF(group);
                goto fail;
            }
            if (v < 0 || v > 255) {
                Py_DECREF(group);
                PyErr_Format(PyExc_ValueError, "%s: axis ints must be in 0..255, got %ld", what, v);
                goto fail;
            }
            if (total == cap) {
                cap *= 2;
                uint8_t *p = PyMem_Realloc(*ints, (size_t)cap);
                if (p == NULL) {
                    Py_DECREF(group);
                    goto nomem;
                }
                *ints = p;
            }
            (*ints)[total++] = (uint8_t)v;
        }
        Py_DECREF(group);
    }
    Py_DECREF(fast);
    *n_groups = (int)n;
    return 0;
nomem:
    PyErr_NoMemory();
fail:
    PyMem_Free(*lens);
    PyMem_Free(*ints);
    *lens = NULL;
    *ints = NULL;
    Py_DECREF(fast);
    return -1;
}

static PyObject *
spec_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    (void)type;
    static char *kwlist[] = {"input_ints", "output_ints", "int_sizes", NULL};
    PyObject *in_obj, *out_obj, *sizes_obj;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOO:RearrangeSpec", kwlist, &in_obj, &out_obj,
                                     &sizes_obj)) {
        return NULL;
    }
    int n_in = 0, n_out = 0, *in_lens = NULL, *out_lens = NULL;
    uint8_t *in_ints = NULL, *out_ints = NULL;
    int64_t *sizes = NULL;
    PyObject *result = NULL;
    PyObject *sizes_fast = NULL;
    if (parse_groups(in_obj, "input_ints", &n_in, &in_lens, &in_ints) < 0 ||
        parse_groups(out_obj, "output_ints", &n_out, &out_lens, &out_ints) < 0) {
        goto done;
    }
    sizes_fast = PySequence_Fast(sizes_obj, "int_sizes must be a list of ints or None");
    if (sizes_fast == NULL) {
        goto done;
    }
    Py_ssize_t n_sizes = PySequence_Fast_GET_SIZE(sizes_fast);
    sizes = PyMem_Malloc(sizeof(int64_t) * (size_t)(n_sizes ? n_sizes : 1));
    if (sizes == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n_sizes; i++) {
        PyObject *v = PySequence_Fast_GET_ITEM(sizes_fast, i);
        if (v == Py_None) {
            sizes[i] = CC_REARRANGE_SIZE_NONE;
            continue;
        }
        sizes[i] = PyLong_AsLongLong(v);
        if (sizes[i] == -1 && PyErr_Occurred()) {
            goto done;
        }
        if (sizes[i] < 0) {
            PyErr_Format(PyExc_ValueError, "int_sizes[%zd] is negative", i);
            goto done;
        }
    }
    result = cc_py_rearrange_spec_wrap(cc_rearrange_spec_new(
        n_in, in_lens, in_ints, n_out, out_lens, out_ints, (int)n_sizes, sizes));
done:
    Py_XDECREF(sizes_fast);
    PyMem_Free(in_lens);
    PyMem_Free(in_ints);
    PyMem_Free(out_lens);
    PyMem_Free(out_ints);
    PyMem_Free(sizes);
    return result;
}

static void
spec_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    cc_rearrange_spec_free(((cc_py_rspec_obj *)self)->spec);
    PyObject_Free(self);
    Py_DECREF(tp);
}

#define SPEC(self) (((cc_py_rspec_obj *)(self))->spec)

static PyObject *
groups_list(int n, const int *start, const uint8_t *ints)
{
    PyObject *list = PyList_New(n);
    if (list == NULL) {
        return NULL;
    }
    for (int g = 0; g < n; g++) {
        PyObject *group = PyList_New(start[g + 1] - start[g]);
        if (group == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        for (int j = start[g]; j < start[g + 1]; j++) {
            PyObject *v = PyLong_FromLong(ints[j]);
            if (v == NULL) {
                Py_DECREF(group);
                Py_DECREF(list);
                return NULL;
            }
            PyList_SET_ITEM(group, j - start[g], v);
        }
        PyList_SET_ITEM(list, g, group);
    }
    return list;
}

static PyObject *
spec_input_ints(PyObject *self, void *closure)
{
    (void)closure;
    return groups_list(SPEC(self)->n_in, SPEC(self)->in_start, SPEC(self)->in_ints);
}

static PyObject *
spec_output_ints(PyObject *self, void *closure)
{
    (void)closure;
    return groups_list(SPEC(self)->n_out, SPEC(self)->out_start, SPEC(self)->out_ints);
}

static PyObject *
spec_int_sizes(PyObject *self, void *closure)
{
    (void)closure;
    const cc_rearrange_spec *s = SPEC(self);
    PyObject *list = PyList_New(s->n_sizes);
    if (list == NULL) {
        return NULL;
    }
    for (int i = 0; i < s->n_sizes; i++) {
        PyObject *v = s->sizes[i] == CC_REARRANGE_SIZE_NONE ? Py_NewRef(Py_None)
                                                            : PyLong_FromLongLong(s->sizes[i]);
        if (v == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, v);
    }
    return list;
}

static PyObject *
spec_to_string(PyObject *self, PyObject *unused)
{
    (void)unused;
    char *s = cc_rearrange_spec_to_string(SPEC(self));
    if (s == NULL) {
        return cc_py_raise();
    }
    PyObject *out = PyUnicode_FromString(s);
    cc_free(s);
    return out;
}

static PyObject *
spec_repr(PyObject *self)
{
    PyObject *s = spec_to_string(self, NULL);
    if (s == NULL) {
        return NULL;
    }
    PyObject *out = PyUnicode_FromFormat("RearrangeSpec('%U')", s);
    Py_DECREF(s);
    return out;
}

static PyObject *
spec_from_string(PyObject *cls, PyObject *arg)
{
    (void)cls;
    const char *s = PyUnicode_AsUTF8(arg);
    if (s == NULL) {
        return NULL;
    }
    return cc_py_rearrange_spec_wrap(cc_rearrange_spec_from_string(s));
}

static PyObject *
spec_richcompare(PyObject *self, PyObject *other, int op)
{
    if (!PyObject_TypeCheck(other, cc_py_rearrange_spec_type) || (op != Py_EQ && op != Py_NE)) {
        Py_RETURN_NOTIMPLEMENTED;
    }
    PyObject *keys[2];
    PyObject *pair[2] = {self, other};
    for (int i = 0; i < 2; i++) {
        keys[i] = Py_BuildValue("(NNN)", spec_input_ints(pair[i], NULL),
                                spec_output_ints(pair[i], NULL), spec_int_sizes(pair[i], NULL));
        if (keys[i] == NULL) {
            if (i == 1) {
                Py_DECREF(keys[0]);
            }
            return NULL;
        }
    }
    PyObject *out = PyObject_RichCompare(keys[0], keys[1], op);
    Py_DECREF(keys[0]);
    Py_DECREF(keys[1]);
    return out;
}

static PyGetSetDef spec_getset[] = {
    {"input_ints", spec_input_ints, NULL, "Input axis groups, as lists of ints.", NULL},
    {"output_ints", spec_output_ints, NULL, "Output axis groups, as lists of ints.", NULL},
    {"int_sizes", spec_int_sizes, NULL, "Size of each int, or None when inferred.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef spec_methods[] = {
    {"from_string", spec_from_string, METH_O | METH_CLASS,
     "from_string('a (b c) -> (a b) c') -> RearrangeSpec"},
    {"to_string", spec_to_string, METH_NOARGS, "The spec in rc's string form."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot spec_slots[] = {
    {Py_tp_new, spec_new},
    {Py_tp_dealloc, spec_dealloc},
    {Py_tp_repr, spec_repr},
    {Py_tp_str, spec_to_string},
    {Py_tp_richcompare, spec_richcompare},
    {Py_tp_getset, spec_getset},
    {Py_tp_methods, spec_methods},
    {Py_tp_doc, "RearrangeSpec(input_ints, output_ints, int_sizes): einops-style axis groups."},
    {0, NULL},
};

static PyType_Spec spec_spec = {
    .name = "circuits.RearrangeSpec",
    .basicsize = sizeof(cc_py_rspec_obj),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = spec_slots,
};

int
cc_py_rearrange_spec_init(PyObject *module)
{
    cc_py_rearrange_spec_type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &spec_spec, NULL);
    if (cc_py_rearrange_spec_type == NULL) {
        return -1;
    }
    return PyModule_AddObjectRef(module, "RearrangeSpec", (PyObject *)cc_py_rearrange_spec_type);
}

// --- the node ----------------------------------------------------------------------------

static PyObject *
rearrange_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    (void)type;
    static char *kwlist[] = {"node", "spec", "name", NULL};
    PyObject *node_obj, *spec_obj, *name_obj = Py_None;
    const char *name;
    cc_node *child;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO|O:Rearrange", kwlist, &node_obj, &spec_obj,
                                     &name_obj) ||
        cc_py_name_arg(name_obj, &name) < 0 || !cc_py_node_check(node_obj, "node", &child)) {
        return NULL;
    }
    cc_rearrange_spec *spec = cc_py_rearrange_spec_arg(spec_obj);
    if (spec == NULL) {
        return NULL;
    }
    cc_node *n = cc_rearrange_new(child, spec, name);
    cc_rearrange_spec_free(spec);
    return cc_py_wrap_steal(n);
}

static PyObject *
rearrange_from_string(PyObject *cls, PyObject *args, PyObject *kwds)
{
    (void)cls;
    static char *kwlist[] = {"node", "string", "name", NULL};
    PyObject *node_obj, *name_obj = Py_None, *str_obj;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OU|O:from_string", kwlist, &node_obj, &str_obj,
                                     &name_obj)) {
        return NULL;
    }
    PyObject *call_args = PyTuple_Pack(3, node_obj, str_obj, name_obj);
    if (call_args == NULL) {
        return NULL;
    }
    PyObject *out = rearrange_new(NULL, call_args, NULL);
    Py_DECREF(call_args);
    return out;
}

static PyObject *
rearrange_spec_get(PyObject *self, void *closure)
{
    (void)closure;
    cc_rearrange_spec *copy = cc_rearrange_spec_copy(NODE(self)->u.rearrange.spec);
    return cc_py_rearrange_spec_wrap(copy);
}

static PyObject *
rearrange_node(PyObject *self, void *closure)
{
    (void)closure;
    return cc_py_wrap(NODE(self)->children[0]);
}

static PyGetSetDef rearrange_getset[] = {
    {"spec", rearrange_spec_get, NULL, "The RearrangeSpec, as given.", NULL},
    {"node", rearrange_node, NULL, "The rearranged circuit.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef rearrange_methods[] = {
    {"from_string", (PyCFunction)(void (*)(void))rearrange_from_string,
     METH_VARARGS | METH_KEYWORDS | METH_CLASS,
     "from_string(node, 'a b -> b a', name=None) -> Rearrange"},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot rearrange_slots[] = {
    {Py_tp_new, rearrange_new},
    {Py_tp_getset, rearrange_getset},
    {Py_tp_methods, rearrange_methods},
    {Py_tp_doc, "Rearrange(node, spec, name=None): einops-style reshape/permute/repeat."},
    {0, NULL},
};

PyType_Spec cc_py_rearrange_spec = {
    .name = "circuits.Rearrange",
    .basicsize = sizeof(cc_py_node),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = rearrange_slots,
};
