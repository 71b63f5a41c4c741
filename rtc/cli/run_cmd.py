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
        usage="rtc run FILE [GRAPH|RUN] [--param NAME=VALUE]... [--workers N] [--no-cache] [--registry HOST[:PORT][/PREFIX]]\n"
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
    after.registry = after.registry if after.registry is not None else args.registry
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
    import json
    import threading
    from pathlib import Path

    from rtc.base.diagnostics import RtcError
    from rtc.integrations.local import runner

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
    graph = pipeline.graphs[name]
    if args.workers is not None and args.workers < 1:
        raise RtcError("--workers must be at least 1")
    cancel = threading.Event()
    # Recorded in the run store with this process as its owner: if it is killed (SIGKILL
    # cannot be handled), the next rtc that opens the store removes what it left (owners.py).
    # Its steps, outputs and log lines are recorded too (`rtc run list|show|logs`; history.py).
    from rtc.integrations.local import history
    from rtc.integrations.tyger import abandoned as owners
    from rtc.integrations.tyger.store import Store

    store = Store()
    run_id = runner.new_run_id(name)
    reporter = history.RecordingReporter(store, run_id, total=len(graph.steps))
    owners.begin_graph_run(store, run_id, name, pipeline.namespace)
    history.record_details(store, run_id, str(Path(pipeline.source).resolve()) if pipeline.source else args.file, given)
    result = None
    status, reason = "Failed", "rtc stopped with an error before the run ended"
    try:
        with runner.interrupts_cancel(cancel, reporter):
            result = runner.run_graph(
                pipeline, name, given, workers=args.workers, reporter=reporter, cancel=cancel, run_id=run_id,
                use_cache=not args.no_cache, environ=environ,
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
    if result.status == "succeeded":
        n = len(result.steps)
        for step_id in history.last_steps(graph):  # what the run made, without `rtc run show`
            outputs = result.steps[step_id].outputs if step_id in result.steps else None
            if outputs:
                text = reporter.mask(json.dumps(outputs, sort_keys=True, default=str))
                print(f"rtc: {step_id}: {text if len(text) <= 2000 else text[:2000] + ' ... (rtc run show ' + run_id + ')'}", file=sys.stderr)
        print(f"rtc: run {result.run_id} succeeded ({n} step{'' if n == 1 else 's'}); "
              f"`rtc run show {run_id}` shows its steps, `rtc run logs {run_id}` their output", file=sys.stderr)
        return 0
    if cancel.is_set() and not result.failures():
        print(f"rtc: run {result.run_id} canceled; its containers are removed", file=sys.stderr)
        return 130
    raise RtcError(f"run {result.run_id} of graph {name!r} failed\n" + runner.format_failures(result),
                   hint=f"`rtc run show {run_id}` shows every step, `rtc run logs {run_id} STEP` a step's output")


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
