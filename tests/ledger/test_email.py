"""The one email rule: a syntactically valid single address (RFC 5322 addr-spec, RFC 5321
lengths), or no email at all."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stripe_cio.ledger.normalise import (
    EMAIL_PATTERN,
    email_problem,
    invalid_email_reason,
    normalised_email,
)

VALID = [
    ("a@b.co", "a@b.co"),
    ("  Spaced.Out@Example.com \t", "spaced.out@example.com"),
    ("MiXeD.CaSe@ExAmPlE.CoM", "mixed.case@example.com"),
    ("first.last+tag@sub.example.co.uk", "first.last+tag@sub.example.co.uk"),
    ("o'brien@example.ie", "o'brien@example.ie"),
    ("!#$%&'*+/=?^_`{|}~-@example.com", "!#$%&'*+/=?^_`{|}~-@example.com"),
    ('"john doe"@example.com', '"john doe"@example.com'),
    ('"a\\"b"@example.com', '"a\\"b"@example.com'),
    ("José@Exämple.com", "josé@exämple.com"),
    ("user@[192.0.2.1]", "user@[192.0.2.1]"),
    ("x" * 64 + "@example.com", "x" * 64 + "@example.com"),
    ("a@" + "b" * 63 + ".com", "a@" + "b" * 63 + ".com"),
    ("a@" + ".".join(["d" * 60] * 4) + ".com", "a@" + ".".join(["d" * 60] * 4) + ".com"),
]

INVALID = [
    ("not-an-email", "syntax"),
    ("a@b.com\nBcc: x@y.com", "syntax"),
    ("a@b.com\r\nBcc: x@y.com", "syntax"),
    ('"Name" <a@b.com>', "syntax"),
    ("<a@b.com>", "syntax"),
    ("a@b.com, c@d.com", "syntax"),
    ("a@b.com;c@d.com", "syntax"),
    ("john doe@example.com", "syntax"),
    ("a@@b.com", "syntax"),
    ("a@b@c.com", "syntax"),
    ("@b.com", "syntax"),
    ("a@", "syntax"),
    ("a@localhost", "syntax"),
    (".a@b.com", "syntax"),
    ("a.@b.com", "syntax"),
    ("a..b@c.com", "syntax"),
    ("a@-b.com", "syntax"),
    ("a@b-.com", "syntax"),
    ("a@b..com", "syntax"),
    ("a@" + "b" * 64 + ".com", "syntax"),
    ("a\x00b@c.com", "syntax"),
    ("a\tb@c.com", "syntax"),
    ("a\u202eb@c.com", "syntax"),
    ("a\u200bb@c.com", "syntax"),
    ("a\ud800@c.com", "syntax"),
    ('"a\nb"@c.com', "syntax"),
    ("x" * 65 + "@example.com", "local part over 64 octets"),
    ("é" * 33 + "@example.com", "local part over 64 octets"),
    ("x" * 300 + "@example.com", "local part over 64 octets"),
    ("a@" + ".".join(["d" * 60] * 5) + ".com", "over 254 octets"),
]


@pytest.mark.parametrize(("value", "expected"), VALID)
def test_a_valid_address_is_kept_trimmed_and_lower_cased(value: str, expected: str) -> None:
    assert normalised_email(value) == expected
    assert email_problem(expected) is None
    assert invalid_email_reason(value) is None


@pytest.mark.parametrize(("value", "problem"), INVALID)
def test_an_invalid_address_is_no_email_with_a_reason(value: str, problem: str) -> None:
    assert normalised_email(value) is None
    assert email_problem(value.strip().lower()) == problem
    reason = invalid_email_reason(value)
    assert reason is not None
    assert reason.startswith("email is not a valid address: ")


@pytest.mark.parametrize("value", [None, "", "   ", 12345, ["a@b.com"], {"email": "a@b.com"}])
def test_absent_blank_or_non_text_is_no_email_and_no_reason(value: object) -> None:
    assert normalised_email(value) is None
    if isinstance(value, str):
        assert invalid_email_reason(value) is None


def test_the_reason_shows_control_characters_and_at_most_80_characters() -> None:
    reason = invalid_email_reason("a@b.com\nBcc: x@y.com")
    assert reason == "email is not a valid address: 'a@b.com\\nBcc: x@y.com'"
    assert "\n" not in reason
    long = invalid_email_reason("x" * 300 + "@example.com")
    assert long is not None
    shown = long.removeprefix("email is not a valid address: ")
    assert len(shown) == 80
    assert shown.endswith("...")
    nasty = invalid_email_reason("\x01" * 200)
    assert nasty is not None
    assert len(nasty.removeprefix("email is not a valid address: ")) <= 80


# --- properties ------------------------------------------------------------------------------

_ATOM = st.text(
    alphabet=st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+_-"),
    min_size=1,
    max_size=12,
)
_LABEL = st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
_ADDRESSES = st.builds(
    lambda local, labels: ".".join(local) + "@" + ".".join(labels),
    st.lists(_ATOM, min_size=1, max_size=3),
    st.lists(_LABEL, min_size=2, max_size=4),
)


@given(_ADDRESSES)
def test_generated_addresses_are_valid_and_stable(address: str) -> None:
    kept = normalised_email(address)
    assert kept == address.lower()
    assert normalised_email(kept) == kept  # idempotent
    assert normalised_email(f"  {address.upper()}\t") == kept


@given(_ADDRESSES, _ADDRESSES, st.sampled_from([", ", ",", ";", " ", "\n", "\r\n", "\nBcc: "]))
def test_two_addresses_together_are_never_one(first: str, second: str, glue: str) -> None:
    assert normalised_email(first + glue + second) is None


@given(_ADDRESSES, st.text(min_size=1, max_size=20))
def test_a_display_name_is_never_an_address(address: str, name: str) -> None:
    assert normalised_email(f'"{name}" <{address}>') is None
    assert normalised_email(f"{name} <{address}>") is None


_CONTROLS = st.characters(codec="utf-8", categories=["Cc"]) | st.sampled_from(
    ["\u2028", "\u2029", "\u200b", "\u202e", "\ufeff"]
)


@given(_ADDRESSES, _CONTROLS, st.integers(min_value=0))
def test_a_control_or_invisible_character_inside_is_never_kept(
    address: str, control: str, where: int
) -> None:
    at = 1 + where % max(len(address) - 2, 1)  # inside: trimming cannot remove it
    assert normalised_email(address[:at] + control + address[at:]) is None


@given(st.text(max_size=300))
def test_anything_kept_is_one_short_clean_address(value: str) -> None:
    kept = normalised_email(value)
    reason = invalid_email_reason(value)
    if kept is None:
        # Not an address: a reason unless there was nothing there.
        assert (reason is None) == (not value.strip())
        return
    assert reason is None
    assert re.fullmatch(EMAIL_PATTERN, kept)
    assert kept == kept.strip().lower()
    assert kept.count("@") == 1 or kept.startswith('"')
    assert len(kept.encode()) <= 254
    assert len(kept.rpartition("@")[0].encode()) <= 64
    assert not any(ch in kept for ch in "\r\n\x00,<>") or kept.startswith('"')
