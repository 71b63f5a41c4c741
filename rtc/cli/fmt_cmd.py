"""`rtc fmt FILE... [--check | --diff]`: rewrite `.rt` files in the canonical layout."""

from __future__ import annotations

import argparse
import os
import sys


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
    from rtc.base.diagnostics import CompileError, RtcError
    from rtc.dsl import read_source
    from rtc.dsl.format import format_rt

    if args.files == ["-"]:
        text = sys.stdin.read()
        try:
            sys.stdout.write(format_rt(text, "<stdin>"))
        except CompileError as exc:
            print(exc.render({"<stdin>": text}), file=sys.stderr)
            return 1
        except RtcError as exc:
            print(exc.render(), file=sys.stderr)
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
        except RtcError as exc:
            print(exc.render(), file=sys.stderr)
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
            try:
                _rewrite(file, formatted)
            except OSError as exc:
                print(f"error: {file}: {exc.strerror or exc}; left as it was", file=sys.stderr)
                failed = True
                continue
            print(f"formatted {file}", file=sys.stderr)
    if failed:
        return 2
    return 1 if changed and (args.check or args.diff) else 0


def _rewrite(file: str, text: str) -> None:
    """Replace the file's content atomically, as the file it is: the same mode (a 0600 file stays
    0600) and owner, and through a symlink to its target (the link stays a link)."""
    import stat
    import tempfile

    target = os.path.realpath(file)
    info = os.stat(target)
    if not stat.S_ISREG(info.st_mode):
        raise OSError(0, "not a regular file")
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(target)}.", suffix=".tmp", dir=os.path.dirname(target))
    try:
        os.fchmod(fd, stat.S_IMODE(info.st_mode))
        if os.geteuid() == 0 or info.st_uid == os.geteuid():
            try:
                os.fchown(fd, info.st_uid, info.st_gid)
            except PermissionError:
                pass  # the group may not be ours: the mode still is the file's
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            fd = -1
            f.write(text)
        os.replace(tmp, target)
    except BaseException:
        if fd != -1:
            os.close(fd)
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


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
