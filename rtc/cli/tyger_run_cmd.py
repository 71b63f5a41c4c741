"""Tyger's run commands on the local store: `rtc run create|show|watch|list|cancel|logs`.

`rtc run` (run_cmd) hands these sub-commands to `main(argv)`; `rtc exec`
shares the run options defined here (`add_run_options`, `overrides_from`,
`load_pipeline`). Nothing heavy is imported until a command runs.
"""

from __future__ import annotations

from rtc.cli.numbers import whole

import argparse
import json
import os
import re
import sys
import time

SUBCOMMANDS = ("create", "show", "watch", "list", "cancel", "logs", "exec")
DEFAULT_LIST_LIMIT = 1000


# ---------------------------------------------------------------- shared with `rtc exec`


def add_run_options(p: argparse.ArgumentParser) -> None:
    """Tyger's options of `run exec` and `run create` ("other flags override file values")."""
    p.add_argument("target", nargs="*", metavar="[FILE] [RUN]",
                   help="a pipeline (.rt/.yaml), a Tyger codespec or run-spec YAML, or IR JSON; then a run or codespec name")
    p.add_argument("-f", "--file", help="the run specification file (same as the positional FILE)")
    p.add_argument("-c", "--codespec", help="the codespec to run (NAME or NAME/versions/N): of FILE, else registered")
    p.add_argument("--version", type=whole, dest="codespec_version", help="the codespec's version")
    p.add_argument("-b", "--buffer", action="append", default=[], metavar="NAME=ID[,NAME=ID]",
                   help="buffer arguments (`_`: an ephemeral buffer); repeatable")
    p.add_argument("-r", "--replicas", type=whole, help="parallel job replicas (default 1)")
    p.add_argument("--timeout", help='run timeout from creation, e.g. "300s", "1.5h", "2h45m"')
    p.add_argument("--tag", "--buffer-tag", action="append", default=[], metavar="KEY=VALUE[,KEY=VALUE]",
                   help="tags for buffers the run creates; repeatable")
    p.add_argument("--buffer-ttl", help='lifetime of buffers the run creates: "D.HH:MM[:SS]" (Tyger) or "1h", "30m"')
    p.add_argument("--cluster", help="the target cluster name (recorded; runs here)")
    p.add_argument("--node-pool", dest="node_pool", help="the node pool (recorded; runs here)")
    p.add_argument("--worker-codespec", help="the worker codespec (NAME or NAME/versions/N): of FILE, else registered")
    p.add_argument("--worker-version", type=whole, help="the worker codespec's version")
    p.add_argument("--worker-replicas", type=whole, help="worker replicas (default 1 when a worker is given)")
    p.add_argument("--worker-node-pool", help="the workers' node pool (recorded; runs here)")


def file_and_run(args) -> tuple[str | None, str | None]:
    """The file and run/codespec name given; no file is fine when `--codespec` names a registered codespec."""
    from rtc.base.diagnostics import RtcError

    positional = list(args.target)
    path = args.file or (positional.pop(0) if positional else None)
    if path is None and not args.codespec:
        raise RtcError(
            "no run specification file and no codespec given",
            hint="`rtc exec -f hello.yml`, or register it once (`rtc codespec create -f hello.yml`) "
                 "and run `rtc exec --codespec hello`",
        )
    if len(positional) > 1:
        raise RtcError(f"unexpected arguments: {' '.join(positional[1:])}")
    return path, (positional[0] if positional else None)


def run_pipeline(args):
    """The pipeline `rtc exec`/`rtc run create` runs: FILE's, plus the registered codespecs the flags name."""
    from rtc.integrations.tyger import codespecs

    path, run_name = file_and_run(args)
    if path is None:
        name, version = codespecs.parse_ref(args.codespec, args.codespec_version)
        pipeline = codespecs.load(name, version)
    else:
        pipeline = load_pipeline(path)
        if args.codespec:
            pipeline = codespecs.with_registered(pipeline, args.codespec, args.codespec_version)
    if args.worker_codespec:
        pipeline = codespecs.with_registered(pipeline, args.worker_codespec, args.worker_version)
    return pipeline, run_name


