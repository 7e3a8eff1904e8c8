"""rc.CharTokenizer: start token, one token per character, end token, pads to pad_width; as
REMIX's paren balancer uses it."""

import numpy as np
import pytest

import circuits as rc

START, PAD, END, OPEN, CLOSE = 0, 1, 2, 3, 4


def paren_tokenizer(pad_width, error_if_over=False):
    return rc.CharTokenizer(
        start=START,
        end=END,
        pad=PAD,
        pad_width=pad_width,
        mapping={"(": OPEN, ")": CLOSE},
        error_if_over=error_if_over,
    )


def as_numpy(value):
    return value.numpy() if hasattr(value, "numpy") else np.asarray(value)


def reference(strings, pad_width, mapping):
    rows = []
    for s in strings:
        s = s[: pad_width - 2]
        row = [START] + [mapping[c] for c in s] + [END]
        rows.append(row + [PAD] * (pad_width - len(row)))
    return np.array(rows, dtype=np.int64).reshape(len(strings), pad_width)


def test_paren_balancer_tokens():
    strs = ["()", "(())", "", ")("]
    max_len = max(len(s) for s in strs)
    tokens = paren_tokenizer(max_len + 2).tokenize_strings(strs)
    expected = [
        [START, OPEN, CLOSE, END, PAD, PAD],
        [START, OPEN, OPEN, CLOSE, CLOSE, END],
        [START, END, PAD, PAD, PAD, PAD],
        [START, CLOSE, OPEN, END, PAD, PAD],
    ]
    np.testing.assert_array_equal(as_numpy(tokens), expected)
    assert as_numpy(tokens).dtype == np.int64


def test_result_type_follows_the_package():
    torch = pytest.importorskip("torch")
    tokens = paren_tokenizer(4).tokenize_strings(["()"])
    assert isinstance(tokens, torch.Tensor) and tokens.dtype == torch.int64
    previous = rc.get_result_type()
    rc.set_result_type("numpy")
    try:
        tokens = paren_tokenizer(4).tokenize_strings(["()"])
    finally:
        rc.set_result_type(previous)
    assert isinstance(tokens, np.ndarray) and tokens.dtype == np.int64


def test_random_strings_against_a_reference():
    rng = np.random.default_rng(0)
    mapping = {c: 10 + i for i, c in enumerate("abcxyz()")}
    tok = rc.CharTokenizer(START, END, PAD, 12, mapping, False)
    strings = ["".join(rng.choice(list(mapping), size=rng.integers(0, 15))) for _ in range(50)]
    np.testing.assert_array_equal(
        as_numpy(tok.tokenize_strings(strings)), reference(strings, 12, mapping)
    )


def test_long_strings_are_cut_unless_error_if_over():
    tokens = paren_tokenizer(4).tokenize_strings(["((()))"])
    np.testing.assert_array_equal(as_numpy(tokens), [[START, OPEN, OPEN, END]])
    tok = paren_tokenizer(4, error_if_over=True)
    np.testing.assert_array_equal(
        as_numpy(tok.tokenize_strings(["()"])), [[START, OPEN, CLOSE, END]]
    )
    with pytest.raises(
        RuntimeError, match=r"string 1 is too wide: 3 characters, but pad_width=4 fits 2"
    ):
        tok.tokenize_strings(["()", "(()"])


def test_no_strings_and_attributes():
    tok = paren_tokenizer(5)
    assert as_numpy(tok.tokenize_strings([])).shape == (0, 5)
    assert (tok.start, tok.end, tok.pad, tok.pad_width) == (START, END, PAD, 5)
    assert tok.mapping == {"(": OPEN, ")": CLOSE}
    assert tok.error_if_over is False
    assert "pad_width=5" in repr(tok)
    tok.pad_width = 3
    assert as_numpy(tok.tokenize_strings(["()"])).tolist() == [[START, OPEN, END]]


def test_unmapped_characters_name_the_character_and_string():
    with pytest.raises(
        RuntimeError, match=r"invalid char 'x' at position 1 of string 2 \('\(x\)'\)"
    ):
        paren_tokenizer(6).tokenize_strings(["()", "", "(x)"])
    # a character cut away by the pad width is never looked up
    assert as_numpy(paren_tokenizer(3).tokenize_strings(["(x"])).tolist() == [[START, OPEN, END]]


def test_constructor_errors():
    with pytest.raises(RuntimeError, match="token not 1 byte: 'ab'"):
        rc.CharTokenizer(0, 1, 2, 5, {"ab": 3}, False)
    with pytest.raises(RuntimeError, match="token not 1 byte: 'é'"):
        rc.CharTokenizer(0, 1, 2, 5, {"é": 3}, False)
    with pytest.raises(TypeError, match="mapping keys must be str"):
        rc.CharTokenizer(0, 1, 2, 5, {3: 3}, False)
    with pytest.raises(TypeError, match="mapping must be a dict, not list"):
        rc.CharTokenizer(0, 1, 2, 5, ["a"], False)
    with pytest.raises(TypeError, match="pad_width must be an int, not float"):
        rc.CharTokenizer(0, 1, 2, 5.0, {"a": 3}, False)
    with pytest.raises(TypeError, match=r"the token of 'a' must be an int, not str"):
        rc.CharTokenizer(0, 1, 2, 5, {"a": "3"}, False)
    with pytest.raises(ValueError, match="pad_width=1 leaves no room"):
        rc.CharTokenizer(0, 1, 2, 1, {"a": 3}, False)


def test_tokenize_argument_errors():
    tok = paren_tokenizer(4)
    with pytest.raises(TypeError, match="expected a list of str, got one str"):
        tok.tokenize_strings("()")
    with pytest.raises(TypeError, match="string 1 is a int, not a str"):
        tok.tokenize_strings(["()", 3])
