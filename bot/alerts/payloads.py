"""What monitoring sends, read and checked whole, and mapped to one batch per incident key: its playbook, severity and title."""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)
from pydantic_core import ErrorDetails

from bot.config import AlertConfig
from bot.severity import parse_severity
from bot.vocabulary import Severity

MAX_KEY = 180             # Delivery.key holds 200 characters, "alert-open:" included
MAX_TITLE = 200
MAX_TEXT = 2000
MAX_ERRORS = 3
ZERO_TIME_YEAR = 1        # Alertmanager sends 0001-01-01T00:00:00Z for "not ended"

SEVERITY_WORDS = {
    "critical": Severity.SEV1, "major": Severity.SEV2, "high": Severity.SEV2,
    "warning": Severity.SEV3, "medium": Severity.SEV3, "info": Severity.SEV4, "low": Severity.SEV4,
}


class AlertError(Exception):
    """The payload is not acceptable; the message says which field and what was expected."""


# --- payloads ---------------------------------------------------------------------------------------


class AmAlert(BaseModel):
    """One alert inside an Alertmanager webhook notification."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    status: Literal["firing", "resolved"]
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}
    starts_at: AwareDatetime = Field(alias="startsAt")
    ends_at: AwareDatetime | None = Field(default=None, alias="endsAt")
    generator_url: str = Field(default="", alias="generatorURL")
    fingerprint: str = ""


class AlertmanagerPayload(BaseModel):
    """Alertmanager's webhook body, version 4 (https://prometheus.io/docs/alerting/latest/configuration/#webhook_config)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    version: Literal["4"]
    group_key: str = Field(alias="groupKey", min_length=1)
    status: Literal["firing", "resolved"]
    receiver: str = ""
    group_labels: dict[str, str] = Field(default={}, alias="groupLabels")
    common_labels: dict[str, str] = Field(default={}, alias="commonLabels")
    common_annotations: dict[str, str] = Field(default={}, alias="commonAnnotations")
    external_url: str = Field(default="", alias="externalURL")
    truncated_alerts: int = Field(default=0, alias="truncatedAlerts")
    alerts: list[AmAlert] = Field(min_length=1)


class SimpleAlert(BaseModel):
    """Our own small alert format, for sources that are not Alertmanager."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=10_000)
    dedup_key: str = Field(min_length=1, max_length=1000)
    severity: str | None = None
    playbook: str | None = Field(default=None, max_length=64)
    source: str = Field(default="", max_length=200)
    status: Literal["firing", "resolved"] = "firing"
    summary: str = Field(default="", max_length=20_000)
    started_at: AwareDatetime | None = None

    @field_validator("severity", mode="before")
    @classmethod
    def _severity(cls, value: Any) -> str | None:
        if value is None:
            return None
        parsed = parse_severity(str(value)) if isinstance(value, (str, int)) and not isinstance(value, bool) else None
        if parsed is None:
            raise ValueError("expected sev1..sev4 or 1..4")
        return parsed

    @field_validator("title", "dedup_key")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()


_FRIENDLY = {
    "missing": "required",
    "extra_forbidden": "unknown field",
    "dict_type": "expected an object",
    "model_type": "expected an object",
    "list_type": "expected a list",
    "string_type": "expected a string",
    "int_type": "expected a whole number",
    "int_parsing": "expected a whole number",
    "datetime_type": "expected an ISO 8601 time with a timezone, e.g. 2024-05-01T10:00:00Z",
    "datetime_parsing": "expected an ISO 8601 time with a timezone, e.g. 2024-05-01T10:00:00Z",
    "datetime_from_date_parsing": "expected an ISO 8601 time with a timezone, e.g. 2024-05-01T10:00:00Z",
    "timezone_aware": "expected a time with a timezone (Z or +08:00)",
}


def _where(loc: tuple[int | str, ...]) -> str:
    """A pydantic error location as people write it: alerts[0].startsAt."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


