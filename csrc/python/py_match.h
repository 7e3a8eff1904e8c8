// Shared by the matcher bindings, one file per Python type: py_regex.c (Regex), py_matcher.c
// (Matcher), py_imatcher.c (IterativeMatcher and the builders chain, children_matcher, ...),
// py_restrict.c (restrict and friends), py_match_results.c (Finished, IterateMatchResults),
// py_getter.c (Getter, BoundGetter and the get operations), py_updater.c (Transform, Updater,
// BoundUpdater), py_any_found.c (AnyFound, BoundAnyFound), py_traversal.c (get, update, ... as
// methods of the matchers and of Circuit), py_match_arg.c (argument conversion) and
// py_match.c (their registration).
#pragma once

#include "python/bindings.h"

#include "match/iterative.h"
#include "match/matcher.h"
#include "match/regex.h"

typedef struct {
    PyObject_HEAD cc_matcher *m;
} cc_py_matcher_obj;

typedef struct {
    PyObject_HEAD cc_imatcher *m;
} cc_py_imatcher_obj;

#define CC_PY_MATCHER(o) (((cc_py_matcher_obj *)(o))->m)
#define CC_PY_IMATCHER(o) (((cc_py_imatcher_obj *)(o))->m)

typedef struct {
    PyObject_HEAD PyObject *pattern; // as given
    int escape_dot;
    PyObject *search; // the compiled pattern's search method
    cc_regex *native; // the same pattern in C (match/regex.c), or NULL outside its subset
    uint8_t identity[32];
} cc_py_regex_obj;

// A Getter, Updater or AnyFound bound to an IterativeMatcher.
typedef struct {
    PyObject_HEAD PyObject *getter; // the Getter, Updater or AnyFound
    PyObject *matcher;              // an IterativeMatcher
} cc_py_bound_obj;

// The types, set at module init (py_match.c).
extern PyTypeObject *cc_py_regex_type;
extern PyTypeObject *cc_py_matcher_type;
extern PyTypeObject *cc_py_imatcher_type;
extern PyTypeObject *cc_py_finished_type;
extern PyTypeObject *cc_py_results_type;
extern PyTypeObject *cc_py_transform_type;
// A cc_transform's run for a Python callable Circuit -> Circuit (ctx, borrowed): a new
// reference, or NULL with the callable's exception (TypeError when it returns no Circuit).
cc_node *cc_py_transform_call(void *ctx, cc_node *n);
extern PyTypeObject *cc_py_getter_type;
extern PyTypeObject *cc_py_bound_getter_type;
extern PyTypeObject *cc_py_updater_type;
extern PyTypeObject *cc_py_bound_updater_type;
extern PyTypeObject *cc_py_any_found_type;
extern PyTypeObject *cc_py_bound_any_found_type;

// The specs and method tables the types are made from (py_match.c assembles them).
extern PyType_Spec cc_py_regex_spec;
extern PyType_Spec cc_py_matcher_spec;
extern PyType_Spec cc_py_imatcher_spec;
extern PyType_Spec cc_py_finished_spec;
extern PyType_Spec cc_py_results_spec;
extern PyType_Spec cc_py_transform_spec;
extern PyType_Spec cc_py_getter_spec;
extern PyType_Spec cc_py_bound_getter_spec;
extern PyType_Spec cc_py_updater_spec;
extern PyType_Spec cc_py_bound_updater_spec;
extern PyType_Spec cc_py_any_found_spec;
extern PyType_Spec cc_py_bound_any_found_spec;
extern PyMethodDef cc_py_matcher_methods[];  // Matcher's own
extern PyMethodDef cc_py_imatcher_methods[]; // IterativeMatcher's own
// chain, chain_many, children_matcher, ...: on Matcher and IterativeMatcher (py_imatcher.c).
extern PyMethodDef cc_py_builder_methods[];
// restrict and filter: on Matcher and IterativeMatcher (py_restrict.c).
extern PyMethodDef cc_py_restrict_methods[];
// restrict, restrict_sl, new_traversal, traverse_until_depth: module functions.
extern PyMethodDef cc_py_restrict_functions[];
// get, get_unique, update, ...: on Matcher and IterativeMatcher, self the matcher.
extern PyMethodDef cc_py_traversal_methods[];

// --- argument conversion and helpers shared by the types (py_match_arg.c) ---

