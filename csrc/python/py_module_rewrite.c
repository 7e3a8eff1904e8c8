// rc's module algebra: elim_empty_module, elim_no_input_module, (deep_)module_remove_unused_inputs,
// module_new_bind and its BindItem type, extract_symbols(_get), inline_single_callsite_modules,
// fuse_concat_modules, strip_names_and_tags. Only argument translation lives here; the work is
// in rewrite/module_rewrite.c and rewrite/module_bind.c.
#include "python/bindings.h"

#include <limits.h>
#include <structmember.h>

#include "python/py_match.h"
#include "rewrite/module_bind.h"
#include "rewrite/module_rewrite.h"
#include "util/alloc.h"

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

// --- BindItem ---------------------------------------------------------------------------------

typedef struct {
    PyObject_HEAD PyObject *matcher; // an IterativeMatcher
    PyObject *input_circuit;         // a Circuit
    char batchable;
    char expandable;
    char ban_non_symbolic_size_expand;
} binditem_obj;

static PyTypeObject *binditem_type;

// An IterativeMatcher object for the IterativeMatcherIn obj (new reference), or NULL.
static PyObject *
imatcher_object(PyObject *obj)
{
    if (PyObject_TypeCheck(obj, cc_py_imatcher_type)) {
        return Py_NewRef(obj);
    }
    cc_imatcher *m = cc_py_imatcher_arg(obj);
    return m == NULL ? NULL : cc_py_imatcher_wrap(m);
}

static PyObject *
binditem_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {
        "matcher", "input_circuit", "batchable", "expandable", "ban_non_symbolic_size_expand",
        NULL};
    PyObject *matcher, *circuit;
    int batchable = 1, expandable = 1, ban = 1;
    cc_node *node;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO|ppp:BindItem", kwlist, &matcher, &circuit,
                                     &batchable, &expandable, &ban) ||
        !cc_py_node_check(circuit, "BindItem input_circuit", &node)) {
        return NULL;
    }
    binditem_obj *o = (binditem_obj *)type->tp_alloc(type, 0);
    if (o == NULL) {
        return NULL;
    }
    o->matcher = imatcher_object(matcher);
    if (o->matcher == NULL) {
        Py_DECREF(o);
        return NULL;
    }
    o->input_circuit = Py_NewRef(circuit);
    o->batchable = (char)batchable;
    o->expandable = (char)expandable;
    o->ban_non_symbolic_size_expand = (char)ban;
    return (PyObject *)o;
}

static void
binditem_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    binditem_obj *o = (binditem_obj *)self;
    Py_CLEAR(o->matcher);
    Py_CLEAR(o->input_circuit);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyObject *
binditem_repr(PyObject *self)
{
    binditem_obj *o = (binditem_obj *)self;
    return PyUnicode_FromFormat("BindItem(matcher=%R, input_circuit=%R, batchable=%s, "
                                "expandable=%s, ban_non_symbolic_size_expand=%s)",
                                o->matcher, o->input_circuit, o->batchable ? "True" : "False",
                                o->expandable ? "True" : "False",
                                o->ban_non_symbolic_size_expand ? "True" : "False");
}

static PyObject *
binditem_get_matcher(PyObject *self, void *closure)
{
    (void)closure;
    return Py_NewRef(((binditem_obj *)self)->matcher);
}

static int
binditem_set_matcher(PyObject *self, PyObject *value, void *closure)
{
    (void)closure;
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "BindItem.matcher cannot be deleted");
        return -1;
    }
    PyObject *m = imatcher_object(value);
    if (m == NULL) {
        return -1;
    }
    Py_SETREF(((binditem_obj *)self)->matcher, m);
    return 0;
}

static PyObject *
binditem_get_input(PyObject *self, void *closure)
{
    (void)closure;
    return Py_NewRef(((binditem_obj *)self)->input_circuit);
}

static int
binditem_set_input(PyObject *self, PyObject *value, void *closure)
{
    (void)closure;
    cc_node *node;
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "BindItem.input_circuit cannot be deleted");
        return -1;
    }
    if (!cc_py_node_check(value, "BindItem input_circuit", &node)) {
        return -1;
    }
    Py_SETREF(((binditem_obj *)self)->input_circuit, Py_NewRef(value));
    return 0;
}

