"""Finishing what a dead owner abandoned, and the graph runs of `rtc run FILE` in the run store.

- `rtc run FILE` records its graph run in the run store (`begin_graph_run`,
  `end_graph_run`), and Tyger runs record their executor's pid already;
- whenever the run store is opened, `reconcile` finds the runs whose owner
  is gone (`rtc.integrations.engine.owners`), removes their containers (and
  network and io folder) and marks them Failed (Canceled when a cancel was
  asked) with the reason;
- `rtc gc` (`collect`) removes every container it can prove is rtc's and
  abandoned, whatever store it came from, and the io folders of such runs.

What counts as proof (docs/security.md, "What `rtc gc` may remove"):

- a container: it carries `rtc.run` and an `rtc.owner` label in rtc's exact
  format, no `rtc.env` (environments live until `rtc env down`), and the
  owner is provably gone: same boot, same PID namespace as this process, and
  no process with that pid and start time (`owners.owner_verdict`). Anything
  else is left alone and reported with the reason;
- an io folder `$TMPDIR/rtc-<run id>-<8 characters>`: a real folder (not a
  link), owned by this user, private (no group or other bits), named exactly
  so for a run proven abandoned, and either holding the marker rtc writes
  (`mark_io_folder`: the run id and owner label) or being the folder whose
  subfolders that run's abandoned containers mounted. Anything else stays.
"""

from __future__ import annotations

import os
import stat
import time
from dataclasses import dataclass

import re

from rtc.integrations.engine.owners import LABEL_ENV, LABEL_OWNER, owner_label, owner_pid, owner_state, owner_verdict
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
        from rtc.integrations.tyger.store import _retry_locked  # two first runs at once (store.py)

        with store._connect() as db:
            _retry_locked(lambda: db.executescript(_SCHEMA))
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
    """A graph run of `rtc run FILE` as the run store holds it."""

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


# ---------------------------------------------------------------- io folders

IO_MARKER = ".rtc-io-folder"
# The runner's work folder: tempfile.mkdtemp(prefix=f"rtc-{run_id}-"), run ids from runner.new_run_id.
_RUN_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,300}-[0-9]{8}-[0-9]{6}-[0-9a-f]{6}")
_MKDTEMP_SUFFIX = re.compile(r"[a-z0-9_]{8}")


