"""The five seed contracts as SLA presets.

Each clock cites the clause of the procurement document it implements
(``../shared/seeds/``); where a seed is ambiguous the reading chosen is the one
the hospital's auditor would apply, and ``docs/sla-presets.md`` records it
(generated from these objects plus :data:`READINGS`).
"""

from __future__ import annotations

from decimal import Decimal

from sla.policy import Amount, ClockSpec, ClockVariant, DutySpec, PenaltyRule, SeverityLevel, SlaPolicy

_REPLY = ["first_human_reply"]
_ERROR_KINDS = ["fault", "bug", "data"]


# -- seed 000 武汉市中心医院 DRG智能化综合管理系统 ------------------------------------------------
# 7×24 service (维保项目清单: 7×24小时系统维护、咨询); every clock counts wall-clock time.

def _wuhan_level(code: str, name: str, description: str, response: int, resolution: int,
                 response_clause: str, resolution_clause: str, data_response: int | None = None) -> SeverityLevel:
    response_variants = [
        # 售后服务内容 表 序号1 咨询服务、序号4 需求变更: 12小时内响应 — not errors, so not the error table.
        ClockVariant(kinds=["consult", "change"], minutes=720, clause="seed 000 售后服务内容 序号1、4 12小时内响应"),
    ]
    if data_response is not None:
        # 售后服务内容 表 序号5 数据恢复: 2小时内响应 — stricter than this level's error-table target.
        response_variants.append(ClockVariant(kinds=["data"], minutes=data_response,
                                              clause="seed 000 售后服务内容 序号5 数据恢复 2小时内响应"))
    return SeverityLevel(code=code, name=name, description=description, clocks={
        # 服务方式 错误报告类别表 + 定义: 响应时间——自甲方向乙方发出书面报告错误之时起计.
        "response": ClockSpec(minutes=response, start="written_report", stop=_REPLY,
                              variants=response_variants, clause=response_clause),
        # 三(3)2.(3) 紧急情况下2小时内安排技术工程师上门服务; 售后服务内容 序号3 紧急情况 现场处理 2小时内响应.
        "onsite": ClockSpec(minutes=120, start="written_report", requires="onsite_requested",
                            stop=["onsite_arrival"], kinds=_ERROR_KINDS,
                            clause="seed 000 三(3)2.(3) 紧急情况下2小时内安排技术工程师上门服务"),
        # 错误报告类别表 解决办法 / 三(3)2.(3) 4小时内解决问题; 四(四) 非乙方原因造成的逾期乙方不承担 → pausable.
        "resolution": ClockSpec(minutes=resolution, start="written_report", stop=["resolved"],
                                pause_on=["waiting_hospital"], kinds=_ERROR_KINDS + ["change"],
                                variants=[
                                    # 售后服务内容 序号4 需求变更: 需求修改不超过3个工作日.
                                    ClockVariant(kinds=["change"], calendar="working_days", working_days=3,
                                                 clause="seed 000 售后服务内容 序号4 需求修改不超过3个工作日"),
                                ],
                                clause=resolution_clause),
    })


