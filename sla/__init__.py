"""SLA: contract policies and the clocks they define.

Public surface: the policy document (:class:`SlaPolicy`), the seed presets and
the deadline arithmetic. Everything here is a pure function of policy and
instants; persistence of clocks lives with the tickets.
"""

from sla.policy import ClockSpec, SeverityLevel, SlaPolicy, response_due
from sla.presets import PRESETS

__all__ = ["PRESETS", "ClockSpec", "SeverityLevel", "SlaPolicy", "response_due"]
