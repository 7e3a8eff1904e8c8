// circuits.Module, ModuleSpec and ModuleArgSpec (rc's mutable spec objects: plain attribute
// holders checked when a Module is built), and the module-level functions over modules,
// free symbols, expansion and symbolic sizes. Only translates; the work is in nodes/.
#include "python/bindings.h"

#include <string.h>
#include <structmember.h>

#include "expand/expand.h"
#include "expand/module.h"
#include "nodes/shape.h"
#include "nodes/symbol_set.h"
#include "nodes/symbolic_size.h"
#include "util/alloc.h"
#include "util/error.h"

#define NODE(self) (((cc_py_node *)(self))->node)

typedef struct {
    PyObject_HEAD PyObject *symbol;
    char batchable;
    char expandable;
    char ban_non_symbolic_size_expand;
} argspec_obj;

typedef struct {
    PyObject_HEAD PyObject *circuit;
    PyObject *arg_specs;
} modspec_obj;

static PyTypeObject *argspec_type;
static PyTypeObject *modspec_type;

// --- ModuleArgSpec --------------------------------------------------------------------------

static PyObject *
argspec_make(cc_node *symbol, int batchable, int expandable, int ban)
{
    argspec_obj *o = (argspec_obj *)argspec_type->tp_alloc(argspec_type, 0);
    if (o == NULL) {
        return NULL;
    }
    o->symbol = cc_py_wrap(symbol);
    if (o->symbol == NULL) {
        Py_DECREF(o);
        return NULL;
    }
    o->batchable = (char)(batchable != 0);
    o->expandable = (char)(expandable != 0);
    o->ban_non_symbolic_size_expand = (char)(ban != 0);
    return (PyObject *)o;
}

static PyObject *
argspec_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    (void)type;
    static char *kwlist[] = {"symbol", "batchable", "expandable", "ban_non_symbolic_size_expand",
                             NULL};
    PyObject *sym;
    int batchable = 1, expandable = 1, ban = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!|ppp:ModuleArgSpec", kwlist,
                                     cc_py_kind_types[CC_KIND_SYMBOL], &sym, &batchable,
                                     &expandable, &ban)) {
        return NULL;
    }
    return argspec_make(NODE(sym), batchable, expandable, ban);
}

static PyObject *
argspec_just_name_shape(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    static char *kwlist[] = {"circuit", "batchable", "expandable", "ban_non_symbolic_size_expand",
                             NULL};
    PyObject *c_obj;
    int batchable = 1, expandable = 1, ban = 0;
    cc_node *c;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|ppp:just_name_shape", kwlist, &c_obj,
                                     &batchable, &expandable, &ban) ||
        !cc_py_node_check(c_obj, "circuit", &c)) {
        return NULL;
    }
    PyObject *uuid_mod = PyImport_ImportModule("uuid");
    PyObject *u = uuid_mod ? PyObject_CallMethod(uuid_mod, "uuid4", NULL) : NULL;
    Py_XDECREF(uuid_mod);
    uint8_t uuid[16];
    if (u == NULL || cc_py_uuid_arg(u, uuid) < 0) {
        Py_XDECREF(u);
        return NULL;
    }
    Py_DECREF(u);
    cc_node *sym = cc_symbol_new(c->ndim, c->shape, uuid, c->name ? c->name : CC_NO_NAME);
    if (sym == NULL) {
        return cc_py_raise();
    }
    PyObject *out = argspec_make(sym, batchable, expandable, ban);
    cc_node_decref(sym);
    return out;
}

static void
argspec_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    Py_CLEAR(((argspec_obj *)self)->symbol);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyObject *
argspec_repr(PyObject *self)
{
    argspec_obj *o = (argspec_obj *)self;
    return PyUnicode_FromFormat(
        "ModuleArgSpec(symbol=%R, batchable=%s, expandable=%s, ban_non_symbolic_size_expand=%s)",
        o->symbol, o->batchable ? "True" : "False", o->expandable ? "True" : "False",
        o->ban_non_symbolic_size_expand ? "True" : "False");
}

static PyObject *
argspec_key(PyObject *self)
{
    argspec_obj *o = (argspec_obj *)self;
    return Py_BuildValue("(Oiii)", o->symbol, o->batchable, o->expandable,
                         o->ban_non_symbolic_size_expand);
}

static PyObject *
argspec_richcompare(PyObject *self, PyObject *other, int op)
{
    if (!PyObject_TypeCheck(other, argspec_type)) {
        Py_RETURN_NOTIMPLEMENTED;
    }
    PyObject *a = argspec_key(self), *b = a ? argspec_key(other) : NULL;
    PyObject *out = b ? PyObject_RichCompare(a, b, op) : NULL;
    Py_XDECREF(a);
    Py_XDECREF(b);
    return out;
}

static Py_hash_t
argspec_hash(PyObject *self)
{
    PyObject *k = argspec_key(self);
    if (k == NULL) {
        return -1;
    }
    Py_hash_t h = PyObject_Hash(k);
    Py_DECREF(k);
    return h;
}

// The C spec of a ModuleArgSpec; out->symbol is a new node reference.
static int
argspec_unpack(PyObject *obj, cc_module_arg_spec *out)
{
    if (!PyObject_TypeCheck(obj, argspec_type)) {
        PyErr_Format(PyExc_TypeError, "expected a ModuleArgSpec, not %.100s",
                     Py_TYPE(obj)->tp_name);
        return -1;
    }
    argspec_obj *o = (argspec_obj *)obj;
    if (o->symbol == NULL || !PyObject_TypeCheck(o->symbol, cc_py_kind_types[CC_KIND_SYMBOL])) {
        cc_py_raise_kind(CC_E_CONSTRUCT_MODULE_EXPECTED_SYMBOL,
                         "ModuleArgSpec.symbol must be a Symbol, not %.100s",
                         o->symbol ? Py_TYPE(o->symbol)->tp_name : "nothing");
        return -1;
    }
    out->symbol = NODE(o->symbol);
    cc_node_incref(out->symbol);
    out->batchable = (uint8_t)(o->batchable != 0);
    out->expandable = (uint8_t)(o->expandable != 0);
    out->ban_non_symbolic_size_expand = (uint8_t)(o->ban_non_symbolic_size_expand != 0);
    return 0;
}

