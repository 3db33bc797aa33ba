"""What the S3 target makes of a store's bad answers, from a real HTTP server answering as a store (or a proxy
in front of one) would: an error body that is not XML, RequestTimeTooSkewed, SlowDown with Retry-After, a
5xx; each a specific failure in the uplink's retry vocabulary, with the key material kept out of it."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp import web
from support.s3_target import DAY, STATION, footage_file, queued, s3_config

from edge.store import Store, uplink_parts
from edge.uplink.targets.s3 import S3Credentials, S3FootageTarget
from edge.uplink.targets.s3_errors import S3ClockSkewed, S3ErrorNotXml, S3Failure, S3Permanent, S3Transient, reason_code

SECRET = "secret-key-never-in-an-error"


def s3_error(code: str, message: str) -> str:
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>'
            "<RequestId>r1</RequestId></Error>")



async def answered_by(tmp_path: Path, store: Store, status: int, body: str, content_type: str,
                      headers: dict[str, str] | None = None) -> S3Failure:
    """Upload one file to a server that answers every request with this; the failure raised."""
    seen: list[str] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append(f"{request.method} {request.path_qs}")
        await request.read()
        return web.Response(status=status, text=body, content_type=content_type, headers=headers or {})
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        config = s3_config(tmp_path, f"http://127.0.0.1:{port}", "STATIONKEY", SECRET)
        file = footage_file(tmp_path / "footage", 100)
        entry = await queued(store, file)
        with pytest.raises(S3Failure) as failed:
            async with S3FootageTarget(config, S3Credentials.from_files(config), store, station_id=STATION) as t:
                await t.upload(entry, file, recorded=DAY, idempotency_key="k")
        assert seen and seen[0].startswith("POST /footage/stations/ST-1/footage/2026/03/01/")  # CreateMultipartUpload
        assert len(seen) == 1  # botocore retried nothing: the drain owns retries
        assert await store.read(lambda q: uplink_parts.plan_of(q, entry)) is None
        assert SECRET not in str(failed.value)
        return failed.value
    finally:
        await runner.cleanup()


async def test_an_error_body_that_is_not_xml_is_its_own_failure(tmp_path: Path, store: Store) -> None:
    failure = await answered_by(tmp_path, store, 502, "<html><body>Bad Gateway</body></html>", "text/html")
    assert isinstance(failure, S3ErrorNotXml) and failure.reason == "s3.error_not_xml"
    assert failure.transient and failure.status == 502 and "not S3 XML" in str(failure)
    assert failure.outcome == "bad_answer"


async def test_a_non_xml_refusal_is_permanent(tmp_path: Path, store: Store) -> None:
    failure = await answered_by(tmp_path, store, 403, "go away", "text/plain")
    assert isinstance(failure, S3ErrorNotXml) and not failure.transient and failure.alert == "uplink.bad_answer"


async def test_request_time_too_skewed_is_a_clock_alert(tmp_path: Path, store: Store) -> None:
    failure = await answered_by(tmp_path, store, 403, s3_error(
        "RequestTimeTooSkewed", "The difference between the request time and the current time is too large."),
        "application/xml")
    assert isinstance(failure, S3ClockSkewed) and failure.transient
    assert failure.reason == "s3.clock_skewed" and failure.alert == "uplink.clock_skewed" and failure.outcome == "retry"


async def test_slow_down_is_transient_with_the_stores_retry_after(tmp_path: Path, store: Store) -> None:
    failure = await answered_by(tmp_path, store, 503, s3_error("SlowDown", "Please reduce your request rate."),
                                "application/xml", {"Retry-After": "7"})
    assert isinstance(failure, S3Transient) and failure.reason == "s3.slow_down" and failure.retry_after_s == 7


async def test_an_internal_error_is_transient(tmp_path: Path, store: Store) -> None:
    failure = await answered_by(tmp_path, store, 500, s3_error("InternalError", "oops"), "application/xml")
    assert isinstance(failure, S3Transient) and failure.reason == "s3.internal_error"


async def test_a_missing_bucket_is_permanent(tmp_path: Path, store: Store) -> None:
    failure = await answered_by(tmp_path, store, 404, s3_error("NoSuchBucket", "no bucket"), "application/xml")
    assert isinstance(failure, S3Permanent) and failure.reason == "s3.no_such_bucket"
    assert failure.outcome == "permanent" and not failure.transient


def test_reason_codes_fit_the_outbox() -> None:
    assert reason_code("AccessDenied") == "s3.access_denied"
    assert reason_code("InvalidAccessKeyId") == "s3.invalid_access_key_id"
    assert reason_code("<script>") == "s3.script"
    assert reason_code("") == "s3.unknown"
