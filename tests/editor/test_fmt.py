"""`rtc fmt`: the layout, its safety (same syntax tree, same IR), idempotence, and the command."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from rt_sources import layouts, programs

from rtc.base.diagnostics import CompileError
from rtc.dsl.dump import to_data
from rtc.dsl.format import LINE_WIDTH, format_rt
from rtc.dsl.parser import parse_rt

REPO = Path(__file__).resolve().parents[2]
RTC = [sys.executable, "-m", "rtc"]

# Files of the corpus that are not meant to be in the canonical layout, and why.
# (None today: every case in tests/invalid/ is well-formed syntax with a checked error.)
NOT_FORMATTED: dict[str, str] = {}
CORPUS = sorted(
    p for folder in ("examples", "tests") for p in (REPO / folder).rglob("*.rt")
    if str(p.relative_to(REPO)) not in NOT_FORMATTED
)


def fmt(text: str) -> str:
    return format_rt(textwrap.dedent(text))


def same_tree(a: str, b: str) -> None:
    assert to_data(parse_rt(a, "x.rt")) == to_data(parse_rt(b, "x.rt"))


# ---------------------------------------------------------------- the layout


def test_aligns_equals_in_a_run_and_indents_two_spaces():
    assert fmt("""\
        node Load { env=py
        inputs{path:str,limit:int=10}   outputs { rows : list[ str ] }
        python="m:Load", timeout=10m }
        """) == textwrap.dedent("""\
        node Load {
          env     = py
          inputs  { path: str, limit: int = 10 }
          outputs { rows: list[str] }
          python  = "m:Load"
          timeout = 10m
        }
        """)


def test_a_blank_line_starts_a_new_alignment_run_and_several_become_one():
    assert fmt("graph g {\n  schedule = \"@daily\"\n\n\n\n  a = A()\n  longer = B(x = a.y)\n}\n") == (
        'graph g {\n  schedule = "@daily"\n\n  a      = A()\n  longer = B(x = a.y)\n}\n'
    )


def test_one_blank_line_between_blocks_and_leading_comments_stay_with_their_block():
    assert fmt("""\
        namespace n
        import "envs.rt"
        # the env
        env a { image = "x" }
        env b {
        image = "y" }


        # trailing remark
        """) == textwrap.dedent("""\
        namespace n
        import "envs.rt"

        # the env
        env a { image = "x" }

        env b {
          image = "y"
        }

        # trailing remark
        """)


def test_trailing_comments_line_up_and_own_line_comments_keep_their_place():
    assert fmt("""\
        graph g {
          a = A()   # first
          bb = B(x = a.y) # second
            # own line
          c = C()
        }
        """) == textwrap.dedent("""\
        graph g {
          a  = A()         # first
          bb = B(x = a.y)  # second
          # own line
          c  = C()
        }
        """)


def test_calls_lists_and_maps_get_canonical_spacing():
    assert fmt('env e {\n pip=[ "a","b" , ] environ={A="1" "b c"=2} }\ngraph g {\ns=N( a=1,b=[1,2] ) after all_done after [ x ,y ] }') == (
        'env e {\n  pip     = ["a", "b"]\n  environ = { A = "1", "b c" = 2 }\n}\n\n'
        "graph g {\n  s = N(a = 1, b = [1, 2]) after all_done after [x, y]\n}\n"
    )


def test_a_long_list_is_broken_one_item_a_line():
    items = ", ".join(f'"package-number-{i}"' for i in range(8))
    out = fmt(f"env e {{ pip = [{items}] }}")
    assert out.splitlines()[1] == "  pip = ["
    assert out.splitlines()[2] == '    "package-number-0",'
    assert out.splitlines()[-2] == "  ]"
    assert all(len(line) <= LINE_WIDTH for line in out.splitlines())
    same_tree(out, f"env e {{ pip = [{items}] }}")


def test_a_list_written_across_lines_stays_one_item_a_line_with_its_comments():
    assert fmt("""\
        env e {
          pip = [  # pinned
            "a",   # why a
            # b next
            "b"
          ]
        }
        """) == textwrap.dedent("""\
        env e {
          pip = [  # pinned
            "a",  # why a
            # b next
            "b",
          ]
        }
        """)


def test_multiline_strings_are_kept_byte_for_byte():
    source = 'node N {\n    command = ["sh", "-c", """\n  echo "a \\n b"\n      indented\n   """]\n}\n'
    out = format_rt(source)
    assert '"""\n  echo "a \\n b"\n      indented\n   """' in out
    same_tree(out, source)


def test_a_one_line_block_stays_on_one_line_and_a_long_one_is_broken():
    assert fmt('node N {retry{max_retries=2,delay=1s}}') == "node N { retry { max_retries = 2  delay = 1s } }\n"
    out = fmt('node N {\n retry { max_retries = 2  delay = 1s }\n timeout=1s }')
    assert "  retry   { max_retries = 2  delay = 1s }\n  timeout = 1s\n" in out
    long_block = "node N { resources { " + "  ".join(f"k{i} = \"{'v' * 12}\"" for i in range(6)) + " } }"
    out = fmt(long_block)
    assert "  resources {\n    k0 = " in out
    same_tree(out, long_block)


def test_refuses_a_file_with_a_syntax_error():
    with pytest.raises(CompileError) as info:
        format_rt('env e {\n  base = "x\n}\n', "bad.rt")
    assert info.value.diagnostics[0].code == "E002"
    assert (info.value.diagnostics[0].span.line, info.value.diagnostics[0].span.col) == (2, 10)


def test_an_empty_file_and_a_comment_only_file():
    assert format_rt("") == ""
    assert format_rt("\n\n  # only a comment   \n\n") == "# only a comment\n"


# ---------------------------------------------------------------- the corpus


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_rt_file_of_the_repository_is_formatted(path):
    text = path.read_text(encoding="utf-8")
    assert format_rt(text, str(path)) == text, (
        f"run `rtc fmt {path.relative_to(REPO)}`; for tests/invalid/ cases then refresh their `# expect:` "
        "line:col with `.venv/bin/python tests/compiler/compiler_cases.py` (review the diff), or list a "
        "deliberately unformatted file in NOT_FORMATTED with the reason"
    )


def _ir(main: Path) -> str:
    from rtc.compiler import compile_file

    return compile_file(str(main)).to_json(spans=False)


@pytest.mark.parametrize("example", ["etl", "ml", "tyger"])
def test_formatting_an_example_from_a_messy_layout_gives_the_same_ir(example, tmp_path):
    """Each .rt file squeezed onto as few lines as possible, then formatted: the same IR as before."""
    folder = tmp_path / example
    shutil.copytree(REPO / "examples" / example, folder)
    mains = sorted(folder.glob("pipeline.rt"))
    before = {m: _ir(m) for m in mains}
    for path in folder.rglob("*.rt"):
        original = path.read_text(encoding="utf-8")
        squeezed = _squeeze(original)
        same_tree(squeezed, original)
        formatted = format_rt(squeezed)
        assert format_rt(formatted) == formatted
        assert all(len(line) <= LINE_WIDTH for line in formatted.splitlines() if '"' not in line)
        path.write_text(formatted, encoding="utf-8")
    for main in mains:
        assert _ir(main) == before[main]


def _squeeze(text: str) -> str:
    """Join lines where the grammar allows it: a line break outside strings and comments becomes a space."""
    out, i = [], 0
    while i < len(text):
        if text.startswith('"""', i):
            end = text.index('"""', i + 3) + 3
        elif text[i] == '"':
            end = i + 1
            while text[end] != '"':
                end += 2 if text[end] == "\\" else 1
            end += 1
        elif text[i] == "#":
            end = text.index("\n", i) + 1 if "\n" in text[i:] else len(text)
        else:
            out.append(" " if text[i] == "\n" else text[i])
            i += 1
            continue
        out.append(text[i:end])
        i = end
    return "".join(out)


