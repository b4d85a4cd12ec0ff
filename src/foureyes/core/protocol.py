"""``humanlayer.core.protocol``: the exception and models code imports from HumanLayer's path.

HumanLayer's pluggable-backend classes (``AgentBackend``, ``AgentStore``, ``AdminBackend``,
``AdminStore``) are not offered: foureyes has one HTTP backend, configured by ``api_key`` and
``api_base_url``, and its clients take no ``backend=``. To test code without a server use
`foureyes.testing` instead of a mocked backend.
"""

from foureyes._exceptions import HumanLayerException
from foureyes.models import Escalation, FunctionCall, FunctionCallStatus, HumanContact, HumanContactStatus

__all__ = [
    "Escalation",
    "FunctionCall",
    "FunctionCallStatus",
    "HumanContact",
    "HumanContactStatus",
    "HumanLayerException",
]
