"""`rtc lsp` as a real process, driven by a real LSP client (pytest-lsp) over stdio."""

from __future__ import annotations

import asyncio
import random
import sys
import textwrap
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

ENVS = 'env py { base = "python:3.11-slim" }\n'
PIPELINE = textwrap.dedent("""\
    import "envs.rt"

    node Load {
      env     = py
      inputs  { path: str, limit: int = 10 }
      outputs { rows: list[str], count: int }
      command = ["true"]
    }

    graph g {
      params { source: str = "/x" }
      load  = Load(path = params.source)
      again = Load(path = params.source, limit = load.count) after [load]
    }
    """)


SERVER = ClientServerConfig(server_command=[sys.executable, "-m", "rtc", "lsp"], server_env={"RTC_LSP_DEBOUNCE_MS": "10"})

# One server for the module (starting one costs seconds); each test works in its own folder.
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_lsp.fixture(config=SERVER, scope="module")
async def client(lsp_client: LanguageClient, tmp_path_factory):
    root = tmp_path_factory.mktemp("workspace")
    lsp_client.root = root
    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=pytest_lsp.client_capabilities("visual-studio-code"),
            root_uri=root.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name="w")],
        )
    )
    yield
    await lsp_client.shutdown_session()


@pytest.fixture
def files(client, request):
    """This test's pipeline.rt and envs.rt, in a folder of their own."""
    folder = client.root / request.node.name
    folder.mkdir()
    (folder / "envs.rt").write_text(ENVS)
    (folder / "pipeline.rt").write_text(PIPELINE)
    return folder / "pipeline.rt", folder / "envs.rt"


async def open_doc(client: LanguageClient, path: Path, text: str | None = None) -> str:
    """Open a document and wait for its first diagnostics."""
    uri = path.as_uri()
    client.diagnostics.pop(uri, None)
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="rt", version=1, text=text or path.read_text())
        )
    )
    client.opened_diagnostics = await diagnostics_for(client, uri)
    return uri


async def diagnostics_for(client: LanguageClient, uri: str, timeout: float = 60) -> list[types.Diagnostic]:
    """Wait for the next diagnostics published for `uri` (callers pop `uri` before the request that publishes them).

    Look before waiting: one server message can publish for several files (opening an import
    re-checks its importers), and the client may have stored them all while we waited for the first.
    """
    async def wait():
        while uri not in client.diagnostics:
            await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        return list(client.diagnostics.pop(uri))

    return await asyncio.wait_for(wait(), timeout)


def change(client: LanguageClient, uri: str, text: str, version: int) -> None:
    client.diagnostics.pop(uri, None)
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
        )
    )


def pos(line: int, character: int) -> types.Position:
    return types.Position(line=line, character=character)


async def test_diagnostics_have_the_compilers_code_and_range_and_clear_when_fixed(client: LanguageClient, files):
    pipeline, _ = files
    broken = PIPELINE.replace("env     = py", "env     = pyy")
    uri = await open_doc(client, pipeline, broken)
    diagnostics = client.opened_diagnostics
    assert [d.code for d in diagnostics] == ["E300"]
    assert diagnostics[0].range == types.Range(start=pos(3, 12), end=pos(3, 15))
    assert "unknown environment `pyy`" in diagnostics[0].message
    change(client, uri, PIPELINE, 3)
    assert await diagnostics_for(client, uri) == []


async def test_a_syntax_error_is_reported_at_its_position_with_a_hint(client: LanguageClient, files):
    pipeline, _ = files
    await open_doc(client, pipeline, PIPELINE.replace('command = ["true"]', "command : 1"))
    diagnostics = client.opened_diagnostics
    assert diagnostics[0].code == "E001"
    assert diagnostics[0].range.start == pos(6, 10)
    assert "hint: attributes use '='" in diagnostics[0].message


async def test_an_edit_in_an_imported_file_updates_the_importers_diagnostics(client: LanguageClient, files):
    pipeline, envs = files
    pipeline_uri = await open_doc(client, pipeline)
    envs_uri = await open_doc(client, envs)
    assert await diagnostics_for(client, pipeline_uri) == []  # opening an import re-checks its importers
    change(client, envs_uri, ENVS.replace("env py", "env py2"), 2)
    diagnostics = await diagnostics_for(client, pipeline_uri)
    assert [(d.code, d.range.start) for d in diagnostics] == [("E300", pos(3, 12))]


