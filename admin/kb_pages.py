"""What the knowledge-base pages of the admin panel show and accept: the article
list, an article with its history and feedback, the review queue, the synonym
table and the "try a question" box.

Reads of the request's session turned into rows for the templates, and the
parsing of what people type (Chinese messages, :class:`FormError`); the routes
and every write's audit entry live in :mod:`admin.web`.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from admin.settings import Settings
from admin.sla_pages import CHINA_TZ, FormError, local_time
from knowledge import (
    Article,
    ArticleInput,
    ArticleStatus,
    ArticleVersion,
    Feedback,
    KnowledgeError,
    Synonym,
    Thresholds,
    ask,
    draft_from_ticket,
    failing_articles,
    near_duplicates,
    save_article,
)
from knowledge.embed import shared_embedder
from knowledge.service import MAX_ANSWER, MAX_QUESTION
from knowledge.text import DEFAULT_SYNONYMS
from tickets.models import Account, Contract, CoveredSystem, Hospital, Person, Role, Ticket, TicketStatus

STATUS_TEXT: dict[str, str] = {ArticleStatus.DRAFT: "草稿", ArticleStatus.PUBLISHED: "已发布", ArticleStatus.RETIRED: "已停用"}
DECISION_TEXT = {"answer": "直接回答", "suggest": "推荐", "handoff": "转人工"}
FEEDBACK_OUTCOMES = ("shown", "helped", "handoff")
MAX_KEY = 200
MAX_ALIAS = 100
MAX_ALIASES = 20
MAX_SYSTEM = 200
MAX_TERM = 50
MAX_QUERY = 500
MAX_SEARCH = 100
NO_SYSTEM = "-"  # the list's system filter: articles tied to no system
EDITOR_ROLES = (Role.ENGINEER, Role.MANAGER)

NOT_EDITOR = "只有管理员和维保方的工程师、经理可以修改知识库。"
ONLY_ADMINS = "只有管理员可以修改同义词表。"


# -- who may do what ---------------------------------------------------------------------------

def can_edit(session: Session, account: Account) -> bool:
    """Admins, and the vendor's own engineers and managers; hospital-side accounts only read."""
    if account.is_admin:
        return True
    person = session.get(Person, account.person_id) if account.person_id is not None else None
    return person is not None and person.hospital_id is None and person.role in EDITOR_ROLES


def visible(article: Article, scope: int | None) -> bool:
    """A hospital-side account sees its own hospital's articles and those for every hospital."""
    return scope is None or article.hospital_id is None or article.hospital_id == scope


def clean(text: str | None) -> str:
    """Without control characters other than newlines and tabs (PostgreSQL refuses NUL in text)."""
    return "".join(c for c in (text or "") if c in "\n\t" or unicodedata.category(c) != "Cc")


