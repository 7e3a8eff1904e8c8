"""Causal scrubbing (rc's rust_circuit.causal_scrubbing): datasets, hypotheses as
interpretation graphs with correspondences to a model, and scrubbed experiments."""

from . import dataset, experiment, hypothesis, testing_utils  # noqa: F401
from .hypothesis import chain_excluding, corr_root_matcher  # noqa: F401
