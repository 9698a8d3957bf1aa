"""The running bot: settings, database, Slack client, playbooks and background work, wired once."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import time, timedelta
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from bot import deliveries, incidents, intake, outbox, reminders, roles
from bot.batchwrite import Executor, OnSession
from bot.config import ConfigError, Settings
from bot.db import make_engine, make_read_engine, make_sessionmaker, utcnow
from bot.deployment import Deployment
from bot.flows.base import Context
from bot.group_commit import GroupCommit
from bot.incidents import Declared, DeclareRequest, Workspace
from bot.intake import Command
from bot.logsafe import quiet_content_loggers
from bot.loopwrite import LoopWriter
from bot.models import Incident, TimelineEvent
from bot.outbox import LEASE
from bot.playbooks import SHIPPED_DIR, Playbook, PlaybookError, component_problems, load_playbooks
from bot.scheduler import Scheduler
from bot.slack import response_url
from bot.slack.channels import find_by_name
from bot.slack.notify import tell_declarer, tell_person
from bot.slack.ops import SlackEnv
from bot.slack.runner import OutboxRunner
from bot.status_page.board import StatusBoard
from bot.tasks import AckFirst, TaskSet
from bot.timeline import BOT_ACTOR
from bot.vocabulary import ACTIVE, CADENCE_MINUTES, Severity, Status

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")

CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{6,}$")
FORGET_AT = time(4, 10)  # the deployment's quiet hour, not on the hour when other housekeeping runs


def make_client(settings: Settings, timeout: int = 10) -> AsyncWebClient:
    """A Web API client pointed at SLACK_API_URL, without retries of its own: the outbox runner retries,
    honouring Retry-After without holding a worker slot, and tells people when Slack's limits delay them."""
    return AsyncWebClient(token=settings.bot_token, base_url=settings.api_url, timeout=timeout, retry_handlers=[])


def load_deployment_playbooks(settings: Settings) -> dict[str, Playbook]:
    """The shipped playbooks plus the deployment's own directory, which may override them."""
    dirs = [SHIPPED_DIR]
    if settings.file.playbooks_dir:
        extra = Path(settings.file.playbooks_dir)
        if settings.config_path and not extra.is_absolute():
            extra = settings.config_path.parent / extra
        if not extra.is_dir():
            raise ConfigError(f"YINGJI_CONFIG: playbooks_dir: {extra} is not a directory")
        dirs.append(extra)
    try:
        playbooks = load_playbooks(dirs, settings.file.known_roles())
    except PlaybookError as exc:
        raise ConfigError(f"playbooks: {exc}") from None
    unknown = sorted(set(settings.file.playbook_roles) - set(playbooks))
    if unknown:
        raise ConfigError(f"YINGJI_CONFIG: playbook_roles: unknown playbook {', '.join(unknown)}")
    if problems := component_problems(playbooks, settings.file.status_page.component_ids()):
        raise ConfigError(f"playbooks: {'; '.join(problems)}")
    return playbooks


