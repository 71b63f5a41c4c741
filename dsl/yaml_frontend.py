"""The YAML front end: the same structure as `.rt`, onto the same syntax tree.

Three kinds of file, told apart by their top-level keys:

* rtc YAML: `namespace`, `imports`, `envs`, `nodes`, `graphs`, `codespecs`, `runs`;
* a Tyger codespec file: `name`, `image`, `buffers`, `command`, ... (tyger_yaml);
* a Tyger run-spec file: `job:` (tyger_yaml);
* an Exosphere graph template: `nodes:` is a list (exosphere_yaml).

Keys this module does not map specially become plain attributes, so that an
unknown or misplaced key is the compiler's diagnostic (with a "did you
mean"), exactly as for `.rt`. Only `yaml.compose` with SafeLoader is used.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from rtc.base.diagnostics import CompileError, Diagnostic, Span, sorted_diagnostics
from rtc.dsl import ast, exosphere_yaml, tyger_yaml
from rtc.dsl.yaml_nodes import BAD_YAML, YamlReader, describe, is_null, normalize_type

TOP_LEVEL_KEYS = ("namespace", "imports", "envs", "nodes", "graphs", "codespecs", "runs")
DURATION_KEYS = ("timeout", "delay", "max_delay", "backoff_factor")
TRIGGERS = {"ALL_SUCCESS": "all_success", "ALL_DONE": "all_done"}


def parse_yaml(text: str, file: str) -> ast.Module:
    """Parse one YAML source (rtc, Tyger codespec or Tyger run spec); raise `CompileError`."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        raise CompileError(_yaml_error(exc, file)) from None
    except yaml.YAMLError as exc:
        raise CompileError(Diagnostic(BAD_YAML, f"not valid YAML: {exc}", Span(file, 1, 1))) from None
    except RecursionError:
        raise CompileError(Diagnostic(BAD_YAML, "the YAML is nested too deeply", Span(file, 1, 1))) from None
    reader = YamlReader(file)
    module = ast.Module(file=file)
    try:
        _read_module(reader, root, module)
    except RecursionError:
        reader.error("the YAML is nested too deeply", root)
    if reader.diagnostics:
        raise CompileError(sorted_diagnostics(reader.diagnostics))
    return module


def _yaml_error(exc: yaml.MarkedYAMLError, file: str) -> Diagnostic:
    mark = exc.problem_mark or exc.context_mark
    span = Span(file, mark.line + 1, mark.column + 1, mark.line + 1, mark.column + 2) if mark else Span(file, 1, 1)
    problem = exc.problem or "not valid YAML"
    hint = None
    if "\\t" in problem or "'\\t'" in problem:
        problem, hint = "a tab character; YAML indents with spaces only", "replace the tab with spaces"
    elif exc.context:
        problem = f"{problem} ({exc.context})"
    if "another document" in (exc.problem or ""):
        hint = "an rtc YAML file holds one document; remove the `---` line"
    return Diagnostic(BAD_YAML, f"bad YAML: {problem}", span, hint)


def _read_module(reader: YamlReader, root: yaml.Node | None, module: ast.Module) -> None:
    if is_null(root):
        return
    if not isinstance(root, yaml.MappingNode):
        reader.error(f"the file must be a mapping of top-level keys, not {describe(root)}", root)
        return
    entries = reader.mapping(root, "the file")
    keys = {key for key, _, _ in entries}
    if "job" in keys:
        tyger_yaml.read_run_file(reader, root, Path(module.file).stem, module)
        return
    if exosphere_yaml.is_template(entries):
        exosphere_yaml.read_template(reader, root, entries, Path(module.file).stem, module)
        return
    if "image" in keys and not keys & set(TOP_LEVEL_KEYS):
        tyger_yaml.read_codespec_file(reader, root, entries, Path(module.file).stem, module)
        return
    for key, key_node, value in entries:
        if key == "namespace":
            module.namespace = reader.text(value, "namespace")
            module.namespace_span = reader.span(value)
        elif key == "imports":
            for item in reader.sequence(value, "imports"):
                module.imports += _import(reader, item)
        elif key.startswith("x-"):
            continue  # extension keys (as in docker-compose): a home for YAML anchors
        elif key in BLOCK_READERS:
            kind, read = BLOCK_READERS[key]
            for name, name_node, body in reader.mapping(value, key):
                span = reader.span(name_node)
                if key == "graphs" and isinstance(body, yaml.MappingNode) and exosphere_yaml.is_template(
                        [(k.value, k, v) for k, v in body.value if isinstance(k, yaml.ScalarNode)]):
                    module.blocks.append(exosphere_yaml.nested_template(reader, body, name, span, module))
                    continue
                module.blocks.append(ast.Block(kind, name, read(reader, body, name, module), span, span))
        else:
            reader.error(
                f"unknown top-level key {key!r}",
                key_node,
                "expected one of " + ", ".join(TOP_LEVEL_KEYS)
                + " (or a Tyger codespec with `image:` / a Tyger run spec with `job:`)",
            )


