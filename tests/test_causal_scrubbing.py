"""circuits.causal_scrubbing against a plain torch reference: the data every sampler kind draws
(replaying the same generator in the same order), the scrubbed outputs, the sharing of equal
branches, and the error paths."""

import uuid

import pytest

torch = pytest.importorskip("torch")


import circuits as rc  # noqa: E402
from circuits.causal_scrubbing.dataset import Dataset  # noqa: E402
from circuits.causal_scrubbing.experiment import (  # noqa: E402
    Experiment,
    ExperimentEvalSettings,
    ScrubbedExperiment,
)
from circuits.causal_scrubbing.hypothesis import (  # noqa: E402
    Correspondence,
    CondSampler,
    ExactSampler,
    FixedOtherSampler,
    FuncSampler,
    IllegalCorrespondenceError,
    InterpNode,
    PoolAnnotation,
    UncondSampler,
    UncondTogetherSampler,
    corr_root_matcher,
)
from circuits.causal_scrubbing.testing_utils import IntDataset, loss_fn  # noqa: E402

N = 24


def make_ds(seed=0, n=N):
    g = torch.Generator().manual_seed(seed)
    xs = torch.randint(0, 4, (n, 2), generator=g)
    return IntDataset({"xs": rc.Array(xs, "xs"), "labels": rc.Array(xs.sum(1), "labels")})


def model():
    """out = 3 * xs[0] + xs[1] * xs[1], with 'a' and 'b' the two terms."""
    xs = rc.Array(torch.zeros(2, dtype=torch.int64), "xs")
    a = rc.Einsum.from_einsum_string(",->", rc.Index(xs, (0,)), rc.Scalar(3, ()), name="a")
    b1 = rc.Index(xs, (1,), name="b1")
    b = rc.Einsum.from_einsum_string(",->", b1, b1, name="b")
    return rc.Add(a, b, name="out")


def f_ref(xa, xb):
    return 3 * xa[:, 0] + xb[:, 1] * xb[:, 1]


def uniform_rows(n, count, g):
    return torch.multinomial(torch.ones(n), count, replacement=True, generator=g)


def func_rows(ref_vals, src_vals, g):
    """The reference FuncSampler: per distinct value (in sorted order), draws among the source
    rows with that value."""
    idxs = torch.empty(len(ref_vals), dtype=torch.int64)
    for v in torch.unique(ref_vals):
        r = torch.nonzero(ref_vals == v).flatten()
        s = torch.nonzero(src_vals == v).flatten()
        idxs[r] = s[torch.multinomial(torch.ones(len(s)), len(r), replacement=True, generator=g)]
    return idxs


def scrub(sampler_a, sampler_b, ds, ref, other=None, seed=5):
    root = InterpNode(ExactSampler(), "root", other_inputs_sampler=other or ExactSampler())
    ia = root.make_descendant(sampler_a, "ia")
    ib = root.make_descendant(sampler_b, "ib")
    corr = Correspondence()
    corr.add(root, corr_root_matcher)
    corr.add(ia, rc.IterativeMatcher("a"))
    corr.add(ib, rc.IterativeMatcher("b"))
    exp = Experiment(model(), ds, corr, random_seed=seed)
    return exp.scrub(ref), (root, ia, ib)


def fa(d):
    return d.xs.value[:, 0]


