"""The two `.rt` readers agree on generated programs, valid and invalid (issue 18, part 5).

rtc reads `.rt` text with the hand-written `rtc.dsl.fast_parser` first and
falls back to Lark (`rtc.dsl.parser.parse_rt_with_lark`, the grammar in
grammars/rtc.lark), which reports every syntax error. Lark alone is too slow
for the compile goals (benchmarks/README.md, "Issue 18: one grammar"), so
both stay, and this test holds them together over programs generated from
the grammar, then mutated: dropped, duplicated, swapped and inserted tokens,
bad strings, deep nesting, numbers in every notation, non-ASCII names,
CRLF line ends.

For every text:

- when the fast reader accepts it, Lark accepts it too and builds the very
  same syntax tree, spans included, and the reader's bracket depth is the
  one the text scan of `rtc.dsl.limits` finds;
- the front end as users get it (`rtc.dsl.parse_text`) gives the same tree
  or the same diagnostics (code, message, position) with the fast reader as
  with Lark alone;
- nothing ends in an exception other than `CompileError`;
- an unmutated program is accepted by both, and by the fast reader without
  falling back to Lark when its names are not keywords.

RTC_HYPOTHESIS_EXAMPLES=5000 for a longer hunt than the test command's.
"""

from __future__ import annotations

import json
import os
from unittest import mock

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rtc.dsl.fast_parser
from rtc.base.diagnostics import CompileError
from rtc.dsl import ast, fast_parser, parse_text
from rtc.dsl.limits import _first_bracket_deeper_than
from rtc.dsl.parser import PORT_BLOCK_KINDS, parse_rt_with_lark

