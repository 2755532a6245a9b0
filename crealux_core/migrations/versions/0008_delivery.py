"""notification deliveries per recipient and channel, channel states

What each channel answered to each attempt at a message (notification_delivery), which channels
are disabled and why (notification_channel), when a failed or partial message is tried again
(notification.next_attempt_at) and the partial status (some channels took it).

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATUSES = ('PENDING', 'SENDING', 'SENT', 'FAILED')


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        op.execute("ALTER TYPE notificationstatus ADD VALUE IF NOT EXISTS 'PARTIAL'")
        op.execute('COMMIT')  # new enum values are usable only once committed
        op.execute('BEGIN')
    op.create_table('notification_channel',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_key', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('channel_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('channel_label', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('service', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('disabled_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('enabled_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('enabled_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['enabled_by'], ['app_user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('organisation_key', 'channel_id')
    )
    op.create_table('notification_delivery',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('notification_id', sa.Integer(), nullable=False),
    sa.Column('organisation_key', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('channel_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('channel_label', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('service', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('status', sa.Enum('SUCCESS', 'FAILURE', 'SKIPPED', name='deliverystatus'), nullable=False),
    sa.Column('permanent', sa.Boolean(), nullable=False),
    sa.Column('error', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['notification_id'], ['notification.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('notification_delivery', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notification_delivery_at'), ['at'], unique=False)
        batch_op.create_index('ix_notification_delivery_channel', ['notification_id', 'channel_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_notification_delivery_organisation_key'), ['organisation_key'], unique=False)

    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.add_column(sa.Column('next_attempt_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.create_index(batch_op.f('ix_notification_next_attempt_at'), ['next_attempt_at'], unique=False)
        if bind.dialect.name != 'postgresql':
            batch_op.alter_column(
                'status',
                existing_type=sa.Enum(*OLD_STATUSES, name='notificationstatus'),
                type_=sa.Enum(*OLD_STATUSES, 'PARTIAL', name='notificationstatus'),
                existing_nullable=False,
            )
    # A message that failed before retries had a time is tried again at once, as it was then.
    op.execute(
        "UPDATE notification SET next_attempt_at = COALESCE(claimed_at, created_at) "
        "WHERE status = 'FAILED' AND attempts < 5"
    )


def downgrade() -> None:
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notification_next_attempt_at'))
        batch_op.drop_column('next_attempt_at')

    with op.batch_alter_table('notification_delivery', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notification_delivery_organisation_key'))
        batch_op.drop_index('ix_notification_delivery_channel')
        batch_op.drop_index(batch_op.f('ix_notification_delivery_at'))

    op.drop_table('notification_delivery')
    op.drop_table('notification_channel')
    sa.Enum(name='deliverystatus').drop(op.get_bind(), checkfirst=True)
    # PostgreSQL cannot drop an enum value; an unused PARTIAL does no harm
