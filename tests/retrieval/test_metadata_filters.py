"""Filters on chunk metadata (page, section, heading, format, file) and on the document's
metadata apply inside both retrieval legs, with real files ingested by the pipeline.

The target chunks mention the query once; twenty distractor documents say it over and
over, so each leg's best few candidates are all distractors. With ``candidates=3`` a
filter applied after the legs would be left with nothing: finding the targets proves
the filter is in the legs' SQL.

The tests commit (``transaction=True``; each starts from truncated tables): rows that
other tests' rolled-back transactions wrote stay in the HNSW graph as dead elements
until a VACUUM, and with a few hundred of them pgvector's scan could reach only 20 of
this corpus's 23 live rows, whatever the filter (a matter of the graph, not of filters).
"""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

import django_rag
from django_rag.models import Chunk, Document
from tests.ingestion.office import handbook

MODES = ["semantic", "keyword", "hybrid"]
QUERY = "parental leave days"
ROSTER = "name,team,days\nAna,HR,20 days of parental leave\nBo,Ops,10\n"


def _file_document(collection, name: str, data: bytes, **fields) -> Document:
    document = Document(collection=collection, title=name, **fields)
    document.file.save(name, ContentFile(data), save=False)
    document.save()
    result = django_rag.ingest(document)
    assert result.status == "ingested", result.error
    return document


# One distinct word per distractor: twenty copies of one vector make a poorly connected
# HNSW graph, from which an approximate scan cannot reach every row.
NAMES = "ash birch cedar elm fir hazel juniper larch maple oak pine rowan spruce teak walnut yew alder beech holly lime"


@pytest.fixture
def corpus(transactional_db, collection):
    for n, name in enumerate(NAMES.split()):
        distractor = Document.objects.create(
            collection=collection, title=f"Leave note {n}", metadata={"team": "ops"},
            text=f"# Leave notes\n\nParental leave days. Parental leave days, parental leave days ({name}).",
        )
        assert django_rag.ingest(distractor).status == "ingested"
    # Written last, the targets keep the links the graph gave them when they were inserted.
    word = _file_document(collection, "handbook.docx", handbook(), metadata={"team": "hr"})
    roster = _file_document(collection, "roster.csv", ROSTER.encode())
    return {"word": word, "roster": roster}


FILTERS = {
    "heading": ({"metadata__heading": "Leave"}, {"heading": "Leave", "format": "docx"}),
    "section": ({"metadata__section": "Staff handbook > Leave"}, {"section": "Staff handbook > Leave"}),
    "page": ({"metadata__page": 1, "metadata__format": "docx"}, {"page": 1, "format": "docx"}),
    "format": ({"metadata__format": "csv"}, {"format": "csv"}),
    "file": ({"metadata__file": "roster.csv"}, {"file": "roster.csv"}),
    "document-metadata": ({"document__metadata__team": "hr"}, {"file": "handbook.docx"}),
}


def matches(chunk, expected: dict) -> bool:
    return all(chunk.metadata.get(key) == value for key, value in expected.items())


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", FILTERS)
def test_a_metadata_filter_applies_inside_each_leg(corpus, mode, name):
    lookups, expected = FILTERS[name]
    unfiltered = getattr(Chunk.objects, mode)(QUERY, candidates=3)[:3]
    assert not any(matches(chunk, expected) for chunk in unfiltered)  # the distractors fill the legs
    found = list(getattr(Chunk.objects.filter(**lookups), mode)(QUERY, candidates=3)[:3])
    assert found and all(matches(chunk, expected) for chunk in found), [c.metadata for c in found]
    # The same through top(), which builds its statement without the ORM's compiler.
    top = Chunk.objects.filter(**lookups).top(QUERY, 3, mode=mode, candidates=3)
    assert [c.pk for c in top] == [c.pk for c in found]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("mode", MODES)
def test_search_with_a_metadata_queryset_costs_no_extra_query(corpus, mode):
    django_rag.search(QUERY, k=3, mode=mode)  # warm the embedder state and caches
    with CaptureQueriesContext(connection) as plain:
        django_rag.search(QUERY, k=3, mode=mode, candidates=3)
    with CaptureQueriesContext(connection) as filtered:
        results = django_rag.search(
            QUERY, k=3, mode=mode, candidates=3, queryset=Chunk.objects.filter(metadata__format="csv"),
        )
    assert [c.metadata["file"] for c in results] == ["roster.csv"]
    assert len(filtered.captured_queries) == len(plain.captured_queries)


@pytest.mark.django_db(transaction=True)
def test_chunks_carry_where_they_come_from(corpus):
    word = list(Chunk.objects.filter(document=corpus["word"]).order_by("index").values_list("metadata", flat=True))
    assert word == [
        {"format": "docx", "file": "handbook.docx", "section": "Staff handbook > Leave", "heading": "Leave", "page": 1},
        {"format": "docx", "file": "handbook.docx", "section": "Staff handbook > Expenses > Receipts",
         "heading": "Receipts", "page": 2},
    ]
    roster = Chunk.objects.get(document=corpus["roster"])
    assert roster.metadata == {"format": "csv", "file": "roster.csv", "rows": "1-2"}
    text = Chunk.objects.filter(document__title="Leave note 0").get()
    assert text.metadata == {"format": "markdown", "section": "Leave notes", "heading": "Leave notes"}  # a text: no file
