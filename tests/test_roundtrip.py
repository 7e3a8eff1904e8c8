"""print -> parse -> equal (same hash) for random circuits of every kind (hypothesis), for a
transformer built from Modules, under the bijective knobs rc's own round-trip test varies;
save/load, pickle, and loading .circ files against a store or with random tensors."""

import pickle
import uuid

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import circuits as rc

NAMES = ["x", "a.b", "it's", "back\\slash", "sp ace", "# hash", "ünï", "0", "'", "x"]
SIMPLE_FUNCTIONS = ["relu", "sigmoid", "tanh", "gelu", "exp", "softmax", "log_softmax", "sin"]


def bijective_text(circuits, sink, **options):
    return rc._circuits.print_repr(circuits, bijection=True, tensor_sink=sink, **options)


def round_trip(circuits, **options):
    tensors = {}
    text = bijective_text(circuits, lambda h, a: tensors.setdefault(h, np.array(a)), **options)

    def loader(prefix):
        (found,) = [a for h, a in tensors.items() if h.startswith(prefix)]
        return found

    return text, rc.Parser(tensor_loader=loader).parse_circuits(text)


@st.composite
def shapes(draw, min_rank=0):
    return tuple(draw(st.lists(st.integers(1, 3), min_size=min_rank, max_size=3)))


@st.composite
def leaves(draw):
    shape = draw(shapes())
    kind = draw(st.sampled_from(["array", "scalar", "symbol"]))
    if kind == "array":
        dtype = draw(st.sampled_from([np.float32, np.float64]))
        seed = draw(st.integers(0, 2**16))
        return rc.Array(np.random.default_rng(seed).standard_normal(shape).astype(dtype))
    if kind == "scalar":
        value = draw(
            st.one_of(
                st.floats(allow_nan=False, allow_infinity=True, width=64),
                st.sampled_from([0.0, -0.0, 1.0, -1.0, 0.1, 1e-300, 1e300, 2.0**70]),
            )
        )
        return rc.Scalar(value, shape)
    u = draw(st.sampled_from([uuid.UUID(int=0), uuid.UUID(int=draw(st.integers(1, 2**128 - 1)))]))
    return rc.Symbol(shape, u)


def index_item(draw, size):
    if size == 0:
        return slice(None)
    kind = draw(st.sampled_from(["int", "slice", "tensor"]))
    if kind == "int":
        return draw(st.integers(-size, size - 1))
    if kind == "slice":
        start = draw(st.one_of(st.none(), st.integers(0, size)))
        stop = draw(st.one_of(st.none(), st.integers(start or 0, size)))
        return slice(start, stop)
    return np.array(draw(st.lists(st.integers(0, size - 1), min_size=1, max_size=3)))


