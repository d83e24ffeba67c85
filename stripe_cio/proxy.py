"""Proxies from the standard environment variables, and connections through them.

`proxy_routes(env)` reads `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY` (either case)
once, when a transport is built, into a `ProxyRoutes` that says for each origin which proxy, if
any, to go through; it is None when no proxy is set, so a transport without one does no work for
it. `connect_through` opens a connection through a proxy: for an https origin an HTTP CONNECT
tunnel (RFC 9110 section 9.3.6), then TLS to the origin inside it, verified as any other; for a
plain http origin a connection to the proxy itself, over which requests go in absolute form.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

import h11
import httpx

from .exceptions import ConfigError
from .redaction import MASK, mask_url, register_secret

_P = TypeVar("_P", bound=asyncio.Protocol)
_IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
_IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# A CONNECT refused with one of these may succeed later; any other 4xx will not (407: our
# credentials, 403: the proxy's policy, 400/405: it will not tunnel) and is reported at once.
_TRANSIENT_STATUSES = frozenset({408, 429})


@dataclass(frozen=True)
class Proxy:
    """One HTTP proxy: where it is, the variable that named it, and its Basic credentials."""

    host: str
    port: int
    variable: str  # as it is spelled in the environment, for messages
    display: str  # its URL with the password masked
    # The `Proxy-Authorization` value: credentials, so kept out of the repr.
    authorization: bytes | None = field(default=None, repr=False)

    @classmethod
    def parse(cls, variable: str, value: str) -> Proxy:
        """The proxy `value` names, or a ConfigError naming `variable` (the value not echoed)."""
        how = f"set the environment variable {variable} to http://[user:password@]host:port"
        text = value.strip()
        if "://" not in text:
            text = f"http://{text}"  # as httpx and curl read a bare host:port
        try:
            url = httpx.URL(text)
        except httpx.InvalidURL:
            raise ConfigError(variable, "is not a proxy URL", how) from None
        if url.scheme != "http":
            raise ConfigError(
                variable,
                f"names a {url.scheme}:// proxy; stripe-cio talks to proxies over plain http:// "
                "(a tunnel to an https API is TLS from end to end all the same)",
                how,
            )
        if not url.host:
            raise ConfigError(variable, "names no proxy host", how)
        # httpx connects to a proxy URL without a port on the scheme's default, 80.
        port = url.port or 80
        host = f"[{url.host}]" if ":" in url.host else url.host
        user, password = url.username, url.password
        authorization = None
        if user or password:
            register_secret(password)  # masked in any log line from here on
            token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
            authorization = f"Basic {token}".encode("ascii")
            # Shown as written (percent-encoded), the password masked as mask_url masks it.
            written = url.userinfo.decode("ascii").partition(":")[0]
            host = f"{written}:{MASK}@{host}" if password else f"{written}@{host}"
        return cls(url.host, port, variable, f"http://{host}:{port}", authorization)


@dataclass(frozen=True)
class NoProxyRule:
    """One entry of NO_PROXY: a host name (matching its subdomains too) or IP network, and port."""

    host: str = ""
    network: _IPNetwork | None = None
    port: int | None = None

    @classmethod
    def parse(cls, entry: str) -> NoProxyRule | None:
        """The rule of one comma-separated NO_PROXY entry; None for an empty one."""
        entry = entry.strip().lower()
        port: int | None = None
        if entry.startswith("["):  # [::1] or [::1]:443
            host, _, rest = entry[1:].partition("]")
            if rest.startswith(":") and rest[1:].isdigit():
                port = int(rest[1:])
        elif entry.count(":") == 1 and entry.rpartition(":")[2].isdigit():
            host, _, digits = entry.rpartition(":")
            port = int(digits)
        else:
            host = entry  # a name, an IPv4 address or network, or a bare IPv6 address
        # curl and urllib ignore a leading dot: ".example.com" also matches example.com itself
        # (https://curl.se/libcurl/c/CURLOPT_NOPROXY.html; urllib.request.proxy_bypass_environment).
        # httpx alone would match only subdomains there; following the two older tools means a
        # NO_PROXY written for curl behaves the same here.
        host = host.lstrip(".").rstrip(".")
        if not host:
            return None
        try:
            # IP addresses and, as curl accepts since 7.86, CIDR networks such as 10.0.0.0/8.
            return cls(network=ipaddress.ip_network(host, strict=False), port=port)
        except ValueError:
            return cls(host=host, port=port)

    def matches(self, host: str, ip: _IPAddress | None, port: int) -> bool:
        """Whether this rule sends `host`:`port` direct (`ip`: the host when it is an address)."""
        if self.port is not None and self.port != port:
            return False
        if self.network is not None:
            # Names are not resolved to match an address rule: curl and urllib do not either.
            return ip is not None and ip in self.network
        return host == self.host or host.endswith(f".{self.host}")


@dataclass(frozen=True)
class ProxyRoutes:
    """Which proxy each origin goes through: by its scheme, unless NO_PROXY sends it direct."""

    http: Proxy | None
    https: Proxy | None
    no_proxy: tuple[NoProxyRule, ...] = ()

    def for_origin(self, scheme: str, host: str, port: int) -> Proxy | None:
        """The proxy for `scheme://host:port` (the port always given), or None to go direct."""
        proxy = self.https if scheme == "https" else self.http
        if proxy is None:
            return None
        host = host.lower().strip("[]").rstrip(".")
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            ip = None
        if any(rule.matches(host, ip, port) for rule in self.no_proxy):
            return None
        return proxy


def _variable(env: Mapping[str, str], name: str) -> tuple[str, str] | None:
    """The variable `name` (lower case first, as urllib does) and its value; None when unset."""
    lower, upper = name.lower(), name.upper()
    if lower in env:
        # A lower-case variable set empty unsets the proxy even if the upper-case one is set
        # (urllib.request.getproxies_environment).
        value = env[lower].strip()
        return (lower, value) if value else None
    if upper == "HTTP_PROXY" and "REQUEST_METHOD" in env:
        # Under CGI, HTTP_PROXY comes from the client's `Proxy:` header (httpoxy,
        # CVE-2016-1000110); urllib and curl ignore it there, and so do we.
        return None
    value = env.get(upper, "").strip()
    return (upper, value) if value else None


def proxy_routes(env: Mapping[str, str]) -> ProxyRoutes | None:
    """The proxies `env` names, or None when it names none (or NO_PROXY is `*`).

    An https origin goes through HTTPS_PROXY, else ALL_PROXY; a plain http one through
    HTTP_PROXY, else ALL_PROXY (httpx and urllib). A malformed proxy URL is a ConfigError
    naming its variable.
    """
    every = _variable(env, "all_proxy")
    https = _variable(env, "https_proxy") or every
    http = _variable(env, "http_proxy") or every
    if https is None and http is None:
        return None
    no_proxy = _variable(env, "no_proxy")
    rules: list[NoProxyRule] = []
    for entry in (no_proxy[1] if no_proxy else "").split(","):
        if entry.strip() == "*":
            return None  # curl, urllib and httpx: `*` sends everything direct
        if (rule := NoProxyRule.parse(entry)) is not None:
            rules.append(rule)
    return ProxyRoutes(
        http=Proxy.parse(*http) if http else None,
        https=Proxy.parse(*https) if https else None,
        no_proxy=tuple(rules),
    )


def describe_routes(env: Mapping[str, str], urls: list[str]) -> str:
    """How each of `urls` is reached with the proxies of `env`, for `stripe-cio config`."""
    routes = proxy_routes(env)
    described = []
    for text in urls:
        url = httpx.URL(text)
        port = url.port or (443 if url.scheme == "https" else 80)
        proxy = routes.for_origin(url.scheme, url.host, port) if routes else None
        how = f"through {proxy.display} ({proxy.variable})" if proxy else "direct"
        described.append(f"{mask_url(text)} {how}")
    return "; ".join(described) or "(no API asked for)"


# --- connecting through a proxy ---------------------------------------------------------------


def refusal(proxy: Proxy, what: str, code: int, status: str) -> ConfigError:
    """The one-line error for a proxy refusing `what` ("CONNECT host:port") with `status`.

    A ConfigError: what fixes it is the proxy variable or the proxy's own policy, and retrying
    cannot, so it is neither retried by the clients nor by a Prefect task, and exits with 2.
    """
    return ConfigError(
        proxy.variable,
        f"the proxy {proxy.display} refused {what} with {status}",
        f"check {proxy.variable} and its credentials"
        + ("" if code == 407 else ", and that the proxy allows this host"),
    )


class _TunnelReply(asyncio.Protocol):
    """Reads the head of the proxy's answer to CONNECT; nothing else arrives before TLS starts."""

    def __init__(self) -> None:
        self.h11 = h11.Connection(h11.CLIENT)
        self.head: asyncio.Future[h11.Response] = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        self.h11.receive_data(data)
        try:
            while not self.head.done():
                event = self.h11.next_event()
                if event is h11.NEED_DATA or event is h11.PAUSED:
                    return
                if isinstance(event, h11.Response):
                    self.head.set_result(event)
        except h11.RemoteProtocolError as exc:
            self._fail(f"the proxy's answer to CONNECT is not HTTP ({exc})")

    def eof_received(self) -> bool:
        self._fail("the proxy closed the connection without answering CONNECT")
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(f"the connection to the proxy was lost ({exc or 'closed'})")

    def _fail(self, why: str) -> None:
        if not self.head.done():
            self.head.set_exception(ConnectionError(why))


