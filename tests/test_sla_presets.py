"""Hand-computed deadlines per preset, around the 2026 holidays, plus policy and penalty rules.

Every expected instant below was worked out by hand from the seed's clause and
the State Council's 2026 schedule (Spring Festival: 2/15–2/23 off, Saturdays
2/14 and 2/28 worked; National Day: 10/1–10/7 off, Sunday 9/20 and Saturday
10/10 worked), never by running the code.
"""

from __future__ import annotations

import tomllib
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from sla import (
    PRESETS,
    Calendars,
    DayRules,
    Pause,
    SlaPolicy,
    TicketFacts,
    TicketOutcome,
    WorkingWeek,
    assess,
    deadlines,
    evaluate,
    evaluation_report,
    grade,
)
from sla.clocks import DEFAULT_WEEK
from sla.statutory import library_rules

SH = ZoneInfo("Asia/Shanghai")
CAL = Calendars(SH, DEFAULT_WEEK, library_rules())


def t(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SH)


def due(key: str, severity: str, reported: str, kind: str = "fault") -> dict[str, str]:
    states = deadlines(PRESETS[key], severity, kind, t(reported), CAL)
    return {name: s.due_at.astimezone(SH).strftime("%Y-%m-%d %H:%M") for name, s in states.items() if s.due_at}


CASES = [
    # seed 000, 7×24 from the written report; 致命 1 h / 2 h on site / 2 h to resolve.
    ("wuhan-central-drg", "fatal", "fault", "2026-02-13 17:50",
     {"response": "2026-02-13 18:50", "onsite": "2026-02-13 19:50", "resolution": "2026-02-13 19:50"}),
    # 02:00 during the National Day holiday: 7×24 does not care.
    ("wuhan-central-drg", "serious", "fault", "2026-10-02 02:00",
     {"response": "2026-10-02 04:00", "onsite": "2026-10-02 04:00", "resolution": "2026-10-02 06:00"}),
    # 需求变更: 12 h response; 3 working days: 2/14 (make-up Sat), 2/24, 2/25 → 2/25 18:00.
    ("wuhan-central-drg", "minor", "change", "2026-02-13 17:50",
     {"response": "2026-02-14 05:50", "resolution": "2026-02-25 18:00"}),
    ("wuhan-central-drg", "minor", "data", "2026-02-13 17:50",
     {"response": "2026-02-13 19:50", "onsite": "2026-02-13 19:50", "resolution": "2026-02-13 21:50"}),
    ("wuhan-central-drg", "fatal", "consult", "2026-02-13 17:50", {"response": "2026-02-14 05:50"}),
    # seed 001: 1 h from the call; on site within 24 h of the on-site request.
    ("nanxishan-hemodialysis", "standard", "fault", "2026-10-01 02:00",
     {"response": "2026-10-01 03:00", "onsite": "2026-10-02 02:00"}),
    # seed 002: 30 min; 紧急 1 working day, counted from the next day: Fri 2/13 → make-up Sat 2/14.
    ("shanxi-cancer-his", "urgent", "fault", "2026-02-13 17:50",
     {"response": "2026-02-13 18:20", "resolution": "2026-02-14 18:00"}),
    # Before National Day: the next working day after 9/30 is 10/8.
    ("shanxi-cancer-his", "urgent", "bug", "2026-09-30 17:00",
     {"response": "2026-09-30 17:30", "resolution": "2026-10-08 18:00"}),
    # 非紧急 5 working days from Fri 9/18: Sun 9/20 (make-up), 9/21, 9/22, 9/23, 9/24.
    ("shanxi-cancer-his", "normal", "data", "2026-09-18 10:00",
     {"response": "2026-09-18 10:30", "resolution": "2026-09-24 18:00"}),
    # From Fri 2/27: Sat 2/28 (make-up), 3/2, 3/3, 3/4, 3/5.
    ("shanxi-cancer-his", "normal", "fault", "2026-02-27 09:00",
     {"response": "2026-02-27 09:30", "resolution": "2026-03-05 18:00"}),
    # From Fri 10/9: Sat 10/10 (make-up) is the first working day.
    ("shanxi-cancer-his", "urgent", "fault", "2026-10-09 12:00",
     {"response": "2026-10-09 12:30", "resolution": "2026-10-10 18:00"}),
    # seed 003, Friday 17:50 is inside working hours: 0.5 h / 1 h, however close to 18:00.
    ("gdph-einvoice", "standard", "fault", "2026-02-13 17:50",
     {"response": "2026-02-13 18:20", "onsite": "2026-02-13 18:50", "resolution": "2026-02-24 18:00"}),
    ("gdph-einvoice", "standard", "bug", "2026-02-13 17:50",
     {"response": "2026-02-13 18:20", "onsite": "2026-02-13 18:50", "resolution": "2026-02-14 18:00"}),
    # 18:00 sharp is already outside working hours: 1 h / 2 h.
    ("gdph-einvoice", "standard", "fault", "2026-02-13 18:00",
     {"response": "2026-02-13 19:00", "onsite": "2026-02-13 20:00", "resolution": "2026-02-24 18:00"}),
    # The make-up Saturday is a working day: working-hours targets.
    ("gdph-einvoice", "standard", "fault", "2026-02-14 10:00",
     {"response": "2026-02-14 10:30", "onsite": "2026-02-14 11:00", "resolution": "2026-02-25 18:00"}),
    # A Spring Festival Monday is not.
    ("gdph-einvoice", "standard", "fault", "2026-02-16 10:00",
     {"response": "2026-02-16 11:00", "onsite": "2026-02-16 12:00", "resolution": "2026-02-25 18:00"}),
    ("gdph-einvoice", "standard", "change", "2026-02-13 17:50", {"change": "2026-03-15 17:50"}),
    # seed 004: 7×24; L1 15 min, 12 h to be on site or resolved, 24 h to resolve.
    ("liuzhou-workers-oa", "L1", "fault", "2026-12-31 23:50",
     {"response": "2027-01-01 00:05", "onsite": "2027-01-01 11:50", "resolution": "2027-01-01 23:50"}),
    ("liuzhou-workers-oa", "L5", "fault", "2026-02-14 08:00", {"response": "2026-02-14 14:00"}),
]


