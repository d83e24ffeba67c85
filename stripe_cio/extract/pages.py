"""Page through a Stripe list endpoint with `starting_after`, refusing to loop forever.

Stripe's list facts this relies on (https://docs.stripe.com/api/pagination):
- Lists are sorted newest first (`created` descending); `starting_after=<id>` continues with
  the objects just older than that id, so a page's last object is the next cursor.
- `created` accepts `gt`/`gte`/`lt`/`lte` filters (https://docs.stripe.com/api/charges/list),
  which is what lets a backfill cut the history into independent time slices.
- Objects carry `created` but no `updated` field, so no list can ask "what changed since T";
  changes are only visible through events (https://docs.stripe.com/api/events), and events are
  kept for 30 days only (https://docs.stripe.com/api/events/list: "events going back up to 30
  days").
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any, Protocol

from ..exceptions import StripeAPIError
from ..stripe_api import Params

MAX_LIMIT = 100  # Stripe's largest page. Source: https://docs.stripe.com/api/pagination


class PageSource(Protocol):
    """Anything with the StripeClient's `get` (the client itself, or a test double)."""

    async def get(self, path: str, params: Params | None = None) -> dict[str, Any]: ...


def last_cursor(path: str, data: list[dict[str, Any]]) -> str:
    """The id of a page's last object, the `starting_after` of the next page."""
    last = data[-1] if data else None
    cursor = last.get("id") if isinstance(last, dict) else None
    if not isinstance(cursor, str) or not cursor:
        raise StripeAPIError(
            f"GET {path}: the page's last object has no id, so the list cannot be continued",
            path=path,
        )
    return cursor


async def iter_pages(
    client: PageSource,
    path: str,
    params: Params | None = None,
    *,
    limit: int = MAX_LIMIT,
    starting_after: str | None = None,
    seen: set[str] | None = None,
) -> AsyncGenerator[list[dict[str, Any]], None]:
    """Yield each page's `data` list, newest objects first, until `has_more` is false.

    Raises StripeAPIError when the server would make us loop: a cursor we already sent
    (`seen` may be shared by the caller across restarts), or `has_more: true` on an empty page.
    """
    seen = set() if seen is None else seen
    if starting_after is not None:
        seen.add(starting_after)
    cursor = starting_after
    while True:
        query: dict[str, Any] = {**(params or {}), "limit": limit}
        if cursor is not None:
            query["starting_after"] = cursor
        body = await client.get(path, query)
        data = body.get("data")
        if not isinstance(data, list):
            raise StripeAPIError(
                f"GET {path}: the answer is not a list (no `data` array)", path=path
            )
        has_more = body.get("has_more") is True
        if not data:
            if has_more:
                raise StripeAPIError(
                    f"GET {path}: an empty page says has_more=true after cursor {cursor!r}; "
                    "stopping instead of looping",
                    path=path,
                )
            return
        yield data
        if not has_more:
            return
        cursor = last_cursor(path, data)
        if cursor in seen:
            raise StripeAPIError(
                f"GET {path}: cursor {cursor!r} came back a second time; stopping instead of "
                "looping over the same pages",
                path=path,
            )
        seen.add(cursor)
