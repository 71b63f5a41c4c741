"""Bounds on what rtc reads from files, the command line and steps (standard library only).

Every reader of untrusted input goes through these, so that no input, however
large, deep or strange, ends in unbounded memory, a hang or a RecursionError
(docs/security.md):

- `read_regular_file`: a regular file of at most `max_bytes`; a FIFO, a device
  (an import symlinked to /dev/zero) or a folder is refused before any read.
- `loads_json`: JSON with a bounded nesting depth and no NaN/Infinity (which
  are not JSON: another reader of the same value would refuse it).
"""

from __future__ import annotations

import json
import math
import os
import stat

MAX_NESTING = 64  # list/map levels in a value or a type; Python's parser stops at 200
MAX_SOURCE_BYTES = 16 * 1024 * 1024  # a pipeline file, an import, an IR JSON file


class LimitError(ValueError):
    """An input beyond a bound, or of a kind rtc does not read; the message says which."""


def read_regular_file(path: str | os.PathLike, max_bytes: int = MAX_SOURCE_BYTES) -> bytes:
    """The bytes of `path` if it is a regular file of at most `max_bytes`.

    Opened non-blocking, so a FIFO cannot hang the open; its type is checked
    on the open descriptor (no race with a rename), and at most `max_bytes + 1`
    bytes are ever read. OSError (missing file, permissions) propagates.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError(21, "Is a directory", str(path))
        if not stat.S_ISREG(info.st_mode):
            raise LimitError(f"{path} is not a regular file (it is {_kind(info.st_mode)}); rtc reads only regular files")
        if info.st_size > max_bytes:
            raise LimitError(f"{path} is {info.st_size:,} bytes; rtc reads files of at most {max_bytes:,} bytes")
        chunks, total = [], 0
        while total <= max_bytes:
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > max_bytes:  # it grew while being read
            raise LimitError(f"{path} is larger than {max_bytes:,} bytes; rtc reads files of at most that size")
        return b"".join(chunks)
    finally:
        os.close(fd)


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a file"


def nesting_depth(value, limit: int = MAX_NESTING) -> int:
    """How deeply lists and dicts nest in `value` (a scalar is 0); stops counting past `limit`. Iterative."""
    deepest = 0
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (list, dict)):
            depth += 1
            deepest = max(deepest, depth)
            if depth > limit:
                return depth
            stack.extend((child, depth) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def _no_constant(name: str):
    raise LimitError(f"{name} is not a JSON number (JSON has no NaN or Infinity)")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise LimitError(f"{text} is out of the range of a JSON number (a 64-bit float)")
    return value


def loads_json(text: str, limit: int = MAX_NESTING):
    """`json.loads` that refuses NaN, Infinity, numbers that overflow a float and nesting deeper than `limit`.

    Raises ValueError (json.JSONDecodeError or LimitError) with a message for the user.
    """
    try:
        value = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
    except RecursionError:  # the C scanner recurses, but checks its depth: this is not a crash
        raise LimitError(f"the JSON is nested more than {limit} levels deep") from None
    if nesting_depth(value, limit) > limit:
        raise LimitError(f"the JSON is nested more than {limit} levels deep")
    return value


def finite_problem(value, where: str) -> str | None:
    """A message when `value` holds a float that is NaN or infinite (json.dumps would write invalid JSON)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return f"{where} holds {item!r}, which is not a JSON number"
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None
