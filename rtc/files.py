"""Writing rtc's output files: atomically, and never touching a file rtc did not write.

An output folder holds a manifest (`.rtc-manifest.json`) of what each compile
wrote there: per key (`target:namespace`), each file's name and the SHA-256 of
the text rtc wrote. `plan_output` decides, from it and the folder's real
contents, what a compile may write and delete:

- a file is written only when it is absent, already holds that text, or is
  rtc's (listed under this key) and unchanged since rtc wrote it;
- a file of another key (another namespace compiled into the same folder) is
  shared only when its text is the same (the content-addressed runtime) or
  the target merges it (prefect.yaml); otherwise the compile is refused;
- a file rtc did not write, or changed since, is never overwritten;
- a file no longer generated is deleted only when it is a regular file in the
  folder, listed under this key alone, and still holds exactly what rtc wrote.

A manifest that is not one rtc wrote (bad JSON, paths outside the folder,
duplicate entries, bad hashes) is an error: nothing is written or deleted.

Compiles into one folder at once take turns (`output_lock`: an exclusive
`flock` on the folder itself, held from reading the manifest and merged files
to writing them; no lock file is left in the folder), so none loses another's
namespace or deployments.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from rtc.base.diagnostics import RtcError

MANIFEST = ".rtc-manifest.json"
MANIFEST_VERSION = 2
MAX_MANIFEST_BYTES = 16 * 1024 * 1024
LOCK_WAIT_SECONDS = 300.0

# file name -> merge(current text on disk, this compile's text, names this key owns) -> merged text.
# A merge function with `merges_any_file = True` only ever adds to a file (.airflowignore): it may
# merge into a file rtc did not write or that was edited since, and such a file is never deleted.
Mergers = dict[str, Callable[[str, str, set[str]], str]]


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


@contextmanager
def output_lock(folder: Path, create: bool = True, wait: float = LOCK_WAIT_SECONDS):
    """Hold the output folder's lock (creating the folder when `create`); one compile at a time writes there.

    The lock is an exclusive `flock` on the folder's own descriptor (every rtc takes it the
    same way). A path that is not a folder is left to `plan_output` to report.
    """
    import fcntl

    try:
        if create and not os.path.lexists(folder):
            folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC) if folder.is_dir() else None
    except OSError as exc:
        raise RtcError(f"-o {_shown(folder)}: {exc.strerror or exc}",
                       hint="name a folder you can write (each name at most 255 bytes)") from None
    if fd is None:
        yield
        return
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise RtcError(f"{_shown(folder)}: another rtc has been writing there for {wait:g}s",
                                   hint="wait for it to finish") from None
                time.sleep(0.02)
        yield
    finally:
        os.close(fd)  # releases the lock


def output_path(text: str, option: str = "-o") -> Path:
    """`-o`/`--dir` as a Path, or one clear error when the file system could not hold it (a name over 255 bytes, NUL)."""
    shown = _shown(Path(text)) if "\0" not in text else repr(text[:60])
    if not text or "\0" in text:
        raise RtcError(f"{option} {shown}: not a path")
    try:
        encoded = os.fsencode(text)
    except UnicodeError:
        raise RtcError(f"{option} {shown}: not a path this system can encode") from None
    if len(encoded) >= 4096 or any(len(part) > 255 for part in encoded.split(b"/")):
        raise RtcError(f"{option} {shown}: the path is too long (each name at most 255 bytes, the path under 4096)",
                       hint="choose a shorter path")
    return Path(text)


def _shown(path: Path) -> str:
    text = str(path)
    return text if len(text) <= 120 else text[:60] + "..." + text[-40:]


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def is_plain_name(name) -> bool:
    """A file name directly in the output folder, or in rtc's runtime package beside the generated files
    (`rtc_runtime_<hash>/<module>`: no other folder); no `..`, not the manifest itself."""
    if not isinstance(name, str) or name.count("/") > 1 or ("/" in name and not name.startswith("rtc_runtime_")):
        return False
    return name != MANIFEST and all(
        part not in ("", ".", "..") and "\\" not in part and "\0" not in part and len(part) <= 255
        for part in name.split("/"))


def read_manifest(folder: Path) -> dict[str, dict[str, str | None]]:
    """What each compile wrote into `folder`: key -> {file name: SHA-256 of its text, or None when unknown}.

    Version 1 manifests (key -> list of names, no hashes) are read with unknown
    hashes: their files may be rewritten, never deleted.
    """
    import json

    path = folder / MANIFEST

    def bad(why: str) -> RtcError:
        return RtcError(f"{path}: not a manifest rtc wrote ({why}); nothing was written or deleted",
                        hint="delete the file if it is not rtc's: rtc then deletes nothing it cannot prove it wrote")

    try:
        st = path.lstat()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise bad(exc.strerror or str(exc)) from None
    if not stat.S_ISREG(st.st_mode):
        raise bad("it is not a regular file")
    if st.st_size > MAX_MANIFEST_BYTES:
        raise bad(f"it is over {MAX_MANIFEST_BYTES} bytes")

    def no_duplicates(pairs):
        keys = [k for k, _ in pairs]
        if len(keys) != len(set(keys)):
            raise bad(f"duplicate entry {next(k for k in keys if keys.count(k) > 1)!r}")
        return dict(pairs)

    try:
        data = json.loads(path.read_text(encoding="utf-8"), object_pairs_hook=no_duplicates)
    except (ValueError, RecursionError) as exc:
        raise bad(f"invalid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise bad("not a JSON object")
    if data.get("rtc-manifest") == MANIFEST_VERSION:
        outputs = data.get("outputs")
        if set(data) != {"rtc-manifest", "outputs"} or not isinstance(outputs, dict):
            raise bad("expected the keys 'rtc-manifest' and 'outputs'")
        manifest = {}
        for key, files in outputs.items():
            if not isinstance(files, dict):
                raise bad(f"the entry of {key!r} is not an object")
            for name, digest in files.items():
                if not is_plain_name(name):
                    raise bad(f"{name!r} is not a file name in the folder")
                if not (isinstance(digest, str) and len(digest) == 64 and all(c in "0123456789abcdef" for c in digest)):
                    raise bad(f"the hash of {name!r} is not a SHA-256")
            manifest[key] = dict(files)
        return manifest
    # Version 1: key -> list of names.
    manifest = {}
    for key, names in data.items():
        if not isinstance(names, list):
            raise bad(f"the entry of {key!r} is not a list of file names")
        for name in names:
            if not is_plain_name(name):
                raise bad(f"{name!r} is not a file name in the folder")
        if len(names) != len(set(names)):
            raise bad(f"duplicate file name in the entry of {key!r}")
        manifest[key] = dict.fromkeys(names)
    return manifest


def manifest_text(manifest: dict[str, dict[str, str | None]]) -> str:
    import json

    outputs = {key: {name: digest for name, digest in sorted(files.items()) if digest is not None}
               for key, files in sorted(manifest.items()) if files}
    return json.dumps({"rtc-manifest": MANIFEST_VERSION, "outputs": outputs}, indent=2, sort_keys=True) + "\n"


@dataclass
class OutputPlan:
    """What one compile writes (the manifest included) and deletes, decided before anything is touched."""

    writes: dict[Path, str] = field(default_factory=dict)
    obsolete: list[Path] = field(default_factory=list)  # rtc's, unchanged, no longer generated: deleted
    kept: list[str] = field(default_factory=list)  # no longer generated but not provably rtc's: left, with why


def existing_text(path: Path) -> str | None:
    """The text of an existing regular file (not followed through a symlink); None when absent."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(st.st_mode):
        raise RtcError(f"{path} exists and is not a regular file: rtc writes only regular files it owns",
                       hint="move it away, or choose another output folder")
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RtcError(f"{path} exists and cannot be read: {exc}", hint="move it away, or choose another output folder") from None


