"""Who may do what: one table for every action, decided from the person's standing at the moment it acts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from sqlmodel.ext.asyncio.session import AsyncSession

from bot import membership, roles
from bot.i18n import t
from bot.models import Incident
from bot.vocabulary import Role


class Action(StrEnum):
    """Everything a person can do to an incident or a maintenance window, by any way in (command, button, form,
    shortcut, event)."""

    VIEW = "view"
    ASSIGN_ROLE = "assign_role"
    COMPLETE_STEP = "complete_step"
    SET_STATUS = "set_status"
    RESOLVE = "resolve"
    CLOSE = "close"
    RAISE_SEVERITY = "raise_severity"
    LOWER_SEVERITY = "lower_severity"
    NOTE = "note"
    CAPTURE = "capture"
    DRAFT_STATEMENT = "draft_statement"
    REQUEST_CHANGES = "request_changes"
    APPROVE_STATEMENT = "approve_statement"
    PUBLISH_STATEMENT = "publish_statement"
    WITHDRAW_STATEMENT = "withdraw_statement"  # take a version off the status page
    SNOOZE = "snooze"
    REPAIR = "repair"
    SET_DISCOVERY = "set_discovery"
    SET_LEGAL_GRADE = "set_legal_grade"
    SCHEDULE_MAINTENANCE = "schedule_maintenance"
    REQUEST_MAINTENANCE_CHANGES = "request_maintenance_changes"
    APPROVE_MAINTENANCE = "approve_maintenance"
    CANCEL_MAINTENANCE = "cancel_maintenance"
    EDIT_MAINTENANCE = "edit_maintenance"  # change a draft window's times, components or texts


class Need(StrEnum):
    """What a person must be, for an action; every action needs SEE first."""

    SEE = "see"  # a public incident: anyone; a private one: its channel's members and its role holders
    MEMBER = "member"  # in the incident's channel now, or holding one of its roles
    MANAGER = "manager"  # the commander, or a configured incident manager
    HANDOVER = "handover"  # an empty role: a member; a held one: its holder or the commander
    REVIEWER = "reviewer"  # a member, or anyone who may approve statements (holder or configured approver)
    APPROVER = "approver"  # the comms (or legal) holder, or a configured comms (or legal) approver
    PUBLISHER = "publisher"  # the comms holder, or a configured comms approver
    LEGAL = "legal"  # the legal holder, a configured legal approver, or the commander
    # A maintenance window belongs to no incident: nobody holds a role in it and it has no channel of its own.
    ANYONE = "anyone"  # anyone in the workspace, as for declaring: nothing is published before comms approves
    COMMS_REVIEWER = "comms_reviewer"  # a configured comms approver
    COMMS_APPROVER = "comms_approver"  # a configured comms approver who did not draft it
    CANCELLER = "canceller"  # its drafter while it is a draft; a configured comms approver at any time
    DRAFTER = "drafter"  # its drafter, while it is a draft: comms asks for changes, it does not rewrite them


POLICY: dict[Action, Need] = {
    Action.VIEW: Need.SEE,
    Action.ASSIGN_ROLE: Need.HANDOVER,
    Action.COMPLETE_STEP: Need.MEMBER,
    Action.SET_STATUS: Need.MEMBER,
    Action.RESOLVE: Need.MANAGER,
    Action.CLOSE: Need.MANAGER,
    Action.RAISE_SEVERITY: Need.MEMBER,
    Action.LOWER_SEVERITY: Need.MANAGER,
    Action.NOTE: Need.MEMBER,
    Action.CAPTURE: Need.MEMBER,
    Action.DRAFT_STATEMENT: Need.MEMBER,
    Action.REQUEST_CHANGES: Need.REVIEWER,
    Action.APPROVE_STATEMENT: Need.APPROVER,
    Action.PUBLISH_STATEMENT: Need.PUBLISHER,
    Action.WITHDRAW_STATEMENT: Need.PUBLISHER,
    Action.SNOOZE: Need.MEMBER,
    Action.REPAIR: Need.MEMBER,
    Action.SET_DISCOVERY: Need.MEMBER,
    Action.SET_LEGAL_GRADE: Need.LEGAL,
    Action.SCHEDULE_MAINTENANCE: Need.ANYONE,
    Action.REQUEST_MAINTENANCE_CHANGES: Need.COMMS_REVIEWER,
    Action.APPROVE_MAINTENANCE: Need.COMMS_APPROVER,
    Action.CANCEL_MAINTENANCE: Need.CANCELLER,
    Action.EDIT_MAINTENANCE: Need.DRAFTER,
}


PUBLISHER_REFUSALS = {Action.WITHDRAW_STATEMENT: "status_page.refused"}  # else "… can record publication"


@dataclass(frozen=True)
class Rules:
    """The deployment's people with standing beyond the incident: incident managers and approvers."""

    managers: frozenset[str] = frozenset()
    approvers: Mapping[str, frozenset[str]] = field(default_factory=dict)  # comms / legal → configured people


