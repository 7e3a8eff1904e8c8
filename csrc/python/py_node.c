// The Circuit base type: attributes and methods shared by every node kind, and
// the wrapping of core nodes into the Python class of their kind.
#include "python/bindings.h"

#include <string.h>

#include "nodes/autoname.h"
#include "nodes/kind.h"
#include "text/print.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/hmap.h"
#include "util/vec.h"

PyTypeObject *cc_py_circuit_type;
PyTypeObject *cc_py_kind_types[CC_KIND_COUNT];

PyObject *
cc_py_wrap(cc_node *n)
{
    PyTypeObject *tp = cc_py_kind_types[n->kind];
    cc_py_node *obj = (cc_py_node *)tp->tp_alloc(tp, 0);
    if (obj == NULL) {
        return NULL;
    }
    cc_node_incref(n);
    obj->node = n;
    return (PyObject *)obj;
}

PyObject *
cc_py_wrap_steal(cc_node *n)
{
    if (n == NULL) {
        return cc_py_raise();
    }
    PyObject *obj = cc_py_wrap(n);
    cc_node_decref(n);
    return obj;
}

int
cc_py_node_check(PyObject *obj, const char *what, cc_node **out)
{
    if (!PyObject_TypeCheck(obj, cc_py_circuit_type)) {
        PyErr_Format(PyExc_TypeError, "%s must be a Circuit, not %.100s", what,
                     Py_TYPE(obj)->tp_name);
        return 0;
    }
    *out = ((cc_py_node *)obj)->node;
    return 1;
}

int
cc_py_nodes_from_seq(PyObject *seq, const char *what, cc_node ***out, Py_ssize_t *n)
{
    PyObject *fast = PySequence_Fast(seq, "expected a sequence of circuits");
    if (fast == NULL) {
        return -1;
    }
    Py_ssize_t len = PySequence_Fast_GET_SIZE(fast);
    cc_node **nodes = PyMem_Malloc(sizeof(cc_node *) * (size_t)(len ? len : 1));
    if (nodes == NULL) {
        Py_DECREF(fast);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < len; i++) {
        if (!cc_py_node_check(PySequence_Fast_GET_ITEM(fast, i), what, &nodes[i])) {
            PyMem_Free(nodes);
            Py_DECREF(fast);
            return -1;
        }
    }
    Py_DECREF(fast); // the nodes stay alive through the caller's reference to seq
    *out = nodes;
    *n = len;
    return 0;
}

int
cc_py_name_arg(PyObject *obj, const char **out)
{
    if (obj == NULL || obj == Py_None) {
        *out = NULL;
        return 0;
    }
    if (!PyUnicode_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "name must be a str or None, not %.100s",
                     Py_TYPE(obj)->tp_name);
        return -1;
    }
    *out = PyUnicode_AsUTF8(obj);
    return *out == NULL ? -1 : 0;
}

int
cc_py_shape_arg(PyObject *obj, int *ndim, int64_t *shape)
{
    PyObject *fast = PySequence_Fast(obj, "shape must be a sequence of ints");
    if (fast == NULL) {
        return -1;
    }
    Py_ssize_t len = PySequence_Fast_GET_SIZE(fast);
    if (len > CC_MAX_NDIM) {
        Py_DECREF(fast);
        PyErr_Format(PyExc_ValueError, "shape has %zd dimensions; circuits supports at most %d",
                     len, CC_MAX_NDIM);
        return -1;
    }
    for (Py_ssize_t i = 0; i < len; i++) {
        long long v = PyLong_AsLongLong(PySequence_Fast_GET_ITEM(fast, i));
        if (v == -1 && PyErr_Occurred()) {
            Py_DECREF(fast);
            return -1;
        }
        if (v < 0) {
            Py_DECREF(fast);
            PyErr_Format(PyExc_ValueError, "shape sizes must be >= 0, got %lld at axis %zd", v, i);
            return -1;
        }
        shape[i] = v;
    }
    *ndim = (int)len;
    Py_DECREF(fast);
    return 0;
}

