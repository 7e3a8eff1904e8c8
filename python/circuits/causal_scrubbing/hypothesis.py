"""Causal-scrubbing hypotheses (rc's rust_circuit.causal_scrubbing.hypothesis): samplers that draw
the data an interpretation node is indifferent between, the interpretation graph (InterpNode),
and the Correspondence mapping it onto branches of a model picked out by matchers."""

from __future__ import annotations

import functools
import uuid
from collections import Counter
from typing import Callable, Dict, Hashable, List, Optional, Set, Tuple, Union
from warnings import warn

import attrs
import torch

from .. import (
    Circuit,
    GeneralFunction,
    GeneralFunctionShapeInfo,
    GeneralFunctionSpecBase,
    IterativeMatcher,
    PrintHtmlOptions,
    PrintOptions,
    hash_tensor,
    new_traversal,
    restrict,
)
from .dataset import Dataset, color_dataset


@attrs.define(eq=True, hash=True, init=False)
class PoolAnnotation:
    """Marks cond samplers that share a pool of `size` sampled datasets (those with equal `id`).
    A pool of size 1 makes all of them see the same sample; a few (4 to 10) bound how many
    distinct datasets a deep hypothesis draws, which keeps the treeified circuit small."""

    size: int
    id: uuid.UUID

    def __init__(self, size: int = 4, id: Optional[uuid.UUID] = None):
        if size <= 0:
            raise ValueError(f"PoolAnnotation: size must be positive, got {size}")
        self.size = size
        self.id = uuid.uuid4() if id is None else id


@attrs.define(eq=True, hash=True)
class PoolNotPresent:
    """The pool annotation of a sampler that draws afresh each time."""


PNP = PoolNotPresent()
MaybePoolAnnotation = Union[PoolAnnotation, PoolNotPresent]

DsEqClassT = Hashable
Pool = List[Optional[Dataset]]
PoolPerDsEqClass = Dict[DsEqClassT, Pool]
SharedPoolKey = Tuple["CondSampler", Dataset]
PoolsPerSampler = Dict[SharedPoolKey, PoolPerDsEqClass]


@attrs.define(eq=True, hash=True)
class CondSampler:
    """Draws, for a reference dataset `ref`, a dataset from the source `ds` (one datum per datum
    of `ref`). Subclasses define __call__; `ds_eq_class` says which references may share a pool
    entry."""

    pool_annot: MaybePoolAnnotation = PNP

    def __call__(self, ref: Dataset, ds: Dataset, rng=None) -> Dataset:
        raise NotImplementedError(f"{type(self).__name__} does not define __call__")

    def ds_eq_class(self, ds: Dataset) -> Hashable:
        """References in one class share a pool; by default each dataset is its own class."""
        return ds

    def sample_and_update_pool(
        self, ref: Dataset, ds: Dataset, rng: Optional[torch.Generator], pools: PoolsPerSampler
    ) -> Dataset:
        """A draw for `ref`: a fresh one without a pool; with one, a uniformly picked slot of the
        pool of `ref`'s class, filled by a fresh draw the first time it is picked."""
        if isinstance(self.pool_annot, PoolNotPresent):
            return self(ref, ds, rng)
        per_class = pools.setdefault((self, ds), {})
        pool = per_class.setdefault(self.ds_eq_class(ref), [None] * self.pool_annot.size)
        slot = int(torch.randint(0, len(pool), (), generator=rng))
        if pool[slot] is None:
            pool[slot] = self(ref, ds, rng)
        return pool[slot]

    def pretty_str(self, data: Optional[Dataset], datum_idx: int = 0) -> str:
        """The sampler's class, with the datum `datum_idx` of `data` and its condition."""
        if data is None:
            return self.class_str()
        datum = data[datum_idx]
        parts = [f"d={datum}"]
        cond = self.str_cond(datum)
        if cond:
            parts.append(cond)
        return f"{self.class_str()}({', '.join(parts)})"

    def class_str(self) -> str:
        pool = "" if self.pool_annot == PNP else f"#{hash(self.pool_annot) & 1023}"
        return type(self).__name__ + pool

    def str_cond(self, datum: Dataset) -> str:
        return ""


def _as_rows(t: torch.Tensor) -> torch.Tensor:
    return t[:, None] if t.ndim == 1 else t


