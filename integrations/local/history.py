"""Graph runs of `rtc run FILE` as records in the run store: `rtc run list|show|logs` for them.

The run itself is a row of `graph_runs` (rtc.integrations.tyger.abandoned:
`begin_graph_run`/`end_graph_run`, reconciled there when its process dies).
This module adds what a user looks back at:

- `graph_run_steps`: one row per container unit (`load`, `clean#3`) with its
  status, attempts, start and end, and per step (`clean`) its final status,
  message and outputs (JSON, secrets masked, at most `MAX_OUTPUTS_BYTES`);
- `graph_run_details`: the file and params of the run;
- `$RTC_HOME/logs/<run id>/run.log`: every line the steps printed, as
  `<time> [label] text` (0600, in the 0700 logs folder, as Tyger runs' logs).

Rows are written as the run goes (worker threads each have their own SQLite
connection; WAL makes concurrent writers safe), so `rtc run show` of a run in
progress shows the steps so far. A run whose process was killed is finished by
the store's reconcile; its unfinished steps are shown as such.
"""

from __future__ import annotations

import json
import re
import threading
import time

from rtc.integrations.local.progress import Reporter
from rtc.integrations.tyger.store import SQLITE_MAX_INTEGER, TERMINAL, LogWriter, Store, iso

MAX_OUTPUTS_BYTES = 64 * 1024

_SCHEMA = """
CREATE TABLE IF NOT EXISTS graph_run_details (
    id      TEXT PRIMARY KEY,
    source  TEXT,
    params  TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS graph_run_triggers (
    id       TEXT PRIMARY KEY,
    by_run   TEXT NOT NULL,
    by_graph TEXT NOT NULL,
    fired    TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS graph_run_steps (
    run_id      TEXT NOT NULL,
    label       TEXT NOT NULL,
    step        TEXT NOT NULL,
    is_step     INTEGER NOT NULL,
    status      TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    started_at  REAL,
    finished_at REAL,
    message     TEXT,
    outputs     TEXT,
    PRIMARY KEY (run_id, label, is_step)
);
"""

# Step status words of the runner (StepResult.status / Reporter.finished outcomes) as the store spells them.
_STATUS = {"succeeded": "Succeeded", "failed": "Failed", "canceled": "Canceled", "skipped": "Skipped",
           "pruned": "Pruned", "cached": "Cached", "running": "Running"}
# A graph run id (runner.new_run_id): tells `rtc run show ID` which kind of run ID is.
GRAPH_RUN_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,300}-[0-9]{8}-[0-9]{6}-[0-9a-f]{6}")


def ensure_tables(store: Store) -> None:
    from rtc.integrations.tyger.abandoned import _ensure_table

    _ensure_table(store)
    if not getattr(store, "_graph_history_ready", False):
        from rtc.integrations.tyger.store import _retry_locked

        with store._connect() as db:
            _retry_locked(lambda: db.executescript(_SCHEMA))
        store._graph_history_ready = True


def step_of(label: str) -> str:
    return label.split("#", 1)[0]


