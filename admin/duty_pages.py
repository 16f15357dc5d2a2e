"""The contract duties page of the admin panel (issue 6): each duty period of a contract —
due, state, time left — with the form that closes it by uploading its report, and the
download of the reports uploaded.

Vendor staff (admins, engineers, managers) upload; a hospital's own account reads its
own contracts' duties and downloads their reports. Every upload is audited
(``tickets.duties.complete``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from admin.mail_pages import download_headers, size_text
from admin.sla_pages import local_time
from admin.web import TEMPLATES, CurrentAccount, DbSession, contract_in_scope, is_vendor_staff, runtime_of
from tickets import duties
from tickets.audit import Actor
from tickets.models import (
    DUTY_STATUS_NAMES,
    Account,
    Contract,
    Duty,
    DutyReport,
    DutyStatus,
    Hospital,
)

router = APIRouter()

NOT_VENDOR = "只有维保服务方的人员可以上传报告。"


@dataclass
class DutyRow:
    id: int
    title: str
    name: str
    period: str
    due: str
    status: str
    status_text: str
    left: str  # 剩余 6 天 8 小时 / 已逾期 2 天 / —
    overdue: bool
    done: str  # 2026-12-28 10:00:00 张伟
    report: str  # the uploaded file's name
    report_size: str
    penalty: str
    late: bool  # closed after it was missed
    clause: str
    closes_with: str


def left_text(due: datetime, now: datetime) -> str:
    """Whole days and hours: a duty is weeks away, a countdown in seconds would only distract."""
    seconds = int((due - now).total_seconds())
    days, rest = divmod(abs(seconds), 86400)
    span = f"{days} 天 {rest // 3600} 小时" if days else f"{rest // 3600} 小时 {rest % 3600 // 60} 分钟"
    return f"剩余 {span}" if seconds >= 0 else f"已逾期 {span}"


def duty_rows(session: Session, contract: Contract, tz: str, now: datetime) -> list[DutyRow]:
    rows = []
    for d in duties.duties_of(session, contract):
        spec = duties.spec_of(contract, d)
        pending = d.status == DutyStatus.PENDING
        rows.append(DutyRow(
            id=d.id or 0, title=duties.title(d), name=d.name,
            period=f"{d.period_start.isoformat()} 至 {d.period_end.isoformat()}", due=local_time(d.due_at, tz)[:16],
            status=d.status, status_text=DUTY_STATUS_NAMES.get(d.status, d.status),
            left=left_text(d.due_at, now) if pending else "—", overdue=pending and now > d.due_at,
            done=f"{local_time(d.done_at, tz)[:16]} {d.done_by}" if d.done_at else "",
            report=d.report_filename, report_size=size_text(d.report_size) if d.report_size else "",
            penalty=f"{d.penalty_yuan:,.2f} 元" if d.penalty_yuan is not None and d.missed_at else "",
            late=d.missed_at is not None and d.status == DutyStatus.DONE, clause=d.clause,
            closes_with=spec.closes_with if spec else "报告",
        ))
    return rows


def _duty(session: Session, account: Account, contract: Contract, duty_id: str) -> Duty | None:
    number = int(duty_id) if duty_id.isdigit() and len(duty_id) <= 9 else 0
    duty = session.get(Duty, number) if number else None
    return duty if duty is not None and duty.contract_id == contract.id else None


def _page(request: Request, session: Session, account: Account, contract: Contract, *, error: str = "",
          status: int = 200) -> Response:
    hospital = session.get(Hospital, contract.hospital_id)
    tz = hospital.timezone if hospital else "Asia/Shanghai"
    now = runtime_of(request).clock()
    return TEMPLATES.TemplateResponse(request, "duties.html", {
        "account": account, "contract": contract, "hospital": hospital, "rows": duty_rows(session, contract, tz, now),
        "can_upload": is_vendor_staff(session, account), "error": error, "notice": request.session.pop("flash", ""),
        "max_mb": duties.MAX_REPORT_BYTES // (1024 * 1024),
    }, status_code=status)


def _missing(request: Request, account: Account, what: str) -> Response:
    return TEMPLATES.TemplateResponse(request, "error.html", {"account": account, "message": what}, status_code=404)


@router.get("/admin/contracts/{key}/duties", response_class=HTMLResponse)
def duty_list(key: str, request: Request, session: DbSession, account: CurrentAccount) -> Response:
    contract = contract_in_scope(session, account, key)
    if contract is None:
        return _missing(request, account, f"没有找到合同「{key[:64]}」。")
    return _page(request, session, account, contract)


@router.post("/admin/contracts/{key}/duties/{duty_id}/report", response_class=HTMLResponse)
def duty_upload(key: str, duty_id: str, request: Request, session: DbSession, account: CurrentAccount,
                      file: Annotated[UploadFile | None, File()] = None,
                      note: Annotated[str, Form()] = "") -> Response:
    """Uploading the report closes the duty (audited); its pending reminders are cancelled."""
    contract = contract_in_scope(session, account, key)
    duty = _duty(session, account, contract, duty_id) if contract else None
    if contract is None or duty is None:
        return _missing(request, account, "没有找到这项合同义务。")
    if not is_vendor_staff(session, account):
        return _page(request, session, account, contract, error=NOT_VENDOR, status=403)
    if file is None or not file.filename:
        return _page(request, session, account, contract, error="请选择要上传的报告文件。", status=400)
    data = file.file.read(duties.MAX_REPORT_BYTES + 1)  # one byte more than allowed: "too large" is then known
    now = runtime_of(request).clock()
    try:
        duties.complete(session, duty, Actor(account.username, account.person_id),
                        duties.UploadedFile(file.filename, file.content_type or "", data), now, note=note[:1000])
    except duties.DutyError as exc:
        return _page(request, session, account, contract, error=str(exc), status=400)
    request.session["flash"] = f"已上传「{duties.title(duty)}」的报告，该项义务已完成。"
    return RedirectResponse(f"/admin/contracts/{contract.key}/duties#duty-{duty.id}", status_code=303)


@router.get("/admin/contracts/{key}/duties/{duty_id}/report")
def duty_report(key: str, duty_id: str, request: Request, session: DbSession, account: CurrentAccount) -> Response:
    """The latest report uploaded for the duty, to whoever may see the contract: always a download,
    never rendered (an uploaded file must not run as a page of ours)."""
    contract = contract_in_scope(session, account, key)
    duty = _duty(session, account, contract, duty_id) if contract else None
    report: DutyReport | None = duties.latest_report(session, duty) if duty else None
    if report is None:
        return _missing(request, account, "这项合同义务还没有上传报告。")
    return Response(report.data, media_type="application/octet-stream",
                    headers=download_headers(report.filename, inline=False))