def _reason(exc: ValidationError) -> str:
    """The first few problems of a payload, each naming the field and what was expected."""
    errors: list[ErrorDetails] = exc.errors(include_url=False)
    parts = []
    for err in errors[:MAX_ERRORS]:
        if err["type"] == "too_short" and err["loc"][-1:] == ("alerts",):
            message = "expected at least one alert"
        elif err["type"] == "value_error":
            message = str(err["msg"]).removeprefix("Value error, ")
        else:
            message = _FRIENDLY.get(err["type"], str(err["msg"]))
        parts.append(f"{_where(tuple(err['loc']))}: {message}")
    more = len(errors) - MAX_ERRORS
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def parse_alertmanager(raw: Any) -> AlertmanagerPayload:
    """Validate a whole Alertmanager body before anything is written."""
    try:
        return AlertmanagerPayload.model_validate(raw)
    except ValidationError as exc:
        raise AlertError(_reason(exc)) from None


def parse_simple(raw: Any) -> SimpleAlert:
    """Validate a whole simple-JSON body before anything is written."""
    try:
        return SimpleAlert.model_validate(raw)
    except ValidationError as exc:
        raise AlertError(_reason(exc)) from None


# --- mapping ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mapped:
    """Which playbook and severity an alert opens, and why a configured playbook was not used."""

    playbook: str
    severity: str
    note: str = ""


def severity_from_label(value: str | None) -> str | None:
    """sev1..sev4, 1..4 or the usual monitoring words (critical, warning, …) as a severity."""
    if not value:
        return None
    return parse_severity(value) or SEVERITY_WORDS.get(value.strip().lower())


def default_playbook(config: AlertConfig, known: Collection[str]) -> tuple[str, str]:
    """The configured default playbook, or a shipped one if that was removed (with a note saying so)."""
    if config.default_playbook in known:
        return config.default_playbook, ""
    fallback = "site-outage" if "site-outage" in known else sorted(known)[0]
    return fallback, f"default playbook {config.default_playbook!r} is unknown; used {fallback}"


def map_labels(labels: Mapping[str, str], config: AlertConfig, known: Collection[str]) -> Mapped:
    """First rule whose labels all match, else the severity label with the default playbook, else defaults."""
    default, default_note = default_playbook(config, known)
    for rule in config.rules:
        if all(labels.get(name) == value for name, value in rule.match.items()):
            if rule.playbook in known:
                return Mapped(rule.playbook, rule.severity)
            note = f"rule playbook {rule.playbook!r} is unknown; opened with {default}"
            return Mapped(default, rule.severity, "; ".join(filter(None, [note, default_note])))
    severity = severity_from_label(labels.get(config.severity_label)) or config.default_severity
    return Mapped(default, severity, default_note)


def _most_severe(mapped: list[Mapped]) -> Mapped:
    """When alerts of one group disagree, the higher level wins (DESIGN: if unsure, pick the higher)."""
    return min(mapped, key=lambda m: m.severity)  # "sev1" < "sev2"; min() keeps the first of equals


# --- the normalised batch ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AlertItem:
    """One alert instance: identified by fingerprint and start, firing or resolved."""

    fingerprint: str
    firing: bool
    title: str
    starts_at: datetime
    ends_at: datetime | None = None
    labels: dict[str, str] = field(default_factory=dict)
    url: str = ""
    occurrence: str = ""         # what tells two firings of one alert apart (its start), "" if unknown


@dataclass(frozen=True)
class AlertBatch:
    """Everything one webhook call says about one key, parsed and mapped, ready to store."""

    key: str
    firing: bool                 # the group as a whole (Alertmanager: every alert resolved → False)
    title: str
    playbook: str
    severity: str
    summary: str
    source: str
    items: tuple[AlertItem, ...]
    note: str = ""

    @property
    def impact_started_at(self) -> datetime:
        """The earliest start among the alerts: when customers may first have been hurt."""
        firing = [item.starts_at for item in self.items if item.firing]
        return min(firing or [item.starts_at for item in self.items])


