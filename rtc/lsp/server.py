"""The language server: LSP over stdio (pygls), for `.rt` files and rtc's YAML files.

Diagnostics are the compiler's (`rtc check`'s codes, messages and hints),
published for a file when it opens, a short quiet time after each change
(`RTC_LSP_DEBOUNCE_MS`, default 30), and when a file it imports changes.
Every handler is guarded: whatever the input, the server answers (maybe with
nothing) and keeps running; an unexpected error is logged to the client.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import re
import time
import traceback
from urllib.parse import unquote, urlparse

from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol

from rtc import __version__
from rtc.base.diagnostics import Diagnostic, RtcError
from rtc.lsp.complete import complete
from rtc.lsp.features import Navigator
from rtc.lsp.project import Project
from rtc.lsp.textpos import Range, lines_of, span_range

log = logging.getLogger("rtc.lsp")

DEBOUNCE_SECONDS = float(os.environ.get("RTC_LSP_DEBOUNCE_MS", "30")) / 1000
# A key of rtc YAML, a Tyger file or an Exosphere template at a line's start, also JSON-style (`"nodes": [`, `{"name": ...`).
_RTC_YAML = re.compile(r"^[ \t{]*[\"']?(namespace|imports|envs|nodes|graphs|codespecs|runs|job|image)[\"']?\s*:", re.MULTILINE)

_COMPLETION_KINDS = {
    "keyword": types.CompletionItemKind.Keyword,
    "attribute": types.CompletionItemKind.Property,
    "block": types.CompletionItemKind.Struct,
    "env": types.CompletionItemKind.Module,
    "node": types.CompletionItemKind.Class,
    "codespec": types.CompletionItemKind.Interface,
    "step": types.CompletionItemKind.Variable,
    "param": types.CompletionItemKind.Constant,
    "input": types.CompletionItemKind.Field,
    "output": types.CompletionItemKind.Field,
    "type": types.CompletionItemKind.TypeParameter,
    "value": types.CompletionItemKind.Value,
}
_SYMBOL_KINDS = {
    "env": types.SymbolKind.Module,
    "node": types.SymbolKind.Class,
    "graph": types.SymbolKind.Namespace,
    "codespec": types.SymbolKind.Interface,
    "run": types.SymbolKind.Event,
    "step": types.SymbolKind.Function,
    "param": types.SymbolKind.Constant,
    "input": types.SymbolKind.Field,
    "output": types.SymbolKind.Field,
}


class _Answered:
    """A request already answered with an error while it was read (`_Protocol`): nothing more to do."""

    jsonrpc = None


class _Protocol(LanguageServerProtocol):
    """pygls, except that a request whose params fail validation gets an error response.

    pygls logged such a request and dropped it: the client waited forever for an answer.
    """

    def structure_message(self, data):
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            if isinstance(data, dict) and "method" in data and isinstance(data.get("id"), (int, str)) \
                    and not isinstance(data.get("id"), bool):
                error = exc.to_response_error()
                error.message = f"{error.message or 'invalid request'}: the params of {str(data['method'])[:80]} do not match the LSP schema"
                self._send_response(data["id"], error=error)
                return _Answered()
            raise

    def handle_message(self, message):
        if isinstance(message, _Answered):
            return None
        return super().handle_message(message)


class RtcLanguageServer(LanguageServer):
    def __init__(self):
        super().__init__("rtc", __version__, protocol_cls=_Protocol)
        self.project = Project()
        self.nav = Navigator(self.project)
        self._pending: dict[str, asyncio.TimerHandle] = {}
        self.last_check_seconds: float = 0.0

    # -- paths and positions

    @staticmethod
    def path(uri: str) -> str:
        parsed = urlparse(uri)
        return os.path.abspath(unquote(parsed.path)) if parsed.scheme in ("file", "") else uri

    @staticmethod
    def uri(path: str) -> str:
        from pathlib import Path

        return Path(path).as_uri()

    def _encoding(self) -> str:
        try:
            return str(self.server_capabilities.position_encoding or "utf-16")
        except Exception:  # noqa: BLE001 - before initialize
            return "utf-16"

    def _units(self, line_text: str, character: int) -> int:
        prefix = line_text[:character]
        encoding = self._encoding()
        if encoding == "utf-8":
            return len(prefix.encode("utf-8"))
        if encoding == "utf-32":
            return len(prefix)
        return len(prefix.encode("utf-16-le")) // 2

    def _character(self, line_text: str, units: int) -> int:
        """Client units on a line -> a Python character index."""
        encoding = self._encoding()
        if encoding == "utf-32":
            return min(units, len(line_text))
        count = 0
        for index, char in enumerate(line_text):
            if count >= units:
                return index
            count += len(char.encode("utf-8")) if encoding == "utf-8" else (2 if ord(char) > 0xFFFF else 1)
        return len(line_text)

    def lsp_range(self, path: str, rng: Range) -> types.Range:
        lines = lines_of(self.project.text(path) or "")

        def pos(line: int, character: int) -> types.Position:
            text = lines[line] if 0 <= line < len(lines) else ""
            return types.Position(line=max(line, 0), character=self._units(text, character))

        return types.Range(start=pos(rng.line, rng.start), end=pos(rng.end_line, rng.end))

    def position(self, path: str, position: types.Position) -> tuple[int, int]:
        lines = lines_of(self.project.text(path) or "")
        text = lines[position.line] if 0 <= position.line < len(lines) else ""
        return position.line, self._character(text, position.character)

    def location(self, file: str, rng: Range) -> types.Location:
        return types.Location(uri=self.uri(file), range=self.lsp_range(file, rng))

    # -- diagnostics

    def is_pipeline(self, path: str) -> bool:
        if path.endswith(".rt"):
            return True
        if path.endswith((".yaml", ".yml")):
            return bool(_RTC_YAML.search(self.project.text(path) or ""))
        if path.endswith(".json"):  # an Exosphere template in JSON; not IR JSON (`rtc compile --target ir`)
            from rtc.dsl import is_ir_json

            text = self.project.text(path) or ""
            return not is_ir_json(text) and bool(_RTC_YAML.search(text))
        return False

    def schedule_check(self, path: str, delay: float = DEBOUNCE_SECONDS) -> None:
        pending = self._pending.pop(path, None)
        if pending is not None:
            pending.cancel()
        loop = asyncio.get_running_loop()
        self._pending[path] = loop.call_later(delay, self.check_and_publish, path, True)

    def check_and_publish(self, path: str, with_dependents: bool = False) -> None:
        self._pending.pop(path, None)
        try:
            others = [p for p in self.project.dependents(path) if p != path] if with_dependents else []
            for main in [path] + others:
                if main in self.project.open and self.is_pipeline(main):
                    self._publish(main)
        except Exception:  # noqa: BLE001 - the server outlives any bug in a check
            self._log_bug("checking " + path)

    def _publish(self, main: str) -> None:
        started = time.perf_counter()
        checked = self.project.check(main)
        found = checked.for_file(main) + self.project.import_summaries(checked)
        lines = lines_of(self.project.text(main) or "")
        diagnostics = [self._diagnostic(main, d, lines) for d in found]
        self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=self.uri(main), diagnostics=diagnostics))
        self.last_check_seconds = time.perf_counter() - started

    def _diagnostic(self, main: str, d: Diagnostic, lines: list[str]) -> types.Diagnostic:
        span = d.span if d.span is not None and d.span.file == main else None
        rng = self.lsp_range(main, span_range(span, lines)) if span else types.Range(
            start=types.Position(line=0, character=0), end=types.Position(line=0, character=0)
        )
        if d.span is not None and d.span.file != main:  # an import summary: its span is the import's
            rng = self.lsp_range(main, span_range(d.span, lines))
        message = d.message + (f"\nhint: {d.hint}" if d.hint else "")
        severity = types.DiagnosticSeverity.Warning if d.severity == "warning" else types.DiagnosticSeverity.Error
        return types.Diagnostic(range=rng, message=message, severity=severity, code=d.code, source="rtc")

    def _log_bug(self, what: str) -> None:
        text = f"rtc lsp: unexpected error while {what}:\n{traceback.format_exc()}"
        log.error(text)
        try:
            self.window_log_message(types.LogMessageParams(type=types.MessageType.Error, message=text))
        except Exception:  # noqa: BLE001 - the client may be gone
            pass


server = RtcLanguageServer()


def guarded(default=None):
    """Run a handler; on an unexpected error log it and answer `default` instead of failing."""

    def wrap(fn):
        if asyncio.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def run_async(ls, params):
                try:
                    return await fn(ls, params)
                except JsonRpcException:
                    raise  # an answer for the client (a refused rename): pygls sends it as the error response
                except Exception:  # noqa: BLE001
                    ls._log_bug(fn.__name__)
                    return default

            return run_async

        @functools.wraps(fn)
        def run(ls, params):
            try:
                return fn(ls, params)
            except JsonRpcException:
                raise  # an answer for the client (a refused rename): pygls sends it as the error response
            except Exception:  # noqa: BLE001
                ls._log_bug(fn.__name__)
                return default

        return run

    return wrap


# ---------------------------------------------------------------- documents


@server.feature(types.INITIALIZED)
@guarded()
def initialized(ls: RtcLanguageServer, params: types.InitializedParams):
    folders = ls.workspace.folders.values() if ls.workspace.folders else []
    roots = [ls.path(f.uri) for f in folders] or ([ls.workspace.root_path] if ls.workspace.root_path else [])
    ls.project.roots = [r for r in roots if r and os.path.isdir(r)]


@server.feature(types.TEXT_DOCUMENT_DID_OPEN)
@guarded()
async def did_open(ls: RtcLanguageServer, params: types.DidOpenTextDocumentParams):
    path = ls.path(params.text_document.uri)
    ls.project.set_text(path, params.text_document.text)
    ls.check_and_publish(path, with_dependents=True)


@server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
@guarded()
async def did_change(ls: RtcLanguageServer, params: types.DidChangeTextDocumentParams):
    uri = params.text_document.uri
    path = ls.path(uri)
    ls.project.set_text(path, ls.workspace.get_text_document(uri).source)
    ls.schedule_check(path)


@server.feature(types.TEXT_DOCUMENT_DID_SAVE)
@guarded()
async def did_save(ls: RtcLanguageServer, params: types.DidSaveTextDocumentParams):
    ls.schedule_check(ls.path(params.text_document.uri), 0)


@server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
@guarded()
def did_close(ls: RtcLanguageServer, params: types.DidCloseTextDocumentParams):
    path = ls.path(params.text_document.uri)
    pending = ls._pending.pop(path, None)
    if pending is not None:
        pending.cancel()
    ls.project.close(path)
    ls.nav.forget_unused()
    ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=params.text_document.uri, diagnostics=[]))
    _return_memory()


def _return_memory() -> None:
    """Give freed memory back to the system (a closed 50 MB document otherwise stays in the heap's RSS)."""
    import gc

    gc.collect()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: the memory is reused by the next document instead
        pass


# ---------------------------------------------------------------- navigation


@server.feature(types.TEXT_DOCUMENT_HOVER)
@guarded()
def hover(ls: RtcLanguageServer, params: types.HoverParams):
    path = ls.path(params.text_document.uri)
    found = ls.nav.hover(path, *ls.position(path, params.position))
    if found is None:
        return None
    text, rng = found
    return types.Hover(
        contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=text), range=ls.lsp_range(path, rng)
    )


