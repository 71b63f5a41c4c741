"""`rtc build FILE [ENV...] [--registry R [--push]]`: build the images of a pipeline's environments (cached by content).

With a registry, each built image is also tagged with its registry name
(`rtc.compiler.registry.pushed_ref`: same content hash), and `--push` sends it
there, so that engines on other machines pull exactly what `rtc compile
--registry R` and `rtc run --registry R` name. Ready images are never pushed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rtc.cli import registry_option


def register(subparsers) -> None:
    p = subparsers.add_parser("build", help="build the Docker images of a pipeline's environments (and push them)")
    p.add_argument("file", help="pipeline file (.rt or .yaml), or its IR as .json")
    p.add_argument("envs", nargs="*", metavar="ENV", help="environments to build (default: all)")
    p.add_argument("-q", "--quiet", action="store_true", help="do not show the build's progress")
    p.add_argument("--push", action="store_true",
                   help="push the built images to the registry (--registry or $RTC_REGISTRY), for workers on other machines")
    registry_option.add(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rtc.cli.run_cmd import load_pipeline
    from rtc.compiler import registry as registries
    from rtc.base.diagnostics import RtcError
    from rtc.integrations.engine import containers as engine
    from rtc.integrations.images import build as images

    registry = registries.from_option(args.registry)
    if args.push and registry is None:
        raise RtcError("--push needs a registry", hint="--registry HOST[:PORT][/PREFIX], or set RTC_REGISTRY")
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
        progress = None if args.quiet else (lambda line, n=name: print(f"[{n}] {line}", file=sys.stderr, flush=True))
        if registries.registry_of(env.image) is not None and env.build is not None:
            # IR JSON compiled with --registry: build under the local tag, as from the source.
            env = env.with_changes({"image": registries.local_tag(env.image)})
        if images.is_up_to_date(client, env):
            print(f"{name}: up to date ({env.image})", file=sys.stderr)
        else:
            what = "building" if env.build is not None else "fetching"
            print(f"{name}: {what} {env.image}", file=sys.stderr)
            images.ensure_image(
                client, env, Path(pipeline.source).resolve().parent, progress, namespace=pipeline.namespace, source=pipeline.source
            )
            print(f"{name}: built {env.image}" if env.build is not None else f"{name}: pulled {env.image}", file=sys.stderr)
        if registry is None or env.build is None:
            continue  # ready images are used as written, wherever they come from
        ref = registries.pushed_ref(env.image, registry)
        images.tag(client, env.image, ref)
        if args.push:
            digest = images.push(client, ref, progress)
            print(f"{name}: pushed {ref} ({digest})", file=sys.stderr)
        else:
            print(f"{name}: tagged {ref} (not pushed: add --push)", file=sys.stderr)
    return 0