static PyMemberDef argspec_members[] = {
    {"symbol", T_OBJECT_EX, offsetof(argspec_obj, symbol), 0, "The bound Symbol."},
    {"batchable", T_BOOL, offsetof(argspec_obj, batchable), 0,
     "The argument may have extra leading (batch) axes."},
    {"expandable", T_BOOL, offsetof(argspec_obj, expandable), 0,
     "The argument's trailing sizes may differ from the symbol's."},
    {"ban_non_symbolic_size_expand", T_BOOL, offsetof(argspec_obj, ban_non_symbolic_size_expand),
     0, "Sizes may only change where the symbol's size is symbolic."},
    {NULL, 0, 0, 0, NULL},
};

static PyMethodDef argspec_methods[] = {
    {"just_name_shape", (PyCFunction)(void (*)(void))argspec_just_name_shape,
     METH_VARARGS | METH_KEYWORDS | METH_STATIC,
     "just_name_shape(circuit, batchable=True, expandable=True, "
     "ban_non_symbolic_size_expand=False): a spec over a fresh random-uuid Symbol with the "
     "circuit's name and shape."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot argspec_slots[] = {
    {Py_tp_new, argspec_new},
    {Py_tp_dealloc, argspec_dealloc},
    {Py_tp_repr, argspec_repr},
    {Py_tp_richcompare, argspec_richcompare},
    {Py_tp_hash, argspec_hash},
    {Py_tp_members, argspec_members},
    {Py_tp_methods, argspec_methods},
    {Py_tp_doc, "ModuleArgSpec(symbol, batchable=True, expandable=True, "
                "ban_non_symbolic_size_expand=True): one parameter of a ModuleSpec."},
    {0, NULL},
};

static PyType_Spec argspec_spec = {
    .name = "circuits.ModuleArgSpec",
    .basicsize = sizeof(argspec_obj),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = argspec_slots,
};

// --- ModuleSpec -----------------------------------------------------------------------------

static void
specs_release(cc_node *body, cc_module_arg_spec *specs, int n)
{
    cc_node_decref(body);
    if (specs != NULL) {
        for (int i = 0; i < n; i++) {
            cc_module_arg_spec_clear(&specs[i]);
        }
    }
    PyMem_Free(specs);
}

// Body and C specs of a sequence of ModuleArgSpec (new references; release with
// specs_release). -1 with an exception.
static int
argspecs_unpack(PyObject *seq, cc_module_arg_spec **specs, int *n)
{
    PyObject *fast = PySequence_Fast(seq, "arg_specs must be a sequence of ModuleArgSpec");
    if (fast == NULL) {
        return -1;
    }
    Py_ssize_t len = PySequence_Fast_GET_SIZE(fast);
    cc_module_arg_spec *out = PyMem_Calloc((size_t)(len > 0 ? len : 1), sizeof(*out));
    if (out == NULL) {
        Py_DECREF(fast);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < len; i++) {
        if (argspec_unpack(PySequence_Fast_GET_ITEM(fast, i), &out[i]) < 0) {
            specs_release(NULL, out, (int)len);
            Py_DECREF(fast);
            return -1;
        }
    }
    Py_DECREF(fast);
    *specs = out;
    *n = (int)len;
    return 0;
}

static int
modspec_unpack(PyObject *obj, cc_node **body, cc_module_arg_spec **specs, int *n)
{
    if (!PyObject_TypeCheck(obj, modspec_type)) {
        PyErr_Format(PyExc_TypeError, "expected a ModuleSpec, not %.100s", Py_TYPE(obj)->tp_name);
        return -1;
    }
    modspec_obj *o = (modspec_obj *)obj;
    cc_node *c;
    if (o->circuit == NULL || !cc_py_node_check(o->circuit, "ModuleSpec.circuit", &c)) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_TypeError, "ModuleSpec.circuit is not set");
        }
        return -1;
    }
    if (o->arg_specs == NULL) {
        PyErr_SetString(PyExc_TypeError, "ModuleSpec.arg_specs is not set");
        return -1;
    }
    if (argspecs_unpack(o->arg_specs, specs, n) < 0) {
        return -1;
    }
    cc_node_incref(c);
    *body = c;
    return 0;
}

static PyObject *
modspec_make(cc_node *body, int n, const cc_module_arg_spec *specs)
{
    modspec_obj *o = (modspec_obj *)modspec_type->tp_alloc(modspec_type, 0);
    if (o == NULL) {
        return NULL;
    }
    o->circuit = cc_py_wrap(body);
    o->arg_specs = PyList_New(n);
    if (o->circuit == NULL || o->arg_specs == NULL) {
        Py_DECREF(o);
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        PyObject *a = argspec_make(specs[i].symbol, specs[i].batchable, specs[i].expandable,
                                   specs[i].ban_non_symbolic_size_expand);
        if (a == NULL) {
            Py_DECREF(o);
            return NULL;
        }
        PyList_SET_ITEM(o->arg_specs, i, a);
    }
    return (PyObject *)o;
}

static int
run_checks(cc_node *body, cc_module_arg_spec *specs, int n, int all_used, int unique)
{
    if (all_used && cc_module_spec_check_all_inputs_used(body, n, specs) < 0) {
        return cc_py_raise_int();
    }
    if (unique && cc_module_spec_check_unique_arg_names(n, specs) < 0) {
        return cc_py_raise_int();
    }
    return 0;
}

static PyObject *
modspec_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    (void)type;
    static char *kwlist[] = {"circuit", "arg_specs", "check_all_inputs_used",
                             "check_unique_arg_names", NULL};
    PyObject *c_obj, *specs_obj;
    int all_used = 1, unique = 1;
    cc_node *body;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO|pp:ModuleSpec", kwlist, &c_obj, &specs_obj,
                                     &all_used, &unique) ||
        !cc_py_node_check(c_obj, "circuit", &body)) {
        return NULL;
    }
    cc_module_arg_spec *specs;
    int n;
    if (argspecs_unpack(specs_obj, &specs, &n) < 0) {
        return NULL;
    }
    PyObject *out = NULL;
    if (run_checks(body, specs, n, all_used, unique) == 0) {
        modspec_obj *o = (modspec_obj *)modspec_type->tp_alloc(modspec_type, 0);
        if (o != NULL) {
            o->circuit = Py_NewRef(c_obj);
            o->arg_specs = PySequence_List(specs_obj);
            out = (PyObject *)o;
            if (o->arg_specs == NULL) {
                Py_CLEAR(out);
            }
        }
    }
    specs_release(NULL, specs, n);
    return out;
}

