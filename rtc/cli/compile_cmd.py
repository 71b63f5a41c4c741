"""`rtc compile FILE --target ir|airflow|prefect [-o PATH] [--check]`."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import sys
from pathlib import Path

from rtc.cli import registry_option

# target name -> module exposing `render(pipeline) -> dict[str, str]` (relative path -> text)
TARGETS = {
    "ir": "rtc.integrations.ir_json",
    "airflow": "rtc.integrations.airflow",
    "prefect": "rtc.integrations.prefect",
}


def register(subparsers) -> None:
    p = subparsers.add_parser("compile", help="compile a pipeline to IR JSON, Airflow DAG files or Prefect flows")
    p.add_argument("file", help="pipeline file (.rt, .yaml or a Tyger codespec/run-spec YAML)")
    p.add_argument("--target", "-t", choices=sorted(TARGETS), default="ir")
    p.add_argument("-o", "--output", help="output folder (or file, for --target ir); default: standard output for ir")
    p.add_argument("--check", action="store_true", help="write nothing; exit 1 when the files on disk are not up to date")
    registry_option.add(p)
    p.set_defaults(func=run)


def render_target(pipeline, target: str) -> dict[str, str]:
    from rtc.compiler import fewer_collections

    if target == "airflow":  # what Assets cannot carry of `on` (E515)
        from rtc.compiler.triggers import refuse_on

        refuse_on(pipeline, target)
    if target in ("airflow", "prefect"):
        from rtc.compiler.lower_tyger import refuse_sockets

        refuse_sockets(pipeline, target)
    module = importlib.import_module(TARGETS[target])
    with fewer_collections():  # rendering allocates as much as compiling (a gen-2 rescan doubled it)
        return module.render(pipeline)


def merge_rules(target: str):
    """Files several namespaces may share in one folder, and how their texts merge."""
    if target == "prefect":
        from rtc.integrations.prefect.deployments import merge_prefect_yaml

        return {"prefect.yaml": merge_prefect_yaml}
    if target == "airflow":
        from rtc.integrations.airflow import merge_airflowignore

        return {".airflowignore": merge_airflowignore}
    return {}


def ir_file_output(out: Path, text: str) -> dict[Path, str]:
    """`-o FILE` for --target ir: a new file, or one that already holds rtc's IR (never anything else)."""
    import json

    from rtc.base.diagnostics import RtcError
    from rtc.files import existing_text

    current = existing_text(out)
    if current is not None and current != text:
        try:
            ours = isinstance(json.loads(current), dict) and "ir_version" in json.loads(current)
        except ValueError:
            ours = False
        if not ours:
            raise RtcError(f"-o {out}: the file exists and is not IR JSON rtc wrote; rtc does not overwrite it",
                           hint="choose another file name, or move the file away")
    return {out: text}


def run(args: argparse.Namespace) -> int:
    from rtc.compiler import compile_file
    from rtc.base.diagnostics import RtcError
    from rtc.files import output_lock, output_path

    pipeline = registry_option.apply(compile_file(args.file), args)
    rendered = render_target(pipeline, args.target)

    if args.output is None:
        if args.target != "ir" or args.check:
            raise RtcError(f"--target {args.target} needs -o FOLDER", hint="for example: -o dags/")
        sys.stdout.write("".join(rendered.values()))
        return 0

    out = output_path(args.output)
    if args.target == "ir" and (out.suffix == ".json" or (len(rendered) == 1 and not out.is_dir())):
        lock = contextlib.nullcontext()
    else:
        lock = output_lock(out, create=not args.check)  # ten compiles into one folder at once: one at a time
    with lock:
        return _write(args, out, pipeline, rendered)


def _write(args, out: Path, pipeline, rendered: dict[str, str]) -> int:
    from rtc.files import OutputPlan, apply_plan, plan_output

    if args.target == "ir" and (out.suffix == ".json" or (len(rendered) == 1 and not out.is_dir())):
        plan = OutputPlan(writes=ir_file_output(out, next(iter(rendered.values()))))
    else:
        # The manifest in the folder records what each pipeline wrote there, with hashes, so that a
        # renamed graph's old file goes and nothing rtc did not write is overwritten or deleted.
        plan = plan_output(out, f"{args.target}:{pipeline.namespace}", rendered, merge_rules(args.target))

    if args.check:
        stale = [p for p, text in plan.writes.items() if not p.is_file() or p.read_text(encoding="utf-8") != text]
        for p in stale:
            print(f"out of date: {p}", file=sys.stderr)
        for p in plan.obsolete:
            print(f"no longer generated: {p}", file=sys.stderr)
        if not stale and not plan.obsolete:
            print(f"up to date: {len(plan.writes)} file(s)", file=sys.stderr)
        return 1 if stale or plan.obsolete else 0

    if not rendered:
        print(f"nothing to write: {args.file} has no graphs or runs for --target {args.target}", file=sys.stderr)
    apply_plan(plan, report=lambda line: print(line, file=sys.stderr))
    return 0
