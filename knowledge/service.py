"""Articles in the database: save with history, import and export, ask, learn from tickets.

Functions take the caller's session (one transaction, committed by the caller)
and ``now``. The in-memory index is rebuilt when the articles or synonyms
change — noticed by a cheap fingerprint query, so an import in another process
is seen on the next question.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import yaml
from rapidfuzz import fuzz
from sqlalchemy import func
from sqlmodel import Session, col, select

from knowledge.embed import Embedder, shared_embedder
from knowledge.index import Entry, Hit, KnowledgeIndex, Result, Thresholds, decide
from knowledge.models import Article, ArticleStatus, ArticleVersion, Feedback, Synonym
from knowledge.text import DEFAULT_SYNONYMS, for_embedding, normalize
from tickets.models import Contract, CoveredSystem, Hospital, Message, Ticket

log = logging.getLogger(__name__)

MAX_QUESTION = 500
MAX_ANSWER = 20000


class KnowledgeError(ValueError):
    """Bad article data; the message is Chinese, for the person importing or editing."""


@dataclass(frozen=True)
class ArticleInput:
    key: str
    question: str
    answer: str
    system: str = ""
    aliases: tuple[str, ...] = ()
    hospital: str = ""  # hospital key; "" = every hospital with the system
    status: str = ArticleStatus.PUBLISHED

    @classmethod
    def parse(cls, data: object) -> ArticleInput:
        """From one JSON Lines object or Markdown front matter; raises KnowledgeError in Chinese."""
        if not isinstance(data, dict):
            raise KnowledgeError("每行应是一个 JSON 对象")
        key = str(data.get("id") or "").strip()
        question = str(data.get("question") or "").strip()
        answer = str(data.get("answer") or "").strip()
        if not key:
            raise KnowledgeError("缺少 id")
        if len(key) > 200:
            raise KnowledgeError("id 太长（最多 200 字符）")
        if not question:
            raise KnowledgeError("缺少 question")
        if len(question) > MAX_QUESTION:
            raise KnowledgeError(f"question 太长（最多 {MAX_QUESTION} 字）")
        if not answer:
            raise KnowledgeError("缺少 answer")
        if len(answer) > MAX_ANSWER:
            raise KnowledgeError(f"answer 太长（最多 {MAX_ANSWER} 字）")
        aliases = data.get("aliases") or []
        if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
            raise KnowledgeError("aliases 应是字符串列表")
        status = str(data.get("status") or ArticleStatus.PUBLISHED)
        if status not in set(ArticleStatus):
            raise KnowledgeError(f"status 应是 draft / published / retired，而不是 {status!r}")
        return cls(key=key, question=question, answer=answer, system=str(data.get("system") or "").strip(),
                   aliases=tuple(a.strip() for a in aliases if a.strip()), hospital=str(data.get("hospital") or "").strip(),
                   status=status)


# -- saving ----------------------------------------------------------------------------------


def save_article(session: Session, data: ArticleInput, author: str, now: datetime, *,
                 embedder: Embedder | None = None, source_ticket_id: int | None = None) -> Article:
    """Create or update the article with ``data.key``; every save is a new version."""
    hospital_id = _hospital_id(session, data.hospital)
    system, note = _system(session, data.system, hospital_id)
    article = session.exec(select(Article).where(Article.key == data.key)).first()
    if article is None:
        article = Article(key=data.key, question=data.question, answer=data.answer, created_at=now, updated_at=now,
                          version=0, source_ticket_id=source_ticket_id)
    changed_text = (article.question, list(article.aliases)) != (data.question, list(data.aliases))
    article.question, article.answer, article.aliases = data.question, data.answer, list(data.aliases)
    article.system_id = system.id if system else None
    article.system_label = data.system if system is None else system.name
    article.hospital_id = hospital_id
    article.status = data.status
    article.author = author
    article.review_note = note
    article.version += 1
    article.updated_at = now
    if changed_text or article.vectors is None:
        article.vectors = _vectors(embedder, data.question, data.aliases)
    session.add(article)
    session.flush()
    session.add(ArticleVersion(article_id=article.id or 0, version=article.version, question=article.question,
                               answer=article.answer, aliases=list(article.aliases), status=article.status,
                               author=author, saved_at=now))
    return article


def _vectors(embedder: Embedder | None, question: str, aliases: Iterable[str]) -> bytes | None:
    if embedder is None:
        return None
    return embedder.encode([for_embedding(t) for t in (question, *aliases)]).astype(np.float32).tobytes()


def _hospital_id(session: Session, key: str) -> int | None:
    if not key:
        return None
    hospital = session.exec(select(Hospital).where(Hospital.key == key)).first()
    if hospital is None:
        raise KnowledgeError(f"没有医院「{key}」")
    return hospital.id


def _system(session: Session, name: str, hospital_id: int | None) -> tuple[CoveredSystem | None, str]:
    """The covered system named ``name`` (by name or alias); unmatched names are kept as labels, flagged."""
    if not name:
        return None, ""
    stmt = select(CoveredSystem).join(Contract, col(Contract.id) == CoveredSystem.contract_id)
    if hospital_id is not None:
        stmt = stmt.where(Contract.hospital_id == hospital_id)
    systems = list(session.exec(stmt.order_by(col(CoveredSystem.id))).all())
    wanted = normalize(name)
    for system in systems:
        if normalize(system.name) == wanted:
            return system, ""
    for system in systems:
        if wanted in {normalize(a) for a in system.aliases}:
            return system, ""
    return None, f"系统「{name}」未匹配到合同中的系统，请核对"


# -- import and export -------------------------------------------------------------------------


@dataclass
class ImportReport:
    added: int = 0
    updated: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)  # (where, why)
    flagged: list[str] = field(default_factory=list)  # keys whose system matched none


def import_path(session: Session, path: Path, author: str, now: datetime, *,
                embedder: Embedder | None = None, keep_existing: bool = False) -> ImportReport:
    """A JSON Lines file, or a folder of Markdown files with front matter.

    ``keep_existing``: articles already in the database are left as they are (the
    demo's starter set must not undo an admin's edits when loaded again).
    """
    items: list[tuple[str, object]] = []
    report = ImportReport()
    if path.is_dir():
        for md in sorted(path.rglob("*.md")):
            try:
                items.append((md.name, _front_matter(md.read_text(encoding="utf-8"), md.stem)))
            except (KnowledgeError, UnicodeDecodeError, yaml.YAMLError) as exc:
                report.errors.append((md.name, _why(exc)))
    else:
        text = path.read_text(encoding="utf-8-sig")
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                items.append((f"第 {number} 行", json.loads(line)))
            except json.JSONDecodeError as exc:
                report.errors.append((f"第 {number} 行", f"不是合法的 JSON（{exc.msg}）"))
    _import_items(session, items, author, now, embedder, report, keep_existing)
    return report


def _import_items(session: Session, items: list[tuple[str, object]], author: str, now: datetime,
                  embedder: Embedder | None, report: ImportReport, keep_existing: bool) -> None:
    parsed: list[tuple[str, ArticleInput]] = []
    seen: set[str] = set()
    for where, data in items:
        try:
            article = ArticleInput.parse(data)
            _hospital_id(session, article.hospital)
        except KnowledgeError as exc:
            report.errors.append((where, str(exc)))
            continue
        if article.key in seen:
            report.errors.append((where, f"id「{article.key}」在文件中重复"))
            continue
        seen.add(article.key)
        if keep_existing and session.exec(select(Article.id).where(Article.key == article.key)).first():
            continue
        parsed.append((where, article))
    # Embed in one batch: much faster than one question at a time.
    vectors = _batch_vectors(embedder, [a for _, a in parsed])
    for (_, data), blob in zip(parsed, vectors, strict=True):
        existed = session.exec(select(Article.id).where(Article.key == data.key)).first() is not None
        article = save_article(session, data, author, now, embedder=None)
        article.vectors = blob
        session.add(article)
        if article.review_note:
            report.flagged.append(article.key)
        if existed:
            report.updated += 1
        else:
            report.added += 1
    session.flush()


def _batch_vectors(embedder: Embedder | None, articles: list[ArticleInput]) -> list[bytes | None]:
    if embedder is None or not articles:
        return [None] * len(articles)
    texts = [[a.question, *a.aliases] for a in articles]
    flat = embedder.encode([for_embedding(t) for group in texts for t in group]).astype(np.float32)
    out, pos = [], 0
    for group in texts:
        out.append(flat[pos:pos + len(group)].tobytes())
        pos += len(group)
    return out


def _front_matter(text: str, stem: str) -> dict[str, object]:
    if not text.startswith("---"):
        raise KnowledgeError("缺少开头的 front matter（--- … ---）")
    _, head, body = text.split("---", 2)
    meta = yaml.safe_load(head) or {}
    if not isinstance(meta, dict):
        raise KnowledgeError("front matter 应是键值对")
    meta.setdefault("id", stem)
    meta["answer"] = body.strip()
    return meta


def _why(exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return "文件不是 UTF-8 编码"
    if isinstance(exc, yaml.YAMLError):
        return "front matter 不是合法的 YAML"
    return str(exc)


def export_jsonl(session: Session) -> str:
    hospitals = {h.id: h.key for h in session.exec(select(Hospital))}
    lines = []
    for a in session.exec(select(Article).order_by(col(Article.id))):
        row: dict[str, object] = {"id": a.key, "system": a.system_label, "question": a.question, "answer": a.answer,
                                  "aliases": list(a.aliases)}
        if a.hospital_id is not None:
            row["hospital"] = hospitals.get(a.hospital_id, "")
        if a.status != ArticleStatus.PUBLISHED:
            row["status"] = a.status
        lines.append(json.dumps(row, ensure_ascii=False))
    return "\n".join(lines) + ("\n" if lines else "")


# -- asking ----------------------------------------------------------------------------------------


_INDEXES: dict[str, tuple[tuple[object, ...], KnowledgeIndex]] = {}
_LOCK = threading.Lock()


def index_for(session: Session, embedder: Embedder | None = None) -> KnowledgeIndex:
    """The published articles' index, rebuilt only when articles or synonyms changed."""
    stamp = tuple(session.exec(select(func.count(), func.max(Article.updated_at), func.sum(Article.version))).one())
    stamp += tuple(session.exec(select(func.count(), func.max(Synonym.updated_at))).one())
    key = str(session.get_bind().url)
    with _LOCK:
        cached = _INDEXES.get(key)
        if cached is not None and cached[0] == stamp:
            return cached[1]
    index = build_index(session, embedder if embedder is not None else shared_embedder())
    with _LOCK:
        _INDEXES[key] = (stamp, index)
    return index