SETTINGS = settings(
    max_examples=int(os.environ.get("RTC_HYPOTHESIS_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Words the grammar uses as keywords somewhere; names drawn from here test the contextual lexer.
KEYWORDS = [
    "namespace", "import", "as", "env", "node", "graph", "codespec", "run", "mount", "copy", "expose",
    "daemon", "init", "command", "after", "readonly", "on", "service", "true", "false", "null",
    "all_done", "all_success", "each", "inputs", "outputs", "secrets", "params",
]
SAFE_NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,7}", fullmatch=True).filter(lambda s: s not in KEYWORDS)
NON_ASCII_NAMES = ["é", "naïve", "名前", "xµ", "Ωmega", "a\u200bb", "ｆｕｌｌ"]

# Numbers in every notation: ints, floats, exponents, durations ...
VALID_NUMBERS = [
    "0", "7", "-3", "007", "42", "1.5", "-0.25", "1e5", "1E3", "1e-3", "1E-3", "2.5e+2", "-1.5E-7", "1e+0",
    "6.02e23", "300s", "1.5h", "2h45m", "500ms", "1d", "10m", "90us", "5\u00b5s", "1h30m15s", "1e999",
]
# ... and number-like words that are not numbers (E003 or E001/E002 at their position).
INVALID_NUMBERS = [
    "5x", "1.5.2", "1e", "1e+", "1e-", "1e-3e-4", "1e-3s", "0x1F", "1_000", "+1", ".5", "1.", "--1", "1ee3",
    "-5s", "1..2", "2h-3m", "\u0661", "\u00b2", "1" * 5000, "1e" + "9" * 5000, "٣.5",
]
BAD_STRINGS = ['"unterminated', '"a\\qb"', '"a\nb"', '"""never closed', '"\\u12"', '"\\', '""""', '"a"b"']
PUNCTUATION = ["{", "}", "[", "]", "(", ")", "=", ":", ",", ".", "->"]
SEPARATORS = [" ", " ", " ", "\n", "  ", "\t", "\n\n", " # a comment, ü\n", "\n    "]
_GLUE = set("{}[](),=:")  # tokens that need no space beside them


@st.composite
def names(draw, keywords: bool) -> str:
    if keywords and draw(st.integers(0, 9)) == 0:
        return draw(st.sampled_from(KEYWORDS))
    return draw(SAFE_NAMES)


class _Gen:
    """Draws one program from the grammar as a list of tokens."""

    def __init__(self, draw, keywords: bool):
        self.draw, self.keywords = draw, keywords
        self.tokens: list[str] = []

    def pick(self, options):
        return self.draw(st.sampled_from(options))

    def chance(self, one_in: int) -> bool:
        return self.draw(st.integers(0, one_in - 1)) == 0

    def emit(self, *tokens: str) -> None:
        self.tokens.extend(tokens)

    def name(self) -> str:
        return self.draw(names(self.keywords))

    def string(self) -> str:
        text = self.draw(st.text(max_size=8))
        return json.dumps(text, ensure_ascii=self.chance(2))

    def long_string(self) -> str:
        body = self.draw(st.text(alphabet=st.sampled_from(list('ab "\\\n\t\r é{[#')), max_size=20))
        body = body.replace('"""', '"" ').rstrip('"')
        return '"""' + body + '"""'

    def number(self) -> str:
        kind = self.draw(st.integers(0, 2))
        if kind == 0:
            return self.pick(VALID_NUMBERS)
        if kind == 1:
            return str(self.draw(st.integers(-(10**30), 10**30)))
        return repr(self.draw(st.floats(allow_nan=False, allow_infinity=False)))

    def ref(self) -> None:
        self.emit(self.name())
        for _ in range(self.draw(st.integers(0, 2))):
            self.emit(".", self.name())

    def expr(self, depth: int, call: bool = True) -> None:
        kinds = ["string", "long", "number", "number", "word", "ref"]
        if depth < 4:
            kinds += ["list", "map"] + (["call"] if call else [])
        kind = self.pick(kinds)
        if kind == "string":
            self.emit(self.string())
        elif kind == "long":
            self.emit(self.long_string())
        elif kind == "number":
            self.emit(self.number())
        elif kind == "word":
            self.emit(self.pick(["true", "false", "null"]))
        elif kind == "ref":
            self.ref()
        elif kind == "list":
            self.list(depth)
        elif kind == "map":
            self.emit("{")
            for _ in range(self.draw(st.integers(0, 3))):
                self.emit(self.string() if self.chance(3) else self.name(), "=")
                self.expr(depth + 1)
                if self.chance(2):
                    self.emit(",")
            self.emit("}")
        else:  # a call in value position: positional arguments only
            self.ref()
            self.args(depth, lambda: self.expr(depth + 1))

    def list(self, depth: int) -> None:
        self.emit("[")
        count = self.draw(st.integers(0, 3))
        for i in range(count):
            self.expr(depth + 1)
            if i < count - 1 or self.chance(3):
                self.emit(",")
        self.emit("]")

    def args(self, depth: int, arg) -> None:
        self.emit("(")
        count = self.draw(st.integers(0, 3))
        for i in range(count):
            arg()
            if i < count - 1 or self.chance(3):
                self.emit(",")
        self.emit(")")

    def type(self, depth: int = 0) -> None:
        self.emit(self.name())
        if depth < 2 and self.chance(3):
            self.emit("[")
            for i in range(self.draw(st.integers(1, 2))):
                if i:
                    self.emit(",")
                self.type(depth + 1)
            self.emit("]")

    def statement(self, depth: int) -> None:
        kind = self.pick(["attr", "attr", "step", "each", "sub", "ports", "mount", "copy", "expose", "daemon",
                          "init", "command", "command_attr"])
        if kind == "attr":
            self.emit(self.name(), "=")
            self.expr(0, call=False)
        elif kind == "each":
            self.emit(self.name(), "=", "each")
            self.args(0, lambda: self.expr(1))
        elif kind == "step":
            self.emit(self.name(), "=")
            self.ref()

            def kwarg():
                self.emit(self.name(), "=")
                self.expr(1)

            self.args(0, kwarg)
            if self.chance(3):
                self.emit("after", self.pick(["all_done", "all_success"]))
            for _ in range(self.draw(st.integers(0, 2))):
                if self.chance(2):
                    self.emit("after", self.name())
                else:
                    self.emit("after", "[")
                    for i in range(self.draw(st.integers(0, 2))):
                        if i:
                            self.emit(",")
                        self.emit(self.name())
                    self.emit("]")
        elif kind == "sub" and depth < 2:
            name = self.name()
            while name in PORT_BLOCK_KINDS:
                name = self.name()
            self.emit(name, "{")
            for _ in range(self.draw(st.integers(0, 3))):
                self.statement(depth + 1)
            self.emit("}")
        elif kind == "ports":
            kind = self.pick([*PORT_BLOCK_KINDS, "worker"])  # any other name: a port block when all are typed
            self.emit(kind, "{")
            bare = kind in PORT_BLOCK_KINDS and self.chance(3)
            for i in range(self.draw(st.integers(0, 3))):
                self.emit(self.name())
                if not bare:
                    self.emit(":")
                    self.type()
                    if self.chance(3):
                        self.emit("=")
                        self.expr(1)
                if self.chance(2):
                    self.emit(",")
            self.emit("}")
        elif kind in ("mount", "copy"):
            self.emit(kind, self.string(), "->", self.string())
            if kind == "mount" and self.chance(2):
                self.emit("readonly")
        elif kind == "expose":
            self.emit("expose", str(self.draw(st.integers(0, 70000))))
            if self.chance(2):
                self.emit("->", str(self.draw(st.integers(0, 70000))))
            if self.chance(2):
                self.emit("on", self.string())
            if self.chance(2):
                self.emit("service", self.string())
        elif kind in ("daemon", "init"):
            self.emit(kind)
            self.list(1)
        elif kind == "command":
            self.emit("command", self.name(), "=")
            self.expr(0, call=False)
        else:
            self.emit("command", "=")
            self.expr(0, call=False)
        if self.chance(3):
            self.emit(",")

    def program(self) -> list[str]:
        if self.chance(2):
            self.emit("namespace", self.name())
        for _ in range(self.draw(st.integers(0, 2))):
            self.emit("import", self.string())
            if self.chance(2):
                self.emit("as", self.name())
        for _ in range(self.draw(st.integers(0, 3))):
            self.emit(self.pick(list(ast.BLOCK_KINDS)), self.name(), "{")
            for _ in range(self.draw(st.integers(0, 5))):
                self.statement(0)
            self.emit("}")
        return self.tokens


@st.composite
def programs(draw, keywords: bool = True) -> list[str]:
    return _Gen(draw, keywords).program()


def layout(tokens: list[str], rnd, crlf: bool = False) -> str:
    """Tokens joined by random white space and comments (none where punctuation allows it)."""
    out = []
    for i, token in enumerate(tokens):
        if i:
            glue = tokens[i - 1] in _GLUE or token in _GLUE
            out.append("" if glue and rnd.random() < 0.3 else rnd.choice(SEPARATORS))
        out.append(token)
    text = "".join(out) + rnd.choice(["", "\n", " # end"])
    return text.replace("\n", "\r\n") if crlf else text


MUTATIONS = ["drop", "duplicate", "swap", "insert", "number", "bad_string", "non_ascii_name", "nest", "cr"]
INSERTS = PUNCTUATION + KEYWORDS + VALID_NUMBERS[:6] + INVALID_NUMBERS[:8] + BAD_STRINGS + NON_ASCII_NAMES + ['"s"', "x"]


@st.composite
def mutated_programs(draw) -> str:
    tokens = draw(programs())
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(MUTATIONS))
        i = draw(st.integers(0, max(0, len(tokens) - 1)))
        if op == "drop" and tokens:
            del tokens[i]
        elif op == "duplicate" and tokens:
            tokens.insert(i, tokens[i])
        elif op == "swap" and len(tokens) > 1:
            i = min(i, len(tokens) - 2)
            tokens[i], tokens[i + 1] = tokens[i + 1], tokens[i]
        elif op == "insert":
            tokens.insert(i, draw(st.sampled_from(INSERTS)))
        elif op == "number":
            numbers = [j for j, t in enumerate(tokens) if t[:1].isdigit() or t[:2][1:].isdigit()]
            if numbers:
                tokens[draw(st.sampled_from(numbers))] = draw(st.sampled_from(VALID_NUMBERS + INVALID_NUMBERS))
        elif op == "bad_string":
            strings = [j for j, t in enumerate(tokens) if t.startswith('"')]
            if strings:
                tokens[draw(st.sampled_from(strings))] = draw(st.sampled_from(BAD_STRINGS))
        elif op == "non_ascii_name":
            words = [j for j, t in enumerate(tokens) if t[:1].isalpha()]
            if words:
                tokens[draw(st.sampled_from(words))] = draw(st.sampled_from(NON_ASCII_NAMES))
        elif op == "nest":
            values = [j for j, t in enumerate(tokens) if t[:1].isdigit() or t[:1] == '"' or t in ("true", "null")]
            if values:
                j = draw(st.sampled_from(values))
                opening, closing = draw(st.integers(1, 90)), draw(st.integers(0, 2))
                tokens[j] = "[" * opening + tokens[j] + "]" * max(0, opening - closing)
        elif op == "cr" and tokens:  # a lone carriage return: white space to both readers
            tokens.insert(i, "\r")
    return layout(tokens, draw(st.randoms(use_true_random=False)), crlf=draw(st.booleans()))


# ---------------------------------------------------------------- the comparison


def outcome(parse, text: str, file: str = "gen.rt"):
    """A Module, or the diagnostics as (code, message, span, hint) tuples."""
    try:
        return parse(text, file)
    except CompileError as exc:
        return [(d.code, d.message, d.span, d.hint) for d in exc.diagnostics]


def lark_only_parse_text(text: str, file: str):
    with mock.patch.object(rtc.dsl.fast_parser, "read_with_depth", lambda text, file: None):
        return parse_text(text, file)


def scan_depth(text: str) -> int:
    depth = 0
    while _first_bracket_deeper_than(text, depth, yaml=False) is not None:
        depth += 1
    return depth


def agree(text: str) -> tuple[object, object]:
    """Check the readers on `text`; return (what the fast reader read, what Lark gives)."""
    read = fast_parser.read_with_depth(text, "gen.rt")
    reference = outcome(parse_rt_with_lark, text) if scan_depth(text) <= 150 else None  # Lark recurses per level
    if read is not None:
        assert isinstance(reference, ast.Module), f"the fast reader accepted a text Lark refuses: {reference}"
        assert read[0] == reference, "the readers build different trees"
        assert read[1] == scan_depth(text)
    assert outcome(parse_text, text) == outcome(lark_only_parse_text, text), "the front end answers differently"
    return read, reference


@SETTINGS
@given(programs(keywords=False), st.randoms(use_true_random=False), st.booleans())
def test_valid_programs_read_the_same(tokens, rnd, crlf):
    text = layout(tokens, rnd, crlf)
    read, reference = agree(text)
    assert isinstance(reference, ast.Module), f"a generated program should be valid: {reference}"
    assert read is not None, "the fast reader should read a well-formed program without keywords as names"


@SETTINGS
@given(programs(keywords=True), st.randoms(use_true_random=False))
def test_programs_with_keywords_as_names_read_the_same(tokens, rnd):
    agree(layout(tokens, rnd))


@SETTINGS
@given(mutated_programs())
def test_mutated_programs_read_the_same_or_are_refused_alike(text):
    agree(text)


def test_numbers_in_every_notation_read_the_same():
    for word in VALID_NUMBERS + INVALID_NUMBERS:
        for text in (f"env e {{ x = {word} }}", f"env e {{ x = [{word}, {word}] }}", f"env e {{ expose {word} }}"):
            agree(text)
