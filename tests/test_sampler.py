"""Sample specs and the Sampler: sampled values against a numpy reference of the seeded draws,
the sample axes carried up through every kind, groups drawn jointly, running every row,
estimation of cumulants, and every error path."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")


import circuits as rc  # noqa: E402

MASK = (1 << 64) - 1


def arr(*shape, name=None, seed=0):
    return rc.Array(np.random.default_rng(seed).standard_normal(shape), name)


def draws(probs, n, seed):
    """numpy reference of the seeded multinomial with replacement (SplitMix64 started at the
    seed, inverse cumulative weights over the positive categories)."""
    w = np.asarray(probs, dtype=np.float64)
    total = w.sum()
    state = seed & MASK
    out = []
    for _ in range(n):
        state = (state + 0x9E3779B97F4A7C15) & MASK
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        z ^= z >> 31
        target = (z >> 11) * 2.0**-53 * total
        acc, pick = 0.0, -1
        for i, x in enumerate(w):
            if x <= 0:
                continue
            acc += x
            pick = i
            if acc > target:
                break
        out.append(pick)
    return np.array(out)


def hash_seed(c, base):
    return int.from_bytes(c.hash[:8], "little", signed=True) ^ base


def value(c):
    return np.asarray(c.evaluate())


# --- seeders and matchers ----------------------------------------------------------------------


def test_default_hash_seeder():
    s = rc.Scalar(3.0, (4,))
    assert rc.default_hash_seeder(7)(s) == hash_seed(s, 7)
    assert rc.default_hash_seeder(7)(s) != rc.default_hash_seeder(8)(s)
    assert rc.default_hash_seeder(7)(s) != rc.default_hash_seeder(7)(rc.Scalar(2.0, (4,)))
    torch.manual_seed(17)
    first = rc.default_hash_seeder()(s)
    torch.manual_seed(17)
    assert rc.default_hash_seeder()(s) == first
    assert rc.default_hash_seeder()(s) != rc.default_hash_seeder()(s)


def test_default_var_matcher_stops_at_cumulants():
    v = rc.DiscreteVar(arr(4, 2, name="x"), name="v")
    w = rc.DiscreteVar(arr(4, 2, name="y", seed=1), v.probs_and_group, name="w")
    c = rc.Add(v, rc.Cumulant(w))
    found = rc.default_var_matcher().get(c)
    assert found == {v}


# --- RandomSampleSpec ---------------------------------------------------------------------------


@pytest.mark.parametrize("simplify", [True, False])
@pytest.mark.parametrize("shape", [(), (6,), (2, 3)])
def test_random_sample_values(simplify, shape):
    x = arr(5, 3, name="x")
    probs = np.array([0.1, 0.0, 0.4, 0.3, 0.2])
    group = rc.Tag.new_with_random_uuid(rc.Array(probs, "p"), name="g")
    v = rc.DiscreteVar(x, group, name="v")
    spec = rc.RandomSampleSpec(shape, simplify=simplify, seeder=rc.default_hash_seeder(99))
    out = rc.Sampler(spec).sample(v)
    assert out.shape == shape + (3,)
    n = int(np.prod(shape))
    idx = draws(probs, n, hash_seed(group, 99)).reshape(shape)
    np.testing.assert_allclose(value(out), value(x)[idx])
    assert 1 not in idx


def test_simplify_structure():
    x = rc.Array(np.zeros((12, 37)))
    v = rc.DiscreteVar(x)
    spec = rc.RandomSampleSpec((100,), seeder=lambda _: 11)
    simple = rc.Sampler(spec).sample(v)
    assert isinstance(simple, rc.Index) and simple.shape == (100, 37)
    assert simple.node == x
    spec.simplify = False
    full = rc.Sampler(spec).sample(v)
    assert isinstance(full, rc.GeneralFunction)
    assert full.spec.name == "gen_index_at_-2_batch_x_no_batch_index_c"
    idx = full.children[1]
    assert idx.spec.name == "multinomial_[100]"
    assert idx.children[0] == v.probs_and_group
    seed = idx.children[1]
    assert seed.name == "seed_11" and seed.shape == () and int(value(seed)) == 11
    assert value(seed).dtype == np.int64
    np.testing.assert_array_equal(value(simple), value(full))


def test_names_of_the_draws():
    x = arr(4, 2, name="x")
    group = rc.Tag.new_with_random_uuid(rc.Scalar(0.25, (4,)), name="g")
    v = rc.DiscreteVar(x, group, name="v")
    spec = rc.RandomSampleSpec((3,), simplify=False, seeder=lambda _: -5)
    out = spec.sample_var(v)
    assert out.name == "v sampled"
    assert out.children[1].name == "g sampled_idxs"
    assert out.children[1].children[1].name == "seed_-5"
    eager = rc.RandomSampleSpec((3,), seeder=lambda _: -5).sample_var(v)
    assert eager.name == "v sampled"


def test_same_group_same_rows_other_group_other_seed():
    group = rc.DiscreteVar.uniform_probs_and_group(50, name="g")
    other = rc.DiscreteVar.uniform_probs_and_group(50, name="h")
    a = rc.DiscreteVar(rc.Array(np.arange(50.0), "a"), group, name="va")
    b = rc.DiscreteVar(rc.Array(np.arange(50.0) * 1000, "b"), group, name="vb")
    c = rc.DiscreteVar(rc.Array(np.arange(50.0) * 1e6, "c"), other, name="vc")
    total = rc.Add(a, b, c)
    seeder = rc.default_hash_seeder(3)
    out = rc.Sampler(rc.RandomSampleSpec((40,), seeder=seeder)).sample(total)
    got = value(out)
    ia = draws(np.full(50, 0.02), 40, hash_seed(group, 3))
    ic = draws(np.full(50, 0.02), 40, hash_seed(other, 3))
    np.testing.assert_allclose(got, ia * 1001.0 + ic * 1e6)
    assert (ia != ic).any()


def test_seeder_is_asked_per_group():
    asked = []
    group = rc.DiscreteVar.uniform_probs_and_group(6)

    def seeder(g):
        asked.append(g)
        return 4

    v = rc.DiscreteVar(arr(6, 2), group)
    w = rc.DiscreteVar(arr(6, 2, seed=1), group)
    rc.Sampler(rc.RandomSampleSpec((2,), seeder=seeder)).sample(rc.Add(v, w))
    assert asked and all(g == group for g in asked)


def test_seeded_samplers_repeat():
    v = rc.DiscreteVar(arr(17, 3, name="x"))

    def sampler(base=None):
        return rc.Sampler(rc.RandomSampleSpec((100,), seeder=rc.default_hash_seeder(base)))

    assert sampler(5).sample(v) == sampler(5).sample(v)
    assert sampler().sample(v) != sampler().sample(v)
    torch.manual_seed(1782)
    first = rc.Sampler(rc.RandomSampleSpec((100,))).sample(v)
    torch.manual_seed(1782)
    assert rc.Sampler(rc.RandomSampleSpec((100,))).sample(v) == first


def test_without_replacement_draws_distinct_rows():
    x = rc.Array(np.arange(10.0), "x")
    v = rc.DiscreteVar(x)
    out = rc.Sampler(rc.RandomSampleSpec((10,), replace=False, seeder=lambda _: 1)).sample(v)
    assert sorted(value(out).tolist()) == list(range(10))


def test_integer_values_keep_their_dtype():
    v = rc.DiscreteVar(rc.Array(torch.randint(0, 800, (100,)), "ints"))
    out = rc.Sampler(rc.RandomSampleSpec((8,), seeder=lambda _: 2)).sample(v)
    assert out.evaluate().dtype == torch.int64
    assert rc.optimize_and_evaluate(out).dtype == torch.int64


def test_spec_fields():
    s = rc.RandomSampleSpec((2, 3), replace=False)
    assert s.shape == (2, 3) and s.replace is False and s.simplify is True
    assert isinstance(s.probs_and_group_evaluation_settings, rc.OptimizationSettings)
    assert callable(s.seeder)
    assert s.get_sample_shape() == (2, 3)
    w = s.get_empirical_weights()
    assert w.name == "empirical_weights_for_sampled" and w.shape == (2, 3)
    np.testing.assert_allclose(value(w), np.full((2, 3), 1 / 6))
    assert float(value(s.get_overall_weight())) == 6.0


# --- expansion through the kinds above a DiscreteVar --------------------------------------------


def circuits_over(v):
    """Circuits above v (shape (4, 3)) with a numpy function of v's value."""
    m = arr(3, 5, name="m", seed=2)
    b = arr(4, 3, name="b", seed=3)
    yield rc.Einsum.from_einsum_string("ij,jk->ik", v, m), lambda x: x @ value(m)
    yield rc.Add(v, b), lambda x: x + value(b)
    yield rc.Index(v, [slice(1, 3), 0]), lambda x: x[..., 1:3, 0]
    yield rc.Rearrange.from_string(v, "a b -> b a"), lambda x: np.swapaxes(x, -1, -2)
    yield rc.Concat(v, b, axis=0), lambda x: np.concatenate(
        [x, np.broadcast_to(value(b), x.shape)], axis=-2
    )
    yield rc.GeneralFunction.new_by_name(v, spec_name="sigmoid"), lambda x: 1 / (1 + np.exp(-x))
    yield rc.Add(rc.Einsum.from_einsum_string("ij->i", v), rc.Scalar(1.0, (4,))), lambda x: (
        x.sum(-1) + 1
    )


