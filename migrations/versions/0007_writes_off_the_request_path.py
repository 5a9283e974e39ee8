"""Writes off the request path: a render's own key, distinct guides read, and erased ids.

- ``exposures.key``: the id a render gets when it is decided; the write that
  lands later (from the in-process buffer or the Redis stream) is applied at
  most once, however often it is retried. Older exposures have none.
- ``visitors.guides_read``: the distinct guides a visitor read, so counts in
  explanations are true ("three guides" are three different guides). NULL for
  visitors from before: their counts stay as they were.
- ``erased_visitors``: ids erased in the last day, so a write of theirs still
  on its way is dropped rather than bringing them back.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "erased_visitors",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("erased_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("erased_visitors", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_erased_visitors_erased_at"), ["erased_at"], unique=False)
    with op.batch_alter_table("exposures", schema=None) as batch_op:
        batch_op.add_column(sa.Column("key", sa.String(length=32), nullable=True))
        batch_op.create_unique_constraint("uq_exposures_key", ["key"])
    with op.batch_alter_table("visitors", schema=None) as batch_op:
        batch_op.add_column(sa.Column("guides_read", sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table("visitors", schema=None) as batch_op:
        batch_op.drop_column("guides_read")
    with op.batch_alter_table("exposures", schema=None) as batch_op:
        batch_op.drop_constraint("uq_exposures_key", type_="unique")
        batch_op.drop_column("key")
    with op.batch_alter_table("erased_visitors", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_erased_visitors_erased_at"))
    op.drop_table("erased_visitors")