def _import(reader: YamlReader, item: yaml.Node) -> list[ast.Import]:
    """`path`, or `{path: trainer/build.envd, as: gpu}` (an envd file's env under another name)."""
    if isinstance(item, yaml.MappingNode):
        fields = _fields(reader, item, "an import", ("path", "as"))
        path = _required_str(reader, fields, "path", item, "an import")
        alias = _required_str(reader, fields, "as", item, "an import") if "as" in fields else None
        return [ast.Import(path.value, reader.span(item), alias.value if alias else None)] if path else []
    path = reader.text(item, "an import")
    return [ast.Import(path, reader.span(item))] if path is not None else []


# ---------------------------------------------------------------- env

# envd's own keyword names, accepted beside rtc's (docs/language.md, `env`).
ENVD_ENV_KEYS = {"env": "environ", "python_packages": "pip", "apt_packages": "apt", "command": "commands"}
ENVD_PATH_KEYS = {"host_path": "host", "envd_path": "container"}
ENVD_EXPOSE_KEYS = {"envd_port": "port", "listen_addr": "host_ip"}


def _read_env(reader: YamlReader, body: yaml.Node, name: str, module: ast.Module) -> list[ast.Item]:
    items: list[ast.Item] = []
    for key, key_node, value in reader.mapping(body, f"env {name!r}"):
        span = reader.span(key_node)
        key = ENVD_ENV_KEYS.get(key, key)
        if key in ("mounts", "mount"):
            items += [_mount(reader, m) for m in reader.sequence(value, key)]
        elif key == "copy":
            items += [_copy(reader, c) for c in reader.sequence(value, key)]
        elif key == "expose":
            items += [_expose(reader, e) for e in reader.sequence(value, key)]
        elif key in ("daemons", "daemon"):
            for argv in reader.sequence(value, key):
                items.append(ast.DaemonStmt(_list(reader, argv, "a daemon"), reader.span(argv)))
        elif key == "init":
            items.append(ast.InitStmt(_list(reader, value, "init"), span))
        elif key == "commands":
            for cmd, cmd_node, command in reader.mapping(value, "commands"):
                items.append(ast.CommandStmt(cmd, reader.expr(command), reader.span(cmd_node)))
        else:
            items.append(ast.Attr(key, reader.expr(value), span))
    return [i for i in items if i is not None]


def _list(reader: YamlReader, node: yaml.Node, what: str) -> ast.ListExpr:
    value = reader.expr(node)
    if not isinstance(value, ast.ListExpr):
        reader.error(f"{what} must be a list, not {describe(node)}", node)
        return ast.ListExpr([], reader.span(node))
    return value


def _fields(reader: YamlReader, node: yaml.Node, what: str, allowed: tuple[str, ...],
            aliases: dict[str, str] | None = None) -> dict[str, yaml.Node]:
    out = {}
    for key, key_node, value in reader.mapping(node, what):
        key = (aliases or {}).get(key, key)
        if key in out:
            reader.error(f"{what} gives {key!r} twice (under two names)", key_node)
        elif key not in allowed:
            reader.error(f"unknown key {key!r} in {what}", key_node, "expected " + ", ".join(allowed))
        else:
            out[key] = value
    return out


def _required_str(reader: YamlReader, fields: dict, key: str, node: yaml.Node, what: str) -> ast.Str | None:
    if key not in fields:
        reader.error(f"{what} needs `{key}`", node)
        return None
    value = reader.expr(fields[key])
    if not isinstance(value, ast.Str):
        reader.error(f"`{key}` of {what} must be a string", fields[key])
        return None
    return value


def _mount(reader: YamlReader, node: yaml.Node) -> ast.MountStmt | None:
    fields = _fields(reader, node, "a mount", ("host", "container", "readonly"), ENVD_PATH_KEYS)
    host = _required_str(reader, fields, "host", node, "a mount")
    container = _required_str(reader, fields, "container", node, "a mount")
    readonly = reader.expr(fields["readonly"]) if "readonly" in fields else None
    if readonly is not None and not isinstance(readonly, ast.Bool):
        reader.error("`readonly` of a mount must be true or false", fields["readonly"])
    if host is None or container is None:
        return None
    return ast.MountStmt(host, container, isinstance(readonly, ast.Bool) and readonly.value, reader.span(node))


