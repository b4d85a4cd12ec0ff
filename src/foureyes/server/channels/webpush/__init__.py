"""Web Push: a notification on the reviewer's phone or desktop when a request waits for them.

``sink.WebPushSink`` queues one notification (``message``) per subscribed member of the project
and sends it encrypted and VAPID-signed (``vapid``) to the browser's push service;
``subscriptions`` is what the inbox's switch turns on and off. See docs/inbox.md.
"""

from foureyes.server.channels.webpush.sink import WebPushSink
from foureyes.server.channels.webpush.subscriptions import PushSubscriptions

__all__ = ["PushSubscriptions", "WebPushSink"]