PyObject *
cc_py_shape_tuple(int ndim, const int64_t *shape)
{
    PyObject *t = PyTuple_New(ndim);
    if (t == NULL) {
        return NULL;
    }
    for (int i = 0; i < ndim; i++) {
        PyObject *v = PyLong_FromLongLong(shape[i]);
        if (v == NULL) {
            Py_DECREF(t);
            return NULL;
        }
        PyTuple_SET_ITEM(t, i, v);
    }
    return t;
}

int
cc_py_uuid_arg(PyObject *obj, uint8_t out[16])
{
    PyObject *bytes;
    if (PyBytes_Check(obj)) {
        bytes = Py_NewRef(obj);
    } else {
        PyObject *uuid_mod = PyImport_ImportModule("uuid");
        if (uuid_mod == NULL) {
            return -1;
        }
        PyObject *u =
            PyUnicode_Check(obj) ? PyObject_CallMethod(uuid_mod, "UUID", "O", obj) : Py_NewRef(obj);
        Py_DECREF(uuid_mod);
        if (u == NULL) {
            return -1;
        }
        bytes = PyObject_GetAttrString(u, "bytes");
        Py_DECREF(u);
        if (bytes == NULL) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError, "expected a uuid.UUID, not %.100s",
                         Py_TYPE(obj)->tp_name);
            return -1;
        }
    }
    if (!PyBytes_Check(bytes) || PyBytes_GET_SIZE(bytes) != 16) {
        Py_DECREF(bytes);
        PyErr_SetString(PyExc_ValueError, "a uuid is 16 bytes");
        return -1;
    }
    memcpy(out, PyBytes_AS_STRING(bytes), 16);
    Py_DECREF(bytes);
    return 0;
}

PyObject *
cc_py_uuid_object(const uint8_t uuid[16])
{
    PyObject *uuid_mod = PyImport_ImportModule("uuid");
    if (uuid_mod == NULL) {
        return NULL;
    }
    PyObject *cls = PyObject_GetAttrString(uuid_mod, "UUID");
    Py_DECREF(uuid_mod);
    if (cls == NULL) {
        return NULL;
    }
    PyObject *args = PyTuple_New(0);
    PyObject *kwargs = Py_BuildValue("{s:y#}", "bytes", (const char *)uuid, (Py_ssize_t)16);
    PyObject *out = (args && kwargs) ? PyObject_Call(cls, args, kwargs) : NULL;
    Py_XDECREF(args);
    Py_XDECREF(kwargs);
    Py_DECREF(cls);
    return out;
}

// --- the type ----------------------------------------------------------------------------

#define NODE(self) (((cc_py_node *)(self))->node)

static void
node_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    cc_node_decref(NODE(self));
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyObject *
node_new_abstract(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    (void)args;
    (void)kwds;
    PyErr_Format(PyExc_TypeError,
                 "%s cannot be instantiated directly; use a node kind such "
                 "as Array, Add or Einsum",
                 type->tp_name);
    return NULL;
}

static PyObject *
get_name(PyObject *self, void *closure)
{
    (void)closure;
    const char *name = NODE(self)->name;
    return PyUnicode_FromString(name ? name : "");
}

static PyObject *
get_op_name(PyObject *self, void *closure)
{
    (void)closure;
    const char *name = NODE(self)->name;
    if (name == NULL) {
        Py_RETURN_NONE;
    }
    return PyUnicode_FromString(name);
}

static PyObject *
get_shape(PyObject *self, void *closure)
{
    (void)closure;
    return cc_py_shape_tuple(NODE(self)->ndim, NODE(self)->shape);
}

static PyObject *
get_rank(PyObject *self, void *closure)
{
    (void)closure;
    return PyLong_FromLong(NODE(self)->ndim);
}

static PyObject *
get_numel(PyObject *self, void *closure)
{
    (void)closure;
    return PyLong_FromLongLong(cc_shape_numel(NODE(self)->ndim, NODE(self)->shape));
}

