"""The admin panel: login, the ticket queue with live SLA countdowns, each ticket's
clocks and files, the holiday calendar, the contracts' SLA, the evaluation report, the
knowledge base (articles, review queue, synonyms, trying a question) and the mail
intake (every mail dropped or held, releasing one, the hospitals' mail domains)."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import func
from sqlmodel import Session, col, select
from starlette.background import BackgroundTask

from admin import kb_pages, mail_pages, sla_pages
from admin.passwords import hash_password, verify_password
from admin.runtime import Runtime
from admin.sla_pages import FormError
from intake import journal
from intake.email import store as mail_store
from knowledge import Article, Synonym
from sla import SlaPolicy, policy_from
from tickets import outbox, service
from tickets.audit import Actor, audit
from tickets.calendars import confirm_year, confirmed_years, set_hospital_day, set_statutory_day
from tickets.clocks import recompute_open
from tickets.closing import CLOSE_REASON_NAMES
from tickets.models import (
    ENGINEER_ROLES,
    STATUS_NAMES,
    Account,
    AuditLog,
    Contract,
    CoveredSystem,
    Hospital,
    HospitalDay,
    Message,
    Person,
    Ticket,
)

TEMPLATES = Jinja2Templates(directory=Path(__file__).resolve().parent / "templates")
router = APIRouter()

LOGIN_WINDOW = timedelta(minutes=15)
LOGIN_MAX_FAILURES = 10



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


def is_vendor_staff(session: Session, account: Account) -> bool:
    """Admins and the vendor's active engineers and managers: the people who work tickets and duties."""
    if account.is_admin:
        return True
    person = session.get(Person, account.person_id) if account.person_id else None
    return person is not None and person.active and person.role in ENGINEER_ROLES


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
    closing: str = ""  # how it was closed and the reporter's score, e.g. "报障人确认 · 评分 5/5"
    proposed_severity: str = ""  # the level a phone call's words suggest, until an engineer sets one
    written_report_pending: bool = False  # opened by a call; clocks on "written_report" wait for it


_local = sla_pages.local_time


def _closing(t: Ticket) -> str:
    parts = [CLOSE_REASON_NAMES.get(t.close_reason, t.close_reason)] if t.close_reason else []
    if t.rating is not None:
        parts.append(f"评分 {t.rating}/5" + (f"（{t.rating_comment}）" if t.rating_comment else ""))
    return " · ".join(parts)


def ticket_rows(session: Session, now: datetime, tickets: list[Ticket] | None = None, *,
                hospital_id: int | None = None, limit: int = 500) -> list[TicketRow]:
    if tickets is None:
        stmt = select(Ticket).order_by(col(Ticket.id).desc()).limit(limit)
        if hospital_id is not None:
            stmt = stmt.where(Ticket.hospital_id == hospital_id)
        tickets = list(session.exec(stmt).all())
    hospitals = {h.id: h for h in session.exec(select(Hospital))}
    policies = {c.id: policy_from(c.sla_policy) for c in session.exec(select(Contract))}
    systems = {s.id: s.name for s in session.exec(select(CoveredSystem))}
    people = service.people_by_id(session, {t.reporter_id for t in tickets})
    rows = []
    for t in tickets:
        hospital = hospitals[t.hospital_id]
        severity = _level_name(policies.get(t.contract_id), t.severity)
        reporter = people.get(t.reporter_id)
        running = t.first_response_at is None and t.response_due_at is not None
        rows.append(TicketRow(
            number=t.id or 0, hospital=hospital.name, system=systems.get(t.system_id, "待确认"),
            severity=severity, severity_confirmed=t.severity_confirmed, status=STATUS_NAMES.get(t.status, t.status),
            reporter=f"{reporter.department} {reporter.name}" if reporter else "", summary=t.summary,
            reported_at=_local(t.reported_at, hospital.timezone),
            response_due=_local(t.response_due_at, hospital.timezone),
            response_due_iso=t.response_due_at.isoformat() if t.response_due_at else "",
            responded_at=_local(t.first_response_at, hospital.timezone),
            seconds_left=int((t.response_due_at - now).total_seconds()) if running and t.response_due_at else None,
            closing=_closing(t),
            proposed_severity=_level_name(policies.get(t.contract_id), t.proposed_severity or ""),
            written_report_pending=t.written_report_pending,
        ))
    return rows


def _level_name(policy: SlaPolicy | None, code: str) -> str:
    try:
        return policy.level(code).name if policy and code else code
    except KeyError:
        return code


