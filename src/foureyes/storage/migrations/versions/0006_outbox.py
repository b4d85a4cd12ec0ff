"""One outbox for every sink, and events that record every change with its project and actor.

``webhook_deliveries`` and ``webhook_attempts`` become ``deliveries`` (sink "webhook", target the
endpoint's id) and ``delivery_attempts``, every row carried over with its id, status, lease and
retry time, so a delivery queued before the upgrade is sent after it with the same message id.
``events`` gains ``project_id`` (filled in from the item) and ``actor_user_id``; ``item_id``
becomes optional, for changes to a project's keys, people and endpoints.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_DELIVERY_COLUMNS = (
    "item_id, event_type, payload, status, attempts, next_attempt_at, expires_at, "
    "locked_until, last_error, created_at, completed_at"
)
_ATTEMPT_COLUMNS = "id, delivery_id, attempted_at, status_code, latency_ms, error"


def _create_outbox() -> None:
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("sink", sa.String(32), nullable=False),
        sa.Column("target", sa.String(320), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=True),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("message_id", sa.String(64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_deliveries"),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], name="fk_deliveries_item_id_items"),
        sa.UniqueConstraint("message_id", name="uq_deliveries_message_id"),
    )
    op.create_index("ix_deliveries_due", "deliveries", ["status", "next_attempt_at"])
    op.create_index("ix_deliveries_order", "deliveries", ["sink", "target", "item_id", "status"])
    op.create_table(
        "delivery_attempts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_delivery_attempts"),
        sa.ForeignKeyConstraint(
            ["delivery_id"], ["deliveries.id"], name="fk_delivery_attempts_delivery_id_deliveries"
        ),
    )
    op.create_index("ix_delivery_attempts_delivery_id", "delivery_attempts", ["delivery_id"])


def _restart_sequences(*tables: str) -> None:
    # Rows were copied with their ids: PostgreSQL's sequences must continue after them.
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in tables:
        op.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608 (fixed names)
            f"COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
        )


def upgrade() -> None:
    _create_outbox()
    # Fixed column lists, no input: the f-strings only avoid writing them twice.
    op.execute(
        f"INSERT INTO deliveries (id, sink, target, message_id, {_DELIVERY_COLUMNS}) "  # noqa: S608
        f"SELECT id, 'webhook', CAST(endpoint_id AS VARCHAR(320)), webhook_id, {_DELIVERY_COLUMNS} "
        "FROM webhook_deliveries"
    )
    op.execute(
        f"INSERT INTO delivery_attempts ({_ATTEMPT_COLUMNS}) "  # noqa: S608
        f"SELECT {_ATTEMPT_COLUMNS} FROM webhook_attempts"
    )
    _restart_sequences("deliveries", "delivery_attempts")
    op.drop_table("webhook_attempts")
    op.drop_table("webhook_deliveries")

    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("project_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("actor_user_id", sa.Integer(), nullable=True))
        batch.alter_column("item_id", existing_type=sa.Integer(), nullable=True)
        batch.create_foreign_key("fk_events_project_id_projects", "projects", ["project_id"], ["id"])
        batch.create_foreign_key("fk_events_actor_user_id_users", "users", ["actor_user_id"], ["id"])
    op.create_index("ix_events_project_id", "events", ["project_id"])
    op.execute(
        "UPDATE events SET project_id = (SELECT items.project_id FROM items WHERE items.id = events.item_id)"
    )
    # A decision's person was kept in its data since 0003; it now has a column of its own.
    op.execute(
        "UPDATE events SET actor_user_id = (SELECT decisions.actor_user_id FROM decisions "
        "WHERE decisions.item_id = events.item_id) WHERE events.type = 'decided'"
    )


def downgrade() -> None:
    # Back to the webhook tables: the webhook sink's rows return with their ids; rows of any
    # other sink have no place there and are dropped, as are events that belong to no item.
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("endpoint_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=True),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("webhook_id", sa.String(64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_deliveries"),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["webhook_endpoints.id"],
            name="fk_webhook_deliveries_endpoint_id_webhook_endpoints",
        ),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], name="fk_webhook_deliveries_item_id_items"),
        sa.UniqueConstraint("webhook_id", name="uq_webhook_deliveries_webhook_id"),
    )
    op.create_index("ix_webhook_deliveries_due", "webhook_deliveries", ["status", "next_attempt_at"])
    op.create_index("ix_webhook_deliveries_order", "webhook_deliveries", ["endpoint_id", "item_id", "status"])
    op.create_table(
        "webhook_attempts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_attempts"),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["webhook_deliveries.id"],
            name="fk_webhook_attempts_delivery_id_webhook_deliveries",
        ),
    )
    op.create_index("ix_webhook_attempts_delivery_id", "webhook_attempts", ["delivery_id"])
    op.execute(
        f"INSERT INTO webhook_deliveries (id, endpoint_id, webhook_id, {_DELIVERY_COLUMNS}) "  # noqa: S608
        f"SELECT id, CAST(target AS INTEGER), message_id, {_DELIVERY_COLUMNS} "
        "FROM deliveries WHERE sink = 'webhook'"
    )
    op.execute(
        f"INSERT INTO webhook_attempts ({_ATTEMPT_COLUMNS}) "  # noqa: S608
        f"SELECT {_ATTEMPT_COLUMNS} FROM delivery_attempts "
        "WHERE delivery_id IN (SELECT id FROM webhook_deliveries)"
    )
    _restart_sequences("webhook_deliveries", "webhook_attempts")
    op.drop_table("delivery_attempts")
    op.drop_table("deliveries")

    op.drop_index("ix_events_project_id", table_name="events")
    op.execute("DELETE FROM events WHERE item_id IS NULL")
    with op.batch_alter_table("events") as batch:
        batch.drop_constraint("fk_events_actor_user_id_users", type_="foreignkey")
        batch.drop_constraint("fk_events_project_id_projects", type_="foreignkey")
        batch.alter_column("item_id", existing_type=sa.Integer(), nullable=False)
        batch.drop_column("actor_user_id")
        batch.drop_column("project_id")
