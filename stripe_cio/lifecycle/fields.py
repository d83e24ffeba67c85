"""Reading fields of a Stripe object for a mapping: null when absent, a reason when unusable.

A builder that finds nothing to send raises `SkipEvent` with the reason the run summary counts;
a field it cannot do without raises `FieldProblem` (`missing_field:<name>` or
`invalid_field:<name>`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_EMPTY: Mapping[str, Any] = {}


class SkipEvent(Exception):
    """The event sends nothing, for `reason`."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class FieldProblem(SkipEvent):
    """An object lacks a field the mapping needs, or holds it in the wrong type."""


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def req_str(obj: Mapping[str, Any], key: str) -> str:
    """A non-empty string."""
    value = obj.get(key)
    if value is None or value == "":
        raise FieldProblem(f"missing_field:{key}")
    if not isinstance(value, str):
        raise FieldProblem(f"invalid_field:{key}")
    return value


def opt_str(obj: Mapping[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if value is None or isinstance(value, str):
        return value
    raise FieldProblem(f"invalid_field:{key}")


def req_int(obj: Mapping[str, Any], key: str) -> int:
    """An integer (amounts in minor units, Unix times); booleans are not integers here."""
    value = obj.get(key)
    if value is None:
        raise FieldProblem(f"missing_field:{key}")
    if not _is_int(value):
        raise FieldProblem(f"invalid_field:{key}")
    return int(value)


def opt_int(obj: Mapping[str, Any], key: str) -> int | None:
    value = obj.get(key)
    if value is None:
        return None
    if not _is_int(value):
        raise FieldProblem(f"invalid_field:{key}")
    return int(value)


def opt_bool(obj: Mapping[str, Any], key: str) -> bool | None:
    value = obj.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise FieldProblem(f"invalid_field:{key}")


def currency(obj: Mapping[str, Any], key: str = "currency") -> str:
    """A three-letter currency code, lower-cased as Stripe sends it."""
    code = opt_currency(obj, key)
    if code is None:
        raise FieldProblem(f"missing_field:{key}")
    return code


def opt_currency(obj: Mapping[str, Any], key: str = "currency") -> str | None:
    value = opt_str(obj, key)
    if value is None:
        return None
    if len(value) != 3 or not value.isalpha():
        raise FieldProblem(f"invalid_field:{key}")
    return value.lower()


def ref(obj: Mapping[str, Any], key: str) -> str | None:
    """The id of a related object, given as its id or expanded into the object."""
    value = obj.get(key)
    if isinstance(value, Mapping):
        value = value.get("id")
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise FieldProblem(f"invalid_field:{key}")
    return value


def nested(obj: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """A nested object, or an empty one when absent or null."""
    value = obj.get(key)
    if value is None:
        return _EMPTY
    if not isinstance(value, Mapping):
        raise FieldProblem(f"invalid_field:{key}")
    return value
