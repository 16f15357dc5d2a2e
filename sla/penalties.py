"""Money: the contract's penalty rules applied to tickets' clocks.

A pure function of the policy, the tickets' evaluated clocks and the contract
amount, so every yuan in a report can be traced to a ticket and a rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from sla.clocks import ClockState
from sla.policy import PenaltyRule, SlaPolicy

CENT = Decimal("0.01")


@dataclass(frozen=True)
class TicketOutcome:
    """A ticket as the penalty rules and the evaluation report see it."""

    ticket_id: int
    severity: str
    kind: str
    cause: str | None
    clocks: Sequence[ClockState]
    system_amount: Decimal | None = None  # None: the subsystem has no amount of its own

    def clock(self, name: str) -> ClockState | None:
        return next((c for c in self.clocks if c.name == name), None)


@dataclass(frozen=True)
class PenaltyItem:
    rule: str
    name: str
    clause: str
    ticket_id: int
    clock: str | None
    amount: Decimal | None  # None: the contract (or subsystem) amount is not recorded
    detail: str


@dataclass
class PenaltySummary:
    items: list[PenaltyItem] = field(default_factory=list)
    by_rule: dict[str, Decimal] = field(default_factory=dict)  # after caps
    capped: dict[str, Decimal] = field(default_factory=dict)  # rules whose cap applied: the cap
    total: Decimal = Decimal(0)
    amount_unknown: bool = False  # some item needs an amount the contract does not record


def assess(policy: SlaPolicy, outcomes: Sequence[TicketOutcome], contract_amount: Decimal | None) -> PenaltySummary:
    summary = PenaltySummary()
    for rule in policy.penalties:
        items = [item for outcome in outcomes for item in _items(rule, outcome, contract_amount)]
        summary.items += items
        known = [i.amount for i in items if i.amount is not None]
        summary.amount_unknown |= len(known) != len(items)
        subtotal = sum(known, Decimal(0))
        cap = _cap(rule, contract_amount)
        if cap is not None and subtotal > cap:
            summary.capped[rule.code] = cap
            subtotal = cap
        summary.by_rule[rule.code] = subtotal
        summary.total += subtotal
    return summary


def _items(rule: PenaltyRule, outcome: TicketOutcome, contract_amount: Decimal | None) -> list[PenaltyItem]:
    if rule.levels is not None and outcome.severity not in rule.levels:
        return []
    if outcome.cause is not None and outcome.cause in rule.exclude_causes:
        return []
    if rule.trigger == "ticket":
        if outcome.cause not in (rule.causes or []):
            return []
        return [_item(rule, outcome, None, contract_amount, f"原因：{outcome.cause}")]
    found = []
    for name in rule.clocks:
        clock = outcome.clock(name)
        if clock is None:
            continue
        if rule.trigger == "breach" and clock.breached:
            found.append(_item(rule, outcome, name, contract_amount, f"{name} 超时"))
        if rule.trigger == "elapsed_over" and clock.elapsed > timedelta(minutes=rule.over_minutes or 0):
            minutes = int(clock.elapsed.total_seconds() // 60)
            found.append(_item(rule, outcome, name, contract_amount, f"{name} 用时 {minutes} 分钟"))
    return found


def _item(rule: PenaltyRule, outcome: TicketOutcome, clock: str | None, contract_amount: Decimal | None,
          detail: str) -> PenaltyItem:
    return PenaltyItem(rule=rule.code, name=rule.name, clause=rule.clause, ticket_id=outcome.ticket_id, clock=clock,
                       amount=_amount(rule, outcome, contract_amount), detail=detail)


def _amount(rule: PenaltyRule, outcome: TicketOutcome, contract_amount: Decimal | None) -> Decimal | None:
    amount = rule.amount
    if amount.yuan is not None:
        return amount.yuan
    percent = amount.percent
    if amount.percent_by_level is not None:
        percent = amount.percent_by_level.get(outcome.severity)
        if percent is None:
            return Decimal(0)
    base = outcome.system_amount if amount.of == "system" and outcome.system_amount is not None else contract_amount
    if base is None or percent is None:
        return None
    return (base * percent / 100).quantize(CENT, rounding=ROUND_HALF_UP)


def _cap(rule: PenaltyRule, contract_amount: Decimal | None) -> Decimal | None:
    caps = []
    if rule.cap_yuan is not None:
        caps.append(rule.cap_yuan)
    if rule.cap_percent is not None and contract_amount is not None:
        caps.append((contract_amount * rule.cap_percent / 100).quantize(CENT, rounding=ROUND_HALF_UP))
    return min(caps) if caps else None
