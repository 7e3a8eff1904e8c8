"""Fuzzing the parser: random strings and random mutations of valid texts. Every input must
either parse, and then print and parse back to the same circuits, or raise an exception of the
library's classes with a message that names a line. No crash, no hang, no other exception.

The number of inputs is CIRCUITS_FUZZ_N (default 100,000: a few tens of seconds); the seed is
CIRCUITS_FUZZ_SEED (default 0), printed on failure."""

import os
import random
import uuid

import numpy as np

import circuits as rc

N = int(os.environ.get("CIRCUITS_FUZZ_N", "100000"))
SEED = int(os.environ.get("CIRCUITS_FUZZ_SEED", "0"))

# What a failed parse may raise: the library's classes (ParseError, ConstructError and the
# rest are ValueErrors) and the store's TensorNotFoundError.
ALLOWED = (ValueError, rc.TensorNotFoundError)

ALPHABET = list("'\\[](),:!#-> *_.0123456789abcdefstAD\n\t") + ["▼", "│", "├‣", "\u00e9", "s"]
WORDS = [
    "Add",
    "Einsum",
    "Array",
    "Scalar",
    "Symbol",
    "Index",
    "Concat",
    "Rearrange",
    "Module",
    "GeneralFunction",
    "Tag",
    "SetSymbolicShape",
    "Scatter",
    "rand",
    "fancy:",
    "ftt",
    "AD",
    "relu",
    "softmax",
    "gen_index_at_0_c",
    "pow",
    "0s",
    "2*1s",
    " ! ",
    "  ",
    "[2]",
    "[]",
    "->",
]


def corpus():
    """Valid texts of every node kind, printed with the knobs that change the layout, and the
    tensors they name."""
    x = rc.Array(np.arange(6, dtype=np.float32).reshape(2, 3), "x")
    s = rc.Symbol((2, 3), uuid.UUID(int=7), "in")
    body = rc.Add(rc.relu(s), s, name="body")
    m = rc.Module(
        rc.ModuleSpec(body, [rc.ModuleArgSpec(s, True, False, True)]), name="m", **{"in": x}
    )
    idx = rc.Index(x, (np.array([1, 0]), slice(0, 2)), name="picked")
    e = rc.Einsum.from_einsum_string("ab,cb->ac", x, x, name="e")
    parts = [
        m,
        rc.Concat(idx, idx, axis=0, name="cat"),
        rc.Rearrange.from_string(e, "a c -> c a").rename("r"),
        rc.Tag(rc.Scalar(0.5, (3,), "half"), uuid.UUID(int=9)),
        rc.GeneralFunction.new_by_name(x, rc.Scalar(2.0, ()), spec_name="pow"),
        rc.Add(x, x.with_autoname_disabled().rename("x"), name="twice"),
    ]
    top = rc.Add(*[p for p in parts if p.shape == (2, 3)], name="top")
    tensors = {}
    texts = []
    sink = lambda h, a: tensors.setdefault(h, np.array(a))  # noqa: E731
    for options in [
        {},
        {"arrows": True},
        {"only_child_below": True},
        {"force_use_serial_numbers": True},
    ]:
        texts.append(rc._circuits.print_repr([top], bijection=True, tensor_sink=sink, **options))
        texts.append(rc._circuits.print_repr(parts, bijection=True, tensor_sink=sink, **options))
    return texts, tensors


def mutate(rng, text):
    chars = list(text)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(7)
        at = rng.randrange(len(chars) + 1)
        if op == 0 and chars:
            del chars[min(at, len(chars) - 1)]
        elif op == 1:
            chars.insert(at, rng.choice(ALPHABET))
        elif op == 2 and chars:
            chars[min(at, len(chars) - 1)] = rng.choice(ALPHABET)
        elif op == 3:
            chars[at:at] = list(rng.choice(WORDS))
        elif op == 4:
            lines = "".join(chars).split("\n")
            i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
            chars = list("\n".join(lines))
        elif op == 5:
            lines = "".join(chars).split("\n")
            i = rng.randrange(len(lines))
            lines.insert(rng.randrange(len(lines) + 1), lines[i])
            chars = list("\n".join(lines))
        else:
            chars = chars[: rng.randrange(len(chars) + 1)]
    return "".join(chars)


def random_text(rng):
    n = rng.randrange(0, 60)
    if rng.random() < 0.5:
        return "".join(rng.choice(ALPHABET + WORDS) for _ in range(n))
    return bytes(rng.randrange(256) for _ in range(n)).decode("latin-1")


def test_fuzz_parser():
    texts, tensors = corpus()

    def loader(prefix):
        found = [a for h, a in tensors.items() if h.startswith(prefix)]
        if len(found) != 1:
            raise rc.TensorNotFoundError(f"{len(found)} tensors with hash prefix {prefix!r}")
        return found[0]

    parser = rc.Parser(tensor_loader=loader)
    rng = random.Random(SEED)
    parsed = failed = 0
    for i in range(N):
        text = random_text(rng) if i % 4 == 0 else mutate(rng, rng.choice(texts))
        try:
            circuits = parser.parse_circuits(text)
        except ALLOWED as e:
            failed += 1
            message = str(e) + "".join(getattr(e, "__notes__", []))
            assert "line " in message, (SEED, i, text, message)
            continue
        parsed += 1
        again = rc._circuits.print_repr(circuits, bijection=True) if circuits else ""
        assert parser.parse_circuits(again) == circuits, (SEED, i, text, again)
    # Both outcomes must be exercised, or the fuzzer tests nothing.
    print(f"fuzzed {N} inputs: {parsed} parsed, {failed} rejected")
    assert parsed > N // 50 and failed > N // 2, (parsed, failed)
