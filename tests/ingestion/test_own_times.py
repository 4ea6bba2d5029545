"""Each document's own ingestion time, also when several share a batch (issue 18, item 9)."""

from __future__ import annotations

import pytest

import django_rag
from django_rag.models import Document

pytestmark = pytest.mark.django_db


def test_documents_in_one_batch_record_their_own_seconds(make_document):
    tiny = make_document("Parental leave is twenty days.", name="tiny.txt")
    sentences = " ".join(f"Rule {n} of the handbook says that item {n} is kept for {n} days." for n in range(6000))
    big = make_document(sentences, name="big.txt")
    # The tiny one first: in one batch its write waits for the big one's extraction and
    # embedding, which used to be counted as its own time.
    results = django_rag.ingest_many([tiny, big])
    assert [r.status for r in results] == ["ingested", "ingested"]
    tiny.refresh_from_db()
    big.refresh_from_db()
    assert big.chunk_count > 100 * tiny.chunk_count
    assert tiny.ingest_seconds < big.ingest_seconds / 4, (tiny.ingest_seconds, big.ingest_seconds)
    by_id = {r.document_id: r for r in results}
    assert by_id[tiny.pk].timings["total"] < by_id[big.pk].timings["total"] / 4