class RecordingReporter(Reporter):
    """The run's reporter, also writing each step's progress and log lines to the run store."""

    def __init__(self, store: Store, run_id: str, total: int, **kwargs):
        super().__init__(total, **kwargs)
        self.store = store
        self.run_id = run_id
        ensure_tables(store)
        self.log = LogWriter(store.log_path(run_id))  # logs/<run id>/run.log, owner-only
        self._attempts: dict[str, int] = {}
        self._record_lock = threading.Lock()

    def _unit(self, label: str, **fields) -> None:
        cols = ", ".join(fields)
        marks = ", ".join("?" for _ in fields)
        updates = ", ".join(f"{k} = excluded.{k}" for k in fields)
        try:
            with self.store._connect() as db:
                db.execute(
                    f"INSERT INTO graph_run_steps (run_id, label, step, is_step, {cols}) VALUES (?, ?, ?, 0, {marks}) "
                    f"ON CONFLICT (run_id, label, is_step) DO UPDATE SET {updates}",
                    (self.run_id, label, step_of(label), *fields.values()),
                )
        except Exception:  # noqa: BLE001 - a store that cannot record costs the record, never the run
            pass

    def line(self, label: str, text: str) -> None:
        super().line(label, text)
        try:
            self.log.write(f"[{label}] {self.mask(text)}")
        except (OSError, ValueError):
            pass

    def started(self, label: str) -> None:
        with self._record_lock:
            self._attempts[label] = 1
        self._unit(label, status="Running", attempts=1, started_at=time.time())
        super().started(label)

    def retrying(self, label: str, attempt: int, text: str) -> None:
        with self._record_lock:
            self._attempts[label] = attempt + 1
        self._unit(label, status="Running", attempts=attempt + 1)
        super().retrying(label, attempt, text)

    def finished(self, label: str, outcome: str, detail: str = "") -> None:
        with self._record_lock:
            attempts = self._attempts.get(label, 1)
        self._unit(label, status=_STATUS.get(outcome, outcome.capitalize()), attempts=attempts,
                   finished_at=time.time(), message=self.mask(detail) or None)
        super().finished(label, outcome, detail)

    def status(self, text: str) -> None:
        super().status(text)
        m = re.fullmatch(r"(\S+) cached \(.*", text)
        if m:  # a unit whose recorded outputs were used: no container ran
            now = time.time()
            self._unit(m.group(1), status="Cached", attempts=0, started_at=now, finished_at=now)

    def record_result(self, result) -> None:
        """Each step's final status, message and outputs (from the runner's RunResult)."""
        rows = []
        for step_id, r in result.steps.items():
            outputs = None
            if r.outputs is not None:
                text = self.mask(json.dumps(r.outputs, sort_keys=True, default=str))
                if len(text.encode("utf-8")) > MAX_OUTPUTS_BYTES:
                    text = json.dumps({"(not recorded)": f"the outputs are {len(text.encode('utf-8'))} bytes, over {MAX_OUTPUTS_BYTES}"})
                outputs = text
            rows.append((self.run_id, step_id, step_id, _STATUS.get(r.status, r.status.capitalize()), self.mask(r.message) or None, outputs))
        try:
            with self.store._connect() as db:
                db.executemany(
                    "INSERT INTO graph_run_steps (run_id, label, step, is_step, status, message, outputs) VALUES (?, ?, ?, 1, ?, ?, ?) "
                    "ON CONFLICT (run_id, label, is_step) DO UPDATE SET status = excluded.status, message = excluded.message, "
                    "outputs = excluded.outputs",
                    rows,
                )
        except Exception:  # noqa: BLE001 - see _unit
            pass

    def close(self) -> None:
        super().close()


def record_details(store: Store, run_id: str, source: str | None, params: dict) -> None:
    ensure_tables(store)
    with store._connect() as db:
        db.execute("INSERT OR REPLACE INTO graph_run_details (id, source, params) VALUES (?, ?, ?)",
                   (run_id, source, json.dumps(params, sort_keys=True, default=str)))


def record_trigger(store: Store, run_id: str, by_run: str, by_graph: str, fired: list[str]) -> None:
    """That run `run_id` was started by run `by_run` of graph `by_graph` (`on`: the entries that fired)."""
    ensure_tables(store)
    with store._connect() as db:
        db.execute("INSERT OR REPLACE INTO graph_run_triggers (id, by_run, by_graph, fired) VALUES (?, ?, ?, ?)",
                   (run_id, by_run, by_graph, json.dumps(fired)))


def step_times(store: Store, run_id: str) -> dict[str, tuple[float | None, float | None]]:
    """step -> (first start, last end) of its containers in run `run_id` (None where unknown)."""
    ensure_tables(store)
    with store._connect() as db:
        rows = db.execute("SELECT step, MIN(started_at) AS s, MAX(finished_at) AS e FROM graph_run_steps "
                          "WHERE run_id = ? AND is_step = 0 GROUP BY step", (run_id,)).fetchall()
    return {r["step"]: (r["s"], r["e"]) for r in rows}


# ---------------------------------------------------------------- reading records


def list_json(store: Store, since: float | None, limit: int, graph: str | None = None, status: str | None = None) -> tuple[list[dict], bool]:
    """Graph runs, newest first, as `rtc run list` prints them; the flag says whether more matched."""
    ensure_tables(store)
    query, params = "SELECT g.*, d.source FROM graph_runs g LEFT JOIN graph_run_details d ON d.id = g.id", []
    where = []
    if since is not None:
        where.append("g.created_at >= ?")
        params.append(since)
    if graph is not None:
        where.append("g.graph = ?")
        params.append(graph)
    if status is not None:
        where.append("g.status = ?")
        params.append(status)
    if where:
        query += " WHERE " + " AND ".join(where)
    query += " ORDER BY g.created_at DESC LIMIT ?"
    params.append(min(limit, SQLITE_MAX_INTEGER - 1) + 1)  # a huge --limit is "all", not an SQLite overflow
    with store._connect() as db:
        rows = db.execute(query, params).fetchall()
    return [_run_json(r) for r in rows[:limit]], len(rows) > limit


def _seconds(start: float | None, end: float | None) -> float | int | None:
    """Seconds to a tenth (a whole number prints as an integer)."""
    if start is None or end is None:
        return None
    took = max(0.0, round(end - start, 1))
    return int(took) if took == int(took) else took


