"""What an S3 failure means to the uplink, in its retry vocabulary (edge/uplink/retry.py). Each failure has
``reason`` (a code for the outbox's ``failed_reason``/``last_error`` and metrics: ``s3.access_denied``),
``transient``, ``retry_after_s`` (the store's Retry-After), ``alert`` (for the drain to raise) and ``outcome``,
the drain's action by the names of the HTTP target's outcomes (retry, permanent, bad_answer, resend, blocked):

- ``S3Transient`` (retry): connection refused, reset or cut mid-body, timeouts, 5xx, SlowDown.
- ``S3ClockSkewed`` (retry, alert ``uplink.clock_skewed``): RequestTimeTooSkewed; every request fails until the
  station's clock is right.
- ``S3ErrorNotXml`` (bad_answer): an error answer whose body is not S3's XML (a proxy's page, garbage);
  transient for 5xx/429, permanent otherwise.
- ``S3PartMismatch`` (resend): a part's ETag is not the MD5 of the bytes sent.
- ``S3Permanent`` (permanent): the request will never succeed as it is (NoSuchBucket, other 4xx, a file gone);
  dead-letter the entry with ``reason``.
- ``S3CredentialsRefused`` (blocked; permanent): AccessDenied, InvalidAccessKeyId, SignatureDoesNotMatch: the
  keys are wrong for every entry, so the target stops rather than dead-letter footage one by one.
- ``S3TlsRefused`` (blocked): the store's certificate failed verification; never retried into acceptance.

``str()`` is the detail for ``last_error``. No key material ever appears in either.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from botocore.exceptions import BotoCoreError, ClientError, SSLError

from edge.uplink.retry import parse_retry_after

_TRANSIENT_CODES = frozenset({"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "Throttling",
                              "ThrottlingException", "RequestTimeTooSkewed", "OperationAborted"})
_CREDENTIAL_CODES = frozenset({"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"})
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


class S3Failure(Exception):
    transient: bool = True
    alert: str | None = None
    outcome: str = "retry"

    def __init__(self, reason: str, detail: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(detail)
        self.reason = reason
        self.retry_after_s = retry_after_s


class S3Transient(S3Failure):
    transient = True


class S3ClockSkewed(S3Transient):
    alert = "uplink.clock_skewed"


class S3TlsRefused(S3Failure):
    """The store's certificate failed verification: the target is blocked, never retried into acceptance."""

    transient = False
    alert = "uplink.tls"
    outcome = "blocked"


class S3Permanent(S3Failure):
    transient = False
    alert = "uplink.dead_letter"
    outcome = "permanent"


class S3CredentialsRefused(S3Permanent):
    alert = "uplink.credentials"
    outcome = "blocked"


class S3ErrorNotXml(S3Failure):
    alert = "uplink.bad_answer"
    outcome = "bad_answer"

    def __init__(self, reason: str, detail: str, *, status: int, retry_after_s: float | None = None) -> None:
        super().__init__(reason, detail, retry_after_s=retry_after_s)
        self.status = status
        self.transient = status >= 500 or status == 429


class S3PartMismatch(S3Transient):
    """The store's ETag of a part is not the MD5 of the bytes sent: the part is sent again."""

    alert = "uplink.bad_answer"
    outcome = "resend"


def reason_code(code: str) -> str:
    """``AccessDenied`` -> ``s3.access_denied``: a failure reason the outbox accepts."""
    cleaned = re.sub(r"[^A-Za-z0-9]", "", code)[:40] or "unknown"
    return "s3." + _CAMEL.sub("_", cleaned).lower()


def _retry_after(error: ClientError) -> float | None:
    """The store's Retry-After, read by the same rule as the central API's (seconds or an HTTP date)."""
    headers = error.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    return parse_retry_after(headers.get("retry-after"), datetime.now(UTC))


def classify(error: BaseException, *, doing: str) -> S3Failure:
    """The uplink's view of an exception from aiobotocore (or the socket under it) during ``doing``."""
    if isinstance(error, S3Failure):
        return error
    if isinstance(error, ClientError):
        meta = error.response.get("ResponseMetadata", {})
        status = int(meta.get("HTTPStatusCode") or 0)
        code = str(error.response.get("Error", {}).get("Code") or "")
        message = str(error.response.get("Error", {}).get("Message") or "")
        detail = f"{doing}: HTTP {status} {code} {message}".strip()
        retry_after = _retry_after(error)
        if code == "RequestTimeTooSkewed":
            return S3ClockSkewed("s3.clock_skewed", f"{detail} (the station's clock is off; fix NTP)")
        if not code or code.isdigit():
            # botocore puts the status in Code when the body did not parse as S3's XML error.
            return S3ErrorNotXml("s3.error_not_xml", f"{doing}: HTTP {status} with an error body that is not S3 XML",
                                 status=status, retry_after_s=retry_after)
        if code in _TRANSIENT_CODES or status >= 500 or status == 429:
            return S3Transient(reason_code(code), detail, retry_after_s=retry_after)
        if code in _CREDENTIAL_CODES:
            return S3CredentialsRefused(reason_code(code), detail)
        return S3Permanent(reason_code(code), detail)
    if isinstance(error, SSLError):
        return S3TlsRefused("s3.tls", f"{doing}: TLS refused: {error}")
    if isinstance(error, BotoCoreError | OSError | TimeoutError):
        # Connection refused/reset/closed mid-body, timeouts, DNS: the link, not the request.
        return S3Transient("s3.unreachable", f"{doing}: {type(error).__name__}: {error}")
    raise error