def parse_id(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isdigit() and len(text) <= 9 else None


def thresholds_of(settings: Settings | None) -> Thresholds:
    s = settings if settings is not None else Settings()
    return Thresholds(answer=s.kb_answer, suggest=s.kb_suggest, margin=s.kb_margin)


def status_text(status: str) -> str:
    return STATUS_TEXT.get(status, status)


# -- the article list ------------------------------------------------------------------------------

@dataclass
class ArticleRow:
    id: int
    key: str
    question: str
    system: str
    hospital: str
    status: str
    status_text: str
    version: int
    updated: str
    review_note: str


def _folded(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def article_rows(session: Session, *, scope: int | None, query: str = "", status: str = "",
                 system: str = "") -> list[ArticleRow]:
    """Articles matching the filters, newest change first; the text filter looks at key, question and aliases.

    Only the listed columns are read (not the stored vectors), and the text filter runs here rather
    than in SQL: aliases are a JSON list, stored escaped on PostgreSQL.
    """
    stmt = select(Article.id, Article.key, Article.question, Article.aliases, Article.system_label,
                  Article.hospital_id, Article.status, Article.version, Article.updated_at, Article.review_note)
    if scope is not None:
        stmt = stmt.where((col(Article.hospital_id).is_(None)) | (Article.hospital_id == scope))
    if status in STATUS_TEXT:
        stmt = stmt.where(Article.status == status)
    if system == NO_SYSTEM:
        stmt = stmt.where(Article.system_label == "")
    elif system:
        stmt = stmt.where(Article.system_label == system)
    stmt = stmt.order_by(col(Article.updated_at).desc(), col(Article.id).desc())
    hospitals = hospital_names(session)
    wanted = _folded(query.strip())
    rows = []
    for a_id, key, question, aliases, label, hospital_id, a_status, version, updated_at, note in session.exec(stmt):
        if wanted and not any(wanted in _folded(t) for t in (key, question, *aliases)):
            continue
        rows.append(ArticleRow(
            id=a_id or 0, key=key, question=question, system=label or "—",
            hospital=hospitals.get(hospital_id, "全部医院") if hospital_id is not None else "全部医院",
            status=a_status, status_text=status_text(a_status), version=version,
            updated=local_time(updated_at, CHINA_TZ), review_note=note,
        ))
    return rows


def system_filter_options(session: Session, scope: int | None) -> list[str]:
    """The system names the articles (that this account may see) carry, for the list's filter."""
    stmt = select(Article.system_label).where(Article.system_label != "").distinct()
    if scope is not None:
        stmt = stmt.where((col(Article.hospital_id).is_(None)) | (Article.hospital_id == scope))
    return sorted(set(session.exec(stmt)))


def hospital_names(session: Session) -> dict[int | None, str]:
    return {h.id: h.name for h in session.exec(select(Hospital))}


def hospital_choices(session: Session) -> list[Hospital]:
    return list(session.exec(select(Hospital).order_by(col(Hospital.id))))


@dataclass
class SystemChoice:
    name: str
    hospitals: str  # which hospitals' contracts cover it, to tell same-named systems apart


def system_choices(session: Session) -> list[SystemChoice]:
    """Every covered system of every contract, one choice per distinct name."""
    stmt = (select(CoveredSystem.name, Hospital.name)
            .join(Contract, col(Contract.id) == CoveredSystem.contract_id)
            .join(Hospital, col(Hospital.id) == Contract.hospital_id)
            .order_by(col(CoveredSystem.name), col(Hospital.id)))
    by_name: dict[str, list[str]] = {}
    for system, hospital in session.exec(stmt):
        names = by_name.setdefault(system, [])
        if hospital not in names:
            names.append(hospital)
    return [SystemChoice(name, "、".join(hospitals)) for name, hospitals in by_name.items()]


# -- one article: the form ------------------------------------------------------------------------

@dataclass
class ArticleForm:
    """The edit form's fields as typed (strings), so a refused form is shown again as it was."""

    key: str = ""
    question: str = ""
    answer: str = ""
    aliases: str = ""  # one per line
    system: str = ""  # a covered system's name from the select
    system_other: str = ""  # or a free label, which wins when filled in
    hospital: str = ""  # hospital key; "" = every hospital
    status: str = ArticleStatus.PUBLISHED
    version: str = ""  # the version the form was loaded from, to catch two people editing at once

    @classmethod
    def of(cls, session: Session, article: Article, systems: list[SystemChoice]) -> ArticleForm:
        hospital = session.get(Hospital, article.hospital_id) if article.hospital_id is not None else None
        label = article.system_label
        known = label in {s.name for s in systems}
        return cls(key=article.key, question=article.question, answer=article.answer,
                   aliases="\n".join(article.aliases), system=label if known else "",
                   system_other="" if known else label, hospital=hospital.key if hospital else "",
                   status=article.status, version=str(article.version))

    @classmethod
    def typed(cls, **fields: str) -> ArticleForm:
        """From a POST: each field cut to a size worth showing again (the limits are checked on parse)."""
        caps = {"key": MAX_KEY + 50, "question": MAX_QUESTION + 100, "answer": MAX_ANSWER + 1000,
                "aliases": (MAX_ALIAS + 1) * (MAX_ALIASES + 10), "system": MAX_SYSTEM + 50,
                "system_other": MAX_SYSTEM + 50, "hospital": 100, "status": 20, "version": 12}
        return cls(**{k: clean((v or "")[:caps[k]]) for k, v in fields.items() if k in caps})


def _one_line(text: str) -> str:
    return " ".join(text.split())


def parse_article(session: Session, form: ArticleForm, *, key: str) -> ArticleInput:
    """The typed form as the service's input; FormError (Chinese) on anything it cannot use."""
    question = _one_line(form.question)
    answer = form.answer.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not question:
        raise FormError("请填写问题。")
    if len(question) > MAX_QUESTION:
        raise FormError(f"问题太长：最多 {MAX_QUESTION} 个字（现在 {len(question)} 个）。")
    if not answer:
        raise FormError("请填写答案。")
    if len(answer) > MAX_ANSWER:
        raise FormError(f"答案太长：最多 {MAX_ANSWER} 个字（现在 {len(answer)} 个）。")
    aliases: list[str] = []
    for line in form.aliases.splitlines():
        alias = _one_line(line)
        if not alias or alias in aliases or alias == question:
            continue
        if len(alias) > MAX_ALIAS:
            raise FormError(f"别名「{alias[:20]}…」太长：每个最多 {MAX_ALIAS} 个字。")
        aliases.append(alias)
    if len(aliases) > MAX_ALIASES:
        raise FormError(f"别名太多：最多 {MAX_ALIASES} 个（现在 {len(aliases)} 个）。")
    system = _one_line(form.system_other) or _one_line(form.system)
    if len(system) > MAX_SYSTEM:
        raise FormError(f"系统名称太长：最多 {MAX_SYSTEM} 个字。")
    hospital = form.hospital.strip()
    if hospital and session.exec(select(Hospital.id).where(Hospital.key == hospital)).first() is None:
        raise FormError("请选择医院，或选「全部医院」。")
    if form.status not in STATUS_TEXT:
        raise FormError("请选择状态：草稿、已发布或已停用。")
    return ArticleInput(key=key, question=question, answer=answer, system=system, aliases=tuple(aliases),
                        hospital=hospital, status=form.status)


def parse_new_key(session: Session, text: str) -> str:
    key = text.strip()
    if not key:
        raise FormError("请填写编号（如 his-020）。")
    if len(key) > MAX_KEY:
        raise FormError(f"编号太长：最多 {MAX_KEY} 个字符。")
    if any(c.isspace() for c in key) or any(unicodedata.category(c).startswith("C") for c in key):
        raise FormError("编号不能包含空格或控制字符。")
    if session.exec(select(Article.id).where(Article.key == key)).first() is not None:
        raise FormError(f"编号「{key}」已被另一篇文章使用，请换一个。")
    return key


def save(session: Session, data: ArticleInput, author: str, now: datetime) -> Article:
    """Save a new version (vectors stored); a key taken meanwhile by another request is a FormError."""
    try:
        with session.begin_nested():
            return save_article(session, data, author[:100], now, embedder=shared_embedder())
    except IntegrityError:
        raise FormError(f"编号「{data.key}」已被另一篇文章使用，请换一个。") from None
    except KnowledgeError as exc:
        raise FormError(str(exc)) from None


# -- one article: history and feedback ----------------------------------------------------------------

@dataclass
class VersionRow:
    version: int
    status_text: str
    author: str
    saved_at: str
    question: str
    answer: str
    aliases: str


@dataclass
class ArticleView:
    article: Article
    status_text: str
    hospital: str
    versions: list[VersionRow]
    feedback: dict[str, int]
    created: str
    updated: str
    source_ticket: int | None


def article_view(session: Session, article: Article) -> ArticleView:
    versions = [VersionRow(v.version, status_text(v.status), v.author, local_time(v.saved_at, CHINA_TZ), v.question,
                           v.answer, "、".join(v.aliases))
                for v in session.exec(select(ArticleVersion).where(ArticleVersion.article_id == article.id)
                                      .order_by(col(ArticleVersion.version).desc()))]
    hospital = session.get(Hospital, article.hospital_id) if article.hospital_id is not None else None
    return ArticleView(article=article, status_text=status_text(article.status),
                       hospital=hospital.name if hospital else "全部医院", versions=versions,
                       feedback=feedback_counts(session, article.id or 0),
                       created=local_time(article.created_at, CHINA_TZ), updated=local_time(article.updated_at, CHINA_TZ),
                       source_ticket=article.source_ticket_id)


def feedback_counts(session: Session, article_id: int) -> dict[str, int]:
    counts = dict.fromkeys(FEEDBACK_OUTCOMES, 0)
    stmt = (select(Feedback.outcome, func.count()).where(Feedback.article_id == article_id)
            .group_by(Feedback.outcome))
    for outcome, n in session.exec(stmt):
        counts[outcome] = int(n)
    return counts


# -- the review queue ------------------------------------------------------------------------------------

@dataclass
class ReviewPage:
    failing: list[tuple[int, str, str, int, int]]  # id, key, question, handoffs, helped
    duplicates: list[tuple[Article, Article, str]]  # the pair and the similarity
    noted: list[tuple[int, str, str, str]]  # id, key, question, note
    drafts: list[tuple[int, str, str, str]]  # id, key, question, updated


def review_page(session: Session) -> ReviewPage:
    failing = [(f.article.id or 0, f.article.key, f.article.question, f.handoffs, f.helped)
               for f in failing_articles(session)]
    duplicates = [(a, b, f"{score:.0f}%") for a, b, score in near_duplicates(session)]
    noted = [(i or 0, k, q, n) for i, k, q, n in session.exec(
        select(Article.id, Article.key, Article.question, Article.review_note)
        .where(Article.review_note != "").order_by(col(Article.id)))]
    drafts = [(i or 0, k, q, local_time(u, CHINA_TZ)) for i, k, q, u in session.exec(
        select(Article.id, Article.key, Article.question, Article.updated_at)
        .where(Article.status == ArticleStatus.DRAFT).order_by(col(Article.updated_at).desc()))]
    return ReviewPage(failing=failing, duplicates=duplicates, noted=noted, drafts=drafts)


# -- synonyms ---------------------------------------------------------------------------------------------

@dataclass
class SynonymPage:
    rows: list[Synonym]
    defaults: list[tuple[str, str, bool]]  # term, canonical, overridden by a row


def synonym_page(session: Session) -> SynonymPage:
    rows = list(session.exec(select(Synonym).order_by(col(Synonym.term))))
    mine = {r.term.lower() for r in rows}
    defaults = [(t, c, t in mine) for t, c in DEFAULT_SYNONYMS.items()]
    return SynonymPage(rows=rows, defaults=defaults)


def parse_synonym(term: str, canonical: str) -> tuple[str, str]:
    """Typed as the knowledge base compares text: full-width to half-width, the term in lower case."""
    term = _one_line(unicodedata.normalize("NFKC", clean(term))).lower()
    canonical = _one_line(unicodedata.normalize("NFKC", clean(canonical)))
    if not term:
        raise FormError("请填写词语（人们输入的说法）。")
    if not canonical:
        raise FormError("请填写它对应的标准说法。")
    for what, value in (("词语", term), ("标准说法", canonical)):
        if len(value) > MAX_TERM:
            raise FormError(f"{what}太长：最多 {MAX_TERM} 个字。")
    if term == canonical.lower():
        raise FormError("词语和标准说法相同，无需添加。")
    return term, canonical


def synonym_taken(session: Session, term: str, except_id: int | None = None) -> bool:
    stmt = select(Synonym.id).where(func.lower(Synonym.term) == term)
    if except_id is not None:
        stmt = stmt.where(Synonym.id != except_id)
    return session.exec(stmt).first() is not None


def synonym_stamp(session: Session, now: datetime) -> datetime:
    """``now``, or just after the latest change if that is not earlier: the index notices a change
    by the newest ``updated_at``, which must move even when two edits share a clock reading."""
    latest = session.exec(select(func.max(Synonym.updated_at))).one()
    if latest is not None and latest >= now:
        return latest + timedelta(microseconds=1)  # type: ignore[no-any-return]
    return now


# -- trying a question ------------------------------------------------------------------------------------

@dataclass
class TryHit:
    article_id: int
    key: str
    question: str
    score: str


@dataclass
class TryView:
    query: str
    decision: str
    decision_text: str
    hits: list[TryHit] = field(default_factory=list)


def parse_query(text: str) -> str:
    query = _one_line(clean(text))
    if len(query) > MAX_QUERY:
        raise FormError(f"问题太长：最多 {MAX_QUERY} 个字。")
    return query


def try_question(session: Session, query: str, hospital_id: int | None, thresholds: Thresholds) -> TryView:
    result = ask(session, query, hospital_id=hospital_id, thresholds=thresholds)
    hits = [TryHit(h.entry.article_id, h.entry.key, h.entry.question, f"{h.score:.3f}") for h in result.hits[:3]]
    return TryView(query=query, decision=result.decision, decision_text=DECISION_TEXT[result.decision], hits=hits)


# -- a draft from a ticket ----------------------------------------------------------------------------------

DRAFTABLE = (TicketStatus.RESOLVED, TicketStatus.CLOSED)


def draft_key(ticket: Ticket) -> str:
    return f"ticket-{ticket.id}"  # what knowledge.draft_from_ticket names it


def existing_draft(session: Session, ticket: Ticket) -> int | None:
    return session.exec(select(Article.id).where(Article.key == draft_key(ticket))).first()


def draft(session: Session, ticket: Ticket, author: str, now: datetime) -> tuple[int, bool]:
    """The id of the draft made from ``ticket``, and whether it was made now (False: one existed, kept as is)."""
    existing = existing_draft(session, ticket)
    if existing is not None:
        return existing, False
    try:
        with session.begin_nested():
            article = draft_from_ticket(session, ticket, author[:100], now, embedder=shared_embedder())
    except IntegrityError:  # another request made it meanwhile
        existing = existing_draft(session, ticket)
        if existing is None:
            raise
        return existing, False
    return article.id or 0, True


def unchanged(session: Session, article: Article, data: ArticleInput) -> bool:
    """Saving ``data`` would change nothing a person can see (no new version is worth making)."""
    hospital = session.get(Hospital, article.hospital_id) if article.hospital_id is not None else None
    return (article.question, article.answer, list(article.aliases), article.system_label,
            hospital.key if hospital else "", article.status) == (
        data.question, data.answer, list(data.aliases), data.system, data.hospital, data.status)


def draft_button(session: Session, account: Account, ticket: Ticket) -> Mapping[str, object]:
    """What the ticket page offers: the button for a resolved ticket, or a link to the draft made from it."""
    return {"show": ticket.status in DRAFTABLE and can_edit(session, account),
            "article_id": existing_draft(session, ticket)}
