"""Predictions and their outcomes.

Revision ID: 0001
Revises:
Create Date: 2026-05-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tabloop_predictions",
        sa.Column("prediction_id", sa.String, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("variant", sa.String, nullable=False),
        sa.Column("model_name", sa.String, nullable=False),
        sa.Column("model_version", sa.String, nullable=False),
        sa.Column("entity_id", sa.String, nullable=True),
        sa.Column("request_id", sa.String, nullable=True),
        sa.Column("inputs", sa.JSON, nullable=False),
        sa.Column("context", sa.JSON, nullable=False),
        sa.Column("prediction", sa.JSON, nullable=False),
        sa.Column("score", sa.Float, nullable=True),
        sa.Column("probabilities", sa.JSON, nullable=True),
        sa.Column("latency_ms", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("prediction_id", name="pk_tabloop_predictions"),
    )
    op.create_index("ix_tabloop_predictions_created_at", "tabloop_predictions", ["created_at"])
    op.create_index("ix_tabloop_predictions_entity_id", "tabloop_predictions", ["entity_id"])
    op.create_table(
        "tabloop_outcomes",
        sa.Column("prediction_id", sa.String, nullable=False),
        sa.Column("value", sa.JSON, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("prediction_id", name="pk_tabloop_outcomes"),
        sa.ForeignKeyConstraint(
            ["prediction_id"],
            ["tabloop_predictions.prediction_id"],
            name="fk_tabloop_outcomes_prediction_id",
        ),
    )


def downgrade() -> None:
    op.drop_table("tabloop_outcomes")
    op.drop_index("ix_tabloop_predictions_entity_id", table_name="tabloop_predictions")
    op.drop_index("ix_tabloop_predictions_created_at", table_name="tabloop_predictions")
    op.drop_table("tabloop_predictions")
