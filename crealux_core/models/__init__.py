"""SQLModel tables, one module per aggregate. The application database is the source of truth."""

from crealux_core.models.facts import (
    BusinessCreation,
    EntrySituation,
    ExitSituation,
    Moment,
    Placement,
    Stay,
    SupportTime,
    TrainingRecord,
)
from crealux_core.models.notification import (
    DeliveryStatus,
    Notification,
    NotificationChannel,
    NotificationDelivery,
    NotificationStatus,
)
from crealux_core.models.organisation import Organisation
from crealux_core.models.outreach import (
    OutreachAction,
    OutreachCategory,
    OutreachKind,
    StructureKind,
    StructureSensitisation,
)
from crealux_core.models.participant import Gender, Participant, ParticipantCreate
from crealux_core.models.pathway import (
    CURRENT_STEP_STATUSES,
    SILENT_EVENT_KINDS,
    EventKind,
    PathwayDefinition,
    PathwayEvent,
    PathwayRun,
    PathwayStatus,
    StepRun,
    StepStatus,
    Wait,
)
from crealux_core.models.plan import GoalStatus, OrientationAdvice, PlanGoal
from crealux_core.models.referral import OPEN_REFERRAL_STATUSES, Referral, ReferralStatus
from crealux_core.models.training import (
    EnrolmentStatus,
    Presence,
    SessionStatus,
    TrainingAttendance,
    TrainingDay,
    TrainingEnrolment,
    TrainingSession,
)
from crealux_core.models.user import Role, User

__all__ = [
    "CURRENT_STEP_STATUSES",
    "OPEN_REFERRAL_STATUSES",
    "SILENT_EVENT_KINDS",
    "BusinessCreation",
    "DeliveryStatus",
    "EnrolmentStatus",
    "EntrySituation",
    "EventKind",
    "ExitSituation",
    "Gender",
    "GoalStatus",
    "Moment",
    "Notification",
    "NotificationChannel",
    "NotificationDelivery",
    "NotificationStatus",
    "Organisation",
    "OrientationAdvice",
    "OutreachAction",
    "OutreachCategory",
    "OutreachKind",
    "Participant",
    "ParticipantCreate",
    "PathwayDefinition",
    "PathwayEvent",
    "PathwayRun",
    "PathwayStatus",
    "Placement",
    "PlanGoal",
    "Presence",
    "Referral",
    "ReferralStatus",
    "Role",
    "SessionStatus",
    "Stay",
    "StepRun",
    "StepStatus",
    "StructureKind",
    "StructureSensitisation",
    "SupportTime",
    "TrainingAttendance",
    "TrainingDay",
    "TrainingEnrolment",
    "TrainingRecord",
    "TrainingSession",
    "User",
    "Wait",
]
