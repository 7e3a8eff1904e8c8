"""Reads tests/data/rc_surface.txt, the list of rc's public names with their status here."""

import os
from typing import List, NamedTuple

SURFACE_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "rc_surface.txt")
STATUSES = ("present", "left-out", "missing")
RC_PUBLIC_NAMES = 521


class Entry(NamedTuple):
    name: str
    status: str
    why: str
    line: int


def read_surface(path: str = SURFACE_FILE) -> List[Entry]:
    entries = []
    with open(path, encoding="utf-8") as f:
        for number, raw in enumerate(f, 1):
            text = raw.strip()
            if not text or text.startswith("#"):
                continue
            parts = text.split(None, 2)
            if len(parts) < 2 or parts[1] not in STATUSES:
                raise ValueError(f"{path}:{number}: expected '<name> <status> [why]', got {text!r}")
            entries.append(Entry(parts[0], parts[1], parts[2] if len(parts) > 2 else "", number))
    return entries
