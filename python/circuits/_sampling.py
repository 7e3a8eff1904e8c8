"""The sampling layer's Python surface: Cumulant.new_canon_rearrange, the Expander and the
expansion helpers built on the C walk (replace_expand_bottom_up_dict)."""

from ._circuits import Cumulant, Expander, Matcher, Rearrange, RearrangeSpec


def cumulant_new_canon_rearrange(*args, name=None):
    """rc's Cumulant.new_canon_rearrange: the Cumulant of args in canonical order (by name, then
    hash), named "canon <name>", under a Rearrange giving back args' axis order."""
    order = sorted(range(len(args)), key=lambda i: args[i])
    cum = Cumulant(*[args[i] for i in order], name=None if name is None else "canon " + name)
    starts, at = [], 0
    for a in args:
        starts.append(at)
        at += a.ndim
    labels = [starts[i] + j for i in order for j in range(args[i].ndim)]
    spec = RearrangeSpec([[x] for x in labels], [[x] for x in range(at)], [None] * at)
    return Rearrange(cum, spec, name)


def replace_expand_bottom_up(circuit, f):
    """rc's replace_expand_bottom_up: from the root down, a node for which f gives a circuit is
    replaced by it (and not visited further); f giving None goes on into the children. Every
    ancestor of a replaced node is re-derived by expansion, so replacements may add leading
    batch axes. f is called once per distinct node."""
    replaced = {}

    def found(c):
        if c in replaced:
            return True
        r = f(c)
        if r is None:
            return False
        replaced[c] = r
        return True

    return Expander((Matcher(found), lambda c: replaced[c]))(circuit)


def install():
    Cumulant.new_canon_rearrange = staticmethod(cumulant_new_canon_rearrange)
