"""Email: one message per recipient of a request or an escalation, with signed links to decide.

``sink.EmailSink`` composes (``message``) and queues the messages and sends them over SMTP
(``smtp``); ``links`` signs and checks the links; ``pages`` serves what a link opens.
"""

from foureyes.server.channels.email.sink import EmailSink

__all__ = ["EmailSink"]
