"""The language server's layers in this process: codespecs and runs, params, imports, YAML."""

from __future__ import annotations

import textwrap

from rtc.lsp.complete import complete
from rtc.lsp.features import Navigator
from rtc.lsp.project import Project

TYGER = textwrap.dedent("""\
    codespec hello {
      image   = "ubuntu"
      inputs  = [input]
      outputs = [output]
    }

    run greet {
      codespec = hello
      worker { codespec = hello }
    }
    """)


def setup(tmp_path, files: dict[str, str], main: str):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    project = Project((str(tmp_path),))
    path = str(tmp_path / main)
    project.set_text(path, files[main])
    return project, Navigator(project), path


def test_a_runs_codespec_leads_to_its_definition_and_hover_shows_the_buffers(tmp_path):
    project, nav, path = setup(tmp_path, {"t.rt": TYGER}, "t.rt")
    definition = nav.definition(path, 7, 14)
    assert (definition.key.kind, definition.range.line, definition.range.start) == ("codespec", 0, 9)
    text, _ = nav.hover(path, 7, 14)
    assert "input buffers: `[input]`" in text and "output buffers: `[output]`" in text
    assert [(o.range.line, o.range.start) for o in nav.references(path, 0, 10)] == [(0, 9), (7, 13), (8, 22)]
    assert [c.label for c in complete(nav, path, TYGER.replace("codespec = hello\n  worker", "codespec = \n  worker"), 7, 13)] == ["hello"]


def test_renaming_a_param_changes_its_declaration_and_every_params_reference(tmp_path):
    source = textwrap.dedent("""\
        env e { image = "busybox" }
        node N { env = e  inputs { a: str, b: str }  command = ["true"] }
        graph g {
          params { day: str = "x" }
          s = N(a = params.day, b = params.day)
        }
        """)
    project, nav, path = setup(tmp_path, {"p.rt": source}, "p.rt")
    edits = nav.rename(path, 4, 20, "date")
    assert sorted((r.line, r.start) for r in edits[path]) == [(3, 11), (4, 19), (4, 35)]
    text, _ = nav.hover(path, 3, 12)
    assert 'param** `day: str = "x"` of graph `g`' in text


def test_problems_in_an_import_show_at_the_import_and_yaml_pipelines_are_checked(tmp_path):
    files = {
        "envs.yaml": "envs:\n  py:\n    base: python:3.11-slim\n    pipp: [x]\n",
        "p.rt": 'import "envs.yaml"\nnode N { env = py  command = ["true"] }\n',
    }
    project, nav, path = setup(tmp_path, files, "p.rt")
    checked = project.check(path)
    assert checked.for_file(path) == []
    summary = project.import_summaries(checked)
    assert [(d.code, d.span.line) for d in summary] == [("E200", 1)]
    assert "in imported envs.yaml:4:5: unknown attribute `pipp`" in summary[0].message
    definition = nav.definition(path, 1, 16)
    assert definition.file.endswith("envs.yaml") and definition.range.line == 1
