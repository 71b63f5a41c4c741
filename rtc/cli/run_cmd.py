"""`rtc run FILE [GRAPH|RUN] [--param k=v]...`: run a graph (or a Tyger run) locally in Docker.

`rtc run create|show|watch|list|cancel|logs|exec ...` are Tyger's run commands
(rtc/cli/tyger_run_cmd.py); they are recognised by their first word and
handed over before any parsing here.
"""

from __future__ import annotations

from rtc.cli.numbers import whole

import argparse
import sys

from rtc.cli import registry_option

TYGER_SUBCOMMANDS = ("create", "show", "watch", "list", "cancel", "logs", "exec")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "run",
        help="run a graph or a Tyger run locally in Docker (also: rtc run create|show|watch|list|cancel|logs|exec)",
        usage="rtc run FILE [GRAPH|RUN] [--param NAME=VALUE]... [--workers N] [--no-cache] [--no-triggers] [--registry HOST[:PORT][/PREFIX]]\n"
        "       rtc run create|show|watch|list|cancel|logs|exec ...",
        description="Run a graph (or a Tyger run) of FILE locally in Docker. "
        "Tyger's run commands: rtc run create|show|watch|list|cancel|logs|exec ... (see `rtc run create --help`).",
    )
    add_options(p)
    p.add_argument("file", help="pipeline file (.rt or .yaml), or its IR as .json; or a Tyger run command")
    # Everything after FILE is parsed by `run` itself, so that `rtc run logs ID --follow` reaches Tyger's parser intact.
    p.add_argument("rest", nargs=argparse.REMAINDER, metavar="[GRAPH|RUN] [--param NAME=VALUE]...", help=argparse.SUPPRESS)
    p.set_defaults(func=run)


def add_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--param", "-p", action="append", default=[], metavar="NAME=VALUE", help="a graph param, parsed by its declared type (repeatable)")
    p.add_argument("--workers", type=whole, help="most containers at once (default: the graph's `workers`)")
    p.add_argument("--no-cache", action="store_true", help="run every step, even those with `cache`; record nothing (see `rtc cache`)")
    p.add_argument("--no-triggers", action="store_true", help="run only the graph named, not the graphs that are `on` it")
    p.add_argument("--store", metavar="URL", help="the artifact store of file/dir ports: a folder or s3://BUCKET/PREFIX "
                   "(default: RTC_STORE, else $RTC_HOME/artifacts)")
    registry_option.add(p)


def parse_rest(args: argparse.Namespace) -> argparse.Namespace:
    """GRAPH|RUN and the options given after FILE, merged with those given before it."""
    p = argparse.ArgumentParser(prog=f"rtc run {args.file}")
    p.add_argument("name", nargs="?", metavar="GRAPH|RUN", help="what to run (default: the file's only graph or run)")
    add_options(p)
    after = p.parse_args(args.rest)
    after.param = list(args.param) + after.param
    after.workers = after.workers if after.workers is not None else args.workers
    after.no_cache = after.no_cache or args.no_cache
    after.no_triggers = after.no_triggers or args.no_triggers
    after.registry = after.registry if after.registry is not None else args.registry
    after.store = after.store if after.store is not None else args.store
    after.file = args.file
    return after


def load_pipeline(path: str):
    """A pipeline from a source file, or from its IR JSON (`rtc compile -t ir`)."""
    from pathlib import Path

    from rtc.base.diagnostics import RtcError

    if not Path(path).is_file():
        raise RtcError(f"no such file: {path}")
    if path.endswith(".json") and _ir_json(path):
        from rtc.compiler.ir_check import load_ir_file

        return load_ir_file(path)  # checked as strictly as source (docs/security.md)
    from rtc.compiler import compile_file

    return compile_file(path)


def _ir_json(path: str) -> bool:
    from rtc.cli.tyger_run_cmd import ir_json

    return ir_json(path)


def choose(pipeline, name: str | None, path: str) -> tuple[str, str]:
    """("graph" | "run", name) to run."""
    from rtc.base.diagnostics import RtcError

    if name is not None:
        if name in pipeline.graphs:
            return "graph", name
        if name in pipeline.runs:
            return "run", name
        raise RtcError(
            f"{path} has no graph or run named {name!r}",
            hint=f"graphs: {', '.join(pipeline.graphs) or '(none)'}; runs: {', '.join(pipeline.runs) or '(none)'}",
        )
    candidates = [("graph", g) for g in pipeline.graphs] + [("run", r) for r in pipeline.runs]
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise RtcError(f"{path} has no graph or run to run")
    raise RtcError(
        f"{path} has several graphs/runs; name one",
        hint="rtc run " + path + " " + " | ".join(n for _, n in candidates),
    )


