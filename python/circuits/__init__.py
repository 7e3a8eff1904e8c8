"""circuits: immutable tensor-computation circuits for interpretability research.

`import circuits as rc` gives rc's API: node kinds (Array, Scalar, Symbol, Add,
Einsum, Index, Concat, Rearrange, GeneralFunction, Tag, Module, SetSymbolicShape,
DiscreteVar, StoredCumulantVar, Cumulant),
Modules (ModuleSpec, ModuleArgSpec, substitution, batching), the named functions
(rc.relu, rc.gelu, rc.softmax, ...), evaluation on the CPU through BLAS, and rc's
exception classes. Values come back as torch tensors when torch is installed, else as numpy
arrays (`set_result_type`).
"""

from . import _blas

_blas.set_thread_waiting()
_blas.preload()

from . import _circuits  # noqa: E402

try:  # the CUDA backend registers itself on import; absent when built without nvcc
    from . import _circuits_cuda  # noqa: E402,F401
except ImportError:
    pass

from ._circuits import *  # noqa: E402,F401,F403
from ._circuits import evaluate_many  # noqa: E402,F401
from . import _values  # noqa: E402
from ._values import get_result_type, hash_tensor, set_result_type  # noqa: E402,F401
from . import _methods  # noqa: E402
from ._methods import GeneralFunctionShapeInfo, GeneralFunctionSpecBase  # noqa: E402,F401
from ._device_dtype import (  # noqa: E402,F401
    TorchDeviceDtype,
    TorchDeviceDtypeOp,
    upcast_tensor_device_dtypes,
    upcast_tensor_devices,
)
from . import algebric_rewrite  # noqa: E402,F401
from .algebric_rewrite import default_index_traversal  # noqa: E402,F401
from . import _modules  # noqa: E402
from ._modules import (  # noqa: E402,F401
    SymbolicSizeConstraint,
    SymbolicSizeProduct,
    any_children_with_symbolic_sizes,
    get_children_with_symbolic_sizes,
)
from ._optimize import (  # noqa: E402,F401
    EvaluationStats,
    OptimizationSettings,
    Schedule,
    circuit_to_schedule,
    circuit_to_schedule_many,
    optimize_and_evaluate,
    optimize_and_evaluate_many,
    optimize_to_schedule,
    optimize_to_schedule_many,
    scheduled_evaluate,
)

from . import _html, _printing, _store  # noqa: E402
from ._printing import PrintOptions, set_debug_print_options  # noqa: E402,F401
from ._html import PrintHtmlOptions  # noqa: E402,F401
from ._store import (  # noqa: E402,F401
    TensorNotFoundError,
    TensorStore,
    get_tensor_prefix,
    load,
    save,
    save_tensor,
    save_tensor_rrfs,
    sync_all_unsynced_tensors,
    sync_specific_tensors,
    tensor_from_hash,
)
from ._parse import Parser  # noqa: E402,F401
from .tokenizers import CharTokenizer  # noqa: E402,F401
from . import _sampling  # noqa: E402
from ._sampling import batch_to_concat, replace_expand_bottom_up  # noqa: E402,F401
from ._sampler import (  # noqa: E402,F401
    RandomSampleSpec,
    RunDiscreteVarAllSpec,
    SampleSpec,
    SampleSpecIn,
    Sampler,
    default_hash_seeder,
    default_var_matcher,
    factored_cumulant_expectation_rewrite,
)
from . import experiments  # noqa: E402,F401
from .experiments import run_with_cache  # noqa: E402,F401

from . import _gf_specs, _surface, _typing  # noqa: E402
from ._circuits import (  # noqa: E402,F401
    all_children,
    append_matchers_to_names,
    compute_self_hash,
    count_nodes,
    deep_map,
    deep_map_preorder,
    filter_nodes,
    prefix_all_names,
    replace_nodes,
    replace_outside_traversal_symbols,
    toposort_circuit,
    update_nodes,
    visit_circuit,
)
from ._surface import (  # noqa: E402,F401
    ExceptionWithRustContext,
    apply_in_traversal,
    check_evaluable,
    circuit_is_irreducible_node,
    circuit_is_leaf,
    circuit_is_leaf_constant,
    circuit_is_var,
    evaluate,
    path_get,
    print_matcher_debug,
    replace_all_randn_seeded,
    repr_matcher_debug,
    update_path,
)
from ._printing import oom_fmt  # noqa: E402,F401
from ._typing import (  # noqa: E402,F401
    NOT_SET,
    Axis,
    Binder,
    IntOrMatcher,
    IrreducibleNode,
    IterativeMatcherIn,
    Leaf,
    LeafConstant,
    MatcherIn,
    MaybeUpdate,
    NotSet,
    Path,
    Paths,
    Shape,
    TorchAxisIndex,
    TransformIn,
    UpdatedIterativeMatcher,
    UpdatedIterativeMatcherIn,
    Var,
)
from ._gf_specs import (  # noqa: E402,F401
    GeneralFunctionExplicitIndexSpec,
    GeneralFunctionIndexSpec,
    GeneralFunctionMultinomialSpec,
    GeneralFunctionPowSpec,
    GeneralFunctionSetDDSpec,
    GeneralFunctionSpecTester,
    add_make_broadcasts_explicit,
    broadcast_shapes,
    get_shape_info_broadcast,
    get_shape_info_simple,
    make_broadcast,
)

from ._printing import (  # noqa: E402,F401
    CircuitColorer,
    CircuitCommenter,
    CliColor,
    print_circuit_type_check,
)
from ._html import CircuitHtmlColorer, PrintOptionsBase  # noqa: E402,F401
from . import _surface_methods  # noqa: E402

_surface_methods.install()

from ._extract_rewrite import extract_rewrite, extract_rewrite_raw  # noqa: E402,F401
from ._cumulant_rewrites import kappa_term, rewrite_cum_to_circuit_of_cum  # noqa: E402,F401

_values.init_from_environment()
_methods.install()
_modules.install()
_printing.install()
_html.install()
_store.install()
_sampling.install()

GeneralFunctionSimpleSpec = _circuits.GeneralFunctionSpec

__version__ = "0.1.0"
