"""Circuits and hypothesis strategies shared by test_match.py and test_update.py.

- `small_transformer()`: a 3-layer, 2-head transformer-like circuit named the way REMIX names
  things ("a1.h0", "a1.input", "a1.input.at_pos1", "m1", "final.input"), with a flattened residual
  stream (each layer's input is an Add of every earlier component), plus a numpy forward pass
  that can swap one component's value inside chosen consumers.
- `dags()`: small random DAGs with shared subtrees and names drawn from a small pool (so names
  repeat and some nodes are unnamed or autonamed).
- `iterative_matchers(nodes)`: random reference matcher specs (tests/match_reference.py) over
  those DAGs.
"""

import numpy as np
from hypothesis import strategies as st

import circuits as rc
import match_reference as mref

SEQ, D, LAYERS, HEADS = 3, 4, 3, 2


def small_transformer(seed=0):
    """(circuit "final.input", params) for the REMIX-style test circuit.

    Components in residual order: emb, a0.h0, a0.h1, m0, a1.h0, a1.h1, m1, a2.h0, a2.h1, m2.
    a{l}.input = Add(all earlier components); a{l}.input.at_pos1 = a{l}.input[1];
    a{l}.h{h} = einsum("sd,d,de->se", a{l}.input, a{l}.input.at_pos1, a{l}.h{h}.w);
    m{l}.input = Add(all earlier components); m{l} = relu(einsum("sd,de->se", m{l}.input, m{l}.w)).
    """
    rng = np.random.default_rng(seed)
    params = {"emb": rng.standard_normal((SEQ, D))}
    for layer in range(LAYERS):
        for h in range(HEADS):
            params[f"a{layer}.h{h}.w"] = rng.standard_normal((D, D)) / D
        params[f"m{layer}.w"] = rng.standard_normal((D, D)) / D
    arrays = {k: rc.Array(v, name=k) for k, v in params.items()}
    components = [arrays["emb"]]
    for layer in range(LAYERS):
        inp = rc.Add(*components, name=f"a{layer}.input")
        at_pos1 = rc.Index(inp, (1,), name=f"a{layer}.input.at_pos1")
        for h in range(HEADS):
            components.append(
                rc.Einsum.from_einsum_string(
                    "sd,d,de->se", inp, at_pos1, arrays[f"a{layer}.h{h}.w"], name=f"a{layer}.h{h}"
                )
            )
        m_inp = rc.Add(*components, name=f"m{layer}.input")
        pre = rc.Einsum.from_einsum_string(
            "sd,de->se", m_inp, arrays[f"m{layer}.w"], name=f"m{layer}.pre"
        )
        components.append(rc.relu(pre, name=f"m{layer}"))
    return rc.Add(*components, name="final.input"), params


COMPONENTS = ["emb"] + [
    name
    for layer in range(LAYERS)
    for name in [f"a{layer}.h{h}" for h in range(HEADS)] + [f"m{layer}"]
]


def forward_np(params, swap=None, override=None):
    """numpy values of every component and of "final.input".

    swap: {(consumer, component): value}: in the residual sum read by `consumer` (a component
    name or "final.input") the term `component` is replaced by `value`.
    override: {component: value}: the component's value, for every consumer.
    """
    swap = swap or {}
    override = override or {}
    vals = {"emb": override.get("emb", params["emb"])}
    done = ["emb"]

    def resid(consumer):
        return sum(swap.get((consumer, c), vals[c]) for c in done)

    for layer in range(LAYERS):
        for h in range(HEADS):
            name = f"a{layer}.h{h}"
            inp = resid(name)
            vals[name] = np.einsum("sd,d,de->se", inp, inp[1], params[f"{name}.w"])
            vals[name] = override.get(name, vals[name])
        done += [f"a{layer}.h{h}" for h in range(HEADS)]
        name = f"m{layer}"
        vals[name] = override.get(name, np.maximum(resid(name) @ params[f"{name}.w"], 0.0))
        done.append(name)
    vals["final.input"] = resid("final.input")
    return vals


# ---------------------------------------------------------------------------------------------
# Random DAGs

NAMES = ["a", "b", "a.b", "axb", "m0", "m1"]
PATTERNS = ["a", "^a$", "a.b", r"a\.b", r"^m\d$", "b$", "[am]", r"\+"]
TYPES = [rc.Scalar, rc.Array, rc.Add, rc.Einsum, rc.GeneralFunction]
MAX_PATHS = 400


def _two_children(c):
    return len(c.children) >= 2


def _is_leaf(c):
    return not c.children


def _name_has_a(c):
    return "a" in c.name


PREDICATES = [_two_children, _is_leaf, _name_has_a]


