"""Storage: one interface (``Storage``) over SQLite or PostgreSQL, with Alembic migrations."""

from foureyes.storage.store import (
    ApiKeyRecord,
    DecisionRecord,
    EventRecord,
    ItemRecord,
    NewDecision,
    NewItem,
    ProjectRecord,
    Storage,
)

__all__ = [
    "ApiKeyRecord",
    "DecisionRecord",
    "EventRecord",
    "ItemRecord",
    "NewDecision",
    "NewItem",
    "ProjectRecord",
    "Storage",
]