static PyObject *
get_children(PyObject *self, void *closure)
{
    (void)closure;
    cc_node *n = NODE(self);
    PyObject *list = PyList_New(n->n_children);
    if (list == NULL) {
        return NULL;
    }
    for (int i = 0; i < n->n_children; i++) {
        PyObject *c = cc_py_wrap(n->children[i]);
        if (c == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, c);
    }
    return list;
}

// rc's non_free_children: a binding kind's (a Module's) arguments, its body being a "free"
// child; else children.
static PyObject *
get_non_free_children(PyObject *self, void *closure)
{
    (void)closure;
    cc_node *n = NODE(self);
    int first = cc_kind_ops_of(n->kind)->child_binding != NULL ? 1 : 0;
    PyObject *list = PyList_New(n->n_children - first);
    for (int i = first; list != NULL && i < n->n_children; i++) {
        PyObject *c = cc_py_wrap(n->children[i]);
        if (c == NULL) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, i - first, c);
    }
    return list;
}

static PyObject *
get_no_unbound_symbols(PyObject *self, void *closure)
{
    (void)closure;
    cc_node *n = NODE(self);
    return PyBool_FromLong(!cc_kind_has(n->kind, CC_FREE_SYMBOL) && n->free_symbols == NULL);
}

static PyObject *
get_num_children(PyObject *self, void *closure)
{
    (void)closure;
    return PyLong_FromLong(NODE(self)->n_children);
}

static PyObject *
get_hash(PyObject *self, void *closure)
{
    (void)closure;
    return PyBytes_FromStringAndSize((const char *)NODE(self)->hash, 32);
}

PyObject *
cc_py_hex(const uint8_t *bytes, int n)
{
    static const char digits[] = "0123456789abcdef";
    char out[128];
    for (int i = 0; i < n; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 15];
    }
    return PyUnicode_FromStringAndSize(out, 2 * n);
}

static PyObject *
get_hash_base16(PyObject *self, void *closure)
{
    (void)closure;
    return cc_py_hex(NODE(self)->hash, 32);
}

static PyObject *
get_flag(PyObject *self, void *closure)
{
    cc_node *n = NODE(self);
    const char *which = closure;
    if (strcmp(which, "is_explicitly_computable") == 0) {
        return PyBool_FromLong(n->is_explicitly_computable);
    }
    if (strcmp(which, "is_constant") == 0) {
        return PyBool_FromLong(n->is_constant);
    }
    if (strcmp(which, "can_be_sampled") == 0) {
        return PyBool_FromLong(n->can_be_sampled);
    }
    if (strcmp(which, "use_autoname") == 0) {
        return PyBool_FromLong(n->use_autoname);
    }
    return PyBool_FromLong(cc_kind_get_info(n->kind)->flags & CC_LEAF);
}

static PyObject *
get_dtype(PyObject *self, void *closure)
{
    (void)closure;
    if (NODE(self)->dtype < 0) {
        Py_RETURN_NONE;
    }
    return PyUnicode_FromString(cc_dtype_name((cc_dtype)NODE(self)->dtype));
}

static PyObject *
get_variant(PyObject *self, void *closure)
{
    (void)closure;
    return PyUnicode_FromString(cc_kind_get_info(NODE(self)->kind)->py_name);
}

static PyObject *
get_named_axes(PyObject *self, void *closure)
{
    (void)closure;
    return cc_py_named_axes_dict(NODE(self));
}

