"""The embedder fails at batch N of a document, through the real OpenAI and Ollama clients.

The fake provider (tests/fake_providers.py) answers HTTP 500 or stalls at the Nth
embeddings request; the pipeline sends one request per EMBED_BATCH_SIZE chunks.
"""

from __future__ import annotations

import time

import pytest

import django_rag
from django_rag.embedders import embedders
from django_rag.models import Chunk, Document
from tests.fake_providers import FakeProvider
from tests.ingestion.conftest import chunk_rows, searchable
from tests.providers_helpers import API_KEY

from .conftest import POLICY, assert_one_copy

NEW_POLICY = POLICY.replace("receipts", "invoices")

PROVIDERS = {
    # max_retries=0: the OpenAI SDK's own retries would hide the pipeline's.
    "openai": ("django_rag.embedders.openai.Embedder", "/v1/embeddings",
               lambda fake: {"model": "fake-embed", "dimensions": 64, "base_url": fake.openai_url,
                             "api_key": API_KEY, "max_retries": 0}),
    "ollama": ("django_rag.embedders.ollama.Embedder", "/api/embed",
               lambda fake: {"model": "fake-embed", "dimensions": 64, "base_url": fake.url}),
}


@pytest.fixture(params=sorted(PROVIDERS))
def provider(request, rag_settings):
    """(fake server, embeddings path) with the default embedder pointed at it, one chunk a request."""
    backend, path, options = PROVIDERS[request.param]
    with FakeProvider() as fake:
        rag_settings(
            EMBEDDERS={"default": {"BACKEND": backend, "OPTIONS": {**options(fake), "timeout": 0.5}}},
            EMBED_BATCH_SIZE=1,
        )
        yield fake, path


@pytest.fixture
def ingested(provider, make_document):
    """A document ingested once (the previous version), then given new content."""
    fake, path = provider
    document = make_document(POLICY, name="policy.md")
    assert django_rag.ingest(document).status == "ingested"
    before = chunk_rows(document)
    from django.core.files.base import ContentFile

    document.file.save("policy.md", ContentFile(NEW_POLICY.encode()), save=False)
    document.save(update_fields=["file"])
    fake.reset()
    return document, before


def assert_previous_version_intact(fake, document, before):
    fake.faults.clear()  # the search below embeds its query through the same server
    assert chunk_rows(document) == before
    assert searchable(document, "receipts kept")
    assert not Chunk.objects.filter(document=document, content__contains="invoices").exists()
    assert_one_copy(document)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "fault, code, reason",
    [
        pytest.param({"kind": "status", "status": 500, "message": "GPU fell over"}, "embedding_unavailable",
                     "HTTP 500: GPU fell over", id="http-500"),
        pytest.param({"kind": "hang", "seconds": 5}, "embedding_timeout", "no reply within 0.5 s", id="stall"),
    ],
)
def test_a_fault_at_batch_3_fails_the_document_and_keeps_its_previous_chunks(provider, ingested, fault, code, reason):
    fake, path = provider
    document, before = ingested
    fake.fail(**fault, skip=2, times=10)
    started = time.monotonic()
    result = django_rag.ingest(document)
    assert time.monotonic() - started < 4
    assert (result.status, result.error_code) == ("failed", code)
    assert reason in result.error and "batch 3 of" in result.error
    assert len(fake.requests_to(path)) == 3  # retries are off in the test settings: stopped at batch 3
    document.refresh_from_db()
    assert document.status == Document.Status.FAILED and document.error == result.error
    assert (document.lease_owner, document.lease_expires_at) == ("", None)
    assert_previous_version_intact(fake, document, before)

    # A later retry (the admin's Ingest action, rag_reindex --failed-only) succeeds.
    assert django_rag.ingest(document).status == "ingested"
    assert Chunk.objects.filter(document=document, content__contains="invoices").exists()
    assert_one_copy(document)


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["status", "hang"])
def test_a_transient_fault_is_retried_with_backoff_and_the_ingestion_succeeds(provider, ingested, rag_settings, kind):
    fake, path = provider
    document, _before = ingested
    rag_settings(EMBED_RETRIES=2, EMBED_RETRY_DELAY=0.2)
    fake.fail(kind, status=503, seconds=5, skip=2, times=2)  # batch 3 fails twice, then passes

    result = django_rag.ingest(document)

    assert result.status == "ingested", result.error
    inputs = [r.json["input"] for r in fake.requests_to(path)]
    assert inputs[2] == inputs[3] == inputs[4] and len(inputs) == document.chunk_count + 2
    assert Chunk.objects.filter(document=document, content__contains="invoices").exists()
    assert_one_copy(document)


@pytest.mark.django_db
def test_the_retries_wait_longer_each_time_and_then_give_up(provider, ingested, rag_settings):
    fake, path = provider
    document, before = ingested
    rag_settings(EMBED_RETRIES=2, EMBED_RETRY_DELAY=0.2)
    fake.fail("status", status=500, skip=1, times=10)
    started = time.monotonic()
    result = django_rag.ingest(document)
    elapsed = time.monotonic() - started
    assert result.error_code == "embedding_unavailable" and "3 attempts, EMBED_RETRIES" in result.error
    assert len(fake.requests_to(path)) == 1 + 3
    assert 0.6 <= elapsed < 3  # waited 0.2 s, then 0.4 s
    assert_previous_version_intact(fake, document, before)


@pytest.mark.django_db
def test_a_refusal_is_not_retried(provider, ingested, rag_settings):
    fake, path = provider
    document, before = ingested
    rag_settings(EMBED_RETRIES=3, EMBED_RETRY_DELAY=0.2)
    fake.fail("status", status=400, message="input too long", skip=1)
    result = django_rag.ingest(document)
    assert (result.status, result.error_code) == ("failed", "embedding_failed")
    assert "HTTP 400: input too long" in result.error
    assert len(fake.requests_to(path)) == 2
    assert_previous_version_intact(fake, document, before)
