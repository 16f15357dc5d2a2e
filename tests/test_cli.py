"""The ``helpdesk`` console script, run as an operator runs it: a subprocess on a fresh var/."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlmodel import select

from tests.conftest import free_port
from tickets import Database
from tickets.models import AuditLog, Hospital, Person

HELPDESK = str(Path(sys.executable).parent / "helpdesk")


def run(var: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELPDESK_")}
    env |= {"HELPDESK_VAR_DIR": str(var), "HELPDESK_LOG_LEVEL": "WARNING"}
    return subprocess.run([HELPDESK, *args], env=env, input=stdin, capture_output=True, text=True, timeout=120)


@pytest.fixture
def var(tmp_path: Path) -> Path:
    return tmp_path / "var"


def test_serve_refuses_an_unmigrated_database(var: Path) -> None:
    result = run(var, "serve", "--port", str(free_port()))
    assert result.returncode == 2
    assert "helpdesk migrate" in result.stderr


@pytest.fixture
def served(var: Path) -> Iterator[str]:
    assert run(var, "migrate").returncode == 0
    demo = run(var, "demo")
    assert demo.returncode == 0 and "管理后台账户：admin  密码：" in demo.stdout
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELPDESK_")} | {"HELPDESK_VAR_DIR": str(var)}
    proc = subprocess.Popen([HELPDESK, "serve", "--port", str(port)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"server did not start: {proc.stdout.read() if proc.stdout else ''}") from None
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_fresh_install_serves_chat_and_admin_login(served: str, var: Path) -> None:
    assert "网页聊天" in httpx.get(f"{served}/chat").text
    health = httpx.get(f"{served}/healthz").json()
    assert health["ok"] and health["wecom_callback"] is False and health["outbox"] == {}
    assert "登录管理后台" in httpx.get(f"{served}/admin/login").text
    password = (var / "demo_admin_password").read_text().strip()
    with httpx.Client(base_url=served) as client:
        assert client.get("/admin").status_code == 303
        resp = client.post("/admin/login", data={"username": "admin", "password": password, "next": "/admin"},
                           follow_redirects=True)
        assert resp.status_code == 200 and "工单队列" in resp.text


def test_demo_is_idempotent_and_shows_the_same_password(var: Path) -> None:
    run(var, "migrate")
    first, second = run(var, "demo").stdout, run(var, "demo").stdout
    assert first == second


def test_tickets_list_and_show_json(served: str, var: Path) -> None:
    people = httpx.get(f"{served}/chat/api/people").json()
    nurse = next(p for p in people if p["name"] == "刘芳")
    httpx.post(f"{served}/chat/api/messages", json={"person_id": nurse["id"], "text": "DRG系统全院都白屏了", "client_id": "abcdef12"})
    deadline = time.monotonic() + 10
    while not json.loads(run(var, "tickets", "list", "--json").stdout):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    [ticket] = json.loads(run(var, "tickets", "list", "--json").stdout)
    assert ticket["number"] == 1 and ticket["hospital_key"] == "wuhan-central" and ticket["severity"] == "fatal"
    assert ticket["reported_at"] and ticket["response_due_at"]
    shown = json.loads(run(var, "tickets", "show", "1", "--json").stdout)
    first = shown["messages"][0]
    assert first["channel"] == "webchat" and first["is_written_report"] and first["channel_ts"] == ticket["reported_at"]
    assert run(var, "tickets", "show", "99").returncode == 1


def test_people_import_reports_bad_lines_and_is_idempotent(var: Path, tmp_path: Path) -> None:
    run(var, "migrate")
    run(var, "demo")
    csv_file = tmp_path / "people.csv"
    csv_file.write_bytes(
        "姓名,角色,医院,科室,企业微信账号,邮箱,手机\n"
        "王堃,报障人,武汉市中心医院,放射科,wangkun,,13700000001\n"
        "李四,外包,武汉市中心医院,放射科,lisi,,\n"
        "赵六,reporter,不存在医院,内科,zhaoliu,,\n".encode("gb18030")
    )
    first = run(var, "people", "import", str(csv_file))
    assert first.returncode == 1
    assert "新增 1 人" in first.stdout
    assert "第 3 行" in first.stderr and "未知角色" in first.stderr
    assert "第 4 行" in first.stderr and "未知医院" in first.stderr
    again = run(var, "people", "import", str(csv_file))
    assert "新增 0 人" in again.stdout and "未变 1 人" in again.stdout


def test_createuser(var: Path) -> None:
    run(var, "migrate")
    made = run(var, "createuser", "ops", "--password-stdin", stdin="a-long-password\n")
    assert made.returncode == 0
    again = run(var, "createuser", "ops", "--password-stdin", stdin="another-password\n")
    assert again.returncode == 1 and "--reset" in again.stderr
    short = run(var, "createuser", "ops2", "--password-stdin", stdin="short\n")
    assert short.returncode == 1


def test_outbox_and_inbound_status_and_retry(var: Path) -> None:
    run(var, "migrate")
    status = run(var, "outbox", "status")
    assert status.returncode == 0 and "待发送消息" in status.stdout
    assert run(var, "outbox", "retry").stdout.strip() == "已重新排队 0 条消息。"
    assert run(var, "outbox", "retry", "42").returncode == 1
    assert "收到消息" in run(var, "inbound", "status").stdout
    assert run(var, "inbound", "retry").returncode == 0


def test_a_separate_worker_process_does_the_work(var: Path) -> None:
    """Web with HELPDESK_WORKERS=false stores; `helpdesk worker` processes and delivers."""
    assert run(var, "migrate").returncode == 0 and run(var, "demo").returncode == 0
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELPDESK_")} | {"HELPDESK_VAR_DIR": str(var)}
    web = subprocess.Popen([HELPDESK, "serve", "--port", str(port)], env=env | {"HELPDESK_WORKERS": "false"},
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    worker = subprocess.Popen([HELPDESK, "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                people = httpx.get(f"{base}/chat/api/people", timeout=1).json()
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and web.poll() is None
                time.sleep(0.1)
        nurse = next(p for p in people if p["name"] == "陈静")
        httpx.post(f"{base}/chat/api/messages", json={"person_id": nurse["id"], "text": "透析室所有电脑都登不上透析系统了",
                                                       "client_id": "worker-test-1"})
        while not any("工单号 #1" in line["text"]
                      for line in httpx.get(f"{base}/chat/api/lines", params={"person_id": nurse["id"]}).json()):
            assert time.monotonic() < deadline and worker.poll() is None
            time.sleep(0.2)
    finally:
        for proc in (web, worker):
            proc.terminate()
            proc.wait(timeout=10)


def test_people_serves_and_a_hospitals_own_group(var: Path, tmp_path: Path) -> None:
    run(var, "migrate")
    run(var, "demo")
    csv_file = tmp_path / "engineers.csv"
    csv_file.write_text("name,role,department,wecom_userid,服务医院\n"
                        "钱多,engineer,驻场组,qianduo,武汉市中心医院；nanxishan\n"
                        "孙少,engineer,驻场组,sunshao,\n"
                        "周全,engineer,驻场组,zhouquan,nowhere\n", encoding="utf-8")
    result = run(var, "people", "import", str(csv_file))
    assert result.returncode == 1 and "第 4 行" in result.stderr and "未知医院：nowhere" in result.stderr
    db = Database(f"sqlite:///{var / 'helpdesk.db'}")
    with db.session() as session:
        serves = {p.wecom_userid: p.serves for p in session.exec(select(Person).where(Person.department == "驻场组"))}
    assert serves == {"qianduo": ["nanxishan", "wuhan-central"], "sunshao": ["*"],
                      "zhaolei": ["gdph", "liuzhou-workers"]}

    assert run(var, "wecom", "hospital-group", "wuhan-central", "wrkWuhan").stdout.strip() == "武汉市中心医院：wrkWuhan"
    assert run(var, "wecom", "hospital-group", "nowhere", "x").returncode == 1
    with db.session() as session:
        wuhan = session.exec(select(Hospital).where(Hospital.key == "wuhan-central")).one()
        [entry] = session.exec(select(AuditLog).where(AuditLog.action == "hospital.engineer_group_set")).all()
    assert wuhan.engineer_chatid == "wrkWuhan" and entry.detail["new"] == "wrkWuhan"
    db.dispose()
