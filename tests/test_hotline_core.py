"""The hotline channel's pure core: call records, files, phone numbers, system spotting, severity.

No database and no server: :mod:`intake.hotline` against the transcripts of
:mod:`tests.hotline_corpus` and hand-written records and files.
"""

from __future__ import annotations

import json
import re
import string
import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from intake.hotline import (
    CONSULT,
    CRITICAL,
    MAJOR,
    MINOR,
    RANKS,
    CallRecord,
    CallRecordError,
    PhoneNumber,
    PhoneNumberError,
    Proposal,
    Turn,
    decode_file,
    level_for,
    match_switchboard,
    normalize_phone,
    normalize_prefix,
    parse_json,
    parse_turns_cell,
    propose_severity,
    read_csv,
    read_file,
    read_jsonl,
    spot_system,
)
from tests.hotline_corpus import BLIND, CATALOGUES, CORPUS, GENERAL, HELD_OUT, HotlineCase

CST = timezone(timedelta(hours=8))
ALL_CASES = [("corpus", c) for c in CORPUS] + [("held-out", c) for c in HELD_OUT] + [("blind", c) for c in BLIND]


def _record(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "call_id": "c-1", "caller": "027-85726114", "called": "4008208820",
        "started_at": "2026-11-23T09:30:00+08:00", "ended_at": "2026-11-23T09:33:20+08:00",
        "agent": "zhangwei",
        "turns": [{"speaker": "caller", "text": "门诊收费打不开了", "offset": 2.5},
                  {"speaker": "agent", "text": "好的，马上看", "offset": 8},
                  {"speaker": "来电人", "text": "所有窗口都不行"}],
        "recording_ref": "rec/2026/11/23/c-1.wav",
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not ...}


def _fields(error: CallRecordError) -> set[str]:
    return {e.field for e in error.errors}


# --- the corpus: the right system and rank for every call ------------------------------------


def _judge(case: HotlineCase, number: int) -> tuple[object, str]:
    record = parse_json(case.record(number))
    text = record.caller_text()
    return spot_system(text, CATALOGUES[case.catalogue]).system_id, propose_severity(text).rank


@pytest.mark.parametrize(("batch", "case"), [
    pytest.param(batch, case, id=f"{batch}:{case.name}",
                 marks=[pytest.mark.xfail(reason=case.miss, strict=True)] if case.miss else [])
    for batch, case in ALL_CASES
])
def test_each_call_finds_its_system_and_rank(batch: str, case: HotlineCase) -> None:
    system, rank = _judge(case, ALL_CASES.index((batch, case)))
    assert (system, rank) == (case.system, case.rank)


def test_corpus_tally(record_property: pytest.RecordProperty, capsys: pytest.CaptureFixture[str]) -> None:
    """The numbers the issue's closing note reports: how many calls found the right system and rank."""
    lines = []
    for batch in ("corpus", "held-out", "blind"):
        cases = [(i, c) for i, (b, c) in enumerate(ALL_CASES) if b == batch]
        judged = [(_judge(c, i), c) for i, c in cases]
        systems = sum(1 for (s, _), c in judged if s == c.system)
        ranks = sum(1 for (_, r), c in judged if r == c.rank)
        record_property(f"{batch}_system", f"{systems}/{len(cases)}")
        record_property(f"{batch}_rank", f"{ranks}/{len(cases)}")
        lines.append(f"{batch}: system right {systems}/{len(cases)}, rank right {ranks}/{len(cases)}")
        both = sum(1 for (s, r), c in judged if (s, r) == (c.system, c.rank))
        assert both == len([c for _, c in cases if not c.miss])
    with capsys.disabled():
        print("\nhotline corpus tally — " + "; ".join(lines))


def test_corpus_is_what_the_issue_asks_for() -> None:
    """At least 20 realistic transcripts with recognition errors, a system each, and a few with none."""
    everything = CORPUS + HELD_OUT + BLIND
    assert len([c for c in everything if c.system is not None]) >= 24
    assert len([c for c in everything if c.system is None]) >= 3
    assert len([c for c in everything if c.asr]) >= 20
    assert {c.rank for c in everything} == set(RANKS)
    names = [c.name for c in everything]
    assert len(names) == len(set(names))
    for case in everything:
        ids = {s[0] for s in CATALOGUES[case.catalogue]}
        assert case.system is None or case.system in ids, case.name