@router.get("/admin", response_class=HTMLResponse)
def ticket_list(request: Request, session: DbSession, account: CurrentAccount) -> Response:
    now = runtime_of(request).clock()
    return TEMPLATES.TemplateResponse(request, "tickets.html", {
        "account": account, "rows": ticket_rows(session, now, hospital_id=hospital_scope(session, account)),
        "now_iso": now.isoformat(),
        "inbound": journal.count_by_status(session), "outbox": outbox.counts(session),
        "phone_form": is_vendor_staff(session, account),
    })


@router.get("/admin/tickets/{number}", response_class=HTMLResponse)
def ticket_detail(number: int, request: Request, session: DbSession, account: CurrentAccount) -> Response:
    ticket = session.get(Ticket, number) if 0 < number < 2**31 else None  # PostgreSQL integers end there
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
        "written": m.is_written_report, "skew_note": mail_pages.skew_note(m.meta),
    } for m in rows]
    contract = session.get(Contract, ticket.contract_id)
    return TEMPLATES.TemplateResponse(request, "ticket.html", {
        "account": account, "t": row, "messages": messages, "now_iso": now.isoformat(),
        "contract": contract, "tz": tz,
        "clocks": sla_pages.clock_views(session, number, tz, now),
        "pauses": sla_pages.pause_views(session, number, tz, now),
        "events": sla_pages.event_views(session, number, tz),
        "kb_draft": kb_pages.draft_button(session, account, ticket),
        "mail": mail_pages.ticket_mail(session, ticket), "calls": call_views(rows, people, tz),
        "notice": request.session.pop("flash", ""),
    })


def call_views(messages: list[Message], people: dict[int, str], tz: str) -> list[dict[str, str]]:
    """The hotline calls on a ticket as the maintenance record shows them: who answered, when, how long.

    Seed 001 四.3(1) asks that every call be answered by a named person who records it.
    """
    views = []
    for m in messages:
        call = m.meta if m.channel == "hotline" and m.meta else None
        if call is None:
            continue
        seconds = call.get("duration_s")
        views.append({
            "call_id": call.get("call_id", ""), "caller": call.get("caller", ""), "called": call.get("called", ""),
            "agent": people.get(call.get("agent_person_id") or 0) or call.get("agent_name") or call.get("agent")
            or "（无人接听）",
            "started": _local(datetime.fromisoformat(call["started_at"]), tz) if call.get("started_at") else "",
            "ended": _local(datetime.fromisoformat(call["ended_at"]), tz) if call.get("ended_at") else "",
            "duration": "未记录" if seconds is None else f"{seconds // 60} 分 {seconds % 60} 秒",
            "transcript": call.get("transcript", ""), "recording_ref": call.get("recording_ref") or "",
        })
    return views


def _error_page(request: Request, account: Account, message: str, status: int) -> Response:
    return TEMPLATES.TemplateResponse(request, "error.html", {"account": account, "message": message},
                                      status_code=status)


def _editor(account: Account) -> Actor:
    return Actor(account.username, account.person_id)


def _text(value: str, limit: int, what: str) -> str:
    value = " ".join((value or "").split())  # one line: newlines and tabs become spaces
    if len(value) > limit:
        raise FormError(f"{what}太长：最多 {limit} 个字。")
    return value


# -- the holiday calendar -----------------------------------------------------------------------

ONLY_ADMINS = "只有管理员可以修改节假日与医院例外日。"


def _calendar_page(request: Request, session: Session, account: Account, year: int | None = None, *,
                   error: str = "", status: int = 200, form: dict[str, str] | None = None) -> Response:
    now = runtime_of(request).clock()
    page = sla_pages.calendar_page(session, now, year or sla_pages.china_today(now).year,
                                   hospital_scope(session, account))
    return TEMPLATES.TemplateResponse(request, "calendar.html", {
        "account": account, "page": page, "error": error, "notice": request.session.pop("flash", ""),
        "form": form or {}, "can_edit": account.is_admin,
    }, status_code=status)


def _after_calendar_edit(request: Request, session: Session, account: Account, action: str,
                         hospital_id: int | None, what: str, **detail: object) -> int:
    """Audit the edit, recompute the open tickets it can move, and tell the next page how many."""
    now = runtime_of(request).clock()
    actor = _editor(account)
    audit(session, actor, action, now, **detail)
    count = recompute_open(session, now, hospital_id=hospital_id, reason="calendar_edited", actor=actor)
    request.session["flash"] = f"{what}；已重算 {count} 张未结工单的时钟。"
    return count


