"""Diagnostics are values: a code, a message, a span and an optional hint.

Every stage reports user errors by raising `CompileError` (one or several
diagnostics) or by collecting `Diagnostic`s in a `DiagnosticBag`; rendering
them as text (with the source line and a caret) or as JSON happens here,
once, and nowhere else. The codes are documented in docs/diagnostics.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

MAX_SHOWN = 20


# Not frozen (treat it as a value all the same): a parser builds one per token it keeps, and a
# frozen dataclass's __init__ costs three times as much (0.15 s per 150,000 spans).
@dataclass(slots=True, unsafe_hash=True)
class Span:
    """A region of a source file; lines and columns count from 1."""

    file: str
    line: int
    col: int
    end_line: int | None = None
    end_col: int | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True)
class Diagnostic:
    """One finding about the source: a documented code (docs/diagnostics.md), a message, where, and a hint."""

    code: str
    message: str
    span: Span | None = None
    hint: str | None = None
    severity: str = "error"

    def to_json(self) -> dict:
        out: dict = {"code": self.code, "severity": self.severity, "message": self.message}
        if self.span is not None:
            out["file"] = self.span.file
            out["line"] = self.span.line
            out["col"] = self.span.col
        if self.hint:
            out["hint"] = self.hint
        return out


class RtcError(Exception):
    """A user-facing failure (bad input, Docker unreachable, a step failed).

    The CLI prints `render()` and exits non-zero; it never shows a traceback
    for these. Raise it with a message a user can act on.
    """

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None):
        self.hint = hint
        super().__init__(message)

    def render(self, sources: dict[str, str] | None = None) -> str:
        text = f"error: {self}"
        return text + (f"\n  hint: {self.hint}" if self.hint else "")


class CompileError(RtcError):
    """One or more diagnostics about the source; never a bug in rtc."""

    def __init__(self, diagnostics: Iterable[Diagnostic] | Diagnostic):
        if isinstance(diagnostics, Diagnostic):
            diagnostics = [diagnostics]
        self.diagnostics = list(diagnostics)
        super().__init__("; ".join(d.message for d in self.diagnostics))

    def render(self, sources: dict[str, str] | None = None) -> str:
        return render_text(self.diagnostics, sources)


def error(code: str, message: str, span: Span | None = None, hint: str | None = None) -> CompileError:
    """Shorthand for raising a single diagnostic: `raise error("E101", ...)`."""
    return CompileError(Diagnostic(code, message, span, hint))


@dataclass
class DiagnosticBag:
    """Collects diagnostics so that one run reports as many errors as it can."""

    items: list[Diagnostic] = field(default_factory=list)

    def add(self, code: str, message: str, span: Span | None = None, hint: str | None = None) -> None:
        self.items.append(Diagnostic(code, message, span, hint))

    def extend(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.items.extend(diagnostics)

    def raise_if_any(self) -> None:
        if self.items:
            raise CompileError(sorted_diagnostics(self.items))

    def __bool__(self) -> bool:
        return bool(self.items)


def sorted_diagnostics(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    def key(d: Diagnostic):
        s = d.span
        return (s.file, s.line, s.col) if s else ("", 0, 0)

    seen, out = set(), []
    for d in sorted(diagnostics, key=key):
        if (d.code, d.message, d.span) not in seen:
            seen.add((d.code, d.message, d.span))
            out.append(d)
    return out


def _source_line(span: Span, sources: dict[str, str] | None) -> str | None:
    text = (sources or {}).get(span.file)
    if text is None:
        try:
            text = Path(span.file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None
    lines = text.splitlines()
    if 1 <= span.line <= len(lines):
        return lines[span.line - 1]
    return None


def render_text(diagnostics: Iterable[Diagnostic], sources: dict[str, str] | None = None) -> str:
    """`file:line:col: error[E101]: message`, the source line, a caret, a hint."""
    diagnostics = list(diagnostics)
    chunks = []
    for d in diagnostics[:MAX_SHOWN]:
        where = f"{d.span}: " if d.span else ""
        lines = [f"{where}{d.severity}[{d.code}]: {d.message}"]
        if d.span:
            src = _source_line(d.span, sources)
            if src is not None:
                src = src.expandtabs(1)
                width = 1
                if d.span.end_line == d.span.line and d.span.end_col and d.span.end_col > d.span.col:
                    width = d.span.end_col - d.span.col
                width = max(1, min(width, len(src) - d.span.col + 1))
                gutter = f"{d.span.line:>4} | "
                lines.append(gutter + src)
                lines.append(" " * (len(gutter) - 2) + "| " + " " * (d.span.col - 1) + "^" * width)
        if d.hint:
            lines.append(f"  hint: {d.hint}")
        chunks.append("\n".join(lines))
    if len(diagnostics) > MAX_SHOWN:
        chunks.append(f"... and {len(diagnostics) - MAX_SHOWN} more")
    errors = sum(1 for d in diagnostics if d.severity == "error")
    if errors > 1:
        chunks.append(f"{errors} errors")
    return "\n".join(chunks)
