"""Bad input never raises: any field of a real event replaced by any JSON value maps to items or
a skip reason."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stripe_cio.lifecycle import DEFAULT_EVENT_NAMES, Mapped, Skipped

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside `value` (dict keys and list indexes)."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, inner in value.items():
            found += _paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value[:3]):
            found += _paths(inner, (*prefix, index))
    return found


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> None:
    for step in path[:-1]:
        value = value[step]
    value[path[-1]] = new


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_a_corrupted_event_maps_or_is_skipped(kit: Any, data: st.DataObject) -> None:
    # `kit` is stateless and the account cached: nothing to reset between examples.
    account = kit.synthetic()
    lookup = account.lookup
    kinds = sorted({*DEFAULT_EVENT_NAMES, "customer.deleted"})
    kind = data.draw(st.sampled_from(kinds))
    candidates = account.of_type(kind)
    if not candidates:
        return
    event = copy.deepcopy(data.draw(st.sampled_from(candidates)))
    path = data.draw(st.sampled_from(_paths(event)))
    _replace(event, path, data.draw(JSON))
    with_intents = kit.settings(payment_intent_events=kind.startswith("payment_intent."))
    for identity in (kit.identity(), kit.identity(identifier="metadata:app_user_id")):
        result = kit.map(event, lookup, with_intents, identity)
        assert isinstance(result, Mapped | Skipped)
