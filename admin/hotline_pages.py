"""The phone ticket form (issue 7): the engineer who takes a call live opens its ticket on one screen.

Caller by number or name, system, level, what was said, and the call's start — now by
default, editable, and audited when edited, because the call's start is the report's time
and so starts the clock (seed 001 四.3(1): each call answered by a named person who records
it). The form's call goes the way of every hotline call (``bot.hotline_flow``), journaled
under its own call id, so a form sent twice opens one ticket.
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlmodel import Session, col, select

from admin.runtime import Runtime
from admin.sla_pages import FormError
from admin.web import TEMPLATES, CurrentAccount, DbSession, is_vendor_staff, runtime_of
from bot.groups import serves
from bot.hotline_flow import call_message, identify, person_of_phone
from intake.hotline import CALLER, CallRecord, PhoneNumberError, Turn, normalize_phone, normalize_prefix
from tickets import service
from tickets.audit import Actor, audit
from tickets.models import Account, Contract, CoveredSystem, Hospital, Message, Person

router = APIRouter()

# The form's times are Beijing time, as the engineers' own clocks show it; what is stored is the instant.
FORM_TZ = ZoneInfo("Asia/Shanghai")
MINUTE = "%Y-%m-%dT%H:%M"
MAX_DESCRIPTION = 5000
MAX_LOOKUP = 10
NOT_VENDOR = "只有维保服务方的人员可以电话建单。"
# Fewer digits than a local line (7) typed before picking a caller were a search, not a number.
MIN_LINE_DIGITS = 7
# The form's own call ids: a posted id of any other shape could take a telephony call's id.
FORM_CALL_ID = re.compile(r"form-[0-9a-f]{32}")


@dataclass(frozen=True)
class Caller:
    id: int
    name: str
    department: str
    hospital: str
    contract: str  # the hospital's contract key: the form shows that contract's systems and levels
    phone: str

    @property
    def label(self) -> str:
        return " · ".join(p for p in (self.name, self.hospital, self.department, self.phone) if p)


@dataclass(frozen=True)
class ContractChoices:
    key: str
    name: str
    systems: list[tuple[int, str]]
    levels: list[tuple[str, str]]  # (code, name), most urgent first


@dataclass
class FormValues:
    caller: str = ""
    person_id: str = ""
    system_id: str = ""
    severity: str = ""
    description: str = ""
    started: str = ""
    opened_at: str = ""  # the instant the form was opened: the start when the engineer leaves it as it is
    minutes: str = ""
    recording_ref: str = ""
    call_id: str = ""  # chosen when the form opens, so sending it twice opens one ticket


# -- who may call, and whom ---------------------------------------------------------------------

def _staff(session: Session, account: Account) -> Person | None:
    return session.get(Person, account.person_id) if account.person_id else None


def _hospitals_for(session: Session, account: Account) -> dict[int, Hospital]:
    """The hospitals whose calls this account may take: every one for admins, else those served."""
    hospitals = list(session.exec(select(Hospital).order_by(col(Hospital.id))))
    if account.is_admin:
        return {h.id or 0: h for h in hospitals}
    staff = _staff(session, account)
    return {h.id or 0: h for h in hospitals if staff is not None and serves(staff, h)}


def _caller_of(session: Session, person: Person, hospitals: dict[int, Hospital]) -> Caller | None:
    hospital = hospitals.get(person.hospital_id or 0)
    if hospital is None or not person.active:
        return None
    contract = service.contract_for_hospital(session, hospital.id or 0)
    return Caller(id=person.id or 0, name=person.name, department=person.department, hospital=hospital.name,
                  contract=contract.key if contract else "", phone=person.phone)


def find_callers(session: Session, account: Account, query: str, limit: int = MAX_LOOKUP) -> list[Caller]:
    """Hospital people matching a number (the same line, or digits typed so far) or a name."""
    query = query.strip()
    hospitals = _hospitals_for(session, account)
    if not query or not hospitals:
        return []
    people = session.exec(select(Person).where(col(Person.hospital_id).in_(list(hospitals)),
                                               Person.active == True)  # noqa: E712
                          .order_by(col(Person.name), col(Person.id)))
    digits = _national_digits(query)
    found = []
    for person in people:
        if (digits and digits in _national_digits(person.phone)) or query in person.name:
            caller = _caller_of(session, person, hospitals)
            if caller is not None:
                found.append(caller)
    return found[:limit]


def _national_digits(text: str) -> str:
    """The national digits of a number or its first digits (+86 and 0086 dropped); "" under three digits."""
    try:
        return normalize_prefix(text)  # the switchboard prefixes' reading, which takes partial numbers
    except ValueError:  # e.g. an extension written 转 801: its digits as they stand
        digits = "".join(ch for ch in text if ch.isdigit())
        return digits if len(digits) >= 3 else ""


def _resolve_caller(session: Session, account: Account, values: FormValues, record_for_lookup: CallRecord,
                    now: datetime) -> Person:
    """The person the engineer picked, else the one the typed number or name finds unambiguously."""
    hospitals = _hospitals_for(session, account)
    if values.person_id:
        person = session.get(Person, int(values.person_id)) if _is_id(values.person_id) else None
        if person is None or _caller_of(session, person, hospitals) is None:
            raise FormError("所选来电人不存在、已停用，或其医院不在您服务的范围内。")
        return person
    if not values.caller:
        raise FormError("请填写来电号码或来电人姓名。")
    if _looks_like_number(values.caller):
        person = person_of_phone(session, normalize_phone(values.caller)) or identify(session, record_for_lookup, now)
        if person is None or _caller_of(session, person, hospitals) is None:
            raise FormError(f"号码 {values.caller} 不属于通讯录中的人员，也不在您服务的医院的总机号段内。"
                            "请输入来电人姓名查找，或先在人员名单中登记此人。")
        return person
    matches = find_callers(session, account, values.caller)
    exact = [c for c in matches if c.name == values.caller] or matches
    if len(exact) == 1:
        person = session.get(Person, exact[0].id)
        assert person is not None
        return person
    if not exact:
        raise FormError(f"没有找到名为「{values.caller}」的来电人。")
    raise FormError(f"有 {len(exact)} 位来电人与「{values.caller}」相符，请从列表中选定一位。")


def _is_id(text: str) -> bool:
    """A row id as a form sends it (PostgreSQL integers end at 2**31 - 1)."""
    return text.isdigit() and len(text) <= 9


def _looks_like_number(text: str) -> bool:
    try:
        normalize_phone(text)
    except PhoneNumberError:
        return False
    return sum(ch.isdigit() for ch in text) >= 3


# -- the choices ----------------------------------------------------------------------------------

def contract_choices(session: Session, hospitals: dict[int, Hospital]) -> list[ContractChoices]:
    choices = []
    for hospital in hospitals.values():
        contract = service.contract_for_hospital(session, hospital.id or 0)
        if contract is None:
            continue
        levels = [(lvl.code, lvl.name) for lvl in service.policy_of(contract).levels]
        systems = [(s.id or 0, s.name) for s in service.systems_of(session, contract.id or 0)]
        choices.append(ContractChoices(key=contract.key, name=f"{hospital.name} · {contract.name}",
                                       systems=systems, levels=levels))
    return choices


def _system(session: Session, contract: Contract, system_id: str) -> int | None:
    if not system_id:
        return None  # spotted from the description, as for any call
    system = session.get(CoveredSystem, int(system_id)) if _is_id(system_id) else None
    if system is None or system.contract_id != contract.id:
        raise FormError("所选系统不在来电人医院的维保合同范围内，请重新选择。")
    return system.id


def _severity(contract: Contract, code: str) -> str:
    if not code:
        return ""  # proposed from the description, shown as 待确认
    try:
        service.policy_of(contract).level(code)
    except KeyError:
        raise FormError("所选级别不是来电人医院合同中的故障级别，请重新选择。") from None
    return code


# -- times ----------------------------------------------------------------------------------------

def _minute(ts: datetime) -> str:
    return ts.astimezone(FORM_TZ).strftime(MINUTE)


def _instant(text: str, what: str) -> datetime:
    try:
        return datetime.strptime(text.strip(), MINUTE).replace(tzinfo=FORM_TZ)
    except ValueError:
        raise FormError(f"{what}格式不对，请按“年-月-日 时:分”填写。") from None


def call_times(values: FormValues, now: datetime) -> tuple[datetime, datetime, bool]:
    """(start, end, edited): the start is the form's opening instant unless the engineer changed it."""
    try:
        opened = datetime.fromisoformat(values.opened_at)
    except ValueError:
        opened = None
    if opened is None or opened.tzinfo is None or opened > now:
        opened = now
    edited = values.started.strip() != _minute(opened)
    start = _instant(values.started, "来电时间") if edited else opened
    if start > now + timedelta(minutes=1):
        raise FormError("来电时间不能晚于现在。")
    if values.minutes.strip():
        if not values.minutes.strip().isdigit() or not 0 < int(values.minutes) <= 24 * 60:
            raise FormError("通话时长请填写 1 到 1440 之间的整数分钟。")
        end = start + timedelta(minutes=int(values.minutes))
    else:
        end = max(start, now)  # taken live: the call lasts until the form is sent
    return start, end, edited


