"""Customers and guests: names, emails (missing, shared, messy), currencies, cards, metadata."""

from __future__ import annotations

from typing import Any

from .world import Obj, World, frozen

_FIRST = [
    "Ann",
    "Ben",
    "Chloe",
    "David",
    "Emma",
    "Farid",
    "Grace",
    "Hiro",
    "Ines",
    "Jonas",
    "Kemal",
    "Lena",
    "Mateo",
    "Nora",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sam",
    "Tariq",
    "Uma",
    "Victor",
    "Wen",
    "Ximena",
    "Yuki",
    "Zoe",
    "Aiko",
    "Bruno",
    "Carla",
    "Dmitri",
    "Elif",
    "Femi",
]
_LAST = [
    "Andersen",
    "Baker",
    "Costa",
    "Dubois",
    "Eriksen",
    "Fischer",
    "Garcia",
    "Hansen",
    "Ito",
    "Jensen",
    "Kowalski",
    "Lopez",
    "Moreau",
    "Nakamura",
    "Okafor",
    "Petrov",
    "Quispe",
    "Rossi",
    "Schmidt",
    "Tanaka",
    "Usman",
    "Varga",
    "Weber",
    "Xu",
    "Yilmaz",
    "Zhang",
]
_DOMAINS = ("example.com", "example.org", "example.net", "mail.example.com")
_SOURCES = ("web", "web", "web", "ios", "android", "import")
# (brand, network, last4, country, funding): Stripe's test cards.
_CARDS = (
    ("visa", "visa", "4242", "US", "credit"),
    ("mastercard", "mastercard", "4444", "US", "credit"),
    ("amex", "amex", "8431", "US", "credit"),
    ("visa", "visa", "5556", "US", "debit"),
    ("visa", "visa", "0077", "FR", "credit"),
    ("mastercard", "mastercard", "8210", "GB", "debit"),
    ("jcb", "jcb", "0000", "JP", "credit"),
)
# Currency mix of the account: mostly USD, a few zero-decimal JPY and three-decimal KWD.
_CURRENCY_CUM = (("usd", 0.80), ("eur", 0.89), ("gbp", 0.95), ("jpy", 0.98), ("kwd", 1.0))


class Person:
    """A customer (or a guest, with `obj` None) and what the generator needs to act for them."""

    __slots__ = ("billing", "currency", "deleted", "email", "obj", "pm", "pm_id", "subs")

    def __init__(self, obj: Obj | None, email: str | None, currency: str, billing: Obj) -> None:
        self.obj = obj
        self.email = email
        self.currency = currency
        self.billing = billing  # shared billing_details for this person's charges
        self.deleted = False
        self.pm: Any = None  # the card's payment_method_details (see People.cards)
        self.pm_id = ""
        self.subs: list[Any] = []


class People:
    """Makes people; remembers past emails so that some new ones can reuse them."""

    def __init__(self, w: World) -> None:
        self.w = w
        self.emails: list[str] = []
        tpl = w.tpl["card_details"]
        self.cards: list[Any] = []
        self.networks: dict[int, tuple[str, str]] = {}
        self.address = frozen(w.tpl["address"])  # nobody's address is known
        for i, (brand, network, last4, country, funding) in enumerate(_CARDS):
            card = {
                **tpl,
                "brand": brand,
                "checks": {
                    "address_line1_check": None,
                    "address_postal_code_check": None,
                    "cvc_check": "pass",
                },
                "country": country,
                "exp_month": 1 + i,
                "exp_year": 2030 + i % 3,
                "fingerprint": w.ids.token(16),
                "funding": funding,
                "installments": None,
                "last4": last4,
                "network": network,
                "network_token": {"used": False},
                "overcapture": {"maximum_amount_capturable": 0, "status": "unavailable"},
                "three_d_secure": None,
                "wallet": None,
            }
            # Charges embed the card as pre-serialised JSON; disputes read its brand and network.
            self.cards.append(frozen({"card": card, "type": "card"}))
            self.networks[id(self.cards[-1])] = (brand, network)

    def _currency(self) -> str:
        x = self.w.rnd()
        return next(code for code, bound in _CURRENCY_CUM if x < bound)

    def _email(self, first: str, last: str) -> str | None:
        """A new email, or a messy variant of an earlier one (Stripe allows duplicates)."""
        w = self.w
        x = w.rnd()
        if x < 0.03:
            return None
        if x < 0.07 and self.emails:
            base = w.pick(self.emails)
            local, _, domain = base.partition("@")
            return w.pick(
                (
                    f" {local.capitalize()}@{domain.capitalize()}",
                    f"{local.upper()}@{domain.upper()}",
                    f"{base} ",
                    base,
                )
            )
        n = w.between(0, 1000)
        email = f"{first.lower()}.{last.lower()}{n}@{w.pick(_DOMAINS)}"
        self.emails.append(email)
        return email

    def _billing(self, name: str | None, email: str | None) -> Obj:
        return {
            "address": self.address,
            "email": email,
            "name": name,
            "phone": None,
            "tax_id": None,
        }

    def customer(self, t: int, *, currency_known: bool) -> Person:
        """A new customer created at t (not yet put; the caller emits customer.created)."""
        w = self.w
        rnd = w.rnd
        first, last = w.pick(_FIRST), w.pick(_LAST)
        name = None if rnd() < 0.05 else f"{first} {last}"
        email = self._email(first, last)
        currency = self._currency()
        metadata = {}
        if rnd() < 0.9:
            metadata = {
                "app_user_id": f"u_{w.between(0, 10**8):08d}",
                "signup_source": w.pick(_SOURCES),
            }
        cid = w.ids.short("cus_")
        obj = {
            **w.tpl["customers"],
            "created": t,
            # Stripe sets a customer's currency with its first subscription or invoice only.
            "currency": currency if currency_known else None,
            "email": email,
            "id": cid,
            "invoice_prefix": cid[4:12].upper(),
            "metadata": metadata,
            "name": name,
        }
        person = Person(obj, email, currency, self._billing(name, email))
        person.pm = w.pick(self.cards)
        person.pm_id = w.ids.long("pm_")
        return person

    def guest(self) -> Person:
        """A buyer without a Stripe customer; a third reuse a customer's email."""
        w = self.w
        first, last = w.pick(_FIRST), w.pick(_LAST)
        if self.emails and w.rnd() < 0.3:
            email = w.pick(self.emails)
        else:
            email = f"{first.lower()}{w.between(0, 10**4)}@{w.pick(_DOMAINS)}"
        person = Person(None, email, self._currency(), self._billing(f"{first} {last}", email))
        person.pm = w.pick(self.cards)
        person.pm_id = self.w.ids.long("pm_")
        return person
