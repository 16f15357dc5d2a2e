"""The service evaluation report of seed 000 (附件1 售后维保服务评价报告).

Figures: responses over 1 h (服务响应效率), faults by severity, faults the
vendor caused (因乙方未提前通知导致甲方系统故障), the spot-check pass rate and
its grade (服务效果抽查合格率: 100% 优秀, ≥90% 良好, ≥80% 合格, <80% 不合格),
and the penalties. Every figure carries the ticket numbers it counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from sla.penalties import PenaltySummary, TicketOutcome, assess
from sla.policy import SlaPolicy

FAULT_KINDS = ("fault", "bug", "data")
# 附件1: 达到100%为优秀，≥90%为良好，≥80%为合格，＜80%为不合格.
GRADES = ((Decimal(100), "优秀"), (Decimal(90), "良好"), (Decimal(80), "合格"))


def grade(rate: Decimal) -> str:
    for threshold, name in GRADES:
        if rate >= threshold:
            return name
    return "不合格"


@dataclass
class EvaluationReport:
    tickets: list[int]
    response_over_minutes: int
    responses_over: list[int]  # ticket numbers whose response took longer than the threshold
    faults_by_severity: dict[str, list[int]]
    vendor_faults_by_severity: dict[str, list[int]]
    sample: list[int]
    passed: list[int]
    failed: dict[int, list[str]]  # ticket → the clocks it missed
    pass_rate: Decimal | None  # percent, one decimal; None with an empty sample
    grade: str | None
    penalties: PenaltySummary
    unconfirmed: list[int] = field(default_factory=list)  # deadlines computed on an unpublished year


def evaluation_report(policy: SlaPolicy, outcomes: Sequence[TicketOutcome], contract_amount: Decimal | None,
                      *, sample: Sequence[int] | None = None) -> EvaluationReport:
    """The report over ``outcomes`` (the tickets reported in the period).

    ``sample`` is the spot check's ticket numbers; by default every ticket is
    checked. A ticket passes when none of its clocks missed its deadline.
    """
    over = _response_threshold(policy)
    by_id = {o.ticket_id: o for o in outcomes}
    responses_over = [o.ticket_id for o in outcomes
                      if (c := o.clock("response")) is not None and c.elapsed > timedelta(minutes=over)]
    faults = {lvl.code: [o.ticket_id for o in outcomes if o.severity == lvl.code and o.kind in FAULT_KINDS]
              for lvl in policy.levels}
    vendor = {lvl.code: [o.ticket_id for o in outcomes
                         if o.severity == lvl.code and o.cause in ("vendor", "vendor_no_notice")]
              for lvl in policy.levels}
    checked = [by_id[t] for t in (sample if sample is not None else list(by_id)) if t in by_id]
    failed = {o.ticket_id: [c.name for c in o.clocks if c.breached] for o in checked}
    failed = {t: names for t, names in failed.items() if names}
    passed = [o.ticket_id for o in checked if o.ticket_id not in failed]
    rate = None
    if checked:
        rate = (Decimal(len(passed)) * 100 / len(checked)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return EvaluationReport(
        tickets=list(by_id), response_over_minutes=over, responses_over=responses_over, faults_by_severity=faults,
        vendor_faults_by_severity=vendor, sample=[o.ticket_id for o in checked], passed=passed, failed=failed,
        pass_rate=rate, grade=grade(rate) if rate is not None else None,
        penalties=assess(policy, outcomes, contract_amount),
        unconfirmed=[o.ticket_id for o in outcomes if any(not c.calendar_confirmed for c in o.clocks)],
    )


def _response_threshold(policy: SlaPolicy) -> int:
    """附件1 counts responses over 1 h; a contract with its own elapsed_over rule sets the threshold."""
    for rule in policy.penalties:
        if rule.trigger == "elapsed_over" and "response" in rule.clocks and rule.over_minutes:
            return rule.over_minutes
    return 60
