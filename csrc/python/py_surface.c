// rc's circuit utilities as module functions: visit_circuit, all_children, toposort_circuit,
// count_nodes, deep_map, deep_map_preorder, filter_nodes, replace_nodes, update_nodes,
// prefix_all_names, replace_outside_traversal_symbols, append_matchers_to_names and
// compute_self_hash. The walks are rewrite/walk.c's; this file converts arguments and calls
// the user's Python functions from their hooks.
#include "python/py_match.h"

#include <string.h>

#include "nodes/gf.h"
#include "rewrite/walk.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/hmap.h"

#define NODE(o) (((cc_py_node *)(o))->node)

// A Python callable's result on n as a node: new reference, or NULL with CC_E_PYTHON (the
// callable's exception, or a TypeError when it gave no Circuit).
static cc_node *
call_circuit_fn(PyObject *fn, cc_node *n)
{
    return cc_py_transform_call(fn, n);
}

static PyObject *
visit_circuit(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    static char *kwlist[] = {"circuit", "f", NULL};
    PyObject *circuit, *f;
    cc_node *root;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO:visit_circuit", kwlist, &circuit, &f) ||
        !cc_py_node_check(circuit, "circuit", &root)) {
        return NULL;
    }
    cc_node **nodes;
    int64_t n;
    if (cc_walk_preorder_unique(root, &nodes, &n) < 0) {
        return cc_py_raise();
    }
    PyObject *result = Py_None;
    for (int64_t i = 0; i < n; i++) {
        PyObject *c = cc_py_wrap(nodes[i]);
        PyObject *r = c != NULL ? PyObject_CallOneArg(f, c) : NULL;
        Py_XDECREF(c);
        if (r == NULL) {
            result = NULL;
            break;
        }
        Py_DECREF(r);
    }
    cc_free(nodes);
    return Py_XNewRef(result);
}

// The nodes of a walk as a new list (ordered) or set.
static PyObject *
nodes_to_collection(cc_node **nodes, int64_t n, int as_set)
{
    PyObject *out = as_set ? PySet_New(NULL) : PyList_New(0);
    for (int64_t i = 0; out != NULL && i < n; i++) {
        PyObject *c = cc_py_wrap(nodes[i]);
        int rc = c == NULL ? -1 : as_set ? PySet_Add(out, c) : PyList_Append(out, c);
        Py_XDECREF(c);
        if (rc < 0) {
            Py_CLEAR(out);
        }
    }
    cc_free(nodes);
    return out;
}

// The nodes the walk gives for circuit (owned by the caller); NULL with a Python error set.
static cc_node **
walk_circuit(PyObject *circuit, int (*walk)(cc_node *, cc_node ***, int64_t *), int64_t *n)
{
    cc_node *root, **nodes;
    if (!cc_py_node_check(circuit, "circuit", &root)) {
        return NULL;
    }
    if (walk(root, &nodes, n) < 0) {
        cc_py_raise();
        return NULL;
    }
    return nodes;
}

static PyObject *
all_children(PyObject *self, PyObject *circuit)
{
    (void)self;
    int64_t n;
    cc_node **nodes = walk_circuit(circuit, cc_walk_preorder_unique, &n);
    return nodes == NULL ? NULL : nodes_to_collection(nodes, n, 1);
}

static PyObject *
toposort_circuit(PyObject *self, PyObject *circuit)
{
    (void)self;
    int64_t n;
    cc_node **nodes = walk_circuit(circuit, cc_walk_toposort, &n);
    return nodes == NULL ? NULL : nodes_to_collection(nodes, n, 0);
}

static PyObject *
count_nodes(PyObject *self, PyObject *circuit)
{
    (void)self;
    int64_t n;
    cc_node **nodes = walk_circuit(circuit, cc_walk_preorder_unique, &n);
    if (nodes == NULL) {
        return NULL;
    }
    cc_free(nodes);
    return PyLong_FromLongLong(n);
}

