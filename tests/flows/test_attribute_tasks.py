"""The attribute task under Prefect's harness, on a SQLite ledger written through the ledger."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from prefect import flow

from stripe_cio import ConfigError, LedgerSettings
from stripe_cio.attributes import AttributeResult
from stripe_cio.ledger import Ledger
from tasks.attributes import compute_attributes

pytestmark = pytest.mark.prefect

AS_OF = 1_780_000_000


@pytest.fixture
def ledger_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with Ledger.open(LedgerSettings(database_url=url)) as ledger:
        customer = {"object": "customer", "created": AS_OF - 9000, "metadata": {"uid": "u-7"}}
        ledger.write_objects(
            "customers",
            [
                {**customer, "id": "cus_1", "email": "Ann@Example.com"},
                {**customer, "id": "cus_2", "email": None},
            ],
            observed_at=AS_OF,
        )
        charge = {"object": "charge", "amount": 1250, "amount_captured": 1250, "currency": "eur"}
        ledger.write_objects(
            "charges",
            [
                {
                    **charge,
                    "id": "ch_1",
                    "created": AS_OF - 500,
                    "status": "succeeded",
                    "amount_refunded": 0,
                    "customer": "cus_1",
                },
                {
                    **charge,
                    "id": "ch_2",
                    "created": AS_OF - 400,
                    "status": "succeeded",
                    "amount_refunded": 0,
                    "customer": "cus_2",
                },
            ],
            observed_at=AS_OF,
        )
    return url


def run(**parameters: Any) -> AttributeResult:
    @flow
    async def attributes() -> AttributeResult:
        result: AttributeResult = await compute_attributes(**parameters)
        return result

    return asyncio.run(attributes())


def test_the_task_computes_attributes_and_counts_skips(ledger_url: str) -> None:
    result = run(as_of=datetime.fromtimestamp(AS_OF, UTC), database_url=ledger_url)
    assert list(result.attributes.index) == ["ann@example.com"]
    assert result.attributes.loc["ann@example.com", "stripe_total_spent"] == 12.5
    assert result.attributes.loc["ann@example.com", "stripe_purchases_last_30d"] == 1
    assert result.skipped.as_dict()["charges"] == {"no_identifier": 1}


def test_settings_come_from_parameters_else_the_environment(
    ledger_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STRIPE_CIO_DATABASE_URL", ledger_url)
    monkeypatch.setenv("STRIPE_CIO_IDENTIFIER", "metadata:uid")
    result = run(as_of=AS_OF, prefix="pay_")
    assert list(result.attributes.index) == ["u-7"]
    assert result.attributes.loc["u-7", "pay_purchase_count"] == 2


def test_a_bad_identifier_fails_the_task_with_a_config_error(ledger_url: str) -> None:
    with pytest.raises(ConfigError, match="identifier"):
        run(as_of=AS_OF, database_url=ledger_url, identifier="phone")
