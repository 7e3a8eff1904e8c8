// ModulePusher, NestedModuleNamer, ModuleConstructCallback and the module functions
// default_nested_module_namer, default_update_bindings_nested_namer and update_bindings_nested
// (rc's names and signatures). Only translates: the walk is rewrite/module_pusher.c; Python
// namers, callbacks and updates become its callbacks, the built-in ones run in C.
#include "python/bindings.h"

#include <string.h>

#include "python/py_match.h"
#include "rewrite/module_pusher.h"
#include "util/alloc.h"
#include "util/error.h"

#define NODE(o) (((cc_py_node *)(o))->node)

static PyTypeObject *namer_type;
static PyTypeObject *callback_type;
static PyTypeObject *pusher_type;

typedef struct {
    PyObject_HEAD cc_nested_namer namer; // built-in kinds only
    char *bind_name;                     // owned; namer.bind_name points here
} namer_obj;

typedef struct {
    PyObject_HEAD cc_module_construct_cb cb; // built-in kinds only
} callback_obj;

typedef struct {
    PyObject_HEAD int flatten_modules;
    int bind_encountered_symbols;
    PyObject *callback; // a ModuleConstructCallback or a callable
    PyObject *namer;    // a NestedModuleNamer or a callable
} pusher_obj;

// --- Python callables as core callbacks ---------------------------------------------------------

// [Module, ...] of the modules (new list), or NULL.
static PyObject *
modules_list(int n, cc_node *const *mods)
{
    PyObject *list = PyList_New(n);
    if (list == NULL) {
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        PyObject *w = cc_py_wrap(mods[i]);
        if (w == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, w);
    }
    return list;
}

static int
py_namer_call(void *ctx, cc_node *base, cc_node *running, int n_modules, cc_node *const *modules,
              int64_t pushed_count, char **out)
{
    *out = NULL;
    PyObject *b = cc_py_wrap(base), *r = cc_py_wrap(running),
             *ms = modules_list(n_modules, modules);
    PyObject *count = pushed_count < 0 ? Py_NewRef(Py_None) : PyLong_FromLongLong(pushed_count);
    PyObject *res = NULL;
    if (b != NULL && r != NULL && ms != NULL && count != NULL) {
        res = PyObject_CallFunctionObjArgs((PyObject *)ctx, b, r, ms, count, NULL);
    }
    Py_XDECREF(b);
    Py_XDECREF(r);
    Py_XDECREF(ms);
    Py_XDECREF(count);
    if (res == NULL) {
        return cc_fail(CC_E_PYTHON, "a namer raised");
    }
    int rc = 0;
    if (PyUnicode_Check(res)) {
        const char *s = PyUnicode_AsUTF8(res);
        if (s == NULL || (*out = cc_malloc(strlen(s) + 1)) == NULL) {
            rc = s == NULL ? cc_fail(CC_E_PYTHON, "a namer's name is not UTF-8") : -1;
        } else {
            memcpy(*out, s, strlen(s) + 1);
        }
    } else if (res != Py_None) {
        PyErr_Format(PyExc_TypeError, "a namer must return a str or None, not %.100s",
                     Py_TYPE(res)->tp_name);
        rc = cc_fail(CC_E_PYTHON, "a namer returned a non-str");
    }
    Py_DECREF(res);
    return rc;
}

// The node of a Circuit result (new reference), or NULL with CC_E_PYTHON and a TypeError.
static cc_node *
circuit_result(PyObject *res, const char *who)
{
    if (res == NULL) {
        return cc_fail_null(CC_E_PYTHON, "%s raised", who);
    }
    if (!PyObject_TypeCheck(res, cc_py_circuit_type)) {
        PyErr_Format(PyExc_TypeError, "%s must return a Circuit, not %.100s", who,
                     Py_TYPE(res)->tp_name);
        Py_DECREF(res);
        return cc_fail_null(CC_E_PYTHON, "%s returned a non-circuit", who);
    }
    cc_node *n = NODE(res);
    cc_node_incref(n);
    Py_DECREF(res);
    return n;
}

