"""The hotline channel's edges (issue 7, docs/hotline-format.md): the HTTP endpoint, file imports,
the drop folder, and the integrations' API tokens.

Every way in ends in ``Runtime.accept``: the durable journal, unique by (channel, call id),
so a call posted twice — or by two web workers at once — is taken once, and the bot turns
it into a ticket on the inbound worker like any channel's message. Every seed promises a
7×24 热线电话; the call's start, not the moment it was typed in, is the report's time.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import secrets
import shutil
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlmodel import Session, select

from admin.runtime import Runtime
from bot.hotline_flow import call_message
from intake.hotline import CallRecord, CallRecordError, parse_json, read_file
from tickets.models import ApiToken

log = logging.getLogger(__name__)
SUFFIXES = (".csv", ".jsonl", ".ndjson")
router = APIRouter()


# -- tokens ---------------------------------------------------------------------------------------

def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, name: str, now: datetime) -> str:
    """A new integration token; only its hash is stored, so the returned token is shown once."""
    token = "hl_" + secrets.token_urlsafe(32)
    session.add(ApiToken(name=name, token_hash=_hash(token), created_at=now, active=True))
    session.flush()
    return token


def check_token(session: Session, token: str) -> ApiToken | None:
    """The active integration the token belongs to, or None."""
    if not token:
        return None
    row = session.exec(select(ApiToken).where(ApiToken.token_hash == _hash(token))).first()
    return row if row is not None and row.active else None


# -- taking calls ---------------------------------------------------------------------------------

def submit(runtime: Runtime, record: CallRecord, *, agent_person_id: int | None = None,
           extra: dict[str, object] | None = None) -> bool:
    """Journal one call; True if it is new (False: this call id was taken before)."""
    msg = call_message(record, runtime.clock(), agent_person_id=agent_person_id, extra=dict(extra or {}))
    return runtime.accept(msg)


@dataclass
class ImportResult:
    created: int = 0
    duplicates: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)

    def lines(self) -> list[str]:
        return [f"第 {line} 行：{reason}" for line, reason in self.errors]


def import_file(runtime: Runtime, name: str, data: bytes) -> ImportResult:
    """A JSON Lines or CSV file: good rows journaled one by one, bad rows named by line.

    Raises ``ValueError`` when the file as a whole cannot be read (encoding, suffix, header).
    """
    rows = read_file(name, data, now=runtime.clock())
    if len(rows) == 1 and rows[0].line == 1 and rows[0].error is not None \
            and rows[0].error.errors[0].field == "表头":
        raise ValueError(str(rows[0].error))
    result = ImportResult()
    for row in rows:
        if row.record is None:
            result.errors.append((row.line, str(row.error)))
        elif submit(runtime, row.record):
            result.created += 1
        else:
            result.duplicates += 1
    return result


# -- the drop folder ------------------------------------------------------------------------------

def scan_drop_folder(runtime: Runtime, folder: Path) -> int:
    """Import every finished file in ``folder`` (``*.part`` is still being written); how many were taken."""
    folder.mkdir(parents=True, exist_ok=True)
    taken = 0
    for path in sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES):
        try:
            result = import_file(runtime, path.name, path.read_bytes())
            problems = result.lines()
        except ValueError as exc:
            problems = [f"整个文件无法读取：{exc}"]
        _file_away(folder, path, problems)
        taken += 1
        log.info("hotline drop: %s taken (%d problems)", path.name, len(problems))
    return taken


def _file_away(folder: Path, path: Path, problems: list[str]) -> None:
    target = folder / ("failed" if problems else "done")
    target.mkdir(exist_ok=True)
    dest = target / path.name
    shutil.move(str(path), dest)  # a file of the same name dropped again replaces the earlier one
    if problems:
        (target / f"{path.name}.errors.txt").write_text("\n".join(problems) + "\n", encoding="utf-8")


async def run_drop_folder(runtime: Runtime, folder: Path, interval_s: float) -> None:
    """The Runtime job: poll the drop folder every few seconds."""
    while True:
        try:
            if await asyncio.to_thread(scan_drop_folder, runtime, folder):
                runtime.wake_inbound()
        except Exception:
            log.exception("hotline drop folder %s: pass failed; retrying", folder)
        await asyncio.sleep(interval_s)


# -- the endpoint ---------------------------------------------------------------------------------

@router.post("/intake/hotline")
async def post_call(request: Request) -> JSONResponse:
    """One call record per request: 201 new, 200 duplicate, 400 with every field problem, 401 bad token."""
    runtime: Runtime = request.app.state.runtime
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    with runtime.db.session() as session:
        integration = check_token(session, token.strip()) if scheme.lower() == "bearer" else None
        name = integration.name if integration else ""
    if integration is None:
        return JSONResponse({"error": "令牌无效"}, status_code=401)
    try:
        obj = json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return JSONResponse({"errors": [{"field": "记录", "message": f"不是合法的 JSON：{exc}"}]}, status_code=400)
    try:
        record = parse_json(obj, now=runtime.clock())
    except CallRecordError as exc:
        return JSONResponse({"errors": [{"field": e.field, "message": e.message} for e in exc.errors]},
                            status_code=400)
    is_new = await asyncio.to_thread(submit, runtime, record, extra={"integration": name})
    return JSONResponse({"call_id": record.call_id, "status": "created" if is_new else "duplicate"},
                        status_code=201 if is_new else 200)
