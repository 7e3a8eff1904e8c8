"""rc's CharTokenizer: one token per character, for small synthetic tasks (REMIX's paren
balancer).

Each string becomes one row of pad_width int64 tokens: the start token, the token of each
character, the end token, then the pad token to the end of the row. A string longer than the
pad_width - 2 characters that fit raises when error_if_over, and is cut to that length
otherwise. The result is a torch tensor when torch is installed, else a numpy array.
"""

import operator
from typing import Dict, List, Sequence

import numpy as np

from ._values import as_result


def _int(value, what: str) -> int:
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(
            f"CharTokenizer: {what} must be an int, not {type(value).__name__}"
        ) from None


class CharTokenizer:
    """CharTokenizer(start, end, pad, pad_width, mapping, error_if_over): mapping takes each
    character (one byte: ASCII) to its token; pad_width is the length of every row, start and
    end tokens included."""

    def __init__(
        self,
        start: int,
        end: int,
        pad: int,
        pad_width: int,
        mapping: Dict[str, int],
        error_if_over: bool,
    ):
        self.start = _int(start, "start")
        self.end = _int(end, "end")
        self.pad = _int(pad, "pad")
        self.pad_width = _int(pad_width, "pad_width")
        if self.pad_width < 2:
            raise ValueError(
                f"CharTokenizer: pad_width={self.pad_width} leaves no room for the start and end "
                "tokens (it must be at least 2)"
            )
        if not hasattr(mapping, "items"):
            raise TypeError(f"CharTokenizer: mapping must be a dict, not {type(mapping).__name__}")
        table = {}
        for char, token in mapping.items():
            if not isinstance(char, str):
                raise TypeError(f"CharTokenizer: mapping keys must be str, got {char!r}")
            if len(char.encode("utf-8")) != 1:
                raise RuntimeError(
                    f"CharTokenizer: char tokenizer token not 1 byte: {char!r} (each key must be "
                    "one ASCII character)"
                )
            table[char] = _int(token, f"the token of {char!r}")
        self.mapping = table
        self.error_if_over = bool(error_if_over)

    def __repr__(self) -> str:
        return (
            f"CharTokenizer(start={self.start}, end={self.end}, pad={self.pad}, "
            f"pad_width={self.pad_width}, mapping={self.mapping!r}, "
            f"error_if_over={self.error_if_over})"
        )

    def tokenize_strings(self, strings: Sequence[str]):
        """int64 tokens [len(strings), pad_width]: start, the characters' tokens, end, pads."""
        if isinstance(strings, str):
            raise TypeError("CharTokenizer.tokenize_strings: expected a list of str, got one str")
        strings: List[str] = list(strings)
        width = self.pad_width
        if width < 2:
            raise ValueError(f"CharTokenizer: pad_width={width} must be at least 2")
        fits = width - 2
        out = np.full((len(strings), width), self.pad, dtype=np.int64)
        for i, s in enumerate(strings):
            if not isinstance(s, str):
                raise TypeError(
                    f"CharTokenizer.tokenize_strings: string {i} is a {type(s).__name__}, not a str"
                )
            if len(s) > fits and self.error_if_over:
                raise RuntimeError(
                    f"CharTokenizer: string {i} is too wide: {len(s)} characters, but pad_width="
                    f"{width} fits {fits} besides the start and end tokens"
                )
            out[i, 0] = self.start
            for j, char in enumerate(s[:fits]):
                token = self.mapping.get(char)
                if token is None:
                    raise RuntimeError(
                        f"CharTokenizer: invalid char {char!r} at position {j} of string {i} "
                        f"({s!r}): the mapping has no token for it"
                    )
                out[i, j + 1] = token
            out[i, min(len(s), fits) + 1] = self.end
        return as_result(out)
