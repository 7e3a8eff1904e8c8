"""rc's sample specs and Sampler: RandomSampleSpec, RunDiscreteVarAllSpec, Sampler,
default_var_matcher, default_hash_seeder and factored_cumulant_expectation_rewrite.

The walk that replaces DiscreteVars and carries the sample axes up to the root is C
(sample/sampler.c, sample/sample_spec.c); these classes hold the settings and build the small
weight circuits that estimation uses.
"""

from typing import Callable, List, Optional, Sequence

from . import _circuits
from ._circuits import (
    Add,
    Cumulant,
    DiscreteVar,
    Einsum,
    Expander,
    GeneralFunction,
    Index,
    IterativeMatcher,
    Matcher,
    Scalar,
    Transform,
    restrict,
)
from ._optimize import OptimizationSettings

_MAX_NDIM = 32  # the core's CC_MAX_NDIM


def default_var_matcher() -> IterativeMatcher:
    """rc's default_var_matcher: every DiscreteVar, not looking below one, nor below a
    Cumulant (a Cumulant's children are sampled when it is estimated)."""
    return restrict(Matcher(DiscreteVar), term_if_matches=True, term_early_at=Cumulant)


def _random_i64() -> int:
    """A base seed from torch's generator, or numpy's where torch is not installed."""
    try:
        import torch
    except ImportError:
        import numpy

        return int(numpy.random.randint(-(2**63), 2**63 - 1, dtype=numpy.int64))
    return int(torch.randint(-(2**63), 2**63 - 1, size=(), dtype=torch.long))


def default_hash_seeder(base_seed: Optional[int] = None) -> Callable:
    """rc's default_hash_seeder: the seed of a probs_and_group is the first 8 bytes of its hash
    (a little-endian int64) xor base_seed. base_seed None draws one from torch's generator
    (numpy's without torch), so torch.manual_seed makes it reproducible."""
    base = _random_i64() if base_seed is None else int(base_seed)

    def seeder(circuit):
        return int.from_bytes(circuit.hash[:8], "little", signed=True) ^ base

    return seeder


def _count(shape) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


def _sum_all(c, name=None):
    return Einsum((c, tuple(range(c.ndim))), out_axes=(), name=name)


def _reciprocal(c):
    return GeneralFunction.new_by_name(c, spec_name="reciprocal")


class SampleSpec:
    """What rc's sample specs share: sample_var, the weights of the samples, the transform and
    expander that sample."""

    def _c_args(self):
        raise NotImplementedError

    def sample_var(self, d, device_dtype=None):
        """The circuit replacing the DiscreteVar d: the sample shape in front of d's shape."""
        return _circuits._sample_var(self._c_args(), d)

    def get_sample_shape(self):
        return _circuits._sample_shape(self._c_args())

    def get_empirical_weights(self):
        raise NotImplementedError

    def get_overall_weight(self):
        return Scalar(float(_count(self.get_sample_shape())), ())

    def get_transform(self, device_dtype=None) -> Transform:
        return Transform(lambda c: self.sample_var(c))

    def get_sample_expander(
        self,
        var_matcher=None,
        default_fancy_validate=False,
        default_assert_any_found=False,
        suffix="sample",
        device_dtype=None,
    ) -> Expander:
        """An Expander replacing every DiscreteVar that var_matcher finds by sample_var (two
        matches on one node are an error). It does not add the sample axes when nothing is
        found; Sampler.sample does."""
        matcher = default_var_matcher() if var_matcher is None else IterativeMatcher(var_matcher)
        return Expander(
            (matcher, self.get_transform()),
            ban_multiple_matches_on_node=True,
            default_fancy_validate=default_fancy_validate,
            default_assert_any_found=default_assert_any_found,
            suffix=suffix,
        )


