"""Which system is the caller talking about? Spotted in a speech-recognition transcript.

The phone system's recogniser writes what it heard, not what was meant:
医保结算 comes out as 一宝结算, 电子病历 as 电子病例, 血透 as 雪透, HIS as 嗨斯 or
"H I S", PACS as 怕斯. Those errors keep the sound, so the comparison is made on
sound: every Chinese character becomes its toneless pinyin (pypinyin), folded the
way Chinese input methods fold regional accents (zh/z, ch/c, sh/s, l/n, -ng/-n),
and a system's names are compared to every stretch of the text of about their
length with rapidfuzz. A verbatim match scores 100, a same-sounding one at most
95, a Chinese rendering of a spoken acronym (嗨斯 for HIS) at most 92.

Which terms stand for a system: its name, the name without parenthetical notes
and generic suffixes (系统, 管理系统, 平台 …) when three characters or more are
left (a bare 住院 or 护理 names a ward or a profession more often than a system),
acronyms in the name, and its aliases (with and without such suffixes). A term
ending in a generic suffix must sound exactly right: a near miss of "…管理系统" is
any other "…管理系统". Shorter terms need closer matches; a single character
names nothing; an everyday word that sounds like an alias (印象 for 影像) is that word.

Deciding: a system named right before a fault or a question ("一宝结算那个界面一直
报错") is the one the call is about, one named more than once is likelier, a
match inside a longer match of another system does not count (挂号 in 预约挂号).
When no candidate leads the next by :data:`MARGIN`, the answer is None: the engineer picks.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from pypinyin import lazy_pinyin
from rapidfuzz import fuzz, process

from intake.hotline.severity import FAULT_OR_QUESTION

# How Chinese speech recognisers write the acronyms staff say aloud. These match by exact
# pinyin only: folded, 嗨斯 (hai si) would also be 还是 (hai shi), said in every other call.
SPOKEN_ACRONYMS: dict[str, tuple[str, ...]] = {
    "his": ("嗨斯", "黑斯"),
    "lis": ("利斯", "历史"),
    "pacs": ("怕斯", "拍斯", "怕克斯"),
    "ris": ("瑞斯",),
}
# Everyday words that sound exactly like a system's alias: said, they were most likely meant.
# (印象 for 影像, 叫好 for 叫号, 派对 for 排队, 互利 for 护理, 一包 / 已报 for 医保.)
EVERYDAY_WORDS = frozenset({"印象", "叫好", "派对", "互利", "一包", "已报"})
GENERIC_SUFFIXES = ("管理信息系统", "信息管理系统", "管理系统", "信息系统", "系统", "平台", "管理软件", "软件",
                    "管理", "综合", "智能化", "智能", "信息")
VERBATIM = 100.0
HOMOPHONE_CAP = 95.0
SPOKEN_CAP = 92.0
FAULT_BONUS = 4.0  # named right before a fault or question word
MENTION_BONUS = 2.0  # each further separate mention, up to two …
STRONG = 90.0  # … that sounds like the name (a near miss is no mention)
MARGIN = 3.0  # how far the winner must lead the next candidate
SHADOW_SLACK = 5.0  # a longer match of another system hides a shorter one scoring at most this much more
NEAR_FAULT = 15  # characters between a system's name and the fault word said of it

_CJK = "\u3400-\u9fff"
_RUNS = re.compile(rf"[{_CJK}]+|[a-z0-9]+")
_SPELLED = re.compile(r"(?<![a-z])[a-z](?:[\s.·,，]+[a-z](?![a-z]))+")
_PARENS = re.compile(r"[（(][^)）]*[)）]")
_ASCII_WORD = re.compile(r"[a-z][a-z0-9]+")
_CLAUSE = re.compile(r"[，。！？,.!?；;\n]")
_JOINED = re.compile(r"\s*(?:和|跟|与|及|以及|还有|、)\s*")


@dataclass(frozen=True)
class Candidate:
    """A system the text may be about: best ``score`` (0–100), its ``evidence`` (score + bonuses)."""

    system_id: Hashable
    score: float
    evidence: float
    matched_text: str
    mentions: int


@dataclass(frozen=True)
class SpotResult:
    """The system spotted (None when no candidate clearly leads) and the candidates behind the call.

    ``score`` is the leading candidate's similarity (0–100) even when none was chosen, so a
    caller can tell "nothing sounded like a system" (0) from "two did" (high, but None).
    """

    system_id: Hashable | None
    score: float
    matched_text: str
    candidates: tuple[Candidate, ...]


@dataclass(frozen=True)
class _Token:
    sound: str  # folded pinyin syllable, or an ASCII word
    raw: str  # the syllable as pypinyin gives it
    start: int
    end: int


@dataclass(frozen=True)
class _Term:
    text: str
    sound: str  # space-joined syllables: folded, or raw for a spoken acronym
    size: int  # syllables (an ASCII word is one)
    cap: float
    strict: bool = False  # only a same-sounding stretch counts, no near miss

    @property
    def spoken(self) -> bool:
        return self.cap == SPOKEN_CAP


@dataclass(frozen=True)
class _Hit:
    system: int
    start: int
    end: int
    score: float


def spot_system(text: str, systems: Sequence[tuple[Hashable, str, Sequence[str]]]) -> SpotResult:
    """The system among ``systems`` (id, name, aliases) that ``text`` is about, or None if unclear."""
    norm = normalize(text)
    tokens = _tokens(norm)
    windows: dict[tuple[int, bool], list[str]] = {}
    hits: list[_Hit] = []
    for index, (_, name, aliases) in enumerate(systems):
        found: list[_Hit] = []
        for term in system_terms(name, tuple(aliases)):
            found += _find(term, index, norm, tokens, windows)
        hits += _best_apart(found)
    hits = _unshadowed(hits)
    candidates = _candidates(hits, norm, systems)
    if not candidates:
        return SpotResult(None, 0.0, "", ())
    best = candidates[0]
    runner_up = candidates[1].evidence if len(candidates) > 1 else 0.0
    chosen = best.system_id if best.evidence - runner_up >= MARGIN else None
    return SpotResult(chosen, best.score, best.matched_text if chosen is not None else "", candidates[:5])


def normalize(text: str) -> str:
    """NFKC, lower case, spelled-out letters joined ("H I S" → "his")."""
    text = unicodedata.normalize("NFKC", text).lower()
    return _SPELLED.sub(lambda m: re.sub(r"[^a-z]", "", m.group()), text)


@lru_cache(maxsize=4096)
def system_terms(name: str, aliases: tuple[str, ...]) -> tuple[_Term, ...]:
    """Every way a system may be named, as sounds; cached because a catalogue rarely changes."""
    bare = _PARENS.sub("", normalize(name)).strip()
    texts = [bare, *_ASCII_WORD.findall(normalize(name))]
    stem = _stem(bare)
    if len(re.findall(rf"[{_CJK}]", stem)) >= 3 or _ASCII_WORD.fullmatch(stem):
        texts.append(stem)
    for alias in (normalize(a).strip() for a in aliases):
        texts += [alias, _stem(alias)]
    # A name with a generic ending only as said: near misses of "…管理系统" are any other "…管理系统".
    strict = {normalize(name)} | {t for t in texts if _stem(t) != t}
    terms: dict[str, _Term] = {}
    for text in [normalize(name), *texts]:
        tokens = _tokens(text)
        if not tokens or (len(tokens) == 1 and (not text.isascii() or len(text) < 2)):
            continue  # a single Chinese character or letter names nothing
        sound = " ".join(t.sound for t in tokens)
        terms.setdefault(sound, _Term(text, sound, len(tokens), VERBATIM, strict=text in strict))
        if len(tokens) == 1:
            for spoken in SPOKEN_ACRONYMS.get(tokens[0].sound, ()):
                raw = " ".join(t.raw for t in _tokens(spoken))
                terms.setdefault("=" + raw, _Term(spoken, raw, len(_tokens(spoken)), SPOKEN_CAP))
    return tuple(terms.values())


def _stem(name: str) -> str:
    """The name without generic endings: 血液透析智能管理信息系统 → 血液透析."""
    changed = True
    while changed:
        changed = False
        for suffix in GENERIC_SUFFIXES:
            if name.endswith(suffix) and len(name) > len(suffix):
                name, changed = name[: -len(suffix)].rstrip("、与和及 "), True
                break
    return name


def _tokens(norm: str) -> tuple[_Token, ...]:
    """Syllables of the Chinese runs and whole ASCII words, with their places in ``norm``."""
    tokens: list[_Token] = []
    for run in _RUNS.finditer(norm):
        chunk = run.group()
        if chunk.isascii():
            tokens.append(_Token(chunk, chunk, run.start(), run.end()))
            continue
        syllables = lazy_pinyin(chunk)
        if len(syllables) != len(chunk):
            syllables = [lazy_pinyin(ch)[0] for ch in chunk]
        for offset, syllable in enumerate(syllables):
            at = run.start() + offset
            tokens.append(_Token(_fold(syllable), syllable, at, at + 1))
    return tuple(tokens)


def _fold(syllable: str) -> str:
    """Fold the sounds accents and recognisers mix up: zh/z, ch/c, sh/s, ang/an, eng/en, ing/in.

    Not l/n: folded, 历史 (li shi) would be 你是 and 您是, said in every call.
    """
    for retroflex in ("zh", "ch", "sh"):
        if syllable.startswith(retroflex):
            syllable = syllable[0] + syllable[2:]
            break
    if syllable.endswith(("ang", "eng", "ing")):
        syllable = syllable[:-1]
    return syllable


def _threshold(size: int) -> float:
    """Shorter names must match more exactly: two syllables leave little room for chance."""
    return {1: 100.0, 2: 90.0, 3: 85.0}.get(size, 80.0)


def _find(term: _Term, system: int, norm: str, tokens: tuple[_Token, ...],
          windows: dict[tuple[int, bool], list[str]]) -> list[_Hit]:
    """The stretches of the text (as long as the term, one syllable more or less) that sound like it."""
    if term.spoken or term.strict:
        sizes, cutoff = [term.size], 100.0
    else:
        sizes, cutoff = [term.size, term.size + 1] + ([term.size - 1] if term.size >= 3 else []), _threshold(term.size)
    found: list[_Hit] = []
    for size in sizes:
        if size > len(tokens):
            continue
        key = (size, term.spoken)
        if key not in windows:
            windows[key] = [" ".join(t.raw if term.spoken else t.sound for t in tokens[i:i + size])
                            for i in range(len(tokens) - size + 1)]
        for _, ratio, i in process.extract(term.sound, windows[key], scorer=fuzz.ratio,
                                           score_cutoff=cutoff, limit=None):
            start, end = tokens[i].start, tokens[i + size - 1].end
            said = re.sub(r"\s", "", norm[start:end])
            verbatim = said == re.sub(r"\s", "", term.text)
            if not verbatim and said in EVERYDAY_WORDS:
                continue
            score = VERBATIM if verbatim and not term.spoken else min(ratio, term.cap, HOMOPHONE_CAP)
            found.append(_Hit(system, start, end, score))
    return found


def _best_apart(hits: list[_Hit]) -> list[_Hit]:
    """One system's overlapping matches are one mention: the best (then the longest) of them is kept."""
    kept: list[_Hit] = []
    for hit in sorted(hits, key=lambda h: (-h.score, h.start - h.end, h.start)):
        if all(hit.end <= k.start or hit.start >= k.end for k in kept):
            kept.append(hit)
    return kept


