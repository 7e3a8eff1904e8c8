// Creation of the extension's heap types from their PyType_Spec: a type's methods may come from
// several files' tables, concatenated here into its Py_tp_methods at creation, so that no type
// is changed after it is made.
#include "python/bindings.h"

#include <string.h>

// The tables of methods, one after another, as one NULL-terminated table allocated for the
// life of the process (a type's method descriptors point into it). NULL with an exception,
// also when two tables name the same method (one would silently hide the other).
static PyMethodDef *
concat_methods(PyMethodDef *const *tables)
{
    size_t n = 0;
    for (PyMethodDef *const *t = tables; *t != NULL; t++) {
        for (const PyMethodDef *d = *t; d->ml_name != NULL; d++) {
            n++;
        }
    }
    PyMethodDef *all = PyMem_RawCalloc(n + 1, sizeof(PyMethodDef));
    if (all == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    size_t k = 0;
    for (PyMethodDef *const *t = tables; *t != NULL; t++) {
        for (const PyMethodDef *d = *t; d->ml_name != NULL; d++) {
            for (size_t j = 0; j < k; j++) {
                if (strcmp(all[j].ml_name, d->ml_name) == 0) {
                    PyMem_RawFree(all);
                    PyErr_Format(PyExc_SystemError, "two methods named %s for one type",
                                 d->ml_name);
                    return NULL;
                }
            }
            all[k++] = *d;
        }
    }
    return all;
}

PyTypeObject *
cc_py_type_new(PyObject *module, PyType_Spec *spec, PyTypeObject *base, PyMethodDef *const *methods)
{
    if (methods == NULL) {
        return (PyTypeObject *)PyType_FromModuleAndSpec(module, spec, (PyObject *)base);
    }
    size_t n_slots = 0;
    while (spec->slots[n_slots].slot != 0) {
        n_slots++;
    }
    PyType_Slot *slots = PyMem_Calloc(n_slots + 2, sizeof(PyType_Slot));
    if (slots == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    PyMethodDef *all = concat_methods(methods);
    if (all == NULL) {
        PyMem_Free(slots);
        return NULL;
    }
    size_t k = 0;
    for (size_t i = 0; i < n_slots; i++) {
        if (spec->slots[i].slot != Py_tp_methods) {
            slots[k++] = spec->slots[i];
        }
    }
    slots[k++] = (PyType_Slot){Py_tp_methods, all};
    slots[k] = (PyType_Slot){0, NULL};
    PyType_Spec full = *spec;
    full.slots = slots;
    PyObject *type = PyType_FromModuleAndSpec(module, &full, (PyObject *)base);
    PyMem_Free(slots);
    if (type == NULL) {
        PyMem_RawFree(all);
    }
    return (PyTypeObject *)type;
}

int
cc_py_types_add(PyObject *module, const cc_py_type_def *defs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        PyTypeObject *base = defs[i].base != NULL ? *defs[i].base : NULL;
        PyTypeObject *t = cc_py_type_new(module, defs[i].spec, base, defs[i].methods);
        if (t == NULL) {
            return -1;
        }
        *defs[i].out = t;
        if (PyModule_AddObjectRef(module, defs[i].name, (PyObject *)t) < 0) {
            return -1;
        }
    }
    return 0;
}