def run(args: argparse.Namespace) -> int:
    if args.file in TYGER_SUBCOMMANDS:
        from rtc.cli import tyger_run_cmd

        return int(tyger_run_cmd.main([args.file, *args.rest]) or 0)
    return run_file(parse_rest(args))


def run_file(args: argparse.Namespace) -> int:
    """Run the graph named (or the Tyger run), then the graphs that are `on` it (unless --no-triggers)."""
    from rtc.base.diagnostics import RtcError

    pipeline = registry_option.apply(load_pipeline(args.file), args)
    kind, name = choose(pipeline, args.name, args.file)
    if kind == "run":
        if args.param:
            raise RtcError("--param applies to graphs; a Tyger run takes its buffers from the file")
        return run_tyger(pipeline, name)

    from rtc.integrations.local.dotenv import environment_with_dotenv
    from rtc.integrations.local.params import split_assignments

    given = split_assignments(args.param)
    environ = environment_with_dotenv(pipeline.source)  # secrets: the environment, else .env beside the file
    if args.store:
        environ["RTC_STORE"] = args.store  # as RTC_STORE: one URL names the store (rtc.base.home.artifact_store)
    if args.workers is not None and args.workers < 1:
        raise RtcError("--workers must be at least 1")
    from rtc.integrations.local import lineage

    emitter = lineage.from_environment(environ)  # None unless OpenLineage is configured (docs/lineage.md)
    try:
        return _run_with_triggers(pipeline, name, given, args, environ, emitter)
    finally:
        if emitter is not None:
            emitter.close()


def _run_with_triggers(pipeline, name: str, given: dict, args, environ, emitter) -> int:
    from rtc.base.diagnostics import RtcError

    first = _run_one(pipeline, name, given, args, environ, None, emitter)
    if getattr(args, "no_triggers", False) or first.code == 130:
        return first.finish()
    # `on`: each finished run starts the graphs on it (breadth first; the compiler refused cycles).
    from rtc.integrations.local import triggers

    queue, later = [first], []
    while queue:
        done = queue.pop(0)
        for target, fired in triggers.fired_by(pipeline, done.graph, done.result):
            labels = ", ".join(t.label for t in fired)
            print(f"rtc: run {done.run_id} of graph {done.graph!r} triggers graph {target!r} (on {labels})", file=sys.stderr)
            cause = triggers.Cause(done.graph, done.run_id, done.result, fired)
            try:
                nxt = _run_one(pipeline, target, {}, args, environ, cause, emitter)
            except RtcError as exc:  # this triggered run could not start: say why, go on with the others
                print(exc.render(), file=sys.stderr)
                later.append(None)
                continue
            later.append(nxt)
            if nxt.code == 130:
                return first.finish() or 130
            queue.append(nxt)
    failed = [run for run in later if run is None or run.code != 0]
    for run in later:
        if run is not None and run.code != 0:
            print(run.error.render(), file=sys.stderr)
    code = first.finish()
    if failed:
        raise RtcError(f"{len(failed)} of the {len(later)} triggered run{'' if len(later) == 1 else 's'} failed (above)")
    return code


class _Outcome:
    """One finished graph run of `rtc run`: its result, exit code, and the error to raise for it."""

    def __init__(self, graph, run_id, result, code, error=None):
        self.graph, self.run_id, self.result, self.code, self.error = graph, run_id, result, code, error

    def finish(self) -> int:
        if self.error is not None:
            raise self.error
        return self.code


