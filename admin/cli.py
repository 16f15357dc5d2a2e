"""``helpdesk`` — the one console script: serve, migrate, demo data, people, tickets.

Messages for people are Chinese; logs are English.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import json
import logging
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import Session, col, select

from admin import cli_hotline, cli_kb, cli_mail, cli_sla
from admin.migrate import NotMigrated, check_current, migrate
from admin.passwords import generate_password, hash_password
from admin.settings import Settings
from intake import InboundRecord, journal
from sla import policy_from
from tickets import Database, outbox, people, service, utcnow
from tickets.audit import SYSTEM, audit
from tickets.clocks import clocks_of
from tickets.models import Account, Contract, CoveredSystem, Hospital, Outbox, OutboxStatus, Person, Ticket

log = logging.getLogger("helpdesk")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = Settings()
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if getattr(args, "run", None) is not cmd_migrate:  # alembic narrates every revision check otherwise
        logging.getLogger("alembic").setLevel(logging.WARNING)
    if not hasattr(args, "run"):
        _parser().print_help()
        return 2
    try:
        return int(args.run(settings, args) or 0)
    except NotMigrated as exc:
        log.error("%s", exc)
        print("数据库尚未迁移到当前版本，请先运行：helpdesk migrate", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="helpdesk", description="维保服务台")
    sub = p.add_subparsers(title="commands")

    s = sub.add_parser("serve", help="启动 Web 服务（后台、网页聊天、企业微信回调）")
    s.add_argument("--host")
    s.add_argument("--port", type=int)
    s.set_defaults(run=cmd_serve)

    s = sub.add_parser("worker", help="只运行后台处理（收到的消息、待发送消息、邮箱收取），不提供 Web 服务")
    s.set_defaults(run=cmd_worker)

    s = sub.add_parser("migrate", help="把数据库结构升级到当前版本")
    s.set_defaults(run=cmd_migrate)

    s = sub.add_parser("demo", help="载入演示数据（五家医院、合同、人员），可重复运行")
    s.set_defaults(run=cmd_demo)

    s = sub.add_parser("createuser", help="创建后台登录账户，或用 --reset 重置密码")
    s.add_argument("username")
    s.add_argument("--person", help="关联人员的企业微信账号或邮箱")
    s.add_argument("--admin", action="store_true", help="管理员")
    s.add_argument("--reset", action="store_true", help="账户已存在时重置密码")
    s.add_argument("--password-stdin", action="store_true", help="从标准输入读密码（否则随机生成）")
    s.set_defaults(run=cmd_createuser)

    pe = sub.add_parser("people", help="人员通讯录").add_subparsers(title="people commands")
    s = pe.add_parser("import", help="从 CSV 导入人员（按企业微信账号或邮箱去重）")
    s.add_argument("file", type=Path)
    s.set_defaults(run=cmd_people_import)

    wc = sub.add_parser("wecom", help="企业微信").add_subparsers(title="wecom commands")
    s = wc.add_parser("create-group", help="创建工程师群（应用群聊），打印 chatid 供 HELPDESK_WECOM_ENGINEER_CHATID 使用")
    s.add_argument("name", help="群名称")
    s.add_argument("--owner", required=True, help="群主的企业微信账号")
    s.add_argument("--members", required=True, help="成员账号，逗号分隔（至少 2 人，含群主）")
    s.add_argument("--chatid", help="指定 chatid（字母数字，最长 32 位）")
    s.set_defaults(run=cmd_wecom_create_group)
    s = wc.add_parser("hospital-group", help="设置某医院自己的工程师群（其工单发到该群，不发共享群）")
    s.add_argument("hospital", help="医院代码，例如 wuhan-central")
    s.add_argument("chatid", nargs="?", default="", help="群的 chatid；省略则改回共享群")
    s.set_defaults(run=cmd_wecom_hospital_group)

    ob = sub.add_parser("outbox", help="待发送消息").add_subparsers(title="outbox commands")
    s = ob.add_parser("status", help="各状态的消息数，并列出发送失败的消息")
    s.set_defaults(run=cmd_outbox_status)
    s = ob.add_parser("retry", help="重新发送已放弃（dead）的消息")
    s.add_argument("ids", type=int, nargs="*", help="消息编号；不写则全部")
    s.set_defaults(run=cmd_outbox_retry)

    ib = sub.add_parser("inbound", help="收到的消息").add_subparsers(title="inbound commands")
    s = ib.add_parser("status", help="各状态的消息数，并列出处理失败的消息")
    s.set_defaults(run=cmd_inbound_status)
    s = ib.add_parser("retry", help="重新处理失败的消息（修复问题后）")
    s.set_defaults(run=cmd_inbound_retry)

    tk = sub.add_parser("tickets", help="查看工单").add_subparsers(title="tickets commands")
    s = tk.add_parser("list", help="列出工单")
    s.add_argument("--json", action="store_true")
    s.add_argument("--limit", type=int, default=200)
    s.set_defaults(run=cmd_tickets_list)
    s = tk.add_parser("show", help="查看一张工单及其消息")
    s.add_argument("number", type=int)
    s.add_argument("--json", action="store_true")
    s.set_defaults(run=cmd_tickets_show)

    cli_sla.add_parsers(sub)
    cli_kb.add_parsers(sub, _db)
    cli_mail.add_parsers(sub, _db)
    cli_hotline.add_parsers(sub, _db)
    return p


def _db(settings: Settings, *, migrated: bool = True) -> Database:
    settings.ensure_var_dir()
    db = Database(settings.database_url)
    if migrated:
        check_current(db.engine)
    return db


# -- commands -------------------------------------------------------------------------

def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from admin.app import create_app

    settings.ensure_var_dir()
    app = create_app(settings)
    host, port = args.host or settings.host, args.port or settings.port
    print(f"维保服务台：http://{host}:{port}/chat （网页聊天）  http://{host}:{port}/admin （管理后台）", flush=True)
    uvicorn.run(app, host=host, port=port, log_level=settings.log_level.lower(), access_log=False)
    return 0


def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    """Workers without the web server: several of these (and web processes with
    HELPDESK_WORKERS=false) share the work through the database."""
    import asyncio

    from admin.app import build_runtime

    settings.ensure_var_dir()
    runtime = build_runtime(settings)
    check_current(runtime.db.engine)

    async def run() -> None:
        runtime.attach(asyncio.get_running_loop())
        await asyncio.gather(*runtime.jobs())

    print("后台处理已启动（Ctrl+C 停止）。", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
    return 0


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    settings.ensure_var_dir()
    added = migrate(settings.database_url, utcnow())
    print("数据库已是最新版本。")
    if added:
        print(f"已载入法定节假日：{added[0]}–{added[-1]} 年。" if len(added) > 1 else f"已载入法定节假日：{added[0]} 年。")
    return 0


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    from admin.demo import load_demo, load_starter_knowledge
    from knowledge import Article
    from tickets.duties import schedule_all
    from tickets.models import Duty

    db = _db(settings)
    with db.session() as session:
        username, password = load_demo(session, settings.var_dir, utcnow())
        schedule_all(session, utcnow())  # the demo contracts' inspections, tests, acceptances
    with db.session() as session:
        kb = load_starter_knowledge(session, utcnow())
        articles = session.exec(select(func.count()).select_from(Article)).one()
        # Totals, not what this run added: the demo command is run again and again (make run).
        people_n = session.exec(select(func.count()).select_from(Person)).one()
        duties = session.exec(select(func.count()).select_from(Duty)).one()
    if kb.errors:
        log.error("starter knowledge base: %s", kb.errors)
    print(f"演示数据已就绪：5 家医院、5 份合同、{people_n} 位人员。")
    print(f"知识库：{articles} 篇文章。")
    print(f"合同义务：已排期 {duties} 项（巡检、备份恢复测试、交付物、验收等）。")
    print(f"管理后台账户：{username}  密码：{password}")
    return 0


def cmd_createuser(settings: Settings, args: argparse.Namespace) -> int:
    db = _db(settings)
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else generate_password()
    if len(password) < 8:
        print("密码至少 8 位。", file=sys.stderr)
        return 1
    now = utcnow()
    with db.session() as session:
        account = session.exec(select(Account).where(Account.username == args.username)).first()
        if account is not None and not args.reset:
            print(f"账户 {args.username} 已存在；要重置密码请加 --reset。", file=sys.stderr)
            return 1
        person_id = _person_id(session, args.person) if args.person else None
        if args.person and person_id is None:
            print(f"通讯录里没有 {args.person}。", file=sys.stderr)
            return 1
        account = account or Account(username=args.username, password_hash="", created_at=now)
        account.password_hash = hash_password(password)
        account.is_admin = account.is_admin or args.admin
        account.person_id = person_id or account.person_id
        session.add(account)
        service.audit(session, service.Actor(getpass.getuser()), "account.saved", now, username=args.username,
                      reset=bool(args.reset))
    print(f"账户：{args.username}" + ("" if args.password_stdin else f"  密码：{password}"))
    return 0


def _person_id(session: Session, ref: str) -> int | None:
    person = session.exec(select(Person).where((Person.wecom_userid == ref) | (Person.email == ref.lower()))).first()
    return person.id if person else None


def cmd_people_import(settings: Settings, args: argparse.Namespace) -> int:
    if not args.file.is_file():
        print(f"找不到文件：{args.file}", file=sys.stderr)
        return 1
    db = _db(settings)
    with db.session() as session:
        try:
            report = people.import_people_file(session, args.file, utcnow())
        except ValueError as exc:
            print(f"无法读取 {args.file}：{exc}", file=sys.stderr)
            return 1
    print(f"新增 {report.added} 人，更新 {report.updated} 人，未变 {report.unchanged} 人，出错 {len(report.errors)} 行。")
    for line, reason in report.errors:
        print(f"  第 {line} 行：{reason}", file=sys.stderr)
    return 1 if report.errors else 0


def cmd_wecom_create_group(settings: Settings, args: argparse.Namespace) -> int:
    from intake.wecom import WeComClient, WeComError

    if not settings.wecom_send_enabled:
        print("请先设置 HELPDESK_WECOM_CORP_ID、HELPDESK_WECOM_SECRET、HELPDESK_WECOM_AGENT_ID。", file=sys.stderr)
        return 2
    members = [m.strip() for m in args.members.split(",") if m.strip()]
    if args.owner not in members:
        members.insert(0, args.owner)
    if len(members) < 2:
        print("群成员至少 2 人。", file=sys.stderr)
        return 1
    client = WeComClient(settings.wecom_corp_id, settings.wecom_secret, settings.wecom_agent_id,
                         api_base=settings.wecom_api_base)
    try:
        chatid = client.appchat_create(args.name, args.owner, members, args.chatid)
        client.appchat_send_text(chatid, "维保服务台：新工单会发到这个群。")  # WeCom shows a new group only after a message
    except WeComError as exc:
        print(f"企业微信拒绝了请求：{exc.errcode} {exc.errmsg}", file=sys.stderr)
        return 1
    finally:
        client.close()
    print(chatid)
    return 0


def cmd_wecom_hospital_group(settings: Settings, args: argparse.Namespace) -> int:
    db = _db(settings)
    with db.session() as session:
        hospital = session.exec(select(Hospital).where(Hospital.key == args.hospital)).first()
        if hospital is None:
            print(f"没有医院代码 {args.hospital}。", file=sys.stderr)
            return 1
        old, hospital.engineer_chatid = hospital.engineer_chatid, args.chatid.strip()
        session.add(hospital)
        audit(session, SYSTEM, "hospital.engineer_group_set", utcnow(), hospital=hospital.key, old=old,
              new=hospital.engineer_chatid)
        print(f"{hospital.name}：{hospital.engineer_chatid or '使用共享工程师群'}")
    return 0


def cmd_outbox_status(settings: Settings, args: argparse.Namespace) -> int:
    db = _db(settings)
    with db.session() as session:
        print("待发送消息：" + _counts(outbox.counts(session)))
        for row in session.exec(select(Outbox).where(Outbox.status == OutboxStatus.DEAD).order_by(col(Outbox.id))):
            print(f"  [{row.id}] {row.channel}:{row.recipient} 尝试 {row.attempts} 次，最后错误：{row.last_error}")
    return 0


def _counts(counts: dict[str, int]) -> str:
    return "，".join(f"{status} {n}" for status, n in sorted(counts.items())) or "无"


def cmd_outbox_retry(settings: Settings, args: argparse.Namespace) -> int:
    db = _db(settings)
    with db.session() as session:
        ids = args.ids or list(session.exec(select(Outbox.id).where(Outbox.status == OutboxStatus.DEAD)))
        done = [i for i in ids if outbox.requeue(session, i, utcnow())]
    print(f"已重新排队 {len(done)} 条消息。")
    return 0 if len(done) == len(ids) else 1


def cmd_inbound_status(settings: Settings, args: argparse.Namespace) -> int:
    db = _db(settings)
    with db.session() as session:
        print("收到消息：" + _counts(journal.count_by_status(session)))
        failed = select(InboundRecord).where(InboundRecord.status == journal.FAILED).order_by(col(InboundRecord.id))
        for rec in session.exec(failed):
            print(f"  [{rec.id}] {rec.channel}:{rec.sender} {rec.external_id} 错误：{rec.error}")
    return 0


def cmd_inbound_retry(settings: Settings, args: argparse.Namespace) -> int:
    db = _db(settings)
    with db.session() as session:
        n = journal.retry_failed(session)
    print(f"已重新排队 {n} 条消息。")
    return 0


def cmd_tickets_list(settings: Settings, args: argparse.Namespace) -> int:
    db = _db(settings)
    with db.session() as session:
        tickets = session.exec(select(Ticket).order_by(col(Ticket.id).desc()).limit(args.limit)).all()
        records = [ticket_record(session, t) for t in tickets]
    if args.json:
        _print_json(records)
        return 0
    if not records:
        print("还没有工单。")
    for r in records:
        print(f"#{r['number']:<5} {r['status']:<8} {r['hospital_key']:<16} {r['severity']:<9} "
              f"报障 {r['reported_at_local']}  响应时限 {r['response_due_at_local'] or '—'}  {r['summary']}")
    return 0


def cmd_tickets_show(settings: Settings, args: argparse.Namespace) -> int:
    db = _db(settings)
    with db.session() as session:
        ticket = session.get(Ticket, args.number)
        if ticket is None:
            print(f"未找到工单 #{args.number}。", file=sys.stderr)
            return 1
        record = ticket_record(session, ticket, with_messages=True)
    if args.json:
        _print_json(record)
        return 0
    for key in ("number", "status", "hospital", "system", "severity", "severity_confirmed", "reporter",
                "reported_at_local", "response_due_at_local", "first_response_at_local", "assignee"):
        print(f"{key:>24}: {record[key]}")
    for c in record["clocks"]:
        state = {"running": "计时中", "paused": "已暂停", "stopped": "已停止"}.get(c["state"], c["state"])
        flags = ("  超时" if c["breached"] else "") + ("  节假日未确认" if not c["calendar_confirmed"] else "")
        print(f"  时钟 {c['name']:<11} {state}  截止 {c['due_at'] or '—'}{flags}  [{c['clause']}]")
    for m in record["messages"]:
        print(f"  [{m['direction']}] {m['channel']:<8} {m['channel_ts']}  {m['author']}: {m['text']}")
    return 0


def ticket_record(session: Session, t: Ticket, *, with_messages: bool = False) -> dict[str, Any]:
    """A ticket as plain data, for scripts (``--json``) and operators."""
    hospital = session.get(Hospital, t.hospital_id)
    contract = session.get(Contract, t.contract_id)
    system = session.get(CoveredSystem, t.system_id) if t.system_id else None
    reporter = session.get(Person, t.reporter_id)
    assignee = session.get(Person, t.assignee_id) if t.assignee_id else None
    tz = ZoneInfo(hospital.timezone if hospital else "Asia/Shanghai")

    def iso(ts: datetime | None) -> str | None:
        return ts.isoformat() if ts else None

    def local(ts: datetime | None) -> str | None:  # the hospital's own clock, for people reading it
        return ts.astimezone(tz).isoformat() if ts else None

    level = policy_from(contract.sla_policy).level(t.severity) if contract else None
    record: dict[str, Any] = {
        "number": t.id, "status": t.status, "hospital": hospital.name if hospital else None,
        "hospital_key": hospital.key if hospital else None, "contract": contract.key if contract else None,
        "system": system.name if system else None, "severity": t.severity,
        "severity_name": level.name if level else None, "severity_confirmed": t.severity_confirmed,
        "kind": t.kind, "summary": t.summary, "reporter": reporter.name if reporter else None,
        "assignee": assignee.name if assignee else None,
        "reported_at": iso(t.reported_at), "reported_at_local": local(t.reported_at),
        "response_due_at": iso(t.response_due_at), "response_due_at_local": local(t.response_due_at),
        "first_response_at": iso(t.first_response_at), "first_response_at_local": local(t.first_response_at),
        "created_at": iso(t.created_at),
    }
    if with_messages:
        messages = service.messages_of(session, t.id or 0)
        names = service.author_names(session, messages)
        record["messages"] = [{
            "id": m.id, "direction": m.direction, "channel": m.channel, "author_kind": m.author_kind,
            "author": names.get(m.author_id, "bot"), "text": m.text, "channel_ts": iso(m.channel_ts),
            "received_at": iso(m.received_at), "delivered_at": iso(m.delivered_at),
            "is_written_report": m.is_written_report, "external_id": m.external_id, "is_human": m.is_human,
        } for m in messages]
        record["clocks"] = [{
            "name": c.name, "calendar": c.calendar, "state": c.state, "target_seconds": c.target_seconds,
            "started_at": local(c.started_at), "due_at": local(c.due_at), "stopped_at": local(c.stopped_at),
            "paused_since": local(c.paused_since), "elapsed_seconds": c.elapsed_seconds, "breached": c.breached,
            "calendar_confirmed": c.calendar_confirmed, "clause": c.clause,
        } for c in clocks_of(session, t.id or 0)]
    return record


def _print_json(data: Any) -> None:
    json.dump(data, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    raise SystemExit(main())
