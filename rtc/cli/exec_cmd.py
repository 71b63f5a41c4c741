"""`rtc exec [FILE] [RUN] [-c CODESPEC] [--buffer NAME=ID]... [-r N] [--timeout D] [--tag k=v]... [--logs]`.

Tyger's `run exec`: create a run, stream standard input into its input
buffer (the one without a `--buffer`, or `_`) while the run reads it, and its
output buffer to standard output as the run writes it, until the run ends.
Status lines (with the run id) go to standard error, and with `--logs` the
containers' output too. The exit code is 0 only when the run Succeeded.
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
    from rtc.cli.tyger_run_cmd import overrides_from, run_pipeline
    from rtc.compiler.diagnostics import RtcError
    from rtc.integrations.docker import tyger
    from rtc.integrations.docker.store import SUCCEEDED

    pipeline, run_name = run_pipeline(args)
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
            hint=f"`rtc run logs {record.id}` shows what its containers printed",
        )
    return 0