@server.feature(types.TEXT_DOCUMENT_DEFINITION)
@guarded()
def definition(ls: RtcLanguageServer, params: types.DefinitionParams):
    path = ls.path(params.text_document.uri)
    found = ls.nav.definition(path, *ls.position(path, params.position))
    return ls.location(found.file, found.range) if found is not None else None


@server.feature(types.TEXT_DOCUMENT_REFERENCES)
@guarded()
def references(ls: RtcLanguageServer, params: types.ReferenceParams):
    path = ls.path(params.text_document.uri)
    found = ls.nav.references(path, *ls.position(path, params.position), params.context.include_declaration)
    return [ls.location(o.file, o.range) for o in found]


@server.feature(types.TEXT_DOCUMENT_PREPARE_RENAME)
@guarded()
def prepare_rename(ls: RtcLanguageServer, params: types.PrepareRenameParams):
    path = ls.path(params.text_document.uri)
    found = ls.nav.prepare_rename(path, *ls.position(path, params.position))
    return ls.lsp_range(path, found.range) if found is not None else None


@server.feature(types.TEXT_DOCUMENT_RENAME)
@guarded()
def rename(ls: RtcLanguageServer, params: types.RenameParams):
    path = ls.path(params.text_document.uri)
    try:
        edits = ls.nav.rename(path, *ls.position(path, params.position), params.new_name)
    except ValueError as exc:
        from pygls.exceptions import JsonRpcInvalidParams

        raise JsonRpcInvalidParams(str(exc)) from None
    if not edits:
        return None
    return types.WorkspaceEdit(
        changes={
            ls.uri(file): [types.TextEdit(range=ls.lsp_range(file, r), new_text=params.new_name) for r in ranges]
            for file, ranges in edits.items()
        }
    )


