"""Matchers used by causal-scrubbing correspondences: the root matcher and chains that skip
some intermediate nodes."""

from .._circuits import IterativeMatcher, new_traversal, restrict

# Matches the root only: a correspondence's model branch starts here.
corr_root_matcher = restrict(new_traversal(), term_if_matches=True)


def chain_excluding(parent: IterativeMatcher, child, term_early_at=False) -> IterativeMatcher:
    """Matches `child` from `parent`, excluding any intermediate nodes matched by
    `term_early_at`."""
    if term_early_at is False:
        return parent.chain(child)
    return restrict(parent.chain(IterativeMatcher(child)), term_early_at=term_early_at)