static cc_node *
py_callback_call(void *ctx, cc_node *m, int n_modules, cc_node *const *modules,
                 int64_t pushed_count)
{
    PyObject *w = cc_py_wrap(m), *ms = modules_list(n_modules, modules);
    PyObject *count = PyLong_FromLongLong(pushed_count);
    PyObject *res = NULL;
    if (w != NULL && ms != NULL && count != NULL) {
        res = PyObject_CallFunctionObjArgs((PyObject *)ctx, w, ms, count, NULL);
    }
    Py_XDECREF(w);
    Py_XDECREF(ms);
    Py_XDECREF(count);
    return circuit_result(res, "a module construct callback");
}

static int
py_update_call(void *ctx, cc_node *n, cc_node **out)
{
    *out = NULL;
    PyObject *w = cc_py_wrap(n);
    if (w == NULL) {
        return cc_fail(CC_E_PYTHON, "wrapping a circuit failed");
    }
    PyObject *res = PyObject_CallOneArg((PyObject *)ctx, w);
    Py_DECREF(w);
    if (res == Py_None) {
        Py_DECREF(res);
        return 0;
    }
    *out = circuit_result(res, "an update");
    return *out == NULL ? -1 : 0;
}

// A NestedModuleNamer or a callable -> the core namer (borrowing obj). -1 with a TypeError.
static int
namer_arg(PyObject *obj, cc_nested_namer *out)
{
    if (PyObject_TypeCheck(obj, namer_type)) {
        *out = ((namer_obj *)obj)->namer;
        return 0;
    }
    if (!PyCallable_Check(obj)) {
        PyErr_Format(PyExc_TypeError,
                     "namer must be a callable (base_circuit, running_circuit, modules, "
                     "pushed_count) -> Optional[str], not %.100s",
                     Py_TYPE(obj)->tp_name);
        return -1;
    }
    *out = (cc_nested_namer){.kind = CC_NAMER_CALLBACK, .call = py_namer_call, .ctx = obj};
    return 0;
}

static int
callback_arg(PyObject *obj, cc_module_construct_cb *out)
{
    if (PyObject_TypeCheck(obj, callback_type)) {
        *out = ((callback_obj *)obj)->cb;
        return 0;
    }
    if (!PyCallable_Check(obj)) {
        PyErr_Format(PyExc_TypeError,
                     "module_construct_callback must be a callable (module, modules, "
                     "pushed_count) -> Circuit, not %.100s",
                     Py_TYPE(obj)->tp_name);
        return -1;
    }
    *out = (cc_module_construct_cb){
        .kind = CC_MODULE_CB_CALLBACK, .call = py_callback_call, .ctx = obj};
    return 0;
}

// --- NestedModuleNamer --------------------------------------------------------------------------

static PyObject *
namer_make(cc_nested_namer_kind kind, const char *bind_name, int short_if_not_leaf,
           int keep_name_if_not_leaf)
{
    namer_obj *o = (namer_obj *)namer_type->tp_alloc(namer_type, 0);
    if (o == NULL) {
        return NULL;
    }
    o->bind_name = cc_malloc(strlen(bind_name) + 1);
    if (o->bind_name == NULL) {
        Py_DECREF(o);
        return cc_py_raise();
    }
    memcpy(o->bind_name, bind_name, strlen(bind_name) + 1);
    o->namer = (cc_nested_namer){
        .kind = kind,
        .bind_name = o->bind_name,
        .short_if_not_leaf = short_if_not_leaf,
        .keep_name_if_not_leaf = keep_name_if_not_leaf,
    };
    return (PyObject *)o;
}

static void
namer_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    cc_free(((namer_obj *)self)->bind_name);
    tp->tp_free(self);
    Py_DECREF(tp);
}

// Borrowed nodes of a list of Modules; *out freed with PyMem_Free. -1 with an exception.
static int
modules_arg(PyObject *seq, cc_node ***out, Py_ssize_t *n)
{
    if (cc_py_nodes_from_seq(seq, "modules", out, n) < 0) {
        return -1;
    }
    for (Py_ssize_t i = 0; i < *n; i++) {
        if ((*out)[i]->kind != CC_KIND_MODULE) {
            PyErr_Format(PyExc_TypeError, "modules[%zd]: expected Module but got %s", i,
                         cc_kind_get_info((*out)[i]->kind)->py_name);
            PyMem_Free(*out);
            return -1;
        }
    }
    return 0;
}

