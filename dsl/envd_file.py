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

The reader is hand-written for this subset (grammars/envd.lark documents it):
one pass over the text, time and memory linear in its size, no recursion
deeper than `MAX_NESTING` (lists and dicts nested deeper are E010 at the
bracket), numbers in ASCII digits of at most `MAX_NUMBER_CHARS` characters
(a 5,000-digit number is E003, not an int() ValueError). Every problem is a
diagnostic with its position (benchmarks/envd_bench.py measures the bounds).
"""

from __future__ import annotations

import math
import os
import re
import shlex
from dataclasses import dataclass, field

from rtc.base.diagnostics import CompileError, Diagnostic, Span
from rtc.base.limits import MAX_NESTING
from rtc.dsl import ast
from rtc.dsl.limits import too_deep

SUFFIX = ".envd"
SYNTAX = "E001"  # docs/language.md, "Syntax errors"
BAD_CHARACTER = "E002"
BAD_LITERAL = "E003"
BAD_STATEMENT = "E004"
MAX_NUMBER_CHARS = 40  # a port, a version: nobody writes longer numbers
# Docker's default PATH: `extra_path` goes in front of it (envd appends to the image's PATH).
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SKIPPED = ("shell", "git_config")
MAX_CALLS = 100_000  # calls of build() after helpers are inlined (doubling helpers could otherwise explode)
# What rtc refuses, with why: one message per function (docs/language.md, "build.envd").
_NO_CONDA = "rtc builds environments with the base image's apt and pip, without conda"
REFUSED = {
    "include": "include() of remote files is not supported: rtc reads one build.envd and never fetches code",
    "install.conda_packages": f"install.conda_packages() is not supported: {_NO_CONDA} (install.python_packages(name=[...]) installs with pip)",
    "install.conda": f"install.conda() is not supported: {_NO_CONDA}",
    "config.conda_channel": f"config.conda_channel() is not supported: {_NO_CONDA}",
    "install.julia": "install.julia() is not supported: rtc has no Julia environments (use an image with Julia: base(image=...))",
    "install.julia_packages": "install.julia_packages() is not supported: rtc has no Julia environments",
    "install.r_lang": "install.r_lang() is not supported: rtc has no R environments (use an image with R: base(image=...))",
    "install.r_packages": "install.r_packages() is not supported: rtc has no R environments",
    "install.cuda": "install.cuda() is not supported: local runs have no GPU support (Docker here runs no GPU containers)",
    "config.gpu": "config.gpu() is not supported: local runs have no GPU support",
}
# function -> (parameter names in order, for positional arguments)
FUNCTIONS = {
    "base": ("image", "dev", "os", "language"),
    "install.python": ("version",),
    "config.jupyter": ("token", "port"),
    "config.entrypoint": ("args",),
    "install.python_packages": ("name", "requirements", "local_wheels"),
    "install.apt_packages": ("name",),
    "io.copy": ("host_path", "envd_path", "source", "target"),
    "runtime.command": ("commands",),
    "runtime.expose": ("envd_port", "host_port", "service", "listen_addr"),
    "runtime.daemon": ("commands",),
    "runtime.environ": ("env", "extra_path"),
    "runtime.mount": ("host_path", "envd_path"),
    "runtime.init": ("commands",),
}
TAB_LEN = 8
# envd's default base image (base() and base(dev=True) without image=).
DEFAULT_IMAGE = "ubuntu:22.04"
# install.python(): the distribution's Python 3 and pip, and `python` as its name (envd's environments have it).
PYTHON_APT = ("python3", "python3-pip", "python-is-python3")
JUPYTER_PORT = 8888
MAX_REQUIREMENTS_BYTES = 1 << 20
_HINT = ("rtc reads build.envd without running it: calls such as "
         "install.python_packages(name=[...]) with literal values, no variables, loops or conditions")


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
    params: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- tokens

# One token per match, ASCII only (`\d` would take "١" for a digit). Order matters: a line
# continuation before the backslash; newlines with the indentation of the next line.
_TOKEN = re.compile(r"""
    (?P<ws>[\t \f]+)
  | (?P<cont>\\[\t \f]*\r?\n)
  | (?P<comment>\#[^\n]*)
  | (?P<nl>\r?\n)
  | (?P<string3>"{3}(?:[^"\\]|\\.|"(?!"{2}))*"{3}|'{3}(?:[^'\\]|\\.|'(?!'{2}))*'{3})
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct>[()\[\]{},:=.])
""", re.VERBOSE | re.ASCII)
_KEYWORDS = {"def", "pass", "True", "False", "None"}


@dataclass(slots=True)
class _Tok:
    kind: str  # NAME, KEYWORD, STRING, NUMBER, PUNCT, NEWLINE, INDENT, DEDENT, END
    text: str
    line: int
    col: int
    end_line: int
    end_col: int


def _tokens(text: str, file: str):
    """The file's tokens with Python-style NEWLINE/INDENT/DEDENT (none inside brackets), one at a time."""
    out = _Out()
    line, line_start, pos, n = 1, 0, 0, len(text)
    depth = 0  # bracket depth: newlines inside brackets are ignored
    indents = [0]
    at_line_start = True
    pending_newline = False
    match = _TOKEN.match
    while pos < n:
        m = match(text, pos)
        col = pos - line_start + 1
        if m is None:
            ch = text[pos]
            raise CompileError(Diagnostic(BAD_CHARACTER if ch not in "\"'" else SYNTAX,
                                          f"unexpected character {ch!r}" if ch not in "\"'" else "a string is not closed on its line",
                                          Span(file, line, col, line, col + 1), _HINT))
        kind = m.lastgroup
        value = m.group()
        end = m.end()
        if kind == "string" and value in ('""', "''") and text.startswith(value[0] * 3, pos):
            raise CompileError(Diagnostic(SYNTAX, "a triple-quoted string is not closed", Span(file, line, col, line, col + 3), _HINT))
        if kind == "ws" or kind == "comment":
            pos = end
            continue
        if kind in ("cont", "nl"):
            line += 1
            line_start = end
            pos = end
            if kind == "nl" and depth == 0 and not at_line_start:
                pending_newline = True
                at_line_start = True
            continue
        if at_line_start and depth == 0:
            indent = text[line_start:pos]
            width = indent.count(" ") + indent.count("\t") * TAB_LEN
            if pending_newline:
                out.append(_Tok("NEWLINE", "", line, 1, line, 1))
                pending_newline = False
            if width > indents[-1]:
                indents.append(width)
                out.append(_Tok("INDENT", "", line, col, line, col))
            else:
                while width < indents[-1]:
                    indents.pop()
                    out.append(_Tok("DEDENT", "", line, col, line, col))
                if width != indents[-1]:
                    raise CompileError(Diagnostic(SYNTAX, "unexpected indentation: it matches no enclosing block",
                                                  Span(file, line, col), _HINT))
        at_line_start = False
        if kind == "punct":
            if value in "([{":
                depth += 1
            elif value in ")]}":
                depth = max(0, depth - 1)
            tok_kind = "PUNCT"
        elif kind == "name":
            tok_kind = "KEYWORD" if value in _KEYWORDS else "NAME"
        elif kind == "string3":  # may span lines: its end moves the line count on
            tok_kind = "STRING"
            breaks = value.count("\n")
            if breaks:
                start_line = line
                line += breaks
                line_start = pos + value.rfind("\n") + 1
                out.append(_Tok(tok_kind, value, start_line, col, line, end - line_start + 1))
                pos = end
                yield from out.flush()
                continue
        else:
            tok_kind = kind.upper()
        out.append(_Tok(tok_kind, value, line, col, line, col + len(value)))
        pos = end
        yield from out.flush()
    end_line, end_col = line, pos - line_start + 1
    if depth == 0 and (not at_line_start or pending_newline):
        out.append(_Tok("NEWLINE", "", end_line, end_col, end_line, end_col))
    while len(indents) > 1:
        indents.pop()
        out.append(_Tok("DEDENT", "", end_line, end_col, end_line, end_col))
    out.append(_Tok("END", "", end_line, end_col, end_line, end_col))
    yield from out.flush()


