"""Tyger's own YAML spellings -> the `codespec` / `run` blocks of the syntax tree.

Used for Tyger codespec files and run-spec files taken as they are, and for
the `codespecs:` / `runs:` sections of rtc YAML (which use Tyger's keys).
The camelCase keys are renamed to the `.rt` attribute names; anything not
listed here passes through unchanged for the compiler to judge.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from rtc.dsl import ast
from rtc.dsl.yaml_nodes import YamlReader

CODESPEC_KEYS = {"workingDir": "workdir", "maxReplicas": "max_replicas"}
JOB_KEYS = {"nodePool": "node_pool"}


def read_codespec(reader: YamlReader, body: yaml.Node, name: str, module: ast.Module) -> list[ast.Item]:
    items: list[ast.Item] = []
    for key, key_node, value in reader.mapping(body, f"codespec {name!r}"):
        span = reader.span(key_node)
        if key == "buffers":
            for direction, dir_node, names in reader.mapping(value, "buffers"):
                refs = [reader.name_ref(n, "a buffer") for n in reader.sequence(names, f"buffers.{direction}")]
                items.append(ast.Attr(direction, ast.ListExpr(refs, reader.span(names)), reader.span(dir_node)))
        elif key == "resources":
            items.append(ast.SubBlock("resources", _resources(reader, value), span))
        elif key == "name":
            continue  # the block's name; read by the caller
        elif key == "sockets":
            items.append(ast.Attr("sockets", _sockets(reader.expr(value)), span))
        else:
            items.append(ast.Attr(CODESPEC_KEYS.get(key, key), reader.expr(value), span))
    return items


SOCKET_KEYS = {"inputBuffer": "input_buffer", "outputBuffer": "output_buffer"}


def _sockets(value: ast.Expr) -> ast.Expr:
    """Tyger's `sockets: [{port, inputBuffer, outputBuffer}]` with the `.rt` key names (`input_buffer`, ...)."""
    if not isinstance(value, ast.ListExpr):
        return value  # the compiler reports the shape
    items = []
    for item in value.items:
        if isinstance(item, ast.MapExpr):
            item = ast.MapExpr([ast.MapEntry(SOCKET_KEYS.get(e.key, e.key), e.value, e.span) for e in item.entries], item.span)
        items.append(item)
    return ast.ListExpr(items, value.span)


def _resources(reader: YamlReader, node: yaml.Node) -> list[ast.Item]:
    """Tyger's `{requests: {cpu, memory}, limits: {cpu, memory}, gpu}` -> cpu, memory, cpu_limit, ..."""
    items: list[ast.Item] = []
    for key, key_node, value in reader.mapping(node, "resources"):
        if key in ("requests", "limits"):
            suffix = "" if key == "requests" else "_limit"
            for res, res_node, amount in reader.mapping(value, f"resources.{key}"):
                items.append(ast.Attr(res + suffix, reader.expr(amount), reader.span(res_node)))
        else:
            items.append(ast.Attr(key, reader.expr(value), reader.span(key_node)))
    return items


def read_run(reader: YamlReader, body: yaml.Node, name: str, module: ast.Module) -> list[ast.Item]:
    items: list[ast.Item] = []
    for key, key_node, value in reader.mapping(body, f"run {name!r}"):
        span = reader.span(key_node)
        if key == "job":
            items += _job(reader, value, name, f"{name}-codespec", module, "job")
        elif key == "worker":
            items.append(ast.SubBlock("worker", _job(reader, value, name, f"{name}-worker-codespec", module, "worker"), span))
        elif key == "timeoutSeconds":
            items.append(ast.Attr("timeout", reader.seconds(value), span))
        elif key == "timeout":
            items.append(ast.Attr("timeout", reader.duration(value), span))
        elif key == "codespec":
            items.append(_codespec_ref(reader, key_node, value, f"{name}-codespec", module, "job"))
        else:
            items.append(ast.Attr(JOB_KEYS.get(key, key), reader.expr(value), span))
    return items


def _job(reader: YamlReader, node: yaml.Node, run: str, inline_name: str, module: ast.Module, kind: str) -> list[ast.Item]:
    items: list[ast.Item] = []
    for key, key_node, value in reader.mapping(node, f"the {kind} of run {run!r}"):
        if key == "codespec":
            items.append(_codespec_ref(reader, key_node, value, inline_name, module, kind))
        elif key == "bufferTtl":
            items.append(ast.Attr("buffer_ttl", _time_span(reader, value), reader.span(key_node)))
        else:
            items.append(ast.Attr(JOB_KEYS.get(key, key), reader.expr(value), reader.span(key_node)))
    return items


_TIME_SPAN = re.compile(r"([0-9]{1,6})\.([0-9][0-9]):([0-9][0-9])(?::([0-9][0-9]))?")  # ASCII digits only


def _time_span(reader: YamlReader, node: yaml.Node) -> ast.Expr:
    """Tyger's `bufferTtl: "D.HH:MM[:SS]"` (a .NET TimeSpan) as a Duration; other spellings as durations (`1h`)."""
    value = reader.expr(node)
    match = _TIME_SPAN.fullmatch(value.value.strip()) if isinstance(value, ast.Str) else None
    if match is None:
        return reader.duration(node)
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    if hours > 23 or minutes > 59 or seconds > 59:
        return reader.duration(node)  # reported as a bad duration, at its position
    return ast.Duration(value.value.strip(), float(days * 86400 + hours * 3600 + minutes * 60 + seconds), value.span)


