"""pathway engine: events, waits, deadlines, definitions, generations

Every input becomes a row of pathway_event (decisions are moved there), each suspend a row of
wait, deadlines become columns of step_run, and the definition a run started on is kept.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = sqlmodel.sql.sqltypes.UTCDateTime
STEP_STATUSES = ("SCHEDULED", "OPEN", "COMPLETED", "SKIPPED", "EXPIRED", "CANCELLED")
EVENT_KINDS = ("DECISION", "SKIP", "REASSIGN", "DEADLINE", "OPENED", "COMMENT", "MIGRATION")


def upgrade() -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    if postgres:
        for value in STEP_STATUSES:
            op.execute(f"ALTER TYPE stepstatus ADD VALUE IF NOT EXISTS '{value}'")
        op.execute("COMMIT")  # new enum values are usable only once committed
        op.execute("BEGIN")

    op.create_table(
        "pathway_definition",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("digest", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("spec_json", sa.Text(), nullable=False),
        sa.Column("registered_at", UTC(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key", "version"),
    )

    with op.batch_alter_table("pathway_run", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("definition_digest", sqlmodel.sql.sqltypes.AutoString(length=64),
                      nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("end_reason", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column("generation", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("last_event_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("acked_event_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("needs_flow_at", UTC(), nullable=True))
        batch_op.add_column(sa.Column("heal_attempts", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("heal_after", UTC(), nullable=True))
        batch_op.add_column(sa.Column("stuck_reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True))
        batch_op.add_column(sa.Column("last_heal_error", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True))
        batch_op.create_index("ix_pathway_run_attention", ["status", "needs_flow_at"], unique=False)

    with op.batch_alter_table("step_run", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reached_at", UTC(), nullable=True))
        batch_op.add_column(sa.Column("opens_at", UTC(), nullable=True))
        batch_op.add_column(sa.Column("remind_at", UTC(), nullable=True))
        batch_op.add_column(sa.Column("escalate_at", UTC(), nullable=True))
        batch_op.add_column(sa.Column("overdue_at", UTC(), nullable=True))
        batch_op.add_column(sa.Column("reminded_at", UTC(), nullable=True))
        batch_op.add_column(sa.Column("escalated_at", UTC(), nullable=True))
        batch_op.alter_column("completed_at", new_column_name="closed_at")
        batch_op.alter_column("opened_at", existing_type=UTC(), nullable=True)
        batch_op.alter_column("due_at", existing_type=UTC(), nullable=True)
        batch_op.alter_column(
            "status",
            existing_type=sa.Enum("OPEN", "COMPLETED", name="stepstatus"),
            type_=sa.Enum(*STEP_STATUSES, name="stepstatus"),
            existing_nullable=False,
        )
        batch_op.drop_column("flow_run_id")
        batch_op.create_index("ix_step_run_opens_at", ["opens_at"], unique=False)
        batch_op.create_index("ix_step_run_remind_at", ["remind_at"], unique=False)
        batch_op.create_index("ix_step_run_escalate_at", ["escalate_at"], unique=False)
        batch_op.create_index("ix_step_run_overdue_at", ["overdue_at"], unique=False)
    op.execute("UPDATE step_run SET reached_at = opened_at")
    with op.batch_alter_table("step_run", schema=None) as batch_op:
        batch_op.alter_column("reached_at", existing_type=UTC(), nullable=False)

    op.create_table(
        "wait",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pathway_run_id", sa.Integer(), nullable=False),
        sa.Column("flow_run_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("fired_at", UTC(), nullable=True),
        sa.Column("woken_by_event_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["pathway_run_id"], ["pathway_run.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("wait", schema=None) as batch_op:
        batch_op.create_index("ix_wait_pathway_run_id", ["pathway_run_id"], unique=False)
        batch_op.create_index("ix_wait_flow_run_id", ["flow_run_id"], unique=False)

    op.create_table(
        "pathway_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pathway_run_id", sa.Integer(), nullable=False),
        sa.Column("step_run_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.Enum(*EVENT_KINDS, name="eventkind"), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("occurred_at", UTC(), nullable=False),
        sa.Column("recorded_at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(["actor_id"], ["app_user.id"]),
        sa.ForeignKeyConstraint(["pathway_run_id"], ["pathway_run.id"]),
        sa.ForeignKeyConstraint(["step_run_id"], ["step_run.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("pathway_event", schema=None) as batch_op:
        batch_op.create_index("ix_pathway_event_pathway_run_id", ["pathway_run_id"], unique=False)
        batch_op.create_index("ix_pathway_event_step_run_id", ["step_run_id"], unique=False)

    kind = "CAST('DECISION' AS eventkind)" if postgres else "'DECISION'"
    op.execute(
        "INSERT INTO pathway_event"
        " (pathway_run_id, step_run_id, kind, actor_id, payload, note, occurred_at, recorded_at)"
        f" SELECT s.pathway_run_id, d.step_run_id, {kind}, d.actor_id, d.outcome, d.note,"
        " d.decided_at, d.decided_at FROM decision d JOIN step_run s ON s.id = d.step_run_id"
        " ORDER BY d.id"
    )
    # Runs started before this version are replaced by the reconciler: their flow runs wait on
    # keys and inputs of the old engine.
    op.execute(
        "UPDATE pathway_run SET last_event_id ="
        " (SELECT MAX(e.id) FROM pathway_event e WHERE e.pathway_run_id = pathway_run.id)"
    )
    op.execute("UPDATE pathway_run SET acked_event_id = last_event_id")
    with op.batch_alter_table("decision", schema=None) as batch_op:
        batch_op.drop_index("ix_decision_delivered_at")
    op.drop_table("decision")


def downgrade() -> None:
    raise NotImplementedError("0002 moves decisions into events: restore a backup instead")
