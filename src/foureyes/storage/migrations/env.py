"""Alembic environment: migrations run on the connection ``Database.migrate`` passes in.

There is no alembic.ini and no logging set-up here: the server configures nothing globally, and
the caller owns the connection and its transaction.
"""

from __future__ import annotations

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through foureyes.storage.Database.migrate(): it passes a connection")

# render_as_batch: later ALTERs are emulated by copying tables on SQLite.
context.configure(connection=connection, render_as_batch=True)

with context.begin_transaction():
    context.run_migrations()
