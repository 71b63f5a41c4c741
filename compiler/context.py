"""What every checking and lowering pass shares: the diagnostics collected so
far, and the conversion of source positions and host paths into the
machine-independent form the IR stores.

Paths in the IR (spans, mount and copy host paths) are relative to the folder
of the main file, written with `/`, so that the IR JSON is the same bytes on
any machine; runners resolve them against the folder of `Pipeline.source`.
Absolute paths the user wrote stay as written.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from rtc.base.diagnostics import DiagnosticBag, Span
from rtc.compiler.ir import SourceSpan


class Context:
    def __init__(self, main_file: str):
        self.bag = DiagnosticBag()
        self.main_dir = Path(os.path.abspath(main_file)).parent
        self._relative_files: dict[str, str] = {}
        self.python_modules: dict = {}  # path -> parsed Python node file (python_nodes.py), read once per compile
        # `on` (compiler/triggers.py): step arguments bound to another graph's output, and each graph's
        # trigger spans, checked once every graph is lowered.
        self.trigger_uses: list = []
        self.trigger_spans: dict[str, list] = {}

    def error(self, code: str, message: str, span: Span | None, hint: str | None = None) -> None:
        self.bag.add(code, message, span, hint)

    def mark(self) -> int:
        """A point in the diagnostics so far; `errors_since(mark)` tells whether a pass added any."""
        return len(self.bag.items)

    def errors_since(self, mark: int) -> bool:
        return len(self.bag.items) != mark

    def ir_span(self, span: Span | None) -> SourceSpan | None:
        if span is None:
            return None
        return SourceSpan(file=self.relative_file(span.file), line=span.line, col=span.col)

    def relative_file(self, file: str) -> str:
        rel = self._relative_files.get(file)
        if rel is None:
            rel = self._relative(Path(os.path.abspath(file))) if not file.startswith("<") else file
            self._relative_files[file] = rel
        return rel

    def host_path(self, written: str, declaring_file: str) -> tuple[str, Path]:
        """(path for the IR, absolute path on this machine) of a host path in a source file.

        A relative path is relative to the folder of the file that declares it;
        the IR form is relative to the main file's folder.
        """
        if os.path.isabs(written):
            return written, Path(os.path.normpath(written))
        base = Path(os.path.abspath(declaring_file)).parent if not declaring_file.startswith("<") else self.main_dir
        absolute = Path(os.path.normpath(base / written))
        return self._relative(absolute), absolute

    def _relative(self, absolute: Path) -> str:
        rel = os.path.relpath(absolute, self.main_dir)
        text = str(PurePosixPath(*Path(rel).parts)) if rel != "." else "."
        return text