def mark_io_folder(path, run_id: str) -> None:
    """Write the marker that lets `rtc gc` prove `path` is run `run_id`'s io folder (call right after mkdtemp).

    The runner's work folder is 0700 and only step subfolders are mounted, so no step can forge or remove it.
    """
    fd = os.open(os.path.join(path, IO_MARKER), os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(f"{run_id}\n{owner_label()}\n")


def _proven_io_folder(path: str, run_id: str, owner: str | None, mounted: set[str]) -> bool:
    """Is `path` run `run_id`'s io folder, made by this user (see the module's doc)?"""
    name = os.path.basename(path)
    prefix = f"rtc-{run_id}-"
    if not (_RUN_ID.fullmatch(run_id) and name.startswith(prefix) and _MKDTEMP_SUFFIX.fullmatch(name[len(prefix):])):
        return False
    try:
        st = os.lstat(path)
    except OSError:
        return False
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        return False
    if os.path.normpath(path) in mounted or os.path.realpath(path) in mounted:  # the mounts name it as it was made
        return True
    if owner is None:
        return False
    try:
        fd = os.open(os.path.join(path, IO_MARKER), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        mark = os.fstat(fd)
        if not stat.S_ISREG(mark.st_mode) or mark.st_uid != os.getuid() or mark.st_size > 4096:
            return False
        text = os.read(fd, 4096).decode("utf-8", "replace")
    finally:
        os.close(fd)
    return text == f"{run_id}\n{owner}\n"


def _remove_io_folders(run_id: str, owner: str | None, mounted: set[str] = frozenset()) -> int:
    """The runner's io folders of abandoned graph run `run_id` (`rtc-<run id>-*` in the temp folder) that are proven its."""
    import glob  # here, not at the top: opening the store (every Tyger command) rarely gets this far
    import shutil
    import tempfile

    count = 0
    for path in glob.glob(os.path.join(tempfile.gettempdir(), glob.escape(f"rtc-{run_id}-") + "*")):
        if _proven_io_folder(path, run_id, owner, mounted):
            shutil.rmtree(path, ignore_errors=True)
            count += 1
    return count


def _io_folders_mounted(summaries: list[dict]) -> set[str]:
    """The parents of the bind-mount sources of containers (the runner mounts `<work folder>/<step>.<n>`)."""
    found = set()
    for summary in summaries:
        for mount in summary.get("Mounts") or []:
            source = mount.get("Source")
            if mount.get("Type") == "bind" and isinstance(source, str) and source.startswith("/"):
                found.add(os.path.dirname(os.path.normpath(source)))
    return found


# ---------------------------------------------------------------- reconciling


@dataclass
class Abandoned:
    """A run whose owner process is gone, to be finished."""

    kind: str  # "graph" | "tyger"
    id: str
    label: str  # the rtc.run label of its containers
    canceling: bool
    owner: str | None  # its owner label (None: a Tyger run whose executor never started)


def abandoned_runs(store: Store) -> list[Abandoned]:
    """Runs not finished whose owner process is provably gone (cheap: no Docker call).

    A run whose owner was recorded in another PID namespace (the store shared with a container),
    or by an older rtc that did not record it, is never taken for abandoned.
    """
    from rtc.integrations.tyger.runs import run_label

    _ensure_table(store)
    found: list[Abandoned] = []
    with store._connect() as db:
        graph_rows = db.execute("SELECT id, owner FROM graph_runs WHERE status = ?", (RUNNING,)).fetchall()
        tyger_rows = db.execute(
            "SELECT id, status, pid, owner, created_at FROM runs WHERE status IN (?, ?, ?)", (PENDING, RUNNING, CANCELING)
        ).fetchall()
    for row in graph_rows:
        if owner_state(row["owner"]) == "gone":
            found.append(Abandoned("graph", row["id"], row["id"], False, row["owner"]))
    for row in tyger_rows:
        if row["pid"] is None:
            if time.time() - row["created_at"] < UNSTARTED_GRACE_SECONDS:
                continue  # `rtc run create` is about to start its executor
        elif owner_state(row["owner"]) != "gone":
            continue
        found.append(Abandoned("tyger", str(row["id"]), run_label(store, row["id"]), row["status"] == CANCELING,
                               row["owner"] if row["pid"] is not None else None))
    return found


def reconcile(store: Store, client=None) -> list[Abandoned]:
    """Finish every abandoned run of `store`: containers and network removed, io folder deleted, status set.

    Only containers carrying both the run's `rtc.run` and its recorded owner are removed. Docker is
    asked only when there is something to finish. When the engine cannot be reached, the status is
    still set, and the reason says so (`rtc gc` removes the containers later).
    """
    runs = abandoned_runs(store)
    if not runs:
        _fail_abandoned_buffers(store)
        return []
    removed_ok = True
    mounted: dict[str, set[str]] = {}
    try:
        if client is None:
            from rtc.integrations.engine import containers as engine

            client = engine.connect()
        for run in runs:
            mounted[run.id] = _remove_run_resources(client, run.label, run.owner)
    except Exception:  # noqa: BLE001 - the engine is away: statuses still become true, gc cleans up later
        removed_ok = False
    for run in runs:
        leftovers = "its containers were removed" if removed_ok else "its containers could not be removed (Docker unreachable); `rtc gc` removes them"
        if run.kind == "graph":
            _remove_io_folders(run.id, run.owner, mounted.get(run.id, set()))
            end_graph_run(store, run.id, FAILED, f"its process ({owner_pid(run.owner)}) ended without finishing it; {leftovers}")
        else:
            _finish_tyger(store, int(run.id), run, leftovers)
    _fail_abandoned_buffers(store)
    return runs


def _fail_abandoned_buffers(store: Store) -> None:
    """Buffers whose writer (`rtc buffer write`, `rtc exec`'s stdin) was killed: failed, so readers end."""
    from rtc.integrations.tyger import buffers as buffer_ops

    try:
        buffer_ops.fail_abandoned(store)
    except Exception:  # noqa: BLE001 - never let opening the store fail on this; `rtc gc` reports it
        pass


def _finish_tyger(store: Store, run_id: int, run: Abandoned, leftovers: str) -> None:
    from rtc.integrations.tyger import buffers as buffer_ops
    from rtc.integrations.tyger.spec import job_codespec

    executor = owner_pid(run.owner) if run.owner else "never started"
    if run.canceling:
        store.transition(run_id, CANCELED, frm=(CANCELING,), reason=f"canceled by request; its executor ({executor}) was gone; {leftovers}")
    else:
        store.transition(run_id, FAILED, frm=(PENDING, RUNNING),
                         reason=f"its executor ({executor}) ended without finishing it; {leftovers}")
    _remove_pipes(store, run_id)
    try:
        record = store.get_run(run_id)
        codespec = job_codespec(record.spec)
        for parameter in codespec.outputs:  # readers of its outputs stop waiting
            store.seal_buffer(record.spec["job"]["buffers"][parameter])
        for parameter in codespec.inputs:  # an input its executor (`rtc exec`'s stdin) was still writing
            buffer_ops.fail_if_writer_gone(store, record.spec["job"]["buffers"][parameter])
        buffer_ops.end_of_run(store, run_id)
    except Exception:  # noqa: BLE001 - a damaged spec: the status is what matters
        pass


def _remove_pipes(store: Store, run_id: int) -> int:
    """The FIFO folders (`$RTC_HOME/pipes/<run>-<replica>`) of a finished run."""
    import shutil

    count = 0
    try:
        names = os.listdir(store.home / "pipes")
    except OSError:
        return 0
    for name in names:
        run, _, replica = name.partition("-")
        if run == str(run_id) and replica.isascii() and replica.isdigit():
            path = store.home / "pipes" / name
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
                count += 1
    return count


def _remove_run_resources(client, label: str, owner: str | None) -> set[str]:
    """Remove the run's containers (those with its `rtc.run` and `rtc.owner`) and networks; returns the folders they mounted."""
    from rtc.integrations.engine import containers as engine

    if owner is None:
        return set()  # never started: it made no container
    filters = [f"rtc.run={label}", f"{LABEL_OWNER}={owner}"]
    summaries = _summaries(client, filters)
    mounted = _io_folders_mounted(summaries)
    engine.remove_labelled(client, **{"rtc.run": label, LABEL_OWNER: owner})
    for network in client.networks.list(filters={"label": f"rtc.run={label}"}):
        try:
            network.reload()
            if network.attrs.get("Containers"):
                continue  # someone else's containers are on it
            network.remove()
        except Exception:  # noqa: BLE001 - still in use by a container being removed: gc retries
            pass
    return mounted


def _summaries(client, label_filters: list[str]) -> list[dict]:
    """Every container (running or not) carrying all of `label_filters`, as the engine lists them (labels, mounts)."""
    import json

    from rtc.integrations.engine.containers import as_engine

    found = as_engine(client).call("GET", "/containers/json", query={"all": "1", "filters": json.dumps({"label": label_filters})})
    return found if isinstance(found, list) else []


# ---------------------------------------------------------------- rtc gc


@dataclass
class Collected:
    """What `rtc gc` removed (or would remove, with --dry-run)."""

    containers: list[str]
    networks: list[str]
    folders: int
    runs: list[Abandoned]
    left: list[tuple[str, str]]  # (container, why it was left alone)
    pipes: int = 0
    buffers: list[str] | None = None


def collect(store: Store, client, dry_run: bool = False) -> Collected:
    """Remove what is provably rtc's and abandoned: containers, Tyger networks, io folders, pipes, dead buffers."""
    from rtc.integrations.engine import containers as engine
    from rtc.integrations.tyger import buffers as buffer_ops

    runs = [] if dry_run else reconcile(store, client)
    containers, left = [], []
    runs_seen: dict[str, set[str]] = {}  # graph run id -> the owners of its collected containers
    mounted: dict[str, set[str]] = {}
    # One listing call: looking each container up afterwards raised NotFound when one went away meanwhile.
    for container in _summaries(client, [LABEL_OWNER]):
        labels = container.get("Labels") or {}
        name = (container.get("Names") or ["/?"])[0].lstrip("/")
        state, why = owner_verdict(labels.get(LABEL_OWNER))
        if LABEL_ENV in labels:
            left.append((name, "an `rtc env up` environment (removed only by `rtc env down`)"))
            continue
        if state == "alive":
            continue
        if state == "unknown":
            left.append((name, f"its owner cannot be checked here: {why}"))
            continue
        run = labels.get("rtc.run")
        if not isinstance(run, str) or not run:
            left.append((name, "it carries an owner label but no rtc.run label: not a container rtc made"))
            continue
        containers.append(name)
        runs_seen.setdefault(run, set()).add(labels[LABEL_OWNER])
        mounted.setdefault(run, set()).update(_io_folders_mounted([container]))
        if not dry_run:
            engine._remove_id(engine.as_engine(client), container["Id"])
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
    folders = pipes = 0
    buffers: list[str] = []
    if not dry_run:
        for run, owners in runs_seen.items():
            for owner in owners:
                folders += _remove_io_folders(run, owner, mounted.get(run, set()))
        pipes = _remove_finished_pipes(store)
        buffers = buffer_ops.fail_abandoned(store)
        buffer_ops.remove_expired(store)
    return Collected(containers, networks, folders, runs, left, pipes, buffers)


def _remove_finished_pipes(store: Store) -> int:
    """FIFO folders left by runs of this store that are over (their executor was killed mid-run)."""
    count = 0
    try:
        names = os.listdir(store.home / "pipes")
    except OSError:
        return 0
    for run in sorted({n.partition("-")[0] for n in names}):
        if not (run.isascii() and run.isdigit()):
            continue
        try:
            finished = store.get_run(run).terminal
        except Exception:  # noqa: BLE001 - not a run of this store: left alone
            continue
        if finished:
            count += _remove_pipes(store, int(run))
    return count


def _tyger_run_finished(store: Store, labels: dict) -> bool:
    if labels.get("rtc.store") != store.key or not labels.get("rtc.tyger.run"):
        return False
    try:
        return store.get_run(labels["rtc.tyger.run"]).terminal
    except Exception:  # noqa: BLE001 - not in this store
        return False