# -- the pages ------------------------------------------------------------------------------------

def _page(request: Request, session: Session, account: Account, values: FormValues, *, error: str = "",
          status: int = 200) -> Response:
    hospitals = _hospitals_for(session, account)
    picked = None
    if _is_id(values.person_id):
        person = session.get(Person, int(values.person_id))
        picked = _caller_of(session, person, hospitals) if person else None
    return TEMPLATES.TemplateResponse(request, "hotline_form.html", {
        "account": account, "v": values, "error": error, "picked": picked,
        "contracts": contract_choices(session, hospitals), "max_description": MAX_DESCRIPTION,
    }, status_code=status)


def _refused(request: Request, account: Account) -> Response:
    return TEMPLATES.TemplateResponse(request, "error.html", {"account": account, "message": NOT_VENDOR},
                                      status_code=403)


@router.get("/admin/hotline/new", response_class=HTMLResponse)
def phone_form(request: Request, session: DbSession, account: CurrentAccount) -> Response:
    if not is_vendor_staff(session, account):
        return _refused(request, account)
    now = runtime_of(request).clock()
    values = FormValues(started=_minute(now), opened_at=now.isoformat(), call_id=f"form-{uuid.uuid4().hex}")
    return _page(request, session, account, values)


@router.get("/admin/hotline/callers")
def caller_lookup(request: Request, session: DbSession, account: CurrentAccount, q: str = "") -> Response:
    if not is_vendor_staff(session, account):
        return JSONResponse({"error": NOT_VENDOR}, status_code=403)
    return JSONResponse([{"id": c.id, "label": c.label, "contract": c.contract, "phone": c.phone}
                         for c in find_callers(session, account, q[:64])])


