"""``helpdesk hotline …`` — import a file of calls, issue an integration's API token (docs/hotline-format.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from admin.settings import Settings
from tickets import Database, utcnow


def add_parsers(sub: Any, db: Any) -> None:
    """``db(settings)`` opens the migrated database (the CLI's own helper)."""
    hl = sub.add_parser("hotline", help="热线：导入通话记录、发放接入令牌").add_subparsers(title="hotline commands")

    s = hl.add_parser("import", help="导入通话记录文件（.csv / .jsonl / .ndjson）")
    s.add_argument("file", type=Path)
    s.set_defaults(run=lambda settings, args: cmd_import(settings, db(settings), args))

    tk = hl.add_parser("token", help="接入令牌").add_subparsers(title="token commands")
    s = tk.add_parser("create", help="为一个接入方（电话系统）发放令牌；令牌只显示这一次")
    s.add_argument("name")
    s.set_defaults(run=lambda settings, args: cmd_token_create(db(settings), args))


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

    with db.session() as session:
        token = create_token(session, args.name, utcnow())
    print(f"接入方 {args.name} 的令牌（只显示这一次，请妥善保存）：\n{token}")
    return 0
