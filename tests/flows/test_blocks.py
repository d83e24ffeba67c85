"""Credential blocks against a real (temporary) Prefect API: round trips, errors, no secrets."""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import subprocess
import sys
from pathlib import Path

import certifi
import pytest
from prefect import flow, get_run_logger
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
from prefect.logging.handlers import APILogHandler
from prefect.settings import PREFECT_API_URL
from prefect.utilities.importtools import to_qualified_name

from blocks import CustomerIOCredentials, StripeCredentials, customerio_settings, stripe_settings
from stripe_cio import ConfigError
from stripe_cio.cio_api import CustomerIOClient
from stripe_cio.stripe_api import StripeClient

pytestmark = pytest.mark.prefect

STRIPE_KEY = "sk_test_51BlockSentinel0123456789"
CIO_KEY = "cio-block-sentinel-0123456789"


def test_stripe_block_round_trips_and_builds_a_client() -> None:
    StripeCredentials(api_key=STRIPE_KEY, account="acct_77", requests_per_second=10).save_sync(
        "rt-stripe", overwrite=True
    )
    loaded = StripeCredentials.load_sync("rt-stripe")
    settings = loaded.to_settings()
    assert settings.api_key.get_secret_value() == STRIPE_KEY
    assert settings.account == "acct_77"
    assert settings.effective_requests_per_second == 10
    assert isinstance(loaded.get_client(), StripeClient)
    assert STRIPE_KEY not in repr(loaded) + str(loaded)


def test_customerio_block_round_trips_and_builds_a_client() -> None:
    CustomerIOCredentials(site_id="site-5", api_key=CIO_KEY, region="EU").save_sync(
        "rt-cio", overwrite=True
    )
    loaded = CustomerIOCredentials.load_sync("rt-cio")
    settings = loaded.to_settings()
    assert settings.base_url == "https://track-eu.customer.io"
    assert settings.requests_per_second == 100
    assert isinstance(loaded.get_client(), CustomerIOClient)
    assert CIO_KEY not in repr(loaded) + str(loaded)


def test_bad_block_field_fails_in_one_line_naming_the_field() -> None:
    with pytest.raises(ConfigError) as caught:
        StripeCredentials(api_key="pk_test_abcdef0123")
    message = str(caught.value)
    assert message.startswith("StripeCredentials.api_key: is a publishable key")
    assert "Prefect UI" in message
    assert "\n" not in message


def test_block_edited_into_a_bad_state_fails_at_load_naming_the_block() -> None:
    block_id = CustomerIOCredentials(site_id="site-1", api_key=CIO_KEY).save_sync(
        "to-break", overwrite=True
    )

    async def break_region() -> None:
        async with get_client() as client:
            document = await client.read_block_document(block_id)
            data = {**document.data, "region": "mars"}
            from prefect.client.schemas.actions import BlockDocumentUpdate

            await client.update_block_document(block_id, BlockDocumentUpdate(data=data))

    asyncio.run(break_region())
    with pytest.raises(ConfigError) as caught:
        CustomerIOCredentials.load_sync("to-break")
    assert str(caught.value).startswith("CustomerIOCredentials.region: must be 'us' or 'eu'")
    assert "'to-break'" in str(caught.value)


def test_blocks_take_the_ca_bundle_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A block is an account's credentials; the CA to trust belongs to the machine running it."""
    stripe_block = StripeCredentials(api_key=STRIPE_KEY)
    cio_block = CustomerIOCredentials(site_id="site-ca", api_key=CIO_KEY)
    assert stripe_block.to_settings().ca_bundle is None
    monkeypatch.setenv("STRIPE_CIO_CA_BUNDLE", certifi.where())  # a PEM file in the checkout
    assert stripe_block.to_settings().ca_bundle == Path(certifi.where())
    assert cio_block.to_settings().ca_bundle == Path(certifi.where())
    monkeypatch.setenv("STRIPE_CIO_CA_BUNDLE", str(tmp_path / "missing.pem"))
    with pytest.raises(ConfigError) as caught:
        stripe_block.get_client()
    # Named as the environment variable it is, not as a field of the block.
    assert str(caught.value).startswith("STRIPE_CIO_CA_BUNDLE: names ")
    assert str(caught.value).endswith("set the environment variable STRIPE_CIO_CA_BUNDLE")
    assert StripeCredentials(api_key=STRIPE_KEY).api_key  # building a block does not read it


