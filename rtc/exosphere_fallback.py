"""`import exospherehost` on a machine where Exosphere's SDK is not installed but rtc is.

An Exosphere user's first try is `python main.py` (`Runtime(...).start()`).
Without the SDK that ends in `ModuleNotFoundError: No module named
'exospherehost'`, which says nothing about rtc. rtc's wheel installs
`rtc-exospherehost.pth`, one line that appends a finder to `sys.meta_path`
at interpreter start-up; the finder calls `find_spec` below only for the
name `exospherehost`, and only after every other finder (sys.path, so a real
exospherehost package always wins) has found nothing. It then hands out rtc's
stand-in (rtc/exospherehost.py, the file rtc's images carry as
`exospherehost`), whose `Runtime.start()` says how to run the nodes with rtc.

Nothing is imported at start-up but `sys` (the line defines its finder
inline); this module is imported only when `exospherehost` is looked for and
missing. Standard library only.
"""

from __future__ import annotations

import os

NAME = "exospherehost"
STANDS_IN = "__rtc_stands_in__"  # set on the module it hands out: Runtime.start() says so


def find_spec(name: str, path=None, target=None):
    if name != NAME:
        return None
    from importlib.util import spec_from_file_location

    spec = spec_from_file_location(NAME, os.path.join(os.path.dirname(os.path.abspath(__file__)), "exospherehost.py"))
    if spec is None or spec.loader is None:
        return None
    loader = spec.loader
    exec_module = loader.exec_module

    def marked(module) -> None:  # the stand-in knows it stands in (its message starts with that)
        setattr(module, STANDS_IN, True)
        exec_module(module)

    loader.exec_module = marked
    return spec


# The line of rtc-exospherehost.pth (setup.py writes it into the wheel). A `.pth` line that starts with
# `import` is executed at start-up; it must stay one line, cheap, and harmless when rtc is gone (ImportError
# only when `exospherehost` is looked up and missing, which is then reported as it would have been).
PTH_LINE = (
    "import sys; sys.meta_path.append(type('RtcExospherehostFallback', (), {'find_spec': staticmethod("
    "lambda name, path=None, target=None: __import__('rtc.exosphere_fallback', fromlist=['find_spec'])"
    ".find_spec(name) if name == 'exospherehost' else None)})())\n"
)
PTH_NAME = "rtc-exospherehost.pth"
