"""The C regex engine behind rc.Regex (csrc/match/regex.c) against Python's re.search.

Patterns in the engine's subset must run in C (`Regex._native`) and agree with re on every string;
patterns outside it fall back to re and agree trivially; invalid patterns raise ValueError.
"""

import re

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import circuits as rc

# --- strategies ------------------------------------------------------------------------------

ATOMS = [
    "a",
    "b",
    "1",
    "_",
    " ",
    "-",
    "}",
    "]",
    ".",
    r"\.",
    r"\{",
    r"\\",
    r"\n",
    r"\t",
    r"\x41",
    r"\d",
    r"\w",
    r"\s",
    r"\D",
    r"\W",
    r"\S",
    "[ab]",
    "[^a]",
    "[a-c1]",
    r"[\d.]",
    r"[^\w]",
    "[-a]",
    "[a-]",
    "[]a]",
    "[^]a]",
    r"[\]\-]",
    r"[\x30-\x39b]",
    r"[\b]",
    "[.]",
    "[|]",
]
QUANTIFIERS = ["", "", "", "*", "+", "?", "*?", "+?", "??", "{2}", "{1,3}", "{,2}", "{2,}", "{0}"]

atom = st.sampled_from(ATOMS)
quantifier = st.sampled_from(QUANTIFIERS)


def _group(inner, capture):
    return ("(" if capture else "(?:") + inner + ")"


pattern = st.recursive(
    st.tuples(atom, quantifier).map("".join) | st.sampled_from(["^", "$"]),
    lambda inner: st.one_of(
        st.lists(inner, min_size=0, max_size=4).map("".join),
        st.lists(inner, min_size=2, max_size=3).map("|".join),
        st.tuples(inner, st.booleans(), quantifier).map(lambda t: _group(t[0], t[1]) + t[2]),
    ),
    max_leaves=8,
)

# Names as rc users write them, plus newlines, non-ASCII letters and a non-ASCII digit (which
# \d matches in Python: the engine must hand such names to re).
subject = st.text(alphabet=st.sampled_from(list("ab1_. \n-]{}A.h") + ["é", "٣", "中"]), max_size=24)


def python_search(p, s):
    return re.search(p, s) is not None


# --- the engine against re -------------------------------------------------------------------


@given(pattern, st.lists(subject, min_size=1, max_size=8))
def test_subset_patterns_run_in_c_and_agree_with_re(p, strings):
    r = rc.Regex(p, escape_dot=False)
    assert r._native, p
    for s in strings:
        assert r.call(s) == python_search(p, s), (p, s)


# re warns about syntax it may read differently one day ("possible nested set"); the test
# compares with what it does today.
@pytest.mark.filterwarnings("ignore::FutureWarning")
@given(
    st.text(alphabet=st.sampled_from(list("ab1.^$*+?{}[]()|\\-,:dwsDWSx^") + ["é"]), max_size=10)
)
def test_any_pattern_agrees_with_re_or_raises_value_error(p):
    try:
        compiled = re.compile(p)
    except (re.error, OverflowError, RecursionError):
        with pytest.raises(ValueError, match="invalid regex pattern"):
            rc.Regex(p, escape_dot=False)
        return
    r = rc.Regex(p, escape_dot=False)
    for s in ["", "a", "ab1", "a.b\n", "1a\n", "é1", "xx{}", "[a]", "a" * 20]:
        assert r.call(s) == (compiled.search(s) is not None), (p, s)


def swap_dots(p):
    """rc's escape_dot rewrite, as the bindings apply it."""
    out, i = [], 0
    while i < len(p):
        if p[i] == "\\" and i + 1 < len(p) and p[i + 1] == ".":
            out.append(".")
            i += 2
        elif p[i] == ".":
            out.append("\\.")
            i += 1
        else:
            out.append(p[i])
            i += 1
    return "".join(out)


@given(pattern, st.lists(subject, min_size=1, max_size=4))
def test_escape_dot_swaps_before_matching(p, strings):
    swapped = swap_dots(p)
    try:
        re.compile(swapped)
    except re.error:
        assume(False)
    r = rc.Regex(p)
    for s in strings:
        assert r.call(s) == python_search(swapped, s), (p, s)


REMIX = r"[am]\d(.h\d)?$"


@pytest.mark.parametrize(
    "name, found",
    [
        ("a1", True),
        ("m3", True),
        ("a1.h2", True),
        ("xa1.h2", True),
        ("a1.h2\n", True),
        ("a1xh2", False),  # escape_dot: '.' is a literal dot
        ("a1.h2.q", False),
        ("a12", False),
        ("b1", False),
        ("", False),
    ],
)
def test_remix_pattern(name, found):
    r = rc.Regex(REMIX)
    assert r._native
    expected = python_search(swap_dots(REMIX), name)
    assert r.call(name) == expected == found


