"""`rtc fmt FILE... [--check | --diff]`: rewrite `.rt` files in the canonical layout."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "fmt",
        help="format .rt files in place (the canonical layout)",
        description=(
            "Rewrite each .rt FILE in the canonical layout (see docs/language.md, `Layout`). "
            "A folder means every .rt file under it. `-` reads standard input and writes standard output. "
            "A file with a syntax error is reported and left untouched."
        ),
    )
    p.add_argument("files", nargs="+", metavar="FILE", help=".rt file, folder, or - for standard input")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="write nothing; list the files that would change and exit 1 if any")
    mode.add_argument("--diff", action="store_true", help="write nothing; print a unified diff of what would change and exit 1 if any")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rtc.base.diagnostics import CompileError
    from rtc.dsl import read_source
    from rtc.dsl.format import format_rt

    if args.files == ["-"]:
        text = sys.stdin.read()
        try:
            sys.stdout.write(format_rt(text, "<stdin>"))
        except CompileError as exc:
            print(exc.render({"<stdin>": text}), file=sys.stderr)
            return 1
        return 0

    failed = changed = False
    for file in _expand(args.files):
        if not file.endswith(".rt"):
            print(f"error: {file}: rtc fmt formats .rt files (YAML files keep the layout they have)", file=sys.stderr)
            failed = True
            continue
        text = None
        try:
            text = read_source(file)
            formatted = format_rt(text, file)
        except CompileError as exc:
            print(exc.render({file: text} if text is not None else None), file=sys.stderr)
            failed = True
            continue
        if formatted == text:
            continue
        changed = True
        if args.check:
            print(file)
        elif args.diff:
            sys.stdout.write(_diff(file, text, formatted))
        else:
            from rtc.files import write_atomically

            write_atomically({Path(file): formatted})
            print(f"formatted {file}", file=sys.stderr)
    if failed:
        return 2
    return 1 if changed and (args.check or args.diff) else 0


def _expand(paths: list[str]) -> list[str]:
    """Folders -> the .rt files under them (sorted; hidden folders skipped); files as given."""
    out: list[str] = []
    for path in paths:
        if os.path.isdir(path):
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                out += [os.path.join(root, f) for f in sorted(files) if f.endswith(".rt")]
        else:
            out.append(path)
    return out


def _diff(file: str, before: str, after: str) -> str:
    import difflib

    return "".join(
        difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True), f"{file}", f"{file} (formatted)")
    )
