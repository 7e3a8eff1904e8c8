// Shared declarations of the bindings: the node wrapper type, per-kind Python
// types, conversions and error translation. Only csrc/python/ includes Python.h.
#pragma once

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "nodes/node.h"
#include "nodes/rearrange.h"
#include "tensor/tensor.h"

// A Python circuit: one node reference, nothing else (nodes never point back).
typedef struct {
    PyObject_HEAD cc_node *node;
} cc_py_node;

// Python classes by node kind (subclasses of Circuit), set at module init.
extern PyTypeObject *cc_py_circuit_type;
extern PyTypeObject *cc_py_kind_types[CC_KIND_COUNT];
// rc's exception classes by error kind (borrowed; built-ins for PY_* rows).
extern PyObject *cc_py_exceptions[];

// Raises the Python exception for the current core error record; returns NULL.
PyObject *cc_py_raise(void);
// The same, returning -1, for int-returning binding helpers.
int cc_py_raise_int(void);
// Raises rc's class for kind with a formatted message; returns NULL.
PyObject *cc_py_raise_kind(int kind, const char *fmt, ...);

// New reference to a wrapper of n (takes a new node reference), or NULL with an exception.
PyObject *cc_py_wrap(cc_node *n);
// The same, consuming the caller's reference to n (n may be NULL: exception from the core).
PyObject *cc_py_wrap_steal(cc_node *n);
// 1 and the node (borrowed) if obj is a Circuit, else 0 with a TypeError naming what.
int cc_py_node_check(PyObject *obj, const char *what, cc_node **out);
// Borrowed nodes of a sequence of Circuits; *out freed with PyMem_Free. -1 on error.
int cc_py_nodes_from_seq(PyObject *seq, const char *what, cc_node ***out, Py_ssize_t *n);

// An index (a sequence of ints, start:stop slices and 1-D int64 arrays, or one of them) as
// items (python/py_index.c); *out freed with PyMem_Free after cc_index_items_clear. -1 on error.
int cc_py_index_arg(PyObject *idx, cc_index_item **out, int *n_out);
// Name argument: None -> NULL (automatic name), str -> its UTF-8. -1 with TypeError otherwise.
int cc_py_name_arg(PyObject *obj, const char **out);
// Shape: a sequence of non-negative ints. -1 with an exception otherwise.
int cc_py_shape_arg(PyObject *obj, int *ndim, int64_t *shape);
PyObject *cc_py_shape_tuple(int ndim, const int64_t *shape);
// Lowercase hexadecimal of n (<= 64) bytes.
PyObject *cc_py_hex(const uint8_t *bytes, int n);
// A uuid.UUID (or its 16 bytes / hex string) -> 16 bytes.
int cc_py_uuid_arg(PyObject *obj, uint8_t out[16]);
PyObject *cc_py_uuid_object(const uint8_t uuid[16]);
// A fresh version-4 uuid from Python's uuid module (python/py_discrete_var.c). 0, or -1 with
// an exception.
int cc_py_random_uuid(uint8_t out[16]);

// Array-likes -> tensor view (numpy, torch CPU tensors, DLPack and buffer objects; Python
// numbers and lists through numpy, float64 from Python floats becoming float32). t is
// initialised.
int cc_py_to_tensor(PyObject *obj, cc_tensor *t, int python_floats_f32);
// A new _Tensor object exposing t through the buffer protocol (retains t's buffer).
PyObject *cc_py_tensor_object(const cc_tensor *t);
// numpy array viewing t (read-only when t views an input array). numpy has no bfloat16: one is
// a record array of its 16 bits with the one field "bfloat16", which cc_py_to_tensor reads.
PyObject *cc_py_tensor_to_numpy(const cc_tensor *t);
// t as the result type: a torch tensor viewing t when torch results are selected (a copy only
// for negative strides, which torch lacks), else the numpy view (for bfloat16 a float32 copy).
// Imports torch on first use.
PyObject *cc_py_tensor_to_value(const cc_tensor *t);
extern PyTypeObject *cc_py_tensor_type;
int cc_py_convert_init(PyObject *module);

// A heap type to create at module init: its spec, its base (NULL: object), the method tables
// concatenated into its Py_tp_methods (a NULL-terminated list of NULL-terminated tables, which
// replaces the spec's own Py_tp_methods; NULL: the spec as it is), where the new type is kept
// and its name in the module.
typedef struct {
    PyType_Spec *spec;
    PyTypeObject **base;
    PyMethodDef *const *methods;
    PyTypeObject **out;
    const char *name;
} cc_py_type_def;

