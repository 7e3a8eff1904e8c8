"""circuit.print()/repr() and rc.PrintOptions (spec 6.1-6.2): the bijective form (quoted names,
AD, tensor hashes, Module bindings), every knob, errors, and the notebook HTML. Expected texts
are written out in the tests; the parse-back half of the round trip is in test_roundtrip.py."""

import io
import uuid

import numpy as np
import pytest

import circuits as rc

U = uuid.UUID("0123abcd-0000-4000-8000-00000000cafe")
NIL = uuid.UUID(int=0)


def einy():
    return rc.Einsum.from_einsum_string(
        "ab,bc->aa",
        rc.Scalar(1.0, (2, 3), "scalar1"),
        rc.Rearrange.from_string(rc.Scalar(2.0, (4, 3), "scalar2"), "a b -> b a"),
        name="einy",
    )


def small_module():
    x = rc.Symbol((3,), U, "m.input")
    w = rc.Symbol((3,), NIL, "m.w")
    body = rc.Einsum.from_einsum_string("i,i->i", x, w, name="m.out")
    spec = rc.ModuleSpec(body, [rc.ModuleArgSpec(x), rc.ModuleArgSpec(w, batchable=False)])
    args = {"m.input": rc.Scalar(2.0, (3,), "a"), "m.w": rc.Scalar(3.0, (3,), "b")}
    return rc.Module(spec, name="m", **args)


# --- golden texts of the bijective form ------------------------------------------------------


def test_golden_einsum_rearrange():
    assert einy().repr() == (
        "'einy' Einsum ab,bc->aa\n"
        "  'scalar1' [2,3] Scalar 1\n"
        "  'scalar2 rearrange' Rearrange a b -> b a\n"
        "    'scalar2' [4,3] Scalar 2"
    )


def test_golden_repeated_unnamed_node():
    s = rc.Scalar(1.0, (2,))
    assert rc.Add(s, s).repr() == "0 Add\n  1 [2] Scalar 1\n  1 Scalar"


def test_golden_repeated_named_node():
    s = rc.Scalar(1.0, (2,), "scaley")
    assert rc.Add(s, s, name="addey").repr() == "'addey' Add\n  'scaley' [2] Scalar 1\n  'scaley'"


def test_golden_shared_name_gets_serials():
    c = rc.Add(rc.Scalar(1.0, (2,), "s"), rc.Scalar(2.0, (2,), "s"), name="t")
    assert c.repr() == "'t' Add\n  0 's' [2] Scalar 1\n  1 's' [2] Scalar 2"


def test_golden_force_serial_numbers():
    c = rc.Add(rc.Scalar(1.0, (2,), "s"), rc.Scalar(2.0, (2,), "q"), name="t")
    opts = rc.PrintOptions(force_use_serial_numbers=True)
    assert opts.repr(c) == "0 't' Add\n  1 's' [2] Scalar 1\n  2 'q' [2] Scalar 2"
    assert rc.PrintOptions.compiler_default().repr(c) == opts.repr(c)


def test_golden_module_bindings_and_flags():
    assert small_module().repr() == (
        "'m' Module\n"
        "  'm.out' Einsum i,i->i\n"
        "    'm.input' [3] Symbol 0123abcd-0000-4000-8000-00000000cafe\n"
        "    'm.w' [3] Symbol\n"
        "  'a' [3] Scalar 2 ! 'm.input'\n"
        "  'b' [3] Scalar 3 ! 'm.w' ftt"
    )


def test_golden_array_hash_prefix_is_rcs():
    # rc's printing demo shows this hash for torch.zeros(2, 3).
    assert rc.Array(np.zeros((2, 3), np.float32), "z").repr() == (
        "'z' [2,3] Array 2f97b0bb06d4adba46cd8756"
    )


def test_golden_index_tensor_hash_and_literal():
    c = rc.Index(rc.Scalar(1.0, (5, 2), "s"), (np.array([0, 2, 4]), 1))
    h = rc.Array(np.array([0, 2, 4])).tensor_hash_base16()[:10]
    assert c.repr() == f"'s idx' [3] Index [t{h} [3],1]\n  's' [5,2] Scalar 1"
    literal = rc.PrintOptions(bijection=False, tensor_index_literal=True).repr(c)
    assert literal == "s idx [3] Index [[0, 2, 4],1]\n  s [5,2] Scalar 1"
    assert repr(c) == "<s idx [3] Index [[3],1]\n  s [5,2] Scalar 1>"