static void
modspec_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    Py_CLEAR(((modspec_obj *)self)->circuit);
    Py_CLEAR(((modspec_obj *)self)->arg_specs);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyObject *
modspec_check(PyObject *self, int which)
{
    cc_node *body;
    cc_module_arg_spec *specs;
    int n;
    if (modspec_unpack(self, &body, &specs, &n) < 0) {
        return NULL;
    }
    int rc = run_checks(body, specs, n, which == 0, which == 1);
    specs_release(body, specs, n);
    if (rc < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
modspec_check_all_inputs_used(PyObject *self, PyObject *unused)
{
    (void)unused;
    return modspec_check(self, 0);
}

static PyObject *
modspec_check_unique_arg_names(PyObject *self, PyObject *unused)
{
    (void)unused;
    return modspec_check(self, 1);
}

static PyObject *
modspec_are_args_used(PyObject *self, PyObject *unused)
{
    (void)unused;
    cc_node *body;
    cc_module_arg_spec *specs;
    int n;
    if (modspec_unpack(self, &body, &specs, &n) < 0) {
        return NULL;
    }
    uint8_t *used = PyMem_Malloc((size_t)(n > 0 ? n : 1));
    PyObject *out = used ? PyList_New(n) : PyErr_NoMemory();
    if (out != NULL) {
        cc_module_spec_are_args_used(body, n, specs, used);
        for (int i = 0; i < n; i++) {
            PyList_SET_ITEM(out, i, PyBool_FromLong(used[i]));
        }
    }
    PyMem_Free(used);
    specs_release(body, specs, n);
    return out;
}

static PyObject *
modspec_map_circuit(PyObject *self, PyObject *f)
{
    modspec_obj *o = (modspec_obj *)self;
    if (o->circuit == NULL || o->arg_specs == NULL) {
        PyErr_SetString(PyExc_TypeError, "ModuleSpec is not initialised");
        return NULL;
    }
    PyObject *c = PyObject_CallOneArg(f, o->circuit);
    cc_node *unused;
    if (c == NULL || !cc_py_node_check(c, "map_circuit's function result", &unused)) {
        Py_XDECREF(c);
        return NULL;
    }
    modspec_obj *out = (modspec_obj *)modspec_type->tp_alloc(modspec_type, 0);
    if (out == NULL) {
        Py_DECREF(c);
        return NULL;
    }
    out->circuit = c;
    out->arg_specs = PySequence_List(o->arg_specs);
    if (out->arg_specs == NULL) {
        Py_DECREF(out);
        return NULL;
    }
    return (PyObject *)out;
}

static PyObject *
modspec_new_free_symbols(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    static char *kwlist[] = {"circuit", "check_unique_arg_names", NULL};
    PyObject *c_obj;
    int unique = 1;
    cc_node *c;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|p:new_free_symbols", kwlist, &c_obj,
                                     &unique) ||
        !cc_py_node_check(c_obj, "circuit", &c)) {
        return NULL;
    }
    cc_node **syms;
    int n;
    if (cc_node_free_symbol_list(c, &syms, &n) < 0) {
        return cc_py_raise();
    }
    cc_module_arg_spec *specs = PyMem_Calloc((size_t)(n > 0 ? n : 1), sizeof(*specs));
    PyObject *out = NULL;
    if (specs == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (int i = 0; i < n; i++) {
        specs[i] = (cc_module_arg_spec){syms[i], 1, 1, 1};
    }
    if (unique && cc_module_spec_check_unique_arg_names(n, specs) < 0) {
        cc_py_raise();
        goto done;
    }
    out = modspec_make(c, n, specs);
done:
    PyMem_Free(specs);
    cc_free(syms);
    return out;
}

static const char pair_msg[] = "each arg_specs item must be a (circuit, ModuleArgSpec) pair";

static PyObject *
modspec_new_extract(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    static char *kwlist[] = {"circuit", "arg_specs", "check_all_inputs_used",
                             "check_unique_arg_names", NULL};
    PyObject *c_obj, *pairs_obj;
    int all_used = 1, unique = 1;
    cc_node *c;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO|pp:new_extract", kwlist, &c_obj, &pairs_obj,
                                     &all_used, &unique) ||
        !cc_py_node_check(c_obj, "circuit", &c)) {
        return NULL;
    }
    PyObject *fast = PySequence_Fast(pairs_obj, "arg_specs must be (circuit, ModuleArgSpec) pairs");
    if (fast == NULL) {
        return NULL;
    }
    Py_ssize_t len = PySequence_Fast_GET_SIZE(fast);
    size_t cap = (size_t)(len > 0 ? len : 1);
    cc_node **subs = PyMem_Calloc(cap, sizeof(cc_node *));
    cc_module_arg_spec *proposed = PyMem_Calloc(cap, sizeof(*proposed));
    cc_module_arg_spec *found = PyMem_Calloc(cap, sizeof(*found));
    cc_node *body = NULL;
    int n_found = 0;
    PyObject *out = NULL;
    if (subs == NULL || proposed == NULL || found == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < len; i++) {
        PyObject *pair = PySequence_Fast(PySequence_Fast_GET_ITEM(fast, i), pair_msg);
        if (pair == NULL) {
            goto done;
        }
        int ok = PySequence_Fast_GET_SIZE(pair) == 2;
        if (!ok) {
            PyErr_SetString(PyExc_TypeError, pair_msg);
        }
        cc_node *sub;
        ok = ok && cc_py_node_check(PySequence_Fast_GET_ITEM(pair, 0), "each subcircuit", &sub) &&
             argspec_unpack(PySequence_Fast_GET_ITEM(pair, 1), &proposed[i]) == 0;
        if (ok) {
            // the pair may be a temporary: the node is kept by its own reference
            cc_node_incref(sub);
            subs[i] = sub;
        }
        Py_DECREF(pair);
        if (!ok) {
            goto done;
        }
    }
    if (cc_module_spec_new_extract(c, (int)len, subs, proposed, all_used, &body, found,
                                   &n_found) < 0) {
        cc_py_raise();
        goto done;
    }
    if (unique && cc_module_spec_check_unique_arg_names(n_found, found) < 0) {
        cc_py_raise();
        goto done;
    }
    out = modspec_make(body, n_found, found);