# --- call records ----------------------------------------------------------------------------


def test_a_full_record_is_read_into_utc() -> None:
    record = parse_json(_record())
    assert record.call_id == "c-1"
    assert record.started_at == datetime(2026, 11, 23, 1, 30, tzinfo=UTC)
    assert record.started_at.tzinfo is UTC
    assert record.duration == timedelta(minutes=3, seconds=20)
    assert record.turns[0] == Turn("caller", "门诊收费打不开了", 2.5)
    assert record.turns[2].speaker == "caller" and record.turns[2].offset_s is None
    assert record.caller_text() == "门诊收费打不开了\n所有窗口都不行"
    assert record.transcript().splitlines()[1] == "坐席：好的，马上看"
    assert record.recording_ref == "rec/2026/11/23/c-1.wav"


def test_only_the_required_fields() -> None:
    record = parse_json({"call_id": 42, "caller": "anonymous", "started_at": "2026-11-23T01:30:00Z",
                         "ended_at": "2026-11-23T01:30:40Z"})
    assert (record.call_id, record.called, record.agent, record.turns, record.recording_ref) == ("42", "", "", (), None)
    assert record.caller_text() == ""


def test_a_naive_time_needs_a_stated_timezone() -> None:
    naive = {"started_at": "2026-11-23 09:30:00", "ended_at": "2026-11-23 09:31:00"}
    with pytest.raises(CallRecordError) as caught:
        parse_json(_record(**naive))
    assert _fields(caught.value) == {"started_at", "ended_at"}
    assert "没有时区" in str(caught.value) and "timezone" in str(caught.value)
    for zone in ("Asia/Shanghai", "+08:00", "UTC+8"):
        record = parse_json(_record(**naive, timezone=zone))
        assert record.started_at == datetime(2026, 11, 23, 1, 30, tzinfo=UTC), zone
    # An offset in the time itself wins over the stated zone.
    assert parse_json(_record(timezone="Europe/Berlin")).started_at == datetime(2026, 11, 23, 1, 30, tzinfo=UTC)


def test_a_local_time_that_daylight_saving_makes_ambiguous_is_refused() -> None:
    ambiguous = _record(timezone="America/New_York", started_at="2026-11-01T01:30:00", ended_at="2026-11-01T03:00:00")
    with pytest.raises(CallRecordError) as caught:
        parse_json(ambiguous)
    assert _fields(caught.value) == {"started_at"} and "出现两次" in str(caught.value)
    missing = _record(timezone="America/New_York", started_at="2026-03-08T02:30:00", ended_at="2026-03-08T04:00:00")
    with pytest.raises(CallRecordError, match="不存在"):
        parse_json(missing)


@pytest.mark.parametrize(("changes", "field"), [
    ({"call_id": ...}, "call_id"),
    ({"call_id": "  "}, "call_id"),
    ({"call_id": True}, "call_id"),
    ({"caller": ...}, "caller"),
    ({"caller": 2785726114}, "caller"),
    ({"called": ["400"]}, "called"),
    ({"started_at": "2026-11-23"}, "started_at"),
    ({"started_at": "23/11/2026 09:30"}, "started_at"),
    ({"started_at": 1795000000}, "started_at"),
    ({"ended_at": "2026-11-23T09:00:00+08:00"}, "ended_at"),
    ({"ended_at": "2026-11-24T10:00:00+08:00"}, "ended_at"),
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"timezone": "+15:00"}, "timezone"),
    ({"turns": "来电人：你好"}, "turns"),
    ({"turns": [{"speaker": "护士", "text": "你好"}]}, "turns[0].speaker"),
    ({"turns": [{"speaker": "caller", "text": 5}]}, "turns[0].text"),
    ({"turns": [{"speaker": "caller", "text": "hi", "offset": -1}]}, "turns[0].offset"),
    ({"turns": ["来电人：你好"]}, "turns[0]"),
    ({"agent": 7}, "agent"),
    ({"call_id": "x" * 129}, "call_id"),
])
def test_a_bad_field_is_named(changes: dict[str, object], field: str) -> None:
    with pytest.raises(CallRecordError) as caught:
        parse_json(_record(**changes))
    assert field in _fields(caught.value)
    assert str(caught.value).startswith(field) or f"；{field}" in str(caught.value)


