"""Finishing what a dead owner abandoned, and the graph runs of `rtc run FILE` in the run store.

- `rtc run FILE` records its graph run in the run store (`begin_graph_run`,
  `end_graph_run`), and Tyger runs record their executor's pid already;
- whenever the run store is opened, `reconcile` finds the runs whose owner
  is gone (`rtc.integrations.engine.owners`), removes their containers (and
  network and io folder) and marks them Failed (Canceled when a cancel was
  asked) with the reason;
- `rtc gc` (`collect`) removes every container rtc labelled whose owner is
  gone, whatever store it came from, and the io folders of such runs.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from rtc.integrations.engine.owners import LABEL_OWNER, owner_label, owner_state, pid_alive
from rtc.integrations.tyger.store import CANCELED, CANCELING, FAILED, PENDING, RUNNING, Store

# Graph runs of `rtc run FILE`: a table of their own (Tyger's `runs` hold Tyger specs).
_SCHEMA = """
CREATE TABLE IF NOT EXISTS graph_runs (
    id            TEXT PRIMARY KEY,
    graph         TEXT NOT NULL,
    namespace     TEXT NOT NULL,
    status        TEXT NOT NULL,
    status_reason TEXT,
    owner         TEXT NOT NULL,
    created_at    REAL NOT NULL,
    finished_at   REAL
);
"""
# A Tyger run created by `rtc run create` but whose executor never recorded its pid.
UNSTARTED_GRACE_SECONDS = 300


# ---------------------------------------------------------------- graph runs in the store


def _ensure_table(store: Store) -> None:
    if not getattr(store, "_graph_runs_ready", False):
        with store._connect() as db:
            db.executescript(_SCHEMA)
        store._graph_runs_ready = True


def begin_graph_run(store: Store, run_id: str, graph: str, namespace: str) -> None:
    _ensure_table(store)
    with store._connect() as db:
        db.execute(
            "INSERT INTO graph_runs (id, graph, namespace, status, owner, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (run_id, graph, namespace, RUNNING, owner_label(), time.time()),
        )


def end_graph_run(store: Store, run_id: str, status: str, reason: str | None = None) -> None:
    _ensure_table(store)
    with store._connect() as db:
        db.execute(
            "UPDATE graph_runs SET status = ?, status_reason = ?, finished_at = ? WHERE id = ? AND status = ?",
            (status, reason, time.time(), run_id, RUNNING),
        )


@dataclass(frozen=True)
class GraphRunRecord:
    id: str
    graph: str
    namespace: str
    status: str
    status_reason: str | None
    owner: str


def get_graph_run(store: Store, run_id: str) -> GraphRunRecord | None:
    _ensure_table(store)
    with store._connect() as db:
        row = db.execute("SELECT * FROM graph_runs WHERE id = ?", (run_id,)).fetchone()
    if row is None:
        return None
    return GraphRunRecord(row["id"], row["graph"], row["namespace"], row["status"], row["status_reason"], row["owner"])


# ---------------------------------------------------------------- reconciling


@dataclass
class Abandoned:
    kind: str  # "graph" | "tyger"
    id: str
    label: str  # the rtc.run label of its containers
    canceling: bool
    owner: str


def abandoned_runs(store: Store) -> list[Abandoned]:
    """Runs not finished whose owner process is gone (cheap: no Docker call)."""
    from rtc.integrations.tyger.runs import run_label

    _ensure_table(store)
    found: list[Abandoned] = []
    with store._connect() as db:
        graph_rows = db.execute("SELECT id, owner FROM graph_runs WHERE status = ?", (RUNNING,)).fetchall()
        tyger_rows = db.execute(
            "SELECT id, status, pid, created_at FROM runs WHERE status IN (?, ?, ?)", (PENDING, RUNNING, CANCELING)
        ).fetchall()
    for row in graph_rows:
        if owner_state(row["owner"]) == "gone":
            found.append(Abandoned("graph", row["id"], row["id"], False, row["owner"]))
    for row in tyger_rows:
        pid = row["pid"]
        if pid is None:
            if time.time() - row["created_at"] < UNSTARTED_GRACE_SECONDS:
                continue  # `rtc run create` is about to start its executor
        elif pid_alive(pid):
            continue
        found.append(Abandoned("tyger", str(row["id"]), run_label(store, row["id"]), row["status"] == CANCELING,
                               f"pid {pid}" if pid else "no executor"))
    return found


def reconcile(store: Store, client=None) -> list[Abandoned]:
    """Finish every abandoned run of `store`: containers and network removed, io folder deleted, status set.

    Docker is asked only when there is something to finish. When the engine
    cannot be reached, the status is still set, and the reason says so
    (`rtc gc` removes the containers later).
    """
    runs = abandoned_runs(store)
    if not runs:
        return []
    removed_ok = True
    try:
        if client is None:
            from rtc.integrations.engine import containers as engine

            client = engine.connect()
        for run in runs:
            _remove_run_resources(client, run.label)
    except Exception:  # noqa: BLE001 - the engine is away: statuses still become true, gc cleans up later
        removed_ok = False
    for run in runs:
        leftovers = "its containers were removed" if removed_ok else "its containers could not be removed (Docker unreachable); `rtc gc` removes them"
        if run.kind == "graph":
            _remove_io_folders(run.id)
            end_graph_run(store, run.id, FAILED, f"its process ({_pid_of(run.owner)}) ended without finishing it; {leftovers}")
        else:
            _finish_tyger(store, int(run.id), run, leftovers)
    return runs


def _finish_tyger(store: Store, run_id: int, run: Abandoned, leftovers: str) -> None:
    from rtc.integrations.tyger.spec import job_codespec

    if run.canceling:
        store.transition(run_id, CANCELED, frm=(CANCELING,), reason=f"canceled by request; its executor ({run.owner}) was gone; {leftovers}")
    else:
        store.transition(run_id, FAILED, frm=(PENDING, RUNNING),
                         reason=f"its executor ({run.owner}) ended without finishing it; {leftovers}")
    try:
        record = store.get_run(run_id)
        for parameter in job_codespec(record.spec).outputs:  # readers of its outputs stop waiting
            store.seal_buffer(record.spec["job"]["buffers"][parameter])
    except Exception:  # noqa: BLE001 - a damaged spec: the status is what matters
        pass


def _remove_run_resources(client, label: str) -> None:
    from rtc.integrations.engine import containers as engine

    engine.remove_labelled(client, **{"rtc.run": label})
    for network in client.networks.list(filters={"label": f"rtc.run={label}"}):
        try:
            network.remove()
        except Exception:  # noqa: BLE001 - still in use by a container being removed: gc retries
            pass


def _remove_io_folders(run_id: str) -> int:
    """The runner's temporary io folders of a graph run (`rtc-<run id>-*` in the temp folder)."""
    import glob  # here, not at the top: opening the store (every Tyger command) rarely gets this far
    import shutil
    import tempfile

    count = 0
    for path in glob.glob(os.path.join(tempfile.gettempdir(), glob.escape(f"rtc-{run_id}-") + "*")):
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
            count += 1
    return count


