"""`rtc buffer create|write|read|show`: Tyger's buffers in the local store.

`create` prints a new buffer's id; `write ID` copies standard input into it
(a buffer is written once); `read ID` copies it to standard output, waiting
until it is complete (a run's outputs are complete when the run ends).
"""

from __future__ import annotations

import sys


def register(subparsers) -> None:
    p = subparsers.add_parser("buffer", help="create, write, read and show Tyger buffers")
    sub = p.add_subparsers(dest="buffer_command", metavar="COMMAND", required=True)

    c = sub.add_parser("create", help="create a buffer and print its id")
    c.add_argument("--tag", action="append", default=[], metavar="KEY=VALUE", help="a tag; repeatable")
    c.set_defaults(func=_create)

    w = sub.add_parser("write", help="copy standard input into a buffer")
    w.add_argument("id")
    w.set_defaults(func=_write)

    r = sub.add_parser("read", help="copy a buffer to standard output (waits until it is complete)")
    r.add_argument("id")
    r.add_argument("--timeout", help='give up after this long, e.g. "30s" (default: wait)')
    r.set_defaults(func=_read)

    s = sub.add_parser("show", help="a buffer's metadata as JSON")
    s.add_argument("id")
    s.set_defaults(func=_show)


def _create(args) -> int:
    from rtc.cli.tyger_run_cmd import _pairs
    from rtc.integrations.docker import buffers
    from rtc.integrations.docker.store import Store

    print(buffers.create(Store(), _pairs(args.tag, "--tag")).id)
    return 0


def _write(args) -> int:
    from rtc.integrations.docker import buffers
    from rtc.integrations.docker.store import Store

    buffers.write(Store(), args.id, sys.stdin.buffer)
    return 0


def _read(args) -> int:
    from rtc.integrations.docker import buffers
    from rtc.integrations.docker.store import Store
    from rtc.integrations.docker.tyger_spec import parse_duration

    timeout = parse_duration(args.timeout) if args.timeout else None
    buffers.read(Store(), args.id, sys.stdout.buffer, timeout=timeout)
    return 0


def _show(args) -> int:
    from rtc.cli.tyger_run_cmd import print_json
    from rtc.integrations.docker.store import Store, iso

    store = Store()
    record = store.get_buffer(args.id)
    print_json({
        "id": record.id,
        "createdAt": iso(record.created_at),
        "tags": record.tags,
        "complete": record.sealed_at is not None,
        "size": store.buffer_path(record.id).stat().st_size,
    })
    return 0