def warm_up(session: Session) -> None:
    """Load the encoder's weights (outside any lock-holding work) and build this database's index."""
    shared_embedder().encode(["预热"])
    index_for(session)


def build_index(session: Session, embedder: Embedder | None) -> KnowledgeIndex:
    stmt = select(Article).where(Article.status == ArticleStatus.PUBLISHED).order_by(col(Article.id))
    entries = [
        Entry(article_id=a.id or 0, key=a.key, question=a.question, answer=a.answer, aliases=tuple(a.aliases),
              hospital_id=a.hospital_id, system_id=a.system_id,
              vectors=np.frombuffer(a.vectors, dtype=np.float32).reshape(-1, 512) if a.vectors and embedder else None)
        for a in session.exec(stmt)
    ]
    return KnowledgeIndex(entries, embedder=embedder, synonyms=synonyms_of(session))


def synonyms_of(session: Session) -> dict[str, str]:
    table = dict(DEFAULT_SYNONYMS)
    for row in session.exec(select(Synonym)):
        table[row.term.lower()] = row.canonical
    return table


def systems_of_hospital(session: Session, hospital_id: int) -> set[int]:
    stmt = (select(CoveredSystem.id).join(Contract, col(Contract.id) == CoveredSystem.contract_id)
            .where(Contract.hospital_id == hospital_id, Contract.active == True))  # noqa: E712
    return {i for i in session.exec(stmt) if i is not None}


