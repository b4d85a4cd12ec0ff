"""The decider's name as it was when they decided.

``decisions.actor_name`` keeps the display name of the person who decided, written with the
decision; a later rename of that person no longer rewrites who decided in the history. Rows
from before get the name their person has now (the best there is).

Revision ID: 0020
Revises: 0016
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("decisions", sa.Column("actor_name", sa.String(200), nullable=True))
    op.execute(
        "UPDATE decisions SET actor_name = "
        "(SELECT users.display_name FROM users WHERE users.id = decisions.actor_user_id) "
        "WHERE actor_user_id IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_column("decisions", "actor_name")