def test_golden_escaped_names_and_autoname_flag():
    name = "it's\\x"
    assert rc.Scalar(1.0, (2,), name).repr() == "'it\\'s\\\\x' [2] Scalar 1"
    assert rc.Scalar(1.0, (2,), "s").with_autoname_disabled().repr() == "'s' AD [2] Scalar 1"


def test_golden_tag_symbol_and_functions():
    assert rc.Tag(rc.Scalar(1.0, (2,), "s"), U, name="t").repr() == (
        f"'t' Tag {U}\n  's' [2] Scalar 1"
    )
    assert rc.Symbol((2,), NIL, "nil").repr() == "'nil' [2] Symbol"
    assert rc.softmax(rc.Scalar(1.0, (2,), "s"), name="p").repr() == (
        "'p' GeneralFunction softmax\n  's' [2] Scalar 1"
    )


def test_python_general_function_is_marked_not_serializable(double_spec):
    c = rc.GeneralFunction(rc.Scalar(1.0, (2,), "s"), spec=double_spec, name="d")
    assert c.repr().splitlines()[0] == "'d' GeneralFunction double [NOT_SERIALIZABLE]"
    assert repr(c).splitlines()[0] == "<d [2] GeneralFunction double"


def test_many_circuits_share_serials_and_references():
    s = rc.Scalar(7.0, (1, 3), "0")
    a = rc.Add(rc.Scalar(1.0, (3,)), s)
    assert rc.PrintOptions().repr(s, a) == "'0' [1,3] Scalar 7\n0 Add\n  1 [3] Scalar 1\n  '0'"


def test_shape_only_when_necessary_off_shows_every_shape():
    text = rc.PrintOptions(shape_only_when_necessary=False).repr(einy())
    assert text.splitlines()[0] == "'einy' [2,2] Einsum ab,bc->aa"
    assert text.splitlines()[2] == "  'scalar2 rearrange' [3,4] Rearrange a b -> b a"


# --- knobs of the non-bijective form ---------------------------------------------------------


def plain(**kw):
    return rc.PrintOptions(bijection=False, **kw)


def test_traversal_cuts_with_dots():
    text = plain(traversal=rc.new_traversal(end_depth=2)).repr(einy())
    assert text == (
        "einy Einsum ab,bc->aa\n"
        "  scalar1 [2,3] Scalar 1\n"
        "  scalar2 rearrange Rearrange a b -> b a ..."
    )
    assert rc.PrintOptions.repr_depth(einy(), end_depth=1) == "einy Einsum ab,bc->aa ..."


def test_traversal_stops_where_matcher_terminates():
    stop_at_rearrange = rc.IterativeMatcher(True).filter(term_early_at=rc.Rearrange)
    text = plain(traversal=stop_at_rearrange).repr(einy())
    assert text.splitlines()[-1] == "  scalar2 rearrange Rearrange a b -> b a ..."


def test_arrows_and_leaves_on_top():
    assert plain(arrows=True).repr(einy()) == (
        "einy Einsum ab,bc->aa\n"
        "├‣scalar1 [2,3] Scalar 1\n"
        "└‣scalar2 rearrange Rearrange a b -> b a\n"
        "  └‣scalar2 [4,3] Scalar 2"
    )
    assert plain(arrows=True, leaves_on_top=True).repr(einy()) == (
        "  ┌‣scalar2 [4,3] Scalar 2\n"
        "┌‣scalar2 rearrange Rearrange a b -> b a\n"
        "├‣scalar1 [2,3] Scalar 1\n"
        "einy Einsum ab,bc->aa"
    )


def test_arrows_keep_bars_of_open_ancestors():
    inner = rc.Add(rc.Scalar(1.0, (2,), "p"), rc.Scalar(2.0, (2,), "q"), name="in")
    outer = rc.Add(inner, rc.Scalar(3.0, (2,), "r"), name="out")
    assert plain(arrows=True).repr(outer) == (
        "out Add\n├‣in Add\n│ ├‣p [2] Scalar 1\n│ └‣q [2] Scalar 2\n└‣r [2] Scalar 3"
    )


def test_only_child_below():
    assert plain(only_child_below=True).repr(einy()) == (
        "einy Einsum ab,bc->aa\n"
        "  scalar1 [2,3] Scalar 1\n"
        "  scalar2 rearrange Rearrange a b -> b a\n"
        "  ▼\n"
        "  scalar2 [4,3] Scalar 2"
    )


