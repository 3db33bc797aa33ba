"""The ``[uplink]`` config section: class weights and minimum shares, the link budget, its time windows,
metered mode, pacing and the TTLs of expendable classes. Read only with ``services.uplink = true``.

Critical entries always go first and take no settings; the other classes share what is left by weight,
each with a minimum share. Only telemetry and classes marked ``expendable`` may have a TTL: evidence never
expires, so the config refuses it.
"""

from __future__ import annotations

import zoneinfo
from pathlib import Path
from typing import Annotated, Any, Self
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from edge.config_section import ConfigSection
from edge.store.uplink_queue import TrafficClass
from edge.uplink.budget import BudgetPlan
from edge.uplink.s3_config import S3Config
from edge.uplink.scheduler import WEIGHTED_ORDER, SchedulerPlan, Share
from edge.uplink.wan_url import check_wan_url
from edge.uplink.windows import WEEKDAYS, WindowRule, find_overlap, parse_clock

Weight = Annotated[int, Field(ge=1, le=1000)]
Fraction = Annotated[float, Field(ge=0, lt=1)]
WEIGHTED = WEIGHTED_ORDER


def _rate(value: float | None, *, what: str) -> float | None:
    if value is not None and not value > 0:
        raise ValueError(f"{what} must be above 0 Mbit/s (a budget of 0 sends nothing; pause classes instead)")
    return value


def _never_critical(classes: list[TrafficClass], what: str) -> list[TrafficClass]:
    if TrafficClass.CRITICAL in classes:
        raise ValueError(f"critical entries (SOS, critical alerts) are never {what}")
    return classes


class ClassPolicy(ConfigSection):
    weight: Weight = 1
    min_share: Fraction = 0.0  # of what critical leaves, while the class has work
    expendable: bool = False
    ttl_s: Annotated[float, Field(gt=0)] | None = None  # expendable classes only: then failed as "expired"

    @model_validator(mode="after")
    def _ttl_needs_expendable(self) -> Self:
        if self.ttl_s is not None and not self.expendable:
            raise ValueError("ttl_s needs expendable = true: only telemetry and classes marked expendable expire")
        return self


# One model per class, so that a partly written table keeps that class's own defaults for the rest.
class EvidencePolicy(ClassPolicy):
    weight: Weight = 8
    min_share: Fraction = 0.3

    @field_validator("expendable")
    @classmethod
    def _not_expendable(cls, value: bool) -> bool:
        if value:
            raise ValueError("evidence is never expendable")
        return value

    @field_validator("ttl_s")
    @classmethod
    def _no_ttl(cls, value: float | None) -> float | None:
        if value is not None:
            raise ValueError("evidence never expires: it takes no ttl_s")
        return value


class KioskPolicy(ClassPolicy):
    weight: Weight = 4
    min_share: Fraction = 0.1


class RoutinePolicy(ClassPolicy):
    weight: Weight = 2
    min_share: Fraction = 0.1


class TelemetryPolicy(ClassPolicy):
    min_share: Fraction = 0.05
    expendable: bool = True  # telemetry is shed first