@router.get("/admin/calendar", response_class=HTMLResponse)
def calendar(request: Request, session: DbSession, account: CurrentAccount, year: str | None = None) -> Response:
    try:
        chosen = sla_pages.parse_year(year, sla_pages.china_today(runtime_of(request).clock()).year)
    except FormError as exc:
        return _calendar_page(request, session, account, error=str(exc), status=400)
    return _calendar_page(request, session, account, chosen)


@router.post("/admin/calendar/statutory", response_class=HTMLResponse)
def calendar_statutory_set(request: Request, session: DbSession, account: CurrentAccount,
                           day: Annotated[str, Form()] = "", kind: Annotated[str, Form()] = "",
                           name: Annotated[str, Form()] = "") -> Response:
    form = {"which": "statutory", "day": day[:40], "kind": kind[:20], "name": name[:200]}
    if not account.is_admin:
        return _calendar_page(request, session, account, error=ONLY_ADMINS, status=403)
    try:
        when = sla_pages.parse_day(day)
        if kind not in ("holiday", "workday"):
            raise FormError("请选择这一天是「放假」还是「上班」。")
        label = _text(name, 100, "名称")
    except FormError as exc:
        return _calendar_page(request, session, account, error=str(exc), status=400, form=form)
    workday = kind == "workday"
    set_statutory_day(session, when, workday, label, f"web:{account.username}", runtime_of(request).clock())
    _after_calendar_edit(request, session, account, "calendar.statutory_set", None,
                         f"{when.isoformat()} 已设为{'上班' if workday else '放假'}",
                         day=when.isoformat(), is_workday=workday, name=label)
    return RedirectResponse(f"/admin/calendar?year={when.year}", status_code=303)


@router.post("/admin/calendar/confirm", response_class=HTMLResponse)
def calendar_confirm_year(request: Request, session: DbSession, account: CurrentAccount,
                          year: Annotated[str, Form()] = "") -> Response:
    if not account.is_admin:
        return _calendar_page(request, session, account, error=ONLY_ADMINS, status=403)
    try:
        if not year.strip():
            raise FormError("请填写要确认的年份。")
        chosen = sla_pages.parse_year(year, 0)
        if chosen in confirmed_years(session):
            raise FormError(f"{chosen} 年的节假日已确认过，无需再次确认。")
        if sla_pages.statutory_days_in(session, chosen) == 0:
            raise FormError(f"{chosen} 年还没有录入任何放假或调休上班日：请先按国务院通知逐日录入，再确认。")
    except FormError as exc:
        return _calendar_page(request, session, account, error=str(exc), status=400)
    confirm_year(session, chosen, f"web:{account.username}", runtime_of(request).clock())
    _after_calendar_edit(request, session, account, "calendar.year_confirmed", None,
                         f"{chosen} 年节假日已确认", year=chosen)
    return RedirectResponse(f"/admin/calendar?year={chosen}", status_code=303)


HOSPITAL_DAY_KINDS = {"closed": False, "workday": True, "clear": None}


@router.post("/admin/calendar/hospital", response_class=HTMLResponse)
def calendar_hospital_day(request: Request, session: DbSession, account: CurrentAccount,
                          hospital: Annotated[str, Form()] = "", day: Annotated[str, Form()] = "",
                          kind: Annotated[str, Form()] = "", note: Annotated[str, Form()] = "") -> Response:
    form = {"which": "hospital", "hospital": hospital[:20], "day": day[:40], "kind": kind[:20], "note": note[:300]}
    if not account.is_admin:
        return _calendar_page(request, session, account, error=ONLY_ADMINS, status=403)
    try:
        hospital = hospital.strip()
        target = session.get(Hospital, int(hospital)) if hospital.isdigit() and len(hospital) <= 9 else None
        if target is None:
            raise FormError("请选择医院。")
        when = sla_pages.parse_day(day)
        if kind not in HOSPITAL_DAY_KINDS:
            raise FormError("请选择这一天是「闭院/放假」还是「上班」。")
        text = _text(note, 200, "说明")
        workday = HOSPITAL_DAY_KINDS[kind]
        existing = session.exec(select(HospitalDay).where(HospitalDay.hospital_id == target.id,
                                                          HospitalDay.day == when)).first()
        if workday is None and existing is None:
            raise FormError(f"{target.name} 在 {when.isoformat()} 没有设置例外日，无需删除。")
    except FormError as exc:
        return _calendar_page(request, session, account, error=str(exc), status=400, form=form)
    set_hospital_day(session, target.id or 0, when, workday, text, runtime_of(request).clock())
    what = {True: "上班", False: "闭院（放假）", None: "恢复按法定日历"}[workday]
    _after_calendar_edit(request, session, account, "calendar.hospital_day_set", target.id,
                         f"{target.name} {when.isoformat()} {what}", hospital=target.key,
                         day=when.isoformat(), is_workday=workday, note=text)
    return RedirectResponse(f"/admin/calendar?year={when.year}#hospital-{target.id}", status_code=303)


