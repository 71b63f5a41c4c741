"""Front ends: `.rt`, YAML and envd source files -> syntax trees (`rtc.dsl.ast`).

`parse_file` reads one file and picks the front end by suffix;
`load_modules` also follows `import` statements. Both raise `CompileError`
with positions for anything wrong in the sources, and never a traceback.
"""

from __future__ import annotations

import os
from pathlib import Path

from rtc.base.diagnostics import CompileError, Diagnostic, DiagnosticBag, Span, sorted_diagnostics
from rtc.dsl import ast
from rtc.dsl.limits import module_problems, rt_tree_needs_bounds_walk, text_nesting_problem, too_deep
from rtc.base.limits import MAX_NESTING, LimitError, read_regular_file

RT_SUFFIXES = (".rt",)
YAML_SUFFIXES = (".yaml", ".yml")
ENVD_SUFFIXES = (".envd",)  # envd's build.envd (envd_file.py)
JSON_SUFFIXES = (".json",)  # JSON is YAML: Exosphere templates as Exosphere's docs write them (IR JSON is not a source)
SUFFIXES = RT_SUFFIXES + YAML_SUFFIXES + ENVD_SUFFIXES + JSON_SUFFIXES


def is_ir_json(text: str) -> bool:
    """JSON from `rtc compile --target ir` (its `ir_version` key), not a source file written as JSON."""
    return '"ir_version"' in text

# Diagnostic codes of file handling (docs/language.md, "Syntax errors").
CANNOT_READ = "E007"
BAD_IMPORT = "E008"
IMPORT_CYCLE = "E009"


def parse_text(text: str, file: str, env_name: str | None = None) -> ast.Module:
    """Parse source text; the suffix of `file` picks the front end (`env_name` names an envd file's env)."""
    suffix = Path(file).suffix.lower()
    if suffix in ENVD_SUFFIXES:
        from rtc.dsl.envd_file import parse_envd

        return parse_envd(text, file, env_name)
    if suffix in JSON_SUFFIXES and is_ir_json(text):
        raise CompileError(Diagnostic(
            CANNOT_READ, f"{file} is rtc IR JSON (from `rtc compile --target ir`), not a source file", None,
            "`rtc run` and `rtc exec` take IR JSON; check, compile and import take the source it came from"))
    if suffix in YAML_SUFFIXES + JSON_SUFFIXES:
        from rtc.dsl.yaml_frontend import parse_yaml

        deep = text_nesting_problem(text, file, yaml=True)
        if deep is not None:
            raise CompileError(deep)
        return _bounded(parse_yaml(text, file))
    if suffix in RT_SUFFIXES:
        from rtc.dsl.fast_parser import read_with_depth

        read = read_with_depth(text, file)  # well-formed files, without importing Lark
        # The reader knows how deep the text nests: only a deep file needs the text scan
        # (which reports where) and the tree walk (which reports exactly).
        if read is None or read[1] > MAX_NESTING:
            deep = text_nesting_problem(text, file)
            if deep is not None:
                raise CompileError(deep)
        if read is not None:
            module, depth = read
            return _bounded(module) if rt_tree_needs_bounds_walk(text, depth) else module
        from lark.exceptions import VisitError

        from rtc.dsl.parser import parse_rt_with_lark

        try:
            return _bounded(parse_rt_with_lark(text, file))
        except (RecursionError, VisitError) as exc:
            if isinstance(exc, VisitError) and not isinstance(exc.orig_exc, RecursionError):
                raise
            raise CompileError(too_deep(Span(file, 1, 1))) from None
    raise CompileError(
        Diagnostic(
            CANNOT_READ,
            f"{file}: unknown kind of file {suffix or '(no suffix)'!r}",
            None,
            "rtc reads .rt files, .yaml/.yml files (and .json ones, such as Exosphere templates) and envd's build.envd",
        )
    )


def _bounded(module: ast.Module) -> ast.Module:
    """`module`, unless it nests too deeply or holds text that is not Unicode (rtc.dsl.limits)."""
    problems = module_problems(module)
    if problems:
        raise CompileError(sorted_diagnostics(problems))
    return module


