"""Storage: the ``Database`` (the unit of work) over SQLite or PostgreSQL, Alembic migrations,
and one repository module per table group, each a set of functions taking a connection:

- ``keys``: projects and API keys
- ``items``: function calls, human contacts and their decisions (``escalations``: their chain steps)
- ``events``: the change log
- ``endpoints``: webhook endpoints (secrets sealed)
- ``credentials``: credentials inside contact channels, redacted in place and sealed apart
- ``outbox``: deliveries of every sink and their attempts
- ``policies``: each project's rules; ``groups``: its approver groups
- ``people``, ``inbox``, ``access``, ``throttle``: reviewers, the inbox's lists, grants, sign-in
"""

from foureyes.storage.database import Database, Tx
from foureyes.storage.records import (
    DELIVERY_FAILED,
    DELIVERY_PENDING,
    DELIVERY_SUCCEEDED,
    ApiKeyRecord,
    AttemptRecord,
    DecisionRecord,
    DeliveryRecord,
    EventRecord,
    GroupRecord,
    ItemRecord,
    NewDecision,
    NewItem,
    PolicyRecord,
    ProjectRecord,
    WebhookEndpointRecord,
)

__all__ = [
    "DELIVERY_FAILED",
    "DELIVERY_PENDING",
    "DELIVERY_SUCCEEDED",
    "ApiKeyRecord",
    "AttemptRecord",
    "Database",
    "DecisionRecord",
    "DeliveryRecord",
    "EventRecord",
    "GroupRecord",
    "ItemRecord",
    "NewDecision",
    "NewItem",
    "PolicyRecord",
    "ProjectRecord",
    "Tx",
    "WebhookEndpointRecord",
]
