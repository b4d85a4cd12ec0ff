"""The tables of a project's approver groups: named sets of people that a request's approver
requirement names (``required_approvers``, a policy's ``require:all_of(...)``). Part of
``schema.metadata``."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Integer, PrimaryKeyConstraint, String, Table, UniqueConstraint

from foureyes.storage.schema_base import UTCDateTime, metadata

# A project's named group of people (0021).
project_groups = Table(
    "project_groups",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project_id", Integer, ForeignKey("projects.id"), nullable=False),
    # letters, digits, '.', '_' or '-' (no spaces or commas: items keep the names space-separated)
    Column("name", String(100), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("project_id", "name", name="uq_project_groups_project_name"),
)

# Who is in a group: foureyes people, by their user row (0021).
project_group_members = Table(
    "project_group_members",
    metadata,
    Column("group_id", Integer, ForeignKey("project_groups.id"), nullable=False),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False, index=True),
    PrimaryKeyConstraint("group_id", "user_id", name="pk_project_group_members"),
)
