"""Research workflows on circuits: activation caches, ablations, probes and plots.

`run_with_cache` evaluates many internal nodes with one plan; `ablate` and `ablation_table`
replace components (zero, mean, resample, scaled, projected) and tabulate a metric, every
variant in one plan. docs/experiments.md describes them.
"""

from .ablation import (  # noqa: F401
    At,
    Mean,
    Project,
    Resample,
    Scaled,
    Zero,
    ablate,
    ablation_table,
    heads,
    next_token_loss,
)
from .cache import (  # noqa: F401
    ActivationCache,
    find_node,
    head_output_names,
    replace_inputs,
    resid_stream_names,
    run_with_cache,
    stack_heads,
    stack_resid,
)
from .plots import plot_head_effects, plot_probe_accuracy  # noqa: F401
from .probes import PCA, LinearProbe, fit_linear_probe, pca_directions, probe_sweep  # noqa: F401
