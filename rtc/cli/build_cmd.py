"""`rtc build FILE [ENV...]`: build the images of a pipeline's environments (cached by content)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser("build", help="build the Docker images of a pipeline's environments")
    p.add_argument("file", help="pipeline file (.rt or .yaml), or its IR as .json")
    p.add_argument("envs", nargs="*", metavar="ENV", help="environments to build (default: all)")
    p.add_argument("-q", "--quiet", action="store_true", help="do not show the build's progress")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rtc.cli.run_cmd import load_pipeline
    from rtc.compiler.diagnostics import RtcError
    from rtc.integrations.docker import engine, images

    pipeline = load_pipeline(args.file)
    unknown = [name for name in args.envs if name not in pipeline.environments]
    if unknown:
        raise RtcError(
            f"{args.file} has no environment {', '.join(map(repr, unknown))}",
            hint=f"its environments: {', '.join(pipeline.environments) or '(none)'}",
        )
    names = args.envs or sorted(pipeline.environments)
    if not names:
        print(f"{args.file}: no environments to build", file=sys.stderr)
        return 0
    client = engine.connect()
    for name in names:
        env = pipeline.environments[name]
        if images.is_up_to_date(client, env):
            print(f"{name}: up to date ({env.image})", file=sys.stderr)
            continue
        what = "building" if env.build is not None else "fetching"
        print(f"{name}: {what} {env.image}", file=sys.stderr)
        progress = None if args.quiet else (lambda line, n=name: print(f"[{n}] {line}", file=sys.stderr, flush=True))
        images.ensure_image(
            client, env, Path(pipeline.source).resolve().parent, progress, namespace=pipeline.namespace, source=pipeline.source
        )
        print(f"{name}: built {env.image}" if env.build is not None else f"{name}: pulled {env.image}", file=sys.stderr)
    return 0
