"""rc's printing type names and knobs (spec 6.1-6.2): CliColor, CircuitColorer,
CircuitCommenter, CircuitHtmlColorer, PrintOptionsBase and print_circuit_type_check, with the
colours and comments they give a printed line, and their errors."""

import typing
import uuid

import pytest

import circuits as rc

CODES = (31, 32, 33, 34, 35, 36, 90, 91, 92, 93, 94, 95, 96, 97)


def leaf(name="x"):
    return rc.Scalar(1.0, (2,), name)


def test_cli_color_is_rcs_union():
    args = typing.get_args(rc.CliColor)
    names = {typing.get_args(a)[0] for a in args if typing.get_origin(a) is typing.Literal}
    assert names == {"Green", "Red", "Blue", "Yellow", "Cyan", "Magenta", "White"}
    assert type(None) in args and int in args


def test_colorer_and_commenter_aliases_are_callables_of_circuits():
    assert typing.get_origin(rc.CircuitColorer) is typing.get_origin(typing.Callable)
    assert typing.get_args(rc.CircuitColorer) == ([rc.Circuit], rc.CliColor)
    assert typing.get_args(rc.CircuitCommenter) == ([rc.Circuit], str)
    assert typing.get_args(rc.CircuitHtmlColorer) == ([rc.Circuit], typing.Optional[str])
    assert set(typing.get_args(rc.PrintOptionsBase)) == {rc.PrintOptions, rc.PrintHtmlOptions}


@pytest.mark.parametrize(
    "color, code",
    [("Red", 31), ("Green", 32), ("Yellow", 33), ("Blue", 34), ("Magenta", 35), ("Cyan", 36)]
    + [("White", 90), (0, 31), (6, 90), (13, 97), (14, 31), (100, CODES[100 % 14])],
)
def test_colorer_values_colour_the_line(color, code):
    colorer: rc.CircuitColorer = lambda c: color
    text = rc.PrintOptions(colorer=colorer).repr(leaf())
    assert text == f"\x1b[{code}m'x' [2] Scalar 1\x1b[0m"


def test_none_colour_leaves_the_line_plain_and_colorer_sees_each_node():
    seen = []

    def colorer(c):
        seen.append(c)
        return None if c.is_leaf else "Blue"

    text = rc.PrintOptions(colorer=colorer).repr(rc.Add(leaf(), name="s"))
    assert text == "\x1b[34m's' Add\x1b[0m\n  'x' [2] Scalar 1"
    assert [c.name for c in seen] == ["s", "x"]


def test_commenters_append_comments_and_skip_empty_ones():
    first: rc.CircuitCommenter = lambda c: f"rank {c.rank}"
    empty: rc.CircuitCommenter = lambda c: ""
    text = rc.PrintOptions(commenters=[first, empty, lambda c: c.variant_string]).repr(leaf())
    assert text == "'x' [2] Scalar 1 # rank 1 # Scalar"


def test_html_colorer_colours_cells():
    html_colorer: rc.CircuitHtmlColorer = lambda c: "rgb(1, 2, 3)" if c.is_leaf else None
    out = rc.PrintHtmlOptions(colorer=html_colorer).repr(rc.Add(leaf(), name="s"))
    assert "rgb(1, 2, 3)" in out


@pytest.mark.parametrize("options", [rc.PrintOptions(), rc.PrintHtmlOptions()])
def test_print_options_base_is_what_repr_takes(options):
    out = leaf().repr(options)
    assert "Scalar" in out


def test_colour_errors():
    with pytest.raises(ValueError, match="unknown colour 'Purple'"):
        rc.PrintOptions(colorer=lambda c: "Purple").repr(leaf())
    with pytest.raises(TypeError, match="a colour is None, an int >= 0 or a name"):
        rc.PrintOptions(colorer=lambda c: -1).repr(leaf())
    with pytest.raises(TypeError, match="a colour is None"):
        rc.PrintOptions(colorer=lambda c: 1.5).repr(leaf())
    with pytest.raises(TypeError, match="expected PrintOptions"):
        leaf().repr("not options")


def test_print_circuit_type_check(capsys):
    # rc's test_circuit_type
    for cls in (rc.Cumulant, rc.Symbol, rc.Array, rc.Einsum, rc.Add):
        assert rc.print_circuit_type_check(cls) is cls
        assert cls.__name__ in capsys.readouterr().err
    assert isinstance(rc.Symbol([2, 3], uuid.uuid4(), name="hi"), rc.Symbol)
    for bad in (int, None, rc.Circuit, rc.Add()):
        with pytest.raises(TypeError, match="expected a circuit class"):
            rc.print_circuit_type_check(bad)
