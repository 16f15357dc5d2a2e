"""The people directory and its CSV import.

A hospital's HR system or WeCom directory export is the source: a CSV with a
header (name, role, hospital, department, wecom_userid, email, phone — Chinese
headers as Excel exports them are accepted too), UTF-8 with or without BOM, or
GB18030 as Chinese Excel saves it. Import is idempotent: a row updates the
person with the same WeCom userid, else the same email, else adds one.
Bad rows are reported by line number and skipped; the good rows are imported
in one transaction.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlmodel import Session, select

from tickets.models import Hospital, Person, Role
from tickets.service import SYSTEM, audit

HEADER_ALIASES = {
    "name": "name", "姓名": "name",
    "role": "role", "角色": "role",
    "hospital": "hospital", "医院": "hospital",
    "department": "department", "科室": "department", "部门": "department",
    "wecom_userid": "wecom_userid", "企业微信": "wecom_userid", "企业微信账号": "wecom_userid", "userid": "wecom_userid",
    "账号": "wecom_userid",
    "email": "email", "邮箱": "email", "电子邮箱": "email",
    "phone": "phone", "手机": "phone", "电话": "phone", "手机号": "phone",
    "serves": "serves", "服务医院": "serves", "负责医院": "serves",
}
# In the serves column: every hospital.
EVERY_HOSPITAL_WORDS = ("*", "全部", "所有", "all")
ROLE_ALIASES = {
    "reporter": Role.REPORTER, "报障人": Role.REPORTER, "临床": Role.REPORTER,
    "engineer": Role.ENGINEER, "工程师": Role.ENGINEER, "运维工程师": Role.ENGINEER,
    "manager": Role.MANAGER, "经理": Role.MANAGER, "服务经理": Role.MANAGER,
    "hospital_admin": Role.HOSPITAL_ADMIN, "信息科": Role.HOSPITAL_ADMIN,
}


@dataclass
class ImportReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason in Chinese)


def decode_csv(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ValueError("文件既不是 UTF-8 也不是 GB18030 编码")


def import_people_file(session: Session, path: Path, now: datetime) -> ImportReport:
    return import_people_csv(session, decode_csv(path.read_bytes()), now)


def import_people_csv(session: Session, text: str, now: datetime) -> ImportReport:
    report = ImportReport()
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        report.errors.append((1, "文件为空"))
        return report
    columns = [HEADER_ALIASES.get(h.strip().lower(), HEADER_ALIASES.get(h.strip(), "")) for h in header]
    if "name" not in columns or "role" not in columns:
        report.errors.append((1, f"表头缺少 name 或 role 列：{header}"))
        return report
    hospitals = _hospital_index(session)
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        values = {col: (row[i].strip() if i < len(row) else "") for i, col in enumerate(columns) if col}
        try:
            outcome = _upsert(session, values, hospitals, now)
        except ValueError as exc:
            report.errors.append((line, str(exc)))
            continue
        setattr(report, outcome, getattr(report, outcome) + 1)
    return report


def _hospital_index(session: Session) -> dict[str, Hospital]:
    index: dict[str, Hospital] = {}
    for h in session.exec(select(Hospital)).all():
        index[h.key] = h
        index[h.name] = h
    return index


def _upsert(session: Session, v: dict[str, str], hospitals: dict[str, Hospital], now: datetime) -> str:
    name = v.get("name", "")
    if not name:
        raise ValueError("姓名为空")
    role = ROLE_ALIASES.get(v.get("role", "").lower()) or ROLE_ALIASES.get(v.get("role", ""))
    if role is None:
        raise ValueError(f"未知角色 {v.get('role')!r}（可选 reporter / engineer / manager / hospital_admin）")
    hospital_id = None
    if v.get("hospital"):
        hospital = hospitals.get(v["hospital"])
        if hospital is None:
            raise ValueError(f"未知医院 {v['hospital']!r}")
        hospital_id = hospital.id
    elif role in (Role.REPORTER, Role.HOSPITAL_ADMIN):
        raise ValueError("报障人和信息科人员必须填写医院")
    userid, email = v.get("wecom_userid") or None, (v.get("email") or "").lower() or None
    if not userid and not email:
        raise ValueError("企业微信账号和邮箱至少填写一项（用于识别同一个人）")
    if email and "@" not in email:
        raise ValueError(f"邮箱格式不对：{email!r}")
    person = _find(session, userid, email)
    if person is not None and email:
        other = session.exec(select(Person).where(Person.email == email, Person.id != person.id)).first()
        if other is not None:
            raise ValueError(f"邮箱 {email} 已属于 {other.name}，与企业微信账号 {userid} 不是同一人")
    fields: dict[str, object] = {"name": name, "role": str(role), "hospital_id": hospital_id,
                                 "department": v.get("department", ""), "wecom_userid": userid, "email": email,
                                 "phone": v.get("phone", "")}
    if hospital_id is None and (v.get("serves") or person is None):
        # The vendor's people: the hospitals whose tickets they may work (empty: all of them).
        fields["serves"] = _serves(v.get("serves", ""), hospitals)
    if person is None:
        person = Person(**fields)
        session.add(person)
        session.flush()
        audit(session, SYSTEM, "person.imported", now, person_id=person.id, **_public(fields))
        return "added"
    changed = {k: val for k, val in fields.items() if getattr(person, k) != val and (val or k == "hospital_id")}
    if not changed:
        return "unchanged"
    for k, val in changed.items():
        setattr(person, k, val)
    session.add(person)
    session.flush()
    audit(session, SYSTEM, "person.updated", now, person_id=person.id, **_public(changed))
    return "updated"


def _serves(text: str, hospitals: dict[str, Hospital]) -> list[str]:
    items = [i for i in re.split(r"[;；,，、|\s]+", text.strip()) if i]
    if not items or any(i.lower() in EVERY_HOSPITAL_WORDS for i in items):
        return ["*"]
    unknown = [i for i in items if i not in hospitals]
    if unknown:
        raise ValueError(f"服务医院中有未知医院：{'、'.join(unknown)}")
    return sorted({hospitals[i].key for i in items})


def _find(session: Session, userid: str | None, email: str | None) -> Person | None:
    if userid:
        person = session.exec(select(Person).where(Person.wecom_userid == userid)).first()
        if person:
            return person
    if email:
        return session.exec(select(Person).where(Person.email == email)).first()
    return None


def _public(fields: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in fields.items() if k != "phone"}