async def connect_through(
    proxy: Proxy,
    host: str,
    port: int,
    tls: ssl.SSLContext | None,
    protocol: Callable[[], _P],
) -> _P:
    """A connection to `host`:`port` through `proxy`, speaking `protocol` once it is open.

    With `tls` (an https origin), a CONNECT tunnel with TLS to the origin inside it, verified by
    `tls` as a direct connection would be. Without, a connection to the proxy itself: the
    protocol sends its requests in absolute form, as httpx does for http origins (a proxy
    forwards those without a tunnel, and may cache or log them, which a plain http origin
    allows anyway). Raises httpx.ProxyError (retryable) naming the proxy when it cannot be
    reached or fails for now, a ConfigError when it refuses the tunnel, and httpx.ConnectError
    when the origin's TLS fails, its certificate error as the cause.
    """
    loop = asyncio.get_running_loop()
    where = f"the proxy {proxy.display} ({proxy.variable})"
    if tls is None:
        try:
            _, forwarding = await loop.create_connection(protocol, proxy.host, proxy.port)
        except OSError as exc:
            raise httpx.ProxyError(f"cannot connect to {where}: {exc}") from exc
        return forwarding
    try:
        raw, reply = await loop.create_connection(_TunnelReply, proxy.host, proxy.port)
    except OSError as exc:
        raise httpx.ProxyError(f"cannot connect to {where}: {exc}") from exc
    try:
        authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        headers = [("Host", authority)]
        if proxy.authorization is not None:
            headers.append(("Proxy-Authorization", proxy.authorization.decode("ascii")))
        request = h11.Request(method="CONNECT", target=authority, headers=headers)
        raw.write((reply.h11.send(request) or b"") + (reply.h11.send(h11.EndOfMessage()) or b""))
        try:
            head = await reply.head
        except ConnectionError as exc:
            raise httpx.ProxyError(f"{where} failed CONNECT {authority}: {exc}") from None
        status = f"HTTP {head.status_code} {head.reason.decode('latin-1')}".rstrip()
        if 400 <= head.status_code < 500 and head.status_code not in _TRANSIENT_STATUSES:
            raise refusal(proxy, f"CONNECT {authority}", head.status_code, status)
        if not 200 <= head.status_code < 300:
            raise httpx.ProxyError(f"{where} answered CONNECT {authority} with {status}")
        if reply.h11.trailing_data[0]:
            raise httpx.ProxyError(f"{where} sent data before TLS began in the tunnel")
        connection = protocol()
        try:
            secured = await loop.start_tls(raw, connection, tls, server_hostname=host)
        except OSError as exc:  # TLS failures, a certificate refused among them
            raise httpx.ConnectError(
                f"cannot connect to {authority} through {where}: {exc}"
            ) from exc
        if secured is None:  # the loop's signature allows it; it means the tunnel closed
            raise httpx.ConnectError(f"{where} closed the tunnel to {authority} during TLS")
    except BaseException:
        raw.close()
        raise
    # start_tls hands the protocol a new transport without calling connection_made on it.
    connection.connection_made(secured)
    return connection
