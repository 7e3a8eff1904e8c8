"""Prints how many of rc's 521 public names circuits has, from tests/data/rc_surface.txt, and
the names it does not have, with the reasons. Run with the package importable, e.g.
`PYTHONPATH=python python scripts/surface_count.py`; --check also imports circuits and counts
what is actually there."""

import argparse
import collections
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))

from rc_surface import RC_PUBLIC_NAMES, read_surface  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="import circuits and verify")
    args = parser.parse_args()
    entries = read_surface()
    by_status = collections.defaultdict(list)
    for e in entries:
        by_status[e.status].append(e)
    print(f"present:  {len(by_status['present'])} of {RC_PUBLIC_NAMES}")
    print(f"left out: {len(by_status['left-out'])}")
    print(f"missing:  {len(by_status['missing'])}")
    for status in ("left-out", "missing"):
        for e in by_status[status]:
            print(f"  {status:8} {e.name}: {e.why}")
    if args.check:
        import circuits

        really = sum(hasattr(circuits, e.name) for e in entries)
        wrong = [e.name for e in by_status["present"] if not hasattr(circuits, e.name)]
        print(f"importable now: {really} of {RC_PUBLIC_NAMES}")
        if wrong:
            print(f"marked present but missing: {wrong}")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
