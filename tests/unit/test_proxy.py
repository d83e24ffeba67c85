"""Proxies from the environment and the CA bundle setting: the pure rules, no network.

The connections themselves (tunnels, credentials, refusals) are in tests/reliability/
test_network.py.
"""

from __future__ import annotations

import base64
from pathlib import Path

import certifi
import pytest

from stripe_cio import ConfigError, ca_bundle_from_env, stripe_settings_from_env
from stripe_cio.proxy import NoProxyRule, ProxyRoutes, describe_routes, proxy_routes
from stripe_cio.redaction import MASK

PROXY = "http://proxy.corp:3128"
STRIPE_KEY = "sk_test_ProxyUnitKey0123"


def route(env: dict[str, str], url: str = "https://api.stripe.com:443") -> str | None:
    """The variable whose proxy `url` goes through, or None when it goes direct."""
    routes = proxy_routes(env)
    scheme, _, rest = url.partition("://")
    host, _, port = rest.rpartition(":")
    proxy = routes.for_origin(scheme, host, int(port)) if routes else None
    return proxy.variable if proxy else None


# --- which variable ---------------------------------------------------------------------------


def test_nothing_set_means_no_routes_and_no_work() -> None:
    assert proxy_routes({}) is None
    assert proxy_routes({"HTTPS_PROXY": "  ", "NO_PROXY": "example.com"}) is None


@pytest.mark.parametrize(
    ("env", "https", "http"),
    [
        ({"HTTPS_PROXY": PROXY}, "HTTPS_PROXY", None),
        ({"https_proxy": PROXY}, "https_proxy", None),
        ({"HTTP_PROXY": PROXY}, None, "HTTP_PROXY"),
        ({"ALL_PROXY": PROXY}, "ALL_PROXY", "ALL_PROXY"),
        ({"all_proxy": PROXY, "HTTPS_PROXY": PROXY}, "HTTPS_PROXY", "all_proxy"),
        # The lower-case spelling wins, and set empty it unsets (urllib).
        ({"https_proxy": PROXY, "HTTPS_PROXY": "http://other:1"}, "https_proxy", None),
        ({"https_proxy": "", "HTTPS_PROXY": PROXY}, None, None),
        # httpoxy: under CGI, HTTP_PROXY may come from a request header and is ignored.
        ({"HTTP_PROXY": PROXY, "REQUEST_METHOD": "GET"}, None, None),
        ({"http_proxy": PROXY, "REQUEST_METHOD": "GET"}, None, "http_proxy"),
    ],
)
def test_each_scheme_takes_its_variable_then_all_proxy(
    env: dict[str, str], https: str | None, http: str | None
) -> None:
    assert route(env, "https://api.stripe.com:443") == https
    assert route(env, "http://127.0.0.1:12111") == http


def test_a_proxy_url_is_parsed_as_httpx_reads_it() -> None:
    routes = proxy_routes({"HTTPS_PROXY": "proxy.corp"})  # no scheme, no port
    assert routes is not None
    assert routes.https is not None
    assert (routes.https.host, routes.https.port) == ("proxy.corp", 80)
    assert routes.https.authorization is None


