"""ULIDs: 48 bits of milliseconds and 80 bits of randomness, as 26 Crockford base32 characters.

Customer.io de-duplicates events by a ULID `id`, so a ULID derived deterministically from a
Stripe event (its `created` time and a hash of its id) makes every resend of that event the same
Customer.io event. Spec: https://github.com/ulid/spec
"""

from __future__ import annotations

import re

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# Two characters per lookup: 13 lookups of 10 bits instead of 26 of 5, half the Python-level
# work per id (figures in docs/delivery.md).
_PAIRS = tuple(first + second for first in _CROCKFORD for second in _CROCKFORD)
_SHIFTS = range(120, -1, -10)
# The first character is at most 7 because a ULID holds 128 bits in 130 bits of base32.
ULID_PATTERN = re.compile(r"[0-7][0-9A-HJKMNP-TV-Z]{25}", re.IGNORECASE)


def encode_ulid(millis: int, randomness: int) -> str:
    """The ULID of a time in Unix milliseconds and an 80-bit random (or hashed) part."""
    if not 0 <= millis < 1 << 48:
        raise ValueError("ULID time must be between 0 and 2**48 - 1 milliseconds")
    if not 0 <= randomness < 1 << 80:
        raise ValueError("ULID randomness must be between 0 and 2**80 - 1")
    value = (millis << 80) | randomness
    return "".join([_PAIRS[(value >> shift) & 1023] for shift in _SHIFTS])
