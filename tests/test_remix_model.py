"""A small GPT-like model built from Modules, rewritten the way REMIX notebooks rewrite rc's
transformers: substitution and conforming of modules, splitting attention by head and by
position under rc's names, REMIX's renaming patterns, and the day-4 style rewrites (separating
one position, projecting onto a direction, residual "phi" rewrites). Every step is checked
against a numpy forward pass of the same weights, and every name a notebook looks up is checked
exactly with get_unique."""

import uuid

import numpy as np
import pytest

import circuits as rc
from circuits.algebric_rewrite import residual_rewrite, split_to_concat
from reference import assert_close

S = rc.symbolic_sizes()
N_LAYERS, N_HEADS, D_MODEL, D_HEAD, SEQ, VOCAB, D_MLP = 2, 2, 8, 4, 4, 5, 16
TOKENS = np.array([3, 0, 4, 1], dtype=np.int64)


def sym(shape, name):
    return rc.Symbol(tuple(shape), uuid.uuid5(uuid.NAMESPACE_DNS, name), name)


# --- module specs ----------------------------------------------------------------------------


def layernorm_spec():
    """rc's module_library layer norm over a symbolic hidden size."""
    inp = sym((S[0],), "ln.input")
    recip = rc.reciprocal(
        rc.GeneralFunction.new_by_name(inp, spec_name="last_dim_size", name="ln.c.hidden_size"),
        name="ln.c.recip_hidden_size",
    )
    neg_mean = rc.Einsum.from_einsum_string(
        "h,z,->z", inp, rc.Scalar(-1.0, (1,), "ln.neg"), recip, name="ln.neg_mean"
    )
    centred = rc.Add(inp, neg_mean, name="ln.mean_subbed")
    var = rc.Einsum.from_einsum_string("h,h,->", centred, centred, recip, name="ln.var")
    rsqrt = rc.rsqrt(
        rc.Add(rc.Scalar(1e-5, (), "ln.c.eps"), var, name="ln.var_p_eps"), name="ln.rsqrt"
    )
    y = rc.Einsum.from_einsum_string("h,->h", centred, rsqrt, name="ln.y")
    bias, scale = sym((S[0],), "ln.w.bias"), sym((S[0],), "ln.w.scale")
    body = rc.Add(
        bias, rc.Einsum.from_einsum_string("h,h->h", y, scale, name="ln.y_scaled"), name="ln"
    )
    return rc.ModuleSpec(body, [rc.ModuleArgSpec(s) for s in (inp, bias, scale)])


def head_spec():
    """One attention head over a symbolic sequence; batching the weights over a leading head
    axis gives every head at once (rc's module_library batches heads the same way)."""
    inp = sym((S[0], D_MODEL), "a.input")
    wq, wk, wv = (sym((D_HEAD, D_MODEL), f"a.w.{n}") for n in "qkv")
    wo = sym((D_MODEL, D_HEAD), "a.w.o")
    mask = sym((S[0], S[0]), "a.mask")
    q = rc.Einsum.from_einsum_string("sd,hd->sh", inp, wq, name="a.q")
    k = rc.Einsum.from_einsum_string("sd,hd->sh", inp, wk, name="a.k")
    v = rc.Einsum.from_einsum_string("sd,hd->sh", inp, wv, name="a.v")
    scale = rc.Scalar(1 / np.sqrt(D_HEAD), (), "a.c.div_head_size")
    raw = rc.Einsum.from_einsum_string("qh,kh,->qk", q, k, scale, name="a.attn_scores_raw")
    scores = rc.Add(raw, mask, name="a.attn_scores")
    probs = rc.softmax(scores, name="a.attn_probs")
    out = rc.Einsum.from_einsum_string("qk,kh,dh->qd", probs, v, wo, name="a.head_out")
    return rc.ModuleSpec(
        out,
        [rc.ModuleArgSpec(s) for s in (inp, wq, wk, wv, wo)]
        + [rc.ModuleArgSpec(mask, batchable=False)],
    )


def mlp_spec():
    x = sym((S[0], D_MODEL), "m.input")
    w1, b1 = sym((D_MLP, D_MODEL), "m.w.in"), sym((D_MLP,), "m.w.in_bias")
    w2, b2 = sym((D_MODEL, D_MLP), "m.w.out"), sym((D_MODEL,), "m.w.out_bias")
    pre = rc.Add(rc.Einsum.from_einsum_string("sd,od->so", x, w1, name="m.pre_b"), b1, name="m.pre")
    act = rc.gelu(pre, name="m.act")
    out_b = rc.Einsum.from_einsum_string("so,do->sd", act, w2, name="m.out_b")
    out = rc.Add(out_b, b2, name="m.out")
    return rc.ModuleSpec(out, [rc.ModuleArgSpec(s) for s in (x, w1, b1, w2, b2)])


