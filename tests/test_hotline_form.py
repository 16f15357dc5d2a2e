"""The phone ticket form of the admin panel (issue 7), on SQLite and PostgreSQL.

The engineer who takes a call live opens its ticket on one screen; the call's start is the
report's time (seed 001 四.3(1): 接到电话后1小时内提供反馈意见), now by default, editable,
and audited when edited. The headless-Chromium run of the same form is in test_browser.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from sqlmodel import select

from admin.app import create_app
from admin.passwords import hash_password
from tests.conftest import Env
from tests.helpers import person, tickets
from tests.test_hotline_intake import call, record
from tickets import service
from tickets.clocks import clocks_of
from tickets.models import Account, AuditLog, CoveredSystem, Hospital, Person

SHANGHAI = ZoneInfo("Asia/Shanghai")


def add_account(env: Env, username: str) -> None:
    with env.db.session() as session:
        session.add(Account(username=username, password_hash=hash_password("pass-" + username),
                            person_id=person(env, username).id, created_at=env.clock()))


@contextmanager
def logged_in(env: Env, username: str = "admin") -> Iterator[TestClient]:
    password = env.admin_password if username == "admin" else "pass-" + username
    with TestClient(create_app(env.settings, runtime=env.runtime)) as client:
        ok = client.post("/admin/login", data={"username": username, "password": password})
        assert ok.status_code == 200 and "退出" in ok.text
        yield client


def form_fields(html: str) -> dict[str, str]:
    """The hidden and pre-filled fields of the form as the page renders them."""
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)"[^>]*value="([^"]*)"', html))
    fields["started"] = re.search(r'name="started" id="started" value="([^"]*)"', html).group(1)  # type: ignore[union-attr]
    return fields


def system_id(env: Env, hospital_key: str, name_part: str) -> int:
    with env.db.session() as session:
        hospital = session.exec(select(Hospital).where(Hospital.key == hospital_key)).one()
        contract = service.contract_for_hospital(session, hospital.id or 0)
        assert contract is not None
        return next(s.id for s in service.systems_of(session, contract.id or 0) if name_part in s.name)  # type: ignore[misc]


def audits(env: Env, action: str) -> list[AuditLog]:
    with env.db.session() as session:
        return list(session.exec(select(AuditLog).where(AuditLog.action == action)))


def test_an_engineer_opens_a_ticket_from_a_call_timed_from_when_the_form_opened(env: Env) -> None:
    """Seed 001 (南溪山): the response clock starts at the call, answered by a named engineer."""
    add_account(env, "zhangwei")
    dialysis = system_id(env, "nanxishan", "透析")
    with logged_in(env, "zhangwei") as client:
        page = client.get("/admin/hotline/new")
        assert page.status_code == 200 and "电话建单" in page.text
        fields = form_fields(page.text)
        opened = env.clock()
        assert fields["started"] == opened.astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M")
        env.clock.advance(minutes=4)  # the engineer listens and types
        done = client.post("/admin/hotline/new", data={
            **fields, "caller": "13900000003", "system_id": str(dialysis), "severity": "",
            "description": "透析机联网的系统登不上了，整个透析室都用不了", "minutes": "5",
            "recording_ref": "rec-0001"})
        assert done.status_code == 200 and "已为来电登记工单" in done.text
        [ticket] = tickets(env)
        assert done.url.path == f"/admin/tickets/{ticket.id}"
        assert ticket.reported_at == opened and ticket.system_id == dialysis
        assert not ticket.severity_confirmed and ticket.proposed_severity  # words proposed a level
        with env.db.session() as session:
            response = next(c for c in clocks_of(session, ticket.id or 0) if c.name == "response")
        assert response.started_at == opened and response.due_at == opened + timedelta(hours=1)
        # Evidence on the ticket: who answered, when, how long, the transcript and the recording.
        calls = done.text.split('id="calls"')[1].split("</table>")[0]
        assert "张伟" in calls and "5 分 0 秒" in calls and "rec-0001" in calls and "透析机联网" in calls
        assert "13900000003" in calls
        assert "来电建议" in done.text
        # Sending the same form again (a double click, a reload) opens nothing more.
        again = client.post("/admin/hotline/new", data={
            **fields, "caller": "13900000003", "description": "透析机联网的系统登不上了"})
        assert again.url.path == f"/admin/tickets/{ticket.id}" and len(tickets(env)) == 1
        # A second call of the same person about the same system joins the open ticket.
        env.clock.advance(minutes=30)
        fields = form_fields(client.get("/admin/hotline/new").text)
        more = client.post("/admin/hotline/new", data={
            **fields, "caller": "13900000003", "system_id": str(dialysis), "description": "还是登不上"})
        assert more.url.path == f"/admin/tickets/{ticket.id}" and "已追加到工单" in more.text
        assert len(tickets(env)) == 1 and more.text.count('<tr data-call=') == 2
    assert not audits(env, "hotline.call_time_edited")


def test_a_posted_call_id_of_another_shape_cannot_take_a_telephony_calls_id(env: Env) -> None:
    with logged_in(env) as client:
        fields = form_fields(client.get("/admin/hotline/new").text)
        done = client.post("/admin/hotline/new", data={**fields, "call_id": "CALL-0001", "caller": "13900000003",
                                                        "description": "透析系统打不开"})
        assert done.status_code == 200
    assert call(env, record("CALL-0001", "13900000004", "医保结算报错"))  # the telephony's own call is new
    assert len(tickets(env)) == 2


def test_an_edited_call_time_is_the_reports_time_and_is_audited(env: Env) -> None:
    add_account(env, "lina")
    chenjing = person(env, "chenjing")
    with logged_in(env, "lina") as client:
        fields = form_fields(client.get("/admin/hotline/new").text)
        earlier = env.clock().astimezone(SHANGHAI) - timedelta(minutes=25)
        done = client.post("/admin/hotline/new", data={
            **fields, "person_id": str(chenjing.id), "caller": "13900", "severity": "",
            "started": earlier.strftime("%Y-%m-%dT%H:%M"), "description": "透析记录打印不出来"})
        assert done.status_code == 200
    [ticket] = tickets(env)
    start = earlier.replace(second=0, microsecond=0)
    assert ticket.reported_at == start
    [edit] = audits(env, "hotline.call_time_edited")
    assert edit.actor == "lina" and edit.detail["started_at"] == start.isoformat()
    assert done.text.count("未记录") == 1  # a call logged afterwards: its length is not known
    calls = done.text.split('id="calls"')[1].split("</table>")[0]
    assert "<td>13900000003</td>" in calls  # the picked caller's line, not the digits typed to find her


def test_the_engineer_chooses_system_and_level_and_the_level_is_confirmed(env: Env) -> None:
    with env.db.session() as session:
        hospital = session.exec(select(Hospital).where(Hospital.key == "wuhan-central")).one()
        contract = service.contract_for_hospital(session, hospital.id or 0)
        assert contract is not None
        second = service.policy_of(contract).levels[1]
        drg = service.systems_of(session, contract.id or 0)[0]
    with logged_in(env) as client:
        fields = form_fields(client.get("/admin/hotline/new").text)
        done = client.post("/admin/hotline/new", data={
            **fields, "caller": "刘芳", "system_id": str(drg.id), "severity": second.code,
            "description": "分组结果和上周不一样"})
        assert done.status_code == 200, done.text
    [ticket] = tickets(env)
    assert ticket.system_id == drg.id and ticket.severity == second.code and ticket.severity_confirmed
    assert ticket.written_report_pending  # seed 000 counts from the written report: the page says so
    assert "等待书面报障" in done.text
    [set_by] = audits(env, "ticket.severity_set")
    assert set_by.actor == "admin"


def test_wrong_input_is_refused_in_chinese_and_opens_nothing(env: Env) -> None:
    liuzhou = system_id(env, "liuzhou-workers", "")
    with logged_in(env) as client:
        fields = form_fields(client.get("/admin/hotline/new").text)
        cases = [
            ({"caller": "", "description": "打不开"}, "请填写来电号码或来电人姓名"),
            ({"caller": "13900000003", "description": ""}, "请填写来电反映的问题"),
            ({"caller": "不存在的人", "description": "打不开"}, "没有找到名为「不存在的人」的来电人"),
            ({"caller": "021-55555555", "description": "打不开"}, "不属于通讯录中的人员"),
            ({"caller": "13900000003", "description": "打不开", "system_id": str(liuzhou)}, "不在来电人医院的维保合同范围内"),
            ({"caller": "13900000003", "description": "打不开", "severity": "no-such"}, "不是来电人医院合同中的故障级别"),
            ({"caller": "13900000003", "description": "打不开", "minutes": "abc"}, "整数分钟"),
            ({"caller": "13900000003", "description": "打不开", "started": "2026-11-23T18:00"}, "不能晚于现在"),
            ({"caller": "13900000003", "description": "打不开", "started": "昨天"}, "格式不对"),
            ({"person_id": "9" * 30, "description": "打不开"}, "所选来电人不存在"),
            ({"caller": "13900000003", "description": "打不开", "system_id": "9" * 30}, "不在来电人医院的维保合同范围内"),
        ]
        for data, message in cases:
            answer = client.post("/admin/hotline/new", data={**fields, **data})
            assert answer.status_code == 400 and message in answer.text, (data, answer.text[-500:])
            assert 'id="form-error"' in answer.text
            if data.get("description"):
                assert data["description"] in answer.text  # what was typed is kept
    assert tickets(env) == []


def test_lookup_by_number_or_name_only_within_the_hospitals_served(env: Env) -> None:
    add_account(env, "zhaolei")  # serves gdph and liuzhou-workers only
    with logged_in(env) as client:
        found = client.get("/admin/hotline/callers", params={"q": "139 0000 0001"}).json()
        assert [c["label"].split(" · ")[0] for c in found] == ["刘芳"]
        assert found[0]["contract"] == "wuhan-central-drg" and "心血管内科" in found[0]["label"]
        assert client.get("/admin/hotline/callers", params={"q": "+86 139-0000-0001"}).json() == found
        by_name = client.get("/admin/hotline/callers", params={"q": "孙"}).json()
        assert [c["label"].split(" · ")[0] for c in by_name] == ["孙丽"]
        assert client.get("/admin/hotline/callers", params={"q": "13800000001"}).json() == []  # an engineer
    with logged_in(env, "zhaolei") as client:
        assert client.get("/admin/hotline/callers", params={"q": "13900000001"}).json() == []
        assert [c["label"].split(" · ")[0] for c in client.get("/admin/hotline/callers",
                                                               params={"q": "黄"}).json()] == ["黄磊"]
        fields = form_fields(client.get("/admin/hotline/new").text)
        refused = client.post("/admin/hotline/new", data={**fields, "caller": "13900000001",
                                                           "description": "DRG打不开"})
        assert refused.status_code == 400 and "不在您服务的医院" in refused.text
        with env.db.session() as session:
            liufang = session.exec(select(Person).where(Person.wecom_userid == "liufang")).one()
        forged = client.post("/admin/hotline/new", data={**fields, "person_id": str(liufang.id),
                                                          "description": "DRG打不开"})
        assert forged.status_code == 400 and "不在您服务的范围内" in forged.text
    assert tickets(env) == []


def test_two_callers_of_one_name_must_be_picked_from_the_list(env: Env) -> None:
    with env.db.session() as session:
        gdph = session.exec(select(Hospital).where(Hospital.key == "gdph")).one()
        session.add(Person(name="黄磊", hospital_id=gdph.id, department="药剂科", phone="13900000099"))
    with logged_in(env) as client:
        fields = form_fields(client.get("/admin/hotline/new").text)
        answer = client.post("/admin/hotline/new", data={**fields, "caller": "黄磊", "description": "发票打不出"})
        assert answer.status_code == 400 and "有 2 位来电人与「黄磊」相符" in answer.text
        by_number = client.post("/admin/hotline/new", data={**fields, "caller": "13900000099",
                                                             "description": "发票打不出"})
        assert by_number.status_code == 200
    [ticket] = tickets(env)
    with env.db.session() as session:
        reporter = session.get(Person, ticket.reporter_id)
        assert reporter is not None and reporter.department == "药剂科"


def test_hospital_accounts_cannot_take_calls(env: Env) -> None:
    add_account(env, "wugang")
    with logged_in(env, "wugang") as client:
        assert "电话建单" not in client.get("/admin").text
        assert client.get("/admin/hotline/new").status_code == 403
        assert client.get("/admin/hotline/callers", params={"q": "刘"}).status_code == 403
        refused = client.post("/admin/hotline/new", data={"caller": "13900000001", "description": "x"})
        assert refused.status_code == 403 and "只有维保服务方的人员可以电话建单" in refused.text
    with logged_in(env) as client:
        assert 'href="/admin/hotline/new"' in client.get("/admin").text
    assert tickets(env) == []


def test_a_calls_ticket_page_shows_the_record_of_an_imported_call(env: Env) -> None:
    """A call from the telephony: the agent by WeCom userid, the duration, the recording reference."""
    call(env, record("c-evidence", "13900000003", "透析系统打不开", "全部机器都连不上"))
    [ticket] = tickets(env)
    with logged_in(env) as client:
        page = client.get(f"/admin/tickets/{ticket.id}").text
    calls = page.split('id="calls"')[1].split("</table>")[0]
    assert "c-evidence" in calls and "张伟" in calls and "3 分 0 秒" in calls and "rec://c-evidence.wav" in calls
    assert "来电人：全部机器都连不上" in calls and "坐席：好的，我马上看一下。" in calls
    started = datetime(2026, 11, 23, 9, 20)
    assert started.strftime("%Y-%m-%d %H:%M:%S") in calls


def test_covered_systems_exist_for_the_form(env: Env) -> None:
    """The form's choices come from the contracts: every demo hospital's contract lists systems and levels."""
    with logged_in(env) as client:
        page = client.get("/admin/hotline/new").text
    with env.db.session() as session:
        names = [s.name for s in session.exec(select(CoveredSystem))]
    assert names and all(name in page for name in names)
    assert page.count("<optgroup") == 2 * 5  # systems and levels of each demo hospital's contract