def grow(draw, pool):
    """One new node built from nodes of pool."""
    x = draw(st.sampled_from(pool))
    kind = draw(
        st.sampled_from(
            [
                "add",
                "einsum",
                "einsum2",
                "index",
                "concat",
                "rearrange",
                "gf",
                "pow",
                "tag",
                "module",
                "discrete_var",
                "cumulant",
                "stored_cumulant_var",
                "scatter",
            ]
        )
    )
    letters = "abc"[: x.ndim]
    if kind == "add":
        return rc.Add(x, draw(st.sampled_from([x, rc.Scalar(2.0, x.shape[-1:])])))
    if kind == "einsum":
        out = "".join(draw(st.permutations(letters)))[: draw(st.integers(0, x.ndim))]
        return rc.Einsum.from_einsum_string(f"{letters}->{out}", x)
    if kind == "einsum2":
        return rc.Einsum.from_einsum_string(f"{letters},{letters}->{letters[:1]}", x, x)
    if kind == "index" and x.ndim > 0:
        return rc.Index(x, tuple(index_item(draw, s) for s in x.shape))
    if kind == "concat" and x.ndim > 0:
        return rc.Concat(x, x, axis=draw(st.integers(0, x.ndim - 1)))
    if kind == "rearrange" and x.ndim > 0:
        out = " ".join(draw(st.permutations(list(letters))))
        return rc.Rearrange.from_string(x, f"{' '.join(letters)} -> {out}")
    if kind == "gf" and x.ndim > 0:
        return getattr(rc, draw(st.sampled_from(SIMPLE_FUNCTIONS)))(x)
    if kind == "pow":
        return rc.GeneralFunction.new_by_name(x, rc.Scalar(2.0, ()), spec_name="pow")
    if kind == "tag":
        return rc.Tag(x, uuid.UUID(int=draw(st.integers(0, 2**128 - 1))))
    if kind == "module":
        sym = rc.Symbol(x.shape, uuid.UUID(int=draw(st.integers(1, 2**64))), "in")
        body = rc.Add(sym, sym, name="body")
        flags = draw(st.tuples(st.booleans(), st.booleans(), st.booleans()))
        arg = rc.ModuleArgSpec(sym, *flags)
        return rc.Module(rc.ModuleSpec(body, [arg]), **{"in": x})
    if kind == "discrete_var" and x.ndim > 0:
        n = x.shape[0]
        group = rc.Tag(rc.Scalar(1.0 / max(n, 1), (n,)), uuid.UUID(int=draw(st.integers(0, 99))))
        return rc.DiscreteVar(x, group)
    if kind == "cumulant":
        parts = draw(st.lists(st.sampled_from(pool), max_size=2))
        return rc.Cumulant(*(parts if sum(p.ndim for p in parts) <= 3 else [x]))
    if kind == "stored_cumulant_var":
        var = rc.Scalar(1.0, x.shape * 2)
        return rc.StoredCumulantVar({1: x, 2: var}, uuid.UUID(int=draw(st.integers(0, 99))))
    if kind == "scatter":
        before = draw(st.lists(st.integers(0, 2), min_size=x.ndim, max_size=x.ndim))
        after = draw(st.lists(st.integers(0, 2), min_size=x.ndim, max_size=x.ndim))
        index = [slice(b, b + n) for b, n in zip(before, x.shape)]
        return rc.Scatter(x, index, tuple(b + n + a for b, n, a in zip(before, x.shape, after)))
    return rc.Add(x)


def rename(draw, c):
    choice = draw(st.integers(0, 3))
    if choice == 1:
        c = c.rename(draw(st.sampled_from(NAMES)))
    elif choice == 2:
        c = c.rename(None)
    if draw(st.booleans()):
        c = c.with_autoname_disabled()
    return c


@st.composite
def circuits(draw, max_steps=8):
    pool = [rename(draw, draw(leaves())) for _ in range(draw(st.integers(1, 3)))]
    for _ in range(draw(st.integers(0, max_steps))):
        pool.append(rename(draw, grow(draw, pool)))
    return pool[-1], pool


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    circuits(),
    st.booleans(),
    st.booleans(),
    st.booleans(),
    st.booleans(),
)
def test_random_circuits_round_trip(c_pool, many, shapes_only_necessary, serials, only_child_below):
    c, pool = c_pool
    cs = pool[-3:] if many else [c]
    text, parsed = round_trip(
        cs,
        shape_only_when_necessary=shapes_only_necessary,
        force_use_serial_numbers=serials,
        only_child_below=only_child_below,
    )
    assert parsed == cs, text
    assert [p.op_name for p in parsed] == [x.op_name for x in cs]


def test_remix_transformer_round_trips():
    import test_remix_model as remix

    model = remix.build_model(remix.make_params())
    text, (parsed,) = round_trip([model])
    assert parsed == model
    assert " ! " in text and " Module" in text
    np.testing.assert_allclose(parsed.evaluate(), model.evaluate(), rtol=0, atol=0)


# --- save / load / pickle --------------------------------------------------------------------


def example():
    x = rc.Array(np.arange(6, dtype=np.float32).reshape(2, 3), "x")
    idx = rc.Index(x, (np.array([1, 0]),), name="picked")
    return rc.Add(rc.relu(idx), rc.Scalar(0.5, (3,), "half"), name="out")


def test_save_and_load(tmp_path):
    c = example()
    text_path = rc.save(c, tmp_path / "saved")
    assert text_path.name == "circuit.circ"
    assert len(list((tmp_path / "saved" / "tensors").glob("*.npy"))) == 2
    loaded = rc.load(tmp_path / "saved")
    assert loaded == c
    np.testing.assert_array_equal(loaded.evaluate(), c.evaluate())
    assert rc.load(text_path) == c


