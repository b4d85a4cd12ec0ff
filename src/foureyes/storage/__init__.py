"""Storage: one interface (``Storage``) over SQLite or PostgreSQL, with Alembic migrations."""

from foureyes.storage.store import (
    DELIVERY_FAILED,
    DELIVERY_PENDING,
    DELIVERY_SUCCEEDED,
    ApiKeyRecord,
    AttemptRecord,
    DecisionRecord,
    DeliveryRecord,
    EventRecord,
    ItemRecord,
    NewDecision,
    NewItem,
    OutboxEvent,
    ProjectRecord,
    Storage,
    WebhookEndpointRecord,
)

__all__ = [
    "DELIVERY_FAILED",
    "DELIVERY_PENDING",
    "DELIVERY_SUCCEEDED",
    "ApiKeyRecord",
    "AttemptRecord",
    "DecisionRecord",
    "DeliveryRecord",
    "EventRecord",
    "ItemRecord",
    "NewDecision",
    "NewItem",
    "OutboxEvent",
    "ProjectRecord",
    "Storage",
    "WebhookEndpointRecord",
]
