// Registration of the matcher bindings: which types exist, what each is made from (its spec
// and the method tables of the files that give it methods), and where each is kept. Every type
// is complete when created; nothing adds to a type afterwards.
#include "python/py_match.h"

PyTypeObject *cc_py_regex_type;
PyTypeObject *cc_py_matcher_type;
PyTypeObject *cc_py_imatcher_type;
PyTypeObject *cc_py_finished_type;
PyTypeObject *cc_py_results_type;
PyTypeObject *cc_py_transform_type;
PyTypeObject *cc_py_getter_type;
PyTypeObject *cc_py_bound_getter_type;
PyTypeObject *cc_py_updater_type;
PyTypeObject *cc_py_bound_updater_type;
PyTypeObject *cc_py_any_found_type;
PyTypeObject *cc_py_bound_any_found_type;

static PyMethodDef *const matcher_tables[] = {
    cc_py_matcher_methods,
    cc_py_builder_methods,
    cc_py_restrict_methods,
    cc_py_traversal_methods,
    NULL,
};

static PyMethodDef *const imatcher_tables[] = {
    cc_py_imatcher_methods,
    cc_py_builder_methods,
    cc_py_restrict_methods,
    cc_py_traversal_methods,
    NULL,
};

static const cc_py_type_def match_types[] = {
    {&cc_py_regex_spec, NULL, NULL, &cc_py_regex_type, "Regex"},
    {&cc_py_matcher_spec, NULL, matcher_tables, &cc_py_matcher_type, "Matcher"},
    {&cc_py_imatcher_spec, NULL, imatcher_tables, &cc_py_imatcher_type, "IterativeMatcher"},
    {&cc_py_finished_spec, NULL, NULL, &cc_py_finished_type, "Finished"},
    {&cc_py_results_spec, NULL, NULL, &cc_py_results_type, "IterateMatchResults"},
};

static const cc_py_type_def getter_types[] = {
    {&cc_py_transform_spec, NULL, NULL, &cc_py_transform_type, "Transform"},
    {&cc_py_getter_spec, NULL, NULL, &cc_py_getter_type, "Getter"},
    {&cc_py_bound_getter_spec, NULL, NULL, &cc_py_bound_getter_type, "BoundGetter"},
    {&cc_py_updater_spec, NULL, NULL, &cc_py_updater_type, "Updater"},
    {&cc_py_bound_updater_spec, NULL, NULL, &cc_py_bound_updater_type, "BoundUpdater"},
    {&cc_py_any_found_spec, NULL, NULL, &cc_py_any_found_type, "AnyFound"},
    {&cc_py_bound_any_found_spec, NULL, NULL, &cc_py_bound_any_found_type, "BoundAnyFound"},
};

int
cc_py_match_init(PyObject *module)
{
    if (cc_py_types_add(module, match_types, sizeof match_types / sizeof match_types[0]) < 0 ||
        cc_py_finished_init(module) < 0) {
        return -1;
    }
    return PyModule_AddFunctions(module, cc_py_restrict_functions);
}

int
cc_py_getter_init(PyObject *module)
{
    return cc_py_types_add(module, getter_types, sizeof getter_types / sizeof getter_types[0]);
}