@pytest.mark.parametrize(("key", "severity", "kind", "reported", "expected"), CASES,
                         ids=[f"{c[0]}-{c[1]}-{c[2]}-{c[3]}" for c in CASES])
def test_preset_deadlines(key: str, severity: str, kind: str, reported: str, expected: dict[str, str]) -> None:
    assert due(key, severity, reported, kind) == expected


def test_preset_keys_levels_and_clock_names_are_as_the_issue_fixes_them() -> None:
    assert list(PRESETS) == ["wuhan-central-drg", "nanxishan-hemodialysis", "shanxi-cancer-his", "gdph-einvoice",
                             "liuzhou-workers-oa"]
    codes = {k: [lvl.code for lvl in p.levels] for k, p in PRESETS.items()}
    assert codes == {"wuhan-central-drg": ["fatal", "serious", "minor"], "nanxishan-hemodialysis": ["standard"],
                     "shanxi-cancer-his": ["urgent", "normal"], "gdph-einvoice": ["standard"],
                     "liuzhou-workers-oa": ["L1", "L2", "L3", "L4", "L5"]}
    for policy in PRESETS.values():
        for level in policy.levels:
            assert "response" in level.clocks
            for spec in level.clocks.values():
                assert spec.clause.startswith("seed 00"), spec


def test_deadline_in_an_unpublished_year_is_computed_by_weekdays_and_flagged() -> None:
    # 2027 has no State Council schedule yet: Fri 2027-01-01 counts as a working day, flagged.
    states = deadlines(PRESETS["shanxi-cancer-his"], "urgent", "fault", t("2026-12-31 17:00"), CAL)
    assert states["resolution"].due_at == t("2027-01-01 18:00")
    assert states["resolution"].calendar_confirmed is False
    assert states["response"].calendar_confirmed is True  # 7×24 needs no holiday data