@pytest.mark.parametrize(
    "kind", ["exact", "uncond", "func", "together", "fixed", "pooled_func", "cond_default"]
)
def test_samplers_match_torch_reference(kind):
    ds = make_ds(0)
    ref = make_ds(1)
    g = torch.Generator().manual_seed(5)
    n = len(ds)
    sx, rx = ds.xs.value, ref.xs.value
    if kind == "exact":
        sa, sb = ExactSampler(), ExactSampler()
        xa, xb = rx, rx
    elif kind == "uncond":
        sa, sb = UncondSampler(), UncondSampler()
        xa = sx[uniform_rows(n, N, g)]
        xb = sx[uniform_rows(n, N, g)]
    elif kind == "func":
        sa, sb = FuncSampler(fa), UncondSampler()
        xa = sx[func_rows(rx[:, 0], sx[:, 0], g)]
        xb = sx[uniform_rows(n, N, g)]
    elif kind == "together":
        sa, sb = UncondTogetherSampler(), UncondTogetherSampler()
        torch.randint(0, 1, (), generator=g)
        xa = sx[uniform_rows(n, N, g)]
        torch.randint(0, 1, (), generator=g)
        xb = xa
    elif kind == "fixed":
        other = make_ds(7)
        sa, sb = FixedOtherSampler(other), ExactSampler()
        xa, xb = other.xs.value, rx
    elif kind == "pooled_func":
        pool = PoolAnnotation(1)
        sa, sb = FuncSampler(fa, pool), FuncSampler(fa, pool)
        torch.randint(0, 1, (), generator=g)
        xa = sx[func_rows(rx[:, 0], sx[:, 0], g)]
        torch.randint(0, 1, (), generator=g)
        xb = xa
    else:
        sa, sb = ExactSampler(), UncondSampler()
        xa, xb = rx, sx[uniform_rows(n, N, g)]
    sc, (root, ia, ib) = scrub(sa, sb, ds, ref)
    assert torch.equal(sc.sampled_inputs[ia].xs.value, xa)
    assert torch.equal(sc.sampled_inputs[ib].xs.value, xb)
    want = f_ref(xa, xb)
    for settings in [
        ExperimentEvalSettings(),
        ExperimentEvalSettings(optimize=False),
        ExperimentEvalSettings(batch_size=5),
    ]:
        assert torch.equal(sc.evaluate(settings), want)


def test_func_sampler_keeps_the_feature():
    ds, ref = make_ds(0, 200), make_ds(1, 50)
    sc, (_, ia, _) = scrub(FuncSampler(fa), ExactSampler(), ds, ref)
    assert torch.equal(sc.sampled_inputs[ia].xs.value[:, 0], ref.xs.value[:, 0])


def test_random_sample_spec_draws_reference_rows():
    ds, ref = make_ds(0), make_ds(1)
    sc, _ = scrub(UncondSampler(), FuncSampler(fa), ds, ref)
    every = sc.evaluate()
    drawn = sc.evaluate(ExperimentEvalSettings(run_on_all=False, num_samples=50))
    assert drawn.shape == (50,)
    assert set(drawn.tolist()) <= set(every.tolist())
    again = sc.evaluate(ExperimentEvalSettings(run_on_all=False, num_samples=50))
    assert torch.equal(drawn, again)
    assert sc.evaluate(ExperimentEvalSettings(run_on_all=False)).shape == (N,)


def test_other_inputs_sampler_feeds_unclaimed_inputs():
    ds, ref = make_ds(0), make_ds(1)
    root = InterpNode(ExactSampler(), "root", other_inputs_sampler=UncondSampler())
    ia = root.make_descendant(ExactSampler(), "ia")
    corr = Correspondence()
    corr.add(root, corr_root_matcher)
    corr.add(ia, rc.IterativeMatcher("a"))
    sc = Experiment(model(), ds, corr, random_seed=3).scrub(ref)
    g = torch.Generator().manual_seed(3)
    other = ds.xs.value[uniform_rows(len(ds), N, g)]
    assert torch.equal(sc.evaluate(), f_ref(ref.xs.value, other))


def test_equal_branches_are_one_subcircuit():
    """Branches that get the same data are the same node: the scrubbed circuit has as many
    distinct DiscreteVars as distinct sampled datasets (the branches a and b cover every input)."""
    ds, ref = make_ds(0), make_ds(1)
    sc, _ = scrub(ExactSampler(), ExactSampler(), ds, ref)
    base = Experiment(model(), ds, _corr_root_only(), random_seed=5).scrub(ref, group=sc.group)
    assert sc.circuit == base.circuit
    sc2, _ = scrub(UncondTogetherSampler(), UncondTogetherSampler(), ds, ref)
    vars_ = {c for c in sc2.circuit.get(rc.DiscreteVar)}
    assert len(vars_) == 1
    sc3, _ = scrub(UncondSampler(), UncondSampler(), ds, ref)
    assert len({c for c in sc3.circuit.get(rc.DiscreteVar)}) == 2


