"""rc's symbolic-size objects and the small Circuit methods around Modules.

The engine does the work (Module construction, substitution, expansion and the
constraint rules live in C); this module only wraps its answers in rc's classes.
"""

from . import _circuits
from ._circuits import Circuit, SetSymbolicShape


class SymbolicSizeProduct:
    """A size as `other_factor` times the symbolic sizes listed by index (`0s`, `1s`, ...)."""

    __slots__ = ("other_factor", "symbolic_sizes")

    def __init__(self, other_factor: int = 1, symbolic_sizes=()):
        self.other_factor = int(other_factor)
        self.symbolic_sizes = [int(i) for i in symbolic_sizes]

    @staticmethod
    def from_size(size: int) -> "SymbolicSizeProduct":
        factor, sizes = _circuits._size_product(int(size))
        return SymbolicSizeProduct(factor, sizes)

    @staticmethod
    def has_symbolic(size: int) -> bool:
        return bool(_circuits._size_product(int(size))[1])

    def __int__(self):
        out = self.other_factor
        primes = _circuits.symbolic_sizes()
        for i in self.symbolic_sizes:
            out *= primes[i]
        return out

    def _key(self):
        return (self.other_factor, tuple(self.symbolic_sizes))

    def __eq__(self, other):
        return isinstance(other, SymbolicSizeProduct) and self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def __repr__(self):
        if not self.symbolic_sizes:
            return str(self.other_factor)
        parts = [] if self.other_factor == 1 else [str(self.other_factor)]
        return "*".join(parts + [f"{i}s" for i in self.symbolic_sizes])


class SymbolicSizeConstraint:
    """`l == r`, recorded by a SetSymbolicShape; `l` has the more symbolic factors."""

    __slots__ = ("l", "r")

    def __init__(self, l: SymbolicSizeProduct, r: SymbolicSizeProduct):
        self.l = l
        self.r = r

    @staticmethod
    def get_new_from(l: int, r: int):
        """rc's get_new_from: None when the sizes say nothing, else the constraint (raises
        SymbolicSizeSetFactorDoesntDivideSetToError when they can't be equal)."""
        got = _circuits._size_constraint(int(l), int(r))
        if got is None:
            return None
        (lf, ls), (rf, rs) = got
        return SymbolicSizeConstraint(SymbolicSizeProduct(lf, ls), SymbolicSizeProduct(rf, rs))

    def __eq__(self, other):
        return isinstance(other, SymbolicSizeConstraint) and (self.l, self.r) == (other.l, other.r)

    def __hash__(self):
        return hash((self.l, self.r))

    def __repr__(self):
        return f"{self.l!r}={self.r!r}"


def symbolic_shape(self):
    """The shape as SymbolicSizeProducts."""
    return [SymbolicSizeProduct.from_size(s) for s in self.shape]


def symbolic_size_constraints(self):
    """The constraints recorded by every SetSymbolicShape in the circuit."""
    found = set()

    def visit(c):
        if isinstance(c, SetSymbolicShape):
            for size, set_to in zip(c.node.shape, c.shape):
                constraint = SymbolicSizeConstraint.get_new_from(size, set_to)
                if constraint is not None:
                    found.add(constraint)

    self.visit(visit)
    return found


def get_children_with_symbolic_sizes(circuit):
    out = set()

    def visit(c):
        if any(SymbolicSizeProduct.has_symbolic(s) for s in c.shape):
            out.add(c)

    circuit.visit(visit)
    return out


def any_children_with_symbolic_sizes(circuit) -> bool:
    return bool(get_children_with_symbolic_sizes(circuit))


def install():
    Circuit.symbolic_shape = symbolic_shape
    Circuit.symbolic_size_constraints = property(symbolic_size_constraints)
