"""The bot: conversations with reporters and the engineers' command grammar.

Public surface: :class:`Bot` (``handle(session, message, now)``), its
:class:`BotConfig` (with :class:`KbConfig` when the knowledge base answers first
messages), the command parser and the outage triage.
"""

from bot.bot import Bot, BotConfig
from bot.commands import HELP, Command, Verb, parse
from bot.kb_flow import KbConfig
from bot.state import Conversation
from bot.triage import looks_like_outage

__all__ = ["HELP", "Bot", "BotConfig", "Command", "Conversation", "KbConfig", "Verb", "looks_like_outage", "parse"]
