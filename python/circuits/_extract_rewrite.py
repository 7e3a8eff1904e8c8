"""rc's extract_rewrite and extract_rewrite_raw: a subcircuit turned into a Module whose
arguments are the given inputs. Glue over ModuleSpec.new_extract (C), which does the walk."""

from typing import Callable, List, Optional, Tuple

from . import _circuits


def extract_rewrite_raw(
    circuit: _circuits.Circuit,
    input_specs: List[Tuple[_circuits.Circuit, _circuits.ModuleArgSpec]],
    prefix_to_strip: Optional[str] = None,
    module_name: Optional[str] = None,
    require_all_args: bool = True,
    check_unique_arg_names: bool = True,
) -> _circuits.Module:
    """A Module calling ModuleSpec.new_extract(circuit, input_specs) on the inputs, in the
    spec's argument order. prefix_to_strip is removed from the start of the body's name."""
    input_specs = list(input_specs)
    spec = _circuits.ModuleSpec.new_extract(
        circuit, input_specs, require_all_args, check_unique_arg_names
    )
    if prefix_to_strip is not None:
        name = spec.circuit.name
        if name is not None and name.startswith(prefix_to_strip):
            stripped = name[len(prefix_to_strip) :]
            spec = spec.map_circuit(lambda c: c.rename(stripped))
    nodes = [next(node for node, s in input_specs if s == arg) for arg in spec.arg_specs]
    return _circuits.Module.new_flat(spec, *nodes, name=module_name)


def extract_rewrite(
    circuit: _circuits.Circuit,
    input_matcher,
    prefix_to_strip: Optional[str] = None,
    module_name: Optional[str] = None,
    require_all_args: bool = True,
    check_unique_arg_names: bool = True,
    circuit_to_arg_spec: Optional[Callable[[_circuits.Circuit], _circuits.ModuleArgSpec]] = None,
) -> _circuits.Module:
    """extract_rewrite_raw with one argument per node input_matcher finds in circuit, ordered
    by name; each argument's spec is circuit_to_arg_spec(node) or, by default,
    ModuleArgSpec.just_name_shape(node, batchable=True, expandable=True,
    ban_non_symbolic_size_expand=False)."""
    found = _circuits.IterativeMatcher(input_matcher).get(circuit)
    specs = []
    for node in found:
        if circuit_to_arg_spec is not None:
            spec = circuit_to_arg_spec(node)
        else:
            spec = _circuits.ModuleArgSpec.just_name_shape(node, True, True, False)
        specs.append((node, spec))
    specs.sort(key=lambda item: (item[1].symbol.name is not None, item[1].symbol.name or ""))
    return extract_rewrite_raw(
        circuit, specs, prefix_to_strip, module_name, require_all_args, check_unique_arg_names
    )