def _codespec_ref(reader: YamlReader, key_node, value: yaml.Node, inline_name: str, module: ast.Module, kind: str) -> ast.Attr:
    """`codespec: hello`, `codespec: hello/versions/2`, or an inline codespec (a block of its own).

    An inline codespec's kind is where it stands (`job:` or `worker:`), as
    Tyger's CLI sets it: a `kind` written in it is replaced.
    """
    span = reader.span(key_node)
    if isinstance(value, yaml.MappingNode):
        items = [i for i in read_codespec(reader, value, inline_name, module)
                 if not (isinstance(i, ast.Attr) and i.name == "kind")]
        items.insert(0, ast.Attr("kind", ast.Str(kind, span), span))
        module.blocks.append(ast.Block("codespec", inline_name, items, span, span))
        return ast.Attr("codespec", ast.Ref([inline_name], reader.span(value)), span)
    return ast.Attr("codespec", reader.name_ref(value, "a codespec"), span)


def read_codespec_file(reader: YamlReader, root: yaml.Node, entries, stem: str, module: ast.Module) -> None:
    """A Tyger codespec file: the whole document is one codespec, named by `name:` or the file's stem."""
    name, span = stem, reader.span(root)
    for key, key_node, value in entries:
        if key == "name":
            text = reader.text(value, "name")
            if text is not None:
                name, span = text, reader.span(value)
    module.blocks.append(ast.Block("codespec", name, read_codespec(reader, root, name, module), span, span))


def read_run_file(reader: YamlReader, root: yaml.Node, stem: str, module: ast.Module) -> None:
    """A Tyger run-spec file (`job:` at the top): one run named after the file's stem."""
    span = reader.span(root)
    span = type(span)(span.file, span.line, span.col, span.line, span.col + 3)
    items = read_run(reader, root, stem, module)
    module.blocks.insert(0, ast.Block("run", stem, items, span, span))
    module.imports += _registered_codespecs(items, reader.file)


# ---------------------------------------------------------------- the codespec registry


def registry_dir() -> Path:
    """`$RTC_HOME/codespecs`: codespecs registered with `rtc codespec create`, one file per version.

    `<name>/<version>.yml` holds the codespec in Tyger's YAML (with its
    `name` and `version`), so a registered codespec is compiled as any
    codespec file is.
    """
    from rtc.base.home import rtc_home

    return rtc_home() / "codespecs"


def registered_versions(name: str) -> list[int]:
    """The versions of registered codespec `name`, oldest first (none when it is not registered)."""
    if not isinstance(name, str) or "/" in name or "\0" in name or name in ("", ".", "..") or len(name.encode("utf-8", "replace")) > 200:
        return []  # not a name the registry can hold (a name too long for a file name is simply not registered)
    folder = registry_dir() / name
    try:
        if not folder.is_dir():
            return []
        stems = [p.stem for p in folder.glob("*.yml")]
    except OSError:
        return []
    # versions are ASCII digits only: "²" is not a number, "١" is not 1
    return sorted(int(s) for s in stems if s.isascii() and s.isdigit() and len(s) <= 18)


def registered_file(name: str, version: int | None = None) -> Path | None:
    """The file of registered codespec `name` at `version` (default: its latest), or None."""
    versions = registered_versions(name)
    if not versions or (version is not None and version not in versions):
        return None
    return registry_dir() / name / f"{versions[-1] if version is None else version}.yml"


def _registered_codespecs(items: list[ast.Item], file: str) -> list[ast.Import]:
    """`codespec: hello` (or `hello/versions/2`) in a run-spec file: the registered codespec, else `hello.yml` beside it.

    Tyger looks the name up among codespecs created earlier with
    `tyger codespec create -f hello.yml`; `rtc codespec create` registers
    them in the run store, and the reference becomes an implicit import of
    the registered version's file. A codespec not registered may still be
    the file next to the run spec (rtc's convenience: no registration).
    A run spec named like its codespec (`hello.yml` holding `codespec:
    hello`) names the registered one, never itself.
    """
    refs = [i for i in items if isinstance(i, ast.Attr) and i.name == "codespec"]
    refs += [
        i for b in items if isinstance(b, ast.SubBlock) for i in b.items if isinstance(i, ast.Attr) and i.name == "codespec"
    ]
    imports = []
    here = Path(file).resolve()
    for attr in refs:
        value = attr.value
        name, version = (value.parts[0] if isinstance(value, ast.Ref) and len(value.parts) == 1 else None), None
        if isinstance(value, ast.Str):
            name, _, tail = value.value.partition("/versions/")
            version = int(tail) if tail.isascii() and tail.isdigit() and len(tail) <= 18 else None
        if not name:
            continue
        # a version that is not registered: the latest, so the compiler says which versions there are (E509)
        registered = registered_file(name, version) or registered_file(name)
        if registered is not None:
            imports.append(ast.Import(str(registered), value.span))
            continue
        for suffix in (".yml", ".yaml"):
            candidate = here.parent / f"{name}{suffix}"
            if candidate != here and candidate.is_file():
                imports.append(ast.Import(candidate.name, value.span))
                break
    return imports
