"""The paren-balancer demo's data (generator, kinds, tokenizer) and a few steps of its training."""

import re

import numpy as np
import pytest

from circuits.demos.paren_balancer import data


def reference_kind(s: str) -> str:
    """The kind by a different route: counts by str.count, and the horizon test by
    repeatedly deleting "()" (a string whose prefixes never go negative reduces to
    only "(" characters)."""
    equal = s.count("(") == s.count(")")
    reduced = s
    while "()" in reduced:
        reduced = reduced.replace("()", "")
    no_negative_prefix = ")" not in reduced
    if no_negative_prefix:
        return data.BALANCED if equal else data.COUNT_FAIL
    return data.HORIZON_FAIL if equal else data.BOTH_FAIL


def test_labels_match_an_independent_check():
    strings, kinds = data.generate(5000, seed=3)
    for s, kind in zip(strings, kinds):
        assert re.fullmatch(r"[()]{1,40}", s), s
        assert kind == reference_kind(s), s
        assert data.is_balanced(s) == (kind == data.BALANCED)


@pytest.mark.parametrize(
    "s, kind",
    [
        ("()", data.BALANCED),
        ("(()())()", data.BALANCED),
        (")(", data.HORIZON_FAIL),
        ("())(()", data.HORIZON_FAIL),
        ("(", data.COUNT_FAIL),
        ("(()", data.COUNT_FAIL),
        (")", data.BOTH_FAIL),
        ("))(", data.BOTH_FAIL),
        (")((", data.BOTH_FAIL),
        ("())", data.BOTH_FAIL),
    ],
)
def test_kind_of_examples(s, kind):
    assert data.kind_of(s) == kind == reference_kind(s)


def test_kind_of_rejects_other_characters():
    with pytest.raises(ValueError, match=r"kind_of: character 'x' at index 1 of '\(x\)'"):
        data.kind_of("(x)")


def test_half_balanced_and_every_failing_kind_common():
    strings, kinds = data.generate(8000, seed=4)
    counts = {k: kinds.count(k) for k in data.KINDS}
    assert abs(counts[data.BALANCED] - 4000) < 250
    for kind in data.FAILING_KINDS:
        assert abs(counts[kind] - 4000 / 3) < 200, counts
    lengths = [len(s) for s in strings]
    assert min(lengths) == 1 and max(lengths) == data.MAX_LEN


def test_hard_cases_are_common():
    """Near misses: equal counts with a dip to exactly -1, and never negative ending at height 2."""
    strings, kinds = data.generate(6000, seed=5)

    def lowest_and_final(s):
        heights = np.cumsum([1 if c == "(" else -1 for c in s])
        return heights.min(), heights[-1]

    shallow_dips = sum(1 for s, k in zip(strings, kinds) if k == data.HORIZON_FAIL and lowest_and_final(s)[0] == -1)
    near_counts = sum(1 for s, k in zip(strings, kinds) if k == data.COUNT_FAIL and lowest_and_final(s)[1] == 2)
    n_horizon = kinds.count(data.HORIZON_FAIL)
    n_count = kinds.count(data.COUNT_FAIL)
    assert shallow_dips > 0.5 * n_horizon
    assert near_counts > 0.5 * n_count


def test_balanced_strings_are_uniform_for_a_length():
    """The five balanced strings of three pairs come out about equally often."""
    strings, kinds = data.generate(30000, seed=6)
    six = [s for s, k in zip(strings, kinds) if k == data.BALANCED and len(s) == 6]
    counts = {s: six.count(s) for s in set(six)}
    assert sorted(counts) == ["((()))", "(()())", "(())()", "()(())", "()()()"]
    expected = len(six) / 5
    for s, n in counts.items():
        assert abs(n - expected) < 5 * expected**0.5, counts


def test_generate_is_deterministic_by_seed():
    assert data.generate(300, seed=7) == data.generate(300, seed=7)
    assert data.generate(300, seed=7) != data.generate(300, seed=8)
    assert data.generate(0, seed=7) == ([], [])


def test_generate_rejects_negative_n():
    with pytest.raises(ValueError, match="generate: n must be at least 0, got -1"):
        data.generate(-1, seed=0)


def test_heldout_excludes_training_strings_and_repeats():
    train, _ = data.generate(3000, seed=0)
    strings, kinds = data.heldout(2000, seed=1, exclude=set(train))
    assert 0 < len(strings) < 2000
    assert not set(strings) & set(train)
    assert len(set(strings)) == len(strings)
    assert all(data.kind_of(s) == k for s, k in zip(strings, kinds))
    assert data.heldout(2000, seed=1, exclude=set(train)) == (strings, kinds)


