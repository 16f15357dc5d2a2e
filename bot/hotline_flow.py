"""A hotline call in the conversation: who called, about what, how bad, and which ticket it is.

Every seed promises a 7×24 热线电话; seed 001 四.3(1) asks that each call be answered by a
named person who records it, with feedback within 1 hour. A call reaches the bot as an
``InboundMessage`` of channel ``hotline`` whose ``raw["call"]`` is the call record (the format
of docs/hotline-format.md), journaled like every channel's message, so a call posted twice
or concurrently is handled once.

Identity: the caller's number finds the person (and so hospital and department); an unknown
number under a hospital's switchboard prefix becomes a new person of that hospital, flagged
for review; any other number cannot be placed and is flagged to the engineers.

The clock: the call's start is the report's time. A call is not a written report; where the
contract's clocks start on the written report (自甲方向乙方发出书面报告错误之时起计), they wait,
the ticket says so, and the caller is asked (WeCom, else mail) to confirm in writing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from bot import texts
from intake import InboundMessage
from intake.hotline import (
    CONSULT,
    CallRecord,
    PhoneNumber,
    PhoneNumberError,
    match_switchboard,
    normalize_phone,
    parse_json,
    propose_severity,
    spot_system,
)
from intake.hotline import level_for as level_of_rank
from knowledge import Article, ask, record_feedback
from tickets import outbox, service
from tickets.lookups import remembered
from tickets.models import (
    ENGINEER_ROLES,
    OPEN_STATUSES,
    Contract,
    Hospital,
    Person,
    Role,
    Ticket,
)
from tickets.service import Actor, Report

if TYPE_CHECKING:
    from bot.bot import Bot

log = logging.getLogger(__name__)

CHANNEL = "hotline"
REVIEW_SWITCHBOARD = "热线来电（医院总机号段），待核实姓名与科室"
NO_TRANSCRIPT = "（来电，无转写）"
DEFAULT_APPEND_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class HotlineConfig:
    # A call by the same person about the same system while a ticket opened this recently is
    # open is more about that ticket, not a new one.
    append_window: timedelta = DEFAULT_APPEND_WINDOW


def call_message(record: CallRecord, received_at: datetime, *, agent_person_id: int | None = None,
                 extra: dict[str, Any] | None = None) -> InboundMessage:
    """The journal's form of a call: the record as JSON in ``raw``, the call's start as ``channel_ts``."""
    raw: dict[str, Any] = {"call": record_json(record), **(extra or {})}
    if agent_person_id is not None:
        raw["agent_person_id"] = agent_person_id
    return InboundMessage(channel=CHANNEL, external_id=record.call_id, sender=record.caller,
                          channel_ts=record.started_at, received_at=received_at, msg_type="call",
                          text=record.caller_text(), raw=raw)


def record_json(record: CallRecord) -> dict[str, Any]:
    """A record as the format's JSON object (times in UTC), read back by :func:`parse_json`."""
    return {"call_id": record.call_id, "caller": record.caller, "called": record.called,
            "started_at": record.started_at.isoformat(), "ended_at": record.ended_at.isoformat(),
            "agent": record.agent, "recording_ref": record.recording_ref,
            "turns": [{"speaker": t.speaker, "text": t.text, **({"offset": t.offset_s} if t.offset_s is not None
                                                                 else {})} for t in record.turns]}


def handle(bot: Bot, session: Session, msg: InboundMessage, now: datetime) -> None:
    record = parse_json({k: v for k, v in msg.raw["call"].items() if v is not None})
    config = bot.config.hotline or HotlineConfig()
    form = PhoneForm.of(msg)
    person = form.caller(session) if form else identify(session, record, now)
    if person is None:
        _unplaced(bot, session, record, now)
        return
    hospital = session.get(Hospital, person.hospital_id) if person.hospital_id else None
    contract = service.contract_for_hospital(session, hospital.id) if hospital and hospital.id else None
    if hospital is None or contract is None:
        _unplaced(bot, session, record, now, person=person)
        return
    text = record.caller_text().strip() or NO_TRANSCRIPT
    systems = service.systems_of(session, contract.id or 0)
    spotted = spot_system(text, [(s.id, s.name, s.aliases) for s in systems])
    chosen = spotted.system_id if form is None or form.system_id is None else form.system_id
    system = next((s for s in systems if s.id == chosen), None) or (systems[0] if len(systems) == 1 else None)
    agent = _agent(session, record, msg)
    report = Report(channel=CHANNEL, external_id=record.call_id, text=text, channel_ts=record.started_at,
                    received_at=msg.received_at, is_written_report=False, awaits_written=True,
                    meta=evidence(record, agent, duration_known=form is None or form.duration_known))
    existing = recent_ticket(session, person, system.id if system else None, config.append_window, now)
    if existing is not None:
        service.append_report(session, existing, person, report, now)
        service.audit(session, Actor.of(person), "hotline.call_appended", now, ticket_id=existing.id,
                      call_id=record.call_id)
        bot._notify_engineers(session, existing, f"工单 #{existing.id} {person.name} 来电补充：{texts.clip(text, 120)}", now)
        return
    ticket, _ = service.open_ticket(session, reporter=person, hospital=hospital, contract=contract, report=report,
                                    system=system, now=now)
    if form is not None and form.severity:
        # The engineer on the line heard the caller out: the level he chose is confirmed, not proposed.
        service.set_severity(session, ticket, form.severity, form.actor, now, note="电话建单：接听工程师确定")
    else:
        _propose(session, ticket, contract, text, spotted.score, now)
    if form is None and _consultation(bot, session, ticket, person, text, now):
        return
    _ask_written(session, ticket, person, contract, record, hospital.timezone, now)
    bot._post_new_ticket(session, ticket, person, hospital, now)


