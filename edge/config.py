"""Typed configuration, loaded once from TOML, validated, and passed down.

Unknown keys are rejected, every error names its key path (``mqtt.keepalive``), and secrets may live
in files named by ``*_file`` keys (resolved relative to the config file). Nothing here reads the
environment.
"""

from __future__ import annotations

import enum
import hashlib
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Literal, Self
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator, model_validator

from edge.bodycam.config import BodycamConfig
from edge.bodycam.footage.config import FootageConfig
from edge.cases.config import CasesConfig
from edge.config_section import ConfigSection
from edge.custody.config import CustodyConfig
from edge.housekeeping.config import RetentionConfig, check_covers_footage
from edge.kiosk.config import KioskSection
from edge.uplink.config import UplinkConfig
from edge.web.config import DeviceAuthConfig

STATION_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{1,31}$"


class ConfigError(Exception):
    """The configuration is invalid; ``errors`` lists (key path, message) pairs, all of them."""

    def __init__(self, source: str, errors: list[tuple[str, str]]) -> None:
        self.source = source
        self.errors = errors
        lines = "\n".join(f"  {path or '(top level)'}: {message}" for path, message in errors)
        super().__init__(f"{source}: {len(errors)} configuration error(s):\n{lines}")


class Role(enum.StrEnum):
    TECHNICIAN = "technician"
    SUPERVISOR = "supervisor"
    OFFICER = "officer"
    KIOSK = "kiosk"



class StationConfig(ConfigSection):
    id: Annotated[str, Field(pattern=STATION_ID_PATTERN)]
    name: str = ""
    data_dir: Path = Path("/var/lib/station-edge")


class MqttConfig(ConfigSection):
    url: str = "mqtt://127.0.0.1:1883"
    client_id: str = ""  # default: edge-{station.id}
    username: str = ""
    password: str = ""
    password_file: Path | None = None
    keepalive_s: Annotated[int, Field(ge=5, le=3600)] = 30
    session_expiry_s: Annotated[int, Field(ge=0)] = 86_400
    # paho loses QoS 1 messages beyond 65,535 outstanding; stay far below.
    max_inflight: Annotated[int, Field(ge=1, le=20_000)] = 1_000
    receive_maximum: Annotated[int, Field(ge=1, le=65_535)] = 1_000
    reconnect_min_s: Annotated[float, Field(gt=0)] = 0.5
    reconnect_max_s: Annotated[float, Field(gt=0)] = 30.0
    ca_file: Path | None = None
    # A message that can be neither handled nor dead-lettered (the store fails) is retried in memory this
    # many times within this many seconds; then the link reconnects so that the broker redelivers it.
    retry_attempts: Annotated[int, Field(ge=1, le=1000)] = 8
    retry_window_s: Annotated[float, Field(gt=0, le=3600)] = 15.0

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("mqtt", "mqtts"):
            raise ValueError("must start with mqtt:// or mqtts://")
        if not parts.hostname:
            raise ValueError("must name a host, e.g. mqtt://127.0.0.1:1883")
        parts.port  # noqa: B018 - raises ValueError on a bad port
        return value

    @model_validator(mode="after")
    def _one_password_source(self) -> Self:
        if self.password and self.password_file:
            raise ValueError("set password or password_file, not both")
        return self

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or (8883 if parts.scheme == "mqtts" else 1883)

    @property
    def tls(self) -> bool:
        return urlsplit(self.url).scheme == "mqtts"


class ApiToken(ConfigSection):
    """An API client. Prefer token_sha256: the config then holds no secret at all."""

    name: Annotated[str, Field(min_length=1)]
    role: Role
    token_sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] | None = None
    token_file: Path | None = None
    token: str = ""

    @model_validator(mode="after")
    def _one_token_source(self) -> Self:
        sources = [bool(self.token_sha256), self.token_file is not None, bool(self.token)]
        if sum(sources) != 1:
            raise ValueError("set exactly one of token_sha256, token_file or token")
        if self.token and len(self.token) < 16:
            raise ValueError("token must be at least 16 characters")
        return self

    @property
    def digest(self) -> str:
        """SHA-256 (hex) of the token, which is all the authenticator needs."""
        return self.token_sha256 or hashlib.sha256(self.token.encode()).hexdigest()