// Parses (circuit, fn) for the functions taking one circuit and one callable.
static int
circuit_and_fn(PyObject *args, PyObject *kwds, const char *format, char **kwlist, cc_node **root,
               PyObject **fn)
{
    PyObject *circuit;
    return PyArg_ParseTupleAndKeywords(args, kwds, format, kwlist, &circuit, fn) &&
           cc_py_node_check(circuit, "circuit", root);
}

static cc_node *
deep_map_post(void *ctx, cc_node *node, cc_node *const *kids, int changed)
{
    cc_node *rebuilt = cc_deep_map_rebuild(node, kids, changed);
    if (rebuilt == NULL) {
        return NULL;
    }
    cc_node *out = call_circuit_fn(ctx, rebuilt);
    cc_node_decref(rebuilt);
    return out;
}

static PyObject *
deep_map(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    static char *kwlist[] = {"circuit", "fn", NULL};
    cc_node *root;
    PyObject *fn;
    if (!circuit_and_fn(args, kwds, "OO:deep_map", kwlist, &root, &fn)) {
        return NULL;
    }
    return cc_py_wrap_steal(cc_deep_map(root, NULL, deep_map_post, fn));
}

// A replacement given by a Python function; an equal result keeps the node.
static int
replace_by_fn(void *ctx, cc_node *x, cc_node **y)
{
    cc_node *out = call_circuit_fn(ctx, x);
    if (out == NULL) {
        return -1;
    }
    if (memcmp(out->hash, x->hash, 32) == 0) {
        cc_node_decref(out);
        return 0;
    }
    *y = out;
    return 1;
}

static PyObject *
deep_map_preorder(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    static char *kwlist[] = {"circuit", "fn", NULL};
    cc_node *root;
    PyObject *fn;
    if (!circuit_and_fn(args, kwds, "OO:deep_map_preorder", kwlist, &root, &fn)) {
        return NULL;
    }
    return cc_py_wrap_steal(cc_walk_map_preorder(root, replace_by_fn, fn));
}

// The distinct nodes of root (pre-order) for which fn is true, as a set; NULL with an exception.
static PyObject *
filter_set(cc_node *root, PyObject *fn)
{
    cc_node **nodes;
    int64_t n;
    if (cc_walk_preorder_unique(root, &nodes, &n) < 0) {
        return cc_py_raise();
    }
    PyObject *out = PySet_New(NULL);
    for (int64_t i = 0; out != NULL && i < n; i++) {
        PyObject *c = cc_py_wrap(nodes[i]);
        PyObject *r = c != NULL ? PyObject_CallOneArg(fn, c) : NULL;
        int keep = r != NULL ? PyObject_IsTrue(r) : -1;
        if (keep < 0 || (keep == 1 && PySet_Add(out, c) < 0)) {
            Py_CLEAR(out);
        }
        Py_XDECREF(r);
        Py_XDECREF(c);
    }
    cc_free(nodes);
    return out;
}

static PyObject *
filter_nodes(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    static char *kwlist[] = {"circuit", "fn", NULL};
    cc_node *root;
    PyObject *fn;
    if (!circuit_and_fn(args, kwds, "OO:filter_nodes", kwlist, &root, &fn)) {
        return NULL;
    }
    return filter_set(root, fn);
}

// Fills map (hash -> node borrowed from dict) from a {Circuit: Circuit} dict. -1 with TypeError.
static int
node_map_arg(PyObject *dict, cc_hmap *map)
{
    if (!PyDict_Check(dict)) {
        PyErr_Format(PyExc_TypeError,
                     "replace_nodes: map must be a dict of Circuit to Circuit, "
                     "not %.100s",
                     Py_TYPE(dict)->tp_name);
        return -1;
    }
    PyObject *k, *v;
    Py_ssize_t pos = 0;
    while (PyDict_Next(dict, &pos, &k, &v)) {
        cc_node *from, *to;
        if (!cc_py_node_check(k, "a key of map", &from) ||
            !cc_py_node_check(v, "a value of map", &to)) {
            return -1;
        }
        if (cc_hmap_put(map, from->hash, to) < 0) {
            return cc_py_raise_int();
        }
    }
    return 0;
}

