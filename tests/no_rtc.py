"""Run a Python program with rtc impossible to import: what Airflow and Prefect workers see (issue 12, item 4).

    python tests/no_rtc.py SCRIPT ARGS...   (runs SCRIPT as __main__)
    python tests/no_rtc.py -c CODE ARGS...

A meta-path finder in front of all others refuses `rtc` and every `rtc.*`
module, so a generated file that needed rtc would fail with ImportError.
"""

from __future__ import annotations

import runpy
import sys


class NoRtc:
    def find_spec(self, name, path=None, target=None):
        if name == "rtc" or name.startswith("rtc."):
            raise ImportError(f"rtc is not installed here (blocked by tests/no_rtc.py): {name}")
        return None


sys.meta_path.insert(0, NoRtc())
for name in [m for m in sys.modules if m == "rtc" or m.startswith("rtc.")]:
    del sys.modules[name]

if __name__ == "__main__":
    if sys.argv[1] == "-c":
        code, sys.argv = sys.argv[2], ["-c", *sys.argv[3:]]
        exec(compile(code, "<no_rtc -c>", "exec"), {"__name__": "__main__"})
    else:
        script, sys.argv = sys.argv[1], sys.argv[1:]
        runpy.run_path(script, run_name="__main__")
