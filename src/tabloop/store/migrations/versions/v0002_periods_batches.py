"""Experiment periods and outcome upload batches.

Existing predictions land in period 1 (started at the oldest prediction) and existing
outcomes in one batch made for them.

Revision ID: 0002
Revises: 0001
Create Date: 2026-05-08
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# The columns this migration reads and writes, as they are at this revision.
_periods = sa.table(
    "tabloop_periods",
    sa.column("id", sa.Integer),
    sa.column("started_at", sa.DateTime(timezone=True)),
)
_batches = sa.table(
    "tabloop_outcome_batches",
    sa.column("id", sa.Integer),
    sa.column("received_at", sa.DateTime(timezone=True)),
    sa.column("period_id", sa.Integer),
    sa.column("rows", sa.Integer),
)
_predictions = sa.table(
    "tabloop_predictions",
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("period_id", sa.Integer),
)
_outcomes = sa.table(
    "tabloop_outcomes",
    sa.column("received_at", sa.DateTime(timezone=True)),
    sa.column("batch_id", sa.Integer),
)


def upgrade() -> None:
    bind = op.get_bind()
    now = datetime.now(UTC)
    op.create_table(
        "tabloop_periods",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_tabloop_periods"),
    )
    op.create_table(
        "tabloop_outcome_batches",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period_id", sa.Integer, nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tabloop_outcome_batches"),
        sa.ForeignKeyConstraint(
            ["period_id"], ["tabloop_periods.id"], name="fk_tabloop_outcome_batches_period_id"
        ),
    )
    oldest = bind.execute(sa.select(sa.func.min(_predictions.c.created_at))).scalar()
    bind.execute(_periods.insert().values(started_at=oldest or now))
    period = bind.execute(sa.select(sa.func.max(_periods.c.id))).scalar_one()

    with op.batch_alter_table("tabloop_predictions") as batch:
        batch.add_column(sa.Column("period_id", sa.Integer, nullable=True))
    bind.execute(_predictions.update().values(period_id=period))
    with op.batch_alter_table("tabloop_predictions") as batch:
        batch.alter_column("period_id", existing_type=sa.Integer, nullable=False)
        batch.create_foreign_key(
            "fk_tabloop_predictions_period_id", "tabloop_periods", ["period_id"], ["id"]
        )
        batch.create_index("ix_tabloop_predictions_period_id_variant", ["period_id", "variant"])

    with op.batch_alter_table("tabloop_outcomes") as batch:
        batch.add_column(sa.Column("batch_id", sa.Integer, nullable=True))
    count, first = bind.execute(
        sa.select(sa.func.count(), sa.func.min(_outcomes.c.received_at))
    ).one()
    if count:
        bind.execute(_batches.insert().values(received_at=first, period_id=period, rows=count))
        batch_id = bind.execute(sa.select(sa.func.max(_batches.c.id))).scalar_one()
        bind.execute(_outcomes.update().values(batch_id=batch_id))
    with op.batch_alter_table("tabloop_outcomes") as batch:
        batch.alter_column("batch_id", existing_type=sa.Integer, nullable=False)
        batch.create_foreign_key(
            "fk_tabloop_outcomes_batch_id", "tabloop_outcome_batches", ["batch_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("tabloop_outcomes") as batch:
        batch.drop_constraint("fk_tabloop_outcomes_batch_id", type_="foreignkey")
        batch.drop_column("batch_id")
    with op.batch_alter_table("tabloop_predictions") as batch:
        batch.drop_index("ix_tabloop_predictions_period_id_variant")
        batch.drop_constraint("fk_tabloop_predictions_period_id", type_="foreignkey")
        batch.drop_column("period_id")
    op.drop_table("tabloop_outcome_batches")
    op.drop_table("tabloop_periods")