static PyObject *
replace_nodes(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    static char *kwlist[] = {"circuit", "map", NULL};
    cc_node *root;
    PyObject *dict;
    if (!circuit_and_fn(args, kwds, "OO:replace_nodes", kwlist, &root, &dict)) {
        return NULL;
    }
    cc_hmap map;
    cc_hmap_init(&map);
    PyObject *out = NULL;
    if (node_map_arg(dict, &map) == 0) {
        out = cc_py_wrap_steal(cc_walk_replace_nodes(root, &map));
    }
    cc_hmap_clear(&map);
    return out;
}

typedef struct {
    cc_hmap found; // hashes of the nodes to update (values: the nodes, borrowed from the set)
    PyObject *mapper;
} update_ctx;

static int
update_found(void *ctx, cc_node *x, cc_node **y)
{
    update_ctx *u = ctx;
    if (cc_hmap_get(&u->found, x->hash) == NULL) {
        return 0;
    }
    return replace_by_fn(u->mapper, x, y);
}

static PyObject *
update_nodes(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    static char *kwlist[] = {"circuit", "matcher", "mapper", NULL};
    PyObject *circuit, *matcher, *mapper;
    cc_node *root;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOO:update_nodes", kwlist, &circuit, &matcher,
                                     &mapper) ||
        !cc_py_node_check(circuit, "circuit", &root)) {
        return NULL;
    }
    PyObject *found = filter_set(root, matcher);
    if (found == NULL) {
        return NULL;
    }
    update_ctx u = {.mapper = mapper};
    cc_hmap_init(&u.found);
    PyObject *out = NULL;
    PyObject *it = PyObject_GetIter(found);
    PyObject *c;
    int rc = it != NULL ? 0 : -1;
    while (rc == 0 && (c = PyIter_Next(it)) != NULL) {
        rc = cc_hmap_put(&u.found, NODE(c)->hash, NODE(c)) < 0 ? cc_py_raise_int() : 0;
        Py_DECREF(c);
    }
    if (rc == 0 && !PyErr_Occurred()) {
        out = cc_py_wrap_steal(cc_walk_map_preorder(root, update_found, &u));
    }
    Py_XDECREF(it);
    cc_hmap_clear(&u.found);
    Py_DECREF(found);
    return out;
}

static PyObject *
prefix_all_names(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    static char *kwlist[] = {"circuit", "prefix", NULL};
    PyObject *circuit;
    const char *prefix;
    cc_node *root;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "Os:prefix_all_names", kwlist, &circuit,
                                     &prefix) ||
        !cc_py_node_check(circuit, "circuit", &root)) {
        return NULL;
    }
    return cc_py_wrap_steal(cc_walk_prefix_names(root, prefix));
}

typedef struct {
    PyObject *namer;    // callable or None
    PyObject *back_map; // {Symbol: the node it stands for}
} outside_ctx;

// The Symbol standing for node, where the traversal stops: a new reference, or NULL with an
// error recorded (CC_E_PYTHON with the namer's exception).
static cc_node *
outside_symbol(outside_ctx *o, cc_node *node)
{
    PyObject *name_obj = NULL;
    if (o->namer != Py_None) {
        PyObject *c = cc_py_wrap(node);
        name_obj = c != NULL ? PyObject_CallOneArg(o->namer, c) : NULL;
        Py_XDECREF(c);
        if (name_obj == NULL) {
            return cc_fail_null(CC_E_PYTHON, "the namer raised");
        }
    }
    const char *name = node->name;
    if (name_obj != NULL && cc_py_name_arg(name_obj, &name) < 0) {
        Py_DECREF(name_obj);
        return cc_fail_null(CC_E_PYTHON, "the namer gave no name");
    }
    if (name == NULL) {
        name = CC_NO_NAME;
    }
    uint8_t uuid[16];
    cc_node *sym = NULL;
    if (cc_py_random_uuid(uuid) == 0) {
        sym = cc_symbol_new(node->ndim, node->shape, uuid, name);
    } else {
        cc_fail(CC_E_PYTHON, "making a uuid failed");
    }
    Py_XDECREF(name_obj);
    if (sym == NULL) {
        return NULL;
    }
    PyObject *k = cc_py_wrap(sym), *v = cc_py_wrap(node);
    int rc = k != NULL && v != NULL ? PyDict_SetItem(o->back_map, k, v) : -1;
    Py_XDECREF(k);
    Py_XDECREF(v);
    if (rc < 0) {
        cc_node_decref(sym);
        return cc_fail_null(CC_E_PYTHON, "recording a replaced node failed");
    }
    return sym;
}

