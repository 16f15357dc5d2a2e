"""The admin panel: login and the ticket queue with live SLA countdowns."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import func
from sqlmodel import Session, col, select

from admin.passwords import hash_password, verify_password
from admin.runtime import Runtime
from intake import journal
from sla import SlaPolicy
from tickets import outbox, service
from tickets.models import Account, AuditLog, Contract, CoveredSystem, Hospital, Person, Ticket

TEMPLATES = Jinja2Templates(directory=Path(__file__).resolve().parent / "templates")
router = APIRouter()

LOGIN_WINDOW = timedelta(minutes=15)
LOGIN_MAX_FAILURES = 10

STATUS_TEXT = {"new": "待接单", "claimed": "处理中", "resolved": "已解决", "closed": "已关闭"}


def runtime_of(request: Request) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]


def db_session(request: Request) -> Iterator[Session]:
    with runtime_of(request).db.session() as session:
        yield session


# scope="function": the transaction commits before the response leaves, so a
# person never sees success for a write that then fails to commit, and their
# next request sees it (FastAPI's default ends the dependency after sending).
DbSession = Annotated[Session, Depends(db_session, scope="function")]


def current_account(request: Request, session: DbSession) -> Account:
    account_id = request.session.get("account_id")
    account = session.get(Account, account_id) if account_id else None
    if account is None:
        raise HTTPException(status_code=303, headers={"Location": f"/admin/login?next={request.url.path}"})
    return account


CurrentAccount = Annotated[Account, Depends(current_account)]


def hospital_scope(session: Session, account: Account) -> int | None:
    """The one hospital a hospital-side account may see (甲方 reads its own record only); None = all."""
    if account.is_admin or account.person_id is None:
        return None
    person = session.get(Person, account.person_id)
    if person is not None and person.hospital_id is not None:
        return person.hospital_id
    return None


# -- login ------------------------------------------------------------------------------

@router.get("/admin/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/admin") -> Response:
    return TEMPLATES.TemplateResponse(request, "login.html", {"next": _safe_next(next), "error": ""})


@router.post("/admin/login", response_class=HTMLResponse)
def login(request: Request, session: DbSession, username: Annotated[str, Form()],
          password: Annotated[str, Form()], next: Annotated[str, Form()] = "/admin") -> Response:
    now = runtime_of(request).clock()
    username = username.strip()[:64]
    if _recent_failures(session, username, now) >= LOGIN_MAX_FAILURES:
        return TEMPLATES.TemplateResponse(request, "login.html", {"next": _safe_next(next),
                                          "error": "登录失败次数过多，请 15 分钟后再试"}, status_code=429)
    account = session.exec(select(Account).where(Account.username == username)).first()
    # Hash even for an unknown name, so the answer's timing does not tell which names exist.
    valid = verify_password(password, account.password_hash if account else _dummy_hash())
    if account is None or not valid:
        service.audit(session, service.SYSTEM, "account.login_failed", now, username=username)
        return TEMPLATES.TemplateResponse(request, "login.html", {"next": _safe_next(next),
                                          "error": "用户名或密码不对"}, status_code=401)
    account.last_login_at = now
    session.add(account)
    service.audit(session, service.Actor(account.username, account.person_id), "account.login", now)
    request.session.clear()
    request.session["account_id"] = account.id
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/admin/logout")
def logout(request: Request) -> RedirectResponse:
    request.session.clear()
    return RedirectResponse("/admin/login", status_code=303)


def _safe_next(target: str) -> str:
    # Only local paths: a login link must not bounce people to another site
    # ("//host" and "/\\host" are other sites to a browser).
    local = target.startswith("/") and not target.startswith(("//", "/\\")) and "\n" not in target
    return target if local else "/admin"


@functools.cache
def _dummy_hash() -> str:
    return hash_password("not a password anyone has")


def _recent_failures(session: Session, username: str, now: datetime) -> int:
    """Failed logins for ``username`` in the window, from the audit log (shared by all processes)."""
    stmt = select(func.count()).select_from(AuditLog).where(
        AuditLog.action == "account.login_failed", AuditLog.at >= now - LOGIN_WINDOW,
        AuditLog.detail["username"].as_string() == username)
    return int(session.exec(stmt).one())


# -- tickets ----------------------------------------------------------------------------

@dataclass
class TicketRow:
    number: int
    hospital: str
    system: str
    severity: str
    severity_confirmed: bool
    status: str
    reporter: str
    summary: str
    reported_at: str
    response_due: str
    response_due_iso: str
    responded_at: str
    seconds_left: int | None


def _local(ts: datetime | None, tz: str) -> str:
    return ts.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M:%S") if ts else ""


def ticket_rows(session: Session, now: datetime, tickets: list[Ticket] | None = None, *,
                hospital_id: int | None = None, limit: int = 500) -> list[TicketRow]:
    if tickets is None:
        stmt = select(Ticket).order_by(col(Ticket.id).desc()).limit(limit)
        if hospital_id is not None:
            stmt = stmt.where(Ticket.hospital_id == hospital_id)
        tickets = list(session.exec(stmt).all())
    hospitals = {h.id: h for h in session.exec(select(Hospital))}
    policies = {c.id: SlaPolicy.model_validate(c.sla_policy) for c in session.exec(select(Contract))}
    systems = {s.id: s.name for s in session.exec(select(CoveredSystem))}
    people = service.people_by_id(session, {t.reporter_id for t in tickets})
    rows = []
    for t in tickets:
        hospital = hospitals[t.hospital_id]
        try:
            severity = policies[t.contract_id].level(t.severity).name
        except KeyError:
            severity = t.severity
        reporter = people.get(t.reporter_id)
        running = t.first_response_at is None and t.response_due_at is not None
        rows.append(TicketRow(
            number=t.id or 0, hospital=hospital.name, system=systems.get(t.system_id, "待确认"),
            severity=severity, severity_confirmed=t.severity_confirmed, status=STATUS_TEXT.get(t.status, t.status),
            reporter=f"{reporter.department} {reporter.name}" if reporter else "", summary=t.summary,
            reported_at=_local(t.reported_at, hospital.timezone),
            response_due=_local(t.response_due_at, hospital.timezone),
            response_due_iso=t.response_due_at.isoformat() if t.response_due_at else "",
            responded_at=_local(t.first_response_at, hospital.timezone),
            seconds_left=int((t.response_due_at - now).total_seconds()) if running and t.response_due_at else None,
        ))
    return rows


@router.get("/admin", response_class=HTMLResponse)
def ticket_list(request: Request, session: DbSession, account: CurrentAccount) -> Response:
    now = runtime_of(request).clock()
    return TEMPLATES.TemplateResponse(request, "tickets.html", {
        "account": account, "rows": ticket_rows(session, now, hospital_id=hospital_scope(session, account)),
        "now_iso": now.isoformat(),
        "inbound": journal.count_by_status(session), "outbox": outbox.counts(session),
    })


@router.get("/admin/tickets/{number}", response_class=HTMLResponse)
def ticket_detail(number: int, request: Request, session: DbSession, account: CurrentAccount) -> Response:
    ticket = session.get(Ticket, number)
    scope = hospital_scope(session, account)
    if ticket is None or (scope is not None and ticket.hospital_id != scope):
        raise HTTPException(404, "未找到该工单")
    hospital = session.get(Hospital, ticket.hospital_id)
    tz = hospital.timezone if hospital else "Asia/Shanghai"
    now = runtime_of(request).clock()
    row = ticket_rows(session, now, [ticket])[0]
    rows = service.messages_of(session, number)
    people = service.author_names(session, rows)
    messages = [{
        "direction": m.direction, "channel": m.channel, "author": people.get(m.author_id, "服务台机器人"),
        "author_kind": m.author_kind, "text": m.text, "channel_ts": _local(m.channel_ts, tz),
        "received_at": _local(m.received_at, tz), "delivered_at": _local(m.delivered_at, tz),
        "written": m.is_written_report,
    } for m in rows]
    return TEMPLATES.TemplateResponse(request, "ticket.html", {
        "account": account, "t": row, "messages": messages, "now_iso": now.isoformat(),
    })
