"""REMIX day 4 part 2's causal-scrubbing experiments on the paren balancer: the baselines
(experiment 0), the direct contributions of heads 1.0, 2.0 and 2.1 under the "count parentheses"
hypothesis (experiment 1) and heads 1.0 and 2.0 reading position 1 only, where head 0.0 writes
the proportion of open parentheses (experiment 2, "open proportion")."""

from typing import Callable, Dict, List, Optional, Tuple

import torch

from ... import Array, IterativeMatcher, OptimizationSettings
from ...causal_scrubbing.dataset import Dataset
from ...causal_scrubbing.experiment import Experiment, ExperimentEvalSettings
from ...causal_scrubbing.hypothesis import (
    Correspondence,
    CondSampler,
    ExactSampler,
    FuncSampler,
    InterpNode,
    UncondSampler,
    chain_excluding,
    corr_root_matcher,
)
from . import circuit as pc
from . import data


def _cumsum_from_right(x: torch.Tensor) -> torch.Tensor:
    return x.flip(1).cumsum(1).flip(1)


class ParenDataset(Dataset):
    """Paren strings as "tokens" (one-hot, the circuit's input), "tokens_flat" (ints) and
    "is_balanced", with REMIX's features of them."""

    @classmethod
    def generate(cls, n: int, seed: int) -> "ParenDataset":
        strings, _ = data.generate(n, seed)
        toks = torch.as_tensor(data.tokenize(strings))
        balanced = torch.tensor([data.is_balanced(s) for s in strings], dtype=torch.float32)
        return cls(
            [
                Array(pc.one_hot(toks), "tokens"),
                Array(toks, "tokens_flat"),
                Array(balanced, "is_balanced"),
            ],
            input_names={"tokens"},
        )

    @property
    def p_open_after(self) -> torch.Tensor:
        """[n, seq]: the share of "(" among the parentheses at or after each position (nan where
        none is left)."""
        toks = self.tokens_flat.value
        opens = _cumsum_from_right((toks == data.OPEN).float())
        closes = _cumsum_from_right((toks == data.CLOSE).float())
        return opens / (opens + closes)

    @property
    def starts_with_open(self) -> torch.Tensor:
        return self.tokens_flat.value[:, 1] == data.OPEN

    @property
    def count_test(self) -> torch.Tensor:
        return self.p_open_after[:, 0] == 0.5

    @property
    def horizon_test(self) -> torch.Tensor:
        return (torch.nan_to_num(self.p_open_after, nan=-1.0).max(dim=1)[0] <= 0.5).long()

    @property
    def p1_if_starts_open(self) -> torch.Tensor:
        """p_open_after at position 1 for strings starting with "(", -1 for the others."""
        return torch.where(self.starts_with_open, self.p_open_after[:, 1], torch.tensor(-1.0))

    def __str__(self) -> str:
        if len(self) != 1:
            return f"ParenDataset(len={len(self)})"
        s = data.decode(self.tokens_flat.value)[0]
        return f"ParenDS(str:{s} bal:{'T' if self.is_balanced.value.item() else 'F'})"


def _cond(feature: Callable[[ParenDataset], torch.Tensor]) -> FuncSampler:
    return FuncSampler(lambda d: feature(ParenDataset.unwrap(d)))


count_cond = _cond(lambda d: d.count_test)
horizon_cond = _cond(lambda d: d.horizon_test)
start_open_cond = _cond(lambda d: d.starts_with_open)
count_open_cond = _cond(lambda d: d.count_test & d.starts_with_open)
p1_open_cond = _cond(lambda d: d.p1_if_starts_open)

# Direct paths of the heads to the logits (not through later heads or MLPs).
m_10 = chain_excluding(corr_root_matcher, "a1.h0", {"m2", "m1", "a2.h0", "a2.h1"})
m_20 = chain_excluding(corr_root_matcher, "a2.h0", "m2")
m_21 = chain_excluding(corr_root_matcher, "a2.h1", "m2")
m_10_p1 = m_10.chain("a1.input.at_pos1")
m_20_p1 = m_20.chain("a2.input.at_pos1")


