"""Steps that need not run again: the cache key of a step and the folder that holds cached outputs.

A node with `cache = true` (or a maximum age, `cache = 1d`) may reuse the
outputs of an earlier run of the same work instead of starting a container.
"The same work" is the key: a sha256 over everything the container can see
that rtc knows of, namely

- the image's content (its digest, not its tag: a rebuilt image is new work),
- the program (the argv the container runs, init commands and daemons included),
- the inputs (the element and its index, for a fanned-out step),
- the environment: `environ`, the working folder, mounts (paths only: the
  content of a mounted host folder is NOT part of the key), and the values
  of the step's secrets (only their hash enters the key),
- the declared outputs and their types.

Run ids and other per-run values are left out, so a re-run of an unchanged
pipeline finds every cached step. Entries are JSON files in
`$RTC_HOME/cache/steps/` (folder mode 0700), one per key, written
atomically; `rtc cache ls|clear` shows and empties it. A hit is used only
after its outputs pass the same type checks a fresh run's outputs pass.

Standard library only: the key is the same computation under every target,
and an Airflow worker keeps entries in the same format (this module is part
of the runtime package shipped beside generated files).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from .contract import read_io_file
from .jsonio import loads_json

KEY_VERSION = 2  # 2: results are columns ({output: [values]}) for fanout nodes too, under every target
MAX_ENTRY_BYTES = 64 * 1024 * 1024 + 64 * 1024  # a step's outputs are at most 64 MiB (MAX_OUTPUTS_BYTES)


def step_key(
    *,
    image_digest: str,
    argv: list[str],
    inputs: dict,
    environ: dict[str, str],
    secrets: dict[str, str] | None = None,
    workdir: str | None = None,
    mounts: list | None = None,
    outputs: dict[str, str] | None = None,
    map_index: int | None = None,
    fanout: bool = False,
) -> str:
    """The hex sha256 naming one unit of work (see the module docstring)."""
    material = {
        "v": KEY_VERSION,
        "image": image_digest,
        "argv": list(argv),
        "inputs": inputs,
        "environ": dict(environ),
        "secrets": {k: hashlib.sha256(v.encode("utf-8", "surrogatepass")).hexdigest() for k, v in (secrets or {}).items()},
        "workdir": workdir,
        "mounts": [list(m) for m in (mounts or [])],
        "outputs": dict(outputs or {}),
        "map_index": map_index,
        "fanout": fanout,
    }
    text = json.dumps(material, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def read_entry(folder, key):
    """The record of `key` in `folder` (a dict, expired or not), or None when absent or damaged.

    Read like a step's outputs file: only a regular file directly in the folder,
    never through a symlink, at most MAX_ENTRY_BYTES, as bounded JSON. A folder
    that is not this user's own (or that others may write) is not trusted: a
    planted entry would be handed to the next step as its upstream's outputs.
    A damaged entry is a miss.
    """
    if not private_folder(folder):
        return None
    try:
        text = read_io_file(folder, key + ".json", MAX_ENTRY_BYTES)
        record = None if text is None else loads_json(text)
    except (OSError, ValueError):  # IoFileError and LimitError are ValueErrors
        return None
    if not isinstance(record, dict) or record.get("key") != key or "outputs" not in record:
        return None
    try:
        float(record["created_at"])
        if record.get("expires_at") is not None:
            float(record["expires_at"])
    except (KeyError, TypeError, ValueError):
        return None
    return record


def private_folder(folder) -> bool:
    """True when `folder` is a real folder (not a symlink) of the current user that no one else may write."""
    import stat

    try:
        st = os.lstat(folder)
    except OSError:
        return False
    mine = not hasattr(os, "getuid") or st.st_uid == os.getuid()
    return stat.S_ISDIR(st.st_mode) and mine and not stat.S_IMODE(st.st_mode) & 0o022


def write_entry(folder, key, record):
    """Write `record` as `key`'s entry: atomically (a reader sees the old entry or the new one), owner-only.

    The folder is created 0700; one that is a symlink, not a folder or not the
    current user's is refused (OSError), so nobody else's files are written or trusted.
    Self-contained (the Airflow runtime carries its source).
    """
    import json
    import os
    import stat
    import tempfile

    os.makedirs(folder, mode=0o700, exist_ok=True)
    st = os.lstat(folder)
    if not stat.S_ISDIR(st.st_mode) or (hasattr(os, "getuid") and st.st_uid != os.getuid()):
        raise OSError(f"{folder} is not a folder of this user: rtc keeps no cache entries there")
    if stat.S_IMODE(st.st_mode) & 0o077:
        os.chmod(folder, 0o700)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".json")  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(record, f, ensure_ascii=False, sort_keys=True)
        os.replace(tmp, os.path.join(folder, key + ".json"))
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


@dataclass
class Entry:
    """One recorded step result: its key, outputs and age, and where it was recorded."""

    key: str
    outputs: object
    created_at: float
    expires_at: float | None
    pipeline: str = ""
    graph: str = ""
    step: str = ""
    node: str = ""

    def expired(self, now: float | None = None, max_age: float | None = None) -> bool:
        """Past the expiry recorded with it, or older than `max_age` (the node's `cache` now, which may be shorter)."""
        now = now or time.time()
        if max_age is not None and now >= self.created_at + max_age:
            return True
        return self.expires_at is not None and now >= self.expires_at


class StepCache:
    """The cached outputs under `folder` (`rtc run`'s: rtc.base.home.steps_cache_dir())."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)

    def _path(self, key: str) -> Path:
        if not _is_key(key):
            raise ValueError(f"not a cache key: {key!r}")
        return self.folder / f"{key}.json"

    def get(self, key: str, max_age: float | None = None) -> Entry | None:
        """The live entry for `key`; None when absent, expired (then removed) or unreadable.

        `max_age` is the node's `cache` age today: an entry recorded under a longer one expires by it.
        """
        self._path(key)  # checks the key
        record = read_entry(str(self.folder), key) if self.folder.is_dir() else None
        entry = None if record is None else _entry(record)
        if entry is None:
            return None
        if entry.expired(max_age=max_age):
            self.discard(key)
            return None
        return entry

    def put(self, key: str, outputs, *, max_age: float | None, pipeline: str = "", graph: str = "", step: str = "", node: str = "") -> None:
        """Record `outputs` under `key` (atomically: a reader sees the old entry or the new one)."""
        self._path(key)  # checks the key
        # `$RTC_HOME` and `cache/` owner-only when rtc makes them (mkdir's parents would get the umask's mode).
        self.folder.parent.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.folder.parent.mkdir(exist_ok=True, mode=0o700)
        now = time.time()
        record = {
            "key": key,
            "outputs": outputs,
            "created_at": now,
            "expires_at": None if max_age is None else now + max_age,
            "pipeline": pipeline,
            "graph": graph,
            "step": step,
            "node": node,
        }
        write_entry(str(self.folder), key, record)

    def discard(self, key: str) -> None:
        try:
            self._path(key).unlink()
        except OSError:
            pass

    def entries(self) -> list[Entry]:
        """Every readable entry, expired ones included, oldest first."""
        found = []
        if not self.folder.is_dir():
            return found
        for path in self.folder.glob("*.json"):
            if path.name.startswith("."):
                continue
            entry = _read(path)
            if entry is not None:
                found.append(entry)
        return sorted(found, key=lambda e: (e.created_at, e.key))

    def clear(self, pipeline: str | None = None) -> int:
        """Remove every entry (or those of one pipeline namespace); returns how many."""
        removed = 0
        if not self.folder.is_dir():
            return 0
        for path in list(self.folder.glob("*.json")):
            # Only rtc's entries: a file named by a key that reads as an entry (never a package.json beside them).
            entry = _read(path) if _is_key(path.name[: -len(".json")]) else None
            if entry is None or (pipeline is not None and entry.pipeline != pipeline):
                continue
            try:
                path.unlink()
                removed += 1
            except OSError:
                pass
        return removed


def _is_key(name: str) -> bool:
    return len(name) == 64 and all(c in "0123456789abcdef" for c in name)


def _read(path: Path) -> Entry | None:
    """An entry file; None when missing or not an entry (a damaged file is a miss, not an error)."""
    record = read_entry(str(path.parent), path.name[: -len(".json")])
    return None if record is None else _entry(record)


def _entry(data: dict) -> Entry | None:
    try:
        created, expires = float(data["created_at"]), data.get("expires_at")
        return Entry(
            key=str(data["key"]),
            outputs=data["outputs"],
            created_at=created,
            expires_at=None if expires is None else float(expires),
            **{k: str(data.get(k, "")) for k in ("pipeline", "graph", "step", "node")},
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
