"""Keeping or dropping some inputs of a Module (rc's rust_circuit.module_utils)."""

from typing import List, Tuple

from . import _circuits as _c
from . import optional as op


def get_matching_nodes_and_args(
    mod: _c.Module, sym_matcher
) -> Tuple[List[_c.Circuit], List[_c.ModuleArgSpec]]:
    """The inputs of mod whose argument Symbol sym_matcher matches, and their arg specs, in
    the module's order."""
    matcher = _c.Matcher(sym_matcher)
    pairs = [
        (node, spec) for node, spec in zip(mod.nodes, mod.spec.arg_specs) if matcher(spec.symbol)
    ]
    return [n for n, _ in pairs], [s for _, s in pairs]


def filter_module_inputs(mod: _c.Module, sym_matcher) -> _c.Module:
    """mod keeping only the inputs whose Symbol sym_matcher matches (the others stay free in
    the body), named '<name> drop'."""
    nodes, arg_specs = get_matching_nodes_and_args(mod, sym_matcher)
    spec = _c.ModuleSpec(mod.spec.circuit, arg_specs, False, False)
    return _c.Module.new_flat(spec, *nodes, name=op.map(mod.op_name, lambda n: n + " drop"))


def drop_module_inputs(mod: _c.Module, drop_sym_matcher) -> _c.Module:
    """mod without the inputs whose Symbol drop_sym_matcher matches."""
    return filter_module_inputs(mod, ~_c.Matcher(drop_sym_matcher))
