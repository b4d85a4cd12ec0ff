"""Webhooks: signed HTTP POSTs (Standard Webhooks) to the endpoints a project registered.

``sink.WebhookSink`` fans item events out to subscribed endpoints and delivers them; ``admin``
adds, rotates, disables and tests endpoints and lists their deliveries.
"""

from foureyes.server.channels.webhook.sink import WEBHOOK_EVENTS, WebhookSink, webhook_envelope

__all__ = ["WEBHOOK_EVENTS", "WebhookSink", "webhook_envelope"]
