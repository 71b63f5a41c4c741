"""`rtc compile -o DIR` never touches what rtc did not write (issue 11, items 5, 6, 8, 9).

Through the real CLI in a subprocess: a hostile or broken manifest, files of
two namespaces in one folder, hand-written files of the same name, graph names
that are module names, and `-o` naming a file. Each bad case: one clear
message, exit 1, no traceback, nothing written or deleted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

RTC = [sys.executable, "-m", "rtc"]
MANIFEST = ".rtc-manifest.json"


def rtc(*args, cwd=None):
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run(RTC + list(args), capture_output=True, text=True, cwd=cwd, env=env, timeout=120)


def source(tmp_path: Path, namespace: str = "M", graphs=("g",), name: str | None = None, tags: str = "") -> Path:
    body = [f"namespace {namespace}", 'env e { image = "busybox" }', 'node A { env = e command = ["true"] }']
    body += [f"graph {g} {{ {tags} a = A() }}" for g in graphs]
    path = tmp_path / (name or f"{namespace.replace('.', '_')}-{'-'.join(graphs)}.rt")
    path.write_text("\n".join(body) + "\n", encoding="utf-8")
    return path


def compile_(src: Path, out: Path, target: str = "airflow", *extra: str):
    return rtc("compile", str(src), "--target", target, "-o", str(out), *extra)


def failed_cleanly(result, *words: str) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.mark.parametrize("target", ["airflow", "prefect"])
@pytest.mark.parametrize("entry", ["../victim.txt", "/tmp/rtc-victim-abs.txt", "sub/x.py", ".."])
def test_a_manifest_naming_paths_outside_the_folder_is_an_error_and_deletes_nothing(tmp_path, target, entry):
    out = tmp_path / "out"
    out.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (out / MANIFEST).write_text(json.dumps({"rtc-manifest": 2, "outputs": {f"{target}:M": {entry: "0" * 64}}}))
    before = snapshot(out)
    result = compile_(source(tmp_path), out, target)
    failed_cleanly(result, "not a manifest rtc wrote", "is not a file name in the folder")
    assert victim.read_text() == "keep me" and snapshot(out) == before


@pytest.mark.parametrize("text,why", [
    ("{not json", "invalid JSON"),
    ('{"airflow:M": ["M__g.py", "M__g.py"]}', "duplicate file name"),
    ('{"rtc-manifest": 2, "outputs": {"airflow:M": {"M__g.py": "a", "M__g.py": "b"}}}', "duplicate entry"),
    ('{"rtc-manifest": 2, "outputs": {"airflow:M": {"M__g.py": "not-a-hash"}}}', "is not a SHA-256"),
    ('[1, 2]', "not a JSON object"),
    ('{"airflow:M": "M__g.py"}', "is not a list of file names"),
])
def test_a_malformed_manifest_is_a_clear_error(tmp_path, text, why):
    out = tmp_path / "out"
    out.mkdir()
    (out / MANIFEST).write_text(text)
    failed_cleanly(compile_(source(tmp_path), out), why, str(out / MANIFEST))
    assert sorted(os.listdir(out)) == [MANIFEST]


def test_a_listed_file_rtc_did_not_write_is_never_deleted(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "precious.py").write_text("# someone's DAG\n")
    (out / "linked.py").symlink_to(tmp_path / "elsewhere.py")
    (tmp_path / "elsewhere.py").write_text("# elsewhere\n")
    manifest = {"rtc-manifest": 2, "outputs": {"airflow:M": {"precious.py": "0" * 64, "linked.py": "1" * 64}}}
    (out / MANIFEST).write_text(json.dumps(manifest))
    result = compile_(source(tmp_path), out)
    assert result.returncode == 0, result.stderr
    assert (out / "precious.py").read_text() == "# someone's DAG\n"
    assert (tmp_path / "elsewhere.py").exists() and (out / "linked.py").is_symlink()
    assert "kept" in result.stderr and "precious.py" in result.stderr
    # The manifest now lists only what this compile wrote, with the hash of each file's text.
    written = json.loads((out / MANIFEST).read_text())["outputs"]["airflow:M"]
    assert "precious.py" not in written and "M__g.py" in written


def test_an_obsolete_file_goes_only_while_it_holds_what_rtc_wrote(tmp_path):
    out = tmp_path / "out"
    assert compile_(source(tmp_path, graphs=("old", "other"), name="p.rt"), out).returncode == 0
    (out / "M__other.py").write_text((out / "M__other.py").read_text() + "# my change\n")
    done = compile_(source(tmp_path, graphs=("new",), name="p.rt"), out)
    assert done.returncode == 0, done.stderr
    assert not (out / "M__old.py").exists()  # unchanged since rtc wrote it: removed
    assert (out / "M__other.py").read_text().endswith("# my change\n")  # changed by hand: kept, and said so
    assert "kept" in done.stderr and "M__other.py" in done.stderr


def test_a_file_changed_since_rtc_wrote_it_is_not_overwritten(tmp_path):
    out = tmp_path / "out"
    src = source(tmp_path)
    assert compile_(src, out).returncode == 0
    (out / "M__g.py").write_text("# my edit\n")
    src.write_text(src.read_text().replace('["true"]', '["false"]'))
    failed_cleanly(compile_(src, out), "was changed since rtc wrote it")
    assert (out / "M__g.py").read_text() == "# my edit\n"


@pytest.mark.parametrize("target,name", [("airflow", "M__g.py"), ("prefect", "M__g.py"), ("prefect", "prefect.yaml")])
def test_a_hand_written_file_of_the_same_name_is_never_overwritten(tmp_path, target, name):
    out = tmp_path / "out"
    out.mkdir()
    (out / name).write_text("# hand-written\n")
    failed_cleanly(compile_(source(tmp_path), out, target), "rtc did not write it")
    assert (out / name).read_text() == "# hand-written\n" and not (out / MANIFEST).exists()


@pytest.mark.parametrize("target", ["airflow", "prefect"])
def test_namespaces_whose_file_names_collide_are_refused(tmp_path, target):
    """Namespace a__b, graph c and namespace a, graph b__c both give a__b__c.py."""
    out = tmp_path / "out"
    first = compile_(source(tmp_path, "a__b", graphs=("c",)), out, target)
    assert first.returncode == 0, first.stderr
    before = snapshot(out)
    failed_cleanly(compile_(source(tmp_path, "a", graphs=("b__c",)), out, target), "a__b__c.py", f"{target}:a__b")
    assert snapshot(out) == before


def test_two_namespaces_share_one_prefect_yaml_and_neither_loses_its_deployments(tmp_path):
    import yaml

    out = tmp_path / "out"
    for ns in ("one", "two"):
        result = compile_(source(tmp_path, ns), out, "prefect")
        assert result.returncode == 0, result.stderr

    def entrypoints():
        return sorted(d["entrypoint"] for d in yaml.safe_load((out / "prefect.yaml").read_text())["deployments"])

    assert entrypoints() == ["one__g.py:g", "two__g.py:g"]
    # Recompiling one namespace with another graph replaces only its own deployments.
    result = compile_(source(tmp_path, "one", graphs=("h",), name="one-g.rt"), out, "prefect")
    assert result.returncode == 0, result.stderr
    assert entrypoints() == ["one__h.py:h", "two__g.py:g"]
    assert not (out / "one__g.py").exists() and (out / "two__g.py").exists()
    # One runtime module, shared by both namespaces.
    assert len(list(out.glob("rtc_runtime_*"))) == 1


def test_airflowignore_of_the_user_keeps_its_lines_and_gains_rtcs(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / ".airflowignore").write_text("scratch/\n")
    result = compile_(source(tmp_path), out)
    assert result.returncode == 0, result.stderr
    lines = (out / ".airflowignore").read_text().splitlines()
    assert lines[0] == "scratch/" and "rtc_runtime_*" in lines
    # Recompiling (and the user adding lines) changes nothing of theirs.
    (out / ".airflowignore").write_text((out / ".airflowignore").read_text() + "more/\n")
    assert compile_(source(tmp_path), out).returncode == 0
    assert (out / ".airflowignore").read_text().splitlines()[-1] == "more/"


@pytest.mark.parametrize("target", ["airflow", "prefect"])
def test_dash_o_naming_an_existing_file_is_a_clear_error(tmp_path, target):
    out = tmp_path / "file.txt"
    out.write_text("mine")
    failed_cleanly(compile_(source(tmp_path), out, target), "is a file")
    assert out.read_text() == "mine"


def test_ir_output_overwrites_only_ir_it_wrote(tmp_path):
    out = tmp_path / "pipeline.json"
    out.write_text('{"mine": true}')
    failed_cleanly(compile_(source(tmp_path), out, "ir"), "not IR JSON rtc wrote")
    assert out.read_text() == '{"mine": true}'
    out.unlink()
    assert compile_(source(tmp_path), out, "ir").returncode == 0
    src = source(tmp_path, graphs=("other",), name="M-g.rt")
    assert compile_(src, out, "ir").returncode == 0 and '"other"' in out.read_text()


@pytest.mark.parametrize("graph", ["docker", "prefect", "json", "typing", "sys"])
def test_graphs_named_like_modules_do_not_shadow_them(tmp_path, graph):
    """Prefect puts the flow folder first on sys.path: a flow file named docker.py would break every flow."""
    out = tmp_path / "out"
    assert compile_(source(tmp_path, "ns", graphs=(graph, "other")), out, "prefect").returncode == 0
    stems = [p.stem for p in out.glob("*.py")]
    assert graph not in stems and f"ns__{graph}" in stems
    # Import both flows the way a Prefect worker does (prefect.yaml's entrypoints), with the folder first on sys.path.
    import yaml

    entrypoints = sorted(d["entrypoint"] for d in yaml.safe_load((out / "prefect.yaml").read_text())["deployments"])
    code = ("import sys; sys.path.insert(0, sys.argv[1]); "
            "from prefect.flows import load_flow_from_entrypoint as load; "
            "print(*[load(sys.argv[1] + '/' + e).name for e in sys.argv[2:]])")
    proc = subprocess.run([sys.executable, "-c", code, str(out), *entrypoints], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert sorted(proc.stdout.split()) == sorted([f"ns.{graph}", "ns.other"])