def ask(session: Session, text: str, *, hospital_id: int | None, thresholds: Thresholds,
        embedder: Embedder | None = None, limit: int = 3) -> Result:
    """Answer, suggest or hand off, among the articles true for the asker's hospital and its systems."""
    index = index_for(session, embedder)
    systems = systems_of_hospital(session, hospital_id) if hospital_id is not None else None
    hits = index.search(text, hospital_id=hospital_id, systems=systems, limit=limit)
    return Result(decision=decide(hits, thresholds), hits=hits)


def record_feedback(session: Session, article_id: int, outcome: str, now: datetime, *, person_id: int | None = None,
                    ticket_id: int | None = None, query: str = "") -> None:
    session.add(Feedback(article_id=article_id, person_id=person_id, ticket_id=ticket_id, outcome=outcome,
                         query=query[:500], at=now))


# -- learning from tickets ---------------------------------------------------------------------------


def draft_from_ticket(session: Session, ticket: Ticket, author: str, now: datetime,
                      embedder: Embedder | None = None) -> Article:
    """A draft article from a resolved ticket: the reporter's words as the question, the replies as the answer."""
    messages = list(session.exec(select(Message).where(Message.ticket_id == ticket.id).order_by(col(Message.id))))
    asked = next((m.text for m in messages if m.direction == "in"), ticket.summary)
    replies = [m.text for m in messages if m.direction == "out" and m.is_human]
    system = session.get(CoveredSystem, ticket.system_id) if ticket.system_id else None
    data = ArticleInput(key=f"ticket-{ticket.id}", question=asked[:MAX_QUESTION],
                        answer="\n\n".join(replies) or "（请填写解决办法）", system=system.name if system else "",
                        status=ArticleStatus.DRAFT)
    return save_article(session, data, author, now, embedder=embedder, source_ticket_id=ticket.id)