def _corr_root_only():
    corr = Correspondence()
    corr.add(
        InterpNode(ExactSampler(), "root", other_inputs_sampler=ExactSampler()), corr_root_matcher
    )
    return corr


def test_scrub_by_count_and_loss():
    ds = make_ds(0)
    sc = Experiment(model(), ds, _corr_root_only(), random_seed=2).scrub(10)
    assert isinstance(sc, ScrubbedExperiment)
    out = sc.evaluate()
    assert torch.equal(out, f_ref(sc.ref_ds.xs.value, sc.ref_ds.xs.value))
    assert loss_fn(sc.ref_ds, out) == (out.float() - sc.ref_ds.labels.value).abs().mean().item()


def test_memory_bound_gives_same_output():
    ds = make_ds(0, 400)
    sc, _ = scrub(UncondSampler(), FuncSampler(fa), ds, make_ds(1, 400))
    small = ExperimentEvalSettings(optim_settings=rc.OptimizationSettings(max_memory=4000))
    assert torch.equal(sc.evaluate(small), sc.evaluate(ExperimentEvalSettings(optimize=False)))


def test_printing():
    ds, ref = make_ds(0), make_ds(1)
    sc, (root, ia, ib) = scrub(FuncSampler(fa), UncondSampler(), ds, ref)
    text = sc.print(rc.PrintOptions(), repr=True)
    assert "cond_sampler=FuncSampler(d=IntDatum(" in text and "f(d)=" in text
    tree = root.print(rc.PrintOptions(), sampled_inputs=sc.sampled_inputs, repr=True)
    assert "root" in tree and "ia" in tree and "ib" in tree
    assert "UncondSampler(d=IntDatum(" in tree
    assert str(ia).startswith("InterpNode(name=ia, cond_sampler=FuncSampler")


def test_dataset():
    ds = make_ds(0)
    assert len(ds) == N and ds.xs is ds.arrs["xs"]
    assert len(ds[3]) == 1 and len(ds[2:7]) == 5
    assert torch.equal(ds[torch.tensor([4, 1])].xs.value, ds.xs.value[[4, 1]])
    assert hash(ds[:]) == hash(ds) and ds[:] == ds
    assert Dataset.unwrap(ds) is ds and IntDataset.unwrap(ds) is ds
    assert ds.input_names == {"xs", "labels"}
    d2 = Dataset([rc.Array(torch.zeros(3), "x"), rc.Array(torch.zeros(3), "y")], input_names={"x"})
    assert d2.input_names == {"x"}
    with pytest.raises(TypeError, match="expected a IntDataset, got a Dataset"):
        IntDataset.unwrap(d2)
    with pytest.raises(ValueError, match="same `len`, found instead x: 3, y: 4"):
        Dataset([rc.Array(torch.zeros(3), "x"), rc.Array(torch.zeros(4), "y")])
    with pytest.raises(ValueError, match="two different Arrays with the same name"):
        Dataset([rc.Array(torch.zeros(3), "x"), rc.Array(torch.ones(3), "x")])
    with pytest.raises(ValueError, match=r"input names \['z'\] are not among its Arrays"):
        Dataset([rc.Array(torch.zeros(3), "x")], input_names={"z"})
    with pytest.raises(ValueError, match="key 'y' names an Array called 'x'"):
        Dataset({"y": rc.Array(torch.zeros(3), "x")})
    with pytest.raises(AttributeError):
        ds.nothing