done:
    cc_node_decref(body);
    if (found != NULL) {
        for (int i = 0; i < n_found; i++) {
            cc_module_arg_spec_clear(&found[i]);
        }
    }
    specs_release(NULL, proposed, (int)len);
    PyMem_Free(found);
    for (Py_ssize_t i = 0; subs != NULL && i < len; i++) {
        cc_node_decref(subs[i]);
    }
    PyMem_Free(subs);
    Py_DECREF(fast);
    return out;
}

static PyObject *
modspec_resize(PyObject *self, PyObject *shapes_obj)
{
    cc_node *body;
    cc_module_arg_spec *specs;
    int n;
    if (modspec_unpack(self, &body, &specs, &n) < 0) {
        return NULL;
    }
    PyObject *out = NULL;
    PyObject *fast = PySequence_Fast(shapes_obj, "shapes must be a sequence of shapes");
    int *ndims = PyMem_Calloc((size_t)(n > 0 ? n : 1), sizeof(int));
    int64_t *storage = PyMem_Calloc((size_t)(n > 0 ? n : 1) * CC_MAX_NDIM, sizeof(int64_t));
    const int64_t **shapes = PyMem_Calloc((size_t)(n > 0 ? n : 1), sizeof(int64_t *));
    cc_module_arg_spec *new_specs = PyMem_Calloc((size_t)(n > 0 ? n : 1), sizeof(*new_specs));
    cc_node *new_body = NULL;
    if (fast == NULL || ndims == NULL || storage == NULL || shapes == NULL || new_specs == NULL) {
        if (!PyErr_Occurred()) {
            PyErr_NoMemory();
        }
        goto done;
    }
    if (PySequence_Fast_GET_SIZE(fast) != n) {
        PyErr_Format(PyExc_ValueError, "resize: %zd shapes for %d arg specs",
                     PySequence_Fast_GET_SIZE(fast), n);
        goto done;
    }
    for (int i = 0; i < n; i++) {
        shapes[i] = storage + (size_t)i * CC_MAX_NDIM;
        if (cc_py_shape_arg(PySequence_Fast_GET_ITEM(fast, i), &ndims[i],
                            storage + (size_t)i * CC_MAX_NDIM) < 0) {
            goto done;
        }
    }
    if (cc_module_spec_resize(body, n, specs, ndims, shapes, &new_body, new_specs) < 0) {
        cc_py_raise();
        goto done;
    }
    out = modspec_make(new_body, n, new_specs);
    for (int i = 0; i < n; i++) {
        cc_module_arg_spec_clear(&new_specs[i]);
    }
done:
    cc_node_decref(new_body);
    Py_XDECREF(fast);
    PyMem_Free(ndims);
    PyMem_Free(storage);
    PyMem_Free(shapes);
    PyMem_Free(new_specs);
    specs_release(body, specs, n);
    return out;
}

static PyObject *
modspec_rename_on_replaced_path(PyObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"name_prefix", "name_suffix", NULL};
    PyObject *prefix_obj = Py_None, *suffix_obj = Py_None;
    const char *prefix, *suffix;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|OO:rename_on_replaced_path", kwlist,
                                     &prefix_obj, &suffix_obj) ||
        cc_py_name_arg(prefix_obj, &prefix) < 0 || cc_py_name_arg(suffix_obj, &suffix) < 0) {
        return NULL;
    }
    cc_node *body;
    cc_module_arg_spec *specs;
    int n;
    if (modspec_unpack(self, &body, &specs, &n) < 0) {
        return NULL;
    }
    PyObject *out = NULL;
    cc_node *renamed = cc_module_spec_rename_on_replaced_path(body, n, specs, prefix, suffix);
    if (renamed == NULL) {
        cc_py_raise();
    } else {
        out = modspec_make(renamed, n, specs);
        cc_node_decref(renamed);
    }
    specs_release(body, specs, n);
    return out;
}

static PyObject *
modspec_repr(PyObject *self)
{
    modspec_obj *o = (modspec_obj *)self;
    return PyUnicode_FromFormat("ModuleSpec(circuit=%R, arg_specs=%R)", o->circuit, o->arg_specs);
}

static PyObject *
modspec_key(PyObject *self)
{
    modspec_obj *o = (modspec_obj *)self;
    if (o->circuit == NULL || o->arg_specs == NULL) {
        PyErr_SetString(PyExc_TypeError, "ModuleSpec is not initialised");
        return NULL;
    }
    PyObject *specs = PySequence_Tuple(o->arg_specs);
    if (specs == NULL) {
        return NULL;
    }
    PyObject *k = PyTuple_Pack(2, o->circuit, specs);
    Py_DECREF(specs);
    return k;
}

static PyObject *
modspec_richcompare(PyObject *self, PyObject *other, int op)
{
    if (!PyObject_TypeCheck(other, modspec_type)) {
        Py_RETURN_NOTIMPLEMENTED;
    }
    PyObject *a = modspec_key(self), *b = a ? modspec_key(other) : NULL;
    PyObject *out = b ? PyObject_RichCompare(a, b, op) : NULL;
    Py_XDECREF(a);
    Py_XDECREF(b);
    return out;
}

static Py_hash_t
modspec_hash(PyObject *self)
{
    PyObject *k = modspec_key(self);
    if (k == NULL) {
        return -1;
    }
    Py_hash_t h = PyObject_Hash(k);
    Py_DECREF(k);
    return h;
}

static PyMemberDef modspec_members[] = {
    {"circuit", T_OBJECT_EX, offsetof(modspec_obj, circuit), 0,
     "The body: a circuit whose free Symbols are the parameters."},
    {"arg_specs", T_OBJECT_EX, offsetof(modspec_obj, arg_specs), 0,
     "The parameters, a list of ModuleArgSpec."},
    {NULL, 0, 0, 0, NULL},
};

