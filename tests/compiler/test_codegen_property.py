"""The quoting filter's proof: any JSON-like value round-trips through the Python source `py_literal` writes.

`py_literal` no longer reads each literal back at compile time (rtc.integrations.codegen
says why it need not); this property test, over random strings (every code point,
lone surrogates included), numbers and nested containers, is what holds it.
"""

from __future__ import annotations

import ast
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtc.base.diagnostics import RtcError
from rtc.integrations.codegen import py_literal

TEXT = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF))
SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | TEXT
VALUES = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=5) | st.tuples(children, children)
    | st.dictionaries(TEXT, children, max_size=5),
    max_leaves=30,
)


def same(a, b) -> bool:
    """Equal, and of the same types all the way down (1 == 1.0 == True would hide a wrong spelling)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return a == b


@settings(max_examples=600, deadline=None)
@given(VALUES, st.sampled_from([None, 0, 4, 8, 96]))
def test_every_literal_reads_back_as_the_same_value(value, indent):
    text = py_literal(value, indent)
    assert same(ast.literal_eval(text), value)
    # As a statement in a file too: the text cannot end the line early or open a string it does not close.
    tree = ast.parse(f"x = {text}\n")
    assert len(tree.body) == 1 and isinstance(tree.body[0], ast.Assign)


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_strings_with_no_quote_use_double_quotes_and_others_stay_repr(value):
    text = py_literal(value)
    if "'" not in value and '"' not in value:
        assert text[0] == '"' and text[-1] == '"'
    else:
        assert text == repr(value)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), {1, 2}, b"bytes", object(), [1, {"a": 1j}]])
def test_anything_else_is_refused(value):
    with pytest.raises(RtcError, match="only JSON-like values"):
        py_literal(value)
