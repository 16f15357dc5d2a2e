"""The core tables: who (hospitals, contracts, people), what (tickets, messages),
what was done (audit log) and what must still go out (outbox).

Every timestamp is a :class:`~tickets.db.UTCDateTime`. Ticket numbers are the
primary key and are shown to people as ``#N``.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Index, Numeric, UniqueConstraint
from sqlmodel import Field, SQLModel

from tickets.db import UTCDateTime


class Role(StrEnum):
    REPORTER = "reporter"
    ENGINEER = "engineer"
    MANAGER = "manager"
    HOSPITAL_ADMIN = "hospital_admin"


# The vendor's people: they work tickets (commands, the engineers' view of the web chat).
ENGINEER_ROLES = frozenset({Role.ENGINEER, Role.MANAGER})


class TicketStatus(StrEnum):
    NEW = "new"  # opened, nobody has taken it
    CLAIMED = "claimed"  # an engineer took it
    RESOLVED = "resolved"
    CLOSED = "closed"


OPEN_STATUSES = (TicketStatus.NEW, TicketStatus.CLAIMED)
# What people call each status, in the admin panel and in the bot's answers.
STATUS_NAMES: dict[str, str] = {TicketStatus.NEW: "待接单", TicketStatus.CLAIMED: "处理中",
                                TicketStatus.RESOLVED: "已解决", TicketStatus.CLOSED: "已关闭"}


class Direction(StrEnum):
    IN = "in"
    OUT = "out"


class AuthorKind(StrEnum):
    REPORTER = "reporter"
    ENGINEER = "engineer"
    BOT = "bot"  # automatic text of ours: never a response in the contract's sense
    SYSTEM = "system"


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    DEAD = "dead"  # gave up after the retry budget; shown in the admin panel, can be retried


def empty_list() -> list[Any]:
    """``default_factory`` of JSON list columns: a function, not ``list``.

    SQLModel asks pydantic, for every row object it constructs, whether the factory takes
    an argument; for a builtin that means parsing its text signature (~90 µs against ~6 µs
    for a function), three times per mail on the intake path of issue 5.
    """
    return []


def empty_dict() -> dict[str, Any]:
    """``default_factory`` of JSON object columns (see :func:`empty_list`)."""
    return {}


def _ts(**kw: Any) -> Any:
    return Field(sa_type=UTCDateTime, **kw)


class Hospital(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, index=True, max_length=64)
    name: str = Field(max_length=200)
    timezone: str = Field(default="Asia/Shanghai", max_length=64)
    # Working-hour windows per weekday, e.g. {"mon-fri": ["08:00-12:00", "13:00-18:00"]} (sla.WorkingWeek).
    working_hours: dict[str, list[str]] = Field(
        default_factory=lambda: {"mon-fri": ["08:00-18:00"]}, sa_column=Column(JSON, nullable=False))
    # Mail domains of the hospital's staff (e.g. ["rmyy.example.cn"]): an unknown sender at one of
    # them becomes a new person of this hospital, flagged for review.
    mail_domains: list[str] = Field(default_factory=empty_list, sa_column=Column(JSON, nullable=False))
    # The WeCom group where this hospital's tickets are posted and worked ("" = the shared group):
    # a chat the AI bot is in, or an appchat of the self-built app (issue 6).
    engineer_chatid: str = Field(default="", max_length=64)
    # Switchboard prefixes of the hospital's lines (e.g. ["027-8572"]): a hotline call from an unknown
    # number under one of them is this hospital's, its caller a new person flagged for review (issue 7).
    switchboard_prefixes: list[str] = Field(default_factory=empty_list, sa_column=Column(JSON, nullable=False))


class Contract(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, index=True, max_length=64)
    hospital_id: int = Field(foreign_key="hospital.id", index=True)
    name: str = Field(max_length=300)
    amount_yuan: Decimal | None = Field(default=None, sa_column=Column(Numeric(14, 2), nullable=True))
    starts_on: date | None = None
    ends_on: date | None = None
    active: bool = True
    # The SLA policy document (validated by sla.SlaPolicy) — contracts decide the clocks.
    sla_policy: dict[str, Any] = Field(default_factory=empty_dict, sa_column=Column(JSON, nullable=False))


class CoveredSystem(SQLModel, table=True):
    __tablename__ = "covered_system"
    __table_args__ = (UniqueConstraint("contract_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    contract_id: int = Field(foreign_key="contract.id", index=True)
    name: str = Field(max_length=200)
    aliases: list[str] = Field(default_factory=empty_list, sa_column=Column(JSON, nullable=False))
    # The subsystem's share of the contract (seed 000 deducts a percentage of it); None = the contract amount.
    amount_yuan: Decimal | None = Field(default=None, sa_column=Column(Numeric(14, 2), nullable=True))


class Person(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    role: str = Field(default=Role.REPORTER, max_length=32)
    # Null for the vendor's own people (engineers, managers).
    hospital_id: int | None = Field(default=None, foreign_key="hospital.id", index=True)
    department: str = Field(default="", max_length=100)
    wecom_userid: str | None = Field(default=None, unique=True, max_length=64)
    email: str | None = Field(default=None, unique=True, max_length=254)
    phone: str = Field(default="", max_length=32)
    active: bool = True
    # Why an admin should look at this person ("" = nothing): e.g. created from an unknown mail address.
    review_note: str = Field(default="", max_length=200)
    # The vendor's people only: keys of the hospitals whose tickets they may work ("*" = every
    # hospital). Commands on other hospitals' tickets are refused (issue 6: "only tickets of
    # hospitals they serve"); the on-duty engineers of a hospital are the active ones serving it.
    serves: list[str] = Field(default_factory=empty_list, sa_column=Column(JSON, nullable=False))


class Account(SQLModel, table=True):
    """A login to the admin panel."""

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(unique=True, index=True, max_length=64)
    password_hash: str = Field(max_length=300)
    person_id: int | None = Field(default=None, foreign_key="person.id")
    is_admin: bool = False
    created_at: datetime = _ts()
    last_login_at: datetime | None = _ts(default=None, nullable=True)


class Ticket(SQLModel, table=True):
    __table_args__ = (Index("ix_ticket_reporter_status", "reporter_id", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    hospital_id: int = Field(foreign_key="hospital.id", index=True)
    contract_id: int = Field(foreign_key="contract.id")
    system_id: int | None = Field(default=None, foreign_key="covered_system.id")
    reporter_id: int = Field(foreign_key="person.id")
    assignee_id: int | None = Field(default=None, foreign_key="person.id")
    summary: str = Field(default="", max_length=200)
    status: str = Field(default=TicketStatus.NEW, max_length=16, index=True)
    severity: str = Field(max_length=32)
    # False while the reporter has not said how bad it is: the ticket then runs on
    # the contract's most urgent level, so waiting for an answer never hides a deadline.
    severity_confirmed: bool = False
    kind: str = Field(default="fault", max_length=16)  # fault / bug / data / change / consult (sla.KINDS)
    # Earliest channel-attested time among the written-report messages.
    reported_at: datetime = _ts()
    # Earliest report of any kind, a phone call included (clocks that start on "any report").
    first_contact_at: datetime | None = _ts(default=None, nullable=True)
    # Opened by a phone call and no written report yet: clocks that start on "written_report" wait
    # (the seeds: 自甲方向乙方发出书面报告错误之时起计); ``reported_at`` then holds the call's time.
    written_report_pending: bool = Field(default=False)
    # The level proposed from the caller's words (intake.hotline.propose_severity), "" if none:
    # shown as 建议 until an engineer confirms a level (the clock runs on the most urgent meanwhile).
    proposed_severity: str = Field(default="", max_length=32)
    # What caused the fault (sla.CAUSES), for penalty rules that depend on it; None = not established.
    cause: str | None = Field(default=None, max_length=32)
    # The pause reason in force (sla.PAUSE_REASONS), None when not paused.
    hold_reason: str | None = Field(default=None, max_length=32)
    # The reporter wrote from an address of no known hospital: engineers verify before trusting it.
    sender_unverified: bool = Field(default=False)
    # A reply to a ticket closed long ago opens a new ticket that follows the old one.
    follows_ticket_id: int | None = Field(default=None, foreign_key="ticket.id")
    response_due_at: datetime | None = _ts(default=None, nullable=True)
    # When the first human reply reached the reporter (stops the response clock).
    first_response_at: datetime | None = _ts(default=None, nullable=True)
    # The reporter's side of the loop (seed 002 一.1 满意度回访…全流程服务闭环; seed 000 5.其他要求(2) 用户评价):
    # the latest resolution (None again once reopened), the reporter's confirmation, the closing
    # and why (tickets.closing.CloseReason), and the reporter's score, 1–5 (5 最满意).
    resolved_at: datetime | None = _ts(default=None, nullable=True)
    confirmed_at: datetime | None = _ts(default=None, nullable=True)
    closed_at: datetime | None = _ts(default=None, nullable=True)
    close_reason: str | None = Field(default=None, max_length=16)
    rating: int | None = None
    rating_comment: str = Field(default="", max_length=500)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class Message(SQLModel, table=True):
    """One message of a ticket's conversation, in or out, on any channel."""

    __table_args__ = (UniqueConstraint("channel", "external_id", name="uq_message_channel_external"),)

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    direction: str = Field(max_length=8)
    channel: str = Field(max_length=16)
    author_id: int | None = Field(default=None, foreign_key="person.id")
    author_kind: str = Field(max_length=16)
    text: str = ""
    # The time the channel itself attests (WeCom CreateTime, IMAP INTERNALDATE,
    # call start); for outgoing messages, when it was written.
    channel_ts: datetime = _ts()
    # When our process received (or, outgoing, queued) it.
    received_at: datetime = _ts()
    is_written_report: bool = False
    # Channel evidence, e.g. for mail: Message-ID, References, Date header, skew, To/Cc, mail item.
    meta: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    # The channel's own id (WeCom MsgId, Message-ID, call id); unique per channel.
    external_id: str | None = Field(default=None, max_length=300)
    # Outgoing: True for a person's reply (counts as a response), False for the bot's.
    is_human: bool = False
    delivered_at: datetime | None = _ts(default=None, nullable=True)