static PyMethodDef modspec_methods[] = {
    {"check_all_inputs_used", modspec_check_all_inputs_used, METH_NOARGS,
     "Raises ConstructModuleSomeArgsNotPresentError unless every arg symbol is free in the "
     "body."},
    {"check_unique_arg_names", modspec_check_unique_arg_names, METH_NOARGS,
     "Raises unless every arg symbol is named and the names are distinct."},
    {"are_args_used", modspec_are_args_used, METH_NOARGS,
     "are_args_used() -> [bool]: each arg symbol is free in the body (rightmost binding wins)."},
    {"map_circuit", modspec_map_circuit, METH_O,
     "map_circuit(f) -> ModuleSpec(f(circuit), arg_specs), unchecked."},
    {"new_free_symbols", (PyCFunction)(void (*)(void))modspec_new_free_symbols,
     METH_VARARGS | METH_KEYWORDS | METH_STATIC,
     "new_free_symbols(circuit, check_unique_arg_names=True): every free symbol a parameter."},
    {"new_extract", (PyCFunction)(void (*)(void))modspec_new_extract,
     METH_VARARGS | METH_KEYWORDS | METH_STATIC,
     "new_extract(circuit, [(subcircuit, arg_spec), ...], check_all_inputs_used=True, "
     "check_unique_arg_names=True): each subcircuit replaced by a parameter symbol."},
    {"rename_on_replaced_path", (PyCFunction)(void (*)(void))modspec_rename_on_replaced_path,
     METH_VARARGS | METH_KEYWORDS,
     "rename_on_replaced_path(name_prefix=None, name_suffix=None): the spec with every named "
     "node above an arg symbol renamed prefix + name + suffix."},
    {"resize", modspec_resize, METH_O,
     "resize(shapes) -> ModuleSpec with symbols of these shapes and the body expanded to them."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot modspec_slots[] = {
    {Py_tp_new, modspec_new},
    {Py_tp_dealloc, modspec_dealloc},
    {Py_tp_repr, modspec_repr},
    {Py_tp_richcompare, modspec_richcompare},
    {Py_tp_hash, modspec_hash},
    {Py_tp_members, modspec_members},
    {Py_tp_methods, modspec_methods},
    {Py_tp_doc, "ModuleSpec(circuit, arg_specs, check_all_inputs_used=True, "
                "check_unique_arg_names=True): a body and its parameters (a lambda)."},
    {0, NULL},
};

static PyType_Spec modspec_spec = {
    .name = "circuits.ModuleSpec",
    .basicsize = sizeof(modspec_obj),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = modspec_slots,
};

// --- Module -----------------------------------------------------------------------------------

static PyObject *
build_module(PyObject *spec_obj, PyObject *name_obj, cc_node *const *given, int n_given,
             PyObject *by_name)
{
    const char *name;
    if (cc_py_name_arg(name_obj, &name) < 0) {
        return NULL;
    }
    cc_node *body;
    cc_module_arg_spec *specs;
    int n;
    if (modspec_unpack(spec_obj, &body, &specs, &n) < 0) {
        return NULL;
    }
    PyObject *out = NULL;
    cc_node **args = PyMem_Calloc((size_t)(n > 0 ? n : 1), sizeof(cc_node *));
    if (args == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    if (by_name == NULL) {
        if (n_given != n) {
            cc_py_raise_kind(CC_E_CONSTRUCT_MODULE_WRONG_NUMBER_CHILDREN,
                             "Module.new_flat: the spec has %d arg specs but %d nodes were given",
                             n, n_given);
            goto done;
        }
        memcpy(args, given, (size_t)n * sizeof(cc_node *));
    } else {
        if (cc_module_spec_check_unique_arg_names(n, specs) < 0) {
            cc_py_raise();
            goto done;
        }
        PyObject *key, *value;
        Py_ssize_t pos = 0;
        while (PyDict_Next(by_name, &pos, &key, &value)) {
            const char *k = PyUnicode_AsUTF8(key);
            if (k == NULL) {
                goto done;
            }
            int at = -1;
            for (int i = 0; i < n && at < 0; i++) {
                at = strcmp(specs[i].symbol->name, k) == 0 ? i : -1;
            }
            if (at < 0) {
                PyObject *names = PyList_New(n);
                for (int i = 0; names != NULL && i < n; i++) {
                    PyList_SET_ITEM(names, i, PyUnicode_FromString(specs[i].symbol->name));
                }
                if (names != NULL) {
                    cc_py_raise_kind(CC_E_CONSTRUCT_MODULE_UNKNOWN_ARGUMENT,
                                     "argument '%s' is not an input of the module with spec "
                                     "circuit '%s'; all_module_inputs=%R",
                                     k, body->name ? body->name : "", names);
                    Py_DECREF(names);
                }
                goto done;
            }
            if (!cc_py_node_check(value, "each module argument", &args[at])) {
                goto done;
            }
        }
        PyObject *missing = PyList_New(0);
        for (int i = 0; missing != NULL && i < n; i++) {
            if (args[i] == NULL) {
                PyObject *s = PyUnicode_FromString(specs[i].symbol->name);
                if (s == NULL || PyList_Append(missing, s) < 0) {
                    Py_CLEAR(missing);
                }
                Py_XDECREF(s);
            }
        }
        if (missing == NULL) {
            goto done;
        }
        if (PyList_GET_SIZE(missing) > 0) {
            cc_py_raise_kind(CC_E_CONSTRUCT_MODULE_MISSING_NAMES,
                             "module with spec circuit '%s' is missing arguments: "
                             "missing_arguments=%R",
                             body->name ? body->name : "", missing);
            Py_DECREF(missing);
            goto done;
        }
        Py_DECREF(missing);
    }
    out = cc_py_wrap_steal(cc_module_new(body, n, specs, args, name));
done:
    PyMem_Free(args);
    specs_release(body, specs, n);
    return out;
}

static PyObject *
module_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    (void)type;
    PyObject *spec_obj = NULL, *name_obj = Py_None;
    PyObject *rest = kwds != NULL ? PyDict_Copy(kwds) : PyDict_New();
    if (rest == NULL) {
        return NULL;
    }
    Py_ssize_t n_pos = PyTuple_GET_SIZE(args);
    if (n_pos > 2 || (n_pos == 2 && PyDict_GetItemString(rest, "name") != NULL)) {
        Py_DECREF(rest);
        PyErr_Format(PyExc_TypeError,
                     "Module(spec, name=None, **kwargs) takes spec and name positionally at most "
                     "once each (%zd positional arguments given)",
                     n_pos);
        return NULL;
    }
    if (n_pos == 2 && PyDict_SetItemString(rest, "name", PyTuple_GET_ITEM(args, 1)) < 0) {
        Py_DECREF(rest);
        return NULL;
    }
    if (n_pos >= 1) {
        spec_obj = PyTuple_GET_ITEM(args, 0);
    } else {
        spec_obj = PyDict_GetItemString(rest, "spec");
        if (spec_obj == NULL) {
            Py_DECREF(rest);
            PyErr_SetString(PyExc_TypeError, "Module() missing required argument 'spec'");
            return NULL;
        }
    }
    Py_INCREF(spec_obj);
    if (n_pos == 0 && PyDict_DelItemString(rest, "spec") < 0) {
        goto fail;
    }
    PyObject *given_name = PyDict_GetItemString(rest, "name");
    if (given_name != NULL) {
        name_obj = given_name;
    }
    Py_INCREF(name_obj);
    if (given_name != NULL && PyDict_DelItemString(rest, "name") < 0) {
        Py_DECREF(name_obj);
        goto fail;
    }
    PyObject *out = build_module(spec_obj, name_obj, NULL, 0, rest);
    Py_DECREF(name_obj);
    Py_DECREF(spec_obj);
    Py_DECREF(rest);
    return out;
fail:
    Py_DECREF(spec_obj);
    Py_DECREF(rest);
    return NULL;
}

static PyObject *
module_new_flat(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    PyObject *name_obj = kwds != NULL ? PyDict_GetItemString(kwds, "name") : NULL;
    Py_ssize_t n_kw = kwds != NULL ? PyDict_Size(kwds) : 0;
    if (n_kw > (name_obj != NULL ? 1 : 0)) {
        PyErr_SetString(PyExc_TypeError, "Module.new_flat(spec, *nodes, name=None) takes only "
                                         "name as a keyword");
        return NULL;
    }
    Py_ssize_t n_pos = PyTuple_GET_SIZE(args);
    if (n_pos < 1) {
        PyErr_SetString(PyExc_TypeError, "Module.new_flat() missing required argument 'spec'");
        return NULL;
    }
    PyObject *nodes = PyTuple_GetSlice(args, 1, n_pos);
    if (nodes == NULL) {
        return NULL;
    }
    cc_node **given;
    Py_ssize_t n;
    PyObject *out = NULL;
    if (cc_py_nodes_from_seq(nodes, "each node", &given, &n) == 0) {
        out = build_module(PyTuple_GET_ITEM(args, 0), name_obj ? name_obj : Py_None, given, (int)n,
                           NULL);
        PyMem_Free(given);
    }
    Py_DECREF(nodes);
    return out;
}

static PyObject *
module_spec_get(PyObject *self, void *closure)
{
    (void)closure;
    cc_node *m = NODE(self);
    return modspec_make(m->children[0], m->n_children - 1, m->u.module.arg_specs);
}

static PyObject *
module_nodes_get(PyObject *self, void *closure)
{
    (void)closure;
    cc_node *m = NODE(self);
    PyObject *list = PyList_New(m->n_children - 1);
    for (int i = 1; list != NULL && i < m->n_children; i++) {
        PyObject *c = cc_py_wrap(m->children[i]);
        if (c == NULL) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, i - 1, c);
    }
    return list;
}

static int module_prefix(cc_node *m, const char **prefix, int use_self, PyObject **holder);

static PyObject *
module_substitute(PyObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"name_prefix", "name_suffix", "use_self_name_as_prefix", NULL};
    PyObject *prefix_obj = Py_None, *suffix_obj = Py_None;
    int use_self = 0;
    const char *prefix, *suffix;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|OOp:substitute", kwlist, &prefix_obj,
                                     &suffix_obj, &use_self) ||
        cc_py_name_arg(prefix_obj, &prefix) < 0 || cc_py_name_arg(suffix_obj, &suffix) < 0) {
        return NULL;
    }
    cc_node *m = NODE(self);
    PyObject *self_prefix;
    if (module_prefix(m, &prefix, use_self, &self_prefix) < 0) {
        return NULL;
    }
    PyObject *out = cc_py_wrap_steal(cc_module_substitute(m, prefix, suffix));
    Py_XDECREF(self_prefix);
    return out;
}