def test_every_problem_is_listed_at_once() -> None:
    with pytest.raises(CallRecordError) as caught:
        parse_json({"caller": 123, "started_at": "soon", "turns": [{"speaker": "x", "text": "y"}]})
    assert _fields(caught.value) == {"call_id", "caller", "started_at", "ended_at", "turns[0].speaker"}
    with pytest.raises(CallRecordError, match="JSON 对象"):
        parse_json(["not", "an", "object"])


def test_a_call_from_the_future_is_refused_when_now_is_given() -> None:
    now = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
    with pytest.raises(CallRecordError) as caught:
        parse_json(_record(), now=now)
    assert _fields(caught.value) == {"started_at", "ended_at"}
    assert parse_json(_record(), now=now + timedelta(minutes=30)).call_id == "c-1"
    # A telephony clock a little ahead is tolerated.
    assert parse_json(_record(), now=datetime(2026, 11, 23, 1, 29, tzinfo=UTC)).call_id == "c-1"


def test_a_record_built_in_code_is_checked_too() -> None:
    start = datetime(2026, 11, 23, 9, 30, tzinfo=CST)
    record = CallRecord("c-9", "13812345678", start, start + timedelta(seconds=5))
    assert record.started_at.tzinfo is UTC
    with pytest.raises(CallRecordError, match="没有时区"):
        CallRecord("c-9", "13812345678", datetime(2026, 11, 23, 9, 30), start)
    with pytest.raises(CallRecordError, match="speaker"):
        Turn("nurse", "你好")


# --- files: JSON Lines and CSV ---------------------------------------------------------------


def test_jsonl_reports_bad_lines_by_number_and_reads_the_rest() -> None:
    lines = [
        json.dumps(_record(call_id="a"), ensure_ascii=False),
        "",
        "{not json",
        json.dumps(_record(call_id=...), ensure_ascii=False),
        json.dumps(_record(call_id="b"), ensure_ascii=False),
        json.dumps(_record(call_id="a"), ensure_ascii=False),
        "[1, 2]",
    ]
    rows = list(read_jsonl(lines))
    assert [(r.line, r.record.call_id if r.record else None) for r in rows] == [
        (1, "a"), (3, None), (4, None), (5, "b"), (6, None), (7, None)]
    assert "不是合法的 JSON" in str(rows[1].error)
    assert rows[2].error is not None and _fields(rows[2].error) == {"call_id"}
    assert "第 1 行" in str(rows[4].error)
    assert "JSON 对象" in str(rows[5].error)
    # A whole text works as well as a list of lines, BOM and Windows line ends included.
    text = "\ufeff" + "\r\n".join(lines[:1] + lines[4:5]) + "\r\n"
    assert [r.record.call_id for r in read_jsonl(text) if r.record] == ["a", "b"]


CSV_TEXT = (
    "call_id,caller,called,started_at,ended_at,timezone,agent,turns,recording_ref\n"
    "c-1,027-85726114,4008208820,2026-11-23 09:30:00,2026-11-23 09:32:00,Asia/Shanghai,zhangwei,"
    "来电人：门诊收费打不开了|坐席：好的马上看|来电人：所有窗口都不行,rec/c-1.wav\n"
    "c-2,13812345678,4008208820,2026-11-23 10:00:00,yesterday,Asia/Shanghai,zhangwei,来电人：一宝结算报错,\n"
    "c-3,13812345679,4008208820,2026-11-23T10:05:00+08:00,2026-11-23T10:06:00+08:00,,lisi,"
    "\"caller: 雪透系统\n瘫痪了\nagent: 收到\",\n"
    ",13812345670,4008208820,2026-11-23T10:07:00+08:00,2026-11-23T10:08:00+08:00,,lisi,来电人：你好,\n"
    "c-5,13812345671,4008208820,2026-11-23T10:09:00+08:00,2026-11-23T10:10:00+08:00,,lisi,报错了,\n"
    "c-6,13812345672,4008208820,2026-11-23T10:11:00+08:00,2026-11-23T10:12:00+08:00,,lisi\n"
    ",,,,,,,,\n"
    "c-7,13812345673,4008208820,2026-11-23T10:13:00+08:00,2026-11-23T10:14:00+08:00,,,,\n"
)