class HttpConfig(ConfigSection):
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65_535)] = 8080
    # /metrics without a token: scrapers on the station LAN rarely carry one.
    metrics_public: bool = True
    max_body_bytes: Annotated[int, Field(ge=1024)] = 1_048_576
    device_auth: DeviceAuthConfig = DeviceAuthConfig()  # device Basic auth: cache and failure limits


class ApiConfig(ConfigSection):
    tokens: list[ApiToken] = Field(default_factory=list)

    @field_validator("tokens")
    @classmethod
    def _unique_names(cls, tokens: list[ApiToken]) -> list[ApiToken]:
        names = [t.name for t in tokens]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate token names: {', '.join(duplicates)}")
        return tokens


class ServicesConfig(ConfigSection):
    """Which parts of the daemon run on this machine (a kiosk PC runs only the kiosk part)."""

    mqtt: bool = True
    http: bool = True
    bodycam: bool = True
    kiosk: bool = False
    uplink: bool = False
    cases: bool = True  # case registry, auto-linking, review queue, compliance warnings


class SupervisorConfig(ConfigSection):
    max_restarts: Annotated[int, Field(ge=0)] = 5
    restart_window_s: Annotated[float, Field(gt=0)] = 60.0
    backoff_min_s: Annotated[float, Field(gt=0)] = 0.5
    backoff_max_s: Annotated[float, Field(gt=0)] = 30.0
    stable_after_s: Annotated[float, Field(gt=0)] = 5.0
    shutdown_timeout_s: Annotated[float, Field(gt=0, le=60)] = 8.0


class LoggingConfig(ConfigSection):
    format: Literal["json", "text"] = "json"
    level: Literal["debug", "info", "warning", "error"] = "info"


class Config(ConfigSection):
    station: StationConfig
    mqtt: MqttConfig = MqttConfig()
    http: HttpConfig = HttpConfig()
    api: ApiConfig = ApiConfig()
    services: ServicesConfig = ServicesConfig()
    supervisor: SupervisorConfig = SupervisorConfig()
    logging: LoggingConfig = LoggingConfig()
    bodycam: BodycamConfig = BodycamConfig()
    footage: FootageConfig = FootageConfig()
    cases: CasesConfig = CasesConfig()
    kiosk: KioskSection = KioskSection()  # runs only with services.kiosk
    custody: CustodyConfig = CustodyConfig()
    retention: RetentionConfig = RetentionConfig()  # bounded storage (edge/housekeeping/)
    uplink: UplinkConfig = UplinkConfig()  # read only with services.uplink (edge/uplink/)

    @model_validator(mode="before")
    @classmethod
    def _context_follows_footage(cls, data: Any) -> Any:
        """Unset telemetry and events retention follows ``footage.routine_retention_days``: they are the
        footage's context, so a station keeping footage longer keeps them as long without a second edit."""
        footage = data.get("footage") if isinstance(data, dict) else None
        days = footage.get("routine_retention_days") if isinstance(footage, dict) else None
        retention = data.get("retention", {}) if isinstance(data, dict) else None
        if days is None or not isinstance(retention, dict):
            return data
        filled = {"telemetry_days": days, "events_days": days, **retention}
        return {**data, "retention": filled}

    @model_validator(mode="after")
    def _retention_covers_footage(self) -> Self:
        check_covers_footage(self.retention, self.footage.routine_retention_days)
        return self

    @model_validator(mode="after")
    def _batch_within_window(self) -> Self:
        # Telemetry is acknowledged per committed batch: a batch that cannot fill within the broker's
        # Receive Maximum would wait for its time window every time.
        if self.bodycam.telemetry_batch_rows > self.mqtt.receive_maximum // 2:
            raise ValueError("bodycam.telemetry_batch_rows must be at most half of mqtt.receive_maximum")
        return self

    @property
    def database_path(self) -> Path:
        return self.station.data_dir / "station.db"

    @property
    def mqtt_client_id(self) -> str:
        return self.mqtt.client_id or f"edge-{self.station.id}"


def _key_path(location: Iterable[int | str]) -> str:
    parts: list[str] = []
    for item in location:
        if isinstance(item, int):
            parts[-1:] = [f"{parts[-1]}[{item}]"] if parts else [f"[{item}]"]
        else:
            parts.append(item)
    return ".".join(parts)