def _run_json(row) -> dict:
    out = {
        "id": row["id"],
        "kind": "graph",
        "graph": row["graph"],
        "namespace": row["namespace"],
        "status": row["status"],
        "statusReason": row["status_reason"],
        "createdAt": iso(row["created_at"]),
        "finishedAt": iso(row["finished_at"]),
        "durationSeconds": _seconds(row["created_at"], row["finished_at"]),
        "file": row["source"] if "source" in row.keys() else None,
    }
    return {k: v for k, v in out.items() if v is not None}


def is_graph_run(store: Store, run_id: str) -> bool:
    if not GRAPH_RUN_ID.fullmatch(run_id):
        return False
    ensure_tables(store)
    with store._connect() as db:
        return db.execute("SELECT 1 FROM graph_runs WHERE id = ?", (run_id,)).fetchone() is not None


def show_json(store: Store, run_id: str) -> dict:
    """`rtc run show ID` of a graph run: the run, its params, and each step's status, attempts, duration and outputs."""
    ensure_tables(store)
    with store._connect() as db:
        row = db.execute(
            "SELECT g.*, d.source, d.params FROM graph_runs g LEFT JOIN graph_run_details d ON d.id = g.id WHERE g.id = ?",
            (run_id,),
        ).fetchone()
        units = db.execute("SELECT * FROM graph_run_steps WHERE run_id = ? ORDER BY rowid", (run_id,)).fetchall()
    out = _run_json(row)
    if row["params"]:
        out["params"] = json.loads(row["params"])
    with store._connect() as db:
        cause = db.execute("SELECT * FROM graph_run_triggers WHERE id = ?", (run_id,)).fetchone()
    if cause is not None:  # started by another graph's run (`on`)
        out["triggeredBy"] = {"run": cause["by_run"], "graph": cause["by_graph"], "on": json.loads(cause["fired"])}
    terminal = row["status"] in TERMINAL
    steps: dict[str, dict] = {}
    elements: dict[str, list] = {}
    for u in units:
        entry = steps.setdefault(u["step"], {"step": u["step"]})
        if u["is_step"]:
            entry["status"] = u["status"]
            if u["message"]:
                entry["message"] = u["message"]
            if u["outputs"] is not None:
                try:
                    entry["outputs"] = json.loads(u["outputs"])
                except ValueError:
                    entry["outputs"] = u["outputs"]
        else:
            elements.setdefault(u["step"], []).append(u)
    for step, us in elements.items():
        entry = steps[step]
        starts = [u["started_at"] for u in us if u["started_at"] is not None]
        ends = [u["finished_at"] for u in us if u["finished_at"] is not None]
        entry["attempts"] = max(u["attempts"] for u in us)
        if starts:
            entry["startedAt"] = iso(min(starts))
        if starts and len(ends) == len(us):
            entry["durationSeconds"] = _seconds(min(starts), max(ends))
        if any("#" in u["label"] for u in us):
            entry["elements"] = len(us)
        if "status" not in entry:  # the run is still going, or its process died before the step ended
            running = [u for u in us if u["finished_at"] is None]
            if running and terminal:
                entry["status"] = "Failed"
                entry["message"] = f"the run ended ({row['status']}) before this step did"
            elif running:
                entry["status"] = "Running"
            else:
                failed = [u for u in us if u["status"] == "Failed"]
                entry["status"] = "Failed" if failed else us[-1]["status"]
                if failed and failed[0]["message"]:
                    entry["message"] = failed[0]["message"]
    order = ("step", "status", "message", "attempts", "elements", "startedAt", "durationSeconds", "outputs")
    out["steps"] = [{k: s[k] for k in order if k in s} for s in steps.values()]
    return out


def log_lines(store: Store, run_id: str, step: str | None):
    """(line, text-without-time) of the run's log, only STEP's lines (its elements' too) when given."""
    from rtc.integrations.tyger.store import split_log_line

    path = store.log_path(run_id)
    if not path.exists():
        return
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if not line.endswith("\n"):
                continue
            if step is not None and not _line_of(line, step):
                continue
            yield line, split_log_line(line)


def _line_of(line: str, step: str) -> bool:
    _, _, text = line.partition(" ")
    if not text.startswith("["):
        return False
    label = text[1:text.find("]")] if "]" in text else ""
    return label == step or step_of(label) == step


def steps_known(store: Store, run_id: str) -> list[str]:
    ensure_tables(store)
    with store._connect() as db:
        return [r["step"] for r in db.execute("SELECT DISTINCT step FROM graph_run_steps WHERE run_id = ? ORDER BY step", (run_id,))]


def last_steps(graph) -> list[str]:
    """Steps no other step waits for: a finished run prints their outputs."""
    waited = {u for s in graph.steps for u in s.upstream}
    return [s.id for s in graph.steps if s.id not in waited]
