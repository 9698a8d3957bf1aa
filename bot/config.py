"""Settings from the environment and an optional yingji.yaml, checked once at start-up."""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bot.statements.outlet_limits import DEFAULT_LIMITS
from bot.vocabulary import Language, Role, Severity

DEFAULT_API_URL = "https://slack.com/api/"
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///data/yingji.db"


# A response_url host as yingji.yaml names it: a DNS name or an IP literal ([…] for IPv6), and maybe a port.
HOST_PORT = re.compile(r"(?P<host>[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*"
                       r"|\[(?P<ipv6>[0-9a-f:.]+)\])(?::(?P<port>\d{1,5}))?")

SWITCH = {"on": True, "off": False, "true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}


def async_database_url(url: str) -> str:
    """Hosting platforms hand out postgres:// or postgresql:// URLs; the bot talks to them through asyncpg."""
    for plain in ("postgres://", "postgresql://"):
        if url.startswith(plain):
            return "postgresql+asyncpg://" + url[len(plain):]
    return url


class ConfigError(Exception):
    """A setting is missing or invalid; the message names the setting and never its secret value."""


class RoleHolders(BaseModel):
    """Default role holders: role name -> Slack user id. Besides the five core roles it takes the optional
    built-in ones (ops, finance) and the deployment's own (`roles:`); FileConfig refuses any other name."""

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, str | None] = Field(init=False)

    commander: str | None = None
    tech: str | None = None
    comms: str | None = None
    legal: str | None = None
    support: str | None = None

    def roles(self) -> list[str]:
        """Every role named here, held or not."""
        return [*type(self).model_fields, *(self.model_extra or {})]

    def items(self) -> list[tuple[str, str]]:
        """The roles that have a default holder: the built-in ones in the canonical order, then the others."""
        named = {**{role: getattr(self, role) for role in type(self).model_fields}, **(self.model_extra or {})}
        order = [*Role, *(role for role in named if not Role.known(role))]
        return [(role, user) for role in order if (user := named.get(role))]


class RoleNames(BaseModel):
    """A deployment role's name in each language the bot speaks (every incident may run in either)."""

    model_config = ConfigDict(extra="forbid")

    zh: str = Field(min_length=1, max_length=30)
    en: str = Field(min_length=1, max_length=30)


class DeploymentRole(BaseModel):
    """A role a deployment adds (`roles:` in yingji.yaml): usable in its playbooks, assignable like the five."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z][a-z0-9-]{0,29}$")  # a lower-case slug, as typed in `/incident role <id> @x`
    name: RoleNames

    @field_validator("id")
    @classmethod
    def _not_built_in(cls, value: str) -> str:
        if Role.known(value):
            raise ValueError(f"{value!r} is a built-in role ({', '.join(Role)}); give the deployment's role another id")
        return value


class OutletWebhook(BaseModel):
    """Where an outlet's approved text is POSTed; the secret is named by an env var, never written here."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(pattern=r"^https?://")
    secret_env: str = Field(pattern=r"^[A-Z][A-Z0-9_]*$")


def _each_id_once(what: str, ids: list[str]) -> None:
    """A list of things yingji.yaml names by id gives each id once, else the ids given twice are named."""
    twice = sorted({one for one in ids if ids.count(one) > 1})
    if twice:
        raise ValueError(f"each {what} id once: {', '.join(twice)} given more than once")


class StatusComponent(BaseModel):
    """A part of the shop customers recognise on the status page (下单, 支付, 物流, 售后)."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z][a-z0-9-]{0,29}$")
    name: RoleNames


class StatusPageConfig(BaseModel):
    """The public status page (`status_page:` in yingji.yaml): fed only by approved, published statements."""

    model_config = ConfigDict(extra="forbid")

    title: dict[Language, str] = {}   # per language; default: the brand, else the catalog's title
    logo_url: str | None = Field(default=None, pattern=r"^https?://")
    accent: str = Field(default="#c8102e", pattern=r"^#[0-9a-fA-F]{6}$")
    components: list[StatusComponent] = []
    auto_publish: bool = False   # an approved statement goes to the page at approval, without Mark published
    show_drills: bool = False    # drills appear (marked as drills) only when this is on
    url: str | None = Field(default=None, pattern=r"^https?://")   # the page's public address, for feeds and links
    refresh_seconds: float = Field(default=5, gt=0, le=300)   # how often a replica looks for another one's changes

    def component_ids(self) -> list[str]:
        """The components' ids, in the order the page lists them."""
        return [component.id for component in self.components]

    @field_validator("components")
    @classmethod
    def _each_component_once(cls, value: list[StatusComponent]) -> list[StatusComponent]:
        _each_id_once("component", [component.id for component in value])
        return value


class AlertRule(BaseModel):
    """Alerts whose labels all match open this playbook at this severity."""

    model_config = ConfigDict(extra="forbid")

    match: dict[str, str]
    playbook: str
    severity: Severity


