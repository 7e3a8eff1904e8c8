"""Causal-scrubbing experiments (rc's rust_circuit.causal_scrubbing.experiment).

Experiment.scrub treeifies the model as far as the correspondence needs, wraps its inputs in
DiscreteVars over the reference group, and gives every branch the data sampled for its
interpretation node. Nodes are hash-consed, so two branches that end up with the same sampled
inputs are one and the same subcircuit: the scrubbed circuit (and its evaluation) grows with the
number of distinct (node, sampled dataset) pairs, not with the number of paths through the
model."""

from __future__ import annotations

from typing import Dict, Literal, Optional, Union
from warnings import warn

import attrs
import torch

from .. import (
    Circuit,
    DiscreteVar,
    IterativeMatcher,
    Matcher,
    OptimizationSettings,
    PrintHtmlOptions,
    PrintOptions,
    RandomSampleSpec,
    RunDiscreteVarAllSpec,
    Sampler,
    Tag,
    TorchDeviceDtypeOp,
    batch_to_concat,
    cast_circuit,
    new_traversal,
    optimize_and_evaluate,
    restrict,
    substitute_all_modules,
)
from .dataset import Dataset, color_dataset
from .hypothesis import (
    Correspondence,
    IllegalCorrespondenceError,
    InterpNode,
    SampledInputs,
    to_inputs,
)

ExperimentCheck = Union[bool, Literal["fast"]]


class ExperimentEvalSettings:
    """Settings for ScrubbedExperiment.evaluate.

    optimize: evaluate through optimize_and_evaluate with `optim_settings` (whose max_memory
        bounds the evaluation, which then runs in chunks along the sample axis), else with
        Circuit.evaluate.
    batch_size: if set, the sampled circuit is split into a Concat of batches of this many
        samples (batch_to_concat) before evaluation.
    run_on_all: run the scrubbed model on every reference datum in order (RunDiscreteVarAllSpec);
        otherwise on num_samples data drawn from the group (RandomSampleSpec seeded by the
        experiment's seed; all of the group's size by default).
    device_dtype: device and dtype to cast the sampled circuit to; a str names the device. None
        (the default here, where rc's is "cuda:0") keeps the circuit as it is."""

    def __init__(
        self,
        optimize: bool = True,
        optim_settings: Optional[OptimizationSettings] = None,
        batch_size: Optional[int] = None,
        run_on_all: bool = True,
        num_samples: Optional[int] = None,
        device_dtype: Union[TorchDeviceDtypeOp, str, None] = None,
    ):
        if run_on_all and num_samples is not None:
            raise ValueError(
                f"num_samples should be None when run_on_all is True, but was {num_samples}"
            )
        if batch_size is not None and batch_size <= 0:
            raise ValueError(
                f"ExperimentEvalSettings: batch_size must be positive, got {batch_size}"
            )
        self.optimize = optimize
        self.optim_settings = OptimizationSettings() if optim_settings is None else optim_settings
        self.batch_size = batch_size
        self.run_on_all = run_on_all
        self.num_samples = num_samples
        if isinstance(device_dtype, str):
            device_dtype = TorchDeviceDtypeOp(device_dtype, None)
        self.device_dtype = device_dtype

    def get_sampler(self, group: Circuit, seed: int) -> Sampler:
        """The Sampler that runs the scrubbed circuit on `group` (see run_on_all) and then
        substitutes its modules, batches and casts it."""
        if self.run_on_all:
            spec = RunDiscreteVarAllSpec([group])
        else:
            n = group.shape[0] if self.num_samples is None else self.num_samples
            spec = RandomSampleSpec(shape=(n,), seeder=lambda g: seed)

        def run_on_sampled(c: Circuit) -> Circuit:
            c = substitute_all_modules(c)
            if self.batch_size is not None:
                c = batch_to_concat(c, axis=0, batch_size=self.batch_size)
            return c if self.device_dtype is None else cast_circuit(c, self.device_dtype)

        return Sampler(spec, run_on_sampled=run_on_sampled)


