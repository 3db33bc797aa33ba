"""The station's Ed25519 signing key: made once with mode 0600, read from PEM; the only PyCA user.

Public keys travel as base64 of the raw 32 bytes (compact, one line, easy for any Ed25519 library);
``audit pubkey`` prints PEM (SubjectPublicKeyInfo) by default for tools such as openssl.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import functools
import hashlib
import logging
import os
import stat
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

log = logging.getLogger(__name__)


class StationKeyError(Exception):
    """The key file is missing, unreadable or not an Ed25519 key; the message says which and where."""


def create_key(path: Path) -> Ed25519PrivateKey:
    """Generate a key and write it to ``path`` with mode 0600 (temp, fsync, link: never a partial file,
    never over an existing key)."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, pem)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(temp, path)  # fails if another process made the key first: then that one is used
    except FileExistsError:
        return read_key(path)
    finally:
        temp.unlink()
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    log.info("created the station's custody signing key %s (public key %s)", path, fingerprint(public_b64(key)))
    return key


def read_key(path: Path) -> Ed25519PrivateKey:
    try:
        data = path.read_bytes()
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        raise StationKeyError(f"no station signing key at {path}") from None
    except OSError as exc:
        raise StationKeyError(f"cannot read station signing key {path}: {exc.strerror or exc}") from None
    if mode & 0o077:
        log.warning("station signing key %s is readable by others (mode %04o); chmod 600 it", path, mode)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise StationKeyError(f"{path} is not an unencrypted PEM private key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise StationKeyError(f"{path} holds a {type(key).__name__}, not an Ed25519 private key")
    return key


def load_or_create(path: Path, *, create: bool) -> Ed25519PrivateKey:
    """Read the key; make it first when ``create`` (the default location) and it does not exist yet."""
    if create and not path.exists():
        return create_key(path)
    return read_key(path)


def station_public_key(path: Path) -> str | None:
    """The station key's public half, or None while there is no key file yet."""
    try:
        return public_b64(read_key(path))
    except StationKeyError:
        if path.exists():
            log.error("station signing key %s is unreadable; checkpoints checked against the key they name", path)
        return None


def public_b64(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def public_pem(key: Ed25519PrivateKey) -> str:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def sign(key: Ed25519PrivateKey, message: bytes) -> str:
    return base64.b64encode(key.sign(message)).decode()


def parse_public_key(text: str) -> str:
    """A public key as printed by ``audit pubkey`` (PEM or raw base64) → base64 of the raw 32 bytes."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_public_key(text.encode())
        except ValueError as exc:
            raise StationKeyError(f"not a PEM public key: {exc}") from None
        if not isinstance(key, Ed25519PublicKey):
            raise StationKeyError(f"a {type(key).__name__}, not an Ed25519 public key")
        return base64.b64encode(key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)).decode()
    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error:
        raise StationKeyError("not a public key: expected PEM or base64 of 32 raw bytes") from None
    if len(raw) != 32:
        raise StationKeyError(f"not an Ed25519 public key: {len(raw)} bytes, expected 32")
    return text


def fingerprint(public_key_b64: str) -> str:
    """A short name for a key in messages: the first 16 hex digits of SHA-256 over its raw bytes."""
    with contextlib.suppress(binascii.Error, ValueError):
        return hashlib.sha256(base64.b64decode(public_key_b64, validate=True)).hexdigest()[:16]
    return "(malformed key)"


@functools.lru_cache(maxsize=16)
def _public_key(public_key_b64: str) -> Ed25519PublicKey:
    # Loading the key costs as much as a verification; a log's checkpoints share one or a few keys.
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64, validate=True))


def signature_valid(public_key_b64: str, signature_b64: str, message: bytes) -> bool:
    try:
        _public_key(public_key_b64).verify(base64.b64decode(signature_b64, validate=True), message)
    except (InvalidSignature, ValueError, binascii.Error):
        return False
    return True
