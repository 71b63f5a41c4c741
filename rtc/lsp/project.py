"""The files the editor works on: their text, their parses, their imports, their diagnostics.

The text of an open document is the editor's (saved or not); any other file
is read from the disk. A parse is kept with the text it was made from and
reused while that text is unchanged, so an edit re-parses the edited file only
and its imports come from the cache. The last parse that succeeded is kept
too: definitions, hover and completion work from it while the file is broken
mid-edit.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from rtc.base.diagnostics import CompileError, Diagnostic, RtcError, Span
from rtc.dsl import RT_SUFFIXES, YAML_SUFFIXES, ast

_SKIPPED_FOLDERS = {"node_modules", "__pycache__", "site-packages", "dist", "build"}
MAX_SCANNED_FILES = 2000


@dataclass
class _Parse:
    text: str
    module: ast.Module | None
    diagnostics: list[Diagnostic] = field(default_factory=list)


@dataclass
class Checked:
    """What checking one file as the main file found."""

    main: str
    diagnostics: list[Diagnostic]  # all of them, in every file
    files: set[str]  # the main file and everything it imports

    def for_file(self, file: str) -> list[Diagnostic]:
        return [d for d in self.diagnostics if (d.span.file if d.span else self.main) == file]


class Project:
    def __init__(self, roots: tuple[str, ...] = ()):
        self.roots = [os.path.abspath(r) for r in roots]
        self.open: dict[str, str] = {}
        self._parses: dict[str, _Parse] = {}
        self._good: dict[str, ast.Module] = {}
        self._disk: dict[str, tuple[int, int, str]] = {}
        self._imports_of_checked: dict[str, set[str]] = {}
        self._incremental: dict = {}

    # -- text

    def set_text(self, path: str, text: str) -> None:
        self.open[path] = text

    def close(self, path: str) -> None:
        """The editor closed `path`: its text and every cache no open file still needs are dropped.

        (A server that kept them grew by the size of each document opened: 8 open/close
        cycles of a 50 MB file took it from 150 to 868 MB.)
        """
        self.open.pop(path, None)
        self._imports_of_checked.pop(path, None)
        self.forget_unused()

    def needed(self) -> set[str]:
        """Open files and the files their last checks read."""
        keep = set(self.open)
        for main in self.open:
            keep |= self._imports_of_checked.get(main, set())
        return keep

    def forget_unused(self) -> None:
        keep = self.needed()
        for cache in (self._parses, self._good, self._disk, self._incremental):
            for file in [f for f in cache if f not in keep]:
                del cache[file]
        for main in [m for m in self._imports_of_checked if m not in self.open]:
            del self._imports_of_checked[main]

    def text(self, path: str) -> str | None:
        """The editor's text of `path`, else the disk's; None when it cannot be read."""
        if path in self.open:
            return self.open[path]
        try:
            return self._read(path, None)
        except CompileError:
            return None

    def _read(self, path: str, at: Span | None) -> str:
        from rtc.dsl import read_source

        try:
            stat = os.stat(path)
        except OSError:
            return read_source(path, at)  # raises the right diagnostic
        cached = self._disk.get(path)
        if cached and cached[:2] == (stat.st_mtime_ns, stat.st_size):
            return cached[2]
        text = read_source(path, at)
        self._disk[path] = (stat.st_mtime_ns, stat.st_size, text)
        return text

    # -- parses

    def parse(self, path: str, at: Span | None = None) -> ast.Module:
        """The module of `path` from its current text; raises `CompileError` as the front ends do."""
        text = self.open[path] if path in self.open else self._read(path, at)
        cached = self._parses.get(path)
        if cached is None or cached.text != text:
            from rtc.base.limits import MAX_SOURCE_BYTES

            try:
                if len(text) > MAX_SOURCE_BYTES:  # as for files on disk (E007): never parsed, whatever the editor sends
                    raise CompileError(Diagnostic("E007", f"the document is {len(text):,} characters; rtc reads files of "
                                                  f"at most {MAX_SOURCE_BYTES:,} bytes", Span(path, 1, 1)))
                cached = _Parse(text, self._parse_text(path, text))
                self._good[path] = cached.module
            except CompileError as exc:
                cached = _Parse(text, None, exc.diagnostics)
            except RecursionError:
                cached = _Parse(text, None, [Diagnostic("E001", "the file nests too deeply to parse", Span(path, 1, 1))])
            self._parses[path] = cached
        if cached.module is None:
            raise CompileError(cached.diagnostics)
        return cached.module

    def _parse_text(self, path: str, text: str) -> ast.Module:
        """`.rt` text through the file's incremental parser (only changed blocks re-parse), YAML whole."""
        if not path.endswith(".rt"):
            from rtc.dsl import parse_text

            return parse_text(text, path)
        parser = self._incremental.get(path)
        if parser is None:
            from rtc.lsp.incremental import IncrementalParser

            parser = self._incremental[path] = IncrementalParser(path)
        return parser.parse(text)

    def module(self, path: str) -> ast.Module | None:
        """The last module of `path` that parsed (maybe from an earlier text), or None."""
        try:
            return self.parse(path)
        except CompileError:
            pass
        if path not in self._good and path in self.open:
            try:  # opened broken: the saved file may still parse
                from rtc.dsl import parse_text

                self._good[path] = parse_text(self._read(path, None), path)
            except (CompileError, RecursionError):
                return None
        return self._good.get(path)

    def imports(self, path: str) -> list[str]:
        """The files `path` imports directly, as absolute paths."""
        module = self.module(path)
        if module is None:
            return []
        folder = os.path.dirname(path)
        return [os.path.normpath(os.path.join(folder, imp.path)) for imp in module.imports]

    def closure(self, path: str) -> list[str]:
        """`path` and every file it imports, transitively (each once, first reached first)."""
        seen: dict[str, None] = {}
        stack = [path]
        while stack:
            file = stack.pop()
            if file in seen:
                continue
            seen[file] = None
            stack += reversed(self.imports(file))
        return list(seen)

    # -- checking

    def check(self, main: str) -> Checked:
        """Parse `main` and its imports and run the compiler, as `rtc check` does."""
        from rtc.compiler import compile_modules, fewer_collections
        from rtc.dsl import load_modules

        files: set[str] = {main}

        def parse(file: str, at: Span | None) -> ast.Module:
            file = os.path.abspath(file)
            files.add(file)
            return self.parse(file, at)

        try:
            with fewer_collections():
                compile_modules(load_modules(main, parse=parse), main)
            diagnostics: list[Diagnostic] = []
        except CompileError as exc:
            diagnostics = list(exc.diagnostics)
        except RtcError as exc:
            diagnostics = [Diagnostic("E007", str(exc), Span(main, 1, 1), exc.hint)]
        except RecursionError:
            diagnostics = [Diagnostic("E001", "the file nests too deeply to check", Span(main, 1, 1))]
        self._imports_of_checked[main] = files
        return Checked(main, diagnostics, files)

    def dependents(self, path: str) -> list[str]:
        """Open files whose last check read `path` (including `path` itself when open)."""
        return [main for main, files in self._imports_of_checked.items() if path in files and main in self.open]

    def import_summaries(self, checked: Checked) -> list[Diagnostic]:
        """For problems in imported files: one diagnostic at each `import` of the main file that leads there."""
        elsewhere: dict[str, list[Diagnostic]] = {}
        for d in checked.diagnostics:
            if d.span is not None and d.span.file != checked.main:
                elsewhere.setdefault(d.span.file, []).append(d)
        module = self._good.get(checked.main)
        if not elsewhere or module is None:
            return []
        out = []
        folder = os.path.dirname(checked.main)
        for imp in module.imports:
            target = os.path.normpath(os.path.join(folder, imp.path))
            found = [d for file in self.closure(target) for d in elsewhere.get(file, [])]
            if found:
                first = found[0]
                more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
                where = os.path.relpath(first.span.file, folder)
                out.append(
                    Diagnostic(
                        first.code,
                        f"in imported {where}:{first.span.line}:{first.span.col}: {first.message}{more}",
                        imp.span,
                        "open that file to see them",
                    )
                )
        return out

    # -- the workspace

    def known_files(self) -> list[str]:
        """Open files, what they import, and the pipeline files under the workspace folders."""
        files: dict[str, None] = {}
        for path in list(self.open):
            for file in self.closure(path):
                files[file] = None
        for root in self.roots:
            for folder, dirs, names in os.walk(root):
                dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIPPED_FOLDERS)
                for name in sorted(names):
                    if name.endswith(RT_SUFFIXES + YAML_SUFFIXES):
                        files[os.path.join(folder, name)] = None
                if len(files) > MAX_SCANNED_FILES:
                    return list(files)
        return list(files)
