"""worklist indexes: an advisor's, an organisation's and everyone's open steps by due date

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = {
    "ix_step_run_worklist_assignee": ["status", "assignee_id", "due_at"],
    "ix_step_run_worklist_organisation": ["status", "organisation_id", "due_at"],
    "ix_step_run_worklist": ["status", "due_at"],
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(name, "step_run", columns, unique=False)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name="step_run")
