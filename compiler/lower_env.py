"""`env` blocks -> ir.Environment: the build side (base image, packages, copied
files) and the runtime side (environ, mounts, ports, daemons, init, commands)."""

from __future__ import annotations

import shlex

from rtc.compiler import codes, ir
from rtc.compiler.attributes import BlockView, read_block
from rtc.compiler.context import Context
from rtc.compiler.digest import content_digest
from rtc.compiler.images import image_tag
from rtc.compiler.resolve import Entry
from rtc.compiler.validate import (
    copy_source_problem,
    env_var_problem,
    environ_problem,
    environ_total_problem,
    host_ip_problem,
    image_problem,
    port_problem,
)
from rtc.compiler.values import INVALID, read_str_list
from rtc.dsl import ast

_BUILD_ONLY = ("pip", "apt")


def lower_env(ctx: Context, entry: Entry, namespace: str, python: bool) -> ir.Environment | None:
    """`python`: some Python node runs in this environment (the node SDK goes in)."""
    block = entry.block
    label = f"env `{block.name}`"
    view = read_block(ctx, "env", block.items, block.span, label)
    ok = _check_base_or_image(ctx, view, label)

    runtime = _runtime(ctx, view, entry.module.file)
    copies = [s for s in view.statements if isinstance(s, ast.CopyStmt)]
    file_copies = [c for c in (_file_copy(ctx, s, entry.module.file) for s in copies) if c is not None]

    if view.has("image"):
        for name in _BUILD_ONLY:
            if view.has(name):
                ctx.error(codes.CONFLICTING_ATTRIBUTES, f"`{name}` needs a built image, but {label} uses a ready `image`", view.attrs[name].span, hint="use `base = ...` to build on top of that image, or drop it")
        for stmt in copies:
            ctx.error(codes.CONFLICTING_ATTRIBUTES, f"`copy` needs a built image, but {label} uses a ready `image`", stmt.span, hint="use `base = ...` to build on top of that image")

    if not ok or runtime is None or len(file_copies) != len(copies):
        return None
    if view.has("image"):
        return ir.Environment(name=block.name, image=view.get("image"), build=None, span=ctx.ir_span(block.span), **runtime)
    build = ir.BuildSpec(
        base=view.get("base"),
        apt=view.get("apt", []),
        pip=view.get("pip", []),
        copy_files=file_copies,
        python=python,
    )
    return ir.Environment(name=block.name, image=image_tag(namespace, block.name, build), build=build, span=ctx.ir_span(block.span), **runtime)


def _check_base_or_image(ctx: Context, view: BlockView, label: str) -> bool:
    hint = '`base = "python:3.11-slim"` builds an image from it; `image = "org/img:tag"` uses an image as it is'
    if not view.exactly_one(ctx, codes.BASE_OR_IMAGE, "base", "image", label, hint):
        return False
    key = "base" if view.has("base") else "image"
    ref = view.get(key)
    if ref is None:
        return False
    problem = image_problem(ref)
    if problem:
        ctx.error(codes.BAD_IMAGE, problem, view.value_span(key))
        return False
    return True