class AuditLog(SQLModel, table=True):
    """Append-only record of every change and who made it (the database refuses UPDATE/DELETE)."""

    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _ts(index=True)
    actor_id: int | None = Field(default=None, foreign_key="person.id")
    actor: str = Field(max_length=100)  # a person's name, "bot", "system" or an account name
    ticket_id: int | None = Field(default=None, foreign_key="ticket.id", index=True)
    action: str = Field(max_length=64)
    detail: dict[str, Any] = Field(default_factory=empty_dict, sa_column=Column(JSON, nullable=False))


class Outbox(SQLModel, table=True):
    """A message to deliver, written in the same transaction as the change that caused it."""

    __table_args__ = (
        Index("ix_outbox_due", "status", "next_attempt_at"),
        Index("ix_outbox_recipient", "channel", "recipient", "status", "id"),  # per-recipient order in claim_due
    )

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    # Channel address: a WeCom userid, "chat:<chatid>" for a WeCom group,
    # a web-chat person id or "engineers" for the web chat's engineer view.
    recipient: str = Field(max_length=300)
    text: str
    ticket_id: int | None = Field(default=None, foreign_key="ticket.id", index=True)
    message_id: int | None = Field(default=None, foreign_key="message.id")
    status: str = Field(default=OutboxStatus.PENDING, max_length=16)
    attempts: int = 0
    next_attempt_at: datetime = _ts()
    last_error: str = Field(default="", max_length=1000)
    external_id: str | None = Field(default=None, max_length=128)
    created_at: datetime = _ts()
    sent_at: datetime | None = _ts(default=None, nullable=True)
    # Claimed for a delivery attempt whose outcome is not recorded yet.
    in_flight: bool = False
    # An earlier attempt may have reached the channel (crash mid-call, timeout):
    # the next attempt asks the channel to drop it if it is a duplicate.
    maybe_delivered: bool = False
    # What the channel needs beyond text, e.g. {"card": {...}} for a template card or
    # {"card_update": {...}} to replace the buttons of cards already sent; ``text`` is then the
    # plain-text rendering shown in the admin panel.
    payload: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class TicketEvent(SQLModel, table=True):
    """Something that starts or stops a clock: on-site requested or reached, resolved, reopened, …"""

    __tablename__ = "ticket_event"

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    name: str = Field(max_length=32)
    at: datetime = _ts()
    actor: str = Field(max_length=100)
    note: str = Field(default="", max_length=1000)
    recorded_at: datetime = _ts()


