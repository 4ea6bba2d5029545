"""Each fast path of django_rag.fastpaths gives what the ORM path it replaces gives.

On real rows in PostgreSQL: the same rows, in the same order, with the same field
values (issue 19, item 7). A fast path that drifts from its ORM path (a new field, a
converter, a changed default) fails here.
"""

from __future__ import annotations

import datetime

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import signals
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from django_rag import fastpaths
from django_rag.embedders import get_embedder
from django_rag.models import Chunk, Collection, QueryLog
from django_rag.retrieval import RANKING_COLUMNS, SEARCH_DEFERRED_FIELDS, SearchOptions, attach_ranking
from tests.retrieval.test_top import QUESTIONS, corpus  # noqa: F401 (corpus is a fixture)


def values(instance) -> dict:
    """Every concrete field's value, deferred ones loaded (vectors as lists)."""
    found = {}
    for field in type(instance)._meta.concrete_fields:
        value = getattr(instance, field.attname)
        found[field.attname] = value.tolist() if hasattr(value, "tolist") else value
    return found


def same(found, wanted, *, collections: bool = False):
    """Same chunks, same order, same field values and ranking columns, same documents (and collections)."""
    assert [c.pk for c in found] == [c.pk for c in wanted]
    for got, want in zip(found, wanted):
        assert got.get_deferred_fields() == want.get_deferred_fields()
        assert got.document.get_deferred_fields() == want.document.get_deferred_fields()
        assert not got._state.adding and got._state.db == want._state.db
        for name in RANKING_COLUMNS:
            assert getattr(got, name) == getattr(want, name), name
        if collections:
            assert Chunk.document.is_cached(got) and type(got.document).collection.is_cached(got.document)
            assert (got.document.collection and values(got.document.collection)) == (
                want.document.collection and values(want.document.collection)
            )
        assert values(got.document) == values(want.document)  # JSON decoded, datetimes aware, as the ORM does
        assert values(got) == values(want)


# --- fetch_top: the top k of a ranking ---------------------------------------------


def orm_top(queryset, sql, params, *, k, min_score=None, collections=False):
    """The ORM path fetch_top replaces."""
    related = ("document", "document__collection") if collections else ("document",)
    rows = attach_ranking(queryset, sql, params, min_score=min_score).select_related(*related)
    return list(rows.defer(*SEARCH_DEFERRED_FIELDS, "document__text")[:k])


@pytest.mark.django_db
@pytest.mark.parametrize("mode", ["hybrid", "semantic", "keyword"])
@pytest.mark.parametrize("collections", [False, True])
def test_fetch_top_returns_what_the_orm_returns(corpus, collection, mode, collections):
    querysets = [Chunk.objects.all(), Chunk.objects.filter(document__collection=collection)]
    for queryset in querysets:
        for query in QUESTIONS:
            ranking = queryset._ranking(
                query, SearchOptions(candidates=10), semantic=mode != "keyword", keyword=mode != "semantic"
            )
            for k, min_score in [(1, None), (4, None), (50, None), (50, 0.02)]:
                found = fastpaths.fetch_top(queryset, *ranking, k=k, min_score=min_score, collections=collections)
                wanted = orm_top(queryset, *ranking, k=k, min_score=min_score, collections=collections)
                assert found or min_score is not None, (mode, query)
                same(found, wanted, collections=collections)


# --- QuerySet.top(): the same through the public method ----------------------------


def expected(queryset, mode, query, k, **options):
    """What QuerySet.top() promises: the mode's QuerySet with its documents, first k, as a list."""
    chunks = getattr(queryset, mode)(query, **options).select_related("document", "document__collection")
    return list(chunks.defer("document__text")[:k])


@pytest.mark.django_db
@pytest.mark.parametrize("mode", ["hybrid", "semantic", "keyword"])
@pytest.mark.parametrize("k", [1, 4, 50])
def test_top_returns_what_the_queryset_returns(corpus, mode, k):
    for query in QUESTIONS:
        same(Chunk.objects.top(query, k, mode=mode, collections=True),
             expected(Chunk.objects.all(), mode, query, k), collections=True)


@pytest.mark.django_db
def test_filters_options_and_min_score_apply_as_in_the_queryset(corpus, collection):
    narrowed = Chunk.objects.filter(document__collection=collection).exclude(document__title__startswith="pets")
    vector = get_embedder().embed_query("parental leave")
    cases = [
        ("hybrid", {"candidates": 3, "rrf_k": 10, "weights": {"semantic": 1, "keyword": 2}}),
        ("hybrid", {"vector": vector, "min_score": 0.02}),
        ("keyword", {"postings_per_term": 1, "language": "english"}),
        ("semantic", {"vector": vector, "min_score": 0.1}),
    ]
    for mode, options in cases:
        for query in QUESTIONS:
            found = narrowed.top(query, 5, mode=mode, **options)
            same(found, expected(narrowed, mode, query, 5, **options))
            assert all(c.document.collection_id == collection.pk for c in found)
            if "min_score" in options:
                assert all(c.score >= options["min_score"] for c in found)