static PyGetSetDef binditem_getset[] = {
    {"matcher", binditem_get_matcher, binditem_set_matcher,
     "The IterativeMatcher finding the Symbol to bind (set from any IterativeMatcherIn).", NULL},
    {"input_circuit", binditem_get_input, binditem_set_input, "The Circuit bound to it.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMemberDef binditem_members[] = {
    {"batchable", T_BOOL, offsetof(binditem_obj, batchable), 0,
     "The argument may have extra leading (batch) axes."},
    {"expandable", T_BOOL, offsetof(binditem_obj, expandable), 0,
     "The argument's trailing sizes may differ from the symbol's."},
    {"ban_non_symbolic_size_expand", T_BOOL, offsetof(binditem_obj, ban_non_symbolic_size_expand),
     0, "Sizes may only change where the symbol's size is symbolic."},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot binditem_slots[] = {
    {Py_tp_new, binditem_new},
    {Py_tp_dealloc, binditem_dealloc},
    {Py_tp_repr, binditem_repr},
    {Py_tp_getset, binditem_getset},
    {Py_tp_members, binditem_members},
    {Py_tp_doc, "BindItem(matcher, input_circuit, batchable=True, expandable=True, "
                "ban_non_symbolic_size_expand=True): one binder of module_new_bind; matcher "
                "must match exactly one Symbol of the spec circuit."},
    {0, NULL},
};

static PyType_Spec binditem_spec = {
    .name = "circuits.BindItem",
    .basicsize = sizeof(binditem_obj),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = binditem_slots,
};

// --- module_new_bind --------------------------------------------------------------------------

// The C binder of a (IterativeMatcherIn, Circuit) tuple or a BindItem; item->matcher is a new
// reference. -1 with an exception.
static int
binder_arg(PyObject *obj, int i, cc_bind_item *item)
{
    PyObject *matcher, *circuit;
    if (PyObject_TypeCheck(obj, binditem_type)) {
        binditem_obj *o = (binditem_obj *)obj;
        matcher = o->matcher;
        circuit = o->input_circuit;
        item->batchable = (uint8_t)(o->batchable != 0);
        item->expandable = (uint8_t)(o->expandable != 0);
        item->ban_non_symbolic_size_expand = (uint8_t)(o->ban_non_symbolic_size_expand != 0);
    } else if (PyTuple_Check(obj) && PyTuple_GET_SIZE(obj) == 2) {
        matcher = PyTuple_GET_ITEM(obj, 0);
        circuit = PyTuple_GET_ITEM(obj, 1);
        item->batchable = item->expandable = item->ban_non_symbolic_size_expand = 1;
    } else {
        PyErr_Format(PyExc_TypeError,
                     "module_new_bind: binder %d must be a (matcher, circuit) tuple or a "
                     "BindItem, not %.100s",
                     i, Py_TYPE(obj)->tp_name);
        return -1;
    }
    if (!cc_py_node_check(circuit, "module_new_bind binder circuit", &item->input)) {
        return -1;
    }
    item->matcher = cc_py_imatcher_arg(matcher);
    return item->matcher == NULL ? -1 : 0;
}

static PyObject *
py_module_new_bind(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    static char *kwlist[] = {"spec_circuit", "check_unique_arg_names", "name", NULL};
    Py_ssize_t n_args = PyTuple_GET_SIZE(args);
    PyObject *head = PyTuple_GetSlice(args, 0, n_args > 0 ? 1 : 0);
    if (head == NULL) {
        return NULL;
    }
    PyObject *spec_obj, *name_obj = Py_None;
    int check_unique = 1;
    int ok = PyArg_ParseTupleAndKeywords(head, kwds, "O|$pO:module_new_bind", kwlist, &spec_obj,
                                         &check_unique, &name_obj);
    Py_DECREF(head);
    cc_node *spec;
    const char *name;
    if (!ok || !cc_py_node_check(spec_obj, "module_new_bind spec_circuit", &spec) ||
        cc_py_name_arg(name_obj, &name) < 0) {
        return NULL;
    }
    int n = n_args > 0 ? (int)(n_args - 1) : 0;
    cc_bind_item *items = PyMem_Calloc((size_t)(n > 0 ? n : 1), sizeof(cc_bind_item));
    if (items == NULL) {
        return PyErr_NoMemory();
    }
    PyObject *out = NULL;
    int i = 0;
    for (; i < n; i++) {
        if (binder_arg(PyTuple_GET_ITEM(args, i + 1), i, &items[i]) < 0) {
            break;
        }
    }
    if (i == n) {
        out = cc_py_wrap_steal(cc_module_new_bind(spec, n, items, check_unique, name));
    }
    for (int j = 0; j < n; j++) {
        cc_imatcher_decref(items[j].matcher);
    }
    PyMem_Free(items);
    return out;
}

// --- extract_symbols ------------------------------------------------------------------------

// The options of extract_symbols(_get) from their Python forms; o->traversal a new reference
// (NULL for None: every node visited). -1 with an exception.
static int
extract_options(PyObject *use_elim, PyObject *conform, PyObject *traversal, cc_extract_options *o)
{
    o->traversal = NULL;
    o->use_elim_no_input_modules = cc_py_opt_bool(use_elim, 1);
    o->conform_batch_if_needed = cc_py_opt_bool(conform, 0);
    if (o->use_elim_no_input_modules < 0 || o->conform_batch_if_needed < 0) {
        return -1;
    }
    if (traversal != NULL && traversal != Py_None) {
        o->traversal = cc_py_imatcher_arg(traversal);
        if (o->traversal == NULL) {
            return -1;
        }
    }
    return 0;
}

static PyObject *
py_extract_symbols(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    static char *kwlist[] = {
        "circuit",   "symbols", "use_elim_no_input_modules", "conform_batch_if_needed",
        "traversal", NULL};
    PyObject *obj, *syms_obj, *use_elim = NULL, *conform = NULL, *traversal = NULL;
    cc_node *c;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO|OOO:extract_symbols", kwlist, &obj, &syms_obj,
                                     &use_elim, &conform, &traversal) ||
        !cc_py_node_check(obj, "extract_symbols circuit", &c)) {
        return NULL;
    }
    PyObject *fast = PySequence_Fast(syms_obj, "extract_symbols: symbols must be a set of Symbols");
    if (fast == NULL) {
        return NULL;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    cc_node **syms = PyMem_Calloc((size_t)(n > 0 ? n : 1), sizeof(cc_node *));
    PyObject *out = NULL;
    cc_extract_options o = {0};
    if (syms == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(fast, i);
        if (!cc_py_node_check(item, "extract_symbols symbol", &syms[i])) {
            goto done;
        }
        if (syms[i]->kind != CC_KIND_SYMBOL) {
            PyErr_Format(PyExc_TypeError, "extract_symbols: symbols must be Symbols, not %s",
                         cc_kind_get_info(syms[i]->kind)->py_name);
            goto done;
        }
    }
    if (n > INT_MAX) {
        PyErr_SetString(PyExc_ValueError, "extract_symbols: too many symbols");
        goto done;
    }
    if (extract_options(use_elim, conform, traversal, &o) == 0) {
        out = cc_py_wrap_steal(cc_extract_symbols(c, (int)n, syms, &o));
    }
done:
    cc_imatcher_decref(o.traversal);
    PyMem_Free(syms);
    Py_DECREF(fast);
    return out;
}

static PyObject *
py_extract_symbols_get(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    static char *kwlist[] = {
        "circuit",   "get", "use_elim_no_input_modules", "conform_batch_if_needed",
        "traversal", NULL};
    PyObject *obj, *get_obj, *use_elim = NULL, *conform = NULL, *traversal = NULL;
    cc_node *c;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO|OOO:extract_symbols_get", kwlist, &obj,
                                     &get_obj, &use_elim, &conform, &traversal) ||
        !cc_py_node_check(obj, "extract_symbols_get circuit", &c)) {
        return NULL;
    }
    cc_extract_options o;
    if (extract_options(use_elim, conform, traversal, &o) < 0) {
        return NULL;
    }
    PyObject *out = NULL;
    cc_imatcher *get = cc_py_imatcher_arg(get_obj);
    if (get != NULL) {
        out = cc_py_wrap_steal(cc_extract_symbols_get(c, get, &o));
    }
    cc_imatcher_decref(get);
    cc_imatcher_decref(o.traversal);
    return out;
}

