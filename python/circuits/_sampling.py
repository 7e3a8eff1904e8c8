"""The sampling layer's Python surface: Cumulant.new_canon_rearrange, the expansion helpers
built on the C Expander walk (replace_expand_bottom_up) and batch_to_concat."""

from . import _circuits as _c
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


# --- batch_to_concat ------------------------------------------------------------------------


def _full_slice(item, size):
    return (
        isinstance(item, slice)
        and item.step in (None, 1)
        and (item.start or 0) in (0, -size)
        and (item.stop is None or item.stop >= size)
    )


def _child_axes(c, axis):
    """Where output axis `axis` of c comes from: a list of (child index, child axis); None when
    it starts at c itself (the batch axis cannot be pushed through c)."""
    kids = c.children
    if isinstance(c, (_c.Tag, _c.SetSymbolicShape)):
        return [(0, axis)]
    if isinstance(c, _c.Add):
        out = []
        for i, k in enumerate(kids):
            j = axis - (c.ndim - k.ndim)
            if j >= 0 and k.shape[j] == c.shape[axis]:
                out.append((i, j))
        return out
    if isinstance(c, _c.Einsum):
        label = c.out_axes[axis]
        out = []
        for i, labels in enumerate(c.in_axes):
            out.extend((i, j) for j, lab in enumerate(labels) if lab == label)
        return out
    if isinstance(c, _c.Index):
        kept = [j for j, it in enumerate(c.idx) if not isinstance(it, int)]
        j = kept[axis]
        item = c.idx[j]
        return [(0, j)] if _full_slice(item, kids[0].shape[j]) else None
    if isinstance(c, _c.Concat):
        return None if axis == c.axis else [(i, axis) for i in range(len(kids))]
    if isinstance(c, _c.Rearrange):
        group = c.spec.output_ints[axis]
        if len(group) != 1:
            return None
        for j, g in enumerate(c.spec.input_ints):
            if list(g) == list(group):
                return [(0, j)]
        return None
    if isinstance(c, _c.GeneralFunction):
        nb = getattr(c.spec, "num_non_batchable_output_dims", None)
        if nb is None or axis >= c.ndim - nb:
            return None
        return [(i, axis) for i in range(len(kids))]
    if isinstance(c, _c.DiscreteVar):
        return [(0, axis + 1)]
    if isinstance(c, _c.Cumulant):
        at = 0
        for i, k in enumerate(kids):
            if axis < at + k.ndim:
                return [(i, axis - at)]
            at += k.ndim
    return None


def _axis_leaves(circuit, axis):
    """{leaf: its axis} for every leaf the root's axis reaches, refusing leaves also reached
    along another axis or without the axis (slicing them would change the other use)."""
    with_axis, without, seen = {}, set(), set()
    stack = [(circuit, axis)]
    while stack:
        c, a = stack.pop()
        if (c, a) in seen:
            continue
        seen.add((c, a))
        if not c.children:
            if a is None:
                without.add(c)
            elif with_axis.setdefault(c, a) != a:
                raise _c.BatchRequiresMultipleAxesError(
                    f"batch_to_concat: leaf '{c.name}' carries the batch axis as axis "
                    f"{with_axis[c]} and as axis {a}; only one axis per leaf can be split"
                )
            continue
        if a is None:
            stack.extend((k, None) for k in c.children)
            continue
        mapped = _child_axes(c, a)
        if mapped is None:
            raise _c.BatchAxisOriginatesTooHighError(
                f"batch_to_concat: axis {a} of {type(c).__name__} '{c.name}' does not come from "
                "a single axis of its children, so it cannot be split at the leaves"
            )
        hit = {i: j for i, j in mapped}
        stack.extend((k, hit.get(i)) for i, k in enumerate(c.children))
    both = [leaf for leaf in with_axis if leaf in without]
    if both:
        raise _c.BatchRequiresMultipleAxesError(
            f"batch_to_concat: leaf '{both[0].name}' is used both along the batch axis and "
            "without it; splitting it would change the other use"
        )
    if not with_axis:
        raise _c.BatchAxisOriginatesTooHighError(
            "batch_to_concat: no leaf carries the batch axis"
        )
    return with_axis


def batch_to_concat(
    circuit, axis, batch_size, allow_partial_batch=True, keep_non_axis_leaves=False
):
    """rc's batch_to_concat: circuit as a Concat along `axis` of copies of itself computed on
    batch_size-wide slices of the leaves that carry that axis (the last slice narrower unless
    allow_partial_batch is False). keep_non_axis_leaves shapes rc's intermediate Modules only;
    the copies here are built by replace-and-expand, so it changes nothing."""
    del keep_non_axis_leaves
    if not 0 <= axis < circuit.ndim:
        raise _c.BatchError(
            f"batch_to_concat on nonexistent axis {axis} of a circuit of rank {circuit.ndim}"
        )
    if batch_size <= 0:
        raise _c.BatchBatchSizeIsZeroError(
            f"batch_to_concat: batch_size must be greater than 0, got {batch_size}"
        )
    length = circuit.shape[axis]
    if length % batch_size != 0 and not allow_partial_batch:
        raise _c.BatchPartialBatchNotAllowedError(
            f"batch_to_concat: axis {axis} of size {length} is not a multiple of batch_size "
            f"{batch_size} and allow_partial_batch is False"
        )
    leaves = _axis_leaves(circuit, axis)
    pieces = []
    for start in range(0, length, batch_size):
        stop = min(start + batch_size, length)
        rep = {
            leaf: _c.Index(leaf, [slice(None)] * j + [slice(start, stop)])
            for leaf, j in leaves.items()
        }
        pieces.append(_c.replace_expand_bottom_up_dict(circuit, rep))
    return _c.Concat(*pieces, axis=axis)


def install():
    Cumulant.new_canon_rearrange = staticmethod(cumulant_new_canon_rearrange)