static PyObject *
namer_call(PyObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"base_circuit", "running_circuit", "modules", "pushed_count", NULL};
    PyObject *base, *running, *mods, *count = Py_None;
    cc_node *b, *r, **ms;
    Py_ssize_t n;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOO|O:NestedModuleNamer", kwlist, &base, &running,
                                     &mods, &count) ||
        !cc_py_node_check(base, "base_circuit", &b) ||
        !cc_py_node_check(running, "running_circuit", &r)) {
        return NULL;
    }
    long long c = -1;
    if (count != Py_None) {
        c = PyLong_AsLongLong(count);
        if (c == -1 && PyErr_Occurred()) {
            return NULL;
        }
        if (c < 0) {
            return PyErr_Format(PyExc_ValueError, "pushed_count must be >= 0, got %lld", c);
        }
    }
    if (modules_arg(mods, &ms, &n) < 0) {
        return NULL;
    }
    char *name = NULL;
    int rc = cc_nested_namer_call(&((namer_obj *)self)->namer, b, r, (int)n, ms, c, &name);
    PyMem_Free(ms);
    if (rc < 0) {
        return cc_py_raise();
    }
    if (name == NULL) {
        Py_RETURN_NONE;
    }
    PyObject *out = PyUnicode_FromString(name);
    cc_free(name);
    return out;
}

static PyType_Slot namer_slots[] = {
    {Py_tp_dealloc, namer_dealloc},
    {Py_tp_call, (void *)namer_call},
    {Py_tp_doc, "NestedModuleNamer: (base_circuit, running_circuit, modules inner to outer, "
                "pushed_count) -> Optional[str]; made by default_nested_module_namer and "
                "default_update_bindings_nested_namer."},
    {0, NULL},
};

static PyType_Spec namer_spec = {
    .name = "circuits.NestedModuleNamer",
    .basicsize = sizeof(namer_obj),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = namer_slots,
};

// --- ModuleConstructCallback --------------------------------------------------------------------

static PyObject *
callback_make(cc_module_cb_kind kind, int add_suffix, int elim_no_input)
{
    callback_obj *o = (callback_obj *)callback_type->tp_alloc(callback_type, 0);
    if (o != NULL) {
        o->cb = (cc_module_construct_cb){
            .kind = kind, .add_suffix = add_suffix, .elim_no_input = elim_no_input};
    }
    return (PyObject *)o;
}

static void
plain_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyObject *
callback_call(PyObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"m", "applied_modules", "pushed_count", NULL};
    PyObject *mod, *mods;
    long long count;
    cc_node *m, **ms;
    Py_ssize_t n;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOL:ModuleConstructCallback", kwlist, &mod, &mods,
                                     &count) ||
        !cc_py_node_check(mod, "m", &m)) {
        return NULL;
    }
    if (m->kind != CC_KIND_MODULE) {
        return PyErr_Format(PyExc_TypeError, "m: expected Module but got %s",
                            cc_kind_get_info(m->kind)->py_name);
    }
    if (modules_arg(mods, &ms, &n) < 0) {
        return NULL;
    }
    cc_node *out =
        cc_module_construct_cb_call(&((callback_obj *)self)->cb, m, (int)n, ms, (int64_t)count);
    PyMem_Free(ms);
    return cc_py_wrap_steal(out);
}

static PyType_Slot callback_slots[] = {
    {Py_tp_dealloc, plain_dealloc},
    {Py_tp_call, (void *)callback_call},
    {Py_tp_doc, "ModuleConstructCallback: (module, applied modules inner to outer, "
                "pushed_count) -> Circuit; made by ModulePusher's static methods."},
    {0, NULL},
};

static PyType_Spec callback_spec = {
    .name = "circuits.ModuleConstructCallback",
    .basicsize = sizeof(callback_obj),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = callback_slots,
};

// --- ModulePusher -------------------------------------------------------------------------------

