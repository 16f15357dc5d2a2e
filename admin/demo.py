"""Demo data: the five hospitals of the seeds, their contracts, a few clinical
staff and the vendor's engineers. Loading it twice changes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from sqlmodel import Session, select

from admin.passwords import generate_password, hash_password
from knowledge import ImportReport, import_path
from knowledge.embed import shared_embedder
from sla import PRESETS
from tickets import people
from tickets.models import Account, Contract, CoveredSystem, Hospital, Person
from tickets.service import SYSTEM, audit

HOSPITALS = [
    ("wuhan-central", "武汉市中心医院"),
    ("nanxishan", "广西壮族自治区南溪山医院"),
    ("shanxi-cancer", "山西省肿瘤医院"),
    ("gdph", "广东省人民医院"),
    ("liuzhou-workers", "柳州市工人医院"),
]
# The staff's mail domains: a new address there becomes a person of that hospital (flagged for review).
MAIL_DOMAINS = {
    "wuhan-central": ["whcentral.example.cn"], "nanxishan": ["nxs.example.cn"], "shanxi-cancer": ["sxcancer.example.cn"],
    "gdph": ["gdph.example.cn"], "liuzhou-workers": ["lzworkers.example.cn"],
}

# The 50 systems of seed 002's 维保服务清单, with what staff call them.
SHANXI_SYSTEMS: list[tuple[str, list[str]]] = [
    ("门（急）诊挂号管理系统", ["挂号"]), ("门（急）诊药房发药管理系统", ["门诊药房", "发药"]),
    ("门（急）诊划价、收费管理系统", ["收费", "划价"]), ("住院药房管理系统", ["住院药房"]), ("药库管理系统", ["药库"]),
    ("住院病人管理系统", ["住院登记", "出入院"]), ("住院摆药管理系统", ["摆药"]), ("医疗保险管理系统", ["医保结算"]),
    ("预约挂号管理系统", ["预约挂号"]), ("物价管理系统", ["物价"]), ("财务统计管理系统", ["财务统计"]),
    ("统一后台管理", ["后台"]), ("住院医技记费管理系统", ["医技记费", "记费"]), ("院内医保控费系统", ["医保控费", "控费"]),
    ("配液中心管理系统", ["配液", "静配"]), ("高值耗材管理系统", ["高值耗材", "耗材"]), ("预住院管理系统", ["预住院"]),
    ("自助入院系统", ["自助入院"]), ("病案管理与统计系统", ["病案"]), ("门诊应急收费管理系统", ["应急收费"]),
    ("住院医生工作站管理系统（含住院结构化电子病历）", ["住院医生站", "住院病历"]), ("移动医生站管理系统", ["移动医生站"]),
    ("护理信息管理系统", ["护理系统", "护理记录"]), ("移动护理管理系统", ["移动护理", "PDA"]),
    ("门诊医生工作站管理系统（含门诊结构化电子病历）", ["门诊医生站", "门诊病历"]), ("MDT多学科联合会诊管理", ["MDT", "会诊"]),
    ("护理部管理系统", ["护理部"]), ("医务科及病案质控管理系统", ["病案质控", "质控"]), ("电子临床路径管理系统", ["临床路径"]),
    ("电子病历权限控制系统", ["病历权限"]), ("抗菌药分级管理系统", ["抗菌药分级"]), ("实验室信息管理系统", ["LIS", "检验系统"]),
    ("微生物实验室管理系统", ["微生物"]), ("WHONET接口系统", ["WHONET"]), ("检验样本追溯管理系统", ["样本追溯"]),
    ("输血科管理系统", ["输血"]), ("PICC管理系统", ["PICC"]), ("超声医技检查报告管理系统(RIS)", ["超声", "RIS"]),
    ("医技集中预约系统（全院级医技检查预约）", ["医技预约", "检查预约"]), ("传染病管理系统", ["传染病"]),
    ("抗菌药物监控系统", ["抗菌药物监控"]), ("外勤追溯管理软件", ["外勤"]), ("合理用药管理系统", ["合理用药"]),
    ("处方点评系统", ["处方点评"]), ("药师审方系统", ["审方"]), ("临床辅助决策系统（CDSS）", ["CDSS"]),
    ("医院质量指标分析系统", ["质量指标"]), ("抗肿瘤药物临床应用监测上报系统", ["抗肿瘤"]),
    ("三级公立医院绩效考核", ["绩效考核", "国考"]), ("全民健康数据平台", ["健康数据平台"]),
]


@dataclass(frozen=True)
class ContractSeed:
    key: str
    hospital: str
    name: str
    amount: Decimal | None
    starts_on: date | None
    ends_on: date | None
    systems: list[tuple[str, list[str]]]


CONTRACTS = [
    ContractSeed("wuhan-central-drg", "wuhan-central", "2026年信息化项目售后维保（DRG智能化综合管理系统）",
                 Decimal("44000"), date(2026, 1, 1), date(2026, 12, 31), [("DRG智能化综合管理系统", ["DRG"])]),
    ContractSeed("nanxishan-hemodialysis", "nanxishan", "2025-2026年度血液透析智能管理信息系统维保服务",
                 None, date(2025, 12, 1), date(2026, 11, 30), [("血液透析智能管理信息系统", ["透析", "血透"])]),
    # Seeds 002 and 003 describe earlier service years; the demo contracts are their renewals (服务续签).
    ContractSeed("shanxi-cancer-his", "shanxi-cancer", "医院信息系统维保服务", Decimal("600000"),
                 date(2026, 5, 1), date(2027, 4, 30), SHANXI_SYSTEMS),
    ContractSeed("gdph-einvoice", "gdph", "医疗电子票据管理系统运维项目", None,
                 date(2026, 7, 1), date(2027, 6, 30), [("医疗电子票据管理系统", ["电子票据", "票据", "发票"])]),
    ContractSeed("liuzhou-workers-oa", "liuzhou-workers", "综合管理平台（OA）维保", None,
                 date(2024, 1, 1), date(2026, 12, 31), [("综合管理平台（OA）", ["OA", "办公系统", "公文"])]),
]

PEOPLE_CSV = """name,role,hospital,department,wecom_userid,email,phone,serves
张伟,engineer,,维保一组,zhangwei,zhangwei@vendor.example.cn,13800000001,*
李娜,engineer,,维保二组,lina,lina@vendor.example.cn,13800000002,*
赵磊,engineer,,驻场组,zhaolei,zhaolei@vendor.example.cn,13800000004,gdph;liuzhou-workers
王强,manager,,服务管理部,wangqiang,wangqiang@vendor.example.cn,13800000003,*
刘芳,reporter,wuhan-central,心血管内科,liufang,liufang@whcentral.example.cn,13900000001
吴刚,hospital_admin,wuhan-central,信息中心,wugang,wugang@whcentral.example.cn,13900000002
陈静,reporter,nanxishan,血液透析室,chenjing,chenjing@nxs.example.cn,13900000003
赵敏,reporter,shanxi-cancer,门诊收费处,zhaomin,zhaomin@sxcancer.example.cn,13900000004
孙丽,reporter,shanxi-cancer,护理部,sunli,sunli@sxcancer.example.cn,13900000005
黄磊,reporter,gdph,财务科,huanglei,huanglei@gdph.example.cn,13900000006
周婷,reporter,liuzhou-workers,院办,zhouting,zhouting@lzworkers.example.cn,13900000007
"""

DEMO_ADMIN = "admin"


def load_demo(session: Session, var_dir: Path, now: datetime) -> tuple[str, str]:
    """Load (or complete) the demo data; returns the demo admin's (username, password)."""
    hospitals = {key: _hospital(session, key, name) for key, name in HOSPITALS}
    for seed in CONTRACTS:
        _contract(session, seed, hospitals[seed.hospital])
    session.flush()
    report = people.import_people_csv(session, PEOPLE_CSV, now)
    if report.errors:
        raise RuntimeError(f"demo people failed to import: {report.errors}")
    audit(session, SYSTEM, "demo.loaded", now)
    return DEMO_ADMIN, _demo_admin(session, var_dir, now)


