"""`rtc gc [--dry-run]`: remove what rtc left behind and no live process owns.

Containers (and their Tyger networks) labelled by rtc whose owner process is
gone on this machine: a `rtc run`/`rtc exec` killed with SIGKILL, a
detached Tyger executor that died. Runs of the store that such an owner left
unfinished are marked Failed (or Canceled) with the reason, and their
temporary io folders deleted. Environments of `rtc env up` are never touched:
they live until `rtc env down`.
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
    from rtc.integrations.tyger.store import Store

    store = Store()
    result = owners.collect(store, engine.connect(), dry_run=args.dry_run)
    verb = "would remove" if args.dry_run else "removed"
    for name in result.containers:
        print(f"{verb} container {name}")
    for name in result.networks:
        print(f"{verb} network {name}")
    for r in result.runs:
        print(f"finished {r.kind} run {r.id} (its owner, {r.owner}, is gone)")
    if not (result.containers or result.networks or result.runs):
        print("nothing to remove", file=sys.stderr)
    elif result.folders:
        print(f"{verb} {result.folders} io folder{'s' if result.folders != 1 else ''}", file=sys.stderr)
    return 0
