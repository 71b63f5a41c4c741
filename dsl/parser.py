"""The `.rt` front end: text -> `rtc.dsl.ast.Module`, or a `CompileError`.

The Lark LALR parser is built once per process (`_lark`). The transformer
below has one method per grammar rule and stays purely syntactic: it turns
the parse tree into syntax-tree nodes with spans and reports only what the
grammar cannot say by itself (a malformed number or duration, a bad string
escape, a step with unnamed arguments). Every Lark exception is translated
into a diagnostic here, so no input ends in a traceback.
"""

from __future__ import annotations

import json
import re
import threading
from functools import lru_cache

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedInput, UnexpectedToken, VisitError

from rtc.base.diagnostics import CompileError, Diagnostic, Span, sorted_diagnostics
from rtc.dsl import ast
from rtc.dsl.fast_parser import MAX_INT_DIGITS, is_int, number_node, try_parse
from rtc.dsl.fast_parser import dedent_long_string as _dedent_long_string

# Diagnostic codes of the front ends (docs/language.md, "Syntax errors").
UNEXPECTED_TOKEN = "E001"
UNEXPECTED_CHARACTER = "E002"
BAD_LITERAL = "E003"
BAD_STATEMENT = "E004"

PORT_BLOCK_KINDS = ("inputs", "outputs", "secrets", "params")
TRIGGERS = ("all_success", "all_done")

_INT = re.compile(r"-?[0-9]+")

DURATION_HINT = "durations are written like 300s, 1.5h, 2h45m, 500ms or 1d"

# What a user calls the grammar's named terminals in "expected ..." messages.
_READABLE = {
    "NAME": "a name",
    "STRING": "a string",
    "LONG_STRING": "a string",
    "NUMBER": "a number",
    "$END": "the end of the file",
}


# The comments the lexer skips, collected only while `concrete_tree` parses (for `rtc fmt`).
_comments = threading.local()


def _collect_comment(token: Token) -> None:
    sink = getattr(_comments, "sink", None)
    if sink is not None:
        sink.append(token)


@lru_cache(maxsize=1)
def _lark() -> Lark:
    """The one Lark parser of `.rt` files in a process: this module's reference parser and `rtc fmt`'s.

    Its tables are built from grammars/rtc.lark on first use (~0.07 s). Not
    `cache=True`: Lark would load a pickle from the shared temporary folder,
    where another local user can plant one. Nor a transformer applied during
    the parse: `rtc fmt` needs the concrete tree, and Lark gives an inline
    transformer no positions (benchmarks/README.md, "Issue 18: one grammar").
    """
    return Lark.open_from_package(
        "rtc.grammars", "rtc.lark", parser="lalr", propagate_positions=True, maybe_placeholders=True,
        lexer_callbacks={"COMMENT": _collect_comment},
    )


def concrete_tree(text: str) -> tuple[Tree, list[Token]]:
    """Lark's parse tree of `text` (positions on every node) and the comments its lexer skipped.

    Raises Lark's exceptions: callers check the text with `parse_rt` first.
    """
    _comments.sink = []
    try:
        tree = _lark().parse(text)
        return tree, _comments.sink
    finally:
        _comments.sink = None


def parse_rt(text: str, file: str) -> ast.Module:
    """Parse one `.rt` source; raise `CompileError` on any syntax error.

    A well-formed file is read by `rtc.dsl.fast_parser` (the same tree, 8-9x
    faster than this module's Lark path, and Lark is not even imported);
    anything else goes to Lark, which reports. Callers that parse large
    files should hold `rtc.compiler.fewer_collections()` (compile_file does):
    the collector's rescans otherwise make parsing superlinear.
    """
    module = try_parse(text, file)
    if module is not None:
        return module
    return parse_rt_with_lark(text, file)


def parse_rt_with_lark(text: str, file: str) -> ast.Module:
    """The reference parser: Lark LALR and `_AstBuilder`; every syntax error is reported here."""
    try:
        tree = _lark().parse(text)
    except UnexpectedInput as exc:
        raise CompileError(_syntax_diagnostic(exc, text, file)) from None
    except LarkError as exc:  # anything else Lark may raise: still a diagnostic, never a traceback
        raise CompileError(Diagnostic(UNEXPECTED_TOKEN, f"cannot parse: {exc}", Span(file, 1, 1))) from None
    builder = _AstBuilder(file)
    try:
        module = builder.transform(tree)
    except VisitError as exc:
        if isinstance(exc.orig_exc, CompileError):
            raise exc.orig_exc from None
        raise
    if builder.diagnostics:
        raise CompileError(sorted_diagnostics(builder.diagnostics))
    return module


# ---------------------------------------------------------------- syntax errors


