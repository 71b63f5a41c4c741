"""Port types: parsing, assignability, and the canonical spelling used in the IR.

Grammar of a type: `str | int | float | bool | json | file | dir | list[T] | dict[str, T]`.
`file` and `dir` are artifacts (rtc.runtime.artifacts): between steps their value is a
reference to bytes in the artifact store, inside the container a path.
Checking a *value* against a type at run time is `rtc.runtime.contract.check_value`,
which is standard-library only so that generated files can carry it.
"""

from __future__ import annotations

from functools import lru_cache

from rtc.base.limits import MAX_NESTING

SCALARS = ("str", "int", "float", "bool", "json", "file", "dir")
ARTIFACTS = ("file", "dir")


class TypeSyntaxError(ValueError):
    pass


# A file has few distinct types, each written at many ports: parse each once. Bounded, for hostile input.
@lru_cache(maxsize=4096)
def parse_type(text: str):
    """Return a nested tuple: ("str",), ("list", inner), ("dict", inner)."""
    text = text.replace(" ", "")
    if text.count("[") > MAX_NESTING:  # _parse recurses once per level
        raise TypeSyntaxError(f"type {text[:40]!r}... is nested more than {MAX_NESTING} levels deep")
    tree, rest = _parse(text)
    if rest:
        raise TypeSyntaxError(f"unexpected {rest!r} in type {text!r}")
    return tree


def _parse(text: str):
    for scalar in SCALARS:
        if text.startswith(scalar) and not text[len(scalar):len(scalar) + 1].isalnum():
            return (scalar,), text[len(scalar):]
    if text.startswith("list["):
        inner, rest = _parse(text[5:])
        if not rest.startswith("]"):
            raise TypeSyntaxError(f"missing ']' in type {text!r}")
        return ("list", inner), rest[1:]
    if text.startswith("dict[str,"):
        inner, rest = _parse(text[9:])
        if not rest.startswith("]"):
            raise TypeSyntaxError(f"missing ']' in type {text!r}")
        return ("dict", inner), rest[1:]
    name = text.split("[")[0].split("]")[0].split(",")[0]
    raise TypeSyntaxError(
        f"unknown type {name!r}; expected one of str, int, float, bool, json, file, dir, list[T], dict[str, T]"
    )


def format_type(tree) -> str:
    if tree[0] == "list":
        return f"list[{format_type(tree[1])}]"
    if tree[0] == "dict":
        return f"dict[str, {format_type(tree[1])}]"
    return tree[0]


@lru_cache(maxsize=4096)
def canonical(text: str) -> str:
    return format_type(parse_type(text))


def element_type(text: str) -> str | None:
    """The element type of a list type, or None when `text` is not a list."""
    tree = parse_type(text)
    return format_type(tree[1]) if tree[0] == "list" else None


@lru_cache(maxsize=4096)
def is_assignable(source: str, target: str) -> bool:
    """Can a value of type `source` feed an input of type `target`?"""
    return _assignable(parse_type(source), parse_type(target))


def _assignable(src, dst) -> bool:
    if src[0] in ARTIFACTS or dst[0] in ARTIFACTS:  # bytes in the store, never a JSON value: only file to file
        return src == dst
    if dst == ("json",) or src == ("json",):
        return _no_artifact(src) and _no_artifact(dst)
    return _assignable_values(src, dst)


def _no_artifact(tree) -> bool:
    return tree[0] not in ARTIFACTS and (tree[0] not in ("list", "dict") or _no_artifact(tree[1]))


def is_artifact_type(text: str) -> bool:
    """True when a value of this type holds artifacts (file, dir, or lists and maps of them)."""
    return not _no_artifact(parse_type(text))


def _assignable_values(src, dst) -> bool:
    if src == ("int",) and dst == ("float",):
        return True
    if src[0] != dst[0]:
        return False
    if src[0] in ("list", "dict"):
        return _assignable(src[1], dst[1])
    return True