class _Out:
    """The tokens found so far (a few at a time: the reader takes them as they come, memory stays flat)."""

    __slots__ = ("items",)

    def __init__(self):
        self.items: list[_Tok] = []

    def append(self, tok: _Tok) -> None:
        self.items.append(tok)

    def flush(self) -> list[_Tok]:
        items, self.items = self.items, []
        return items


# ---------------------------------------------------------------- the reader


class _Reader:
    """Recursive descent over the tokens; values recurse at most MAX_NESTING levels (then E010)."""

    def __init__(self, tokens, file: str):
        self.tokens = iter(tokens)
        self.cur = next(self.tokens)
        self.file = file

    def peek(self) -> _Tok:
        return self.cur

    def take(self) -> _Tok:
        tok = self.cur
        if tok.kind != "END":
            self.cur = next(self.tokens)
        return tok

    def unexpected(self, tok: _Tok) -> CompileError:
        found = {"INDENT": "indentation", "DEDENT": "the end of an indented block",
                 "NEWLINE": "a line break", "END": "the end of the file"}.get(tok.kind, repr(tok.text))
        return CompileError(Diagnostic(
            SYNTAX, f"unexpected {found}: envd files here hold `def build():` and calls with literal arguments",
            Span(self.file, tok.line, tok.col), _HINT))

    def expect(self, kind: str, text: str | None = None) -> _Tok:
        tok = self.take()
        if tok.kind != kind or (text is not None and tok.text != text):
            raise self.unexpected(tok)
        return tok

    def is_(self, kind: str, text: str | None = None) -> bool:
        tok = self.cur
        return tok.kind == kind and (text is None or tok.text == text)

    def span(self, first: _Tok, last: _Tok) -> Span:
        return Span(self.file, first.line, first.col, last.end_line, last.end_col)

    # -- statements

    def module(self) -> list[FuncDef]:
        funcs = []
        while not self.is_("END"):
            if self.is_("NEWLINE"):
                self.take()
                continue
            if self.is_("STRING"):  # the module's docstring (or any string statement): nothing to do
                self.docstring()
                continue
            if self.is_("NAME"):  # `envdlib = include("https://...")`, or a call outside any function
                raise self.top_level()
            funcs.append(self.funcdef())
        return funcs

    def docstring(self) -> None:
        while self.is_("STRING"):
            self.take()
        self.expect("NEWLINE")

    def top_level(self) -> CompileError:
        first = self.take()
        if self.is_("PUNCT", "="):
            self.take()
            if self.is_("NAME", "include"):
                call = self.call()
                return CompileError(Diagnostic(
                    BAD_STATEMENT, REFUSED["include"], call.span,
                    "copy the functions you need into this file: helper functions defined here are read"))
            return CompileError(Diagnostic(BAD_STATEMENT, f"a variable ({first.text} = ...) outside a function is not read by rtc",
                                           Span(self.file, first.line, first.col), _HINT))
        return CompileError(Diagnostic(BAD_STATEMENT, "a statement outside a function: envd runs `build()`; put it there",
                                       Span(self.file, first.line, first.col), _HINT))

    def funcdef(self) -> FuncDef:
        self.expect("KEYWORD", "def")
        name = self.expect("NAME")
        self.expect("PUNCT", "(")
        params = []
        while not self.is_("PUNCT", ")"):  # kept to say, if it is called, that parameters are not read
            params.append(self.expect("NAME").text)
            if self.is_("PUNCT", "="):
                self.take()
                self.value(1)
            if not self.is_("PUNCT", ")"):
                self.expect("PUNCT", ",")
        for p in (")", ":"):
            self.expect("PUNCT", p)
        self.expect("NEWLINE")
        self.expect("INDENT")
        func = FuncDef(name.text, [], Span(self.file, name.line, name.col), params)
        statements = 0
        while not self.is_("DEDENT"):
            if self.is_("NEWLINE"):
                self.take()
                continue
            if self.is_("STRING"):  # a docstring
                self.docstring()
                statements += 1
                continue
            if self.is_("KEYWORD", "pass"):
                self.take()
            else:
                func.calls.append(self.call())
            self.expect("NEWLINE")
            statements += 1
        if not statements:
            raise self.unexpected(self.peek())
        self.take()
        return func

    def call(self) -> Call:
        first = self.expect("NAME")
        parts = [first.text]
        while self.is_("PUNCT", "."):
            self.take()
            parts.append(self.expect("NAME").text)
        self.expect("PUNCT", "(")
        args = []
        while not self.is_("PUNCT", ")"):
            tok = self.peek()
            if tok.kind == "NAME":
                self.take()
                self.expect("PUNCT", "=")
                value = self.value(1)
                args.append((tok.text, value, Span(self.file, tok.line, tok.col, value.span.end_line, value.span.end_col)))
            else:
                value = self.value(1)
                args.append((None, value, value.span))
            if not self.is_("PUNCT", ")"):
                self.expect("PUNCT", ",")
        last = self.take()
        return Call(".".join(parts), args, self.span(first, last))

    # -- values

    def value(self, depth: int):
        tok = self.take()
        if tok.kind == "STRING":
            last, pieces = tok, [_unquote(tok, self.file)]
            while self.is_("STRING"):  # adjacent literals concatenate, as in Starlark
                last = self.take()
                pieces.append(_unquote(last, self.file))
            return ast.Str("".join(pieces), self.span(tok, last))
        if tok.kind == "NUMBER":
            return self.number(tok)
        if tok.kind == "KEYWORD" and tok.text in ("True", "False", "None"):
            span = self.span(tok, tok)
            return ast.Null(span) if tok.text == "None" else ast.Bool(tok.text == "True", span)
        if tok.kind == "PUNCT" and tok.text in "[{":
            if depth > MAX_NESTING:
                raise CompileError(too_deep(self.span(tok, tok)))
            return self.list_(tok, depth) if tok.text == "[" else self.dict_(tok, depth)
        raise self.unexpected(tok)

    def list_(self, first: _Tok, depth: int):
        items = []
        while not self.is_("PUNCT", "]"):
            items.append(self.value(depth + 1))
            if not self.is_("PUNCT", "]"):
                self.expect("PUNCT", ",")
        return ast.ListExpr(items, self.span(first, self.take()))

    def dict_(self, first: _Tok, depth: int):
        entries = []
        while not self.is_("PUNCT", "}"):
            key = self.value(depth + 1)
            self.expect("PUNCT", ":")
            value = self.value(depth + 1)
            if not isinstance(key, ast.Str):
                raise CompileError(Diagnostic(BAD_STATEMENT, "a dict key must be a string", key.span))
            entries.append(ast.MapEntry(key.value, value, key.span))
            if not self.is_("PUNCT", "}"):
                self.expect("PUNCT", ",")
        return ast.MapExpr(entries, self.span(first, self.take()))

    def number(self, tok: _Tok):
        span = self.span(tok, tok)
        text = tok.text
        if len(text) > MAX_NUMBER_CHARS:
            raise CompileError(Diagnostic(BAD_LITERAL, f"a number of {len(text):,} characters; at most {MAX_NUMBER_CHARS}",
                                          Span(self.file, tok.line, tok.col, tok.line, tok.col + 1),
                                          "envd numbers here are ports and counts"))
        if text.lstrip("+-").isdigit():
            return ast.Int(int(text), span)
        value = float(text)
        if not math.isfinite(value):
            raise CompileError(Diagnostic(BAD_LITERAL, f"the number {text} is too large", span))
        return ast.Float(value, span)


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "0": "\0"}


