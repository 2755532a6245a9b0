"""whole parcours: optional steps, plans, orientation advice, caseloads, contact details

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = sqlmodel.sql.sqltypes.UTCDateTime
NEW_EVENT_KINDS = ("CORRECTION", "ADDED", "TRANSFER", "GOAL")
EVENT_KINDS = (
    "DECISION", "SKIP", "REASSIGN", "DEADLINE", "OPENED", "COMMENT", "MIGRATION", *NEW_EVENT_KINDS
)


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for value in NEW_EVENT_KINDS:
            op.execute(f"ALTER TYPE eventkind ADD VALUE IF NOT EXISTS '{value}'")
        op.execute("COMMIT")  # new enum values are usable only once committed
        op.execute("BEGIN")
    else:
        with op.batch_alter_table("pathway_event", schema=None) as batch_op:
            batch_op.alter_column(
                "kind",
                existing_type=sa.Enum(*EVENT_KINDS[:7], name="eventkind"),
                type_=sa.Enum(*EVENT_KINDS, name="eventkind"),
                existing_nullable=False,
            )

    with op.batch_alter_table("step_run", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("optional", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("participant", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("address", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True)
        )
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True)
        )
        batch_op.add_column(sa.Column("caseload_quota", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("speciality", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )

    op.create_table(
        "plan_goal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pathway_run_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("status", sa.Enum("OPEN", "ACHIEVED", "DROPPED", name="goalstatus"),
                  nullable=False),
        sa.Column("target_on", sa.Date(), nullable=True),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("updated_at", UTC(), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["pathway_run_id"], ["pathway_run.id"]),
        sa.ForeignKeyConstraint(["updated_by_id"], ["app_user.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("plan_goal", schema=None) as batch_op:
        batch_op.create_index("ix_plan_goal_pathway_run_id", ["pathway_run_id"], unique=False)

    op.create_table(
        "orientation_advice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("step_run_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("advised_route", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("advice_rule", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("decided_route", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("decided_at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["pathway_event.id"]),
        sa.ForeignKeyConstraint(["step_run_id"], ["step_run.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("step_run_id"),
    )
    with op.batch_alter_table("orientation_advice", schema=None) as batch_op:
        batch_op.create_index("ix_orientation_advice_decided_at", ["decided_at"], unique=False)


def downgrade() -> None:
    op.drop_table("orientation_advice")
    op.drop_table("plan_goal")
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.drop_column("speciality")
        batch_op.drop_column("caseload_quota")
        batch_op.drop_column("email")
    with op.batch_alter_table("participant", schema=None) as batch_op:
        batch_op.drop_column("address")
    with op.batch_alter_table("step_run", schema=None) as batch_op:
        batch_op.drop_column("optional")
