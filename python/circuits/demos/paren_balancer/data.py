"""Bracket strings for the paren balancer: a seeded generator and the tokenizer.

A string of "(" and ")" is balanced when no prefix has more ")" than "(" (the
horizon test, in REMIX's words) and the whole string has as many "(" as ")"
(the count test). Every string gets one of four kinds:

    balanced       passes both tests                          "(())"
    horizon_fail   equal counts, but some prefix goes negative "())("
    count_fail     no prefix goes negative, counts differ      "(()"
    both_fail      fails both                                  "))("

`generate` draws half its strings balanced and the other half evenly from the
three failing kinds. Within each failing kind half the strings are near misses
(one change away from a balanced string, so a single dip to -1 or a final
height of 2) and half are drawn more freely, so the easy cases (a leading ")",
an odd length) still occur but do not dominate.

Tokens follow REMIX's paren tokenizer: each string becomes
[START] + one token per character + [END], padded with PAD to max_len + 2.
"""

import random
from typing import List, Sequence, Set, Tuple

import numpy as np

START, PAD, END, OPEN, CLOSE = 0, 1, 2, 3, 4
VOCAB_SIZE = 5
MAX_LEN = 40

BALANCED = "balanced"
HORIZON_FAIL = "horizon_fail"
COUNT_FAIL = "count_fail"
BOTH_FAIL = "both_fail"
KINDS = (BALANCED, HORIZON_FAIL, COUNT_FAIL, BOTH_FAIL)
FAILING_KINDS = KINDS[1:]


def kind_of(s: str) -> str:
    """Which of KINDS the bracket string `s` is."""
    height = 0
    went_negative = False
    for i, c in enumerate(s):
        if c == "(":
            height += 1
        elif c == ")":
            height -= 1
        else:
            raise ValueError(f"kind_of: character {c!r} at index {i} of {s!r} is neither '(' nor ')'")
        went_negative = went_negative or height < 0
    if went_negative:
        return BOTH_FAIL if height != 0 else HORIZON_FAIL
    return COUNT_FAIL if height != 0 else BALANCED


def is_balanced(s: str) -> bool:
    return kind_of(s) == BALANCED


def _dyck(rng: random.Random, pairs: int) -> str:
    """A balanced string of `pairs` pairs, uniform over all of them.

    Of the cyclic rotations of a sequence of pairs + 1 opens and pairs closes,
    exactly one has every prefix (from the first character on) strictly
    positive: the one that starts just after the last place the running height
    is lowest. Its first character is "(" and the rest is balanced; every
    balanced string arises from pairs + 1 sequences this way.
    """
    steps = ["("] * (pairs + 1) + [")"] * pairs
    rng.shuffle(steps)
    height = 0
    lowest = 0
    cut = 0
    for i, c in enumerate(steps):
        height += 1 if c == "(" else -1
        if height <= lowest:
            lowest = height
            cut = i + 1
    rotated = steps[cut:] + steps[:cut]
    return "".join(rotated[1:])


def _split3(rng: random.Random, total: int) -> Tuple[int, int, int]:
    a, b = sorted(rng.randint(0, total) for _ in range(2))
    return a, b - a, total - b


def _horizon_near_miss(rng: random.Random, pairs: int) -> str:
    """A + ")" + C + "(" + B with A, B, C balanced: the height dips to -1 once."""
    a, b, c = _split3(rng, pairs - 1)
    return _dyck(rng, a) + ")" + _dyck(rng, c) + "(" + _dyck(rng, b)


def _equal_counts(rng: random.Random, pairs: int) -> str:
    chars = ["("] * pairs + [")"] * pairs
    rng.shuffle(chars)
    return "".join(chars)


def _flip(rng: random.Random, s: str, char: str) -> str:
    """`s` with one occurrence of `char`, chosen at random, flipped."""
    where = [i for i, c in enumerate(s) if c == char]
    i = rng.choice(where)
    return s[:i] + ("(" if char == ")" else ")") + s[i + 1 :]