async def test_hover_shows_a_nodes_ports_with_types(client: LanguageClient, files):
    pipeline, _ = files
    uri = await open_doc(client, pipeline)
    result = await client.text_document_hover_async(
        types.HoverParams(text_document=types.TextDocumentIdentifier(uri=uri), position=pos(11, 11))
    )
    assert "**node** `Load`" in result.contents.value
    assert "`path: str`, `limit: int = 10`" in result.contents.value
    assert "`rows: list[str]`, `count: int`" in result.contents.value
    param = await client.text_document_hover_async(
        types.HoverParams(text_document=types.TextDocumentIdentifier(uri=uri), position=pos(11, 29))
    )
    assert "`source: str = \"/x\"`" in param.contents.value


async def test_definition_of_an_env_is_in_the_imported_file(client: LanguageClient, files):
    pipeline, envs = files
    uri = await open_doc(client, pipeline)
    result = await client.text_document_definition_async(
        types.DefinitionParams(text_document=types.TextDocumentIdentifier(uri=uri), position=pos(3, 13))
    )
    assert result.uri == envs.as_uri()
    assert result.range == types.Range(start=pos(0, 4), end=pos(0, 6))
    imported = await client.text_document_definition_async(
        types.DefinitionParams(text_document=types.TextDocumentIdentifier(uri=uri), position=pos(0, 10))
    )
    assert imported.uri == envs.as_uri()


async def test_references_of_a_step_and_of_an_env_across_files(client: LanguageClient, files):
    pipeline, envs = files
    uri = await open_doc(client, pipeline)
    refs = await client.text_document_references_async(
        types.ReferenceParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=pos(11, 3),
            context=types.ReferenceContext(include_declaration=True),
        )
    )
    assert [(r.range.start.line, r.range.start.character) for r in refs] == [(11, 2), (12, 45), (12, 64)]
    env_refs = await client.text_document_references_async(
        types.ReferenceParams(
            text_document=types.TextDocumentIdentifier(uri=envs.as_uri()), position=pos(0, 5),
            context=types.ReferenceContext(include_declaration=False),
        )
    )
    assert [(r.uri, r.range.start.line) for r in env_refs] == [(uri, 3)]


async def test_completion_after_step_dot_lists_its_outputs(client: LanguageClient, files):
    pipeline, _ = files
    text = PIPELINE.replace("limit = load.count)", "limit = load.)")
    uri = await open_doc(client, pipeline, text)
    column = text.splitlines()[12].index("load.)") + 5
    result = await client.text_document_completion_async(
        types.CompletionParams(text_document=types.TextDocumentIdentifier(uri=uri), position=pos(12, column))
    )
    assert [(i.label, i.detail) for i in result.items] == [
        ("rows", "list[str]  (output of Load)"), ("count", "int  (output of Load)")
    ]


async def test_completion_inside_a_call_lists_the_inputs_with_their_types(client: LanguageClient, files):
    pipeline, _ = files
    text = PIPELINE.replace("again = Load(path = params.source, limit = load.count)", "again = Load(path = params.source, )")
    uri = await open_doc(client, pipeline, text)
    column = text.splitlines()[12].index(", )") + 2
    result = await client.text_document_completion_async(
        types.CompletionParams(text_document=types.TextDocumentIdentifier(uri=uri), position=pos(12, column))
    )
    assert [(i.label, i.detail, i.insert_text) for i in result.items] == [("limit", "int = 10", "limit = ")]


async def test_completion_of_attribute_names_in_a_block(client: LanguageClient, files):
    pipeline, _ = files
    text = PIPELINE.replace('  command = ["true"]\n', '  command = ["true"]\n  ti\n')
    uri = await open_doc(client, pipeline, text)
    result = await client.text_document_completion_async(
        types.CompletionParams(text_document=types.TextDocumentIdentifier(uri=uri), position=pos(7, 4))
    )
    labels = [i.label for i in result.items]
    assert "timeout" in labels and "retry" in labels and "base" not in labels


async def test_rename_an_env_edits_both_files(client: LanguageClient, files):
    pipeline, envs = files
    uri = await open_doc(client, pipeline)
    edit = await client.text_document_rename_async(
        types.RenameParams(text_document=types.TextDocumentIdentifier(uri=uri), position=pos(3, 12), new_name="python")
    )
    changes = {u: [(e.range.start.line, e.range.start.character, e.range.end.character, e.new_text) for e in edits]
               for u, edits in edit.changes.items()}
    assert changes == {envs.as_uri(): [(0, 4, 6, "python")], uri: [(3, 12, 14, "python")]}


async def test_rename_a_step_edits_its_definition_and_references(client: LanguageClient, files):
    pipeline, _ = files
    uri = await open_doc(client, pipeline)
    edit = await client.text_document_rename_async(
        types.RenameParams(text_document=types.TextDocumentIdentifier(uri=uri), position=pos(12, 46), new_name="first")
    )
    assert sorted((e.range.start.line, e.range.start.character) for e in edit.changes[uri]) == [(11, 2), (12, 45), (12, 64)]