static PyObject *
pusher_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"flatten_modules", "module_construct_callback",
                             "bind_encountered_symbols", "namer", NULL};
    int flatten = 1, bind = 1;
    PyObject *cb = NULL, *namer = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|pOpO:ModulePusher", kwlist, &flatten, &cb, &bind,
                                     &namer)) {
        return NULL;
    }
    cc_module_construct_cb c;
    cc_nested_namer nm;
    if ((cb != NULL && callback_arg(cb, &c) < 0) || (namer != NULL && namer_arg(namer, &nm) < 0)) {
        return NULL;
    }
    pusher_obj *o = (pusher_obj *)type->tp_alloc(type, 0);
    if (o == NULL) {
        return NULL;
    }
    o->flatten_modules = flatten;
    o->bind_encountered_symbols = bind;
    o->callback = cb != NULL ? Py_NewRef(cb) : callback_make(CC_MODULE_CB_REMOVE_UNUSED, 0, 1);
    o->namer = namer != NULL ? Py_NewRef(namer) : namer_make(CC_NAMER_DEFAULT, "bind", 0, 0);
    if (o->callback == NULL || o->namer == NULL) {
        Py_DECREF(o);
        return NULL;
    }
    return (PyObject *)o;
}

static void
pusher_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    pusher_obj *o = (pusher_obj *)self;
    Py_XDECREF(o->callback);
    Py_XDECREF(o->namer);
    tp->tp_free(self);
    Py_DECREF(tp);
}

// The core pusher of self (borrowing its callables). -1 with an exception.
static int
pusher_core(PyObject *self, cc_module_pusher *out)
{
    pusher_obj *o = (pusher_obj *)self;
    out->flatten_modules = o->flatten_modules;
    out->bind_encountered_symbols = o->bind_encountered_symbols;
    if (callback_arg(o->callback, &out->callback) < 0 || namer_arg(o->namer, &out->namer) < 0) {
        return -1;
    }
    return 0;
}

// Parses (circuit, <second>, skip_module=IterativeMatcher(False)) of the pusher methods. *m and
// *skip are new references (*skip NULL: never skip). -1 with an exception.
static int
pusher_args(PyObject *args, PyObject *kwds, const char *second, const char *fmt, cc_node **root,
            cc_imatcher **m, cc_imatcher **skip)
{
    char *kwlist[] = {"circuit", (char *)second, "skip_module", NULL};
    PyObject *circuit, *matcher, *skip_obj = NULL;
    *m = NULL;
    *skip = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, fmt, kwlist, &circuit, &matcher, &skip_obj) ||
        !cc_py_node_check(circuit, "circuit", root)) {
        return -1;
    }
    if ((*m = cc_py_imatcher_arg(matcher)) == NULL) {
        return -1;
    }
    if (skip_obj != NULL && (*skip = cc_py_imatcher_arg(skip_obj)) == NULL) {
        cc_imatcher_decref(*m);
        *m = NULL;
        return -1;
    }
    return 0;
}

static PyObject *
pusher_push_down_modules(PyObject *self, PyObject *args, PyObject *kwds)
{
    cc_module_pusher p;
    cc_node *root;
    cc_imatcher *m, *skip;
    if (pusher_core(self, &p) < 0 ||
        pusher_args(args, kwds, "traversal", "OO|O:push_down_modules", &root, &m, &skip) < 0) {
        return NULL;
    }
    cc_node *out = cc_push_down_modules(&p, root, m, skip);
    cc_imatcher_decref(m);
    cc_imatcher_decref(skip);
    return cc_py_wrap_steal(out);
}

// The found set of get_push_down_modules: *out new references, *n; -1 with an exception.
static int
pusher_get(PyObject *self, PyObject *args, PyObject *kwds, const char *fmt, cc_node ***out,
           int64_t *n)
{
    cc_module_pusher p;
    cc_node *root;
    cc_imatcher *m, *skip;
    if (pusher_core(self, &p) < 0 || pusher_args(args, kwds, "get", fmt, &root, &m, &skip) < 0) {
        return -1;
    }
    int rc = cc_get_push_down_modules(&p, root, m, skip, out, n);
    cc_imatcher_decref(m);
    cc_imatcher_decref(skip);
    return rc < 0 ? cc_py_raise_int() : 0;
}

static void
nodes_free(cc_node **ns, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        cc_node_decref(ns[i]);
    }
    cc_free(ns);
}