# --- the model and its numpy twin ------------------------------------------------------------


def make_params(seed=0):
    rng = np.random.default_rng(seed)
    p = {"tok": rng.standard_normal((VOCAB, D_MODEL)), "pos": rng.standard_normal((SEQ, D_MODEL))}
    for l in range(N_LAYERS):
        for ln in ("ln_a", "ln_m"):
            p[f"{l}.{ln}.bias"] = rng.standard_normal(D_MODEL) * 0.1
            p[f"{l}.{ln}.scale"] = 1 + rng.standard_normal(D_MODEL) * 0.1
        for w in "qkv":
            p[f"{l}.{w}"] = rng.standard_normal((N_HEADS, D_HEAD, D_MODEL)) * 0.5
        p[f"{l}.o"] = rng.standard_normal((N_HEADS, D_MODEL, D_HEAD)) * 0.5
        p[f"{l}.w1"] = rng.standard_normal((D_MLP, D_MODEL)) * 0.3
        p[f"{l}.b1"] = rng.standard_normal(D_MLP) * 0.1
        p[f"{l}.w2"] = rng.standard_normal((D_MODEL, D_MLP)) * 0.3
        p[f"{l}.b2"] = rng.standard_normal(D_MODEL) * 0.1
    p["final.bias"] = rng.standard_normal(D_MODEL) * 0.1
    p["final.scale"] = 1 + rng.standard_normal(D_MODEL) * 0.1
    p["unembed"] = rng.standard_normal((VOCAB, D_MODEL))
    return p


MASK = np.where(np.tril(np.ones((SEQ, SEQ))) > 0, 0.0, -1e4)


def build_model(p):
    """Module-bound model. Names: "embeds", per layer "b{l}.ln_a", "b{l}.a" (heads batched,
    [heads, seq, d]), "b{l}.a.sum", "b{l}.attn_res", "b{l}.ln_m", "b{l}.m", "b{l}"; then
    "final.ln" and "logits"."""
    ln, head, mlp = layernorm_spec(), head_spec(), mlp_spec()
    A = rc.Array
    x = rc.Add(
        rc.Index(A(p["tok"], "t.w.tok_embeds"), (TOKENS,), name="tok_embeds"),
        A(p["pos"], "t.w.pos_embeds"),
        name="embeds",
    )
    mask = A(MASK, "t.mask")
    for l in range(N_LAYERS):
        lna = rc.Module(
            ln,
            name=f"b{l}.ln_a",
            **{"ln.input": x, "ln.w.bias": A(p[f"{l}.ln_a.bias"], f"b{l}.ln_a.w.bias"),
               "ln.w.scale": A(p[f"{l}.ln_a.scale"], f"b{l}.ln_a.w.scale")},
        )
        heads = rc.Module(
            head,
            name=f"b{l}.a",
            **{"a.input": lna, "a.mask": mask,
               **{f"a.w.{w}": A(p[f"{l}.{w}"], f"b{l}.a.w.{w}") for w in "qkvo"}},
        )
        attn = rc.Einsum.from_einsum_string("hsd->sd", heads, name=f"b{l}.a.sum")
        x = rc.Add(x, attn, name=f"b{l}.attn_res")
        lnm = rc.Module(
            ln,
            name=f"b{l}.ln_m",
            **{"ln.input": x, "ln.w.bias": A(p[f"{l}.ln_m.bias"], f"b{l}.ln_m.w.bias"),
               "ln.w.scale": A(p[f"{l}.ln_m.scale"], f"b{l}.ln_m.w.scale")},
        )
        m = rc.Module(
            mlp,
            name=f"b{l}.m",
            **{"m.input": lnm, "m.w.in": A(p[f"{l}.w1"], f"b{l}.m.w.in"),
               "m.w.in_bias": A(p[f"{l}.b1"], f"b{l}.m.w.in_bias"),
               "m.w.out": A(p[f"{l}.w2"], f"b{l}.m.w.out"),
               "m.w.out_bias": A(p[f"{l}.b2"], f"b{l}.m.w.out_bias")},
        )
        x = rc.Add(x, m, name=f"b{l}")
    fin = rc.Module(
        ln,
        name="final.ln",
        **{"ln.input": x, "ln.w.bias": A(p["final.bias"], "final.ln.w.bias"),
           "ln.w.scale": A(p["final.scale"], "final.ln.w.scale")},
    )
    unembed = A(p["unembed"], "t.w.unembed")
    return rc.Einsum.from_einsum_string("sd,vd->sv", fin, unembed, name="logits")