// rc's get_prefix: name_prefix, or "<module name>." with use_self_name_as_prefix. *holder
// keeps the built prefix alive. -1 with an exception.
static int
module_prefix(cc_node *m, const char **prefix, int use_self, PyObject **holder)
{
    *holder = NULL;
    if (!use_self) {
        return 0;
    }
    if (*prefix != NULL) {
        cc_py_raise_kind(CC_E_CONSTRUCT_MODULE_PASSED_NAME_PREFIX_AND_USE_SELF_NAME_AS_PREFIX,
                         "Module '%s': passed name_prefix='%s' and use_self_name_as_prefix=True; "
                         "give one",
                         m->name ? m->name : "", *prefix);
        return -1;
    }
    if (m->name == NULL) {
        return 0;
    }
    *holder = PyUnicode_FromFormat("%s.", m->name);
    if (*holder == NULL || (*prefix = PyUnicode_AsUTF8(*holder)) == NULL) {
        Py_CLEAR(*holder);
        return -1;
    }
    return 0;
}

static PyObject *
module_rename_on_replaced_path(PyObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"prefix", "suffix", "use_self_name_as_prefix", NULL};
    PyObject *prefix_obj = Py_None, *suffix_obj = Py_None, *holder;
    int use_self = 0;
    const char *prefix, *suffix;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|OOp:rename_on_replaced_path", kwlist,
                                     &prefix_obj, &suffix_obj, &use_self) ||
        cc_py_name_arg(prefix_obj, &prefix) < 0 || cc_py_name_arg(suffix_obj, &suffix) < 0) {
        return NULL;
    }
    cc_node *m = NODE(self);
    if (module_prefix(m, &prefix, use_self, &holder) < 0) {
        return NULL;
    }
    int n = m->n_children - 1;
    cc_node *body =
        cc_module_spec_rename_on_replaced_path(m->children[0], n, m->u.module.arg_specs, prefix,
                                               suffix);
    Py_XDECREF(holder);
    if (body == NULL) {
        return cc_py_raise();
    }
    cc_node *out = cc_module_new(body, n, m->u.module.arg_specs, m->children + 1, m->name);
    cc_node_decref(body);
    return cc_py_wrap_steal(out);
}