def _resolve_paths(raw: dict[str, Any], base: Path) -> None:
    """Make relative paths in well-known keys relative to the config file, not the working directory."""
    for section, key in (("station", "data_dir"), ("mqtt", "password_file"), ("mqtt", "ca_file"),
                         ("bodycam", "broker_dir"), ("bodycam", "broker_pid_file"),
                         ("footage", "dir"), ("footage", "dock_dir"), ("custody", "key_file")):
        value = raw.get(section, {}).get(key) if isinstance(raw.get(section), dict) else None
        if isinstance(value, str) and not Path(value).is_absolute():
            raw[section][key] = str(base / value)
    uplink = raw.get("uplink")
    central = uplink.get("central") if isinstance(uplink, dict) else None
    for key in ("api_key_file", "receipt_key_file", "ca_file", "client_cert_file", "client_key_file"):
        value = central.get(key) if isinstance(central, dict) else None
        if isinstance(value, str) and not Path(value).is_absolute():
            central[key] = str(base / value)  # type: ignore[index]
    tokens = raw.get("api", {}).get("tokens") if isinstance(raw.get("api"), dict) else None
    for token in tokens if isinstance(tokens, list) else []:
        value = token.get("token_file") if isinstance(token, dict) else None
        if isinstance(value, str) and not Path(value).is_absolute():
            token["token_file"] = str(base / value)
    s3 = raw.get("uplink", {}).get("s3") if isinstance(raw.get("uplink"), dict) else None
    for key in ("access_key_id_file", "secret_access_key_file", "ca_file") if isinstance(s3, dict) else ():
        value = s3.get(key)  # type: ignore[union-attr]
        if isinstance(value, str) and not Path(value).is_absolute():
            s3[key] = str(base / value)  # type: ignore[index]


def _read_secret(path: Path, key: str, errors: list[tuple[str, str]]) -> str:
    try:
        secret = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        errors.append((key, f"cannot read secret file {path}: {exc.strerror or exc}"))
        return ""
    if not secret:
        errors.append((key, f"secret file {path} is empty"))
    return secret


def _load_secrets(config: Config) -> Config:
    errors: list[tuple[str, str]] = []
    mqtt = config.mqtt
    if mqtt.password_file is not None:
        password = _read_secret(mqtt.password_file, "mqtt.password_file", errors)
        mqtt = mqtt.model_copy(update={"password": password, "password_file": None})
    tokens = []
    for index, token in enumerate(config.api.tokens):
        if token.token_file is not None:
            value = _read_secret(token.token_file, f"api.tokens[{index}].token_file", errors)
            token = token.model_copy(update={"token": value, "token_file": None})
        tokens.append(token)
    errors += _duplicate_digests(config.api.tokens, tokens)
    if errors:
        raise ConfigError("secrets", errors)
    return config.model_copy(update={"mqtt": mqtt, "api": config.api.model_copy(update={"tokens": tokens})})


def _duplicate_digests(configured: list[ApiToken], resolved: list[ApiToken]) -> list[tuple[str, str]]:
    """Two tables with one token would make one holder act under two names (and roles) at random."""
    errors: list[tuple[str, str]] = []
    first: dict[str, int] = {}
    for index, (given, token) in enumerate(zip(configured, resolved, strict=True)):
        if not (token.token or token.token_sha256):
            continue  # unreadable token file: reported already
        earlier = first.setdefault(token.digest, index)
        if earlier != index:
            key = "token_sha256" if given.token_sha256 else "token_file" if given.token_file else "token"
            errors.append((f"api.tokens[{index}].{key}", f"same token as api.tokens[{earlier}] "
                           f"({resolved[earlier].name!r}); every token must be unique"))
    return errors


def parse(raw: dict[str, Any], *, source: str = "<config>", base_dir: Path | None = None) -> Config:
    """Validate a decoded TOML document; raise ConfigError listing every problem."""
    if base_dir is not None:
        _resolve_paths(raw, base_dir)
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        errors = [(_key_path(e["loc"]), e["msg"]) for e in exc.errors()]
        raise ConfigError(source, errors) from None
    try:
        return _load_secrets(config)
    except ConfigError as exc:
        raise ConfigError(source, exc.errors) from None


def load(path: Path) -> Config:
    """Read, validate and resolve a TOML config file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), [("", f"cannot read config file: {exc.strerror or exc}")]) from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), [("", f"not valid TOML: {exc}")]) from None
    return parse(raw, source=str(path), base_dir=path.resolve().parent)
