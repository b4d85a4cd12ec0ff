"""The durable outbox: every side effect of a change leaves through here.

A change's ``emit`` asks every sink to ``fan_out`` the event into delivery rows, in the same
transaction (``storage.outbox``); the one ``OutboxWorker`` leases due rows, hands each to its
sink's ``deliver``, and records the attempt, retrying with the shared backoff until the row
expires. The worker knows sinks only through the ``Sink`` protocol: channels (``channels/``)
implement it, and the app passes them in.
"""

from foureyes.server.outbox.sink import Attempt, FailureReport, Sink
from foureyes.server.outbox.worker import OutboxWorker, retry_delay

__all__ = ["Attempt", "FailureReport", "OutboxWorker", "Sink", "retry_delay"]
