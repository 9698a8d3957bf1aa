"""A local stand-in for Slack: a real HTTP server speaking the Web API, Socket Mode and response_url."""

from bot.sandbox.actor import ActorResponse, SlackActor
from bot.sandbox.faults import Fault, Faults
from bot.sandbox.server import Sandbox
from bot.sandbox.state import Channel, SlackError, User

__all__ = ["ActorResponse", "Channel", "Fault", "Faults", "Sandbox", "SlackActor", "SlackError", "User"]
