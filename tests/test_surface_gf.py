"""GeneralFunction spec kinds, shape-info helpers, broadcasting helpers and
GeneralFunctionSpecTester, against numpy and hand-written specs."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import circuits as rc


def arr(*shape, name=None):
    return rc.Array(np.random.default_rng(0).standard_normal(shape).astype(np.float32), name=name)


def test_spec_kinds_tell_built_in_specs_apart():
    x = arr(3, 4, name="x")
    idx = rc.Array(np.array([0, 2, 1]), name="i")
    specs = {
        rc.GeneralFunctionIndexSpec: rc.GeneralFunction.gen_index(x, idx, -1).spec,
        rc.GeneralFunctionExplicitIndexSpec: rc.GeneralFunction.explicit_index(x, idx, -1, 1).spec,
        rc.GeneralFunctionSetDDSpec: rc.GeneralFunction.new_cast(x).spec,
        rc.GeneralFunctionPowSpec: rc.pow(x, x).spec,
        rc.GeneralFunctionMultinomialSpec: rc.multinomial(
            rc.softmax(x), rc.Array(np.array(3)), (2,)
        ).spec,
        None: rc.softmax(x).spec,
    }
    for cls in specs:
        if cls is None:
            continue
        for other_cls, spec in specs.items():
            assert isinstance(spec, cls) == (other_cls is cls), (cls, other_cls)
        assert not isinstance("pow", cls)
    idx_spec = specs[rc.GeneralFunctionIndexSpec]
    assert idx_spec.index_dim == -1 and idx_spec.batch_index and not idx_spec.batch_x
    assert specs[rc.GeneralFunctionMultinomialSpec].shape == (2,)


@pytest.mark.parametrize(
    "cls",
    [
        rc.GeneralFunctionIndexSpec,
        rc.GeneralFunctionExplicitIndexSpec,
        rc.GeneralFunctionSetDDSpec,
        rc.GeneralFunctionPowSpec,
        rc.GeneralFunctionMultinomialSpec,
    ],
)
def test_spec_kinds_have_no_constructor(cls):
    with pytest.raises(TypeError, match=f"No constructor defined for {cls.__name__}"):
        cls()


shapes_st = st.lists(st.integers(0, 4), max_size=4).map(tuple)


@given(st.lists(shapes_st, min_size=1, max_size=4))
def test_broadcast_shapes_matches_numpy(shapes):
    # as rc, unlike numpy, a size 1 does not stretch to size 0
    rank = max(map(len, shapes))
    aligned = [(1,) * (rank - len(s)) + s for s in shapes]
    axes = [
        {s[i] for s, orig in zip(aligned, shapes) if i >= rank - len(orig)} for i in range(rank)
    ]
    if len(shapes) > 1 and any({0, 1} <= a for a in axes):
        with pytest.raises(rc.MiscInputNotBroadcastableError):
            rc.broadcast_shapes(*shapes)
        return
    try:
        expected = np.broadcast_shapes(*shapes)
    except ValueError:
        with pytest.raises(rc.MiscInputNotBroadcastableError, match="Shapes aren't broadcastable"):
            rc.broadcast_shapes(*shapes)
        return
    assert rc.broadcast_shapes(*shapes) == expected


def test_broadcast_shapes_edges():
    assert rc.broadcast_shapes() == ()
    assert rc.broadcast_shapes((0, 3)) == (0, 3)
    with pytest.raises(rc.MiscInputNotBroadcastableError, match=r"\[2, 3\], \[4\]"):
        rc.broadcast_shapes((2, 3), (4,))
    with pytest.raises(TypeError, match="sequence of ints"):
        rc.broadcast_shapes(3)


def test_get_shape_info_simple():
    info = rc.get_shape_info_simple(
        [(2, 3, 4)], num_non_batchable_output_dims=1, removed_from_end=1
    )
    assert info == rc.GeneralFunctionShapeInfo((2, 3), 1, [True])
    assert rc.get_shape_info_simple([(5,)]).shape == (5,)
    with pytest.raises(rc.GeneralFunctionShapeWrongNumShapesError, match="got=2 expected=1"):
        rc.get_shape_info_simple([(1,), (2,)])
    with pytest.raises(rc.GeneralFunctionShapeNDimTooSmallError, match="ndim=1"):
        rc.get_shape_info_simple([(3,)], 1, 1)


def test_get_shape_info_simple_agrees_with_the_built_in_functions():
    for fn, shape in [(rc.softmax, (2, 3)), (rc.max, (4, 5)), (rc.relu, (3,))]:
        gf = fn(arr(*shape))
        expected = rc.get_shape_info_simple(
            [shape], gf.spec.num_non_batchable_output_dims, gf.spec.removed_from_end
        )
        assert rc._circuits._gf_shape_info(gf) == (
            expected.shape,
            expected.num_non_batchable_output_dims,
            expected.input_batchability,
        )


def test_get_shape_info_broadcast():
    info = rc.get_shape_info_broadcast([(3, 1), (4,)])
    assert info == rc.GeneralFunctionShapeInfo((3, 4), 1, [True, False])
    assert rc.get_shape_info_broadcast([(2, 3), (2, 3)]).num_non_batchable_output_dims == 0
    assert rc.get_shape_info_broadcast([(1, 3), (2, 3)]).num_non_batchable_output_dims == 2
    # without special-casing ones, 1 does not stretch
    with pytest.raises(rc.MiscInputNotBroadcastableError):
        rc.get_shape_info_broadcast([(1,), (3,)], special_case_ones=False)
    # pow's spec uses it
    gf = rc.pow(arr(3, 1), arr(4))
    assert rc._circuits._gf_shape_info(gf) == ((3, 4), 1, (True, False))


@given(shapes_st, st.data())
def test_make_broadcast_matches_numpy(shape, data):
    extra = data.draw(st.lists(st.integers(1, 3), max_size=2).map(tuple))
    out_shape = extra + tuple(data.draw(st.integers(1, 3)) if s == 1 else s for s in shape)
    x = rc.Array(np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape), name="x")
    b = rc.make_broadcast(x, out_shape)
    if out_shape == shape:
        assert b is x or b == x
    else:
        assert isinstance(b, rc.Rearrange) and b.name == "x rearrange"
    np.testing.assert_array_equal(
        np.asarray(b.evaluate()), np.broadcast_to(np.asarray(x.evaluate()), out_shape)
    )


def test_make_broadcast_impossible_is_none():
    x = arr(2, 3)
    assert rc.make_broadcast(x, (3, 3)) is None
    assert rc.make_broadcast(x, (3,)) is None


def test_add_make_broadcasts_explicit():
    a, b, c = arr(3, 4, name="a"), arr(4, name="b"), arr(1, 4, name="c")
    s = rc.Add(a, b, c, name="s")
    e = rc.add_make_broadcasts_explicit(s)
    assert e.name == "s" and all(ch.shape == (3, 4) for ch in e.children)
    assert e.children[0] == a
    np.testing.assert_allclose(np.asarray(e.evaluate()), np.asarray(s.evaluate()))
    assert rc.add_make_broadcasts_explicit(rc.Add(a, a)) is None
    with pytest.raises(TypeError, match="takes an Add"):
        rc.add_make_broadcasts_explicit(a)


# --- GeneralFunctionSpecTester ---------------------------------------------------------------


class Sigmoid(rc.GeneralFunctionSpecBase):
    @property
    def name(self):
        return "test_sigmoid"

    def compute_hash_bytes(self):
        return b"test_sigmoid"

    def function(self, x):
        return 1 / (1 + np.exp(-np.asarray(x)))

    def get_shape_info(self, *shapes):
        return rc.get_shape_info_simple(shapes)


class SoftmaxAndSum(rc.GeneralFunctionSpecBase):
    @property
    def name(self):
        return "test_softmax_and_sum"

    def compute_hash_bytes(self):
        return b"test_softmax_and_sum"

    def function(self, x):
        x = np.asarray(x)
        if x.shape[-2] == 0:
            return x.sum(-1)
        e = np.exp(x - x.max(-2, keepdims=True))
        return (e / e.sum(-2, keepdims=True)).sum(-1)

    def get_shape_info(self, *shapes):
        return rc.get_shape_info_simple(shapes, num_non_batchable_output_dims=1, removed_from_end=1)


class SoftmaxAndSumBuggy(SoftmaxAndSum):
    """Claims its last output axis batches, but it mixes that axis."""

    @property
    def name(self):
        return "test_softmax_and_sum_buggy"

    def compute_hash_bytes(self):
        return b"test_softmax_and_sum_buggy"

    def get_shape_info(self, *shapes):
        return rc.get_shape_info_simple(shapes, num_non_batchable_output_dims=0, removed_from_end=1)


class MaxEverywhere(rc.GeneralFunctionSpecBase):
    """Claims every axis batches, but each output is the max of the whole input."""

    @property
    def name(self):
        return "test_max_everywhere"

    def compute_hash_bytes(self):
        return b"test_max_everywhere"

    def function(self, x):
        x = np.asarray(x)
        return np.full_like(x, x.max() if x.size else 0.0)

    def get_shape_info(self, *shapes):
        return rc.get_shape_info_simple(shapes)


class ChangesBatchability(rc.GeneralFunctionSpecBase):
    @property
    def name(self):
        return "test_changes_batchability"

    def compute_hash_bytes(self):
        return b"test_changes_batchability"

    def function(self, x):
        return np.asarray(x)

    def get_shape_info(self, *shapes):
        info = rc.get_shape_info_simple(shapes)
        return rc.GeneralFunctionShapeInfo(info.shape, 1 if shapes[0][:1] == (1,) else 0, [True])


def make_tester(**kw):
    kw.setdefault("base_shapes_samples", 20)
    kw.setdefault("end_ndim", 5)
    kw.setdefault("end_shape_num", 5)
    return rc.GeneralFunctionSpecTester(**kw)


def test_tester_fields():
    t = rc.GeneralFunctionSpecTester()
    assert (t.samples_per_batch_dims, t.base_shapes_samples, t.end_num_inputs) == (3, 100, 5)
    assert (t.min_frac_successful, t.randn_size_cap, t.test_with_rand) == (0.1, 1024 * 16, True)
    t.base_shapes_samples = 7
    assert t.base_shapes_samples == 7


@pytest.mark.parametrize("spec", [Sigmoid(), SoftmaxAndSum()], ids=lambda s: s.name)
def test_tester_passes_consistent_python_specs(spec):
    make_tester().test_many_shapes(spec)


def test_tester_passes_built_in_specs():
    x = arr(3, 4)
    # (pow is left out: broadcast batchability changes when batch axes are removed, in rc too)
    for spec in [rc.softmax(x).spec, rc.relu(x).spec, rc.log_softmax(x).spec]:
        make_tester(base_shapes_samples=10).test_many_shapes(spec)
    # max of an empty axis fails, so only non-empty shapes
    make_tester(base_shapes_samples=10, start_shape_num=1).test_many_shapes(rc.max(x).spec)


def test_tester_catches_wrong_batching_claims():
    with pytest.raises(rc.ExceptionWithRustContext) as info:
        make_tester().test_many_shapes(SoftmaxAndSumBuggy())
    # it claims ndim 1 works, where its function fails
    assert isinstance(info.value.exc.__cause__ or info.value.exc, (IndexError, AssertionError))
    with pytest.raises(rc.ExceptionWithRustContext, match="tensors not close"):
        make_tester(base_shapes_samples=40).test_many_shapes(MaxEverywhere())
    with pytest.raises(rc.ExceptionWithRustContext, match="changed num_non_batchable_output_dims"):
        make_tester().test_from_shapes(ChangesBatchability(), [(2, 3)])


def test_tester_test_from_shapes():
    t = make_tester()
    assert t.test_from_shapes(Sigmoid(), [(2, 3)]) == (True, True)
    assert t.test_from_shapes(Sigmoid(), [(2,), (3,)]) == (False, False)
    with pytest.raises(rc.ExceptionWithRustContext, match="supposed to be valid") as info:
        t.test_from_shapes(Sigmoid(), [(2,), (3,)], shapes_must_be_valid=True)
    assert isinstance(info.value.exc, rc.GeneralFunctionShapeWrongNumShapesError)
    # a non-batchable function has nothing to check
    x = arr(3, 4)
    multinomial = rc.multinomial(rc.softmax(x), rc.Array(np.array(3)), (2,)).spec
    assert t.test_from_shapes(multinomial, [(3, 4), ()]) == (True, False)


def test_tester_too_few_valid_shapes():
    with pytest.raises(rc.ExceptionWithRustContext, match="frac successful too low"):
        make_tester(start_num_inputs=2, end_num_inputs=4).test_many_shapes(Sigmoid())
    with pytest.raises(rc.ExceptionWithRustContext, match="frac checked batch too low"):
        x = arr(3, 4)
        spec = rc.multinomial(rc.softmax(x), rc.Array(np.array(3)), (2,)).spec
        make_tester(start_num_inputs=2, end_num_inputs=3, min_frac_successful=0.0).test_many_shapes(
            spec
        )
