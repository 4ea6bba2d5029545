"""Maintenance of the BM25 statistics that PostgreSQL triggers keep (see migration 0002).

Triggers keep document frequencies, chunk counts and token counts exact as chunks come
and go. Each posting's impact uses the average chunk length (avgdl) of the moment it was
written; as a corpus grows from nothing, early impacts drift from the current avgdl.
:func:`rebuild` recomputes everything from the chunks in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connections, transaction

#: Okapi BM25 parameters used by the triggers (the usual values; see Robertson & Zaragoza 2009).
K1 = 1.2
B = 0.75


@dataclass
class CorpusStats:
    config: str
    chunks: int
    tokens: int

    @property
    def average_length(self) -> float:
        return self.tokens / self.chunks if self.chunks else 0.0


def corpus_stats(using: str = "default") -> list[CorpusStats]:
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT config::text, chunks, tokens FROM django_rag_corpus ORDER BY config::text")
        return [CorpusStats(*row) for row in cursor.fetchall()]


def rebuild(using: str = "default") -> int:
    """Recompute postings and statistics from every chunk; returns the number of postings."""
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        cursor.execute("SELECT django_rag_bm25_rebuild()")
        return int(cursor.fetchone()[0])