def load_pipeline(path: str):
    """Compile a pipeline file; `.json` files are taken as IR (`rtc compile --target ir`)."""
    if path.endswith(".json") and ir_json(path):
        from rtc.compiler.ir_check import load_ir_file

        return load_ir_file(path)  # checked as strictly as source (docs/security.md)
    from rtc.compiler import compile_file

    return compile_file(path)


def ir_json(path: str) -> bool:
    """A `.json` file that is rtc IR (else a source written as JSON, such as an Exosphere template)."""
    from rtc.dsl import is_ir_json

    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return is_ir_json(f.read(1 << 16)) or not _looks_like_source(path)
    except OSError:
        return True  # the IR loader reports it


def _looks_like_source(path: str) -> bool:
    """A JSON object with a top-level `nodes` list (an Exosphere template) or a Tyger/rtc key; read only to decide."""
    import json as json_module

    try:
        with open(path, encoding="utf-8") as f:
            doc = json_module.load(f)
    except (OSError, ValueError, RecursionError):
        return False
    return isinstance(doc, dict) and (isinstance(doc.get("nodes"), list) or any(
        k in doc for k in ("graphs", "envs", "codespecs", "runs", "job", "image")))


def _pairs(values: list[str], option: str) -> dict[str, str]:
    """`KEY=VALUE` options, each also `K1=V1,K2=V2` (as Tyger's string-to-string flags)."""
    from rtc.base.diagnostics import RtcError

    out = {}
    for value in values:
        for item in value.split(","):
            key, sep, text = item.partition("=")
            if not sep or not key:
                raise RtcError(f"{option} {value!r}: expected KEY=VALUE (several joined by commas)")
            out[key] = text
    return out


def overrides_from(args):
    from rtc.integrations.tyger.spec import Overrides, parse_duration, parse_ttl

    return Overrides(
        codespec=args.codespec,
        codespec_version=args.codespec_version,
        buffers=_pairs(args.buffer, "--buffer"),
        replicas=args.replicas,
        timeout_seconds=parse_duration(args.timeout) if args.timeout is not None else None,  # "" is a message
        tags=_pairs(args.tag, "--tag"),
        buffer_ttl_seconds=parse_ttl(args.buffer_ttl) if args.buffer_ttl is not None else None,
        cluster=args.cluster,
        node_pool=args.node_pool,
        worker_codespec=args.worker_codespec,
        worker_codespec_version=args.worker_version,
        worker_replicas=args.worker_replicas,
        worker_node_pool=args.worker_node_pool,
    )


# Tyger codespec fields rtc does not take yet (docs/tyger-and-env.md): the hint says so instead of a near name.


def explain_unregistered(exc):
    """Better hints for first tries: E305 in a Tyger run spec (how to register the codespec), E301 in an Exosphere
    template with no nodes file beside it (where rtc looked)."""
    import dataclasses

    from rtc.base.diagnostics import CompileError

    if not isinstance(exc, CompileError):
        return exc
    out = []
    for d in exc.diagnostics:
        m = re.search(r"codespec `([^`]+)`", d.message) if d.code == "E305" else None
        if m and d.span is not None and d.span.file.endswith((".yml", ".yaml")):
            name = m.group(1)
            hint = (f"a registered codespec? register it once with `rtc codespec create -f {name}.yml` (as `tyger codespec "
                    f"create`), or put {name}.yml beside this file; `rtc codespec list` shows those registered")
            d = dataclasses.replace(d, message=f"{d.message}: not registered, and no {name}.yml beside this file",
                                    hint=hint if not d.hint else f"{d.hint}; {hint}")
        elif d.code == "E301" and d.span is not None and _template_without_nodes(d.span.file):
            folder = os.path.dirname(os.path.abspath(d.span.file)) or "."
            hint = (f"rtc looked for nodes.rt, nodes.yaml or nodes.yml in {folder} (standing in for the nodes an Exosphere "
                    "Runtime registers) and found none: declare the nodes there, or name their file with `imports: [...]`")
            d = dataclasses.replace(d, hint=hint)
        out.append(d)
    exc.diagnostics = out
    return exc


