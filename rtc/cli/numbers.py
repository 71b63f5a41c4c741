"""Whole numbers on the command line: ASCII digits only.

argparse's `type=int` takes whatever `int()` takes: `١` (Arabic-Indic one) is 1, `1_000` is 1000,
` 7 ` is 7. A count or version written so is a message here instead (issue 21); ranges stay the
commands' own checks.
"""

from __future__ import annotations

import argparse
import re

_WHOLE = re.compile(r"-?[0-9]{1,100}", re.ASCII)


def whole(text: str) -> int:
    if not _WHOLE.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a whole number (ASCII digits, e.g. 3)")
    return int(text)
