"""``QuerySet.top()``: the top k of a search as the QuerySet would return them, without the compiler.

That its chunks are the QuerySet's, field by field, is tests/test_fastpaths.py's part.
"""

from __future__ import annotations

import pytest
from django.db import connection

import django_rag
from django_rag.embedders import get_embedder
from django_rag.models import Chunk, Collection, Document
from django_rag.retrieval import SearchOptions

from .test_querysets import PASSAGES

QUESTIONS = ["how many days of parental leave", "reimbursed travel expenses", "laptop encryption dogs office"]


@pytest.fixture
def corpus(db, collection):
    other = Collection.objects.create(name="Other", slug="other", metadata={"team": "ops"})
    documents = []
    for n, (key, text) in enumerate(PASSAGES.items()):
        for copy in range(3):  # several chunks per topic, so k cuts through ties and ranks
            document = Document.objects.create(
                collection=collection if copy < 2 else other, title=f"{key} {copy}",
                text=f"{text} Copy {copy} of {n}.", metadata={"topic": key, "copy": copy},
            )
            django_rag.ingest(document)
            documents.append(document)
    return documents


def expected(queryset, mode, query, k, **options):
    return list(getattr(queryset, mode)(query, **options).select_related("document", "document__collection")[:k])


@pytest.mark.django_db
def test_options_are_checked_like_the_search_methods(corpus):
    with pytest.raises(TypeError):
        Chunk.objects.top("leave", 3, mode="keyword", vector=[0.0] * get_embedder().dimensions)
    with pytest.raises(TypeError):
        Chunk.objects.top("leave", 3, mode="semantic", rrf_k=10)
    with pytest.raises(TypeError):
        Chunk.objects.top("leave", 3, colour="red")
    with pytest.raises(ValueError):
        Chunk.objects.top("leave", 3, mode="fuzzy")
    with pytest.raises(ValueError):
        Chunk.objects.top("leave", 0)


@pytest.mark.django_db
def test_nothing_to_find_is_an_empty_list(corpus):
    assert Chunk.objects.filter(pk__in=[]).top("leave", 5) == []
    assert Chunk.objects.top("   ", 5, mode="semantic") == []
    assert Chunk.objects.top("the of and", 5, mode="keyword") == []


@pytest.mark.django_db
def test_a_leg_weighted_zero_runs_only_to_fill_in(corpus):
    weights = {"semantic": 0.0, "keyword": 1.0}  # the hashing embedder's own default
    # The keyword leg finds at least k chunks: the semantic leg's rows could only come
    # after them, so it does not run; the chunks and their order are the QuerySet's.
    found = Chunk.objects.top("parental leave travel expenses laptops dogs", 4, weights=weights)
    wanted = expected(Chunk.objects.all(), "hybrid", "parental leave travel expenses laptops dogs", 4, weights=weights)
    assert [c.pk for c in found] == [c.pk for c in wanted]
    assert [c.score for c in found] == [c.score for c in wanted]
    assert all(c.semantic_rank is None and c.keyword_rank is not None for c in found)
    # One chunk has the word "vaccinated": the keyword leg finds fewer than k, the
    # semantic leg runs and its rows fill the list as in the QuerySet.
    found = Chunk.objects.top("vaccinated zebras", 5, weights=weights)
    wanted = expected(Chunk.objects.all(), "hybrid", "vaccinated zebras", 5, weights=weights)
    assert [c.pk for c in found] == [c.pk for c in wanted] and len(found) == 5
    assert sum(c.keyword_rank is not None for c in found) == 3  # the three copies of "pets"
    assert all(c.semantic_rank is not None for c in found if c.keyword_rank is None)


@pytest.mark.django_db
def test_postgresql_never_starts_the_gated_legs_scan(corpus):
    weights = {"semantic": 0.0, "keyword": 1.0}

    def plan(query: str, k: int) -> str:
        sql, params = Chunk.objects.all()._ranking(
            query, SearchOptions(weights=weights), semantic=True, keyword=True, top=k
        )
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) SELECT * FROM (" + sql + ") ranking", params)
            return "\n".join(row[0] for row in cursor.fetchall())

    def semantic_scan(text: str) -> str:
        return next(line for line in text.splitlines() if "django_rag_chunk c" in line or "on django_rag_chunk" in line)

    assert "never executed" in semantic_scan(plan("parental leave travel expenses laptops dogs", 4))
    assert "never executed" not in semantic_scan(plan("vaccinated zebras", 5))
