"""`rtc schema [--format ir|yaml-source] [-o PATH]`: the JSON Schema of the IR, or of rtc's YAML files (deterministic)."""

from __future__ import annotations

import argparse
import json
import sys


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "schema",
        help="print the JSON Schema of the IR (or of rtc's YAML files)",
        description=(
            "Print the JSON Schema of the IR that `rtc compile --target ir` writes, or with "
            "--format yaml-source the schema of rtc's YAML pipeline files, for YAML editors."
        ),
    )
    p.add_argument("--format", choices=("ir", "yaml-source"), default="ir", help="which schema (default: ir)")
    p.add_argument("-o", "--output", help="write to this file instead of standard output")
    p.set_defaults(func=run)


def schema_text() -> str:
    from rtc.compiler.ir import IR_VERSION, Pipeline

    schema = Pipeline.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$comment"] = f"rtc IR version {IR_VERSION}"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def yaml_source_schema_text() -> str:
    from rtc.dsl.yaml_schema import yaml_source_schema

    return json.dumps(yaml_source_schema(), indent=2, sort_keys=True) + "\n"


def run(args: argparse.Namespace) -> int:
    text = yaml_source_schema_text() if getattr(args, "format", "ir") == "yaml-source" else schema_text()
    if args.output:
        from rtc.base.diagnostics import RtcError
        from rtc.files import output_path, write_atomically

        out = output_path(args.output)
        shown = args.output if len(args.output) <= 120 else args.output[:60] + "..." + args.output[-40:]
        if out.is_dir():
            raise RtcError(f"-o {shown}: is a folder; rtc schema writes one file", hint="name a file, e.g. -o schema.json")
        try:
            write_atomically({out: text})
        except OSError as exc:
            raise RtcError(f"-o {shown}: {exc.strerror or exc}", hint="name a file you can write (each name at most 255 bytes)") from None
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
