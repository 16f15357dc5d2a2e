"""The core: hospitals, contracts, people, tickets and their messages, the audit
log and the outbox, and the service that changes them.

Public surface: the models, :mod:`tickets.service` (every state change),
:mod:`tickets.outbox`, :mod:`tickets.people`, and :class:`Database`.
"""

from tickets import outbox, people, service
from tickets.db import Database, as_utc, utcnow
from tickets.models import (
    OPEN_STATUSES,
    Account,
    AuditLog,
    AuthorKind,
    Contract,
    CoveredSystem,
    Direction,
    Hospital,
    Message,
    Outbox,
    OutboxStatus,
    Person,
    Role,
    Ticket,
    TicketStatus,
)

__all__ = [
    "OPEN_STATUSES", "Account", "AuditLog", "AuthorKind", "Contract", "CoveredSystem", "Database", "Direction",
    "Hospital", "Message", "Outbox", "OutboxStatus", "Person", "Role", "Ticket", "TicketStatus", "as_utc",
    "outbox", "people", "service", "utcnow",
]
