from __future__ import annotations

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import django_rag
from django_rag.models import Chunk, Collection, Document

PASSAGES = {
    "leave": "Employees receive twenty days of paid parental leave after the birth or adoption of a child.",
    "expenses": "Travel expenses are reimbursed within thirty days when receipts are attached to the claim.",
    "security": "Laptops must use full-disk encryption and lock automatically after five minutes.",
    "pets": "Dogs are welcome in the office on Fridays if they are calm and vaccinated.",
}


@pytest.fixture
def handbook(db, collection):
    docs = {}
    for key, text in PASSAGES.items():
        document = Document.objects.create(collection=collection, title=key, text=text)
        django_rag.ingest(document)
        docs[key] = document
    return docs


def top_document(queryset):
    first = queryset.select_related("document").first()
    return first.document.title if first else None


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["semantic", "keyword", "hybrid"])
def test_each_leg_finds_the_relevant_passage(handbook, method):
    results = getattr(Chunk.objects, method)("how many days of parental leave")
    assert top_document(results) == "leave"
    first = results.first()
    assert first.score > 0
    if method == "hybrid":
        assert first.semantic_rank == 1 and first.keyword_rank == 1
        assert first.score == pytest.approx(2 / 61)


@pytest.mark.django_db
def test_scores_are_ordered_and_the_result_is_chainable(handbook):
    results = Chunk.objects.hybrid("reimbursed travel expenses receipts")
    scores = [c.score for c in results]
    assert scores == sorted(scores, reverse=True)
    narrowed = results.filter(document__title__in=["expenses", "pets"]).select_related("document")
    assert [c.document.title for c in narrowed][0] == "expenses"
    assert results.count() == len(scores)
    assert results.values_list("document__title", flat=True)[0] == "expenses"


@pytest.mark.django_db
def test_keyword_score_is_bm25(handbook):
    # One matching term in one chunk: BM25 = idf * tf(k1+1) / (tf + k1(1 - b + b dl/avgdl)).
    with connection.cursor() as cursor:
        cursor.execute("SELECT chunks, tokens FROM django_rag_corpus WHERE config = 'english'::regconfig")
        n, tokens = cursor.fetchone()
        cursor.execute(
            "SELECT sum(coalesce(array_length(t.positions, 1), 1)) FROM django_rag_chunk c, unnest(c.search_vector) t "
            "WHERE c.content LIKE 'Dogs%%'"
        )
        (dl,) = cursor.fetchone()
    import math

    idf = math.log(1 + (n - 1 + 0.5) / (1 + 0.5))
    expected = idf * 1 * 2.2 / (1 + 1.2 * (0.25 + 0.75 * dl / (tokens / n)))
    (chunk,) = Chunk.objects.keyword("vaccinated")
    assert chunk.keyword_score == pytest.approx(expected, rel=1e-5)


@pytest.mark.django_db
def test_filters_before_the_call_apply_inside_both_legs(handbook, collection):
    other = Collection.objects.create(name="Other", slug="other")
    # Many strong matches outside the filter must not crowd out the one inside it.
    for n in range(30):
        django_rag.ingest(Document.objects.create(collection=other, title=f"o{n}", text=PASSAGES["leave"]))
    for method in ("semantic", "keyword", "hybrid"):
        results = list(getattr(Chunk.objects.filter(document__collection=collection), method)("parental leave", candidates=5))
        assert [c.document.collection_id for c in results] == [collection.pk] * len(results)
        assert results and results[0].document.title == "leave"


@pytest.mark.django_db
def test_vector_argument_skips_the_embedding_call(handbook, testing_embedder):
    embedder = testing_embedder()
    # Re-ingest with the test double so its vectors are the ones searched.
    for document in handbook.values():
        django_rag.ingest(document)
    vector = embedder.embed_query("dogs in the office")
    embedder.reset()
    results = Chunk.objects.hybrid("dogs in the office", vector=vector)
    assert top_document(results) == "pets"
    assert embedder.query_calls == []
    Chunk.objects.hybrid("dogs in the office").first()
    assert embedder.query_calls == ["dogs in the office"]


