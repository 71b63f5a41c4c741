"""Secret values masked in what the local runner prints, as Airflow masks them in task logs.

A step's secrets reach its container as environment variables; a step that
prints one (or fails with it in its last lines) must not put it on the
terminal, in CI logs or in the failure summary. Values shorter than
`MIN_MASKED` characters are left alone: masking "1" or "ab" everywhere would
make every log unreadable and hide nothing worth hiding.
"""

from __future__ import annotations

import json
import re

MASK = "***"
MIN_MASKED = 4


class SecretMask:
    def __init__(self, values=()):
        forms: set[str] = set()
        for value in values:
            if not isinstance(value, str) or len(value) < MIN_MASKED:
                continue
            # As printed, and as it appears inside a JSON or Python string literal.
            forms.update({value, json.dumps(value)[1:-1], repr(value)[1:-1]})
        ordered = sorted(forms, key=len, reverse=True)  # longest first: a value that contains another wins
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def __call__(self, text: str) -> str:
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(MASK, text)

    def __bool__(self) -> bool:
        return self._pattern is not None