WUHAN_CENTRAL_DRG = SlaPolicy(
    name="武汉市中心医院 DRG智能化综合管理系统维保",
    levels=[
        _wuhan_level("fatal", "致命错误", "能够引起系统停机或中断的错误", 60, 120,
                     "seed 000 服务方式 致命错误 响应时间1个小时",
                     "seed 000 服务方式 致命错误 最长不得超过2个小时"),
        _wuhan_level("serious", "严重错误", "对系统运行有较大影响，但不致导致系统停机或无法使用的错误", 120, 240,
                     "seed 000 服务方式 严重错误 响应时间2个小时",
                     "seed 000 三(3)2.(3) 4小时内解决问题"),
        _wuhan_level("minor", "一般错误", "对系统运行有影响，但不妨碍系统正常运行的错误", 240, 240,
                     "seed 000 服务方式 一般错误 响应时间4个小时",
                     "seed 000 三(3)2.(3) 4小时内解决问题", data_response=120),
    ],
    penalties=[
        # 附件1 服务质量评价 1.服务响应效率: 响应问题及处理问题时间大于1小时一次，则扣减1%合同款，按次数累计.
        PenaltyRule(code="response_over_1h", name="响应时间大于1小时", trigger="elapsed_over",
                    clocks=["response"], over_minutes=60, amount=Amount(percent=Decimal(1)),
                    clause="seed 000 附件1 服务质量评价 1.服务响应效率 每次扣减1%合同款"),
        # 附件1 2.因乙方未提前通知导致甲方系统故障: 致命5% / 严重3% / 一般1% 子系统合同金额.
        PenaltyRule(code="vendor_caused_fault", name="因乙方未提前通知导致系统故障", trigger="ticket",
                    causes=["vendor_no_notice"],
                    amount=Amount(percent_by_level={"fatal": Decimal(5), "serious": Decimal(3),
                                                    "minor": Decimal(1)}, of="system"),
                    clause="seed 000 附件1 服务质量评价 2.故障扣罚 5%/3%/1%子系统合同金额"),
    ],
    duties=[
        # 售后服务内容 序号9 巡检服务: 每年2次…巡检结束后给客户提供巡检报告 — twice in the one-year service period.
        DutySpec(key="inspection", name="巡检", recurrence="half_yearly", anchor="contract", closes_with="巡检报告",
                 clause="seed 000 售后服务内容 序号9 巡检服务 每年2次，巡检结束后给客户提供巡检报告"),
        # 四(一) 项目提交物: 服务期每三个月，乙方向甲方提交项目交付物 — counted from the service start.
        DutySpec(key="deliverables", name="项目交付物", recurrence="quarterly", anchor="contract",
                 closes_with="巡检报告、系统应用效果评价报告等交付物",
                 clause="seed 000 四(一) 服务期每三个月，乙方向甲方提交项目交付物"),
    ],
)


# -- seed 001 南溪山医院 血液透析智能管理信息系统 ----------------------------------------------------

NANXISHAN_HEMODIALYSIS = SlaPolicy(
    name="南溪山医院 血液透析智能管理信息系统维保",
    levels=[
        SeverityLevel(code="standard", name="故障报修", description="系统故障或使用问题", clocks={
            # 四.3(1) 电话维护 7*24小时; 接到采购人电话后…1小时内提供反馈意见 — the call starts it.
            "response": ClockSpec(minutes=60, start="any_report", stop=_REPLY,
                                  clause="seed 001 四.3(1) 接到电话后1小时内提供反馈意见"),
            # 四.3(3) 确定需要进行现场维护之日起，24小时内到达用户现场（特殊情况除外）.
            "onsite": ClockSpec(minutes=1440, start="onsite_requested", stop=["onsite_arrival"],
                                pause_on=["waiting_hospital"],
                                clause="seed 001 四.3(3) 确定需要现场维护之日起24小时内到达"),
        }),
    ],
    duties=[
        # 三.2(1) 合同期内须每季度不少于一次…全面巡检…出具详细的《巡检报告》; 四.1(1) 每季度一次现场巡检…提交相关巡检报告.
        DutySpec(key="inspection", name="巡检", recurrence="quarterly", anchor="contract", closes_with="巡检报告",
                 clause="seed 001 三.2(1) 合同期内须每季度不少于一次全面巡检，出具《巡检报告》；四.1(1)"),
        # 三.2(2) 合同期内…配合进行两次备份可用性检测和恢复试验 — one in each half of the service period.
        DutySpec(key="backup_restore", name="备份恢复测试", recurrence="half_yearly", anchor="contract",
                 closes_with="备份可用性检测和恢复试验记录",
                 clause="seed 001 三.2(2) 合同期内配合进行两次备份可用性检测和恢复试验"),
    ],
)


# -- seed 002 山西省肿瘤医院 医院信息系统 ----------------------------------------------------------
# 一.3 医院的工作时间一般为周一至周五8:00至18:00（节假日除外）: the demo hospital's working hours.

