"""Positions and a forgiving tokenizer.

Inside the server a position is `(line, character)`, both from 0, the
character counted in Python characters; `server` converts to the client's
UTF-16 units at the edge. The compiler's `Span` counts both from 1.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rtc.base.diagnostics import Span

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


@dataclass(frozen=True)
class Range:
    line: int
    start: int
    end_line: int
    end: int

    def contains(self, line: int, character: int) -> bool:
        return (self.line, self.start) <= (line, character) <= (self.end_line, self.end)


def lines_of(text: str) -> list[str]:
    return text.split("\n")


def offset_of(text: str, line: int, character: int) -> int:
    """The index in `text` of a 0-based (line, character); clamped to the text."""
    offset = 0
    for _ in range(line):
        newline = text.find("\n", offset)
        if newline < 0:
            return len(text)
        offset = newline + 1
    end = text.find("\n", offset)
    end = len(text) if end < 0 else end
    return min(offset + max(character, 0), end)


def span_range(span: Span | None, lines: list[str]) -> Range:
    """A compiler span as a range; a span without an end covers the word it starts."""
    if span is None:
        return Range(0, 0, 0, 0)
    line, start = max(span.line - 1, 0), max(span.col - 1, 0)
    if span.end_line is not None and span.end_col is not None and (span.end_line, span.end_col) > (span.line, span.col):
        return Range(line, start, span.end_line - 1, span.end_col - 1)
    text = lines[line] if line < len(lines) else ""
    match = NAME.match(text, start) or re.compile(r"\S+").match(text, start)
    return Range(line, start, line, match.end() if match else start + 1)


def word_range(lines: list[str], span: Span | None, word: str, after: int | None = None) -> Range | None:
    """Where `word` stands as a whole name on the span's line, at or after its column (or `after`)."""
    if span is None or not word:
        return None
    line = span.line - 1
    if not 0 <= line < len(lines):
        return None
    text = lines[line]
    start = max(span.col - 1, 0) if after is None else after
    for match in NAME.finditer(text, start):
        if match.group() == word:
            return Range(line, match.start(), line, match.end())
    return None


# ---------------------------------------------------------------- a forgiving tokenizer

_TOKEN = re.compile(
    r'(?P<long>"""(?:.|\n)*?(?:"""|\Z))'
    r'|(?P<str>"(?:[^"\\\n]|\\.)*(?:"|$))'
    r"|(?P<comment>#[^\n]*)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_-]*)"
    r"|(?P<number>-?[0-9][A-Za-z0-9_.]*)"
    r"|(?P<arrow>->)"
    r"|(?P<punct>[{}\[\]()=:,.])"
    r"|(?P<newline>\n)"
    r"|(?P<space>[ \t\r]+)"
    r"|(?P<other>.)",
    re.MULTILINE,
)


@dataclass(frozen=True)
class Token:
    kind: str  # long, str, comment, name, number, arrow, punct, newline, other
    text: str
    start: int
    end: int


def tokens(text: str) -> list[Token]:
    """Every token of `text` except spaces; never fails, whatever the text."""
    out = []
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup
        if kind != "space":
            out.append(Token(kind, match.group(), match.start(), match.end()))
    return out


def block_end(text: str, offset: int) -> int:
    """The offset just past the `}` that closes the first `{` at or after `offset` (the text's end if none)."""
    depth = 0
    for match in _TOKEN.finditer(text, offset):  # lazily, from `offset`: the outline calls this once per block
        token = match.group()
        if token == "{":
            depth += 1
        elif token == "}":
            depth -= 1
            if depth == 0:
                return match.end()
    return len(text)


def position_of(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset)
    return line, offset - (text.rfind("\n", 0, offset) + 1)
