"""Pagination edge cases and the pure slicing helpers, with handler functions (no server)."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from stripe_cio import StripeAPIError
from stripe_cio.extract import gap_message, iter_pages
from stripe_cio.extract.slices import initial_ranges, missing_ranges, split_point
from stripe_cio.extract.writer import _group, _Mark, _Write

URL = "http://127.0.0.1:9"
pytestmark = pytest.mark.anyio


def _page(data: list[dict[str, Any]], has_more: bool) -> httpx.Response:
    body = {"object": "list", "data": data, "has_more": has_more, "url": "/v1/charges"}
    return httpx.Response(200, content=orjson.dumps(body))


async def _collect(kit: Any, handler: Any, **kwargs: Any) -> list[list[dict[str, Any]]]:
    async with kit.client_for(URL, httpx.MockTransport(handler)) as client:
        return [page async for page in iter_pages(client, "/v1/charges", **kwargs)]


async def test_pages_follow_starting_after_newest_first(kit: Any) -> None:
    charges = [{"id": f"ch_{i:03d}", "created": 1000 + i} for i in range(250)]
    pages = await _collect(kit, kit.list_api({"/v1/charges": charges}))
    assert [len(p) for p in pages] == [100, 100, 50]
    ids = [o["id"] for p in pages for o in p]
    assert ids == [f"ch_{i:03d}" for i in reversed(range(250))]


async def test_a_repeated_cursor_is_a_clear_error(kit: Any) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return _page([{"id": "ch_same", "created": 1}], has_more=True)  # always the same page

    with pytest.raises(StripeAPIError, match="cursor 'ch_same' came back"):
        await _collect(kit, handler)


async def test_has_more_on_an_empty_page_is_a_clear_error(kit: Any) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if "starting_after" in request.url.params:
            return _page([], has_more=True)
        return _page([{"id": "ch_1", "created": 1}], has_more=True)

    with pytest.raises(StripeAPIError, match="empty page says has_more=true"):
        await _collect(kit, handler)


async def test_an_html_200_is_retried_by_the_client(kit: Any) -> None:
    calls = {"n": 0}
    good = kit.list_api({"/v1/charges": [{"id": "ch_1", "created": 5}]})

    def handler(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] <= 2:
            return httpx.Response(
                200, content=b"<html>gateway</html>", headers={"content-type": "text/html"}
            )
        response: httpx.Response = good(request)
        return response

    pages = await _collect(kit, handler)
    assert pages == [[{"id": "ch_1", "created": 5}]]
    assert calls["n"] == 3


def test_missing_ranges_subtract_completed_slices() -> None:
    assert missing_ranges(0, 100, []) == [(0, 100)]
    assert missing_ranges(0, 100, [(50, 100), (0, 10)]) == [(10, 50)]
    assert missing_ranges(0, 100, [(0, 100)]) == []
    assert missing_ranges(0, 100, [(20, 30), (25, 40), (90, 120)]) == [(0, 20), (40, 90)]


def test_initial_ranges_and_split_points() -> None:
    assert initial_ranges(0, 10, 4) == [(7, 10), (5, 7), (2, 5), (0, 2)]
    assert initial_ranges(0, 2, 4) == [(1, 2), (0, 1)]
    assert initial_ranges(5, 5, 4) == []
    assert split_point(0, 100) == 50
    assert split_point(10, 11) is None


def test_gap_message_only_past_thirty_days() -> None:
    now = 100 * 86_400
    assert gap_message(now - 29 * 86_400, now) is None
    message = gap_message(now - 31 * 86_400, now)
    assert message is not None
    assert "31.0 days old, past Stripe's 30-day retention; running a backfill" in message


def test_writer_merges_each_resources_pages_and_marks_after_them() -> None:
    a1, a2 = _Write("charges", [{"id": "1"}]), _Write("charges", [{"id": "2"}])
    b1 = _Write("customers", [{"id": "3"}])
    mark = _Mark("charges", "run", 0, 10, 2)
    assert _group([a1, mark, b1, a2, None], max_batch=10) == [[a1, a2], [b1], mark, None]
    assert _group([a1, a2], max_batch=1) == [[a1], [a2]]
