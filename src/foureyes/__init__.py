"""foureyes: a human approves an AI agent's risky function call before it runs.

A drop-in for the HumanLayer SDK: ``from foureyes import ...`` works where
``from humanlayer import ...`` did, against a self-hosted foureyes server::

    from foureyes import require_approval, fetch_approval, FunctionCallSpec

    @require_approval
    def send_email(to: str, subject: str, body: str) -> str: ...

The module-level ``require_approval``, ``fetch_approval``, ``fetch_human_response`` and
``human_as_tool`` use default clients configured from the environment (``FOUREYES_API_KEY``,
``FOUREYES_API_BASE``, ``FOUREYES_RUN_ID``, else their ``HUMANLAYER_*`` twins), made on first
use. Importing foureyes reads no ``.env`` file and loads none of the server.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from foureyes._approvers import Approvers, all_of, any_of, at_least
from foureyes._async.client import AsyncHumanLayer
from foureyes._client import ApprovalMethod
from foureyes._config import genid
from foureyes._core import RetryPolicy
from foureyes._decision import Decision, DecisionOutcome
from foureyes._default import (
    default_async_client,
    default_client,
    fetch_approval,
    fetch_human_response,
    human_as_tool,
    require_approval,
)
from foureyes._exceptions import (
    APIError,
    ApprovalTimeout,
    AuthenticationError,
    ConfigurationError,
    ConflictError,
    FoureyesError,
    HumanLayerError,
    HumanLayerException,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    ReceiptError,
    ServerError,
    TerminalClosedError,
    TransportError,
    UserDeniedError,
    WebhookVerificationError,
)
from foureyes._sync.client import HumanLayer
from foureyes._wrappers import AsyncHumanLayerWrapper, HumanLayerWrapper
from foureyes.models import (
    BulkDecisionResult,
    ContactChannel,
    EmailContactChannel,
    EmailRecipient,
    Escalation,
    FunctionCall,
    FunctionCallDecision,
    FunctionCallSpec,
    FunctionCallStatus,
    HumanContact,
    HumanContactSpec,
    HumanContactStatus,
    RespondedBy,
    ResponseOption,
    SlackContactChannel,
    SMSContactChannel,
    WhatsAppContactChannel,
)

try:
    __version__ = version("foureyes")
except PackageNotFoundError:  # pragma: no cover - a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "APIError",
    "ApprovalMethod",
    "ApprovalTimeout",
    "Approvers",
    "AsyncHumanLayer",
    "AsyncHumanLayerWrapper",
    "AuthenticationError",
    "BulkDecisionResult",
    "ConfigurationError",
    "ConflictError",
    "ContactChannel",
    "Decision",
    "DecisionOutcome",
    "EmailContactChannel",
    "EmailRecipient",
    "Escalation",
    "FoureyesError",
    "FunctionCall",
    "FunctionCallDecision",
    "FunctionCallSpec",
    "FunctionCallStatus",
    "HumanContact",
    "HumanContactSpec",
    "HumanContactStatus",
    "HumanLayer",
    "HumanLayerError",
    "HumanLayerException",
    "HumanLayerWrapper",
    "InvalidRequestError",
    "NotFoundError",
    "PermissionDeniedError",
    "ReceiptError",
    "RespondedBy",
    "ResponseOption",
    "RetryPolicy",
    "SMSContactChannel",
    "ServerError",
    "SlackContactChannel",
    "TerminalClosedError",
    "TransportError",
    "UserDeniedError",
    "WebhookVerificationError",
    "WhatsAppContactChannel",
    "__version__",
    "all_of",
    "any_of",
    "at_least",
    "default_async_client",
    "default_client",
    "fetch_approval",
    "fetch_human_response",
    "genid",
    "human_as_tool",
    "require_approval",
]