def test_number_leaves_comment_arg_names_and_commenters():
    text = plain(
        number_leaves=True,
        comment_arg_names=True,
        commenters=[lambda c: c.variant_string, lambda c: ""],
    ).repr(einy())
    m = "\x1b[35m{}\x1b[0m"
    assert text.splitlines() == [
        "einy Einsum ab,bc->aa # Einsum",
        f"  scalar1 [2,3] Scalar 1 # ab # {m.format(0)} # Scalar",
        "  scalar2 rearrange Rearrange a b -> b a # bc # Rearrange",
        f"    scalar2 [4,3] Scalar 2 # {m.format(1)} # Scalar",
    ]
    spec_line = rc.PrintOptions(comment_arg_names=True).repr(small_module()).splitlines()[1]
    assert spec_line == "  'm.out' Einsum i,i->i # Spec"


def test_colorer_codes_and_names():
    text = plain(colorer=lambda c: "Red" if c.is_scalar() else 3).repr(einy())
    assert text.splitlines()[0] == "\x1b[34meiny Einsum ab,bc->aa\x1b[0m"
    assert text.splitlines()[1] == "  \x1b[31mscalar1 [2,3] Scalar 1\x1b[0m"
    hashed = plain(colorer=rc.PrintOptions.hash_colorer()).repr(einy())
    assert hashed.count("\x1b[0m") == 4


def test_print_leaves_colour_out_of_plain_streams():
    out = io.StringIO()
    plain(colorer=rc.PrintOptions.type_colorer()).print(einy(), file=out)
    assert "\x1b[" not in out.getvalue()
    assert out.getvalue() == plain().repr(einy()) + "\n"


def test_reference_circuits():
    c = einy()
    sub = c.children[1]
    text = rc.PrintOptions(reference_circuits={sub: "the rearrange"}).repr(c)
    assert text.splitlines() == [
        "'einy' Einsum ab,bc->aa",
        "  'scalar1' [2,3] Scalar 1",
        "  'the rearrange'",
    ]
    named = rc.PrintOptions(reference_circuits_by_name=[sub]).repr(c)
    assert named.splitlines()[-1] == "  'scalar2 rearrange'"


def test_type_nest_default_expands_only_einsums():
    inner = rc.Einsum.from_einsum_string(
        "a,a->a", rc.Scalar(1.0, (2,), "x"), rc.Scalar(2.0, (2,), "y"), name="e1"
    )
    c = rc.Einsum.from_einsum_string(
        "a,a->a", inner, rc.relu(rc.Scalar(3.0, (2,), "z"), name="r"), name="e0"
    )
    lines = rc.PrintOptions.einsum_nest_default().repr(c).splitlines()
    assert [line.split(" #")[0] for line in lines] == [
        "e0 Einsum a,a->a",
        "  e1 Einsum a,a->a",
        "    x [2] Scalar 1",
        "    y [2] Scalar 2",
        "  r GeneralFunction relu ...",
    ]


def test_repr_line_and_extra_info():
    opts = rc.PrintOptions()
    assert opts.repr_line_info(einy()) == " Einsum ab,bc->aa"
    assert opts.repr_extra_info(einy()) == "ab,bc->aa"
    s = rc.Scalar(0.5, (2,), "s").with_autoname_disabled()
    assert opts.repr_line_info(s) == " AD [2] Scalar 0.5"
    assert rc.PrintOptions.debug_default().repr_line_info(s) == " [2] Scalar 0.5"


def test_evolve_and_repr_of_options():
    opts = rc.PrintOptions().evolve(bijection=False, arrows=True)
    assert (opts.bijection, opts.arrows, opts.shape_only_when_necessary) == (False, True, True)
    assert repr(opts) == "PrintOptions(bijection=False, arrows=True)"
    assert rc.PrintOptions().evolve(arrows=rc._printing.NOT_SET).arrows is False


def test_set_debug_print_options_changes_repr():
    original_repr, original_str = rc.Circuit.__repr__, rc.Circuit.__str__
    try:
        rc.set_debug_print_options(rc.PrintOptions(bijection=False, arrows=True))
        assert repr(einy()).startswith("<einy Einsum ab,bc->aa\n├‣scalar1")
        assert str(einy()) == repr(einy())
    finally:
        rc.Circuit.__repr__, rc.Circuit.__str__ = original_repr, original_str
    assert repr(einy()).startswith("<einy [2,2] Einsum")


def test_tensor_save_dir_stores_what_the_text_names(tmp_path):
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    c = rc.Index(rc.Array(x, "x"), (np.array([1, 0]),))
    rc.PrintOptions(tensor_save_dir=tmp_path).repr(c)
    files = sorted(p.stem for p in tmp_path.iterdir())
    assert files == sorted(
        [rc.Array(x).tensor_hash_base16(), rc.Array(np.array([1, 0])).tensor_hash_base16()]
    )
    np.testing.assert_array_equal(
        rc.TensorStore(tmp_path).load(files[0][:24]), np.load(tmp_path / f"{files[0]}.npy")
    )