class RandomSampleSpec(SampleSpec):
    """rc's RandomSampleSpec: each DiscreteVar becomes a gather of its values' rows by
    multinomial(probs_and_group, seed, shape, replace), the seed being seeder(probs_and_group),
    so variables of one group draw the same rows. With simplify, draws from a Tag of an Array or
    Scalar are made at once and the gather is an Index. The draws use the project's own seeded
    generator (not torch's), so they differ from rc's for the same seed."""

    def __init__(
        self,
        shape=(),
        replace=True,
        simplify=True,
        probs_and_group_evaluation_settings=None,
        seeder=None,
    ):
        self._shape = tuple(int(s) for s in shape)
        if len(self._shape) > _MAX_NDIM:
            raise ValueError(
                f"RandomSampleSpec: a sample shape of {len(self._shape)} axes (at most "
                f"{_MAX_NDIM} are supported)"
            )
        for i, s in enumerate(self._shape):
            if s < 0:
                raise ValueError(f"RandomSampleSpec: sample shape axis {i} is {s}, not >= 0")
        self._replace = bool(replace)
        self.simplify = bool(simplify)
        self.probs_and_group_evaluation_settings = (
            OptimizationSettings()
            if probs_and_group_evaluation_settings is None
            else probs_and_group_evaluation_settings
        )
        self.seeder = default_hash_seeder() if seeder is None else seeder
        _circuits._sample_shape(self._c_args())

    @property
    def shape(self):
        return self._shape

    @property
    def replace(self):
        return self._replace

    def _c_args(self):
        return ("random", self._shape, self._replace, self.simplify, self.seeder)

    def get_empirical_weights(self):
        return Scalar(1.0 / _count(self._shape), self._shape, "empirical_weights_for_sampled")

    def __repr__(self):
        return (
            f"RandomSampleSpec(shape={self._shape}, replace={self._replace}, "
            f"simplify={self.simplify})"
        )


class RunDiscreteVarAllSpec(SampleSpec):
    """rc's RunDiscreteVarAllSpec: every row (or the subset slice) of each listed group, one
    sample axis per group in order; a DiscreteVar of group i takes its rows on axis i and is
    repeated along the others. The groups' probabilities weigh the rows when estimating."""

    def __init__(self, groups: Sequence, subsets: Optional[Sequence[slice]] = None):
        self._groups = list(groups)
        given = None if subsets is None else list(subsets)
        self._shape = _circuits._sample_shape(("all", self._groups, given))
        self._subsets = [slice(None, None)] * len(self._groups) if given is None else given

    @property
    def groups(self) -> List:
        return list(self._groups)

    @property
    def subsets(self) -> List[slice]:
        return list(self._subsets)

    @staticmethod
    def create_full_from_circuits(*circuits) -> "RunDiscreteVarAllSpec":
        """Every group of the DiscreteVars in circuits; another random variable kind
        (StoredCumulantVar) is SampleUnhandledVarErrorError."""
        groups = {}
        for circuit in circuits:
            for c in circuit.get(Matcher(DiscreteVar, _circuits.StoredCumulantVar)):
                if c.is_stored_cumulant_var():
                    raise _circuits.SampleUnhandledVarErrorError(
                        f"This var wasn't handled by the corresponding function: "
                        f"StoredCumulantVar '{c.name}' cannot be run over all its values"
                    )
                groups.setdefault(c.probs_and_group, None)
        return RunDiscreteVarAllSpec(list(groups))

    def _c_args(self):
        return ("all", self._groups, self._subsets)

    def indexed_groups(self):
        return [Index(g, [s]) for g, s in zip(self._groups, self._subsets)]

    def _unnormalised_weights(self):
        return Einsum.new_outer_product(*self.indexed_groups())

    def get_empirical_weights(self):
        w = self._unnormalised_weights()
        return Einsum.new_outer_product(w, _reciprocal(_sum_all(w)))

    def get_overall_weight(self):
        return _sum_all(self._unnormalised_weights())

    def __repr__(self):
        return f"RunDiscreteVarAllSpec(groups={self._groups!r}, subsets={self._subsets!r})"


SampleSpecIn = (RandomSampleSpec, RunDiscreteVarAllSpec)


def _as_transform(t) -> Transform:
    return t if isinstance(t, Transform) else Transform(t)


