"""Causal scrubbing helpers (rc's rust_circuit.causal_scrubbing)."""

from . import hypothesis  # noqa: F401
from .hypothesis import chain_excluding, corr_root_matcher  # noqa: F401
