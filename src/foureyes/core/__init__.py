"""HumanLayer's module paths, for code that imports ``humanlayer.core.<module>``.

``from humanlayer.core.models import FunctionCallSpec`` becomes
``from foureyes.core.models import FunctionCallSpec``. These modules only re-export foureyes'
own classes (and, in ``models_agent_webhook``, define the webhook payload models HumanLayer kept
there); new code should import from ``foureyes`` itself.
"""
