"""The ASGI plumbing the sandbox servers use, which lives in `stripe_cio.asgi` (the webhook
receiver serves with it too)."""

from ..asgi import DroppedConnection as DroppedConnection
from ..asgi import Receive as Receive
from ..asgi import Scope as Scope
from ..asgi import Send as Send
from ..asgi import drop_connection as drop_connection
from ..asgi import read_body as read_body
from ..asgi import run_server as run_server
from ..asgi import send_json as send_json
from ..asgi import send_raw as send_raw
