"""The foureyes server: ``create_app(Settings)`` builds the ASGI app.

Modules: ``settings`` (the settings registry), ``app`` (the app factory), ``errors`` (typed
errors and the JSON envelope), ``auth`` (API keys and scopes), ``service`` (the domain rules),
``push`` (wake-ups and the registry of live subscribers), ``wire`` (items as HumanLayer JSON),
``body_limit`` (the request-size guard) and ``api`` (the HTTP routes).
"""