// --- inline_single_callsite_modules, fuse_concat_modules, strip_names_and_tags ----------------

static PyObject *
py_inline_single_callsite_modules(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    static char *kwlist[] = {"circuit", NULL};
    PyObject *obj;
    cc_node *c;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O:inline_single_callsite_modules", kwlist,
                                     &obj) ||
        !cc_py_node_check(obj, "inline_single_callsite_modules circuit", &c)) {
        return NULL;
    }
    return cc_py_wrap_steal(cc_inline_single_callsite_modules(c));
}

static PyObject *
py_fuse_concat_modules(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    static char *kwlist[] = {"circuit", "modules", "name", NULL};
    PyObject *obj, *mods_obj, *name_obj = Py_None;
    cc_node *c;
    const char *name;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO|O:fuse_concat_modules", kwlist, &obj,
                                     &mods_obj, &name_obj) ||
        !cc_py_node_check(obj, "fuse_concat_modules circuit", &c) ||
        cc_py_name_arg(name_obj, &name) < 0) {
        return NULL;
    }
    cc_node **mods;
    Py_ssize_t n;
    if (cc_py_nodes_from_seq(mods_obj, "fuse_concat_modules modules", &mods, &n) < 0) {
        return NULL;
    }
    PyObject *out = NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (mods[i]->kind != CC_KIND_MODULE) {
            PyErr_Format(PyExc_TypeError,
                         "fuse_concat_modules: modules[%zd]: expected Module but "
                         "got %s",
                         i, cc_kind_get_info(mods[i]->kind)->py_name);
            goto done;
        }
    }
    if (n > INT_MAX) {
        PyErr_SetString(PyExc_ValueError, "fuse_concat_modules: too many modules");
        goto done;
    }
    out = cc_py_wrap_steal(cc_fuse_concat_modules(c, (int)n, mods, name));
