"""Who may see and do what: the one place that decides it.

Every service asks `can(user, action, subject)` (or `require`, which raises `Forbidden`), and
every list filters its rows with the SQL filters below, so that hiding a page is never the only
guard. The roles (ARCHITECTURE.md):

- the coordinator may see and do everything;
- an advisor works their caseload: the participants they follow and the steps assigned to them;
- a partner's staff see only what concerns their organisation: its steps, its training
  sessions, and the participants referred to it while the referral is open or active, and of
  those only what the referral shares.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import false, or_
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from crealux_core.models import (
    OPEN_REFERRAL_STATUSES,
    Participant,
    PathwayRun,
    Referral,
    StepRun,
    StepStatus,
    User,
)
from crealux_core.rules.specs import Role
from crealux_core.services.errors import Forbidden


class Action(StrEnum):
    # the programme as a whole: the coordinator's
    READ_REPORTS = "read_reports"  # indicators, the funder report, support totals
    READ_PIPELINE = "read_pipeline"  # the pipeline board, stuck pathways
    IMPORT_RECORDS = "import_records"
    READ_DELIVERIES = "read_deliveries"  # the delivery log of every notification
    MANAGE_CHANNELS = "manage_channels"  # enable a disabled notification channel again
    READ_CHANNELS = "read_channels"  # the organisations' channels (masked) and their tags
    READ_STAFF_CONTACTS = "read_staff_contacts"  # the e-mail addresses of partners' staff
    # every signed-in role: the partner organisations, their offers and their staff's names
    READ_PARTNERS = "read_partners"
    # subject: the id of the organisation giving the training module: its staff may too
    MANAGE_TRAINING = "manage_training"  # open, fill and close training sessions
    RECORD_ATTENDANCE = "record_attendance"  # attendance per session day, completion
    # subject: the Participant
    ENROL_IN_TRAINING = "enrol_in_training"  # their advisor, or the coordinator
    STEER_PARTICIPANT = "steer_participant"  # skip, reassign, plan, refer, re-enrol
    READ_PARTICIPANT = "read_participant"  # their page: the steps the reader may see
    READ_CONTACT_DETAILS = "read_contact_details"  # address, phone, e-mail
    # their last name, birth year and municipality: not for partners, who get what a referral
    # shares (the reference and first name, the contact details, the reason)
    READ_IDENTITY = "read_identity"
    # the programme's people and pathways
    ENROL_PARTICIPANTS = "enrol_participants"  # advisors and the coordinator
    MANAGE_CASELOADS = "manage_caseloads"  # quotas, moving participants between advisors
    MIGRATE_PATHWAYS = "migrate_pathways"  # move pathways to another version of the rules
    RESTART_PATHWAYS = "restart_pathways"  # relaunch a pathway the engine could not heal
    RECORD_OUTREACH = "record_outreach"  # sensitisation actions, structures (advisors too)
    # subject: the Referral
    ANSWER_REFERRAL = "answer_referral"  # the partner it was sent to, or the coordinator


_COORDINATOR_ONLY = frozenset(
    {
        Action.READ_REPORTS,
        Action.READ_PIPELINE,
        Action.IMPORT_RECORDS,
        Action.READ_DELIVERIES,
        Action.MANAGE_CHANNELS,
        Action.READ_CHANNELS,
        Action.READ_STAFF_CONTACTS,
        Action.MANAGE_CASELOADS,
        Action.MIGRATE_PATHWAYS,
        Action.RESTART_PATHWAYS,
    }
)
_ADVISORS_TOO = frozenset({Action.ENROL_PARTICIPANTS, Action.RECORD_OUTREACH})
# What a partner may do with a participant referred to it (or with one of its steps open):
# read the page (its own steps only), the contact details. Never steer the pathway.
_PARTNER_ON_PARTICIPANT = frozenset({Action.READ_PARTICIPANT, Action.READ_CONTACT_DETAILS})


def is_coordinator(user: User | None) -> bool:
    return user is not None and user.active and user.role is Role.COORDINATOR


def can(
    user: User | None, action: Action, subject: Any = None, *, session: Session | None = None
) -> bool:
    """Tell whether `user` may do `action` on `subject`.

    A partner's right on a participant depends on the database (a referral open to its
    organisation, or one of its steps open): pass `session` for READ_PARTICIPANT and
    READ_CONTACT_DETAILS; without it, a partner is refused."""
    if user is None or not user.active:
        return False
    if user.role is Role.COORDINATOR:
        return True
    if action in _COORDINATOR_ONLY:
        return False
    if action in _ADVISORS_TOO:
        return user.role is Role.ADVISOR
    if action is Action.READ_PARTNERS:  # the registry is every role's: who offers what
        return True
    if action in (Action.MANAGE_TRAINING, Action.RECORD_ATTENDANCE):
        return user.role is Role.PARTNER and subject == user.organisation_id
    if action is Action.ANSWER_REFERRAL:
        return user.role is Role.PARTNER and getattr(subject, "organisation_id", None) == (
            user.organisation_id
        )
    if action is Action.READ_IDENTITY:
        return user.role is Role.ADVISOR
    if isinstance(subject, Participant):
        if user.role is Role.ADVISOR:
            return subject.advisor_id == user.id
        if user.role is Role.PARTNER and action in _PARTNER_ON_PARTICIPANT:
            return session is not None and partner_follows(session, user, subject.id or 0)
    return False


def require(
    user: User | None, action: Action, subject: Any = None, *, session: Session | None = None
) -> None:
    """Raise Forbidden unless `user` may do `action` on `subject`."""
    if not can(user, action, subject, session=session):
        who = user.username if user is not None else "nobody signed in"
        raise Forbidden(f"{who} may not {action.value.replace('_', ' ')}")


# The SQL filters every list uses: the same rules as `can`, as WHERE clauses.


def partner_participants(organisation_id: int) -> ColumnElement[bool]:
    """The participants a partner organisation follows now: a referral to it sent or accepted
    on an open step, or one of its steps open."""
    referred = (
        select(Referral.id)
        .join(StepRun, col(StepRun.id) == col(Referral.step_run_id))
        .where(
            col(Referral.participant_id) == col(Participant.id),
            col(Referral.organisation_id) == organisation_id,
            col(Referral.status).in_(OPEN_REFERRAL_STATUSES),
            col(StepRun.status) == StepStatus.OPEN,
        )
        .exists()
    )
    its_step = (
        select(StepRun.id)
        .join(PathwayRun, col(StepRun.pathway_run_id) == col(PathwayRun.id))
        .where(
            col(PathwayRun.participant_id) == col(Participant.id),
            col(StepRun.organisation_id) == organisation_id,
            col(StepRun.status) == StepStatus.OPEN,
        )
        .exists()
    )
    return or_(referred, its_step)


def participant_scope(user: User) -> ColumnElement[bool] | None:
    """The participants `user` may list (None: all of them, the coordinator)."""
    if not user.active:
        return false()
    if user.role is Role.COORDINATOR:
        return None
    if user.role is Role.ADVISOR:
        return col(Participant.advisor_id) == user.id
    if user.role is Role.PARTNER:
        return partner_participants(user.organisation_id)
    return false()


def partner_follows(session: Session, user: User, participant_id: int) -> bool:
    """Whether a partner's organisation follows this participant now (`partner_participants`)."""
    return (
        session.exec(
            select(Participant.id).where(
                Participant.id == participant_id, partner_participants(user.organisation_id)
            )
        ).first()
        is not None
    )


def step_scope(user: User) -> ColumnElement[bool] | None:
    """The steps in `user`'s worklist (None: every step, the coordinator): an advisor's
    assigned steps, a partner's organisation's steps."""
    if not user.active:
        return false()
    if user.role is Role.COORDINATOR:
        return None
    if user.role is Role.ADVISOR:
        return col(StepRun.assignee_id) == user.id
    if user.role is Role.PARTNER:
        return col(StepRun.organisation_id) == user.organisation_id
    return false()


def shown_name(user: User, participant: Participant) -> str:
    """The participant's name as `user` may read it: the full name, or for a partner the first
    name only (with the reference beside it wherever it is shown)."""
    if can(user, Action.READ_IDENTITY, participant):
        return participant.full_name
    return participant.first_name
