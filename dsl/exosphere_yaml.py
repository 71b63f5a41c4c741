"""Exosphere graph templates, as Exosphere users write them, -> one `graph` block.

A YAML (or JSON: it is YAML too) file whose `nodes` is a list is a graph
template, the body of Exosphere's `upsert_graph`:

    nodes:
      - node_name: DataSplitterNode        # a node declared elsewhere (its class gives its ports)
        namespace: MyProject
        identifier: splitter               # the step's name
        inputs: {data: "${{ store.text }}"}  # ${{ ID.outputs.F }}, ${{ store.K }}, or a literal
        next_nodes: [processor]            # these run after this one
      - node_name: ResultMergerNode
        identifier: merger
        inputs: {results: "${{ processor.outputs.result }}"}
        unites: {identifier: splitter, strategy: ALL_DONE}
    store_config: {required_keys: [text], default_values: {sep: " "}}   # -> params
    triggers: [{type: CRON, value: {expression: "0 9 * * 1-5"}}]        # -> schedule
    retry_policy: {max_retries: 3, strategy: EXPONENTIAL, backoff_factor: 2000, exponent: 2}
    secrets: {api_key: "..."}              # accepted; values are never read from here

The graph is named by a `name:` key (as `upsert_graph(graph_name=...)` gives
it), else after the file. The block is marked `origin="exosphere"`: the
compiler lowers Exosphere's implicit fan-out (a node returning several outputs
runs the rest of its branch once per output, until a `unites`) to rtc's
`each()`, and reads string-encoded literals ("42", "true") by the input's
type, as Exosphere's v1 templates write them. docs/language.md says what maps
to what and what is refused.
"""

from __future__ import annotations

import yaml

from rtc.dsl import ast
from rtc.dsl.yaml_nodes import YamlReader, is_null

TEMPLATE_KEYS = ("name", "namespace", "nodes", "secrets", "retry_policy", "store_config", "triggers", "imports")
NODE_KEYS = ("node_name", "namespace", "identifier", "inputs", "next_nodes", "unites")
UNITES = {"ALL_SUCCESS": "all_success", "ALL_DONE": "all_done"}
RESERVED_IDENTIFIER = "store"  # Exosphere's own rule: `${{ store.k }}` reads the store


def is_template(entries: list) -> bool:
    """A graph template: its top-level `nodes` is a list (rtc YAML's `nodes` is a mapping)."""
    return any(key == "nodes" and isinstance(value, yaml.SequenceNode) for key, _, value in entries)


def read_template(reader: YamlReader, root: yaml.Node, entries: list, stem: str, module: ast.Module) -> None:
    name, name_span, items, namespaces = _template(reader, entries, stem, reader.span(root), module)
    nodes_file = None
    if not module.imports:
        nodes_file = _import_registered_nodes(module, name_span)
    if _one_namespace(reader, namespaces):
        module.namespace = next(iter(namespaces))
        module.namespace_span = name_span
        if nodes_file is not None:
            _check_nodes_namespace(reader, module.namespace, namespaces[module.namespace], nodes_file)
    module.blocks.append(ast.Block("graph", name, items, name_span, name_span, origin="exosphere"))


def nested_template(reader: YamlReader, body: yaml.Node, name: str, span, module: ast.Module) -> ast.Block:
    """A template under an rtc YAML file's `graphs:` (`graphs: {docs: {nodes: [...]}}`): a graph with its meaning.

    The graph is named by its key (a `name:` inside must agree); its nodes come from the file's `nodes:`
    and imports, and `nodes[].namespace` must be the file's `namespace`.
    """
    entries = reader.mapping(body, f"graph {name!r}")
    inner, _, items, namespaces = _template(reader, entries, name, span, module)
    if inner != name:
        node = next(v for k, _, v in entries if k == "name")
        reader.error(f"the template's name {inner!r} differs from its key {name!r} under `graphs:`", node,
                     f"drop `name:` (the key names the graph), or write `{inner}:` as the key")
    if _one_namespace(reader, namespaces):
        namespace = next(iter(namespaces))
        if module.namespace is not None and namespace != module.namespace:
            reader.error(f"namespace {namespace!r} is not this file's namespace ({module.namespace!r}), which declares "
                         "the nodes", namespaces[namespace], f"write `namespace: {module.namespace}`")
    return ast.Block("graph", name, items, span, span, origin="exosphere")


def _one_namespace(reader: YamlReader, namespaces: dict) -> bool:
    """True when the template names exactly one namespace; several are an error (rtc reads a graph's nodes from one)."""
    if len(namespaces) > 1:
        (first, _), (second, node) = list(namespaces.items())[:2]
        reader.error(f"the template's nodes are in {len(namespaces)} namespaces ({', '.join(namespaces)}); "
                     "rtc reads one graph's nodes from one namespace", node,
                     f"Exosphere finds each node by namespace and name: give every node `namespace: {first}`, "
                     f"or declare `{second}`'s nodes in a pipeline of their own")
    return len(namespaces) == 1


