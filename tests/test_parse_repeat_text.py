"""A repeated node's line with free text after its identifier, as rc's files have it
(`8 tok_embeds`): ignored with on_repeat_check_info_same=False, a mismatch with True, and no
node type for a new node."""

import pytest

import circuits as rc

BASE = "0 'a' Add\n  2 'x' [3] Scalar 1\n"


@pytest.mark.parametrize(
    "repeat",
    [
        "2 tok_embeds",
        "2 a0.n.z_mean",
        "2 Array_x",
        "2 'x' [3] Array",
        "2 'y' [4] Array 0123abcd",
        "2 final.n # a comment",
    ],
)
def test_text_after_a_repeated_id_is_ignored_without_the_check(repeat):
    out = rc.Parser(on_repeat_check_info_same=False)(BASE + "  " + repeat + "\n")
    x = out.children[0]
    assert out.children == [x, x]
    assert (x.name, x.shape, x.is_scalar()) == ("x", (3,), True)


@pytest.mark.parametrize("repeat", ["2 tok_embeds", "2 a0.n.z_mean", "2 Array_x"])
def test_text_after_a_repeated_id_differs_with_the_check(repeat):
    with pytest.raises(rc.ParseCircuitOnCircuitRepeatInfoIsNotSameError, match="payload"):
        rc.Parser()(BASE + "  " + repeat + "\n")


def test_rc_file_with_names_after_repeats():
    text = """
0 'logits' [2, 3] Einsum ab,cb->ac
  1 'final.n' [2, 4] Add
    2 'tok_embeds' [2, 4] Array rand
    3 'a0' [2, 4] Einsum ab,a->ab
      2 tok_embeds
      4 'a0.s' [2] Scalar 0.5
  5 'w.out' [3, 4] Array rand
"""
    out = rc.Parser(on_repeat_check_info_same=False)(text)
    tok = out.get_unique("tok_embeds")
    assert out.get_unique("a0").children[0] == tok


@pytest.mark.parametrize(
    "line, column, got",
    [("3 tok_embeds", 5, "'tok_embeds'"), ("3 [2] scalar 1", 9, "'scalar 1'")],
)
def test_a_new_node_still_needs_a_type(line, column, got):
    for check in (True, False):
        with pytest.raises(rc.ParseCircuitInvalidVariantError) as info:
            rc.Parser(on_repeat_check_info_same=check)(BASE + "  " + line + "\n")
        message = str(info.value)
        assert message.startswith(f"line 3, column {column}: expected a node type")
        assert got in message
