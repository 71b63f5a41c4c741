"""Values a target would refuse later are refused at compile time, at their position (issue 11, items 4, 13, 15)."""

from __future__ import annotations


import pytest

from rtc.compiler import compile_file
from rtc.compiler.bounds import MAX_DURATION_SECONDS
from rtc.base.diagnostics import CompileError

BUSY = 'env e { image = "busybox" }\n'


def first(path) -> tuple[str, int, int, str]:
    with pytest.raises(CompileError) as info:
        compile_file(str(path))
    d = info.value.diagnostics[0]
    return d.code, d.span.line if d.span else 0, d.span.col if d.span else 0, d.message


def write(tmp_path, text, name="p.rt"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------- copy sources (item 4)


@pytest.fixture
def project(tmp_path):
    """tmp/outside/secret.txt (a host file), tmp/proj/ (the pipeline's folder) with code/ and links."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("TOPSECRET")
    proj = tmp_path / "proj"
    (proj / "code" / "pkg").mkdir(parents=True)
    (proj / "code" / "pkg" / "a.py").write_text("x = 1\n")
    (proj / "link-out").symlink_to(outside / "secret.txt")
    (proj / "link-out-dir").symlink_to(outside)
    (proj / "link-in").symlink_to(proj / "code")
    return proj


@pytest.mark.parametrize("source, why", [
    ("/etc/passwd", "absolute path"),
    ("/etc", "absolute path"),
    ("../outside/secret.txt", "leaves the pipeline's folder"),
    ("code/../../outside", "leaves the pipeline's folder"),
    ("link-out", "symlink out of the pipeline's folder"),
    ("link-out-dir", "symlink out of the pipeline's folder"),
    ("./link-out-dir/secret.txt", "symlink out of the pipeline's folder"),
])
def test_copy_sources_outside_the_folder_are_E512(project, source, why):
    path = write(project, f'env py {{ base = "python:3.11-slim"  copy "{source}" -> "/x" }}\n')
    code, line, col, message = first(path)
    assert (code, line, col) == ("E512", 1, 42)
    assert why in message


@pytest.mark.parametrize("source", ["code", "./code/pkg/a.py", "link-in", "code/pkg/../pkg"])
def test_copy_sources_inside_the_folder_compile(project, source):
    path = write(project, f'env py {{ base = "python:3.11-slim"  copy "{source}" -> "/x" }}\n')
    env = compile_file(str(path)).environments["py"]
    assert env.build.copy_files[0].container_path == "/x"


def test_an_imported_file_in_a_subfolder_may_copy_within_the_pipeline_folder(project):
    (project / "envs").mkdir()
    write(project / "envs", 'env py { base = "python:3.11-slim"  copy "../code" -> "/x" }\n', "envs.rt")
    main = write(project, 'import "envs/envs.rt"\n')
    assert compile_file(str(main)).environments["py"].build.copy_files[0].host_path == "code"


def test_an_imported_file_outside_may_not_copy_outside(project):
    write(project.parent / "outside", 'env py { base = "python:3.11-slim"  copy "secret.txt" -> "/x" }\n', "envs.rt")
    main = write(project, 'import "../outside/envs.rt"\n')
    assert first(main)[0] == "E512"


def test_a_symlink_inside_a_copied_folder_changes_the_digest_not_by_its_target(project, tmp_path):
    """Links are copied as links: the digest hashes the link, so a change of the target's content changes nothing."""
    (project / "code" / "leak").symlink_to(tmp_path / "outside" / "secret.txt")
    path = write(project, 'env py { base = "python:3.11-slim"  copy "code" -> "/x" }\n')
    before = compile_file(str(path)).environments["py"].build.copy_files[0].digest
    (tmp_path / "outside" / "secret.txt").write_text("CHANGED")
    assert compile_file(str(path)).environments["py"].build.copy_files[0].digest == before


# ---------------------------------------------------------------- numbers (item 13)


@pytest.mark.parametrize("attr, written", [
    ("timeout", '"1e999s"'), ("timeout", "1000000000d"), ("timeout", "367d"), ("timeout", '"1e300s"'),
    ("retry-delay", "1000000000d"), ("retry-max-delay", '"1e999s"'),
])
def test_durations_beyond_a_year_are_E501(tmp_path, attr, written):
    if attr == "timeout":
        body = f'node N {{ env = e command = ["true"] timeout = {written} }}\n'
    else:
        key = "delay" if attr == "retry-delay" else "max_delay"
        body = f'node N {{ env = e command = ["true"] retry {{ max_retries = 2 {key} = {written} }} }}\n'
    code, line, _, message = first(write(tmp_path, BUSY + body))
    assert (code, line) == ("E501", 2), message


def test_a_tyger_run_timeout_beyond_a_year_is_E501(tmp_path):
    path = write(tmp_path, 'codespec c { image = "busybox" command = ["true"] }\nrun r { codespec = c timeout = 400d }\n')
    assert first(path)[:2] == ("E501", 2)


@pytest.mark.parametrize("text, code", [
    ('node N { env = e command = ["true"] retries = 1001 }\n', "E208"),
    ('node N { env = e command = ["true"] retries = 100000000000000000000000 }\n', "E208"),
    ('graph g { workers = 1001 }\n', "E208"),
])
def test_counts_beyond_the_bound_are_refused(tmp_path, text, code):
    assert first(write(tmp_path, BUSY + text))[0] == code


def test_replicas_beyond_the_bound_are_E507(tmp_path):
    path = write(tmp_path, 'codespec c { image = "busybox" command = ["true"] }\nrun r { codespec = c replicas = 5000 }\n')
    assert first(path)[:2] == ("E507", 2)


def test_the_longest_duration_compiles(tmp_path):
    path = write(tmp_path, BUSY + 'node N { env = e command = ["true"] timeout = 366d retry { max_retries = 1000 delay = 366d } }\n')
    node = compile_file(str(path)).nodes["N"]
    assert node.timeout_seconds == MAX_DURATION_SECONDS
    assert node.retry.delay_for(1000) == MAX_DURATION_SECONDS  # no overflow at the last retry


# ---------------------------------------------------------------- tags and environ (item 15)


@pytest.mark.parametrize("text, line", [
    ('graph g { tags = ["ok", "' + "t" * 101 + '"] }\n', 1),
    ('codespec c { image = "busybox" command = ["true"] }\nrun r { codespec = c tags = { k = "' + "v" * 99 + '" } }\n', 2),
    ('codespec c { image = "busybox" command = ["true"] }\nrun r { codespec = c cluster = "' + "c" * 93 + '" }\n', 2),
    ("namespace " + "n" * 101 + "\n", 1),
])
def test_tags_over_100_characters_are_E513(tmp_path, text, line):
    code, at, _, message = first(write(tmp_path, text))
    assert (code, at) == ("E513", line), message


def test_a_source_file_name_too_long_for_its_tag_is_E513(tmp_path):
    path = write(tmp_path, "graph g { }\n", name="f" * 94 + ".rt")  # source:<name> is 101 characters
    assert first(path)[0] == "E513"


def test_tags_of_exactly_100_characters_compile(tmp_path):
    path = write(tmp_path, 'codespec c { image = "busybox" command = ["true"] }\n'
                           'run r { codespec = c tags = { k = "' + "v" * 98 + '" } cluster = "' + "c" * 92 + '" }\n'
                           'graph g { tags = ["' + "t" * 100 + '"] }\n')
    pipeline = compile_file(str(path))
    assert len(pipeline.graphs["g"].tags[0]) == 100


@pytest.mark.parametrize("text", [
    BUSY.replace("}", 'environ = { A = "a\\u0000b" } }'),
    BUSY.replace("}", 'environ = { A = "' + "x" * (128 * 1024) + '" } }'),
    BUSY.replace("}", "environ = { " + " ".join(f'V{i} = "{"x" * 60000}"' for i in range(20)) + " } }"),
    'codespec c { image = "busybox" command = ["true"] env = { A = "\\u0000" } }\n',
])
def test_environ_the_kernel_would_refuse_is_E514(tmp_path, text):
    assert first(write(tmp_path, text))[0] == "E514"


def test_yaml_environ_with_nul_is_E514(tmp_path):
    path = write(tmp_path, 'envs:\n  e: {image: busybox, environ: {A: "x\\0y"}}\n', name="p.yaml")
    code, line, _, _ = first(path)
    assert (code, line) == ("E514", 2)


def test_a_large_environ_below_the_limit_compiles(tmp_path):
    path = write(tmp_path, BUSY.replace("}", 'environ = { A = "' + "x" * 100_000 + '" } }'))
    assert len(compile_file(str(path)).environments["e"].environ["A"]) == 100_000