def _template_without_nodes(path: str) -> bool:
    """An Exosphere graph template (a top-level `nodes` list) with no `imports` and no nodes file beside it."""
    from rtc.dsl.exosphere_yaml import NODES_FILES

    folder = os.path.dirname(os.path.abspath(path))
    if any(os.path.isfile(os.path.join(folder, name)) for name in NODES_FILES):
        return False
    doc = _template_doc(path)
    return doc is not None and not doc.get("imports")


def _template_doc(path: str) -> dict | None:
    """The document of an Exosphere graph template file (a top-level `nodes` list), else None."""
    if not path.endswith((".yaml", ".yml", ".json")):
        return None
    try:
        import yaml

        with open(path, encoding="utf-8") as f:
            doc = yaml.safe_load(f.read(1 << 20))
    except Exception:  # noqa: BLE001 - only a better hint is at stake
        return None
    return doc if isinstance(doc, dict) and isinstance(doc.get("nodes"), list) else None


def failure_hint(record) -> str:
    """What to do about a run that did not succeed: for an image that is not here, how to get it (its logs are empty)."""
    m = re.match(r"image '(.+)' of codespec .* is not on this machine", record.status_reason or "")
    if m:
        return f"`docker pull {m.group(1)}` (or `docker tag` a local image with that name), then run it again"
    return f"`rtc run logs {record.id}` shows what its containers printed"


def print_json(value, compact: bool = False) -> None:
    text = json.dumps(value, separators=(",", ":")) if compact else json.dumps(value, indent=2)
    print(text, flush=True)


# ---------------------------------------------------------------- the sub-commands


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rtc run", description="Tyger's run commands on the local run store")
    sub = parser.add_subparsers(dest="subcommand", metavar="COMMAND", required=True)

    p = sub.add_parser("create", help="create a run and execute it in the background; prints its id")
    add_run_options(p)
    p.set_defaults(handler=_create)

    p = sub.add_parser("exec", help="Tyger's `run exec`: the same as `rtc exec` (see `rtc exec --help`)")
    add_run_options(p)
    p.add_argument("--logs", action="store_true", help="stream the run's logs to standard error")
    p.set_defaults(handler=_exec)

    p = sub.add_parser("show", help="a run's status and definition as JSON (a graph run: its steps and outputs)")
    p.add_argument("id")
    p.set_defaults(handler=_show)

    p = sub.add_parser("watch", help="a JSON line per status change until the run ends")
    p.add_argument("id")
    p.add_argument("--full-resource", action="store_true", help="print the whole run, not only its system fields")
    p.set_defaults(handler=_watch)

    p = sub.add_parser("list", help="runs, newest first: Tyger runs and the graph runs of `rtc run FILE`")
    p.add_argument("--since", help="only runs created at or after this date/time (ISO 8601), or this long ago (1h, 30m)")
    p.add_argument("--kind", choices=("tyger", "graph"), help="only Tyger runs, or only graph runs")
    p.add_argument("--graph", help="only runs of this graph (implies --kind graph)")
    p.add_argument("--status", help="only runs with this status (Running, Succeeded, Failed, Canceled, ...)")
    p.add_argument("--limit", type=whole, help=f"at most this many runs (default {DEFAULT_LIST_LIMIT}, with a warning when cut)")
    p.set_defaults(handler=_list)

    p = sub.add_parser("cancel", help="cancel a run (Canceling, then Canceled once its containers are stopped)")
    p.add_argument("id")
    p.set_defaults(handler=_cancel)

    p = sub.add_parser("logs", help="the merged output of a run's containers (a graph run: of its steps, or of STEP)")
    p.add_argument("id")
    p.add_argument("step", nargs="?", help="a graph run's step: only its lines (a fanned-out step's elements too)")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing until the run ends")
    p.add_argument("-s", "--since", help="only lines written at or after this date/time, or this long ago (1h, 30m)")
    p.add_argument("--tail", type=whole, help="only the last N lines")
    p.add_argument("--timestamps", action="store_true", help="prefix each line with its time")
    p.set_defaults(handler=_logs)
    return parser


