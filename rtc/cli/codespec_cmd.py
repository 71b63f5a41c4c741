"""`rtc codespec create|show|list`: Tyger's codespec registry in the local run store.

`create -f FILE [NAME|--name NAME]` registers the codespec of FILE (a Tyger
codespec YAML, or a pipeline with one codespec or naming it) and prints its
version: a changed codespec gets a new version, an unchanged one keeps its
own. Runs then name it: `rtc exec --codespec NAME[/versions/N]`, or
`codespec: NAME` in a run-spec file.
"""

from __future__ import annotations

from rtc.cli.numbers import whole


def _version(text: str) -> int:
    """A version: a positive number in ASCII digits (int() would take "١" as 1)."""
    import argparse

    if not (text.isascii() and text.isdigit() and len(text) <= 18 and int(text) > 0):
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a version (a positive number, ASCII digits)")
    return int(text)


def register(subparsers) -> None:
    p = subparsers.add_parser("codespec", help="register, show and list Tyger codespecs in the run store")
    sub = p.add_subparsers(dest="codespec_command", metavar="COMMAND", required=True)

    c = sub.add_parser("create", help="register a codespec (a new version when it changed); prints its version")
    c.add_argument("positional_name", nargs="?", metavar="NAME", help="the name to register it under (default: its own)")
    c.add_argument("-f", "--file", required=True, help="a Tyger codespec YAML, or a pipeline file holding the codespec")
    c.add_argument("--name", help="the name to register it under (same as NAME)")
    c.set_defaults(func=_create)

    s = sub.add_parser("show", help="a registered codespec as JSON (its latest version by default)")
    s.add_argument("name", help="NAME or NAME/versions/N")
    s.add_argument("--version", type=_version, help="the version to show")
    s.set_defaults(func=_show)

    ls = sub.add_parser("list", help="the latest version of each registered codespec, by name")
    ls.add_argument("-p", "--prefix", default="", help="only names starting with this")
    ls.add_argument("-l", "--limit", type=whole, default=1000, help="at most this many (default 1000)")
    ls.set_defaults(func=_list)


def _create(args) -> int:
    from rtc.compiler import compile_file
    from rtc.base.diagnostics import RtcError
    from rtc.integrations.tyger import codespecs

    if args.positional_name and args.name and args.positional_name != args.name:
        raise RtcError(f"two names given: {args.positional_name!r} and --name {args.name!r}")
    name = args.name or args.positional_name
    pipeline = compile_file(args.file)
    found = pipeline.codespecs
    if name in found:
        codespec = found[name]
    elif len(found) == 1:
        codespec = next(iter(found.values()))
    else:
        listed = ", ".join(sorted(found)) or "none"
        raise RtcError(
            f"{args.file} holds {len(found)} codespecs ({listed}); say which one with --name" if found
            else f"{args.file} holds no codespec",
        )
    version, _ = codespecs.create(codespec, name)
    print(version)
    return 0


def _show(args) -> int:
    from rtc.cli.tyger_run_cmd import print_json
    from rtc.integrations.tyger import codespecs

    name, version = codespecs.parse_ref(args.name, args.version)
    print_json(codespecs.show(name, version))
    return 0


def _list(args) -> int:
    from rtc.cli.tyger_run_cmd import print_json
    from rtc.base.diagnostics import RtcError
    from rtc.integrations.tyger import codespecs

    if args.limit < 1:
        raise RtcError(f"--limit {args.limit}: give a number of codespecs, at least 1")
    print_json([codespecs.show(name) for name in codespecs.names(args.prefix)[: args.limit]])
    return 0
