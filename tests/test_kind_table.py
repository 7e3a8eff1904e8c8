"""The kind table the extension exports: every node class once, in the engine's order, with
the snake_case names the Circuit predicates (is_/cast_/maybe_<kind>) are made from."""

import numpy as np
import pytest

import circuits as rc
from circuits import _circuits

EXPECTED = [
    ("array", rc.Array),
    ("scalar", rc.Scalar),
    ("symbol", rc.Symbol),
    ("add", rc.Add),
    ("einsum", rc.Einsum),
    ("index", rc.Index),
    ("concat", rc.Concat),
    ("rearrange", rc.Rearrange),
    ("general_function", rc.GeneralFunction),
    ("tag", rc.Tag),
    ("module", rc.Module),
    ("set_symbolic_shape", rc.SetSymbolicShape),
    ("discrete_var", rc.DiscreteVar),
    ("stored_cumulant_var", rc.StoredCumulantVar),
    ("cumulant", rc.Cumulant),
    ("scatter", rc.Scatter),
    ("conv", rc.Conv),
]


def test_kinds_lists_every_class_in_order():
    assert list(_circuits.KINDS) == EXPECTED


@pytest.mark.parametrize("snake,cls", EXPECTED)
def test_each_kind_has_its_predicates(snake, cls):
    for prefix in ("is_", "cast_", "maybe_"):
        assert callable(getattr(rc.Circuit, prefix + snake))


def test_predicates_follow_the_class():
    x = rc.Array(np.zeros(3))
    assert x.is_array() and not x.is_general_function()
    assert x.cast_array() is x
    assert x.maybe_set_symbolic_shape() is None
    with pytest.raises(TypeError):
        x.cast_add()