Field = Annotated[str, Form()]


@router.post("/admin/hotline/new", response_class=HTMLResponse)
def phone_ticket(request: Request, session: DbSession, account: CurrentAccount, caller: Field = "",
                 person_id: Field = "", system_id: Field = "", severity: Field = "", description: Field = "",
                 started: Field = "", opened_at: Field = "", minutes: Field = "", recording_ref: Field = "",
                 call_id: Field = "") -> Response:
    if not is_vendor_staff(session, account):
        return _refused(request, account)
    values = FormValues(caller=caller.strip()[:64], person_id=person_id.strip(), system_id=system_id.strip(),
                        severity=severity.strip(), description=description.strip(), started=started,
                        opened_at=opened_at, minutes=minutes, recording_ref=recording_ref.strip()[:1000],
                        call_id=call_id if FORM_CALL_ID.fullmatch(call_id) else f"form-{uuid.uuid4().hex}")
    runtime = runtime_of(request)
    now = runtime.clock()
    try:
        number = _open(session, runtime, account, values, now)
    except FormError as exc:
        session.rollback()  # a caller created from a switchboard number before the error is not kept
        return _page(request, session, account, values, error=str(exc), status=400)
    first = session.exec(select(Message.external_id).where(Message.ticket_id == number)
                         .order_by(col(Message.id))).first()
    request.session["flash"] = (f"已为来电登记工单 #{number}。" if first == values.call_id else
                                f"来电人有同一系统的未结工单，本次来电已追加到工单 #{number}。")
    return RedirectResponse(f"/admin/tickets/{number}", status_code=303)


def _open(session: Session, runtime: Runtime, account: Account, values: FormValues, now: datetime) -> int:
    """Check the form, hand the call to the hotline flow, and return the ticket it opened or joined."""
    if not values.description:
        raise FormError("请填写来电反映的问题。")
    if len(values.description) > MAX_DESCRIPTION:
        raise FormError(f"问题描述太长：最多 {MAX_DESCRIPTION} 个字。")
    start, end, edited = call_times(values, now)
    number = values.caller if _looks_like_number(values.caller) else ""
    staff = _staff(session, account)
    record = CallRecord(call_id=values.call_id, caller=number or "anonymous", started_at=start, ended_at=end,
                        agent=staff.name if staff else account.username,
                        turns=(Turn(CALLER, values.description),), recording_ref=values.recording_ref or None)
    person = _resolve_caller(session, account, values, record, now)
    contract = service.contract_for_hospital(session, person.hospital_id or 0)
    if contract is None:
        raise FormError("来电人所在医院没有生效的维保合同，无法建单。")
    if values.person_id and sum(ch.isdigit() for ch in number) < MIN_LINE_DIGITS:
        number = ""  # digits typed to search the list, not the line the call came from
    if not number and person.phone:
        record = dataclasses.replace(record, caller=person.phone)
    form = {"person_id": person.id, "system_id": _system(session, contract, values.system_id),
            "severity": _severity(contract, values.severity), "editor": account.username,
            "editor_person_id": account.person_id, "duration_known": bool(values.minutes.strip()) or not edited}
    session.commit()  # a person created for a switchboard number is kept with the call that found them
    msg = call_message(record, now, agent_person_id=staff.id if staff else None, extra={"form": form})

    def time_edit(s: Session) -> None:
        if edited:  # the report's time, and so the clock's start, set by hand: on the record
            audit(s, Actor(account.username, account.person_id), "hotline.call_time_edited", now,
                  call_id=record.call_id, default=values.opened_at, started_at=start.isoformat())

    runtime.handle_now(msg, also=time_edit)
    ticket_id = session.exec(select(Message.ticket_id).where(Message.channel == "hotline",
                                                             Message.external_id == record.call_id)).first()
    if ticket_id is None:
        raise FormError("该来电未能建单，请查看系统日志。")
    return int(ticket_id)