def test_csv_with_a_broken_row_imports_the_rest_and_names_the_row() -> None:
    rows = list(read_csv(CSV_TEXT))
    good = {r.record.call_id: r for r in rows if r.record}
    bad = {r.line: r.error for r in rows if r.error}
    assert set(good) == {"c-1", "c-3", "c-7"}
    assert set(bad) == {3, 7, 8, 9}
    assert _fields(bad[3]) == {"ended_at"} and "yesterday" in str(bad[3])
    assert _fields(bad[7]) == {"call_id"}
    assert _fields(bad[8]) == {"turns[0]"} and "说话人标签" in str(bad[8])
    assert "本行有 7 列，表头有 9 列" in str(bad[9])
    c1 = good["c-1"].record
    assert c1 is not None and c1.started_at == datetime(2026, 11, 23, 1, 30, tzinfo=UTC)
    assert [t.speaker for t in c1.turns] == ["caller", "agent", "caller"]
    assert c1.caller_text() == "门诊收费打不开了\n所有窗口都不行" and c1.recording_ref == "rec/c-1.wav"
    # A cell spanning lines: its row is named by the line it starts on; a line without a label continues the turn.
    c3 = good["c-3"]
    assert c3.line == 4 and c3.record is not None
    assert [(t.speaker, t.text) for t in c3.record.turns] == [("caller", "雪透系统\n瘫痪了"), ("agent", "收到")]
    assert good["c-7"].line == 11


def test_csv_header_in_chinese_and_missing_columns() -> None:
    chinese = ("通话编号,主叫号码,开始时间,结束时间,对话\n"
               "c-1,13812345678,2026-11-23T09:30:00+08:00,2026-11-23T09:31:00+08:00,客户：电子病例打不开|客服：好的\n")
    rows = list(read_csv(chinese))
    assert rows[0].record is not None and rows[0].record.caller_text() == "电子病例打不开"
    rows = list(read_csv("call_id,caller,turns\nc-1,138,来电人：你好\n"))
    assert len(rows) == 1 and rows[0].line == 1 and "started_at, ended_at" in str(rows[0].error)
    assert "文件为空" in str(next(read_csv("")).error)


def test_turns_cell_labels() -> None:
    turns = parse_turns_cell("用户: 喂 | 工程师：您好|CALLER：PACS 打不开：报错 500||坐席：好\n来电人：谢谢\n再见")
    assert [(t.speaker, t.text) for t in turns] == [
        ("caller", "喂"), ("agent", "您好"), ("caller", "PACS 打不开：报错 500"), ("agent", "好"), ("caller", "谢谢\n再见")]
    with pytest.raises(CallRecordError) as caught:
        parse_turns_cell("来电人：你好|医生：我在")
    assert _fields(caught.value) == {"turns[1]"}


def test_files_in_utf8_with_bom_and_in_gb18030() -> None:
    for data in (CSV_TEXT.encode("utf-8-sig"), CSV_TEXT.encode("gb18030"), CSV_TEXT.encode("utf-8")):
        text = decode_file(data)
        assert text.startswith("call_id,")
        assert {r.record.call_id for r in read_csv(text) if r.record} == {"c-1", "c-3", "c-7"}
    rows = read_file("calls.CSV", CSV_TEXT.encode("gb18030"))
    assert len([r for r in rows if r.record]) == 3
    jsonl = (json.dumps(_record(), ensure_ascii=False) + "\n").encode("gb18030")
    assert [r.record.call_id for r in read_file("export.jsonl", jsonl) if r.record] == ["c-1"]
    with pytest.raises(ValueError, match="编码"):
        decode_file(b"\xff\xfe\x00c\x00a\x00l\x00l")
    with pytest.raises(ValueError, match=r"\.xlsx"):
        read_file("calls.xlsx", b"PK")


def test_the_examples_in_the_format_document_are_read_as_documented() -> None:
    doc = (Path(__file__).resolve().parents[1] / "docs" / "hotline-format.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```(\w+)\n(.*?)```", doc, re.S)
    kinds = [kind for kind, _ in blocks]
    assert kinds.count("json") == 2 and "jsonl" in kinds and "csv" in kinds
    for kind, body in blocks:
        if kind == "json":
            assert parse_json(json.loads(body)).call_id.startswith("whzx-")
        elif kind in ("jsonl", "csv"):
            rows = list(read_jsonl(body) if kind == "jsonl" else read_csv(body))
            assert len(rows) == 2 and all(r.record is not None for r in rows), rows
    full = parse_json(json.loads(next(body for kind, body in blocks if kind == "json")))
    assert spot_system(full.caller_text(), GENERAL).system_id == "his-op"
    assert propose_severity(full.caller_text()).rank == CRITICAL


