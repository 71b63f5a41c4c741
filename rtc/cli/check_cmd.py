"""`rtc check FILE... [--format text|json]`: parse and check, write nothing."""

from __future__ import annotations

import argparse
import json
import sys


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "check",
        help="check pipeline files and report every problem found",
        description="Parse and check each FILE (and what it imports). Exit 1 when any file has errors.",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="pipeline file (.rt, .yaml, or a Tyger codespec/run-spec YAML)")
    p.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="json: one object {\"files\": [{\"file\", \"ok\", \"graphs\", \"runs\", \"diagnostics\": [...]}]} on standard output",
    )
    p.add_argument(
        "--watch",
        action="store_true",
        help="keep running: re-check whenever a FILE or a file it imports is saved, printing only what changed",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if getattr(args, "watch", False):
        from rtc.cli.check_watch import watch

        return watch(args.files)

    from rtc import compile_cache
    from rtc.base.diagnostics import CompileError, RtcError

    results, failed = [], False
    for file in args.files:
        # A file that checked clean before, unchanged (its imports, copy sources and rtc too), is not compiled
        # again: no compiler, no pydantic imported (rtc/compile_cache.py).
        summary = compile_cache.lookup(file)
        if summary is None:
            try:
                summary = _compile(file)
            except (CompileError, RtcError) as exc:
                from rtc.cli.tyger_run_cmd import explain_unregistered

                explain_unregistered(exc)
                failed = True
                results.append({"file": file, "ok": False, "diagnostics": _diagnostics(exc)})
                if args.format == "text":
                    print(exc.render(), file=sys.stderr)
                continue
        graphs, runs = summary["graphs"], summary["runs"]
        notes = summary.get("notes", [])
        results.append({"file": file, "ok": True, "graphs": graphs, "runs": runs, "diagnostics": [],
                        **({"warnings": notes} if notes else {})})
        if args.format == "text":
            for note in notes:  # said once: a file that checked clean is not compiled again while unchanged
                print(f"warning: {note}", file=sys.stderr)
            print(f"ok: {file} ({graphs} graph{'s' * (graphs != 1)}, {runs} run{'s' * (runs != 1)})")
    if args.format == "json":
        print(json.dumps({"files": results}, indent=2, sort_keys=True))
    return 1 if failed else 0


def _compile(file: str) -> dict:
    """Compile `file`, remember a clean result; raises CompileError or RtcError."""
    from rtc import compile_cache
    from rtc.compiler import compile_modules, fewer_collections
    from rtc.dsl import load_modules

    with fewer_collections():  # as compile_file does
        modules = load_modules(file)
        pipeline = compile_modules(modules, file)
    compile_cache.remember(file, [m.file for m in modules], pipeline)
    return {"graphs": len(pipeline.graphs), "runs": len(pipeline.runs), "notes": runtime_notes(pipeline)}


def runtime_notes(pipeline) -> list[str]:
    """What Exosphere node files ask of their Runtime that rtc ignores, with what rtc does instead (once per file)."""
    import os
    from pathlib import Path

    from rtc.base.diagnostics import CompileError
    from rtc.compiler.python_nodes import CodeRoot, find_module
    from rtc.dsl.python_node import PythonModule

    files: dict[str, None] = {}
    for node in pipeline.nodes.values():
        env = pipeline.environments.get(node.env)
        if not node.python or env is None or env.build is None:
            continue
        roots = []
        for item in env.build.copy_files:
            host = Path(pipeline.host_path(item.host_path))
            if host.is_dir():
                roots.append(CodeRoot(folder=host))
            elif host.suffix == ".py":
                dest = item.container_path
                roots.append(CodeRoot(file=host, name=Path(host.name if dest.endswith("/") else dest).stem))
        path = find_module(roots, node.python.partition(":")[0])
        if path is not None:
            files.setdefault(str(path))
    notes = []
    base = os.path.dirname(os.path.abspath(pipeline.source))
    for path in files:
        try:
            module = PythonModule(path, Path(path).read_text(encoding="utf-8"))
        except (CompileError, OSError, UnicodeDecodeError):
            continue
        if not module.exosphere:
            continue
        shown = os.path.relpath(path, base)
        notes += [f"{shown}:{line}: {text}" for line, text in module.runtime_notes()]
    return notes


def _diagnostics(exc) -> list[dict]:
    from rtc.base.diagnostics import CompileError

    if isinstance(exc, CompileError):
        return [d.to_json() for d in exc.diagnostics]
    return [{"code": "error", "severity": "error", "message": str(exc)}]