@pytest.mark.parametrize("shape", [(), (5,), (2, 3)])
def test_sample_axes_reach_the_root(shape):
    x = arr(7, 4, 3, name="x", seed=4)
    group = rc.Tag.new_with_random_uuid(rc.Scalar(1 / 7, (7,)), name="g")
    v = rc.DiscreteVar(x, group, name="v")
    idx = draws(np.full(7, 1 / 7), int(np.prod(shape)), hash_seed(group, 21)).reshape(shape)
    sampler = rc.Sampler(rc.RandomSampleSpec(shape, seeder=rc.default_hash_seeder(21)))
    for c, ref in circuits_over(v):
        out = sampler.sample(c)
        assert out.shape == shape + c.shape
        np.testing.assert_allclose(value(out), ref(value(x)[idx]), rtol=1e-6, atol=1e-9)


def test_changed_named_ancestors_get_the_suffix():
    v = rc.DiscreteVar(arr(4, 3, name="x"), name="v")
    c = rc.Add(v, arr(3, name="b"), name="sum")
    out = rc.Sampler(rc.RandomSampleSpec((2,), seeder=lambda _: 0)).sample(c)
    assert out.name == "sum_sample"
    out = rc.Sampler(rc.RandomSampleSpec((2,), seeder=lambda _: 0), suffix=None).sample(c)
    assert out.name == "sum"


