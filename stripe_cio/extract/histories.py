"""Read from Stripe, customer by customer, the histories the ledger lacks.

An events sync started on an account older than Stripe's 30-day event window meets customers
(and charges) it never saw created. Before anything about such a person is computed, their
history is fetched: the customer itself (unless the ledger holds it, from the customer list or
an event), then every object of theirs through the list endpoints' owner filters
(`owner_filter` in `resources.py`): charges, payment intents, invoices, subscriptions
(`status=all`) and checkout sessions by `customer=`; refunds and disputes by `charge=` for the
charges that have any; and the prices and products those subscriptions and invoices refer to
that the ledger lacks, by id.

Under the email identifier one person may hold several customers with the same email (Stripe
allows duplicates, in any letter case), so each fetched customer's namesakes in the ledger (same
email, trimmed and lower-cased) are fetched in turn. The ledger knows them all once the customer
list has been read (the sync job reads it once, before its first histories): Stripe's own
`email` filter is case-sensitive (https://docs.stripe.com/api/customers/list), so it cannot
find them. Guest payments (charges without a customer, which Stripe lists by customer, never by
billing email) are found only by a backfill.

Every object is written with `observed_at` = Stripe's present when the fetch began (the newest
event's `created`, `clock.py`): what was read is at least that new, and any event from then on,
replayed by a sync, overwrites it, while an event the ledger already applied that is newer is
never overwritten. A customer's outcome goes to `customer_histories` only after all of its
objects are written, so a run that stops midway leaves it incomplete, to be fetched again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import aclosing
from typing import Any, TypeVar

from ..exceptions import StripeAPIError
from ..ledger import (
    HistoryGaps,
    incomplete_among,
    missing_objects,
    namesakes,
    present_customers,
    record_customer_histories,
)
from ..stripe_api import STRIPE_API_VERSION, Params, StripeClient
from .clock import stripe_now
from .contract import CoveredLedger
from .pages import iter_pages
from .resources import RESOURCE_BY_NAME, BackfillResource, is_fatal, stop_error
from .summary import HistorySummary

log = logging.getLogger(__name__)

HISTORY_UNREADABLE = "history_unreadable"  # the reject reason of a history left incomplete
T = TypeVar("T")


def _owned_by(owner: str) -> list[BackfillResource]:
    """The resources whose list selects one `owner`'s objects, in the registry's order."""
    return [r for r in RESOURCE_BY_NAME.values() if r.owner_filter == owner]


async def complete_histories(
    client: StripeClient,
    ledger: CoveredLedger,
    gaps: HistoryGaps,
    *,
    concurrency: int = 8,
) -> HistorySummary:
    """Fetch the charges and the customers' histories of `gaps` into `ledger`.

    A charge's customer joins the customers fetched when its history is incomplete. A deleted
    customer is recorded as such (skip `deleted_customer`), one Stripe does not know (404) as
    unknown (`unknown_customer`); a charge Stripe does not know is skipped (`unknown_charge`).
    A customer whose requests fail after the client's retries stays incomplete and is counted
    as a reject (`history_unreadable`), while the others go on. A 401, 403 or other refusal
    that no retry can fix stops the fetch with ExtractionStopped.

    At most `concurrency` customers (or charges) are fetched at once, every request through
    `client` and so under its shared rate limiter.
    """
    summary = HistorySummary()
    if not gaps.customers and not gaps.charges:
        return summary
    before = client.stats.requests
    try:
        fetch = _Fetch(client, ledger, summary, await stripe_now(client), concurrency)
        await fetch.run(gaps)
    finally:
        summary.requests = client.stats.requests - before
    return summary


class _Unknown(Exception):
    """Stripe answered 404 resource_missing: no such object."""


class _Fetch:
    def __init__(
        self,
        client: StripeClient,
        ledger: CoveredLedger,
        summary: HistorySummary,
        observed_at: int,
        concurrency: int,
    ) -> None:
        self.client = client
        self.ledger = ledger
        self.engine = ledger.engine
        self.summary = summary
        self.observed_at = observed_at
        self.workers = max(1, concurrency)
        # One retrieve per price or product however many customers refer to it.
        self.catalog: dict[tuple[str, str], asyncio.Task[dict[str, Any] | None]] = {}
        self.key_prefix = client.settings.api_key.get_secret_value()[:2]
        self.current: frozenset[str] = frozenset()  # customers the ledger holds, not deleted

    async def run(self, gaps: HistoryGaps) -> None:
        try:
            owners = await _pool(sorted(gaps.charges), self._charge, self.workers)
            found = {owner for owner in owners if owner} - gaps.customers
            customers = set(gaps.customers | incomplete_among(self.engine, found))
            done: set[str] = set()
            while customers:
                # The customer list read (or the events) already gave these their current
                # state: only their objects are to be read.
                self.current = present_customers(self.engine, customers)
                await _pool(sorted(customers), self._customer, self.workers)
                done |= customers
                customers = set(incomplete_among(self.engine, namesakes(self.engine, done) - done))
        finally:
            for task in self.catalog.values():
                task.cancel()
            await asyncio.gather(*self.catalog.values(), return_exceptions=True)

    # --- one charge, one customer ------------------------------------------------------------

    async def _charge(self, charge_id: str) -> str | None:
        """Retrieve a charge an event referred to; its customer id, if it has one."""
        try:
            charge = await self._retrieve("charges", charge_id)
            self._write("charges", [charge])
            self.summary.charges_fetched += 1
            customer = _owner(charge.get("customer"))
            if customer is None:
                # A guest's charge: nobody's history covers its refunds and disputes.
                await self._charge_children([charge])
            return customer
        except _Unknown:
            self.summary.skipped["unknown_charge"] += 1
        except StripeAPIError as exc:
            self._unreadable(f"charge {charge_id}", exc)
        return None

    async def _customer(self, customer_id: str) -> None:
        try:
            outcome = await self._history(customer_id)
        except StripeAPIError as exc:
            self._unreadable(f"customer {customer_id}", exc)
            return
        record_customer_histories(self.engine, {customer_id: outcome}, self.observed_at)

    async def _history(self, customer_id: str) -> str:
        """Read and write one customer and everything of theirs; the history's outcome."""
        if customer_id not in self.current:
            try:
                customer = await self._retrieve("customers", customer_id)
            except _Unknown:
                self.summary.skipped["unknown_customer"] += 1
                return "unknown"
            # A deleted customer is answered with a stub {"id", "object", "deleted": true},
            # which the ledger records as a deletion.
            # Source: https://docs.stripe.com/api/customers/retrieve
            self._write("customers", [customer])
            if customer.get("deleted") is True:
                self.summary.skipped["deleted_customer"] += 1
                return "deleted"
        prices: set[str] = set()
        products: set[str] = set()
        for spec in _owned_by("customer"):
            objects = await self._list(spec, customer_id)
            self._write(spec.name, objects)
            _catalog_refs(spec.name, objects, prices, products)
            if spec.name == "charges":
                await self._charge_children(objects)
        await self._catalog(prices, products)
        self.summary.customers_fetched += 1
        return "complete"

    async def _charge_children(self, charges: Iterable[Mapping[str, Any]]) -> None:
        """Read the refunds and disputes of those `charges` that have any.

        A charge says whether it has them: `amount_refunded` (> 0 once any refund is made) and
        `disputed`. Source: https://docs.stripe.com/api/charges/object. Asking only for those
        saves two requests per charge that has neither, which is most of them.
        """
        for charge in charges:
            charge_id = charge.get("id")
            if not isinstance(charge_id, str):
                continue
            refunded = charge.get("refunded") is True or _positive(charge.get("amount_refunded"))
            flags = {"refunds": refunded, "disputes": charge.get("disputed") is True}
            for spec in _owned_by("charge"):
                if flags.get(spec.name, True):
                    self._write(spec.name, await self._list(spec, charge_id))

    async def _catalog(self, prices: set[str], products: set[str]) -> None:
        """Retrieve the prices, then the products, referred to that the ledger lacks."""
        for price in await self._missing("prices", prices):
            if price is not None and isinstance(product := price.get("product"), str):
                products.add(product)
        await self._missing("products", products)

    async def _missing(self, resource: str, ids: set[str]) -> list[dict[str, Any] | None]:
        wanted = missing_objects(self.engine, resource, ids) if ids else frozenset()
        tasks = []
        for object_id in sorted(wanted):
            key = (resource, object_id)
            if key not in self.catalog:
                self.catalog[key] = asyncio.create_task(self._catalog_object(resource, object_id))
            tasks.append(self.catalog[key])
        return [await task for task in tasks]

    async def _catalog_object(self, resource: str, object_id: str) -> dict[str, Any] | None:
        try:
            found = await self._retrieve(resource, object_id)
        except _Unknown:
            self.summary.skipped[f"unknown_{resource.removesuffix('s')}"] += 1
            return None
        except BaseException:
            # Not kept: the next customer referring to it tries again.
            self.catalog.pop((resource, object_id), None)
            raise
        self._write(resource, [found])
        return found

    # --- requests and writes -----------------------------------------------------------------

    async def _retrieve(self, resource: str, object_id: str) -> dict[str, Any]:
        """GET one object (https://docs.stripe.com/api/charges/retrieve and the like); raises
        _Unknown on 404 `resource_missing`, ExtractionStopped on a refusal."""
        path = f"{RESOURCE_BY_NAME[resource].path}/{object_id}"
        try:
            return await self.client.get(path)
        except StripeAPIError as exc:
            if exc.status_code == 404 and exc.code == "resource_missing":
                raise _Unknown(object_id) from exc
            raise self._fatal(exc, resource) from exc

    async def _list(self, spec: BackfillResource, owner: str) -> list[dict[str, Any]]:
        """Every object of `spec` whose owner (customer or charge) is `owner`."""
        assert spec.owner_filter is not None
        return await self._collect(spec, {**spec.params, spec.owner_filter: owner})

    async def _collect(self, spec: BackfillResource, params: Params) -> list[dict[str, Any]]:
        """Every object of a list of `spec` filtered by `params`, all pages."""
        found: list[dict[str, Any]] = []
        pages = iter_pages(self.client, spec.path, params)
        try:
            async with aclosing(pages):
                async for data in pages:
                    found.extend(data)
        except StripeAPIError as exc:
            raise self._fatal(exc, spec.name) from exc
        return found

    def _fatal(self, exc: StripeAPIError, resource: str) -> StripeAPIError:
        """The error to raise: a refusal no retry fixes stops everything, others stay as they
        are (and leave one history incomplete)."""
        return stop_error(exc, resource, self.key_prefix) if is_fatal(exc) else exc

    def _write(self, resource: str, objects: list[dict[str, Any]]) -> None:
        # Written on the event loop: a customer's objects are a few small transactions, and one
        # writer at a time spares SQLite's write lock the contention of parallel threads.
        if not objects:
            return
        result = self.ledger.write_objects(
            resource, objects, observed_at=self.observed_at, api_version=STRIPE_API_VERSION
        )
        self.summary.objects_written += result.written
        self.summary.rejected.update(result.rejected)

    def _unreadable(self, what: str, exc: StripeAPIError) -> None:
        if is_fatal(exc):
            raise exc
        if HISTORY_UNREADABLE not in self.summary.rejected:
            self.summary.messages.append(
                f"the history of {what} could not be read and stays incomplete: {exc}"
            )
        self.summary.rejected[HISTORY_UNREADABLE] += 1
        log.warning("the history of %s could not be read, others go on: %s", what, exc)


