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

import os
import stat

# JSON bounds live with the runtime, which reads what steps write; every other reader shares them.
from rtc.runtime.jsonio import MAX_NESTING, LimitError, loads_json, nesting_depth  # noqa: F401

MAX_SOURCE_BYTES = 16 * 1024 * 1024  # a pipeline file, an import, an IR JSON file


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