def np_layernorm(x, bias, scale):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + 1e-5) * scale + bias


def np_gelu(x):
    # rc's gelu is torch's exact (erf) gelu
    from math import erf

    return 0.5 * x * (1 + np.vectorize(erf)(x / np.sqrt(2)))


def np_softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def np_forward(p):
    """Returns (logits, activations by name); heads are [heads, seq, d]."""
    acts = {}
    x = p["tok"][TOKENS] + p["pos"]
    acts["embeds"] = x
    for l in range(N_LAYERS):
        h = np_layernorm(x, p[f"{l}.ln_a.bias"], p[f"{l}.ln_a.scale"])
        q = np.einsum("sd,nhd->nsh", h, p[f"{l}.q"])
        k = np.einsum("sd,nhd->nsh", h, p[f"{l}.k"])
        v = np.einsum("sd,nhd->nsh", h, p[f"{l}.v"])
        probs = np_softmax(np.einsum("nqh,nkh->nqk", q, k) / np.sqrt(D_HEAD) + MASK)
        heads = np.einsum("nqk,nkh,ndh->nqd", probs, v, p[f"{l}.o"])
        acts[f"b{l}.a"] = heads
        x = x + heads.sum(0)
        acts[f"b{l}.attn_res"] = x
        mo = np_gelu(np_layernorm(x, p[f"{l}.ln_m.bias"], p[f"{l}.ln_m.scale"]) @ p[f"{l}.w1"].T
                     + p[f"{l}.b1"]) @ p[f"{l}.w2"].T + p[f"{l}.b2"]
        acts[f"b{l}.m"] = mo
        x = x + mo
        acts[f"b{l}"] = x
    logits = np_layernorm(x, p["final.bias"], p["final.scale"]) @ p["unembed"].T
    return logits, acts


@pytest.fixture(scope="module")
def params():
    return make_params()


@pytest.fixture(scope="module")
def model(params):
    return build_model(params)


@pytest.fixture(scope="module")
def ref(params):
    return np_forward(params)


@pytest.fixture(scope="module")
def flat(model):
    return rc.substitute_all_modules(model)


def nodes(c):
    out, stack, seen = [], [c], set()
    while stack:
        n = stack.pop()
        if n in seen:
            continue
        seen.add(n)
        out.append(n)
        stack.extend(n.children)
    return out


def close(actual, expected):
    # a few dozen float64 products per output
    assert_close(actual, np.asarray(expected, dtype=np.float64), terms=64)


def same_value(a, b):
    close(a.evaluate(), b.evaluate())


# --- 1. the model evaluates like numpy -------------------------------------------------------


def test_model_matches_numpy(model, ref):
    logits, acts = ref
    assert model.shape == (SEQ, VOCAB)
    assert model.get_unique("b0.a").is_module()
    assert model.get_unique("b0.a").shape == (N_HEADS, SEQ, D_MODEL)
    close(model.evaluate(), logits)
    for name in ["embeds", "b0.a", "b0.attn_res", "b0.m", "b0", "b1.a", "b1.m", "b1"]:
        close(model.get_unique(name).evaluate(), acts[name])


def test_causal_mask_is_effective(params, model):
    # changing the last token changes only the last position's logits
    p2 = dict(params)
    p2["tok"] = params["tok"].copy()
    p2["tok"][TOKENS[-1]] += np.arange(D_MODEL)  # not a uniform shift, which LN removes
    assert TOKENS[-1] not in TOKENS[:-1]
    a, b = model.evaluate(), build_model(p2).evaluate()
    np.testing.assert_array_equal(a[:-1], b[:-1])
    assert not np.allclose(a[-1], b[-1])


# --- 2. substitution and conforming keep the value -------------------------------------------


