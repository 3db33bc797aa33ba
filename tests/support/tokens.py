"""API tokens every test daemon accepts, one per role (fixed: tests are not a secret store)."""

from __future__ import annotations

from edge.config import Role

ROLE_TOKENS = {role: f"test-token-for-{role.value}-0123456789" for role in Role}


def auth(role: Role) -> dict[str, str]:
    return {"Authorization": f"Bearer {ROLE_TOKENS[role]}"}