def test_load_circ_file_with_a_missing_tensor(tmp_path):
    c = example()
    rc.save(c, tmp_path / "saved")
    circ = tmp_path / "model.circ"
    circ.write_text(
        "# info: a REMIX-style header line\n" + (tmp_path / "saved" / "circuit.circ").read_text()
    )
    empty = tmp_path / "empty_store"
    h = c.get_unique("x").tensor_hash_base16()[:24]
    with pytest.raises(
        rc.TensorNotFoundError, match=f"no tensor with hash prefix '{h}'.*empty_store"
    ):
        rc.load(circ, tensor_store=empty)
    assert rc.load(circ, tensor_store=tmp_path / "saved" / "tensors") == c


@pytest.mark.numpy_results
def test_load_with_random_tensors(tmp_path):
    c = example()
    rc.save(c, tmp_path / "saved")
    circ = tmp_path / "only_text.circ"
    circ.write_text((tmp_path / "saved" / "circuit.circ").read_text())
    # Index tensors are positions, not weights: they still come from the store.
    store = tmp_path / "saved" / "tensors"
    a = rc.load(circ, tensor_store=store, tensors_as_random=True)
    b = rc.load(circ, tensor_store=store, tensors_as_random=True)
    assert a == b  # seeded by the hash: reproducible
    assert a != c
    x = a.get_unique("x")
    assert (x.shape, x.value.dtype) == ((2, 3), np.float32)
    assert a.get_unique("picked").shape == (2, 3)


def test_load_random_when_missing(tmp_path):
    x = rc.Array(np.ones((2, 2), np.float32), "x")
    y = rc.Array(np.zeros((3,), np.float32), "y")
    s = rc.Einsum.from_einsum_string("ab->b", x, name="sum")
    c = rc.Add(s, rc.Index(y, (slice(0, 2),)), name="c")
    rc.save(c, tmp_path / "saved")
    store = rc.TensorStore(tmp_path / "saved" / "tensors")
    (store.path / f"{y.tensor_hash_base16()}.npy").unlink()
    with pytest.raises(rc.TensorNotFoundError, match="no tensor with hash prefix"):
        rc.load(tmp_path / "saved")
    partial = rc.load(tmp_path / "saved", random_when_missing=True)
    assert partial.get_unique("x") == x
    assert partial.get_unique("y") != y and partial.get_unique("y").shape == (3,)


def test_pickle_round_trip():
    c = example()
    again = pickle.loads(pickle.dumps(c))
    assert again == c and again.name == "out"
    np.testing.assert_array_equal(again.evaluate(), c.evaluate())
    import copy

    assert copy.deepcopy(c) is c


def test_python_general_functions_do_not_pickle(tmp_path, double_spec):
    c = rc.Add(rc.GeneralFunction(rc.Scalar(1.0, (2,), "s"), spec=double_spec, name="d"))
    with pytest.raises(
        pickle.PicklingError, match="pickle: GeneralFunction 'd' has a spec written in Python"
    ):
        pickle.dumps(c)
    with pytest.raises(pickle.PicklingError, match="save: GeneralFunction 'd'"):
        rc.save(c, tmp_path / "x")


@pytest.mark.torch
def test_load_against_rcs_own_tensor_db_layout(tmp_path):
    import torch

    c = example()
    rc.save(c, tmp_path / "saved")
    text = (tmp_path / "saved" / "circuit.circ").read_text()
    db = tmp_path / "tensor_db"
    for npy in (tmp_path / "saved" / "tensors").glob("*.npy"):
        h = npy.stem
        (db / h[:4] / h[4:8]).mkdir(parents=True, exist_ok=True)
        torch.save(torch.from_numpy(np.load(npy)), db / h[:4] / h[4:8] / h[8:])
    (tmp_path / "remix.circ").write_text("# info: rc layout\n" + text)
    assert rc.load(tmp_path / "remix.circ", tensor_store=db) == c
    x = c.get_unique("x").tensor_hash_base16()
    assert rc.TensorStore(db).find(x[:24]) == db / x[:4] / x[4:8] / x[8:]
    with pytest.raises(rc.TensorNotFoundError, match="no tensor with hash prefix 'abcdef00'"):
        rc.TensorStore(db).find("abcdef00")
    # a file whose contents do not hash to its name is refused
    wrong = db / x[:4] / x[4:8] / x[8:]
    torch.save(torch.zeros(2, 3), wrong)
    with pytest.raises(rc.TensorNotFoundError, match="does not hold the tensor its name says"):
        rc.TensorStore(db).load(x[:24])


def test_tensor_store_expands_home(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert rc.TensorStore("~/db").path == tmp_path / "db"
