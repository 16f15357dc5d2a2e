"""The bot: conversations with reporters and the engineers' command grammar.

Public surface: :class:`Bot` (``handle(session, message, now)``), its
:class:`BotConfig`, and the command parser.
"""

from bot.bot import Bot, BotConfig
from bot.commands import HELP, Command, Verb, parse
from bot.state import Conversation

__all__ = ["HELP", "Bot", "BotConfig", "Command", "Conversation", "Verb", "parse"]
