"""A Python node class read as source: its Inputs, Outputs and Secrets as port lists with positions.

`node X { python = "mod:MyNode" }` needs no port lists when the compiler can
read them from the class, as Exosphere users write them once:

    class MyNode(BaseNode):
        class Inputs(BaseModel):
            data: str
            limit: int = 10
        class Outputs(BaseModel):
            result: str
        class Secrets(BaseModel):
            API_KEY: str
        async def execute(self) -> list[Outputs]: ...   # a list: the node fans out

The file is parsed with `ast`, never imported: nothing of the user's code runs
on the compiling machine. Annotations map to rtc types (`str`, `int`,
`float`, `bool`, `list[T]`/`List[T]`/`Sequence[T]`, `dict[str, T]`/`Dict`,
anything else `json`); a default that is a literal (also `Field(10)`,
`Field(default=10)`) becomes the port's default. Positions point into the
Python file, so messages about derived ports name the line that declares them.
"""

from __future__ import annotations

import ast as pyast
from dataclasses import dataclass

from rtc.base.diagnostics import CompileError, Diagnostic, Span
from rtc.dsl import ast

MODELS = ("inputs", "outputs", "secrets")
_MODEL_CLASSES = {"Inputs": "inputs", "Outputs": "outputs", "Secrets": "secrets"}
_SCALARS = {"str": "str", "int": "int", "float": "float", "bool": "bool",
            # A path is an artifact: its bytes travel through the store (a Path field is a file or a folder).
            "Path": "file", "PurePath": "file", "PosixPath": "file", "FilePath": "file", "DirectoryPath": "dir"}
_LISTS = {"list", "List", "Sequence", "Iterable", "tuple", "Tuple", "set", "Set", "frozenset", "FrozenSet"}
_DICTS = {"dict", "Dict", "Mapping", "MutableMapping"}
PARSE_CODE = "E313"
# Exosphere's Runtime(namespace, name, nodes, state_manager_uri, key, batch_size, workers, state_manager_version, poll_interval)
RUNTIME_PARAMS = ("namespace", "name", "nodes", "state_manager_uri", "key", "batch_size", "workers",
                  "state_manager_version", "poll_interval")
IGNORED_RUNTIME_ARGS = {
    "name": "steps are named in the graph, nodes by their class",
    "state_manager_uri": "there is no state manager: `rtc run` runs the graph here, Airflow or Prefect elsewhere",
    "key": "there is no state manager to authenticate to",
    "batch_size": "each step (each fan-out element) is one container",
    "workers": "the graph's `workers` (or `rtc run --workers N`) bounds the containers at once",
    "state_manager_version": "there is no state manager",
    "poll_interval": "nothing is polled: a step starts when its inputs are ready",
}  # rtc.compiler.codes.PYTHON_SYNTAX, documented in docs/diagnostics.md


@dataclass(frozen=True)
class PythonNodeClass:
    """A BaseNode subclass as its Python file declares it, read statically (never imported)."""

    name: str
    file: str
    span: Span
    ports: dict[str, ast.PortBlock]  # "inputs"/"outputs"/"secrets" -> ports; absent: the class declares no such model
    fanout: bool  # `execute` is annotated to return a list of Outputs
    problem: tuple[str, Span] | None = None  # what Exosphere's Runtime would refuse at start (with where)