_TEXT = st.text(alphabet=st.sampled_from("门诊收费医保结算打不开报错全院你好，。？ 123abc|\"'\\:："), min_size=1, max_size=40)


@settings(max_examples=60, deadline=None)
@given(texts=st.lists(st.tuples(st.sampled_from(["caller", "agent"]), _TEXT), max_size=6),
       bad_at=st.integers(min_value=0, max_value=5), count=st.integers(min_value=1, max_value=5))
def test_jsonl_one_bad_line_among_good_ones(texts: list[tuple[str, str]], bad_at: int, count: int) -> None:
    """Whatever the recogniser wrote, a record survives JSON Lines; a bad line spoils only itself."""
    lines = [json.dumps(_record(call_id=f"c-{i}", turns=[{"speaker": s, "text": t} for s, t in texts]),
                        ensure_ascii=False) for i in range(count)]
    lines.insert(min(bad_at, count), "garbage")
    rows = list(read_jsonl(lines))
    assert [r.line for r in rows if r.error] == [min(bad_at, count) + 1]
    records = [r.record for r in rows if r.record]
    assert len(records) == count
    expected = "\n".join(t.strip() for s, t in texts if s == "caller" and t.strip())
    assert all(r.caller_text() == expected for r in records)


# --- phone numbers ---------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "number", "extension", "kind"), [
    ("13812345678", "13812345678", "", "mobile"),
    ("+86 138 1234 5678", "13812345678", "", "mobile"),
    ("0086-138-1234-5678", "13812345678", "", "mobile"),
    ("8613812345678", "13812345678", "", "mobile"),
    ("027-85726114", "02785726114", "", "landline"),
    ("(027) 8572 6114", "02785726114", "", "landline"),
    ("+86 27 8572 6114", "02785726114", "", "landline"),
    ("+86-10-65529988", "01065529988", "", "landline"),
    ("0772-2662233", "07722662233", "", "landline"),
    ("０２７－８５７２６１１４", "02785726114", "", "landline"),
    ("027-85726114转8023", "02785726114", "8023", "landline"),
    ("027-85726114 转分机 8023", "02785726114", "8023", "landline"),
    ("027-85726114 ext. 8023", "02785726114", "8023", "landline"),
    ("02785726114x12", "02785726114", "12", "landline"),
    ("027-85726114-8023", "02785726114", "8023", "landline"),
    ("027-8572-6114", "02785726114", "", "landline"),
    ("85726114-8023", "85726114", "8023", "local"),
    ("85726114", "85726114", "", "local"),
    ("400-820-8820", "4008208820", "", "service"),
    ("95588", "95588", "", "service"),
    ("8023", "8023", "", "short"),
    ("+1 415 555 0100", "+14155550100", "", "international"),
])
def test_normalize_phone(raw: str, number: str, extension: str, kind: str) -> None:
    assert normalize_phone(raw) == PhoneNumber(number, extension, kind)


@pytest.mark.parametrize("raw", ["", "anonymous", "unknown", "转8023", "027/85726114", "+", "电话"])
def test_not_a_phone_number(raw: str) -> None:
    with pytest.raises(PhoneNumberError, match="不是电话号码"):
        normalize_phone(raw)


def _spaced(digits: str, cuts: list[int], sep: str) -> str:
    out, last = [], 0
    for cut in sorted({c % (len(digits) + 1) for c in cuts}):
        out.append(digits[last:cut])
        last = cut
    out.append(digits[last:])
    return sep.join(p for p in out if p)


@settings(max_examples=200)
@given(rest=st.text(alphabet=string.digits, min_size=9, max_size=9), second=st.sampled_from("3456789"),
       country=st.sampled_from(["", "+86", "+86 ", "0086", "86", "+86-"]),
       sep=st.sampled_from(["", " ", "-"]), cuts=st.lists(st.integers(0, 11), max_size=3),
       ext=st.sampled_from(["", "转{}", " ext. {}", "-{}", "x{}", "分机{}"]),
       ext_digits=st.text(alphabet=string.digits, min_size=1, max_size=4))