def _template(reader: YamlReader, entries: list, stem: str, name_span, module: ast.Module):
    """(name, its span, graph items, {namespace: first node naming it}) of a template's entries."""
    from rtc.dsl.yaml_frontend import retry_items  # the same retry_policy reading as rtc YAML

    name = stem
    items: list[ast.Item] = []
    namespaces: dict = {}  # namespace -> the first node that names it
    for key, key_node, value in entries:
        span = reader.span(key_node)
        if key == "name":
            name = reader.text(value, "name") or stem
            name_span = reader.span(value)
        elif key == "namespace":
            _namespace(reader, value, namespaces)
        elif key == "nodes":
            steps = _steps(reader, value, namespaces)
            items += steps
        elif key == "store_config":
            items.append(ast.PortBlock("params", _store(reader, value), span))
        elif key == "triggers":
            schedule = _schedule(reader, value)
            if schedule is not None:
                items.append(ast.Attr("schedule", schedule, span))
        elif key == "retry_policy":
            items.append(ast.SubBlock("retry_policy", retry_items(reader, value, "retry_policy"), span))
        elif key == "secrets":
            reader.mapping(value, "secrets")  # names and values are accepted; values never leave the file
        elif key == "imports":  # rtc's addition: where the nodes are declared (else nodes.rt beside the file)
            for item in reader.sequence(value, "imports"):
                path = reader.text(item, "an import")
                if path is not None:
                    module.imports.append(ast.Import(path, reader.span(item)))
        elif key.startswith("x-"):
            continue
        else:
            reader.error(f"unknown key {key!r} in an Exosphere graph template", key_node,
                         "expected one of " + ", ".join(TEMPLATE_KEYS))
    return name, name_span, items, namespaces


NODES_FILES = ("nodes.rt", "nodes.yaml", "nodes.yml")


def _namespace(reader: YamlReader, node: yaml.Node, namespaces: dict) -> None:
    text = reader.text(node, "namespace")
    if text is not None:
        namespaces.setdefault(text, node)


def _import_registered_nodes(module: ast.Module, span) -> str | None:
    """`nodes.rt` (or .yaml/.yml) beside the template stands in for the nodes an Exosphere Runtime registers."""
    import os

    folder = os.path.dirname(os.path.abspath(module.file))
    for candidate in NODES_FILES:
        path = os.path.join(folder, candidate)
        if os.path.isfile(path):
            module.imports.append(ast.Import(candidate, span))
            return path
    return None


def _check_nodes_namespace(reader: YamlReader, namespace: str, node: yaml.Node, nodes_file: str) -> None:
    """`nodes[].namespace` must be the nodes file's: it stands in for the Runtime that registered them there."""
    import os

    from rtc.base.diagnostics import CompileError

    try:
        from rtc.dsl import parse_file

        declared = parse_file(nodes_file).namespace  # a small file, read again by the import (problems reported there)
    except CompileError:
        return
    if declared is not None and declared != namespace:
        name = os.path.basename(nodes_file)
        reader.error(f"namespace {namespace!r} is not the namespace of {name} ({declared!r}), which declares the nodes",
                     node, f"Exosphere finds a node by namespace and name: write `namespace: {declared}`, "
                     f"or change {name}'s namespace")


def _steps(reader: YamlReader, node: yaml.Node, namespaces: set) -> list[ast.StepStmt]:
    steps: dict[str, dict] = {}
    downstream: list[tuple[str, ast.Ref, yaml.Node]] = []
    for item in reader.sequence(node, "nodes"):
        fields = {}
        for key, key_node, value in reader.mapping(item, "a node of the template"):
            if key in NODE_KEYS:
                fields[key] = value
            else:
                reader.error(f"unknown key {key!r} in a node of the template", key_node, "expected " + ", ".join(NODE_KEYS))
        missing = [k for k in ("node_name", "identifier") if k not in fields]
        if missing:
            reader.error(f"a node of the template needs {' and '.join(f'`{k}`' for k in missing)}", item)
            continue
        identifier = reader.text(fields["identifier"], "identifier")
        node_ref = reader.name_ref(fields["node_name"], "node")
        if identifier is None or not isinstance(node_ref, ast.Ref):
            continue
        if identifier.strip() == RESERVED_IDENTIFIER:
            reader.error("`store` is reserved: `${{ store.KEY }}` reads the store", fields["identifier"],
                         "give the node another identifier")
            continue
        if identifier in steps:
            reader.error(f"identifier {identifier!r} is used twice (Exosphere's identifiers are unique in a graph)",
                         fields["identifier"])
            continue
        if "namespace" in fields:
            _namespace(reader, fields["namespace"], namespaces)
        args = [ast.StepArg(arg, reader.expr(value), reader.span(arg_node))
                for arg, arg_node, value in reader.mapping(fields.get("inputs"), f"inputs of {identifier!r}")]
        trigger, unites = _unites(reader, fields.get("unites"), identifier)
        for target in reader.sequence(fields.get("next_nodes"), "next_nodes"):
            text = reader.text(target, "a next node")
            if text is not None:
                downstream.append((text, ast.Ref([identifier], reader.span(target)), target))
        span = reader.span(fields["identifier"])
        steps[identifier] = dict(name=identifier, node=node_ref, args=args, trigger=trigger,
                                 after=[unites] if unites else [], span=span, unites=unites)
    for target, upstream, target_node in downstream:
        if target in steps:
            steps[target]["after"].append(upstream)
        else:
            reader.error(f"`next_nodes` names {target!r}, which is not an identifier of this template", target_node)
    return [ast.StepStmt(**fields) for fields in steps.values()]