# -- contracts ----------------------------------------------------------------------------------

def contract_in_scope(session: Session, account: Account, key: str) -> Contract | None:
    contract = session.exec(select(Contract).where(Contract.key == key)).first()
    scope = hospital_scope(session, account)
    if contract is None or (scope is not None and contract.hospital_id != scope):
        return None
    return contract


@router.get("/admin/contracts", response_class=HTMLResponse)
def contract_list(request: Request, session: DbSession, account: CurrentAccount) -> Response:
    return TEMPLATES.TemplateResponse(request, "contracts.html", {
        "account": account, "rows": sla_pages.contract_rows(session, hospital_scope(session, account)),
    })


@router.get("/admin/contracts/{key}", response_class=HTMLResponse)
def contract_detail(key: str, request: Request, session: DbSession, account: CurrentAccount) -> Response:
    contract = contract_in_scope(session, account, key)
    if contract is None:
        return _error_page(request, account, f"没有找到合同「{key[:64]}」。", 404)
    return TEMPLATES.TemplateResponse(request, "contract.html", {
        "account": account, "page": sla_pages.contract_page(session, contract),
    })


# -- the evaluation report ------------------------------------------------------------------------

@router.get("/admin/reports/evaluation", response_class=HTMLResponse)
def evaluation_report(request: Request, session: DbSession, account: CurrentAccount,
                      contract: str | None = None, start: Annotated[str | None, Query(alias="from")] = None,
                      end: Annotated[str | None, Query(alias="to")] = None) -> Response:
    now = runtime_of(request).clock()
    choices = sla_pages.contracts_in_scope(session, hospital_scope(session, account))
    if not choices:
        return _error_page(request, account, "没有可查看的合同。", 404)
    chosen = choices[0] if not contract else contract_in_scope(session, account, contract)
    if chosen is None:
        return _error_page(request, account, f"没有找到合同「{(contract or '')[:64]}」。", 404)
    hospital = session.get(Hospital, chosen.hospital_id)
    today = sla_pages.local_today(now, hospital.timezone if hospital else sla_pages.CHINA_TZ)
    context: dict[str, object] = {"account": account, "choices": choices, "contract": chosen, "error": "",
                                  "start": start or "", "end": end or "", "page": None}
    try:
        lo, hi = sla_pages.report_period(start, end, today)
    except FormError as exc:
        context["error"] = str(exc)
        return TEMPLATES.TemplateResponse(request, "report.html", context, status_code=400)
    context.update(start=lo.isoformat(), end=hi.isoformat(), page=sla_pages.report_page(session, chosen, lo, hi, now))
    return TEMPLATES.TemplateResponse(request, "report.html", context)


# -- the knowledge base ---------------------------------------------------------------------------

ArticleField = Annotated[str, Form()]


def _kb_context(request: Request, session: Session, account: Account, **extra: object) -> dict[str, object]:
    context: dict[str, object] = {"account": account, "can_edit": kb_pages.can_edit(session, account),
                                  "notice": request.session.pop("flash", ""), "error": ""}
    context.update(extra)
    return context


def _article_in_scope(session: Session, account: Account, article_id: str, *, lock: bool = False) -> Article | None:
    number = kb_pages.parse_id(article_id)
    article = session.get(Article, number, with_for_update=lock) if number else None
    if article is None or not kb_pages.visible(article, hospital_scope(session, account)):
        return None
    return article


def _article_page(request: Request, session: Session, account: Account, article: Article | None,
                  form: kb_pages.ArticleForm | None = None, *, error: str = "", status: int = 200) -> Response:
    systems = kb_pages.system_choices(session)
    if form is None:
        form = kb_pages.ArticleForm.of(session, article, systems) if article else kb_pages.ArticleForm()
    return TEMPLATES.TemplateResponse(request, "kb_article.html", _kb_context(
        request, session, account, view=kb_pages.article_view(session, article) if article else None, form=form,
        systems=systems, hospitals=kb_pages.hospital_choices(session), statuses=kb_pages.STATUS_TEXT, error=error,
    ), status_code=status)


