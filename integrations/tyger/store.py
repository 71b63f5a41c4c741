"""The local run store: Tyger's runs and buffers, kept on this machine.

One SQLite database (`$RTC_HOME/store.db`, default `~/.rtc`, WAL mode so a
detached run, `rtc run watch` and `rtc run cancel` can use it at once) holds
runs and buffer metadata. Bytes live in files, so they outlive containers:
buffers under `$RTC_HOME/buffers/<id>`, each run's merged log under
`$RTC_HOME/logs/<run>/run.log` (one `<RFC 3339 time> <text>` line per line
a container printed).

Status changes go through `transition`, a compare-and-set on the current
status, so that a cancel and a run ending at the same moment cannot both win.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import stat
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from rtc.base.diagnostics import RtcError
from rtc.base import home as home_files
from rtc.base.home import rtc_home

PENDING, RUNNING, FAILED, SUCCEEDED, CANCELING, CANCELED = (
    "Pending",
    "Running",
    "Failed",
    "Succeeded",
    "Canceling",
    "Canceled",
)
STATUSES = (PENDING, RUNNING, FAILED, SUCCEEDED, CANCELING, CANCELED)
TERMINAL = frozenset({FAILED, SUCCEEDED, CANCELED})
SQLITE_MAX_INTEGER = 2**63 - 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    status        TEXT NOT NULL,
    status_reason TEXT,
    spec          TEXT NOT NULL,
    created_at    REAL NOT NULL,
    started_at    REAL,
    finished_at   REAL,
    exit_code     INTEGER,
    pid           INTEGER,
    owner         TEXT
);
CREATE INDEX IF NOT EXISTS runs_created ON runs (created_at);
CREATE TABLE IF NOT EXISTS buffers (
    id         TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    sealed_at  REAL,
    tags       TEXT NOT NULL DEFAULT '{}'
);
"""




