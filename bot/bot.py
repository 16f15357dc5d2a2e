"""The conversation: who is talking, what they want, what to say back.

One inbound message is handled inside one transaction (the caller's): the
ticket change, the bot's answer and the engineers' notice are written together
or not at all.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from bot import confirm, duties, groups, hotline_flow, kb_flow, mail_flow, reminders, state, texts, work
from bot.commands import HELP, Command, Invalid, Verb, normalize, parse, ticket_number_in
from bot.triage import looks_like_outage
from intake import InboundMessage
from knowledge import record_feedback
from tickets import outbox, service
from tickets.closing import AUTOCLOSE, DEFAULT_CONFIRM_DAYS
from tickets.models import (
    ENGINEER_ROLES,
    Contract,
    CoveredSystem,
    Direction,
    Hospital,
    Message,
    Person,
    Ticket,
    Timer,
)
from tickets.service import Actor, Report, TicketError

log = logging.getLogger(__name__)

LIST_LIMIT = 9  # more systems than this: ask for the name instead of listing them all
# A burst of follow-ups gets one acknowledgement: WeCom silently drops more than
# 30 messages a minute from one app to one member.
ACK_QUIET = timedelta(minutes=2)


@dataclass(frozen=True)
class BotConfig:
    # Where the engineers' group notices go: (channel, recipient) pairs, e.g.
    # ("wecom", "chat:<chatid>") and ("webchat", "engineers").
    engineer_routes: list[tuple[str, str]] = field(default_factory=list)
    # Channels whose messages are written reports in the contract's sense.
    written_channels: frozenset[str] = frozenset({"wecom", "webchat", "email"})
    # The knowledge base answers first messages when set; None: every report opens a ticket.
    kb: kb_flow.KbConfig | None = None
    # Mail threading and limits; None: mail is still handled, threading by our ids is then off.
    mail: mail_flow.MailConfig | None = None
    # Hotline calls (issue 7): the window within which a call is appended to an open ticket.
    hotline: hotline_flow.HotlineConfig | None = None
    # How a person is reached with a reminder: "wecom" when the app can send, else "webchat".
    person_channel: str = "webchat"
    # The second escalation level: WeCom userids or mail addresses of people in the directory.
    second_level: tuple[str, ...] = ()
    # Working days a resolved ticket waits for the reporter's 已解决 / 未解决 before it closes
    # as confirmed by default (bot.confirm).
    confirm_days: int = DEFAULT_CONFIRM_DAYS
    # The channel of the engineers' groups among ``engineer_routes``: "aibot" (cards in the group),
    # "wecom" (the app's appchat: text only) or "" (web chat only). A hospital's own group
    # (Hospital.engineer_chatid) replaces the shared one on that channel.
    group_channel: str = ""
    # The self-built app sends each new ticket's button card one-to-one to the on-duty engineers
    # (when the group itself cannot carry a card).
    cards_one_to_one: bool = False
    # The AI bot's names as a mention shows them, removed from commands wherever they stand.
    bot_names: tuple[str, ...] = ()
    # How the AI bot answers a message: over its long connection (True), or through the
    # message's response_url (callback mode: one answer per message, within an hour).
    aibot_connected: bool = False


class Bot:
    def __init__(self, config: BotConfig) -> None:
        self.config = config
        self._reminder_routes = reminders.ReminderRoutes(group=list(config.engineer_routes),
                                                         person_channel=config.person_channel,
                                                         second_level=config.second_level)

    def remind(self, session: Session, due: list[Timer], now: datetime) -> list[Timer]:
        """Say what the due timers are for; returns those that no longer apply.

        Each kind has its own texts and audience: contract duties, the autoclose of an
        unconfirmed resolution, and the clocks' reminders and escalations.
        """
        owed = [t for t in due if t.kind == duties.DUTY]
        closing = [t for t in due if t.kind == AUTOCLOSE]
        clocks = [t for t in due if t.kind not in (duties.DUTY, AUTOCLOSE)]
        stale = duties.fire(session, owed, now, self._reminder_routes) if owed else []
        return (stale + confirm.autoclose(self, session, closing, now)
                + reminders.fire(session, clocks, now, self._reminder_routes))

    def handle(self, session: Session, msg: InboundMessage, now: datetime) -> None:
        if _is_card_click(msg):
            self.card_click(session, msg, now)
            return
        if msg.msg_type in ("event", "enter_chat"):
            log.info("bot: event %s from %s ignored", msg.raw.get("Event") or msg.msg_type, msg.sender)
            return
        if msg.channel == "email":
            mail_flow.handle(self, session, msg, now)
            return
        if msg.channel == hotline_flow.CHANNEL:
            hotline_flow.handle(self, session, msg, now)
            return
        if msg.channel == groups.AIBOT and msg.thread_hints.get("chattype") == "group":
            # The administrator needs the group's chatid for HELPDESK_AIBOT_ENGINEER_CHATID (docs/wecom-setup.md).
            log.info("aibot: message from %s in group chatid=%s", msg.sender, msg.thread_hints.get("chatid"))
        person = self._identify(session, msg)
        if person is None:
            log.warning("bot: unknown sender %s on %s", msg.sender, msg.channel)
            outbox.enqueue(session, channel=msg.channel, recipient=msg.sender, text=texts.UNKNOWN_PERSON, now=now)
            service.audit(session, service.BOT, "inbound.unknown_sender", now, channel=msg.channel,
                          sender=msg.sender, external_id=msg.external_id)
            return
        if person.role in ENGINEER_ROLES:
            self._engineer(session, person, msg, now)
        else:
            self._reporter(session, person, msg, now)

    # -- who ----------------------------------------------------------------------

    @staticmethod
    def _identify(session: Session, msg: InboundMessage) -> Person | None:
        if msg.channel in ("wecom", groups.AIBOT):
            person = session.exec(select(Person).where(Person.wecom_userid == msg.sender)).first()
        elif msg.channel == "email":
            person = session.exec(select(Person).where(Person.email == msg.sender.lower())).first()
        elif msg.sender.isdigit():
            person = session.get(Person, int(msg.sender))
        else:
            person = None
        return person if person is not None and person.active else None

    # -- reporters --------------------------------------------------------------------

    def _reporter(self, session: Session, person: Person, msg: InboundMessage, now: datetime) -> None:
        hospital = session.get(Hospital, person.hospital_id) if person.hospital_id else None
        contract = service.contract_for_hospital(session, hospital.id) if hospital and hospital.id else None
        if hospital is None or contract is None:
            self._say(session, msg, person, texts.NO_CONTRACT, now)
            return
        report = Report(channel=msg.channel, external_id=msg.external_id, text=msg.text, channel_ts=msg.channel_ts,
                        received_at=msg.received_at, is_written_report=msg.channel in self.config.written_channels)
        if confirm.answer(self, session, person, report, now):  # 已解决 / 未解决 / a score, if one is asked
            return
        ticket = service.open_ticket_of(session, person.id or 0)
        if ticket is None and _is_greeting(msg.text):
            # "在吗" reports no fault: no ticket, no clock; the message stays in the journal.
            self._say(session, msg, person, texts.ASK_TO_DESCRIBE, now)
            return
        if ticket is None:
            self._before_ticket(session, person, hospital, contract, report, msg, now)
            return
        service.append_report(session, ticket, person, report, now)
        conv = state.load(session, person.id or 0)
        awaiting = conv.awaiting if conv and conv.ticket_id == ticket.id else ""
        if conv and awaiting and self._answer(session, ticket, person, conv, normalize(msg.text), now):
            return
        self._notify_engineers(session, ticket, f"工单 #{ticket.id} {person.name} 补充：{texts.clip(msg.text)}", now)
        if _acked_recently(session, ticket, now):
            return  # one acknowledgement per burst; a pending question stays pending
        if awaiting:  # a follow-up instead of the answer: take it, and ask again
            service.send_to_reporter(session, ticket, f"已补充到工单 #{ticket.id}。\n\n"
                                     + self._question(session, ticket, person, awaiting, now), now)
        else:
            service.send_to_reporter(session, ticket, f"已补充到工单 #{ticket.id}，工程师会看到。", now)

    def _before_ticket(self, session: Session, person: Person, hospital: Hospital, contract: Contract,
                       report: Report, msg: InboundMessage, now: datetime) -> None:
        """No open ticket: the knowledge base may answer, unless this is an outage."""
        conv = state.load(session, person.id or 0)
        pending = kb_flow.pending_of(conv, now)
        if pending is not None and conv is not None:
            step = kb_flow.reply(session, person, conv, report, pending, now)
        elif self.config.kb is not None and not looks_like_outage(report.text):
            step = kb_flow.first_message(session, self.config.kb, person, report, now)
        else:
            step = kb_flow.KbStep(handoff=True, reports=(report,))
        if not step.handoff:
            self._say(session, msg, person, step.text, now)
            return
        ticket = self._open(session, person, hospital, contract, list(step.reports) or [report], now)
        if step.failed_article is not None:
            record_feedback(session, step.failed_article, "handoff", now, person_id=person.id, ticket_id=ticket.id,
                            query=ticket.summary)
            service.audit(session, Actor.of(person), "kb.handoff", now, ticket_id=ticket.id,
                          article_id=step.failed_article)

    def _open(self, session: Session, person: Person, hospital: Hospital, contract: Contract,
              reports: list[Report], now: datetime, *, note: str = "", new: service.NewTicket | None = None) -> Ticket:
        """Open the ticket from the first report; later ones (kept while the knowledge base tried) follow.

        ``new``: the ticket as :meth:`compose` made it (the inbound worker stores a batch's at once).
        """
        report, *more = reports
        new = new or self.compose(session, person, hospital, contract, reports, now)
        ticket, _ = service.open_ticket(session, reporter=person, hospital=hospital, contract=contract,
                                        report=report, system=new.system, now=now, new=new)
        for later in more:
            service.append_report(session, ticket, person, later, now)
        policy = service.policy_of(contract)
        if len(policy.levels) == 1:
            service.set_severity(session, ticket, policy.most_urgent.code, service.BOT, now)
        ack = (note + ("\n" if note else "") + f"已收到您的报障，工单号 #{ticket.id}。\n"
               f"{texts.deadline_line(ticket.response_due_at, now, hospital.timezone)}\n"
               "工程师接单后会在这里回复您。")
        ask = self._next_question(session, ticket, person, now)
        service.send_to_reporter(session, ticket, ack + (f"\n\n{ask}" if ask else ""), now,
                                 latest=reports[-1].channel)
        self._post_new_ticket(session, ticket, person, hospital, now)
        return ticket

    @staticmethod
    def compose(session: Session, person: Person, hospital: Hospital, contract: Contract, reports: list[Report],
                now: datetime) -> service.NewTicket:
        """The ticket these reports open: the system named in them (or the contract's only one)."""
        systems = service.systems_of(session, contract.id or 0)
        matched = _match_systems(" ".join(r.text for r in reports), systems)
        system = systems[0] if len(systems) == 1 else (matched[0] if len(matched) == 1 else None)
        return service.new_ticket(session, reporter=person, hospital=hospital, contract=contract, report=reports[0],
                                  system=system, now=now)

    def handle_batch(self, session: Session, msgs: list[InboundMessage], now: datetime) -> None:
        """Handle journal entries in order, in one transaction: the caller's all-or-nothing batch.

        New-thread mail of the batch gets its people and tickets stored together first
        (mail_flow.prepare); each entry is then handled as :meth:`handle` would.
        """
        ready = mail_flow.prepare(self, session, msgs, now)
        for n, msg in enumerate(msgs):
            if n in ready:
                mail_flow.handle(self, session, msg, now, ready=ready[n])
            else:
                self.handle(session, msg, now)

    def _post_new_ticket(self, session: Session, ticket: Ticket, reporter: Person, hospital: Hospital,
                         now: datetime) -> None:
        """The notice to the engineers' group(s): a button card where the channel can carry one."""
        notice = _new_ticket_notice(session, ticket, reporter, hospital, now)
        card = self._card(session, ticket, groups.new_task_id(ticket, now), now)
        for channel, recipient in self._routes(session, ticket):
            outbox.enqueue(session, channel=channel, recipient=recipient, text=notice, now=now, ticket_id=ticket.id,
                           payload={"card": card} if channel == groups.AIBOT else None)
        if self.config.cards_one_to_one:
            userids = [p.wecom_userid for p in groups.on_duty(session, hospital) if p.wecom_userid]
            if userids:  # one message/send for all: one task_id, so one click replaces every copy
                outbox.enqueue(session, channel=groups.WECOM, recipient="|".join(userids), text=notice, now=now,
                               ticket_id=ticket.id, payload={"card": card})

    def _card(self, session: Session, ticket: Ticket, task_id: str, now: datetime,
              claimed_by: str = "") -> dict[str, object]:
        hospital = session.get(Hospital, ticket.hospital_id)
        reporter = session.get(Person, ticket.reporter_id)
        contract = session.get(Contract, ticket.contract_id)
        system = session.get(CoveredSystem, ticket.system_id) if ticket.system_id else None
        assert hospital is not None and reporter is not None and contract is not None
        level = service.policy_of(contract).level(ticket.severity).name
        if not ticket.severity_confirmed:
            level += "（待确认）"
        return groups.card(ticket, hospital, system=system.name if system else "待确认", level=level,
                           reporter=reporter, now=now, task_id=task_id, claimed_by=claimed_by)

    # -- card clicks -------------------------------------------------------------------

    def card_click(self, session: Session, msg: InboundMessage, now: datetime) -> dict[str, object] | None:
        """A tap on a ticket card's button; returns the AI bot card that replaces the clicked one.

        接单 claims the ticket for the engineer who tapped (as ``接 N`` would); the
        card then shows who holds it, for everyone. 详情 answers the engineer alone.
        A self-built app's card is replaced through ``update_template_card`` with the
        click's response code (queued here); the AI bot's by the caller, with what
        this returns. A repeated click changes nothing and shows the same card.
        """
        event_key = msg.text if msg.channel == groups.AIBOT else str(msg.raw.get("EventKey") or "")
        key = groups.key_of(event_key)
        person = self._identify(session, msg)
        if key is None or person is None or person.role not in ENGINEER_ROLES:
            log.warning("bot: card click %r by %s ignored (unknown key or not an engineer)", event_key, msg.sender)
            return None
        action, number = key
        try:
            ticket = service.get_ticket(session, number)
            groups.authorise(session, person, ticket)
            if action == groups.DETAIL:
                self._say_privately(session, msg, person, work.describe(session, ticket, now), now)
                return None
            if ticket.assignee_id is None:
                self._claim(session, person, ticket, now, by_card=True)
            elif ticket.assignee_id != person.id:
                self._say_privately(session, msg, person, f"工单 #{ticket.id} 已由 "
                                    f"{self._name(session, ticket.assignee_id)} 接单。", now)
        except TicketError as exc:
            self._say_privately(session, msg, person, exc.message, now)
            return None
        holder = self._name(session, ticket.assignee_id)
        if msg.channel == groups.AIBOT:
            task_id = str(msg.thread_hints.get("task_id") or groups.new_task_id(ticket, now))
            return self._card(session, ticket, task_id, now, claimed_by=holder)
        self._replace_app_cards(session, msg, ticket, holder, now)
        return None

    def _replace_app_cards(self, session: Session, msg: InboundMessage, ticket: Ticket, holder: str,
                           now: datetime) -> None:
        code = str(msg.raw.get("ResponseCode") or "")
        hospital = session.get(Hospital, ticket.hospital_id)
        if not code or hospital is None:
            return
        userids = sorted({p.wecom_userid for p in groups.on_duty(session, hospital) if p.wecom_userid} | {msg.sender})
        update = {"userids": userids, "response_code": code, "replace_name": f"{holder} 已接单"}
        outbox.enqueue(session, channel=groups.WECOM, recipient="|".join(userids), text=f"#{ticket.id} {holder} 已接单",
                       now=now, ticket_id=ticket.id, payload={"card_update": update})

    @staticmethod
    def _name(session: Session, person_id: int | None) -> str:
        person = session.get(Person, person_id) if person_id else None
        return person.name if person else "他人"

    def _next_question(self, session: Session, ticket: Ticket, person: Person, now: datetime) -> str:
        """Ask what is still unknown (system, then severity); "" when nothing is."""
        if ticket.system_id is None:
            return self._question(session, ticket, person, state.ASK_SYSTEM, now)
        if not ticket.severity_confirmed:
            return self._question(session, ticket, person, state.ASK_SEVERITY, now)
        state.clear(session, person.id or 0, now)
        return ""

    def _question(self, session: Session, ticket: Ticket, person: Person, what: str, now: datetime) -> str:
        contract = session.get(Contract, ticket.contract_id)
        assert contract is not None
        if what == state.ASK_SYSTEM:
            systems = service.systems_of(session, contract.id or 0)
            if len(systems) > LIST_LIMIT:
                state.save(session, person.id or 0, ticket.id, state.ASK_SYSTEM, [], now)
                examples = "、".join(s.name for s in systems[:3])
                return f"请问是哪个系统？请回复系统名称（例如：{examples}），不清楚请回复 0。"
            state.save(session, person.id or 0, ticket.id, state.ASK_SYSTEM, [s.id for s in systems], now)
            return "请问是哪个系统？回复编号：\n" + texts.numbered([s.name for s in systems]) + "\n不清楚请回复 0。"
        policy = service.policy_of(contract)
        state.save(session, person.id or 0, ticket.id, state.ASK_SEVERITY, [lvl.code for lvl in policy.levels], now)
        current = policy.level(ticket.severity).name
        return ("请问影响程度？回复编号：\n"
                + texts.numbered([f"{lvl.name}：{lvl.description}" for lvl in policy.levels])
                + f"\n（回复前按「{current}」计时）")

    def _answer(self, session: Session, ticket: Ticket, person: Person, conv: state.Conversation, text: str,
                now: datetime) -> bool:
        """Apply the reporter's answer to the pending question; False if ``text`` is not an answer."""
        if conv.awaiting in confirm.QUESTIONS:  # a mail reply to 请确认问题是否已解决 / 请为本次服务打分
            return confirm.reply(self, session, ticket, person, conv, text, now)
        actor = Actor.of(person)
        if conv.awaiting == state.ASK_SYSTEM:
            system = self._chosen_system(session, ticket, conv, text, now)
            if system is None and _choice(text) != 0:
                return False
            if system is not None:
                service.set_system(session, ticket, system, actor, now)
            else:
                service.audit(session, actor, "ticket.system_unknown", now, ticket_id=ticket.id)
            follow = (self._question(session, ticket, person, state.ASK_SEVERITY, now)
                      if not ticket.severity_confirmed else "")
            if not follow:
                state.clear(session, person.id or 0, now)
            name = system.name if system else "未确定（工程师会跟您确认）"
            service.send_to_reporter(session, ticket, f"好的，系统：{name}。" + (f"\n\n{follow}" if follow else ""), now)
            if not follow:
                self._notify_classified(session, ticket, now)
            return True
        code = _chosen_option(text, conv.options)
        if code is None:
            code = _severity_by_name(session, ticket, text)
        if code is None:
            return False
        service.set_severity(session, ticket, str(code), actor, now)
        state.clear(session, person.id or 0, now)
        hospital = session.get(Hospital, ticket.hospital_id)
        tz = hospital.timezone if hospital else "Asia/Shanghai"
        level = service.policy_of(session.get(Contract, ticket.contract_id)).level(ticket.severity)  # type: ignore[arg-type]
        service.send_to_reporter(
            session, ticket,
            f"好的，已按「{level.name}」登记工单 #{ticket.id}。\n{texts.deadline_line(ticket.response_due_at, now, tz)}",
            now)
        self._notify_classified(session, ticket, now)
        return True

    def _chosen_system(self, session: Session, ticket: Ticket, conv: state.Conversation, text: str,
                       now: datetime) -> CoveredSystem | None:
        if conv.options:
            sid = _chosen_option(text, conv.options)
            if sid is not None:
                return session.get(CoveredSystem, int(sid))
        systems = service.systems_of(session, ticket.contract_id)
        matched = _match_systems(text, systems)
        if len(matched) == 1:
            return matched[0]
        return None

    # -- engineers -----------------------------------------------------------------------

    def _engineer(self, session: Session, engineer: Person, msg: InboundMessage, now: datetime) -> None:
        # WeCom quote-reply: the quoted card's ticket is the one meant (回 without a number).
        quoted = ticket_number_in(str(msg.thread_hints.get("quote_text") or ""))
        command = parse(msg.text, quoted, bot_names=self.config.bot_names)
        if command is None:
            self._say(session, msg, engineer, "没有看懂这条指令。\n" + HELP, now)
            return
        if isinstance(command, Invalid):
            self._say(session, msg, engineer, command.hint, now)
            return
        try:
            ticket = service.get_ticket(session, command.number) if command.number is not None else None
            if ticket is not None:
                groups.authorise(session, engineer, ticket)
            if command.verb in (Verb.CLAIM, Verb.REPLY):
                assert ticket is not None
                answer = self._run(session, engineer, command, ticket, now)
            elif command.verb is Verb.TRANSFER:
                assert ticket is not None
                answer = self._transfer(session, engineer, command, ticket, now)
            else:
                answer = work.run(session, engineer, command, ticket, now, confirm_days=self.config.confirm_days)
        except TicketError as exc:
            answer = exc.message
        self._say(session, msg, engineer, answer, now)

    def _run(self, session: Session, engineer: Person, command: Command, ticket: Ticket, now: datetime) -> str:
        if command.verb is Verb.CLAIM:
            return self._claim(session, engineer, ticket, now)
        reporter = session.get(Person, ticket.reporter_id)
        assert reporter is not None
        service.ensure_replyable(ticket)
        if ticket.assignee_id is None:
            service.claim(session, ticket, engineer, now)
        service.send_to_reporter(session, ticket, f"【工单 #{ticket.id}】工程师 {engineer.name}：{command.text}", now,
                                 author=engineer)
        return f"已发给 {reporter.name}（工单 #{ticket.id}）。"

    def _claim(self, session: Session, engineer: Person, ticket: Ticket, now: datetime, *,
               by_card: bool = False) -> str:
        reporter = session.get(Person, ticket.reporter_id)
        assert reporter is not None
        if service.claim(session, ticket, engineer, now) is service.ClaimResult.ALREADY_YOURS:
            return f"工单 #{ticket.id} 已经是您接的单。"
        service.send_to_reporter(
            session, ticket, f"工程师 {engineer.name} 已接单，正在处理您的工单 #{ticket.id}。", now, author=engineer)
        # A tap on the AI bot's card replaces that card for the whole group: no second line there.
        self._notify_engineers(session, ticket, f"{engineer.name} 已接单 #{ticket.id}", now,
                               skip=(groups.AIBOT,) if by_card else ())
        return f"已接单 #{ticket.id}（{reporter.department} {reporter.name}）。回复报障人请发：回 {ticket.id} 内容"

    def _transfer(self, session: Session, engineer: Person, command: Command, ticket: Ticket, now: datetime) -> str:
        """转 N @某人: the ticket goes to a colleague who serves the hospital; both are told."""
        target = work.colleague(session, command.target)
        groups.authorise(session, target, ticket)
        service.reassign(session, ticket, target, Actor.of(engineer), now)
        self._tell(session, target, f"{engineer.name} 把工单 #{ticket.id} 转给了您：{ticket.summary}\n"
                   + work.describe(session, ticket, now), now)
        self._notify_engineers(session, ticket, f"{engineer.name} 已将 #{ticket.id} 转给 {target.name}", now)
        return f"已将 #{ticket.id} 转给 {target.name}。"

    # -- output --------------------------------------------------------------------------

    def _say(self, session: Session, msg: InboundMessage, person: Person, text: str, now: datetime) -> None:
        """Answer where the message came from (not tied to a ticket): in the group it was said in, if any."""
        if msg.channel == groups.AIBOT:
            hints = msg.thread_hints
            chatid, url = str(hints.get("chatid") or ""), str(hints.get("response_url") or "")
            if not self.config.aibot_connected and url:
                outbox.enqueue(session, channel=msg.channel, recipient=url, text=text, now=now)
                return
            if hints.get("chattype") == "group" and chatid:
                outbox.enqueue(session, channel=msg.channel, recipient=f"chat:{chatid}", text=text, now=now)
                return
        self._say_privately(session, msg, person, text, now)

    @staticmethod
    def _say_privately(session: Session, msg: InboundMessage, person: Person, text: str, now: datetime) -> None:
        outbox.enqueue(session, channel=msg.channel, recipient=service.address_of(person, msg.channel), text=text,
                       now=now)

    def _tell(self, session: Session, person: Person, text: str, now: datetime) -> None:
        """A message to one of the vendor's people, on the channel reminders use."""
        channel, recipient = reminders.route_to(person, self.config.person_channel)
        outbox.enqueue(session, channel=channel, recipient=recipient, text=text, now=now)

    def _routes(self, session: Session, ticket: Ticket) -> list[groups.Route]:
        hospital = session.get(Hospital, ticket.hospital_id)
        return groups.group_routes(self.config.engineer_routes, self.config.group_channel, hospital)

    def _notify_engineers(self, session: Session, ticket: Ticket, text: str, now: datetime, *,
                          skip: tuple[str, ...] = ()) -> None:
        for channel, recipient in self._routes(session, ticket):
            if channel not in skip:
                outbox.enqueue(session, channel=channel, recipient=recipient, text=text, now=now,
                               ticket_id=ticket.id)

    def _notify_classified(self, session: Session, ticket: Ticket, now: datetime) -> None:
        hospital = session.get(Hospital, ticket.hospital_id)
        tz = hospital.timezone if hospital else "Asia/Shanghai"
        contract = session.get(Contract, ticket.contract_id)
        level = service.policy_of(contract).level(ticket.severity) if contract else None
        system = session.get(CoveredSystem, ticket.system_id) if ticket.system_id else None
        self._notify_engineers(
            session, ticket,
            f"工单 #{ticket.id} 已确认：{system.name if system else '系统未定'} · {level.name if level else ticket.severity}\n"
            f"{texts.deadline_line(ticket.response_due_at, now, tz)}",
            now)


def _is_card_click(msg: InboundMessage) -> bool:
    """A button tap: the AI bot's card_event, or the self-built app's template_card_event."""
    return msg.msg_type == "card_event" or (msg.msg_type == "event"
                                             and msg.raw.get("Event") == "template_card_event")


def _new_ticket_notice(session: Session, ticket: Ticket, reporter: Person, hospital: Hospital,
                       now: datetime) -> str:
    contract = session.get(Contract, ticket.contract_id)
    level = service.policy_of(contract).level(ticket.severity) if contract else None
    system = session.get(CoveredSystem, ticket.system_id) if ticket.system_id else None
    pending = "" if ticket.severity_confirmed else "（待报障人确认，先按此计时）"
    return (
        f"【新工单 #{ticket.id}】{hospital.name} · {system.name if system else '系统待确认'}\n"
        f"级别：{level.name if level else ticket.severity}{pending}\n"
        f"报障人：{reporter.department} {reporter.name}\n"
        f"内容：{ticket.summary}\n"
        f"{texts.deadline_line(ticket.response_due_at, now, hospital.timezone)}\n"
        f"接单请回复：接 {ticket.id}"
        + (f"\n⚠ {reporter.review_note}" if reporter.review_note else "")
    )


# -- matching what reporters type -----------------------------------------------------------

_SUFFIXES = ("管理信息系统", "管理系统", "信息系统", "系统", "平台")


def _keys(system: CoveredSystem) -> list[str]:
    name = unicodedata.normalize("NFKC", system.name).lower()
    keys = [name, re.sub(r"\(.*?\)", "", name)]
    for key in list(keys):
        for suffix in _SUFFIXES:
            if key.endswith(suffix) and len(key) - len(suffix) >= 2:
                keys.append(key[: -len(suffix)])
                break
    keys += [unicodedata.normalize("NFKC", a).lower() for a in system.aliases]
    return [k for k in dict.fromkeys(keys) if len(k) >= 2]


def _match_systems(text: str, systems: list[CoveredSystem]) -> list[CoveredSystem]:
    """Systems whose name, short name or alias appears in ``text`` (longest match wins)."""
    text = unicodedata.normalize("NFKC", text).lower()
    scored = []
    for system in systems:
        hits = [len(k) for k in _keys(system) if k in text]
        if hits:
            scored.append((max(hits), system))
    if not scored:
        return []
    best = max(score for score, _ in scored)
    return [system for score, system in scored if score == best]


_GREETING = re.compile(r"(你好|您好|在吗|在不在|有人吗|有人在吗|hello|hi|哈喽|喂|老师好|师傅|工程师)+[呀啊吗呢]?")


def _is_greeting(text: str) -> bool:
    cleaned = re.sub(r"[\s\W_]+", "", normalize(text).lower())
    return bool(cleaned) and _GREETING.fullmatch(cleaned) is not None


def _acked_recently(session: Session, ticket: Ticket, now: datetime) -> bool:
    """True when the last message to the reporter is the bot's, sent within ACK_QUIET."""
    last = session.exec(
        select(Message).where(Message.ticket_id == ticket.id, Message.direction == Direction.OUT)
        .order_by(col(Message.id).desc())
    ).first()
    return last is not None and not last.is_human and now - last.channel_ts < ACK_QUIET


def _choice(text: str) -> int | None:
    m = re.fullmatch(r"\D{0,2}?(\d{1,2})\D{0,3}", text.strip())
    return int(m.group(1)) if m else None


def _chosen_option(text: str, options: list[object]) -> object | None:
    n = _choice(text)
    if n is None or not 1 <= n <= len(options):
        return None
    return options[n - 1]


def _severity_by_name(session: Session, ticket: Ticket, text: str) -> str | None:
    contract = session.get(Contract, ticket.contract_id)
    if contract is None or not text:
        return None
    hits = [lvl.code for lvl in service.policy_of(contract).levels
            if text in lvl.name or lvl.name.rstrip("错误故障事件") == text]
    return hits[0] if len(hits) == 1 else None
