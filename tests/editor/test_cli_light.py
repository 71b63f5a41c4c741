"""The editor commands keep `rtc --help` light and show in it."""

from __future__ import annotations

import subprocess
import sys


def test_help_lists_fmt_and_lsp_without_importing_the_editor_libraries():
    code = (
        "import sys, contextlib, io\n"
        "from rtc.cli import main\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out):\n"
        "    try: main(['--help'])\n"
        "    except SystemExit: pass\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('pygls', 'lsprotocol', 'watchfiles', 'lark', 'pydantic', 'yaml', 'rtc.lsp'))\n"
        "heavy += sorted(m for m in sys.modules if m.startswith(('rtc.lsp', 'rtc.dsl.format')))\n"
        "print(heavy)\n"
        "print('fmt' in out.getvalue() and 'lsp' in out.getvalue())\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == ["[]", "True"]