static PyObject *
module_aligned_batch_shape(PyObject *self, PyObject *unused)
{
    (void)unused;
    int ndim;
    int64_t shape[CC_MAX_NDIM];
    if (cc_module_aligned_batch_shape(NODE(self), &ndim, shape) < 0) {
        return cc_py_raise();
    }
    return cc_py_shape_tuple(ndim, shape);
}

static PyObject *
module_conform_to_input_shapes(PyObject *self, PyObject *unused)
{
    (void)unused;
    return cc_py_wrap_steal(cc_module_conform_to_input_shapes(NODE(self)));
}

static PyObject *
module_conform_to_input_batch_shape(PyObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"dims_to_conform", NULL};
    PyObject *dims_obj = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:conform_to_input_batch_shape", kwlist,
                                     &dims_obj)) {
        return NULL;
    }
    long dims = -1;
    if (dims_obj != Py_None) {
        dims = PyLong_AsLong(dims_obj);
        if (dims == -1 && PyErr_Occurred()) {
            return NULL;
        }
        if (dims < 0 || dims > CC_MAX_NDIM) {
            PyErr_Format(PyExc_ValueError, "dims_to_conform must be in 0..%d, got %ld",
                         CC_MAX_NDIM, dims);
            return NULL;
        }
    }
    return cc_py_wrap_steal(cc_module_conform_to_input_batch_shape(NODE(self), (int)dims));
}

static PyObject *
module_arg_items(PyObject *self, PyObject *unused)
{
    (void)unused;
    cc_node *m = NODE(self);
    PyObject *list = PyList_New(m->n_children - 1);
    for (int i = 1; list != NULL && i < m->n_children; i++) {
        const cc_module_arg_spec *s = &m->u.module.arg_specs[i - 1];
        PyObject *c = cc_py_wrap(m->children[i]);
        PyObject *a = c ? argspec_make(s->symbol, s->batchable, s->expandable,
                                       s->ban_non_symbolic_size_expand)
                        : NULL;
        PyObject *pair = a ? PyTuple_Pack(2, c, a) : NULL;
        Py_XDECREF(c);
        Py_XDECREF(a);
        if (pair == NULL) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, i - 1, pair);
    }
    return list;
}

static PyGetSetDef module_getset[] = {
    {"spec", module_spec_get, NULL, "The ModuleSpec (a new object each time).", NULL},
    {"nodes", module_nodes_get, NULL, "The arguments, in arg spec order.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef module_methods[] = {
    {"new_flat", (PyCFunction)(void (*)(void))module_new_flat,
     METH_VARARGS | METH_KEYWORDS | METH_STATIC,
     "new_flat(spec, *nodes, name=None): a Module binding nodes in arg spec order."},
    {"substitute", (PyCFunction)(void (*)(void))module_substitute, METH_VARARGS | METH_KEYWORDS,
     "substitute(name_prefix=None, name_suffix=None, use_self_name_as_prefix=False): the body "
     "with its symbols replaced by the arguments (beta-reduction), named as the module."},
    {"rename_on_replaced_path", (PyCFunction)(void (*)(void))module_rename_on_replaced_path,
     METH_VARARGS | METH_KEYWORDS,
     "rename_on_replaced_path(prefix=None, suffix=None, use_self_name_as_prefix=False): the "
     "module with its spec's nodes above the arg symbols renamed."},
    {"aligned_batch_shape", module_aligned_batch_shape, METH_NOARGS,
     "The arguments' batch shapes, right-aligned."},
    {"conform_to_input_shapes", module_conform_to_input_shapes, METH_NOARGS,
     "The same module with every symbol given its argument's full shape."},
    {"conform_to_input_batch_shape",
     (PyCFunction)(void (*)(void))module_conform_to_input_batch_shape, METH_VARARGS | METH_KEYWORDS,
     "conform_to_input_batch_shape(dims_to_conform=None): move the last batch axes (all when "
     "None) into the symbols."},
    {"arg_items", module_arg_items, METH_NOARGS, "[(argument, ModuleArgSpec), ...]"},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot module_slots[] = {
    {Py_tp_new, module_new},
    {Py_tp_getset, module_getset},
    {Py_tp_methods, module_methods},
    {Py_tp_doc, "Module(spec, name=None, **kwargs): the spec's body with its arg symbols bound "
                "to the circuits given by symbol name (a call site)."},
    {0, NULL},
};

PyType_Spec cc_py_module_spec = {
    .name = "circuits.Module",
    .basicsize = sizeof(cc_py_node),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = module_slots,
};

// --- module functions -------------------------------------------------------------------------

static PyObject *
node_list(cc_node *const *nodes, int n)
{
    PyObject *list = PyList_New(n);
    for (int i = 0; list != NULL && i < n; i++) {
        PyObject *c = cc_py_wrap(nodes[i]);
        if (c == NULL) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, i, c);
    }
    return list;
}

static PyObject *
get_free_symbols(PyObject *self, PyObject *c_obj)
{
    (void)self;
    cc_node *c;
    if (!cc_py_node_check(c_obj, "circuit", &c)) {
        return NULL;
    }
    cc_node **syms;
    int n;
    if (cc_node_free_symbol_list(c, &syms, &n) < 0) {
        return cc_py_raise();
    }
    PyObject *out = node_list(syms, n);
    cc_free(syms);
    return out;
}

static PyObject *
substitute_all_modules(PyObject *self, PyObject *c_obj)
{
    (void)self;
    cc_node *c;
    if (!cc_py_node_check(c_obj, "circuit", &c)) {
        return NULL;
    }
    return cc_py_wrap_steal(cc_substitute_all_modules(c));
}

static PyObject *
conform_all_modules(PyObject *self, PyObject *c_obj)
{
    (void)self;
    cc_node *c;
    if (!cc_py_node_check(c_obj, "circuit", &c)) {
        return NULL;
    }
    return cc_py_wrap_steal(cc_conform_all_modules(c));
}

static PyObject *
symbolic_sizes(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    PyObject *list = PyList_New(CC_N_SYMBOLIC_SIZES);
    for (int i = 0; list != NULL && i < CC_N_SYMBOLIC_SIZES; i++) {
        PyObject *v = PyLong_FromLongLong(cc_symbolic_size(i));
        if (v == NULL) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, i, v);
    }
    return list;
}

