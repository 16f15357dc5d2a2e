"""``helpdesk kb …`` — import, export and probe the knowledge base from a shell."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path
from typing import Any

from sqlmodel import select

from admin.settings import Settings
from tickets import Database, utcnow
from tickets.models import Hospital

# The knowledge package (numpy, scipy, the sentence encoder) is imported by the kb commands
# themselves: every other `helpdesk` command starts without it.


def add_parsers(sub: Any, db: Any) -> None:
    """``db(settings)`` opens the migrated database (the CLI's own helper)."""
    kb = sub.add_parser("kb", help="知识库：导入、导出、试问").add_subparsers(title="kb commands")

    s = kb.add_parser("import", help="导入 JSON Lines 文件或 Markdown 文件夹（按 id 新增或更新）")
    s.add_argument("path", type=Path)
    s.set_defaults(run=lambda settings, args: cmd_import(db(settings), args))

    s = kb.add_parser("export", help="导出为 JSON Lines（默认输出到屏幕）")
    s.add_argument("--output", type=Path)
    s.set_defaults(run=lambda settings, args: cmd_export(db(settings), args))

    s = kb.add_parser("ask", help="试问知识库：看它会直接回答、推荐还是转人工")
    s.add_argument("question")
    s.add_argument("--hospital", help="提问人所在医院的编号（按医院与系统过滤）")
    s.add_argument("--json", action="store_true")
    s.set_defaults(run=lambda settings, args: cmd_ask(settings, db(settings), args))

    s = kb.add_parser("review", help="待复核：经常转人工的文章、疑似重复的文章、系统未匹配的文章")
    s.set_defaults(run=lambda settings, args: cmd_review(db(settings), args))


def thresholds_of(settings: Settings) -> Any:
    from knowledge import Thresholds

    return Thresholds(answer=settings.kb_answer, suggest=settings.kb_suggest, margin=settings.kb_margin)


def cmd_import(db: Database, args: argparse.Namespace) -> int:
    from knowledge import import_path
    from knowledge.embed import shared_embedder

    if not args.path.exists():
        print(f"找不到 {args.path}。", file=sys.stderr)
        return 1
    with db.session() as session:
        report = import_path(session, args.path, f"cli:{getpass.getuser()}", utcnow(), embedder=shared_embedder())
    print(f"新增 {report.added} 篇，更新 {report.updated} 篇，跳过 {len(report.errors)} 条。")
    for where, why in report.errors:
        print(f"  {where}：{why}", file=sys.stderr)
    if report.flagged:
        print(f"系统未匹配、待复核：{'、'.join(report.flagged)}")
    return 1 if report.errors and not (report.added or report.updated) else 0


def cmd_export(db: Database, args: argparse.Namespace) -> int:
    from knowledge import export_jsonl

    with db.session() as session:
        text = export_jsonl(session)
    if args.output:
        args.output.write_text(text, encoding="utf-8")
        print(f"已导出 {text.count(chr(10))} 篇到 {args.output}。")
    else:
        sys.stdout.write(text)
    return 0


def cmd_ask(settings: Settings, db: Database, args: argparse.Namespace) -> int:
    from knowledge import ask, hit_json

    with db.session() as session:
        hospital_id = None
        if args.hospital:
            hospital = session.exec(select(Hospital).where(Hospital.key == args.hospital)).first()
            if hospital is None:
                print(f"没有医院「{args.hospital}」。", file=sys.stderr)
                return 1
            hospital_id = hospital.id
        result = ask(session, args.question, hospital_id=hospital_id, thresholds=thresholds_of(settings))
    if args.json:
        print(json.dumps({"decision": result.decision, "results": [hit_json(h) for h in result.hits]},
                         ensure_ascii=False))
        return 0
    label = {"answer": "直接回答", "suggest": "推荐（回复 1/2/3 查看）", "handoff": "转人工"}[result.decision]
    print(f"结论：{label}")
    for i, hit in enumerate(result.hits, start=1):
        print(f"  {i}. [{hit.entry.key}] {hit.entry.question}  （得分 {hit.score:.3f}）")
    return 0


def cmd_review(db: Database, args: argparse.Namespace) -> int:
    from knowledge import Article, failing_articles, near_duplicates

    with db.session() as session:
        failing = failing_articles(session)
        duplicates = near_duplicates(session)
        unmatched = list(session.exec(select(Article).where(Article.review_note != "")))
        print(f"经常转人工：{len(failing)} 篇")
        for f in failing:
            print(f"  [{f.article.key}] {f.article.question}  转人工 {f.handoffs} 次，已解决 {f.helped} 次")
        print(f"疑似重复：{len(duplicates)} 对")
        for a, b, score in duplicates:
            print(f"  [{a.key}] {a.question}  ≈  [{b.key}] {b.question}  （{score:.0f}）")
        print(f"其他待复核：{len(unmatched)} 篇")
        for a in unmatched:
            print(f"  [{a.key}] {a.review_note}")
    return 0
