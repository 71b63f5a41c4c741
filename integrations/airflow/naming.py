"""Names in a generated DAG file: Airflow ids, file names and Python variables.

Ids come from the pipeline and are checked against Airflow's own rule
(letters, digits, `_`, `.`, `-`); variable names are derived from them but
never trusted: a name that is not a plain identifier, or that would shadow
something the file defines, gets a numbered one instead.
"""

from __future__ import annotations

import builtins
import keyword
import re

from rtc.base.diagnostics import RtcError
from rtc.integrations.codegen import RUNTIME_PREFIX
from rtc.integrations.codegen import file_stem  # noqa: F401 - the name targets import from here

AIRFLOW_KEY = re.compile(r"^[\w.-]{1,250}$", re.ASCII)

# Names a generated DAG file defines or imports at module level.
RESERVED = frozenset(
    """sys Path datetime timedelta timezone DAG Param Mount RtcNode RtcRetry RtcSecretsCheck SECRETS_CHECK_ID
    RtcWatcher RtcRunJob rtc_step rtc_mapped_step dag secrets_check job""".split()
) | frozenset(dir(builtins))  # a step named `open` or `dict` must not shadow what the file's code calls


def airflow_id(text: str, what: str) -> str:
    if not AIRFLOW_KEY.match(text):
        raise RtcError(
            f"{what} {text!r} cannot be an Airflow id",
            hint="use letters, digits, '_', '-' and '.' only (at most 250 characters)",
        )
    return text


class VariableNames:
    """Hands out unique, safe Python variable names, preferring the readable one."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def take(self, preferred: str, fallback: str) -> str:
        name = preferred.replace("-", "_")
        if (not name.isidentifier() or keyword.iskeyword(name) or name in RESERVED or name in self.used
                or name.startswith(RUNTIME_PREFIX)):  # the runtime package beside the DAG files
            name = fallback
            n = 1
            while name in self.used or name in RESERVED:
                n += 1
                name = f"{fallback}_{n}"
        self.used.add(name)
        return name
