"""Conversions of evaluation results between numpy and torch."""

import warnings


def numpy_to_torch(array):
    """A torch tensor sharing memory with `array` (results are never copied)."""
    import torch

    with warnings.catch_warnings():
        # Read-only results view an input tensor; torch warns but shares the memory.
        warnings.simplefilter("ignore", UserWarning)
        return torch.from_numpy(array)