def _shanxi_level(code: str, name: str, description: str, days: int, clause: str) -> SeverityLevel:
    return SeverityLevel(code=code, name=name, description=description, clocks={
        # 一.1 7x24小时热线服务、远程支持服务，30分钟内给予及时响应 — a hotline call starts it.
        "response": ClockSpec(minutes=30, start="any_report", stop=_REPLY,
                              clause="seed 002 一.1 30分钟内给予及时响应"),
        # 二.2 2.1 bug类问题报障 紧急事件1个工作日内解决，非紧急事件3-5个工作日; 1.10 数据调整需医院授权签字.
        "resolution": ClockSpec(calendar="working_days", working_days=days, start="any_report",
                                stop=["resolved"], pause_on=["waiting_authorisation"], kinds=_ERROR_KINDS,
                                clause=clause),
        # 二.2 2.2 软件修改需求 方案由院方确认后，研发修改时长为15-45个工作日.
        "change": ClockSpec(calendar="working_days", working_days=45, start="change_approved",
                            stop=["resolved"], pause_on=["waiting_authorisation"], kinds=["change"],
                            clause="seed 002 二.2 2.2 方案确认后研发修改15-45个工作日"),
    })


SHANXI_CANCER_HIS = SlaPolicy(
    name="山西省肿瘤医院 医院信息系统维保",
    levels=[
        _shanxi_level("urgent", "紧急事件", "影响临床业务正常开展，需要立即处理", 1,
                      "seed 002 二.2 2.1 紧急事件1个工作日内解决"),
        _shanxi_level("normal", "非紧急事件", "不影响业务继续开展的问题", 5,
                      "seed 002 二.2 2.1 非紧急事件3-5个工作日解决"),
    ],
)


# -- seed 003 广东省人民医院 医疗电子票据管理系统 ------------------------------------------------------

GDPH_EINVOICE = SlaPolicy(
    name="广东省人民医院 医疗电子票据管理系统运维",
    # 5(1)1 工作期间（正常工作日8：00-18：00）.
    working_hours={"mon-fri": ["08:00-18:00"]},
    levels=[
        SeverityLevel(code="standard", name="系统故障", description="信息系统故障或使用问题", clocks={
            # 5(1)1 工作期间故障响应时间不超过0.5小时; 5(1)2 非工作期间不超过1小时.
            "response": ClockSpec(
                minutes=30, start="written_report", stop=_REPLY, kinds=["fault", "bug", "data", "consult"],
                variants=[ClockVariant(reported="out_of_hours", minutes=60,
                                       clause="seed 003 5(1)2 非工作期间故障响应时间不超过1小时")],
                clause="seed 003 5(1)1 工作期间故障响应时间不超过0.5小时"),
            # 5(1)1 到达现场时间不超过1小时; 5(1)2 非工作期间不超过2小时.
            "onsite": ClockSpec(
                minutes=60, start="written_report", requires="onsite_requested", stop=["onsite_arrival"],
                kinds=_ERROR_KINDS,
                variants=[ClockVariant(reported="out_of_hours", minutes=120,
                                       clause="seed 003 5(1)2 非工作期间到达现场时间不超过2小时")],
                clause="seed 003 5(1)1 工作期间到达现场时间不超过1小时"),
            # 5(1)3 修复时间不超过2个工作日; 4.1(1)2/3 系统错误修复、系统数据修复 1个工作日.
            "resolution": ClockSpec(
                calendar="working_days", working_days=2, start="written_report", stop=["resolved"],
                kinds=_ERROR_KINDS,
                variants=[ClockVariant(kinds=["bug", "data"], working_days=1,
                                       clause="seed 003 4.1(1)2、3 错误修复、数据修复在1个工作日完成")],
                clause="seed 003 5(1)3 修复时间不超过2个工作日"),
            # 5(2) 修改调整…在院方提交修改调整内容后的30天内落实交付; 4.1(2) 表结构变更需院方信息部门评审.
            "change": ClockSpec(minutes=30 * 1440, start="written_report", stop=["resolved"],
                                pause_on=["waiting_review"], kinds=["change"],
                                clause="seed 003 5(2) 提交修改调整内容后30天内落实交付"),
        }),
    ],
    duties=[
        # 4.1(1)5 系统巡检：每季度对系统的运行环境、业务功能进行全面检查; 5(5)3 定期每季度进行系统巡检…并出具巡检报告.
        DutySpec(key="inspection", name="巡检", recurrence="quarterly", closes_with="巡检报告",
                 clause="seed 003 4.1(1)5 每季度全面检查；5(5)3 定期每季度进行系统巡检，并出具巡检报告"),
        # 4.1(1)7 回访与总结：每季度进行现场回访，对院方使用系统情况进行总结，提交服务总结报告.
        DutySpec(key="visit", name="现场回访", recurrence="quarterly", closes_with="服务总结报告",
                 clause="seed 003 4.1(1)7 每季度进行现场回访，提交服务总结报告"),
        # 6(1) 由服务商向院方申请验收; 6(3)1 服务商提供维护记录…经院方审核确认后验收 — at the end of the service year.
        DutySpec(key="acceptance", name="维护验收申请", recurrence="yearly", anchor="contract",
                 closes_with="维护记录及验收申请",
                 clause="seed 003 6(1) 由服务商向院方申请验收；6(3)1 服务商提供维护记录"),
    ],
)


