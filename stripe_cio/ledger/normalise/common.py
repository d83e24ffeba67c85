"""Field readers shared by the normalisers: each checks one field and says why it is bad."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

# Stripe's presentment currencies, lower case as the API sends them.
# Source: https://docs.stripe.com/currencies ("Supported presentment currencies"; "You must use
# all lowercase letters when passing the three-letter ISO code").
_CURRENT = """
usd aed afn all amd ang aoa ars aud awg azn bam bbd bdt bgn bhd bif bmd bnd bob brl bsd bwp byn
bzd cad cdf chf clp cny cop crc cve czk djf dkk dop dzd egp etb eur fjd fkp gbp gel ghs gip gmd
gnf gtq gyd hkd hnl htg huf idr ils inr isk jmd jod jpy kes kgs khr kmf krw kwd kyd kzt lak lbp
lkr lrd lsl mad mdl mga mkd mmk mnt mop mru mur mvr mwk mxn myr mzn nad ngn nio nok npr nzd omr
pab pen pgk php pkr pln pyg qar ron rsd rub rwf sar sbd scr sek sgd shp sle sll sos srd stn szl
thb tjs tnd top try ttd twd tzs uah ugx uyu uzs ves vnd vuv wst xaf xcd xcg xof xpf yer zar zmw
"""
# Codes Stripe accepted in the past and has since retired (the euro replaced eek, hrk, ltl, lvl;
# redenominations replaced mro, std, vef, byr): a ledger holds history, so old charges in them
# must still load.
_RETIRED = "eek hrk ltl lvl mro std svc vef byr"

STRIPE_CURRENCIES: frozenset[str] = frozenset(_CURRENT.split()) | frozenset(_RETIRED.split())


Row = dict[str, Any]

# 2025-03-31.basil changed what `amount_refunded` means for partially captured charges and
# expired authorisations: before it, the released remainder was booked as refunded.
# Source: https://docs.stripe.com/changelog/basil/2025-03-31/
#   (the entry on amount_refunded no longer including uncaptured amounts).
BASIL_DATE = "2025-03-31"
_API_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
# Stripe amounts have at most 8 digits in most currencies and 12 in a few (such as IDR).
# Source: https://docs.stripe.com/api/charges/object (amount: "supports up to eight digits"),
# https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts. A larger value is not
# Stripe's, and sums of such values overflow the 64-bit integers the attribute engine adds in.
MAX_AMOUNT = 10**12 - 1


@dataclass(frozen=True, slots=True)
class Reject:
    """Why an object cannot go into the ledger, e.g. ``missing_field:currency``."""

    reason: str


@dataclass(frozen=True, slots=True)
class Normalised:
    """The row for an object's table, plus child rows (a subscription's items), and the
    reasons of field rejects: the object is stored, and each is also a row in `rejects`
    (e.g. a customer's email that is not an address, which nothing downstream will use)."""

    row: Row
    items: tuple[Row, ...] = field(default=())
    problems: tuple[str, ...] = field(default=())


class Bad(Exception):
    """Raised inside a normaliser to reject the object; `guarded` turns it into a Reject."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def guarded(
    fn: Callable[[Mapping[str, Any], str | None], Normalised],
) -> Callable[[Any, str | None], Normalised | Reject]:
    """Wrap a normaliser that raises Bad so that it returns a Reject instead."""

    def run(obj: Any, api_version: str | None = None) -> Normalised | Reject:
        try:
            return fn(obj, api_version)
        except Bad as bad:
            return Reject(bad.reason)

    run.__name__ = fn.__name__
    run.__doc__ = fn.__doc__
    return run


def is_before_basil(api_version: str | None) -> bool:
    """Whether an object rendered in `api_version` predates 2025-03-31.basil (None: current)."""
    if api_version is None:
        return False
    match = _API_DATE.match(api_version)
    # An unrecognisable version string is not a date we can compare: treat it as current.
    return bool(match) and match.group(0) < BASIL_DATE  # type: ignore[union-attr]


def check_object(obj: Any, expected: str) -> Mapping[str, Any]:
    """The object as a mapping, if it is one of type `expected` (a missing `object` is fine)."""
    if type(obj) is not dict and not isinstance(obj, Mapping):
        raise Bad("not_an_object")
    kind = obj.get("object")
    if kind is not None and kind != expected:
        raise Bad("wrong_object_type")
    return obj


def base_row(obj: Mapping[str, Any]) -> Row:
    """id, created and livemode, which every ledger table has."""
    created = obj.get("created")
    if created is None:
        raise Bad("missing_field:created")
    if type(created) is not int:
        raise Bad("invalid_field:created")
    livemode = obj.get("livemode")
    return {
        "id": req_str(obj, "id"),
        "created": created,
        "livemode": livemode if type(livemode) is bool else None,
    }


def req_str(obj: Mapping[str, Any], key: str) -> str:
    value = obj.get(key)
    if value is None or value == "":
        raise Bad(f"missing_field:{key}")
    return _text(value, key)


def _text(value: Any, key: str) -> str:
    """`value` as the text of field `key`, refused unless it is a string without NUL."""
    if type(value) is not str:
        raise Bad(f"invalid_field:{key}")
    if "\x00" in value:
        # PostgreSQL text cannot hold NUL: writing one failed the whole batch. Rejected on
        # every backend, so SQLite and PostgreSQL ledgers agree (`raw` escapes it as \u0000).
        raise Bad(f"nul_character:{key}")
    return value


def opt_str(obj: Mapping[str, Any] | None, key: str) -> str | None:
    if obj is None:
        return None
    value = obj.get(key)
    if value is None:
        return None
    return _text(value, key)


def opt_int(obj: Mapping[str, Any] | None, key: str) -> int | None:
    if obj is None:
        return None
    value = obj.get(key)
    if value is None or type(value) is int:
        return value
    raise Bad(f"invalid_field:{key}")


def opt_bool(obj: Mapping[str, Any] | None, key: str) -> bool | None:
    if obj is None:
        return None
    value = obj.get(key)
    if value is None or type(value) is bool:
        return value
    raise Bad(f"invalid_field:{key}")


def amount(obj: Mapping[str, Any], key: str) -> int:
    """A required amount in minor units, as Stripe sends it: a non-negative integer."""
    value = opt_amount(obj, key)
    if value is None:
        raise Bad(f"missing_field:{key}")
    return value


def opt_amount(obj: Mapping[str, Any] | None, key: str) -> int | None:
    """An amount in minor units that may be null."""
    if obj is None:
        return None
    value = obj.get(key)
    if value is None:
        return None
    if type(value) is not int:
        raise Bad(f"invalid_field:{key}")
    if value < 0:
        raise Bad(f"negative_amount:{key}")
    if value > MAX_AMOUNT:
        raise Bad(f"amount_out_of_range:{key}")
    return value


def currency(obj: Mapping[str, Any], key: str = "currency", *, required: bool = True) -> str | None:
    """A known ISO 4217 code, lower-cased (Stripe sends lower case; upper case is tolerated)."""
    value = obj.get(key)
    if value is None or value == "":
        if required:
            raise Bad(f"missing_field:{key}")
        return None
    if type(value) is not str:
        raise Bad(f"invalid_field:{key}")
    code = value.lower()
    if code not in STRIPE_CURRENCIES:
        raise Bad(f"unknown_currency:{value}")
    return code


def ref(obj: Mapping[str, Any] | None, key: str) -> str | None:
    """The id behind a reference field, which Stripe sends as an id or an expanded object."""
    if obj is None:
        return None
    value = obj.get(key)
    if type(value) is not str and (type(value) is dict or isinstance(value, Mapping)):
        value = value.get("id")
        if type(value) is not str:
            raise Bad(f"invalid_field:{key}")
    if value is None:
        return None
    return _text(value, key)


def nested(obj: Mapping[str, Any], *path: str) -> Mapping[str, Any] | None:
    """The sub-object at `path`, or None where any step is absent or null."""
    current: Any = obj
    for step in path:
        current = current.get(step)
        if current is None:
            return None
        # `type is dict` first: an ABC isinstance check costs far more on the bulk path.
        if type(current) is not dict and not isinstance(current, Mapping):
            raise Bad(f"invalid_field:{step}")
    return current  # type: ignore[no-any-return]