class PythonModule:
    """The classes of one parsed Python file."""

    def __init__(self, path: str, text: str):
        self.path = path
        try:
            tree = pyast.parse(text, filename=path)
        except SyntaxError as exc:
            span = Span(path, exc.lineno or 1, exc.offset or 1)
            raise CompileError(Diagnostic(PARSE_CODE, f"the Python file does not parse: {exc.msg}", span)) from None
        except (ValueError, RecursionError, MemoryError) as exc:  # NUL bytes, absurd nesting
            raise CompileError(Diagnostic(PARSE_CODE, f"the Python file does not parse: {exc}", Span(path, 1, 1))) from None
        self.classes = {n.name: n for n in tree.body if isinstance(n, pyast.ClassDef)}
        self.tree = tree
        # Written for Exosphere: its Runtime checks each node class when it starts (execute, Inputs, Outputs).
        self.exosphere = any(
            (isinstance(n, pyast.ImportFrom) and (n.module or "").split(".")[0] == "exospherehost")
            or (isinstance(n, pyast.Import) and any(a.name.split(".")[0] == "exospherehost" for a in n.names))
            for n in tree.body)

    def runtime_notes(self) -> list[tuple[int, str]]:
        """(line, what rtc does instead) for each `Runtime(...)` argument and `EXOSPHERE_*` name rtc ignores."""
        notes: list[tuple[int, str]] = []
        seen_vars: set[str] = set()
        for node in pyast.walk(self.tree):
            if isinstance(node, pyast.Call) and _name(node.func) == "Runtime":
                given = [RUNTIME_PARAMS[i] for i in range(len(node.args)) if i < len(RUNTIME_PARAMS)]
                given += [k.arg for k in node.keywords if k.arg]
                ignored = [g for g in given if g in IGNORED_RUNTIME_ARGS]
                if ignored:
                    what = "; ".join(f"{g}: {IGNORED_RUNTIME_ARGS[g]}" for g in ignored)
                    notes.append((node.lineno, f"Runtime({', '.join(f'{g}=...' for g in ignored)}) is ignored by rtc ({what})"))
            elif (isinstance(node, pyast.Constant) and isinstance(node.value, str) and node.value.startswith("EXOSPHERE_")
                  and node.value not in seen_vars and len(node.value) < 100):
                seen_vars.add(node.value)
                notes.append((node.lineno, f"{node.value} is not set by rtc: there is no Exosphere state manager; "
                                           "secrets come from the node's `Secrets` (environment or .env under rtc run)"))
        return sorted(notes)

    def node_class(self, name: str) -> PythonNodeClass | None:
        cls = self.classes.get(name)
        if cls is None:
            return None
        ports: dict[str, ast.PortBlock] = {}
        for owner in self._lineage(cls):
            for item in owner.body:
                kind = _MODEL_CLASSES.get(item.name) if isinstance(item, pyast.ClassDef) else None
                if kind and kind not in ports:
                    ports[kind] = ast.PortBlock(kind, self._fields(item, kind), self._span(item))
        return PythonNodeClass(name, self.path, self._span(cls), ports, self._fans_out(cls), self._runtime_problem(cls, ports))

    def _runtime_problem(self, cls: pyast.ClassDef, ports: dict) -> tuple[str, Span] | None:
        """What Exosphere's Runtime refuses when it starts: no `execute` (or an abstract one), no Inputs/Outputs model.

        Only for files that import exospherehost, and only when every base class is in the file or is BaseNode
        (a base from elsewhere may define what is missing here).
        """
        if not self.exosphere:
            return None
        lineage = self._lineage(cls)
        for owner in lineage:
            for base in owner.bases:
                if _name(base) not in ("BaseNode", *self.classes):
                    return None
        for owner in lineage:
            for item in owner.body:
                if isinstance(item, (pyast.FunctionDef, pyast.AsyncFunctionDef)) and item.name == "execute":
                    if any(_name(d) == "abstractmethod" for d in item.decorator_list):
                        return f"`{cls.name}.execute` is abstract: Exosphere's Runtime refuses a node it cannot run", self._span(item)
                    break
            else:
                continue
            break
        else:
            return f"class `{cls.name}` has no `execute` method: Exosphere's Runtime refuses it", self._span(cls)
        missing = [MODEL for MODEL, kind in (("Inputs", "inputs"), ("Outputs", "outputs")) if kind not in ports]
        if missing:
            return (f"class `{cls.name}` has no {' or '.join(missing)} model: Exosphere's Runtime refuses a node without "
                    "both (an empty `class Inputs(BaseModel): pass` declares none)", self._span(cls))
        return None

    def _lineage(self, cls: pyast.ClassDef) -> list[pyast.ClassDef]:
        """The class, then its bases defined in the same file (nested models are inherited)."""
        out, todo = [], [cls]
        while todo:
            current = todo.pop(0)
            if current in out:
                continue
            out.append(current)
            todo += [self.classes[b.id] for b in current.bases if isinstance(b, pyast.Name) and b.id in self.classes]
        return out

    def _fields(self, model: pyast.ClassDef, kind: str) -> list[ast.PortDecl]:
        fields = []
        for item in model.body:
            if not (isinstance(item, pyast.AnnAssign) and isinstance(item.target, pyast.Name)):
                continue
            name = item.target.id
            if name.startswith("_") or _is_classvar(item.annotation):
                continue
            span = self._span(item.target)
            if kind == "secrets":
                fields.append(ast.PortDecl(name, None, None, span))
                continue
            default = _default(item.value, self._span(item.value) if item.value is not None else span)
            fields.append(ast.PortDecl(name, rtc_type(item.annotation), default, span, self._span(item.annotation)))
        return fields

    def _fans_out(self, cls: pyast.ClassDef) -> bool:
        for owner in self._lineage(cls):
            for item in owner.body:
                if isinstance(item, (pyast.FunctionDef, pyast.AsyncFunctionDef)) and item.name == "execute":
                    returns = item.returns
                    if isinstance(returns, pyast.Constant) and isinstance(returns.value, str):  # "list[Outputs]"
                        try:
                            returns = pyast.parse(returns.value, mode="eval").body
                        except SyntaxError:
                            return False
                    return (isinstance(returns, pyast.Subscript) and _name(returns.value) in ("list", "List")
                            and _name(returns.slice) == "Outputs")
        return False

    def _span(self, node: pyast.AST) -> Span:
        return Span(self.path, getattr(node, "lineno", 1), getattr(node, "col_offset", 0) + 1,
                    getattr(node, "end_lineno", None), (getattr(node, "end_col_offset", None) or 0) + 1)


