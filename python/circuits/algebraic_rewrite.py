"""Alias of `circuits.algebric_rewrite` (rc's spelling) under the dictionary spelling."""

from .algebric_rewrite import *  # noqa: F401,F403
from .algebric_rewrite import __all__  # noqa: F401