def test_no_var_repeats_along_the_sample_axes():
    c = arr(3, 2, name="c")
    out = rc.Sampler(rc.RandomSampleSpec((4,))).sample(c)
    assert isinstance(out, rc.Rearrange) and out.shape == (4, 3, 2)
    np.testing.assert_allclose(value(out), np.broadcast_to(value(c), (4, 3, 2)))
    out = rc.Sampler(rc.RandomSampleSpec(())).sample(c)
    assert out.shape == (3, 2)


def test_var_matcher_and_run_on_sampled():
    v = rc.DiscreteVar(arr(4, 3, name="x"), name="v")
    w = rc.DiscreteVar(arr(4, 3, name="y", seed=1), name="w")
    c = rc.Add(v, w)
    spec = rc.RandomSampleSpec((2,), seeder=lambda _: 0)
    only_v = rc.Sampler(spec, var_matcher=rc.restrict(rc.Matcher("v"), term_if_matches=True))
    out = only_v.sample(c)
    assert out.shape == (2, 3)
    assert w in out.get(rc.DiscreteVar)
    seen = []
    s = rc.Sampler(spec, run_on_sampled=lambda x: seen.append(x) or rc.Add(x, x))
    out = s.sample(c)
    assert len(seen) == 1 and out == rc.Add(seen[0], seen[0])
    assert s.var_matcher is not None and s.sample_spec is spec


def test_expander_and_transform_of_a_spec():
    v = rc.DiscreteVar(arr(4, 3, name="x"), name="v")
    spec = rc.RandomSampleSpec((2,), seeder=lambda _: 9)
    e = spec.get_sample_expander()
    assert e.ban_multiple_matches_on_node and e.suffix == "sample"
    c = rc.Add(v, v, name="twice")
    assert e.batch(c) == rc.Sampler(spec).sample(c)
    assert spec.get_transform().run(v) == spec.sample_var(v)
    assert rc.Sampler(spec).expander.batch(c) == e.batch(c)


def test_sample_and_evaluate():
    v = rc.DiscreteVar(arr(4, 3, name="x"))
    s = rc.Sampler(rc.RandomSampleSpec((5,), seeder=lambda _: 1))
    np.testing.assert_allclose(np.asarray(s.sample_and_evaluate(v)), value(s.sample(v)))


# --- RunDiscreteVarAllSpec ----------------------------------------------------------------------


def test_run_all_one_group_gives_the_values():
    x = arr(6, 2, 3, name="x")
    v = rc.DiscreteVar(x, name="v")
    out = rc.Sampler(rc.RunDiscreteVarAllSpec([v.probs_and_group])).sample(v)
    assert out.shape == (6, 2, 3)
    np.testing.assert_allclose(value(out), value(x))


def test_run_all_two_groups_outer_product():
    gx = rc.DiscreteVar.uniform_probs_and_group(4, name="gx")
    gy = rc.DiscreteVar.uniform_probs_and_group(3, name="gy")
    x, y = arr(4, 2, name="x"), arr(3, 2, name="y", seed=1)
    x2 = arr(4, 2, name="x2", seed=2)
    c = rc.Add(rc.DiscreteVar(x, gx), rc.DiscreteVar(y, gy), rc.DiscreteVar(x2, gx))
    spec = rc.RunDiscreteVarAllSpec([gy, gx])
    assert spec.get_sample_shape() == (3, 4)
    out = rc.Sampler(spec).sample(c)
    ref = value(y)[:, None] + value(x)[None] + value(x2)[None]
    np.testing.assert_allclose(value(out), ref)


