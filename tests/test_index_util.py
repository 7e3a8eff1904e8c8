"""circuits.index_util (rc's index_util): Gather and Scatter GeneralFunction specs written as
index formulas. Values against loops over every index in plain Python on random data, batching
(explicit and implicit), constants, repeated and reordered variables, the reduce modes, the
inferred shapes and out_shape, the spec's name and hash bytes, and the formula errors."""

import itertools
import uuid

import numpy as np
import pytest

import circuits as rc

torch = pytest.importorskip("torch")

from circuits.index_util import Gather, Scatter  # noqa: E402

g = torch.Generator().manual_seed(0)


def randn(*shape):
    return torch.randn(shape, generator=g, dtype=torch.float64)


def randint(high, *shape):
    return torch.randint(0, high, shape, generator=g)


def evaluate(c):
    return torch.as_tensor(np.asarray(c.evaluate()))


def arrays(**kw):
    return {k: rc.Array(v, name=k) for k, v in kw.items()}


# --- Gather ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec", ["out[i, j] = acts[i, positions[i], j]", "out[i] = acts[positions, i]"]
)
def test_gather_explicit_and_implicit_batch(spec):
    N, M, K = 3, 4, 5
    acts, positions = randn(N, M, K), randint(M, N)
    want = torch.stack([acts[i, positions[i]] for i in range(N)])
    node = Gather.new(spec, arrays(acts=acts, positions=positions), name="gather")
    assert node.shape == (N, K) and node.name == "gather"
    torch.testing.assert_close(evaluate(node), want)


def test_gather_repeated_and_reordered_variables():
    I, J, K, L = 3, 4, 5, 6
    foo, bar = randn(K, L, I, J), randint(L, J, K, I)
    node = Gather.new("out[i, j, k] = foo[k, bar[j, k, i], i, j]", arrays(foo=foo, bar=bar))
    want = torch.zeros(I, J, K, dtype=torch.float64)
    for i, j, k in itertools.product(range(I), range(J), range(K)):
        want[i, j, k] = foo[k, bar[j, k, i], i, j]
    torch.testing.assert_close(evaluate(node), want)
    diag = Gather.new(
        "out[i, j] = foo[i, i, bar[i, j], j]", arrays(foo=randn(3, 3, 4, 5), bar=randint(4, 3, 5))
    )
    foo2, bar2 = diag.children[0].value, diag.children[1].value
    want2 = torch.tensor([[foo2[i, i, bar2[i, j], j] for j in range(5)] for i in range(3)])
    torch.testing.assert_close(evaluate(diag), want2)


def test_gather_constants_and_implicit_batch_of_a_logit_difference():
    N, M = 8, 10
    logits, idx = randn(N, M), randint(M, N, 2)
    t0 = Gather.new("out = logits[logit_indices[0]]", arrays(logits=logits, logit_indices=idx))
    t1 = Gather.new("out = logits[logit_indices[1]]", arrays(logits=logits, logit_indices=idx))
    diff = rc.Add.minus(t0, t1)
    want = torch.tensor([logits[i, idx[i, 0]] - logits[i, idx[i, 1]] for i in range(N)])
    torch.testing.assert_close(evaluate(diff), want)


def test_gather_out_shape_for_axes_the_formula_cannot_infer():
    N, M, K = 3, 4, 5
    foo, bar = randn(K), randint(K, M)
    want = foo[bar].expand(N, M)
    with pytest.raises(ValueError, match="Could not infer size for axis -2"):
        Gather.new("out[i, j] = foo[bar[j]]", arrays(foo=foo, bar=bar))
    for out_shape in [(N, None), (N, M)]:
        node = Gather.new("out[i, j] = foo[bar[j]]", arrays(foo=foo, bar=bar), out_shape=out_shape)
        torch.testing.assert_close(evaluate(node), want)
    with pytest.raises(ValueError, match="out_shape gives 7"):
        Gather.new("out[i, j] = foo[bar[j]]", arrays(foo=foo, bar=bar), out_shape=(N, 7))


