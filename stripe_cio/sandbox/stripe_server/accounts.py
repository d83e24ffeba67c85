"""A Connect platform's connected accounts: their Account objects, their state, and each one's
own synthetic account, built on its first request.

`stripe-cio sandbox stripe --accounts N` makes the sandbox a Connect platform. Each connected
account's seed, customer count and months of history derive from the platform's seed and the
account's index, so the same flags give the same accounts on every start; an account's data is
generated only when a request first names it in `Stripe-Account` (fifty accounts of a few
hundred customers start in no time), and the least recently used ones are dropped once the
built accounts together exceed `RESIDENT_CUSTOMER_MONTHS`, to be generated again, the same, on
their next request (history then every clock step since the start, see `advance`).
"""

from __future__ import annotations

import hashlib
import random
from bisect import bisect_left
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Literal

import orjson

from ..synthetic.ids import draw_account_tag
from .errors import account_invalid, not_a_platform, resource_missing
from .query import parse_page_params, reject_params
from .store import StripeStore

if TYPE_CHECKING:
    from ..synthetic import SyntheticAccount

State = Literal["active", "restricted", "deauthorized"]
STATES: tuple[State, ...] = ("active", "restricted", "deauthorized")
MONTH = 2_629_746  # as the synthetic account's
# A built connected account holds ~6.5 KB per customer and month of history (bodies, records
# and the generator's working objects; 50 accounts of 500 customers over 6-18 months took 2 GB):
# at most this many customer-months stay resident, ~0.8 GB, whatever N.
RESIDENT_CUSTOMER_MONTHS = 120_000
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_FIRST = ("Harbor", "Maple", "Copper", "Juniper", "Atlas", "Willow", "Summit", "Cedar", "Nova")
_SECOND = ("Coffee", "Books", "Studio", "Outfitters", "Bakery", "Labs", "Goods", "Fitness")
_TYPES = ("standard", "standard", "express", "custom")  # Standard is the default kind
# Why a restricted account can neither charge nor be paid out: fields past their deadline.
# Values of `requirements.disabled_reason`: https://docs.stripe.com/api/accounts/object
_RESTRICTED_REASON = "requirements.past_due"
_PAST_DUE = ["external_account", "tos_acceptance.date", "tos_acceptance.ip"]


class _ConnectedSink:
    """Files a connected account's objects, its events carrying `account` as Stripe's do for
    Connect (https://docs.stripe.com/api/events/object, attribute `account`)."""

    def __init__(self, store: StripeStore, account_id: str) -> None:
        self._store = store
        self._account_id = account_id

    def put(self, resource: str, obj: dict[str, Any]) -> None:
        if resource == "events":
            obj = {"account": self._account_id, **obj}  # keys stay in the template's order
        self._store.put(resource, obj)


