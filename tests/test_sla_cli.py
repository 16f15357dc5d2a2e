"""``helpdesk sla …`` as an operator runs it: a subprocess, with and without an installed database."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from sla import statutory
from tests.test_cli import run

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def var(tmp_path: Path) -> Path:
    return tmp_path / "var"


@pytest.fixture
def installed(var: Path) -> Path:
    assert run(var, "migrate").returncode == 0
    assert run(var, "demo").returncode == 0
    return var


def test_deadlines_json_without_a_database(var: Path) -> None:
    result = run(var, "sla", "deadlines", "--contract", "gdph-einvoice", "--severity", "standard",
                 "--reported-at", "2026-02-13T17:50", "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["contract"] == "gdph-einvoice" and out["severity"] == "standard"
    assert out["reported_at"] == "2026-02-13T17:50:00+08:00"
    assert {k: v["due"] for k, v in out["clocks"].items()} == {
        "response": "2026-02-13T18:20:00+08:00",  # 工作期间 0.5 h
        "onsite": "2026-02-13T18:50:00+08:00",
        "resolution": "2026-02-24T18:00:00+08:00",  # 2 working days: make-up Sat 2/14, then Tue 2/24
    }
    assert out["clocks"]["resolution"]["calendar"] == "working_days"
    assert out["calendar_confirmed"] is True
    assert not (var / "helpdesk.db").exists()  # checking a deadline installs nothing


def test_deadlines_in_an_unpublished_year_are_flagged(var: Path) -> None:
    result = run(var, "sla", "deadlines", "--contract", "shanxi-cancer-his", "--severity", "urgent",
                 "--reported-at", "2027-09-30T17:00:00+08:00")
    assert result.returncode == 0
    assert "尚未公布节假日安排" in result.stdout


def test_bad_input_gets_a_chinese_message_and_exit_1(var: Path) -> None:
    result = run(var, "sla", "deadlines", "--contract", "nowhere", "--severity", "x", "--reported-at", "2026-01-01")
    assert result.returncode == 1 and "没有合同或预设「nowhere」" in result.stderr
    result = run(var, "sla", "deadlines", "--contract", "liuzhou-workers-oa", "--severity", "L9",
                 "--reported-at", "2026-01-01")
    assert result.returncode == 1 and "L1、L2、L3、L4、L5" in result.stderr
    result = run(var, "sla", "deadlines", "--contract", "liuzhou-workers-oa", "--severity", "L1",
                 "--reported-at", "yesterday")
    assert result.returncode == 1 and "ISO 8601" in result.stderr


def test_presets_table_and_the_committed_docs_are_current(var: Path) -> None:
    table = run(var, "sla", "presets")
    assert table.returncode == 0
    for key in ("wuhan-central-drg", "nanxishan-hemodialysis", "shanxi-cancer-his", "gdph-einvoice",
                "liuzhou-workers-oa"):
        assert key in table.stdout
    generated = run(var, "sla", "presets", "--markdown").stdout
    assert generated == (ROOT / "docs" / "sla-presets.md").read_text(encoding="utf-8"), \
        "docs/sla-presets.md is stale: run `helpdesk sla presets --markdown > docs/sla-presets.md`"


LUNCH_POLICY = """
name = "工作时间口径"
working_hours = {"mon-fri" = ["08:00-12:00", "13:00-18:00"]}

[[levels]]
code = "standard"
name = "系统故障"
description = "信息系统故障"

[levels.clocks.response]
calendar = "working_hours"
minutes = 240
clause = "test: 4 working hours"
"""


def test_policy_import_then_elapsed_in_working_hours(installed: Path, tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text(LUNCH_POLICY, encoding="utf-8")
    result = run(installed, "sla", "policy", "import", "--contract", "gdph-einvoice", str(policy))
    assert result.returncode == 0, result.stderr
    # Fri 2/13 17:00 → Tue 2/24 09:00: 1 h Friday + 9 h on make-up Saturday 2/14 + 1 h Tuesday.
    result = run(installed, "sla", "elapsed", "--contract", "gdph-einvoice", "--severity", "standard",
                 "--clock", "response", "--from", "2026-02-13T17:00", "--to", "2026-02-24T09:00", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["seconds"] == 11 * 3600
    exported = run(installed, "sla", "policy", "export", "--contract", "gdph-einvoice")
    assert "working_hours" in exported.stdout and "13:00-18:00" in exported.stdout


def test_an_invalid_policy_is_refused_and_the_contract_keeps_its_own(installed: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("levels:\n  - code: x\n    name: x\n    description: x\n"
                   "    clocks:\n      response: {calendar: working_days, minutes: 30}\n", encoding="utf-8")
    result = run(installed, "sla", "policy", "import", "--contract", "gdph-einvoice", str(bad))
    assert result.returncode == 1 and "SLA 文档校验未通过" in result.stderr
    exported = run(installed, "sla", "policy", "export", "--contract", "gdph-einvoice", "--format", "json")
    assert json.loads(exported.stdout)["levels"][0]["code"] == "standard"


def test_calendar_check_then_enter_next_year_by_hand(installed: Path) -> None:
    this_year = date.today().year
    known = set(statutory.known_years())
    check = run(installed, "sla", "calendar-check")
    assert check.returncode == (0 if {this_year, this_year + 1} <= known else 1)
    assert f"{this_year} 年" in check.stdout and f"{this_year + 1} 年" in check.stdout

    # 2027 by hand: New Year's Day on Friday 1/1.
    assert run(installed, "sla", "calendar", "set", "2027-01-01", "--holiday", "--name", "元旦").returncode == 0
    assert run(installed, "sla", "calendar", "confirm", "2027").returncode == 0
    listed = run(installed, "sla", "calendar", "list", "2027")
    assert "2027-01-01 放假 元旦" in listed.stdout and "已确认" in listed.stdout
    result = run(installed, "sla", "deadlines", "--contract", "shanxi-cancer-his", "--severity", "urgent",
                 "--reported-at", "2026-12-31T17:00", "--json")
    out = json.loads(result.stdout)
    assert out["clocks"]["resolution"]["due"] == "2027-01-04T18:00:00+08:00"  # Fri holiday, weekend, Monday
    assert out["calendar_confirmed"] is True


def test_report_on_an_empty_period(installed: Path) -> None:
    result = run(installed, "sla", "report", "--contract", "wuhan-central-drg", "--from", "2026-01-01",
                 "--to", "2026-03-31", "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["tickets"] == [] and out["sample"]["pass_rate"] is None and out["penalties"]["total_yuan"] == "0"