def main(argv: list[str]) -> int:
    """Entry point used by `rtc run <sub-command> ...`; prints user errors, never a traceback."""
    from rtc.base.diagnostics import RtcError

    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except RtcError as exc:
        print(explain_unregistered(exc).render(), file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:
        return 1


def _create(args) -> int:
    from rtc.integrations.tyger import runs as tyger
    from rtc.integrations.tyger.store import Store
    from rtc.integrations.tyger.spec import build_spec, choose_run

    pipeline, run_name = run_pipeline(args)
    run = choose_run(pipeline, run_name, overrides_from(args))
    store = Store()
    record = tyger.create_run(store, build_spec(pipeline, run))
    tyger.spawn_detached(store, record.id)
    print(record.id, flush=True)
    return 0


def _exec(args) -> int:
    from rtc.cli import exec_cmd

    return int(exec_cmd.run(args) or 0)


def _graph_run(store, run_id: str) -> bool:
    """Is `run_id` a graph run of `rtc run FILE`? One that looks like one but is not recorded is an error here."""
    from rtc.base.diagnostics import RtcError
    from rtc.integrations.local import history

    if history.is_graph_run(store, run_id):
        return True
    if history.GRAPH_RUN_ID.fullmatch(run_id):
        raise RtcError(f"graph run {run_id} not found", hint=f"runs are kept in {store.db_path}; see `rtc run list --kind graph`")
    return False


def _show(args) -> int:
    from rtc.integrations.tyger.store import Store
    from rtc.integrations.tyger.spec import show_json

    store = Store()
    if _graph_run(store, args.id):
        from rtc.integrations.local import history

        print_json(history.show_json(store, args.id))
        return 0
    print_json(show_json(store.get_run(args.id)))
    return 0


def _watch(args) -> int:
    from rtc.integrations.tyger.store import Store
    from rtc.integrations.tyger.spec import show_json, system_json

    store = Store()
    if _graph_run(store, args.id):
        return _graph_watch(store, args)
    render = show_json if args.full_resource else system_json
    last = None
    while True:
        record = store.get_run(args.id)
        key = (record.status, record.status_reason)
        if key != last:
            print_json(render(record), compact=True)
            last = key
        if record.terminal:
            return 0
        time.sleep(0.2)


def _list(args) -> int:
    from rtc.base.diagnostics import RtcError
    from rtc.integrations.tyger.store import Store
    from rtc.integrations.tyger.spec import parse_since, show_json
    from rtc.integrations.tyger.store import parse_time

    since = parse_since(args.since) if args.since else None
    limit = args.limit if args.limit is not None else DEFAULT_LIST_LIMIT
    if limit < 1:
        raise RtcError(f"--limit {limit}: give a number of runs, at least 1")
    from rtc.integrations.local import history

    store = Store()
    kind = "graph" if args.graph else args.kind
    rows: list[tuple[float, dict]] = []
    more = False
    if kind in (None, "tyger") and not args.graph:
        records, more_tyger = store.list_runs(since=since, limit=limit)
        records = [r for r in records if args.status is None or r.status == args.status]
        rows += [(r.created_at, show_json(r)) for r in records]
        more = more or more_tyger
    if kind in (None, "graph"):
        graph_runs, more_graph = history.list_json(store, since, limit, graph=args.graph, status=args.status)
        rows += [(parse_time(g["createdAt"]), g) for g in graph_runs]
        more = more or more_graph
    rows.sort(key=lambda row: row[0], reverse=True)  # newest first, both kinds together
    more = more or len(rows) > limit
    print_json([row for _, row in rows[:limit]])
    if more and args.limit is None:
        print(f"warning: the output was truncated to {limit} runs; use --limit to see more", file=sys.stderr)
    return 0


def _cancel(args) -> int:
    from rtc.integrations.tyger import runs as tyger
    from rtc.integrations.tyger.store import Store
    from rtc.integrations.tyger.spec import show_json

    from rtc.base.diagnostics import RtcError

    store = Store()
    if _graph_run(store, args.id):
        raise RtcError(f"run {args.id} is a graph run of `rtc run FILE`; it is canceled with Ctrl-C in its terminal "
                       "(or SIGTERM to its rtc process)", hint=f"`rtc run show {args.id}` shows its steps")
    print_json(show_json(tyger.request_cancel(store, args.id)))
    return 0


def _logs(args) -> int:
    from rtc.base.diagnostics import RtcError
    from rtc.integrations.tyger.store import Store, split_log_line
    from rtc.integrations.tyger.spec import parse_since

    store = Store()
    since = parse_since(args.since) if args.since else None
    if _graph_run(store, args.id):
        return _graph_logs(store, args, since)
    if args.step is not None:
        raise RtcError(f"run {args.id} is a Tyger run: it has no steps (STEP applies to graph runs of `rtc run FILE`)")
    record = store.get_run(args.id)
    path = store.log_path(record.id)

    def emit(line: str) -> None:
        stamp, text = split_log_line(line)
        if since is not None and (stamp is None or stamp < since):
            return
        sys.stdout.write((line.rstrip("\n") if args.timestamps else text) + "\n")

    lines = path.read_text(encoding="utf-8").splitlines(keepends=True) if path.exists() else []
    complete = [line for line in lines if line.endswith("\n")]
    if args.tail is not None and args.tail < 0:
        raise RtcError(f"--tail {args.tail}: give a number of lines, 0 or more")
    if args.tail is not None:
        complete = complete[-args.tail:] if args.tail > 0 else []
    for line in complete:
        emit(line)
    sys.stdout.flush()
    if not args.follow:
        return 0
    offset = sum(len(line.encode("utf-8")) for line in lines if line.endswith("\n"))
    pending = b""
    while True:
        done = store.get_run(record.id).terminal  # read before the file, so no last line is missed
        if path.exists():
            with open(path, "rb") as f:
                f.seek(offset)
                data = f.read()
            offset += len(data)
            pending += data
            *whole, pending = pending.split(b"\n")
            for raw in whole:
                emit(raw.decode("utf-8", "replace") + "\n")
            sys.stdout.flush()
        if done:
            return 0
        time.sleep(0.2)


def _graph_watch(store, args) -> int:
    """`rtc run watch ID` of a graph run: a JSON line per change of its status or its steps' statuses."""
    from rtc.integrations.local import history

    keys = ("id", "kind", "graph", "status", "statusReason", "createdAt", "finishedAt")
    last = None
    while True:
        shown = history.show_json(store, args.id)
        steps = {s["step"]: s.get("status") for s in shown["steps"]}
        key = (shown["status"], shown.get("statusReason"), tuple(sorted(steps.items())))
        if key != last:
            line = shown if args.full_resource else {**{k: shown[k] for k in keys if k in shown}, "steps": steps}
            print_json(line, compact=True)
            last = key
        if shown["status"] in ("Succeeded", "Failed", "Canceled"):
            return 0
        time.sleep(0.3)


def _graph_logs(store, args, since) -> int:
    """`rtc run logs ID [STEP]` of a graph run: its steps' lines, `[label] text`, as `rtc run` printed them."""
    from rtc.base.diagnostics import RtcError
    from rtc.integrations.local import history

    if args.step is not None and args.step not in history.steps_known(store, args.id):
        known = history.steps_known(store, args.id)
        raise RtcError(f"run {args.id} has no step {args.step!r} that ran",
                       hint=f"steps that ran: {', '.join(known) or '(none)'}")
    if args.tail is not None and args.tail < 0:
        raise RtcError(f"--tail {args.tail}: give a number of lines, 0 or more")
    seen = 0

    def pick(entries):
        out = [(line, text) for line, (stamp, text) in entries if since is None or (stamp is not None and stamp >= since)]
        return out

    entries = pick(history.log_lines(store, args.id, args.step))
    if args.tail is not None:
        entries = entries[-args.tail:] if args.tail > 0 else []
    for line, text in entries:
        sys.stdout.write((line.rstrip("\n") if args.timestamps else text) + "\n")
    sys.stdout.flush()
    if not args.follow:
        return 0
    seen = sum(1 for _ in history.log_lines(store, args.id, None))
    while True:
        done = history.show_json(store, args.id)["status"] in ("Succeeded", "Failed", "Canceled")
        lines = list(history.log_lines(store, args.id, None))
        for line, (stamp, text) in lines[seen:]:
            if args.step is None or history._line_of(line, args.step):
                sys.stdout.write((line.rstrip("\n") if args.timestamps else text) + "\n")
        seen = len(lines)
        sys.stdout.flush()
        if done:
            return 0
        time.sleep(0.3)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
