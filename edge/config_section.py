"""The base of every configuration section, in its own module so domain configs can use it without
importing ``edge.config`` (which imports them)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ConfigSection(BaseModel):
    """Unknown keys are errors (a typo never falls back to a default); values never change after loading."""

    model_config = ConfigDict(extra="forbid", frozen=True)
