"""`rtc fmt` keeps what a file means and what it is (issue 21, class 5): CRLF inside a multi-line
string, the file's mode, a symlink. Real files, the real command."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from rtc.dsl.format import format_rt
from rtc.dsl.parser import parse_rt

CRLF = ('namespace x\r\nenv e { image = "busybox" }\r\nnode N {\r\n  env = e\r\n'
        '  command = ["sh", "-c", """line1\r\nline2"""]\r\n}\r\n')


def fmt(*args):
    return subprocess.run([sys.executable, "-m", "rtc", "fmt", *args], capture_output=True, text=True)


def string_value(text: str) -> str:
    (node,) = [b for b in parse_rt(text, "x.rt").blocks if b.kind == "node"]
    (command,) = [i for i in node.items if getattr(i, "name", None) == "command"]
    return command.value.items[2].value


def test_a_crlf_file_keeps_crlf_and_its_strings_mean_the_same(tmp_path):
    path = tmp_path / "p.rt"
    path.write_bytes(CRLF.encode())
    assert string_value(CRLF) == "line1\r\nline2"
    done = fmt(str(path))
    assert done.returncode == 0, done.stderr
    after = path.read_bytes().decode()
    assert after != CRLF and "\n" not in after.replace("\r\n", ""), "every line still ends in CRLF"
    assert string_value(after) == "line1\r\nline2"
    assert fmt("--check", str(path)).returncode == 0, "formatting is stable"


def test_mixed_line_ends_inside_a_string_are_left_untouched(tmp_path):
    path = tmp_path / "p.rt"
    mixed = CRLF.replace('"""line1\r\nline2"""', '"""line1\nline2"""')
    path.write_bytes(mixed.encode())
    done = fmt(str(path))
    assert done.returncode != 0 and "change what the file means" in done.stderr and "Traceback" not in done.stderr
    assert path.read_bytes() == mixed.encode()
    with pytest.raises(Exception, match="change what the file means"):
        format_rt(mixed, "p.rt")


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o755, 0o444])
def test_the_files_mode_is_kept(tmp_path, mode):
    path = tmp_path / "p.rt"
    path.write_bytes(CRLF.encode())
    os.chmod(path, mode)
    done = fmt(str(path))
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(path.stat().st_mode) == mode
    assert string_value(path.read_bytes().decode()) == "line1\r\nline2"


def test_a_symlink_stays_a_link_and_its_target_is_formatted(tmp_path):
    real = tmp_path / "real" / "p.rt"
    real.parent.mkdir()
    real.write_text('namespace x\nenv e {image="busybox"}\n')
    os.chmod(real, 0o600)
    link = tmp_path / "link.rt"
    link.symlink_to(real)
    chain = tmp_path / "chain.rt"
    chain.symlink_to(link)
    done = fmt(str(chain))
    assert done.returncode == 0, done.stderr
    assert chain.is_symlink() and link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text() == 'namespace x\n\nenv e { image = "busybox" }\n'
    assert stat.S_IMODE(real.stat().st_mode) == 0o600
    assert not [p for p in tmp_path.rglob("*.tmp")]


def test_a_link_to_something_not_a_file_is_an_error_not_a_traceback(tmp_path):
    link = tmp_path / "fifo.rt"
    os.mkfifo(tmp_path / "f")
    link.symlink_to(tmp_path / "f")
    done = fmt(str(link))
    assert done.returncode != 0 and "Traceback" not in done.stderr