def test_correspondence_errors():
    ds = make_ds(0)
    root = InterpNode(ExactSampler(), "root")
    child = root.make_descendant(UncondSampler(), "c")
    corr = Correspondence()
    with pytest.raises(IllegalCorrespondenceError, match="Empty correspondence has no root"):
        corr.get_root()
    corr.add(root, corr_root_matcher)
    with pytest.raises(ValueError, match="Node already in correspondence"):
        corr.add(root, corr_root_matcher)
    with pytest.raises(ValueError, match="Different node with same name"):
        corr.add(InterpNode(ExactSampler(), "root"), rc.IterativeMatcher("a"))
    with pytest.raises(TypeError, match="expected an InterpNode, got str"):
        corr.add("root", corr_root_matcher)
    with pytest.raises(ValueError, match="Node not found in correspondence"):
        corr.replace(child, rc.IterativeMatcher("a"))
    with pytest.raises(IllegalCorrespondenceError, match="not in the corr itself"):
        Experiment(model(), ds, corr)
    corr.add(child, rc.IterativeMatcher("nothing_named_so"))
    with pytest.raises(
        IllegalCorrespondenceError, match="'c' matches nothing in the circuit 'out'"
    ):
        Experiment(model(), ds, corr)
    corr.replace(child, rc.IterativeMatcher("a"))
    Experiment(model(), ds, corr)

    # the model branch of the root must be the whole model
    bad = Correspondence()
    r2 = InterpNode(ExactSampler(), "r2")
    bad.add(r2, rc.IterativeMatcher("a"))
    with pytest.raises(IllegalCorrespondenceError, match="'r2' must map to corr_root_matcher"):
        Experiment(model(), ds, bad)

    two = Correspondence()
    two.add(InterpNode(ExactSampler(), "x"), corr_root_matcher)
    two.add(InterpNode(ExactSampler(), "y"), corr_root_matcher)
    with pytest.raises(IllegalCorrespondenceError, match="multiple roots"):
        two.get_root()
    assert corr.get_by_name("c") is child
    with pytest.raises(KeyError, match="no interpretation node named 'zz'"):
        corr.get_by_name("zz")


def test_branch_reaching_no_input_and_child_outside_parent():
    ds = make_ds(0)
    root = InterpNode(ExactSampler(), "root")
    ia = root.make_descendant(ExactSampler(), "ia")
    corr = Correspondence()
    corr.add(root, corr_root_matcher)
    corr.add(ia, rc.IterativeMatcher("a"))
    c = model()
    nothing = rc.Add(c, rc.Scalar(1.0, (), name="sc"), name="top")
    corr.replace(ia, rc.IterativeMatcher("sc"))
    with pytest.raises(IllegalCorrespondenceError, match="'ia' reaches none of the inputs"):
        Experiment(nothing, ds, corr)

    # a grandchild mapped outside its parent's branch
    root = InterpNode(ExactSampler(), "root")
    ia = root.make_descendant(ExactSampler(), "ia")
    ib = ia.make_descendant(ExactSampler(), "ib")
    corr = Correspondence()
    corr.add(root, corr_root_matcher)
    corr.add(ia, rc.IterativeMatcher("a"))
    corr.add(ib, rc.IterativeMatcher("b"))
    msg = "'ib' reaches an input of 'root', which is not its parent"
    with pytest.raises(IllegalCorrespondenceError, match=msg):
        Experiment(model(), ds, corr).scrub(5)


def test_sampler_errors():
    ds = make_ds(0)
    with pytest.raises(ValueError, match="FixedOtherSampler: its dataset has 3 data but the "):
        FixedOtherSampler(ds[:3])(ds[:5], ds)
    with pytest.raises(ValueError, match="FuncSampler: no datum of the source dataset"):
        FuncSampler(lambda d: d.xs.value[:, 0])(make_ds(1)[:5], ds[ds.xs.value[:, 0] == 0])
    with pytest.raises(NotImplementedError, match="CondSampler does not define __call__"):
        CondSampler()(ds, ds)
    with pytest.raises(ValueError, match="PoolAnnotation: size must be positive, got 0"):
        PoolAnnotation(0)
    with pytest.raises(ValueError, match="num_samples should be None"):
        ExperimentEvalSettings(num_samples=3)
    with pytest.raises(ValueError, match="batch_size must be positive, got 0"):
        ExperimentEvalSettings(batch_size=0)
    assert UncondTogetherSampler() == UncondTogetherSampler()
    assert UncondTogetherSampler(uuid.uuid4()) != UncondTogetherSampler()
    exp = Experiment(model(), ds, _corr_root_only())
    with pytest.raises(ValueError, match=r"group has shape \(4,\), should have shape \(5,\)"):
        exp.scrub(5, group=rc.DiscreteVar.uniform_probs_and_group(4))
