"""The intranet web chat: pick a person, talk to the bot as them.

Engineers also see the engineers' group notices, as they would in their
WeCom group. Picking any person is for demos and trusted intranets; it is
switched off with ``HELPDESK_WEBCHAT_PICKER=false``.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field
from sqlmodel import col, select

from admin.web import TEMPLATES, DbSession, runtime_of
from intake import webchat
from tickets.models import ENGINEER_ROLES, Hospital, Person

router = APIRouter()
ROLE_TEXT = {"reporter": "报障人", "engineer": "工程师", "manager": "服务经理", "hospital_admin": "信息科"}


def _require_picker(request: Request) -> None:
    if not request.app.state.settings.webchat_picker:
        raise HTTPException(403, "网页聊天的身份选择已关闭，请通过企业微信联系服务台")


@router.get("/chat", response_class=HTMLResponse)
def chat_page(request: Request) -> Response:
    _require_picker(request)
    return TEMPLATES.TemplateResponse(request, "chat.html", {})


class PersonOut(BaseModel):
    id: int
    name: str
    role: str
    role_text: str
    hospital: str
    department: str
    is_engineer: bool


@router.get("/chat/api/people")
def people(request: Request, session: DbSession) -> list[PersonOut]:
    _require_picker(request)
    hospitals = {h.id: h.name for h in session.exec(select(Hospital))}
    rows = session.exec(select(Person).where(Person.active == True).order_by(col(Person.id))).all()  # noqa: E712
    return [PersonOut(id=p.id or 0, name=p.name, role=p.role, role_text=ROLE_TEXT.get(p.role, p.role),
                      hospital=hospitals.get(p.hospital_id, "服务商"), department=p.department,
                      is_engineer=p.role in ENGINEER_ROLES) for p in rows]


class SendIn(BaseModel):
    person_id: int
    text: str = Field(min_length=1, max_length=webchat.MAX_TEXT)
    client_id: str = Field(min_length=8, max_length=64)


@router.post("/chat/api/messages")
def send(body: SendIn, request: Request) -> dict[str, object]:
    _require_picker(request)
    if not re.fullmatch(r"[A-Za-z0-9_-]+", body.client_id):
        raise HTTPException(422, "client_id 格式不对")
    runtime = runtime_of(request)
    now = runtime.clock()
    with runtime.db.session() as session:
        person = session.get(Person, body.person_id)
        if person is None or not person.active:
            raise HTTPException(404, "没有这个人")
        msg = webchat.inbound(person.id or 0, body.text.strip(), body.client_id, now, person.name)
    is_new = runtime.accept(msg, also=lambda session: webchat.echo(session, body.person_id, msg.text, now))
    return {"ok": True, "duplicate": not is_new}


class LineOut(BaseModel):
    id: int
    direction: str
    group: bool
    text: str
    at: str


@router.get("/chat/api/lines")
def lines(request: Request, session: DbSession, person_id: int, after: Annotated[int, "last seen id"] = 0) -> list[LineOut]:
    _require_picker(request)
    person = session.get(Person, person_id)
    if person is None:
        raise HTTPException(404, "没有这个人")
    rows = webchat.lines_for(session, person_id, after=after, with_engineers=person.role in ENGINEER_ROLES)
    return [LineOut(id=r.id or 0, direction=r.direction, group=r.audience == webchat.ENGINEERS, text=r.text,
                    at=r.at.isoformat()) for r in rows]
