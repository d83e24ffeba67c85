"""The `stripe-cio` commands that need Prefect, plugged into the engine's CLI through the
`stripe_cio.commands` entry points (so that `stripe_cio/` never imports Prefect)."""

from .cli_notifications import notifications_app
from .cli_serve import serve_app
from .cli_status import prefect_api_check, status_app

__all__ = ["notifications_app", "prefect_api_check", "serve_app", "status_app"]
