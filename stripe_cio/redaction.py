"""Keeps secrets out of logs: a registry of secret values and a logging filter that masks them.

The first line of defence is that secrets live in `SecretStr` and are never put into messages;
this module is the net under it, for text we do not control (a library's debug log, an echoed
request). Known secret values are masked exactly, and anything shaped like a Stripe secret key
or an HTTP credential header is masked by pattern.
"""

from __future__ import annotations

import logging
import re
import threading

MASK = "**********"
# Secrets shorter than this are not registered: masking a 3-character string everywhere would
# shred ordinary text, and such a "secret" protects nothing anyway.
_MIN_SECRET_LENGTH = 8

_PATTERNS = [
    # Stripe secret/restricted keys; one masked as Stripe echoes it (sk_test_****1234) is safe.
    re.compile(r"\b(?:sk|rk)_(?:test|live)_[A-Za-z0-9]{8,}"),
    re.compile(r"(?i)\b(authorization['\"]?\s*[:=]\s*['\"]?(?:basic|bearer)\s+)[A-Za-z0-9+/=._-]+"),
    re.compile(r"(?i)\b(basic|bearer)\s+[A-Za-z0-9+/=._-]{16,}"),
]

# Secrets inside URLs: the password of `scheme://user:password@host`, and the value of a query
# parameter named like a secret. libpq takes `password` and `sslpassword` as URL parameters
# (https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-CONNSTRING-URIS), and
# services pass tokens and keys the same way.
_URL_PASSWORD = re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^/\s:@?#]*:)[^/\s@?#]*(@)")
_URL_SECRET_PARAMETER = re.compile(
    r"(?i)([?&;](?:[a-z0-9_.-]*(?:password|passwd|pwd|secret|token|credential)[a-z0-9_.-]*"
    r"|(?:api[_-]?)?key|auth|signature|sig)=)[^&;#\s]*"
)

_lock = threading.Lock()
_secrets: set[str] = set()


def register_secret(value: str) -> None:
    """Remember a secret value so every redacted text masks it from now on."""
    if len(value) >= _MIN_SECRET_LENGTH:
        with _lock:
            _secrets.add(value)


def mask_url(text: str) -> str:
    """`text` with the password of every URL's user info and the value of every query
    parameter named like a secret (`password`, `sslpassword`, `token`, `key`, ...) masked.

    The one function through which a URL is displayed or logged.
    """
    text = _URL_PASSWORD.sub(lambda m: m.group(1) + MASK + m.group(2), text)
    return _URL_SECRET_PARAMETER.sub(lambda m: m.group(1) + MASK, text)


def redact(text: str) -> str:
    """Return `text` with registered secrets, secret-shaped tokens and URL secrets masked."""
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    text = mask_url(text)
    text = _PATTERNS[0].sub(MASK, text)
    text = _PATTERNS[1].sub(lambda m: m.group(1) + MASK, text)
    return _PATTERNS[2].sub(lambda m: f"{m.group(1)} {MASK}", text)


class SecretRedactingFilter(logging.Filter):
    """A logging filter that masks secrets in the fully formatted message of each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            # Pre-render the traceback so the handler prints the redacted version.
            formatter = logging.Formatter()
            record.exc_text = redact(formatter.formatException(record.exc_info))
            record.exc_info = None
        return True


def install_log_redaction(logger: logging.Logger | None = None) -> None:
    """Attach the redacting filter to every handler of `logger`, or of every logger if None.

    Filters on a logger do not apply to records propagated from its children, while filters on
    handlers apply to everything the handler emits, so handlers are where the net goes. With
    no logger, the handlers that libraries hang on their own loggers are covered too: Prefect
    ships run logs to its API through handlers on `prefect.flow_runs` and `prefect.task_runs`.
    """
    if logger is not None:
        loggers = [logger]
    else:
        known = list(logging.Logger.manager.loggerDict.values())
        loggers = [logging.getLogger(), *(x for x in known if isinstance(x, logging.Logger))]
    for each in loggers:
        for handler in each.handlers:
            if not any(isinstance(f, SecretRedactingFilter) for f in handler.filters):
                handler.addFilter(SecretRedactingFilter())
