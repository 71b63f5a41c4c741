""""Did you mean" hints, computed only when a diagnostic is reported."""

from __future__ import annotations

import difflib
from typing import Iterable


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """A hint naming the closest candidate, or None when nothing is close."""
    names = sorted(set(candidates))
    match = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    if not match:
        lowered = {c.lower(): c for c in names}
        if name.lower() in lowered:
            match = [lowered[name.lower()]]
    if match:
        return f"did you mean `{match[0]}`?"
    if names and len(names) <= 8:
        return "known: " + ", ".join(f"`{n}`" for n in names)
    return None
