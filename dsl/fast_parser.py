"""A hand-written reader for well-formed `.rt` files: the fast path of `parse_rt`.

Lark's LALR parser (`rtc.dsl.parser`) is the reference for the language and
gives every syntax error its message, but even in its fastest setup (cached
tables, the transformer applied during the parse) it reads a 10,000-node file
in 3.6-4.5 s of CPU against this reader's 0.7-0.8 s, which alone breaks the
compile goal of 4 s (benchmarks/README.md, "Issue 18: one grammar"). Most
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
every `.rt` file in the repository and on random mutations of them,
tests/dsl/test_reader_agreement.py on programs generated from the grammar,
valid and mutated, and test_fast_parser.py
checks that the token patterns below are the grammar's (`GRAMMAR_SHA256`
pins the grammar this reader was written against: a grammar change fails
that test until this module is updated with it).

Keywords follow Lark's contextual lexer: a word is a keyword only where the
grammar accepts that keyword, so `env = py` inside a node is a plain name.
"""

from __future__ import annotations

import json
import re
from array import array
from bisect import bisect_right
from itertools import accumulate, islice, repeat

from rtc.base.diagnostics import Span
from rtc.base.quantities import parse_duration
from rtc.dsl import ast

# sha256 of grammars/rtc.lark as this reader knows it (see the module docstring).
GRAMMAR_SHA256 = "f69d06938cea9fe8c2fad01671d22a8b98d895ba29736af05ac19bbad1e6c85f"

# The grammar's terminals as Lark holds them (escapes already decoded: `\n` is a newline
# character inside the pattern), checked against grammars/rtc.lark by the test.
NAME = "[A-Za-z_][A-Za-z0-9_-]*"
NUMBER = "-?[0-9](?:[eE][+-][0-9]|[A-Za-z0-9_.\u00b5])*"
LONG_STRING = '"""(?:.|\n)*?"""'
STRING = '"(?:[^"\\\\\n]|\\\\.)*"'
COMMENT = "#[^\n]*"
WS = "(?:[ \t\f\r\n])+"

# One match per token: the whitespace and comments before it are folded into the match
# (possessive, so never given back to a token), and `split` does the whole scan in C,
# returning only strings (findall's tuples would feed the garbage collector). Groups:
# (whitespace and comments, token). A character that starts no token is matched as a
# token of its own, then refused (a failed match would make the scan quadratic), and the
# empty end of the text is a token, so trailing whitespace ends in a match. Only the long
# string and the string start alike; the long string goes first (its priority is
# higher). NAME and punctuation first: they are most of a file.
_TOKEN = re.compile(
    rf"((?:{WS}|{COMMENT})*+)"
    rf"({NAME}|->|[{{}}\[\]()=,:.]|{LONG_STRING}|{STRING}|{NUMBER}|\Z|[\s\S])"
)
_END = ""  # the token after the last one: equal to no punctuation, starting no name

_NAME_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
# Every token of one character; any other one character is one that starts no token.
_ONE_CHARACTER_TOKENS = _NAME_START | frozenset("0123456789{}[]()=,:.")
_NUMBER_START = frozenset("0123456789-")  # and not `->`
_DEPTH_STEP = {"[": 1, "{": 1, "(": 1, "]": -1, "}": -1, ")": -1}

_INT = re.compile(r"-?[0-9]+")
_FLOAT = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?")
# Python's int() refuses longer decimal strings (sys.get_int_max_str_digits); such a word is E003.
MAX_INT_DIGITS = 4300

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
    read = read_with_depth(text, file)
    return None if read is None else read[0]


