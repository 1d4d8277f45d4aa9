"""Realism guard: does a fake's JSON have the keys and value types of a documented example?

Usage:
    problems = shape_problems(fake_body, example, documented={"$": {"created", "model"}})
    assert problems == []

Rules: every key of the example must be present with the same JSON type (recursively; the first
element of each array stands for all); a key the example lacks is allowed only when `documented`
lists it for that path ("$", "$.task_info", "$.data"...), i.e. when the vendor documents the field
but this example happens to omit it.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from typing import Any


def json_type(value: object) -> str:
    """The JSON type name of a decoded value (integers and floats kept apart)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def shape_problems(
    actual: Any,
    example: Any,
    documented: Mapping[str, Set[str]] | None = None,
    path: str = "$",
) -> list[str]:
    """Every way `actual` differs in shape from `example`; empty when they match."""
    documented = documented or {}
    if json_type(actual) != json_type(example):
        return [f"{path}: {json_type(actual)} where the example has {json_type(example)}"]
    problems: list[str] = []
    if isinstance(example, dict):
        for key, value in example.items():
            if key not in actual:
                problems.append(f"{path}.{key}: missing")
            else:
                problems += shape_problems(actual[key], value, documented, f"{path}.{key}")
        allowed = documented.get(path, frozenset())
        problems += [
            f"{path}.{key}: not in the example nor documented"
            for key in actual
            if key not in example and key not in allowed
        ]
    elif isinstance(example, list) and example and actual:
        for i, item in enumerate(actual):
            problems += shape_problems(item, example[0], documented, f"{path}[{i}]")
    return problems
