"""Hotline calls as a speech recogniser writes them, each labelled with what an engineer would say.

Written for the tests of :mod:`intake.hotline`: hospital staff calling the vendor about
the systems the seeds name (HIS 门诊收费, 住院, 医保结算, LIS, PACS, 电子病历,
排队叫号, DRG, 血透, 电子票据, OA …). Many carry the recogniser's typical errors —
homophones (一宝结算, 电子病例, 雪透, 排对叫号, 手马), acronyms heard as Chinese
(嗨斯, 历史, 拍斯, 瑞斯) or spelled out ("H I S", "O A"), a letter misheard (DIG) —
and some say a word that sounds like another system's name (低倍率病例 in a DRG
question, 历史病历 in an EMR fault). A few name no system at all: the answer there is None.

Two catalogues: ``general``, a vendor's product list at a general hospital, and
``shanxi``, the 50 systems of seed 002's 维保服务清单 (ids are the names), where
neighbours such as 门诊医生站 / 住院医生站 or 门诊收费 / 应急收费 must be told apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from intake.hotline.severity import CONSULT, CRITICAL, MAJOR, MINOR

System = tuple[str, str, list[str]]

GENERAL: list[System] = [
    ("his-op", "HIS门诊收费系统", ["HIS", "门诊收费", "收费", "挂号收费", "划价"]),
    ("his-ip", "住院管理系统", ["住院收费", "住院结算", "出院结算", "入院登记", "出入院"]),
    ("ybjs", "医保结算系统", ["医保", "医保接口", "医保结算", "异地医保"]),
    ("lis", "实验室信息管理系统（LIS）", ["LIS", "检验系统", "检验"]),
    ("pacs", "医学影像系统（PACS）", ["PACS", "影像", "影像系统"]),
    ("emr", "电子病历系统", ["EMR", "病历", "医生站"]),
    ("queue", "排队叫号系统", ["叫号", "分诊叫号", "排队"]),
    ("drg", "DRG智能化综合管理系统", ["DRG", "DRG分组", "分组器"]),
    ("hd", "血液透析智能管理信息系统", ["血透", "透析"]),
    ("einv", "医疗电子票据管理系统", ["电子票据", "电子发票", "票据"]),
    ("oa", "综合管理平台（OA）", ["OA", "办公系统", "公文", "协同办公"]),
    ("nis", "护理信息系统", ["护理系统", "移动护理", "PDA"]),
    ("peis", "健康体检系统", ["体检"]),
    ("anes", "手术麻醉系统", ["手麻", "麻醉"]),
    ("pass", "合理用药系统", ["合理用药", "审方"]),
    ("appt", "预约挂号系统", ["预约挂号", "预约"]),
]

_SHANXI: list[tuple[str, list[str]]] = [
    ("门（急）诊挂号管理系统", ["挂号"]), ("门（急）诊药房发药管理系统", ["门诊药房", "发药"]),
    ("门（急）诊划价、收费管理系统", ["门诊收费", "收费", "划价"]), ("住院药房管理系统", ["住院药房"]),
    ("药库管理系统", ["药库"]), ("住院病人管理系统", ["住院登记", "出入院", "住院收费"]),
    ("住院摆药管理系统", ["摆药"]), ("医疗保险管理系统", ["医保", "医保结算"]), ("预约挂号管理系统", ["预约挂号"]),
    ("物价管理系统", ["物价"]), ("财务统计管理系统", ["财务统计"]), ("统一后台管理", ["后台"]),
    ("住院医技记费管理系统", ["医技记费", "记费"]), ("院内医保控费系统", ["医保控费", "控费"]),
    ("配液中心管理系统", ["配液", "静配"]), ("高值耗材管理系统", ["高值耗材", "耗材"]),
    ("预住院管理系统", ["预住院"]), ("自助入院系统", ["自助入院"]), ("病案管理与统计系统", ["病案", "病案统计"]),
    ("门诊应急收费管理系统", ["应急收费"]),
    ("住院医生工作站管理系统（含住院结构化电子病历）", ["住院医生站", "住院病历"]),
    ("移动医生站管理系统", ["移动医生站"]), ("护理信息管理系统", ["护理系统", "护理记录"]),
    ("移动护理管理系统", ["移动护理", "PDA"]),
    ("门诊医生工作站管理系统（含门诊结构化电子病历）", ["门诊医生站", "门诊病历"]),
    ("MDT多学科联合会诊管理", ["MDT", "会诊"]), ("护理部管理系统", ["护理部"]),
    ("医务科及病案质控管理系统", ["病案质控", "质控"]), ("电子临床路径管理系统", ["临床路径"]),
    ("电子病历权限控制系统", ["病历权限"]), ("抗菌药分级管理系统", ["抗菌药分级"]),
    ("实验室信息管理系统", ["LIS", "检验系统"]), ("微生物实验室管理系统", ["微生物"]),
    ("WHONET接口系统", ["WHONET"]), ("检验样本追溯管理系统", ["样本追溯"]), ("输血科管理系统", ["输血"]),
    ("PICC管理系统", ["PICC"]), ("超声医技检查报告管理系统(RIS)", ["超声", "RIS"]),
    ("医技集中预约系统（全院级医技检查预约）", ["医技预约", "检查预约"]), ("传染病管理系统", ["传染病"]),
    ("抗菌药物监控系统", ["抗菌药物监控"]), ("外勤追溯管理软件", ["外勤"]), ("合理用药管理系统", ["合理用药"]),
    ("处方点评系统", ["处方点评"]), ("药师审方系统", ["审方"]), ("临床辅助决策系统（CDSS）", ["CDSS"]),
    ("医院质量指标分析系统", ["质量指标"]), ("抗肿瘤药物临床应用监测上报系统", ["抗肿瘤"]),
    ("三级公立医院绩效考核", ["绩效考核", "国考"]), ("全民健康数据平台", ["健康数据平台"]),
]
SHANXI: list[System] = [(name, name, aliases) for name, aliases in _SHANXI]

CATALOGUES: dict[str, list[System]] = {"general": GENERAL, "shanxi": SHANXI}


@dataclass(frozen=True)
class HotlineCase:
    """One call: what was said (caller and agent turns), and the system and rank an engineer would pick."""

    name: str
    catalogue: str
    turns: tuple[tuple[str, str], ...]
    system: str | None
    rank: str
    asr: str = ""  # the recognition errors in it, for the reader
    miss: str = ""  # a blind call the rules got wrong, and how

    def record(self, number: int) -> dict[str, object]:
        """The call as the telephony would post it (JSON), started ``number`` minutes after 08:00 Shanghai."""
        start = datetime(2026, 11, 23, 0, 0, tzinfo=UTC) + timedelta(minutes=number)
        return {
            "call_id": f"corpus-{number:03d}-{self.name}",
            "caller": "027-85726114",
            "called": "400-820-8820",
            "started_at": start.isoformat(),
            "ended_at": (start + timedelta(seconds=30 * len(self.turns) + 15)).isoformat(),
            "agent": "zhangwei",
            "turns": [{"speaker": s, "text": t, "offset": 5.0 + 12 * i} for i, (s, t) in enumerate(self.turns)],
        }


def _c(name: str, catalogue: str, system: str | None, rank: str, *turns: str, asr: str = "",
       miss: str = "") -> HotlineCase:
    """Turns alternate caller, agent, caller …: calls to a helpdesk start with the caller speaking."""
    speakers = ("caller", "agent")
    turn_pairs = tuple((speakers[i % 2], t) for i, t in enumerate(turns))
    return HotlineCase(name, catalogue, turn_pairs, system, rank, asr, miss)


CORPUS: list[HotlineCase] = [
    # --- general hospital catalogue -----------------------------------------------------------
    _c("his-op-all-windows", "general", "his-op", CRITICAL,
       "喂，你好，我是门诊收费处的。", "您好，请讲。",
       "现在嗨斯系统全部登不上了，所有窗口都收不了费，外面排了好长的队。", "好的，是从几点开始的？",
       "就八点开门的时候，一点登录就转圈，然后提示连接服务器失败。", asr="HIS→嗨斯"),
    _c("ybjs-yibao", "general", "ybjs", MAJOR,
       "你好，我这边是住院处的，一宝结算那个界面一直报错，病人出不了院。", "报的什么错呢？",
       "就是说交易失败请重新结算，试了好几次都一样。", asr="医保结算→一宝结算"),
    _c("lis-lishi", "general", "lis", MAJOR,
       "喂，我是生化室的，我们历史系统今天早上开始报告审核不了。", "审核的时候有什么提示吗？",
       "一点审核就报错，说标本状态不对。", asr="LIS→历史"),
    _c("pacs-paisi-wide", "general", "pacs", CRITICAL,
       "放射科的，拍斯系统看不了片子了。", "是一台电脑还是都不行？",
       "全院的医生那边都调不出图像来，门诊好多医生在打电话问。", asr="PACS→拍斯"),
    _c("emr-bingli", "general", "emr", MAJOR,
       "我是心内科护士站，电子病例打开以后一直白屏，医生写不了病程记录。", asr="电子病历→电子病例"),
    _c("queue-paidui", "general", "queue", MAJOR,
       "门诊二楼候诊区，那个排对叫号的屏幕不动了，呼叫不了下一个病人", asr="排队叫号→排对叫号"),
    _c("drg-dig", "general", "drg", MAJOR,
       "病案室的，DIG分组那个功能，上传首页以后分不出组，显示分组失败。", asr="DRG→DIG"),
    _c("hd-xuetou-down", "general", "hd", CRITICAL,
       "血透室的，雪透系统全部瘫痪了，机器旁边的电脑都进不去，病人已经上机了。", "好的，我马上联系工程师。",
       "你们快点，我们这边先手工记录。", asr="血透→雪透"),
    _c("einv-fapiao", "general", "einv", MAJOR,
       "你好，我是财务科的，电子发票开不出来了，病人缴完费拿不到票，提示开票失败。"),
    _c("oa-slow", "general", "oa", MINOR,
       "行政楼院办的，我们那个O A今天特别慢，打开一个公文要转好久。", asr="OA spelled out: O A"),
    _c("his-op-howto", "general", "his-op", CONSULT,
       "请问一下，门诊收费那边退费怎么操作？", "您是要退现金还是原路退回？", "原路退回，新来的收费员不会弄。"),
    _c("pacs-one-pc", "general", "pacs", MINOR,
       "CT室有一台电脑上那个PACS偶尔打不开，其他电脑都是好的。"),
    _c("ybjs-yidi", "general", "ybjs", MAJOR,
       "门诊的，异地医保的病人今天都结算不了，一直提示连接超时。"),
    _c("lis-spelled", "general", "lis", MAJOR,
       "生化室，仪器上的结果传不到L I S里面去，医生那边看不到结果。", asr="LIS spelled out: L I S"),
    _c("emr-slow", "general", "emr", MINOR,
       "骨科病区，医生反映电子病力保存的时候很卡，要等十几秒才好。", asr="电子病历→电子病力"),
    _c("drg-consult-binglie", "general", "drg", CONSULT,
       "我想咨询一下DRG的入组规则，就是低倍率的病例是怎么判断的。", asr="病例 (a case) sounds like 病历 (EMR)"),
    _c("queue-all-down", "general", "queue", CRITICAL,
       "门诊所有的叫号屏都黑屏了，全院的排队叫号都停了，现在只能人工喊号。"),
    _c("his-ip-discharge", "general", "his-ip", MAJOR,
       "住院处，出院结算的时候系统报错，说费用明细有问题，病人在等着走。"),
    _c("nis-pda", "general", "nis", MAJOR,
       "七病区护士站的，PDA扫腕带扫不出来，移动护理登录不进去。"),
    _c("anes-shouma", "general", "anes", MAJOR,
       "手术室，手马系统的记录单打印不了，点打印没反应。", asr="手麻→手马"),
    _c("peis-some", "general", "peis", MINOR,
       "体检中心的，体检系统里个别人的报告打印不出来。"),
    _c("hd-howto", "general", "hd", CONSULT,
       "透析室的护士长，想问一下血透系统里面怎么添加新的透析方案。"),
    _c("einv-slow-at-billing", "general", "einv", MINOR,
       "收费处的，电子票据打印有点慢，每张都要等好几秒。", asr="收费 (where the caller sits) is another system"),
    _c("oa-wide", "general", "oa", CRITICAL,
       "院办的，OA整个打不开了，全院都登录不了，下午还要发通知。"),
    _c("ybjs-at-billing-window", "general", "ybjs", MAJOR,
       "门诊收费窗口刷医保卡没反应，医保结算一直转圈，病人都在等。"),
    _c("his-op-one-window", "general", "his-op", MINOR,
       "H I S上面挂号收费打不开了，就我们这一个窗口，别的窗口可以。", asr="HIS spelled out: H I S"),
    _c("emr-history-not-lis", "general", "emr", MAJOR,
       "神经内科的，电子病历里面病人的历史病历调不出来。", asr="历史 (history) sounds like LIS"),
    _c("appt-not-billing", "general", "appt", MAJOR,
       "自助机上的预约挂号挂不上，点了以后报错，人工窗口挂号是好的。"),
    _c("pass-shenfang", "general", "pass", MAJOR,
       "门诊药房，合理用药的审方一直弹出来错误提示，处方发不出去。"),
    _c("ybjs-no-punctuation", "general", "ybjs", MAJOR,
       "喂你好我是住院部三病区的那个一宝接口今天一直连不上病人出院办不了", asr="医保接口→一宝接口, no punctuation"),
    _c("lis-no-punctuation-slow", "general", "lis", MINOR,
       "你好检验科这边今天利斯特别慢出一个报告要等好久", asr="LIS→利斯, no punctuation"),
    # --- no system named ----------------------------------------------------------------------
    _c("none-printer", "general", None, MAJOR, "喂，我们科室的打印机卡纸了，打不出东西来。"),
    _c("none-network", "general", None, MAJOR, "我们三楼这一层的网络都断了，电脑都上不了网。"),
    _c("none-visit", "general", None, CONSULT, "你好，我想问一下你们工程师明天几点能过来巡检。"),
    _c("none-pc", "general", None, MAJOR, "护士站的电脑开不了机，按电源没反应。", "是哪个病区的护士站？",
       "十二病区的，还是开不了。"),
    _c("none-two-systems", "general", None, MAJOR, "医保结算和门诊收费都用不了了，你们看一下。"),
    # --- seed 002's fifty systems -------------------------------------------------------------
    _c("sx-op-pharmacy", "shanxi", "门（急）诊药房发药管理系统", MAJOR,
       "药房的，门诊药房发药的时候扫不了处方，一扫就报错。"),
    _c("sx-ip-doctor", "shanxi", "住院医生工作站管理系统（含住院结构化电子病历）", MAJOR,
       "住院医生占写病例的时候保存不了，点保存就没反应。", asr="站→占, 病历→病例"),
    _c("sx-transfusion", "shanxi", "输血科管理系统", MAJOR,
       "输血科，临床那边的配血申请单传不过来。"),
    _c("sx-rx-review-howto", "shanxi", "处方点评系统", CONSULT,
       "药剂科，想问一下处方点评系统怎么导出每个月的点评结果。"),
    _c("sx-ris-ruisi", "shanxi", "超声医技检查报告管理系统(RIS)", CRITICAL,
       "B超室的，瑞斯系统今天全部起不来了。", asr="RIS→瑞斯"),
    _c("sx-record-qc", "shanxi", "医务科及病案质控管理系统", MAJOR,
       "病案室，病案质控系统点提交就报错。", asr="病案 (病案管理与统计) inside 病案质控"),
    _c("sx-iv-slow", "shanxi", "配液中心管理系统", MINOR,
       "静配中心的，配液系统打标签的时候特别卡。"),
    _c("sx-guokao-howto", "shanxi", "三级公立医院绩效考核", CONSULT,
       "我想咨询下国考的数据上报在哪里导出。"),
    _c("sx-emergency-billing", "shanxi", "门诊应急收费管理系统", MAJOR,
       "急诊收费窗口的，停电以后应急收费系统登不进去了。", asr="收费 inside 应急收费"),
    _c("sx-antibiotic-howto", "shanxi", "抗菌药分级管理系统", CONSULT,
       "医务科，抗菌要分级那个医生权限怎么设置。", asr="药→要"),
    _c("sx-none-phone", "shanxi", None, MAJOR, "我们科室的座机电话坏了，打不出去。"),
]

# Written after the rules above were settled, to see how they do on calls they were not tuned on.
# First run: system 15/16, rank 14/16 (教号系统 …不显示 had no fault word; 医保 and a near miss of
# 医保结算 in "医保办 … 要结算了" outweighed DRG; 开错了 in a how-to question read as a fault).
# Two general fixes followed (不显示 is a fault word; only matches scoring 90+ count as further
# mentions; "开错了"/"录错了" is the user's slip, not a fault); now all pass.
HELD_OUT: list[HotlineCase] = [
    _c("ho-his-op-refund-error", "general", "his-op", MAJOR,
       "喂，门诊一楼收费的，嗨斯里面退费退不了，一点确定就弹出来一个错误框。", asr="HIS→嗨斯"),
    _c("ho-ybjs-card-reader", "general", "ybjs", MAJOR,
       "你好，医保结算的时候读不了电子医保凭证，扫码一直失败。"),
    _c("ho-pacs-pasi-slow", "general", "pacs", MINOR,
       "影像科，怕斯调图像特别慢，一个CT要等一分钟。", asr="PACS→怕斯"),
    _c("ho-lis-barcode", "general", "lis", MAJOR,
       "门诊抽血处的，利斯打不了条码了，病人都排着队。", asr="LIS→利斯"),
    _c("ho-emr-template", "general", "emr", CONSULT,
       "你好我是内分泌科的医生，想问一下电子病历里面的模板怎么修改。"),
    _c("ho-queue-jiaohao", "general", "queue", MAJOR,
       "儿科门诊，分诊台的教号系统叫了号屏幕上不显示。", asr="叫号→教号"),
    _c("ho-drg-upload", "general", "drg", MAJOR,
       "医保办的，D R G的数据上传一直失败，月底要结算了。", asr="DRG spelled out"),
    _c("ho-hd-weight", "general", "hd", MINOR,
       "血透中心，个别病人的体重数据没有同步到血透系统里。"),
    _c("ho-einv-void", "general", "einv", CONSULT,
       "收费处，请问电子票据开错了怎么冲红？"),
    _c("ho-oa-approval", "general", "oa", MAJOR,
       "人事科的，OA上面的请假流程提交不了，点提交没反应。"),
    _c("ho-nis-wide", "general", "nis", CRITICAL,
       "护理部，全院的移动护理都登不上了，护士没法执行医嘱。"),
    _c("ho-anes-slow", "general", "anes", MINOR,
       "麻醉科的，手麻系统今天有点卡，记录的时候要等。"),
    _c("ho-none-wifi", "general", None, MAJOR,
       "病房的无线网连不上，推车的电脑没有网。"),
    _c("ho-sx-register", "shanxi", "门（急）诊挂号管理系统", CRITICAL,
       "门诊挂号的，所有窗口挂号都挂不了了，系统一直报错。"),
    _c("ho-sx-op-doctor", "shanxi", "门诊医生工作站管理系统（含门诊结构化电子病历）", MAJOR,
       "门诊医生站开检查单的时候报错，开不出来。"),
    _c("ho-sx-micro", "shanxi", "微生物实验室管理系统", MAJOR,
       "微生物室，药敏结果在微生物系统里面保存不了。"),
]

# The last batch: written after the fixes the held-out calls led to, run once, and left as it came out.
# A call whose spotting or rank missed says so in ``miss``; the tests expect those misses (xfail).
BLIND: list[HotlineCase] = [
    _c("bl-his-ip-admission", "general", "his-ip", MAJOR,
       "入院处的，入院登记的时候身份证读不出来，只能手工输，很麻烦。"),
    _c("bl-ybjs-yibao-wide", "general", "ybjs", CRITICAL,
       "喂喂，听得到吗？全院的一宝都结不了算了，门诊住院都不行。", asr="医保→一宝"),
    _c("bl-lis-critical-value", "general", "lis", MAJOR,
       "检验科的，危急值从L I S推送不到护士站了，今天上午开始的。", asr="LIS spelled out"),
    _c("bl-pacs-print", "general", "pacs", MAJOR,
       "放射科的胶片打印，派斯那边发过去打印机收不到。", asr="PACS→派斯"),
    _c("bl-emr-signature", "general", "emr", MAJOR,
       "医生站的电子签名签不上，说证书过期了。",
       miss="rank: 签不上 is no fault word (登不上 is), so minor with no words"),
    _c("bl-appt-howto", "general", "appt", CONSULT,
       "想咨询一下预约挂号的号源是在哪里放的，下周专家要加号。"),
    _c("bl-oa-gongwen-slow", "general", "oa", MINOR,
       "党办的，公文系统有时候打开比较慢。"),
    _c("bl-none-ukey", "general", None, CONSULT, "你好，我们科新来的医生的U盾怎么申请？"),
    _c("bl-sx-iv-label", "shanxi", "配液中心管理系统", MAJOR,
       "静配中心，配液的瓶贴打印不出来了。"),
    _c("bl-sx-pharmacy-ip", "shanxi", "住院药房管理系统", MAJOR,
       "住院药房的，摆药单和药房里的数量对不上，发药的时候报库存不足。",
       miss="system: 摆药 (住院摆药) is named right before the fault, so it wins over 住院药房; "
            "rank: 对不上 is minor and 库存不足 no fault word"),
]