done:
    PyMem_Free(mods);
    return out;
}

static PyObject *
py_strip_names_and_tags(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    static char *kwlist[] = {"node", NULL};
    PyObject *obj;
    cc_node *c;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O:strip_names_and_tags", kwlist, &obj) ||
        !cc_py_node_check(obj, "strip_names_and_tags node", &c)) {
        return NULL;
    }
    return cc_py_wrap_steal(cc_strip_names_and_tags(c));
}

static PyMethodDef module_rewrite_methods[] = {
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
    {"module_new_bind", (PyCFunction)(void (*)(void))py_module_new_bind,
     METH_VARARGS | METH_KEYWORDS,
     "module_new_bind(spec_circuit, *binders, check_unique_arg_names=True, name=None) -> "
     "Module: binds each binder's circuit to the one Symbol of spec_circuit its matcher finds; "
     "a binder is a (matcher, circuit) tuple or a BindItem."},
    {"extract_symbols", (PyCFunction)(void (*)(void))py_extract_symbols,
     METH_VARARGS | METH_KEYWORDS,
     "extract_symbols(circuit, symbols, use_elim_no_input_modules=True, "
     "conform_batch_if_needed=False, traversal=new_traversal()) -> Module: the bindings of "
     "symbols removed from every Module (within the traversal) and bound once by an outer "
     "Module named as circuit."},
    {"extract_symbols_get", (PyCFunction)(void (*)(void))py_extract_symbols_get,
     METH_VARARGS | METH_KEYWORDS,
     "extract_symbols_get(circuit, get, use_elim_no_input_modules=True, "
     "conform_batch_if_needed=False, traversal=new_traversal()) -> Module: extract_symbols of "
     "the Symbols get finds in circuit."},
    {"inline_single_callsite_modules",
     (PyCFunction)(void (*)(void))py_inline_single_callsite_modules, METH_VARARGS | METH_KEYWORDS,
     "inline_single_callsite_modules(circuit) -> Circuit: every Module whose ModuleSpec no "
     "other Module of circuit shares is substituted."},
    {"fuse_concat_modules", (PyCFunction)(void (*)(void))py_fuse_concat_modules,
     METH_VARARGS | METH_KEYWORDS,
     "fuse_concat_modules(circuit, modules, name=None) -> Circuit: modules of one ModuleSpec "
     "(batch rank 0 or 1) computed as one Module over concatenated arguments, split back."},
    {"strip_names_and_tags", (PyCFunction)(void (*)(void))py_strip_names_and_tags,
     METH_VARARGS | METH_KEYWORDS,
     "strip_names_and_tags(node) -> Circuit: Tags removed and names dropped (named Arrays and "
     "Symbols are wrapped in an unnamed nil-uuid Tag instead)."},
    {NULL, NULL, 0, NULL},
};

int
cc_py_module_rewrite_init(PyObject *module)
{
    binditem_type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &binditem_spec, NULL);
    if (binditem_type == NULL ||
        PyModule_AddObjectRef(module, "BindItem", (PyObject *)binditem_type) < 0) {
        return -1;
    }
    return PyModule_AddFunctions(module, module_rewrite_methods);
}
