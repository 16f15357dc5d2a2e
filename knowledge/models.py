"""The knowledge base's tables: articles with their history, the synonym table, feedback."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, LargeBinary, Text
from sqlmodel import Field, SQLModel

from tickets.db import UTCDateTime


class ArticleStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    RETIRED = "retired"


def _ts(**kw: Any) -> Any:
    return Field(sa_type=UTCDateTime, **kw)


class Article(SQLModel, table=True):
    __tablename__ = "kb_article"

    id: int | None = Field(default=None, primary_key=True)
    # The article's own key, kept as given on import (any string) and returned by `kb ask`.
    key: str = Field(unique=True, index=True, max_length=200)
    question: str = Field(max_length=500)
    answer: str = Field(sa_column=Column(Text, nullable=False))
    aliases: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # The covered system it belongs to; a system name that matched none is kept as a label.
    system_id: int | None = Field(default=None, foreign_key="covered_system.id", index=True)
    system_label: str = Field(default="", max_length=200)
    # Only true for one hospital's version of the software; None = every hospital with the system.
    hospital_id: int | None = Field(default=None, foreign_key="hospital.id", index=True)
    status: str = Field(default=ArticleStatus.PUBLISHED, max_length=16, index=True)
    author: str = Field(default="", max_length=100)
    version: int = 1
    # Why an admin should look at it ("" = nothing to review).
    review_note: str = Field(default="", max_length=300)
    source_ticket_id: int | None = Field(default=None, foreign_key="ticket.id")
    # float32 embeddings of the question and each alias, stacked (computed when saved).
    vectors: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class ArticleVersion(SQLModel, table=True):
    """Every saved state of an article, for its history."""

    __tablename__ = "kb_article_version"

    id: int | None = Field(default=None, primary_key=True)
    article_id: int = Field(foreign_key="kb_article.id", index=True)
    version: int
    question: str = Field(max_length=500)
    answer: str = Field(sa_column=Column(Text, nullable=False))
    aliases: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    status: str = Field(max_length=16)
    author: str = Field(default="", max_length=100)
    saved_at: datetime = _ts()


class Synonym(SQLModel, table=True):
    """A term people type and what it means (小票机 → 打印机); admins edit these."""

    __tablename__ = "kb_synonym"

    id: int | None = Field(default=None, primary_key=True)
    term: str = Field(unique=True, max_length=50)
    canonical: str = Field(max_length=50)
    updated_at: datetime = _ts()


class Feedback(SQLModel, table=True):
    """What happened after the bot offered an article: it helped, or the reporter asked for a person."""

    __tablename__ = "kb_feedback"

    id: int | None = Field(default=None, primary_key=True)
    article_id: int = Field(foreign_key="kb_article.id", index=True)
    person_id: int | None = Field(default=None, foreign_key="person.id")
    ticket_id: int | None = Field(default=None, foreign_key="ticket.id")
    outcome: str = Field(max_length=16)  # shown / helped / handoff
    query: str = Field(default="", max_length=500)
    at: datetime = _ts()