def test_any_way_of_writing_a_mobile_is_the_same_number(rest: str, second: str, country: str, sep: str,
                                                       cuts: list[int], ext: str, ext_digits: str) -> None:
    mobile = "1" + second + rest
    raw = country + _spaced(mobile, cuts, sep) + (ext.format(ext_digits) if ext else "")
    phone = normalize_phone(raw)
    assert phone.number == mobile and phone.kind == "mobile"
    assert phone.extension == (ext_digits if ext else "")
    assert normalize_phone(str(phone)) == phone


@settings(max_examples=200)
@given(area=st.sampled_from(["10", "20", "27", "755", "772", "351"]),
       local=st.text(alphabet=string.digits, min_size=7, max_size=7), first=st.sampled_from("2345678"),
       style=st.sampled_from(["0{a}-{l}", "0{a}{l}", "(0{a}){l}", "+86 {a} {l}", "0086{a}{l}", "0{a} {l}"]),
       ext=st.sampled_from(["", "转{}", "-{}", " ext {}"]),
       ext_digits=st.text(alphabet=string.digits, min_size=1, max_size=5))
def test_any_way_of_writing_a_landline_is_the_same_number(area: str, local: str, first: str, style: str,
                                                         ext: str, ext_digits: str) -> None:
    local = first + local
    raw = style.format(a=area, l=local) + (ext.format(ext_digits) if ext else "")
    phone = normalize_phone(raw)
    assert (phone.number, phone.kind) == ("0" + area + local, "landline")
    assert phone.extension == (ext_digits if ext else "")
    assert normalize_phone(str(phone)) == phone
    assert phone.same_line(normalize_phone(local))


def test_same_line() -> None:
    assert normalize_phone("027-85726114").same_line(normalize_phone("+86 27 85726114 转 8023"))
    assert normalize_phone("85726114").same_line(normalize_phone("027-85726114"))
    assert not normalize_phone("85726114").same_line(normalize_phone("027-85726115"))
    assert not normalize_phone("13812345678").same_line(normalize_phone("13812345679"))


# --- switchboard prefixes --------------------------------------------------------------------

PREFIXES = {
    "wuhan-central": ["027-8572", "027-6588-6"],
    "wuhan-central-optics": ["027-857261"],
    "liuzhou-workers": ["+86 772 266"],
    "gdph": ["8382"],
}


@pytest.mark.parametrize(("number", "hospital"), [
    ("027-85726114", "wuhan-central-optics"),  # the longest prefix wins
    ("02785720000", "wuhan-central"),
    ("+86 27 6588 6123", "wuhan-central"),
    ("0772-2662233转15", "liuzhou-workers"),
    ("020-83827812", "gdph"),  # a local prefix matches the landline's local part
    ("83827812", "gdph"),
    ("027-65880000", None),
    ("13812345678", None),
    ("anonymous", None),
])
def test_match_switchboard(number: str, hospital: str | None) -> None:
    assert match_switchboard(number, PREFIXES) == hospital
    if hospital is not None and number != "anonymous":
        assert match_switchboard(normalize_phone(number), PREFIXES) == hospital


def test_a_prefix_two_hospitals_share_is_no_answer() -> None:
    shared = {"a": ["027-8572"], "b": ["+86 27 8572"]}
    assert match_switchboard("027-85726114", shared) is None
    assert match_switchboard("027-85726114", {**shared, "c": ["027-85726"]}) == "c"


def test_a_prefix_must_say_enough() -> None:
    assert normalize_prefix("+86 27 8572") == "0278572"
    assert normalize_prefix("(0772) 266") == "0772266"
    for bad in ("02", "", "027-abc"):
        with pytest.raises(ValueError):
            normalize_prefix(bad)


# --- spotting the system ---------------------------------------------------------------------


def test_spot_says_what_it_matched_and_the_other_candidates() -> None:
    result = spot_system("收费处的，电子票据打印有点慢。", GENERAL)
    assert result.system_id == "einv" and result.matched_text == "电子票据" and result.score == 100
    assert [c.system_id for c in result.candidates] == ["einv", "his-op"]
    homophone = spot_system("一宝结算报错", GENERAL)
    assert homophone.system_id == "ybjs" and homophone.matched_text == "一宝结算" and 90 <= homophone.score < 100


