"""Memory stays flat while many small circuits are built, evaluated and dropped: resident memory
(from /proc/self/statm) after a warm-up must not grow by more than a small bound. These are
memory checks, not timing checks; loop sizes keep each test to a few seconds."""

import gc
import os
import uuid

import numpy as np
import pytest

import circuits as rc

STATM = "/proc/self/statm"
MB = 1 << 20

pytestmark = pytest.mark.skipif(not os.path.exists(STATM), reason="needs /proc/self/statm")


def resident_bytes():
    with open(STATM) as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


def growth_after_warmup(step, warmup, iterations):
    """Resident-memory growth over `iterations` calls of step(i), after `warmup` calls."""
    for i in range(warmup):
        step(i)
    gc.collect()
    before = resident_bytes()
    for i in range(iterations):
        step(i)
    gc.collect()
    return resident_bytes() - before


def test_build_and_evaluate_small_circuits():
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    expected = x + 1.0

    def step(i):
        out = rc.Add(rc.Array(x), rc.Scalar(1.0)).evaluate()
        if i % 10_000 == 0:
            np.testing.assert_array_equal(out, expected)

    growth = growth_after_warmup(step, 10_000, 100_000)
    assert growth < 20 * MB, f"resident memory grew by {growth / MB:.1f} MB"


def test_many_kinds_build_evaluate_and_print():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4))
    w = rng.standard_normal((4, 2))
    idx = np.array([2, 0], dtype=np.int64)
    tag_uuid = uuid.UUID(int=7)

    def step(i):
        a = rc.Array(x, name="x")
        h = rc.Einsum.from_einsum_string("ij,jk->ik", a, rc.Array(w, name="w"))
        r = rc.softmax(rc.Add(h, rc.Scalar(0.5, (2,), "b")))
        sel = rc.Index(r, (idx, slice(0, 2)))
        cat = rc.Concat(sel, sel.rename("s2"), axis=0)
        g = rc.GeneralFunction.gen_index(cat, rc.Array(np.array([1, 0, 1, 1])), -1, batch_x=True)
        node = rc.Tag(rc.Rearrange.from_string(cat, "a b -> b a"), tag_uuid)
        outs = rc.evaluate_many([node, g, r.sum()])
        assert outs[0].shape == (2, 4)
        repr(node)
        node.children
        node.hash_base16
        node.map_children(lambda c: c.rename(None))

    growth = growth_after_warmup(step, 2_000, 20_000)
    assert growth < 20 * MB, f"resident memory grew by {growth / MB:.1f} MB"


def test_failed_constructions_and_evaluations():
    a = rc.Array(np.zeros((2, 3)), name="a")
    b = rc.Array(np.zeros(4), name="b")
    sym = rc.Symbol((2, 3), uuid.UUID(int=1), "sym")

    def step(i):
        for build in (
            lambda: rc.Add(a, b),
            lambda: rc.Einsum.from_einsum_string("ij,jk->ik", a, b),
            lambda: rc.Index(a, (5,)),
            lambda: rc.Rearrange.from_string(a, "p q r -> r"),
            lambda: rc.RearrangeSpec.from_string("a a -> a"),
            lambda: rc.Concat(a, b, axis=0),
            lambda: rc.Add(a, sym).evaluate(),
            lambda: rc.Array(np.zeros(3, dtype=np.uint16)),
        ):
            try:
                build()
            except (ValueError, TypeError):
                pass
            else:
                raise AssertionError("expected a failure")

    growth = growth_after_warmup(step, 1_000, 10_000)
    assert growth < 20 * MB, f"resident memory grew by {growth / MB:.1f} MB"


def test_rewrites_with_index_tensors():
    # Index tensors are shared between the items that hold them: every rewrite that copies,
    # splits or drops items must give its references back.
    rng = np.random.default_rng(0)
    x = rc.Array(rng.standard_normal((2, 3)), name="x")
    y = rc.Array(rng.standard_normal((4, 3)), name="y")
    cat = rc.Concat(x, y, axis=0, name="cat")
    r = rc.Rearrange.from_string(
        rc.Array(rng.standard_normal((6, 5)), name="v"), "(a:2 b:3) c -> b c a"
    )
    add = rc.Add(y, rc.Scalar(1.0, (4, 3)), name="add")

    def step(i):
        pick = np.array([i % 4, 0])
        rc.push_down_index(rc.Index(add, (pick, slice(None))))
        rc.push_down_index(rc.Index(r, (np.array([2, 0]), 2)))
        rc.push_down_index(rc.Index(cat, (np.array([0, 5]), 1)), allow_partial_pushdown=True)
        try:
            rc.push_down_index(rc.Index(cat, (np.array([0, 5]), 1)))
        except rc.PushDownIndexConcatSplitSectionsTensorUnsupportedError:
            pass
        else:
            raise AssertionError("expected a failure")
        rc.Index(x, (pick[:1],)).idx

    growth = growth_after_warmup(step, 1_000, 10_000)
    assert growth < 20 * MB, f"resident memory grew by {growth / MB:.1f} MB"