async def test_formatting_returns_the_rtc_fmt_layout(client: LanguageClient, files):
    pipeline, _ = files
    messy = PIPELINE.replace("  load  = Load(path = params.source)", "load=Load( path=params.source )")
    uri = await open_doc(client, pipeline, messy)
    edits = await client.text_document_formatting_async(
        types.DocumentFormattingParams(
            text_document=types.TextDocumentIdentifier(uri=uri), options=types.FormattingOptions(tab_size=2, insert_spaces=True)
        )
    )
    assert len(edits) == 1 and edits[0].range.start == pos(0, 0)
    assert edits[0].new_text == PIPELINE


async def test_document_symbols_outline_blocks_and_their_members(client: LanguageClient, files):
    pipeline, _ = files
    uri = await open_doc(client, pipeline)
    symbols = await client.text_document_document_symbol_async(
        types.DocumentSymbolParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    assert [(s.name, s.kind) for s in symbols] == [("Load", types.SymbolKind.Class), ("g", types.SymbolKind.Namespace)]
    assert [c.name for c in symbols[1].children] == ["source", "load", "again"]


async def test_the_server_survives_random_edits(client: LanguageClient, files):
    pipeline, _ = files
    uri = await open_doc(client, pipeline)
    rng = random.Random(13)
    alphabet = list('{}[]()=:,."#\n ') + ["node", "graph", "env", "after", "each(", '"""', "load.", "params.", "\x00", "é"]
    text = PIPELINE
    for version in range(2, 60):
        at = rng.randrange(len(text) + 1)
        if rng.random() < 0.5 and text:
            text = text[:at] + text[at + rng.randrange(1, 8):]
        else:
            text = text[:at] + rng.choice(alphabet) + text[at:]
        change(client, uri, text, version)
        line = rng.randrange(text.count("\n") + 1)
        await client.text_document_completion_async(
            types.CompletionParams(text_document=types.TextDocumentIdentifier(uri=uri), position=pos(line, rng.randrange(40)))
        )
        await client.text_document_hover_async(
            types.HoverParams(text_document=types.TextDocumentIdentifier(uri=uri), position=pos(line, rng.randrange(40)))
        )
    change(client, uri, PIPELINE, 100)
    assert await diagnostics_for(client, uri) == []
    result = await client.text_document_hover_async(
        types.HoverParams(text_document=types.TextDocumentIdentifier(uri=uri), position=pos(11, 11))
    )
    assert "**node** `Load`" in result.contents.value
    errors = [m.message for m in client.log_messages if m.type == types.MessageType.Error]
    assert errors == []


# Issue 20, item 10: a template written JSON-style, and hover on a node whose ports come from its Python class.

JSON_STYLE_TEMPLATE = textwrap.dedent("""\
    {
      "name": "docs",
      "nodes": [
        {"node_name": "Missing", "identifier": "a", "inputs": {}},
        {"node_name": "Missing", "identifier": "b", "inputs": {"x": "${{ a.outputs.y }}"}}
      ]
    }
    """)


async def test_a_json_style_template_gets_diagnostics(client: LanguageClient, files):
    pipeline, _ = files
    template = pipeline.parent / "docs.yaml"
    template.write_text(JSON_STYLE_TEMPLATE)
    await open_doc(client, template)
    found = client.opened_diagnostics
    assert found and {d.code for d in found} == {"E301"}, found


NODE_PY = textwrap.dedent("""\
    from exospherehost import BaseNode
    from pydantic import BaseModel


    class Shout(BaseNode):
        class Inputs(BaseModel):
            word: str
            times: int = 2

        class Outputs(BaseModel):
            loud: str

        async def execute(self) -> Outputs:
            return self.Outputs(loud=self.inputs.word.upper() * self.inputs.times)
    """)


async def test_hover_shows_ports_read_from_the_python_class(client: LanguageClient, files):
    pipeline, _ = files
    (pipeline.parent / "nodes").mkdir()
    (pipeline.parent / "nodes" / "shout.py").write_text(NODE_PY)
    text = ('env py { base = "python:3.11-slim"  copy "./nodes" -> "/app" }\n'
            'node Shout { env = py  python = "shout:Shout" }\n')
    path = pipeline.parent / "classes.rt"
    path.write_text(text)
    uri = await open_doc(client, path)
    assert client.opened_diagnostics == []
    result = await client.text_document_hover_async(
        types.HoverParams(text_document=types.TextDocumentIdentifier(uri=uri), position=pos(1, 6))
    )
    value = result.contents.value
    assert "- inputs: `word: str`, `times: int = 2` (from class `Shout`)" in value, value
    assert "- outputs: `loud: str` (from class `Shout`)" in value, value