def _copy(reader: YamlReader, node: yaml.Node) -> ast.CopyStmt | None:
    fields = _fields(reader, node, "a copy", ("host", "container"), ENVD_PATH_KEYS)
    host = _required_str(reader, fields, "host", node, "a copy")
    container = _required_str(reader, fields, "container", node, "a copy")
    if host is None or container is None:
        return None
    return ast.CopyStmt(host, container, reader.span(node))


def _expose(reader: YamlReader, node: yaml.Node) -> ast.ExposeStmt | None:
    if isinstance(node, yaml.ScalarNode):  # `expose: [8000]`
        fields = {"port": node}
    else:
        fields = _fields(reader, node, "an expose", ("port", "host_port", "host_ip", "service"), ENVD_EXPOSE_KEYS)
    ints = {}
    for key in ("port", "host_port"):
        if key in fields:
            value = reader.expr(fields[key])
            if isinstance(value, ast.Str) and value.value.strip().isdigit():  # envd types ports as str
                value = ast.Int(int(value.value), value.span)
            if isinstance(value, ast.Int) and not isinstance(value.value, bool):
                ints[key] = value
            else:
                reader.error(f"`{key}` of an expose must be a whole number", fields[key])
    if "port" not in fields:
        reader.error("an expose needs `port`", node)
    if "port" not in ints:
        return None
    strs = {}
    for key in ("host_ip", "service"):
        if key in fields:
            value = reader.expr(fields[key])
            if isinstance(value, ast.Str):
                strs[key] = value
            else:
                reader.error(f"`{key}` of an expose must be a string", fields[key])
    return ast.ExposeStmt(ints["port"], ints.get("host_port"), strs.get("host_ip"), strs.get("service"), reader.span(node))


# ---------------------------------------------------------------- node


def _read_node(reader: YamlReader, body: yaml.Node, name: str, module: ast.Module) -> list[ast.Item]:
    items: list[ast.Item] = []
    for key, key_node, value in reader.mapping(body, f"node {name!r}"):
        span = reader.span(key_node)
        if key in ("inputs", "outputs"):
            items.append(ast.PortBlock(key, _ports(reader, value, key), span))
        elif key == "secrets":
            items.append(ast.PortBlock(key, _secrets(reader, value), span))
        elif key in ("retry_policy", "retry"):
            items.append(ast.SubBlock(key, retry_items(reader, value, key), span))
        elif key == "env":
            items.append(ast.Attr(key, reader.name_ref(value, "env"), span))
        elif key in DURATION_KEYS:
            items.append(ast.Attr(key, reader.duration(value), span))
        else:
            items.append(ast.Attr(key, reader.expr(value), span))
    return items


def _ports(reader: YamlReader, node: yaml.Node, what: str) -> list[ast.PortDecl]:
    """`{path: str}` or `{source: {type: str, default: x}}`."""
    ports = []
    for name, name_node, value in reader.mapping(node, what):
        span = reader.span(name_node)
        if isinstance(value, yaml.MappingNode):
            fields = _fields(reader, value, f"{what} {name!r}", ("type", "default"))
            type_node = fields.get("type")
            default = reader.expr(fields["default"]) if "default" in fields else None
        else:
            type_node, default = value, None
        type_text = reader.text(type_node, f"the type of {name!r}") if type_node is not None else None
        type_span = reader.span(type_node) if type_node is not None else None
        ports.append(ast.PortDecl(name, normalize_type(type_text) if type_text else None, default, span, type_span))
    return ports


def _secrets(reader: YamlReader, node: yaml.Node) -> list[ast.PortDecl]:
    """`[API_KEY]`, or Exosphere's typed `{API_KEY: str}`."""
    if isinstance(node, yaml.MappingNode):
        return _ports(reader, node, "secrets")
    out = []
    for item in reader.sequence(node, "secrets"):
        name = reader.text(item, "a secret")
        if name is not None:
            out.append(ast.PortDecl(name, None, None, reader.span(item)))
    return out


def retry_items(reader: YamlReader, node: yaml.Node, what: str) -> list[ast.Item]:
    """`retry_policy` (Exosphere's: bare numbers are milliseconds) or `retry` items."""
    items: list[ast.Item] = []
    for key, key_node, value in reader.mapping(node, what):
        span = reader.span(key_node)
        expr = reader.expr(value)
        if key in DURATION_KEYS:
            if isinstance(expr, (ast.Int, ast.Float)) and what == "retry_policy":  # Exosphere counts milliseconds
                expr = ast.Duration(f"{expr.value}ms", expr.value / 1000, expr.span)
            else:
                expr = reader.duration(value)
        items.append(ast.Attr(key, expr, span))
    return items


# ---------------------------------------------------------------- graph


