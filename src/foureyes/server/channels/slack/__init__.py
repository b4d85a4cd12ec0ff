"""Slack: a Block Kit message per request, with buttons and modals to decide it in Slack.

``sink.SlackSink`` posts the message (``blocks``) and updates it once the request is decided,
through Slack's Web API (``api``); ``interactions`` is the app's Request URL, where clicks and
modal submissions arrive signed, and ``access`` says who may decide.
"""

from foureyes.server.channels.slack.sink import SlackSink

__all__ = ["SlackSink"]