@router.get("/admin/kb", response_class=HTMLResponse)
def kb_list(request: Request, session: DbSession, account: CurrentAccount, q: str = "", status: str = "",
            system: str = "") -> Response:
    scope = hospital_scope(session, account)
    q, status = kb_pages.clean(q).strip()[:kb_pages.MAX_SEARCH], kb_pages.clean(status)[:20]
    system = kb_pages.clean(system)[:kb_pages.MAX_SYSTEM]
    return TEMPLATES.TemplateResponse(request, "kb_list.html", _kb_context(
        request, session, account, q=q, status=status, system=system,
        rows=kb_pages.article_rows(session, scope=scope, query=q, status=status, system=system),
        systems=kb_pages.system_filter_options(session, scope), statuses=kb_pages.STATUS_TEXT,
        no_system=kb_pages.NO_SYSTEM,
    ))


@router.get("/admin/kb/new", response_class=HTMLResponse)
def kb_new(request: Request, session: DbSession, account: CurrentAccount) -> Response:
    if not kb_pages.can_edit(session, account):
        return _error_page(request, account, kb_pages.NOT_EDITOR, 403)
    return _article_page(request, session, account, None)


@router.post("/admin/kb/new", response_class=HTMLResponse)
def kb_create(request: Request, session: DbSession, account: CurrentAccount, key: ArticleField = "",
              question: ArticleField = "", answer: ArticleField = "", aliases: ArticleField = "",
              system: ArticleField = "", system_other: ArticleField = "", hospital: ArticleField = "",
              status: ArticleField = "") -> Response:
    if not kb_pages.can_edit(session, account):
        return _error_page(request, account, kb_pages.NOT_EDITOR, 403)
    form = kb_pages.ArticleForm.typed(key=key, question=question, answer=answer, aliases=aliases, system=system,
                                      system_other=system_other, hospital=hospital, status=status)
    now = runtime_of(request).clock()
    try:
        data = kb_pages.parse_article(session, form, key=kb_pages.parse_new_key(session, key))
        article = kb_pages.save(session, data, account.username, now)
    except FormError as exc:
        return _article_page(request, session, account, None, form, error=str(exc), status=400)
    audit(session, _editor(account), "kb.article_saved", now, key=article.key, version=article.version,
          status=article.status, created=True)
    request.session["flash"] = f"已新建文章「{article.key}」（第 {article.version} 版）。"
    return RedirectResponse(f"/admin/kb/{article.id}", status_code=303)


@router.get("/admin/kb/review", response_class=HTMLResponse)
def kb_review(request: Request, session: DbSession, account: CurrentAccount) -> Response:
    if not kb_pages.can_edit(session, account):
        return _error_page(request, account, kb_pages.NOT_EDITOR, 403)
    return TEMPLATES.TemplateResponse(request, "kb_review.html", _kb_context(
        request, session, account, page=kb_pages.review_page(session)))


def _synonym_page(request: Request, session: Session, account: Account, *, error: str = "", status: int = 200,
                  form: dict[str, str] | None = None) -> Response:
    return TEMPLATES.TemplateResponse(request, "kb_synonyms.html", _kb_context(
        request, session, account, page=kb_pages.synonym_page(session), error=error, form=form or {},
        max_term=kb_pages.MAX_TERM,
    ), status_code=status)


@router.get("/admin/kb/synonyms", response_class=HTMLResponse)
def kb_synonyms(request: Request, session: DbSession, account: CurrentAccount) -> Response:
    return _synonym_page(request, session, account)


@router.post("/admin/kb/synonyms", response_class=HTMLResponse)
def kb_synonym_add(request: Request, session: DbSession, account: CurrentAccount, term: ArticleField = "",
                   canonical: ArticleField = "") -> Response:
    form = {"term": kb_pages.clean(term)[:100], "canonical": kb_pages.clean(canonical)[:100]}
    if not account.is_admin:
        return _synonym_page(request, session, account, error=kb_pages.ONLY_ADMINS, status=403, form=form)
    now = runtime_of(request).clock()
    try:
        term, canonical = kb_pages.parse_synonym(term, canonical)
        if kb_pages.synonym_taken(session, term):
            raise FormError(f"「{term}」已在同义词表中，请直接修改那一行。")
    except FormError as exc:
        return _synonym_page(request, session, account, error=str(exc), status=400, form=form)
    session.add(Synonym(term=term, canonical=canonical, updated_at=kb_pages.synonym_stamp(session, now)))
    audit(session, _editor(account), "kb.synonym_saved", now, term=term, canonical=canonical, previous=None)
    request.session["flash"] = f"已添加同义词：{term} → {canonical}。"
    return RedirectResponse("/admin/kb/synonyms", status_code=303)