static PyObject *
pusher_get_push_down_modules(PyObject *self, PyObject *args, PyObject *kwds)
{
    cc_node **ns;
    int64_t n;
    if (pusher_get(self, args, kwds, "OO|O:get_push_down_modules", &ns, &n) < 0) {
        return NULL;
    }
    PyObject *set = PySet_New(NULL);
    for (int64_t i = 0; set != NULL && i < n; i++) {
        PyObject *w = cc_py_wrap(ns[i]);
        if (w == NULL || PySet_Add(set, w) < 0) {
            Py_XDECREF(w);
            Py_CLEAR(set);
            break;
        }
        Py_DECREF(w);
    }
    nodes_free(ns, n);
    return set;
}

// get_unique_op (allow_none) and get_unique of the pushed-down matches.
static PyObject *
pusher_get_unique(PyObject *self, PyObject *args, PyObject *kwds, const char *fmt, int allow_none)
{
    cc_node **ns;
    int64_t n;
    if (pusher_get(self, args, kwds, fmt, &ns, &n) < 0) {
        return NULL;
    }
    PyObject *out = NULL;
    if (n > 1) {
        cc_py_raise_kind(CC_E_PY_RUNTIME, "found %lld matches which is > 1", (long long)n);
    } else if (n == 0 && !allow_none) {
        cc_py_raise_kind(CC_E_PY_RUNTIME, "found no matches!");
    } else if (n == 0) {
        out = Py_NewRef(Py_None);
    } else {
        out = cc_py_wrap(ns[0]);
    }
    nodes_free(ns, n);
    return out;
}

static PyObject *
pusher_get_unique_op_push_down_modules(PyObject *self, PyObject *args, PyObject *kwds)
{
    return pusher_get_unique(self, args, kwds, "OO|O:get_unique_op_push_down_modules", 1);
}

static PyObject *
pusher_get_unique_push_down_modules(PyObject *self, PyObject *args, PyObject *kwds)
{
    return pusher_get_unique(self, args, kwds, "OO|O:get_unique_push_down_modules", 0);
}

static PyObject *
pusher_remove_and_elim_callback(PyObject *cls, PyObject *args, PyObject *kwds)
{
    (void)cls;
    static char *kwlist[] = {"remove_unused_inputs", "add_suffix_on_remove_unused",
                             "elim_no_input_modules", NULL};
    int remove = 1, suffix = 0, elim = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|ppp:remove_and_elim_callback", kwlist, &remove,
                                     &suffix, &elim)) {
        return NULL;
    }
    if (!remove && !elim) {
        return callback_make(CC_MODULE_CB_NOOP, 0, 0);
    }
    if (!remove) {
        return callback_make(CC_MODULE_CB_ELIM_NO_INPUT, 0, 0);
    }
    return callback_make(CC_MODULE_CB_REMOVE_UNUSED, suffix, elim);
}

static PyObject *
pusher_remove_unused_callback(PyObject *cls, PyObject *args, PyObject *kwds)
{
    (void)cls;
    static char *kwlist[] = {"add_suffix_on_remove_unused", "elim_no_input_modules", NULL};
    int suffix = 0, elim = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|pp:remove_unused_callback", kwlist, &suffix,
                                     &elim)) {
        return NULL;
    }
    return callback_make(CC_MODULE_CB_REMOVE_UNUSED, suffix, elim);
}

static PyObject *
pusher_noop_callback(PyObject *cls, PyObject *unused)
{
    (void)cls;
    (void)unused;
    return callback_make(CC_MODULE_CB_NOOP, 0, 0);
}

static PyObject *
pusher_elim_no_input_modules_callback(PyObject *cls, PyObject *unused)
{
    (void)cls;
    (void)unused;
    return callback_make(CC_MODULE_CB_ELIM_NO_INPUT, 0, 0);
}

static PyObject *
pusher_get_flatten(PyObject *self, void *closure)
{
    (void)closure;
    return PyBool_FromLong(((pusher_obj *)self)->flatten_modules);
}

static PyObject *
pusher_get_bind(PyObject *self, void *closure)
{
    (void)closure;
    return PyBool_FromLong(((pusher_obj *)self)->bind_encountered_symbols);
}

static PyObject *
pusher_get_callback(PyObject *self, void *closure)
{
    (void)closure;
    return Py_NewRef(((pusher_obj *)self)->callback);
}

