"""The tables: incidents, roles, steps, the timeline, statements, and the Slack outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Float, Index, LargeBinary, Text, Unicode, UniqueConstraint
from sqlalchemy import text as sql
from sqlmodel import Field, SQLModel

from bot.db import UTCDateTime, utcnow
from bot.vocabulary import Language, MaintenanceStatus, OpStatus, Status


def _when(nullable: bool = False) -> Any:
    """A timezone-aware timestamp column; a required one defaults to now."""
    if nullable:
        return Field(default=None, sa_type=UTCDateTime, nullable=True)
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class Incident(SQLModel, table=True):
    """One emergency, from declaration to review; `id` is the n of its key INC-n."""

    id: int | None = Field(default=None, primary_key=True)
    key: str | None = Field(default=None, max_length=32, unique=True)
    title: str = Field(sa_type=Text)
    summary: str = Field(default="", sa_type=Text)
    playbook: str = Field(max_length=64)
    severity: str = Field(max_length=8)
    status: str = Field(default=Status.INVESTIGATING, max_length=16, index=True)
    private: bool = False
    drill: bool = False
    language: str = Field(default=Language.ZH, max_length=8)
    declared_by: str = Field(max_length=32)
    declared_at: datetime = _when()
    impact_started_at: datetime | None = _when(nullable=True)
    discovered_at: datetime | None = _when(nullable=True)  # 发现或获知: the law's clocks run from it (declared_at if unset)
    legal_grade: str | None = Field(default=None, max_length=16)  # the CAC grade legal set, not our response level
    resolved_at: datetime | None = _when(nullable=True)
    closed_at: datetime | None = _when(nullable=True)
    channel_name: str | None = Field(default=None, max_length=80, unique=True)
    channel_id: str | None = Field(default=None, max_length=32, index=True)
    header_ts: str | None = Field(default=None, max_length=32)
    origin_channel_id: str | None = Field(default=None, max_length=32)
    response_url: str | None = Field(default=None, sa_type=Text)
    resolution: str = Field(default="", sa_type=Text)
    alert_key: str | None = Field(default=None, max_length=255, index=True)


class RoleAssignment(SQLModel, table=True):
    """Who held a role and when; the open row (ended_at null) is the current holder."""

    # At most one open row per role: the database itself refuses a second current holder.
    __table_args__ = (
        Index("uq_roleassignment_open", "incident_id", "role", unique=True,
              sqlite_where=sql("ended_at IS NULL"), postgresql_where=sql("ended_at IS NULL")),
    )

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    role: str = Field(max_length=32)
    user_id: str = Field(max_length=32)
    assigned_by: str = Field(max_length=32)
    assigned_at: datetime = _when()
    ended_at: datetime | None = _when(nullable=True)


class Membership(SQLModel, table=True):
    """Who is in an incident's channel now, as the bot last learned it: its own invites, Slack's join and leave."""

    incident_id: int = Field(foreign_key="incident.id", primary_key=True)
    user_id: str = Field(max_length=32, primary_key=True)
    since: datetime = _when()


class Step(SQLModel, table=True):
    """One checklist item copied from the playbook at declaration, with its deadline."""

    __table_args__ = (UniqueConstraint("incident_id", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    number: int
    step_key: str = Field(max_length=64)
    phase: str = Field(max_length=16)
    title: str = Field(sa_type=Text)
    owner_role: str = Field(max_length=32)
    due_at: datetime | None = _when(nullable=True)
    clock: str | None = Field(default=None, max_length=64)
    done_at: datetime | None = _when(nullable=True)
    done_by: str | None = Field(default=None, max_length=32)
    note: str | None = Field(default=None, sa_type=Text)
    reminded_at: datetime | None = _when(nullable=True)
    message_ts: str | None = Field(default=None, max_length=32)


class TimelineEvent(SQLModel, table=True):
    """The single record of what happened; every change is one of these, written first."""

    __table_args__ = (
        Index("ix_timelineevent_incident_at", "incident_id", "at", "id"),
        Index("ix_timelineevent_incident_kind", "incident_id", "kind", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id")
    at: datetime = _when()
    actor: str = Field(max_length=32)
    kind: str = Field(max_length=32)
    text: str = Field(default="", sa_type=Text)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    source_key: str | None = Field(default=None, max_length=128, unique=True)


class Statement(SQLModel, table=True):
    """One version of the unified public statement; approved versions are frozen."""

    __table_args__ = (UniqueConstraint("incident_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    version: int
    stage: str = Field(max_length=16)
    language: str = Field(max_length=8)
    facts: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    text: str = Field(default="", sa_type=Text)
    outlets: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(default="draft", max_length=16)
    drafted_by: str = Field(max_length=32)
    drafted_at: datetime = _when()
    approved_at: datetime | None = _when(nullable=True)
    superseded_by: int | None = Field(default=None)
    published_at: datetime | None = _when(nullable=True)
    published_to: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    message_ts: str | None = Field(default=None, max_length=32)
    withdrawn_at: datetime | None = _when(nullable=True)   # taken off the status page; the text shown there goes
    withdrawn_by: str | None = Field(default=None, max_length=32)


class StatementReview(SQLModel, table=True):
    """An approval or a change request on one statement version, by whom and as which role."""

    id: int | None = Field(default=None, primary_key=True)
    statement_id: int = Field(foreign_key="statement.id", index=True)
    reviewer: str = Field(max_length=32)
    as_role: str = Field(max_length=16)
    decision: str = Field(max_length=16)
    comment: str = Field(default="", sa_type=Text)
    at: datetime = _when()


class SlackOp(SQLModel, table=True):
    """A pending Slack side effect, written with the change that needs it and replayed until done."""

    __table_args__ = (Index("ix_slackop_pending", "status", "incident_id", "wave"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int | None = Field(default=None, foreign_key="incident.id")
    kind: str = Field(max_length=32)
    wave: int = 0
    args: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(default=OpStatus.PENDING, max_length=16)
    attempts: int = 0
    lease_until: datetime | None = _when(nullable=True)
    error: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = _when()
    done_at: datetime | None = _when(nullable=True)


class SchedulerJob(SQLModel, table=True):
    """APScheduler's persistent job store, declared here so the migrations own every table."""

    __tablename__ = "apscheduler_jobs"

    id: str = Field(primary_key=True, sa_type=Unicode(191))
    next_run_time: float | None = Field(default=None, sa_type=Float(25), index=True)
    job_state: bytes = Field(sa_type=LargeBinary, nullable=False)


