"""The type aliases rc's stub declares (Shape, Axis, Leaf, Path, MatcherIn, ...), for code that
imports them from the package; they describe arguments and results, nothing checks them."""

from typing import (
    TYPE_CHECKING,
    Callable,
    FrozenSet,
    List,
    Optional,
    Sequence,
    Set,
    Tuple,
    Type,
    Union,
)

from ._circuits import (
    Array,
    BindItem,
    BoundAnyFound,
    Circuit,
    DiscreteVar,
    Finished,
    IterativeMatcher,
    Matcher,
    Regex,
    Scalar,
    StoredCumulantVar,
    Symbol,
    Transform,
)
from ._printing import NOT_SET

if TYPE_CHECKING:  # named, not imported: importing circuits does not load torch
    import torch

Shape = Tuple[int, ...]
Axis = Union[None, int, Sequence[int]]
IrreducibleNode = Union[Array, Symbol]
Leaf = Union[Array, Symbol, Scalar]
LeafConstant = Union[Array, Scalar]
Var = Union[StoredCumulantVar, DiscreteVar]
Path = List[Circuit]
"""A path of circuits: the matched circuit first, the root last."""
Paths = List[Path]
TorchAxisIndex = Union[int, slice, "torch.Tensor"]
MatcherIn = Union[
    bool,
    str,
    Set[str],
    FrozenSet[str],
    Type[Circuit],
    Set[Type[Circuit]],
    FrozenSet[Type[Circuit]],
    Circuit,
    Set[Circuit],
    FrozenSet[Circuit],
    Regex,
    BoundAnyFound,
    Matcher,
    Callable[[Circuit], bool],
]
IterativeMatcherIn = Union[MatcherIn, IterativeMatcher]
UpdatedIterativeMatcherIn = Union[
    Finished, IterativeMatcherIn, List[Union[Finished, IterativeMatcherIn]]
]
UpdatedIterativeMatcher = Union[Finished, IterativeMatcher, List[Union[Finished, IterativeMatcher]]]
TransformIn = Union[Callable[[Circuit], Circuit], Transform]
IntOrMatcher = Union[int, IterativeMatcherIn]
Binder = Union[Tuple[IterativeMatcherIn, Circuit], BindItem]
MaybeUpdate = Callable[[Circuit], Optional[Circuit]]

NotSet = type(NOT_SET)
"""The type of NOT_SET, the marker of an argument left unset (PrintOptions.evolve)."""
