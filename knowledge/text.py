"""Chinese text as the knowledge base compares it.

Normalisation first (NFKC full-width → half-width, lower case, the synonym and
typo table, punctuation to spaces), then character 1- and 2-grams: measured on
this machine, character n-grams beat jieba words for short Chinese questions.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

# Common typos, homophones, colloquial verbs and what staff call things. Admins extend it
# (the kb_synonym table); these are the defaults every installation starts with.
DEFAULT_SYNONYMS: dict[str, str] = {
    "小票机": "打印机", "票据机": "打印机", "打票机": "打印机",
    "医宝": "医保", "医疗保险": "医保",
    "病例": "病历", "病厉": "病历",
    "登陆": "登录", "登入": "登录", "帐号": "账号", "帐户": "账户", "密吗": "密码",
    "咋整": "怎么操作", "咋弄": "怎么操作", "咋办": "怎么办", "怎么搞": "怎么操作", "怎么弄": "怎么操作",
    "咋": "怎么", "肿么": "怎么", "如何": "怎么",
    "打不开": "无法打开", "进不去": "无法进入", "用不了": "无法使用", "登不上": "无法登录",
    "弄不了": "无法操作", "出不来": "无法显示",
    "发票": "票据",
    "核磁共振": "mri", "核磁": "mri", "彩超": "超声", "b超": "超声", "化验": "检验", "拍片": "放射检查",
    "his": "医院信息系统", "lis": "检验系统", "ris": "检查报告系统", "pacs": "影像系统",
    "oa": "办公系统", "pda": "手持终端", "ukey": "u盾", "ca": "数字证书",
}

_PUNCT = re.compile(r"[^\w]+", re.UNICODE)
_ASCII_WORD = re.compile(r"[a-z0-9]+")


def normalize(text: str, synonyms: Mapping[str, str] = DEFAULT_SYNONYMS) -> str:
    """NFKC, lower case, synonyms (longest first, whole ASCII words only), punctuation to spaces."""
    text = unicodedata.normalize("NFKC", text).lower()
    for term in sorted(synonyms, key=len, reverse=True):
        if term.isascii():
            text = re.sub(rf"(?<![a-z0-9]){re.escape(term)}(?![a-z0-9])", synonyms[term], text)
        elif term in text:
            text = text.replace(term, synonyms[term])
    return " ".join(_PUNCT.sub(" ", text).replace("_", " ").split())


def char_ngrams(normalized: str) -> list[str]:
    """Character unigrams and bigrams of each run of Chinese; ASCII words stay whole."""
    grams: list[str] = []
    for chunk in normalized.split():
        pieces: list[str] = []
        pos = 0
        for match in _ASCII_WORD.finditer(chunk):
            pieces += list(chunk[pos:match.start()])
            pieces.append(match.group())
            pos = match.end()
        pieces += list(chunk[pos:])
        grams += pieces
        grams += [a + b for a, b in zip(pieces, pieces[1:], strict=False)]
    return grams


def for_embedding(text: str) -> str:
    """What the sentence encoder reads: normalised with the built-in table only.

    Stored article vectors must not depend on the admin-editable synonyms (an edit
    would silently stale them); the editable table acts on the TF-IDF side.
    """
    return normalize(text, DEFAULT_SYNONYMS)