def corr_model(sampler: CondSampler) -> Correspondence:
    corr = Correspondence()
    corr.add(InterpNode(sampler, "logits"), corr_root_matcher)
    return corr


def corr_ex1(cs_for_h10_and_h20: CondSampler) -> Correspondence:
    corr = corr_model(ExactSampler())
    root = corr.get_by_name("logits")
    corr.add(root.make_descendant(cs_for_h10_and_h20, "10"), m_10)
    corr.add(root.make_descendant(cs_for_h10_and_h20, "20"), m_20)
    corr.add(root.make_descendant(horizon_cond, "21"), m_21)
    return corr


def circuit_ex2(model):
    """The model with the inputs of heads 1.0 and 2.0, and head 0.0 below their position 1, split
    into positions 0, 1 and the rest."""
    c = model.update(IterativeMatcher("a2.h0").chain("a2.input"), pc.separate_pos1)
    c = c.update(IterativeMatcher("a1.h0").chain("a1.input"), pc.separate_pos1)
    c = c.update(m_10_p1.chain("a0.h0"), pc.separate_pos1)
    return c.update(m_20_p1.chain("a0.h0"), pc.separate_pos1)


def corr_ex2() -> Correspondence:
    """1.0 and 2.0 see position 1 only, where they read 0.0 (agreeing on the proportion of
    open parentheses) and the embeddings (agreeing on whether the string starts with "(")."""
    corr = corr_ex1(count_open_cond)
    for head, m_p1 in (("10", m_10_p1), ("20", m_20_p1)):
        i_p1 = corr.get_by_name(head).make_descendant(count_open_cond, f"{head}_p1")
        corr.add(i_p1, m_p1)
        corr.add(i_p1.make_descendant(p1_open_cond, f"{head}_p1_00"), m_p1.chain("a0.h0.at_pos1"))
        corr.add(
            i_p1.make_descendant(start_open_cond, f"{head}_p1_emb"),
            chain_excluding(m_p1, "embeds", "a0.h0"),
        )
    return corr


def bce_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per-datum binary cross entropy of the logit difference (class 1: balanced)."""
    diff = logits[..., 1] - logits[..., 0]
    return torch.nn.functional.binary_cross_entropy_with_logits(diff, labels, reduction="none")


def run(
    model,
    ds: ParenDataset,
    corr: Correspondence,
    n: int,
    seed: int = 1,
    max_memory: int = 2_000_000_000,
) -> Tuple[float, float]:
    """(mean loss, standard error) of the scrubbed model on n reference data."""
    scrubbed = Experiment(model, ds, corr, random_seed=seed).scrub(n)
    settings = ExperimentEvalSettings(optim_settings=OptimizationSettings(max_memory=max_memory))
    logits = scrubbed.evaluate(settings)
    loss = bce_loss(logits, scrubbed.ref_ds.is_balanced.value)
    return loss.mean().item(), (loss.std() / len(loss) ** 0.5).item()


def experiments(model) -> List[Tuple[str, object, Correspondence]]:
    ex2_model = circuit_ex2(model)
    return [
        ("0  full model", model, corr_model(ExactSampler())),
        ("0  random logits", model, corr_model(UncondSampler())),
        ("1a count (1.0, 2.0), horizon (2.1)", model, corr_ex1(count_cond)),
        ("1b count and starts open (1.0, 2.0)", model, corr_ex1(count_open_cond)),
        ("2  open proportion via 0.0 at position 1", ex2_model, corr_ex2()),
    ]


def results(
    n: int = 4000, n_data: int = 10000, seed: int = 1, weights: Optional[Dict] = None
) -> List[Tuple[str, float, float, float]]:
    """(experiment, loss, standard error, fraction of loss recovered) for each experiment; the
    fraction is 1 for the full model and 0 for random logits."""
    model = pc.build(pc.model_weights() if weights is None else weights)
    ds = ParenDataset.generate(n_data, seed=seed)
    rows = [(name, *run(m, ds, corr, n, seed)) for name, m, corr in experiments(model)]
    full, rand = rows[0][1], rows[1][1]
    return [(name, loss, se, (rand - loss) / (rand - full)) for name, loss, se in rows]
