// circuits.Tag: identity at evaluation, with a uuid that makes equal subtrees distinct.
#include "python/bindings.h"

#define NODE(self) (((cc_py_node *)(self))->node)

static PyObject *
tag_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    (void)type;
    static char *kwlist[] = {"node", "uuid", "name", NULL};
    PyObject *node_obj, *uuid_obj, *name_obj = Py_None;
    const char *name;
    cc_node *child;
    uint8_t uuid[16];
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO|O:Tag", kwlist, &node_obj, &uuid_obj,
                                     &name_obj) ||
        cc_py_name_arg(name_obj, &name) < 0 || !cc_py_node_check(node_obj, "node", &child) ||
        cc_py_uuid_arg(uuid_obj, uuid) < 0) {
        return NULL;
    }
    return cc_py_wrap_steal(cc_tag_new(child, uuid, name));
}

static PyObject *
tag_uuid(PyObject *self, void *closure)
{
    (void)closure;
    return cc_py_uuid_object(NODE(self)->u.tag.uuid);
}

static PyObject *
tag_node(PyObject *self, void *closure)
{
    (void)closure;
    return cc_py_wrap(NODE(self)->children[0]);
}

static PyGetSetDef tag_getset[] = {
    {"uuid", tag_uuid, NULL, "The uuid.UUID of the tag.", NULL},
    {"node", tag_node, NULL, "The tagged circuit.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot tag_slots[] = {
    {Py_tp_new, tag_new},
    {Py_tp_getset, tag_getset},
    {Py_tp_doc, "Tag(node, uuid, name=None): node itself, made distinct by a uuid."},
    {0, NULL},
};

PyType_Spec cc_py_tag_spec = {
    .name = "circuits.Tag",
    .basicsize = sizeof(cc_py_node),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = tag_slots,
};
