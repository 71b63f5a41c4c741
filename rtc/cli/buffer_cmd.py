"""`rtc buffer create|write|read|show`: Tyger's buffers in the local store.

`create` prints a new buffer's id (`--ttl`: it is removed once that time has
passed); `write ID` copies standard input into it as it comes (a buffer is
written once); `read ID` copies it to standard output as it is written, until
it is complete (a run's outputs are complete when the run ends).
"""

from __future__ import annotations

import sys


def register(subparsers) -> None:
    p = subparsers.add_parser("buffer", help="create, write, read and show Tyger buffers")
    sub = p.add_subparsers(dest="buffer_command", metavar="COMMAND", required=True)

    c = sub.add_parser("create", help="create a buffer and print its id")
    c.add_argument("--tag", action="append", default=[], metavar="KEY=VALUE[,KEY=VALUE]", help="tags; repeatable")
    c.add_argument("--ttl", help='remove the buffer after this long: "D.HH:MM[:SS]" (Tyger) or "1h", "30m"')
    c.set_defaults(func=_create)

    w = sub.add_parser("write", help="copy standard input into a buffer")
    w.add_argument("id")
    w.set_defaults(func=_write)

    r = sub.add_parser("read", help="copy a buffer to standard output as it is written, until it is complete")
    r.add_argument("id")
    r.add_argument("--timeout", help='give up after this long, e.g. "30s" (default: wait)')
    r.set_defaults(func=_read)

    s = sub.add_parser("show", help="a buffer's metadata as JSON")
    s.add_argument("id")
    s.set_defaults(func=_show)


def _create(args) -> int:
    from rtc.cli.tyger_run_cmd import _pairs
    from rtc.integrations.tyger import buffers
    from rtc.integrations.tyger.store import Store

    from rtc.integrations.tyger.spec import parse_ttl

    ttl = parse_ttl(args.ttl) if args.ttl is not None else None  # "--ttl=" is a message, not "no TTL"
    print(buffers.create(Store(), _pairs(args.tag, "--tag"), ttl_seconds=ttl).id)
    return 0


def _write(args) -> int:
    from rtc.integrations.tyger import buffers
    from rtc.integrations.tyger.store import Store

    buffers.write(Store(), args.id, sys.stdin.buffer)
    return 0


def _read(args) -> int:
    from rtc.integrations.tyger import buffers
    from rtc.integrations.tyger.store import Store
    from rtc.integrations.tyger.spec import parse_duration

    timeout = parse_duration(args.timeout) if args.timeout is not None else None
    buffers.read(Store(), args.id, sys.stdout.buffer, timeout=timeout)
    return 0


def _show(args) -> int:
    from rtc.cli.tyger_run_cmd import print_json
    from rtc.integrations.tyger.store import Store, iso

    from rtc.integrations.tyger import buffers

    store = Store()
    record = buffers.get(store, args.id)
    failed = buffers.failure(store, record.id)
    shown = {
        "id": record.id,
        "createdAt": iso(record.created_at),
        "tags": record.tags,
        "complete": record.sealed_at is not None and failed is None,
        "size": store.buffer_path(record.id).stat().st_size,
    }
    if failed is not None:
        shown["failed"] = failed
    expires = buffers.expires_at(store, record.id)
    if expires is not None:
        shown["expiresAt"] = iso(expires)
    print_json(shown)
    return 0