static PyGetSetDef node_getset[] = {
    {"name", get_name, NULL, "The name, or \"\" when the node has none.", NULL},
    {"op_name", get_op_name, NULL, "The name, or None when the node has none.", NULL},
    {"shape", get_shape, NULL, "The shape, a tuple of ints.", NULL},
    {"named_axes", get_named_axes, NULL, "The axis names, a dict {axis: name}.", NULL},
    {"rank", get_rank, NULL, "Number of axes.", NULL},
    {"ndim", get_rank, NULL, "Number of axes.", NULL},
    {"numel", get_numel, NULL, "Number of elements.", NULL},
    {"children", get_children, NULL, "The child circuits, in order.", NULL},
    {"num_children", get_num_children, NULL, "Number of children.", NULL},
    {"non_free_children", get_non_free_children, NULL,
     "The children a matcher or printer treats as inputs: a Module's arguments (not its body), "
     "else all children.",
     NULL},
    {"no_unbound_symbols", get_no_unbound_symbols, NULL,
     "No Symbol is free (unbound by an enclosing Module).", NULL},
    {"hash", get_hash, NULL, "32-byte BLAKE3 structural hash.", NULL},
    {"hash_base16", get_hash_base16, NULL, "The hash in hexadecimal.", NULL},
    {"is_explicitly_computable", get_flag, NULL, "Can be evaluated without binding or sampling.",
     "is_explicitly_computable"},
    {"is_constant", get_flag, NULL, "Holds no random variable.", "is_constant"},
    {"can_be_sampled", get_flag, NULL,
     "A sampler can sample it (no StoredCumulantVar of order above 2 below).", "can_be_sampled"},
    {"use_autoname", get_flag, NULL, "Ancestors built from this node get automatic names.",
     "use_autoname"},
    {"is_leaf", get_flag, NULL, "Array, Scalar or Symbol.", "is_leaf"},
    {"dtype", get_dtype, NULL, "dtype fixed by the Arrays below, or None.", NULL},
    {"variant_string", get_variant, NULL, "The node kind's class name.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyObject *
node_rename(PyObject *self, PyObject *arg)
{
    const char *name;
    if (cc_py_name_arg(arg, &name) < 0) {
        return NULL;
    }
    return cc_py_wrap_steal(cc_node_rename(NODE(self), name ? name : CC_NO_NAME));
}

// rc's rename_axes: set_named_axes(self, named_axes).
static PyObject *
node_rename_axes(PyObject *self, PyObject *arg)
{
    return cc_py_set_named_axes(self, arg);
}

static PyObject *
node_with_autoname_disabled(PyObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"disable", NULL};
    int disable = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|p", kwlist, &disable)) {
        return NULL;
    }
    return cc_py_wrap_steal(cc_node_with_autoname_disabled(NODE(self), disable));
}

// rc's get_autoname: the name self would get from its children, or None.
static PyObject *
node_get_autoname(PyObject *self, PyObject *unused)
{
    (void)unused;
    char *name = NULL;
    if (cc_autoname(NODE(self), &name) < 0) {
        return cc_py_raise();
    }
    if (name == NULL) {
        Py_RETURN_NONE;
    }
    PyObject *out = PyUnicode_FromString(name);
    cc_free(name);
    return out;
}

