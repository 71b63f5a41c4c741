"""Kubernetes-style resource quantities, as Tyger codespecs write them.

CPU: cores (`2`, `0.5`) or millicores (`500m`). Memory: bytes with an
optional suffix, binary (`Ki Mi Gi Ti`) or decimal (`k K M G T`).
The compiler checks them (a bad one is a diagnostic at its position); the
IR keeps the text as written and `ir.Resources` converts it for targets.
"""

from __future__ import annotations

import re

_MEMORY_SCALE = {
    "": 1, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40,
    "k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
}
_MEMORY = re.compile(r"([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|k|K|M|G|T)?")
_CPU = re.compile(r"([0-9]+(?:\.[0-9]+)?)(m)?")


def cpu_cores(text: str) -> float:
    """`500m` -> 0.5; raises ValueError for anything else than cores or millicores."""
    match = _CPU.fullmatch(str(text).strip())
    if not match or float(match.group(1)) == 0:
        raise ValueError(f'cpu {text!r} is not a quantity such as "2", "0.5" or "500m"')
    value = float(match.group(1))
    return value / 1000 if match.group(2) else value


def memory_bytes(text: str) -> int:
    """`512Mi` -> 536870912; raises ValueError for anything else than a memory quantity."""
    match = _MEMORY.fullmatch(str(text).strip())
    if not match or float(match.group(1)) == 0:
        raise ValueError(f'memory {text!r} is not a quantity such as "512Mi", "1Gi" or "1G"')
    return int(float(match.group(1)) * _MEMORY_SCALE[match.group(2) or ""])


_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ns|us|\u00b5s|ms|s|m|h|d)")
_DURATION = re.compile(r"(?:[0-9]+(?:\.[0-9]+)?(?:ns|us|\u00b5s|ms|s|m|h|d))+")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "\u00b5s": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float | None:
    """Seconds in a Go/Tyger duration (`300s`, `1.5h`, `2h45m`, `500ms`, `1d`), or None when it is not one."""
    text = str(text).strip()
    if not _DURATION.fullmatch(text):
        return None
    return float(sum(float(n) * _UNIT_SECONDS[u] for n, u in _DURATION_PART.findall(text)))
