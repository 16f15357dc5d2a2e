"""``helpdesk sla …`` — check deadlines, business time, calendars, policies and reports from a shell.

``deadlines`` and ``elapsed`` work with or without an installed database: a
contract key found in the database uses that contract's policy and its
hospital's calendar; otherwise a preset key uses the preset with the statutory
calendar of the bundled chinesecalendar and 08:00–18:00 in Asia/Shanghai.
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, select

from admin.migrate import NotMigrated, check_current
from admin.settings import Settings
from sla import (
    CALENDAR_NAMES,
    KINDS,
    PRESETS,
    READINGS,
    CalendarError,
    Calendars,
    SlaPolicy,
    WorkingWeek,
    deadlines,
    policy_from,
    statutory,
)
from sla.calendar import WEEKDAY_NAMES_ZH
from sla.clocks import DEFAULT_WEEK
from sla.describe import clock_rows, markdown
from tickets import Database, utcnow
from tickets.audit import Actor, audit
from tickets.calendars import (
    calendar_check,
    calendars_for,
    confirm_year,
    confirmed_years,
    set_hospital_day,
    set_statutory_day,
)
from tickets.clocks import recompute_open
from tickets.duties import schedule
from tickets.models import Contract, Hospital, StatutoryDay
from tickets.reports import contract_report, report_json


def add_parsers(sub: Any) -> None:
    sl = sub.add_parser("sla", help="合同时限：预设、截止时间、工作时间、节假日、评价报告").add_subparsers(
        title="sla commands")

    s = sl.add_parser("presets", help="列出五份预设的级别与时钟")
    s.add_argument("--markdown", action="store_true", help="输出 docs/sla-presets.md 的内容")
    s.set_defaults(run=cmd_presets)

    s = sl.add_parser("deadlines", help="一次报告的各时钟截止时间")
    s.add_argument("--contract", required=True, help="合同编号（数据库中的合同或预设名）")
    s.add_argument("--severity", required=True, help="级别代码，如 fatal、L1、urgent、standard")
    s.add_argument("--kind", default="fault", choices=list(KINDS), help="工作类型，默认 fault")
    s.add_argument("--reported-at", required=True, help="报告时刻 ISO 8601；不带时区按医院时区")
    s.add_argument("--json", action="store_true")
    s.set_defaults(run=cmd_deadlines)

    s = sl.add_parser("elapsed", help="两个时刻之间按某时钟日历计的工作时间（秒）")
    s.add_argument("--contract", required=True)
    s.add_argument("--severity", required=True)
    s.add_argument("--clock", required=True, help="时钟名，如 response、onsite、resolution")
    s.add_argument("--kind", default="fault", choices=list(KINDS))
    s.add_argument("--from", dest="start", required=True, help="起点 ISO 8601")
    s.add_argument("--to", dest="end", required=True, help="终点 ISO 8601")
    s.add_argument("--json", action="store_true")
    s.set_defaults(run=cmd_elapsed)

    s = sl.add_parser("calendar-check", help="今年与明年的法定节假日是否已录入（缺失时退出码 1）")
    s.set_defaults(run=cmd_calendar_check)

    cal = sl.add_parser("calendar", help="编辑节假日表").add_subparsers(title="calendar commands")
    s = cal.add_parser("list", help="列出某年的法定节假日与调休上班日")
    s.add_argument("year", type=int)
    s.set_defaults(run=cmd_calendar_list)
    s = cal.add_parser("set", help="设置一天为法定节假日或调休上班日")
    s.add_argument("day", type=date.fromisoformat)
    _workday_flags(s)
    s.add_argument("--name", default="", help="名称，如 春节、春节调休上班")
    s.set_defaults(run=cmd_calendar_set)
    s = cal.add_parser("confirm", help="确认某年的节假日已按国务院通知录入完毕")
    s.add_argument("year", type=int)
    s.set_defaults(run=cmd_calendar_confirm)
    s = cal.add_parser("hospital", help="医院自己的例外日（闭院、加班日）")
    s.add_argument("hospital", help="医院编号")
    s.add_argument("day", type=date.fromisoformat)
    g = s.add_mutually_exclusive_group(required=True)
    g.add_argument("--workday", dest="workday", action="store_const", const=True)
    g.add_argument("--holiday", dest="workday", action="store_const", const=False)
    g.add_argument("--clear", dest="workday", action="store_const", const=None)
    s.add_argument("--note", default="")
    s.set_defaults(run=cmd_calendar_hospital)

    s = cal.add_parser("hours", help="医院的工作时间（不带 --set 时显示）")
    s.add_argument("hospital", help="医院编号")
    s.add_argument("--set", dest="spec", action="append", metavar="DAYS=HH:MM-HH:MM[,HH:MM-HH:MM]",
                   help="如 mon-fri=08:00-12:00,13:30-17:30；可重复；整体替换原设置")
    s.set_defaults(run=cmd_calendar_hours)

    pol = sl.add_parser("policy", help="合同的 SLA 文档").add_subparsers(title="policy commands")
    s = pol.add_parser("import", help="从 TOML / YAML / JSON 文件导入合同的 SLA（先校验）")
    s.add_argument("--contract", required=True)
    s.add_argument("file", type=Path)
    s.set_defaults(run=cmd_policy_import)
    s = pol.add_parser("export", help="导出合同的 SLA（YAML 或 JSON）")
    s.add_argument("--contract", required=True)
    s.add_argument("--format", choices=("yaml", "json"), default="yaml")
    s.set_defaults(run=cmd_policy_export)

    s = sl.add_parser("report", help="维保服务评价报告（武汉市中心医院附件1 的口径）")
    s.add_argument("--contract", required=True)
    s.add_argument("--from", dest="start", required=True, type=date.fromisoformat)
    s.add_argument("--to", dest="end", required=True, type=date.fromisoformat)
    s.add_argument("--json", action="store_true")
    s.set_defaults(run=cmd_report)


def _workday_flags(s: argparse.ArgumentParser) -> None:
    g = s.add_mutually_exclusive_group(required=True)
    g.add_argument("--workday", dest="workday", action="store_true", help="上班（调休上班日）")
    g.add_argument("--holiday", dest="workday", action="store_false", help="放假")


# -- where a contract's policy and calendar come from -------------------------------------


@dataclass(frozen=True)
class SlaContext:
    key: str
    policy: SlaPolicy
    calendars: Calendars
    source: str  # "contract" or "preset"


def _existing_db(settings: Settings) -> Database | None:
    """The configured database if it exists and is migrated; never creates one."""
    url = settings.database_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return None
    db = Database(url)
    try:
        check_current(db.engine)
    except (NotMigrated, SQLAlchemyError):
        db.dispose()
        return None
    return db


def _context(settings: Settings, key: str) -> SlaContext:
    db = _existing_db(settings)
    if db is not None:
        try:
            with db.session() as session:
                contract = session.exec(select(Contract).where(Contract.key == key)).first()
                if contract is not None:
                    hospital = session.get(Hospital, contract.hospital_id)
                    assert hospital is not None
                    return SlaContext(key, policy_from(contract.sla_policy),
                                      calendars_for(session, hospital), "contract")
        finally:
            db.dispose()
    if key in PRESETS:
        return SlaContext(key, PRESETS[key], Calendars("Asia/Shanghai", DEFAULT_WEEK, statutory.library_rules()),
                          "preset")
    raise _Fail(f"没有合同或预设「{key}」。预设有：{'、'.join(PRESETS)}")


class _Fail(Exception):
    """A Chinese message for the person at the shell; exit code 1."""


def _instant(text: str, tz: ZoneInfo) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise _Fail(f"时间格式不对：{text!r}，请用 ISO 8601，如 2026-02-13T17:50+08:00") from None
    return value.replace(tzinfo=tz) if value.tzinfo is None else value


def _guard(run: Any) -> Any:
    def wrapper(settings: Settings, args: argparse.Namespace) -> int:
        try:
            return int(run(settings, args) or 0)
        except _Fail as exc:
            print(str(exc), file=sys.stderr)
            return 1
    wrapper.__name__ = run.__name__
    return wrapper


# -- commands ------------------------------------------------------------------------------


@_guard
def cmd_presets(settings: Settings, args: argparse.Namespace) -> int:
    if args.markdown:
        print(markdown(PRESETS, READINGS))
        return 0
    for key, policy in PRESETS.items():
        print(f"\n{key}  {policy.name}")
        for row in clock_rows(policy):
            print(f"  {row.level:<12} {row.clock:<11} {row.target:<9} {row.calendar:<8} 起点：{row.start}  "
                  f"终点：{row.stop}  暂停：{row.pause}  {row.variants}  [{row.clause}]")
    return 0


@_guard
def cmd_deadlines(settings: Settings, args: argparse.Namespace) -> int:
    ctx = _context(settings, args.contract)
    tz = ctx.calendars.tz
    reported = _instant(args.reported_at, tz)
    _check_level(ctx, args.severity)
    states = deadlines(ctx.policy, args.severity, args.kind, reported, ctx.calendars)
    confirmed = all(s.calendar_confirmed for s in states.values())
    out = {
        "contract": ctx.key, "severity": args.severity, "kind": args.kind,
        "reported_at": reported.astimezone(tz).isoformat(),
        "clocks": {name: {"due": s.due_at.astimezone(tz).isoformat() if s.due_at else None, "calendar": s.calendar,
                          "target_seconds": int(s.target.total_seconds()), "clause": s.clause}
                   for name, s in states.items()},
        "calendar_confirmed": confirmed,
    }
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
        return 0
    print(f"合同 {ctx.key}（{'数据库中的合同' if ctx.source == 'contract' else '预设'}） 级别 {args.severity} "
          f"类型 {KINDS[args.kind]}  报告时刻 {out['reported_at']}")
    for name, s in states.items():
        due = s.due_at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S %z") if s.due_at else "—"
        print(f"  {name:<11} 截止 {due}  （{CALENDAR_NAMES[s.calendar]}，{s.clause}）")
    if not states:
        print("  该级别与工作类型没有时钟。")
    if not confirmed:
        print("注意：截止时间落在尚未公布节假日安排的年份，按周一至周五计算，请在节假日公布后复核。")
    return 0


def _check_level(ctx: SlaContext, severity: str) -> None:
    codes = [lvl.code for lvl in ctx.policy.levels]
    if severity not in codes:
        raise _Fail(f"合同 {ctx.key} 没有级别「{severity}」，可选：{'、'.join(codes)}")


@_guard
def cmd_elapsed(settings: Settings, args: argparse.Namespace) -> int:
    ctx = _context(settings, args.contract)
    tz = ctx.calendars.tz
    _check_level(ctx, args.severity)
    spec = ctx.policy.level(args.severity).clocks.get(args.clock)
    if spec is None:
        names = "、".join(ctx.policy.level(args.severity).clocks)
        raise _Fail(f"级别 {args.severity} 没有时钟「{args.clock}」，可选：{names}")
    start, end = _instant(args.start, tz), _instant(args.end, tz)
    calendars = ctx.calendars.for_policy(ctx.policy)
    in_hours = calendars.working_hours.is_working_time(start)
    resolved = spec.resolve(args.kind, in_hours)
    if resolved is None:
        raise _Fail(f"时钟 {args.clock} 不适用于工作类型 {KINDS[args.kind]}")
    _, calendar_kind, _ = resolved
    spent = calendars.get(calendar_kind).elapsed(start, end)
    seconds = int(spent.total_seconds())
    if args.json:
        print(json.dumps({"contract": ctx.key, "clock": args.clock, "calendar": calendar_kind, "seconds": seconds,
                          "from": start.isoformat(), "to": end.isoformat()}, ensure_ascii=False))
        return 0
    print(f"{seconds}\t{_human(spent, calendar_kind)}（{CALENDAR_NAMES[calendar_kind]}）")
    return 0


def _human(spent: timedelta, calendar_kind: str) -> str:
    if calendar_kind == "working_days":
        return f"{spent.days}个工作日"
    sign = "-" if spent < timedelta(0) else ""
    total = abs(int(spent.total_seconds()))
    return f"{sign}{total // 3600}小时{total % 3600 // 60}分{total % 60}秒"


def _db(settings: Settings) -> Database:
    db = _existing_db(settings)
    if db is None:
        raise _Fail("数据库不存在或尚未迁移，请先运行：helpdesk migrate")
    return db


@_guard
def cmd_calendar_check(settings: Settings, args: argparse.Namespace) -> int:
    db = _db(settings)
    with db.session() as session:
        years = confirmed_years(session)
        status = calendar_check(session, utcnow().date())
    print(f"已录入法定节假日的年份：{_ranges(years) or '无'}")
    missing = [s.year for s in status if not s.confirmed]
    for s in status:
        print(f"  {s.year} 年：{'已录入（' + s.source + '）' if s.confirmed else '缺失'}")
    if missing:
        print(f"缺少 {'、'.join(map(str, missing))} 年的节假日安排：落在这些年份的截止时间按周一至周五计算并标记为未确认。"
              "国务院通知发布后，用 helpdesk sla calendar set / confirm 录入，或升级 chinesecalendar 后运行 helpdesk migrate。")
        return 1
    return 0


def _ranges(years: list[int]) -> str:
    parts: list[str] = []
    for y in years:
        if parts and parts[-1].endswith(str(y - 1)):
            first = parts[-1].split("–")[0]
            parts[-1] = f"{first}–{y}"
        else:
            parts.append(str(y))
    return "、".join(parts)


@_guard
def cmd_calendar_list(settings: Settings, args: argparse.Namespace) -> int:
    db = _db(settings)
    with db.session() as session:
        rows = session.exec(select(StatutoryDay).where(StatutoryDay.day >= date(args.year, 1, 1),
                                                       StatutoryDay.day <= date(args.year, 12, 31))
                            .order_by(StatutoryDay.day)).all()
        confirmed = args.year in confirmed_years(session)
    print(f"{args.year} 年{'（已确认）' if confirmed else '（未确认：按周一至周五计算）'}")
    for row in rows:
        print(f"  {row.day.isoformat()} {'上班' if row.is_workday else '放假'} {row.name}  [{row.source}]")
    return 0


def _editor() -> Actor:
    import getpass

    return Actor(f"cli:{getpass.getuser()}")


def _after_edit(session: Session, actor: Actor, action: str, hospital_id: int | None, **detail: Any) -> int:
    now = utcnow()
    audit(session, actor, action, now, **detail)
    return recompute_open(session, now, hospital_id=hospital_id, reason="calendar_edited", actor=actor)


@_guard
def cmd_calendar_set(settings: Settings, args: argparse.Namespace) -> int:
    db = _db(settings)
    actor = _editor()
    with db.session() as session:
        set_statutory_day(session, args.day, args.workday, args.name, actor.label, utcnow())
        n = _after_edit(session, actor, "calendar.statutory_set", None, day=args.day.isoformat(),
                        is_workday=args.workday, name=args.name)
    print(f"{args.day.isoformat()} 已设为{'上班' if args.workday else '放假'}；已重算 {n} 张未结工单的时钟。")
    return 0


@_guard
def cmd_calendar_confirm(settings: Settings, args: argparse.Namespace) -> int:
    db = _db(settings)
    actor = _editor()
    with db.session() as session:
        confirm_year(session, args.year, actor.label, utcnow())
        n = _after_edit(session, actor, "calendar.year_confirmed", None, year=args.year)
    print(f"{args.year} 年节假日已确认；已重算 {n} 张未结工单的时钟。")
    return 0


def _contract(session: Session, key: str) -> Contract:
    contract = session.exec(select(Contract).where(Contract.key == key)).first()
    if contract is None:
        raise _Fail(f"没有合同「{key}」。")
    return contract


def _hospital(session: Session, key: str) -> Hospital:
    hospital = session.exec(select(Hospital).where(Hospital.key == key)).first()
    if hospital is None:
        raise _Fail(f"没有医院「{key}」。")
    return hospital


@_guard
def cmd_calendar_hospital(settings: Settings, args: argparse.Namespace) -> int:
    db = _db(settings)
    actor = _editor()
    with db.session() as session:
        hospital = _hospital(session, args.hospital)
        set_hospital_day(session, hospital.id or 0, args.day, args.workday, args.note, utcnow())
        n = _after_edit(session, actor, "calendar.hospital_day_set", hospital.id, hospital=hospital.key,
                        day=args.day.isoformat(), is_workday=args.workday, note=args.note)
    what = {True: "上班", False: "放假", None: "恢复按法定日历"}[args.workday]
    print(f"{hospital.name} {args.day.isoformat()} {what}；已重算 {n} 张未结工单的时钟。")
    return 0


@_guard
def cmd_calendar_hours(settings: Settings, args: argparse.Namespace) -> int:
    db = _db(settings)
    actor = _editor()
    with db.session() as session:
        hospital = _hospital(session, args.hospital)
        if args.spec:
            hours = _parse_hours(args.spec)
            old = hospital.working_hours
            hospital.working_hours = hours
            session.add(hospital)
            n = _after_edit(session, actor, "calendar.working_hours_set", hospital.id, hospital=hospital.key,
                            old=old, new=hours)
            print(f"已更新；已重算 {n} 张未结工单的时钟。")
        week = WorkingWeek.parse(hospital.working_hours)
        for i, windows in enumerate(week.days):
            text = "、".join(f"{w[0] // 60:02d}:{w[0] % 60:02d}-{w[1] // 60:02d}:{w[1] % 60:02d}" for w in windows)
            print(f"  {WEEKDAY_NAMES_ZH[i]} {text or '休息'}")
        print(f"  调休上班日按 {'、'.join(week.spec().get('mon', [])) or '工作日时段'} 计；时区 {hospital.timezone}")
    return 0


def _parse_hours(specs: list[str]) -> dict[str, list[str]]:
    hours: dict[str, list[str]] = {}
    for spec in specs:
        days, _, windows = spec.partition("=")
        hours[days.strip()] = [w.strip() for w in windows.split(",") if w.strip()]
    try:
        WorkingWeek.parse(hours)
    except CalendarError as exc:
        raise _Fail(f"工作时间格式有误：{exc}。示例：mon-fri=08:00-12:00,13:30-17:30") from None
    return hours


def load_policy_file(path: Path) -> SlaPolicy:
    """Parse and validate a policy document; a bad one raises with a message for people."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise _Fail(f"读不了文件 {path}：{exc.strerror}") from None
    try:
        if path.suffix.lower() == ".toml":
            data = tomllib.loads(text)
        elif path.suffix.lower() in (".yaml", ".yml"):
            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError, json.JSONDecodeError) as exc:
        raise _Fail(f"文件 {path} 格式有误：{exc}") from None
    try:
        return SlaPolicy.model_validate(data)
    except ValidationError as exc:
        lines = [f"  {'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        raise _Fail("SLA 文档校验未通过：\n" + "\n".join(lines)) from None


@_guard
def cmd_policy_import(settings: Settings, args: argparse.Namespace) -> int:
    policy = load_policy_file(args.file)
    db = _db(settings)
    actor = _editor()
    with db.session() as session:
        contract = _contract(session, args.contract)
        old = contract.sla_policy
        contract.sla_policy = policy.model_dump(mode="json")
        session.add(contract)
        now = utcnow()
        audit(session, actor, "contract.sla_policy_imported", now, contract=contract.key, file=str(args.file),
              old=old)
        n = recompute_open(session, now, hospital_id=contract.hospital_id, reason="policy_imported", actor=actor)
        added = schedule(session, contract, now)  # its duties as the new document says (issue 6)
    print(f"合同 {args.contract} 的 SLA 已导入（{len(policy.levels)} 个级别）；已重算 {n} 张未结工单的时钟；"
          f"合同义务新排期 {added} 项。")
    return 0


@_guard
def cmd_policy_export(settings: Settings, args: argparse.Namespace) -> int:
    db = _db(settings)
    with db.session() as session:
        contract = _contract(session, args.contract)
        data = policy_from(contract.sla_policy).model_dump(mode="json", exclude_none=True)
    if args.format == "json":
        print(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        print(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), end="")
    return 0


@_guard
def cmd_report(settings: Settings, args: argparse.Namespace) -> int:
    db = _db(settings)
    with db.session() as session:
        contract = _contract(session, args.contract)
        data = report_json(contract_report(session, contract, args.start, args.end, utcnow()))
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return 0
    _print_report(data)
    return 0


def _print_report(d: dict[str, Any]) -> None:
    def ids(tickets: list[int]) -> str:
        return "、".join(f"#{t}" for t in tickets) or "—"

    print(f"{d['hospital']} 维保服务评价报告  评价区间 {d['from']} 至 {d['to']}  工单 {len(d['tickets'])} 张")
    ro = d["responses_over"]
    print(f"服务响应效率：大于{ro['minutes'] // 60}小时次数 {ro['count']} 次  {ids(ro['tickets'])}")
    for code, f in d["faults_by_severity"].items():
        print(f"  故障（{code}）：{f['count']} 次  {ids(f['tickets'])}")
    for code, f in d["vendor_faults_by_severity"].items():
        if f["count"]:
            print(f"  因乙方原因导致的故障（{code}）：{f['count']} 次  {ids(f['tickets'])}")
    s = d["sample"]
    rate = f"{s['pass_rate']}%" if s["pass_rate"] is not None else "—（无工单）"
    print(f"服务效果抽查合格率：{rate}  评价：{s['grade'] or '—'}  不合格：{ids([int(k) for k in s['failed']])}")
    p = d["penalties"]
    print(f"扣款合计：{p['total_yuan']} 元" + ("（部分金额因合同金额未登记无法计算）" if p["amount_unknown"] else ""))
    for item in p["items"]:
        print(f"  #{item['ticket']} {item['name']}：{item['amount_yuan'] or '金额未知'} 元（{item['detail']}；{item['clause']}）")
    duties = d.get("duties") or {}
    if duties.get("count"):  # contract duties missed in the period (issue 6)
        print(f"合同义务逾期：{duties['count']} 项，违约金 {duties['total_yuan']} 元；"
              f"扣款合计（含合同义务）{duties['penalties_with_duties_yuan']} 元")
        for m in duties["missed"]:
            print(f"  {m['title']}（到期 {m['due_local']}）：{m['penalty_yuan'] or '合同未约定金额'}（{m['clause']}）")
    if d["calendar_unconfirmed_tickets"]:
        print(f"注意：{ids(d['calendar_unconfirmed_tickets'])} 的时限落在节假日未公布的年份，待复核。")