class Experiment:
    """A causal-scrubbing experiment.

    circuit: the model (or the full behaviour) to scrub; its inputs are named by
        dataset.input_names and have no batch axis.
    dataset: the data both referenced and sampled from.
    corr: the hypothesised correspondence.
    random_seed: seeds the torch generator every sampling draws from.
    check: check the correspondence against the circuit (True), only cheaply ("fast"), or not at
        all (False)."""

    def __init__(
        self,
        circuit: Circuit,
        dataset: Dataset,
        corr: Correspondence,
        random_seed: int = 42,
        check: ExperimentCheck = True,
    ):
        self._base_circuit = circuit
        self._dataset = dataset
        self._nodes = corr
        self._check = check
        if check is not True:
            warn(
                f"You're using check = {check}, your correspondence may have issues that won't "
                "be caught!"
            )
        if check:
            corr.check(circuit, circuit_treeified=False)
            for i_node, m_node in corr.in_dfs_order():
                if not to_inputs(m_node, dataset).are_any_found(circuit):
                    raise IllegalCorrespondenceError(
                        f"the branch of interpretation node '{i_node.name}' reaches none of the "
                        f"inputs {sorted(dataset.input_names)}"
                    )
        self._seed = random_seed
        self._rng = torch.Generator()
        self._rng.manual_seed(random_seed)

    @property
    def base_circuit(self) -> Circuit:
        return self._base_circuit

    @property
    def dataset(self) -> Dataset:
        return self._dataset

    @property
    def nodes(self) -> Correspondence:
        return self._nodes

    def make_ref_ds(self, num_examples: int) -> Dataset:
        return self._dataset.sample(num_examples, self._rng)

    def sample(self, ref_ds: Dataset) -> SampledInputs:
        """Data drawn for every interpretation node, the root's reference being `ref_ds`."""
        return self._nodes.sample(self._dataset, self._rng, ref_ds)

    def scrub(
        self,
        ref_ds_or_num: Union[Dataset, int],
        group: Optional[Circuit] = None,
        treeify: bool = True,
        check: Optional[ExperimentCheck] = True,
    ) -> "ScrubbedExperiment":
        """Samples the interpretation and builds the scrubbed circuit (not evaluated).

        ref_ds_or_num: the reference dataset, or how many reference data to draw from the dataset.
        group: the probs_and_group of the input DiscreteVars; shape (len(ref_ds),), uniform by
            default.
        treeify: treeify explicitly first (and check the correspondence is injective on it)."""
        check = bool(self._check if check is None else check)
        if isinstance(ref_ds_or_num, int):
            ref_ds = self.make_ref_ds(ref_ds_or_num)
        else:
            ref_ds = ref_ds_or_num
        n = len(ref_ds)
        if group is None:
            group = DiscreteVar.uniform_probs_and_group(n)
        elif tuple(group.shape) != (n,):
            raise ValueError(f"group has shape {tuple(group.shape)}, should have shape {(n,)}")
        sampled_inputs = self.sample(ref_ds)
        if treeify:
            circuit = self.treeified(check)
            if check:
                self._nodes.check_injective_on_treeified(circuit)
        else:
            circuit = self._base_circuit
        circuit = self.wrap_in_var(circuit, ref_ds, group)
        circuit = self.replace_inputs(circuit, sampled_inputs)
        return ScrubbedExperiment(
            circuit,
            ref_ds=ref_ds,
            sampled_inputs=sampled_inputs,
            group=group,
            seed=self._seed,
            nodes=self._nodes,
        )

    def treeified(self, check: ExperimentCheck = True) -> Circuit:
        """The model with the inputs of each mapped branch made distinct: each input reached by
        interpretation node i is renamed "<input>_scrub_<i>" under a Tag named like the input
        (a fresh uuid per node), going down the interpretation depth first. Depends only on the
        matchers, not on any data."""
        root = self._nodes.get_root()
        circuit = self._base_circuit
        for i_node, m_node in self._nodes.in_dfs_order():

            def tag_input(a: Circuit, i_node: InterpNode = i_node) -> Circuit:
                input_name = a.name
                if i_node is not root:
                    a = a.cast_tag().node
                    if check:
                        self._check_tagged_by_parent(circuit, i_node, a, input_name)
                return Tag.new_with_random_uuid(
                    a.rename(f"{input_name}_scrub_{i_node.name}"), name=input_name
                )

            circuit = to_inputs(m_node, self._dataset).update(circuit, tag_input)
        return circuit

    def _check_tagged_by_parent(
        self, circuit: Circuit, i_node: InterpNode, a: Circuit, input_name: str
    ) -> None:
        prefix = f"{input_name}_scrub_"
        if not a.name.startswith(prefix):
            raise IllegalCorrespondenceError(
                f"interpretation node '{i_node.name}' reaches input '{input_name}' that no "
                "ancestor's branch reaches"
            )
        tagger = self._nodes.get_by_name(a.name[len(prefix) :])
        if i_node not in tagger.children:
            raise IllegalCorrespondenceError(
                f"interpretation node '{i_node.name}' reaches an input of '{tagger.name}', which "
                "is not its parent",
                i_node,
                tagger,
            )
        parents = self._nodes[tagger].get(circuit)
        for this_c in self._nodes[i_node].get(circuit):
            if not any(p.are_any_found(Matcher(this_c)) for p in parents):
                raise IllegalCorrespondenceError(
                    "Expected child to be a descendant of at least one parent but was not!",
                    tagger,
                    i_node,
                    this_c,
                )

    def wrap_in_var(self, circuit: Circuit, ref_ds: Dataset, group: Circuit) -> Circuit:
        """Each input (matched by name) replaced by a DiscreteVar "<name>_var" over `group`
        whose values are `ref_ds`'s Array of that name, to be replaced by sampled data later."""

        def to_var(c: Circuit) -> Circuit:
            return DiscreteVar(ref_ds.arrs[c.name], probs_and_group=group, name=f"{c.name}_var")

        return IterativeMatcher(set(ref_ds.input_names)).update(circuit, to_var)

    def replace_inputs(self, circuit: Circuit, sampled_inputs: SampledInputs) -> Circuit:
        """The inputs of each branch replaced by the data sampled for its interpretation node
        (the leaf's own draw, or an inner node's other-inputs draw), parents before children.
        Not an algebraic rewrite."""
        for parent, i_node, m_node in self._nodes.in_dfs_order_with_parents():
            circuit = self._replace_one_input(circuit, i_node, m_node, sampled_inputs, parent)
        return circuit

    def _replace_one_input(
        self,
        circuit: Circuit,
        interp_node: InterpNode,
        matcher: IterativeMatcher,
        sampled_inputs: SampledInputs,
        parent_node: Optional[InterpNode] = None,
    ) -> Circuit:
        ds = sampled_inputs[interp_node]
        if parent_node is not None and sampled_inputs[parent_node] == ds:
            return circuit
        input_matcher = to_inputs(matcher, self._dataset)
        if not input_matcher.are_any_found(circuit):
            raise IllegalCorrespondenceError(
                f"No matches found in circuit for the inputs of interpretation node "
                f"'{interp_node.name}'",
                input_matcher,
            )
        return input_matcher.update(circuit, lambda a: ds.arrs[a.name])