// A MatcherIn (bool, str, set of str / types / circuits, node type, Circuit, Regex,
// BoundAnyFound, Matcher, callable) -> new reference, or NULL with a TypeError naming the type.
cc_matcher *cc_py_matcher_arg(PyObject *obj);
// An IterativeMatcherIn (an IterativeMatcher or any MatcherIn) -> new reference, or NULL.
cc_imatcher *cc_py_imatcher_arg(PyObject *obj);
// Wrappers consuming a reference (NULL in: the core's error is raised).
PyObject *cc_py_matcher_wrap(cc_matcher *m);
PyObject *cc_py_imatcher_wrap(cc_imatcher *m);
// Converts the items of args from index from on; *out freed with cc_py_matchers_free.
// -1 with an exception.
int cc_py_matchers_from_tuple(PyObject *args, Py_ssize_t from, cc_matcher ***out, int *n);
void cc_py_matchers_free(cc_matcher **ms, int n);
// The same for a sequence of IterativeMatcherIn.
int cc_py_imatchers_from_seq(PyObject *seq, cc_imatcher ***out, int *n);
void cc_py_imatchers_free(cc_imatcher **ms, int n);
// The matcher of a Regex object (new reference), or NULL with an exception.
cc_matcher *cc_py_regex_matcher(PyObject *regex);
// The node kind of a circuit class, or -1 (no exception) when it is not one.
int cc_py_kind_of_type(PyObject *t);
// TypeError: t is not a node type. Returns NULL.
PyObject *cc_py_not_a_node_type(PyObject *t);
// The readable form of a matcher formatted into fmt's %s, or NULL with an exception.
PyObject *cc_py_matcher_str(const cc_matcher *m, const char *fmt);
PyObject *cc_py_imatcher_str(const cc_imatcher *m, const char *fmt);
// ==/!= of two structural hashes (NotImplemented for ordering), and a hash's Python hash.
PyObject *cc_py_hash_richcompare(const uint8_t *a, const uint8_t *b, int op);
Py_hash_t cc_py_hash_of(const uint8_t *bytes);
// cc_*_callback reference counting of a Python object held as ctx.
void cc_py_ctx_incref(void *ctx);
void cc_py_ctx_decref(void *ctx);
// A callback's identity: the address of the Python object (which the matcher keeps alive).
void cc_py_pointer_identity(uint8_t out[32], const void *p, const char *tag);
// A repr of obj cut to 80 characters, for labels (new reference), or NULL with an exception.
PyObject *cc_py_short_repr(PyObject *obj);

// --- shared by the types' files ---

// 1 / 0 whether the Regex o's pattern is found in name (by Python's re), -1 with an exception.
int cc_py_regex_search(cc_py_regex_obj *o, PyObject *name);
// Matcher.validate_matched / IterativeMatcher.validate_matched (self either kind).
PyObject *cc_py_validate_matched(PyObject *self, PyObject *matched);
// Creates rc.FINISHED (after the types). 0, or -1 with an exception.
int cc_py_finished_init(PyObject *module);
// A step as IterateMatchResults (new reference), or NULL with an exception.
PyObject *cc_py_results_of_step(const cc_step *s);
// The step of IterativeMatcher.new_func: ctx is f, f(circuit) must return IterateMatchResults.
int cc_py_results_iterate_cb(void *ctx, const cc_node *n, cc_step *out);

// What a getter-like call computes.
typedef enum {
    CC_PY_GET,
    CC_PY_GET_UNIQUE,
    CC_PY_GET_UNIQUE_OP,
    CC_PY_GET_PATHS,
    CC_PY_GET_ALL_PATHS,
    CC_PY_GET_ALL_IN_PATHS,
    CC_PY_GET_VALIDATE,
} cc_py_get_op;

// Runs op on root with the IterativeMatcherIn matcher. New reference, or NULL with an exception.
PyObject *cc_py_get_run(cc_py_get_op op, cc_node *root, PyObject *matcher, int fancy_validate);
// Whether op takes fancy_validate.
int cc_py_get_op_validates(cc_py_get_op op);
// Raises unless matcher's found set in root passes fancy validation. 0, or -1.
int cc_py_get_validate(cc_node *root, cc_imatcher *m);
// A new Getter.
PyObject *cc_py_getter_make(int default_fancy_validate);
// A new bound object of type holding owner and the IterativeMatcherIn matcher.
PyObject *cc_py_bound_make(PyTypeObject *type, PyObject *owner, PyObject *matcher);
// The slots and attributes every bound type shares.
void cc_py_bound_dealloc(PyObject *self);
PyObject *cc_py_bound_get_matcher(PyObject *self, void *closure);
int cc_py_bound_set_matcher(PyObject *self, PyObject *value, void *closure);
PyObject *cc_py_bound_get_owner(PyObject *self, void *closure);
// closure: a PyTypeObject ** naming the owner's type.
int cc_py_bound_set_owner(PyObject *self, PyObject *value, void *closure);
// An optional bool argument: NULL or None gives dflt. -1 with an exception.
int cc_py_opt_bool(PyObject *obj, int dflt);

// rc's update of root with the TransformIn transform at what m finds. New reference, or NULL.
PyObject *cc_py_update_run(cc_node *root, cc_imatcher *m, PyObject *transform, int cache_transform,
                           int cache_update, int fancy_validate, int assert_any_found);
// A new Updater of the TransformIn transform, or NULL with an exception.
PyObject *cc_py_updater_make(PyObject *transform, int cache_transform, int cache_update,
                             int fancy_validate, int assert_any_found);

// A new AnyFound with an empty cache, or NULL with an exception.
PyObject *cc_py_any_found_make(void);
// BoundAnyFound -> the matcher that asks it (a snapshot of its finder). NULL with an exception.
cc_matcher *cc_py_bound_any_found_matcher(PyObject *obj);

// Matcher, IterativeMatcher, Regex, Finished/FINISHED, IterateMatchResults and the module
// functions restrict, restrict_sl, new_traversal, traverse_until_depth (py_match.c).
int cc_py_match_init(PyObject *module);
// Transform, Getter, BoundGetter, Updater, BoundUpdater, AnyFound, BoundAnyFound (py_match.c).
int cc_py_getter_init(PyObject *module);
