"""Checks of single values against what the targets accept.

Each function returns None for a good value or a message saying what is
wrong; the passes turn messages into diagnostics with the right span and code.
"""

from __future__ import annotations

import ipaddress
import keyword
import re

# Airflow's dag_id / task_id: KEY_REGEX and a 250-character limit.
_AIRFLOW_ID = re.compile(r"[A-Za-z0-9_.-]+")
AIRFLOW_ID_MAX = 250

_ENV_VAR = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Tyger codespec and buffer names: lowercase letters, digits, '-' and '_'.
_TYGER_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")

# The Docker reference grammar (distribution/reference), without the
# optional scheme: [domain[:port]/]path[:tag][@digest].
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_IMAGE = re.compile(rf"(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*(?::{_TAG})?(?:@{_DIGEST})?")



def airflow_id_problem(name: str, what: str) -> str | None:
    if not _AIRFLOW_ID.fullmatch(name):
        bad = sorted({c for c in name if not _AIRFLOW_ID.fullmatch(c)})
        shown = "".join(bad) if bad else name
        return f"{what} {name!r} is not a valid Airflow/Prefect id: only letters, digits, '_', '.' and '-' are allowed (found {shown!r})"
    if len(name) > AIRFLOW_ID_MAX:
        return f"{what} {name[:40]!r}... is {len(name)} characters long; Airflow allows at most {AIRFLOW_ID_MAX}"
    return None


def python_name_problem(name: str, what: str) -> str | None:
    """Params become Prefect flow arguments, which must be Python identifiers."""
    if not name.isidentifier() or keyword.iskeyword(name):
        return f"{what} {name!r} must be a Python identifier (it becomes a flow parameter)"
    return None


def env_var_problem(name: str) -> str | None:
    if not _ENV_VAR.fullmatch(name):
        return f"{name!r} is not a valid environment variable name: use letters, digits and '_', not starting with a digit"
    return None


def tyger_name_problem(name: str, what: str) -> str | None:
    if not _TYGER_NAME.fullmatch(name):
        return f"{what} {name!r} is not a valid Tyger name: use lowercase letters, digits, '-' and '_', starting with a letter or digit"
    return None


def image_problem(ref: str) -> str | None:
    if not ref or len(ref) > 255 or not _IMAGE.fullmatch(ref):
        return f"{ref!r} is not a valid Docker image reference (expected e.g. \"python:3.11-slim\" or \"registry.example.com/team/app:1.0\")"
    return None


def port_problem(port: int, what: str, allow_zero: bool = False) -> str | None:
    low = 0 if allow_zero else 1
    if isinstance(port, bool) or not isinstance(port, int) or not low <= port <= 65535:
        return f"{what} {port!r} is out of range {low}-65535"
    return None


def host_ip_problem(text: str) -> str | None:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return f"{text!r} is not an IP address to listen on (e.g. \"127.0.0.1\" or \"0.0.0.0\")"
    return None
