"""The central side's read-back of uploaded objects from the S3 store (aiobotocore: the one S3 adapter here).

aiobotocore is a runtime dependency since the uplink's S3 target (pyproject.toml); imported lazily all the same,
so that the case feed alone loads no S3 code.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any


class ObjectMissing(Exception):
    pass


class StoreUnavailable(Exception):
    pass


@dataclass(frozen=True, slots=True)
class StoreAccess:
    endpoint: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"


def client_config() -> Any:
    """Path-style addressing; checksums only "when required", so S3-compatible stores accept the requests."""
    from aiobotocore.config import AioConfig

    return AioConfig(s3={"addressing_style": "path"}, request_checksum_calculation="when_required",
                     response_checksum_validation="when_required", retries={"max_attempts": 2, "mode": "standard"},
                     connect_timeout=10, read_timeout=60)


def s3_client(access: StoreAccess) -> Any:
    """An aiobotocore S3 client context (``async with s3_client(...) as s3``), for the simulator and tests."""
    from aiobotocore.session import get_session

    return get_session().create_client(
        "s3", endpoint_url=access.endpoint, region_name=access.region, aws_access_key_id=access.access_key,
        aws_secret_access_key=access.secret_key, config=client_config())


async def digest_object(access: StoreAccess, bucket: str, key: str, chunk: int = 1 << 20) -> tuple[int, str]:
    """(size, SHA-256 hex) of the object as the store holds it, read back in chunks (footage is large)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        async with s3_client(access) as s3:
            answer = await s3.get_object(Bucket=bucket, Key=key)
            hasher, size = hashlib.sha256(), 0
            async with answer["Body"] as body:
                while block := await body.read(chunk):
                    hasher.update(block)
                    size += len(block)
            return size, hasher.hexdigest()
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in ("NoSuchKey", "NoSuchBucket", "404"):
            raise ObjectMissing(f"{bucket}/{key}: {code}") from error
        raise StoreUnavailable(f"{bucket}/{key}: {code or error}") from error
    except (BotoCoreError, OSError) as error:
        raise StoreUnavailable(f"{bucket}/{key}: {error}") from error
