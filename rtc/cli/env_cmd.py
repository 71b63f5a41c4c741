"""`rtc env up|run|down|list`: envd's runtime for an `env` block of a pipeline file.

    rtc env up FILE ENV                  # start it: daemons, ports (printed), mounts, init
    rtc env run FILE ENV --command NAME  # run a named command inside it (starting it first when it is not up)
    rtc env down FILE ENV                # stop and remove it
    rtc env list                         # environments that are up
"""

from __future__ import annotations

import sys


def register(subparsers) -> None:
    p = subparsers.add_parser("env", help="start, use and stop an environment as a long-lived container (envd)")
    sub = p.add_subparsers(dest="env_command", metavar="COMMAND", required=True)

    u = sub.add_parser("up", help="start the environment's container with its daemons and ports")
    u.add_argument("file")
    u.add_argument("env")
    u.set_defaults(func=_up)

    r = sub.add_parser("run", help="run one of the environment's named commands inside it; starts it when it is not up")
    r.add_argument("file")
    r.add_argument("env")
    r.add_argument("--command", required=True, metavar="NAME")
    r.set_defaults(func=_run)

    d = sub.add_parser("down", help="stop and remove the environment's container")
    d.add_argument("file")
    d.add_argument("env")
    d.set_defaults(func=_down)

    ls = sub.add_parser("list", help="environments that are up")
    ls.set_defaults(func=_list)


def _pipeline(path: str):
    from rtc.cli.tyger_run_cmd import load_pipeline

    return load_pipeline(path)


def _up(args) -> int:
    from rtc.integrations.engine import containers as engine
    from rtc.integrations.envd import environments as envd

    pipeline = _pipeline(args.file)
    envd.environment(pipeline, args.env)  # an unknown name fails before Docker is asked anything
    client = engine.connect()
    progress = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731
    published = envd.up(client, pipeline, args.env, progress)
    print(f"environment {envd.env_key(pipeline, args.env)} is up ({envd.container_name(pipeline, args.env)})",
          file=sys.stderr)
    for p in published:
        print(p, flush=True)
    return 0


def _run(args) -> int:
    from rtc.integrations.engine import containers as engine
    from rtc.integrations.envd import environments as envd

    pipeline = _pipeline(args.file)
    envd.check_command(pipeline, args.env, args.command)  # an unknown command starts nothing
    client = engine.connect()
    key = envd.env_key(pipeline, args.env)
    progress = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731
    published = envd.ensure_up(client, pipeline, args.env, progress)
    if published is not None:  # as `envd run` does: say so, and where its ports are
        print(f"environment {key} was not up; started it ({envd.container_name(pipeline, args.env)})", file=sys.stderr)
        for p in published:
            print(p, file=sys.stderr, flush=True)
    return envd.run_command(client, pipeline, args.env, args.command)


def _down(args) -> int:
    from rtc.integrations.engine import containers as engine
    from rtc.integrations.envd import environments as envd

    pipeline = _pipeline(args.file)
    envd.environment(pipeline, args.env)
    removed = envd.down(engine.connect(), pipeline, args.env)
    key = envd.env_key(pipeline, args.env)
    print(f"environment {key} removed" if removed else f"environment {key} was not up", file=sys.stderr)
    return 0


def _list(args) -> int:
    from rtc.integrations.engine import containers as engine
    from rtc.integrations.envd import environments as envd

    for e in envd.list_envs(engine.connect()):
        print(f"{e['env']}\t{e['status']}\t{' '.join(e['ports'])}")
    return 0
