"""visitors.holdout: the holdout group, stored at the visitor's first exposure.

Changing ``TESSERA_HOLDOUT_SHARE`` later then moves nobody between groups.
Existing visitors get the group their first exposure recorded; those without
an exposure get theirs at their next one.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("visitors", schema=None) as batch_op:
        batch_op.add_column(sa.Column("holdout", sa.Boolean(), nullable=True))
    op.execute(
        "UPDATE visitors SET holdout = (SELECT e.holdout FROM exposures e WHERE e.visitor_id = visitors.id "
        "ORDER BY e.id LIMIT 1)"
    )


def downgrade():
    with op.batch_alter_table("visitors", schema=None) as batch_op:
        batch_op.drop_column("holdout")
