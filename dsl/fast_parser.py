"""A hand-written reader for well-formed `.rt` files: the fast path of `parse_rt`.

Lark's LALR parser (`rtc.dsl.parser`) is the reference for the language and
gives every syntax error its message, but it costs ~0.2 s to build its tables
at start-up and three quarters of the compile time of a large file. Most
files that rtc reads are well formed, so this module reads those: one regular
expression for the tokens and a recursive-descent parser over them that
builds exactly the syntax tree (`rtc.dsl.ast`, spans included) that Lark and
`_AstBuilder` would build.

It never reports anything. Whenever the input is not plainly well formed
(a syntax error, a keyword where the grammar is ambiguous about it, a bad
escape, a malformed number, anything `_AstBuilder` would diagnose) it gives
up with `None`, and `parse_rt` hands the file to Lark, which reports.
So the rule that keeps it honest is one-sided: it may refuse a valid file
(that only costs time), but it must never accept a file that Lark rejects,
nor build a different tree. tests/dsl/test_fast_parser.py checks both on
every `.rt` file in the repository and on random mutations of them, and
checks that the token patterns below are the grammar's (`GRAMMAR_SHA256`
pins the grammar this reader was written against: a grammar change fails
that test until this module is updated with it).

Keywords follow Lark's contextual lexer: a word is a keyword only where the
grammar accepts that keyword, so `env = py` inside a node is a plain name.
"""

from __future__ import annotations

import json
import re

from rtc.compiler.diagnostics import Span
from rtc.compiler.quantities import parse_duration
from rtc.dsl import ast

# sha256 of grammars/rtc.lark as this reader knows it (see the module docstring).
GRAMMAR_SHA256 = "766d49ae9f2081cd7ec612229be9a592b6bf6a7cb507532af4b1179fe61f42cb"

# The grammar's terminals as Lark holds them (escapes already decoded: `\n` is a newline
# character inside the pattern), checked against grammars/rtc.lark by the test.
NAME = "[A-Za-z_][A-Za-z0-9_-]*"
NUMBER = "-?[0-9][A-Za-z0-9_.\u00b5]*(?:[eE][+-][0-9]+)?"
LONG_STRING = '"""(?:.|\n)*?"""'
STRING = '"(?:[^"\\\\\n]|\\\\.)*"'
COMMENT = "#[^\n]*"
WS = "(?:[ \t\f\r\n])+"

# Order matters only where patterns could start alike: the long string before the string (its priority is higher).
_TOKEN = re.compile(
    rf"(?P<ws>{WS}|{COMMENT})"
    rf"|(?P<LONG_STRING>{LONG_STRING})"
    rf"|(?P<STRING>{STRING})"
    rf"|(?P<NAME>{NAME})"
    rf"|(?P<NUMBER>{NUMBER})"
    r"|(?P<punct>->|[{}\[\]()=,:.])"
    r"|(?P<bad>[\s\S])"
)

_INT = re.compile(r"-?[0-9]+")
_FLOAT = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?")

BLOCK_KINDS = frozenset(ast.BLOCK_KINDS)
STATEMENT_KEYWORDS = frozenset({"mount", "copy", "expose", "daemon", "init", "command"})
# Words that are keywords somewhere inside a block. Used as a name (other than where this
# reader handles the keyword itself), they send the file to Lark: LALR merges lookaheads,
# so the contextual lexer may take one of them as a keyword where the grammar does not
# expect it, and a syntax error must not be read as a name.
RISKY_WORDS = STATEMENT_KEYWORDS | {"after", "readonly", "on", "service", "true", "false", "null"}
PORT_BLOCK_KINDS = ("inputs", "outputs", "secrets", "params")
TRIGGERS = ("all_success", "all_done")


_decode_json = json.JSONDecoder(strict=False).decode  # one decoder, not one per string


class _GiveUp(Exception):
    """Not plainly well formed: let Lark read it (and report)."""


def try_parse(text: str, file: str) -> ast.Module | None:
    """The syntax tree of `text`, or None when Lark must read it."""
    try:
        tokens = _tokenize(text)
        return _Reader(tokens, file).module()
    except (_GiveUp, RecursionError):
        return None