def test_substitute_all_modules_keeps_value_and_names(model, flat, ref):
    assert not any(n.is_module() for n in nodes(flat))
    assert any(n.is_module() for n in nodes(model))
    close(flat.evaluate(), ref[0])
    for l in range(N_LAYERS):
        for name in [f"b{l}.a", f"b{l}.m", f"b{l}.ln_a", f"b{l}.ln_m", f"b{l}"]:
            node = flat.get_unique(name)
            assert not node.is_module()
        assert flat.get_unique(f"b{l}.a").shape == (N_HEADS, SEQ, D_MODEL)
        close(flat.get_unique(f"b{l}.a").evaluate(), ref[1][f"b{l}.a"])
        close(flat.get_unique(f"b{l}.m").evaluate(), ref[1][f"b{l}.m"])
    # no symbol is left and no symbolic size either
    assert not any(n.is_symbol() for n in nodes(flat))
    assert all(d not in S for n in nodes(flat) for d in n.shape)


def test_conform_all_modules_keeps_value(model, ref):
    conformed = rc.conform_all_modules(model)
    mods = [n for n in nodes(conformed) if n.is_module()]
    assert len(mods) == 3 * N_LAYERS + 1 + N_LAYERS
    for n in nodes(conformed):
        assert all(d not in S for d in n.shape)
    close(conformed.evaluate(), ref[0])
    close(rc.substitute_all_modules(conformed).evaluate(), ref[0])


# --- 3. split by head and by position, REMIX renames ------------------------------------------


def split_heads(c):
    return c.update(
        rc.Regex(r"^b\d\.a$", escape_dot=False),
        lambda a: split_to_concat(
            a, 0, range(N_HEADS), partitioning_idx_names=[f"h{h}" for h in range(N_HEADS)],
            use_axis_name=False, use_dot=True,
        ),
    )


def remix_rename(c):
    c = c.update(rc.Regex(r"[am]\d(.h\d)?$"), lambda x: x.rename(x.name + ".inner"))
    for l in range(N_LAYERS):
        for h in range(N_HEADS):
            c = c.update(f"b{l}.a.h{h}", lambda x, l=l, h=h: x.rename(f"a{l}.h{h}"))
        c = c.update(f"b{l}.m", lambda x, l=l: x.rename(f"m{l}"))
    return c


def test_split_heads_names_and_value(flat, ref):
    split = split_heads(flat)
    for l in range(N_LAYERS):
        # the Concat keeps the split node's name, so "b{l}.a" names it and the node inside it
        cat = split.get_unique(f"b{l}.a.sum").children[0]
        assert split.get(f"b{l}.a") == {cat, cat.children[0].children[0]}
        assert cat.is_concat() and cat.axis == 0
        assert [x.name for x in cat.children] == [f"b{l}.a.h{h}" for h in range(N_HEADS)]
        for h in range(N_HEADS):
            head = split.get_unique(f"b{l}.a.h{h}")
            assert head.is_index() and head.shape == (1, SEQ, D_MODEL)
            close(head.evaluate(), ref[1][f"b{l}.a"][h : h + 1])
    close(split.evaluate(), ref[0])


def test_split_heads_c_split_to_concat(flat, ref):
    split = flat.update("b1.a", lambda a: rc.split_to_concat(a, 0, [1] * N_HEADS))
    # the substituted head Einsum is infix, so the postfix Index wraps its name in parentheses
    cat = split.get_unique("(b1.a) idx ++ (b1.a) idx")
    assert split.get_unique("b1.a.sum").children == [cat]
    assert [x.name for x in cat.children] == ["(b1.a) idx"] * N_HEADS
    assert split.get("b1.a") == {cat.children[0].children[0]} == {flat.get_unique("b1.a")}
    close(split.evaluate(), ref[0])


def test_split_heads_by_index_sum(flat, ref):
    def per_head(a):
        parts = [rc.Index(a, (h,), name=f"{a.name}.h{h}") for h in range(N_HEADS)]
        return rc.Add(*parts, name=a.name + ".sum_heads")

    split = flat.update(
        rc.Regex(r"^b\d\.a\.sum$", escape_dot=False), lambda s: per_head(s.children[0])
    )
    for l in range(N_LAYERS):
        assert split.get_unique(f"b{l}.a.h1").shape == (SEQ, D_MODEL)
        close(split.get_unique(f"b{l}.a.h1").evaluate(), ref[1][f"b{l}.a"][1])
        assert split.get_unique(f"b{l}.a.sum_heads").is_add()
    close(split.evaluate(), ref[0])