@attrs.define(eq=True, hash=True, init=False)
class FuncSampler(CondSampler):
    """Draws each datum uniformly among the source data on which `func` agrees with the
    reference datum: causal scrubbing's resampling of a node that computes the feature `func`.
    `func(dataset)` returns a 1- or 2-axis tensor whose first axis runs over the data."""

    func: Callable[[Dataset], torch.Tensor] = attrs.field(kw_only=True)

    def __init__(self, func: Callable[[Dataset], torch.Tensor], pool_annot=PNP):
        self.func = func
        self.pool_annot = pool_annot

    @staticmethod
    @functools.lru_cache(maxsize=128)
    def get_matching_idxs(
        func: Callable[[Dataset], torch.Tensor], ref: Dataset, ds: Dataset
    ) -> List[Tuple[torch.Tensor, torch.Tensor]]:
        """For each distinct value of func on `ref`: the reference rows with it and the source
        rows with it."""
        ref_vals = _as_rows(func(ref))
        src_vals = _as_rows(func(ds))
        pairs = []
        for value in torch.unique(ref_vals, dim=0):
            ref_rows = torch.nonzero((ref_vals == value).all(dim=1)).flatten()
            src_rows = torch.nonzero((src_vals == value).all(dim=1)).flatten()
            if len(src_rows) == 0:
                raise ValueError(
                    f"FuncSampler: no datum of the source dataset (of {len(ds)}) has value "
                    f"{value.tolist()} of condition {func}, which {len(ref_rows)} reference data "
                    "have"
                )
            if len(src_rows) < len(ref_rows):
                warn(
                    f"not enough unique dataset samples for value {value.tolist()} of condition "
                    f"{func}, {len(src_rows)} < {len(ref_rows)}"
                )
            pairs.append((ref_rows, src_rows))
        return pairs

    def __call__(self, ref: Dataset, ds: Dataset, rng=None) -> Dataset:
        pairs = FuncSampler.get_matching_idxs(self.func, ref, ds)
        idxs = torch.empty(len(ref), dtype=torch.int64)
        for ref_rows, src_rows in pairs:
            weights = torch.ones(len(src_rows), dtype=torch.float32)
            picks = torch.multinomial(weights, len(ref_rows), replacement=True, generator=rng)
            idxs[ref_rows] = src_rows[picks]
        return ds[idxs]

    def ds_eq_class(self, ds: Dataset) -> Hashable:
        return hash_tensor(self.func(ds))

    def str_cond(self, datum: Dataset) -> str:
        out = self.func(datum)[0]
        if isinstance(out, torch.Tensor) and out.numel() == 1:
            out = out.item()
        return f"f(d)={out}"


@attrs.define(eq=True, hash=True)
class UncondSampler(CondSampler):
    """Draws data uniformly from the source, ignoring the reference."""

    def __call__(self, ref: Dataset, ds: Dataset, rng=None) -> Dataset:
        return ds.sample(len(ref), rng)

    def ds_eq_class(self, ds: Dataset) -> Hashable:
        return ()


_TOGETHER_ID = uuid.UUID("566ae005-4a34-4e37-9383-731e1a722ef2")


@attrs.define(eq=True, hash=True, init=False)
class UncondTogetherSampler(UncondSampler):
    """An UncondSampler whose draws come from one shared pool of size 1: every node with an equal
    sampler (same `id`) sees the same random data."""

    def __init__(self, id: uuid.UUID = _TOGETHER_ID):
        self.pool_annot = PoolAnnotation(1, id=id)


@attrs.define(eq=True, hash=True)
class ExactSampler(CondSampler):
    """Keeps the reference data: the node is not resampled."""

    def __call__(self, ref: Dataset, ds: Dataset, rng=None) -> Dataset:
        return ref


@attrs.define(eq=True, hash=True, init=False)
class FixedOtherSampler(UncondSampler):
    """Always gives the dataset `other`, which must be as long as the reference."""

    other: Dataset = attrs.field(kw_only=True)

    def __init__(self, other: Dataset):
        self.pool_annot = PNP
        self.other = other

    def __call__(self, ref: Dataset, ds: Dataset, rng=None) -> Dataset:
        if len(self.other) != len(ref):
            raise ValueError(
                f"FixedOtherSampler: its dataset has {len(self.other)} data but the reference "
                f"has {len(ref)}"
            )
        return self.other


def chain_excluding(parent: IterativeMatcher, child, term_early_at=False) -> IterativeMatcher:
    """Matches `child` from `parent`, excluding any intermediate nodes matched by
    `term_early_at`."""
    if term_early_at is False:
        return parent.chain(child)
    return restrict(parent.chain(IterativeMatcher(child)), term_early_at=term_early_at)