# A token: (kind, text, line, col, end_line, end_col); kind is NAME, NUMBER, STRING, LONG_STRING,
# the punctuation itself, or "$END".
def _tokenize(text: str) -> list[tuple]:
    tokens = []
    append = tokens.append
    line, line_start = 1, 0
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup
        value = m.group()
        start = m.start()
        if kind == "ws":
            newlines = value.count("\n")
            if newlines:
                line += newlines
                line_start = start + value.rindex("\n") + 1
            continue
        if kind == "bad":
            raise _GiveUp
        col = start - line_start + 1
        if kind == "punct":
            kind = value
        elif kind == "LONG_STRING":
            newlines = value.count("\n")
            if newlines:
                end_line = line + newlines
                line_start = start + value.rindex("\n") + 1
                append((kind, value, line, col, end_line, m.end() - line_start + 1))
                line = end_line
                continue
        append((kind, value, line, col, line, col + len(value)))
    append(("$END", "", line, 0, line, 0))
    return tokens


class _RawCall:
    """`f(...)` before its context is known (as in rtc.dsl.parser)."""

    __slots__ = ("func", "named", "positional", "span")

    def __init__(self, func: ast.Ref, named: list, positional: list, span: Span):
        self.func, self.named, self.positional, self.span = func, named, positional, span