@pytest.mark.parametrize("use_dot", [False, True])
def test_split_head_by_position_and_remix_rename(flat, ref, use_dot):
    split = split_heads(flat)
    split = split.update(
        "b1.a.h0", lambda h: split_to_concat(h, 1, range(SEQ), use_dot=use_dot)
    )
    sep = "." if use_dot else "_"
    pos_names = [f"b1.a.h0{sep}at_idx_{i}" for i in range(SEQ)]
    for i, name in enumerate(pos_names):
        node = split.get_unique(name)
        assert node.shape == (1, 1, D_MODEL)
        close(node.evaluate(), ref[1]["b1.a"][0:1, i : i + 1])
    renamed = remix_rename(split)
    # the regex ran first: only names already of the form a<l>(.h<h>) / m<l> get ".inner"
    assert renamed.get(rc.Regex(r"\.inner$", escape_dot=False)) == set()
    for l in range(N_LAYERS):
        for h in range(N_HEADS):
            # "a1.h0" also names the Index inside its position Concat, of the same shape
            assert {n.shape for n in renamed.get(f"a{l}.h{h}")} == {(1, SEQ, D_MODEL)}
            assert len(renamed.get(f"a{l}.h{h}")) == (2 if (l, h) == (1, 0) else 1)
        assert renamed.get_unique(f"m{l}").shape == (SEQ, D_MODEL)
        assert renamed.get(f"b{l}.m") == set()
    for name in pos_names:  # only exact-name matches are renamed
        assert renamed.get_unique(name).shape == (1, 1, D_MODEL)
    # both nodes named "b1.a.h0" (the position Concat and the head Index in it) were renamed
    assert {n.is_concat() for n in renamed.get("a1.h0")} == {True, False}
    assert renamed.get("b1.a.h0") == set()
    # REMIX's second pass: the heads and MLPs now match and take ".inner"
    inner = renamed.update(rc.Regex(r"[am]\d(.h\d)?$"), lambda x: x.rename(x.name + ".inner"))
    got = {n.name for n in inner.get(rc.Regex(r"\.inner$", escape_dot=False))}
    assert got == {f"a{l}.h{h}.inner" for l in range(N_LAYERS) for h in range(N_HEADS)} | {
        f"m{l}.inner" for l in range(N_LAYERS)
    }
    for l in range(N_LAYERS):
        assert inner.get(f"a{l}.h0") == set()
        assert inner.get(f"b{l}.a.h1") == set()
        close(inner.get_unique(f"m{l}.inner").evaluate(), ref[1][f"b{l}.m"])
    for c in (split, renamed, inner):
        close(c.evaluate(), ref[0])


# --- 4. REMIX day-4 style rewrites ------------------------------------------------------------


def separate_pos1(c):
    return split_to_concat(
        c, 0, [0, 1, np.arange(2, SEQ)], partitioning_idx_names=["pos0", "pos1", "pos2_"],
        use_dot=True,
    )


def test_separate_pos1(flat, ref):
    new = flat.update("b0", separate_pos1)
    cat = new.get_unique(rc.Matcher("b0") & rc.Matcher.types(rc.Concat))
    assert cat.children[0].children[0] == flat.get_unique("b0")
    assert cat.is_concat() and cat.axis == 0
    assert [x.name for x in cat.children] == ["b0.at_pos0", "b0.at_pos1", "b0.at_pos2_"]
    assert [x.shape for x in cat.children] == [(1, D_MODEL), (1, D_MODEL), (SEQ - 2, D_MODEL)]
    close(new.get_unique("b0.at_pos1").evaluate(), ref[1]["b0"][1:2])
    close(new.get_unique("b0.at_pos2_").evaluate(), ref[1]["b0"][2:])
    close(new.evaluate(), ref[0])
    # default names
    plain = flat.update("b0", lambda c: split_to_concat(c, 0, [0, 1, slice(2, SEQ)]))
    assert [x.name for x in plain.get_unique(rc.Matcher("b0") & rc.Concat).children] == [
        "b0_at_idx_0", "b0_at_idx_1", "b0_at_idx_2"
    ]
    close(plain.evaluate(), ref[0])


def unit_direction(seed=1):
    v = np.random.default_rng(seed).standard_normal(D_MODEL)
    return v / np.linalg.norm(v)


def projection(c, v, name):
    vec = rc.Array(v, "dir")
    return rc.Einsum.from_einsum_string("sd,d,e->se", c, vec, vec, name=name)


