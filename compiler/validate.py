"""Checks of single values against what the targets accept.

Each function returns None for a good value or a message saying what is
wrong; the passes turn messages into diagnostics with the right span and code.
"""

from __future__ import annotations

import ipaddress
import keyword
import os
import re
from pathlib import Path, PurePosixPath

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


# Airflow refuses a DAG whose tag is longer than 100 characters (TAG_MAX_LEN).
TAG_MAX = 100
# Linux refuses one `NAME=value` environment string over 128 KiB (MAX_ARG_STRLEN) when it
# starts a container's program, and all of them together beyond ARG_MAX; rtc adds its own
# variables (up to 64 KiB of RTC_INPUTS), so an environment's own stay well below.
ENV_STRING_MAX = 128 * 1024 - 1
ENVIRON_TOTAL_MAX = 1024 * 1024


def tag_problem(tag: str, what: str) -> str | None:
    if len(tag) > TAG_MAX:
        return f"{what} {tag[:40]!r}... is {len(tag)} characters long; Airflow refuses tags over {TAG_MAX}"
    return None


def environ_problem(name: str, value: str) -> str | None:
    """A variable the kernel would refuse to pass to the container's program."""
    if "\0" in value or "\0" in name:
        return f"the value of {name!r} contains a NUL character, which no environment variable can hold"
    size = len(name.encode("utf-8", "surrogatepass")) + 1 + len(value.encode("utf-8", "surrogatepass"))
    if size > ENV_STRING_MAX:
        return f"{name}=... is {size:,} bytes; Linux refuses an environment variable over {ENV_STRING_MAX + 1:,} bytes"
    return None


def environ_total_problem(environ: dict[str, str]) -> str | None:
    total = sum(len(k.encode("utf-8", "surrogatepass")) + len(v.encode("utf-8", "surrogatepass")) + 2 for k, v in environ.items())
    if total > ENVIRON_TOTAL_MAX:
        return f"the environment variables add up to {total:,} bytes; rtc allows {ENVIRON_TOTAL_MAX:,} (Linux refuses to start a program with too large an environment)"
    return None


def copy_source_problem(written: str, context: Path) -> str | None:
    """A `copy` source must stay inside the pipeline's folder, as a Docker build context does.

    `written` is the path as the IR holds it (relative to `context`). Refused:
    absolute paths, paths that leave `context` with `..`, and paths that leave
    it through a symlink (checked on the real path).
    """
    if os.path.isabs(written) or PurePosixPath(written).is_absolute():
        return f"`copy` source {written!r} is an absolute path; copy sources are relative to the pipeline's folder"
    root = Path(os.path.realpath(context))
    lexical = Path(os.path.normpath(root / written))
    if lexical != root and root not in lexical.parents:
        return f"`copy` source {written!r} leaves the pipeline's folder ({root})"
    real = Path(os.path.realpath(lexical))
    if real != root and root not in real.parents:
        return f"`copy` source {written!r} is a symlink out of the pipeline's folder (to {real})"
    return None