def _runtime(ctx: Context, view: BlockView, file: str) -> dict | None:
    """The runtime fields of ir.Environment, or None when one of them is bad."""
    start = ctx.mark()
    environ = view.get("environ", {})
    check_environ(ctx, view, "environ", environ)
    out: dict = {"environ": environ, "mounts": [], "expose": [], "daemons": [], "init": [], "commands": {}, "workdir": view.get("workdir")}
    for stmt in view.statements:
        if isinstance(stmt, ast.MountStmt):
            host, _ = ctx.host_path(stmt.host.value, file)
            out["mounts"].append(ir.Mount(host_path=host, container_path=stmt.container.value, read_only=stmt.read_only))
        elif isinstance(stmt, ast.ExposeStmt):
            expose = _expose(ctx, stmt)
            if expose is not None:
                out["expose"].append(expose)
        elif isinstance(stmt, ast.DaemonStmt):
            argv = read_str_list(ctx, stmt.argv, "`daemon`")
            if argv is not INVALID:
                out["daemons"].append(argv)
        elif isinstance(stmt, ast.InitStmt):
            commands = read_str_list(ctx, stmt.commands, "`init`")
            if commands is not INVALID:
                out["init"].extend(commands)
        elif isinstance(stmt, ast.CommandStmt):
            if stmt.name in out["commands"]:
                ctx.error(codes.DUPLICATE_MEMBER, f"command `{stmt.name}` is defined twice", stmt.span)
                continue
            text = _command_text(ctx, stmt)
            if text is not None:
                out["commands"][stmt.name] = text
    seen_ports: set[int] = set()
    for stmt in view.statements:
        if isinstance(stmt, ast.ExposeStmt):
            port = stmt.container_port.value
            if port in seen_ports:
                ctx.error(codes.DUPLICATE_MEMBER, f"container port {port} is exposed twice", stmt.span)
            seen_ports.add(port)
    return None if ctx.errors_since(start) else out


def _expose(ctx: Context, stmt: ast.ExposeStmt) -> ir.Expose | None:
    ok = True
    problem = port_problem(stmt.container_port.value, "container port")
    if problem:
        ctx.error(codes.BAD_PORT, problem, stmt.container_port.span)
        ok = False
    host_port = stmt.host_port.value if stmt.host_port is not None else 0
    problem = port_problem(host_port, "host port", allow_zero=True)
    if problem:
        ctx.error(codes.BAD_PORT, problem, stmt.host_port.span, hint="0 (or no host port) picks a free port")
        ok = False
    host_ip = stmt.host_ip.value if stmt.host_ip is not None else "127.0.0.1"
    problem = host_ip_problem(host_ip)
    if problem:
        ctx.error(codes.BAD_HOST_IP, problem, stmt.host_ip.span)
        ok = False
    if not ok:
        return None
    service = stmt.service.value if stmt.service is not None else None
    return ir.Expose(container_port=stmt.container_port.value, host_port=host_port, host_ip=host_ip, service=service)


def _command_text(ctx: Context, stmt: ast.CommandStmt) -> str | None:
    if isinstance(stmt.command, ast.Str):
        return stmt.command.value
    argv = read_str_list(ctx, stmt.command, f"command `{stmt.name}`")
    return None if argv is INVALID else shlex.join(argv)


def check_environ(ctx: Context, view: BlockView, attr: str, environ: dict[str, str]) -> None:
    """Names (E505), and values the kernel would refuse to hand a container's program (E514)."""
    for key, value in environ.items():
        problem = env_var_problem(key)
        if problem:
            ctx.error(codes.BAD_ENV_VAR, f"{attr}: {problem}", view.key_span(attr, key))
        else:
            problem = environ_problem(key, value)
            if problem:
                ctx.error(codes.BAD_ENV_VALUE, f"{attr}: {problem}", view.key_span(attr, key))
    problem = environ_total_problem(environ)
    if problem:
        ctx.error(codes.BAD_ENV_VALUE, f"{attr}: {problem}", view.value_span(attr))


def _file_copy(ctx: Context, stmt: ast.CopyStmt, file: str) -> ir.FileCopy | None:
    host, absolute = ctx.host_path(stmt.host.value, file)
    problem = copy_source_problem(host, ctx.main_dir)
    if problem:
        ctx.error(codes.COPY_OUTSIDE, problem, stmt.host.span,
                  hint="copy sources stay inside the folder of the pipeline file, as a Docker build context does; move or copy the files there")
        return None
    if not absolute.exists():
        ctx.error(codes.MISSING_COPY_SOURCE, f"`copy` source {stmt.host.value!r} does not exist (looked for {host})", stmt.host.span, hint="paths are relative to the file that declares the env")
        return None
    return ir.FileCopy(host_path=host, container_path=stmt.container.value, digest=content_digest(absolute))