def _policy(toml: str) -> SlaPolicy:
    return SlaPolicy.model_validate(tomllib.loads(toml))


WORKING_HOURS_POLICY = """
name = "工作时间口径（测试）"
working_hours = {"mon-fri" = ["08:00-12:00", "13:30-17:30"]}

[[levels]]
code = "standard"
name = "一般"
description = "一般问题"

[levels.clocks.response]
calendar = "working_hours"
minutes = 120
start = "written_report"
stop = ["first_human_reply"]
pause_on = ["waiting_hospital"]
clause = "test 工作时间内 2 小时"
"""


def test_report_during_lunch_break_counts_from_the_afternoon_window() -> None:
    policy = _policy(WORKING_HOURS_POLICY)
    states = deadlines(policy, "standard", "fault", t("2026-03-10 12:10"), CAL)
    assert states["response"].due_at == t("2026-03-10 15:30")


def test_friday_1750_under_working_hours_rolls_to_monday() -> None:
    policy = _policy(WORKING_HOURS_POLICY.replace('"13:30-17:30"', '"13:30-18:00"'))
    # Fri 3/6 17:50 → 10 minutes on Friday, 110 on Monday from 08:00.
    states = deadlines(policy, "standard", "fault", t("2026-03-06 17:50"), CAL)
    assert states["response"].due_at == t("2026-03-09 09:50")


def test_pause_across_a_weekend_excludes_only_working_time_paused() -> None:
    policy = _policy(WORKING_HOURS_POLICY)
    facts = TicketFacts(
        severity="standard",
        events={"written_report": [t("2026-03-06 16:00")]},
        pauses=[Pause("waiting_hospital", t("2026-03-06 17:00"), t("2026-03-09 10:00"))],
    )
    [state] = evaluate(policy, facts, CAL, t("2026-03-09 11:00"))
    # 1 h counted Friday 16:00–17:00; paused Fri 17:00–17:30 and Mon 08:00–10:00 (2.5 h of working time);
    # 1 h left from Monday 10:00 → 11:00.
    assert state.paused == timedelta(hours=2, minutes=30)
    assert state.due_at == t("2026-03-09 11:00")
    assert state.state == "running" and not state.breached


def test_an_open_pause_hides_the_deadline_and_a_pause_after_the_deadline_rescues_nothing() -> None:
    policy = _policy(WORKING_HOURS_POLICY)
    open_pause = TicketFacts(severity="standard", events={"written_report": [t("2026-03-06 16:00")]},
                             pauses=[Pause("waiting_hospital", t("2026-03-06 17:00"))])
    [state] = evaluate(policy, open_pause, CAL, t("2026-03-10 09:00"))
    assert state.state == "paused" and state.due_at is None and state.remaining == timedelta(hours=1)
    late = TicketFacts(severity="standard", events={"written_report": [t("2026-03-06 16:00")]},
                       pauses=[Pause("waiting_hospital", t("2026-03-09 11:00"), t("2026-03-09 15:00"))])
    [state] = evaluate(policy, late, CAL, t("2026-03-09 16:00"))
    # Due Mon 08:30 (1.5 h on Friday, 0.5 h on Monday): the 11:00 pause came too late to count.
    assert state.due_at == t("2026-03-09 08:30") and state.breached and state.paused == timedelta(0)


def test_a_pause_reason_the_clock_does_not_allow_is_ignored() -> None:
    facts = TicketFacts(severity="fatal", events={"written_report": [t("2026-03-06 16:00")]},
                        pauses=[Pause("waiting_authorisation", t("2026-03-06 16:10"), t("2026-03-06 20:00"))])
    states = {s.name: s for s in evaluate(PRESETS["wuhan-central-drg"], facts, CAL, t("2026-03-06 21:00"))}
    assert states["resolution"].due_at == t("2026-03-06 18:00") and states["resolution"].breached