class AlertConfig(BaseModel):
    """How alerts from monitoring become incidents; the first matching rule wins, else the defaults."""

    model_config = ConfigDict(extra="forbid")

    rules: list[AlertRule] = []
    default_playbook: str = "site-outage"
    default_severity: Severity = Severity.SEV3
    severity_label: str = "severity"   # an alert label that may carry sev1..sev4 (or critical/major/…) directly


class FileConfig(BaseModel):
    """What a team writes in yingji.yaml; every field has a safe default."""

    model_config = ConfigDict(extra="forbid")

    announce_channel: str | None = None
    leadership_channel: str | None = None
    channel_prefix: str = Field(default="inc", pattern=r"^[a-z0-9][a-z0-9_-]{0,19}$")
    language: Language = Language.ZH
    timezone: str = "Asia/Shanghai"
    roles: list[DeploymentRole] = []   # roles this deployment adds to the built-in ones, e.g. a warehouse lead
    default_roles: RoleHolders = RoleHolders()
    playbook_roles: dict[str, RoleHolders] = {}
    comms_approvers: list[str] = []
    legal_approvers: list[str] = []
    incident_managers: list[str] = []
    playbooks_dir: str | None = None
    alerts: AlertConfig = AlertConfig()
    escalation: list[str] = []
    escalate_after_minutes: dict[str, float] = {Severity.SEV1: 10, Severity.SEV2: 10}
    archive_after_days: float = 7
    regulatory: list[str] = []   # which clocks apply here, e.g. [other-operator, gdpr] (tags of playbook clocks)
    brand: str = ""
    templates_dir: str | None = None
    outlet_limits: dict[str, int] = {}
    outlet_webhooks: dict[str, OutletWebhook] = {}
    status_page: StatusPageConfig = StatusPageConfig()
    public_updates: dict[str, str] = {}  # where the public finds the next update, per language (default: this notice)
    cadence_minutes: dict[str, float] = {}
    timeline_reaction: str = Field(default="pushpin", pattern=r"^[a-z0-9_+\-']{1,100}$")
    digest_time: str | None = Field(default="09:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    hook_max_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)   # largest alert hook body accepted
    read_timeout_seconds: float = Field(default=10, gt=0, le=300)      # for a whole request body to arrive
    max_connections: int = Field(default=1000, ge=10)                  # open at once; past it, 503 and one log line
    response_url_hosts: list[str] = []   # hosts (host or host:port) besides Slack's that response_urls may name

    @field_validator("roles")
    @classmethod
    def _each_role_once(cls, value: list[DeploymentRole]) -> list[DeploymentRole]:
        _each_id_once("role", [role.id for role in value])
        return value

    @model_validator(mode="after")
    def _holders_of_known_roles(self) -> FileConfig:
        """Default holders only for roles this deployment has, so a typo never holds a role nobody sees."""
        known = self.known_roles()
        given = [("default_roles", self.default_roles)]
        given += [(f"playbook_roles.{slug}", holders) for slug, holders in self.playbook_roles.items()]
        for where, holders in given:
            for role in holders.roles():
                if role not in known:
                    raise ValueError(f"{where}.{role}: not a role of this deployment; known: {', '.join(known)}")
        return self

    def known_roles(self) -> tuple[str, ...]:
        """Every role this deployment can use: the built-in ones, then its own (`roles:`)."""
        return (*Role, *(role.id for role in self.roles))

    def role_names(self) -> dict[str, dict[str, str]]:
        """The deployment's own roles' names: id -> language -> name."""
        return {role.id: role.name.model_dump() for role in self.roles}

    def holders_for(self, playbook: str) -> dict[str, str]:
        """Role holders from yingji.yaml for an incident of this playbook: the global ones, overridden per playbook."""
        holders = dict(self.default_roles.items())
        if playbook in self.playbook_roles:
            holders.update(self.playbook_roles[playbook].items())
        return holders

    @field_validator("response_url_hosts")
    @classmethod
    def _host_or_host_port(cls, value: list[str]) -> list[str]:
        """Hosts only, lower-cased: a scheme, path, userinfo or trailing dot here would be allowing something else."""
        hosts = [entry.strip().lower() for entry in value]
        for entry in hosts:
            match = HOST_PORT.fullmatch(entry)
            if match is None or (match["port"] and not 0 < int(match["port"]) <= 65535):
                raise ValueError(f"{entry!r} is not a host or host:port, such as hooks.example.com or 127.0.0.1:8080")
            if match["ipv6"]:
                try:
                    ipaddress.IPv6Address(match["ipv6"])
                except ValueError:
                    raise ValueError(f"{entry!r}: [{match['ipv6']}] is not an IPv6 address") from None
        return hosts

    @field_validator("outlet_limits")
    @classmethod
    def _known_outlets(cls, value: dict[str, int]) -> dict[str, int]:
        unknown = sorted(set(value) - set(DEFAULT_LIMITS))
        if unknown:
            raise ValueError(f"unknown outlet {', '.join(unknown)}; known: {', '.join(DEFAULT_LIMITS)}")
        if any(limit <= 0 for limit in value.values()):
            raise ValueError("limits must be above 0 characters")
        return value

    @field_validator("public_updates")
    @classmethod
    def _per_language(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(Language))
        if unknown:
            raise ValueError(f"unknown language {', '.join(unknown)}; known: {', '.join(Language)}")
        if any(not text.strip() or "\n" in text for text in value.values()):
            raise ValueError("expected one line of text per language, such as our status page")
        return {lang: text.strip() for lang, text in value.items()}

    @field_validator("cadence_minutes")
    @classmethod
    def _known_severities(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(Severity))
        if unknown or any(minutes <= 0 for minutes in value.values()):
            raise ValueError("keys must be sev1..sev4 and minutes above 0")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA timezone such as Asia/Shanghai") from None
        return value


@dataclass(frozen=True)
class Settings:
    """Everything the process needs; secrets are kept out of repr."""

    bot_token: str = field(repr=False)
    signing_secret: str = field(repr=False)
    app_token: str | None = field(default=None, repr=False)
    alert_webhook_token: str | None = field(default=None, repr=False)
    api_url: str = DEFAULT_API_URL
    database_url: str = DEFAULT_DATABASE_URL
    host: str = "0.0.0.0"
    port: int = 3000
    config_path: Path | None = None
    file: FileConfig = field(default_factory=FileConfig)
    scheduler: bool = True  # YINGJI_SCHEDULER: whether this process fires timed jobs (off on web replicas)

    @property
    def tz(self) -> ZoneInfo:
        """The team's timezone, used for every date shown to a person."""
        return ZoneInfo(self.file.timezone)


def load_file_config(path: Path) -> FileConfig:
    """Read and validate yingji.yaml, naming the file and the field on any problem."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"YINGJI_CONFIG: cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"YINGJI_CONFIG: {path} is not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"YINGJI_CONFIG: {path} must hold a mapping of settings")
    try:
        return FileConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"YINGJI_CONFIG: {path}: {problems}") from None


def load_settings(
    env: Mapping[str, str] | None = None, *, need_app_token: bool = False, need_slack: bool = True
) -> Settings:
    """Build Settings from the environment; stop with a message naming what is wrong.

    Offline commands (export, report) pass need_slack=False: they read the database only.
    """
    env = os.environ if env is None else env
    missing = [name for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET") if need_slack and not env.get(name)]
    if need_app_token and not env.get("SLACK_APP_TOKEN"):
        missing.append("SLACK_APP_TOKEN")
    if missing:
        raise ConfigError(f"missing setting: {', '.join(missing)} (set it in the environment)")
    if need_slack and not env["SLACK_BOT_TOKEN"].startswith("xoxb-"):
        raise ConfigError("SLACK_BOT_TOKEN: expected a bot token starting with xoxb-")
    app_token = env.get("SLACK_APP_TOKEN") or None
    if app_token and not app_token.startswith("xapp-"):
        raise ConfigError("SLACK_APP_TOKEN: expected an app-level token starting with xapp-")
    port_text = env.get("PORT", "3000")
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ConfigError(f"PORT: expected a number from 0 to 65535, got {port_text!r}")
    api_url = env.get("SLACK_API_URL") or DEFAULT_API_URL
    if not api_url.startswith(("http://", "https://")):
        raise ConfigError(f"SLACK_API_URL: expected an http(s) URL, got {api_url!r}")
    database_url = async_database_url(env.get("DATABASE_URL") or DEFAULT_DATABASE_URL)
    if not database_url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        raise ConfigError(
            "DATABASE_URL: expected sqlite+aiosqlite:///path or postgresql+asyncpg://… "
            "(the scheme must name the async driver)"
        )
    scheduler_text = env.get("YINGJI_SCHEDULER", "on").strip().lower()
    if scheduler_text not in SWITCH:
        raise ConfigError(f"YINGJI_SCHEDULER: expected on or off, got {scheduler_text!r}")
    config_path = Path(env["YINGJI_CONFIG"]) if env.get("YINGJI_CONFIG") else None
    file = load_file_config(config_path) if config_path else FileConfig()
    return Settings(
        bot_token=env.get("SLACK_BOT_TOKEN", ""),
        signing_secret=env.get("SLACK_SIGNING_SECRET", ""),
        app_token=app_token,
        alert_webhook_token=env.get("ALERT_WEBHOOK_TOKEN") or None,
        api_url=api_url if api_url.endswith("/") else api_url + "/",
        database_url=database_url,
        host=env.get("HOST", "0.0.0.0"),
        port=int(port_text),
        config_path=config_path,
        file=file,
        scheduler=SWITCH[scheduler_text],
    )