STARTER_KB = Path(__file__).resolve().parent.parent / "knowledge" / "starter"


def load_starter_knowledge(session: Session, now: datetime) -> ImportReport:
    """The starter knowledge base written for the demo hospitals' systems (articles_*.jsonl)."""
    total = ImportReport()
    for path in sorted(STARTER_KB.glob("articles_*.jsonl")):
        report = import_path(session, path, "demo", now, embedder=shared_embedder(), keep_existing=True)
        total.added += report.added
        total.updated += report.updated
        total.errors += [(f"{path.name} {where}", why) for where, why in report.errors]
        total.flagged += report.flagged
    return total


def _hospital(session: Session, key: str, name: str) -> Hospital:
    hospital = session.exec(select(Hospital).where(Hospital.key == key)).first()
    if hospital is None:
        hospital = Hospital(key=key, name=name)
    if not hospital.mail_domains:
        hospital.mail_domains = MAIL_DOMAINS.get(key, [])
    session.add(hospital)
    session.flush()
    return hospital


def _contract(session: Session, seed: ContractSeed, hospital: Hospital) -> None:
    contract = session.exec(select(Contract).where(Contract.key == seed.key)).first()
    if contract is None:
        contract = Contract(key=seed.key, hospital_id=hospital.id or 0, name=seed.name, amount_yuan=seed.amount,
                            starts_on=seed.starts_on, ends_on=seed.ends_on,
                            sla_policy=PRESETS[seed.key].model_dump(mode="json"))
        session.add(contract)
        session.flush()
    elif "target_minutes" in json.dumps(contract.sla_policy):
        # Saved by the foundation (response clock only): the demo contract gets the full preset.
        contract.sla_policy = PRESETS[seed.key].model_dump(mode="json")
        session.add(contract)
    known = {s.name for s in session.exec(select(CoveredSystem).where(CoveredSystem.contract_id == contract.id))}
    for name, aliases in seed.systems:
        if name not in known:
            session.add(CoveredSystem(contract_id=contract.id or 0, name=name, aliases=aliases))


def _demo_admin(session: Session, var_dir: Path, now: datetime) -> str:
    """Create the demo admin once; its password is kept in var/ so the run command can show it again."""
    cred = var_dir / "demo_admin_password"
    account = session.exec(select(Account).where(Account.username == DEMO_ADMIN)).first()
    if account is not None and cred.exists():
        return cred.read_text().strip()
    password = generate_password()
    if account is None:
        manager = session.exec(select(Person).where(Person.wecom_userid == "wangqiang")).first()
        account = Account(username=DEMO_ADMIN, password_hash=hash_password(password), is_admin=True,
                          person_id=manager.id if manager else None, created_at=now)
    else:  # the password file was lost: issue a new password rather than show none
        account.password_hash = hash_password(password)
    session.add(account)
    var_dir.mkdir(parents=True, exist_ok=True)
    cred.write_text(password + "\n")
    cred.chmod(0o600)
    audit(session, SYSTEM, "account.demo_admin", now, username=DEMO_ADMIN)
    return password
