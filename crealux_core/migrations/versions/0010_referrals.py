"""referrals to partners' offers

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "referral",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pathway_run_id", sa.Integer(), nullable=False),
        sa.Column("step_run_id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("offer_key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column(
            "status",
            sa.Enum("SENT", "ACCEPTED", "DECLINED", "CLOSED", "WITHDRAWN", name="referralstatus"),
            nullable=False,
        ),
        sa.Column("referred_by_id", sa.Integer(), nullable=False),
        sa.Column("referred_at", UTC(), nullable=False),
        sa.Column("answer_due_at", UTC(), nullable=False),
        sa.Column("remind_at", UTC(), nullable=True),
        sa.Column("escalate_at", UTC(), nullable=True),
        sa.Column("reminded_at", UTC(), nullable=True),
        sa.Column("escalated_at", UTC(), nullable=True),
        sa.Column("answered_by_id", sa.Integer(), nullable=True),
        sa.Column("answered_at", UTC(), nullable=True),
        sa.Column("starts_on", sa.Date(), nullable=True),
        sa.Column("decline_reason", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.Column("closed_at", UTC(), nullable=True),
        sa.ForeignKeyConstraint(["answered_by_id"], ["app_user.id"]),
        sa.ForeignKeyConstraint(["organisation_id"], ["organisation.id"]),
        sa.ForeignKeyConstraint(["participant_id"], ["participant.id"]),
        sa.ForeignKeyConstraint(["pathway_run_id"], ["pathway_run.id"]),
        sa.ForeignKeyConstraint(["referred_by_id"], ["app_user.id"]),
        sa.ForeignKeyConstraint(["step_run_id"], ["step_run.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("referral", schema=None) as batch_op:
        for column in (
            "pathway_run_id", "step_run_id", "participant_id", "status", "remind_at", "escalate_at"
        ):
            batch_op.create_index(batch_op.f(f"ix_referral_{column}"), [column], unique=False)
        batch_op.create_index(
            "ix_referral_organisation_status", ["organisation_id", "status"], unique=False
        )


def downgrade() -> None:
    op.drop_table("referral")
    sa.Enum(name="referralstatus").drop(op.get_bind(), checkfirst=True)
