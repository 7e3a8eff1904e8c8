"""expand_node and replace_expand refuse results whose symbolic size constraints cannot all
hold, as rc does (rc checks every node it builds): {0s=7, 0s=3} raises
SymbolicSizeSetFailedToSatisfyContraintsError."""

import numpy as np
import pytest

import circuits as rc

S0 = rc.symbolic_sizes()[0]


def outer():
    a = rc.Symbol.new_with_random_uuid((S0,), "a")
    b = rc.Symbol.new_with_random_uuid((S0,), "b")
    return a, b, rc.Einsum.from_einsum_string("a,b->ab", a, b, name="e")


def test_expand_node_with_contradictory_pins():
    a, b, e = outer()
    with pytest.raises(rc.SymbolicSizeSetFailedToSatisfyContraintsError) as info:
        rc.expand_node(e, [rc.SetSymbolicShape(a, (7,)), rc.SetSymbolicShape(b, (3,))])
    assert isinstance(info.value, rc.SymbolicSizeSetError)
    assert str(info.value) == (
        "expanding Einsum 'e': symbolic size constraints can't all hold; constraint 0s=3 "
        "contradicts the sizes the others set"
    )


def test_expand_node_with_agreeing_pins():
    a, b, e = outer()
    out = rc.expand_node(e, [rc.SetSymbolicShape(a, (7,)), rc.SetSymbolicShape(b, (7,))])
    assert out.shape == (7, 7)
    assert {str(c) for c in out.symbolic_size_constraints} == {"0s=7"}


def test_replace_expand_with_contradictory_pins():
    a, b, e = outer()
    replaced = {a: rc.SetSymbolicShape(a, (7,)), b: rc.SetSymbolicShape(b, (3,))}
    with pytest.raises(rc.SymbolicSizeSetFailedToSatisfyContraintsError, match="0s=3"):
        rc.replace_expand_bottom_up_dict(e, replaced)


def test_pin_made_by_expansion_contradicts_one_given():
    # the Add pins the symbol b to the Array's 7, the other operand already pins 0s to 3
    a = rc.Symbol.new_with_random_uuid((S0,), "a")
    b = rc.Symbol.new_with_random_uuid((S0,), "b")
    c = rc.Symbol.new_with_random_uuid((S0,), "c")
    add = rc.Add(a, b, name="s")
    e = rc.Einsum.from_einsum_string("a,b->ab", add, c, name="e")
    seven = rc.Array(np.ones(7))
    fine = rc.replace_expand_bottom_up_dict(e, {a: seven})
    assert fine.shape == (7, S0)
    assert {str(c) for c in fine.symbolic_size_constraints} == {"0s=7"}
    with pytest.raises(rc.SymbolicSizeSetFailedToSatisfyContraintsError, match="0s=7|0s=3"):
        rc.replace_expand_bottom_up_dict(e, {a: seven, c: rc.SetSymbolicShape(c, (3,))})
