// Shared by the matcher bindings (py_match.c: Matcher, IterativeMatcher, Regex, Finished,
// IterateMatchResults, restrict; py_getter.c: Getter, Updater, AnyFound, Transform and the
// Circuit methods get, update, ...).
#pragma once

#include "python/bindings.h"

#include "match/iterative.h"
#include "match/matcher.h"

typedef struct {
    PyObject_HEAD cc_matcher *m;
} cc_py_matcher_obj;

typedef struct {
    PyObject_HEAD cc_imatcher *m;
} cc_py_imatcher_obj;

extern PyTypeObject *cc_py_matcher_type;
extern PyTypeObject *cc_py_imatcher_type;
extern PyTypeObject *cc_py_bound_any_found_type;

// A MatcherIn (bool, str, set of str / types / circuits, node type, Circuit, Regex,
// BoundAnyFound, Matcher, callable) -> new reference, or NULL with a TypeError naming the type.
cc_matcher *cc_py_matcher_arg(PyObject *obj);
// An IterativeMatcherIn (an IterativeMatcher or any MatcherIn) -> new reference, or NULL.
cc_imatcher *cc_py_imatcher_arg(PyObject *obj);
// Wrappers consuming a reference (NULL in: the core's error is raised).
PyObject *cc_py_matcher_wrap(cc_matcher *m);
PyObject *cc_py_imatcher_wrap(cc_imatcher *m);
// BoundAnyFound -> the matcher that asks it (a snapshot of its finder). NULL with an exception.
cc_matcher *cc_py_bound_any_found_matcher(PyObject *obj);

// Adds methods to a type after its creation (defs must live as long as the type).
int cc_py_add_methods(PyTypeObject *type, PyMethodDef *defs);

// Matcher, IterativeMatcher, Regex, Finished/FINISHED, IterateMatchResults, restrict,
// restrict_sl, new_traversal, traverse_until_depth (py_match.c).
int cc_py_match_init(PyObject *module);
// Getter, BoundGetter, Updater, BoundUpdater, AnyFound, BoundAnyFound, Transform, the
// traversal methods of Matcher and IterativeMatcher, and Circuit.get/update/... (py_getter.c).
int cc_py_getter_init(PyObject *module);