class ConnectedAccount:
    """One connected account: what derives from the seed, its state, and its data if built."""

    __slots__ = (
        "country",
        "created",
        "customers",
        "email",
        "generator",
        "id",
        "index",
        "months",
        "name",
        "seed",
        "state",
        "store",
        "type",
    )

    def __init__(self, seed: int, index: int, customers: int, months: int, now: int) -> None:
        digest = hashlib.sha256(f"stripe-cio connect {seed} {index}".encode()).digest()
        self.seed = int.from_bytes(digest[:8], "big")
        self.index = index
        rng = random.Random(self.seed + 1)  # not the account's own stream (that makes its ids)
        self.customers = round(customers * (0.5 + rng.random()))  # 0.5x to 1.5x
        self.months = max(1, round(months * (0.5 + rng.random())))
        # Stripe's account ids carry the tag that its objects' ids carry (acct_1PgafT|B7WZ01zgkW,
        # ch_3Pgafu|B7WZ01zgkW...): the tag of this account's own generator.
        _, tag = draw_account_tag(random.Random(self.seed))
        self.id = "acct_1" + "".join(rng.choice(_ALPHABET) for _ in range(5)) + tag
        self.created = now - self.months * MONTH - rng.randrange(86_400, 30 * 86_400)
        self.name = f"{rng.choice(_FIRST)} {rng.choice(_SECOND)}"
        slug = self.name.lower().replace(" ", "-")
        self.email = f"owner+{index + 1}@{slug}.example.com"
        self.type = rng.choice(_TYPES)
        self.country = "US"
        self.state: State = "active"
        self.store: StripeStore | None = None
        self.generator: SyntheticAccount | None = None

    @property
    def weight(self) -> int:
        """Its size once built, in customer-months (see RESIDENT_CUSTOMER_MONTHS)."""
        return max(1, self.customers) * self.months

    def body(self) -> bytes:
        """The Account object as `GET /v1/accounts/{id}` serves it.

        Shapes per https://docs.stripe.com/api/accounts/object: a restricted account can
        neither charge nor receive payouts, and says why in `requirements.disabled_reason`.
        """
        restricted = self.state == "restricted"
        enabled = not restricted
        capability = "inactive" if restricted else "active"
        due = list(_PAST_DUE) if restricted else []
        slug = self.name.lower().replace(" ", "-")
        requirements = {
            "alternatives": [],
            "current_deadline": None,
            "currently_due": due,
            "disabled_reason": _RESTRICTED_REASON if restricted else None,
            "errors": [],
            "eventually_due": due,
            "past_due": due,
            "pending_verification": [],
        }
        return orjson.dumps(
            {
                "id": self.id,
                "object": "account",
                "business_profile": {
                    "mcc": "5734",
                    "name": self.name,
                    "product_description": None,
                    "support_email": self.email,
                    "support_phone": None,
                    "support_url": None,
                    "url": f"https://{slug}.example.com",
                },
                "business_type": "company",
                "capabilities": {"card_payments": capability, "transfers": capability},
                "charges_enabled": enabled,
                "controller": {"type": "account" if self.type == "standard" else "application"},
                "country": self.country,
                "created": self.created,
                "default_currency": "usd",
                "details_submitted": True,
                "email": self.email,
                "external_accounts": {
                    "object": "list",
                    "data": [],
                    "has_more": False,
                    "url": f"/v1/accounts/{self.id}/external_accounts",
                },
                "future_requirements": {**requirements, "disabled_reason": None, **_NONE_DUE},
                "metadata": {"sandbox_index": str(self.index)},
                "payouts_enabled": enabled,
                "requirements": requirements,
                "tos_acceptance": {"date": self.created, "ip": None, "user_agent": None},
                "type": self.type,
            }
        )


_NONE_DUE: dict[str, list[str]] = {"currently_due": [], "eventually_due": [], "past_due": []}


