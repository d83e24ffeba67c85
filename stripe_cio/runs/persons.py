"""From the attribute frame to delivery's person updates: all persons, the first N, or those
the latest Stripe events touched."""

from __future__ import annotations

from collections.abc import Collection

import pandas as pd

from ..attributes import AttributeSettings, attribute_dicts
from ..deliver import PersonUpdate
from .touched import TouchedCustomers


def _identifier_key(settings: AttributeSettings) -> str:
    # Customer.io takes one identifier per item: the email, or the id for the other strategies.
    return "email" if settings.identifier_kind == "email" else "id"


def person_updates(
    frame: pd.DataFrame,
    settings: AttributeSettings,
    *,
    persons: Collection[str] | None = None,
    limit: int | None = None,
) -> list[PersonUpdate]:
    """Delivery's person updates for the rows of the attribute frame, in its (sorted) order.

    `persons` keeps only those persons; `limit` keeps the first `limit` of what is left.
    """
    if persons is not None:
        frame = frame[frame.index.isin(list(persons))]
    if limit is not None:
        frame = frame.iloc[: max(limit, 0)]
    key = _identifier_key(settings)
    return [
        PersonUpdate(identifiers={key: person}, attributes=attributes)
        for person, attributes in attribute_dicts(frame)
    ]


def touched_persons(
    frame: pd.DataFrame, touched: TouchedCustomers, settings: AttributeSettings
) -> list[str]:
    """The persons of the attribute frame that hold a touched customer or guest email."""
    if not len(touched):
        return []
    primary = frame[settings.name("customer_id")]
    hit = primary.isin(list(touched.customers))
    others = frame[settings.name("customer_ids")].dropna()
    if len(others):
        exploded = others.explode()
        hit |= frame.index.isin(exploded[exploded.isin(list(touched.customers))].index)
    if settings.identifier_kind == "email":
        hit |= frame.index.isin(list(touched.guest_emails))
    return [str(person) for person in frame.index[hit.to_numpy(dtype=bool)]]


def complete_persons(
    frame: pd.DataFrame,
    incomplete: Collection[str],
    guests_complete: bool,
    settings: AttributeSettings,
) -> pd.Series:
    """Which persons of the attribute frame have their whole history in the ledger: none of
    their customers is `incomplete`, and a person with no customer (a guest, known only by the
    email on its charges) only when `guests_complete`."""
    primary = frame[settings.name("customer_id")]
    is_guest = primary.isna().to_numpy(dtype=bool)
    complete = pd.Series(True, index=frame.index)
    if not guests_complete:
        complete &= ~is_guest
    if len(incomplete):
        missing = list(incomplete)
        hit = primary.isin(missing).to_numpy(dtype=bool, copy=True)
        others = frame[settings.name("customer_ids")].dropna()
        if len(others):
            exploded = others.explode()
            hit |= frame.index.isin(exploded[exploded.isin(missing)].index)
        complete &= ~hit
    return complete
