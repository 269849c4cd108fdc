"""Take credentials out of text before it is printed or logged.

A provider's error message is the remote end's text, and a hostile (or merely verbose) endpoint
can echo the request back: its ``Authorization`` header, the session token, the access key id.
Every message built from a provider's answer goes through :func:`redact`; the price refresh
(:func:`redacted_errors`) also passes every error through it, with the live credential values
of the session, before anything reaches the terminal, and redacts every log record that reaches
a root handler while it runs (:func:`redacted_logging`).

:func:`redact` removes

* the values it is given (the session's access key id, secret key and token), wherever they
  appear, and the values of credential-like environment variables (``AWS_SECRET_ACCESS_KEY``,
  ``AWS_SESSION_TOKEN``, ``GOOGLE_API_KEY``: names with SECRET, TOKEN, PASSWORD, API_KEY,
  ACCESS_KEY or CREDENTIAL, values of 8 characters or more);
* AWS access key ids (``AKIA``/``ASIA``... and 16 more characters, the 4-letter prefix kept);
* the value (to the end of the line, a quote or the next ``,`` ``;`` ``&`` ``)`` ``}``) of
  ``Authorization``, ``X-Amz-Security-Token``, ``X-Goog-Api-Key``, ``Cookie`` headers and of ``aws_secret_access_key``/``aws_session_token``/``SecretAccessKey``/
  ``SessionToken``/``access_token``/``refresh_token``/``client_secret``/``private_key``
  fields (``name: value``, ``name=value``, ``"name": "value"``);
* SigV4 ``Signature=`` and ``X-Amz-Signature=``/``X-Amz-Credential=`` values, bearer tokens,
  Google OAuth access tokens (``ya29.``), refresh tokens (``1//``), API keys (``AIza``) and
  PEM private keys.

Each becomes :data:`REDACTED` (an access key id keeps its prefix: ``ASIA<redacted>`` tells a
temporary key from a long-term one without saying which).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Iterable, Iterator

from domain.errors import CatalogError, PlannerError

__all__ = ["REDACTED", "RedactingFilter", "redact", "redacted_errors", "redacted_logging"]

REDACTED = "<redacted>"
"""What a credential becomes (no square brackets: the CLI prints errors as Rich markup)."""

_FIELD = (r"authorization|proxy-authorization|x-amz-security-token|x-goog-api-key|cookie|"
          r"set-cookie|aws_secret_access_key|aws_session_token|aws_security_token|"
          r"secretaccesskey|secret_access_key|sessiontoken|session_token|access_token|"
          r"refresh_token|id_token|client_secret|private_key|password|api_key|apikey")
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # PEM private keys (a service account key file's private_key field, say)
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----",
                re.DOTALL), REDACTED),
    # quoted values: "SessionToken": "...", 'Authorization': b'...', token="..."
    (re.compile(rf"""(?i)(["']?\b(?:{_FIELD})\b["']?\s*[:=]\s*b?)(["'])(?:\\.|(?!\2).)*\2"""),
     rf"\g<1>\g<2>{REDACTED}\g<2>"),
    # bare values, to the end of the line or the next , ; & ) or }: Authorization: AWS4-...
    (re.compile(rf"""(?i)(\b(?:{_FIELD})\b\s*[:=]\s*)(?!["'\s])[^\r\n"'}},;&)]+"""),
     rf"\g<1>{REDACTED}"),
    # pieces of a signed request or pre-signed URL
    (re.compile(r"(?i)\b((?:x-amz-)?(?:signature|credential|security-token)=)[^&\s,;\"']+"),
     rf"\g<1>{REDACTED}"),
    (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]+"), rf"\g<1>{REDACTED}"),
    (re.compile(r"\bya29\.[A-Za-z0-9._-]+"), REDACTED),
    (re.compile(r"(?<![A-Za-z0-9])1//[A-Za-z0-9_-]{20,}"), REDACTED),
    (re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"), REDACTED),
    # AWS access key ids: long-term (AKIA), temporary (ASIA) and the other unique-id prefixes
    (re.compile(r"\b(AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA|ABIA|ACCA)[A-Z0-9]{16}\b"),
     rf"\g<1>{REDACTED}"),
)
_SECRET_ENV = re.compile(r"SECRET|TOKEN|PASSWORD|API_KEY|ACCESS_KEY|CREDENTIAL")
_MIN_SECRET_CHARS = 8


def _environment_secrets() -> list[str]:
    return [value for name, value in os.environ.items()
            if _SECRET_ENV.search(name.upper()) and len(value) >= _MIN_SECRET_CHARS]


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """Return ``text`` with credentials replaced by :data:`REDACTED`.

    Parameters
    ----------
    text : str
        A message, possibly holding a remote end's text.
    secrets : iterable of str, optional
        Values known to be secret (a session's keys and token); removed wherever they appear.
        Values shorter than 8 characters are ignored (they would match ordinary words).
    """
    known = {s for s in (*secrets, *_environment_secrets())
             if s and len(s) >= _MIN_SECRET_CHARS}
    for value in sorted(known, key=len, reverse=True):  # a token before its own prefix
        text = text.replace(value, REDACTED)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


_CLIENT_MODULES = ("botocore", "boto3", "urllib3", "requests", "google", "grpc", "s3transfer")


@contextlib.contextmanager
def redacted_errors(secrets: Iterable[str | None] = ()) -> Iterator[None]:
    """Re-raise any error of the block with its message redacted (:func:`redact`).

    A :class:`PlannerError` keeps its type; an error of a cloud client library (botocore,
    google-api-core, grpc, urllib3...) that escaped the provider's own handling becomes a
    :class:`CatalogError` naming its type, so that no traceback prints its raw text.  Other
    errors (bugs) propagate unchanged.
    """
    known = [s for s in secrets if s]
    try:
        yield
    except PlannerError as exc:
        text = redact(str(exc), known)
        if text == str(exc):
            raise
        try:
            clean = type(exc)(text)
        except TypeError:
            clean = CatalogError(text)
        raise clean from None
    except Exception as exc:
        if not type(exc).__module__.split(".")[0] in _CLIENT_MODULES:
            raise
        raise CatalogError(f"the price API call failed ({type(exc).__name__}: "
                           f"{redact(str(exc), known)}); check the endpoint and credentials, "
                           "or use the built-in snapshot catalog instead") from None


class RedactingFilter(logging.Filter):
    """A logging filter that passes every record with its message redacted (:func:`redact`)."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message, self.secrets)
        if clean != message:
            record.msg, record.args = clean, ()
        return True


@contextlib.contextmanager
def redacted_logging(secrets: Iterable[str | None] = ()) -> Iterator[None]:
    """Redact every log record that reaches a root handler (or Python's last-resort handler)
    while the block runs: botocore, urllib3 and google-auth log request headers at DEBUG when a
    user turns their logging on."""
    guard = RedactingFilter(secrets)
    handlers = [*logging.getLogger().handlers]
    if logging.lastResort is not None:
        handlers.append(logging.lastResort)
    for handler in handlers:
        handler.addFilter(guard)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(guard)
