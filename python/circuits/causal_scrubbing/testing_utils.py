"""Small datasets and a loss for causal-scrubbing tests (rc's
rust_circuit.causal_scrubbing.testing_utils)."""

from typing import Callable, Tuple

import torch

from .. import Array
from .dataset import Dataset


def loss_fn(ds: Dataset, out) -> float:
    """Mean absolute difference between the output (or the first value of a dict of outputs)
    and the dataset's labels."""
    if isinstance(out, dict):
        out = next(iter(out.values()))
    return (out.to(torch.float).cpu() - ds.labels.value).abs().mean().item()


class IntDataset(Dataset):
    """A Dataset of random integers `xs` and their `labels`."""

    inp_tensor: torch.Tensor

    def __attrs_post_init__(self):
        super().__attrs_post_init__()
        object.__setattr__(self, "inp_tensor", self.xs.value)

    @classmethod
    def of_shape(
        cls, shape: Tuple, labeler: Callable[[torch.Tensor], torch.Tensor], maxint: int = 10
    ) -> "IntDataset":
        """`shape[0]` data: integers below `maxint` of the remaining shape, labelled row by row
        by `labeler`."""
        xs = torch.randint(high=maxint, size=shape)
        labels = torch.stack([labeler(x) for x in xs])
        return cls({"xs": Array(xs, "xs"), "labels": Array(labels, "labels")})

    def __str__(self):
        if len(self) > 1:
            return f"IntDataset(xs.shape={self.inp_tensor.shape})"
        xs = self.inp_tensor.item() if self.inp_tensor.numel() == 1 else self.inp_tensor[0].tolist()
        return f"IntDatum(xs={xs}, label={self.labels.value.item()})"
