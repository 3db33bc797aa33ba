"""Device secrets: generated, stored only as salted PBKDF2 hashes, verified in constant time.

The same secret is a camera's MQTT password (Mosquitto keeps its own hash of it in the broker's password
file) and its HTTP upload credential (verified here against our hash).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

_ALGORITHM = "pbkdf2_sha256"
_ITERATIONS = 100_000


def new_secret() -> str:
    return secrets.token_urlsafe(24)


def hash_secret(secret: str, *, iterations: int = _ITERATIONS) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", secret.encode(), salt, iterations)
    return f"{_ALGORITHM}${iterations}${salt.hex()}${digest.hex()}"


def verify_secret(stored: str, presented: str) -> bool:
    try:
        algorithm, iterations, salt, expected = stored.split("$")
        if algorithm != _ALGORITHM:
            return False
        digest = hashlib.pbkdf2_hmac("sha256", presented.encode(), bytes.fromhex(salt), int(iterations))
    except ValueError:
        return False
    return hmac.compare_digest(digest.hex(), expected)