class Runtime:
    """Everything a request handler needs; built once per process by the composition root."""

    def __init__(
        self, settings: Settings, *, outbox_backoff: float = 0.5, outbox_lease: timedelta = LEASE
    ) -> None:
        quiet_content_loggers()  # no incident's words in the logs, even at DEBUG
        self.settings = settings
        # Posts to a payload's response_url go only to Slack's response host (or the sandbox's, or these).
        response_url.configure(settings.api_url, settings.file.response_url_hosts)
        roles.configure(settings.file.role_names())  # the deployment's own roles, by the names yingji.yaml gives
        self.playbooks = load_deployment_playbooks(settings)
        self.engine = make_engine(settings.database_url)
        # SQLite: declarations are written on the event loop (see bot/loopwrite.py); PostgreSQL has no thread to wait on.
        self.loop_writer = LoopWriter(str(self.engine.url.database), self.engine.dialect) if self.engine.dialect.name == "sqlite" else None
        self.sessions = make_sessionmaker(self.engine)
        self.read_engine = make_read_engine(settings.database_url, self.engine)
        self.reads = make_sessionmaker(self.read_engine)  # for requests that only read: never behind a write
        self.client = make_client(settings)
        self.tasks = TaskSet()
        self.deployment = Deployment()  # replaced whole at start-up, once Slack has said who and where we are
        self.auth: AsyncSlackResponse | None = None  # auth.test's answer at start-up (bolt is given it too)
        self.ready = False
        self.scheduler = Scheduler(settings.database_url)
        self.scheduler.register("step_due", self._timer(reminders.step_due))
        self.scheduler.register("digest", self._digest)
        self.scheduler.register("forget_deliveries", self._forget_deliveries)
        self.scheduler.register("statement_update_due", self._timer(reminders.statement_update_due))
        self.scheduler.register("cadence_due", self._timer(lambda s, i: reminders.cadence_due(s, i, self.cadence)))
        self.scheduler.register("escalate", self._timer(lambda s, i: reminders.escalate(s, i, self.escalate_after)))
        self.scheduler.register("clock_due", self._timer(reminders.clock_due))
        self.scheduler.register("archive", self._timer(reminders.archive_due))
        # The public status page, kept in memory (bot/status_page/board.py); its ids are keyed with a secret all
        # replicas share, so they agree and say nothing.
        self.status_page = StatusBoard(self.reads, settings.file, settings.tz, self.tasks,
                                       salt=hashlib.sha256(b"yingji status page\0" + settings.signing_secret.encode()).digest())
        self.context = Context(file=settings.file, tz=settings.tz, playbooks=self.playbooks, cadence=self.cadence,
                               deployment=self.learned, status_page_changed=self.status_page.changed)
        self.env = SlackEnv(
            client=self.client,
            tz=settings.tz,
            channel_prefix=settings.file.channel_prefix,
            playbook_name=self.playbook_name,
            sessions=self.sessions,
            playbooks=self.playbooks,
            channel_taken=self.channel_taken,
            tell=self.tell_declarer,
            schedule=self.scheduler.at,
            unschedule=self.scheduler.cancel,
            outlet_webhooks=settings.file.outlet_webhooks,
            webhook_backoff=outbox_backoff,
            cadence_of=self.cadence,
            escalate_of=self.escalate_after,
            archive_after_days=settings.file.archive_after_days,
            escalation=settings.file.escalation,
            legal_approvers=settings.file.legal_approvers,
            deployment=self.learned,
            roles_of=self.context.roles_of,
        )
        self.requests = AckFirst()
        self.runner = OutboxRunner(
            self.sessions, self.env, self.tasks, backoff=outbox_backoff, lease=outbox_lease, gate=self.requests
        )
        self.declarations: GroupCommit[DeclareRequest, Declared] = GroupCommit(self._declare_batch, self.tasks)
        self.commands: GroupCommit[Command, bool] = GroupCommit(self._store_commands, self.tasks)
        self.answered: GroupCommit[str, None] = GroupCommit(self._mark_answered, self.tasks)

    def learned(self) -> Deployment:
        """The deployment as learned at start-up (see bot/deployment.py)."""
        return self.deployment

    @property
    def bot_user_id(self) -> str:
        return self.deployment.bot_user_id

    @property
    def announce_channel_id(self) -> str | None:
        return self.deployment.announce_channel_id

    @property
    def leadership_channel_id(self) -> str | None:
        return self.deployment.leadership_channel_id

    @property
    def language(self) -> str:
        """The deployment's default language for new incidents and replies."""
        return self.settings.file.language

    def workspace(self) -> Workspace:
        """The choices that shape a declaration."""
        return Workspace(
            channel_prefix=self.settings.file.channel_prefix,
            tz=self.settings.tz,
            announce_channel_id=self.deployment.announce_channel_id,
            regulatory=self.settings.file.regulatory,
        )

    def default_holders(self, playbook: str) -> dict[str, str]:
        """Role holders from yingji.yaml: the global ones, overridden per playbook."""
        return self.settings.file.holders_for(playbook)

    def playbook_name(self, slug: str, language: str) -> str:
        """A playbook's name in the incident's language (the slug if it was removed since)."""
        playbook = self.playbooks.get(slug)
        return playbook.name.get(language) if playbook else slug

    async def _declare_batch(self, requests: Sequence[DeclareRequest]) -> list[Declared]:
        """One transaction for every declaration that arrived together (see GroupCommit)."""
        answers = await self._write(_declare_and_settle, requests, self.workspace())
        incidents.count_declared(requests, answers)
        return answers

    async def writes_waiting(self) -> None:
        """Return once the writes acks wait for have gone (see AlertHost): on SQLite, those of the loop writer."""
        if self.loop_writer is not None:
            await self.loop_writer.idle()

    async def _store_commands(self, commands: Sequence[Command]) -> list[bool]:
        """One transaction for every slash command that arrived together (see bot/intake.py). A lone command whose
        key another replica stored a moment ago (Slack's retry delivered there) is not new: answered there."""
        try:
            return await self._write(intake.store_many, commands)
        except IntegrityError:
            if len(commands) > 1:
                raise  # GroupCommit stores each alone, so the others are not refused with it
            return [False]

    async def _write(self, work: Callable[Concatenate[Executor, P], Coroutine[Any, Any, R]], *args: P.args,
                     **kwargs: P.kwargs) -> R:
        """A write an ack waits for, in one transaction: on SQLite on the event loop itself (bot/loopwrite.py), on
        PostgreSQL in a session."""
        if self.loop_writer is not None:
            return await self.loop_writer.run(work, *args, **kwargs)
        async with self.sessions() as session:
            result = await work(OnSession(session), *args, **kwargs)
            await session.commit()
        return result

    async def _mark_answered(self, keys: Sequence[str]) -> list[None]:
        """One transaction marks every command answered at the same moment (see commands/later.py)."""
        async with self.sessions() as session:
            await intake.answered(session, keys)
            await session.commit()
        return [None for _ in keys]

    async def _schedule_digest(self) -> None:
        """The daily digest of active incidents to the leadership channel, at the configured time."""
        at = self.settings.file.digest_time
        if at and self.leadership_channel_id:
            hour, minute = (int(part) for part in at.split(":"))
            await self.scheduler.daily("digest", hour, minute, self.settings.file.timezone, "digest")
        else:
            await self.scheduler.cancel("digest")

    async def _digest(self) -> None:
        """Queue today's digest (through the outbox, so a Slack hiccup does not lose it)."""
        async with self.sessions() as session:
            outbox.enqueue(session, None, "post_digest", channel=self.leadership_channel_id)
            await session.commit()
        self.runner.kick(None)

    async def _forget_deliveries(self) -> None:
        """Daily: drop the once-only keys of requests Slack can no longer repeat, so the table stays small."""
        async with self.sessions() as session:
            forgotten = await deliveries.forget_before(session, utcnow() - deliveries.KEEP)
            await intake.forget_before(session, utcnow() - deliveries.KEEP)
            await session.commit()
        log.info("forgot %s delivery keys older than %s days", forgotten, deliveries.KEEP.days)

    def _timer(self, handle: Callable[..., Awaitable[int | None]]) -> Callable[..., Coroutine[Any, Any, None]]:
        """A scheduler job handler: run the domain function in a session, then the Slack work it queued."""

        async def run(*args: int) -> None:
            async with self.sessions() as session:
                incident_id = await handle(session, *args)
            if incident_id is not None:
                self.runner.kick(incident_id)

        return run

    async def reconcile_timers(self) -> None:
        """On becoming the process that fires jobs: plan every live incident's timers again from the database.

        APScheduler drops a one-off job as it starts it, so a process that died mid-reminder loses that job;
        the reminder is still owed (the step has no reminded_at), and re-planning puts it back. The handlers
        check the database before acting, so nothing already done happens twice.
        """
        async with self.sessions() as session:
            live = (await session.exec(select(Incident.id).where(col(Incident.status).in_(ACTIVE)))).all()
            archived = select(TimelineEvent.incident_id).where(TimelineEvent.kind == "channel_archived")
            closing = (await session.exec(select(Incident.id).where(
                Incident.status == Status.CLOSED, col(Incident.id).not_in(archived)))).all()
            for incident_id in live:
                await outbox.enqueue_once(session, incident_id, "schedule_reminders")
            for incident_id in [*live, *closing]:
                await outbox.enqueue_once(session, incident_id, "sync_timers")
            await session.commit()
        for incident_id in [*live, *closing]:
            self.runner.kick(incident_id)

    async def tell_declarer(self, incident: Incident, message: str) -> None:
        """What Slack did not do, told to whoever declared; an incident that monitoring opened has nobody who
        typed a command, so the announce channel and the escalation people hear it instead."""
        if incident.declared_by != BOT_ACTOR:
            await tell_declarer(self.client, incident, message)
            return
        if self.announce_channel_id:
            await tell_person(self.client, self.announce_channel_id, message)
        for person in self.settings.file.escalation:
            await tell_person(self.client, person, message)

    def escalate_after(self, severity: str) -> float | None:
        """Minutes without a commander before escalating, for this severity (None: never)."""
        return self.settings.file.escalate_after_minutes.get(severity)

    def cadence(self, severity: str, playbook: str = "") -> float | None:
        """Minutes between public updates: the playbook's own when it sets one (a typhoon is not a payment outage),
        else the severity's (yingji.yaml overrides DESIGN.md's defaults)."""
        own = self.playbooks[playbook].cadence_minutes if playbook in self.playbooks else None
        return own if own is not None else self.settings.file.cadence_minutes.get(severity, CADENCE_MINUTES[Severity(severity)])

    async def channel_taken(self, channel_id: str, incident_id: int) -> bool:
        """Whether another incident already owns this Slack channel."""
        async with self.sessions() as session:
            result = await session.exec(
                select(Incident.id).where(Incident.channel_id == channel_id, Incident.id != incident_id)
            )
            return result.first() is not None

    async def start(self) -> None:
        """Learn who the bot is, find the configured channels, resume unfinished Slack work."""
        self.auth = auth = await self.client.auth_test()
        self.deployment = Deployment(
            bot_user_id=str(auth["user_id"]),
            announce_channel_id=await self._resolve_channel("announce_channel", self.settings.file.announce_channel),
            leadership_channel_id=await self._resolve_channel("leadership_channel", self.settings.file.leadership_channel),
        )
        await self.scheduler.start(fire_jobs=self.settings.scheduler, on_lead=self.reconcile_timers)
        await self._schedule_digest()
        await self.scheduler.daily("forget_deliveries", FORGET_AT.hour, FORGET_AT.minute, self.settings.file.timezone,
                                   "forget_deliveries")
        await self.runner.resume()
        self.ready = True

    async def _resolve_channel(self, setting: str, value: str | None) -> str | None:
        """A configured channel (#name or id) as an id the bot can post in; unknown names stop start-up."""
        if not value:
            return None
        name = value.lstrip("#")
        if CHANNEL_ID.match(name):
            channel_id: str | None = name
        else:
            found = await find_by_name(self.client, name)
            channel_id = str(found["id"]) if found else None
        if channel_id is None:
            raise ConfigError(f"YINGJI_CONFIG: {setting}: no channel named #{name} in this workspace")
        try:
            await self.client.conversations_join(channel=channel_id)
        except SlackApiError as exc:
            error = exc.response.get("error")
            if error == "channel_not_found":
                raise ConfigError(f"YINGJI_CONFIG: {setting}: channel {value} not found") from None
            if error != "method_not_supported_for_channel_type":
                raise
            log.info("%s is private; the bot must be invited to it", setting)
        return channel_id

    async def database_ok(self) -> bool:
        """Whether the database answers right now (for /healthz)."""
        try:
            async with self.read_engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
            return True
        except Exception:  # noqa: BLE001 — any failure means not healthy
            return False

    async def stop(self) -> None:
        """Stop background work (the outbox keeps what is unfinished) and close connections."""
        self.ready = False
        await self.status_page.stop()
        await self.tasks.cancel_all()
        # In a thread: shutting down waits for a scheduler thread that may be waiting on a database lock.
        await asyncio.to_thread(self.scheduler.shutdown)
        if self.loop_writer is not None:
            self.loop_writer.close()
        if self.read_engine is not self.engine:
            await self.read_engine.dispose()
        await self.engine.dispose()


async def _declare_and_settle(executor: Executor, requests: Sequence[DeclareRequest], where: Workspace
                              ) -> list[Declared]:
    """Record the declarations and, in the same transaction, mark their slash commands answered (bot/intake.py)."""
    answers = await incidents.declare_many(executor, requests, where)
    await intake.settle(executor, [r.dedup_key for r in requests if r.dedup_key and r.dedup_key.startswith("slash:")])
    return answers
