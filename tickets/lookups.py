"""Reference data read once per session: hospitals, contracts, covered systems, calendars.

The inbound worker handles a batch of messages in one session, and every new
ticket needs the same hospital list, active contract, covered systems and
calendar days. Reading them once per session instead of once per message is
most of what makes mail intake fast (issue 5's benchmark).

A remembered value is forgotten as soon as the session holds a change to any
reference table: an unflushed one (checked on every read) or a flushed one
(the ``before_flush`` hook below). Sessions are short (one request, one batch),
so an edit made by another process is seen by the next session.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import chain
from typing import Any, TypeVar

from sqlalchemy import event
from sqlmodel import Session

from tickets.models import CalendarYear, Contract, CoveredSystem, Hospital, HospitalDay, StatutoryDay

T = TypeVar("T")
_KEY = "helpdesk.lookups"
REFERENCE_TYPES = (Hospital, Contract, CoveredSystem, HospitalDay, StatutoryDay, CalendarYear)


def remembered(session: Session, key: tuple[Any, ...], load: Callable[[], T]) -> T:
    """``load()`` once per session and ``key``, unless reference data changed meanwhile."""
    if _touches_reference(chain(session.new, session.dirty, session.deleted)):
        forget(session)
    cache: dict[tuple[Any, ...], Any] = session.info.setdefault(_KEY, {})
    if key not in cache:
        cache[key] = load()
    return cache[key]  # type: ignore[no-any-return]


def forget(session: Session) -> None:
    session.info.pop(_KEY, None)


def _touches_reference(objects: Any) -> bool:
    return any(isinstance(obj, REFERENCE_TYPES) for obj in objects)


@event.listens_for(Session, "before_flush")
def _forget_on_reference_flush(session: Session, _context: Any, _instances: Any) -> None:
    if _KEY in session.info and _touches_reference(chain(session.new, session.dirty, session.deleted)):
        forget(session)


@event.listens_for(Session, "after_soft_rollback")
def _forget_on_rollback(session: Session, _previous: Any) -> None:
    forget(session)  # a rolled-back savepoint may have held a reference edit