def read_source(path: str | os.PathLike, at: Span | None = None) -> str:
    """A file's text as UTF-8; a missing file or a bad byte is a diagnostic, not an OSError."""
    file = str(path)
    try:
        data = read_regular_file(path)
    except LimitError as exc:
        raise CompileError(Diagnostic(CANNOT_READ, str(exc), at)) from None
    except FileNotFoundError:
        raise CompileError(Diagnostic(CANNOT_READ, f"no such file: {file}", at)) from None
    except IsADirectoryError:
        raise CompileError(Diagnostic(CANNOT_READ, f"{file} is a folder, not a file", at)) from None
    except OSError as exc:
        raise CompileError(Diagnostic(CANNOT_READ, f"cannot read {file}: {exc.strerror or exc}", at)) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start].decode("utf-8", errors="replace")
        line = before.count("\n") + 1
        col = len(before) - (before.rfind("\n") + 1) + 1
        raise CompileError(
            Diagnostic(
                CANNOT_READ,
                f"{file} is not UTF-8 text (byte 0x{data[exc.start]:02x})",
                Span(file, line, col, line, col + 1),
                "save the file as UTF-8",
            )
        ) from None
    return text.removeprefix("\ufeff")


def parse_file(path: str | os.PathLike) -> ast.Module:
    """Read and parse one file (no imports followed)."""
    file = str(path)
    suffix = Path(file).suffix.lower()
    if suffix not in SUFFIXES:
        return parse_text("", file)  # raises the "unknown kind of file" diagnostic
    return parse_text(read_source(file), file)


def load_modules(path: str | os.PathLike, parse=None) -> list[ast.Module]:
    """The module at `path` and every module it imports, transitively.

    Order: the given file first, then imported files in the order they are
    first reached (depth first). Each file is parsed once even when several
    files import it. Imports are relative to the importing file. A missing
    import or an import cycle is a diagnostic at the `import` statement;
    as many problems as possible are reported together.

    `parse(file, at) -> Module` reads and parses one file (`at`: the import
    that names it); the default reads the disk. The language server passes one
    that reads the editor's unsaved text and reuses unchanged parses.
    """
    loader = _Loader(parse or _parse_from_disk)
    root = loader.load(str(path), None, ())
    loader.bag.raise_if_any()
    return [m for m in loader.modules.values() if m is not None] if root is not None else []


def _parse_from_disk(file: str, at: Span | None) -> ast.Module:
    return parse_text(read_source(file, at), file)


class _Loader:
    def __init__(self, parse):
        self.parse = parse
        self.modules: dict[str, ast.Module | None] = {}
        self.bag = DiagnosticBag()

    def load(self, file: str, at: Span | None, stack: tuple[str, ...], alias: str | None = None) -> ast.Module | None:
        key = os.path.realpath(file)
        if key in stack:
            return None  # reported by the caller, which knows the import's position
        # An envd file imported `as NAME` is another env: parsed once per name.
        entry = key if alias is None or Path(file).suffix.lower() not in ENVD_SUFFIXES else f"{key}\0{alias}"
        if entry in self.modules:
            return self.modules[entry]
        self.modules[entry] = None  # reserve the position in first-reached order
        try:
            module = self.parse(file, at) if _known_suffix(file, at, self.bag) else None
            if module is not None and entry != key:  # an envd file under the name its import gives
                module = _env_named(module, alias)
        except CompileError as exc:
            self.bag.extend(exc.diagnostics)
            module = None
        self.modules[entry] = module
        if module is None:
            return None
        for imp in module.imports:
            self._follow(module, imp, stack + (key,))
        return module

    def _follow(self, module: ast.Module, imp: ast.Import, stack: tuple[str, ...]) -> None:
        target = os.path.normpath(os.path.join(os.path.dirname(module.file), imp.path))
        key = os.path.realpath(target)
        if key in stack:
            chain = [os.path.basename(k) for k in stack[stack.index(key):]] + [os.path.basename(key)]
            self.bag.add(
                IMPORT_CYCLE,
                "import cycle: " + " -> ".join(chain),
                imp.span,
                "move what both files need into a third file that both import",
            )
            return
        if not os.path.exists(target):
            self.bag.add(BAD_IMPORT, f"cannot find imported file {imp.path!r} (looked for {target})", imp.span)
            return
        self.load(target, imp.span, stack, imp.alias)


def _env_named(module: ast.Module, name: str) -> ast.Module:
    import dataclasses

    blocks = [dataclasses.replace(b, name=name) if b.kind == "env" else b for b in module.blocks]
    return dataclasses.replace(module, blocks=blocks)


def _known_suffix(file: str, at: Span | None, bag: DiagnosticBag) -> bool:
    if os.path.isdir(file):
        bag.add(CANNOT_READ, f"{file} is a folder, not a file", at, "name a .rt, .yaml or .yml file")
        return False
    if Path(file).suffix.lower() in SUFFIXES:
        return True
    what = f"cannot import {file!r}" if at is not None else f"{file}: unknown kind of file"
    bag.add(BAD_IMPORT if at is not None else CANNOT_READ, f"{what}; rtc reads .rt, .yaml, .yml, .json and .envd files", at)
    return False


__all__ = ["parse_file", "parse_text", "load_modules", "read_source"]