@st.composite
def dags(draw, max_nodes=8):
    """(root, nodes): a random DAG of shape-(2,) nodes; children picked among earlier nodes."""
    names = st.sampled_from(NAMES + [None])
    nodes = []
    for i in range(draw(st.integers(1, 3))):
        name = draw(names)
        if draw(st.booleans()):
            nodes.append(rc.Scalar(float(i + 1), shape=(2,), name=name))
        else:
            nodes.append(rc.Array(np.full(2, float(i + 1)), name=name))
    for _ in range(draw(st.integers(1, max_nodes - len(nodes)))):
        # mostly recent nodes (deep DAGs), sometimes any earlier node (sharing)
        pick = st.one_of(
            st.integers(0, len(nodes) - 1).map(lambda k: nodes[len(nodes) - 1 - k]),
            st.sampled_from(range(len(nodes))).map(lambda k: nodes[k]),
        )
        kind = draw(st.sampled_from(["add", "einsum", "gf"]))
        name = draw(names)
        if kind == "add":
            kids = draw(st.lists(pick, min_size=1, max_size=3))
            nodes.append(rc.Add(*kids, name=name))
        elif kind == "einsum":
            nodes.append(rc.Einsum.from_einsum_string("a,a->a", draw(pick), draw(pick), name=name))
        else:
            nodes.append(rc.relu(draw(pick), name=name))
    return nodes[-1], nodes


def predicate_matchers(nodes):
    """Random reference Matchers; names and types are often taken from the DAG so they match."""
    present_names = sorted({n.name for n in nodes if n.name})
    present_types = sorted({type(n) for n in nodes}, key=lambda t: t.__name__)
    base = st.one_of(
        st.frozensets(st.sampled_from(NAMES), min_size=1, max_size=2).map(mref.MName),
        st.frozensets(st.sampled_from(TYPES), min_size=1, max_size=2).map(mref.MType),
        st.builds(mref.MRegex, st.sampled_from(PATTERNS), st.booleans()),
        st.booleans().map(mref.MAlways),
        st.frozensets(st.integers(0, len(nodes) - 1), min_size=1, max_size=2).map(
            lambda ks: mref.MCirc(frozenset(nodes[k] for k in ks))
        ),
        st.sampled_from(PREDICATES).map(mref.MFunc),
        *(
            [st.frozensets(st.sampled_from(present_names), min_size=1, max_size=2).map(mref.MName)]
            if present_names
            else []
        ),
        st.sampled_from(present_types).map(lambda t: mref.MType(frozenset([t]))),
    )
    return st.recursive(
        base,
        lambda inner: st.one_of(
            inner.map(mref.MNot),
            st.tuples(inner, inner).map(mref.MAny),
            st.tuples(inner, inner).map(mref.MAll),
        ),
        max_leaves=3,
    )


def iterative_matchers(nodes):
    """Random reference IterativeMatchers: restrict, chain, children, any, all, term."""
    preds = predicate_matchers(nodes)
    depth = st.one_of(st.none(), st.none(), st.integers(0, 3))
    term_early_at = st.one_of(st.just(mref.MAlways(False)), preds)
    base = st.one_of(
        preds.map(mref.IMatch),
        preds.map(mref.IMatch),
        preds.map(mref.IMatch),
        st.booleans().map(mref.ITerm),
        st.builds(mref.new_traversal, depth, depth, term_early_at),
    )

    def extend(inner):
        return st.one_of(
            st.builds(mref.restrict, inner, st.booleans(), depth, depth, term_early_at),
            st.builds(
                lambda ms, sub: mref.new_chain(*ms, must_be_sub=sub),
                st.lists(inner, min_size=2, max_size=3),
                st.booleans(),
            ),
            st.builds(
                lambda m, nums: mref.IChildren(mref.all_of(m, mref.MFunc(_two_children)), nums),
                inner,
                st.frozensets(st.integers(0, 1), min_size=1, max_size=2),
            ),
            st.lists(inner, min_size=2, max_size=2).map(lambda ms: mref.any_of(*ms)),
            st.lists(inner, min_size=2, max_size=2).map(lambda ms: mref.all_of(*ms)),
            # unguarded: child numbers may be out of range for the matched node (an error)
            st.builds(
                lambda m, nums: mref.IChildren(m, nums),
                inner,
                st.frozensets(st.integers(0, 2), min_size=1, max_size=2),
            ),
        )

    return st.recursive(base, extend, max_leaves=4)


def _suffix(c):
    return c.rename(c.name + "'")


def _constant(c):
    return rc.Scalar(7.0, shape=c.shape, name="t")


def _wrap(c):
    return rc.Add(c, name="w")


TRANSFORMS = [_suffix, _constant, _wrap]


@st.composite
def dags_and_matchers(draw, max_nodes=8):
    """(root, nodes, reference matcher) with at most MAX_PATHS paths from the root."""
    root, nodes = draw(dags(max_nodes).filter(lambda d: mref.count_paths(d[0]) <= MAX_PATHS))
    m = draw(iterative_matchers(nodes))
    return root, nodes, m


def transformer_nodes():
    """(root, every distinct node) of small_transformer()."""
    root, _ = small_transformer()
    nodes = []
    root.visit(nodes.append)
    return root, nodes