def rtc_type(annotation: pyast.expr) -> str:
    """The rtc type of a pydantic field annotation; `json` for what rtc cannot say more precisely."""
    if isinstance(annotation, pyast.Constant) and isinstance(annotation.value, str):
        try:
            annotation = pyast.parse(annotation.value, mode="eval").body
        except SyntaxError:
            return "json"
    name = _name(annotation)
    if name in _SCALARS:
        return _SCALARS[name]
    if name in _LISTS:
        return "list[json]"
    if name in _DICTS:
        return "dict[str, json]"
    if isinstance(annotation, pyast.Subscript):
        outer = _name(annotation.value)
        args = annotation.slice.elts if isinstance(annotation.slice, pyast.Tuple) else [annotation.slice]
        if outer in _LISTS and outer not in ("tuple", "Tuple") and len(args) == 1:
            return f"list[{rtc_type(args[0])}]"
        if outer in _DICTS and len(args) == 2 and _name(args[0]) == "str":
            return f"dict[str, {rtc_type(args[1])}]"
        if outer == "Annotated" and args:
            return rtc_type(args[0])
    return "json"  # Optional, unions, Any, models of their own: any JSON value; pydantic checks in the container


def _name(node) -> str | None:
    if isinstance(node, pyast.Name):
        return node.id
    if isinstance(node, pyast.Attribute):  # typing.List
        return node.attr
    return None


def _is_classvar(annotation) -> bool:
    base = annotation.value if isinstance(annotation, pyast.Subscript) else annotation
    return _name(base) == "ClassVar"


def _default(value, span: Span) -> ast.Expr | None:
    """A literal default as a syntax-tree value; None when there is none (or it is not a literal)."""
    if value is None:
        return None
    if isinstance(value, pyast.Call) and _name(value.func) == "Field":
        given = [kw.value for kw in value.keywords if kw.arg == "default"] or value.args[:1]
        if not given:
            return None
        value = given[0]
    if isinstance(value, pyast.Constant) and value.value is Ellipsis:
        return None  # Field(...): required
    try:
        return ast.literal_expr(pyast.literal_eval(value), span)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
