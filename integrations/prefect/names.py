"""Names the Prefect target derives from source names: Python identifiers, Prefect names, files, cron.

Source identifiers may hold `-` (Tyger names) or be Python keywords, and an
IR built by other means may hold anything; every derived name is checked or
made safe here, once, before any template sees it.
"""

from __future__ import annotations

import keyword
import re

# Characters the Prefect API rejects in flow and deployment names.
PREFECT_BANNED = "/%&><"

CRON_PRESETS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


def py_identifier(name: str, taken: set[str], prefix: str = "") -> str:
    """A fresh Python identifier for `name` (`-` and other characters as `_`, keywords get `_`)."""
    base = prefix + re.sub(r"\W", "_", name, flags=re.ASCII)
    if not base or base[0].isdigit():
        base = "_" + base
    if keyword.iskeyword(base) or keyword.issoftkeyword(base):
        base += "_"
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}_{n}", n + 1
    taken.add(candidate)
    return candidate


def prefect_name(name: str) -> str:
    """A name the Prefect API accepts for flows and deployments."""
    cleaned = "".join("_" if c in PREFECT_BANNED or not c.isprintable() else c for c in name)
    return cleaned or "_"


def cron_of(schedule: str | None) -> str | None:
    """The cron expression of a schedule; None when it has no recurring one (absent or @once)."""
    if schedule is None or schedule.strip() in ("@once", ""):
        return None
    return CRON_PRESETS.get(schedule.strip(), schedule.strip())