class _Reader:
    def __init__(self, tokens: list[tuple], file: str):
        self.tokens = tokens
        self.pos = 0
        self.file = file

    # -- tokens

    def peek(self) -> tuple:
        return self.tokens[self.pos]

    def next(self) -> tuple:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def expect(self, kind: str) -> tuple:
        token = self.tokens[self.pos]
        if token[0] != kind:
            raise _GiveUp
        self.pos += 1
        return token

    def at(self, kind: str) -> bool:
        return self.tokens[self.pos][0] == kind

    def at_word(self, word: str) -> bool:
        token = self.tokens[self.pos]
        return token[0] == "NAME" and token[1] == word

    def span(self, first: tuple, last: tuple) -> Span:
        return Span(self.file, first[2], first[3], last[4], last[5])

    def tspan(self, token: tuple) -> Span:
        return Span(self.file, token[2], token[3], token[4], token[5])

    # -- top level

    def module(self) -> ast.Module:
        module = ast.Module(file=self.file)
        while True:
            token = self.next()
            kind, word = token[0], token[1]
            if kind == "$END":
                return module
            if kind != "NAME":
                raise _GiveUp
            if word == "namespace":
                if module.namespace is not None:
                    raise _GiveUp  # the second namespace is a diagnostic
                name = self.next()
                module.namespace, module.namespace_span = self.name(name), self.tspan(name)
            elif word == "import":
                path = self.expect("STRING")
                module.imports.append(ast.Import(self.decode(path), self.span(token, path)))
            elif word in BLOCK_KINDS:
                name = self.next()
                self.name(name)
                self.expect("{")
                items = self.body()
                self.expect("}")
                if any(isinstance(item, ast.PortDecl) for item in items):
                    raise _GiveUp
                span = self.tspan(name)
                module.blocks.append(ast.Block(word, name[1], items, span, span))
            else:
                raise _GiveUp

    # -- statements

    def body(self) -> list:
        items = []
        tokens = self.tokens
        while True:
            kind = tokens[self.pos][0]
            if kind == "}":
                return items
            if kind != "NAME":
                raise _GiveUp
            items.append(self.statement())
            if tokens[self.pos][0] == ",":
                self.pos += 1

    def statement(self):
        first = self.next()
        word = first[1]
        if word in STATEMENT_KEYWORDS:
            return getattr(self, f"stmt_{word}")(first)
        self.name(first)
        token = self.peek()[0]
        if token == "=":
            self.pos += 1
            return self.assign(first)
        if token == "{":
            self.pos += 1
            items = self.body()
            last = self.expect("}")
            return self.sub_block(word, items, self.span(first, last))
        if token == ":":
            self.pos += 1
            return self.port_decl(first)
        return ast.PortDecl(word, None, None, self.tspan(first))

    def name(self, token: tuple) -> str:
        """A word used as a name; a word the grammar might take as a keyword here sends the file to Lark."""
        if token[0] != "NAME" or token[1] in RISKY_WORDS:
            raise _GiveUp
        return token[1]

    def assign(self, name: tuple):
        value = self.expr()
        end = value.span
        trigger, after, has_after = None, [], False
        while self.at_word("after"):
            has_after = True
            self.pos += 1
            if self.at("["):
                items = self.list_expr()
                end = items.span
                for item in items.items:
                    if not isinstance(item, ast.Ref):
                        raise _GiveUp
                    after.append(item)
            else:
                target = self.next()
                word = self.name(target)
                end = self.tspan(target)
                if word in TRIGGERS:
                    if trigger is not None:
                        raise _GiveUp
                    trigger = ast.Str(word, end)
                else:
                    after.append(ast.Ref([word], end))
        if isinstance(value, _RawCall):
            if value.named or not value.positional:
                if value.positional:
                    raise _GiveUp
                span = Span(self.file, name[2], name[3], end.end_line, end.end_col)
                return ast.StepStmt(name[1], value.func, value.named, trigger, after, span)
            if value.func.dotted != "each":
                raise _GiveUp
        if has_after:
            raise _GiveUp
        return ast.Attr(name[1], self.value(value), self.tspan(name))

    def sub_block(self, kind: str, items: list, span: Span):
        ports = [i for i in items if isinstance(i, ast.PortDecl)]
        if kind in PORT_BLOCK_KINDS or (ports and len(ports) == len(items) and all(p.type for p in ports)):
            if len(ports) != len(items):
                raise _GiveUp
            return ast.PortBlock(kind, ports, span)
        if ports:
            raise _GiveUp
        return ast.SubBlock(kind, items, span)

    def port_decl(self, name: tuple):
        text, type_span = self.type()
        end, default = type_span, None
        if self.at("="):
            self.pos += 1
            default = self.value(self.expr())
            end = default.span
        return ast.PortDecl(name[1], text, default, Span(self.file, name[2], name[3], end.end_line, end.end_col), type_span)

    def type(self) -> tuple[str, Span]:
        first = self.next()
        text = self.name(first)
        last = first
        if self.at("["):
            self.pos += 1
            inner = [self.type()[0]]
            while self.at(","):
                self.pos += 1
                inner.append(self.type()[0])
            last = self.expect("]")
            text += "[" + ", ".join(inner) + "]"
        return text, self.span(first, last)

    def stmt_mount(self, keyword: tuple):
        host = self.expect("STRING")
        self.expect("->")
        container = self.expect("STRING")
        last, read_only = container, False
        if self.at_word("readonly"):
            last, read_only = self.next(), True
        return ast.MountStmt(self.str(host), self.str(container), read_only, self.span(keyword, last))

    def stmt_copy(self, keyword: tuple):
        host = self.expect("STRING")
        self.expect("->")
        container = self.expect("STRING")
        return ast.CopyStmt(self.str(host), self.str(container), self.span(keyword, container))

    def stmt_expose(self, keyword: tuple):
        last = container_port = self.expect("NUMBER")
        host_port = host_ip = service = None
        if self.at("->"):
            self.pos += 1
            last = host_port = self.expect("NUMBER")
        if self.at_word("on"):
            self.pos += 1
            last = host_ip = self.expect("STRING")
        if self.at_word("service"):
            self.pos += 1
            last = service = self.expect("STRING")
        return ast.ExposeStmt(
            self.port(container_port),
            self.port(host_port) if host_port is not None else None,
            self.str(host_ip) if host_ip is not None else None,
            self.str(service) if service is not None else None,
            self.span(keyword, last),
        )

    def port(self, token: tuple) -> ast.Int:
        if not _INT.fullmatch(token[1]):
            raise _GiveUp
        return ast.Int(int(token[1]), self.tspan(token))

    def stmt_daemon(self, keyword: tuple):
        self.expect_at("[")
        argv = self.list_expr()
        return ast.DaemonStmt(argv, self.join(keyword, argv.span))

    def stmt_init(self, keyword: tuple):
        self.expect_at("[")
        commands = self.list_expr()
        return ast.InitStmt(commands, self.join(keyword, commands.span))

    def stmt_command(self, keyword: tuple):
        if self.at("="):  # `command = [...]`: the program of a node or codespec
            self.pos += 1
            value = self.value(self.expr())
            return ast.Attr("command", value, Span(self.file, keyword[2], keyword[3], keyword[2], keyword[3] + len("command")))
        name = self.name(self.next())
        self.expect("=")
        value = self.value(self.expr())
        return ast.CommandStmt(name, value, self.join(keyword, value.span))

    def expect_at(self, kind: str) -> None:
        if not self.at(kind):
            raise _GiveUp

    def join(self, first: tuple, last: Span) -> Span:
        return Span(self.file, first[2], first[3], last.end_line, last.end_col)

    # -- expressions

    def value(self, value):
        """An expression in value position (`_AstBuilder._expr`): a call here takes no named arguments."""
        if isinstance(value, _RawCall):
            if value.named:
                raise _GiveUp
            return ast.Call(value.func.dotted, [self.value(a) for a in value.positional], value.span)
        return value

    def expr(self):
        token = self.next()
        kind = token[0]
        if kind == "STRING" or kind == "LONG_STRING":
            return self.str(token)
        if kind == "NUMBER":
            return self.number(token)
        if kind == "[":
            self.pos -= 1
            return self.list_expr()
        if kind == "{":
            return self.map_expr(token)
        if kind != "NAME":
            raise _GiveUp
        word = token[1]
        if word == "true" or word == "false":
            return ast.Bool(word == "true", self.tspan(token))
        if word == "null":
            return ast.Null(self.tspan(token))
        parts, last = [self.name(token)], token
        while self.at("."):
            self.pos += 1
            last = self.next()
            parts.append(self.name(last))
        ref = ast.Ref(parts, self.span(token, last))
        if not self.at("("):
            return ref
        self.pos += 1
        named, positional = [], []
        while not self.at(")"):
            if self.at("NAME") and self.tokens[self.pos + 1][0] == "=":
                arg_name = self.next()
                self.pos += 1
                value = self.value(self.expr())
                named.append(ast.StepArg(self.name(arg_name), value, self.join(arg_name, value.span)))
            else:
                positional.append(self.value(self.expr()))
            if not self.at(","):
                break
            self.pos += 1
        close = self.expect(")")
        return _RawCall(ref, named, positional, self.span(token, close))

    def list_expr(self) -> ast.ListExpr:
        first = self.expect("[")
        items = []
        while not self.at("]"):
            items.append(self.value(self.expr()))
            if not self.at(","):
                break
            self.pos += 1
        last = self.expect("]")
        return ast.ListExpr(items, self.span(first, last))

    def map_expr(self, first: tuple) -> ast.MapExpr:
        entries = []
        while not self.at("}"):
            key = self.next()
            if key[0] == "STRING":
                text = self.decode(key)
            else:
                text = self.name(key)
            self.expect("=")
            entries.append(ast.MapEntry(text, self.value(self.expr()), self.tspan(key)))
            if self.at(","):
                self.pos += 1
        last = self.expect("}")
        return ast.MapExpr(entries, self.span(first, last))

    def str(self, token: tuple) -> ast.Str:
        return ast.Str(self.decode(token), self.tspan(token))

    def decode(self, token: tuple) -> str:
        raw = token[1]
        if token[0] == "LONG_STRING":
            return dedent_long_string(raw[3:-3])
        if "\\" not in raw:
            return raw[1:-1]  # no escape: exactly what json.loads(raw, strict=False) returns
        try:
            return _decode_json(raw)
        except ValueError:
            raise _GiveUp from None

    def number(self, token: tuple):
        text, span = token[1], self.tspan(token)
        if _INT.fullmatch(text):
            return ast.Int(int(text), span)
        if _FLOAT.fullmatch(text):
            return ast.Float(float(text), span)
        seconds = parse_duration(text)
        if seconds is None:
            raise _GiveUp
        return ast.Duration(text, seconds, span)


def dedent_long_string(body: str) -> str:
    """`\"\"\"` strings: drop the first line break, then the indentation common to all lines."""
    import textwrap

    first, sep, rest = body.partition("\n")
    if sep and not first.strip():
        body = rest
    return textwrap.dedent(body)