static PyObject *
pusher_get_namer(PyObject *self, void *closure)
{
    (void)closure;
    return Py_NewRef(((pusher_obj *)self)->namer);
}

static PyGetSetDef pusher_getset[] = {
    {"flatten_modules", pusher_get_flatten, NULL, "Fuse the pushed modules into one.", NULL},
    {"module_construct_callback", pusher_get_callback, NULL,
     "Applied to each Module the pusher builds.", NULL},
    {"bind_encountered_symbols", pusher_get_bind, NULL,
     "Replace symbols bound by pushed modules by their arguments (else raise).", NULL},
    {"namer", pusher_get_namer, NULL, "Names the nodes and modules the pusher builds.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef pusher_methods[] = {
    {"push_down_modules", (PyCFunction)(void (*)(void))pusher_push_down_modules,
     METH_VARARGS | METH_KEYWORDS,
     "push_down_modules(circuit, traversal, skip_module=IterativeMatcher(False)) -> Circuit: "
     "every Module the traversal passes (and skip_module does not find) pushed to where the "
     "traversal ends."},
    {"get_push_down_modules", (PyCFunction)(void (*)(void))pusher_get_push_down_modules,
     METH_VARARGS | METH_KEYWORDS,
     "get_push_down_modules(circuit, get, skip_module=IterativeMatcher(False)) -> set of the "
     "nodes get finds, each wrapped in the modules above it."},
    {"get_unique_op_push_down_modules",
     (PyCFunction)(void (*)(void))pusher_get_unique_op_push_down_modules,
     METH_VARARGS | METH_KEYWORDS,
     "get_unique_op_push_down_modules(circuit, get, skip_module=...) -> Optional[Circuit]."},
    {"get_unique_push_down_modules",
     (PyCFunction)(void (*)(void))pusher_get_unique_push_down_modules, METH_VARARGS | METH_KEYWORDS,
     "get_unique_push_down_modules(circuit, get, skip_module=...) -> Circuit."},
    {"remove_and_elim_callback", (PyCFunction)(void (*)(void))pusher_remove_and_elim_callback,
     METH_VARARGS | METH_KEYWORDS | METH_STATIC,
     "remove_and_elim_callback(remove_unused_inputs=True, add_suffix_on_remove_unused=False, "
     "elim_no_input_modules=True) -> ModuleConstructCallback."},
    {"remove_unused_callback", (PyCFunction)(void (*)(void))pusher_remove_unused_callback,
     METH_VARARGS | METH_KEYWORDS | METH_STATIC,
     "remove_unused_callback(add_suffix_on_remove_unused=False, elim_no_input_modules=True) -> "
     "ModuleConstructCallback."},
    {"noop_callback", pusher_noop_callback, METH_NOARGS | METH_STATIC,
     "noop_callback() -> ModuleConstructCallback keeping each module as built."},
    {"elim_no_input_modules_callback", pusher_elim_no_input_modules_callback,
     METH_NOARGS | METH_STATIC,
     "elim_no_input_modules_callback() -> ModuleConstructCallback replacing a module without "
     "arguments by its body."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot pusher_slots[] = {
    {Py_tp_new, pusher_new},
    {Py_tp_dealloc, pusher_dealloc},
    {Py_tp_call, (void *)pusher_push_down_modules},
    {Py_tp_methods, pusher_methods},
    {Py_tp_getset, pusher_getset},
    {Py_tp_doc, "ModulePusher(flatten_modules=True, module_construct_callback="
                "ModulePusher.remove_unused_callback(), bind_encountered_symbols=True, "
                "namer=default_nested_module_namer()): pushes Module bindings down a traversal."},
    {0, NULL},
};

static PyType_Spec pusher_spec = {
    .name = "circuits.ModulePusher",
    .basicsize = sizeof(pusher_obj),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = pusher_slots,
};

// --- module functions ---------------------------------------------------------------------------

static PyObject *
py_default_nested_module_namer(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    static char *kwlist[] = {"bind_name", NULL};
    const char *bind = "bind";
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|s:default_nested_module_namer", kwlist, &bind)) {
        return NULL;
    }
    return namer_make(CC_NAMER_DEFAULT, bind, 0, 0);
}

static PyObject *
py_default_update_bindings_nested_namer(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    static char *kwlist[] = {"bind_name", "short_if_not_leaf", "keep_name_if_not_leaf", NULL};
    const char *bind = "upd_bind";
    int short_name = 1, keep = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|spp:default_update_bindings_nested_namer",
                                     kwlist, &bind, &short_name, &keep)) {
        return NULL;
    }
    return namer_make(CC_NAMER_UPDATE_BINDINGS, bind, short_name, keep);
}