# -- seed 004 柳州市工人医院 综合管理平台（OA） --------------------------------------------------------
# 4.8 / 4.9.1 7×24 (365*24H): all clocks count wall-clock time.

def _liuzhou_level(code: str, name: str, description: str, minutes: int, clause: str,
                   affects_operation: bool) -> SeverityLevel:
    clocks = {
        # 4.9.2 乙方接故障通知后…按4.9.3故障级别提供相应的响应; 4.9.1 接到报修电话后应立刻…响应.
        "response": ClockSpec(minutes=minutes, start="any_report", stop=_REPLY, clause=clause),
    }
    if affects_operation:
        # 4.9.2 如故障影响医院业务运行，超过12小时内仍无法解决问题的，原厂技术人员需到达现场处理.
        clocks["onsite"] = ClockSpec(minutes=720, start="any_report", stop=["onsite_arrival", "resolved"],
                                     kinds=_ERROR_KINDS,
                                     clause="seed 004 4.9.2 超过12小时仍无法解决的需到达现场")
        # 4.9.2 …并于24小时内免费提供同档次或更高档次的设备或软件解决问题.
        clocks["resolution"] = ClockSpec(minutes=1440, start="any_report", stop=["resolved"],
                                         kinds=_ERROR_KINDS, clause="seed 004 4.9.2 24小时内解决问题")
    return SeverityLevel(code=code, name=name, description=description, clocks=clocks)


LIUZHOU_WORKERS_OA = SlaPolicy(
    name="柳州市工人医院 综合管理平台（OA）维保",
    levels=[
        _liuzhou_level("L1", "一级故障", "系统瘫痪，所有业务功能均不可用，或导致其他业务系统不能正常使用", 15,
                       "seed 004 4.9.4 一级故障 15分钟", True),
        _liuzhou_level("L2", "二级故障", "严重影响系统可用性，导致部分业务不能使用", 30,
                       "seed 004 4.9.4 二级故障 30分钟", True),
        _liuzhou_level("L3", "三级故障", "影响系统可用性，导致业务响应变慢", 120,
                       "seed 004 4.9.4 三级故障 2小时", True),
        _liuzhou_level("L4", "四级故障", "影响系统的主机系统、数据库、网络传输中断等故障", 240,
                       "seed 004 4.9.4 四级故障 4小时", True),
        _liuzhou_level("L5", "五级故障", "系统操作疑难，或系统出现不正常运行状态", 360,
                       "seed 004 4.9.4 五级故障 6小时", False),
    ],
    penalties=[
        # 6.2 (6.6.1) 不能完成4.1及4.9.2要求的，按1000元/次; 4.9.2 非乙方软件自身原因…导致的故障除外.
        PenaltyRule(code="missed_duty", name="未完成4.9.2故障响应要求", trigger="breach",
                    clocks=["response", "onsite", "resolution"],
                    exclude_causes=["hospital_operation", "environment", "force_majeure"],
                    amount=Amount(yuan=Decimal(1000)),
                    clause="seed 004 6.2 6.6.1 不能完成4.1及4.9.2要求的按1000元/次"),
    ],
    duties=[
        # 4.1 供应商每季度对服务器系统功能及安全进行一次巡检服务，形成巡检报告; 4.3 每个季度…提供巡检报告及建议;
        # 6.2 6.6.1 不能完成本技术参数文档第4.1…要求的，按1000元/次向甲方支付违约金.
        DutySpec(key="inspection", name="巡检", recurrence="quarterly", closes_with="巡检报告",
                 penalty_yuan=Decimal(1000),
                 clause="seed 004 4.1、4.3 每季度一次巡检，形成巡检报告；6.2 6.6.1 未完成按1000元/次"),
        # 8 验收要求: 每年年底对乙方的维保服务情况进行一次验收…签署验收单; 三 维保每满一年乙方需提供巡检报告及运维记录.
        DutySpec(key="acceptance", name="验收", recurrence="yearly", closes_with="双方签章的验收单",
                 clause="seed 004 8 每年年底进行一次验收，签署验收单；三 提供巡检报告及运维记录"),
    ],
)