# ---------------------------------------------------------------- properties


@settings(max_examples=int(os.environ.get("RTC_HYPOTHESIS_EXAMPLES", 40)), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
          phases=[Phase.explicit, Phase.reuse, Phase.generate])  # shrinking a program takes minutes
@given(data=st.data())
def test_any_layout_of_a_program_formats_idempotently_to_the_same_tree_and_ir(data, tmp_path_factory):
    first = data.draw(layouts(data.draw(programs())))
    formatted = format_rt(first)
    assert format_rt(formatted) == formatted, "not idempotent"
    same_tree(formatted, first)
    folder = tmp_path_factory.mktemp("prog")
    (folder / "a.rt").write_text(first, encoding="utf-8")
    (folder / "b.rt").write_text(formatted, encoding="utf-8")
    assert _ir(folder / "b.rt").replace("b.rt", "a.rt") == _ir(folder / "a.rt")


@settings(max_examples=int(os.environ.get("RTC_HYPOTHESIS_EXAMPLES", 40)), deadline=None)
@given(st.sampled_from(CORPUS), st.data())
def test_corpus_files_with_whitespace_and_comments_shuffled_keep_their_tree(path, data):
    original = path.read_text(encoding="utf-8")
    lines = original.split("\n")
    # Re-indent lines at random and add comments at line ends (not inside a """ string).
    out, in_long = [], False
    for line in lines:
        quotes = line.count('"""') % 2
        if not in_long:
            line = " " * data.draw(st.integers(0, 6)) + line.lstrip(" ")
            if not quotes and "#" not in line and line.strip() and data.draw(st.booleans()):
                line += "   # note"
        in_long ^= bool(quotes)
        out.append(line)
    shuffled = "\n".join(out)
    formatted = format_rt(shuffled)
    same_tree(formatted, original)
    assert format_rt(formatted) == formatted