static cc_node *
outside_post(void *ctx, cc_node *node, cc_imatcher *state, int finished, cc_node *const *kids,
             int changed)
{
    (void)state;
    if (finished) {
        return outside_symbol(ctx, node);
    }
    return cc_deep_map_rebuild(node, kids, changed);
}

static PyObject *
replace_outside_traversal_symbols(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    static char *kwlist[] = {"circuit", "traversal", "namer", NULL};
    PyObject *circuit, *traversal;
    outside_ctx o = {.namer = Py_None};
    cc_node *root;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO|O:replace_outside_traversal_symbols", kwlist,
                                     &circuit, &traversal, &o.namer) ||
        !cc_py_node_check(circuit, "circuit", &root)) {
        return NULL;
    }
    cc_imatcher *m = cc_py_imatcher_arg(traversal);
    if (m == NULL) {
        return NULL;
    }
    o.back_map = PyDict_New();
    PyObject *out = NULL;
    if (o.back_map != NULL) {
        PyObject *c = cc_py_wrap_steal(cc_walk_traversal_map(root, m, outside_post, &o));
        out = c != NULL ? PyTuple_Pack(2, c, o.back_map) : NULL;
        Py_XDECREF(c);
        Py_DECREF(o.back_map);
    }
    cc_imatcher_decref(m);
    return out;
}

static PyObject *
append_matchers_to_names(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    static char *kwlist[] = {"circuit", "matcher", "discard_old_name", NULL};
    PyObject *circuit, *matcher;
    int discard = 0;
    cc_node *root;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO|p:append_matchers_to_names", kwlist, &circuit,
                                     &matcher, &discard) ||
        !cc_py_node_check(circuit, "circuit", &root)) {
        return NULL;
    }
    cc_imatcher *m = cc_py_imatcher_arg(matcher);
    if (m == NULL) {
        return NULL;
    }
    PyObject *out = cc_py_wrap_steal(cc_walk_append_matchers_to_names(root, m, discard));
    cc_imatcher_decref(m);
    return out;
}

static PyObject *
compute_self_hash(PyObject *self, PyObject *args, PyObject *kwds)
{
    (void)self;
    static char *kwlist[] = {"circuit", "hash_child_count", "hash_child_shapes", "hash_name", NULL};
    PyObject *circuit;
    int count = 1, shapes = 0, name = 1;
    cc_node *n;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|ppp:compute_self_hash", kwlist, &circuit,
                                     &count, &shapes, &name) ||
        !cc_py_node_check(circuit, "circuit", &n)) {
        return NULL;
    }
    uint8_t h[32];
    if (cc_walk_self_hash(n, count, shapes, name, h) < 0) {
        return cc_py_raise();
    }
    return PyBytes_FromStringAndSize((const char *)h, 32);
}