def _read_graph(reader: YamlReader, body: yaml.Node, name: str, module: ast.Module) -> list[ast.Item]:
    items: list[ast.Item] = []
    for key, key_node, value in reader.mapping(body, f"graph {name!r}"):
        span = reader.span(key_node)
        if key == "params":
            items.append(ast.PortBlock("params", _ports(reader, value, "params"), span))
        elif key == "steps":
            items += _steps(reader, value)
        elif key in ("retry_policy", "retry"):
            items.append(ast.SubBlock(key, retry_items(reader, value, key), span))
        elif key == "on":
            items.append(ast.Attr(key, _on_refs(reader.expr(value)), span))
        else:
            items.append(ast.Attr(key, reader.expr(value), span))
    return items


def _on_refs(expr: ast.Expr) -> ast.Expr:
    """`on: [nightly, nightly.train.model]`: each dotted name a Ref, as `.rt` writes it (one tree for both)."""
    def ref(item):
        parts = item.value.split(".") if isinstance(item, ast.Str) else []
        return ast.Ref(parts, item.span) if parts and all(p.isidentifier() for p in parts) else item

    if isinstance(expr, ast.ListExpr):
        return ast.ListExpr([ref(i) for i in expr.items], expr.span)
    return ref(expr)


STEP_KEYS = ("node", "inputs", "unites", "after", "next_nodes")


def _steps(reader: YamlReader, node: yaml.Node) -> list[ast.StepStmt]:
    steps: dict[str, dict] = {}
    downstream: list[tuple[str, ast.Ref]] = []  # Exosphere's next_nodes: (upstream, downstream ref)
    for name, name_node, body in reader.mapping(node, "steps"):
        fields = _fields(reader, body, f"step {name!r}", STEP_KEYS)
        if "node" not in fields:
            reader.error(f"step {name!r} needs `node`", name_node)
            continue
        node_ref = reader.name_ref(fields["node"], "node")
        if not isinstance(node_ref, ast.Ref):
            reader.error(f"`node` of step {name!r} must be a node name", fields["node"])
            continue
        args = [
            ast.StepArg(arg, reader.expr(value), reader.span(arg_node))
            for arg, arg_node, value in reader.mapping(fields.get("inputs"), f"inputs of step {name!r}")
        ]
        trigger, after = _unites(reader, fields.get("unites"), name)
        for item in reader.sequence(fields.get("after"), "after"):
            ref = reader.name_ref(item, "a step")
            if isinstance(ref, ast.Ref):
                after.append(ref)
            else:
                reader.error("`after` lists step names", item)
        for item in reader.sequence(fields.get("next_nodes"), "next_nodes"):
            target = reader.text(item, "a next node")
            if target is not None:
                downstream.append((target, ast.Ref([name], reader.span(item))))
        span = Span(reader.file, *_start(reader, name_node), body.end_mark.line + 1, body.end_mark.column + 1)
        steps[name] = dict(name=name, node=node_ref, args=args, trigger=trigger, after=after, span=span)
    for target, upstream in downstream:
        if target in steps:
            steps[target]["after"].append(upstream)
        else:
            reader.error(f"`next_nodes` names {target!r}, which is not a step of this graph", None)
    return [ast.StepStmt(**fields) for fields in steps.values()]


def _start(reader: YamlReader, node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _unites(reader: YamlReader, node: yaml.Node | None, step: str) -> tuple[ast.Str | None, list[ast.Ref]]:
    """`unites: ALL_DONE`, or Exosphere's `unites: {identifier: x, strategy: ALL_DONE}`."""
    if is_null(node):
        return None, []
    after: list[ast.Ref] = []
    strategy = node
    if isinstance(node, yaml.MappingNode):
        fields = _fields(reader, node, f"unites of step {step!r}", ("identifier", "strategy"))
        if "identifier" in fields:
            ref = reader.name_ref(fields["identifier"], "a step")
            if isinstance(ref, ast.Ref):
                after.append(ref)
        strategy = fields.get("strategy")
        if strategy is None:
            return ast.Str("all_success", reader.span(node)), after
    text = reader.text(strategy, "unites")
    if text is None:
        return None, after
    trigger = TRIGGERS.get(text.upper())
    if trigger is None:
        reader.error(f"unknown unites strategy {text!r}", strategy, "expected ALL_SUCCESS or ALL_DONE")
        return None, after
    return ast.Str(trigger, reader.span(strategy)), after


BLOCK_READERS = {
    "envs": ("env", _read_env),
    "nodes": ("node", _read_node),
    "graphs": ("graph", _read_graph),
    "codespecs": ("codespec", tyger_yaml.read_codespec),
    "runs": ("run", tyger_yaml.read_run),
}
