"""rtc.compiler.json_text.dumps writes exactly what json.dumps(indent=2, sort_keys=True, ensure_ascii=False) writes."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from rtc.compiler import json_text

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | st.text()
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4), max_leaves=30)


def reference(value) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


@settings(max_examples=500, deadline=None)
@given(values)
def test_same_text_as_json_dumps(value):
    assert json_text.dumps(value) == reference(value)


def test_edge_values():
    for value in ({}, [], {"a": {}}, [[]], "\u2028 \x00 \ud800 \"\\", 1e16, -0.0, 10**30, {"é": [1.5, None, True]}):
        assert json_text.dumps(value) == reference(value)


def test_what_is_not_plain_json_falls_back_to_json_dumps():
    for value in ({1: "int key"}, {"t": (1, 2)}):
        assert json_text.dumps(value) == reference(value)