@dataclass(frozen=True)
class Failing:
    article: Article
    handoffs: int
    helped: int


def failing_articles(session: Session, *, min_handoffs: int = 2) -> list[Failing]:
    """Articles offered and then followed by 转人工 at least ``min_handoffs`` times, worst first."""
    counts: dict[int, dict[str, int]] = {}
    for article_id, outcome, n in session.exec(
            select(Feedback.article_id, Feedback.outcome, func.count()).group_by(Feedback.article_id, Feedback.outcome)):
        counts.setdefault(article_id, {})[outcome] = n
    failing = []
    for article_id, c in counts.items():
        if c.get("handoff", 0) >= min_handoffs:
            article = session.get(Article, article_id)
            if article is not None:
                failing.append(Failing(article, c.get("handoff", 0), c.get("helped", 0)))
    return sorted(failing, key=lambda f: (-f.handoffs, f.helped))


def near_duplicates(session: Session, *, threshold: float = 88.0) -> list[tuple[Article, Article, float]]:
    """Pairs of published articles of the same system whose questions read almost the same."""
    stmt = select(Article).where(Article.status == ArticleStatus.PUBLISHED).order_by(col(Article.id))
    by_system: dict[object, list[Article]] = {}
    for a in session.exec(stmt):
        by_system.setdefault(a.system_id or a.system_label, []).append(a)
    pairs = []
    for group in by_system.values():
        texts = [normalize(a.question) for a in group]
        for i in range(len(group)):
            for j in range(i + 1, len(group)):
                score = fuzz.ratio(texts[i], texts[j])
                if score >= threshold:
                    pairs.append((group[i], group[j], score))
    return sorted(pairs, key=lambda p: -p[2])


def hit_json(hit: Hit) -> dict[str, object]:
    return {"id": hit.entry.key, "score": round(hit.score, 4), "question": hit.entry.question}
