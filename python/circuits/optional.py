"""Helpers for Optional values (rc's rust_circuit.optional), named after Rust's Option
methods: `import circuits.optional as op; op.map(c.name, str.upper)`."""

from typing import Callable, Iterable, Optional, TypeVar

T = TypeVar("T")
U = TypeVar("U")


def it(x: Optional[T]) -> Iterable[T]:
    """x as an iterable of zero or one item."""
    return () if x is None else (x,)


def map(x: Optional[T], f: Callable[[T], U]) -> Optional[U]:
    """f(x), or None when x is None."""
    return None if x is None else f(x)


def unwrap(x: Optional[T], error: str = "") -> T:
    """x, which must not be None (AssertionError with error otherwise)."""
    if x is None:
        raise AssertionError(error)
    return x


def unwrap_or(x: Optional[T], default: T) -> T:
    """x, or default when x is None."""
    return default if x is None else x


def unwrap_or_else(x: Optional[T], default: Callable[[], T]) -> T:
    """x, or default() when x is None (default is called only then)."""
    return default() if x is None else x


def or_y(x: Optional[T], y: Optional[T]) -> Optional[T]:
    """x, or y when x is None."""
    return y if x is None else x
