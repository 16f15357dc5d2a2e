"""The engineers' groups: where a ticket is posted, who may work it, and its card (issue 6).

* **Where.** A hospital with its own engineers' group (``Hospital.engineer_chatid``)
  gets its tickets there; the others go to the shared group of the settings. The
  web chat's engineer view always gets them too.
* **Who may work it.** Only the vendor's people (engineer or manager role, no
  hospital), and only on tickets of hospitals they serve (``Person.serves``, ``"*"``
  for all). The on-duty engineers of a hospital are the active engineers serving it.
* **The card.** Through the AI bot the post is a button card *in the group*; one tap
  on 接单 claims the ticket and the card is replaced for everyone. A self-built app
  cannot put a card in a group (``appchat/send`` has no ``template_card``,
  reference/wecom.md section 0), so without the AI bot the group gets text and each
  on-duty engineer gets the card one-to-one, replaced with ``update_template_card``
  once someone claims it.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from bot import texts
from intake.aibot import claimed_card, make_task_id, ticket_card
from tickets.models import ENGINEER_ROLES, Hospital, Person, Role, Ticket
from tickets.service import TicketError

Route = tuple[str, str]  # (channel, recipient)

AIBOT = "aibot"
WECOM = "wecom"
EVERY_HOSPITAL = "*"
CLAIM, DETAIL = "claim", "detail"
_KEY = re.compile(r"^(claim|detail):(\d{1,9})(?::claimed)?$")


# -- who may work what -------------------------------------------------------------

def serves(person: Person, hospital: Hospital | None) -> bool:
    if person.role not in ENGINEER_ROLES or person.hospital_id is not None or not person.active:
        return False
    return EVERY_HOSPITAL in person.serves or (hospital is not None and hospital.key in person.serves)


def authorise(session: Session, person: Person, ticket: Ticket) -> None:
    """Refuse a command on a ticket of a hospital the person does not serve."""
    hospital = session.get(Hospital, ticket.hospital_id)
    if not serves(person, hospital):
        raise TicketError(f"您未被分配服务{hospital.name if hospital else '该医院'}，不能处理工单 #{ticket.id}。"
                          "如需调整请联系服务经理。")


def on_duty(session: Session, hospital: Hospital) -> list[Person]:
    """The active engineers serving ``hospital``, who get its new tickets one-to-one."""
    stmt = select(Person).where(Person.role == Role.ENGINEER, Person.active == True,  # noqa: E712
                                Person.hospital_id == None).order_by(col(Person.id))  # noqa: E711
    return [p for p in session.exec(stmt) if serves(p, hospital)]


# -- where ---------------------------------------------------------------------------

def group_routes(routes: list[Route], group_channel: str, hospital: Hospital | None) -> list[Route]:
    """The engineer routes for a ticket of ``hospital``: its own group replaces the shared one."""
    own = hospital.engineer_chatid if hospital is not None else ""
    if not own or not group_channel:
        return list(routes)
    mine = (group_channel, f"chat:{own}")
    replaced = [mine if channel == group_channel and recipient.startswith("chat:") else (channel, recipient)
                for channel, recipient in routes]
    return replaced if mine in replaced else [mine, *replaced]


# -- the card ------------------------------------------------------------------------

def key_of(event_key: str) -> tuple[str, int] | None:
    """("claim", 12) for a click on ``claim:12`` (or on the claimed card's ``claim:12:claimed``)."""
    m = _KEY.match(event_key.strip())
    return (m.group(1), int(m.group(2))) if m else None


def new_task_id(ticket: Ticket, now: datetime) -> str:
    """Unique per bot and app (WeCom refuses a task_id used before), so the instant is part of it."""
    return make_task_id("hd", ticket.id or 0, int(now.timestamp() * 1000))


def card(ticket: Ticket, hospital: Hospital, *, system: str, level: str, reporter: Person, now: datetime,
         task_id: str, claimed_by: str = "") -> dict[str, Any]:
    """The ticket's button card: what the issue asks the group to see, and 接单 / 详情."""
    due = (f"{texts.when(ticket.response_due_at, now, hospital.timezone)}（{texts.left(ticket.response_due_at, now)}）"
           if ticket.response_due_at else "合同未规定")
    lines = [("医院", hospital.name), ("系统", system), ("级别", level),
             ("报障人", f"{reporter.department} {reporter.name}".strip()), ("响应时限", due)]
    buttons = [("接单", f"{CLAIM}:{ticket.id}"), ("详情", f"{DETAIL}:{ticket.id}")]
    title = f"新工单 #{ticket.id}"
    if claimed_by:
        return claimed_card(task_id, title, lines, buttons, claim_key=f"{CLAIM}:{ticket.id}",
                            claimed_text=f"{claimed_by} 已接单", desc=hospital.name, sub_title=ticket.summary)
    return ticket_card(task_id, title, lines, buttons, desc=hospital.name, sub_title=ticket.summary)