def _syntax_diagnostic(exc: UnexpectedInput, text: str, file: str) -> Diagnostic:
    line, col = getattr(exc, "line", None), getattr(exc, "column", None)
    if not isinstance(line, int) or line < 1:
        line, col = _end_position(text)
    if isinstance(exc, UnexpectedToken):
        token = exc.token
        span = Span(file, line, col, getattr(token, "end_line", None), getattr(token, "end_column", None))
        if token.type == "$END":
            span = Span(file, *_end_position(text))
        expected = describe_expected(_acceptable(exc))
        message = f"unexpected {describe_token(token)}"
        if expected:
            message += f"; expected {expected}"
        return Diagnostic(UNEXPECTED_TOKEN, message, span, _hint_for(token, exc.expected))
    if isinstance(exc, UnexpectedCharacters):
        pos = exc.pos_in_stream
        span = Span(file, line, col, line, col + 1)
        if text.startswith('"""', pos) or (pos >= 2 and text[pos - 2 : pos + 1] == '"""'):
            if not text.startswith('"""', pos):
                span = Span(file, line, col - 2, line, col + 1)
            return Diagnostic(UNEXPECTED_CHARACTER, 'unterminated multi-line string: no closing """', span)
        if text.startswith('"', pos):
            return Diagnostic(
                UNEXPECTED_CHARACTER,
                "unterminated string: no closing \" on this line",
                span,
                'use """...""" for a string that spans several lines',
            )
        char = text[pos] if 0 <= pos < len(text) else "?"
        return Diagnostic(UNEXPECTED_CHARACTER, f"unexpected character {char!r}", span)
    return Diagnostic(UNEXPECTED_TOKEN, "unexpected end of file", Span(file, *_end_position(text)))


def _acceptable(exc: UnexpectedToken) -> set[str]:
    """The terminals the parser could take here; exact, unlike LALR's merged lookahead set."""
    try:
        return set(exc.interactive_parser.accepts())
    except Exception:  # noqa: BLE001 - an inexact list beats no message at all
        return set(exc.expected)


def _end_position(text: str) -> tuple[int, int]:
    lines = text.split("\n")
    return len(lines), len(lines[-1]) + 1


def describe_token(token: Token) -> str:
    if token.type == "$END":
        return "end of file"
    if token.type == "NAME":
        return f"name {str(token)!r}"
    if token.type in ("STRING", "LONG_STRING"):
        return "string " + _shorten(str(token))
    if token.type == "NUMBER":
        return f"number {str(token)}"
    return f"'{token}'"


def _shorten(text: str, limit: int = 30) -> str:
    text = text.replace("\n", "\\n")
    return text if len(text) <= limit else text[: limit - 3] + "..."


@lru_cache(maxsize=1)
def _terminal_texts() -> dict[str, str]:
    texts = dict(_READABLE)
    for term in _lark().terminals:
        if term.name not in texts and term.pattern.type == "str":
            texts[term.name] = f"'{term.pattern.value}'"
    return texts


_VALUE_TERMINALS = {"STRING", "LONG_STRING", "NUMBER", "TRUE", "FALSE", "NULL", "LSQB", "LBRACE", "NAME"}
_STATEMENT_TERMINALS = {"MOUNT", "COPY", "EXPOSE", "DAEMON", "INIT", "COMMAND", "NAME"}
_BLOCK_TERMINALS = {"ENV", "NODE", "GRAPH", "CODESPEC", "RUN"}


def describe_expected(expected) -> str:
    """Terminal names -> "'=' or '{'", with families folded into one word."""
    expected = set(expected)
    words: list[str] = []
    if {"STRING", "NUMBER"} <= expected:
        expected -= _VALUE_TERMINALS
        words.append("a value")
    if {"MOUNT", "EXPOSE"} <= expected:
        expected -= _STATEMENT_TERMINALS
        words.append("a statement")
    if _BLOCK_TERMINALS <= expected:
        expected -= _BLOCK_TERMINALS
        words.append("a block (env, node, graph, codespec, run)")
    texts = _terminal_texts()
    words += sorted({texts.get(name, name.lower()) for name in expected})
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " or " + words[-1]


def _hint_for(token: Token, expected) -> str | None:
    if token.type == "COLON" and "EQUAL" in expected:
        return "attributes use '=': `name = value`"
    if token.type == "EQUAL" and "COLON" in expected:
        return "declarations use ':': `name: type`"
    if token.type == "NAME" and "COMMA" in expected and "RSQB" in expected:
        return "separate list items with ','"
    return None


# ---------------------------------------------------------------- tree -> AST


class _RawCall:
    """`f(...)` before its context is known: a step (named arguments) or an expression (`each(x)`)."""

    def __init__(self, func: ast.Ref, args: list, span: Span):
        self.func, self.args, self.span = func, args, span

    @property
    def named(self) -> list[ast.StepArg]:
        return [a for a in self.args if isinstance(a, ast.StepArg)]

    @property
    def positional(self) -> list:
        return [a for a in self.args if not isinstance(a, ast.StepArg)]


