"""``humanlayer.core.models``: the wire models, under HumanLayer's path."""

from foureyes.models import (
    ContactChannel,
    EmailContactChannel,
    EmailRecipient,
    Escalation,
    FunctionCall,
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

__all__ = [
    "ContactChannel",
    "EmailContactChannel",
    "EmailRecipient",
    "Escalation",
    "FunctionCall",
    "FunctionCallSpec",
    "FunctionCallStatus",
    "HumanContact",
    "HumanContactSpec",
    "HumanContactStatus",
    "RespondedBy",
    "ResponseOption",
    "SMSContactChannel",
    "SlackContactChannel",
    "WhatsAppContactChannel",
]