def plan_output(folder: Path, key: str, rendered: dict[str, str], mergers: Mergers | None = None) -> OutputPlan:
    """Decide what writing `rendered` ({file name: text}) for `key` into `folder` does; raise when it would lose work."""
    mergers = mergers or {}
    if folder.exists() and not folder.is_dir():
        raise RtcError(f"-o {folder}: is a file, but this target writes a folder of files",
                       hint="name a folder (it is created when missing)")
    manifest = read_manifest(folder)
    mine = manifest.get(key, {})
    plan = OutputPlan()
    final: dict[str, str] = {}
    for name, text in rendered.items():
        if not is_plain_name(name):
            raise RtcError(f"internal error: {name!r} is not a file name for the output folder")
        path = folder / name
        current = existing_text(path)
        owners = {k for k, files in manifest.items() if name in files and k != key}
        merge = mergers.get(name)
        if current is not None and current != text and getattr(merge, "merges_any_file", False):
            text = merge(current, text, set(mine) | set(rendered))
        elif current is not None and current != text:
            recorded = mine.get(name) if name in mine else next(
                (manifest[k][name] for k in owners), None)
            if name not in mine and not owners:
                raise RtcError(f"{path} exists and rtc did not write it: rtc never overwrites such a file",
                               hint="move it away, or choose another output folder")
            if recorded is not None and recorded != sha256(current):
                raise RtcError(f"{path} was changed since rtc wrote it: rtc does not overwrite the changes",
                               hint="move your version away (or delete it), then compile again")
            if owners and name not in mine and merge is None:
                raise RtcError(
                    f"{path} is already written by {', '.join(sorted(owners))}: two pipelines would share one file",
                    hint="compile them into different folders, or rename a namespace, graph or run")
            if owners and merge is not None:
                text = merge(current, text, set(mine) | set(rendered))
        final[name] = text
        plan.writes[path] = text
    new_mine = {name: sha256(text) for name, text in final.items()}
    updated = {k: dict(files) for k, files in manifest.items() if k != key}
    for k, files in updated.items():  # a merged file changed for every key that shares it
        for name in files.keys() & final.keys():
            files[name] = new_mine[name]
    for name in sorted(set(mine) - set(final)):
        path = folder / name
        if any(name in files for files in updated.values()) or getattr(mergers.get(name), "merges_any_file", False):
            continue  # still another key's (the shared runtime), or may hold lines not rtc's: only the claim goes
        try:
            st = path.lstat()
        except FileNotFoundError:
            continue
        if not stat.S_ISREG(st.st_mode):
            plan.kept.append(f"{path} (no longer generated, but not a regular file)")
        elif mine[name] is None or sha256(existing_text(path) or "") != mine[name]:
            plan.kept.append(f"{path} (no longer generated, but changed since rtc wrote it, or written by an older rtc)")
        else:
            plan.obsolete.append(path)
    if new_mine:
        updated[key] = new_mine
    plan.writes[folder / MANIFEST] = manifest_text(updated)
    return plan


def apply_plan(plan: OutputPlan, report=print) -> None:
    write_atomically(plan.writes)
    for path in plan.writes:
        report(f"wrote {path}")
    for path in plan.obsolete:
        path.unlink()
        report(f"removed {path} (no longer generated)")
        if path.parent not in {p.parent for p in plan.writes}:
            try:
                path.parent.rmdir()  # an older runtime package's folder, once empty
            except OSError:
                pass
    for why in plan.kept:
        report(f"kept {why}")