// Rebuilds self with the children f returns; f(child) or, as rc, f(i, child).
static PyObject *
map_children_impl(PyObject *self, PyObject *f, int enumerate)
{
    cc_node *n = NODE(self);
    if (n->n_children == 0) {
        return Py_NewRef(self);
    }
    PyObject *results = PyList_New(n->n_children);
    cc_node **children = PyMem_Malloc(sizeof(cc_node *) * (size_t)n->n_children);
    PyObject *out = NULL;
    if (results == NULL || children == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (int i = 0; i < n->n_children; i++) {
        PyObject *child = cc_py_wrap(n->children[i]);
        if (child == NULL) {
            goto done;
        }
        PyObject *r =
            enumerate ? PyObject_CallFunction(f, "iO", i, child) : PyObject_CallOneArg(f, child);
        Py_DECREF(child);
        if (r == NULL) {
            goto done;
        }
        PyList_SET_ITEM(results, i, r);
        if (!cc_py_node_check(r, "map_children's function result", &children[i])) {
            goto done;
        }
    }
    out = cc_py_wrap_steal(cc_node_rebuild(n, children, n->name));
done:
    Py_XDECREF(results);
    PyMem_Free(children);
    return out;
}

static PyObject *
node_map_children(PyObject *self, PyObject *f)
{
    return map_children_impl(self, f, 0);
}

static PyObject *
node_map_children_enumerate(PyObject *self, PyObject *f)
{
    return map_children_impl(self, f, 1);
}

// Calls f on each distinct node once, parents before children (pre-order).
static PyObject *
node_visit(PyObject *self, PyObject *f)
{
    cc_hmap seen;
    cc_ptrvec stack;
    cc_hmap_init(&seen);
    cc_ptrvec_init(&stack);
    PyObject *result = NULL;
    if (cc_ptrvec_push(&stack, NODE(self)) < 0) {
        cc_py_raise();
        goto done;
    }
    while (stack.len > 0) {
        cc_node *n = stack.items[--stack.len];
        if (cc_hmap_get(&seen, n->hash) != NULL) {
            continue;
        }
        if (cc_hmap_put(&seen, n->hash, n) < 0) {
            cc_py_raise();
            goto done;
        }
        PyObject *wrapped = cc_py_wrap(n);
        if (wrapped == NULL) {
            goto done;
        }
        PyObject *r = PyObject_CallOneArg(f, wrapped);
        Py_DECREF(wrapped);
        if (r == NULL) {
            goto done;
        }
        Py_DECREF(r);
        for (int i = n->n_children - 1; i >= 0; i--) {
            if (cc_ptrvec_push(&stack, n->children[i]) < 0) {
                cc_py_raise();
                goto done;
            }
        }
    }
    result = Py_NewRef(Py_None);
done:
    cc_hmap_clear(&seen);
    cc_ptrvec_clear(&stack);
    return result;
}

static PyObject *
node_total_flops(PyObject *self, PyObject *unused)
{
    (void)unused;
    double flops = cc_node_total_flops(NODE(self));
    if (flops != flops) { // NaN: the walk could not allocate
        return cc_py_raise();
    }
    return PyLong_FromDouble(flops);
}

static PyObject *
node_self_flops(PyObject *self, PyObject *unused)
{
    (void)unused;
    return PyLong_FromDouble(cc_node_self_flops(NODE(self)));
}

static PyObject *
node_repr(PyObject *self)
{
    cc_print_options options;
    cc_print_options_debug(&options);
    cc_node *n = NODE(self);
    char *text = cc_print_repr(&n, 1, &options);
    if (text == NULL) {
        return cc_py_raise();
    }
    PyObject *out = PyUnicode_FromFormat("<%s>", text);
    cc_free(text);
    return out;
}

static Py_hash_t
node_hash(PyObject *self)
{
    Py_hash_t h;
    memcpy(&h, NODE(self)->hash, sizeof h);
    return h == -1 ? -2 : h;
}

// Order by (name, hash), unnamed first, as rc does.
static int
node_compare(cc_node *a, cc_node *b)
{
    if (a->name == NULL || b->name == NULL) {
        if (a->name != NULL || b->name != NULL) {
            return a->name == NULL ? -1 : 1;
        }
    } else {
        int c = strcmp(a->name, b->name);
        if (c != 0) {
            return c;
        }
    }
    return memcmp(a->hash, b->hash, 32);
}

static PyObject *
node_richcompare(PyObject *self, PyObject *other, int op)
{
    if (!PyObject_TypeCheck(other, cc_py_circuit_type)) {
        Py_RETURN_NOTIMPLEMENTED;
    }
    int c = node_compare(NODE(self), NODE(other));
    int eq = memcmp(NODE(self)->hash, NODE(other)->hash, 32) == 0;
    switch (op) {
    case Py_EQ:
        return PyBool_FromLong(eq);
    case Py_NE:
        return PyBool_FromLong(!eq);
    case Py_LT:
        return PyBool_FromLong(c < 0);
    case Py_LE:
        return PyBool_FromLong(c <= 0);
    case Py_GT:
        return PyBool_FromLong(c > 0);
    default:
        return PyBool_FromLong(c >= 0);
    }
}

static PyMethodDef node_methods[] = {
    {"rename", node_rename, METH_O, "rename(name) -> the same node named name (None: unnamed)."},
    {"rename_axes", node_rename_axes, METH_O,
     "rename_axes(named_axes) -> set_named_axes(self, named_axes)."},
    {"get_autoname", node_get_autoname, METH_NOARGS,
     "get_autoname() -> the name the node would get from its children's names, or None."},
    {"with_autoname_disabled", (PyCFunction)(void (*)(void))node_with_autoname_disabled,
     METH_VARARGS | METH_KEYWORDS,
     "with_autoname_disabled(disable=True): ancestors built later get no automatic name."},
    {"map_children", node_map_children, METH_O,
     "map_children(f) -> this node rebuilt with f(child) for each child."},
    {"map_children_enumerate", node_map_children_enumerate, METH_O,
     "map_children_enumerate(f) -> this node rebuilt with f(i, child) for each child."},
    {"visit", node_visit, METH_O, "visit(f): call f on every distinct node once, pre-order."},
    {"self_flops", node_self_flops, METH_NOARGS,
     "Floating-point operations of this node alone, given its children's values."},
    {"total_flops", node_total_flops, METH_NOARGS,
     "Floating-point operations to evaluate the circuit (each distinct node once)."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot node_slots[] = {
    {Py_tp_new, node_new_abstract},
    {Py_tp_dealloc, node_dealloc},
    {Py_tp_repr, node_repr},
    {Py_tp_hash, node_hash},
    {Py_tp_richcompare, node_richcompare},
    {Py_tp_getset, node_getset},
    {Py_tp_doc, "An immutable node of a circuit: a tensor computation with a name, a shape, "
                "children and a structural hash."},
    {0, NULL},
};

static PyType_Spec node_spec = {
    .name = "circuits.Circuit",
    .basicsize = sizeof(cc_py_node),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .slots = node_slots,
};

#define CC_KIND(E, n, py, f) extern PyType_Spec cc_py_##n##_spec;
#include "nodes/kinds.def"
#undef CC_KIND

int
cc_py_node_init(PyObject *module)
{
    // Circuit's C methods: its own and those of the matcher bindings, in one table.
    static PyMethodDef *const tables[] = {node_methods, cc_py_circuit_match_methods, NULL};
    cc_py_circuit_type = cc_py_type_new(module, &node_spec, NULL, tables);
    if (cc_py_circuit_type == NULL) {
        return -1;
    }
    return PyModule_AddObjectRef(module, "Circuit", (PyObject *)cc_py_circuit_type);
}

// (snake_case of the class name, the class): ("general_function", GeneralFunction).
static PyObject *
snake_name_pair(const char *py, PyObject *tp)
{
    char snake[64];
    size_t len = 0;
    for (const char *c = py; *c != '\0' && len + 2 < sizeof snake; c++) {
        if (*c >= 'A' && *c <= 'Z') {
            if (c != py) {
                snake[len++] = '_';
            }
            snake[len++] = (char)(*c - 'A' + 'a');
        } else {
            snake[len++] = *c;
        }
    }
    snake[len] = '\0';
    return Py_BuildValue("(sO)", snake, tp);
}

int
cc_py_kinds_init(PyObject *module)
{
    static PyType_Spec *specs[CC_KIND_COUNT] = {
#define CC_KIND(E, n, py, f) [CC_KIND_##E] = &cc_py_##n##_spec,
#include "nodes/kinds.def"
#undef CC_KIND
    };
    PyObject *kinds = PyTuple_New(CC_KIND_COUNT);
    if (kinds == NULL) {
        return -1;
    }
    for (int k = 0; k < CC_KIND_COUNT; k++) {
        const char *py = cc_kind_get_info((cc_kind)k)->py_name;
        PyObject *tp = PyType_FromModuleAndSpec(module, specs[k], (PyObject *)cc_py_circuit_type);
        if (tp == NULL) {
            Py_DECREF(kinds);
            return -1;
        }
        cc_py_kind_types[k] = (PyTypeObject *)tp;
        PyObject *pair = snake_name_pair(py, tp);
        if (pair == NULL || PyModule_AddObjectRef(module, py, tp) < 0) {
            Py_XDECREF(pair);
            Py_DECREF(kinds);
            return -1;
        }
        PyTuple_SET_ITEM(kinds, k, pair);
    }
    int rc = PyModule_AddObjectRef(module, "KINDS", kinds);
    Py_DECREF(kinds);
    return rc;
}