class ClassesConfig(ConfigSection):
    evidence: EvidencePolicy = EvidencePolicy()
    kiosk: KioskPolicy = KioskPolicy()
    routine: RoutinePolicy = RoutinePolicy()
    telemetry: TelemetryPolicy = TelemetryPolicy()

    @model_validator(mode="before")
    @classmethod
    def _known_classes(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name in data:
                if name == TrafficClass.CRITICAL:
                    raise ValueError("critical always goes first and takes no weight, share or TTL")
                if name not in WEIGHTED:
                    raise ValueError(f"unknown class {name!r}; the classes are {', '.join(WEIGHTED)}")
        return data

    @model_validator(mode="after")
    def _shares_fit(self) -> Self:
        total = sum(self.policy(name).min_share for name in WEIGHTED)
        if total > 1:
            raise ValueError(f"the min_share values add up to {total:g}, more than the whole link (1)")
        return self

    def policy(self, name: TrafficClass) -> ClassPolicy:
        found: ClassPolicy = getattr(self, str(name))
        return found


class WindowConfig(ConfigSection):
    """``start``-``end`` on each of ``days``; an overnight window ends the next morning and must say so."""

    name: Annotated[str, Field(min_length=1, max_length=40)]
    start: str  # HH:MM, station-local
    end: str  # HH:MM, or 24:00 for midnight at the end of a day window
    overnight: bool = False
    days: list[str] = Field(default_factory=lambda: list(WEEKDAYS))
    link_mbit_s: float | None = None  # unset: uplink.link_mbit_s
    paused: list[TrafficClass] = Field(default_factory=list)

    @field_validator("start")
    @classmethod
    def _start(cls, value: str) -> str:
        parse_clock(value)
        return value

    @field_validator("end")
    @classmethod
    def _end(cls, value: str) -> str:
        parse_clock(value, allow_24=True)
        return value

    @field_validator("days")
    @classmethod
    def _days(cls, value: list[str]) -> list[str]:
        unknown = [day for day in value if day not in WEEKDAYS]
        if unknown:
            raise ValueError(f"unknown day(s) {', '.join(map(repr, unknown))}; days are {', '.join(WEEKDAYS)}")
        if not value:
            raise ValueError("a window needs at least one day")
        return value

    @field_validator("link_mbit_s")
    @classmethod
    def _link(cls, value: float | None) -> float | None:
        return _rate(value, what="a window's link_mbit_s")

    @field_validator("paused")
    @classmethod
    def _paused(cls, value: list[TrafficClass]) -> list[TrafficClass]:
        return _never_critical(value, "paused by a window")

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        start, end = parse_clock(self.start), parse_clock(self.end, allow_24=True)
        if start == end:
            raise ValueError(f"window {self.name!r} is empty ({self.start}-{self.end}); leave it out instead")
        if not self.overnight and end < start:
            raise ValueError(f"window {self.name!r} ends ({self.end}) before it starts ({self.start}); a window "
                             "across midnight needs overnight = true")
        if self.overnight and end > start:
            raise ValueError(f"window {self.name!r} is overnight but ends ({self.end}) after it starts "
                             f"({self.start}) on the same day; set overnight = false")
        if self.overnight and end == 24 * 60:
            raise ValueError(f"window {self.name!r} is overnight: its end is a time of the next morning, not 24:00")
        return self

    def rule(self) -> WindowRule:
        return WindowRule(self.name, frozenset(WEEKDAYS.index(day) for day in self.days), parse_clock(self.start),
                          parse_clock(self.end, allow_24=True), self.overnight, self.link_mbit_s,
                          frozenset(self.paused))




class CentralConfig(ConfigSection):
    """``[uplink.central]``: the central platform's HTTP ingest API (JSON batches, file manifests).

    Secrets live in files (read when the target is built, never inline); TLS verifies against ``ca_file``
    (the police PKI) or the system store, with an optional client certificate for the station.
    """

    url: str  # the API's base, e.g. https://central.example/ (requests go to <url>/api/v1/ingest/...)
    api_key_file: Path  # the station's API key (Authorization: Bearer)
    receipt_key_file: Path  # the HMAC key receipts are signed with (at least 16 bytes)
    ca_file: Path | None = None  # PEM bundle to verify the platform against; unset: the system's
    client_cert_file: Path | None = None  # PEM certificate (chain) of the station, for mutual TLS
    client_key_file: Path | None = None  # its private key, if not in client_cert_file
    timeout_s: Annotated[float, Field(gt=0, le=600)] = 30.0  # one request, connect to last byte
    max_batch_items: Annotated[int, Field(ge=1, le=500)] = 100  # the platform takes at most 500
    # The platform takes bodies of at most 1 MiB: a bigger batch is split, a bigger single item dead-lettered.
    max_batch_bytes: Annotated[int, Field(ge=4096, le=64 << 20)] = 1 << 20
    breaker_failures: Annotated[int, Field(ge=1, le=100)] = 5  # consecutive failures that open the breaker
    breaker_cooldown_s: Annotated[float, Field(gt=0, le=3600)] = 30.0  # then one probe after this

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = check_wan_url(value, "central platform")
        if parts.query or parts.fragment:
            raise ValueError("must be a base URL without query or fragment")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _tls_files(self) -> Self:
        https = urlsplit(self.url).scheme == "https"
        if not https and (self.ca_file or self.client_cert_file or self.client_key_file):
            raise ValueError("ca_file and the client certificate need an https:// url")
        if self.client_key_file is not None and self.client_cert_file is None:
            raise ValueError("client_key_file needs client_cert_file")
        return self


class UplinkConfig(ConfigSection):
    link_mbit_s: float = 10.0  # the budget outside every window, shared by every target
    pacing: Annotated[float, Field(ge=0.5, le=1.0)] = 0.9  # non-critical traffic is held to this part of it
    burst_s: Annotated[float, Field(gt=0, le=60)] = 1.0  # bucket depth, in seconds of the rate in force
    timezone: str = "UTC"  # station-local zone of the windows (IANA name, e.g. Europe/Tallinn)
    metered: bool = False  # a metered link: the classes below wait until it is not
    metered_defers: list[TrafficClass] = Field(default_factory=lambda: [TrafficClass.ROUTINE, TrafficClass.TELEMETRY])
    # A transient failure is tried again after jittered exponential backoff between these (or the target's
    # Retry-After, if longer).
    retry_min_s: Annotated[float, Field(gt=0)] = 1.0
    retry_max_s: Annotated[float, Field(gt=0)] = 300.0
    classes: ClassesConfig = ClassesConfig()
    windows: list[WindowConfig] = Field(default_factory=list)
    central: CentralConfig | None = None  # the HTTP JSON target; unset: no batches leave
    s3: S3Config | None = None  # footage by S3 multipart; unset: no footage target

    @field_validator("link_mbit_s")
    @classmethod
    def _link(cls, value: float) -> float:
        _rate(value, what="link_mbit_s")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}; use an IANA name such as Europe/Tallinn") from None
        return value

    @field_validator("metered_defers")
    @classmethod
    def _defers(cls, value: list[TrafficClass]) -> list[TrafficClass]:
        return _never_critical(value, "deferred by metering")

    @field_validator("windows")
    @classmethod
    def _apart(cls, windows: list[WindowConfig]) -> list[WindowConfig]:
        names = [w.name for w in windows]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate window names: {', '.join(duplicates)}")
        overlap = find_overlap([w.rule() for w in windows])
        if overlap:
            raise ValueError(overlap)
        return windows

    @model_validator(mode="after")
    def _retry_order(self) -> Self:
        if self.retry_max_s < self.retry_min_s:
            raise ValueError(f"retry_max_s ({self.retry_max_s:g}) is below retry_min_s ({self.retry_min_s:g})")
        return self

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    def window_rules(self) -> list[WindowRule]:
        return [w.rule() for w in self.windows]

    def scheduler_plan(self) -> SchedulerPlan:
        return SchedulerPlan({name: Share(self.classes.policy(name).weight, self.classes.policy(name).min_share)
                              for name in WEIGHTED}, metered_defers=frozenset(self.metered_defers))

    def budget_plan(self) -> BudgetPlan:
        return BudgetPlan(self.link_mbit_s, self.window_rules(), self.zone, self.pacing, self.burst_s)

    def ttls(self) -> dict[TrafficClass, float]:
        """The classes that expire, with their TTL in seconds."""
        return {name: ttl for name in WEIGHTED if (ttl := self.classes.policy(name).ttl_s) is not None}
