"""Redaction: registered secrets and secret-shaped tokens never reach a log line."""

from __future__ import annotations

import logging

import pytest

from stripe_cio import redact, register_secret
from stripe_cio.redaction import MASK, SecretRedactingFilter, install_log_redaction, mask_url


def test_stripe_keys_are_masked_by_shape() -> None:
    text = "key sk_live_abcdefgh12345678 and rk_test_ZZZZyyyy0000 in one line"
    assert redact(text) == f"key {MASK} and {MASK} in one line"


def test_masked_keys_as_stripe_echoes_them_survive() -> None:
    text = "Invalid API Key provided: sk_test_********************1234"
    assert redact(text) == text


def test_credential_headers_are_masked() -> None:
    assert (
        redact("Authorization: Basic c2l0ZTprZXktdmFsdWUtbG9uZw==")
        == f"Authorization: Basic {MASK}"
    )
    assert redact("{'authorization': 'Bearer abc.def'}") == f"{{'authorization': 'Bearer {MASK}'}}"


def test_registered_secrets_are_masked_exactly() -> None:
    register_secret("hex0123456789abcdef")
    assert redact("token=hex0123456789abcdef;") == f"token={MASK};"


def test_short_strings_are_not_treated_as_secrets() -> None:
    register_secret("abc")
    assert redact("abc abc") == "abc abc"


def test_filter_masks_formatted_message_and_traceback(caplog: pytest.LogCaptureFixture) -> None:
    register_secret("cio-key-0123456789")
    logger = logging.getLogger("test.redact")
    handler = logging.Handler()
    records: list[logging.LogRecord] = []
    handler.emit = records.append  # type: ignore[method-assign,assignment]
    handler.addFilter(SecretRedactingFilter())
    logger.addHandler(handler)
    try:
        logger.warning("calling with %s", "cio-key-0123456789")
        try:
            raise RuntimeError("failed with sk_test_abcdefgh12345678")
        except RuntimeError:
            logger.exception("boom")
    finally:
        logger.removeHandler(handler)
    assert records[0].getMessage() == f"calling with {MASK}"
    assert records[1].exc_text is not None
    assert "sk_test_abcdefgh12345678" not in records[1].exc_text
    assert MASK in records[1].exc_text


def test_install_adds_the_filter_once() -> None:
    logger = logging.getLogger("test.redact.install")
    handler = logging.StreamHandler()
    logger.addHandler(handler)
    try:
        install_log_redaction(logger)
        install_log_redaction(logger)
        assert sum(isinstance(f, SecretRedactingFilter) for f in handler.filters) == 1
    finally:
        logger.removeHandler(handler)


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql://ledger:pw0@host/db", f"postgresql://ledger:{MASK}@host/db"),
        (
            "postgresql://ledger@host/db?sslmode=require&password=pw1",
            f"postgresql://ledger@host/db?sslmode=require&password={MASK}",
        ),
        ("postgresql://h/db?sslpassword=pw2", f"postgresql://h/db?sslpassword={MASK}"),
        (
            "https://u:pw3@track.example.com/x?api_key=k1&token=t1&page=2",
            f"https://u:{MASK}@track.example.com/x?api_key={MASK}&token={MASK}&page=2",
        ),
        ("sqlite:////var/lib/stripe-cio/ledger.db", "sqlite:////var/lib/stripe-cio/ledger.db"),
        ("http://127.0.0.1:12112", "http://127.0.0.1:12112"),
        ("https://user@host/path?sslmode=require", "https://user@host/path?sslmode=require"),
    ],
)
def test_urls_are_shown_with_their_secrets_masked(url: str, masked: str) -> None:
    assert mask_url(url) == masked
    # A secret value runs to the next space: it may hold any other character.
    said = redact(f"could not connect to {url} (refused)")
    assert said == f"could not connect to {masked} (refused)"