def _synonym_of(session: Session, synonym_id: str) -> Synonym | None:
    number = kb_pages.parse_id(synonym_id)
    return session.get(Synonym, number) if number else None


@router.post("/admin/kb/synonyms/{synonym_id}", response_class=HTMLResponse)
def kb_synonym_change(synonym_id: str, request: Request, session: DbSession, account: CurrentAccount,
                      term: ArticleField = "", canonical: ArticleField = "") -> Response:
    if not account.is_admin:
        return _synonym_page(request, session, account, error=kb_pages.ONLY_ADMINS, status=403)
    row = _synonym_of(session, synonym_id)
    if row is None:
        return _synonym_page(request, session, account, error="没有找到这条同义词，可能已被删除。", status=404)
    now = runtime_of(request).clock()
    try:
        term, canonical = kb_pages.parse_synonym(term, canonical)
        if kb_pages.synonym_taken(session, term, except_id=row.id):
            raise FormError(f"「{term}」已在同义词表中，请直接修改那一行。")
    except FormError as exc:
        return _synonym_page(request, session, account, error=str(exc), status=400)
    previous = f"{row.term} → {row.canonical}"
    row.term, row.canonical, row.updated_at = term, canonical, kb_pages.synonym_stamp(session, now)
    session.add(row)
    audit(session, _editor(account), "kb.synonym_saved", now, term=term, canonical=canonical, previous=previous)
    request.session["flash"] = f"已修改同义词：{term} → {canonical}。"
    return RedirectResponse("/admin/kb/synonyms", status_code=303)


@router.post("/admin/kb/synonyms/{synonym_id}/delete", response_class=HTMLResponse)
def kb_synonym_delete(synonym_id: str, request: Request, session: DbSession, account: CurrentAccount) -> Response:
    if not account.is_admin:
        return _synonym_page(request, session, account, error=kb_pages.ONLY_ADMINS, status=403)
    row = _synonym_of(session, synonym_id)
    if row is None:
        return _synonym_page(request, session, account, error="没有找到这条同义词，可能已被删除。", status=404)
    audit(session, _editor(account), "kb.synonym_deleted", runtime_of(request).clock(), term=row.term,
          canonical=row.canonical)
    session.delete(row)
    request.session["flash"] = f"已删除同义词：{row.term} → {row.canonical}。"
    return RedirectResponse("/admin/kb/synonyms", status_code=303)


@router.get("/admin/kb/try", response_class=HTMLResponse)
def kb_try(request: Request, session: DbSession, account: CurrentAccount, q: str = "",
           hospital: str = "") -> Response:
    scope = hospital_scope(session, account)
    hospitals = [h for h in kb_pages.hospital_choices(session) if scope is None or h.id == scope]
    thresholds = kb_pages.thresholds_of(getattr(request.app.state, "settings", None))
    q, hospital = kb_pages.clean(q)[:kb_pages.MAX_QUERY + 100], kb_pages.clean(hospital)[:100]
    context = _kb_context(request, session, account, q=q, hospital=hospital,
                          hospitals=hospitals, scoped=scope is not None, thresholds=thresholds, result=None)
    try:
        query = kb_pages.parse_query(q)
        chosen = next((h for h in hospitals if h.key == hospital.strip()), None)
        if hospital.strip() and chosen is None:
            raise FormError("请选择医院。")
        hospital_id = scope if scope is not None else (chosen.id if chosen else None)
    except FormError as exc:
        context["error"] = str(exc)
        return TEMPLATES.TemplateResponse(request, "kb_try.html", context, status_code=400)
    if query:
        context["result"] = kb_pages.try_question(session, query, hospital_id, thresholds)
    return TEMPLATES.TemplateResponse(request, "kb_try.html", context)


@router.get("/admin/kb/{article_id}", response_class=HTMLResponse)
def kb_article(article_id: str, request: Request, session: DbSession, account: CurrentAccount) -> Response:
    article = _article_in_scope(session, account, article_id)
    if article is None:
        return _error_page(request, account, "没有找到这篇知识库文章。", 404)
    return _article_page(request, session, account, article)


