"""Caching through Django's cache framework (``DJANGO_RAG["CACHE"]`` names the alias).

Query embeddings are keyed by the embedder's identity and the text. Answers are keyed
by everything that could change them: the question and conversation, the retrieval
options, the LLM, the prompt templates' version, whom the asker may see, and the index
version, a PostgreSQL sequence bumped by every change to the chunks, so a cached answer
never outlives a change to the documents it could have used.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from django.core.cache import BaseCache, caches
from django.db import connections

from ..conf import get_setting

if TYPE_CHECKING:
    from ..embedders import BaseEmbedder

PREFIX = "django_rag"


def get_cache() -> BaseCache | None:
    alias = get_setting("CACHE")
    return caches[alias] if alias else None


def digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode("utf-8")).hexdigest()


def index_version(using: str | None = None) -> int:
    """The index version where searches read (a replica's own, matching what it holds)."""
    from ..routing import read_database

    with connections[using or read_database()].cursor() as cursor:
        cursor.execute("SELECT last_value + (CASE WHEN is_called THEN 0 ELSE -1 END) FROM django_rag_index_version")
        return int(cursor.fetchone()[0])


def cached_query_vector(embedder: BaseEmbedder, text: str) -> list[float]:
    """``embedder.embed_query(text)``, remembered across requests."""
    cache = get_cache()
    if cache is None:
        return embedder.validate([embedder.embed_query(text)], 1)[0]
    key = f"{PREFIX}:qvec:{digest(embedder.identity, text)}"
    vector: list[float] | None = cache.get(key)
    if vector is None:
        # Checked before it is cached: a bad answer must not be remembered for a day.
        vector = embedder.validate([embedder.embed_query(text)], 1)[0]
        cache.set(key, list(vector), get_setting("EMBEDDING_CACHE_TIMEOUT"))
    return vector


def answer_key(**parts: Any) -> str:
    return f"{PREFIX}:answer:{digest(parts)}"
