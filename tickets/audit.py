"""Who changed what: the append-only audit log's writer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session

from tickets import deferred
from tickets.models import AuditLog, Person


@dataclass(frozen=True)
class Actor:
    """Who makes a change: a person, or the bot / system itself."""

    label: str
    person_id: int | None = None

    @classmethod
    def of(cls, person: Person) -> Actor:
        return cls(label=person.name, person_id=person.id)


BOT = Actor("bot")
SYSTEM = Actor("system")


def audit(session: Session, actor: Actor, action: str, now: datetime, *, ticket_id: int | None = None,
          **detail: Any) -> None:
    """Append an entry in the caller's transaction (and savepoint: a rollback takes it back).

    A row for :mod:`tickets.deferred` rather than an ORM object: nothing reads an entry
    back in the transaction that writes it, and every ticket change writes several, so
    they go out together (issue 5's intake benchmark).
    """
    deferred.insert_later(session, _TABLE, {"at": now, "actor_id": actor.person_id, "actor": actor.label,
                                            "ticket_id": ticket_id, "action": action, "detail": detail})


_TABLE = AuditLog.__table__  # type: ignore[attr-defined]
