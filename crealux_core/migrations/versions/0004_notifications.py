"""notifications that help: to a person, HTML, links, daily digests

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.add_column(sa.Column("recipient_user_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("html", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("link", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True)
        )
        batch_op.add_column(
            sa.Column("detail", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True)
        )
        batch_op.add_column(
            sa.Column("is_digest", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("digest_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_notification_recipient_user_id_app_user", "app_user", ["recipient_user_id"], ["id"]
        )
        batch_op.create_foreign_key(
            "fk_notification_digest_id_notification", "notification", ["digest_id"], ["id"]
        )
        batch_op.create_index(
            batch_op.f("ix_notification_recipient_user_id"), ["recipient_user_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_notification_digest_id"), ["digest_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notification_digest_id"))
        batch_op.drop_index(batch_op.f("ix_notification_recipient_user_id"))
        batch_op.drop_constraint("fk_notification_digest_id_notification", type_="foreignkey")
        batch_op.drop_constraint("fk_notification_recipient_user_id_app_user", type_="foreignkey")
        batch_op.drop_column("digest_id")
        batch_op.drop_column("is_digest")
        batch_op.drop_column("detail")
        batch_op.drop_column("link")
        batch_op.drop_column("html")
        batch_op.drop_column("recipient_user_id")