def test_run_all_subsets():
    gx = rc.DiscreteVar.uniform_probs_and_group(5, name="gx")
    gy = rc.DiscreteVar.uniform_probs_and_group(4, name="gy")
    x, y = arr(5, name="x"), arr(4, name="y", seed=1)
    c = rc.Add(rc.DiscreteVar(x, gx), rc.DiscreteVar(y, gy))
    spec = rc.RunDiscreteVarAllSpec([gx, gy], [slice(1, 3), slice(None, -1)])
    assert spec.subsets == [slice(1, 3), slice(None, -1)] and spec.groups == [gx, gy]
    assert spec.get_sample_shape() == (2, 3)
    out = rc.Sampler(spec).sample(c)
    np.testing.assert_allclose(value(out), value(x)[1:3, None] + value(y)[None, :-1])


def test_run_all_weights():
    px = np.array([0.1, 0.2, 0.3, 0.4])
    py = np.array([2.0, 1.0, 1.0])
    gx = rc.Tag.new_with_random_uuid(rc.Array(px, "px"))
    gy = rc.Tag.new_with_random_uuid(rc.Array(py, "py"))
    spec = rc.RunDiscreteVarAllSpec([gx, gy])
    outer = np.outer(px, py)
    np.testing.assert_allclose(value(spec.get_empirical_weights()), outer / outer.sum())
    np.testing.assert_allclose(float(value(spec.get_overall_weight())), outer.sum())
    sub = rc.RunDiscreteVarAllSpec([gx, gy], [slice(0, 2), slice(1, None)])
    o = np.outer(px[:2], py[1:])
    np.testing.assert_allclose(value(sub.get_empirical_weights()), o / o.sum())


def test_create_full_from_circuits():
    v = rc.DiscreteVar(arr(4, 2, name="x"), name="v")
    w = rc.DiscreteVar(arr(3, 2, name="y"), name="w")
    u = rc.DiscreteVar(arr(4, 2, name="z"), v.probs_and_group, name="u")
    spec = rc.RunDiscreteVarAllSpec.create_full_from_circuits(rc.Add(v, u), w)
    assert set(spec.groups) == {v.probs_and_group, w.probs_and_group}
    assert len(spec.groups) == 2
    out = rc.Sampler(spec).sample(rc.Add(v, w, u))
    assert out.shape == tuple(g.shape[0] for g in spec.groups) + (2,)
    empty = rc.RunDiscreteVarAllSpec.create_full_from_circuits(arr(2))
    assert empty.groups == [] and empty.get_sample_shape() == ()


# --- estimation ---------------------------------------------------------------------------------


def weighted_vars(n=6, seed=5):
    rng = np.random.default_rng(seed)
    p = rng.random(n) + 0.1
    p = p / p.sum()
    group = rc.Tag.new_with_random_uuid(rc.Array(p, "p"), name="g")
    xs = [rng.standard_normal((n, 2)) for _ in range(4)]
    vs = [rc.DiscreteVar(rc.Array(x, f"x{i}"), group, name=f"v{i}") for i, x in enumerate(xs)]
    return p, xs, vs, group


def centred(p, x):
    return x - (p[:, None] * x).sum(0)


def test_estimate_first_and_second_cumulants():
    p, xs, vs, group = weighted_vars()
    s = rc.Sampler(rc.RunDiscreteVarAllSpec([group]))
    k0 = s.estimate(rc.Cumulant())
    assert float(value(k0)) == 1.0
    k1 = s.estimate(rc.Cumulant(vs[0]))
    np.testing.assert_allclose(value(k1), (p[:, None] * xs[0]).sum(0))
    k2 = s.estimate(rc.Cumulant(vs[0], vs[1]))
    ref = np.einsum("s,si,sj->ij", p, centred(p, xs[0]), centred(p, xs[1]))
    np.testing.assert_allclose(value(k2), ref, atol=1e-12)