def clip(text: str, limit: int) -> str:
    """One line of at most `limit` characters, with an ellipsis when shortened."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def bounded_key(prefix: str, raw: str) -> str:
    """`prefix` + the raw key, or its digest when too long for the delivery table."""
    key = f"{prefix}{raw}"
    if len(key) <= MAX_KEY:
        return key
    return f"{prefix}sha256:{hashlib.sha256(raw.encode('utf-8')).hexdigest()}"


def alert_title(labels: Mapping[str, str], annotations: Mapping[str, str]) -> str:
    """The `summary` annotation, else the alert name with its service and instance."""
    if annotations.get("summary", "").strip():
        return clip(annotations["summary"], MAX_TITLE)
    name = labels.get("alertname") or "alert"
    where = [labels[label] for label in ("service", "instance") if labels.get(label)]
    return clip(f"{name} ({', '.join(where)})" if where else name, MAX_TITLE)


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _fingerprint(labels: Mapping[str, str]) -> str:
    """A stand-in for Alertmanager's fingerprint when a sender leaves it out: the labels' digest."""
    text = "\x00".join(f"{k}\x01{v}" for k, v in sorted(labels.items()))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def from_alertmanager(payload: AlertmanagerPayload, config: AlertConfig, known: Collection[str]) -> AlertBatch:
    """One Alertmanager notification as a batch keyed by its group key."""
    firing = [a for a in payload.alerts if a.status == "firing"] or payload.alerts
    mapped = _most_severe([map_labels(a.labels, config, known) for a in firing])
    if payload.common_annotations.get("summary", "").strip():
        title = clip(payload.common_annotations["summary"], MAX_TITLE)
    elif len(payload.alerts) > 1 and payload.common_labels.get("alertname"):
        title = alert_title(payload.common_labels, {})
    else:
        title = alert_title(firing[0].labels, firing[0].annotations)
    description = payload.common_annotations.get("description") or firing[0].annotations.get("description", "")
    links = [link for link in (payload.external_url, firing[0].generator_url) if link]
    summary = "\n".join(filter(None, [description.strip(), *links]))
    items = tuple(
        AlertItem(
            fingerprint=a.fingerprint or _fingerprint(a.labels),
            firing=a.status == "firing",
            title=alert_title(a.labels, a.annotations),
            starts_at=_utc(a.starts_at),
            ends_at=_utc(a.ends_at) if a.ends_at and a.ends_at.year > ZERO_TIME_YEAR else None,
            labels=dict(a.labels),
            url=a.generator_url,
            occurrence=_utc(a.starts_at).isoformat(),
        )
        for a in payload.alerts
    )
    return AlertBatch(
        key=bounded_key("am:", payload.group_key),
        firing=payload.status == "firing",
        title=title,
        playbook=mapped.playbook,
        severity=mapped.severity,
        summary=summary,
        source=f"alertmanager:{payload.receiver}" if payload.receiver else "alertmanager",
        items=items,
        note=mapped.note,
    )


def from_simple(alert: SimpleAlert, config: AlertConfig, known: Collection[str], now: datetime) -> AlertBatch:
    """A simple-JSON alert as a batch keyed by its dedup key; its own playbook and severity win."""
    default, default_note = default_playbook(config, known)
    note = default_note
    playbook = default
    if alert.playbook:
        if alert.playbook in known:
            playbook, note = alert.playbook, ""
        else:
            note = "; ".join(filter(None, [f"playbook {alert.playbook!r} is unknown; opened with {default}", default_note]))
    started = _utc(alert.started_at) if alert.started_at else now
    item = AlertItem(
        fingerprint=_fingerprint({"dedup_key": alert.dedup_key}),
        firing=alert.status == "firing",
        title=clip(alert.title, MAX_TITLE),
        starts_at=started,
        labels={"source": alert.source} if alert.source else {},
        occurrence=started.isoformat() if alert.started_at else "",
    )
    return AlertBatch(
        key=bounded_key("alert:", alert.dedup_key),
        firing=item.firing,
        title=item.title,
        playbook=playbook,
        severity=alert.severity or config.default_severity,
        summary=alert.summary.strip(),
        source=alert.source or "webhook",
        items=(item,),
        note=note,
    )
