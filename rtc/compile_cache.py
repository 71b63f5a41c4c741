"""`rtc check` without compiling again what was checked already.

Checking a small file costs ~0.25 s of CPU, nearly all of it imports
(pydantic and the IR's model classes, the compiler's passes); the check itself
takes milliseconds. As ruff does for lint results, rtc remembers that a file
checked clean, in `$RTC_HOME/cache/check/` (folder mode 0700), and a later
`rtc check` of the same content answers without importing the compiler.

An entry is found by the main file's absolute path and holds the sha256 of
everything the result depends on:

- every source file that was read (the main file and its imports, transitively),
- every `copy` source of a built environment (its content digest, recomputed),
- rtc itself: its version and the size and modification time of each of its
  own source files (an edited rtc, e.g. an editable install, checks afresh).

The entry is used only when all of them still match; anything else (a missing
or changed file, a damaged entry) is a miss, and `rtc check` compiles as
usual. Only files that checked clean are remembered: errors are always
computed, so their messages never come from a stale entry.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

VERSION = 1


def cache_dir() -> Path:
    base = Path(os.environ.get("RTC_HOME") or Path.home() / ".rtc").expanduser()
    return base / "cache" / "check"


def _entry_path(source: str) -> Path:
    name = hashlib.sha256(os.path.abspath(source).encode("utf-8", "surrogatepass")).hexdigest()
    return cache_dir() / f"{name}.json"


def _file_digest(path: str) -> str | None:
    try:
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    except OSError:
        return None


_STAMP: list[str] = []


def rtc_stamp() -> str:
    """rtc's version and the size and mtime of each of its source files (grammar and templates included)."""
    if _STAMP:
        return _STAMP[0]
    import importlib.util

    import rtc

    h = hashlib.sha256(rtc.__version__.encode())
    folders = set(rtc.__path__)
    for sub in ("dsl", "compiler", "grammars"):
        spec = importlib.util.find_spec(f"rtc.{sub}")
        if spec is not None and spec.submodule_search_locations:
            folders.update(spec.submodule_search_locations)
    for folder in sorted(folders):
        for root, dirs, files in os.walk(folder):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(files):
                if name.endswith((".py", ".lark", ".json")):
                    st = os.stat(os.path.join(root, name))
                    h.update(f"{root}/{name}\0{st.st_size}\0{st.st_mtime_ns}\0".encode("utf-8", "surrogatepass"))
    _STAMP.append(h.hexdigest())
    return _STAMP[0]


def lookup(source: str) -> dict | None:
    """The remembered summary of a clean check of `source` (`{"graphs": n, "runs": n}`), or None."""
    try:
        entry = json.loads(_entry_path(source).read_text(encoding="utf-8"))
        if entry.get("version") != VERSION or entry.get("rtc") != rtc_stamp():
            return None
        for path, digest in entry["files"].items():
            if _file_digest(path) != digest:
                return None
        if entry["copies"]:
            from rtc.compiler.digest import content_digest

            for path, digest in entry["copies"].items():
                if content_digest(Path(path)) != digest:
                    return None
        summary = entry["summary"]
        return {"graphs": int(summary["graphs"]), "runs": int(summary["runs"])}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def remember(source: str, files: list[str], pipeline) -> None:
    """Record that `source` (which read `files`) checked clean into `pipeline`; best effort."""
    try:
        digests = {}
        for path in files:
            digest = _file_digest(path)
            if digest is None:
                return
            digests[os.path.abspath(path)] = digest
        copies = {}
        for env in pipeline.environments.values():
            for copy in env.build.copy_files if env.build is not None else ():
                copies[pipeline.host_path(copy.host_path)] = copy.digest
        entry = {
            "version": VERSION,
            "rtc": rtc_stamp(),
            "files": digests,
            "copies": copies,
            "summary": {"graphs": len(pipeline.graphs), "runs": len(pipeline.runs)},
        }
        folder = cache_dir()
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(entry, f, sort_keys=True)
            os.replace(tmp, _entry_path(source))
        except OSError:
            os.unlink(tmp)
            raise
    except OSError:
        pass  # a read-only or full $RTC_HOME: the next check compiles again, nothing worse
