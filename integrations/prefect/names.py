"""Names the Prefect target derives from source names: Python identifiers, Prefect names, files, cron.

Source identifiers may hold `-` (Tyger names) or be Python keywords, and an
IR built by other means may hold anything; every derived name is checked or
made safe here, once, before any template sees it.
"""

from __future__ import annotations

import keyword
import re

# Characters the Prefect API rejects in flow and deployment names, and the braces of Prefect's
# placeholders (`prefect deploy` would fill a `{{ name }}` in prefect.yaml from the environment).
PREFECT_BANNED = "/%&><{}"

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


def secret_block_name(secret: str) -> str:
    """The Prefect Secret block of a secret (the runtime's `secret_block_name`; a test holds them equal)."""
    return secret.lower().replace("_", "-")


def check_secret_blocks(secrets) -> None:
    """Two secrets (API_KEY, api_key) that would read one Secret block: refused, since the local runner and
    Airflow read them as two values, and the same source must mean the same on every target."""
    from rtc.base.diagnostics import RtcError

    seen: dict[str, str] = {}
    for name in sorted(set(secrets)):
        block = secret_block_name(name)
        if block in seen:
            raise RtcError(
                f"secrets {seen[block]!r} and {name!r} would both read the Prefect Secret block {block!r} "
                "(block names are lower case), while the local runner and Airflow read two values",
                hint="give the secrets names that differ in more than case and '_'",
            )
        seen[block] = name
