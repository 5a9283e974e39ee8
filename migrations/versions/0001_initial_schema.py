"""Initial schema: the tables of Tessera 0.1 (as ``create_all`` made them).

A database created by Tessera 0.1, before migrations existed, already has
these tables: this revision then only records itself, so such a database
upgrades in place.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    if sa.inspect(op.get_bind()).has_table("visitors"):
        return  # made by Tessera 0.1's create_all: adopt it as it is
    op.create_table(
        "bot_requests",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day"),
    )
    op.create_table(
        "job_runs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("job", sa.String(length=40), nullable=False),
        sa.Column("slot", sa.BigInteger(), nullable=False),
        sa.Column("owner", sa.String(length=120), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("detail", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("job", "slot", name="uq_job_runs_job_slot"),
    )
    op.create_table(
        "ml_models",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=True),
        sa.Column("trained_at", sa.DateTime(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "version", name="uq_ml_models_kind_version"),
    )
    op.create_table(
        "rate_limits",
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("window", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", "window"),
    )
    op.create_table(
        "visitors",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("visits", sa.Integer(), nullable=False),
        sa.Column("contextual", sa.Boolean(), nullable=True),
        sa.Column("behavioral", sa.Boolean(), nullable=True),
        sa.Column("predictive", sa.Boolean(), nullable=True),
        sa.Column("gpc", sa.Boolean(), nullable=False),
        sa.Column("previous_visit_at", sa.DateTime(), nullable=True),
        sa.Column("page_views", sa.Integer(), nullable=False),
        sa.Column("pricing_views", sa.Integer(), nullable=False),
        sa.Column("articles_read", sa.Integer(), nullable=False),
        sa.Column("clicks", sa.Integer(), nullable=False),
        sa.Column("scroll_total", sa.Integer(), nullable=False),
        sa.Column("scroll_samples", sa.Integer(), nullable=False),
        sa.Column("dwell_ms_total", sa.BigInteger(), nullable=False),
        sa.Column("dwell_samples", sa.Integer(), nullable=False),
        sa.Column("converted", sa.Boolean(), nullable=False),
        sa.Column("last_article", sa.String(length=200), nullable=True),
        sa.Column("recent_pages", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "conversions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("visitor_id", sa.String(length=32), nullable=False),
        sa.Column("goal", sa.String(length=40), nullable=False),
        sa.Column("path", sa.String(length=200), nullable=False),
        sa.Column("holdout", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["visitor_id"], ["visitors.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("conversions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_conversions_visitor_id"), ["visitor_id"], unique=False)

    op.create_table(
        "events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("visitor_id", sa.String(length=32), nullable=False),
        sa.Column("type", sa.String(length=10), nullable=False),
        sa.Column("page", sa.String(length=200), nullable=False),
        sa.Column("block", sa.String(length=80), nullable=True),
        sa.Column("variant", sa.String(length=80), nullable=True),
        sa.Column("target", sa.String(length=32), nullable=True),
        sa.Column("depth", sa.Integer(), nullable=True),
        sa.Column("ms", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["visitor_id"], ["visitors.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("visitor_id", "event_id", name="uq_events_visitor_event"),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_events_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_events_visitor_id"), ["visitor_id"], unique=False)

    op.create_table(
        "exposures",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("visitor_id", sa.String(length=32), nullable=False),
        sa.Column("path", sa.String(length=200), nullable=False),
        sa.Column("holdout", sa.Boolean(), nullable=False),
        sa.Column("blocks", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["visitor_id"], ["visitors.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("exposures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_exposures_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_exposures_visitor_id"), ["visitor_id"], unique=False)

    op.create_table(
        "scores",
        sa.Column("visitor_id", sa.String(length=32), nullable=False),
        sa.Column("convert", sa.Float(), nullable=True),
        sa.Column("churn", sa.Float(), nullable=True),
        sa.Column("affinity", sa.JSON(), nullable=True),
        sa.Column("models", sa.JSON(), nullable=False),
        sa.Column("scored_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["visitor_id"], ["visitors.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("visitor_id"),
    )
    with op.batch_alter_table("scores", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_scores_scored_at"), ["scored_at"], unique=False)

    op.create_table(
        "signups",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("visitor_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("company_size", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["visitor_id"], ["visitors.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("signups", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_signups_visitor_id"), ["visitor_id"], unique=False)

    op.create_table(
        "topic_interests",
        sa.Column("visitor_id", sa.String(length=32), nullable=False),
        sa.Column("topic", sa.String(length=40), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("articles", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["visitor_id"], ["visitors.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("visitor_id", "topic"),
    )


def downgrade():
    op.drop_table("topic_interests")
    with op.batch_alter_table("signups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_signups_visitor_id"))

    op.drop_table("signups")
    with op.batch_alter_table("scores", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_scores_scored_at"))

    op.drop_table("scores")
    with op.batch_alter_table("exposures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exposures_visitor_id"))
        batch_op.drop_index(batch_op.f("ix_exposures_created_at"))

    op.drop_table("exposures")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_events_visitor_id"))
        batch_op.drop_index(batch_op.f("ix_events_created_at"))

    op.drop_table("events")
    with op.batch_alter_table("conversions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_conversions_visitor_id"))

    op.drop_table("conversions")
    op.drop_table("visitors")
    op.drop_table("rate_limits")
    op.drop_table("ml_models")
    op.drop_table("job_runs")
    op.drop_table("bot_requests")