def test_spot_knows_when_it_does_not_know() -> None:
    assert spot_system("", GENERAL).system_id is None
    assert spot_system("门诊收费打不开", []).system_id is None
    tie = spot_system("医保结算和门诊收费都用不了了", GENERAL)
    assert tie.system_id is None and tie.matched_text == ""
    assert {c.system_id for c in tie.candidates} == {"ybjs", "his-op"}


@pytest.mark.parametrize("text", [
    "还是打不开，还是不行",  # 还是 (hai shi) is not 嗨斯 (HIS)
    "您是哪位？你是工程师吗",  # 您是 / 你是 are not 历史 (LIS)
    "我印象里上周也这样，电脑开不了机",  # 印象 sounds exactly like 影像 (PACS): an everyday word
    "医保卡读不出来",  # card reader: 医保 alone is a mention, checked below
])
def test_everyday_words_are_no_system(text: str) -> None:
    result = spot_system(text, GENERAL)
    assert result.system_id in (None, "ybjs")
    assert result.system_id is None or "医保" in text


def test_aliases_and_ids_are_the_callers() -> None:
    systems = [(7, "血液透析智能管理信息系统", ["血透"]), (8, "医学影像系统(PACS)", []), (9, "药库管理系统", ["库", "A"])]
    assert spot_system("雪透的机器连不上", systems).system_id == 7
    assert spot_system("拍斯打不开", systems).system_id == 8
    assert spot_system("p a c s 打不开", systems).system_id == 8
    # A single character or letter names nothing; the bare stem 药库 is too short to stand for the name.
    assert spot_system("仓库的A门打不开", systems).system_id is None
    assert spot_system("药库管理系统打不开", systems).system_id == 9


# --- severity --------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "rank", "words"), [
    ("HIS系统瘫痪了", CRITICAL, ("瘫痪",)),
    ("全院都登不上了", CRITICAL, ("全院", "登不上")),
    ("所有科室都无法使用", CRITICAL, ("所有科室", "无法使用")),
    ("没有瘫痪，就是很慢", MINOR, ("很慢",)),
    ("不是全院，就我们科打不开", MAJOR, ("打不开",)),
    ("也不是全院都这样，就是报错", MAJOR, ("报错",)),
    ("门诊收费打不开", MAJOR, ("打不开",)),
    ("个别电脑打不开", MINOR, ("个别", "打不开")),
    ("系统变慢了", MINOR, ("变慢",)),
    ("全院都很卡", MAJOR, ("全院", "很卡")),
    ("医保卡读卡没问题，不卡", MINOR, ()),
    ("报表数据对不上", MINOR, ("对不上",)),
    ("请问怎么导出报表", CONSULT, ("请问", "怎么导出")),
    ("怎么又打不开了", MAJOR, ("打不开",)),
    ("发票开错了怎么冲红", CONSULT, ("怎么",)),
    ("你好", MINOR, ()),
])
def test_propose_severity(text: str, rank: str, words: tuple[str, ...]) -> None:
    assert propose_severity(text) == Proposal(rank, words)


@settings(max_examples=200)
@given(st.text(max_size=60))
def test_a_proposal_is_always_a_rank_with_words_from_the_text(text: str) -> None:
    proposal = propose_severity(text)
    assert proposal.rank in RANKS
    assert all(w in unicodedata.normalize("NFKC", text) for w in proposal.words)


def test_level_for_maps_ranks_onto_a_contracts_levels() -> None:
    seed004 = ["一级", "二级", "三级", "四级", "五级"]
    assert [level_for(r, seed004) for r in RANKS] == ["一级", "二级", "三级", "五级"]
    seed000 = ["致命", "严重", "一般"]
    assert [level_for(r, seed000) for r in RANKS] == ["致命", "严重", "一般", "一般"]
    assert [level_for(r, ["P1"]) for r in RANKS] == ["P1"] * 4
    with pytest.raises(ValueError, match="未知"):
        level_for("urgent", seed000)
    with pytest.raises(ValueError, match="没有定义"):
        level_for(CRITICAL, [])


@given(st.lists(st.text(min_size=1, max_size=4), min_size=1, max_size=8, unique=True))
def test_level_for_never_makes_a_rank_less_urgent_than_a_lower_one(levels: list[str]) -> None:
    positions = [levels.index(level_for(r, levels)) for r in RANKS]
    assert positions == sorted(positions)
