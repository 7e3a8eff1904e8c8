"""A Python GeneralFunction spec's input_batchability pairs with the inputs as far as both go
(rc zips them): an input without an entry is not batchable, an entry without an input is
ignored. rc's causal-scrubbing InterpNode spec returns `GeneralFunctionShapeInfo((), 0, [])`
whatever its inputs."""

import numpy as np
import pytest

import circuits as rc


class Spec(rc.GeneralFunctionSpecBase):
    def __init__(self, batchability, shape=None):
        self.batchability = batchability
        self.shape = shape

    @property
    def name(self):
        return "zip_spec"

    def function(self, *tensors):
        return sum(np.asarray(t) for t in tensors)

    def get_shape_info(self, *shapes):
        shape = shapes[0] if self.shape is None else self.shape
        return rc.GeneralFunctionShapeInfo(shape, 0, self.batchability)


def arrays(*shapes):
    return [rc.Array(np.arange(np.prod(s), dtype=np.float64).reshape(s)) for s in shapes]


def test_no_entries_for_several_inputs():
    a, b = arrays((2,), (2,))
    gf = rc.GeneralFunction(a, b, spec=Spec([]))
    assert gf.shape == (2,)
    np.testing.assert_array_equal(np.asarray(gf.evaluate()), [0.0, 2.0])


def test_interp_node_style_spec_has_empty_shape():
    a, b = arrays((3,), (4,))
    gf = rc.GeneralFunction(a, b, spec=Spec([], shape=()))
    assert gf.shape == ()


def test_more_entries_than_inputs_are_ignored():
    (a,) = arrays((2,))
    gf = rc.GeneralFunction(a, spec=Spec([True, True, False]))
    assert gf.shape == (2,)


def test_missing_entries_are_not_batchable():
    a, b = arrays((2,), (2,))
    gf = rc.GeneralFunction(a, b, spec=Spec([True]))
    batched = rc.Array(np.ones((5, 2)))
    out = rc.expand_node(gf, [batched, b])
    assert out.shape == (5, 2)
    with pytest.raises(
        rc.ExpandGeneralFunctionTriedToBatchNonBatchableInputError, match="input_i=1"
    ):
        rc.expand_node(gf, [a, batched])
