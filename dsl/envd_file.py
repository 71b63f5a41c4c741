"""envd's `build.envd` files, as envd users write them, -> one `env` block.

The file is parsed with the Starlark subset of grammars/envd.lark (never run)
and the calls of its `build()` function map onto the `env` items of `.rt`:

    base(image="python:3.11-slim")                      base = "python:3.11-slim"
    install.python_packages(name=["numpy"])             pip = [...]  (calls add up)
    install.apt_packages(name=["curl"])                 apt = [...]
    io.copy(host_path="./src", envd_path="/app")        copy "./src" -> "/app"
    runtime.command(commands={"train": "..."})          command train = "..."
    runtime.expose(envd_port=8000, host_port=0,         expose 8000 -> 0 on "127.0.0.1" service "api"
                   service="api", listen_addr="127.0.0.1")
    runtime.daemon(commands=[["python3", "s.py"]])      daemon ["python3", "s.py"]
    runtime.environ(env={"K": "v"}, extra_path=["/x"])  environ = { K = "v", PATH = "/x:<default PATH>" }
    runtime.mount(host_path="./data", envd_path="/d")   mount "./data" -> "/d"
    runtime.init(commands=["..."])                      init [...]

`shell(...)` and `git_config(...)` only shape envd's interactive shell and are
skipped; any other function is an error naming the supported ones. The env is
named after the file's folder (`envs/trainer/build.envd` -> `trainer`) unless
the importing file gives a name (`import "envs/t/build.envd" as trainer`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedInput, UnexpectedToken, VisitError
from lark.indenter import Indenter

from rtc.base.diagnostics import CompileError, Diagnostic, Span
from rtc.dsl import ast

SUFFIX = ".envd"
SYNTAX = "E001"  # docs/language.md, "Syntax errors"
BAD_STATEMENT = "E004"
# Docker's default PATH: `extra_path` goes in front of it (envd appends to the image's PATH).
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SKIPPED = ("shell", "git_config")
# function -> (parameter names in order, for positional arguments)
FUNCTIONS = {
    "base": ("image", "dev"),
    "install.python_packages": ("name", "requirements", "local_wheels"),
    "install.apt_packages": ("name",),
    "io.copy": ("host_path", "envd_path"),
    "runtime.command": ("commands",),
    "runtime.expose": ("envd_port", "host_port", "service", "listen_addr"),
    "runtime.daemon": ("commands",),
    "runtime.environ": ("env", "extra_path"),
    "runtime.mount": ("host_path", "envd_path"),
    "runtime.init": ("commands",),
}


class _Indenter(Indenter):
    NL_type = "_NEWLINE"
    OPEN_PAREN_types = ["LPAR", "LSQB", "LBRACE"]
    CLOSE_PAREN_types = ["RPAR", "RSQB", "RBRACE"]
    INDENT_type = "_INDENT"
    DEDENT_type = "_DEDENT"
    tab_len = 8


@lru_cache(maxsize=1)
def _lark() -> Lark:
    return Lark.open_from_package("rtc.grammars", "envd.lark", parser="lalr", postlex=_Indenter(),
                                  propagate_positions=True, maybe_placeholders=True)


@dataclass
class Call:
    name: str
    args: list  # (keyword or None, value, span)
    span: Span


@dataclass
class FuncDef:
    name: str
    calls: list[Call] = field(default_factory=list)
    span: Span | None = None


class _Tree(Transformer):
    """Purely syntactic: calls and literal values with positions."""

    def __init__(self, file: str):
        super().__init__()
        self.file = file

    def _span(self, meta) -> Span:
        return Span(self.file, meta.line, meta.column, meta.end_line, meta.end_column)

    def start(self, items):
        return [i for i in items if isinstance(i, FuncDef)]

    @v_args(meta=True)
    def funcdef(self, meta, items):
        name = items[0]
        return FuncDef(str(name), [i for i in items[1:] if isinstance(i, Call)], Span(self.file, name.line, name.column))

    def pass_stmt(self, items):
        return None

    def call_stmt(self, items):
        return items[0]

    @v_args(meta=True)
    def call(self, meta, items):
        dotted, arguments = items
        return Call(dotted, arguments or [], self._span(meta))

    def dotted(self, items):
        return ".".join(str(t) for t in items)

    def arguments(self, items):
        return [i for i in items if i is not None]

    @v_args(meta=True)
    def keyword(self, meta, items):
        return (str(items[0]), items[1], self._span(meta))

    @v_args(meta=True)
    def positional(self, meta, items):
        return (None, items[0], self._span(meta))

    @v_args(meta=True)
    def string(self, meta, items):
        return ast.Str("".join(_unquote(t, self.file) for t in items), self._span(meta))

    @v_args(meta=True)
    def number(self, meta, items):
        text = str(items[0])
        span = self._span(meta)
        return ast.Int(int(text), span) if text.lstrip("+-").isdigit() else ast.Float(float(text), span)

    @v_args(meta=True)
    def true(self, meta, items):
        return ast.Bool(True, self._span(meta))

    @v_args(meta=True)
    def false(self, meta, items):
        return ast.Bool(False, self._span(meta))

    @v_args(meta=True)
    def none(self, meta, items):
        return ast.Null(self._span(meta))

    @v_args(meta=True)
    def list(self, meta, items):
        return ast.ListExpr([i for i in items if i is not None], self._span(meta))

    @v_args(meta=True)
    def dict(self, meta, items):
        entries = []
        for pair in items:
            if pair is None:
                continue
            key, value = pair
            if not isinstance(key, ast.Str):
                raise CompileError(Diagnostic(BAD_STATEMENT, "a dict key must be a string", key.span))
            entries.append(ast.MapEntry(key.value, value, key.span))
        return ast.MapExpr(entries, self._span(meta))

    def pair(self, items):
        return tuple(items)


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "0": "\0"}


def _unquote(token: Token, file: str) -> str:
    body, out, i = token[1:-1], [], 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            if nxt not in _ESCAPES:
                raise CompileError(Diagnostic("E002", f"unknown escape \\{nxt} in a string",
                                              Span(file, token.line, token.column + i + 1)))
            out.append(_ESCAPES[nxt])
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def parse_envd(text: str, file: str, env_name: str | None = None) -> ast.Module:
    """One `env` block from a build.envd; raises CompileError with positions."""
    try:
        tree = _lark().parse(text if text.endswith("\n") else text + "\n")
        funcs = _Tree(file).transform(tree)
    except VisitError as exc:
        if isinstance(exc.orig_exc, CompileError):
            raise exc.orig_exc from None
        raise
    except UnexpectedInput as exc:
        raise CompileError(_syntax_error(exc, file)) from None
    except LarkError as exc:
        raise CompileError(Diagnostic(SYNTAX, f"cannot read the envd file: {exc}", Span(file, 1, 1))) from None
    build = next((f for f in funcs if f.name == "build"), None)
    if build is None:
        raise CompileError(Diagnostic(BAD_STATEMENT, "an envd file needs `def build():`", Span(file, 1, 1),
                                      "envd runs the `build` function; rtc reads its calls"))
    name = env_name or os.path.basename(os.path.dirname(os.path.abspath(file))) or "env"
    items = _Items(file).read(build.calls)
    module = ast.Module(file=file)
    module.blocks.append(ast.Block("env", name, items, build.span, build.span, origin="envd"))
    return module


def _syntax_error(exc: UnexpectedInput, file: str) -> Diagnostic:
    span = Span(file, getattr(exc, "line", 1) or 1, getattr(exc, "column", 1) or 1)
    if isinstance(exc, UnexpectedToken):
        kind = exc.token.type
        if kind in ("_INDENT", "_DEDENT"):  # made from the line break before: point at the indented line
            span = Span(file, exc.token.end_line or span.line, exc.token.end_column or 1)
        found = {"_INDENT": "indentation", "_DEDENT": "the end of an indented block",
                 "_NEWLINE": "a line break", "$END": "the end of the file"}.get(kind, f"{str(exc.token)!r}")
        message = f"unexpected {found}: envd files here hold `def build():` and calls with literal arguments"
    elif isinstance(exc, UnexpectedCharacters):
        message = f"unexpected character {exc.char!r}"
    else:
        message = "unexpected end of file"
    return Diagnostic(SYNTAX, message, span, "rtc reads build.envd without running it: calls such as "
                      "install.python_packages(name=[...]) with literal values, no variables, loops or conditions")


class _Items:
    """Calls of build() -> env items; problems collected, all reported together."""

    def __init__(self, file: str):
        self.file = file
        self.problems: list[Diagnostic] = []

    def error(self, message: str, span: Span, hint: str | None = None) -> None:
        self.problems.append(Diagnostic(BAD_STATEMENT, message, span, hint))

    def read(self, calls: list[Call]) -> list[ast.Item]:
        items: list[ast.Item] = []
        lists: dict[str, tuple[list, Span]] = {}  # pip / apt: calls add up
        environ: list[ast.MapEntry] = []
        environ_span = None
        for call in calls:
            if call.name in SKIPPED:
                continue
            if call.name not in FUNCTIONS:
                self.error(f"{call.name}() is not supported by rtc", call.span,
                           "supported: " + ", ".join(f"{f}()" for f in FUNCTIONS) + " (shell() and git_config() are skipped)")
                continue
            args = self._bind(call)
            if args is None:
                continue
            if call.name == "base":
                if "image" in args:
                    items.append(ast.Attr("base", self._str(args["image"], "image"), call.span))
                else:
                    self.error("base() needs image=", call.span, 'rtc builds FROM an image: base(image="python:3.11-slim")')
            elif call.name in ("install.python_packages", "install.apt_packages"):
                key = "pip" if call.name == "install.python_packages" else "apt"
                if "requirements" in args or "local_wheels" in args:
                    self.error(f"{call.name}(requirements=/local_wheels=) is not supported", call.span,
                               "list the packages with name=[...]")
                names = self._list(args.get("name"), "name", call.span)
                got, span = lists.get(key, ([], call.span))
                lists[key] = (got + names, span)
            elif call.name in ("io.copy", "runtime.mount"):
                host = self._str(args.get("host_path"), "host_path", call.span)
                target = self._str(args.get("envd_path"), "envd_path", call.span)
                if host is not None and target is not None:
                    items.append(ast.CopyStmt(host, target, call.span) if call.name == "io.copy"
                                 else ast.MountStmt(host, target, False, call.span))
            elif call.name == "runtime.command":
                commands = args.get("commands")
                if isinstance(commands, ast.MapExpr):
                    items += [ast.CommandStmt(e.key, e.value, e.span) for e in commands.entries]
                else:
                    self.error("runtime.command() takes commands={NAME: COMMAND}", call.span)
            elif call.name == "runtime.expose":
                items += self._expose(args, call)
            elif call.name == "runtime.daemon":
                for argv in self._list_of_exprs(args.get("commands"), "commands", call.span):
                    if isinstance(argv, ast.ListExpr):
                        items.append(ast.DaemonStmt(argv, argv.span))
                    else:
                        self.error("each daemon is a list of words, e.g. [\"python3\", \"serve.py\"]", argv.span)
            elif call.name == "runtime.environ":
                env = args.get("env")
                if isinstance(env, ast.MapExpr):
                    environ += env.entries
                elif env is not None:
                    self.error("runtime.environ() takes env={NAME: VALUE}", env.span)
                extra = self._list(args.get("extra_path"), "extra_path", call.span) if "extra_path" in args else []
                if extra:
                    path = ":".join([*(e.value for e in extra), DEFAULT_PATH])
                    environ.append(ast.MapEntry("PATH", ast.Str(path, call.span), call.span))
                environ_span = environ_span or call.span
            elif call.name == "runtime.init":
                commands = args.get("commands")
                if isinstance(commands, ast.ListExpr):
                    items.append(ast.InitStmt(commands, call.span))
                else:
                    self.error("runtime.init() takes commands=[...]", call.span)
        for key, (values, span) in lists.items():
            items.append(ast.Attr(key, ast.ListExpr(values, span), span))
        if environ:
            items.append(ast.Attr("environ", ast.MapExpr(environ, environ_span), environ_span))
        if self.problems:
            raise CompileError(self.problems)
        return items

    def _bind(self, call: Call) -> dict | None:
        params = FUNCTIONS[call.name]
        bound: dict = {}
        for i, (keyword, value, span) in enumerate(call.args):
            name = keyword if keyword is not None else (params[i] if i < len(params) else None)
            if name is None or name not in params:
                what = f"keyword {keyword!r}" if keyword else f"argument {i + 1}"
                self.error(f"{call.name}() has no {what}", span, "its arguments: " + ", ".join(params))
                return None
            if name in bound:
                self.error(f"{call.name}() gets {name} twice", span)
                return None
            bound[name] = value
        return bound

    def _str(self, value, what: str, span: Span | None = None):
        if isinstance(value, ast.Str):
            return value
        self.error(f"`{what}` must be a string", value.span if value is not None else span)
        return None

    def _list(self, value, what: str, span: Span) -> list:
        items = self._list_of_exprs(value, what, span)
        good = [i for i in items if isinstance(i, ast.Str)]
        if len(good) != len(items):
            self.error(f"`{what}` must be a list of strings", value.span)
        return good

    def _list_of_exprs(self, value, what: str, span: Span) -> list:
        if isinstance(value, ast.ListExpr):
            return list(value.items)
        if isinstance(value, ast.Str) and what == "name":
            return [value]  # install.apt_packages(name="curl")
        self.error(f"`{what}` must be a list", value.span if value is not None else span)
        return []

    def _expose(self, args: dict, call: Call) -> list:
        """envd_port / host_port as numbers or strings (envd's docs say str); 0 or None: a free port."""
        port = self._port(args.get("envd_port"), "envd_port", call.span, required=True)
        host_port = self._port(args.get("host_port"), "host_port", call.span)
        service = args.get("service")
        listen = args.get("listen_addr")
        service = None if isinstance(service, ast.Null) else service
        listen = None if isinstance(listen, ast.Null) else listen
        if service is not None and not isinstance(service, ast.Str):
            self.error("`service` must be a string", service.span)
            return []
        if listen is not None and not isinstance(listen, ast.Str):
            self.error("`listen_addr` must be a string", listen.span)
            return []
        if port is None:
            return []
        return [ast.ExposeStmt(port, host_port, listen, service, call.span)]

    def _port(self, value, what: str, span: Span, required: bool = False) -> ast.Int | None:
        if value is None or isinstance(value, ast.Null):
            if required:
                self.error(f"runtime.expose() needs {what}", span)
            return None
        if isinstance(value, ast.Int) and not isinstance(value.value, bool):
            return value
        if isinstance(value, ast.Str) and value.value.strip().isdigit():
            return ast.Int(int(value.value), value.span)
        self.error(f"`{what}` must be a port number (a number or a string of digits)", value.span)
        return None
