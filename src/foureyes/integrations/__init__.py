"""Adapters that make foureyes the approval backend of the places agents run in.

Each adapter lives in its own module and imports its framework lazily, so ``import foureyes``
never needs them; each framework is an optional extra (``pip install 'foureyes[mcp]'``, ...).
"""
