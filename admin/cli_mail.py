"""``helpdesk mail …`` — read the mailboxes once (cron, checks), see what happened, release held mail."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from typing import Any

from admin import mail
from admin.settings import Settings
from intake.email import store
from tickets import Database, utcnow


def add_parsers(sub: Any, db: Any) -> None:
    """``db(settings)`` opens the migrated database (the CLI's own helper)."""
    ml = sub.add_parser("mail", help="邮件收取：收一次信、查看状态、放行待审核邮件").add_subparsers(title="mail commands")

    s = ml.add_parser("poll", help="收取所有邮箱的新邮件")
    s.add_argument("--once", action="store_true", required=True, help="收一轮后退出（供 cron 与检查使用）")
    s.set_defaults(run=lambda settings, args: cmd_poll(settings, db(settings)))

    s = ml.add_parser("status", help="各邮箱的收取进度，以及被忽略、待审核、出错的邮件")
    s.set_defaults(run=lambda settings, args: cmd_status(db(settings)))

    s = ml.add_parser("release", help="把待审核／已忽略／出错的邮件按正常来信处理")
    s.add_argument("ids", type=int, nargs="+", help="邮件编号（见 mail status）")
    s.set_defaults(run=lambda settings, args: cmd_release(db(settings), args))


def cmd_poll(settings: Settings, db: Database) -> int:
    """One pass over every mailbox, then the journal is processed so the tickets exist on exit."""
    from admin.app import build_runtime

    try:
        configs = mail.mailbox_configs(settings)
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    if not configs:
        print("没有配置邮箱：请设置 HELPDESK_IMAP_HOST 等，或在配置文件中写 [[mailboxes]]。", file=sys.stderr)
        return 2
    runtime = build_runtime(settings, db=db)
    failed = 0
    for poller in runtime.pollers:
        try:
            result = asyncio.run(poller.poll_once())
        except Exception as exc:  # one unreachable mailbox does not stop the others
            failed += 1
            print(f"{poller.config.name}: 收取失败：{exc}", file=sys.stderr)
            continue
        if result.skipped_locked:
            print(f"{result.mailbox}: 另一个进程正在收取此邮箱，本次跳过。")
            continue
        detail = "，".join(f"{store.STATUS_ZH.get(k, '重复') }{v}" for k, v in sorted(result.statuses.items()))
        print(f"{result.mailbox}: 收到 {result.fetched} 封" + (f"（{detail}）" if detail else "")
              + ("；UIDVALIDITY 已变化，已全量重扫" if result.rescanned else ""))
    handled = runtime.drain_inbound()
    print(f"已处理 {handled} 条来信。")
    return 1 if failed else 0


def cmd_status(db: Database) -> int:
    with db.session() as session:
        boxes = store.mailboxes(session)
        counts = store.counts(session)
        held = store.items(session, [store.PARKED, store.ERROR, store.DROPPED, store.BOUNCE], limit=50)
    for box in boxes:
        when = box.last_poll_at.isoformat(timespec="seconds") if box.last_poll_at else "从未"
        print(f"邮箱 {box.name}: UIDVALIDITY {box.uidvalidity} 已处理到 UID {box.last_uid}，最近收取 {when}"
              + (f"，错误：{box.last_error}" if box.last_error else ""))
    print("邮件：" + ("，".join(f"{store.STATUS_ZH.get(k, k)} {v}" for k, v in sorted(counts.items())) or "无"))
    for item in held:
        print(f"  #{item.id} [{store.STATUS_ZH.get(item.status, item.status)}] {item.from_addr} 「{item.subject}」"
              f" — {item.reason_zh or item.reason}")
    return 0


def cmd_release(db: Database, args: argparse.Namespace) -> int:
    bad = 0
    for item_id in args.ids:
        with db.session() as session:
            ok = store.release(session, item_id, f"cli:{getpass.getuser()}", utcnow())
        if ok:
            print(f"#{item_id} 已放行，将按正常来信处理。")
        else:
            bad += 1
            print(f"#{item_id} 不存在或不是待审核／已忽略／出错状态。", file=sys.stderr)
    return 1 if bad else 0
