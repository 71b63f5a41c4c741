"""`last(...)`'s rule, written once in rtc.runtime.step and called by every target (the conformance table runs it
on the engine under all three): the last element; null stays null; anything else is a contract error naming the input."""

from __future__ import annotations

import pytest

from rtc.runtime.step import ContractError, last_element, merge_elements


@pytest.mark.parametrize("value,expected", [
    ([1, 2, 3], 3),
    ([{"a": 1}], {"a": 1}),
    ([[1], [2, 3]], [2, 3]),  # of a list[list[int]]: the last list, whole
    (None, None),  # a join `after all_done` below a step that did not succeed
])
def test_last_element(value, expected):
    assert last_element(value, "input 'x' of step 's'") == expected


@pytest.mark.parametrize("value,message", [
    ([], "input 'x' of step 's': last() of an empty list: the step it reads ran over nothing, or every element pruned itself"),
    ("abc", "input 'x' of step 's': last() needs a list, got a string"),
    ({"a": [1]}, "input 'x' of step 's': last() needs a list, got an object"),
])
def test_last_element_refuses(value, message):
    with pytest.raises(ContractError) as err:
        last_element(value, "input 'x' of step 's'")
    assert str(err.value) == message


def test_a_pruned_last_element_drops_out_before_last_reads_the_list():
    """Map-index order, pruned elements (None) dropped: the element read is the last one that was not pruned."""
    merged = merge_elements([{"y": 4}, None, {"y": 8}, None], ["y"], False)
    assert last_element(merged["y"], "input 'y'") == 8