def test_estimate_third_and_fourth_cumulants():
    p, xs, vs, group = weighted_vars()
    s = rc.Sampler(rc.RunDiscreteVarAllSpec([group]))
    c = [centred(p, x) for x in xs]
    k3 = s.estimate(rc.Cumulant(vs[0], vs[1], vs[2]))
    np.testing.assert_allclose(
        value(k3), np.einsum("s,si,sj,sk->ijk", p, c[0], c[1], c[2]), atol=1e-12
    )

    def cov(a, b):
        return np.einsum("s,si,sj->ij", p, c[a], c[b])

    m4 = np.einsum("s,si,sj,sk,sl->ijkl", p, *c)
    ref = (
        m4
        - np.einsum("ij,kl->ijkl", cov(0, 1), cov(2, 3))
        - np.einsum("ik,jl->ijkl", cov(0, 2), cov(1, 3))
        - np.einsum("il,jk->ijkl", cov(0, 3), cov(1, 2))
    )
    k4 = s.estimate(rc.Cumulant(*vs))
    np.testing.assert_allclose(value(k4), ref, atol=1e-12)


def test_estimate_and_sample_and_call():
    p, xs, vs, group = weighted_vars()
    s = rc.Sampler(rc.RunDiscreteVarAllSpec([group]))
    c = rc.Add(rc.Cumulant(vs[0]), vs[1])
    out = s.estimate_and_sample(c)
    assert out == s(c)
    ref = (p[:, None] * xs[0]).sum(0) + xs[1]
    np.testing.assert_allclose(value(out), ref)
    np.testing.assert_allclose(
        np.asarray(s.estimate_and_evaluate(rc.Cumulant(vs[0]))), ref[0] - xs[1][0]
    )


def test_estimate_random_spec_is_the_sample_mean():
    x = arr(9, 2, name="x")
    v = rc.DiscreteVar(x, name="v")
    s = rc.Sampler(rc.RandomSampleSpec((30,), seeder=rc.default_hash_seeder(1)))
    est = s.estimate(rc.Cumulant(v))
    idx = draws(np.full(9, 1 / 9), 30, hash_seed(v.probs_and_group, 1))
    np.testing.assert_allclose(value(est), value(x)[idx].mean(0))
    named = s.estimate(rc.Cumulant(v, name="k"))
    assert named.name == "v sampled_sample_expectation"


def test_factored_rewrite_matches_the_direct_estimate():
    p, xs, vs, group = weighted_vars()
    s = rc.Sampler(rc.RunDiscreteVarAllSpec([group]))
    cum = rc.Cumulant(vs[0], vs[2], vs[1])
    rewritten = rc.factored_cumulant_expectation_rewrite(cum)
    np.testing.assert_allclose(value(s.estimate(rewritten)), value(s.estimate(cum)), atol=1e-12)
    single = rc.Cumulant(vs[0])
    assert rc.factored_cumulant_expectation_rewrite(single) == single


# --- errors -------------------------------------------------------------------------------------


def test_error_group_not_1d():
    with pytest.raises(
        rc.SampleGroupWithIncorrectNdimError, match=r"group 1 \('two'\) has shape \[2, 3\]"
    ):
        rc.RunDiscreteVarAllSpec([rc.Scalar(0.5, (2,)), rc.Scalar(1.0, (2, 3), "two")])
    assert issubclass(rc.SampleGroupWithIncorrectNdimError, rc.SampleError)
    assert issubclass(rc.SampleError, ValueError)


def test_error_subsets_count():
    g = rc.Scalar(0.5, (2,))
    with pytest.raises(rc.SampleDifferentNumSubsetsThanGroupsError, match="2 subsets but 1 groups"):
        rc.RunDiscreteVarAllSpec([g], [slice(None), slice(None)])
    with pytest.raises(TypeError, match="subset 0 is a int, not a slice"):
        rc.RunDiscreteVarAllSpec([g], [3])
    with pytest.raises(ValueError, match="subset 0 has a step"):
        rc.RunDiscreteVarAllSpec([g], [slice(0, 2, 2)])


def test_error_unhandled_var():
    v = rc.DiscreteVar(arr(4, 2), rc.DiscreteVar.uniform_probs_and_group(4, name="mine"), name="v")
    other = rc.DiscreteVar.uniform_probs_and_group(4, name="other")
    s = rc.Sampler(rc.RunDiscreteVarAllSpec([other]))
    with pytest.raises(rc.SampleUnhandledVarErrorError, match="'v'.*'mine' of 4 rows.*1 groups"):
        s.sample(rc.Add(v, arr(2)))
    scv = rc.StoredCumulantVar.new_mv(arr(2), arr(2, 2, seed=1), name="s")
    with pytest.raises(rc.SampleUnhandledVarErrorError, match="StoredCumulantVar 's'"):
        rc.RunDiscreteVarAllSpec.create_full_from_circuits(scv)


def test_error_values_and_group_of_other_sizes():
    with pytest.raises(rc.ConstructDiscreteVarWrongSamplesDimError, match="5 samples.*4"):
        rc.DiscreteVar(arr(5, 2), rc.DiscreteVar.uniform_probs_and_group(4))


