"""`rtc env up|run|down|logs|list`: envd's runtime for an `env` block of a pipeline file.

    rtc env up [FILE [ENV]]                  # start it: project folder, daemons, ports (printed), mounts, init
    rtc env run [FILE [ENV]] --command NAME  # run a named command inside it (starting it first when it is not up)
    rtc env logs [FILE [ENV]] [--daemon N]   # what its daemons printed
    rtc env down [FILE [ENV]]                # stop and remove it
    rtc env list                             # environments that are up

As with envd, FILE defaults to `build.envd` in the current folder (else
`pipeline.rt`) and ENV to the file's only environment.
"""

from __future__ import annotations

from rtc.cli.numbers import whole

import sys

DEFAULT_FILES = ("build.envd", "pipeline.rt", "pipeline.yaml")


def register(subparsers) -> None:
    p = subparsers.add_parser("env", help="start, use and stop an environment as a long-lived container (envd)")
    sub = p.add_subparsers(dest="env_command", metavar="COMMAND", required=True)

    def target(parser, project: bool = False) -> None:
        parser.add_argument("file", nargs="?", help="the file (default: build.envd, else pipeline.rt, in this folder)")
        parser.add_argument("env", nargs="?", help="the environment (default: the file's only one)")
        if project:
            parser.add_argument("--no-project", action="store_true",
                                help="do not mount the file's folder at /home/envd/<name> nor work there (envd does both)")

    u = sub.add_parser("up", help="start the environment's container with its project folder, daemons and ports")
    target(u, project=True)
    u.set_defaults(func=_up)

    r = sub.add_parser("run", help="run one of the environment's named commands inside it; starts it when it is not up")
    target(r, project=True)
    r.add_argument("--command", required=True, metavar="NAME")
    r.set_defaults(func=_run)

    lg = sub.add_parser("logs", help="what the environment's daemons printed (their supervisor's log)")
    target(lg)
    lg.add_argument("--daemon", type=whole, metavar="N", help="only daemon N (0 is the first)")
    lg.set_defaults(func=_logs)

    d = sub.add_parser("down", help="stop and remove the environment's container")
    target(d)
    d.set_defaults(func=_down)

    ls = sub.add_parser("list", help="environments that are up")
    ls.set_defaults(func=_list)


def _pipeline(args):
    """The pipeline and environment name the arguments (or their defaults) give."""
    import os

    from rtc.base.diagnostics import RtcError
    from rtc.cli.tyger_run_cmd import load_pipeline

    path = args.file
    if path is None:
        path = next((f for f in DEFAULT_FILES if os.path.isfile(f)), None)
        if path is None:
            raise RtcError("no build.envd (nor pipeline.rt) in this folder", hint="name the file: rtc env up FILE [ENV]")
    elif not os.path.exists(path):
        raise RtcError(f"no such file: {path}")
    pipeline = load_pipeline(path)
    name = args.env
    if name is None:
        names = sorted(pipeline.environments)
        if len(names) != 1:
            raise RtcError(f"{path} has {len(names) or 'no'} environments; name one" if names else f"{path} has no environment",
                           hint=f"rtc env {args.env_command} {path} " + " | ".join(names) if names else None)
        name = names[0]
    return pipeline, name


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _up(args) -> int:
    from rtc.integrations.engine import containers as engine
    from rtc.integrations.envd import environments as envd

    pipeline, name = _pipeline(args)
    env = envd.environment(pipeline, name)  # an unknown name fails before Docker is asked anything
    client = engine.connect()
    published = envd.up(client, pipeline, name, _say, project=not args.no_project)
    where = "" if args.no_project else f"; {envd.project_folder(pipeline, env)} is {envd.project_path(pipeline, env)}"
    _say(f"environment {envd.env_key(pipeline, name)} is up ({envd.container_name(pipeline, name)}){where}")
    for p in published:
        print(p, flush=True)
    return 0


def _run(args) -> int:
    from rtc.integrations.engine import containers as engine
    from rtc.integrations.envd import environments as envd

    pipeline, name = _pipeline(args)
    envd.check_command(pipeline, name, args.command)  # an unknown command starts nothing
    client = engine.connect()
    key = envd.env_key(pipeline, name)
    try:
        published = envd.ensure_up(client, pipeline, name, _say, project=not args.no_project)
    except envd.DaemonsExited as exc:  # the command may still work (or show why): say it, then run it
        _say(f"warning: {exc}")
        published = exc.published
    if published is not None:  # as `envd run` does: say so, and where its ports are
        _say(f"environment {key} was not up; started it ({envd.container_name(pipeline, name)})")
        for p in published:
            _say(str(p))
    return envd.run_command(client, pipeline, name, args.command)


def _logs(args) -> int:
    from rtc.integrations.engine import containers as engine
    from rtc.integrations.envd import environments as envd

    pipeline, name = _pipeline(args)
    logs = envd.daemon_logs(engine.connect(), pipeline, name, args.daemon)
    for index, command, text in logs:
        if len(logs) > 1 or args.daemon is None:
            print(f"==> daemon {index}: {command} <==", flush=True)
        sys.stdout.write(text if not text or text.endswith("\n") else text + "\n")
    sys.stdout.flush()
    return 0


def _down(args) -> int:
    from rtc.integrations.engine import containers as engine
    from rtc.integrations.envd import environments as envd

    pipeline, name = _pipeline(args)
    envd.environment(pipeline, name)
    removed = envd.down(engine.connect(), pipeline, name)
    key = envd.env_key(pipeline, name)
    _say(f"environment {key} removed" if removed else f"environment {key} was not up")
    return 0


def _list(args) -> int:
    from rtc.integrations.engine import containers as engine
    from rtc.integrations.envd import environments as envd

    for e in envd.list_envs(engine.connect()):
        print(f"{e['env']}\t{e['status']}\t{' '.join(e['ports'])}")
    return 0
