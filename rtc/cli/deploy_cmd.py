"""`rtc deploy FILE --target prefect [--work-pool NAME] [-o DIR]`: compile, then register deployments."""

from __future__ import annotations

import argparse
import sys

from rtc.cli import registry_option


EPILOG = """\
Deployments only run when a Prefect worker polls their work pool:

  export PREFECT_API_URL=http://127.0.0.1:4200/api     # your server (`prefect server start`) or Prefect Cloud
  prefect work-pool create rtc-process --type process   # optional: rtc deploy creates a missing pool
  rtc deploy pipeline.rt --target prefect -o /srv/rtc/flows
  prefect worker start --pool rtc-process               # on a machine with Docker, prefect and docker

The deployments load their code from the -o folder by its absolute path, so the
worker must see that same path (run it on this machine, or on a shared disk
mounted at the same place), and its Docker engine must hold the images
(`rtc build`) and the host folders of `mount`s. Secrets come from Secret blocks
(API_KEY -> block `api-key`). See docs/prefect.md.
"""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "deploy",
        help="compile a pipeline and register its Prefect deployments",
        description="Compile FILE to Prefect flow modules, write them to -o DIR, and register one deployment\n"
        "per graph and per Tyger run (with its schedule, parameters and tags) with the Prefect API\n"
        "at PREFECT_API_URL.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("file", help="pipeline file (.rt, .yaml or a Tyger YAML)")
    p.add_argument("--target", "-t", choices=["prefect"], default="prefect")
    p.add_argument("--work-pool", default=None,
                   help="Prefect work pool (created as a process pool when missing); default: rtc-process")
    p.add_argument("--schedule-wait", type=_seconds, default=None, metavar="SECONDS",
                   help="how long to wait for the server to create each schedule's first run (default 30)")
    p.add_argument("-o", "--output", default=None,
                   help="folder for the flow modules the deployments run; default: $RTC_HOME/prefect/NAMESPACE")
    registry_option.add(p)
    p.set_defaults(func=run)


def _seconds(text: str) -> float:
    """A finite number of seconds, 0 to a day (float() takes "nan", "inf" and "١")."""
    import re

    if not re.fullmatch(r"[0-9]{1,6}(?:\.[0-9]{1,6})?", text, flags=re.ASCII) or float(text) > 86400:
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a number of seconds from 0 to 86400")
    return float(text)


def run(args: argparse.Namespace) -> int:
    from rtc.cli.extras import require

    require("prefect")  # before compiling and writing flows that could not be registered
    from rtc.compiler import compile_file
    from rtc.files import write_atomically
    from rtc.integrations.prefect import deploy, deployments, emitter

    pipeline = registry_option.apply(compile_file(args.file), args)
    from rtc.compiler.lower_tyger import refuse_sockets

    refuse_sockets(pipeline, "prefect")  # E516 before anything is written or registered, as `rtc compile` says it
    work_pool = args.work_pool or deployments.DEFAULT_WORK_POOL
    from rtc.base.home import rtc_home

    home = rtc_home()
    from rtc.files import output_path

    folder = output_path(args.output) if args.output else home / "prefect" / pipeline.namespace
    files, specs = emitter.render_with_deployments(pipeline, work_pool)
    write_atomically({folder / rel: text for rel, text in files.items()})
    print(f"wrote {len(files)} file(s) to {folder}", file=sys.stderr)
    wait = deploy.SCHEDULE_WAIT_SECONDS if args.schedule_wait is None else args.schedule_wait
    registered = deploy.deploy(specs, folder, work_pool, schedule_wait=wait)
    if registered and registered[0]["created_pool"]:
        print(f"created work pool {work_pool!r} (type process)", file=sys.stderr)
    if registered:
        print(f"runs execute when a worker polls the pool: prefect worker start --pool {work_pool} "
              f"(on a machine with Docker that sees {folder.resolve()})", file=sys.stderr)
    unscheduled = []
    for r in registered:
        schedule = r["cron"] or "manual"  # what the server holds (@daily is registered as 0 0 * * *)
        if not r["cron"]:
            when = "none (runs when triggered)"
        elif r["next_run"]:
            when = r["next_run"].strftime("%Y-%m-%d %H:%M:%S UTC")  # as the server holds it
        else:
            when = "NONE on the server"
            unscheduled.append(r)
        print(f"deployed {r['full_name']}  schedule {schedule}  next run {when}")
    for r in unscheduled:
        expected = r["local_next_run"].strftime("%Y-%m-%d %H:%M:%S UTC")
        print(f"error: the Prefect server holds no scheduled run for {r['full_name']} "
              f"{wait:g} s after registering it (its schedule says {expected}): the server's scheduler is "
              "not creating runs, so this schedule will not fire.\n"
              "  hint: look for errors in the server's log; check that its scheduler service is on "
              "(PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED) and that the server runs SQLAlchemy < 2.1 "
              "(see docs/deploy.md)", file=sys.stderr)
    return 1 if unscheduled else 0
