"""``helpdesk hotline …`` — import a file of calls, issue and revoke integrations' API tokens, set a
hospital's switchboard prefixes (docs/hotline-format.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sqlmodel import select

from admin.settings import Settings
from intake.hotline import normalize_prefix
from tickets import Database, utcnow
from tickets.audit import SYSTEM, audit
from tickets.models import ApiToken, Hospital


def add_parsers(sub: Any, db: Any) -> None:
    """``db(settings)`` opens the migrated database (the CLI's own helper)."""
    hl = sub.add_parser("hotline", help="热线：导入通话记录、接入令牌、医院总机号段").add_subparsers(
        title="hotline commands")

    s = hl.add_parser("import", help="导入通话记录文件（.csv / .jsonl / .ndjson）")
    s.add_argument("file", type=Path)
    s.set_defaults(run=lambda settings, args: cmd_import(settings, db(settings), args))

    tk = hl.add_parser("token", help="接入令牌").add_subparsers(title="token commands")
    s = tk.add_parser("create", help="为一个接入方（电话系统）发放令牌；令牌只显示这一次")
    s.add_argument("name")
    s.set_defaults(run=lambda settings, args: cmd_token_create(db(settings), args))
    s = tk.add_parser("revoke", help="停用一个接入方的令牌（如令牌泄露），其他接入方不受影响")
    s.add_argument("name")
    s.set_defaults(run=lambda settings, args: cmd_token_revoke(db(settings), args))

    s = hl.add_parser("switchboard", help="设置医院的总机号段：未登记号码按号段归入该医院（不给号段则只显示）")
    s.add_argument("hospital", help="医院代码，如 wuhan-central")
    s.add_argument("prefixes", nargs="*", help="号段，如 027-8572；给出 - 表示清空")
    s.set_defaults(run=lambda settings, args: cmd_switchboard(db(settings), args))


def cmd_import(settings: Settings, db: Database, args: argparse.Namespace) -> int:
    """Exit 0: all imported or already there; 1: some rows refused (the rest imported); 2: unreadable file."""
    from admin.app import build_runtime
    from admin.hotline import import_file

    try:
        data = args.file.read_bytes()
    except OSError as exc:
        print(f"无法读取文件：{exc}", file=sys.stderr)
        return 2
    runtime = build_runtime(settings, db=db)
    try:
        result = import_file(runtime, args.file.name, data)
    except ValueError as exc:
        print(f"整个文件无法读取：{exc}", file=sys.stderr)
        return 2
    runtime.drain_inbound()  # the tickets exist when the command returns
    print(f"新导入 {result.created} 条，已存在 {result.duplicates} 条，被拒 {len(result.errors)} 条")
    for line in result.lines():
        print(line)
    return 1 if result.errors else 0


def cmd_token_create(db: Database, args: argparse.Namespace) -> int:
    from admin.hotline import create_token

    name = args.name.strip()
    if not name or len(name) > 100:
        print("接入方名称不能为空，且不超过 100 个字符。", file=sys.stderr)
        return 2
    with db.session() as session:
        if session.exec(select(ApiToken).where(ApiToken.name == name)).first() is not None:
            print(f"接入方 {name} 已有令牌。如需换发，请先停用：helpdesk hotline token revoke {name}，"
                  "再以新名称发放（旧名称保留在记录中）。", file=sys.stderr)
            return 2
        token = create_token(session, name, utcnow())
        audit(session, SYSTEM, "hotline.token_created", utcnow(), name=name)
    print(f"接入方 {name} 的令牌（只显示这一次，请妥善保存）：\n{token}")
    return 0


def cmd_token_revoke(db: Database, args: argparse.Namespace) -> int:
    with db.session() as session:
        row = session.exec(select(ApiToken).where(ApiToken.name == args.name)).first()
        if row is None:
            print(f"没有名为 {args.name} 的接入方。", file=sys.stderr)
            return 2
        row.active = False
        session.add(row)
        audit(session, SYSTEM, "hotline.token_revoked", utcnow(), name=row.name)
    print(f"接入方 {args.name} 的令牌已停用。")
    return 0


def cmd_switchboard(db: Database, args: argparse.Namespace) -> int:
    """Show or set a hospital's switchboard prefixes; every prefix is checked as a phone number prefix."""
    with db.session() as session:
        hospital = session.exec(select(Hospital).where(Hospital.key == args.hospital)).first()
        if hospital is None:
            print(f"没有代码为 {args.hospital} 的医院。", file=sys.stderr)
            return 2
        if args.prefixes:
            wanted = [] if args.prefixes == ["-"] else args.prefixes
            prefixes = [p.strip() for p in wanted]
            try:
                for prefix in prefixes:
                    normalize_prefix(prefix)  # kept as typed, for people to read; matched normalised
            except ValueError as exc:
                print(f"号段不合法：{exc}", file=sys.stderr)
                return 2
            old = list(hospital.switchboard_prefixes)
            hospital.switchboard_prefixes = prefixes
            session.add(hospital)
            audit(session, SYSTEM, "hospital.switchboard_set", utcnow(), hospital=hospital.key, old=old, new=prefixes)
        shown = "、".join(hospital.switchboard_prefixes) or "（无）"
    print(f"{hospital.name} 的总机号段：{shown}")
    return 0
