"""The `rtc` command line: a thin shell over dsl, compiler and integrations.

Each command lives in its own module under rtc/cli/ and exposes
`register(subparsers)`, which adds its parser and sets `func(args) -> int`.
Registering imports nothing heavy: Airflow, Prefect and docker are imported
inside the command function that needs them, so `rtc --help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from rtc import __version__

# Order here is the order in `rtc --help`.
COMMAND_MODULES = [
    "check",
    "fmt",
    "lsp",
    "compile",
    "graph",
    "schema",
    "build",
    "run",
    "cache",
    "artifacts",
    "exec",
    "codespec",
    "buffer",
    "env",
    "deploy",
    "gc",
]


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or only of `command` when it names one (`main` knows which is run).

    Building all fifteen sub-parsers costs ~20 ms, a tenth of a short `rtc exec`.
    """
    parser = argparse.ArgumentParser(
        prog="rtc",
        description="Compile pipeline files (.rt or YAML) to Airflow DAGs, Prefect flows, or run them locally in Docker.",
    )
    parser.add_argument("--version", action="version", version=f"rtc {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in [command] if command in COMMAND_MODULES else COMMAND_MODULES:
        importlib.import_module(f"rtc.cli.{name}_cmd").register(subparsers)
    return parser


def _signals_interrupt() -> None:
    """SIGTERM and SIGHUP (the terminal closed) interrupt as Ctrl-C does, so every command's cleanup runs.

    Their default action ends the process on the spot: `rtc exec` would leave its
    containers running and its run "Running" (docs/security.md).
    """
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) is signal.SIG_DFL:
            signal.signal(sig, interrupt)


def main(argv: list[str] | None = None) -> int:
    from rtc.base.diagnostics import RtcError

    argv = sys.argv[1:] if argv is None else argv
    _signals_interrupt()
    # The first argument that is not an option is the command (rtc's own options take no value).
    parser = build_parser(next((a for a in argv if not a.startswith("-")), None))
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except RtcError as exc:
        from rtc.cli.tyger_run_cmd import explain_unregistered

        print(explain_unregistered(exc).render(), file=sys.stderr)
        return exc.exit_code
    except ModuleNotFoundError as exc:  # a package of an extra that is not installed: say which extra
        from rtc.cli.extras import missing_extra_message

        message = missing_extra_message(exc, args.command)
        if message is None:
            raise
        print(message, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
