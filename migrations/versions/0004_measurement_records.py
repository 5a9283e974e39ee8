"""Measurement records: each exposure's coarse context, a row per randomized decision, allocations, pauses.

Exposures gain the context segments need (device class, daypart, weekend,
country, language, returning, the layers on, whether a leading topic and a
score existed); older exposures keep NULL there. ``decisions`` holds every
rule-test assignment and learning draw with its propensity; ``allocations``
the learn job's published tables; ``paused_rules`` the rules paused for harm.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "allocations",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("block", sa.String(length=80), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("table", sa.JSON(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("block", "version", name="uq_allocations_block_version"),
    )
    op.create_table(
        "paused_rules",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("rule", sa.String(length=170), nullable=False),
        sa.Column("fingerprint", sa.String(length=16), nullable=False),
        sa.Column("paused_at", sa.DateTime(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("rule", "fingerprint", name="uq_paused_rules_rule_fingerprint"),
    )
    op.create_table(
        "decisions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("exposure_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("visitor_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("path", sa.String(length=200), nullable=False),
        sa.Column("block", sa.String(length=80), nullable=False),
        sa.Column("variant", sa.String(length=80), nullable=False),
        sa.Column("rule", sa.String(length=170), nullable=True),
        sa.Column("test", sa.String(length=170), nullable=True),
        sa.Column("control", sa.Boolean(), nullable=False),
        sa.Column("propensity", sa.Float(), nullable=False),
        sa.Column("strategy", sa.String(length=10), nullable=False),
        sa.Column("segment", sa.String(length=200), nullable=True),
        sa.Column("allocation", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["exposure_id"], ["exposures.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["visitor_id"], ["visitors.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.create_index("ix_decisions_block_created_at", ["block", "created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_decisions_exposure_id"), ["exposure_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_decisions_test"), ["test"], unique=False)
        batch_op.create_index(batch_op.f("ix_decisions_visitor_id"), ["visitor_id"], unique=False)

    with op.batch_alter_table("exposures", schema=None) as batch_op:
        batch_op.add_column(sa.Column("device", sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column("daypart", sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column("weekend", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("country", sa.String(length=2), nullable=True))
        batch_op.add_column(sa.Column("language", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("returning_visitor", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("layers", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("top_topic", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("scored", sa.Boolean(), nullable=True))


def downgrade():
    with op.batch_alter_table("exposures", schema=None) as batch_op:
        batch_op.drop_column("scored")
        batch_op.drop_column("top_topic")
        batch_op.drop_column("layers")
        batch_op.drop_column("returning_visitor")
        batch_op.drop_column("language")
        batch_op.drop_column("country")
        batch_op.drop_column("weekend")
        batch_op.drop_column("daypart")
        batch_op.drop_column("device")

    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_decisions_visitor_id"))
        batch_op.drop_index(batch_op.f("ix_decisions_test"))
        batch_op.drop_index(batch_op.f("ix_decisions_exposure_id"))
        batch_op.drop_index("ix_decisions_block_created_at")

    op.drop_table("decisions")
    op.drop_table("paused_rules")
    op.drop_table("allocations")