def _run_one(pipeline, name: str, given: dict, args, environ, cause, emitter) -> _Outcome:
    """Run graph `name` once, recorded in the run store; `cause`: the run that triggered it (`on`), or None."""
    import json
    import threading
    from pathlib import Path

    from rtc.base.diagnostics import RtcError
    from rtc.integrations.local import runner

    graph = pipeline.graphs[name]
    cancel = threading.Event()
    # Recorded in the run store with this process as its owner: if it is killed (SIGKILL
    # cannot be handled), the next rtc that opens the store removes what it left (owners.py).
    # Its steps, outputs and log lines are recorded too (`rtc run list|show|logs`; history.py).
    from rtc.integrations.local import history
    from rtc.integrations.tyger import abandoned as owners
    from rtc.integrations.tyger.store import Store

    store = Store()
    triggered = {}
    if graph.trigger_inputs():  # inputs bound to another graph's output: from the triggering run, else the latest record
        from rtc.integrations.local.triggers import trigger_values

        triggered, notes = trigger_values(pipeline, name, cause, store)
        for note in notes:
            print(f"rtc: graph {name!r} reads {note}", file=sys.stderr)
    run_id = runner.new_run_id(name)
    reporter = history.RecordingReporter(store, run_id, total=len(graph.steps))
    owners.begin_graph_run(store, run_id, name, pipeline.namespace)
    history.record_details(store, run_id, str(Path(pipeline.source).resolve()) if pipeline.source else args.file, given)
    if cause is not None:
        history.record_trigger(store, run_id, cause.run_id, cause.graph, [t.label for t in cause.fired])
    lineage_run = emitter.graph_started(pipeline, name, run_id, triggered, cause) if emitter is not None else None
    result = None
    status, reason = "Failed", "rtc stopped with an error before the run ended"
    try:
        with runner.interrupts_cancel(cancel, reporter):
            result = runner.run_graph(
                pipeline, name, given, workers=args.workers, reporter=reporter, cancel=cancel, run_id=run_id,
                use_cache=not args.no_cache, environ=environ, triggered=triggered,
            )
        reporter.record_result(result)
        status, reason = {"succeeded": ("Succeeded", None), "canceled": ("Canceled", "interrupted")}.get(
            result.status, ("Failed", "a step failed"))
    except KeyboardInterrupt:
        status, reason = "Canceled", "interrupted"
        raise
    except RtcError as exc:  # before any step ran (missing secret, image build ...): the record says why
        reason = reporter.mask(str(exc))[:2000]
        raise
    finally:
        owners.end_graph_run(store, run_id, status, reason)
        reporter.log.close()
        if lineage_run is not None:
            lineage_run.finished(result, status, reason, history.step_times(store, run_id), reporter.mask)
    if result.status == "succeeded":
        n = len(result.steps)
        for step_id in history.last_steps(graph):  # what the run made, without `rtc run show`
            outputs = result.steps[step_id].outputs if step_id in result.steps else None
            if outputs:
                text = reporter.mask(json.dumps(outputs, sort_keys=True, default=str))
                print(f"rtc: {step_id}: {text if len(text) <= 2000 else text[:2000] + ' ... (rtc run show ' + run_id + ')'}", file=sys.stderr)
        print(f"rtc: run {result.run_id} succeeded ({n} step{'' if n == 1 else 's'}); "
              f"`rtc run show {run_id}` shows its steps, `rtc run logs {run_id}` their output", file=sys.stderr)
        return _Outcome(name, run_id, result, 0)
    if cancel.is_set() and not result.failures():
        print(f"rtc: run {result.run_id} canceled; its containers are removed", file=sys.stderr)
        return _Outcome(name, run_id, result, 130)
    error = RtcError(f"run {result.run_id} of graph {name!r} failed\n" + runner.format_failures(result),
                     hint=f"`rtc run show {run_id}` shows every step, `rtc run logs {run_id} STEP` a step's output")
    return _Outcome(name, run_id, result, 1, error)


def run_tyger(pipeline, name: str) -> int:
    """A Tyger `run` of the file, here and now: its logs streamed with a `[run]` prefix, Ctrl-C cancels it."""
    import threading

    from rtc.base.diagnostics import RtcError
    from rtc.integrations.local import runner
    from rtc.cli.tyger_run_cmd import failure_hint
    from rtc.integrations.tyger import runs as tyger

    cancel = threading.Event()

    def status(record) -> None:
        reason = f" ({record.status_reason})" if record.status_reason else ""
        print(f"rtc: run {record.id} {record.status}{reason}", file=sys.stderr, flush=True)

    def line(text: str) -> None:
        print(f"[{name}] {text}", flush=True)

    with runner.interrupts_cancel(cancel):
        record = tyger.execute_run(pipeline, name, on_line=line, on_status=status, cancel=cancel)
    if record.status == "Succeeded":
        # Its buffers stay in the run store, as Tyger's do: say where to read them.
        for param, buffer_id in sorted(record.spec["job"].get("buffers", {}).items()):
            print(f"rtc: buffer {param}: {buffer_id} (`rtc buffer read {buffer_id}`)", file=sys.stderr)
        return 0
    if record.status == "Canceled" and cancel.is_set():
        return 130
    raise RtcError(
        f"run {record.id} {record.status}" + (f": {record.status_reason}" if record.status_reason else ""),
        hint=failure_hint(record),
    )