@pytest.mark.django_db
def test_instances_carry_their_documents_and_defer_the_same_columns(corpus):
    with CaptureQueriesContext(connection) as queries:
        chunks = Chunk.objects.top("parental leave", 3, collections=True)
        titles = [c.document.title for c in chunks]
        slugs = {c.document.collection.slug for c in chunks}
    assert len(queries.captured_queries) == 1 and titles and slugs <= {"handbook", "other"}
    chunk = chunks[0]
    assert chunk.get_deferred_fields() == {"embedding", "search_vector"}
    assert chunk.document.get_deferred_fields() == {"text"}
    assert not chunk._state.adding and chunk._state.db == "default"
    assert "parental leave" in chunk.document.text  # deferred, loaded on demand
    assert len(chunk.embedding) == get_embedder().dimensions
    # Without collections=True the collection is left to load on access, as the ORM would.
    plain = Chunk.objects.top("parental leave", 1)[0]
    with CaptureQueriesContext(connection) as queries:
        plain.document.collection
    assert len(queries.captured_queries) == 1


# --- insert_log_row: a QueryLog row ------------------------------------------------

ASKED_AT = datetime.datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=datetime.timezone.utc)


def _log_fields(user, collection) -> dict:
    return dict(
        user=user, collection=collection, question="How many days?\nAsked twice — ünïcode",
        standalone_question="How many days of leave?", answer="Twenty [1].", cited_chunks=[3, 1],
        retrieved_chunks=[{"id": 1, "score": 0.5}], llm="scripted:x", embed_ms=1.25, retrieve_ms=2.5,
        generate_ms=None, total_ms=4.0, input_tokens=12, output_tokens=None, cache_hit=True, no_answer=False,
        error="",
    )


def _every_field(row: QueryLog) -> dict:
    return {f.attname: getattr(row, f.attname) for f in QueryLog._meta.concrete_fields if not f.primary_key}


@pytest.fixture
def saves():
    """The pre_save and post_save signals QueryLog rows send, with their arguments."""
    sent = []

    def record(signal_name):
        def receiver(sender, instance, **kwargs):
            kwargs.pop("signal")
            sent.append((signal_name, sender, instance.question, kwargs))
        return receiver

    receivers = {signals.pre_save: record("pre_save"), signals.post_save: record("post_save")}
    for signal, receiver in receivers.items():
        signal.connect(receiver, sender=QueryLog, weak=False)
    yield sent
    for signal, receiver in receivers.items():
        signal.disconnect(receiver, sender=QueryLog)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("in_transaction", [False, True])
def test_the_fast_insert_writes_the_row_create_writes(monkeypatch, saves, in_transaction):
    user = get_user_model().objects.create_user("asker")
    collection = Collection.objects.create(name="Handbook", slug="handbook")
    monkeypatch.setattr(timezone, "now", lambda: ASKED_AT)  # what auto_now_add stores, for both
    fast = QueryLog(**_log_fields(user, collection))
    with CaptureQueriesContext(connection) as queries:
        if in_transaction:
            with transaction.atomic():  # a caller's transaction: save() there
                fastpaths.insert_log_row(fast)
        else:
            fastpaths.insert_log_row(fast)
    statements = [q["sql"] for q in queries.captured_queries]
    if in_transaction:
        assert not any("synchronous_commit" in sql for sql in statements)
    else:
        assert len(statements) == 1 and statements[0].startswith("SELECT set_config('synchronous_commit'")
    fast_signals = list(saves)
    saves.clear()
    orm = QueryLog.objects.create(**_log_fields(user, collection))  # the ORM path it replaces

    assert fast.pk and orm.pk and fast.pk != orm.pk
    stored_fast, stored_orm = QueryLog.objects.get(pk=fast.pk), QueryLog.objects.get(pk=orm.pk)
    assert _every_field(stored_fast) == _every_field(stored_orm)  # every column but the id
    assert stored_fast.created_at == ASKED_AT and stored_fast.user_id == user.pk
    assert _every_field(fast) == _every_field(orm)  # the instances, as save() leaves them
    assert not fast._state.adding and fast._state.db == orm._state.db == "default"
    assert fast_signals == saves  # pre_save and post_save, with the arguments save() sends
    assert [name for name, *_ in saves] == ["pre_save", "post_save"]