# ---------------------------------------------------------------- the command


def rtc(*args, cwd=None, stdin=None):
    return subprocess.run(RTC + list(args), capture_output=True, text=True, cwd=cwd, input=stdin, timeout=120)


def test_fmt_check_lists_files_that_would_change_and_writes_nothing(tmp_path):
    messy, tidy = tmp_path / "messy.rt", tmp_path / "tidy.rt"
    messy.write_text('env e {base="x"\n}\n')
    tidy.write_text('env e {\n  base = "x"\n}\n')
    result = rtc("fmt", "--check", str(tmp_path))
    assert result.returncode == 1
    assert result.stdout.splitlines() == [str(messy)]
    assert messy.read_text() == 'env e {base="x"\n}\n'
    assert rtc("fmt", "--check", str(tidy)).returncode == 0


def test_fmt_diff_prints_a_unified_diff(tmp_path):
    messy = tmp_path / "messy.rt"
    messy.write_text('env e {base="x"\n}\n')
    result = rtc("fmt", "--diff", str(messy))
    assert result.returncode == 1
    assert '-env e {base="x"' in result.stdout and '+  base = "x"' in result.stdout
    assert messy.read_text() == 'env e {base="x"\n}\n'


def test_fmt_rewrites_in_place_and_is_then_quiet(tmp_path):
    messy = tmp_path / "messy.rt"
    messy.write_text('env e {base="x"\n}\n')
    result = rtc("fmt", str(messy))
    assert result.returncode == 0, result.stderr
    assert messy.read_text() == 'env e {\n  base = "x"\n}\n'
    again = rtc("fmt", str(messy))
    assert again.returncode == 0 and again.stderr == ""


def test_fmt_reports_a_syntax_error_with_its_position_and_leaves_the_file(tmp_path):
    bad = tmp_path / "bad.rt"
    bad.write_text('env e {\n  base = "x\n}\n')
    result = rtc("fmt", str(bad))
    assert result.returncode == 2
    assert f"{bad}:2:10: error[E002]" in result.stderr
    assert "Traceback" not in result.stderr
    assert bad.read_text() == 'env e {\n  base = "x\n}\n'


def test_fmt_standard_input_to_standard_output():
    result = rtc("fmt", "-", stdin='env e {base="x"\n}')
    assert result.returncode == 0 and result.stdout == 'env e {\n  base = "x"\n}\n'


def test_fmt_refuses_yaml_files(tmp_path):
    yaml_file = tmp_path / "p.yaml"
    yaml_file.write_text("envs: {}\n")
    result = rtc("fmt", str(yaml_file))
    assert result.returncode == 2 and "formats .rt files" in result.stderr


def test_the_readme_language_example_is_formatted():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = readme.split("## The language in one screen\n\n```\n", 1)[1].split("```", 1)[0]
    assert format_rt(block) == block