@attrs.define(frozen=True)
class SampledInputs:
    """The data drawn at each node of an interpretation: `datasets` by cond_sampler,
    `other_inputs_datasets` (inner nodes only) by other_inputs_sampler, and the pools used."""

    datasets: Dict["InterpNode", Dataset] = attrs.field(factory=dict)
    other_inputs_datasets: Dict["InterpNode", Dataset] = attrs.field(factory=dict)
    sampler_pools: PoolsPerSampler = attrs.field(factory=dict)

    def __getitem__(self, node: "InterpNode") -> Dataset:
        """The data that reach the inputs of `node`'s branch not claimed by its children: its own
        draw for a leaf, its other-inputs draw otherwise."""
        return (self.datasets if node.is_leaf() else self.other_inputs_datasets)[node]

    def get(self, node: "InterpNode", default: Optional[Dataset] = None) -> Optional[Dataset]:
        try:
            return self[node]
        except KeyError:
            return default


class InterpNodeGeneralFunctionSpec(GeneralFunctionSpecBase):
    """A shape-free spec that lets an interpretation graph print as a circuit."""

    def __init__(self, function, name):
        self._function = function
        self._name = name

    @property
    def name(self):
        return self._name

    def function(self, *tensors):
        return self._function(*tensors)

    def get_shape_info(self, *shapes):
        return GeneralFunctionShapeInfo((), 0, [False] * len(shapes))


class InterpNode:
    """A node of the interpretation graph (a tree).

    cond_sampler: draws the data this node is indifferent between, given its parent's data.
    name: unique within one interpretation.
    children: the nodes under this one, drawn from this node's data.
    other_inputs_sampler: for inner nodes, how to draw the inputs of this node's branch that
        no child claims (rc's shortcut for a surjective correspondence)."""

    def __init__(
        self,
        cond_sampler: CondSampler,
        name: str,
        other_inputs_sampler: CondSampler = UncondSampler(),
    ):
        self._name = name
        self.cond_sampler = cond_sampler
        self.other_inputs_sampler = other_inputs_sampler
        self._children: Tuple[InterpNode, ...] = ()

    @property
    def name(self) -> str:
        return self._name

    @property
    def children(self) -> Tuple["InterpNode", ...]:
        return self._children

    def make_descendant(
        self,
        cond_sampler: CondSampler,
        name: str,
        other_inputs_sampler: CondSampler = UncondSampler(),
    ) -> "InterpNode":
        """A new child of this node."""
        child = type(self)(
            cond_sampler=cond_sampler, name=name, other_inputs_sampler=other_inputs_sampler
        )
        self._children = self._children + (child,)
        return child

    def is_leaf(self) -> bool:
        return len(self._children) == 0

    def get_nodes(self) -> List["InterpNode"]:
        """This node and its descendants, depth first, parents before children."""
        out: List[InterpNode] = []
        stack: List[InterpNode] = [self]
        while stack:
            node = stack.pop()
            out.append(node)
            stack.extend(reversed(node._children))
        return out

    def get_tree_size(self) -> int:
        return len(self.get_nodes())

    def get_descendants_with_parents(self) -> List[Tuple["InterpNode", "InterpNode"]]:
        """(parent, child) for every edge below this node, children in depth-first order."""
        return [(p, c) for p in self.get_nodes() for c in p._children]

    def sample(self, rng, source_ds: Dataset, parent_ds: Dataset, recursive=True) -> SampledInputs:
        """Draws the data of this node (and of its descendants when `recursive`) from
        `source_ds`, this node's reference being `parent_ds`."""
        into = SampledInputs()
        self._sample_into(rng, source_ds, parent_ds, into, recursive)
        return into

    def _sample_into(self, rng, source_ds, parent_ds, into: SampledInputs, recursive=True):
        pools = into.sampler_pools
        stack = [(self, parent_ds)]
        while stack:
            node, ref = stack.pop()
            ds = node.cond_sampler.sample_and_update_pool(ref, source_ds, rng, pools)
            if not node.is_leaf():
                into.other_inputs_datasets[node] = node.other_inputs_sampler.sample_and_update_pool(
                    ds, source_ds, rng, pools
                )
            into.datasets[node] = ds
            if recursive:
                stack.extend((c, ds) for c in reversed(node._children))

    def str_samplers(self, sampled_inputs: SampledInputs, datum_idx: int = 0) -> str:
        text = "cond_sampler=" + self.cond_sampler.pretty_str(
            sampled_inputs.datasets.get(self), datum_idx=datum_idx
        )
        if not self.is_leaf():
            text += ", other_inputs_sampler=" + self.other_inputs_sampler.pretty_str(
                sampled_inputs.other_inputs_datasets.get(self), datum_idx=datum_idx
            )
        return text

    def pretty_str(self, sampled_inputs: SampledInputs) -> str:
        children = [c.name for c in self._children]
        return (
            f"InterpNode(name={self.name}, {self.str_samplers(sampled_inputs)}, "
            f"children={children})"
        )

    def __str__(self):
        return self.pretty_str(SampledInputs())

    def __repr__(self):
        return str(self)

    def _as_circuit(self) -> Tuple[Circuit, Dict[Circuit, "InterpNode"]]:
        spec = InterpNodeGeneralFunctionSpec(lambda *xs: xs[0] if xs else None, "")
        built: Dict[InterpNode, Circuit] = {}
        back: Dict[Circuit, InterpNode] = {}
        for node in reversed(self.get_nodes()):
            kids = [built[c] for c in node._children]
            c = GeneralFunction(*kids, spec=spec, name=node.name)
            built[node] = c
            back[c] = node
        return built[self], back

    def print(
        self,
        options: Optional[Union[PrintOptions, PrintHtmlOptions]] = None,
        sampled_inputs: SampledInputs = SampledInputs(),
        print_data=True,
        color_by_data=True,
        repr=False,
        datum_idx=0,
    ):
        """Prints the interpretation graph as a tree, each node commented with its samplers (and
        a datum drawn for it when `sampled_inputs` has one) and coloured by its data. With
        `repr`, returns the text instead (PrintOptions only)."""
        circuit, back = self._as_circuit()
        opts = PrintHtmlOptions(traversal=new_traversal()) if options is None else options.evolve()
        if print_data:
            opts.commenters = list(opts.commenters) + [
                lambda c: back[c].str_samplers(sampled_inputs=sampled_inputs, datum_idx=datum_idx)
            ]
        html = isinstance(opts, PrintHtmlOptions)
        if not html:
            opts.bijection = False
        if color_by_data:
            opts.colorer = lambda c: color_dataset(sampled_inputs.datasets.get(back[c]), html=html)
        if repr:
            if html:
                raise TypeError(
                    "InterpNode.print: repr=True needs PrintOptions, not PrintHtmlOptions"
                )
            return circuit.repr(opts)
        circuit.print(opts)


