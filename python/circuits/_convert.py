"""Conversions of evaluation results between numpy and torch."""

import warnings


def numpy_to_torch(array):
    """A torch tensor sharing memory with `array` (results are never copied)."""
    import torch

    with warnings.catch_warnings():
        # Read-only results view an input tensor; torch warns but shares the memory.
        warnings.simplefilter("ignore", UserWarning)
        return torch.from_numpy(array)


def bfloat16_result(bits):
    """A bfloat16 result, given the uint16 array of its bits. numpy has no bfloat16, so the
    result is a torch.bfloat16 tensor sharing the memory when torch is installed; without
    torch it is a float32 numpy array holding the same values (every bfloat16 is exactly a
    float32: its bits are the upper half of the float32's)."""
    import numpy as np

    try:
        import torch
    except ImportError:
        return (bits.astype(np.uint32) << 16).view(np.float32)
    return numpy_to_torch(bits.view(np.int16)).view(torch.bfloat16)