def test_gather_of_random_formulas_against_loops():
    rng = np.random.default_rng(1)
    for _ in range(20):
        rank = int(rng.integers(1, 4))
        sizes = [int(s) for s in rng.integers(1, 4, rank)]
        names = ["a", "b", "c"][:rank]
        src_axes = [int(a) for a in rng.integers(0, rank, int(rng.integers(0, 3)))]
        pos_axes = [int(a) for a in rng.integers(0, rank, int(rng.integers(0, 3)))]
        used = set(src_axes) | set(pos_axes)
        if used != set(range(rank)):
            continue
        at = int(rng.integers(0, len(src_axes) + 1))
        L = 4
        src_shape = [sizes[a] for a in src_axes]
        src_shape.insert(at, L)
        src = randn(*src_shape)
        pos = randint(L, *[sizes[a] for a in pos_axes])
        entries = [names[a] for a in src_axes]
        entries.insert(at, "p" + (f"[{', '.join(names[a] for a in pos_axes)}]" if pos_axes else ""))
        spec = f"out[{', '.join(names)}] = s[{', '.join(entries)}]"
        node = Gather.new(spec, arrays(s=src, p=pos))
        want = torch.zeros(sizes, dtype=torch.float64)
        for point in itertools.product(*[range(n) for n in sizes]):
            p = pos[tuple(point[a] for a in pos_axes)]
            key = [point[a] for a in src_axes]
            key.insert(at, p)
            want[point] = src[tuple(key)]
        torch.testing.assert_close(evaluate(node), want, msg=spec)


def test_gather_batches_under_expansion():
    acts, positions = randn(3, 4, 5), randint(4, 3)
    node = Gather.new("out[i] = acts[positions, i]", arrays(acts=acts, positions=positions))
    info = node.spec.get_shape_info((2, 3, 4, 5), (2, 3))
    assert info.shape == (2, 3, 5) and info.num_non_batchable_output_dims == 1


def test_gather_dtype_is_the_sources():
    node = Gather.new(
        "out[i] = x[p[i]]", arrays(x=torch.arange(5, dtype=torch.float32), p=torch.tensor([4, 0]))
    )
    out = evaluate(node)
    assert out.dtype == torch.float32 and out.tolist() == [4.0, 0.0]
    with pytest.raises(Exception, match="must be int64"):
        Gather.new("out[i] = x[p[i]]", arrays(x=torch.zeros(5), p=torch.zeros(2)))


def test_gather_out_of_bounds_positions():
    node = Gather.new("out[i] = x[p[i]]", arrays(x=torch.zeros(3), p=torch.tensor([0, 3])))
    with pytest.raises(Exception, match="out of bounds"):
        node.evaluate()


def test_gather_name_and_hash_bytes():
    spec = Gather("out[i, j]=src[i,pos[j], 0]", "src", "pos", out_shape=[2, None])
    assert spec.name == "Gather('out[i, j] = src[i, pos[j], 0]', 'src', 'pos', out_shape=[2, None])"

    def field(s):
        b = s.encode()
        return len(b).to_bytes(8, "little") + b

    want = uuid.UUID("7815ae94-c2bf-4e9b-a1a1-d2c96767c9a8").bytes + b"".join(
        field(s) for s in ["out[i, j] = src[i, pos[j], 0]", "src", "pos", "[2, None]"]
    )
    assert spec.compute_hash_bytes() == want
    a = Gather.new("out[i] = x[p[i]]", arrays(x=torch.zeros(3), p=torch.tensor([0, 1])))
    b = Gather.new(
        "out[i] = x[ p[ i ] ]  # same formula", arrays(x=torch.zeros(3), p=torch.tensor([0, 1]))
    )
    assert a == b


