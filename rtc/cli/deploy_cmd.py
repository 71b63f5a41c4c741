"""`rtc deploy FILE --target prefect [--work-pool NAME] [-o DIR]`: compile, then register deployments."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser("deploy", help="compile a pipeline and register its Prefect deployments")
    p.add_argument("file", help="pipeline file (.rt, .yaml or a Tyger YAML)")
    p.add_argument("--target", "-t", choices=["prefect"], default="prefect")
    p.add_argument("--work-pool", default=None,
                   help="Prefect work pool (created as a process pool when missing); default: rtc-process")
    p.add_argument("-o", "--output", default=None,
                   help="folder for the flow modules the deployments run; default: $RTC_HOME/prefect/NAMESPACE")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rtc.compiler import compile_file
    from rtc.files import write_atomically
    from rtc.integrations.prefect import deploy, deployments, emitter

    pipeline = compile_file(args.file)
    work_pool = args.work_pool or deployments.DEFAULT_WORK_POOL
    home = Path(os.environ.get("RTC_HOME") or Path.home() / ".rtc")
    folder = Path(args.output) if args.output else home / "prefect" / pipeline.namespace
    files, specs = emitter.render_with_deployments(pipeline, work_pool)
    write_atomically({folder / rel: text for rel, text in files.items()})
    print(f"wrote {len(files)} file(s) to {folder}", file=sys.stderr)
    registered = deploy.deploy(specs, folder, work_pool)
    if registered and registered[0]["created_pool"]:
        print(f"created work pool {work_pool!r} (type process); run flows with: prefect worker start --pool {work_pool}",
              file=sys.stderr)
    for r in registered:
        when = r["next_run"].strftime("%Y-%m-%d %H:%M:%S UTC") if r["next_run"] else "none (runs when triggered)"
        schedule = r["schedule"] or "manual"
        print(f"deployed {r['full_name']}  schedule {schedule}  next run {when}")
    return 0