def test_tokenize_layout():
    tokens = data.tokenize(["()", ")((", ""], max_len=4)
    S, P, E, O, C = data.START, data.PAD, data.END, data.OPEN, data.CLOSE
    assert tokens.dtype == np.int64
    np.testing.assert_array_equal(
        tokens,
        [
            [S, O, C, E, P, P],
            [S, C, O, O, E, P],
            [S, E, P, P, P, P],
        ],
    )
    assert (data.START, data.PAD, data.END, data.OPEN, data.CLOSE, data.VOCAB_SIZE) == (0, 1, 2, 3, 4, 5)


def test_tokenize_decode_round_trip():
    strings, _ = data.generate(500, seed=9)
    tokens = data.tokenize(strings)
    assert tokens.shape == (500, data.MAX_LEN + 2)
    assert data.decode(tokens) == strings
    lengths = (tokens != data.PAD).sum(-1) - 2
    np.testing.assert_array_equal(lengths, [len(s) for s in strings])


def test_tokenize_errors():
    with pytest.raises(ValueError, match="tokenize: string 1 has length 5, more than max_len 4"):
        data.tokenize(["()", "((((("], max_len=4)
    with pytest.raises(ValueError, match=r"tokenize: character '\]' at index 2 of string 0 is neither"):
        data.tokenize(["((]"])


def test_decode_rejects_unknown_tokens():
    with pytest.raises(ValueError, match="decode: token 7 at position 2 of row 0 is not in the vocabulary"):
        data.decode([[0, 3, 7, 2]])


@pytest.mark.torch
def test_training_smoke_weights_names_and_shapes(torch, tmp_path):
    from circuits.demos.paren_balancer import train

    weights, acc = train.train(steps=3, batch=16, n_train=200, n_heldout=100, warmup=1, log_every=None)
    names = {"t.w.tok_embeds": (5, 56), "t.w.pos_embeds": (512, 56)}
    for i in range(3):
        names.update(
            {
                f"a{i}.ln.w.bias": (56,),
                f"a{i}.ln.w.scale": (56,),
                f"a{i}.w.q": (2, 28, 56),
                f"a{i}.w.k": (2, 28, 56),
                f"a{i}.w.v": (2, 28, 56),
                f"a{i}.w.o": (2, 56, 28),
                f"a{i}.w.q_bias": (2, 28),
                f"a{i}.w.k_bias": (2, 28),
                f"a{i}.w.v_bias": (2, 28),
                f"a{i}.w.o_bias": (56,),
                f"m{i}.ln.w.bias": (56,),
                f"m{i}.ln.w.scale": (56,),
                f"m{i}.w.proj_in": (56, 56),
                f"m{i}.w.in_bias": (56,),
                f"m{i}.w.proj_out": (56, 56),
                f"m{i}.w.out_bias": (56,),
            }
        )
    names.update(
        {"final.ln.w.bias": (56,), "final.ln.w.scale": (56,), "t.w.unembed": (2, 56), "t.w.unembed_bias": (2,)}
    )
    assert {k: tuple(v.shape) for k, v in weights.items()} == names
    assert all(v.dtype == torch.float32 and not v.requires_grad for v in weights.values())
    assert set(acc) >= {"all", data.BALANCED} and 0.0 <= acc["all"] <= 1.0

    tokens = torch.from_numpy(data.tokenize(["()", "(()", ")("]))
    logits = train.forward(weights, tokens)
    assert logits.shape == (3, data.MAX_LEN + 2, 2)

    train.main(["--out", str(tmp_path), "--steps", "2", "--n-train", "300", "--n-heldout", "50", "--log-every", "1"])
    saved = torch.load(tmp_path / "weights.pt")
    assert {k: tuple(v.shape) for k, v in saved.items()} == names


@pytest.mark.torch
def test_forward_ignores_padding(torch):
    """Padding keys are masked, so how far a string is padded does not change its logits,
    and a row computes the same alone as in a batch."""
    from circuits.demos.paren_balancer import train

    weights = train.init_weights(seed=2)
    strings = ["(()", "()()", ")"]
    long = torch.from_numpy(data.tokenize(strings))
    short = torch.from_numpy(data.tokenize(strings, max_len=4))
    got_long = train.forward(weights, long)
    got_short = train.forward(weights, short)
    torch.testing.assert_close(got_long[:, :6], got_short, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(train.forward(weights, short[1]), got_short[1], rtol=1e-5, atol=1e-5)
    changed = long.clone()
    changed[0, 1] = data.CLOSE
    assert not torch.allclose(train.forward(weights, changed)[0, 0], got_long[0, 0])


@pytest.mark.torch
def test_train_rejects_a_batch_larger_than_the_training_set(torch):
    from circuits.demos.paren_balancer import train

    with pytest.raises(ValueError, match=r"train: batch must be between 1 and n_train \(10\), got 11"):
        train.train(steps=1, batch=11, n_train=10, n_heldout=10, log_every=None)