def iso(ts: float | None) -> str | None:
    """RFC 3339 in UTC with microseconds, as Tyger prints times."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> float:
    """An RFC 3339 / ISO 8601 time (a missing zone means UTC) as epoch seconds."""
    from rtc.base.diagnostics import RtcError

    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise RtcError(f"bad date/time {text!r}", hint="use ISO 8601, e.g. 2024-05-01T12:00:00Z") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()


@dataclass(frozen=True)
class RunRecord:
    """A Tyger run as the run store holds it."""

    id: int
    status: str
    status_reason: str | None
    spec: dict
    created_at: float
    started_at: float | None
    finished_at: float | None
    exit_code: int | None
    pid: int | None
    owner: str | None = None  # rtc.integrations.engine.owners.owner_label of the executor

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL


@dataclass(frozen=True)
class BufferRecord:
    """A Tyger buffer as the run store holds it."""

    id: str
    created_at: float
    sealed_at: float | None
    tags: dict


class Store:
    """The run store of one `$RTC_HOME`; cheap to create, safe across threads and processes."""

    def __init__(self, home: Path | str | None = None, reconcile: bool = True):
        self.home = Path(home) if home is not None else rtc_home()
        home_files.prepare(self.home)
        self.db_path = self.home / "store.db"
        if _open_here(self.db_path) is None:  # else this process checked it already and holds connections to it
            try:
                fd = home_files.private_file(self.db_path, os.O_RDWR | os.O_CREAT | os.O_NONBLOCK)  # 0600, before SQLite makes it 0644
                regular = stat.S_ISREG(os.fstat(fd).st_mode)
                os.close(fd)
            except OSError as exc:
                raise self._unusable(exc.strerror or str(exc)) from None
            if not regular:
                raise self._unusable("it is not a regular file")
            with self._connect() as db:
                _retry_locked(lambda: db.executescript(_SCHEMA))
                columns = {row["name"] for row in db.execute("PRAGMA table_info(runs)")}
                if "owner" not in columns:  # a store of an older rtc: its runs' owners are unknown (never reconciled)
                    try:
                        db.execute("ALTER TABLE runs ADD COLUMN owner TEXT")
                    except sqlite3.OperationalError as exc:  # another process added it meanwhile
                        if "duplicate column" not in str(exc):
                            raise
        if reconcile:
            from rtc.integrations.tyger.abandoned import reconcile as finish_abandoned

            finish_abandoned(self)  # runs whose process was killed: finished, their containers removed

    @property
    def key(self) -> str:
        """A short, stable name of this store, so container labels of two stores never collide."""
        return hashlib.sha256(str(self.home.resolve()).encode()).hexdigest()[:8]

    @contextmanager
    def _connect(self):
        """This thread's autocommit connection to the store (each statement is its own transaction)."""
        try:
            db = _connection(self.db_path)
        except OSError as exc:  # removed or replaced meanwhile
            raise self._unusable(exc.strerror or str(exc)) from None
        except sqlite3.DatabaseError as exc:
            raise self._unusable(str(exc)) from None
        try:
            yield db
        except sqlite3.DatabaseError as exc:  # "file is not a database", "database disk image is malformed", ...
            raise self._unusable(str(exc)) from None

    def _unusable(self, why: str) -> RtcError:
        return RtcError(
            f"the run store {self.db_path} cannot be used: {why}",
            hint="if it is damaged, move it away (rtc then starts an empty store); runs and buffers listed in it are lost",
        )

    # ------------------------------------------------------------ runs

    def create_run(self, spec: dict) -> RunRecord:
        with self._connect() as db:
            cur = db.execute(
                "INSERT INTO runs (status, spec, created_at) VALUES (?, ?, ?)",
                (PENDING, json.dumps(spec, sort_keys=True), time.time()),
            )
            run_id = cur.lastrowid
        home_files.private_dir(self.log_dir(run_id))
        return self.get_run(run_id)

    def get_run(self, run_id: int | str) -> RunRecord:
        try:
            key = int(run_id)
            if not 0 < key <= SQLITE_MAX_INTEGER:
                raise ValueError(run_id)
        except (TypeError, ValueError):
            raise RtcError(f"run {run_id!r} not found", hint="run ids are numbers; see `rtc run list`") from None
        with self._connect() as db:
            row = db.execute("SELECT * FROM runs WHERE id = ?", (key,)).fetchone()
        if row is None:
            raise RtcError(f"run {run_id} not found", hint=f"runs are kept in {self.db_path}; see `rtc run list`")
        return _run_record(row)

    def list_runs(self, since: float | None = None, limit: int = 1000) -> tuple[list[RunRecord], bool]:
        """Newest first; the flag says whether more runs matched than `limit`."""
        query, params = "SELECT * FROM runs", []
        if since is not None:
            query += " WHERE created_at >= ?"
            params.append(since)
        query += " ORDER BY created_at DESC, id DESC LIMIT ?"
        params.append(min(limit, SQLITE_MAX_INTEGER - 1) + 1)
        with self._connect() as db:
            rows = db.execute(query, params).fetchall()
        return [_run_record(r) for r in rows[:limit]], len(rows) > limit

    def transition(self, run_id: int, to: str, *, frm: tuple[str, ...], reason: str | None = None, **fields) -> bool:
        """Set the status to `to` only if it is one of `frm` now; returns whether it changed."""
        sets = ["status = ?"]
        params: list = [to]
        if reason is not None or to in TERMINAL:
            sets.append("status_reason = COALESCE(?, status_reason)")
            params.append(reason)
        for name, value in fields.items():
            sets.append(f"{name} = ?")
            params.append(value)
        if to in TERMINAL and "finished_at" not in fields:
            sets.append("finished_at = ?")
            params.append(time.time())
        placeholders = ", ".join("?" for _ in frm)
        with self._connect() as db:
            cur = db.execute(
                f"UPDATE runs SET {', '.join(sets)} WHERE id = ? AND status IN ({placeholders})",
                (*params, run_id, *frm),
            )
            return cur.rowcount == 1

    def set_pid(self, run_id: int, pid: int) -> None:
        """Record the process executing the run, with its owner label (which PID namespace the pid is in)."""
        from rtc.integrations.engine.owners import owner_label

        with self._connect() as db:
            db.execute("UPDATE runs SET pid = ?, owner = ? WHERE id = ?", (pid, owner_label(pid), run_id))

    def log_dir(self, run_id: int) -> Path:
        return self.home / "logs" / str(run_id)

    def log_path(self, run_id: int) -> Path:
        return self.log_dir(run_id) / "run.log"

    # ------------------------------------------------------------ buffers

    def create_buffer(self, buffer_id: str, tags: dict[str, str]) -> BufferRecord:
        os.close(home_files.private_file(self.buffer_path(buffer_id), os.O_WRONLY | os.O_CREAT | os.O_EXCL))
        with self._connect() as db:
            db.execute(
                "INSERT INTO buffers (id, created_at, tags) VALUES (?, ?, ?)",
                (buffer_id, time.time(), json.dumps(tags, sort_keys=True)),
            )
        return self.get_buffer(buffer_id)

    def get_buffer(self, buffer_id: str) -> BufferRecord:
        with self._connect() as db:
            row = db.execute("SELECT * FROM buffers WHERE id = ?", (buffer_id,)).fetchone()
        if row is None:
            raise RtcError(f"buffer {buffer_id!r} not found", hint="create one with `rtc buffer create`")
        return BufferRecord(row["id"], row["created_at"], row["sealed_at"], _json_column(row, "tags", f"buffer {buffer_id}"))

    def seal_buffer(self, buffer_id: str) -> None:
        """Mark a buffer complete: its readers stop waiting, writers are refused."""
        with self._connect() as db:
            db.execute("UPDATE buffers SET sealed_at = ? WHERE id = ? AND sealed_at IS NULL", (time.time(), buffer_id))

    def buffer_path(self, buffer_id: str) -> Path:
        return self.home / "buffers" / buffer_id


