"""Shared test setup: hypothesis profiles, seeded random generators, optional-dependency markers.

Profiles: "ci" (default, 50 examples, the whole suite stays fast) and "thorough" (500 examples);
pick one with HYPOTHESIS_PROFILE=thorough. Tests marked `torch` skip when torch is not installed;
tests marked `cuda` skip when the CUDA extension or a GPU is missing. Tests marked
`numpy_results` compare numpy types and promotion, so they run with numpy results
(rc.set_result_type("numpy")) whether or not torch is installed.
"""

import importlib.util
import os
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=50,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "thorough",
    max_examples=500,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

HAS_TORCH = importlib.util.find_spec("torch") is not None


def _has_cuda() -> bool:
    try:
        import circuits._circuits_cuda as cuda
    except ImportError:
        return False
    return cuda.device_count > 0


def pytest_configure(config):
    config.addinivalue_line("markers", "torch: needs torch installed (skipped otherwise)")
    config.addinivalue_line("markers", "cuda: needs the CUDA extension and a GPU")
    config.addinivalue_line("markers", "numpy_results: runs with rc.set_result_type('numpy')")


def pytest_collection_modifyitems(config, items):
    skip_torch = pytest.mark.skip(reason="torch is not installed")
    skip_cuda = pytest.mark.skip(reason="no CUDA extension or GPU")
    cuda = None
    for item in items:
        if item.get_closest_marker("torch") is not None and not HAS_TORCH:
            item.add_marker(skip_torch)
        if item.get_closest_marker("cuda") is not None:
            if cuda is None:
                cuda = _has_cuda()
            if not cuda:
                item.add_marker(skip_cuda)


@pytest.fixture(autouse=True)
def _result_type(request):
    """numpy results for tests marked numpy_results; every test ends with the type it began."""
    import circuits as rc

    before = rc.get_result_type()
    if request.node.get_closest_marker("numpy_results") is not None:
        rc.set_result_type("numpy")
    yield
    rc.set_result_type(before)


@pytest.fixture
def torch():
    """The torch module; the test skips when torch is not installed."""
    return pytest.importorskip("torch")


@pytest.fixture
def rng(request):
    """A numpy Generator seeded from the test's id, so each test draws the same data every run."""
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))


@pytest.fixture
def double_spec():
    """A GeneralFunction spec written in Python (x * 2), which the text format cannot hold."""
    import circuits as rc

    class Double(rc.GeneralFunctionSpecBase):
        @property
        def name(self):
            return "double"

        def compute_hash_bytes(self):
            return b"double"

        def function(self, x):
            return x * 2

        def get_shape_info(self, shape):
            return rc.GeneralFunctionShapeInfo(shape, 0, [True])

    return Double()
