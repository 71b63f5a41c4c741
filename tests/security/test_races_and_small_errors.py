"""Races and small tracebacks (issue 21, class 6): compiles into one folder at once keep every namespace;
odd numbers, names, durations and paths are one clear error, never a traceback. Real files, real processes."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

RTC = [sys.executable, "-m", "rtc"]
LONG = "c" * 300


def rtc(*args, cwd=None, input=None, timeout=120):
    return subprocess.run([*RTC, *args], capture_output=True, text=True, cwd=cwd, input=input, timeout=timeout,
                          env=dict(os.environ))


def pipeline(folder: Path, namespace: str) -> Path:
    path = folder / f"{namespace}.rt"
    path.write_text(f'namespace {namespace}\nenv bb {{ image = "rtc-test/busybox:1" }}\n'
                    'node N { env = bb command = ["true"] }\n'
                    'graph g { schedule = "0 2 * * *" a = N() }\n')
    return path


@pytest.mark.parametrize("target", ["prefect", "airflow"])
def test_ten_compiles_into_one_folder_at_once_keep_every_namespace(tmp_path, target):
    out = tmp_path / "out"
    sources = [pipeline(tmp_path, f"ns{i}") for i in range(10)]
    procs = [subprocess.Popen([*RTC, "compile", str(s), "--target", target, "-o", str(out)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for s in sources]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    manifest = json.loads((out / ".rtc-manifest.json").read_text())["outputs"]
    assert sorted(manifest) == sorted(f"{target}:ns{i}" for i in range(10))
    for i in range(10):
        assert (out / f"ns{i}__g.py").is_file()
    if target == "prefect":
        text = (out / "prefect.yaml").read_text()
        assert sorted(line.split()[-1] for line in text.splitlines() if "entrypoint:" in line) == sorted(
            f"ns{i}__g.py:g" for i in range(10))
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp") or "lock" in p.name], "nothing but rtc's files"


def _codespec(tmp_path: Path, name: str) -> Path:
    path = tmp_path / "cs.yml"
    path.write_text(f'name: {name}\nimage: rtc-test/busybox:1\ncommand: ["true"]\n')
    return path


def clear_error(done: subprocess.CompletedProcess, *words: str) -> None:
    assert done.returncode != 0, done
    assert "Traceback" not in done.stderr and "Error:" not in done.stderr.replace("error:", ""), done.stderr
    assert "error" in done.stderr, done.stderr
    for word in words:
        assert word in done.stderr, (word, done.stderr)


def test_a_codespec_name_too_long_for_a_file_is_one_error(tmp_path):
    clear_error(rtc("codespec", "create", "-f", str(_codespec(tmp_path, LONG))), "300 characters")
    clear_error(rtc("codespec", "show", LONG))
    clear_error(rtc("codespec", "show", LONG + "/versions/1"))
    clear_error(rtc("exec", "--codespec", LONG), )


@pytest.mark.parametrize("version", ["²", "١", "0", "-1", "1e3", "9" * 40, " 1", "1_0"])
def test_versions_are_ascii_positive_numbers(tmp_path, version):
    assert rtc("codespec", "create", "-f", str(_codespec(tmp_path, "v"))).returncode == 0
    clear_error(rtc("codespec", "show", f"v/versions/{version}"))
    clear_error(rtc("codespec", "show", "v", "--version", version))


def test_a_version_file_named_with_other_digits_is_not_a_version(tmp_path):
    assert rtc("codespec", "create", "-f", str(_codespec(tmp_path, "v"))).returncode == 0
    folder = Path(os.environ["RTC_HOME"]) / "codespecs" / "v"
    (folder / "1.yml").rename(folder / "².yml")  # planted: int("²") raised, int("١") was 1
    (folder / "١.yml").write_text((folder / "².yml").read_text())
    clear_error(rtc("codespec", "show", "v"), "not registered")
    assert rtc("codespec", "list").returncode == 0


@pytest.mark.parametrize("ttl", ["inf", "-inf", "nan", "0", "0s", "0.00:00", "1e999", "١h", "100000d", "-1", "9" * 400])
def test_buffer_ttls_beyond_reason_are_one_error(ttl):
    clear_error(rtc("buffer", "create", "--ttl", ttl), "TTL")
    clear_error(rtc("buffer", "create", "--ttl=" + ttl), "TTL")  # "-1" as an option value


@pytest.mark.parametrize("ttl", ["nan", "0", "inf"])
def test_exec_buffer_ttl_beyond_reason_is_one_error_before_any_run(tmp_path, ttl):
    clear_error(rtc("exec", "-f", str(_codespec(tmp_path, "t")), f"--buffer-ttl={ttl}"), "TTL")
    clear_error(rtc("run", "create", "-f", str(_codespec(tmp_path, "t")), f"--buffer-ttl={ttl}"), "TTL")
    assert rtc("run", "list").stdout.strip() in ("", "[]")


@pytest.mark.parametrize("value", ["nan", "inf", "1e999", "١", "-5"])
def test_timeouts_beyond_reason_are_one_error(tmp_path, value):
    clear_error(rtc("buffer", "read", "x", f"--timeout={value}"))
    clear_error(rtc("exec", "-f", str(_codespec(tmp_path, "t")), f"--timeout={value}"))


def test_a_ttl_at_the_bound_is_shown(tmp_path):
    buffer_id = rtc("buffer", "create", "--ttl", "366.00:00").stdout.strip()
    shown = rtc("buffer", "show", buffer_id)
    assert shown.returncode == 0 and "expiresAt" in shown.stdout, shown.stderr


def test_schema_into_a_folder_or_a_path_too_long_is_one_error(tmp_path):
    clear_error(rtc("schema", "-o", str(tmp_path)), "folder")
    clear_error(rtc("schema", "-o", str(tmp_path / LONG / "s.json")), "too long")
    clear_error(rtc("schema", "-o", str(tmp_path / LONG)), "too long")
    assert rtc("schema", "-o", str(tmp_path / "s.json")).returncode == 0


@pytest.mark.parametrize("target", ["ir", "airflow", "prefect"])
@pytest.mark.parametrize("suffix", [LONG, LONG + "/a", LONG + ".json", "é" * 200])
def test_output_paths_too_long_are_one_error(tmp_path, target, suffix):
    source = pipeline(tmp_path, "nsx")
    clear_error(rtc("compile", str(source), "--target", target, "-o", str(tmp_path / suffix)), "too long")
    assert rtc("compile", str(source), "--target", target, "--check", "-o", str(tmp_path / suffix)).returncode != 0


def test_the_codespec_registry_is_owner_only(tmp_path):
    assert rtc("codespec", "create", "-f", str(_codespec(tmp_path, "p"))).returncode == 0
    home = Path(os.environ["RTC_HOME"])
    for folder in (home, home / "codespecs", home / "codespecs" / "p"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    assert stat.S_IMODE((home / "codespecs" / "p" / "1.yml").stat().st_mode) == 0o600
