"""Knowledge base: articles, and retrieval that answers Chinese operation questions —
or hands over to a person when it is not sure.

Public surface: the tables, the article service (save, import, export, ask,
feedback, learning from tickets) and the ranker's thresholds.
"""

from knowledge.index import Hit, KnowledgeIndex, Result, Thresholds, decide
from knowledge.models import Article, ArticleStatus, ArticleVersion, Feedback, Synonym
from knowledge.service import (
    ArticleInput,
    ImportReport,
    KnowledgeError,
    ask,
    draft_from_ticket,
    export_jsonl,
    failing_articles,
    hit_json,
    import_path,
    near_duplicates,
    record_feedback,
    save_article,
    warm_up,
)
from knowledge.text import normalize

__all__ = [
    "Article", "ArticleInput", "ArticleStatus", "ArticleVersion", "Feedback", "Hit", "ImportReport",
    "KnowledgeError", "KnowledgeIndex", "Result", "Synonym", "Thresholds", "ask", "decide", "draft_from_ticket",
    "export_jsonl", "failing_articles", "hit_json", "import_path", "near_duplicates", "normalize",
    "record_feedback", "save_article", "warm_up",
]