def test_settings_fall_back_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRIPE_API_KEY", STRIPE_KEY)
    monkeypatch.setenv("CUSTOMERIO_SITE_ID", "env-site")
    monkeypatch.setenv("CUSTOMERIO_API_KEY", CIO_KEY)
    assert stripe_settings(None).api_key.get_secret_value() == STRIPE_KEY
    assert customerio_settings(None).site_id == "env-site"


def test_cli_registers_block_types_and_saves_blocks_from_env() -> None:
    env = {
        **os.environ,
        "PREFECT_API_URL": str(PREFECT_API_URL.value()),
        "STRIPE_API_KEY": STRIPE_KEY,
        "CUSTOMERIO_SITE_ID": "cli-site",
        "CUSTOMERIO_API_KEY": CIO_KEY,
    }
    for args in (
        ["blocks", "register"],
        ["blocks", "save-from-env", "--stripe", "from-env", "--customerio", "from-env"],
    ):
        result = subprocess.run(
            [sys.executable, "-m", "cli", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert STRIPE_KEY not in result.stdout + result.stderr
        assert CIO_KEY not in result.stdout + result.stderr

    async def slugs() -> set[str]:
        async with get_client() as client:
            return {t.slug for t in await client.read_block_types()}

    expected = {
        StripeCredentials.get_block_type_slug(),
        CustomerIOCredentials.get_block_type_slug(),
    }
    assert expected <= asyncio.run(slugs())
    assert stripe_settings("from-env").api_key.get_secret_value() == STRIPE_KEY
    assert customerio_settings("from-env").site_id == "cli-site"


# The slugs saved blocks are found by on servers that registered the types before: fixed.
SLUGS: dict[type[StripeCredentials | CustomerIOCredentials], str] = {
    StripeCredentials: "stripe-credentials",
    CustomerIOCredentials: "customer-io-credentials",
}


def test_the_registered_block_types_show_a_public_import_path_and_keep_their_slugs() -> None:
    # Prefect's UI shows a block type's code example, generated from the class's qualified
    # name (`Block._generate_code_example`): `from <module> import <class>`.
    for block_type in (StripeCredentials, CustomerIOCredentials):
        module, _, name = to_qualified_name(block_type).rpartition(".")
        assert "._" not in f".{module}", module
        assert getattr(importlib.import_module(module), name) is block_type
        assert block_type.get_block_type_slug() == SLUGS[block_type]
        for schema_field in block_type._to_block_schema().fields.values():
            assert "._" not in str(schema_field)
    StripeCredentials.register_type_and_schema()
    CustomerIOCredentials.register_type_and_schema()

    async def registered(slug: str) -> str | None:
        async with get_client() as client:
            return (await client.read_block_type_by_slug(slug)).code_example

    for block_type, slug in SLUGS.items():
        example = asyncio.run(registered(slug))
        assert example is not None
        assert f"from blocks.credentials import {block_type.__name__}" in example
        assert "._" not in example


def test_a_flow_run_using_the_blocks_logs_no_secret(caplog: pytest.LogCaptureFixture) -> None:
    StripeCredentials(api_key=STRIPE_KEY).save_sync("logged", overwrite=True)
    CustomerIOCredentials(site_id="s", api_key=CIO_KEY).save_sync("logged", overwrite=True)

    @flow
    def uses_credentials() -> str:
        logger = get_run_logger()
        stripe = stripe_settings("logged")
        cio = customerio_settings("logged")
        logger.info("stripe settings %s, customer.io settings %r", stripe, cio)
        logger.info("clients %r %r", StripeClient(stripe), CustomerIOClient(cio))
        return "done"

    caplog.set_level(logging.DEBUG)
    state = uses_credentials(return_state=True)
    assert state.is_completed()

    async def run_logs() -> str:
        async with get_client() as client:
            logs = await client.read_logs(
                LogFilter(flow_run_id=LogFilterFlowRunId(any_=[state.state_details.flow_run_id]))
            )
        return "\n".join(log.message for log in logs)

    asyncio.run(APILogHandler.aflush())  # run logs reach the API in batches: send them
    stored = asyncio.run(run_logs())
    assert "stripe settings" in stored
    for secret in (STRIPE_KEY, CIO_KEY):
        assert secret not in stored
        assert secret not in caplog.text