@pytest.mark.parametrize("target", ["embeds", "b0.m", "b1.attn_res"])
def test_projection_residual_rewrite(flat, ref, target):
    v = unit_direction()
    results = {}

    def rewrite(c):
        new, estim, residual = residual_rewrite(c, projection(c, v, f"{c.name}_proj"), "proj")
        results.update(new=new, estim=estim, residual=residual)
        return new

    rewritten = flat.update(target, rewrite)
    assert results["new"].name == target
    assert results["estim"].name == f"{target}_proj"
    assert results["residual"].name == f"{target}_proj_residual"
    # the original node is still inside the projection, under its own name
    assert rewritten.get(target) == {results["new"], flat.get_unique(target)}
    assert rewritten.get_unique(f"{target}_proj") == results["estim"]
    assert rewritten.get_unique(f"{target}_proj_residual") == results["residual"]
    orig = flat.get_unique(target).rename(f"{target}_orig")
    assert rewritten.get_unique(f"{target}_orig") == orig
    assert results["estim"].children[0] == flat.get_unique(target)
    act = ref[1][target]
    proj = np.outer(act @ v, v)
    close(rewritten.get_unique(f"{target}_proj").evaluate(), proj)
    close(rewritten.get_unique(f"{target}_proj_residual").evaluate(), act - proj)
    # the residual is orthogonal to the direction
    np.testing.assert_allclose(
        rewritten.get_unique(f"{target}_proj_residual").evaluate() @ v, 0, atol=1e-10
    )
    close(rewritten.evaluate(), ref[0])


def test_phi_rewrite_keeps_value(flat, ref):
    def phi(c):
        return residual_rewrite(c, rc.tanh(c, name=f"{c.name}_phi"), "phi")[0]

    new = flat.update(rc.Regex(r"^b\d\.m$", escape_dot=False), phi)
    for l in range(N_LAYERS):
        act = ref[1][f"b{l}.m"]
        # "b{l}.m" names the rewritten Add and the original node inside phi
        top = new.get_unique(f"b{l}").children[1]
        assert top.name == f"b{l}.m"
        orig = new.get_unique(f"b{l}.m_phi").children[0]
        assert orig.name == f"b{l}.m"
        if l == 0:  # (b1.m's subtree holds the rewritten b0.m)
            assert orig == flat.get_unique("b0.m")
        assert new.get(f"b{l}.m") == {top, orig}
        assert top.children == [
            new.get_unique(f"b{l}.m_phi"), new.get_unique(f"b{l}.m_phi_residual")
        ]
        assert new.get_unique(f"b{l}.m_phi").children == [orig]
        close(new.get_unique(f"b{l}.m_phi").evaluate(), np.tanh(act))
        close(new.get_unique(f"b{l}.m_phi_residual").evaluate(), act - np.tanh(act))
        close(top.evaluate(), act)
    close(new.evaluate(), ref[0])
    flipped = flat.update(
        "b0.m",
        lambda c: residual_rewrite(c, rc.tanh(c, name="b0.m_phi"), "phi", flip_naming=True)[0],
    )
    assert flipped.get_unique("b0.m_phi_out").is_add()
    assert flipped.get_unique("b0.m") == flat.get_unique("b0.m")
    close(flipped.evaluate(), ref[0])


def test_rewrites_compose(flat, ref):
    """split heads, rename, separate position 1 of a head, project it, phi-rewrite an MLP."""
    v = unit_direction(2)
    c = remix_rename(split_heads(flat))
    c = c.update("a1.h1", lambda h: split_to_concat(
        h, 1, [0, 1, np.arange(2, SEQ)], partitioning_idx_names=["pos0", "pos1", "pos2_"],
        use_dot=True))
    c = c.update("a1.h1.at_pos1", lambda x: residual_rewrite(
        x, rc.Einsum.from_einsum_string("hsd,d,e->hse", x, rc.Array(v, "dir"), rc.Array(v, "dir"),
                                        name=f"{x.name}_proj"), "proj")[0])
    c = c.update("m0", lambda x: residual_rewrite(x, rc.tanh(x, name="m0_phi"), "phi")[0])
    assert len(c.get("a1.h1")) == 2  # the position Concat and the head Index inside it
    assert len(c.get("m0")) == 2
    assert len(c.get("a1.h1.at_pos1")) == 2  # the rewritten Add and the node in its estimate
    for name in ["a1.h1.at_pos0", "a1.h1.at_pos1_orig", "a1.h1.at_pos1_proj",
                 "a1.h1.at_pos1_proj_residual", "a1.h1.at_pos2_", "m0_phi",
                 "m0_phi_residual", "m0_orig"]:
        c.get_unique(name)
    head_pos1 = ref[1]["b1.a"][1:2, 1:2]
    close(c.get_unique("a1.h1.at_pos1_proj").evaluate(), (head_pos1 @ v)[..., None] * v)
    close(c.evaluate(), ref[0])