@dataclass(frozen=True)
class PhoneForm:
    """What the engineer who took the call live chose on the admin panel's phone form.

    The caller, the system and the level are his choice, not guesses; ``raw["form"]`` of the
    call's message carries them (the web form checks them against the caller's contract).
    """

    person_id: int
    system_id: int | None
    severity: str
    editor: str
    editor_person_id: int | None
    duration_known: bool = True  # a call logged afterwards without its length

    @classmethod
    def of(cls, msg: InboundMessage) -> PhoneForm | None:
        form = msg.raw.get("form")
        if not isinstance(form, dict):
            return None
        return cls(person_id=int(form["person_id"]), system_id=form.get("system_id"),
                   severity=form.get("severity") or "", editor=form.get("editor") or "",
                   editor_person_id=form.get("editor_person_id"),
                   duration_known=bool(form.get("duration_known", True)))

    @property
    def actor(self) -> Actor:
        return Actor(self.editor, self.editor_person_id)

    def caller(self, session: Session) -> Person | None:
        return session.get(Person, self.person_id)


# -- who --------------------------------------------------------------------------------------------

def identify(session: Session, record: CallRecord, now: datetime) -> Person | None:
    """The person on the directory with the caller's line; else a new one under a switchboard prefix."""
    try:
        phone = normalize_phone(record.caller)
    except PhoneNumberError:
        return None  # anonymous or garbage: nobody to find
    person = person_of_phone(session, phone)
    if person is not None:
        return person
    hospitals = remembered(session, ("hospitals",), lambda: list(session.exec(select(Hospital)).all()))
    prefixes = {h.key: list(h.switchboard_prefixes) for h in hospitals if h.switchboard_prefixes}
    key = match_switchboard(phone, prefixes)
    hospital = next((h for h in hospitals if h.key == key), None) if key else None
    if hospital is None:
        return None
    person = Person(name=f"来电 {phone}"[:100], role=Role.REPORTER, hospital_id=hospital.id, phone=str(phone)[:32],
                    review_note=REVIEW_SWITCHBOARD)
    session.add(person)
    session.flush()
    service.audit(session, service.BOT, "person.created_from_call", now, person_id=person.id, phone=str(phone),
                  hospital=hospital.key, review_note=REVIEW_SWITCHBOARD, call_id=record.call_id)
    return person


def person_of_phone(session: Session, phone: PhoneNumber) -> Person | None:
    """An active person whose directory number is the same line (the same extension preferred)."""
    found: list[tuple[bool, Person]] = []
    for person in session.exec(select(Person).where(Person.phone != "", Person.active == True)):  # noqa: E712
        try:
            theirs = normalize_phone(person.phone)
        except PhoneNumberError:
            continue
        if theirs.same_line(phone):
            found.append((theirs.extension != phone.extension, person))
    found.sort(key=lambda pair: (pair[0], pair[1].id or 0))
    return found[0][1] if found else None


def _agent(session: Session, record: CallRecord, msg: InboundMessage) -> Person | None:
    """Who answered: the form's logged-in engineer, else the record's agent by WeCom userid or name."""
    person_id = msg.raw.get("agent_person_id")
    if person_id:
        return session.get(Person, int(person_id))
    if not record.agent:
        return None
    stmt = select(Person).where((Person.wecom_userid == record.agent) | (Person.name == record.agent))
    return next((p for p in session.exec(stmt) if p.role in ENGINEER_ROLES), None)


def evidence(record: CallRecord, agent: Person | None, *, duration_known: bool = True) -> dict[str, Any]:
    """The call as the maintenance record keeps it (seed 001 四.3(1): answered by a named person)."""
    return {"call_id": record.call_id, "caller": record.caller, "called": record.called,
            "agent": record.agent, "agent_person_id": agent.id if agent else None,
            "agent_name": agent.name if agent else record.agent,
            "started_at": record.started_at.isoformat(), "ended_at": record.ended_at.isoformat(),
            "duration_s": int(record.duration.total_seconds()) if duration_known else None, "transcript": record.transcript(),
            "recording_ref": record.recording_ref}