def _unshadowed(hits: list[_Hit]) -> list[_Hit]:
    """Drop a match that lies inside a longer, about as good match of another system (挂号 in 预约挂号)."""
    kept: list[_Hit] = []
    for hit in hits:
        shadowed = any(other.system != hit.system and other.start <= hit.start and hit.end <= other.end
                       and other.end - other.start > hit.end - hit.start and other.score >= hit.score - SHADOW_SLACK
                       for other in hits)
        if not shadowed:
            kept.append(hit)
    return kept


def _candidates(hits: list[_Hit], norm: str,
                systems: Sequence[tuple[Hashable, str, Sequence[str]]]) -> list[Candidate]:
    """One candidate per system: its best match, separate mentions, and whether a fault follows it."""
    near_fault = _near_fault(hits, norm)
    candidates: list[Candidate] = []
    for index in sorted({h.system for h in hits}):
        own = sorted((h for h in hits if h.system == index), key=lambda h: (-h.score, h.start - h.end, h.start))
        best = own[0]
        mentions = sum(1 for h in own if h.score >= STRONG)
        evidence = best.score + MENTION_BONUS * min(max(mentions - 1, 0), 2)
        if index in near_fault:
            evidence += FAULT_BONUS
        candidates.append(Candidate(systems[index][0], best.score, evidence, norm[best.start:best.end], mentions))
    return sorted(candidates, key=lambda c: (-c.evidence, -c.score))


def _near_fault(hits: list[_Hit], norm: str) -> set[int]:
    """Systems named last before a fault or question word in the same clause: what the fault is said of.

    Systems joined by 和 / 跟 / 、 ("医保结算和门诊收费都用不了") are all named last.
    """
    systems: set[int] = set()
    for word in FAULT_OR_QUESTION.finditer(norm):
        before = sorted((h for h in hits if h.end <= word.start() and word.start() - h.end <= NEAR_FAULT
                         and not _CLAUSE.search(norm[h.end:word.start()])), key=lambda h: (-h.end, h.start))
        if not before:
            continue
        nearest = before[0]
        systems.add(nearest.system)
        for hit in before[1:]:
            if hit.end <= nearest.start and _JOINED.fullmatch(norm[hit.end:nearest.start]):
                systems.add(hit.system)
                nearest = hit
    return systems
