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

from crealux_core.models import User
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


_COORDINATOR_ONLY = frozenset(
    {
        Action.READ_REPORTS,
        Action.READ_PIPELINE,
        Action.IMPORT_RECORDS,
        Action.READ_DELIVERIES,
        Action.MANAGE_CHANNELS,
        Action.READ_CHANNELS,
        Action.READ_STAFF_CONTACTS,
    }
)


def is_coordinator(user: User | None) -> bool:
    return user is not None and user.active and user.role is Role.COORDINATOR


def can(user: User | None, action: Action, subject: Any = None) -> bool:
    """Tell whether `user` may do `action` on `subject`."""
    if user is None or not user.active:
        return False
    if user.role is Role.COORDINATOR:
        return True
    if action in _COORDINATOR_ONLY:
        return False
    if action is Action.READ_PARTNERS:  # the registry is every role's: who offers what
        return True
    if action in (Action.MANAGE_TRAINING, Action.RECORD_ATTENDANCE):
        return user.role is Role.PARTNER and subject == user.organisation_id
    if action is Action.ENROL_IN_TRAINING:
        return user.role is Role.ADVISOR and getattr(subject, "advisor_id", None) == user.id
    return False


def require(user: User | None, action: Action, subject: Any = None) -> None:
    """Raise Forbidden unless `user` may do `action` on `subject`."""
    if not can(user, action, subject):
        who = user.username if user is not None else "nobody signed in"
        raise Forbidden(f"{who} may not {action.value.replace('_', ' ')}")