def test_large_results_are_freed():
    x = np.ones((512, 512))

    def step(i):
        # 2 MB per result: keeping even a small fraction of them would exceed the bound.
        rc.Add(rc.Array(x), rc.Scalar(float(i))).evaluate()

    growth = growth_after_warmup(step, 20, 200)
    assert growth < 20 * MB, f"resident memory grew by {growth / MB:.1f} MB"


def test_parse_and_failed_parses():
    x = rc.Array(np.arange(6, dtype=np.float32).reshape(2, 3), "x")
    sym = rc.Symbol((2, 3), uuid.UUID(int=3), "in")
    spec = rc.ModuleSpec(rc.Add(rc.relu(sym), sym, name="body"), [rc.ModuleArgSpec(sym)])
    c = rc.Add(rc.Module(spec, name="m", **{"in": x}), rc.Index(x, (np.array([1, 0]),)), name="o")
    tensors = {}
    text = rc._circuits.print_repr(
        [c], bijection=True, tensor_sink=lambda h, a: tensors.setdefault(h, np.array(a))
    )

    def loader(prefix):
        return next(a for h, a in tensors.items() if h.startswith(prefix))

    parser = rc.Parser(tensor_loader=loader)
    broken = [
        text.replace("Add", "Ad"),
        text + "\n  'extra'",
        text.replace(" ! ", " "),
        text[: len(text) // 2],
        text.replace("[2,3]", "[2,x]"),
    ]

    def step(i):
        assert parser(text) == c
        for t in broken:
            try:
                parser.parse_circuits(t)
            except ValueError:
                pass
        try:
            rc.Parser(tensor_loader=lambda p: 1 / 0)(text)
        except ZeroDivisionError:
            pass

    growth = growth_after_warmup(step, 2_000, 20_000)
    assert growth < 20 * MB, f"resident memory grew by {growth / MB:.1f} MB"


def test_sampling_layer_kinds_expander_and_multinomial():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 3))
    xb = rng.standard_normal((4, 3))
    probs = np.full(5, 0.2)
    u = uuid.UUID(int=11)

    def step(i):
        values = rc.Array(x, name="x")
        v = rc.DiscreteVar(values, rc.DiscreteVar.uniform_probs_and_group(5, "g"))
        k = rc.Cumulant(v, rc.Array(xb, name="b"))
        cumulants = {1: values, 2: rc.Scalar(1.0, (5, 3) * 2), 3: rc.Scalar(0.0, (5, 3) * 3)}
        s = rc.StoredCumulantVar(cumulants, u)
        rc.Parser()(rc.Add(v, rc.Scalar(1.0, (3,))).repr())
        rc.Parser()(s.repr())
        assert k.shape == (3, 4, 3)
        sampled = rc.Array(xb, name="sampled")
        out = rc.Expander((rc.DiscreteVar, lambda d: sampled), suffix="s")(
            rc.Add(v, rc.Scalar(1.0, (3,)))
        )
        out.evaluate()
        rc.multinomial(rc.Array(probs), rc.Array(np.array(i, dtype=np.int64)), (7,)).evaluate()
        rc.batch_to_concat(rc.relu(rc.Array(xb, name="r")), 0, 3).evaluate()

    growth = growth_after_warmup(step, 1_000, 5_000)
    assert growth < 20 * MB, f"resident memory grew by {growth / MB:.1f} MB"


def test_scatter_conv_and_their_rewrites():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3))
    img = rng.standard_normal((2, 6, 6, 3))
    filt = rng.standard_normal((4, 3, 3, 3))

    def step(i):
        a = rc.Array(x, name="x")
        s = rc.Scatter(a, [slice(1, 3), slice(0, 3)], (4, 5), name="s")
        e = rc.Einsum((s, (0, 1)), (rc.Scalar(2.0, (4, 5)), (0, 1)), out_axes=(0, 1))
        pulled = rc.einsum_pull_scatter(e)
        c = rc.scatter_to_concat(s)
        back = rc.concat_to_scatter(c.children[1] if c.is_concat() else c)
        conv = rc.Conv(rc.Array(img), rc.Array(filt), [1, 1], 1)
        outs = rc.evaluate_many([pulled, c, conv])
        assert outs[2].shape == (2, 6, 6, 4)
        rc.push_down_index_once(rc.Index(rc.Scatter(rc.Array(x[:1]), [slice(0, 1)], (1, 3)), [0]))
        for bad in (
            lambda: rc.Scatter(a, [0, slice(0, 3)], (2, 3)),
            lambda: rc.Scatter(a, [slice(0, 2)], (4, 4)),
            lambda: rc.Conv(rc.Array(img), rc.Array(filt), [3, 1]),
        ):
            with pytest.raises(rc.ConstructError):
                bad()
        repr(back)

    growth = growth_after_warmup(step, 500, 5_000)
    assert growth < 20 * MB, f"resident memory grew by {growth / MB:.1f} MB"