class TicketPause(SQLModel, table=True):
    """A stretch of time during which the clocks the contract lets pause for ``reason`` stood still."""

    __tablename__ = "ticket_pause"

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    reason: str = Field(max_length=32)
    note: str = Field(default="", max_length=1000)
    started_at: datetime = _ts()
    ended_at: datetime | None = _ts(default=None, nullable=True)
    started_by: str = Field(max_length=100)
    ended_by: str | None = Field(default=None, max_length=100)


class TicketClock(SQLModel, table=True):
    """One clock of a ticket as last evaluated (sla.evaluate), kept for queues, reminders and reports."""

    __tablename__ = "ticket_clock"
    __table_args__ = (
        UniqueConstraint("ticket_id", "name", name="uq_ticket_clock_name"),
        Index("ix_ticket_clock_due", "state", "due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    name: str = Field(max_length=32)
    calendar: str = Field(max_length=16)
    target_seconds: int
    clause: str = Field(default="", max_length=300)
    state: str = Field(max_length=16)  # running / paused / stopped
    started_at: datetime = _ts()
    due_at: datetime | None = _ts(default=None, nullable=True)
    stopped_at: datetime | None = _ts(default=None, nullable=True)
    paused_since: datetime | None = _ts(default=None, nullable=True)
    paused_seconds: int = 0
    elapsed_seconds: int = 0
    breached: bool = False
    calendar_confirmed: bool = True
    updated_at: datetime = _ts()


class StatutoryDay(SQLModel, table=True):
    """The State Council's exceptions to Mon–Fri: holidays and make-up working days (调休). Editable."""

    __tablename__ = "statutory_day"

    day: date = Field(primary_key=True)
    is_workday: bool
    name: str = Field(default="", max_length=100)
    source: str = Field(default="", max_length=100)  # "chinesecalendar 1.11.0" or the admin who edited it
    updated_at: datetime = _ts()


class CalendarYear(SQLModel, table=True):
    """A year whose statutory holidays are known; a year absent here runs on the weekday rule, flagged."""

    __tablename__ = "calendar_year"

    year: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    source: str = Field(default="", max_length=100)
    confirmed_at: datetime = _ts()


class HospitalDay(SQLModel, table=True):
    """One hospital's own exception: a closure, or an extra working day. Wins over the statutory table."""

    __tablename__ = "hospital_day"
    __table_args__ = (UniqueConstraint("hospital_id", "day", name="uq_hospital_day"),)

    id: int | None = Field(default=None, primary_key=True)
    hospital_id: int = Field(foreign_key="hospital.id", index=True)
    day: date
    is_workday: bool
    note: str = Field(default="", max_length=200)
    updated_at: datetime = _ts()


class TimerStatus(StrEnum):
    PENDING = "pending"
    FIRED = "fired"
    CANCELLED = "cancelled"  # its clock paused, stopped or moved before it fell due


class Timer(SQLModel, table=True):
    """Something to do at an instant: a reminder before a deadline, an escalation after it.

    Rows, not in-memory schedules: any worker claims the due ones (``FOR UPDATE SKIP
    LOCKED`` on PostgreSQL) and marks them fired in the transaction that queues the
    message, so each fires exactly once and a crash loses none (issue 6).
    """

    __tablename__ = "timer"
    __table_args__ = (Index("ix_timer_due", "status", "due_at"),)

    id: int | None = Field(default=None, primary_key=True)
    # Unique: one row per ticket, clock, target and point ("ticket:12:response:3600:50%").
    key: str = Field(unique=True, max_length=300)
    kind: str = Field(max_length=16)  # sla.reminders.REMIND / ESCALATE
    level: int = 0  # 0 reminder, 1 breach (service manager), 2 second level
    ticket_id: int | None = Field(default=None, foreign_key="ticket.id", index=True)
    clock: str = Field(default="", max_length=32)
    label: str = Field(default="", max_length=32)
    left_seconds: int = 0  # business time left on the clock at this point (0 at and after the deadline)
    due_at: datetime = _ts()
    status: str = Field(default=TimerStatus.PENDING, max_length=16)
    fired_at: datetime | None = _ts(default=None, nullable=True)
    created_at: datetime = _ts()


class DutyStatus(StrEnum):
    PENDING = "pending"
    DONE = "done"  # its report was uploaded (on time, or late after it was missed: ``missed_at`` says)
    MISSED = "missed"  # due and no report: counts in the penalties


# What people call each duty status, in the admin panel and in the reminders.
DUTY_STATUS_NAMES: dict[str, str] = {DutyStatus.PENDING: "待完成", DutyStatus.DONE: "已完成",
                                     DutyStatus.MISSED: "已逾期"}


class Duty(SQLModel, table=True):
    """One period of a contract's recurring obligation: the 2026 Q4 inspection, the first backup test, …

    Generated from the contract's policy (``sla.DutySpec``) by ``tickets.duties.schedule``;
    reminded and marked missed by timer rows; closed by uploading its report. A miss
    is a fact of its due instant: a report uploaded later closes the duty but keeps
    ``missed_at`` and the penalty (seed 004 6.2 6.6.1 按1000元/次).
    """

    __tablename__ = "duty"
    __table_args__ = (
        UniqueConstraint("contract_id", "key", "period_start", name="uq_duty_period"),
        Index("ix_duty_contract_due", "contract_id", "due_at"),
        Index("ix_duty_status_due", "status", "due_at"),
        # Ids are never reused (SQLite would reuse a deleted last row's): timer keys name duties by id.
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    contract_id: int = Field(foreign_key="contract.id")
    key: str = Field(max_length=64)  # the DutySpec's key, e.g. "inspection"
    name: str = Field(max_length=100)  # e.g. 季度巡检
    clause: str = Field(default="", max_length=300)
    period_start: date
    period_end: date  # inclusive
    due_at: datetime = _ts()
    status: str = Field(default=DutyStatus.PENDING, max_length=16)
    done_at: datetime | None = _ts(default=None, nullable=True)
    done_by: str = Field(default="", max_length=100)
    missed_at: datetime | None = _ts(default=None, nullable=True)
    # The latest uploaded report (its bytes are a DutyReport row).
    report_filename: str = Field(default="", max_length=255)
    report_size: int = 0
    note: str = Field(default="", max_length=1000)
    # What the miss costs, fixed when it was missed; None: the contract names no amount.
    penalty_yuan: Decimal | None = Field(default=None, sa_column=Column(Numeric(14, 2), nullable=True))
    created_at: datetime = _ts()


class DutyReport(SQLModel, table=True):
    """A file uploaded to close a duty (巡检报告, 验收单, …): kept in the database, like mail attachments,
    so every web worker serves it and the upload commits with the duty it closes."""

    __tablename__ = "duty_report"

    id: int | None = Field(default=None, primary_key=True)
    duty_id: int = Field(foreign_key="duty.id", index=True)
    filename: str = Field(max_length=255)
    content_type: str = Field(max_length=127)
    size: int
    sha256: str = Field(max_length=64)
    data: bytes
    uploaded_at: datetime = _ts()
    uploaded_by: str = Field(max_length=100)


class ApiToken(SQLModel, table=True):
    """A bearer token of one integration (e.g. a hospital's telephony posting calls to /intake/hotline).

    Only the SHA-256 of the token is stored; the token itself is shown once, at creation.
    A leaked token is deactivated alone, the other integrations keep theirs.
    """

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=100)
    token_hash: str = Field(unique=True, max_length=64)
    created_at: datetime = _ts()
    active: bool = True