def read_with_depth(text: str, file: str) -> tuple[ast.Module, int] | None:
    """The syntax tree of `text` and how deep its brackets nest, or None when Lark must read it.

    The depth counts every bracket outside strings and comments, as the text
    scan of `rtc.dsl.limits` does, so a caller that sees a depth of at most
    MAX_NESTING need not scan the text again (`rtc.dsl.parse_text`).
    """
    try:
        tokens, starts = _tokenize(text)
        module = _Reader(tokens, starts, _line_starts(text), file).module()
    except (_GiveUp, RecursionError):
        return None
    return module, max(accumulate(map(_DEPTH_STEP.get, tokens, repeat(0))))


def _tokenize(text: str) -> tuple[list[str], array]:
    """The tokens' texts, ending with `_END`, and their start offsets."""
    pieces = _TOKEN.split(text)  # per match: "" (nothing between matches), whitespace, token; then ""
    tokens = pieces[2::3]
    if 1 in map(len, set(tokens).difference(_ONE_CHARACTER_TOKENS)):
        raise _GiveUp  # a character that starts no token
    # An array, not a list: the garbage collector would visit every offset of a list.
    starts = array("q", islice(accumulate(map(len, pieces), initial=0), 2, None, 3))
    while len(tokens) > 1 and tokens[-2] == _END:  # `\Z` may match twice: once after trailing whitespace
        tokens.pop()
    return tokens, starts


def _line_starts(text: str) -> list[int]:
    """The offset of each line's first character, then one past the text's end.

    Lines end at "\n" only, as Lark counts them.
    """
    starts = [0]
    offset = 0
    for line in text.split("\n"):
        offset += len(line) + 1
        starts.append(offset)
    return starts


class _RawCall:
    """`f(...)` before its context is known (as in rtc.dsl.parser)."""

    __slots__ = ("func", "named", "positional", "span")

    def __init__(self, func: ast.Ref, named: list, positional: list, span: Span):
        self.func, self.named, self.positional, self.span = func, named, positional, span