corr_root_matcher = restrict(new_traversal(), term_if_matches=True)


class IllegalCorrespondenceError(Exception):
    """A correspondence that does not fit its interpretation or its model."""


DatasetOrInputNames = Union[Dataset, Set[str]]


def get_input_names(ds: DatasetOrInputNames) -> Set[str]:
    return ds.input_names if isinstance(ds, Dataset) else ds


def to_inputs(matcher: IterativeMatcher, ds: DatasetOrInputNames) -> IterativeMatcher:
    """`matcher` extended down to the inputs named by `ds`."""
    return matcher.chain(set(get_input_names(ds)))


class Correspondence:
    """Maps interpretation nodes to branches of the model, each picked out by an IterativeMatcher
    (the root's being corr_root_matcher, the whole model)."""

    corr: Dict[InterpNode, IterativeMatcher]
    i_names: Dict[str, InterpNode]

    def __init__(self):
        self.corr = {}
        self.i_names = {}

    def copy(self) -> "Correspondence":
        """A new Correspondence holding the same nodes and matchers."""
        new = Correspondence()
        new.corr = dict(self.corr)
        new.i_names = dict(self.i_names)
        return new

    def __len__(self) -> int:
        return len(self.corr)

    def __getitem__(self, i: InterpNode) -> IterativeMatcher:
        return self.corr[i]

    def get_by_name(self, s: str) -> InterpNode:
        try:
            return self.i_names[s]
        except KeyError:
            raise KeyError(f"Correspondence: no interpretation node named '{s}'") from None

    def add(self, i_node: InterpNode, m_node: IterativeMatcher):
        if not isinstance(i_node, InterpNode):
            raise TypeError(
                f"Correspondence.add: expected an InterpNode, got {type(i_node).__name__}"
            )
        if i_node in self.corr:
            raise ValueError("Node already in correspondence!", i_node, m_node)
        if i_node.name in self.i_names:
            raise ValueError(
                "Different node with same name already in correspondence!",
                self.i_names[i_node.name],
                i_node,
                m_node,
            )
        self.corr[i_node] = IterativeMatcher(m_node)
        self.i_names[i_node.name] = i_node

    def replace(self, i_node: InterpNode, m_node: IterativeMatcher):
        if i_node not in self.corr:
            raise ValueError("Node not found in correspondence!", i_node, m_node)
        self.corr[i_node] = IterativeMatcher(m_node)

    def get_root(self) -> InterpNode:
        if len(self) == 0:
            raise IllegalCorrespondenceError("Empty correspondence has no root!")
        parents = Counter(c for i in self.corr for c in i.children)
        roots = [i for i in self.corr if parents[i] == 0]
        if len(roots) > 1:
            raise IllegalCorrespondenceError("Found multiple roots!", roots)
        if not roots:
            raise IllegalCorrespondenceError(
                "Found no root, not a tree! (No node is an ancestor of all other nodes)"
            )
        return roots[0]

    def in_dfs_order(self) -> List[Tuple[InterpNode, IterativeMatcher]]:
        if len(self) == 0:
            return []
        return [(i, self[i]) for i in self.get_root().get_nodes()]

    def in_dfs_order_with_parents(
        self,
    ) -> List[Tuple[Optional[InterpNode], InterpNode, IterativeMatcher]]:
        if len(self) == 0:
            return []
        root = self.get_root()
        return [(None, root, self[root])] + [
            (p, c, self[c]) for p, c in root.get_descendants_with_parents()
        ]

    def check_complete(self):
        """Every child of a mapped node is mapped."""
        for i_node in self.corr:
            for child in i_node.children:
                if child not in self.corr:
                    raise IllegalCorrespondenceError(
                        "Node is a descendent of a node in the corr but is not in the corr itself",
                        child,
                        i_node,
                    )

    def check_well_defined(self, circuit: Circuit, ds: Optional[DatasetOrInputNames] = None):
        """Each matcher matches exactly one node of `circuit` and, given `ds`, reaches at least
        one of its inputs."""
        for i_node, m_node in self.in_dfs_order():
            try:
                m_node.get_unique(circuit)
            except Exception as e:
                raise IllegalCorrespondenceError(
                    f"matcher of interpretation node '{i_node.name}' ({m_node}) failed the well "
                    f"defined check: {e}"
                ) from None
            if ds is not None and not to_inputs(m_node, ds).are_any_found(circuit):
                raise IllegalCorrespondenceError(
                    f"matcher of interpretation node '{i_node.name}' extended to the inputs "
                    f"{sorted(get_input_names(ds))} finds none of them"
                )

    def check_injective_on_treeified(self, circuit: Circuit):
        """No circuit node is matched by two interpretation nodes (true once treeified)."""
        counts = Counter(self.get_all_matched(circuit))
        repeated = [(c, n) for c, n in counts.items() if n > 1]
        if repeated:
            raise IllegalCorrespondenceError(repeated)

    def check_root_is_model(self):
        root = self.get_root()
        if self.corr[root] != corr_root_matcher:
            raise IllegalCorrespondenceError(
                f"the root interpretation node '{root.name}' must map to corr_root_matcher (the "
                "whole model), so that the correspondence covers the model"
            )

    def check_all_found(self, circuit: Circuit):
        """Every matcher matches something in `circuit`."""
        for i_node, m_node in self.corr.items():
            if not m_node.are_any_found(circuit):
                raise IllegalCorrespondenceError(
                    f"the matcher of interpretation node '{i_node.name}' matches nothing in the "
                    f"circuit '{circuit.name}': {m_node}"
                )

    def get_all_matched(self, circuit: Circuit) -> List[Circuit]:
        return [c for m_node in self.corr.values() for c in m_node.get(circuit)]

    def check(self, circuit: Circuit, circuit_treeified=True):
        self.check_complete()
        self.check_root_is_model()
        self.check_all_found(circuit)
        if circuit_treeified:
            self.check_injective_on_treeified(circuit)

    def sample(self, source_ds: Dataset, rng, ref_ds: Dataset) -> SampledInputs:
        return self.get_root().sample(rng=rng, source_ds=source_ds, parent_ds=ref_ds)

    def __repr__(self):
        return f"{type(self).__name__}(corr={self.corr!r})"


__all__ = [
    "PoolAnnotation",
    "PoolNotPresent",
    "PNP",
    "CondSampler",
    "FuncSampler",
    "UncondSampler",
    "UncondTogetherSampler",
    "ExactSampler",
    "FixedOtherSampler",
    "chain_excluding",
    "SampledInputs",
    "InterpNodeGeneralFunctionSpec",
    "InterpNode",
    "corr_root_matcher",
    "IllegalCorrespondenceError",
    "get_input_names",
    "to_inputs",
    "Correspondence",
]