@dataclass(frozen=True)
class Standing:
    """One person's place in one incident, read in the transaction that acts on it."""

    user: str
    private: bool
    member: bool
    holders: Mapping[str, str]
    rules: Rules

    @property
    def sees(self) -> bool:
        return not self.private or self.member or self.user in self.holders.values()

    @property
    def inside(self) -> bool:
        return self.member or self.user in self.holders.values()

    @property
    def manages(self) -> bool:
        return self.user == self.holders.get(Role.COMMANDER) or self.user in self.rules.managers

    def qualifies(self, role: str) -> bool:
        """Whether the person may approve as `role`: its holder, or a configured approver for it."""
        return self.holders.get(role) == self.user or self.user in self.rules.approvers.get(role, frozenset())


async def standing(session: AsyncSession, incident: Incident, user: str, rules: Rules, *,
                   in_channel: bool = False) -> Standing:
    """Read who `user` is to `incident` now; `in_channel` is true for a command typed in its channel."""
    assert incident.id is not None
    member = in_channel or await membership.is_member(session, incident.id, user)
    return Standing(user, incident.private, member, await roles.holders(session, incident.id), rules)


@dataclass(frozen=True)
class Refusal:
    """Why not, in words for the person; `hidden` when the incident must not even be admitted to exist."""

    text: str
    hidden: bool = False


def decide(action: Action, who: Standing, language: str, *, role: str | None = None,
           approver_roles: tuple[str, ...] = ()) -> Refusal | None:
    """The policy table applied: None when `who` may do `action`, else the refusal."""
    if not who.sees:
        return Refusal("", hidden=True)
    need = POLICY[action]
    if need is Need.SEE:
        return None
    if need is Need.MEMBER:
        return None if who.inside else _not_member(action, language)
    if need is Need.MANAGER:
        return None if who.manages else _not_manager(action, language)
    if need is Need.HANDOVER:
        return _handover(who, role or "", language)
    if need is Need.REVIEWER:
        return None if who.inside or who.qualifies(Role.COMMS) or who.qualifies(Role.LEGAL) else _not_member(action, language)
    if need is Need.APPROVER:
        if any(who.qualifies(r) for r in approver_roles):
            return None
        names = "/".join(approver_roles)
        return Refusal(t("policy.approvers_only", language, roles=names))
    if need is Need.LEGAL:
        commands = who.user == who.holders.get(Role.COMMANDER)
        return None if commands or who.qualifies(Role.LEGAL) else Refusal(t("legal_grade.refused", language))
    if need is not Need.PUBLISHER:
        raise ValueError(f"{action} is an action on a maintenance window: decide_window decides it")
    if who.qualifies(Role.COMMS):
        return None
    return Refusal(t(PUBLISHER_REFUSALS.get(action, "policy.publishers_only"), language))


def _not_member(action: Action, language: str) -> Refusal:
    """The refusal of someone outside the incident: "Only people in the incident channel can …"."""
    return Refusal(t(f"policy.not_member.{action.value}", language))


def _not_manager(action: Action, language: str) -> Refusal:
    """The refusal of someone who is not the commander or a manager, one sentence per action."""
    return Refusal(t(f"policy.not_manager.{action.value}", language))


def _handover(who: Standing, role: str, language: str) -> Refusal | None:
    current = who.holders.get(role)
    if current is None:
        return None if who.inside else _not_member(Action.ASSIGN_ROLE, language)
    if who.user in (current, who.holders.get(Role.COMMANDER)):
        return None
    name = roles.role_name(role, language)
    return Refusal(t("policy.held_by", language, role=name, user=current))


@dataclass(frozen=True)
class WindowStanding:
    """One person's place toward one maintenance window, read in the transaction that acts on it."""

    user: str
    rules: Rules
    drafter: str | None = None  # None: the window is not drafted yet
    draft: bool = True

    @property
    def comms(self) -> bool:
        """Outside an incident nobody holds comms: only the configured comms approvers speak for it."""
        return self.user in self.rules.approvers.get(Role.COMMS, frozenset())


def decide_window(action: Action, who: WindowStanding, language: str) -> Refusal | None:
    """The policy table applied to a maintenance window: None when `who` may do `action`, else the refusal."""
    need = POLICY[action]
    if need is Need.ANYONE:
        return None
    if need is Need.COMMS_REVIEWER:
        return None if who.comms else Refusal(t("policy.maintenance.comms_only", language))
    if need is Need.COMMS_APPROVER:
        if who.user == who.drafter:
            return Refusal(t("policy.maintenance.own_draft", language))
        return None if who.comms else Refusal(t("policy.maintenance.comms_only", language))
    if need is Need.CANCELLER:
        if who.comms or (who.draft and who.user == who.drafter):
            return None
        key = "policy.maintenance.drafter_before_approval" if who.user == who.drafter else "policy.maintenance.cancel_only"
        return Refusal(t(key, language))
    if need is Need.DRAFTER:
        if who.draft and who.user == who.drafter:
            return None
        key = "maintenance_edit.refused.not_draft" if who.user == who.drafter else "maintenance_edit.refused.drafter_only"
        return Refusal(t(key, language))
    raise ValueError(f"{action} is an action on an incident: decide decides it")
