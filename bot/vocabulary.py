"""The domain's words, each defined once: every layer (database rows, playbooks, config, Slack payloads, the
catalogs' keys) uses these values, so a new role or stage is added here and nowhere else."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Word(StrEnum):
    """A word of the vocabulary; `known` checks a plain string (on Python 3.11 `in` needs a member)."""

    @classmethod
    def known(cls, value: object) -> bool:
        """Whether `value` is one of these words."""
        return value in cls._value2member_map_


class Language(Word):
    """The languages the bot speaks (bot/i18n/<language>.yaml)."""

    ZH = "zh"
    EN = "en"


class Role(Word):
    """The built-in roles, in the order people read them: the five core ones every incident has, then the
    optional ones an incident has only when its playbook lists them (or yingji.yaml gives them a holder).
    A deployment may add its own roles in yingji.yaml (`roles:`); those are not members here."""

    COMMANDER = "commander"
    TECH = "tech"
    COMMS = "comms"
    LEGAL = "legal"
    SUPPORT = "support"
    OPS = "ops"  # warehouse, fulfilment, logistics
    FINANCE = "finance"  # refunds, compensation budget, payment partners


CORE_ROLES = (Role.COMMANDER, Role.TECH, Role.COMMS, Role.LEGAL, Role.SUPPORT)  # every incident's, whatever its playbook


class Severity(Word):
    """Our internal response levels, most severe first (not the legal grades of a regulator)."""

    SEV1 = "sev1"
    SEV2 = "sev2"
    SEV3 = "sev3"
    SEV4 = "sev4"


class LegalGrade(Word):
    """The grade of a cybersecurity incident under the CAC 网络安全事件分级指南, most severe first, as legal sets it
    (《国家网络安全事件报告管理办法》): 特别重大, 重大, 较大, 一般, or not reportable. Not our response level."""

    ESPECIALLY_MAJOR = "especially-major"  # 特别重大
    MAJOR = "major"  # 重大
    RELATIVELY_MAJOR = "relatively-major"  # 较大
    GENERAL = "general"  # 一般
    NOT_REPORTABLE = "not-reportable"  # 不需报告

    def reaches(self, threshold: LegalGrade) -> bool:
        """Whether this grade is `threshold` or more severe (not reportable reaches nothing)."""
        order = list(LegalGrade)
        return self is not LegalGrade.NOT_REPORTABLE and order.index(self) <= order.index(threshold)


CADENCE_MINUTES: dict[Severity, int | None] = {  # how often the public hears from us, unless yingji.yaml says
    Severity.SEV1: 15, Severity.SEV2: 30, Severity.SEV3: 60, Severity.SEV4: None,
}


class Status(Word):
    """Where an incident is in its life."""

    INVESTIGATING = "investigating"
    IDENTIFIED = "identified"
    MONITORING = "monitoring"
    RESOLVED = "resolved"
    CLOSED = "closed"


ACTIVE = (Status.INVESTIGATING, Status.IDENTIFIED, Status.MONITORING)
SETTABLE = (*ACTIVE, Status.RESOLVED)  # what `/incident status <status>` sets; closing is `/incident close`


class Stage(Word):
    """Which public statement a version is: the stages customers hear about, in order."""

    INVESTIGATING = "investigating"
    IDENTIFIED = "identified"
    MONITORING = "monitoring"
    RESOLVED = "resolved"


class Tone(Word):
    """How a kind of incident speaks to the public (playbooks/templates/tones.yaml): a fault of our service, a
    breach of personal data (a risk, not an inconvenience), a rumour (no admission), a disaster (not our doing),
    a fraud against customers (a warning first), an unsafe product (stop using it)."""

    SERVICE = "service"
    BREACH = "breach"
    RUMOUR = "rumour"
    DISASTER = "disaster"
    FRAUD = "fraud"
    SAFETY = "safety"


class DataStatus(Word):
    """What a person has established about personal data; until someone checks, the statement says nothing."""

    UNKNOWN = "unknown"  # nobody has checked yet: the default, silent
    NONE = "none"  # a person checked: no personal data affected
    SUSPECTED = "suspected"
    CONFIRMED = "confirmed"
    NOT_APPLICABLE = "not_applicable"  # the incident has nothing to do with personal data: silent


DATA_SILENT = (DataStatus.UNKNOWN, DataStatus.NOT_APPLICABLE)  # the statuses a statement says nothing about
DATA_HARMED = (DataStatus.SUSPECTED, DataStatus.CONFIRMED)  # the statuses that name harms and the detail


class DataHarm(Word):
    """What happened to personal data, kept apart as PIPL art. 57 keeps them (泄露 / 篡改 / 丢失)."""

    LEAKED = "leaked"
    ALTERED = "altered"
    LOST = "lost"


class Outlet(Word):
    """Where an approved statement goes out to customers."""

    BANNER = "banner"
    PUSH = "push"
    SOCIAL = "social"
    EMAIL = "email"
    SCRIPT = "script"
    STATUS_PAGE = "status_page"  # the public status page (GET /status): only what is published here shows there


class ComponentState(Word):
    """How a status-page component is doing, worst last (Statuspage's scale): comms chooses it on the statement."""

    OPERATIONAL = "operational"
    MAINTENANCE = "maintenance"
    DEGRADED = "degraded"
    PARTIAL_OUTAGE = "partial_outage"
    MAJOR_OUTAGE = "major_outage"

    @classmethod
    def worst(cls, states: Iterable[str]) -> ComponentState:
        """The worst of these states (operational when there are none): what a day or the whole page shows."""
        order = list(cls)
        return max((cls(state) for state in states if cls.known(state)), key=order.index, default=cls.OPERATIONAL)


IMPACT_STATES = (ComponentState.DEGRADED, ComponentState.PARTIAL_OUTAGE, ComponentState.MAJOR_OUTAGE)  # colour the page
STATED_STATES = (ComponentState.OPERATIONAL, *IMPACT_STATES)  # what comms may state of a component (back to normal too)


class MaintenanceStatus(Word):
    """A scheduled maintenance window's review state; when it runs follows from its start and end."""

    DRAFT = "draft"
    APPROVED = "approved"
    CANCELLED = "cancelled"


class MaintenancePhase(Word):
    """Where an approved maintenance window stands in time, as the status page shows it: announced in advance,
    running (active), or over (kept in history)."""

    SCHEDULED = "scheduled"
    ACTIVE = "active"
    COMPLETED = "completed"


class Phase(Word):
    """The phases of an emergency plan (应急预案) a playbook step belongs to."""

    DETECT = "detect"
    REPORT = "report"
    RESPOND = "respond"
    HANDLE = "handle"
    RECOVER = "recover"
    REVIEW = "review"


class OpStatus(Word):
    """Where a queued Slack operation is (bot/outbox.py)."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class OpResult(Word):
    """What one attempt at a Slack operation came to (bot/slack/runner.py)."""

    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"  # nothing to do (already done, or no longer wanted)
    BLOCKED = "blocked"  # waiting on Slack (rate limit): the incident's later operations wait too
    RETRY = "retry"  # failed for now; tried again after a backoff


class OpOwner(Word):
    """Whose work a queued Slack operation is, and so who is told when Slack refuses it for good (bot/slack/gave_up.py)."""

    INCIDENT = "incident"  # its declarer, and whoever asked for the operation
    WINDOW = "window"  # a maintenance window: its timeline and its drafter
    WORKSPACE = "workspace"  # the deployment's own (the daily digest): logged and counted, nobody to tell
