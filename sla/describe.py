"""Policies in words: the rows of ``helpdesk sla presets`` and of docs/sla-presets.md."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sla.policy import (
    ANCHOR_NAMES,
    CALENDAR_NAMES,
    KINDS,
    PAUSE_REASONS,
    RECURRENCE_NAMES,
    START_EVENTS,
    STOP_EVENTS,
    ClockSpec,
    ClockVariant,
    DutySpec,
    SlaPolicy,
)


@dataclass(frozen=True)
class ClockRow:
    level: str
    clock: str
    target: str
    calendar: str
    start: str
    stop: str
    pause: str
    variants: str
    clause: str


def target_text(spec: ClockSpec | ClockVariant) -> str:
    if spec.working_days is not None:
        return f"{spec.working_days}个工作日"
    minutes = spec.minutes or 0
    if minutes % 1440 == 0 and minutes >= 1440:
        return f"{minutes // 1440}天" if minutes > 1440 else "24小时"
    if minutes % 60 == 0:
        return f"{minutes // 60}小时"
    return f"{minutes}分钟"


def _variant_text(spec: ClockSpec, variant: ClockVariant) -> str:
    when = []
    if variant.kinds:
        when.append("/".join(KINDS[k] for k in variant.kinds))
    if variant.reported == "in_hours":
        when.append("工作时间内报告")
    if variant.reported == "out_of_hours":
        when.append("非工作时间报告")
    if not variant.applies:
        return f"{'、'.join(when)}：不适用"
    calendar = f"（{CALENDAR_NAMES[variant.calendar]}）" if variant.calendar else ""
    return f"{'、'.join(when)}：{target_text(variant)}{calendar}"


def clock_rows(policy: SlaPolicy) -> list[ClockRow]:
    rows = []
    for level in policy.levels:
        for name, spec in level.clocks.items():
            start = START_EVENTS[spec.start]
            if spec.requires:
                start += f"（{START_EVENTS[spec.requires]}后适用）"
            variants = [_variant_text(spec, v) for v in spec.variants]
            if spec.kinds is not None:
                variants.insert(0, "仅 " + "/".join(KINDS[k] for k in spec.kinds))
            rows.append(ClockRow(
                level=f"{level.code} {level.name}", clock=name, target=target_text(spec),
                calendar=CALENDAR_NAMES[spec.calendar], start=start,
                stop=" 或 ".join(STOP_EVENTS[s] for s in spec.stop),
                pause="、".join(PAUSE_REASONS[r] for r in spec.pause_on) or "不可暂停",
                variants="；".join(variants) or "—", clause=spec.clause,
            ))
    return rows


def duty_text(duty: DutySpec) -> str:
    """巡检：每季度（按自然月、季、年划分），期末最后一天 18:00 前上传巡检报告，提前 7、1 天提醒，未完成 1000 元/次."""
    offset = duty.due_offset_days
    day = "期末最后一天" + (f"后 {offset} 天" if offset > 0 else f"前 {-offset} 天" if offset < 0 else "")
    remind = "、".join(str(d) for d in sorted(duty.remind_days_before, reverse=True))
    text = (f"{duty.name}：{RECURRENCE_NAMES[duty.recurrence]}（{ANCHOR_NAMES[duty.anchor]}），"
            f"{day} {duty.due_time} 前上传{duty.closes_with}")
    text += f"，提前 {remind} 天提醒" if remind else ""
    return text + (f"，未完成 {duty.penalty_yuan} 元/次" if duty.penalty_yuan is not None else "")


HEADERS = ("级别", "时钟", "目标", "日历", "起点", "终点", "暂停", "适用与变体", "条款")


def markdown(presets: Mapping[str, SlaPolicy], readings: Mapping[str, list[str]]) -> str:
    out = [
        "# SLA 预设（由 `helpdesk sla presets --markdown` 生成，勿手改）",
        "",
        "每份预设对应 `../shared/seeds/` 中一家医院的采购需求。表中每个时钟注明所依据的条款；"
        "条款有歧义处，按医院审计人员会采用的读法执行，并在每节末尾“读法”中说明。",
        "",
        "日历：7×24小时 = 自然时间；工作时间 = 工作日的工作时段（含调休上班日，法定节假日除外）；"
        "工作日 = 按民法典第二百零一条、第二百零三条计算：起算当日不计入，截止于第 N 个工作日的下班时间。",
        "",
    ]
    for key, policy in presets.items():
        out += [f"## `{key}` — {policy.name}", ""]
        if policy.working_hours:
            hours = "；".join(f"{k} {', '.join(v)}" for k, v in policy.working_hours.items())
            out += [f"合同约定的工作时间：{hours}", ""]
        out += ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
        for row in clock_rows(policy):
            cells = (row.level, f"`{row.clock}`", row.target, row.calendar, row.start, row.stop, row.pause,
                     row.variants, row.clause)
            out.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        out.append("")
        if policy.penalties:
            out += ["违约扣款：", ""]
            for rule in policy.penalties:
                out.append(f"- `{rule.code}` {rule.name}（{rule.clause}）")
            out.append("")
        if policy.duties:
            out += ["合同义务（按期上传报告）：", ""]
            out += [f"- `{d.key}` {duty_text(d)}（{d.clause}）" for d in policy.duties]
            out.append("")
        if readings.get(key):
            out += ["读法：", ""]
            out += [f"- {line}" for line in readings[key]]
            out.append("")
    return "\n".join(out)