def test_print_and_repr_methods(capsys):
    einy().print()
    assert capsys.readouterr().out == einy().repr() + "\n"
    assert einy().repr(rc.PrintOptions(bijection=False)) == plain().repr(einy())


# --- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "knob",
    [
        {"traversal": rc.new_traversal(end_depth=2)},
        {"leaves_on_top": True},
        {"tensor_index_literal": True},
        {"number_leaves": True},
    ],
)
def test_bijection_refuses_lossy_knobs(knob):
    (name,) = knob
    with pytest.raises(ValueError, match=f"bijection=True cannot be combined with {name}"):
        rc.PrintOptions(**knob)


def test_seen_children_same_line_is_not_supported():
    with pytest.raises(NotImplementedError, match="seen_children_same_line"):
        rc.PrintOptions(seen_children_same_line=True)


def test_bad_colorer_results():
    with pytest.raises(ValueError, match="unknown colour 'Purple'"):
        plain(colorer=lambda c: "Purple").repr(einy())
    with pytest.raises(TypeError, match="a colour is None, an int >= 0 or a name, got -1"):
        plain(colorer=lambda c: -1).repr(einy())
    with pytest.raises(ZeroDivisionError):
        plain(colorer=lambda c: 1 // 0).repr(einy())


def test_bad_commenter_result():
    with pytest.raises(TypeError, match="commenter: expected a str, got 3"):
        plain(commenters=[lambda c: 3]).repr(einy())


def test_bad_arguments():
    with pytest.raises(TypeError, match="Circuit.repr: expected PrintOptions, got 3"):
        einy().repr(3)
    with pytest.raises(TypeError, match=r"PrintOptions.evolve: unknown options \['colour'\]"):
        rc.PrintOptions().evolve(colour=1)
    with pytest.raises(TypeError, match="reference_circuits must be a Circuit"):
        rc.PrintOptions(reference_circuits={1: "x"}).repr(einy())
    with pytest.raises(TypeError, match="set_debug_print_options: expected PrintOptions"):
        rc.set_debug_print_options(None)


# --- HTML ------------------------------------------------------------------------------------


def test_repr_html_is_a_collapsible_tree():
    html = einy()._repr_html_()
    assert html.startswith('<div class="circuits-tree"')
    assert html.count("<details open>") == 2  # the Einsum and the Rearrange
    assert "einy Einsum ab,bc-&gt;aa" in html  # escaped
    assert html.count('class="leaf"') == 2  # the two Scalars
    assert "<script" not in html


def test_html_repeats_and_depth():
    s = rc.Scalar(1.0, (2,), "s")
    html = rc.Add(s, s, name="a")._repr_html_()
    assert 'class="leaf ref">s  (repeated)' in html
    deep = rc.Scalar(1.0, (2,), "x")
    for i in range(6):
        deep = rc.Add(deep, name=f"d{i}")
    shown = rc.PrintHtmlOptions(traversal=rc.traverse_until_depth(1)).repr(deep)
    assert shown.count("<details open>") == 1  # d5, the root
    assert shown.count("<details>") == 5  # d4 to d0: rendered, collapsed
    nothing_more = rc.PrintHtmlOptions(
        traversal=rc.traverse_until_depth(1), overall_traversal=rc.new_traversal(end_depth=1)
    ).repr(deep)
    assert nothing_more.count("<details") == 1
    assert "d4 Add</span> ...</div>" in nothing_more


def test_comment_arrays_summarises_values_and_still_parses():
    x = rc.Array(np.array([[1.0, -2.5], [0.5, 4.0]], dtype=np.float32), "x")
    idx = rc.Array(np.array([3, 1], dtype=np.int64), "idx")
    one = rc.Array(np.array([7.0]), "one")
    c = rc.Add(x, rc.Scalar(1.0, (2, 2), "s"), name="out")
    options = rc.PrintOptions(comment_arrays=True)
    lines = options.repr(c).split("\n")
    assert lines[1].endswith("# float32 [1, -2.5, 0.5, 4] mean 0.75 std 2.305")
    assert "#" not in lines[2]  # Scalars carry no array comment
    assert options.evolve(bijection=False).repr(idx) == "idx [2] Array # int64 [3, 1] mean 2 std 1"
    assert "# float64 [7]" in options.repr(one) and "mean" not in options.repr(one)
    big = rc.Array(np.arange(10, dtype=np.float32), "big")
    assert "[0, 1, 2, 3, ...] mean 4.5" in options.repr(big)
    assert rc.Parser(tensor_loader=lambda p: x.value)(options.repr(x)) == x