def test_error_bad_probabilities():
    x = arr(3, name="x")
    neg = rc.Tag.new_with_random_uuid(rc.Array(np.array([0.5, -0.1, 0.6]), "p"))
    with pytest.raises(rc.TensorEvalError, match="probability 1 of row 0 is -0.1"):
        rc.Sampler(rc.RandomSampleSpec((2,), seeder=lambda _: 0)).sample(rc.DiscreteVar(x, neg))
    lazy = rc.Sampler(rc.RandomSampleSpec((2,), simplify=False, seeder=lambda _: 0))
    out = lazy.sample(rc.DiscreteVar(x, neg))
    with pytest.raises(rc.TensorEvalError, match="probability 1 of row 0"):
        out.evaluate()
    zero = rc.Tag.new_with_random_uuid(rc.Array(np.zeros(3), "z"))
    with pytest.raises(rc.TensorEvalError, match="sums to 0"):
        rc.Sampler(rc.RandomSampleSpec((2,), seeder=lambda _: 0)).sample(rc.DiscreteVar(x, zero))
    few = rc.Tag.new_with_random_uuid(rc.Array(np.array([1.0, 0.0, 0.0]), "f"))
    no_replace = rc.RandomSampleSpec((2,), replace=False, seeder=lambda _: 0)
    with pytest.raises(rc.TensorEvalError, match="2 samples without replacement"):
        rc.Sampler(no_replace).sample(rc.DiscreteVar(x, few))


def test_error_seeders():
    v = rc.DiscreteVar(arr(3), rc.DiscreteVar.uniform_probs_and_group(3, name="g"))
    with pytest.raises(
        TypeError, match="a seeder must return an int, not NoneType \\(group 'g'\\)"
    ):
        rc.Sampler(rc.RandomSampleSpec((2,), seeder=lambda _: None)).sample(v)
    with pytest.raises(OverflowError, match="outside int64 for group 'g'"):
        rc.Sampler(rc.RandomSampleSpec((2,), seeder=lambda _: 2**63)).sample(v)

    def boom(_):
        raise KeyError("no seed")

    with pytest.raises(KeyError, match="no seed"):
        rc.Sampler(rc.RandomSampleSpec((2,), seeder=boom)).sample(v)
    with pytest.raises(TypeError, match="seeder must be a callable"):
        rc.RandomSampleSpec((2,), seeder=3)


def test_error_spec_arguments():
    with pytest.raises(ValueError, match="sample shape axis 1 is -2"):
        rc.RandomSampleSpec((3, -2))
    with pytest.raises(TypeError, match="sample_spec must be a RandomSampleSpec"):
        rc.Sampler("spec")
    with pytest.raises(TypeError, match="not a DiscreteVar"):
        rc.RandomSampleSpec((2,)).sample_var(arr(3, name="a"))


def test_plain_iterative_matcher_as_var_matcher():
    v = rc.DiscreteVar(arr(3), name="v")
    s = rc.Sampler(
        rc.RandomSampleSpec((2,), seeder=lambda _: 0),
        var_matcher=rc.IterativeMatcher(rc.DiscreteVar),
    )
    assert s.sample(v).shape == (2,)


def test_seeder_refcount_is_flat():
    import sys

    def seeder(_):
        return 1

    spec = rc.RandomSampleSpec((2,), seeder=seeder)
    v = rc.DiscreteVar(arr(3))
    before = sys.getrefcount(seeder)
    for _ in range(20):
        rc.Sampler(spec).sample(v)
    assert sys.getrefcount(seeder) == before


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_eager_and_lazy_draws_agree(dtype):
    probs = np.random.default_rng(3).random(9).astype(dtype)
    group = rc.Tag.new_with_random_uuid(rc.Array(probs, "p"))
    v = rc.DiscreteVar(rc.Array(np.arange(9.0), "x"), group)
    for shape in [(7,), (2, 5)]:
        eager = rc.Sampler(rc.RandomSampleSpec(shape, seeder=lambda _: 123)).sample(v)
        lazy = rc.Sampler(rc.RandomSampleSpec(shape, simplify=False, seeder=lambda _: 123))
        np.testing.assert_array_equal(value(eager), value(lazy.sample(v)))
        ref = draws(probs.astype(np.float64), int(np.prod(shape)), 123).reshape(shape)
        np.testing.assert_array_equal(value(eager), ref)