@router.post("/admin/kb/{article_id}", response_class=HTMLResponse)
def kb_update(article_id: str, request: Request, session: DbSession, account: CurrentAccount,
              question: ArticleField = "", answer: ArticleField = "", aliases: ArticleField = "",
              system: ArticleField = "", system_other: ArticleField = "", hospital: ArticleField = "",
              status: ArticleField = "", version: ArticleField = "") -> Response:
    article = _article_in_scope(session, account, article_id, lock=True)  # PostgreSQL: one editor at a time
    if article is None:
        return _error_page(request, account, "没有找到这篇知识库文章。", 404)
    if not kb_pages.can_edit(session, account):
        return _article_page(request, session, account, article, error=kb_pages.NOT_EDITOR, status=403)
    form = kb_pages.ArticleForm.typed(key=article.key, question=question, answer=answer, aliases=aliases,
                                      system=system, system_other=system_other, hospital=hospital, status=status,
                                      version=version)
    if form.version.strip() != str(article.version):
        return _article_page(request, session, account, article, form, status=409, error=(
            f"这篇文章在您编辑期间已被修改（现在是第 {article.version} 版）："
            "请先复制您的改动，刷新页面，在最新版本上修改。"))
    now = runtime_of(request).clock()
    try:
        data = kb_pages.parse_article(session, form, key=article.key)
        if kb_pages.unchanged(session, article, data) and not article.review_note:
            request.session["flash"] = "没有改动，未生成新版本。"
            return RedirectResponse(f"/admin/kb/{article.id}", status_code=303)
        article = kb_pages.save(session, data, account.username, now)
    except FormError as exc:
        return _article_page(request, session, account, article, form, error=str(exc), status=400)
    audit(session, _editor(account), "kb.article_saved", now, key=article.key, version=article.version,
          status=article.status, created=False)
    note = f"注意：{article.review_note}。" if article.review_note else ""
    request.session["flash"] = f"已保存「{article.key}」第 {article.version} 版。{note}"
    return RedirectResponse(f"/admin/kb/{article.id}", status_code=303)


@router.post("/admin/tickets/{number}/kb-draft", response_class=HTMLResponse)
def ticket_kb_draft(number: str, request: Request, session: DbSession, account: CurrentAccount) -> Response:
    ticket_id = kb_pages.parse_id(number)
    ticket = session.get(Ticket, ticket_id) if ticket_id else None
    scope = hospital_scope(session, account)
    if ticket is None or (scope is not None and ticket.hospital_id != scope):
        return _error_page(request, account, "未找到该工单。", 404)
    if not kb_pages.can_edit(session, account):
        return _error_page(request, account, kb_pages.NOT_EDITOR, 403)
    if ticket.status not in kb_pages.DRAFTABLE:
        return _error_page(request, account, f"工单 #{ticket.id} 还没有解决：解决后才能据此生成知识库草稿。", 400)
    now = runtime_of(request).clock()
    draft_id, made = kb_pages.draft(session, ticket, account.username, now)
    if made:
        audit(session, _editor(account), "kb.article_drafted", now, ticket_id=ticket.id,
              key=kb_pages.draft_key(ticket))
        request.session["flash"] = f"已根据工单 #{ticket.id} 生成草稿：请核对问题与答案，改为「已发布」后机器人才会用它。"
    else:
        request.session["flash"] = f"工单 #{ticket.id} 已生成过知识库文章，以下是那篇文章。"
    return RedirectResponse(f"/admin/kb/{draft_id}", status_code=303)


# -- mail intake ----------------------------------------------------------------------------------

def _mail_page(request: Request, session: Session, account: Account, status: str = "", *, error: str = "",
               code: int = 200, form: dict[str, str] | None = None) -> Response:
    try:
        statuses = mail_pages.parse_status(status)
    except FormError as exc:
        error, code, status, statuses = str(exc), 400, "", mail_pages.NOT_ACCEPTED
    return TEMPLATES.TemplateResponse(request, "mail.html", {
        "account": account, "page": mail_pages.mail_page(session, statuses), "status": status,
        "statuses": mail_store.STATUS_ZH, "error": error, "notice": request.session.pop("flash", ""),
        "form": form or {}, "limit": mail_pages.LIST_LIMIT,
    }, status_code=code)


def _mail_item(session: Session, item_id: str) -> mail_store.MailItem | None:
    number = kb_pages.parse_id(item_id)
    return session.get(mail_store.MailItem, number) if number else None


def _mail_refusal(request: Request, account: Account) -> Response:
    """Mail pages are admins' (held mail names senders and their words); then the item must exist."""
    if not account.is_admin:
        return _error_page(request, account, mail_pages.ONLY_ADMINS, 403)
    return _error_page(request, account, "没有找到这封邮件。", 404)


@router.get("/admin/mail", response_class=HTMLResponse)
def mail_list(request: Request, session: DbSession, account: CurrentAccount, status: str = "") -> Response:
    """Admins only: held mail names senders and their words, whichever hospital they claim to be from."""
    if not account.is_admin:
        return _error_page(request, account, mail_pages.ONLY_ADMINS, 403)
    return _mail_page(request, session, account, kb_pages.clean(status)[:20])


