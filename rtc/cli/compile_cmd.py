"""`rtc compile FILE --target ir|airflow|prefect [-o PATH] [--check]`."""

from __future__ import annotations

import argparse
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
    module = importlib.import_module(TARGETS[target])
    return module.render(pipeline)


def run(args: argparse.Namespace) -> int:
    from rtc.compiler import compile_file
    from rtc.compiler.diagnostics import RtcError
    from rtc.files import MANIFEST, manifest_text, read_manifest, write_atomically

    pipeline = registry_option.apply(compile_file(args.file), args)
    rendered = render_target(pipeline, args.target)

    if args.output is None:
        if args.target != "ir" or args.check:
            raise RtcError(f"--target {args.target} needs -o FOLDER", hint="for example: -o dags/")
        sys.stdout.write("".join(rendered.values()))
        return 0

    out = Path(args.output)
    obsolete: list[Path] = []
    if args.target == "ir" and (out.suffix == ".json" or (len(rendered) == 1 and not out.is_dir())):
        files = {out: next(iter(rendered.values()))}
    else:
        # A manifest in the folder remembers what this pipeline wrote for this target, so
        # that a renamed or removed graph does not leave its old DAG or flow behind.
        key = f"{args.target}:{pipeline.namespace}"
        manifest = read_manifest(out)
        listed = manifest.get(key)
        before = {p for p in listed if isinstance(p, str)} if isinstance(listed, list) else set()
        obsolete = sorted(out / rel for rel in before - set(rendered) if (out / rel).is_file())
        files = {out / rel: text for rel, text in rendered.items()}
        files[out / MANIFEST] = manifest_text(manifest, key, rendered)

    if args.check:
        stale = [p for p, text in files.items() if not p.is_file() or p.read_text(encoding="utf-8") != text]
        for p in stale:
            print(f"out of date: {p}", file=sys.stderr)
        for p in obsolete:
            print(f"no longer generated: {p}", file=sys.stderr)
        if not stale and not obsolete:
            print(f"up to date: {len(files)} file(s)", file=sys.stderr)
        return 1 if stale or obsolete else 0

    if not rendered:
        print(f"nothing to write: {args.file} has no graphs or runs for --target {args.target}", file=sys.stderr)
    write_atomically(files)
    for p in files:
        print(f"wrote {p}", file=sys.stderr)
    for p in obsolete:
        p.unlink()
        print(f"removed {p} (no longer generated)", file=sys.stderr)
    return 0