def _unquote(token: _Tok, file: str) -> str:
    quotes = 3 if token.text[:3] in ('"""', "'''") and len(token.text) >= 6 else 1
    body = token.text[quotes:-quotes]
    if "\\" not in body:
        return body
    out, i = [], 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            if nxt not in _ESCAPES:
                raise CompileError(Diagnostic("E002", f"unknown escape \\{nxt} in a string",
                                              Span(file, token.line, token.col + i + 1)))
            out.append(_ESCAPES[nxt])
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def parse_envd(text: str, file: str, env_name: str | None = None) -> ast.Module:
    """One `env` block from a build.envd; raises CompileError with positions."""
    funcs = {f.name: f for f in _Reader(_tokens(text, file), file).module()}  # a later def wins, as in Starlark
    build = funcs.get("build")
    if build is None:
        raise CompileError(Diagnostic(BAD_STATEMENT, "an envd file needs `def build():`", Span(file, 1, 1),
                                      "envd runs the `build` function; rtc reads its calls"))
    name = env_name or os.path.basename(os.path.dirname(os.path.abspath(file))) or "env"
    items = _Items(file).read(_expand(build, funcs, file))
    module = ast.Module(file=file)
    module.blocks.append(ast.Block("env", name, items, build.span, build.span, origin="envd"))
    return module


