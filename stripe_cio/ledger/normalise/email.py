"""One email rule for the whole pipeline: a syntactically valid single address, or none.

Every place where an email becomes a Customer.io identifier or attribute (the attribute
engine's persons, lifecycle events' persons and data, the ledger's rejects of customers and
guest charges) asks this module, so they cannot disagree. Pure functions.

The rule is RFC 5322's addr-spec (§3.4.1) without its obsolete forms and comments:
``local-part "@" domain`` where the local part is a dot-atom or a quoted string and the domain
a dot-atom of at least two labels (an address literal such as ``[192.0.2.1]`` is also taken).
No display name (``"Name" <a@b.com>``), no second address (``a@b.com, c@d.com``), no
whitespace or control character anywhere (a CR/LF would let a header such as ``Bcc:`` in).
Lengths per RFC 5321 §4.5.3.1.1 (local part: 64 octets) and the 254 octets left of a path's
256 by its angle brackets (§4.5.3.1.3, with RFC 3696 errata 1690). Non-ASCII letters are
allowed as RFC 6531/6532 allow them (Stripe accepts internationalised addresses).
"""

from __future__ import annotations

import re
from typing import Any

MAX_LOCAL_OCTETS = 64  # RFC 5321 §4.5.3.1.1
MAX_EMAIL_OCTETS = 254  # RFC 5321 §4.5.3.1.3: a 256-octet path less its "<" and ">"
_SHOWN = 80  # characters of a bad value's repr shown in a reason

# Non-ASCII characters RFC 6532 §3.2 lets into atext, qtext and (as U-labels) the domain: any
# but the C1 controls, lone surrogates (not UTF-8), and the invisible format characters that
# would make two identifiers look alike (zero-width and bidi controls, U+2028/2029, the BOM).
_UTF8 = r"\u00a0-\u200a\u2010-\u2027\u202f-\u205f\u2070-\ud7ff\ue000-\ufefe\uff00-\U0010ffff"
# RFC 5322 §3.2.3 atext.
_ATEXT = rf"[A-Za-z0-9!#$%&'*+/=?^_`{{|}}~\-{_UTF8}]"
_DOT_ATOM = rf"{_ATEXT}+(?:\.{_ATEXT}+)*"
# RFC 5322 §3.2.4 quoted-string without folding whitespace: qtext or a quoted-pair of a
# printable character or a space (a quoted CR, LF or other control is still refused).
_QUOTED = rf'"(?:[\x20\x21\x23-\x5b\x5d-\x7e{_UTF8}]|\\[\x20-\x7e])*"'
# A domain label (RFC 1035 §2.3.1, RFC 5321 §4.1.2): letters, digits and inner hyphens,
# at most 63 characters.
_LETTER = rf"[A-Za-z0-9{_UTF8}]"
_LABEL = rf"{_LETTER}(?:[A-Za-z0-9\-{_UTF8}]{{0,61}}{_LETTER})?"
# RFC 5321 §4.1.3 address literal, loosely: printable dtext between brackets.
_LITERAL = r"\[[\x21-\x5a\x5e-\x7e]+\]"
_DOMAIN = rf"(?:{_LABEL}(?:\.{_LABEL})+|{_LITERAL})"
EMAIL_PATTERN = rf"(?:{_DOT_ATOM}|{_QUOTED})@{_DOMAIN}"
"""The addr-spec as a regular expression for a full match (pandas' str.fullmatch uses it too)."""
_ADDRESS = re.compile(EMAIL_PATTERN)


def email_problem(address: str) -> str | None:
    """Why `address` (already trimmed) is not one valid address; None when it is one."""
    if not _ADDRESS.fullmatch(address):
        return "syntax"
    local = address.rpartition("@")[0]
    # Lengths are in octets of UTF-8; most addresses are ASCII, where characters are octets.
    if len(local) > MAX_LOCAL_OCTETS or len(local.encode()) > MAX_LOCAL_OCTETS:
        return "local part over 64 octets"
    if len(address) > MAX_EMAIL_OCTETS or len(address.encode()) > MAX_EMAIL_OCTETS:
        return "over 254 octets"
    return None


def normalised_email(value: Any) -> str | None:
    """`value` trimmed and lower-cased when it is one valid address; None otherwise (absent,
    blank, not text, or not an address: see `email_problem`)."""
    if not isinstance(value, str):
        return None
    text = value.strip().lower()
    if not text or email_problem(text) is not None:
        return None
    return text


def email_key(value: Any) -> str | None:
    """How persons are matched by email: `value` trimmed and lower-cased, valid or not; None
    when absent or blank. The attribute engine keys persons the same way (`str.strip`, then
    `str.lower`), so the ledger can find a person's rows by this key through an index."""
    if not isinstance(value, str):
        return None
    return value.strip().lower() or None


def invalid_email_reason(value: str) -> str | None:
    """The reject reason of a non-blank `value` that is not a valid address, else None.

    The value is shown with repr, so that control characters are visible, and cut to 80
    characters: a reason is a short line, and the whole value is in the reject's raw JSON.
    """
    text = value.strip()
    if not text or email_problem(text.lower()) is None:
        return None
    shown = repr(text)
    if len(shown) > _SHOWN:
        shown = shown[: _SHOWN - 3] + "..."
    return f"email is not a valid address: {shown}"