@router.post("/admin/mail/domains", response_class=HTMLResponse)
def mail_domains_set(request: Request, session: DbSession, account: CurrentAccount,
                     hospital: Annotated[str, Form()] = "", domains: Annotated[str, Form()] = "") -> Response:
    """A hospital's mail domains decide which strangers' mail opens a ticket there: audited, admins only."""
    form = {"hospital": hospital[:20], "domains": kb_pages.clean(domains)[:1000]}
    if not account.is_admin:
        return _error_page(request, account, mail_pages.ONLY_ADMINS_DOMAINS, 403)
    number = kb_pages.parse_id(hospital)
    target = session.get(Hospital, number) if number else None
    try:
        if target is None:
            raise FormError("请选择医院。")
        new = mail_pages.parse_domains(domains[:2000])
        mail_pages.domain_clash(session, target, new)
    except FormError as exc:
        return _mail_page(request, session, account, error=str(exc), code=400, form=form)
    old, target.mail_domains = list(target.mail_domains), new
    session.add(target)
    service.audit(session, _editor(account), "hospital.mail_domains_set", runtime_of(request).clock(),
                  hospital=target.key, old=old, new=new)
    request.session["flash"] = f"{target.name}的邮箱域名已设为：{'、'.join(new) or '（无）'}。"
    return RedirectResponse(f"/admin/mail#hospital-{target.id}", status_code=303)


@router.get("/admin/mail/{item_id}", response_class=HTMLResponse)
def mail_item(item_id: str, request: Request, session: DbSession, account: CurrentAccount) -> Response:
    item = _mail_item(session, item_id)
    if not account.is_admin or item is None:
        return _mail_refusal(request, account)
    return TEMPLATES.TemplateResponse(request, "mail_item.html", {
        "account": account, "view": mail_pages.item_view(session, item), "notice": request.session.pop("flash", ""),
    })


@router.get("/admin/mail/{item_id}/raw")
def mail_raw(item_id: str, request: Request, session: DbSession, account: CurrentAccount) -> Response:
    """The mail as it arrived, the evidence for a dispute; a download, never rendered."""
    item = _mail_item(session, item_id)
    if not account.is_admin or item is None:
        return _mail_refusal(request, account)
    return Response(item.raw, media_type="message/rfc822",
                    headers=mail_pages.download_headers(f"mail-{item.id}.eml", inline=False))


@router.post("/admin/mail/{item_id}/release", response_class=HTMLResponse)
def mail_release(item_id: str, request: Request, session: DbSession, account: CurrentAccount) -> Response:
    """Send a held mail on as a person's mail; the inbound worker is woken once the journal entry is committed."""
    item = _mail_item(session, item_id)
    if not account.is_admin or item is None:
        return _mail_refusal(request, account)
    runtime = runtime_of(request)
    now = runtime.clock()
    if not mail_store.release(session, item.id or 0, account.username, now):
        return _error_page(request, account, f"邮件 #{item.id} 现在是「{mail_pages.status_text(item.status)}」，"
                           "只有待审核、已忽略或处理出错的邮件可以放行。", 409)
    audit(session, _editor(account), "mail.released", now, mail_item_id=item.id, sender=item.from_addr,
          subject=item.subject)
    request.session["flash"] = f"邮件 #{item.id} 已放行，将按正常来信处理（建单或补充到原工单）。"
    # After the response's commit (the session dependency ends first): a worker woken earlier finds nothing.
    return RedirectResponse(f"/admin/mail/{item.id}", status_code=303, background=BackgroundTask(runtime.wake_inbound))


@router.get("/admin/attachments/{attachment_id}")
def attachment_file(attachment_id: str, request: Request, session: DbSession, account: CurrentAccount) -> Response:
    """A mail's file, to whoever may see its ticket; only raster images are shown inline."""
    number = kb_pages.parse_id(attachment_id)
    file = session.get(mail_store.MailAttachment, number) if number else None
    ticket = session.get(Ticket, file.ticket_id) if file is not None and file.ticket_id else None
    if file is None or not mail_pages.may_see(ticket, hospital_scope(session, account), account.is_admin):
        return _error_page(request, account, "没有找到这个附件。", 404)
    if file.data is None:
        return _error_page(request, account, f"附件「{file.filename}」超过大小上限，未保存。", 404)
    kind = mail_pages.media_type(file)
    return Response(file.data, media_type=kind,
                    headers=mail_pages.download_headers(file.filename, inline=kind in mail_pages.INLINE_TYPES))
