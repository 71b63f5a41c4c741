"""`rtc cache ls|clear`: the outputs that steps with `cache` recorded (rtc/runtime/cache.py)."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "cache",
        help="list or clear the recorded outputs of steps with `cache` (reused by `rtc run`)",
        description="Steps of nodes with `cache = true` (or `cache = 1d`) record their outputs under $RTC_HOME/cache/steps; "
        "`rtc run` reuses them while the image, program, inputs and environment are unchanged. Generated Airflow DAGs "
        "keep the same entries in a folder on their workers: list or clear it with --dir.",
    )
    sub = p.add_subparsers(dest="cache_command", metavar="ls|clear", required=True)
    ls = sub.add_parser("ls", help="one line per recorded step: key, pipeline, graph, step, age, expiry")
    ls.add_argument("--format", choices=("text", "json"), default="text")
    _folder_option(ls)
    ls.set_defaults(func=list_entries)
    clear = sub.add_parser("clear", help="forget recorded outputs (all, or those of one pipeline)")
    clear.add_argument("--pipeline", metavar="NAMESPACE", help="only entries of this pipeline namespace")
    _folder_option(clear)
    clear.set_defaults(func=clear_entries)


def _folder_option(parser) -> None:
    parser.add_argument(
        "--dir", metavar="FOLDER",
        help="another cache folder with the same entries: an Airflow worker's (RTC_CACHE_DIR, [rtc] cache_dir, "
        "default $AIRFLOW_HOME/rtc-cache); default: rtc run's, $RTC_HOME/cache/steps",
    )


def _cache(args: argparse.Namespace):
    """rtc run's cache, or the folder --dir names (which must be one: a mistyped path is not an empty cache)."""
    from rtc.runtime.cache import StepCache

    if args.dir is not None:
        from rtc.files import output_path

        output_path(args.dir, "--dir")  # a path the file system cannot hold is one message, not a traceback
    if args.dir is not None and not Path(args.dir).is_dir():
        from rtc.base.diagnostics import RtcError

        raise RtcError(f"no cache folder at {args.dir}",
                       hint="a worker's folder appears once a step with `cache` has run there")
    from rtc.base.home import steps_cache_dir

    return StepCache(args.dir if args.dir is not None else steps_cache_dir())


def list_entries(args: argparse.Namespace) -> int:
    cache = _cache(args)
    entries = cache.entries()
    if args.format == "json":
        print(json.dumps({"folder": str(cache.folder), "entries": [
            {"key": e.key, "pipeline": e.pipeline, "graph": e.graph, "step": e.step, "node": e.node,
             "created_at": e.created_at, "expires_at": e.expires_at, "expired": e.expired()}
            for e in entries
        ]}, indent=2, sort_keys=True))
        return 0
    if not entries:
        print(f"no recorded steps in {cache.folder}")
        return 0
    now = time.time()
    print(f"{'KEY':<12}  {'PIPELINE':<16} {'GRAPH':<16} {'STEP':<24} {'AGE':>6}  EXPIRES")
    for e in entries:
        expires = "never" if e.expires_at is None else ("expired" if e.expired(now) else f"in {_span(e.expires_at - now)}")
        print(f"{e.key[:12]}  {e.pipeline:<16} {e.graph:<16} {e.step:<24} {_span(now - e.created_at):>6}  {expires}")
    return 0


def clear_entries(args: argparse.Namespace) -> int:
    cache = _cache(args)
    removed = cache.clear(args.pipeline)
    which = f" of pipeline {args.pipeline!r}" if args.pipeline else ""
    print(f"removed {removed} recorded step{'' if removed == 1 else 's'}{which} from {cache.folder}")
    return 0


def _span(seconds: float) -> str:
    seconds = max(0.0, seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"
