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


def read_manifest(folder: Path) -> dict[str, list[str]]:
    """What each compile wrote into `folder`: key (target:namespace) -> relative paths."""
    import json

    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def manifest_text(manifest: dict[str, list[str]], key: str, names) -> str:
    """`manifest` with `key`'s entry replaced by `names`, as the file's text."""
    import json

    return json.dumps({**manifest, key: sorted(names)}, indent=2, sort_keys=True) + "\n"
