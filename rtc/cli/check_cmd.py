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
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rtc.compiler import compile_file
    from rtc.compiler.diagnostics import CompileError, RtcError

    results, failed = [], False
    for file in args.files:
        try:
            pipeline = compile_file(file)
        except CompileError as exc:
            failed = True
            results.append({"file": file, "ok": False, "diagnostics": [d.to_json() for d in exc.diagnostics]})
            if args.format == "text":
                print(exc.render(), file=sys.stderr)
            continue
        except RtcError as exc:
            failed = True
            results.append({"file": file, "ok": False, "diagnostics": [{"code": "error", "severity": "error", "message": str(exc)}]})
            if args.format == "text":
                print(exc.render(), file=sys.stderr)
            continue
        graphs, runs = len(pipeline.graphs), len(pipeline.runs)
        results.append({"file": file, "ok": True, "graphs": graphs, "runs": runs, "diagnostics": []})
        if args.format == "text":
            print(f"ok: {file} ({graphs} graph{'s' * (graphs != 1)}, {runs} run{'s' * (runs != 1)})")
    if args.format == "json":
        print(json.dumps({"files": results}, indent=2, sort_keys=True))
    return 1 if failed else 0