def test_run_on_sampled_batches_over_samples():
    x = arr(8, 3, name="x")
    v = rc.DiscreteVar(x, name="v")
    c = rc.GeneralFunction.new_by_name(rc.Add(v, arr(3, name="b", seed=1)), spec_name="sigmoid")
    spec = rc.RunDiscreteVarAllSpec([v.probs_and_group])
    batched = rc.Sampler(
        spec, run_on_sampled=lambda s: rc.batch_to_concat(s, axis=0, batch_size=3)
    ).sample(c)
    assert isinstance(batched, rc.Concat) and batched.shape == (8, 3)
    np.testing.assert_allclose(value(batched), value(rc.Sampler(spec).sample(c)))


def test_var_inside_a_module():
    x = arr(5, 3, name="x")
    v = rc.DiscreteVar(x, name="v")
    sym = rc.Symbol.new_with_random_uuid((3,), "a")
    spec_m = rc.ModuleSpec(
        rc.Einsum.from_einsum_string("i,i->i", sym, sym, name="sq"), [rc.ModuleArgSpec(sym)]
    )
    m = rc.Module(spec_m, "square", a=v)
    out = rc.Sampler(rc.RandomSampleSpec((4,), seeder=lambda _: 6)).sample(m)
    assert out.shape == (4, 3)
    idx = draws(np.full(5, 0.2), 4, 6)
    np.testing.assert_allclose(value(out), value(x)[idx] ** 2)


@pytest.mark.skipif(not __import__("os").path.exists("/proc/self/statm"), reason="needs statm")
def test_sampling_keeps_memory_flat():
    import gc
    import os

    if "libasan" in os.environ.get("LD_PRELOAD", ""):
        pytest.skip("AddressSanitizer's quarantine keeps freed memory resident")

    def resident():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    x = np.random.default_rng(0).standard_normal((6, 3))
    neg = np.array([1.0, -1.0, 1.0, 1.0, 1.0, 1.0])

    def step(i):
        v = rc.DiscreteVar(rc.Array(x, "x"), name="v")
        c = rc.Add(v, rc.Scalar(1.0, (3,)), name="s")
        rc.Sampler(rc.RandomSampleSpec((4,), seeder=lambda _: i)).sample(c).evaluate()
        rc.Sampler(rc.RandomSampleSpec((2, 2), simplify=False, seeder=lambda _: i)).sample(c)
        rc.Sampler(rc.RunDiscreteVarAllSpec([v.probs_and_group], [slice(1, 4)])).estimate(
            rc.Cumulant(v, v)
        ).evaluate()
        for bad in (
            lambda: rc.Sampler(rc.RunDiscreteVarAllSpec([rc.Scalar(1.0, (6,))])).sample(c),
            lambda: rc.Sampler(rc.RandomSampleSpec((2,), seeder=lambda _: None)).sample(c),
            lambda: rc.Sampler(rc.RandomSampleSpec((2,), seeder=lambda _: 0)).sample(
                rc.DiscreteVar(rc.Array(x), rc.Tag.new_with_random_uuid(rc.Array(neg)))
            ),
            lambda: rc.RunDiscreteVarAllSpec([rc.Scalar(1.0, (6, 2))]),
        ):
            try:
                bad()
            except (ValueError, TypeError):
                pass

    for i in range(200):
        step(i)
    gc.collect()
    before = resident()
    for i in range(1000):
        step(i)
    gc.collect()
    growth = resident() - before
    assert growth < 8 * (1 << 20), f"resident memory grew by {growth / (1 << 20):.1f} MB"


def test_estimate_over_two_independent_groups():
    rng = np.random.default_rng(8)
    px, py = rng.random(4) + 0.1, rng.random(3) + 0.1
    px, py = px / px.sum(), py / py.sum()
    gx = rc.Tag.new_with_random_uuid(rc.Array(px, "px"), name="gx")
    gy = rc.Tag.new_with_random_uuid(rc.Array(py, "py"), name="gy")
    x, y = rng.standard_normal((4, 2)), rng.standard_normal((3, 2))
    vx = rc.DiscreteVar(rc.Array(x, "x"), gx, name="vx")
    vy = rc.DiscreteVar(rc.Array(y, "y"), gy, name="vy")
    s = rc.Sampler(rc.RunDiscreteVarAllSpec.create_full_from_circuits(rc.Add(vx, vy)))
    mean = s.estimate(rc.Cumulant(rc.Add(vx, vy)))
    np.testing.assert_allclose(value(mean), px @ x + py @ y)
    np.testing.assert_allclose(value(s.estimate(rc.Cumulant(vx, vy))), 0, atol=1e-12)
    cx = x - px @ x
    np.testing.assert_allclose(
        value(s.estimate(rc.Cumulant(vx, vx))), np.einsum("s,si,sj->ij", px, cx, cx), atol=1e-12
    )
    nested = s.estimate(rc.Cumulant(rc.Add(vx, rc.Cumulant(vy))))
    np.testing.assert_allclose(value(nested), px @ x + py @ y)


