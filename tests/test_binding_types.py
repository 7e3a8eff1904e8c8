"""The matcher bindings' types get every C method at creation, from the tables of the files
that contribute them (csrc/python/py_match.c, py_node.c), and nothing is added afterwards."""

import circuits as rc
from circuits import _circuits

# Method names by contributing table: the type's own, the builders, restrict, the traversal ops.
MATCHER_OWN = ["call", "get_first", "new_not", "to_iterative_matcher", "validate_matched"]
IMATCHER_OWN = ["match_iterate", "new_func", "new_or", "validate_matched"]
BUILDERS = ["chain", "chain_many", "children_matcher", "filter_module_spec"]
RESTRICT = ["restrict", "filter"]
TRAVERSAL = ["get", "get_unique", "get_paths", "are_any_found", "update", "updater", "getter"]


def c_methods(tp):
    """Names of tp's methods defined in C (method descriptors in the class dict)."""
    return {
        name
        for name, value in vars(tp).items()
        if type(value).__name__ in ("method_descriptor", "staticmethod", "builtin_function_or_method")
    }


def test_matcher_types_hold_all_their_tables():
    for tp, own in ((_circuits.Matcher, MATCHER_OWN), (_circuits.IterativeMatcher, IMATCHER_OWN)):
        have = c_methods(tp)
        for name in own + BUILDERS + RESTRICT + TRAVERSAL:
            assert name in have, (tp.__name__, name)


def test_circuit_holds_node_and_traversal_methods():
    have = c_methods(_circuits.Circuit)
    for name in ["rename", "map_children", "visit", "get", "get_unique", "are_any_found", "update"]:
        assert name in have, name


def test_methods_from_several_tables_work_together():
    a = rc.Scalar(1.0, name="a")
    b = rc.Scalar(2.0, name="b")
    s = rc.Add(a, b, name="s")
    m = rc.Matcher("a")
    assert m.get(s) == {a}
    assert m.chain(rc.Matcher(True)).get(s) == {a}
    assert m.restrict(end_depth=1).get(s) == set()
    assert s.get(m.to_iterative_matcher().restrict(start_depth=1)) == {a}
    assert isinstance(rc.FINISHED, rc.Finished)
