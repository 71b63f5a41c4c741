"""Writing output files atomically: all of them or none, never half a file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomically(files: dict[Path, str]) -> None:
    """Write every file to a temporary sibling first, then rename them into place.

    A failure while writing leaves the previous contents untouched; renames
    happen only after every temporary file is complete.
    """
    staged: list[tuple[str, Path]] = []
    try:
        for path, text in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            staged.append((tmp, path))
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
                f.write(text)
            os.chmod(tmp, 0o644)
        for tmp, path in staged:
            os.replace(tmp, path)
        staged.clear()
    finally:
        for tmp, _ in staged:
            try:
                os.unlink(tmp)
            except OSError:
                pass


MANIFEST = ".rtc-manifest.json"


def generated_before(folder: Path, key: str) -> set[str]:
    """The files (relative to `folder`) that the last compile for `key` wrote there."""
    import json

    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        return set(data.get(key, []))
    except (OSError, ValueError, AttributeError):
        return set()


def manifest_text(folder: Path, key: str, names) -> str:
    """The folder's manifest with `key`'s entry replaced by `names`; other keys are kept."""
    import json

    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        data = data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        data = {}
    data[key] = sorted(names)
    return json.dumps(data, indent=2, sort_keys=True) + "\n"