# -- which ticket -----------------------------------------------------------------------------------

def recent_ticket(session: Session, person: Person, system_id: int | None, window: timedelta,
                  now: datetime) -> Ticket | None:
    """The person's open ticket about the same system opened within ``window``, if any."""
    stmt = (select(Ticket).where(Ticket.reporter_id == person.id, col(Ticket.status).in_(OPEN_STATUSES),
                                 Ticket.created_at >= now - window)
            .order_by(col(Ticket.id).desc()))
    return next((t for t in session.exec(stmt) if t.system_id == system_id), None)


# -- what it is -------------------------------------------------------------------------------------

def _propose(session: Session, ticket: Ticket, contract: Contract, text: str, system_score: float,
             now: datetime) -> None:
    """Record the level the caller's words suggest; it stays a proposal until an engineer confirms."""
    proposal = propose_severity(text)
    levels = [lvl.code for lvl in service.policy_of(contract).levels]
    ticket.proposed_severity = level_of_rank(proposal.rank, levels)
    session.add(ticket)
    service.audit(session, service.BOT, "hotline.severity_proposed", now, ticket_id=ticket.id, rank=proposal.rank,
                  level=ticket.proposed_severity, words=list(proposal.words), system_score=round(system_score, 1))


def _consultation(bot: Bot, session: Session, ticket: Ticket, person: Person, text: str, now: datetime) -> bool:
    """A question the knowledge base answers is logged as a consultation (咨询), resolved with the article."""
    if bot.config.kb is None or propose_severity(text).rank != CONSULT:
        return False
    result = ask(session, text, hospital_id=person.hospital_id, thresholds=bot.config.kb.thresholds)
    if result.decision != "answer":
        return False
    article = session.get(Article, result.hits[0].entry.article_id)
    if article is None:
        return False
    service.set_kind(session, ticket, "consult", service.BOT, now)
    record_feedback(session, article.id or 0, "shown", now, person_id=person.id, ticket_id=ticket.id, query=text)
    service.record_event(session, ticket, "resolved", service.BOT, now,
                         note=f"电话咨询，知识库文章 #{article.id}「{article.question}」")
    service.audit(session, service.BOT, "hotline.consultation", now, ticket_id=ticket.id, article_id=article.id)
    return True


def _ask_written(session: Session, ticket: Ticket, person: Person, contract: Contract, record: CallRecord,
                 timezone: str, now: datetime) -> None:
    """Where the contract's clocks wait for a written report, ask the caller for one (WeCom, else mail)."""
    if not ticket.written_report_pending or not waits_for_written(contract):
        return
    if not (person.wecom_userid or person.email):
        service.audit(session, service.BOT, "hotline.written_report_unasked", now, ticket_id=ticket.id,
                      reason="no WeCom userid or mail address")
        return
    at = record.started_at.astimezone(ZoneInfo(timezone)).strftime("%m-%d %H:%M")
    service.send_to_reporter(session, ticket, f"您 {at} 来电反映的问题已登记为工单 #{ticket.id}：{texts.clip(ticket.summary, 120)}\n"
                             "按维保合同，响应时限自书面报障起算。请回复本消息确认（可补充说明），"
                             f"并注明工单号 #{ticket.id}。", now)
    service.audit(session, service.BOT, "hotline.written_report_asked", now, ticket_id=ticket.id)


def waits_for_written(contract: Contract) -> bool:
    """Whether any of the contract's clocks starts only on a written report."""
    policy = service.policy_of(contract)
    return any(spec.start == "written_report" for lvl in policy.levels for spec in lvl.clocks.values())


def _unplaced(bot: Bot, session: Session, record: CallRecord, now: datetime, *, person: Person | None = None) -> None:
    """A call that cannot be placed at a hospital with a contract: the engineers are told to review it."""
    service.audit(session, service.BOT, "hotline.unplaced_call", now, call_id=record.call_id, caller=record.caller,
                  person_id=person.id if person else None, transcript=record.transcript()[:2000])
    text = (f"待核实来电：号码 {record.caller}，通话编号 {record.call_id}，无法确定所属医院或合同，未建单。"
            f"\n来电内容：{texts.clip(record.caller_text() or NO_TRANSCRIPT, 120)}")
    for channel, recipient in bot.config.engineer_routes:
        outbox.enqueue(session, channel=channel, recipient=recipient, text=text, now=now)
    log.warning("hotline: call %s from %s could not be placed", record.call_id, record.caller)
