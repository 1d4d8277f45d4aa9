"""Request-body checks shared by the fake providers (each vendor wraps `Invalid`)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any


class Invalid(Exception):
    """A request the vendor would refuse: `param` names the field, `status` the HTTP status."""

    def __init__(
        self, message: str, param: str | None = None, *, status: int = 400, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.status = status
        self.code = code


def is_int(value: object) -> bool:
    """True for a JSON integer (bool is not one)."""
    return isinstance(value, int) and not isinstance(value, bool)


def only_fields(body: Mapping[str, Any], allowed: Collection[str], where: str = "") -> None:
    """Refuse any field outside `allowed`."""
    for key in body:
        if key not in allowed:
            raise Invalid(f"Unknown parameter: {where}{key}", f"{where}{key}")


def get_str(
    body: Mapping[str, Any],
    key: str,
    *,
    required: bool = False,
    max_len: int | None = None,
    where: str = "",
) -> str | None:
    """A string field; `required` also refuses an empty string."""
    value = body.get(key)
    if value is None:
        if required:
            raise Invalid(f"{where}{key} is required", f"{where}{key}")
        return None
    if not isinstance(value, str):
        raise Invalid(f"{where}{key} must be a string", f"{where}{key}")
    if required and not value.strip():
        raise Invalid(f"{where}{key} must not be empty", f"{where}{key}")
    if max_len is not None and len(value) > max_len:
        raise Invalid(f"{where}{key} must be at most {max_len} characters", f"{where}{key}")
    return value


def get_enum(
    body: Mapping[str, Any], key: str, choices: Collection[str], default: str, *, where: str = ""
) -> str:
    """A string field restricted to `choices` (absent or null: `default`)."""
    value = body.get(key)
    if value is None:
        return default
    if value not in choices:
        raise Invalid(
            f"{where}{key} must be one of {', '.join(choices)}, got {value!r}", f"{where}{key}"
        )
    return str(value)


def get_int(
    body: Mapping[str, Any],
    key: str,
    default: int,
    *,
    lo: int | None = None,
    hi: int | None = None,
    choices: Collection[int] | None = None,
    where: str = "",
) -> int:
    """An integer field within `lo`..`hi` or `choices` (absent or null: `default`)."""
    value = body.get(key)
    if value is None:
        return default
    if not is_int(value):
        raise Invalid(f"{where}{key} must be an integer", f"{where}{key}")
    if choices is not None and value not in choices:
        allowed = ", ".join(str(c) for c in choices)
        raise Invalid(f"{where}{key} must be one of {allowed}", f"{where}{key}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise Invalid(f"{where}{key} must be between {lo} and {hi}", f"{where}{key}")
    return int(value)


def get_str_list(
    body: Mapping[str, Any],
    key: str,
    *,
    min_items: int,
    max_items: int,
    required: bool = True,
    where: str = "",
) -> list[str]:
    """An array of strings with a length in `min_items`..`max_items`."""
    value = body.get(key)
    name = f"{where}{key}"
    if value is None:
        if required:
            raise Invalid(f"{name} is required", name)
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise Invalid(f"{name} must be an array of URL strings", name)
    if not min_items <= len(value) <= max_items:
        if min_items == max_items:
            raise Invalid(f"{name} must contain exactly {min_items} item(s)", name)
        raise Invalid(f"{name} must contain {min_items} to {max_items} item(s)", name)
    return list(value)
