"""``humanlayer.core.approval``: the sync client and what it needs, under HumanLayer's path."""

from foureyes._client import ApprovalMethod
from foureyes._config import genid
from foureyes._exceptions import HumanLayerError, HumanLayerException, UserDeniedError
from foureyes._sync.client import HumanLayer
from foureyes._wrappers import HumanLayerWrapper
from foureyes.models import (
    ContactChannel,
    Escalation,
    FunctionCall,
    FunctionCallSpec,
    FunctionCallStatus,
    HumanContact,
    HumanContactSpec,
    HumanContactStatus,
    ResponseOption,
)

__all__ = [
    "ApprovalMethod",
    "ContactChannel",
    "Escalation",
    "FunctionCall",
    "FunctionCallSpec",
    "FunctionCallStatus",
    "HumanContact",
    "HumanContactSpec",
    "HumanContactStatus",
    "HumanLayer",
    "HumanLayerError",
    "HumanLayerException",
    "HumanLayerWrapper",
    "ResponseOption",
    "UserDeniedError",
    "genid",
]
