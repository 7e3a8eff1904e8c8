"""Plain-Python reference of the einsum contraction-order search (csrc/rewrite/einsum_order.c):
the same dynamic programming over operand subsets up to DP_MAX operands and the same greedy rule
beyond, on Python sets, plus a brute-force search over every contraction tree for small cases and
the cost of a nested Einsum as built. Used by tests/test_einsum_optimize.py and
bench/bench_rewrite.py."""

from math import prod

import circuits as rc

DP_MAX = 8


def _size(labels, sizes):
    return prod(sizes[label] for label in labels)


def order_dp(ops, out, sizes):
    """(steps as SSA pairs, total cost): the exact search."""
    n = len(ops)
    full = (1 << n) - 1
    lab = [frozenset()] * (full + 1)
    for s in range(1, full + 1):
        low = (s & -s).bit_length() - 1
        lab[s] = lab[s & (s - 1)] | ops[low]
    out = frozenset(out)
    inter = [frozenset()] * (full + 1)
    cost = [0.0] * (full + 1)
    split = [0] * (full + 1)
    for s in range(1, full + 1):
        inter[s] = lab[s] & (lab[full & ~s] | out)
        if s & (s - 1) == 0:
            continue
        low = s & -s
        best = None
        a = (s - 1) & s
        while a > 0:
            if a & low:
                b = s ^ a
                c = cost[a] + cost[b] + _size(inter[a] | inter[b], sizes)
                if best is None or c < best:
                    best, split[s] = c, a
            a = (a - 1) & s
        cost[s] = best
    steps, ids = [], {}
    stack = [(full, False)]
    while stack:
        s, expanded = stack.pop()
        if s & (s - 1) == 0:
            ids[s] = s.bit_length() - 1
            continue
        a = split[s]
        b = s ^ a
        if not expanded:
            stack += [(s, True), (b, False), (a, False)]
            continue
        steps.append((ids[a], ids[b]))
        ids[s] = n + len(steps) - 1
    return steps, cost[full]


def order_greedy(ops, out, sizes):
    """(steps, total cost): the greedy rule (the pair whose result shrinks the held elements
    most, ties to fewer multiply-adds, then the first pair)."""
    n = len(ops)
    out = frozenset(out)
    count = {}
    for op in ops:
        for label in op:
            count[label] = count.get(label, 0) + 1
    held = [frozenset(l for l in op if l in out or count[l] > 1) for op in ops]
    ids = list(range(n))
    steps, total = [], 0.0
    while len(held) > 1:
        best = None
        for i in range(len(held)):
            for j in range(i + 1, len(held)):
                u = held[i] | held[j]
                res = frozenset(
                    l for l in u if l in out or count[l] > (l in held[i]) + (l in held[j])
                )
                key = _size(res, sizes) - _size(held[i], sizes) - _size(held[j], sizes)
                flops = _size(u, sizes)
                if best is None or key < best[0] or (key == best[0] and flops < best[1]):
                    best = (key, flops, res, i, j)
        _, flops, res, i, j = best
        for label in held[i]:
            count[label] -= 1
        for label in held[j]:
            count[label] -= 1
        for label in res:
            count[label] = count.get(label, 0) + 1
        total += flops
        steps.append((ids[i], ids[j]))
        new_id = n + len(steps) - 1
        del held[j], ids[j], held[i], ids[i]
        held.append(res)
        ids.append(new_id)
    return steps, total


def order(ops, out, sizes):
    ops = [frozenset(op) for op in ops]
    if len(ops) < 2:
        return [], 0.0
    return order_dp(ops, out, sizes) if len(ops) <= DP_MAX else order_greedy(ops, out, sizes)


def brute_force_cost(ops, out, sizes):
    """The least total cost over every contraction tree (exponential: small cases only)."""
    ops = [frozenset(op) for op in ops]
    n = len(ops)
    out = frozenset(out)

    def needed(members):
        inside = frozenset().union(*(ops[i] for i in members))
        outside = frozenset().union(*(ops[i] for i in range(n) if i not in members))
        return inside & (outside | out)

    memo = {}

    def best(members):
        if len(members) == 1:
            return 0.0
        if members in memo:
            return memo[members]
        items = sorted(members)
        first, rest = items[0], items[1:]
        result = None
        for mask in range(1 << len(rest)):
            left = frozenset([first] + [rest[k] for k in range(len(rest)) if mask >> k & 1])
            right = members - left
            if not right:
                continue
            c = best(left) + best(right) + _size(needed(left) | needed(right), sizes)
            result = c if result is None else min(result, c)
        memo[members] = result
        return result

    return best(frozenset(range(n))) if n >= 2 else 0.0


def nested_cost(einsum):
    """The cost of a pairwise-nested Einsum as the search counts it: for each Einsum of two
    operands, the product of the sizes of the labels of either operand that the other operand
    or the Einsum's output also has (a label only one operand has is summed away on its own,
    for free)."""
    total = 0.0
    stack = [einsum]
    while stack:
        e = stack.pop()
        if not isinstance(e, rc.Einsum):
            continue
        if len(e.children) == 2:
            (x, xa), (y, ya) = e.args
            sizes = dict(zip(xa, x.shape)) | dict(zip(ya, y.shape))
            out = set(e.out_axes)
            shared = {l for l in xa if l in ya or l in out} | {l for l in ya if l in xa or l in out}
            total += prod(sizes[l] for l in shared)
        stack.extend(e.children)
    return total


def einsum_spec(einsum):
    """(operand label sets, output labels, {label: size}) of an Einsum."""
    sizes = {}
    ops = []
    for child, axes in einsum.args:
        ops.append(frozenset(axes))
        for label, size in zip(axes, child.shape):
            sizes[label] = size
    return ops, list(einsum.out_axes), sizes


def nest_optimize(einsum):
    """The reference einsum_nest_optimize: the order from `order`, built as the same tree of
    pairwise groups (by the C group builder, so results compare equal)."""
    n = len(einsum.children)
    if n < 3:
        return einsum
    ops, out, sizes = einsum_spec(einsum)
    steps, _ = order(ops, out, sizes)

    def ref(i):
        return i if i < n else -1 - (i - n)

    groups = [([ref(a), ref(b)], None, None, None) for a, b in steps]
    return rc._circuits._einsum_nest_groups(einsum, groups)
