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

Standard library only: the key is the same computation under every target.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

KEY_VERSION = 1


def cache_dir(home: str | os.PathLike | None = None) -> Path:
    """`$RTC_HOME/cache/steps` (default `~/.rtc/cache/steps`)."""
    base = Path(home or os.environ.get("RTC_HOME") or Path.home() / ".rtc").expanduser()
    return base / "cache" / "steps"


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


@dataclass
class Entry:
    key: str
    outputs: object
    created_at: float
    expires_at: float | None
    pipeline: str = ""
    graph: str = ""
    step: str = ""
    node: str = ""

    def expired(self, now: float | None = None) -> bool:
        return self.expires_at is not None and (now or time.time()) >= self.expires_at


class StepCache:
    """The cached outputs under `folder` (default: `cache_dir()`)."""

    def __init__(self, folder: str | os.PathLike | None = None):
        self.folder = Path(folder) if folder is not None else cache_dir()

    def _path(self, key: str) -> Path:
        if len(key) != 64 or not all(c in "0123456789abcdef" for c in key):
            raise ValueError(f"not a cache key: {key!r}")
        return self.folder / f"{key}.json"

    def get(self, key: str) -> Entry | None:
        """The live entry for `key`; None when absent, expired (then removed) or unreadable."""
        entry = _read(self._path(key))
        if entry is None or entry.key != key:
            return None
        if entry.expired():
            self.discard(key)
            return None
        return entry

    def put(self, key: str, outputs, *, max_age: float | None, pipeline: str = "", graph: str = "", step: str = "", node: str = "") -> None:
        """Record `outputs` under `key` (atomically: a reader sees the old entry or the new one)."""
        path = self._path(key)
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
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
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(record, f, ensure_ascii=False, sort_keys=True)
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise

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
            if pipeline is not None:
                entry = _read(path)
                if entry is None or entry.pipeline != pipeline:
                    continue
            try:
                path.unlink()
                removed += 1
            except OSError:
                pass
        return removed


def _read(path: Path) -> Entry | None:
    """An entry file; None when missing or not an entry (a damaged file is a miss, not an error)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        created, expires = float(data["created_at"]), data["expires_at"]
        return Entry(
            key=str(data["key"]),
            outputs=data["outputs"],
            created_at=created,
            expires_at=None if expires is None else float(expires),
            **{k: str(data.get(k, "")) for k in ("pipeline", "graph", "step", "node")},
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