@attrs.define(frozen=True)
class ScrubbedExperiment:
    """The result of Experiment.scrub: the scrubbed circuit, the reference data, the data sampled
    for every interpretation node, and the group of the input DiscreteVars."""

    circuit: Circuit
    ref_ds: Dataset
    sampled_inputs: SampledInputs
    group: Circuit
    seed: int
    nodes: Correspondence

    def evaluate(self, eval_settings: Optional[ExperimentEvalSettings] = None) -> torch.Tensor:
        """The scrubbed circuit's output, the sample axis leading: on every reference datum in
        order with run_on_all (the default)."""
        settings = ExperimentEvalSettings() if eval_settings is None else eval_settings
        circ = settings.get_sampler(self.group, self.seed).sample(self.circuit)
        if settings.optimize:
            return optimize_and_evaluate(circ, settings.optim_settings)
        return circ.evaluate()

    def print(
        self,
        options: Optional[Union[PrintOptions, PrintHtmlOptions]] = None,
        print_data=True,
        color_by_data=True,
        repr=False,
    ):
        """Prints the scrubbed circuit down to the mapped leaves and to the nodes above no mapped
        node, mapped nodes commented with their samplers and coloured by their data. With
        `repr`, returns the text (PrintOptions only)."""
        opts = PrintHtmlOptions(traversal=new_traversal()) if options is None else options.evolve()
        html = isinstance(opts, PrintHtmlOptions)
        mapped: Dict[Circuit, InterpNode] = {
            c: i for i in self.nodes.corr for c in self.nodes[i].get(self.circuit)
        }
        mapped_inputs: Dict[Circuit, InterpNode] = {
            inp: i for c, i in mapped.items() for inp in c.get(set(self.ref_ds.input_names))
        }
        is_mapped = Matcher(set(mapped))
        outside = Matcher(lambda c: not is_mapped.are_any_found(c))
        mapped_leaf = Matcher(lambda c: c in mapped and mapped[c].is_leaf())

        def color(c: Circuit):
            if c in mapped:
                return color_dataset(self.sampled_inputs[mapped[c]], html)
            if c in mapped_inputs:
                return color_dataset(self.sampled_inputs[mapped_inputs[c]], html)
            if outside(c):
                return "darkgray" if html else 6
            return "lightgray" if html else 13

        def comment(c: Circuit) -> str:
            if c in mapped:
                return mapped[c].str_samplers(sampled_inputs=self.sampled_inputs)
            if c in mapped_inputs:
                return str(self.sampled_inputs[mapped_inputs[c]])
            return ""

        if color_by_data:
            opts.colorer = color
        if print_data:
            opts.commenters = list(opts.commenters) + [comment]
        if not html:
            opts.bijection = False
        base = new_traversal() if opts.traversal is None else opts.traversal
        opts.traversal = restrict(base, term_early_at=outside | mapped_leaf)
        if repr:
            if html:
                raise TypeError(
                    "ScrubbedExperiment.print: repr=True needs PrintOptions, not PrintHtmlOptions"
                )
            return self.circuit.repr(opts)
        self.circuit.print(opts)