@server.feature(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
@guarded(default=[])
def document_symbol(ls: RtcLanguageServer, params: types.DocumentSymbolParams):
    path = ls.path(params.text_document.uri)

    def convert(outline) -> types.DocumentSymbol:
        return types.DocumentSymbol(
            name=outline.name,
            kind=_SYMBOL_KINDS.get(outline.kind, types.SymbolKind.Object),
            detail=outline.detail or outline.kind,
            range=ls.lsp_range(path, outline.range),
            selection_range=ls.lsp_range(path, outline.selection),
            children=[convert(c) for c in outline.children],
        )

    return [convert(o) for o in ls.nav.outline(path)]


# ---------------------------------------------------------------- editing


@server.feature(
    types.TEXT_DOCUMENT_COMPLETION,
    types.CompletionOptions(trigger_characters=[".", "(", ",", "=", " ", ":", "["]),
)
@guarded()
def completion(ls: RtcLanguageServer, params: types.CompletionParams):
    path = ls.path(params.text_document.uri)
    text = ls.project.text(path) or ""
    items = complete(ls.nav, path, text, *ls.position(path, params.position))
    return types.CompletionList(
        is_incomplete=False,
        items=[
            types.CompletionItem(
                label=c.label,
                kind=_COMPLETION_KINDS.get(c.kind, types.CompletionItemKind.Text),
                detail=c.detail or None,
                insert_text=c.insert,
                sort_text=f"{i:04d}",
            )
            for i, c in enumerate(items)
        ],
    )


@server.feature(types.TEXT_DOCUMENT_FORMATTING)
@guarded()
def formatting(ls: RtcLanguageServer, params: types.DocumentFormattingParams):
    path = ls.path(params.text_document.uri)
    if not path.endswith(".rt"):
        return None
    from rtc.dsl.format import format_rt

    text = ls.project.text(path) or ""
    try:
        formatted = format_rt(text, path)
    except RtcError:
        return None  # a CompileError: the diagnostics already say why; else formatting would change the meaning
    if formatted == text:
        return []
    lines = lines_of(text)
    end = types.Position(line=len(lines) - 1, character=ls._units(lines[-1], len(lines[-1])))
    return [types.TextEdit(range=types.Range(start=types.Position(line=0, character=0), end=end), new_text=formatted)]


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="rtc lsp: %(message)s")
    server.start_io()