def _dyck_prefix(rng: random.Random, length: int) -> str:
    """The first `length` characters of a longer balanced string."""
    pairs = rng.randint(length // 2 + 1, MAX_LEN // 2 + 1)
    return _dyck(rng, pairs)[:length]


def _random_string(rng: random.Random, length: int) -> str:
    return "".join(rng.choice("()") for _ in range(length))


def _candidate(rng: random.Random, kind: str) -> str:
    """A string meant to be of `kind`; the caller checks and draws again if it is not."""
    near_miss = rng.random() < 0.5
    if kind == BALANCED:
        return _dyck(rng, rng.randint(1, MAX_LEN // 2))
    if kind == HORIZON_FAIL:
        pairs = rng.randint(1, MAX_LEN // 2)
        return _horizon_near_miss(rng, pairs) if near_miss else _equal_counts(rng, pairs)
    if kind == COUNT_FAIL:
        if near_miss:
            return _flip(rng, _dyck(rng, rng.randint(1, MAX_LEN // 2)), ")")
        return _dyck_prefix(rng, rng.randint(1, MAX_LEN))
    if near_miss:
        if rng.random() < 0.5:
            return _flip(rng, _dyck(rng, rng.randint(1, MAX_LEN // 2)), "(")
        return _flip(rng, _horizon_near_miss(rng, rng.randint(1, MAX_LEN // 2)), ")")
    return _random_string(rng, rng.randint(1, MAX_LEN))


def generate(n: int, seed: int) -> Tuple[List[str], List[str]]:
    """`n` strings of length 1 to MAX_LEN and their kinds, the same for the same seed.

    Half the strings are balanced; the rest are split evenly between the
    failing kinds.
    """
    if n < 0:
        raise ValueError(f"generate: n must be at least 0, got {n}")
    rng = random.Random(seed)
    strings, kinds = [], []
    for _ in range(n):
        kind = BALANCED if rng.random() < 0.5 else rng.choice(FAILING_KINDS)
        s = _candidate(rng, kind)
        while kind_of(s) != kind:
            s = _candidate(rng, kind)
        strings.append(s)
        kinds.append(kind)
    return strings, kinds


def heldout(n: int, seed: int, exclude: Set[str]) -> Tuple[List[str], List[str]]:
    """Up to `n` strings drawn as `generate(n, seed)` draws them, without repeats
    and without any string in `exclude` (the training strings). Short strings
    are few, so most of them are in a large training set and drop out here."""
    strings, kinds = [], []
    seen = set(exclude)
    for s, kind in zip(*generate(n, seed)):
        if s not in seen:
            seen.add(s)
            strings.append(s)
            kinds.append(kind)
    return strings, kinds


def tokenize(strings: Sequence[str], max_len: int = MAX_LEN) -> np.ndarray:
    """int64 tokens [len(strings), max_len + 2]: START, the characters, END, then PAD."""
    out = np.full((len(strings), max_len + 2), PAD, dtype=np.int64)
    out[:, 0] = START
    for row, s in enumerate(strings):
        if len(s) > max_len:
            raise ValueError(f"tokenize: string {row} has length {len(s)}, more than max_len {max_len}")
        for i, c in enumerate(s):
            if c == "(":
                out[row, i + 1] = OPEN
            elif c == ")":
                out[row, i + 1] = CLOSE
            else:
                raise ValueError(f"tokenize: character {c!r} at index {i} of string {row} is neither '(' nor ')'")
        out[row, len(s) + 1] = END
    return out


def decode(tokens) -> List[str]:
    """The strings of a [batch, seq] token array; START, END and PAD are dropped."""
    chars = {OPEN: "(", CLOSE: ")"}
    out = []
    for row, seq in enumerate(np.asarray(tokens)):
        s = []
        for i, t in enumerate(seq.tolist()):
            if t in chars:
                s.append(chars[t])
            elif t not in (START, END, PAD):
                raise ValueError(f"decode: token {t} at position {i} of row {row} is not in the vocabulary")
        out.append("".join(s))
    return out
