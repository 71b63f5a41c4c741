"""`rtc check --watch`: check, then re-check whenever a checked file or one it imports is saved.

The first check prints what `rtc check` prints. After that, each save prints
only what changed: the problems that appeared (as `rtc check` shows them)
and the ones that went away (`fixed: ...`), or `ok: FILE` when a file's
last problem is gone. Parses of unchanged files are reused between checks
(the language server's `Project`). Runs until interrupted (Ctrl-C, exit 0).
"""

from __future__ import annotations

import os
import sys
import threading

from rtc.base.diagnostics import Diagnostic, render_text


def _key(d: Diagnostic) -> tuple:
    span = d.span
    return (d.code, d.message, span.file if span else "", span.line if span else 0, span.col if span else 0)


def watch(files: list[str], stop: threading.Event | None = None) -> int:
    from watchfiles import watch as watch_paths

    from rtc.lsp.project import Project

    mains = [os.path.abspath(f) for f in files]
    shown = dict(zip(mains, files))  # how the user named each file
    project = Project()
    previous: dict[str, dict[tuple, Diagnostic]] = {}
    read: set[str] = set()

    def check(first: bool) -> None:
        read.clear()
        for main in mains:
            checked = project.check(main)
            read.update(checked.files)
            now = {_key(d): d for d in checked.diagnostics}
            before = previous.get(main, {})
            appeared = [d for k, d in now.items() if k not in before]
            gone = [d for k, d in before.items() if k not in now]
            if first and not now:
                print(f"ok: {shown[main]}", flush=True)
            for d in gone:
                where = f"{d.span}: " if d.span else ""
                print(f"fixed: {where}[{d.code}] {d.message}", flush=True)
            if appeared:
                print(render_text(appeared), file=sys.stderr, flush=True)
            if not first and before and not now:
                print(f"ok: {shown[main]}", flush=True)
            previous[main] = now

    check(first=True)
    print(f"watching {len(read)} file{'s' * (len(read) != 1)}; Ctrl-C stops", file=sys.stderr, flush=True)
    try:
        while stop is None or not stop.is_set():
            folders = sorted({os.path.dirname(f) for f in read if os.path.isdir(os.path.dirname(f))})
            watched = set(read)
            for changes in watch_paths(*folders, stop_event=stop, debounce=50, rust_timeout=1000, yield_on_timeout=False):
                if any(os.path.abspath(path) in watched for _, path in changes):
                    check(first=False)
                    watched = set(read)
                    if {os.path.dirname(f) for f in read} - set(folders):
                        break  # a new import in another folder: watch that folder too
    except KeyboardInterrupt:
        pass
    return 0
