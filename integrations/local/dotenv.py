"""Secrets from a `.env` file beside the pipeline, for `rtc run` (as Exosphere users keep them).

The format is the one `python-dotenv`'s `load_dotenv()` reads, which is what
an Exosphere project's `.env` is written for:

    # comment
    EXOSPHERE_API_KEY=abc123           # inline comment after an unquoted value
    export DB_URL="postgres://u@h/db"  # `export` is allowed; "..." takes \\n \\t \\" \\\\ escapes
    RAW='no $expansion, no escapes'
    URL=${BASE_URL}/v1                 # ${NAME} and ${NAME:-default}, in unquoted and "..." values

Variables of the environment win over the file (`load_dotenv(override=False)`),
and `${NAME}` looks there first too. Only the secrets a graph declares are
read from the result; nothing else of the file reaches a container. A line
that is none of the above is an error with its position, never skipped.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Mapping

from rtc.base.diagnostics import RtcError

FILE_NAME = ".env"
MAX_BYTES = 1024 * 1024  # a secrets file, not a data file
_ASSIGNMENT = re.compile(r"[ \t]*(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_.]*)[ \t]*=[ \t]*")
_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$"}


def beside(source: str) -> Path:
    """The `.env` file in the folder of the pipeline file `source`."""
    return Path(os.path.abspath(source)).parent / FILE_NAME


def environment_with_dotenv(source: str, environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """`environ` over the `.env` beside `source` (when there is one)."""
    path = beside(source)
    values = read(path, environ) if path.is_file() else {}
    return {**values, **environ}


def read(path: Path, environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The variables of a .env file; RtcError with `file:line:col` for a line it cannot read."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_BYTES + 1)
    except OSError as exc:
        raise RtcError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_BYTES:
        raise RtcError(f"{path}: larger than {MAX_BYTES // 1024} KiB; a .env file holds variables, not data")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RtcError(f"{path}: not UTF-8 (byte {exc.start})") from None
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = _ASSIGNMENT.match(line)
        if match is None:
            col = len(line) - len(line.lstrip()) + 1
            raise RtcError(f"{path}:{number}:{col}: expected NAME=value, got {stripped[:40]!r}",
                           hint="each line of a .env file is NAME=value, `export NAME=value`, a # comment, or blank")
        name = match.group(1)
        values[name] = _value(line, match.end(), path, number, lambda ref: environ.get(ref, values.get(ref)))
    return values


def _value(line: str, start: int, path: Path, number: int, lookup) -> str:
    rest = line[start:]
    if rest[:1] in ("'", '"'):
        quote = rest[0]
        out, i = [], 1
        while i < len(rest) and rest[i] != quote:
            if quote == '"' and rest[i] == "\\" and i + 1 < len(rest):
                out.append(_ESCAPES.get(rest[i + 1], "\\" + rest[i + 1]))
                i += 2
                continue
            out.append(rest[i])
            i += 1
        if i >= len(rest):
            raise RtcError(f"{path}:{number}:{start + 1}: the {quote} quote is not closed on this line")
        after = rest[i + 1:].strip()
        if after and not after.startswith("#"):
            col = line.index(after, start + i + 1) + 1
            raise RtcError(f"{path}:{number}:{col}: unexpected {after[:20]!r} after the quoted value")
        text = "".join(out)
        return text if quote == "'" else _expand(text, lookup)
    value = re.split(r"[ \t]#", rest, maxsplit=1)[0].strip()
    return _expand(value, lookup)


def _expand(text: str, lookup) -> str:
    def one(match: re.Match) -> str:
        found = lookup(match.group(1))
        if found:
            return found
        return match.group(2) or ""

    return _REFERENCE.sub(one, text)
