"""partner network: the event kinds of referrals and training, and two kinds of organisation
(the public employment service, a public social-welfare centre)

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_EVENT_KINDS = (
    "DECISION", "SKIP", "REASSIGN", "DEADLINE", "OPENED", "COMMENT", "MIGRATION",
    "CORRECTION", "ADDED", "TRANSFER", "GOAL",
)
NEW_EVENT_KINDS = ("REFERRAL", "REFERRAL_ACCEPTED", "REFERRAL_DECLINED", "TRAINING")
OLD_ORGANISATION_KINDS = (
    "COORDINATOR", "TRAINING_CENTRE", "BUSINESS_CREATION", "WORK_INTEGRATION", "FIRST_LINE",
    "PROFESSIONAL",
)
NEW_ORGANISATION_KINDS = ("PUBLIC_EMPLOYMENT", "SOCIAL_WELFARE")


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for value in NEW_EVENT_KINDS:
            op.execute(f"ALTER TYPE eventkind ADD VALUE IF NOT EXISTS '{value}'")
        for value in NEW_ORGANISATION_KINDS:
            op.execute(f"ALTER TYPE organisationkind ADD VALUE IF NOT EXISTS '{value}'")
        op.execute("COMMIT")  # new enum values are usable only once committed
        op.execute("BEGIN")
        return
    with op.batch_alter_table("pathway_event", schema=None) as batch_op:
        batch_op.alter_column(
            "kind",
            existing_type=sa.Enum(*OLD_EVENT_KINDS, name="eventkind"),
            type_=sa.Enum(*OLD_EVENT_KINDS, *NEW_EVENT_KINDS, name="eventkind"),
            existing_nullable=False,
        )
    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.alter_column(
            "kind",
            existing_type=sa.Enum(*OLD_ORGANISATION_KINDS, name="organisationkind"),
            type_=sa.Enum(*OLD_ORGANISATION_KINDS, *NEW_ORGANISATION_KINDS, name="organisationkind"),
            existing_nullable=False,
        )


def downgrade() -> None:
    pass  # PostgreSQL cannot drop an enum value; unused values do no harm