static PyObject *
expand_node(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    static char *kwlist[] = {"circuit", "inputs", NULL};
    PyObject *c_obj, *inputs_obj;
    cc_node *c;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO:expand_node", kwlist, &c_obj, &inputs_obj) ||
        !cc_py_node_check(c_obj, "circuit", &c)) {
        return NULL;
    }
    cc_node **inputs;
    Py_ssize_t n;
    if (cc_py_nodes_from_seq(inputs_obj, "each input", &inputs, &n) < 0) {
        return NULL;
    }
    PyObject *out = NULL;
    if (n != c->n_children) {
        cc_py_raise_kind(CC_E_EXPAND_WRONG_NUM_CHILDREN,
                         "expand wrong number of children, expected %d got %zd", c->n_children, n);
    } else {
        out = cc_py_wrap_steal(cc_expand_node(c, inputs));
    }
    PyMem_Free(inputs);
    return out;
}

static PyObject *
replace_expand_bottom_up_dict(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    static char *kwlist[] = {"circuit", "dict", NULL};
    PyObject *c_obj, *dict;
    cc_node *c;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO!:replace_expand_bottom_up_dict", kwlist,
                                     &c_obj, &PyDict_Type, &dict) ||
        !cc_py_node_check(c_obj, "circuit", &c)) {
        return NULL;
    }
    Py_ssize_t n = PyDict_Size(dict);
    cc_node **keys = PyMem_Calloc((size_t)(n > 0 ? n : 1), sizeof(cc_node *));
    cc_node **values = PyMem_Calloc((size_t)(n > 0 ? n : 1), sizeof(cc_node *));
    PyObject *out = NULL;
    if (keys == NULL || values == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    PyObject *k, *v;
    Py_ssize_t pos = 0, i = 0;
    while (PyDict_Next(dict, &pos, &k, &v)) {
        if (!cc_py_node_check(k, "each key", &keys[i]) ||
            !cc_py_node_check(v, "each value", &values[i])) {
            goto done;
        }
        i++;
    }
    out = cc_py_wrap_steal(cc_replace_expand(c, (int)n, keys, values));
done:
    PyMem_Free(keys);
    PyMem_Free(values);
    return out;
}

static PyObject *
clear_module_circuit_caches(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    Py_RETURN_NONE;
}

static PyObject *
size_product_tuple(const cc_size_product *p)
{
    PyObject *syms = PyList_New(p->n);
    for (int i = 0; syms != NULL && i < p->n; i++) {
        PyObject *v = PyLong_FromLong(p->sizes[i]);
        if (v == NULL) {
            Py_CLEAR(syms);
            break;
        }
        PyList_SET_ITEM(syms, i, v);
    }
    if (syms == NULL) {
        return NULL;
    }
    PyObject *out = Py_BuildValue("(LO)", (long long)p->other_factor, syms);
    Py_DECREF(syms);
    return out;
}

static PyObject *
size_product(PyObject *self, PyObject *arg)
{
    (void)self;
    long long size = PyLong_AsLongLong(arg);
    if (size == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (size < 0) {
        PyErr_Format(PyExc_ValueError, "a size is >= 0, got %lld", size);
        return NULL;
    }
    cc_size_product p;
    cc_size_product_from(size, &p);
    return size_product_tuple(&p);
}

static PyObject *
size_constraint(PyObject *self, PyObject *args)
{
    (void)self;
    long long l, r;
    if (!PyArg_ParseTuple(args, "LL:_size_constraint", &l, &r)) {
        return NULL;
    }
    cc_size_constraint c;
    int has;
    if (cc_size_constraint_new(l, r, &c, &has) < 0) {
        return cc_py_raise();
    }
    if (!has) {
        Py_RETURN_NONE;
    }
    PyObject *a = size_product_tuple(&c.l);
    PyObject *b = a ? size_product_tuple(&c.r) : NULL;
    PyObject *out = b ? PyTuple_Pack(2, a, b) : NULL;
    Py_XDECREF(a);
    Py_XDECREF(b);
    return out;
}

static PyMethodDef module_functions[] = {
    {"get_free_symbols", get_free_symbols, METH_O,
     "get_free_symbols(circuit) -> [Symbol]: symbols not bound by an enclosing Module."},
    {"substitute_all_modules", substitute_all_modules, METH_O,
     "substitute_all_modules(circuit): every Module replaced by its substitution, bottom-up."},
    {"conform_all_modules", conform_all_modules, METH_O,
     "conform_all_modules(circuit): conform_to_input_shapes on every Module, pre-order."},
    {"symbolic_sizes", symbolic_sizes, METH_NOARGS,
     "symbolic_sizes() -> the 256 primes standing for the symbolic sizes 0s, 1s, ..."},
    {"expand_node", (PyCFunction)(void (*)(void))expand_node, METH_VARARGS | METH_KEYWORDS,
     "expand_node(circuit, inputs): circuit re-derived over new children (batch axes and "
     "symbolic sizes propagate)."},
    {"replace_expand_bottom_up_dict", (PyCFunction)(void (*)(void))replace_expand_bottom_up_dict,
     METH_VARARGS | METH_KEYWORDS,
     "replace_expand_bottom_up_dict(circuit, {old: new}): replace nodes and re-derive every "
     "ancestor by expansion."},
    {"clear_module_circuit_caches", clear_module_circuit_caches, METH_NOARGS,
     "No-op: substitution keeps no caches between calls."},
    {"_size_product", size_product, METH_O,
     "_size_product(size) -> (other_factor, [symbolic indices])."},
    {"_size_constraint", size_constraint, METH_VARARGS,
     "_size_constraint(l, r) -> None or ((factor, [syms]), (factor, [syms]))."},
    {NULL, NULL, 0, NULL},
};

int
cc_py_module_init(PyObject *module)
{
    argspec_type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &argspec_spec, NULL);
    if (argspec_type == NULL ||
        PyModule_AddObjectRef(module, "ModuleArgSpec", (PyObject *)argspec_type) < 0) {
        return -1;
    }
    modspec_type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &modspec_spec, NULL);
    if (modspec_type == NULL ||
        PyModule_AddObjectRef(module, "ModuleSpec", (PyObject *)modspec_type) < 0) {
        return -1;
    }
    return PyModule_AddFunctions(module, module_functions);
}