def _expand(build: FuncDef, funcs: dict[str, FuncDef], file: str) -> list[Call]:
    """build()'s calls with the file's own helper functions inlined, in order (no recursion; at most MAX_CALLS)."""
    out: list[Call] = []
    # Inlining a helper twice doubles its calls: bounded by the file's own size, or MAX_CALLS if larger.
    limit = max(MAX_CALLS, sum(len(f.calls) for f in funcs.values()))
    # (function, next call index); the chain of active helpers is the stack itself.
    stack: list[tuple[FuncDef, int]] = [(build, 0)]
    active = {build.name}
    while stack:
        func, i = stack.pop()
        if i >= len(func.calls):
            active.discard(func.name)
            continue
        stack.append((func, i + 1))
        call = func.calls[i]
        helper = funcs.get(call.name)
        if helper is None:
            out.append(call)
            if len(out) > limit:
                raise CompileError(Diagnostic(BAD_STATEMENT, f"build() makes more than {limit:,} calls once its helpers are inlined",
                                              call.span, "rtc reads envd files of ordinary size"))
            continue
        if call.args or helper.params:
            raise CompileError(Diagnostic(BAD_STATEMENT, f"{call.name}() takes arguments; rtc inlines only helper functions "
                                          "without parameters", call.span, "write the values inside the helper"))
        if helper.name in active:
            chain = " -> ".join([f.name for f, _ in stack] + [helper.name])
            raise CompileError(Diagnostic(BAD_STATEMENT, f"{call.name}() calls itself ({chain})", call.span,
                                          "envd's Starlark does not allow recursion either"))
        active.add(helper.name)
        stack.append((helper, 0))
    return out


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
        based = False
        for call in calls:
            if call.name in SKIPPED:
                continue
            if call.name in REFUSED:
                self.error(REFUSED[call.name], call.span)
                continue
            if call.name not in FUNCTIONS:
                self.error(f"{call.name}() is not supported by rtc", call.span,
                           "supported: " + ", ".join(f"{f}()" for f in FUNCTIONS) + " (shell() and git_config() are skipped)")
                continue
            args = self._bind(call)
            if args is None:
                continue
            if call.name == "base":
                based = True
                items.append(ast.Attr("base", self._base(args, call, lists), call.span))
            elif call.name == "install.python":
                self._add(lists, "apt", [ast.Str(p, call.span) for p in PYTHON_APT], call.span)
            elif call.name in ("install.python_packages", "install.apt_packages"):
                key = "pip" if call.name == "install.python_packages" else "apt"
                if "local_wheels" in args:
                    self.error(f"{call.name}(local_wheels=) is not supported", call.span,
                               "list the packages with name=[...], or copy the wheels with io.copy() and install them in runtime.init()")
                names = self._list(args.get("name"), "name", call.span) if "name" in args else []
                if "requirements" in args:
                    names = names + self._requirements(args["requirements"], call.span)
                self._add(lists, key, names, call.span)
            elif call.name == "config.jupyter":
                items += self._jupyter(args, call, lists)
            elif call.name == "config.entrypoint":
                words = self._list(args.get("args"), "args", call.span)
                if words:  # exec form: each word stays one word in the daemon's shell line
                    quoted = [ast.Str(shlex.quote(w.value), w.span) for w in words]
                    items.append(ast.DaemonStmt(ast.ListExpr(quoted, call.span), call.span))
            elif call.name in ("io.copy", "runtime.mount"):
                host = self._str(args.get("host_path", args.get("source")), "host_path", call.span)
                target = self._str(args.get("envd_path", args.get("target")), "envd_path", call.span)
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
        if not based and calls:  # envd builds on its default image when build() names none
            first = calls[0].span
            items.insert(0, ast.Attr("base", ast.Str(DEFAULT_IMAGE, first), first))
        for key, (values, span) in lists.items():
            items.append(ast.Attr(key, ast.ListExpr(values, span), span))
        if environ:
            items.append(ast.Attr("environ", ast.MapExpr(environ, environ_span), environ_span))
        if self.problems:
            raise CompileError(self.problems)
        return items

    @staticmethod
    def _add(lists: dict, key: str, names: list, span: Span) -> None:
        if key not in lists:
            lists[key] = ([], span)
        lists[key][0].extend(names)  # in place: 100k calls stay linear

    def _base(self, args: dict, call: Call, lists: dict):
        """base(image=..., dev=...): envd's default image when none is named; envd v0's os=/language= too."""
        image = args.get("image")
        if image is not None and not isinstance(image, ast.Null):
            return self._str(image, "image") or ast.Str(DEFAULT_IMAGE, call.span)
        os_name = args.get("os")
        text = DEFAULT_IMAGE
        if isinstance(os_name, ast.Str):
            m = re.fullmatch(r"([a-z]+)[:-]?([0-9][0-9.]*)", os_name.value)
            if m is None:
                self.error(f"base(os={os_name.value!r}): expected a name and version such as \"ubuntu22.04\"", os_name.span)
            else:
                text = f"{m.group(1)}:{m.group(2)}"
        language = args.get("language")
        if isinstance(language, ast.Str) and language.value.startswith("python"):
            self._add(lists, "apt", [ast.Str(p, call.span) for p in PYTHON_APT], call.span)
        elif isinstance(language, ast.Str):
            self.error(f"base(language={language.value!r}) is not supported: rtc installs Python only "
                       "(R and Julia environments are not supported)", language.span)
        return ast.Str(text, call.span)

    def _requirements(self, value, span: Span) -> list:
        """The package lines of a requirements file beside the build.envd (read now: they join `pip`)."""
        path_value = self._str(value, "requirements", span)
        if path_value is None:
            return []
        path = os.path.join(os.path.dirname(os.path.abspath(self.file)), path_value.value)
        try:
            with open(path, "rb") as f:
                data = f.read(MAX_REQUIREMENTS_BYTES + 1)
        except OSError as exc:
            self.error(f"requirements file {path_value.value!r}: {exc.strerror or exc}", path_value.span)
            return []
        if len(data) > MAX_REQUIREMENTS_BYTES:
            self.error(f"requirements file {path_value.value!r} is over {MAX_REQUIREMENTS_BYTES:,} bytes", path_value.span)
            return []
        names = []
        for number, raw in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
            line = re.sub(r"(^|\s)#.*", "", raw).strip()
            if not line:
                continue
            if line.startswith("-"):
                self.error(f"{path_value.value}:{number}: pip options such as {line.split()[0]} are not read by rtc; "
                           "list the packages one a line", path_value.span)
                continue
            names.append(ast.Str(line, path_value.span))
        return names

    def _jupyter(self, args: dict, call: Call, lists: dict) -> list:
        """config.jupyter(token=, port=): JupyterLab installed, run as a daemon in the project folder, its port published."""
        token = args.get("token")
        token_text = token.value if isinstance(token, ast.Str) else ""
        if token is not None and not isinstance(token, (ast.Str, ast.Null)):
            self.error("`token` must be a string", token.span)
        port = self._port(args.get("port"), "port", call.span) or ast.Int(JUPYTER_PORT, call.span)
        self._add(lists, "pip", [ast.Str("jupyterlab", call.span)], call.span)
        words = ["python3", "-m", "jupyterlab", "--ip=0.0.0.0", f"--port={port.value}", "--no-browser", "--allow-root",
                 "--ServerApp.token=" + shlex.quote(token_text)]
        argv = ast.ListExpr([ast.Str(w, call.span) for w in words], call.span)
        return [ast.DaemonStmt(argv, call.span),
                ast.ExposeStmt(port, ast.Int(0, call.span), None, ast.Str("jupyter", call.span), call.span)]

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
        digits = value.value.strip() if isinstance(value, ast.Str) else ""
        if digits.isascii() and digits.isdigit() and len(digits) <= 5:  # "²" and "١" are not port numbers
            return ast.Int(int(digits), value.span)
        self.error(f"`{what}` must be a port number (a number or a string of digits)", value.span)
        return None
