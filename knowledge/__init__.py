"""Knowledge base: articles and retrieval that answers operation questions in Chinese.

Not built yet: it arrives with its own issue (articles, hybrid retrieval with
answer / suggest / handoff). Until then every reporter message opens a ticket.
"""

__all__: list[str] = []
