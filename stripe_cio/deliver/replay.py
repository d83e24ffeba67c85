"""Dead letters back into items: re-checked, so what can never be accepted is not resent."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from .checks import (
    NameCheck,
    check_attribute_values,
    check_event_data_size,
    check_event_fields,
    check_identifiers,
    check_item_size,
)
from .model import Outgoing, Refusal
from .store import DeadLetter, Failure


def _check_person(item: dict[str, Any], names: NameCheck) -> Refusal | None:
    attributes = item.get("attributes")
    if item.get("action") != "identify" or not isinstance(attributes, dict):
        return Refusal("not_replayable", "", "the dead letter holds no identify item")
    encoded = len(orjson.dumps(attributes))
    return names(attributes) or check_attribute_values(attributes, encoded)


def _check_event(item: dict[str, Any], letter: DeadLetter) -> Refusal | None:
    data = item.get("attributes", {})
    if item.get("action") != "event" or item.get("id") != letter.item_key:
        return Refusal("not_replayable", "", "the dead letter holds no event item")
    if not isinstance(data, dict):
        return Refusal("invalid_event_data", "attributes", "event data must be an object")
    return check_event_fields(
        item.get("name"), letter.stripe_event_id, item.get("timestamp")
    ) or check_event_data_size(len(orjson.dumps(data)))


def _recheck(letter: DeadLetter, names: NameCheck) -> Outgoing | Failure:
    body = letter.payload.encode()
    try:
        item = orjson.loads(body)
    except orjson.JSONDecodeError:
        item = None
    outgoing = Outgoing(
        letter.kind,
        letter.item_key,
        letter.person_key,
        body,
        attributes=letter.attributes,
        stripe_event_id=letter.stripe_event_id,
        name=item.get("name") if isinstance(item, dict) else None,
    )
    problem: Refusal | None
    if not isinstance(item, dict) or item.get("type") != "person":
        problem = Refusal(letter.reason, letter.field or "", letter.message)
    else:
        checked = check_identifiers(item.get("identifiers"))
        if isinstance(checked, Refusal):
            problem = checked
        elif letter.kind == "person":
            problem = _check_person(item, names)
            if problem is None and letter.attributes is None:
                problem = Refusal("not_replayable", "", "the dead letter holds no snapshot")
        else:
            problem = _check_event(item, letter)
        problem = problem or check_item_size(body)
    if problem is not None:
        return Failure(outgoing, problem, "pre_send")
    return outgoing


def replay_items(
    letters: Sequence[DeadLetter], names: NameCheck
) -> tuple[list[Outgoing | Failure], list[Outgoing | Failure]]:
    """(person items, event items) to resend, or the failure each would meet again."""
    people: list[Outgoing | Failure] = []
    events: list[Outgoing | Failure] = []
    for letter in letters:
        if not letter.is_open:
            continue
        (people if letter.kind == "person" else events).append(_recheck(letter, names))
    return people, events