static PyObject *
py_update_bindings_nested(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    static char *kwlist[] = {"circuit",         "update",      "matcher",
                             "namer",           "skip_module", "run_update_on_new_spec_circuits",
                             "flatten_modules", NULL};
    PyObject *circuit, *update, *matcher, *namer = NULL, *skip_obj = NULL;
    int run_update = 0, flatten = 0;
    cc_node *root;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOO|OOpp:update_bindings_nested", kwlist,
                                     &circuit, &update, &matcher, &namer, &skip_obj, &run_update,
                                     &flatten) ||
        !cc_py_node_check(circuit, "circuit", &root)) {
        return NULL;
    }
    if (!PyCallable_Check(update)) {
        return PyErr_Format(PyExc_TypeError,
                            "update must be a callable Circuit -> Optional[Circuit], not %.100s",
                            Py_TYPE(update)->tp_name);
    }
    PyObject *namer_holder =
        namer != NULL ? Py_NewRef(namer) : namer_make(CC_NAMER_UPDATE_BINDINGS, "upd_bind", 1, 0);
    if (namer_holder == NULL) {
        return NULL;
    }
    cc_nested_namer nm;
    cc_imatcher *m = NULL, *skip = NULL;
    cc_node *out = NULL;
    if (namer_arg(namer_holder, &nm) < 0 || (m = cc_py_imatcher_arg(matcher)) == NULL ||
        (skip_obj != NULL && (skip = cc_py_imatcher_arg(skip_obj)) == NULL)) {
        goto done;
    }
    cc_maybe_update up = {.run = py_update_call, .ctx = update};
    out = cc_update_bindings_nested(root, &up, m, &nm, skip, run_update, flatten);
    if (out == NULL) {
        cc_py_raise();
    }
done:
    cc_imatcher_decref(m);
    cc_imatcher_decref(skip);
    Py_DECREF(namer_holder);
    return out == NULL ? NULL : cc_py_wrap_steal(out);
}

static PyMethodDef functions[] = {
    {"default_nested_module_namer", (PyCFunction)(void (*)(void))py_default_nested_module_namer,
     METH_VARARGS | METH_KEYWORDS,
     "default_nested_module_namer(bind_name='bind') -> NestedModuleNamer: '<name> "
     "<bind_name>:<module names inner to outer>'."},
    {"default_update_bindings_nested_namer",
     (PyCFunction)(void (*)(void))py_default_update_bindings_nested_namer,
     METH_VARARGS | METH_KEYWORDS,
     "default_update_bindings_nested_namer(bind_name='upd_bind', short_if_not_leaf=True, "
     "keep_name_if_not_leaf=False) -> NestedModuleNamer."},
    {"update_bindings_nested", (PyCFunction)(void (*)(void))py_update_bindings_nested,
     METH_VARARGS | METH_KEYWORDS,
     "update_bindings_nested(circuit, update, matcher, namer=default_update_bindings_nested_"
     "namer(), skip_module=IterativeMatcher(False), run_update_on_new_spec_circuits=False, "
     "flatten_modules=False) -> Circuit."},
    {NULL, NULL, 0, NULL},
};

int
cc_py_module_pusher_init(PyObject *module)
{
    const cc_py_type_def defs[] = {
        {&namer_spec, NULL, NULL, &namer_type, "NestedModuleNamer"},
        {&callback_spec, NULL, NULL, &callback_type, "ModuleConstructCallback"},
        {&pusher_spec, NULL, NULL, &pusher_type, "ModulePusher"},
    };
    if (cc_py_types_add(module, defs, sizeof defs / sizeof defs[0]) < 0) {
        return -1;
    }
    return PyModule_AddFunctions(module, functions);
}
