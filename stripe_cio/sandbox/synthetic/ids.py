"""Stripe-looking object ids: unique, deterministic for a seed, and cheap to make."""

from __future__ import annotations

import random

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_PAIRS = [a + b for a in _ALPHABET for b in _ALPHABET]  # 62² two-character digits
_POOL = 4096  # random-looking tails, reused (uniqueness comes from the head)
_SHARD_IDS = 3844**3 // 4


def draw_account_tag(rng: random.Random) -> tuple[int, str]:
    """An IdFactory's first draws: its counter's start and the account tag in its ids.

    Apart so that a connected account's `acct_` id can carry the tag of its objects' ids, as
    Stripe's do, without generating the account (see stripe_server/accounts.py).
    """
    start = rng.randrange(3844)
    return start, "".join(rng.choice(_ALPHABET) for _ in range(10))


class IdFactory:
    """Makes ids such as `ch_3Pgafu…` from one counter, a seed-derived account tag and tail.

    Stripe's long ids (charges, events...) are 24 characters after the prefix, with the account
    embedded in the middle; customer, product and subscription-item ids are 14 characters.
    """

    def __init__(self, rng: random.Random) -> None:
        self._n, self.account = draw_account_tag(rng)
        self._tails = ["".join(rng.choices(_ALPHABET, k=8)) for _ in range(_POOL)]
        # Three independently shuffled tables of two-character digits: the counter's base-3844
        # digits map through them, a bijection, so distinct counters give distinct heads.
        self._digits = []
        for _ in range(3):
            table = list(_PAIRS)
            rng.shuffle(table)
            self._digits.append(table)
        self._low = self._digits[0]
        # 40-character tails made of five short ones, for the longer ids and tokens.
        tails = self._tails
        self._tails40 = [
            "".join(tails[(i * k) % _POOL] for k in (3, 5, 7, 11, 13)) for i in range(_POOL)
        ]
        self._upper = ""  # the head's two upper digits and the account, for the current n
        self._set_upper(self._n)

    def skip_to_shard(self, shard: int) -> None:
        """Move the counter into shard `shard`'s own range, so shards of one account never
        share an id while keeping the account's tag (3844**3 heads: room for 4 shards of
        14 billion ids each)."""
        if not 0 <= shard < 4:
            raise ValueError("shard must be in 0..3")
        if shard:
            self._n = max(self._n, shard * _SHARD_IDS)
            self._set_upper(self._n)

    def _set_upper(self, n: int) -> None:
        _, mid, high = self._digits
        self._upper = mid[n // 3844 % 3844] + high[n // 14_776_336 % 3844] + self.account

    def _head(self) -> str:
        self._n = n = self._n + 1
        low = n % 3844
        if low == 0:
            self._set_upper(n)
        return self._digits[0][low] + self._upper[:4]

    def long(self, prefix: str) -> str:
        """`prefix` + 24 characters, like `ch_3PgafuB7WZ01zgkW0XYmPNZs`."""
        self._n = n = self._n + 1
        low = n % 3844
        if low == 0:
            self._set_upper(n)  # the upper digits change once every 3844 ids
        return prefix + self._low[low] + self._upper + self._tails[n % _POOL]

    def short(self, prefix: str) -> str:
        """`prefix` + 14 characters, like `cus_QXg1o8vcGmoR32`."""
        return prefix + self._head() + self._tails[self._n % _POOL]

    def checkout(self) -> str:
        """A Checkout Session id: `cs_test_a1` and 56 more characters, as Stripe's test ids."""
        head = self._head()
        return "cs_test_a1" + head + self.account + self._tails40[self._n % _POOL]

    def token(self, length: int = 24) -> str:
        """A random-looking token (receipt and hosted-invoice URLs, client secrets)."""
        head = self._head()
        return (head + self._tails40[(self._n * 17) % _POOL])[:length]