class Sampler:
    """rc's Sampler: sample replaces DiscreteVars by draws (sample shape in front of the
    circuit's), estimate replaces Cumulants by estimates from samples."""

    def __init__(
        self,
        sample_spec,
        var_matcher=None,
        cumulant_matcher=None,
        suffix: Optional[str] = "sample",
        run_on_sampled=None,
    ):
        if not isinstance(sample_spec, SampleSpecIn):
            raise TypeError(
                f"Sampler: sample_spec must be a RandomSampleSpec or RunDiscreteVarAllSpec, "
                f"not {type(sample_spec).__name__}"
            )
        self._spec = sample_spec
        self._var_matcher = (
            default_var_matcher() if var_matcher is None else IterativeMatcher(var_matcher)
        )
        self._cumulant_matcher = IterativeMatcher(
            Cumulant if cumulant_matcher is None else cumulant_matcher
        )
        self._suffix = suffix
        self._run_on_sampled = (
            Transform.ident() if run_on_sampled is None else _as_transform(run_on_sampled)
        )
        self._estimated = {}

    @property
    def sample_spec(self):
        return self._spec

    @property
    def var_matcher(self) -> IterativeMatcher:
        return self._var_matcher

    @property
    def cumulant_matcher(self) -> IterativeMatcher:
        return self._cumulant_matcher

    @property
    def run_on_sampled(self) -> Transform:
        return self._run_on_sampled

    @property
    def suffix(self):
        return self._suffix

    @property
    def expander(self) -> Expander:
        return self._spec.get_sample_expander(self._var_matcher, suffix=self._suffix)

    def sample(self, circuit):
        """Every DiscreteVar the var matcher finds replaced by its draw; the result has shape
        sample shape + circuit.shape (repeated along the sample axes when nothing was
        sampled), then run_on_sampled."""
        out = _circuits._sample(circuit, self._var_matcher, self._spec._c_args(), self._suffix)
        return self._run_on_sampled.run(out)

    def sample_and_evaluate(self, circuit):
        return self.sample(circuit).evaluate()

    def estimate(self, circuit):
        """Every Cumulant the cumulant matcher finds (below others too) replaced by its
        estimate: K0 is 1, K1(x) the weighted mean of sample(x) over the sample axes, higher
        cumulants are rewritten (factored_cumulant_expectation_rewrite) and estimated again."""
        return self._estimate(circuit, self._cumulant_matcher)

    def estimate_and_sample(self, circuit):
        return self.sample(self.estimate(circuit))

    def estimate_and_evaluate(self, circuit):
        return self.estimate(circuit).evaluate()

    def __call__(self, circuit):
        return self.estimate_and_sample(circuit)

    def _estimate(self, circuit, matcher):
        done = self._estimated.get(circuit)
        if done is not None:
            return done
        result = matcher.match_iterate(circuit)
        updated = result.updated
        children = circuit.children
        if updated is None or isinstance(updated, IterativeMatcher):
            per_child = [matcher if updated is None else updated] * len(children)
        elif isinstance(updated, _circuits.Finished):
            per_child = [None] * len(children)
        else:
            per_child = list(updated)
        new_children = [
            c if m is None or isinstance(m, _circuits.Finished) else self._estimate(c, m)
            for c, m in zip(children, per_child)
        ]
        out = circuit
        if any(a is not b for a, b in zip(new_children, children)):
            out = circuit.map_children_enumerate(lambda i, _c: new_children[i])
        if result.found and out.is_cumulant():
            out = self._estimate_cumulant(out, matcher)
        self._estimated[circuit] = out
        return out

    def _estimate_cumulant(self, cum, matcher):
        children = cum.children
        if len(children) == 0:
            return Scalar(1.0, ())
        if len(children) == 1:
            return self._expectation(self.sample(children[0]))
        return self._estimate(factored_cumulant_expectation_rewrite(cum), matcher)

    def _expectation(self, sampled):
        k = len(self._spec.get_sample_shape())
        weights = self._spec.get_empirical_weights()
        normed = Einsum.new_outer_product(weights, _reciprocal(_sum_all(weights)))
        name = None
        if self._suffix is not None and sampled.name:
            name = f"{sampled.name}_{self._suffix}_expectation"
        return Einsum(
            (normed, tuple(range(k))),
            (sampled, tuple(range(sampled.ndim))),
            out_axes=tuple(range(k, sampled.ndim)),
            name=name,
        )


def _set_partitions(items):
    if not items:
        yield []
        return
    first, rest = items[0], items[1:]
    for smaller in _set_partitions(rest):
        for i in range(len(smaller)):
            yield smaller[:i] + [[first] + smaller[i]] + smaller[i + 1 :]
        yield [[first]] + smaller


def factored_cumulant_expectation_rewrite(circuit):
    """rc's factored_cumulant_expectation_rewrite: a cumulant of n > 1 children as the
    expectation of the product of its centred children minus, for each partition of the
    children into at least two blocks of at least two, the outer product of the blocks'
    cumulants (axes back in the children's order)."""
    children = circuit.children
    if len(children) <= 1:
        return circuit
    starts, at = [], 0
    for c in children:
        starts.append(at)
        at += c.ndim
    centred = [Add.minus(c, Cumulant(c)) for c in children]
    terms = [(Cumulant(Einsum.new_outer_product(*centred)), 1.0)]
    for blocks in _set_partitions(list(range(len(children)))):
        if len(blocks) == 1 or any(len(b) < 2 for b in blocks):
            continue
        operands = []
        for b in blocks:
            axes = tuple(starts[i] + j for i in b for j in range(children[i].ndim))
            operands.append((Cumulant(*[children[i] for i in b]), axes))
        terms.append((Einsum(*operands, out_axes=tuple(range(at))), -1.0))
    return Add.from_weighted_nodes(*terms)