def test_reply_stops_the_response_clock_and_reopening_undoes_a_resolution() -> None:
    facts = TicketFacts(severity="serious", events={
        "written_report": [t("2026-03-06 16:00")], "first_human_reply": [t("2026-03-06 17:30")],
        "resolved": [t("2026-03-06 18:00")], "reopened": [t("2026-03-06 19:00")],
    })
    states = {s.name: s for s in evaluate(PRESETS["wuhan-central-drg"], facts, CAL, t("2026-03-06 21:00"))}
    assert states["response"].stopped_at == t("2026-03-06 17:30") and not states["response"].breached
    assert states["resolution"].stopped_at is None and states["resolution"].breached  # due 20:00, still open


def test_invalid_policies_are_refused_with_the_reason() -> None:
    with pytest.raises(ValidationError, match="working_days"):
        _policy(WORKING_HOURS_POLICY.replace('calendar = "working_hours"', 'calendar = "working_days"'))
    with pytest.raises(ValidationError, match="unknown pause reason"):
        _policy(WORKING_HOURS_POLICY.replace("waiting_hospital", "coffee_break"))
    with pytest.raises(ValidationError, match="unknown start event"):
        _policy(WORKING_HOURS_POLICY.replace('start = "written_report"', 'start = "whenever"'))
    with pytest.raises(ValidationError, match="overlap"):
        _policy(WORKING_HOURS_POLICY.replace('"13:30-17:30"', '"11:30-17:30"'))


def test_foundation_documents_with_target_minutes_still_load() -> None:
    old = {"levels": [{"code": "fatal", "name": "致命", "description": "停机",
                       "clocks": {"response": {"target_minutes": 60, "calendar": "24x7", "clause": "x"}}}]}
    policy = SlaPolicy.model_validate(old)
    assert policy.level("fatal").clocks["response"].minutes == 60


def _outcome(ticket_id: int, severity: str, key: str, reported: str, replied: str | None,
             cause: str | None = None, kind: str = "fault") -> TicketOutcome:
    events = {"written_report": [t(reported)]}
    if replied:
        events["first_human_reply"] = [t(replied)]
    facts = TicketFacts(severity=severity, kind=kind, events=events)
    clocks = evaluate(PRESETS[key], facts, CAL, t("2026-03-31 23:00"))
    return TicketOutcome(ticket_id=ticket_id, severity=severity, kind=kind, cause=cause, clocks=clocks)


def test_seed_000_penalties_and_evaluation_report() -> None:
    outcomes = [
        _outcome(1, "fatal", "wuhan-central-drg", "2026-03-02 09:00", "2026-03-02 09:40"),  # in time
        _outcome(2, "serious", "wuhan-central-drg", "2026-03-03 09:00", "2026-03-03 10:30"),  # > 1 h, < 2 h target
        _outcome(3, "fatal", "wuhan-central-drg", "2026-03-04 09:00", "2026-03-04 11:00",
                 cause="vendor_no_notice"),  # > 1 h and breached
    ]
    report = evaluation_report(PRESETS["wuhan-central-drg"], outcomes, Decimal("44000"))
    assert report.responses_over == [2, 3]
    assert report.faults_by_severity == {"fatal": [1, 3], "serious": [2], "minor": []}
    assert report.vendor_faults_by_severity["fatal"] == [3]
    # Every ticket's resolution clock is still open at the end of March: all of them breached.
    assert set(report.failed) == {1, 2, 3} and report.grade == "不合格"
    items = [(i.rule, i.ticket_id, i.amount) for i in report.penalties.items]
    assert items == [("response_over_1h", 2, Decimal("440.00")), ("response_over_1h", 3, Decimal("440.00")),
                     ("vendor_caused_fault", 3, Decimal("2200.00"))]  # 5% of the (only) subsystem = contract
    assert report.penalties.total == Decimal("3080.00")