def test_credentials_become_basic_auth_and_stay_out_of_display_and_repr() -> None:
    routes = proxy_routes({"HTTPS_PROXY": "http://ops%40corp:s3cr%3At-pass@proxy.corp:3128"})
    assert routes is not None
    assert routes.https is not None
    proxy = routes.https
    assert proxy.authorization == b"Basic " + base64.b64encode(b"ops@corp:s3cr:t-pass")
    assert proxy.display == f"http://ops%40corp:{MASK}@proxy.corp:3128"
    assert "s3cr" not in repr(routes)
    assert proxy.authorization.decode() not in repr(routes)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("socks5://proxy.corp:1080", "names a socks5:// proxy"),
        ("https://proxy.corp:443", "names a https:// proxy"),
        ("http://user:pw-secret-value@[::1", "is not a proxy URL"),
    ],
)
def test_a_proxy_url_stripe_cio_cannot_use_names_its_variable(value: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        proxy_routes({"all_proxy": value})
    message = str(caught.value)
    assert message.startswith(f"all_proxy: {fragment}")
    assert "set the environment variable all_proxy" in message
    assert "pw-secret-value" not in message


# --- NO_PROXY ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("no_proxy", "host", "port", "direct"),
    [
        ("api.stripe.com", "api.stripe.com", 443, True),
        ("API.Stripe.COM", "api.stripe.com", 443, True),
        ("stripe.com", "api.stripe.com", 443, True),  # a domain covers its subdomains
        ("stripe.com", "notstripe.com", 443, False),  # but not a longer name
        (".stripe.com", "stripe.com", 443, True),  # a leading dot is ignored (curl, urllib)
        (".stripe.com", "api.stripe.com", 443, True),
        ("api.stripe.com.", "api.stripe.com", 443, True),
        ("api.stripe.com:443", "api.stripe.com", 443, True),
        ("api.stripe.com:8443", "api.stripe.com", 443, False),
        ("example.com, api.stripe.com ,", "api.stripe.com", 443, True),
        ("example.com", "api.stripe.com", 443, False),
        ("127.0.0.1", "127.0.0.1", 12111, True),
        ("127.0.0.0/8", "127.0.0.9", 12111, True),  # CIDR, as curl takes it
        ("10.0.0.0/8", "127.0.0.9", 12111, False),
        ("127.0.0.1", "localhost", 12111, False),  # names are never resolved to match
        ("::1", "::1", 443, True),
        ("[::1]:443", "[::1]", 443, True),
        ("[::1]:80", "::1", 443, False),
        ("localhost", "localhost", 12111, True),
    ],
)
def test_no_proxy_entries(no_proxy: str, host: str, port: int, direct: bool) -> None:
    routes = proxy_routes({"ALL_PROXY": PROXY, "NO_PROXY": no_proxy})
    assert routes is not None
    assert (routes.for_origin("https", host, port) is None) is direct


@pytest.mark.parametrize("no_proxy", ["*", "example.com,*", " * "])
def test_a_star_sends_everything_direct(no_proxy: str) -> None:
    assert proxy_routes({"HTTPS_PROXY": PROXY, "no_proxy": no_proxy}) is None


def test_empty_no_proxy_entries_are_skipped() -> None:
    assert NoProxyRule.parse(" ") is None
    assert NoProxyRule.parse(".") is None
    routes = proxy_routes({"HTTPS_PROXY": PROXY, "NO_PROXY": ",,"})
    assert routes == ProxyRoutes(http=None, https=routes.https if routes else None)


def test_config_describes_each_route() -> None:
    env = {"HTTPS_PROXY": "http://u:pw-value-1234@proxy.corp:3128", "NO_PROXY": "customer.io"}
    text = describe_routes(env, ["https://api.stripe.com", "https://track.customer.io"])
    assert text == (
        f"https://api.stripe.com through http://u:{MASK}@proxy.corp:3128 (HTTPS_PROXY); "
        "https://track.customer.io direct"
    )


# --- STRIPE_CIO_CA_BUNDLE ---------------------------------------------------------------------


def test_a_pem_bundle_is_taken_and_nothing_else_is() -> None:
    bundle = Path(certifi.where())  # a PEM file of certificates inside the checkout's venv
    settings = stripe_settings_from_env(
        {"STRIPE_API_KEY": STRIPE_KEY, "STRIPE_CIO_CA_BUNDLE": str(bundle)}
    )
    assert settings.ca_bundle == bundle
    assert ca_bundle_from_env({"STRIPE_CIO_CA_BUNDLE": " "}) is None
    assert ca_bundle_from_env({"SSL_CERT_FILE": str(bundle)}) is None


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda folder: folder / "missing.pem", "which does not exist"),
        (lambda folder: folder, "which is not a file"),
        (lambda folder: _write(folder / "ca.pem", b"not a certificate\n"), "no PEM certificate"),
        (lambda folder: _write(folder / "ca.der", b"\x30\x82\x01\x0a"), "no PEM certificate"),
    ],
)
def test_a_bundle_that_cannot_be_used_is_one_line_naming_the_setting(
    tmp_path: Path, make: object, fragment: str
) -> None:
    assert callable(make)
    path = make(tmp_path)
    with pytest.raises(ConfigError) as caught:
        stripe_settings_from_env({"STRIPE_API_KEY": STRIPE_KEY, "STRIPE_CIO_CA_BUNDLE": str(path)})
    message = str(caught.value)
    assert message.startswith("STRIPE_CIO_CA_BUNDLE: ")
    assert str(path) in message
    assert fragment in message
    assert message.endswith("set the environment variable STRIPE_CIO_CA_BUNDLE")
    assert "\n" not in message
    with pytest.raises(ConfigError, match=r"^STRIPE_CIO_CA_BUNDLE: "):
        ca_bundle_from_env({"STRIPE_CIO_CA_BUNDLE": str(path)})


def _write(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path