class ConnectPlatform:
    """The platform's connected accounts, their clock, and which of them are built."""

    def __init__(
        self,
        *,
        seed: int,
        customers: int,
        months: int,
        now: int,
        count: int,
        restricted: int = 0,
        deauthorized: int = 0,
        resident_customer_months: int = RESIDENT_CUSTOMER_MONTHS,
    ) -> None:
        if count < 1 or restricted < 0 or deauthorized < 0 or restricted + deauthorized > count:
            raise ValueError("need 1+ accounts, and no more restricted + deauthorized than that")
        self.start = self.now = now
        self.accounts = [ConnectedAccount(seed, i, customers, months, now) for i in range(count)]
        self.by_id = {account.id: account for account in self.accounts}
        order = list(range(count))
        random.Random(f"{seed}:connect-states").shuffle(order)
        for position, index in enumerate(order[: restricted + deauthorized]):
            self.accounts[index].state = "restricted" if position < restricted else "deauthorized"
        self.resident_customer_months = resident_customer_months
        self.builds = 0
        self._steps: list[int] = []  # every clock step since the start, to replay on a build
        self._resident: OrderedDict[str, ConnectedAccount] = OrderedDict()

    # --- acting as a connected account ---------------------------------------------------

    def resolve(self, header: bytes, key: str) -> ConnectedAccount:
        """The account a `Stripe-Account` header names; StripeError if the platform cannot act
        for it (unknown, malformed or deauthorised: Stripe answers all alike)."""
        value = header.decode("latin-1").strip()
        account = self.by_id.get(value)
        if account is None or account.state == "deauthorized":
            raise account_invalid(key, value[:255])
        return account

    def store(self, account: ConnectedAccount) -> StripeStore:
        """The account's data, generated now if it is not resident."""
        if account.store is not None:
            self._resident.move_to_end(account.id)
            return account.store
        from ..synthetic import SyntheticAccount  # lazy, as for the platform's own account

        store = StripeStore()
        generator = SyntheticAccount(
            _ConnectedSink(store, account.id),
            seed=account.seed,
            customers=account.customers,
            months=account.months,
            now=self.start,
        )
        generator.generate()
        for step in self._steps:  # the same steps give the same activity as when it happened
            generator.advance(step)
        account.store, account.generator = store, generator
        self.builds += 1
        self._resident[account.id] = account
        self._evict(keep=account)
        return store

    def _evict(self, keep: ConnectedAccount) -> None:
        total = sum(a.weight for a in self._resident.values())
        for account in list(self._resident.values()):
            if total <= self.resident_customer_months:
                return
            if account is not keep:
                self._drop(account)
                total -= account.weight

    def _drop(self, account: ConnectedAccount) -> None:
        self._resident.pop(account.id, None)
        if account.generator is not None:
            account.generator.release()
        account.store, account.generator = None, None

    def advance(self, seconds: int) -> None:
        """Move every connected account's clock with the platform's: the resident ones generate
        the span's activity now, the others when they are next built."""
        self._steps.append(seconds)
        self.now += seconds
        for account in self._resident.values():
            assert account.generator is not None
            account.generator.advance(seconds)

    # --- the Accounts API ----------------------------------------------------------------

    def route(self, rest: str, query: bytes, key: str, acting: ConnectedAccount | None) -> bytes:
        """`GET /v1/accounts` or `/v1/accounts/{id}` (`rest` is the path after /v1/)."""
        object_id = rest.removeprefix("accounts").removeprefix("/")
        if acting is not None:  # a connected account is no platform: it sees only itself
            if object_id != acting.id:
                raise not_a_platform()
            reject_params(query)
            return acting.body()
        if not object_id:
            return self._list(query)
        reject_params(query)
        account = self.by_id.get(object_id)
        if account is None or account.state == "deauthorized":
            raise account_invalid(key, object_id)
        return account.body()

    def _list(self, query: bytes) -> bytes:
        """Connected accounts newest first, paginated as every other list; a deauthorised
        account is no longer connected, so no longer listed."""
        params = parse_page_params(query)
        listed = sorted(
            (account.created, account.id, account)
            for account in self.accounts
            if account.state != "deauthorized"
        )
        keys = [(created, account_id) for created, account_id, _ in listed]
        low, high, ascending = params.low, params.high, False
        for name, object_id in params.cursors.items():
            cursor = self.by_id.get(object_id)
            if cursor is None or cursor.state == "deauthorized":
                raise resource_missing("account", object_id, param=name)
            if name == "starting_after":
                high = min(high, (cursor.created, cursor.id))
            else:
                low, ascending = max(low, (cursor.created, cursor.id + "\x00")), True
        start, stop = bisect_left(keys, low), bisect_left(keys, high)
        limit = params.limit
        if ascending:  # `ending_before`: the accounts just newer than the cursor
            chosen, more = listed[start : min(stop, start + limit)], start + limit < stop
        else:
            chosen, more = listed[max(start, stop - limit) : stop], stop - limit > start
        chosen.reverse()
        return b"".join(
            (
                b'{"object":"list","data":[',
                b",".join(account.body() for _, _, account in chosen),
                b'],"has_more":true' if more else b'],"has_more":false',
                b',"url":"/v1/accounts"}',
            )
        )

    # --- control ---------------------------------------------------------------------------

    def set_state(self, account_id: str, state: object) -> ConnectedAccount:
        """Change an account's state (KeyError: unknown id; ValueError: unknown state)."""
        account = self.by_id[account_id]
        if state not in STATES:
            raise ValueError("state must be one of " + ", ".join(STATES))
        account.state = state
        if state == "deauthorized":
            self._drop(account)  # nobody may read it any more: free its data
        return account

    def describe(self, account: ConnectedAccount) -> dict[str, Any]:
        """What `/_sandbox/accounts` shows of one account."""
        return {
            "id": account.id,
            "state": account.state,
            "customers": account.customers,
            "months": account.months,
            "resident": account.store is not None,
        }

    def stats(self) -> dict[str, Any]:
        return {
            "accounts": len(self.accounts),
            "resident": len(self._resident),
            "resident_customer_months": sum(a.weight for a in self._resident.values()),
            "builds": self.builds,
        }
