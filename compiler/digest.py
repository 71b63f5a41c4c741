"""sha256 of a file or folder that `copy` bakes into an image.

The walk is deterministic (sorted relative paths, `/` separators) and covers
names, the executable bit and contents, so that changed code changes the
digest and therefore the image tag. `__pycache__` folders and `.pyc` files
are left out: Python rewrites them at run time without changing behaviour.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

_IGNORED_DIRS = {"__pycache__"}
_IGNORED_SUFFIXES = (".pyc", ".pyo")


def content_digest(path: Path) -> str:
    h = hashlib.sha256()
    if path.is_file():
        _add_file(h, "", path)
        return h.hexdigest()
    for root, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if d not in _IGNORED_DIRS)
        rel_root = Path(root).relative_to(path)
        # A symlink to a folder is copied as a link (never followed): its target text counts.
        files = files + [d for d in dirs if os.path.islink(os.path.join(root, d))]
        for name in sorted(files):
            if name.endswith(_IGNORED_SUFFIXES):
                continue
            _add_file(h, (rel_root / name).as_posix(), Path(root) / name)
    return h.hexdigest()


def _add_file(h, rel: str, path: Path) -> None:
    h.update(rel.encode() + b"\0")
    if path.is_symlink():  # copied as a link, never followed (docs/security.md): its target text counts
        h.update(b"L" + os.readlink(path).encode() + b"\0")
        return
    h.update(b"X" if os.access(path, os.X_OK) else b"-")
    content = path.read_bytes()
    h.update(str(len(content)).encode() + b"\0")
    h.update(content)