class Delivery(SQLModel, table=True):
    """A request already acted on (Slack retry, double submit, event id): the unique key stops a repeat."""

    key: str = Field(primary_key=True, max_length=200)
    at: datetime = _when()
    result: str = Field(default="", sa_type=Text)


class Intake(SQLModel, table=True):
    """A slash command stored before its ack and answered after it: kept until answered, so an acknowledged
    command survives a crash between the two (the start-up answers what is left)."""

    __table_args__ = (
        Index("ix_intake_unanswered", "received_at",
              sqlite_where=sql("answered_at IS NULL"), postgresql_where=sql("answered_at IS NULL")),
    )

    key: str = Field(primary_key=True, max_length=200)  # slash:<trigger_id>, as the flows' once-only key
    user_id: str = Field(max_length=32)
    channel_id: str = Field(max_length=32)
    text: str = Field(sa_type=Text)
    response_url: str | None = Field(default=None, sa_type=Text)
    trigger_id: str | None = Field(default=None, max_length=200)
    received_at: datetime = _when()
    answered_at: datetime | None = _when(nullable=True)


__all__ = [
    "Delivery",
    "Incident",
    "Intake",
    "Membership",
    "RoleAssignment",
    "SchedulerJob",
    "SlackOp",
    "Statement",
    "StatementReview",
    "Step",
    "TimelineEvent",
    "utcnow",
]


class Maintenance(SQLModel, table=True):
    """A scheduled maintenance window (a 大促 freeze, a migration): drafted, approved in a thread like a statement,
    shown on the status page in advance, as active while it runs, and in history after."""

    id: int | None = Field(default=None, primary_key=True)
    starts_at: datetime = _when()
    ends_at: datetime = _when()
    components: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    text: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))  # language → text
    status: str = Field(default=MaintenanceStatus.DRAFT, max_length=16, index=True)
    drafted_by: str = Field(max_length=32)
    drafted_at: datetime = _when()
    approved_by: str | None = Field(default=None, max_length=32)
    approved_at: datetime | None = _when(nullable=True)
    cancelled_by: str | None = Field(default=None, max_length=32)
    cancelled_at: datetime | None = _when(nullable=True)
    channel_id: str | None = Field(default=None, max_length=32)   # where its review thread is
    message_ts: str | None = Field(default=None, max_length=32)


class MaintenanceEvent(SQLModel, table=True):
    """A maintenance window's timeline: every change to it, with its actor, written before anything is posted."""

    __table_args__ = (Index("ix_maintenanceevent_window_at", "maintenance_id", "at", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    maintenance_id: int = Field(foreign_key="maintenance.id")
    at: datetime = _when()
    actor: str = Field(max_length=32)
    kind: str = Field(max_length=32)
    text: str = Field(default="", sa_type=Text)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
