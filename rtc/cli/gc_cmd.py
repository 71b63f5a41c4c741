"""`rtc gc [--dry-run]`: remove what rtc left behind and no live process owns.

Only what it can prove is rtc's and abandoned (integrations/tyger/abandoned.py):
containers labelled by rtc whose owner process is provably gone (same boot,
same PID namespace, no such process): a `rtc run`/`rtc exec` killed with
SIGKILL, a detached Tyger executor that died. Runs of the store that such an
owner left unfinished are marked Failed (or Canceled) with the reason, their
proven io folders and FIFO folders deleted, buffers whose writer died marked
failed, expired buffers deleted. Containers it cannot judge (another PID
namespace or machine, a label not in rtc's format, no `rtc.run`) and `rtc env
up` environments are left alone, and listed with the reason.
"""

from __future__ import annotations

import sys


def register(subparsers) -> None:
    p = subparsers.add_parser("gc", help="remove containers, networks and io folders of runs whose rtc process is gone")
    p.add_argument("--dry-run", "-n", action="store_true", help="only list what would be removed")
    p.set_defaults(func=run)


def run(args) -> int:
    from rtc.integrations.engine import containers as engine
    from rtc.integrations.tyger import abandoned as owners
    from rtc.integrations.engine.owners import owner_pid
    from rtc.integrations.tyger.store import Store

    store = Store(reconcile=False)  # collect() reconciles, so that what it finishes is reported
    result = owners.collect(store, engine.connect(), dry_run=args.dry_run)
    verb = "would remove" if args.dry_run else "removed"
    for name in result.containers:
        print(f"{verb} container {name}")
    for name in result.networks:
        print(f"{verb} network {name}")
    for r in result.runs:
        print(f"finished {r.kind} run {r.id} (its owner, {owner_pid(r.owner) if r.owner else 'never started'}, is gone)")
    for buffer_id in result.buffers or []:
        print(f"marked buffer {buffer_id} failed (its writer is gone)")
    for name, why in result.left:
        print(f"left container {name} alone: {why}", file=sys.stderr)
    if not (result.containers or result.networks or result.runs or result.folders or result.pipes or result.buffers):
        print("nothing to remove", file=sys.stderr)
    for count, what in ((result.folders, "io folder"), (result.pipes, "pipes folder")):
        if count:
            print(f"{verb} {count} {what}{'s' if count != 1 else ''}", file=sys.stderr)
    return 0
