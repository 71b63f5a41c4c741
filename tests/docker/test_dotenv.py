"""Secrets from a `.env` file beside the pipeline for `rtc run`; the environment wins (python-dotenv's rules)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from rtc.base.diagnostics import RtcError
from rtc.integrations.local import dotenv
from docker_pipelines import BUSYBOX


def write(tmp_path, text):
    path = tmp_path / ".env"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_the_formats_exosphere_projects_use(tmp_path):
    path = write(tmp_path, """\
        # Exosphere's own example
        EXOSPHERE_STATE_MANAGER_URI=https://sm.example   # inline comment
        export EXOSPHERE_API_KEY="a b\\"c\\n"
        RAW='no ${EXPANSION} \\n here'
        BASE=http://h
        URL=${BASE}/v1
        OTHER="${MISSING:-fallback}"
        EMPTY=
        HASH=a#b
    """)
    assert dotenv.read(path, environ={}) == {
        "EXOSPHERE_STATE_MANAGER_URI": "https://sm.example",
        "EXOSPHERE_API_KEY": 'a b"c\n',
        "RAW": "no ${EXPANSION} \\n here",
        "BASE": "http://h",
        "URL": "http://h/v1",
        "OTHER": "fallback",
        "EMPTY": "",
        "HASH": "a#b",
    }


def test_the_environment_wins(tmp_path):
    write(tmp_path, "KEY=from-file\nONLY=file\n")
    merged = dotenv.environment_with_dotenv(str(tmp_path / "p.rt"), environ={"KEY": "from-env"})
    assert merged["KEY"] == "from-env" and merged["ONLY"] == "file"
    assert dotenv.environment_with_dotenv(str(tmp_path / "none" / "p.rt"), environ={"A": "1"}) == {"A": "1"}


@pytest.mark.parametrize("text,where,message", [
    ("GOOD=1\nthis is not an assignment\n", ":2:1:", "expected NAME=value"),
    ('A="never closed\n', ":1:3:", "quote is not closed"),
    ("A='x' trailing\n", ":1:7:", "after the quoted value"),
])
def test_a_bad_line_is_an_error_with_its_position(tmp_path, text, where, message):
    path = write(tmp_path, text)
    with pytest.raises(RtcError) as err:
        dotenv.read(path, environ={})
    assert f"{path}{where}" in str(err.value) and message in str(err.value)


PIPELINE = f"""
namespace DotenvT
env box {{ image = "{BUSYBOX}" }}
node Check {{
  env = box
  secrets {{ API_KEY }}
  command = ["sh", "-c", "test \\"$API_KEY\\" = \\"$WANT\\" || {{ echo wrong key; exit 9; }}"]
}}
graph g {{ check = Check() }}
"""


def run(tmp_path, want, **extra):
    env = {k: v for k, v in os.environ.items() if k != "API_KEY"}
    env.update(extra)
    (tmp_path / "p.rt").write_text(PIPELINE.replace("$WANT", want), encoding="utf-8")
    return subprocess.run([sys.executable, "-m", "rtc", "run", str(tmp_path / "p.rt")], capture_output=True,
                          text=True, timeout=300, env=env)


def test_rtc_run_reads_secrets_from_dotenv_and_the_environment_wins(tmp_path, docker_client):
    missing = run(tmp_path, "from-file")
    assert missing.returncode == 1 and "missing secret" in missing.stderr and ".env file" in missing.stderr
    write(tmp_path, "API_KEY=from-file\n")
    done = run(tmp_path, "from-file")
    assert done.returncode == 0, done.stderr
    done = run(tmp_path, "from-env", API_KEY="from-env")
    assert done.returncode == 0, done.stderr
    write(tmp_path, "API_KEY from-file\n")
    bad = run(tmp_path, "from-file")
    assert bad.returncode == 1 and f"{tmp_path / '.env'}:1:1: expected NAME=value" in bad.stderr
    assert "Traceback" not in bad.stderr
