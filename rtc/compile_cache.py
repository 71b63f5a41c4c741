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

`rtc exec` keeps a second kind of entry, in `$RTC_HOME/cache/exec/`: the
file's Tyger part as plain data (`tyger_spec.runnable`: its codespecs and
runs), so that executing an unchanged file starts its container without
importing pydantic, the compiler or the YAML front end (`lookup_runnable`,
`remember_runnable`). Its validity holds the same digests, plus rtc's Docker
integration among rtc's own files (it turns the IR into that plain data) and
the codespec registry (`$RTC_HOME/codespecs`: names, sizes and modification
times), since a run spec's `codespec: NAME` resolves to the latest
registered version of NAME.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

VERSION = 1
RUNNABLE_VERSION = 1
# What the cached check result depends on among rtc's packages; a run's plain data also on the Docker integration's.
_CHECK_PACKAGES = ("dsl", "compiler", "grammars")
_EXEC_PACKAGES = (*_CHECK_PACKAGES, "integrations.tyger")


def _home() -> Path:
    from rtc.base.home import rtc_home

    return rtc_home()


def cache_dir() -> Path:
    return _home() / "cache" / "check"


def exec_cache_dir() -> Path:
    return _home() / "cache" / "exec"


def _entry_path(source: str, folder: Path | None = None) -> Path:
    name = hashlib.sha256(os.path.abspath(source).encode("utf-8", "surrogatepass")).hexdigest()
    return (folder or cache_dir()) / f"{name}.json"


def _file_digest(path: str) -> str | None:
    try:
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    except OSError:
        return None


_STAMPS: dict[tuple[str, ...], str] = {}


def rtc_stamp(packages: tuple[str, ...] = _CHECK_PACKAGES) -> str:
    """rtc's version and the size and mtime of each of its source files (grammar and templates included)."""
    if packages in _STAMPS:
        return _STAMPS[packages]
    import importlib.util

    import rtc

    h = hashlib.sha256(rtc.__version__.encode())
    folders = set(rtc.__path__)
    for sub in packages:
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
    _STAMPS[packages] = h.hexdigest()
    return _STAMPS[packages]


def registry_stamp() -> str:
    """The codespec registry as it is now: each file's path, size and modification time."""
    h = hashlib.sha256()
    folder = _home() / "codespecs"
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(root, name)
            try:
                st = os.stat(path)
            except OSError:
                continue
            h.update(f"{os.path.relpath(path, folder)}\0{st.st_size}\0{st.st_mtime_ns}\0".encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def _digests(files: list[str]) -> dict[str, str] | None:
    """sha256 of each file by absolute path; None when one cannot be read."""
    digests = {}
    for path in files:
        digest = _file_digest(path)
        if digest is None:
            return None
        digests[os.path.abspath(path)] = digest
    return digests


def _unchanged(files: dict) -> bool:
    return all(_file_digest(path) == digest for path, digest in files.items())


def _write_entry(path: Path, entry: dict) -> None:
    """Write `entry` as `path` at once (a reader never sees half of it); best effort."""
    import tempfile  # only when writing: a lookup (every repeated check and exec) needs none of it

    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(entry, f, sort_keys=True)
            os.replace(tmp, path)
        except OSError:
            os.unlink(tmp)
            raise
    except OSError:
        pass  # a read-only or full $RTC_HOME: the next command compiles again, nothing worse


def lookup(source: str) -> dict | None:
    """The remembered summary of a clean check of `source` (`{"graphs": n, "runs": n}`), or None."""
    try:
        entry = json.loads(_entry_path(source).read_text(encoding="utf-8"))
        if entry.get("version") != VERSION or entry.get("rtc") != rtc_stamp():
            return None
        if not _unchanged(entry["files"]):
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
    digests = _digests(files)
    if digests is None:
        return
    copies = {}
    for env in pipeline.environments.values():
        for copy in env.build.copy_files if env.build is not None else ():
            copies[pipeline.host_path(copy.host_path)] = copy.digest
    _write_entry(_entry_path(source), {
        "version": VERSION,
        "rtc": rtc_stamp(),
        "files": digests,
        "copies": copies,
        "summary": {"graphs": len(pipeline.graphs), "runs": len(pipeline.runs)},
    })


def lookup_runnable(source: str) -> dict | None:
    """The remembered Tyger part of `source` as plain data (`tyger_spec.runnable`), or None."""
    try:
        entry = json.loads(_entry_path(source, exec_cache_dir()).read_text(encoding="utf-8"))
        if (entry.get("version") != RUNNABLE_VERSION or entry.get("rtc") != rtc_stamp(_EXEC_PACKAGES)
                or entry.get("registry") != registry_stamp() or not _unchanged(entry["files"])):
            return None
        runnable = entry["runnable"]
        if not isinstance(runnable.get("codespecs"), dict) or not isinstance(runnable.get("runs"), dict):
            return None
        return runnable
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def remember_runnable(source: str, files: list[str], runnable: dict) -> None:
    """Record `runnable`, what compiling `source` (which read `files`) gave; best effort."""
    digests = _digests(files)
    if digests is None:
        return
    _write_entry(_entry_path(source, exec_cache_dir()), {
        "version": RUNNABLE_VERSION,
        "rtc": rtc_stamp(_EXEC_PACKAGES),
        "registry": registry_stamp(),
        "files": digests,
        "runnable": runnable,
    })
