"""The exit codes docs/reliability.md promises are those the error classes carry."""

from __future__ import annotations

import re
from pathlib import Path

import stripe_cio.extract  # defines errors of its own
import stripe_cio.runs  # noqa: F401 - defines the run outcomes
from stripe_cio import StripeCioError

DOC = Path(__file__).resolve().parents[2] / "docs" / "reliability.md"


def documented_codes() -> dict[str, int]:
    """Class name -> exit code, from the table of error classes."""
    codes: dict[str, int] = {}
    for line in DOC.read_text().splitlines():
        row = re.match(r"^\| (\d+) \| ([^|]*) \|", line)
        if row:
            for name in re.findall(r"`(\w+Error)`", row.group(2)):
                codes[name] = int(row.group(1))
    return codes


def every_error_class() -> list[type[StripeCioError]]:
    """StripeCioError and every subclass stripe-cio defines (not those of other tests)."""
    found: list[type[StripeCioError]] = []
    pending: list[type[StripeCioError]] = [StripeCioError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(c for c in cls.__subclasses__() if c.__module__.startswith("stripe_cio"))
    return found


def test_every_error_class_exits_with_the_documented_code() -> None:
    documented = documented_codes()
    assert len(documented) >= 15
    for cls in every_error_class():
        if cls is StripeCioError:
            continue
        # A class not in the table is documented by its nearest ancestor that is.
        named = next((c for c in cls.__mro__ if c.__name__ in documented), None)
        assert named is not None, f"{cls.__name__} is in no row of docs/reliability.md"
        assert cls.exit_code == documented[named.__name__], cls.__name__


def test_transient_errors_are_those_exiting_69() -> None:
    for cls in every_error_class():
        assert cls.transient == (cls.exit_code == 69), cls.__name__
