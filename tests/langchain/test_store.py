"""``django_rag.integrations.langchain.DjangoRAGVectorStore``: how documents, ids, filters and scores map.

LangChain's own standard suites are in ``test_standard.py``. ``async def`` tests run
under the anyio plugin (``pytestmark``) with committed data (see ``conftest.py``).
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
from asgiref.sync import sync_to_async
from django.db import connections
from django.db.models import Q
from langchain_core.documents import Document as LCDocument
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.vectorstores import VectorStoreRetriever
from langchain_core.vectorstores.utils import maximal_marginal_relevance as numpy_mmr

import django_rag
from django_rag.embedders import get_embedder
from django_rag.exceptions import EmbeddingError, EmptyDocument, UnknownLanguage
from django_rag.integrations.langchain import ID_KEY, DjangoRAGEmbeddings, DjangoRAGVectorStore, maximal_marginal_relevance
from django_rag.models import Chunk, Collection, Document

pytestmark = pytest.mark.anyio


# --- how LangChain documents map onto django-rag's models --------------------------------


@pytest.fixture
def store(db, collection):
    return DjangoRAGVectorStore(collection)


def test_each_text_becomes_an_ingested_document(store, collection):
    ids = store.add_texts(
        ["Parental leave is twenty days.", "Expenses are due in thirty days."],
        metadatas=[{"team": "hr", "title": "Leave"}, {"team": "finance"}],
        ids=["leave", "expenses"],
    )
    assert ids == ["leave", "expenses"]
    leave = Document.objects.get(**{f"metadata__{ID_KEY}": "leave"})
    assert leave.collection == collection
    assert leave.text == "Parental leave is twenty days."
    assert leave.metadata == {ID_KEY: "leave", "team": "hr", "title": "Leave"}
    assert leave.title == "Leave"
    assert leave.status == Document.Status.READY and leave.chunk_count == 1
    chunk = leave.chunks.get()
    assert chunk.embedder == get_embedder().identity
    assert chunk.context == "Leave"  # the title is a contextual header, as for any document
    # BM25 postings were written by the same triggers as for any chunk.
    assert [c.document_id for c in Chunk.objects.keyword("parental")] == [leave.pk]


def test_ids_are_generated_as_strings_and_documents_are_not_mutated(store):
    documents = [LCDocument(page_content="alpha"), LCDocument(page_content="beta", id="b")]
    ids = store.add_documents(documents)
    assert ids[1] == "b" and isinstance(ids[0], str) and len(ids[0]) == 36
    assert documents == [LCDocument(page_content="alpha"), LCDocument(page_content="beta", id="b")]
    assert [d.id for d in store.get_by_ids(ids)] == ids


def test_a_long_text_is_split_for_search_but_returned_whole_and_once(store, rag_settings):
    rag_settings(CHUNK_SIZE=80, CHUNK_OVERLAP=0)
    long_text = "\n\n".join(f"Paragraph {i} says parental leave lasts twenty days." for i in range(6))
    store.add_texts([long_text, "Expenses are due in thirty days."], ids=["long", "short"])
    assert Document.objects.get(**{f"metadata__{ID_KEY}": "long"}).chunk_count == 6

    results = store.similarity_search("parental leave twenty days", k=2)
    # Six matching chunks, one document: k counts documents, each comes back whole.
    assert [(d.id, d.page_content) for d in results] == [
        ("long", long_text),
        ("short", "Expenses are due in thirty days."),
    ]


def test_re_adding_an_id_replaces_text_and_metadata(store):
    store.add_texts(["Leave is ten days."], metadatas=[{"v": 1}], ids=["leave"])
    pk = Document.objects.get().pk
    store.add_texts(["Leave is twenty days."], metadatas=[{"v": 2}], ids=["leave"])
    document = Document.objects.get()
    assert document.pk == pk
    assert (document.text, document.metadata) == ("Leave is twenty days.", {ID_KEY: "leave", "v": 2})
    assert list(document.chunks.values_list("content", flat=True)) == ["Leave is twenty days."]
    expected = LCDocument(id="leave", page_content="Leave is twenty days.", metadata={"v": 2})
    assert store.get_by_ids(["leave"]) == [expected]


def test_embedding_calls_are_batched_across_documents_and_skipped_when_unchanged(store, testing_embedder, rag_settings):
    rag_settings(EMBED_BATCH_SIZE=4)
    embedder = testing_embedder()
    texts = [f"Policy number {i} applies to everyone." for i in range(6)]
    ids = [f"p{i}" for i in range(6)]
    store.add_texts(texts, ids=ids)
    assert embedder.calls == [texts[:4], texts[4:]]  # not one call per document

    embedder.reset()
    store.add_texts(texts, ids=ids)
    assert embedder.calls == []  # same text, same settings: nothing to embed

    store.add_texts(["Policy number 0 changed."], ids=["p0"])
    assert embedder.calls == [["Policy number 0 changed."]]
    assert Document.objects.count() == 6


def test_a_failed_embedding_writes_nothing(store, testing_embedder):
    testing_embedder(fail_on_batch=1)
    with pytest.raises(EmbeddingError, match="failed on batch 1"):
        store.add_texts(["one", "two"], ids=["1", "2"])
    assert not Document.objects.exists() and not Chunk.objects.exists()


def test_text_that_extracts_to_nothing_is_refused_before_anything_is_written(store):
    with pytest.raises(EmptyDocument):
        store.add_texts(["fine text", "<html><script>x()</script></html>"], metadatas=[{}, {"format": "html"}])
    assert not Document.objects.exists()


def test_a_failure_inside_ingest_rolls_back_the_whole_call(store, collection):
    store.add_texts(["Leave is ten days."], ids=["leave"])
    # ingest() checks the language only once it runs: after the rows are written.
    Collection.objects.filter(pk=collection.pk).update(language="klingon")
    with pytest.raises(UnknownLanguage):
        store.add_texts(["Leave is twenty days.", "A new policy."], ids=["leave", "new"])
    document = Document.objects.get()
    assert (document.text, document.status) == ("Leave is ten days.", Document.Status.READY)
    assert list(document.chunks.values_list("content", flat=True)) == ["Leave is ten days."]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (LCDocument(page_content="  "), "has no text"),
        (LCDocument(page_content="a\x00b"), "NUL"),
        (LCDocument(page_content="x", metadata={ID_KEY: "mine"}), "reserved"),
        (LCDocument(page_content="x", metadata={"format": "PDF 1.4"}), "metadata\\['format'\\]"),
        (LCDocument(page_content="x", metadata={"when": object()}), "JSON"),
    ],
)
def test_bad_documents_are_refused_before_anything_is_written(store, document, message):
    with pytest.raises(ValueError, match=message):
        store.add_documents([LCDocument(page_content="a good one"), document])
    assert not Document.objects.exists()


def test_ids_must_be_strings(store):
    with pytest.raises(ValueError, match="non-empty strings"):
        store.add_texts(["x"], ids=[1])
    with pytest.raises(ValueError, match="2 ids for 1 documents"):
        store.add_documents([LCDocument(page_content="x")], ids=["a", "b"])


def test_delete_removes_documents_chunks_and_postings(store):
    store.add_texts(["Parental leave.", "Expense reports."], ids=["leave", "expenses"])
    assert store.delete(["leave", "unknown"]) is True
    assert [d.id for d in store.get_by_ids(["leave", "expenses"])] == ["expenses"]
    assert not Chunk.objects.keyword("parental").exists()
    with pytest.raises(ValueError, match="Pass the ids"):
        store.delete()


def test_get_by_ids_keeps_the_order_asked(store):
    store.add_texts(["a", "b", "c"], ids=["1", "2", "3"])
    assert [d.id for d in store.get_by_ids(["3", "missing", "1", "3"])] == ["3", "1"]


def test_stores_are_scoped_to_their_collection(db):
    hr = DjangoRAGVectorStore("hr")
    finance = DjangoRAGVectorStore("finance")
    hr.add_texts(["Parental leave is twenty days."], ids=["1"])
    finance.add_texts(["Parental leave budget line."], ids=["1"])
    # A slug that did not exist is created on the first write.
    assert set(Collection.objects.values_list("slug", flat=True)) == {"hr", "finance"}
    assert hr.get_by_ids(["1"])[0].page_content == "Parental leave is twenty days."
    assert [d.page_content for d in finance.similarity_search("parental leave")] == ["Parental leave budget line."]
    hr.delete(["1"])
    assert finance.get_by_ids(["1"]) and not hr.get_by_ids(["1"])
    everything = DjangoRAGVectorStore()
    assert [d.page_content for d in everything.similarity_search("parental leave")] == ["Parental leave budget line."]
    assert DjangoRAGVectorStore(Collection.objects.get(slug="finance").pk).get_by_ids(["1"])


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_adds_of_one_new_id_make_one_document():
    DjangoRAGVectorStore("hr").add_texts(["warm up"], ids=["warm"])  # the collection exists
    barrier = threading.Barrier(2)
    errors = []

    def add(text):
        try:
            store = DjangoRAGVectorStore("hr")
            barrier.wait()
            store.add_texts([text], ids=["same"])
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=add, args=(text,)) for text in ("first", "second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert Document.objects.filter(**{f"metadata__{ID_KEY}": "same"}).count() == 1


# --- searching -----------------------------------------------------------------------------


def test_filters_apply_inside_the_legs(store):
    texts = [f"Parental leave rule {i}." for i in range(30)] + ["Parental leave for the HR team."]
    metadatas = [{"team": "sales", "year": 2019}] * 30 + [{"team": "hr", "year": 2024}]
    store.add_texts(texts, metadatas=metadatas)
    # With 3 candidates per leg, a filter applied after the search would find nothing.
    for filter in ({"team": "hr"}, {"year__gte": 2020}, Q(document__metadata__team="hr")):
        results = store.similarity_search("parental leave rule", k=2, filter=filter, candidates=3)
        assert [d.page_content for d in results] == ["Parental leave for the HR team."]
    for operators in ({"$and": []}, {"team": {"$eq": "hr"}}):
        with pytest.raises(ValueError, match="Django lookups"):
            store.similarity_search("leave", filter=operators)


def test_scores_by_mode(store):
    store.add_texts(["Parental leave is twenty days.", "Expense reports are due monthly."], ids=["leave", "expenses"])
    embedder = get_embedder()
    query = "parental leave"

    hybrid = store.similarity_search_with_score(query, k=2)
    assert [d.id for d, _ in hybrid] == ["leave", "expenses"]
    assert hybrid[0][1] == pytest.approx(2 / 61)  # first in both legs: 1/(60+1) twice

    semantic = store.similarity_search_with_score(query, k=2, mode="semantic")
    expected = np.dot(embedder.embed_query(query), embedder.embed_documents(["Parental leave is twenty days."])[0])
    assert semantic[0][1] == pytest.approx(expected)  # cosine similarity of unit vectors

    keyword = store.similarity_search_with_score(query, k=2, mode="keyword")
    assert [d.id for d, _ in keyword] == ["leave"] and keyword[0][1] > 0

    relevance = store.similarity_search_with_relevance_scores(query, k=2)
    assert relevance[0][1] == pytest.approx(1.0) and 0 < relevance[1][1] < 1
    semantic_relevance = store.similarity_search_with_relevance_scores(query, k=1, mode="semantic")
    assert semantic_relevance[0][1] == pytest.approx(expected)
    with pytest.raises(NotImplementedError, match="BM25"):
        store.similarity_search_with_relevance_scores(query, mode="keyword")


def test_search_by_vector_is_semantic(store):
    store.add_texts(["Parental leave is twenty days.", "Expense reports are due monthly."], ids=["leave", "expenses"])
    vector = get_embedder().embed_query("expense reports")
    assert [d.id for d in store.similarity_search_by_vector(vector, k=1)] == ["expenses"]
    with pytest.raises(ValueError, match="dimensions"):
        store.similarity_search_by_vector([1.0, 0.0], k=1)


def test_store_mode_and_search_options(db):
    store = DjangoRAGVectorStore("hr", mode="keyword", search_options={"rrf_k": 1, "language": "english"})
    store.add_texts(["Parental leave is twenty days.", "Expense reports are due monthly."])
    assert [d.page_content for d in store.similarity_search("expense")] == ["Expense reports are due monthly."]
    # Store-wide options apply where they fit: semantic search takes neither of these.
    assert len(store.similarity_search("expense", mode="semantic", k=2)) == 2
    # rrf_k=1 reaches the fusion: first in both legs scores 1/(1+1) twice.
    assert store.similarity_search_with_score("expense", mode="hybrid")[0][1] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="mode must be"):
        DjangoRAGVectorStore(mode="vector")
    with pytest.raises(TypeError, match="Unexpected search argument"):
        store.similarity_search("x", top_k=3)
    with pytest.raises(TypeError, match="for mode 'semantic'"):
        store.similarity_search("x", mode="semantic", rrf_k=3)
    with pytest.raises(ValueError, match="k must be at least 1"):
        store.similarity_search("x", k=0)


def test_mmr_prefers_diverse_documents(store):
    store.add_texts(
        ["Parental leave is twenty days.", "Parental leave is twenty days!", "Parental leave needs a form."],
        ids=["a", "a-copy", "form"],
    )
    similar = store.similarity_search("parental leave twenty days", k=2, mode="semantic")
    assert {d.id for d in similar} == {"a", "a-copy"}
    diverse = store.max_marginal_relevance_search("parental leave twenty days", k=2, fetch_k=3, lambda_mult=0.3)
    assert diverse[1].id == "form" and diverse[0].id in {"a", "a-copy"}


def test_mmr_chooses_what_langchains_numpy_version_chooses():
    rng = np.random.default_rng(7)
    for _ in range(20):
        query, candidates = rng.normal(size=8), rng.normal(size=(12, 8))
        for lambda_mult in (0.0, 0.5, 1.0):
            ours = maximal_marginal_relevance(query.tolist(), candidates.tolist(), k=5, lambda_mult=lambda_mult)
            assert ours == numpy_mmr(query, candidates.tolist(), lambda_mult=lambda_mult, k=5)


def test_documents_not_added_through_langchain_come_back_as_chunks(store, make_document, rag_settings):
    rag_settings(CHUNK_SIZE=120, CHUNK_OVERLAP=0)
    uploaded = make_document(
        "# Handbook\n\n## Leave\n\nParental leave is twenty days.\n\n## Expenses\n\nReceipts within thirty days.",
        name="handbook.md",
        title="Employee handbook",
        metadata={"team": "hr"},
    )
    django_rag.ingest(uploaded)
    store.add_texts(["Parental leave questions go to HR."], ids=["faq"])

    results = store.similarity_search("parental leave", k=3)
    assert results[0].id is None
    assert results[0].page_content.endswith("Parental leave is twenty days.")
    assert results[0].metadata == {
        "team": "hr",
        "section": "Handbook > Leave",
        "heading": "Leave",
        "format": "markdown",
        "file": "handbook.md",
        "document_id": uploaded.pk,
        "chunk_index": 0,
        "title": "Employee handbook",
        "source": uploaded.file.url,
    }
    assert {d.id for d in results} == {None, "faq"}
    assert store.get_by_ids([str(uploaded.pk)]) == []  # not a LangChain id


# --- embeddings ------------------------------------------------------------------------------


def test_a_langchain_embeddings_is_wrapped_with_a_django_rag_identity(db):
    class NamedFake(DeterministicFakeEmbedding):
        model: str = "fake-model"

    fake = NamedFake(size=8)
    store = DjangoRAGVectorStore("hr", embedding=fake)
    assert store.embeddings is fake
    store.add_texts(["Parental leave."])
    assert set(Chunk.objects.values_list("embedder", flat=True)) == {
        f"langchain:{NamedFake.__module__}.{NamedFake.__qualname__}:fake-model:8"
    }
    assert store.similarity_search("Parental leave.", k=1, mode="semantic")[0].page_content == "Parental leave."
    with pytest.raises(TypeError, match="not both"):
        DjangoRAGVectorStore(embedder="other", embedding=fake)
    with pytest.raises(TypeError, match="embedding="):
        DjangoRAGVectorStore(embedder=fake)


def test_an_alias_is_seen_by_langchain_as_embeddings(db):
    embeddings = DjangoRAGVectorStore().embeddings
    assert isinstance(embeddings, DjangoRAGEmbeddings)
    assert embeddings.embed_query("leave") == get_embedder().embed_query("leave")
    assert embeddings.embed_documents(["a", "b"]) == get_embedder().embed_documents(["a", "b"])


def test_from_texts(db):
    store = DjangoRAGVectorStore.from_texts(["Parental leave."], None, [{"team": "hr"}], ids=["1"], collection="hr")
    assert store.collection == "hr" and store.get_by_ids(["1"])[0].metadata == {"team": "hr"}
    fake = DeterministicFakeEmbedding(size=4)
    store = DjangoRAGVectorStore.from_documents([LCDocument(page_content="x", id="x")], fake, collection="other")
    assert store.embeddings is fake and store.get_by_ids(["x"])[0].page_content == "x"


# --- async and retrievers --------------------------------------------------------------------


async def test_async_variants():
    store = await DjangoRAGVectorStore.afrom_texts(
        ["Parental leave is twenty days.", "Expense reports are due monthly."],
        ids=["leave", "expenses"],
        collection="hr",
    )
    assert [d.id for d in await store.amax_marginal_relevance_search("parental leave", k=1)] == ["leave"]
    vector = await sync_to_async(get_embedder().embed_query)("expense")
    assert [d.id for d in await store.asimilarity_search_by_vector(vector, k=1)] == ["expenses"]
    scored = await store.asimilarity_search_with_relevance_scores("parental leave", k=1)
    assert scored[0][0].id == "leave" and scored[0][1] == pytest.approx(1.0)
    retriever = store.as_retriever(search_type="mmr", search_kwargs={"k": 1})
    assert [d.id for d in await retriever.ainvoke("expense reports")] == ["expenses"]
    assert await store.aget_by_ids(["leave"]) == [LCDocument(id="leave", page_content="Parental leave is twenty days.")]
    assert await store.adelete(["leave"]) is True
    assert await store.aget_by_ids(["leave"]) == []


def test_retriever_search_types(db):
    store = DjangoRAGVectorStore("hr")
    store.add_texts(["Parental leave is twenty days.", "Expense reports are due monthly."], ids=["leave", "expenses"])
    retriever = store.as_retriever(search_kwargs={"k": 1, "filter": {ID_KEY: "expenses"}})
    assert isinstance(retriever, VectorStoreRetriever)
    assert [d.id for d in retriever.invoke("parental leave")] == ["expenses"]
    threshold = store.as_retriever(
        search_type="similarity_score_threshold", search_kwargs={"score_threshold": 0.9, "k": 2}
    )
    assert [d.id for d in threshold.invoke("parental leave")] == ["leave"]