@v_args(inline=True, meta=True)
class _AstBuilder(Transformer):
    def __init__(self, file: str):
        super().__init__()
        self.file = file
        self.diagnostics: list[Diagnostic] = []
        # Lark's v_args wrapper rebuilds a bound wrapper (functools.update_wrapper) on every
        # attribute lookup, which cost half the parse time; bind each rule method once.
        for name, attr in vars(type(self)).items():
            if not name.startswith("_") and hasattr(attr, "__get__") and callable(attr):
                setattr(self, name, getattr(self, name))

    # -- helpers

    def _span(self, meta) -> Span:
        if getattr(meta, "empty", True):
            return Span(self.file, 1, 1)
        return Span(self.file, meta.line, meta.column, meta.end_line, meta.end_column)

    def _tspan(self, token: Token) -> Span:
        return Span(self.file, token.line, token.column, token.end_line, token.end_column)

    def _error(self, code: str, message: str, span: Span, hint: str | None = None) -> None:
        self.diagnostics.append(Diagnostic(code, message, span, hint))

    def _str(self, token: Token) -> ast.Str:
        return ast.Str(self._decode_string(token), self._tspan(token))

    def _decode_string(self, token: Token) -> str:
        raw = str(token)
        if token.type == "LONG_STRING":
            return _dedent_long_string(raw[3:-3])
        try:
            return json.loads(raw, strict=False)
        except ValueError:
            self._error(
                UNEXPECTED_CHARACTER,
                f"bad escape in string {_shorten(raw)}",
                self._tspan(token),
                'strings use JSON escapes: \\" \\\\ \\n \\t \\uXXXX',
            )
            return raw[1:-1]

    def _expr(self, value):
        """An expression in value position: a call here must be `each(x)`-like (no named arguments)."""
        if isinstance(value, _RawCall):
            for arg in value.named:
                self._error(
                    BAD_STATEMENT,
                    f"named argument {arg.name!r} is only allowed in a step (`name = Node({arg.name} = ...)`)",
                    arg.span,
                )
            return ast.Call(value.func.dotted, [self._expr(a) for a in value.positional], value.span)
        return value

    # -- top level

    def start(self, meta, *items):
        module = ast.Module(file=self.file)
        for item in items:
            if isinstance(item, ast.Import):
                module.imports.append(item)
            elif isinstance(item, ast.Block):
                module.blocks.append(item)
            else:  # ("namespace", name, span)
                if module.namespace is not None:
                    self._error(BAD_STATEMENT, "a file has one namespace; this is the second", item[2])
                module.namespace, module.namespace_span = item[1], item[2]
        return module

    def namespace_decl(self, meta, name):
        return ("namespace", str(name), self._tspan(name))

    def import_decl(self, meta, path, alias=None):
        return ast.Import(self._decode_string(path), self._span(meta), str(alias) if alias is not None else None)

    def block_kind(self, meta, kind):
        return kind

    def block(self, meta, kind, name, *items):
        span = self._tspan(name)
        kept = []
        for item in items:
            if isinstance(item, ast.PortDecl):
                self._error(
                    UNEXPECTED_TOKEN,
                    f"unexpected name {item.name!r}; expected '=' or '{{' after it",
                    item.span,
                    f"write `{item.name} = value` or `{item.name} {{ ... }}`",
                )
            else:
                kept.append(item)
        return ast.Block(str(kind), str(name), kept, span, span)

    # -- statements

    def assign(self, meta, name, value, *afters):
        name_span = self._tspan(name)
        if isinstance(value, _RawCall) and (value.named or not value.args):
            return self._step(meta, name, value, afters)
        if isinstance(value, _RawCall) and value.func.dotted != "each" and not afters:
            self._error(
                BAD_STATEMENT,
                f"step arguments must be named: `{name} = {value.func.dotted}(input = value)`",
                value.span,
            )
        for kind, payload, span in afters:
            self._error(BAD_STATEMENT, "`after` only follows a step such as `x = Node(a = 1)`", span)
        return ast.Attr(str(name), self._expr(value), name_span)

    def _step(self, meta, name, call: _RawCall, afters) -> ast.StepStmt:
        for arg in call.positional:
            self._error(
                BAD_STATEMENT,
                f"step arguments must be named: `{call.func.dotted}(input = value)`",
                getattr(arg, "span", call.span),
            )
        trigger, after = None, []
        for kind, payload, span in afters:
            if kind == "name" and payload.value in TRIGGERS:
                if trigger is not None:
                    self._error(BAD_STATEMENT, "a step has one trigger (`after all_done` or `after all_success`)", span)
                trigger = payload
            elif kind == "name":
                after.append(ast.Ref([payload.value], payload.span))
            else:
                for item in payload.items:
                    if isinstance(item, ast.Ref):
                        after.append(item)
                    else:
                        self._error(BAD_STATEMENT, "`after [...]` lists step names", getattr(item, "span", span))
        return ast.StepStmt(str(name), call.func, call.named, trigger, after, self._span(meta))

    def after_name(self, meta, name):
        return ("name", ast.Str(str(name), self._tspan(name)), self._span(meta))

    def after_list(self, meta, items):
        return ("list", items, self._span(meta))

    def command_attr(self, meta, value):
        keyword = Span(self.file, meta.line, meta.column, meta.line, meta.column + len("command"))
        return ast.Attr("command", self._expr(value), keyword)

    def sub_block(self, meta, name, *items):
        kind, span = str(name), self._span(meta)
        ports = [i for i in items if isinstance(i, ast.PortDecl)]
        others = [i for i in items if not isinstance(i, ast.PortDecl)]
        if kind in PORT_BLOCK_KINDS or (ports and not others and all(p.type for p in ports)):
            for item in others:
                self._error(
                    BAD_STATEMENT,
                    f"`{kind} {{ ... }}` declares `name: type` entries (secrets: bare names)",
                    item.span,
                )
            return ast.PortBlock(kind, ports, span)
        for item in ports:
            self._error(
                UNEXPECTED_TOKEN,
                f"unexpected name {item.name!r}; expected '=' after it",
                item.span,
                f"write `{item.name} = value`",
            )
        return ast.SubBlock(kind, others, span)

    def port_decl(self, meta, name, type_, default):
        text, type_span = type_
        default = self._expr(default) if default is not None else None
        return ast.PortDecl(str(name), text, default, self._span(meta), type_span)

    def bare_port(self, meta, name):
        return ast.PortDecl(str(name), None, None, self._tspan(name))

    def type(self, meta, name, *inner):
        text = str(name)
        if inner:
            text += "[" + ", ".join(t for t, _ in inner) + "]"
        return text, self._span(meta)

    def mount_stmt(self, meta, host, container, readonly):
        return ast.MountStmt(self._str(host), self._str(container), readonly is not None, self._span(meta))

    def copy_stmt(self, meta, host, container):
        return ast.CopyStmt(self._str(host), self._str(container), self._span(meta))

    def expose_stmt(self, meta, container_port, host_port, host_ip, service):
        return ast.ExposeStmt(
            self._port(container_port),
            self._port(host_port) if host_port is not None else None,
            self._str(host_ip) if host_ip is not None else None,
            self._str(service) if service is not None else None,
            self._span(meta),
        )

    def _port(self, token: Token) -> ast.Int:
        span = self._tspan(token)
        if not is_int(token):
            self._error(BAD_LITERAL, f"a port is a whole number, not {_shorten(repr(str(token)))}", span)
            return ast.Int(0, span)
        return ast.Int(int(token), span)

    def daemon_stmt(self, meta, argv):
        return ast.DaemonStmt(argv, self._span(meta))

    def init_stmt(self, meta, commands):
        return ast.InitStmt(commands, self._span(meta))

    def command_stmt(self, meta, name, value):
        return ast.CommandStmt(str(name), self._expr(value), self._span(meta))

    # -- expressions

    def string(self, meta, token):
        return self._str(token)

    def number(self, meta, token):
        return self._number(token)

    def _number(self, token: Token):
        text, span = str(token), self._tspan(token)
        node = number_node(text, span)
        if node is not None:
            return node
        if _INT.fullmatch(text):
            self._error(BAD_LITERAL, f"a whole number has at most {MAX_INT_DIGITS:,} digits", span)
        else:
            self._error(BAD_LITERAL, f"bad number or duration {_shorten(repr(text))}", span, DURATION_HINT)
        return ast.Int(0, span)

    def true(self, meta):
        return ast.Bool(True, self._span(meta))

    def false(self, meta):
        return ast.Bool(False, self._span(meta))

    def null(self, meta):
        return ast.Null(self._span(meta))

    def list(self, meta, *items):
        return ast.ListExpr([self._expr(i) for i in items if i is not None], self._span(meta))

    def map(self, meta, *entries):
        return ast.MapExpr(list(entries), self._span(meta))

    def map_entry(self, meta, key, value):
        text = self._decode_string(key) if key.type == "STRING" else str(key)
        return ast.MapEntry(text, self._expr(value), self._tspan(key))

    def dotted(self, meta, *names):
        return ast.Ref([str(n) for n in names], self._span(meta))

    def call(self, meta, func, *args):
        return _RawCall(func, [a for a in args if a is not None], self._span(meta))

    def kwarg(self, meta, name, value):
        return ast.StepArg(str(name), self._expr(value), self._span(meta))

    def posarg(self, meta, value):
        return self._expr(value)
