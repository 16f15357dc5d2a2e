"""Is this message a down system? Then it goes straight to a ticket: the knowledge
base never delays an urgent report ("全院挂号都登不上了")."""

from __future__ import annotations

import re
import unicodedata

# Words that say the trouble is wide ("全院", "所有窗口", "大家都") …
_WIDE = re.compile(r"全院|全科|全部|所有|整个|大家|各科|每个|多个科室|都")
# … and words that say something is down rather than "how do I".
_DOWN = re.compile(r"登不上|登不进|打不开|用不了|进不去|连不上|传不上|无法|不能用|[^\s，,。]不了|"
                   r"卡死|卡住|白屏|黑屏|报错|错误|出错|失败|异常|停了|没反应|转圈")
# Words that mean an outage on their own.
_OUTAGE = re.compile(r"瘫|宕机|崩溃|崩了|挂了(?!号)|停机|断网|中断")


def looks_like_outage(text: str) -> bool:
    text = unicodedata.normalize("NFKC", text)
    if _OUTAGE.search(text):
        return True
    return bool(_WIDE.search(text) and _DOWN.search(text))
