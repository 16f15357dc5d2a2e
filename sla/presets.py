"""The five seed contracts as SLA presets.

Only the response clock is modelled by the foundation (7x24, from the written
report); the SLA engine adds business calendars, on-site and resolution clocks.
Each target cites the clause of the procurement document it comes from.
"""

from __future__ import annotations

from sla.policy import ClockSpec, SeverityLevel, SlaPolicy


def _response(minutes: int, clause: str) -> dict[str, ClockSpec]:
    return {"response": ClockSpec(target_minutes=minutes, clause=clause)}


# Seed 000 武汉市中心医院 DRG: （5）服务方式 错误报告类别表; 响应时间自书面报告之时起计.
WUHAN_CENTRAL_DRG = SlaPolicy(
    levels=[
        SeverityLevel(code="fatal", name="致命错误", description="能够引起系统停机或中断的错误",
                      clocks=_response(60, "seed 000 §3(5) 致命错误 响应时间1个小时")),
        SeverityLevel(code="serious", name="严重错误",
                      description="对系统运行有较大影响，但不致导致系统停机或无法使用的错误",
                      clocks=_response(120, "seed 000 §3(5) 严重错误 响应时间2个小时")),
        SeverityLevel(code="minor", name="一般错误", description="对系统运行有影响，但不妨碍系统正常运行的错误",
                      clocks=_response(240, "seed 000 §3(5) 一般错误 响应时间4个小时")),
    ]
)

# Seed 001 南溪山医院 血液透析: 四.3(1) 电话维护 7*24, 1小时内提供反馈意见.
NANXISHAN_HEMODIALYSIS = SlaPolicy(
    levels=[
        SeverityLevel(code="standard", name="故障报修", description="系统故障或使用问题",
                      clocks=_response(60, "seed 001 四.3(1) 1小时内提供反馈意见")),
    ]
)

# Seed 002 山西省肿瘤医院 HIS: 一.1 7x24小时热线服务 30分钟内给予及时响应.
SHANXI_CANCER_HIS = SlaPolicy(
    levels=[
        SeverityLevel(code="urgent", name="紧急事件", description="影响临床业务正常开展，需要立即处理",
                      clocks=_response(30, "seed 002 一.1 30分钟内给予及时响应")),
        SeverityLevel(code="normal", name="非紧急事件", description="不影响业务继续开展的问题",
                      clocks=_response(30, "seed 002 一.1 30分钟内给予及时响应")),
    ]
)

# Seed 003 广东省人民医院 电子票据: 5(1) 工作期间0.5小时, 非工作期间1小时.
# The foundation counts 7x24 and takes the stricter 0.5 h; the working-hours variant comes with the SLA engine.
GDPH_EINVOICE = SlaPolicy(
    levels=[
        SeverityLevel(code="standard", name="系统故障", description="信息系统故障",
                      clocks=_response(30, "seed 003 5(1)1 工作期间故障响应时间不超过0.5小时")),
    ]
)

# Seed 004 柳州市工人医院 OA: 4.9.3 故障级别定义, 4.9.4 响应时限要求.
LIUZHOU_WORKERS_OA = SlaPolicy(
    levels=[
        SeverityLevel(code="L1", name="一级故障",
                      description="系统瘫痪，所有业务功能均不可用，或导致其他业务系统不能正常使用",
                      clocks=_response(15, "seed 004 4.9.4 一级故障 15分钟")),
        SeverityLevel(code="L2", name="二级故障", description="严重影响系统可用性，导致部分业务不能使用",
                      clocks=_response(30, "seed 004 4.9.4 二级故障 30分钟")),
        SeverityLevel(code="L3", name="三级故障", description="影响系统可用性，导致业务响应变慢",
                      clocks=_response(120, "seed 004 4.9.4 三级故障 2小时")),
        SeverityLevel(code="L4", name="四级故障", description="影响系统的主机系统、数据库、网络传输中断等故障",
                      clocks=_response(240, "seed 004 4.9.4 四级故障 4小时")),
        SeverityLevel(code="L5", name="五级故障", description="系统操作疑难，或系统出现不正常运行状态",
                      clocks=_response(360, "seed 004 4.9.4 五级故障 6小时")),
    ]
)

PRESETS: dict[str, SlaPolicy] = {
    "wuhan-central-drg": WUHAN_CENTRAL_DRG,
    "nanxishan-hemodialysis": NANXISHAN_HEMODIALYSIS,
    "shanxi-cancer-his": SHANXI_CANCER_HIS,
    "gdph-einvoice": GDPH_EINVOICE,
    "liuzhou-workers-oa": LIUZHOU_WORKERS_OA,
}