@pytest.mark.parametrize(
    "spec, names, message",
    [
        ("out[i] <- x[p[i]]", ("x", "p"), "must be written with '=' operator"),
        ("out[i] = x[p[i]]", ("x", "p", "q"), "exactly two input array names"),
        ("res[i] = x[p[i]]", ("x", "p"), "expected 'out' array"),
        ("out[i] = x[p[i]]", ("x", "x"), "must be unique"),
        ("out[0] = x[p]", ("x", "p"), "Invalid index name: 0"),
        ("out[x] = x[p]", ("x", "p"), "conflicts with a name already in scope"),
        ("out[i] = 3", ("x", "p"), "expected array access expression"),
        ("out[i] = y[p[i]]", ("x", "p"), "Invalid 'src' array name"),
        ("out[i] = x[p[j]]", ("x", "p"), "Index name not in scope"),
        ("out[i] = x[p[i], p[i]]", ("x", "p"), "appears more than once"),
        ("out[i] = x[i]", ("x", "p"), "must be used"),
        ("out[i] = x[p[i][0]]", ("x", "p"), "Invalid equation"),
        ("out[i] = x[p[q[i]]]", ("x", "p"), "Invalid index expression"),
        ("out[i = x[p[i]]", ("x", "p"), "Invalid equation"),
    ],
)
def test_gather_formula_errors(spec, names, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[")):
        Gather(spec, *names)


def test_gather_shape_errors():
    with pytest.raises(
        ValueError, match=r"Incompatible shapes: expected x.shape\[-2\] == p.shape\[-1\]"
    ):
        Gather.new(
            "out[i] = x[i, p[i]]", arrays(x=torch.zeros(3, 4), p=torch.zeros(2, dtype=torch.int64))
        )
    with pytest.raises(ValueError, match="rank at least 2"):
        Gather.new(
            "out[i] = x[i, p[i]]", arrays(x=torch.zeros(3), p=torch.zeros(3, dtype=torch.int64))
        )
    with pytest.raises(ValueError, match="Batch dimensions are incompatible"):
        Gather.new(
            "out[i] = x[p[i]]", arrays(x=torch.zeros(2, 3), p=torch.zeros(3, 2, dtype=torch.int64))
        )


# --- Scatter --------------------------------------------------------------------------------


def loop_scatter(dst, writes, reduce):
    out = dst.clone()
    for key, v in writes:
        if reduce is None:
            out[key] = v
        elif reduce == "add":
            out[key] += v
        else:
            out[key] *= v
    return out


@pytest.mark.parametrize("reduce", [None, "add", "multiply"])
def test_scatter_with_constants(reduce):
    I, J, N = 3, 4, 5
    dst, src = randn(2, J, N, 4), randn(I, 5, J)
    pos = torch.stack([torch.randperm(N, generator=g)[:I] for _ in range(3)])
    node = Scatter.new(
        "dst[0, j, pos[1, i], 2] <- src[i, 3, j]",
        arrays(dst=dst, src=src, pos=pos),
        reduce=reduce,
        name="s",
    )
    writes = [((0, j, pos[1, i], 2), src[i, 3, j]) for i in range(I) for j in range(J)]
    assert node.shape == dst.shape and node.name == "s"
    torch.testing.assert_close(evaluate(node), loop_scatter(dst, writes, reduce))


@pytest.mark.parametrize("reduce", ["add", "multiply"])
def test_scatter_reduces_repeated_positions(reduce):
    dst, src = randn(4), randn(6)
    pos = torch.tensor([1, 1, 3, 1, 0, 3])
    node = Scatter.new("dst[pos[i]] <- src[i]", arrays(dst=dst, src=src, pos=pos), reduce=reduce)
    writes = [((int(pos[i]),), src[i]) for i in range(6)]
    torch.testing.assert_close(evaluate(node), loop_scatter(dst, writes, reduce))


@pytest.mark.parametrize("spec", ["a1[i, pos[i], j] <- ex[i, j]", "a1[pos, j] <- ex[j]"])
def test_scatter_patches_positions_explicit_and_implicit_batch(spec):
    B, S, F = 3, 6, 4
    a1, ex = randn(B, S, F), randn(B, F)
    pos = randint(S, B)
    node = Scatter.new(spec, arrays(a1=a1, ex=ex, pos=pos))
    want = a1.clone()
    for b in range(B):
        want[b, pos[b]] = ex[b]
    torch.testing.assert_close(evaluate(node), want)


def test_gather_then_scatter_patch():
    B, S, F = 3, 6, 4
    a1, a2, positions = randn(B, S, F), randn(B, S, F), randint(S, B)
    extracted = Gather.new("out[i] = a2[positions, i]", arrays(a2=a2, positions=positions))
    patched = Scatter.new(
        "a1[positions, i] <- extracted[i]",
        {"a1": rc.Array(a1), "extracted": extracted, "positions": rc.Array(positions)},
    )
    want = a1.clone()
    for b in range(B):
        want[b, positions[b]] = a2[b, positions[b]]
    torch.testing.assert_close(evaluate(patched), want)


def test_scatter_repeated_variables_and_reordered_source():
    foo, bar = randn(3, 3, 4, 2), randn(2, 5, 3)
    baz = torch.stack(
        [
            torch.stack([torch.randperm(4, generator=g)[:1].repeat(3) for _ in range(5)])
            for _ in range(3)
        ]
    )
    baz = baz[..., 0][:, :, None].expand(3, 5, 3).contiguous()
    node = Scatter.new(
        "foo[i, i, baz[i, j, i], k] <- bar[k, j, i]",
        arrays(foo=foo, bar=bar, baz=baz),
        reduce="add",
    )
    writes = [
        ((i, i, int(baz[i, j, i]), k), bar[k, j, i])
        for i in range(3)
        for j in range(5)
        for k in range(2)
    ]
    torch.testing.assert_close(evaluate(node), loop_scatter(foo, writes, "add"))


def test_scatter_dtype_is_the_destinations():
    dst = torch.zeros(3, dtype=torch.float32)
    node = Scatter.new(
        "d[p[i]] <- s[i]",
        arrays(d=dst, s=torch.ones(2, dtype=torch.float64), p=torch.tensor([2, 0])),
    )
    out = evaluate(node)
    assert out.dtype == torch.float32 and out.tolist() == [1.0, 0.0, 1.0]


def test_scatter_out_of_bounds_positions():
    node = Scatter.new(
        "d[p[i]] <- s[i]", arrays(d=torch.zeros(3), s=torch.ones(2), p=torch.tensor([0, -1]))
    )
    with pytest.raises(Exception, match="out of bounds"):
        node.evaluate()
    with pytest.raises(Exception, match="constant index 5"):
        Scatter.new(
            "d[5, p[i]] <- s[i]",
            arrays(d=torch.zeros(3, 3), s=torch.ones(2), p=torch.tensor([0, 1])),
        ).evaluate()


def test_scatter_name_and_hash_bytes():
    spec = Scatter("dst[i,pos[i]] <- src[i]", "dst", "src", "pos", reduce="add")
    assert spec.name == "Scatter('dst[i, pos[i]] <- src[i]', 'dst', 'src', 'pos', reduce='add')"

    def field(s):
        b = s.encode()
        return len(b).to_bytes(8, "little") + b

    want = uuid.UUID("b3b3c3c3-1b2d-4c9b-9f7a-0f3e8b3d3b3b").bytes + b"".join(
        field(s) for s in ["dst[i, pos[i]] <- src[i]", "dst", "src", "pos", "add"]
    )
    assert spec.compute_hash_bytes() == want
    info = spec.get_shape_info((2, 5, 7), (2, 5), (2, 5))
    assert info.shape == (2, 5, 7) and info.num_non_batchable_output_dims == 2


@pytest.mark.parametrize(
    "spec, message",
    [
        ("dst[i, j, pos[i, j]] <- src[i, j, k]", "missing indices: ['k']"),
        ("dst[i, j, pos[i, j, k, l]] <- src[i, j, k, l]", "found 2 missing indices: ['k', 'l']"),
        ("dst[pos[i]] = src[i]", "must be written with '<-' operator"),
        ("dst[i] <- src[i]", "'pos' must be used"),
        ("dst[pos[i], pos[i]] <- src[i]", "must be used exactly once"),
        ("dst[pos[pos]] <- src[i]", "cannot appear in indices for 'pos'"),
        ("dst[pos[i]] <- src[pos]", "cannot appear in indices for 'src'"),
        ("dst[pos[i], i[0]] <- src[i]", "Invalid index expression in 'dst'"),
        ("3 <- src[i]", "Invalid left hand side"),
        ("dst[pos[i]] <- 3", "Invalid right hand side"),
        ("other[pos[i]] <- src[i]", "Invalid 'dst' array name"),
        ("dst[pos[i]] <- other[i]", "Invalid 'src' array name"),
    ],
)
def test_scatter_formula_errors(spec, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        Scatter(spec, "dst", "src", "pos")


def test_scatter_argument_errors():
    with pytest.raises(ValueError, match="exactly three input array names"):
        Scatter("d[p[i]] <- s[i]", "d", "s")
    with pytest.raises(ValueError, match="must be unique"):
        Scatter("d[p[i]] <- s[i]", "d", "s", "s")
    with pytest.raises(ValueError, match="reduce must be None, 'add' or 'multiply'"):
        Scatter("d[p[i]] <- s[i]", "d", "s", "p", reduce="max")
    with pytest.raises(ValueError, match="Incompatible shapes"):
        Scatter.new(
            "d[i, p[i]] <- s[i]",
            arrays(d=torch.zeros(3, 4), s=torch.ones(2), p=torch.tensor([0, 1])),
        )


def test_expansion_adds_batch_axes_to_gather_and_scatter():
    acts, pos = rc.Array(randn(3, 4, 5), name="acts"), rc.Array(randint(4, 3), name="pos")
    gather = Gather.new("out[i] = acts[pos, i]", {"acts": acts, "pos": pos})
    batched = rc.Array(randn(2, 3, 4, 5), name="batched")
    out = rc.Expander((acts, lambda _: batched))(gather)
    assert out.shape == (2, 3, 5)
    p = pos.value
    want = torch.stack(
        [torch.stack([batched.value[b, i, p[i]] for i in range(3)]) for b in range(2)]
    )
    torch.testing.assert_close(evaluate(out), want)
    src = rc.Array(randn(3, 5), name="src")
    scatter = Scatter.new("acts[pos, i] <- src[i]", {"acts": acts, "src": src, "pos": pos})
    out = rc.Expander((acts, lambda _: batched))(scatter)
    assert out.shape == (2, 3, 4, 5)
    want = batched.value.clone()
    for b in range(2):
        for i in range(3):
            want[b, i, p[i]] = src.value[i]
    torch.testing.assert_close(evaluate(out), want)