def _owner(value: Any) -> str | None:
    """The id of a reference that may be expanded into an object."""
    if isinstance(value, Mapping):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def _positive(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _catalog_refs(
    resource: str, objects: Iterable[Mapping[str, Any]], prices: set[str], products: set[str]
) -> None:
    """Add the prices and products that subscriptions' items and invoices' lines refer to.

    A subscription item embeds its `price` (https://docs.stripe.com/api/subscription_items/object);
    an invoice line names its price and product under `pricing.price_details`, or embeds a
    `price` on versions before basil (https://docs.stripe.com/api/invoice-line-item/object).
    """
    field = {"subscriptions": "items", "invoices": "lines"}.get(resource)
    if field is None:
        return
    for obj in objects:
        for entry in _entries(obj.get(field)):
            embedded = entry.get("price") or entry.get("plan")
            if isinstance(embedded, Mapping):
                _add(prices, embedded.get("id"))
                _add(products, _owner(embedded.get("product")))
            else:
                _add(prices, embedded)
            pricing = entry.get("pricing")
            details = pricing.get("price_details") if isinstance(pricing, Mapping) else None
            if isinstance(details, Mapping):
                _add(prices, details.get("price"))
                _add(products, _owner(details.get("product")))


def _entries(listing: Any) -> list[Mapping[str, Any]]:
    data = listing.get("data") if isinstance(listing, Mapping) else None
    return [entry for entry in data if isinstance(entry, Mapping)] if isinstance(data, list) else []


def _add(into: set[str], value: Any) -> None:
    if isinstance(value, str) and value:
        into.add(value)


async def _pool(items: Sequence[str], work: Callable[[str], Awaitable[T]], workers: int) -> list[T]:
    """`work(item)` for every item, `workers` at a time; the results in the items' order.

    The first error cancels the rest and is raised as it is (a TaskGroup would wrap it in an
    ExceptionGroup). A fixed pool rather than a task per item: there may be many thousands.
    """
    results: dict[int, T] = {}
    queue = iter(enumerate(items))

    async def worker() -> None:
        for position, item in queue:  # shared: each item goes to one worker
            results[position] = await work(item)

    tasks = [asyncio.create_task(worker()) for _ in range(min(workers, len(items)))]
    try:
        if tasks:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in tasks:
            if task.done() and not task.cancelled() and (error := task.exception()) is not None:
                raise error
        return [results[position] for position in range(len(items))]
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