# Tokens are their indexes into `tokens` (their texts); a token's kind is told by its
# text: punctuation is itself, a name starts with a letter, a string with `"`, and a
# long string with `"""` (no string does: `""` ends there).
class _Reader:
    def __init__(self, tokens: list[str], starts: array, line_starts: list[int], file: str):
        self.tokens, self.starts, self.line_starts = tokens, starts, line_starts
        self.line, self.line_start, self.next_line_start = 1, 0, line_starts[1]
        self.pos = 0
        self.file = file

    # -- tokens

    def next(self) -> int:
        self.pos += 1
        return self.pos - 1

    def expect(self, text: str) -> int:
        pos = self.pos
        if self.tokens[pos] != text:
            raise _GiveUp
        self.pos = pos + 1
        return pos

    def expect_string(self) -> int:
        pos = self.pos
        text = self.tokens[pos]
        if text[:1] != '"' or text[:3] == '"""':
            raise _GiveUp
        self.pos = pos + 1
        return pos

    def expect_number(self) -> int:
        pos = self.pos
        text = self.tokens[pos]
        if text[:1] not in _NUMBER_START or text == "->":
            raise _GiveUp
        self.pos = pos + 1
        return pos

    def expect_name(self) -> int:
        pos = self.pos
        self.name(pos)
        self.pos = pos + 1
        return pos

    def at(self, text: str) -> bool:
        return self.tokens[self.pos] == text

    # Positions are computed only for the tokens a span starts or ends at (most tokens need
    # none), and spans come mostly in the order of the text: the line of the last one is kept.
    def span(self, first: int, last: int) -> Span:
        start = self.starts[first]
        end = self.starts[last] + len(self.tokens[last])
        if not self.line_start <= start < self.next_line_start:
            self.find_line(start)
        line, line_start = self.line, self.line_start
        if end < self.next_line_start:  # most spans end on the line they start on
            return Span(self.file, line, start - line_start + 1, line, end - line_start + 1)
        lines = self.line_starts
        end_line = bisect_right(lines, end, line)
        return Span(self.file, line, start - line_start + 1, end_line, end - lines[end_line - 1] + 1)

    def join(self, first: int, last: Span) -> Span:
        start = self.starts[first]
        if not self.line_start <= start < self.next_line_start:
            self.find_line(start)
        return Span(self.file, self.line, start - self.line_start + 1, last.end_line, last.end_col)

    def find_line(self, offset: int) -> None:
        lines = self.line_starts
        self.line = line = bisect_right(lines, offset)
        self.line_start, self.next_line_start = lines[line - 1], lines[line]

    # -- top level

    def module(self) -> ast.Module:
        tokens = self.tokens
        module = ast.Module(file=self.file)
        while True:
            first = self.next()
            word = tokens[first]
            if word == _END:
                return module
            if word == "namespace":
                if module.namespace is not None:
                    raise _GiveUp  # the second namespace is a diagnostic
                name = self.next()
                module.namespace, module.namespace_span = self.name(name), self.span(name, name)
            elif word == "import":
                path = self.expect_string()
                alias, last = None, path
                if self.at("as"):  # `import "trainer/build.envd" as gpu`
                    self.pos += 1
                    last = self.expect_name()
                    alias = tokens[last]
                module.imports.append(ast.Import(self.decode(path), self.span(first, last), alias))
            elif word in BLOCK_KINDS:
                name = self.expect_name()
                self.expect("{")
                items = self.body()
                self.expect("}")
                if any(isinstance(item, ast.PortDecl) for item in items):
                    raise _GiveUp
                span = self.span(name, name)
                module.blocks.append(ast.Block(word, tokens[name], items, span, span))
            else:
                raise _GiveUp

    # -- statements

    def body(self) -> list:
        items = []
        tokens = self.tokens
        while True:
            text = tokens[self.pos]
            if text == "}":
                return items
            if text[:1] not in _NAME_START:
                raise _GiveUp
            if text == "on" and tokens[self.pos + 1] == "=" and not (items and isinstance(items[-1], ast.ExposeStmt)):
                # A graph's `on = [...]`: Lark reads `on` as a name at the start of a statement,
                # except right after `expose PORT` (where `on "IP"` may follow): then it is Lark's.
                first = self.next()
                self.pos += 1
                items.append(self.assign(first))
            else:
                items.append(self.statement())
            if tokens[self.pos] == ",":
                self.pos += 1

    def statement(self):
        first = self.next()
        word = self.tokens[first]
        if word in STATEMENT_KEYWORDS:
            return _KEYWORD_STATEMENTS[word](self, first)
        self.name(first)
        after = self.tokens[self.pos]
        if after == "=":
            self.pos += 1
            return self.assign(first)
        if after == "{":
            self.pos += 1
            items = self.body()
            last = self.expect("}")
            return self.sub_block(word, items, self.span(first, last))
        if after == ":":
            self.pos += 1
            return self.port_decl(first)
        return ast.PortDecl(word, None, None, self.span(first, first))

    def name(self, token: int) -> str:
        """A word used as a name; a word the grammar might take as a keyword here sends the file to Lark."""
        text = self.tokens[token]
        if text[:1] not in _NAME_START or text in RISKY_WORDS:
            raise _GiveUp
        return text

    def assign(self, name: int):
        tokens = self.tokens
        value = self.expr()
        end = value.span
        trigger, after, has_after = None, [], False
        while tokens[self.pos] == "after":
            has_after = True
            self.pos += 1
            if tokens[self.pos] == "[":
                items = self.list_expr()
                end = items.span
                for item in items.items:
                    if not isinstance(item, ast.Ref):
                        raise _GiveUp
                    after.append(item)
            else:
                target = self.next()
                word = self.name(target)
                end = self.span(target, target)
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
                return ast.StepStmt(tokens[name], value.func, value.named, trigger, after, self.join(name, end))
            if value.func.dotted != "each":
                raise _GiveUp
        if has_after:
            raise _GiveUp
        return ast.Attr(tokens[name], self.value(value), self.span(name, name))

    def sub_block(self, kind: str, items: list, span: Span):
        ports = [i for i in items if isinstance(i, ast.PortDecl)]
        if kind in PORT_BLOCK_KINDS or (ports and len(ports) == len(items) and all(p.type for p in ports)):
            if len(ports) != len(items):
                raise _GiveUp
            return ast.PortBlock(kind, ports, span)
        if ports:
            raise _GiveUp
        return ast.SubBlock(kind, items, span)

    def port_decl(self, name: int):
        text, type_span = self.type()
        end, default = type_span, None
        if self.at("="):
            self.pos += 1
            default = self.value(self.expr())
            end = default.span
        return ast.PortDecl(self.tokens[name], text, default, self.join(name, end), type_span)

    def type(self) -> tuple[str, Span]:
        first = last = self.expect_name()
        text = self.tokens[first]
        if self.at("["):
            self.pos += 1
            inner = [self.type()[0]]
            while self.at(","):
                self.pos += 1
                inner.append(self.type()[0])
            last = self.expect("]")
            text += "[" + ", ".join(inner) + "]"
        return text, self.span(first, last)

    def stmt_mount(self, keyword: int):
        host = self.expect_string()
        self.expect("->")
        container = self.expect_string()
        last, read_only = container, False
        if self.at("readonly"):
            last, read_only = self.next(), True
        return ast.MountStmt(self.str(host), self.str(container), read_only, self.span(keyword, last))

    def stmt_copy(self, keyword: int):
        host = self.expect_string()
        self.expect("->")
        container = self.expect_string()
        return ast.CopyStmt(self.str(host), self.str(container), self.span(keyword, container))

    def stmt_expose(self, keyword: int):
        last = container_port = self.expect_number()
        host_port = host_ip = service = None
        if self.at("->"):
            self.pos += 1
            last = host_port = self.expect_number()
        if self.at("on"):
            self.pos += 1
            last = host_ip = self.expect_string()
        if self.at("service"):
            self.pos += 1
            last = service = self.expect_string()
        return ast.ExposeStmt(
            self.port(container_port),
            self.port(host_port) if host_port is not None else None,
            self.str(host_ip) if host_ip is not None else None,
            self.str(service) if service is not None else None,
            self.span(keyword, last),
        )

    def port(self, token: int) -> ast.Int:
        text = self.tokens[token]
        if not is_int(text):
            raise _GiveUp
        return ast.Int(int(text), self.span(token, token))

    def stmt_daemon(self, keyword: int):
        self.expect_at("[")
        argv = self.list_expr()
        return ast.DaemonStmt(argv, self.join(keyword, argv.span))

    def stmt_init(self, keyword: int):
        self.expect_at("[")
        commands = self.list_expr()
        return ast.InitStmt(commands, self.join(keyword, commands.span))

    def stmt_command(self, keyword: int):
        if self.at("="):  # `command = [...]`: the program of a node or codespec
            self.pos += 1
            value = self.value(self.expr())
            return ast.Attr("command", value, self.span(keyword, keyword))
        name = self.name(self.next())
        self.expect("=")
        value = self.value(self.expr())
        return ast.CommandStmt(name, value, self.join(keyword, value.span))

    def expect_at(self, text: str) -> None:
        if not self.at(text):
            raise _GiveUp

    # -- expressions

    def value(self, value):
        """An expression in value position (`_AstBuilder._expr`): a call here takes no named arguments."""
        if isinstance(value, _RawCall):
            if value.named:
                raise _GiveUp
            return ast.Call(value.func.dotted, [self.value(a) for a in value.positional], value.span)
        return value

    def expr(self):
        tokens = self.tokens
        first = self.next()
        text = tokens[first]
        start = text[:1]
        if start == '"':
            return self.str(first)
        if start == "[":
            self.pos = first
            return self.list_expr()
        if start == "{":
            return self.map_expr(first)
        if start in _NUMBER_START and text != "->":
            return self.number(first)
        if start not in _NAME_START:
            raise _GiveUp
        if text == "true" or text == "false":
            return ast.Bool(text == "true", self.span(first, first))
        if text == "null":
            return ast.Null(self.span(first, first))
        parts, last = [self.name(first)], first
        while tokens[self.pos] == ".":
            last = self.pos + 1
            self.pos += 2
            parts.append(self.name(last))
        ref = ast.Ref(parts, self.span(first, last))
        if tokens[self.pos] != "(":
            return ref
        self.pos += 1
        named, positional = [], []
        while tokens[self.pos] != ")":
            arg_name = self.pos
            if tokens[arg_name][:1] in _NAME_START and tokens[arg_name + 1] == "=":
                self.pos += 2
                value = self.value(self.expr())
                named.append(ast.StepArg(self.name(arg_name), value, self.join(arg_name, value.span)))
            else:
                positional.append(self.value(self.expr()))
            if tokens[self.pos] != ",":
                break
            self.pos += 1
        close = self.expect(")")
        return _RawCall(ref, named, positional, self.span(first, close))

    def list_expr(self) -> ast.ListExpr:
        tokens = self.tokens
        first = self.expect("[")
        items = []
        while tokens[self.pos] != "]":
            items.append(self.value(self.expr()))
            if tokens[self.pos] != ",":
                break
            self.pos += 1
        last = self.expect("]")
        return ast.ListExpr(items, self.span(first, last))

    def map_expr(self, first: int) -> ast.MapExpr:
        tokens = self.tokens
        entries = []
        while tokens[self.pos] != "}":
            key = self.next()
            text = tokens[key]
            if text[:1] == '"' and text[:3] != '"""':
                text = self.decode(key)
            else:
                text = self.name(key)
            self.expect("=")
            entries.append(ast.MapEntry(text, self.value(self.expr()), self.span(key, key)))
            if tokens[self.pos] == ",":
                self.pos += 1
        last = self.expect("}")
        return ast.MapExpr(entries, self.span(first, last))

    def str(self, token: int) -> ast.Str:
        return ast.Str(self.decode(token), self.span(token, token))

    def decode(self, token: int) -> str:
        raw = self.tokens[token]
        if raw[:3] == '"""':
            return dedent_long_string(raw[3:-3])
        if "\\" not in raw:
            return raw[1:-1]  # no escape: exactly what json.loads(raw, strict=False) returns
        try:
            return _decode_json(raw)
        except ValueError:
            raise _GiveUp from None

    def number(self, token: int):
        node = number_node(self.tokens[token], self.span(token, token))
        if node is None:
            raise _GiveUp
        return node


_KEYWORD_STATEMENTS = {word: getattr(_Reader, f"stmt_{word}") for word in STATEMENT_KEYWORDS}


def is_int(text: str) -> bool:
    """`text` is a whole number that int() reads (both readers; a port must be one)."""
    return _INT.fullmatch(text) is not None and len(text) - text.startswith("-") <= MAX_INT_DIGITS


def number_node(text: str, span: Span):
    """The node of a NUMBER word: Int, Float (`1.5`, `1e-3`, `2.5E+2`) or Duration; None when it is none of them.

    Both readers classify numbers here (rtc.dsl.parser reports a None as E003).
    """
    if _INT.fullmatch(text):
        return ast.Int(int(text), span) if len(text) - text.startswith("-") <= MAX_INT_DIGITS else None
    if _FLOAT.fullmatch(text):
        return ast.Float(float(text), span)
    seconds = parse_duration(text)
    return None if seconds is None else ast.Duration(text, seconds, span)


def dedent_long_string(body: str) -> str:
    """`\"\"\"` strings: drop the first line break, then the indentation common to all lines."""
    import textwrap

    first, sep, rest = body.partition("\n")
    if sep and not first.strip():
        body = rest
    return textwrap.dedent(body)
