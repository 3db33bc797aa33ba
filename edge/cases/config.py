"""The ``[cases]`` config section: matching thresholds, the central case feed, compliance deadlines.

Every threshold here is documented in docs/cases.md (what it does) and docs/configuration.md (default).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Self

from pydantic import Field, model_validator

from edge.bodycam.payloads.ids import OFFICER_NO_PATTERN
from edge.config_section import ConfigSection

_Seconds = Annotated[float, Field(ge=0)]
_Share = Annotated[float, Field(ge=0.0, le=1.0)]



class MatchingConfig(ConfigSection):
    # A few minutes before dispatch catches the camera's pre-event buffer and an early start; wider
    # buffers are the commonest source of false matches (bodycam-domain.md), so keep them short.
    pre_buffer_s: _Seconds = 300.0
    post_buffer_s: _Seconds = 300.0
    # Self-initiated stops have no dispatch time: the officer records first and reports later.
    self_initiated_pre_s: _Seconds = 900.0
    # A window without an end (not cleared yet) is matched as if it lasted this long.
    open_window_s: Annotated[float, Field(gt=0)] = 7200.0
    # Overlap at which time evidence is full: this long, or the whole of the shorter of the two.
    substantial_overlap_s: Annotated[float, Field(gt=0)] = 600.0
    time_weight: Annotated[float, Field(gt=0)] = 0.6
    place_weight: Annotated[float, Field(ge=0)] = 0.4
    # Beyond radius + falloff the place score is 0; linear in between.
    place_falloff_m: Annotated[float, Field(gt=0)] = 1000.0
    link_threshold: _Share = 0.75
    reject_threshold: _Share = 0.35
    # Two candidates sharing the same minutes of footage within this margin go to review together.
    ambiguity_margin: _Share = 0.15

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.reject_threshold > self.link_threshold:
            raise ValueError("reject_threshold must not exceed link_threshold")
        return self


class FeedConfig(ConfigSection):
    url: str = ""  # base URL of the central platform; empty: no feed (local cases only)
    token: str = ""  # bearer token for the central platform, if it wants one
    poll_interval_s: Annotated[float, Field(gt=0)] = 30.0
    backoff_min_s: Annotated[float, Field(gt=0)] = 1.0
    backoff_max_s: Annotated[float, Field(gt=0)] = 300.0
    timeout_s: Annotated[float, Field(gt=0)] = 10.0
    page_limit: Annotated[int, Field(ge=1, le=5000)] = 500
    max_window_h: Annotated[float, Field(gt=0)] = 72.0
    # Until the officer register (issue 3) is wired in, officers can be checked against this list.
    check_officers: bool = False
    officers: list[Annotated[str, Field(pattern=f"^{OFFICER_NO_PATTERN}$")]] = Field(default_factory=list)

    @property
    def max_window(self) -> timedelta:
        return timedelta(hours=self.max_window_h)


class ComplianceConfig(ConfigSection):
    interval_s: Annotated[float, Field(gt=0)] = 60.0
    # Colours: blue from blue_before_h ahead of a deadline, yellow from yellow_before_h, red once passed.
    blue_before_h: Annotated[float, Field(ge=0)] = 6.0
    yellow_before_h: Annotated[float, Field(ge=0)] = 2.0
    upload_deadline_h: Annotated[float, Field(gt=0)] = 24.0
    undocked_max_h: Annotated[float, Field(gt=0)] = 12.0
    clock_drift_blue_s: Annotated[float, Field(gt=0)] = 1.0
    clock_drift_yellow_s: Annotated[float, Field(gt=0)] = 3.0
    clock_drift_red_s: Annotated[float, Field(gt=0)] = 30.0
    sequence_gap_yellow_h: Annotated[float, Field(ge=0)] = 1.0
    sequence_gap_red_h: Annotated[float, Field(ge=0)] = 6.0
    central_confirm_h: Annotated[float, Field(gt=0)] = 6.0

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.yellow_before_h > self.blue_before_h:
            raise ValueError("yellow_before_h must not exceed blue_before_h")
        if not self.clock_drift_blue_s <= self.clock_drift_yellow_s <= self.clock_drift_red_s:
            raise ValueError("clock drift thresholds must rise: blue <= yellow <= red")
        if self.sequence_gap_yellow_h > self.sequence_gap_red_h:
            raise ValueError("sequence_gap_yellow_h must not exceed sequence_gap_red_h")
        return self


class CasesConfig(ConfigSection):
    matching: MatchingConfig = MatchingConfig()
    feed: FeedConfig = FeedConfig()
    compliance: ComplianceConfig = ComplianceConfig()