def test_seed_004_charges_1000_per_missed_duty_and_excludes_hospital_causes() -> None:
    missed = _outcome(7, "L3", "liuzhou-workers-oa", "2026-03-02 09:00", "2026-03-02 12:00")
    excused = _outcome(8, "L3", "liuzhou-workers-oa", "2026-03-02 09:00", "2026-03-02 12:00",
                       cause="hospital_operation")
    summary = assess(PRESETS["liuzhou-workers-oa"], [missed, excused], None)
    # Ticket 7: response (2 h) missed, on site / resolved within 12 h missed, resolution within 24 h missed.
    assert [(i.ticket_id, i.clock, i.amount) for i in summary.items] == [
        (7, "response", Decimal(1000)), (7, "onsite", Decimal(1000)), (7, "resolution", Decimal(1000))]
    assert summary.total == Decimal(3000)


def test_a_cap_limits_a_rule_total() -> None:
    policy = PRESETS["wuhan-central-drg"].model_copy(deep=True)
    policy.penalties[0].cap_percent = Decimal(1)  # hypothetical: at most 1% of the contract
    outcomes = [_outcome(i, "fatal", "wuhan-central-drg", "2026-03-02 09:00", "2026-03-02 11:00")
                for i in (1, 2, 3)]
    summary = assess(policy, outcomes, Decimal("44000"))
    assert summary.by_rule["response_over_1h"] == Decimal("440.00") and summary.capped


@pytest.mark.parametrize(("rate", "expected"), [(Decimal(100), "优秀"), (Decimal("99.9"), "良好"),
                                                (Decimal(90), "良好"), (Decimal("89.9"), "合格"),
                                                (Decimal(80), "合格"), (Decimal("79.9"), "不合格")])
def test_grades_of_annex_1(rate: Decimal, expected: str) -> None:
    assert grade(rate) == expected


def test_dst_zone_hospital_counts_real_hours() -> None:
    week = WorkingWeek.parse({"mon-sun": ["00:00-24:00"]})
    weekend_worked = DayRules(overrides={date(2026, 3, 28): True, date(2026, 3, 29): True})
    berlin = Calendars("Europe/Berlin", week, weekend_worked)
    start = datetime(2026, 3, 28, 12, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    end = berlin.working_hours.add(start, timedelta(hours=24))
    assert end == datetime(2026, 3, 29, 13, 0, tzinfo=ZoneInfo("Europe/Berlin"))  # clocks went forward at 02:00


def test_a_hospital_working_saturday_mornings() -> None:
    week = WorkingWeek.parse({"mon-fri": ["08:00-12:00", "13:00-17:00"], "sat": ["08:00-12:00"]})
    hours = Calendars(SH, week, library_rules()).working_hours

    def day_hours(day: str) -> timedelta:
        return hours.elapsed(t(f"{day} 00:00"), t(f"{day} 23:59"))

    assert day_hours("2026-03-07") == timedelta(hours=4)  # an ordinary Saturday: the morning
    assert day_hours("2026-02-21") == timedelta(0)  # a Spring Festival Saturday: off
    assert day_hours("2026-02-14") == timedelta(hours=8)  # make-up Saturday: a weekday's hours
    assert day_hours("2026-03-08") == timedelta(0)  # Sunday


def test_stored_policies_are_validated_once_and_keep_their_order() -> None:
    from sla import policy_from

    document = PRESETS["wuhan-central-drg"].model_dump(mode="json")
    first, again = policy_from(document), policy_from(json_copy(document))
    assert first is again  # the same stored document is not validated twice
    assert list(first.level("fatal").clocks) == ["response", "onsite", "resolution"]
    assert first == PRESETS["wuhan-central-drg"]


def json_copy(document: dict[str, object]) -> dict[str, object]:
    import json

    return json.loads(json.dumps(document))
