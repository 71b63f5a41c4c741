"""`rtc exec [FILE] [RUN] [-c CODESPEC] [--buffer NAME=ID]... [-r N] [--timeout D] [--tag k=v]... [--logs]`.

Tyger's `run exec`: create a run, stream standard input into its input
buffer (the one without a `--buffer`, or `_`) while the run reads it, and its
output buffer to standard output as the run writes it, until the run ends.
Status lines (with the run id) go to standard error, and with `--logs` the
containers' output too. The exit code is 0 only when the run Succeeded.

Start-up is most of a short exec's time, so an unchanged file is not compiled
again: its codespecs and runs, as plain data, come from the cache in
`$RTC_HOME/cache/exec/` (rtc/compile_cache.py says when an entry is valid),
and then neither pydantic, the compiler nor the YAML front end is imported.
"""

from __future__ import annotations

import sys

from rtc.cli.tyger_run_cmd import add_run_options


def register(subparsers) -> None:
    p = subparsers.add_parser("exec", help="run a Tyger codespec or run here: stdin to its first input, its first output to stdout")
    add_run_options(p)
    p.add_argument("--logs", action="store_true", help="stream the run's logs to standard error")
    p.set_defaults(func=run)


def run(args) -> int:
    from rtc.cli.tyger_run_cmd import failure_hint, overrides_from
    from rtc.base.diagnostics import RtcError
    from rtc.integrations.tyger import runs as tyger
    from rtc.integrations.tyger.store import SUCCEEDED

    pipeline, run_name = _runnable(args)
    overrides = overrides_from(args)
    seen = {"created": False}

    def status(record) -> None:
        if not seen["created"]:
            seen["created"] = True
            print(f"run {record.id} created", file=sys.stderr, flush=True)
            return
        reason = f": {record.status_reason}" if record.status_reason else ""
        print(f"run {record.id} {record.status}{reason}", file=sys.stderr, flush=True)

    def log_line(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    stdin = None if sys.stdin is None or sys.stdin.isatty() else sys.stdin.buffer
    record = tyger.execute_run(
        pipeline,
        run_name,
        overrides=overrides,
        stdin=stdin,
        stdout=sys.stdout.buffer,
        on_status=status,
        on_line=log_line if args.logs else None,
        exec_io=True,
    )
    if record.status != SUCCEEDED:
        raise RtcError(
            f"run {record.id} {record.status}" + (f": {record.status_reason}" if record.status_reason else ""),
            hint=failure_hint(record),
        )
    return 0


def _runnable(args) -> tuple[dict, str | None]:
    """The Tyger part of FILE as plain data (cached), with the registered codespecs `-c`/`--worker-codespec` name."""
    from rtc.cli.tyger_run_cmd import file_and_run, run_pipeline
    from rtc.integrations.tyger.spec import runnable

    path, run_name = file_and_run(args)
    if path is not None:
        plain = _load(path)
        named = [ref.partition("/versions/")[0] for ref in (args.codespec, args.worker_codespec) if ref]
        if all(name in plain["codespecs"] for name in named):
            return plain, run_name
    # a codespec of the registry, not of FILE: compiled from its registered file (rare; not cached)
    pipeline, run_name = run_pipeline(args)
    return runnable(pipeline), run_name


def _load(path: str) -> dict:
    """FILE's codespecs and runs: from the cache when FILE (its imports, the registry, rtc) is unchanged."""
    from rtc import compile_cache
    from rtc.integrations.tyger.spec import runnable

    plain = compile_cache.lookup_runnable(path)
    if plain is not None:
        return plain
    from rtc.cli.tyger_run_cmd import ir_json

    if path.endswith(".json") and ir_json(path):
        from rtc.compiler.ir_check import load_ir_file

        pipeline, files = load_ir_file(path), [path]  # checked as strictly as source (docs/security.md)
    else:
        from rtc.compiler import compile_modules, fewer_collections
        from rtc.dsl import load_modules

        with fewer_collections():  # as compile_file does
            modules = load_modules(path)
            pipeline = compile_modules(modules, path)
        files = [m.file for m in modules]
    plain = runnable(pipeline)
    compile_cache.remember_runnable(path, files, plain)
    return plain