def _unites(reader: YamlReader, node, identifier: str) -> tuple[ast.Str | None, ast.Ref | None]:
    if is_null(node):
        return None, None
    fields = dict((k, v) for k, _, v in reader.mapping(node, f"unites of {identifier!r}"))
    target = reader.name_ref(fields["identifier"], "a node identifier") if "identifier" in fields else None
    if not isinstance(target, ast.Ref):
        reader.error(f"unites of {identifier!r} needs `identifier`", node)
        return None, None
    strategy = fields.get("strategy")
    text = reader.text(strategy, "strategy") if strategy is not None else "ALL_SUCCESS"
    trigger = UNITES.get((text or "").upper())
    if trigger is None:
        reader.error(f"unknown unites strategy {text!r}", strategy, "expected ALL_SUCCESS or ALL_DONE")
        return None, target
    return ast.Str(trigger, reader.span(strategy if strategy is not None else node)), target


def _store(reader: YamlReader, node: yaml.Node) -> list[ast.PortDecl]:
    """store_config -> params of type str (store values are strings): required keys, then keys with defaults."""
    ports: dict[str, ast.PortDecl] = {}
    for key, key_node, value in reader.mapping(node, "store_config"):
        if key == "required_keys":
            for item in reader.sequence(value, "required_keys"):
                name = reader.text(item, "a store key")
                if name is not None:
                    _store_key(reader, ports, name, None, item)
        elif key == "default_values":
            for name, name_node, default in reader.mapping(value, "default_values"):
                expr = reader.expr(default)
                text = ast.Str(str(expr.value), expr.span) if isinstance(expr, (ast.Int, ast.Float, ast.Bool)) else expr
                _store_key(reader, ports, name, text, name_node)
        else:
            reader.error(f"unknown key {key!r} in store_config", key_node, "expected required_keys or default_values")
    return list(ports.values())


def _store_key(reader: YamlReader, ports: dict, name: str, default, node: yaml.Node) -> None:
    name = name.strip()
    if not name or "." in name:
        reader.error(f"store key {name!r} must be non-empty and without `.`", node)
        return
    if name in ports and ports[name].default is not None and default is None:
        return  # required and defaulted: the default is what makes it present
    ports[name] = ast.PortDecl(name, "str", default, reader.span(node), reader.span(node))


def _schedule(reader: YamlReader, node: yaml.Node) -> ast.Str | None:
    """CRON triggers -> the graph's schedule; rtc (like an Airflow DAG) runs a graph on one schedule."""
    found = []
    for item in reader.sequence(node, "triggers"):
        fields = dict((k, v) for k, _, v in reader.mapping(item, "a trigger"))
        kind = reader.text(fields["type"], "type") if "type" in fields else "CRON"
        if (kind or "").upper() != "CRON":
            reader.error(f"trigger type {kind!r} is not supported", fields.get("type", item), "Exosphere's triggers are CRON")
            continue
        value = dict((k, v) for k, _, v in reader.mapping(fields["value"], "a trigger's value")) if "value" in fields else fields
        if "expression" not in value:
            reader.error("a CRON trigger needs `expression`", item)
            continue
        zone = reader.text(value["timezone"], "timezone") if not is_null(value.get("timezone")) else "UTC"
        if zone not in ("UTC", "Etc/UTC"):
            reader.error(f"timezone {zone!r}: rtc schedules run in UTC", value["timezone"],
                         "write the expression in UTC and drop `timezone`")
            continue
        expr = reader.expr(value["expression"])
        if isinstance(expr, ast.Str):
            found.append((expr, item))
        else:
            reader.error("a trigger's expression must be a string", value["expression"])
    distinct = {e.value for e, _ in found}
    if len(distinct) > 1:
        reader.error(f"{len(distinct)} different CRON triggers; an rtc graph runs on one schedule",
                     found[1][1], "keep one trigger, or copy the template once per schedule (with a different `name`)")
        return None
    return found[0][0] if found else None