// (shape, num_non_batchable_output_dims, input_batchability) of a GeneralFunction's spec over
// its children's shapes: what the spec's get_shape_info says, for specs implemented in C.
static PyObject *
gf_shape_info(PyObject *self, PyObject *gf)
{
    (void)self;
    cc_node *n;
    if (!cc_py_node_check(gf, "gf", &n)) {
        return NULL;
    }
    if (n->kind != CC_KIND_GENERAL_FUNCTION) {
        PyErr_SetString(PyExc_TypeError, "_gf_shape_info takes a GeneralFunction");
        return NULL;
    }
    int ndims[64];
    const int64_t *shapes[64];
    if (n->n_children > 64) {
        PyErr_SetString(PyExc_ValueError, "_gf_shape_info: more than 64 inputs");
        return NULL;
    }
    for (int i = 0; i < n->n_children; i++) {
        ndims[i] = n->children[i]->ndim;
        shapes[i] = n->children[i]->shape;
    }
    cc_gf_shape_info info;
    if (cc_gf_spec_shape_info(n->u.gf.spec, n->n_children, ndims, shapes, &info) < 0) {
        return cc_py_raise();
    }
    PyObject *batchable = PyTuple_New(n->n_children);
    for (int i = 0; batchable != NULL && i < n->n_children; i++) {
        PyTuple_SET_ITEM(batchable, i, PyBool_FromLong(info.input_batchable[i]));
    }
    PyObject *shape = cc_py_shape_tuple(info.ndim, info.shape);
    PyObject *out =
        shape != NULL && batchable != NULL
            ? Py_BuildValue("(OiO)", shape, info.num_non_batchable_output_dims, batchable)
            : NULL;
    Py_XDECREF(shape);
    Py_XDECREF(batchable);
    return out;
}

#define KW(f) (PyCFunction)(void (*)(void))(f), METH_VARARGS | METH_KEYWORDS

PyMethodDef cc_py_surface_methods[] = {
    {"visit_circuit", KW(visit_circuit),
     "visit_circuit(circuit, f): f on every distinct node once, a node before its children."},
    {"all_children", all_children, METH_O,
     "all_children(circuit) -> the set of every distinct node, circuit included."},
    {"toposort_circuit", toposort_circuit, METH_O,
     "toposort_circuit(circuit) -> every distinct node, children before parents."},
    {"count_nodes", count_nodes, METH_O, "count_nodes(circuit) -> the number of distinct nodes."},
    {"deep_map", KW(deep_map),
     "deep_map(circuit, fn) -> fn applied bottom-up: each node rebuilt over its mapped children, "
     "then given to fn (each distinct node once)."},
    {"deep_map_preorder", KW(deep_map_preorder),
     "deep_map_preorder(circuit, fn) -> fn applied top-down: each node replaced by fn's result, "
     "whose children are mapped in turn."},
    {"filter_nodes", KW(filter_nodes),
     "filter_nodes(circuit, fn) -> the set of distinct nodes for which fn is true."},
    {"replace_nodes", KW(replace_nodes),
     "replace_nodes(circuit, map) -> circuit with each key of map replaced by its value "
     "(top-down; the values' children are replaced too)."},
    {"update_nodes", KW(update_nodes),
     "update_nodes(circuit, matcher, mapper) -> the nodes for which matcher is true replaced by "
     "mapper's result (top-down)."},
    {"prefix_all_names", KW(prefix_all_names),
     "prefix_all_names(circuit, prefix) -> every named node renamed prefix + name."},
    {"replace_outside_traversal_symbols", KW(replace_outside_traversal_symbols),
     "replace_outside_traversal_symbols(circuit, traversal, namer=None) -> (circuit with each "
     "node where traversal stops replaced by a new Symbol, {Symbol: replaced node})."},
    {"append_matchers_to_names", KW(append_matchers_to_names),
     "append_matchers_to_names(circuit, matcher, discard_old_name=False) -> each node the "
     "traversal reaches renamed '<name> Matcher <matcher state>'."},
    {"compute_self_hash", KW(compute_self_hash),
     "compute_self_hash(circuit, hash_child_count=True, hash_child_shapes=False, hash_name=True) "
     "-> 32 bytes hashing the node alone, not its children."},
    {"_gf_shape_info", gf_shape_info, METH_O,
     "_gf_shape_info(gf) -> (shape, num_non_batchable_output_dims, input_batchability) of gf's "
     "spec over its children's shapes."},
    {NULL, NULL, 0, NULL},
};