def test_remix_style_run_on_dataset():
    """REMIX day 5: the embeddings of a Module-built model become a DiscreteVar over a small
    dataset and RunDiscreteVarAllSpec runs every datum as a batch; each row equals the model
    evaluated on that datum alone, and a random spec's rows are rows of that batch."""
    from test_remix_model import SEQ, VOCAB, build_model, make_params

    p = make_params(3)
    model = build_model(p)
    rng = np.random.default_rng(4)
    tokens = rng.integers(0, VOCAB, size=(5, SEQ))
    embeds = rc.Array(p["tok"][tokens], "embeds_data")
    group = rc.DiscreteVar.uniform_probs_and_group(5, name="data")
    c = model.update("tok_embeds", lambda _: rc.DiscreteVar(embeds, group, name="tok_embeds"))
    batch = rc.Sampler(rc.RunDiscreteVarAllSpec([group])).sample(c)
    assert batch.shape == (5, SEQ, VOCAB) and batch.name == "logits_sample"
    got = value(batch)
    for i in range(5):
        one = model.update("tok_embeds", lambda _: rc.Array(p["tok"][tokens[i]], "e"))
        np.testing.assert_allclose(got[i], value(one), rtol=1e-6, atol=1e-8)
    drawn = rc.Sampler(rc.RandomSampleSpec((3,), seeder=rc.default_hash_seeder(5))).sample(c)
    idx = draws(np.full(5, 0.2), 3, hash_seed(group, 5))
    np.testing.assert_allclose(value(drawn), got[idx], rtol=1e-6, atol=1e-8)


def test_error_too_many_axes():
    c = rc.Scalar(1.0, (1,) * 20, "c")
    with pytest.raises(ValueError, match="20 sample axes on a circuit of rank 20 make 40 axes"):
        rc.Sampler(rc.RandomSampleSpec((1,) * 20)).sample(c)
    with pytest.raises(ValueError, match="a sample shape of 33 axes"):
        rc.RandomSampleSpec((1,) * 33)


def random_circuit(rng, leaves, depth):
    """A random circuit of shape (3,) over leaves (each of shape (3,))."""
    if depth == 0:
        return leaves[rng.integers(len(leaves))]
    kind = rng.integers(5)
    a = random_circuit(rng, leaves, depth - 1)
    if kind == 0:
        return rc.Add(a, random_circuit(rng, leaves, depth - 1))
    if kind == 1:
        b = random_circuit(rng, leaves, depth - 1)
        m = rc.Array(rng.standard_normal((3, 3)))
        return rc.Einsum.from_einsum_string("i,ij,j->i", a, m, b)
    if kind == 2:
        return rc.GeneralFunction.new_by_name(a, spec_name="tanh")
    if kind == 3:
        b = random_circuit(rng, leaves, depth - 1)
        return rc.Index(rc.Concat(a, b, axis=0), [np.array([5, 0, 3])])
    outer = rc.Rearrange.from_string(rc.Einsum.from_einsum_string("i,j->ij", a, a), "a b -> (a b)")
    return rc.Index(outer, [slice(2, 5)])


@pytest.mark.parametrize("seed", range(12))
def test_random_circuits_against_per_datum_evaluation(seed):
    rng = np.random.default_rng(seed)
    gx = rc.DiscreteVar.uniform_probs_and_group(4, name="gx")
    gy = rc.DiscreteVar.uniform_probs_and_group(2, name="gy")
    x, y = rng.standard_normal((4, 3)), rng.standard_normal((2, 3))
    vx = rc.DiscreteVar(rc.Array(x, "x"), gx, name="vx")
    vy = rc.DiscreteVar(rc.Array(y, "y"), gy, name="vy")
    leaves = [vx, vy, rc.Array(rng.standard_normal(3), "k")]
    c = random_circuit(rng, leaves, 3)
    out = rc.Sampler(rc.RunDiscreteVarAllSpec([gx, gy])).sample(c)
    assert out.shape == (4, 2, 3)
    got = value(out)
    for i in range(4):
        for j in range(2):
            one = c.update("vx", lambda _: rc.Array(x[i], "xi")).update(
                "vy", lambda _: rc.Array(y[j], "yj")
            )
            np.testing.assert_allclose(got[i, j], value(one), rtol=1e-9, atol=1e-12)
    spec = rc.RandomSampleSpec((5,), seeder=rc.default_hash_seeder(seed))
    drawn = value(rc.Sampler(spec).sample(c))
    ix = draws(np.full(4, 0.25), 5, hash_seed(gx, seed))
    iy = draws(np.full(2, 0.5), 5, hash_seed(gy, seed))
    np.testing.assert_allclose(drawn, got[ix, iy], rtol=1e-9, atol=1e-12)