# ---------------------------------------------------------------- connections
#
# One connection per thread and database for the life of the process, shared by every Store of
# that database, not one per statement: opening one costs a few statements of set-up, and closing
# the last connection of a WAL database checkpoints it and deletes its WAL file, which the next
# open creates again. `rtc exec` made ~40 such round trips (~0.05-0.1 s of a 0.7 s exec).
# Shared across Store instances because POSIX drops a process's SQLite locks on a file when the
# process closes *any* descriptor of it: Store() checks the file with open/close only while this
# process holds no connection to it (`_open_here`). A database replaced on disk (another inode)
# gets a fresh connection.

_THREAD = threading.local()


def _open_here(path: Path) -> tuple[int, int] | None:
    """(device, inode) of `path` when this process has connections to that same file, else None."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    key = (st.st_dev, st.st_ino)
    return key if key in _OPENED else None


_OPENED: set[tuple[int, int]] = set()


def _connection(path: Path) -> sqlite3.Connection:
    connections = getattr(_THREAD, "connections", None)
    if connections is None:
        connections = _THREAD.connections = {}
    st = os.stat(path)  # the file as it is now: a replaced database is another key
    key = (str(path), st.st_dev, st.st_ino)
    db = connections.get(key)
    if db is None:
        try:
            db = sqlite3.connect(path, timeout=30, isolation_level=None)
        except sqlite3.Error as exc:
            raise sqlite3.DatabaseError(str(exc)) from None
        try:
            _retry_locked(lambda: db.execute("PRAGMA journal_mode=WAL"))
            db.execute("PRAGMA busy_timeout=30000")
            db.execute("PRAGMA synchronous=NORMAL")  # safe with WAL: a crash may lose the last commit, never corrupt
        except sqlite3.DatabaseError:
            db.close()
            raise
        db.row_factory = sqlite3.Row
        connections[key] = db
        _OPENED.add((st.st_dev, st.st_ino))
    return db


def _retry_locked(action, seconds: float = 30.0):
    """`action()`, again while SQLite says "database is locked" without waiting for its busy timeout.

    Two rtc processes opening a new store at once: one turns it to WAL or creates the tables while the
    other does the same, and SQLite answers SQLITE_BUSY at once for those (no busy handler is called).
    """
    deadline = time.monotonic() + seconds
    delay = 0.01
    while True:
        try:
            return action()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.2)


def _json_column(row: sqlite3.Row, column: str, what: str):
    try:
        return json.loads(row[column])
    except (TypeError, ValueError):
        raise RtcError(
            f"{what} in the run store is damaged: its {column} is not JSON",
            hint="move store.db away to start an empty store",
        ) from None


def _run_record(row: sqlite3.Row) -> RunRecord:
    return RunRecord(
        id=row["id"],
        status=row["status"],
        status_reason=row["status_reason"],
        spec=_json_column(row, "spec", f"run {row['id']}"),
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        exit_code=row["exit_code"],
        pid=row["pid"],
        owner=row["owner"] if "owner" in row.keys() else None,
    )


class LogWriter:
    """Appends timestamped lines to a run's log file; safe to share between replica threads."""

    def __init__(self, path: Path):
        home_files.private_dir(path.parent)
        self._file = open(home_files.private_file(path), "a", encoding="utf-8")
        self._lock = threading.Lock()

    def write(self, text: str) -> None:
        line = f"{iso(time.time())} {text}\n"
        with self._lock:
            self._file.write(line)
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            self._file.close()


def split_log_line(line: str) -> tuple[float | None, str]:
    """`<time> <text>` -> (epoch seconds, text)."""
    stamp, _, text = line.rstrip("\n").partition(" ")
    try:
        return parse_time(stamp), text
    except Exception:  # noqa: BLE001 - a line written by something else: keep it, untimed
        return None, line.rstrip("\n")
