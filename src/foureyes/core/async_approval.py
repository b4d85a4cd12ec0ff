"""``humanlayer.core.async_approval``: the asyncio client, under HumanLayer's path."""

from foureyes._async.client import AsyncHumanLayer
from foureyes._config import genid
from foureyes._exceptions import HumanLayerException
from foureyes._wrappers import AsyncHumanLayerWrapper
from foureyes.models import (
    ContactChannel,
    FunctionCall,
    FunctionCallSpec,
    FunctionCallStatus,
    HumanContact,
    HumanContactSpec,
    HumanContactStatus,
    ResponseOption,
)

__all__ = [
    "AsyncHumanLayer",
    "AsyncHumanLayerWrapper",
    "ContactChannel",
    "FunctionCall",
    "FunctionCallSpec",
    "FunctionCallStatus",
    "HumanContact",
    "HumanContactSpec",
    "HumanContactStatus",
    "HumanLayerException",
    "ResponseOption",
    "genid",
]
