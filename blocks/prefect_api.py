"""The Prefect API's failures as the project's errors: one line naming the API (secrets masked)
and what to do, for every command and flow that talks to it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError
from prefect.settings import PREFECT_API_URL

from stripe_cio import ConfigError, PrefectAPIError, PrefectUnavailableError, mask_url


def api_url() -> str:
    """The Prefect API this process talks to, masked; a temporary local one when unset."""
    url = PREFECT_API_URL.value()
    return mask_url(url) if url else "(none: PREFECT_API_URL is unset, a temporary local server)"


def missing_block(block_type: str, name: str, parameter: str) -> ConfigError:
    """The one-line error for a block name that names no saved block."""
    return ConfigError(
        parameter,
        f"there is no {block_type} block named {name!r} on the Prefect API at {api_url()}",
        "save one (`stripe-cio blocks save-from-env`, or in the Prefect UI under Blocks) or give "
        "the name of an existing one",
    )


@contextmanager
def prefect_api_errors(doing: str) -> Iterator[None]:
    """Translate failures of the Prefect API met while `doing` (e.g. "reading the last runs")."""
    try:
        yield
    except (httpx.ConnectError, httpx.TimeoutException, ConnectionError) as exc:
        raise PrefectUnavailableError(
            f"the Prefect API at {api_url()} did not answer while {doing} "
            f"({type(exc).__name__}); start it (`prefect server start`) or set PREFECT_API_URL "
            "to a running server"
        ) from None
    except ObjectNotFound:
        raise
    except PrefectHTTPStatusError as exc:
        status = exc.response.status_code
        advice = (
            "check PREFECT_API_KEY (Prefect Cloud) or the server's auth string"
            if status in (401, 403)
            else "check PREFECT_API_URL and the server's version"
        )
        raise PrefectAPIError(
            f"the Prefect API at {api_url()} refused a request while {doing} "
            f"(HTTP {status} on {exc.request.method} {exc.request.url.path}); {advice}"
        ) from None