@pytest.mark.filterwarnings("ignore::FutureWarning")
@pytest.mark.parametrize(
    "p",
    [
        r"(?P<x>a)b",  # named group
        r"(a)\1",  # back reference
        r"a(?=b)",  # lookahead
        r"(?<!a)b",  # lookbehind
        r"(?i)ab",  # flags
        r"\bab",  # word boundary
        r"\Aab\Z",
        r"a*+",  # possessive
        r"(?>a)",  # atomic group
        "é+",  # non-ASCII literal
        r"\u00e9",
        r"\x80",
        r"\0",
        r"a{1001}",  # past the engine's repeat cap
        "[[a]",  # a possible future nested set
        "[a||]",
        "(" * 70 + "a" + ")" * 70,  # past the nesting cap
        "(?#comment)a",
    ],
)
def test_patterns_outside_the_subset_fall_back_to_re(p):
    compiled = re.compile(p)
    r = rc.Regex(p, escape_dot=False)
    assert not r._native
    for s in ["", "a", "ab", "aab", "ba", "é", "AB", "\x80", "\0", "a" * 1001, "[a]", "a-b"]:
        assert r.call(s) == (compiled.search(s) is not None), (p, s)


@pytest.mark.parametrize("p", ["(", "a**", "[a", "a{2,1}", r"\q", "*a", "a|*", "(?P<1>a)", "[b-a]"])
def test_invalid_patterns_raise_value_error(p):
    with pytest.raises(ValueError, match="invalid regex pattern"):
        rc.Regex(p, escape_dot=False)


@pytest.mark.parametrize(
    "p, s, found",
    [
        # Exponential for a backtracking engine (re takes seconds at 25 characters).
        ("(a*)*b", "a" * 5000, False),
        ("(a*)*b", "a" * 5000 + "b", True),
        ("(a|aa)*c", "a" * 5000, False),
        ("(?:a?){30}a{30}", "a" * 30, True),
        ("(?:a?){30}a{30}", "a" * 29, False),
        # More DFA states than the cap: the program is simulated.
        ("(a|b)*a(a|b){12}", "ab" * 200, True),
        ("(a|b)*a(a|b){12}$", "a" + "b" * 12 + "\n", True),
        ("(a|b)*a(a|b){12}$", "a" + "b" * 13 + "\n", False),
        # Non-ASCII with \w: decided by re.
        (r"^\w*$", "a" * 100 + "é", True),
        (r"^\w*$", "a" * 100 + "é ", False),
    ],
)
def test_hard_patterns_stay_fast(p, s, found):
    r = rc.Regex(p, escape_dot=False)
    assert r._native
    assert r.call(s) == found


def test_large_counted_repeats_are_exact():
    r = rc.Regex(r"^x{3,200}$", escape_dot=False)
    assert r._native
    for n in [0, 2, 3, 4, 199, 200, 201]:
        assert r.call("x" * n) == (3 <= n <= 200)
        assert r.call("x" * n + "\n") == (3 <= n <= 200)


# --- through matchers ------------------------------------------------------------------------


def _named_leaves(names):
    return [rc.Scalar(1.0, shape=(2,), name=n) for n in names]


NAMES = ["a0.h1", "a10.h3", "m2", "a1.h2.q", "é.h1", "a٣.h1", "x\ny", "a2.h9\n", "b", ""]


@pytest.mark.parametrize(
    "p",
    [r"^a\d+.h\d+$", REMIX, r"h\d$", r"\w\.h", r"^[^a]", "^$", "", r"a\d", "y$", r"(?P<n>a)\d"],
)
def test_get_by_regex_agrees_with_re_on_node_names(p):
    leaves = _named_leaves(NAMES)
    unnamed = rc.Add(*leaves[:2], name=None)
    root = rc.Add(unnamed, *leaves[2:], name="root")
    swapped = swap_dots(p)
    expected = {
        c for c in [root, unnamed, *leaves] if c.name is not None and python_search(swapped, c.name)
    }
    assert root.get(rc.Regex(p)) == expected
    assert root.get(rc.Matcher.regex(p)) == expected


def test_regex_on_a_large_circuit_matches_every_head():
    heads = [
        rc.Array(np.zeros(2, dtype=np.float32), name=f"a{l}.h{h}")
        for l in range(3)
        for h in range(4)
    ]
    other = [
        rc.Array(np.zeros(2, dtype=np.float32), name=f"a{l}.h{h}.q")
        for l in range(3)
        for h in range(4)
    ]
    root = rc.Add(*heads, *other, name="final")
    assert root.get(rc.Regex(r"^a\d+.h\d+$")) == set(heads)
    assert root.get(rc.Regex(r"^a\d+.h\d+.q$")) == set(other)


@given(pattern, st.lists(subject, min_size=1, max_size=6, unique=True))
def test_get_by_subset_pattern_agrees_with_re(p, names):
    leaves = _named_leaves(names)
    root = rc.Add(*leaves, name="root")
    expected = {c for c in [root, *leaves] if python_search(p, c.name)}
    assert root.get(rc.Regex(p, escape_dot=False)) == expected
