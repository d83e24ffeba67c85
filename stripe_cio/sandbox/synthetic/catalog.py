"""Products and prices: a small catalogue of plans and one-off items in every currency used."""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

from .world import DAY, Obj, World

CURRENCIES = ("usd", "eur", "gbp", "jpy", "kwd")
# Stripe amounts are in the currency's minor unit: JPY has none (¥2,900 is 2900), KWD has three
# decimals (5.890 KWD is 5890). Prices are derived from a USD amount in cents.
_RATES = {
    "usd": (1.0, 100),
    "eur": (0.9, 100),
    "gbp": (0.8, 100),
    "jpy": (1.5, 1),
    "kwd": (3.1, 10),
}
_SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥", "kwd": "KWD "}
_DECIMALS = {"usd": 2, "eur": 2, "gbp": 2, "jpy": 0, "kwd": 3}

# (product, interval, interval_count, usd cents, seats?, nickname, lookup_key, weight)
_PLANS: tuple[tuple[str, str, int, int, bool, str | None, str | None, int], ...] = (
    ("Starter", "month", 1, 900, False, "Starter monthly", "starter_monthly", 14),
    ("Starter", "year", 1, 9000, False, None, "starter_yearly", 5),
    ("Pro", "month", 1, 2900, False, "Pro monthly", None, 10),
    ("Pro", "year", 1, 29000, False, "Pro yearly", "pro_yearly", 5),
    ("Team", "month", 1, 1500, True, None, "team_seat_monthly", 6),
    ("Team", "month", 3, 4200, True, "Team quarterly", None, 3),
    ("Weekly Box", "week", 1, 1900, False, "Weekly box", "box_weekly", 26),
    ("Weekly Box", "week", 3, 5200, False, None, None, 8),
    ("Magazine", "month", 3, 2400, False, "Magazine quarterly", "magazine_quarterly", 4),
)
_ONE_OFF: tuple[tuple[str, int], ...] = (("Gift card", 5000), ("Setup fee", 4900))
SHOP_PRODUCTS = ("Coffee beans", "Mug", "Tote bag", "Sticker pack", "Cookbook", "T-shirt")


@dataclass(frozen=True, slots=True)
class Plan:
    """One recurring price with what the generator needs to bill it."""

    price: Obj
    plan: Obj  # the legacy `plan` object Stripe still embeds in subscription items
    product_name: str
    seats: bool
    interval: str
    interval_count: int
    unit_amount: int


@dataclass(slots=True)
class Catalog:
    """Recurring plans and one-off prices per currency."""

    plans: dict[str, list[Plan]]
    plan_bounds: list[int]  # cumulative weights of the plans (the same order in every currency)
    one_off: dict[str, list[Obj]]
    # (price id, quantity, trial) → an invoice line's description and `pricing` (see invoices)
    lines: dict[tuple[str, int, bool], tuple[str, Any]] = field(default_factory=dict)


def convert(currency: str, usd_cents: int) -> int:
    """A round price in `currency` minor units for an amount given in US cents."""
    rate, step = _RATES[currency]
    return max(step, round(usd_cents * rate / step) * step)


def money(currency: str, minor: int) -> str:
    """Format an amount as Stripe's invoice line descriptions do ("$19.00", "¥2,900")."""
    decimals = _DECIMALS[currency]
    major = minor / 10**decimals
    return f"{_SYMBOLS[currency]}{major:,.{decimals}f}"


def _product(w: World, name: str, created: int) -> Obj:
    return {
        **w.tpl["products"],
        "created": created,
        "id": w.ids.short("prod_"),
        "name": name,
        "updated": created,
    }


def _price(w: World, product: Obj, currency: str, amount: int, created: int, **extra: Any) -> Obj:
    return {
        **w.tpl["prices"],
        "created": created,
        "currency": currency,
        "id": w.ids.long("price_"),
        "product": product["id"],
        "recurring": None,
        "type": "one_time",
        "unit_amount": amount,
        "unit_amount_decimal": str(amount),
        **extra,
    }


def build_catalog(w: World, created: int) -> Catalog:
    """Create every product and price at `created` (before the first customer) and put them."""
    products: dict[str, Obj] = {}
    plans: dict[str, list[Plan]] = {c: [] for c in CURRENCIES}
    one_off: dict[str, list[Obj]] = {c: [] for c in CURRENCIES}
    prices: list[Obj] = []
    for name, interval, count, cents, seats, nickname, lookup_key, _ in _PLANS:
        product = products.get(name) or products.setdefault(name, _product(w, name, created))
        for currency in CURRENCIES:
            amount = convert(currency, cents)
            # Stripe lookup keys are unique per account, so only one currency carries each.
            recurring = {
                "interval": interval,
                "interval_count": count,
                "meter": None,
                "trial_period_days": None,
                "usage_type": "licensed",
            }
            price = _price(
                w,
                product,
                currency,
                amount,
                created,
                lookup_key=lookup_key if currency == "usd" else None,
                nickname=nickname,
                recurring=recurring,
                type="recurring",
            )
            plan = {
                "active": True,
                "amount": amount,
                "amount_decimal": str(amount),
                "billing_scheme": "per_unit",
                "created": created,
                "currency": currency,
                "id": price["id"],
                "interval": interval,
                "interval_count": count,
                "livemode": False,
                "metadata": {},
                "meter": None,
                "nickname": nickname,
                "object": "plan",
                "product": product["id"],
                "tiers_mode": None,
                "transform_usage": None,
                "trial_period_days": None,
                "usage_type": "licensed",
            }
            prices.append(price)
            plans[currency].append(Plan(price, plan, name, seats, interval, count, amount))
    for name, cents in _ONE_OFF:
        product = _product(w, name, created)
        products[name] = product
        for currency in CURRENCIES:
            price = _price(w, product, currency, convert(currency, cents), created)
            prices.append(price)
            one_off[currency].append(price)
    for product in products.values():
        first = next(p for p in prices if p["product"] == product["id"])
        w.put("products", {**product, "default_price": first["id"]})
    for price in prices:
        w.put("prices", price)
    return Catalog(plans, list(accumulate(p[7] for p in _PLANS)), one_off)


def add_interval(t: int, interval: str, count: int) -> int:
    """The end of a billing period starting at t (months are approximated as 1/12 year)."""
    if interval == "week":
        return t + 7 * DAY * count
    if interval == "month":
        return t + 2_629_746 * count
    return t + 31_556_952 * count