def _pid_of(owner: str) -> str:
    parts = owner.split(":")
    return f"pid {parts[1]}" if len(parts) == 3 else owner


# ---------------------------------------------------------------- rtc gc


@dataclass
class Collected:
    containers: list[str]
    networks: list[str]
    folders: int
    runs: list[Abandoned]


def collect(store: Store, client, dry_run: bool = False) -> Collected:
    """Remove what rtc labelled and no live process owns: containers, Tyger networks, io folders."""
    from rtc.integrations.engine import containers as engine

    runs = [] if dry_run else reconcile(store, client)
    containers, runs_seen = [], set()
    # One listing call: looking each container up afterwards raised NotFound when one went away meanwhile.
    for container in client.api.containers(all=True, filters={"label": LABEL_OWNER}):
        labels = container.get("Labels") or {}
        if owner_state(labels.get(LABEL_OWNER)) != "gone":
            continue
        containers.append((container.get("Names") or ["/?"])[0].lstrip("/"))
        if labels.get("rtc.run"):
            runs_seen.add(labels["rtc.run"])
        if not dry_run:
            engine._remove(client.containers.prepare_model({"Id": container["Id"]}))
    networks = []
    for network in client.networks.list(filters={"label": "rtc.run"}):
        try:
            network.reload()
        except Exception:  # noqa: BLE001 - removed by its owner meanwhile
            continue
        if network.attrs.get("Containers"):
            continue  # someone's containers are still on it
        run = (network.attrs.get("Labels") or {}).get("rtc.run", "")
        if run in runs_seen or _tyger_run_finished(store, network.attrs.get("Labels") or {}):
            networks.append(network.name)
            if not dry_run:
                try:
                    network.remove()
                except Exception:  # noqa: BLE001 - raced with its owner removing it
                    pass
    folders = 0 if dry_run else sum(_remove_io_folders(run) for run in runs_seen)
    return Collected(containers, networks, folders, runs)


def _tyger_run_finished(store: Store, labels: dict) -> bool:
    if labels.get("rtc.store") != store.key or not labels.get("rtc.tyger.run"):
        return False
    try:
        return store.get_run(labels["rtc.tyger.run"]).terminal
    except Exception:  # noqa: BLE001 - not in this store
        return False