// New reference to the type of spec with methods assembled as above, or NULL with an exception.
PyTypeObject *cc_py_type_new(PyObject *module, PyType_Spec *spec, PyTypeObject *base,
                             PyMethodDef *const *methods);
// Creates each type of defs in order and adds it to module. 0, or -1 with an exception.
int cc_py_types_add(PyObject *module, const cc_py_type_def *defs, size_t n);

// Type setup, called from module init in this order.
int cc_py_errors_init(PyObject *module);
int cc_py_node_init(PyObject *module);
int cc_py_kinds_init(PyObject *module);
int cc_py_rearrange_spec_init(PyObject *module);
int cc_py_gf_init(PyObject *module);
// ModuleSpec, ModuleArgSpec and the module functions (python/py_module.c).
int cc_py_module_init(PyObject *module);
// BindItem and the module-algebra functions (python/py_module_rewrite.c).
int cc_py_module_rewrite_init(PyObject *module);
// ModulePusher, NestedModuleNamer, ModuleConstructCallback and their module functions
// (python/py_module_pusher.c).
int cc_py_module_pusher_init(PyObject *module);
// simp, its simplifications and SimpFnSubset (python/py_simp.c).
int cc_py_simp_init(PyObject *module);
int cc_py_rewrite_catalogue_b_init(PyObject *module);
// Expander (python/py_expander.c); after the matcher types.
int cc_py_expander_init(PyObject *module);
// The scatter rewrites (python/py_scatter_rewrite.c).
int cc_py_scatter_rewrite_init(PyObject *module);

// RearrangeSpec wrapper (owns its spec).
typedef struct {
    PyObject_HEAD cc_rearrange_spec *spec;
} cc_py_rspec_obj;
extern PyTypeObject *cc_py_rearrange_spec_type;
// Spec from a RearrangeSpec or a string; new spec owned by the caller, NULL on error.
cc_rearrange_spec *cc_py_rearrange_spec_arg(PyObject *obj);
PyObject *cc_py_rearrange_spec_wrap(cc_rearrange_spec *spec_stolen);

// GeneralFunction spec wrapper (one reference to a cc_gf_spec).
PyObject *cc_py_gf_spec_wrap(cc_gf_spec *spec);
// The spec a locator names ("package.module:Attr", "/dir/file.py:Attr"; rc's new_by_path),
// through circuits._gf_path: imports the module and calls Attr(). New reference, or NULL with
// an exception.
cc_gf_spec *cc_py_gf_spec_by_path(const char *path);

// Methods of the module defined in other files (NULL-terminated arrays).
extern PyMethodDef cc_py_eval_methods[];
extern PyMethodDef cc_py_rewrite_methods[]; // python/py_rewrite.c
// Add/Einsum rewrites, distribution, canonical forms (python/py_rewrite_catalogue_a.c).
extern PyMethodDef cc_py_rewrite_catalogue_a_methods[];
extern PyMethodDef cc_py_gf_module_methods[];
extern PyMethodDef cc_py_print_methods[];      // python/py_print.c
extern PyMethodDef cc_py_named_axes_methods[]; // python/py_named_axes.c
// A node's named axes as a new {axis: name} dict, or NULL with an exception.
PyObject *cc_py_named_axes_dict(const cc_node *n);
// rc's set_named_axes(circuit, named_axes): a new wrapper, or NULL with an exception.
PyObject *cc_py_set_named_axes(PyObject *circuit, PyObject *named_axes);
extern PyMethodDef cc_py_sampler_methods[]; // python/py_sampler.c
// reference_circuits as parallel arrays borrowed from the dict ({Circuit: str} when
// circuit_keys, else {str: Circuit}); the caller frees *nodes and *idents with PyMem_Free,
// also after a failure. None gives *n = 0. 0, or -1 with an exception.
int cc_py_reference_circuits_arg(PyObject *dict, int circuit_keys, int *n, cc_node ***nodes,
                                 const char ***idents);
extern PyMethodDef cc_py_parse_methods[]; // python/py_parse.c
// visit_circuit, deep_map, replace_nodes, ...: rc's circuit utilities (python/py_surface.c).
extern PyMethodDef cc_py_surface_methods[];
// get, update, ... of Circuit (python/py_traversal.c); Circuit takes them at creation.
extern PyMethodDef cc_py_circuit_match_methods[];