PRESETS: dict[str, SlaPolicy] = {
    "wuhan-central-drg": WUHAN_CENTRAL_DRG,
    "nanxishan-hemodialysis": NANXISHAN_HEMODIALYSIS,
    "shanxi-cancer-his": SHANXI_CANCER_HIS,
    "gdph-einvoice": GDPH_EINVOICE,
    "liuzhou-workers-oa": LIUZHOU_WORKERS_OA,
}

# Where a seed can be read two ways: the reading chosen, and why (rendered into docs/sla-presets.md).
READINGS: dict[str, list[str]] = {
    "wuhan-central-drg": [
        "响应时间起点：定义写明“自甲方向乙方发出书面报告错误之时起计”，故电话报障不启动响应时钟，以首次书面报告（企业微信、邮件、网页）为准。",
        "响应目标与扣款阈值不同：错误报告类别表给严重/一般错误 2/4 小时，而附件1 按“大于1小时”计次扣 1% 合同款。"
        "两者都按合同执行：时钟按表中目标判定超时，扣款规则单独统计任何级别响应超过 1 小时的次数。",
        "“4小时内解决问题”（三(3)2.(3)）适用于严重与一般错误；致命错误取表中更严的“最长不得超过2个小时”。"
        "表中“以Service Pack修正”理解为修正方式，不免除时限。",
        "现场时钟从书面报告起算（“紧急情况下2小时内安排技术工程师上门”），仅在提出现场要求后存在。",
        "咨询与需求变更按售后服务内容表 12 小时响应；数据类工作属错误处理，按级别目标，一般错误的数据工作取“数据恢复 2小时内响应”。",
        "需求变更“不超过3个工作日”按民法典第二百零一条计：报告当日不计，第 3 个工作日下班（18:00）截止。",
        "四(四)“非乙方原因…不承担”：允许因“等待医院方配合”暂停解决时钟，响应时钟不可暂停。",
        "附件1 扣款无上限（“按次数累计”）；四(四)违约金 10% 上限针对不提供服务的违约金，不适用于此。",
        "子系统合同金额：合同只有一个子系统（DRG 系统），未单独登记金额时取合同总额。",
        "合同义务：巡检“每年2次”按服务期每半年一次；项目提交物“服务期每三个月”按服务期起始日起每三个月一次；均在期末最后一天 18:00（医院当地时间）前上传，提前 7 天、1 天提醒。",
        "“定期备份系统数据，并进行数据恢复测试”（三(3)2.(4)）未给频次，不设到期义务；合同未约定每次未完成的扣款，提交物仅作为进度款、验收款的付款条件。",
    ],
    "nanxishan-hemodialysis": [
        "响应时钟从首次报告（含电话）起算：条款明写“接到采购人电话后…1小时内提供反馈意见”。",
        "远程维护“12小时内提供反馈意见”晚于 1 小时反馈时限，已被响应时钟覆盖，不单独建时钟。",
        "现场时钟从“确定需要进行现场维护”（现场要求事件）起算 24 小时；“特殊情况除外”允许因等待医院方配合暂停。",
        "合同未规定解决时限（“尽快”），不设解决时钟，也无违约扣款条款。",
        "合同义务：巡检“合同期内须每季度不少于一次”按服务期起每三个月一次；“两次备份可用性检测和恢复试验”按服务期每半年一次；均在期末最后一天 18:00 前上传报告。合同未约定未完成的扣款。",
        "“维护期结束前一个月可进行相关验收准备”是可选安排，不设到期义务。",
    ],
    "shanxi-cancer-his": [
        "30 分钟响应覆盖热线与远程支持，故从首次报告（含电话）起算。",
        "“非紧急事件3-5个工作日解决”：取合同允许的上限 5 个工作日判定违约（3 个工作日为内部提醒目标）。",
        "工作日按民法典第二百零一条计：报告当日不计，自下一工作日起算，截止于第 N 个工作日下班（医院作息 18:00），含调休上班日。",
        "1.10“涉及功能调整和数据调整的需医院授权签字同意方可处理”：等待授权期间解决时钟暂停。",
        "软件修改需求“15-45个工作日（由需求复杂度而定）”：取上限 45 个工作日，从院方确认方案起算。",
        "紧急/非紧急的描述合同未定义，采用“是否影响临床业务正常开展”。",
        "合同义务：每日数据库巡检、每周接口巡检（二.5）是登记巡检日志的日常工作，不设按期上传报告的义务；“定期”满意度回访（二.7）未给频次，不设到期义务。",
    ],
    "gdph-einvoice": [
        "工作期间（正常工作日 8:00-18:00，含调休上班日）与非工作期间按报告到达时刻判定；时限本身按自然时间计，"
        "如周五 17:50 报告仍适用 0.5 小时，截止 18:20。",
        "响应时钟从书面报告起算：合同要求报障经院方项目管理平台记录（5(5)2），以记录为准。",
        "到达现场时限从报告起算，仅在提出现场要求后存在。",
        "故障修复 2 个工作日（5(1)3）；程序错误与数据修复 1 个工作日（4.1(1)2、3），均按民法典计工作日。",
        "修改调整“30天内落实交付”为自然日；涉及表结构的修改需院方评审，评审期间暂停。",
        "合同义务：系统巡检与现场回访均“每季度”一次，按自然季度，季末最后一天 18:00 前分别上传巡检报告、服务总结报告；维护验收由服务商申请（6(1)），在服务年度最后一天 18:00 前上传维护记录及验收申请。合同未约定未完成的扣款。",
    ],
    "liuzhou-workers-oa": [
        "响应从接到故障通知（含电话）起算，7×24（365*24H）。",
        "“超过12小时内仍无法解决问题的，原厂技术人员需到达现场”：12 小时内解决或到场即满足；"
        "“24小时内…解决问题”为解决时钟。两者适用于影响业务运行的一至四级故障，五级（操作疑难）不适用。",
        "一、二级故障需提供故障分析说明文档，合同未给时限，作为事项记录，不设时钟。",
        "违约金 1000 元/次：每个超时的响应、到场、解决时钟各计一次；甲方操作不当、网络环境或硬件、不可抗力导致的故障除外。",
        "合同未给该项违约金上限（6.5 的 5% 为解除合同的门槛，不是上限）。",
        "合同义务：季度巡检（4.1、4.3）按自然季度，季末最后一天 18:00 前上传巡检报告；逾期未上传即按 6.2 6.6.1 “不能完成本技术参数文档第4.1…要求的，按1000元/次”计违约金 1000 元，补交报告不免除。",
        "年度验收按“每年年底”（第8条），12 月 31 日 18:00 前上传双方签章的验收单；验收由甲方组织，合同未约定未验收的扣款，第三条“每满一年”的运维验收以年底验收为准。",
    ],
}