@pytest.mark.django_db
def test_min_score_and_weights(handbook):
    assert Chunk.objects.keyword("encryption", min_score=1000).count() == 0
    only_keyword = Chunk.objects.hybrid("encryption laptops", weights={"semantic": 0.0})
    assert all(c.keyword_rank is not None for c in only_keyword if c.score > 0)
    with pytest.raises(ValueError, match="Unknown weight"):
        Chunk.objects.hybrid("x", weights={"dense": 1})


@pytest.mark.django_db
def test_stop_words_only_query_has_no_keyword_hits(handbook):
    assert Chunk.objects.keyword("the and of to").count() == 0
    assert Chunk.objects.semantic("").count() == 0


@pytest.mark.django_db
def test_search_shortcut(handbook, collection):
    results = django_rag.search("laptop encryption", collection=collection.slug, k=2)
    assert len(results) == 2 and results[0].document.title == "security"
    assert django_rag.search("laptop encryption", collection=collection, k=1, mode="keyword")[0].document.title == "security"
    with pytest.raises(ValueError, match="mode"):
        django_rag.search("x", mode="fuzzy")


@pytest.mark.django_db
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    query=st.one_of(
        st.text(max_size=80),
        st.text(alphabet="&|!:*()'\"\\<>-~@#%^[]{};,.?/ \t\nabc", max_size=40),
        st.sampled_from(["'", "''", "\\", "a:*", "!!", "(a | b", "a <-> b", "NULL", "%s", "%(x)s", "$1", "\x00x"]),
    )
)
def test_hostile_query_strings_never_raise(handbook, query):
    for method in ("keyword", "hybrid", "semantic"):
        list(getattr(Chunk.objects, method)(query)[:3])


@pytest.mark.django_db
def test_a_search_works_as_a_subquery_and_in_joins(handbook):
    # As a subquery Django relabels every alias (T3, U0...); the ranking join must follow.
    best = Chunk.objects.hybrid("laptop encryption").values("pk")[:2]
    documents = Document.objects.filter(chunks__in=best).distinct()
    assert "security" in {d.title for d in documents}
    assert Chunk.objects.filter(pk__in=best).count() == 2
    # Filtering on the annotations works too.
    assert all(c.score > 0 for c in Chunk.objects.hybrid("laptop encryption").filter(score__gt=0))


@pytest.mark.django_db
def test_lexical_embedder_defaults_to_a_zero_semantic_weight(handbook, rag_settings):
    rag_settings(HYBRID_WEIGHTS=None)
    query = "reimbursed travel receipts"
    hybrid = list(Chunk.objects.hybrid(query)[:10])
    keyword = list(Chunk.objects.keyword(query)[:10])
    # The hashing embedder's semantic leg only appends candidates after the keyword hits.
    assert [c.pk for c in hybrid[: len(keyword)]] == [c.pk for c in keyword]
    assert all(c.score == 0 for c in hybrid[len(keyword):])
    # An explicit weight still wins over the embedder's default.
    weighted = Chunk.objects.hybrid(query, weights={"semantic": 1.0}).first()
    assert weighted.score == pytest.approx(2 / 61)


@pytest.mark.django_db
def test_rows_of_a_zero_weight_leg_follow_in_that_legs_order(handbook, rag_settings):
    rag_settings(HYBRID_WEIGHTS=None)  # the hashing embedder's own default: semantic weight 0
    # Misspelt: no word is in any chunk, so the keyword leg finds nothing; the hashing
    # embedder's character n-grams still bring the pets passage (the last one created,
    # the highest id) nearest. Every row scores 0: their order is the semantic leg's.
    query = "dogz vaccinatd fridayz offise"
    assert Chunk.objects.keyword(query).count() == 0
    semantic = [c.pk for c in Chunk.objects.semantic(query)[:4]]
    hybrid = list(Chunk.objects.hybrid(query)[:4])
    assert all(c.score == 0 for c in hybrid)
    assert [c.pk for c in hybrid] == semantic
    assert hybrid[0].document.title == "pets" and [c.best_rank for c in hybrid] == [1, 2, 3, 4]
    assert [c.pk for c in Chunk.objects.top(query, 4)] == semantic
