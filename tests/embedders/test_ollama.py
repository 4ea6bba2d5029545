"""The Ollama backend with the real langchain-ollama client against tests/fake_providers.py."""

from __future__ import annotations

import time

import pytest

import django_rag
from django_rag.embedders.ollama import Embedder
from django_rag.exceptions import EmbeddingError, RAGImproperlyConfigured
from django_rag.models import Chunk
from tests.fake_providers import fake_vector
from tests.providers_helpers import API_KEY, closed_port_url

from .conftest import COMMON_FAULTS, POLICY, embed_through, assert_failure_keeps_previous_chunks, ingest_with_the_key_refused

BACKEND = "django_rag.embedders.ollama.Embedder"


def test_embeds_documents_and_queries_through_the_real_client(fake_provider):
    embedder = Embedder(alias="default", base_url=fake_provider.url)
    first = embed_through(embedder, fake_provider)
    assert first.path == "/api/embed"
    assert first.json["model"] == "nomic-embed-text"
    assert "dimensions" not in first.json  # the model's native size needs no parameter
    assert embedder.identity == "ollama:nomic-embed-text:768"


@pytest.mark.parametrize(
    ("model", "dimensions"),
    [("nomic-embed-text", 768), ("nomic-embed-text:v1.5", 768), ("mxbai-embed-large", 1024), ("all-minilm", 384)],
)
def test_known_models_default_dimensions(model, dimensions):
    embedder = Embedder(alias="default", model=model)
    assert embedder.dimensions == dimensions
    assert embedder.check() == []


def test_unknown_model_needs_dimensions():
    embedder = Embedder(alias="default", model="snowflake-arctic-embed")
    [error] = embedder.check()
    assert error.id == "django_rag.E005" and error.obj == 'DJANGO_RAG["EMBEDDERS"]["default"]'
    assert "snowflake-arctic-embed" in error.msg
    with pytest.raises(RAGImproperlyConfigured, match="dimensions"):
        embedder.dimensions
    assert Embedder(alias="default", model="snowflake-arctic-embed", dimensions=1024).check() == []


def test_shorter_vectors_than_native_are_requested_from_the_server(fake_provider):
    # nomic-embed-text is a Matryoshka model: Ollama can return its first 256 dimensions.
    embedder = Embedder(alias="default", base_url=fake_provider.url, dimensions=256)
    assert len(embedder.embed_query("x")) == 256
    assert fake_provider.requests[-1].json["dimensions"] == 256


def test_base_url_defaults_to_ollama_host_read_at_construction(fake_provider, monkeypatch):
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    assert Embedder(alias="default").base_url == "http://127.0.0.1:11434"
    monkeypatch.setenv("OLLAMA_HOST", fake_provider.url)
    embedder = Embedder(alias="default")
    embedder.embed_query("x")
    assert fake_provider.requests[-1].path == "/api/embed"


def test_timeout_option_bounds_a_hung_request(fake_provider):
    fake_provider.fail("hang", seconds=5)
    embedder = Embedder(alias="default", base_url=fake_provider.url, timeout=0.3)
    started = time.monotonic()
    with pytest.raises(EmbeddingError, match=r"no reply within 0\.3 s"):
        embedder.embed_query("x")
    assert time.monotonic() - started < 2


def test_check_reports_options_the_client_rejects_without_sending_a_request(fake_provider):
    embedder = Embedder(alias="default", base_url=fake_provider.url, num_ctx="large")
    [error] = embedder.check()
    assert error.id == "django_rag.E007" and "num_ctx" in error.msg
    assert fake_provider.requests == []


@pytest.mark.django_db
def test_ingest_embeds_in_batches_and_stores_each_chunks_own_vector(
    fake_provider, use_embedder, rag_settings, make_document
):
    rag_settings(EMBED_BATCH_SIZE=2)
    use_embedder(BACKEND, model="all-minilm", base_url=fake_provider.url)
    document = make_document(POLICY, name="policy.md")

    result = django_rag.ingest(document)

    assert result.status == "ingested", result.error
    chunks = list(Chunk.objects.filter(document=document).order_by("index"))
    inputs = [r.json["input"] for r in fake_provider.requests_to("/api/embed")]
    assert [len(batch) for batch in inputs] == [2] * (len(chunks) // 2) + [1] * (len(chunks) % 2)
    assert [text for batch in inputs for text in batch] == [c.embedding_text for c in chunks]
    for chunk in chunks:
        assert list(chunk.embedding) == pytest.approx(fake_vector(chunk.embedding_text, 384), abs=1e-6)
        assert chunk.embedder == "ollama:all-minilm:384"


FAULTS = [
    *COMMON_FAULTS,
    pytest.param({"kind": "status", "status": 500}, "HTTP 500: scripted HTTP 500", id="server-error"),
    pytest.param(
        {"kind": "status", "status": 404, "message": 'model "all-minilm" not found, try pulling it first'},
        "Run `ollama pull all-minilm`",
        id="model-not-pulled",
    ),
    pytest.param({"kind": "wrong_dimension"}, "vector of 383 dimensions; its settings say 384", id="wrong-dimension"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("fault", "message"), FAULTS)
def test_provider_failure_fails_the_document_cleanly_and_keeps_previous_chunks(
    fake_provider, use_embedder, make_document, fault, message
):
    use_embedder(BACKEND, model="all-minilm", base_url=fake_provider.url, timeout=0.3)
    assert_failure_keeps_previous_chunks(fake_provider, make_document(POLICY, name="policy.md"), fault, message)


@pytest.mark.django_db
def test_connection_refused_says_where_it_tried(use_embedder, make_document):
    url = closed_port_url()
    use_embedder(BACKEND, base_url=url, timeout=1)
    result = django_rag.ingest(make_document(POLICY, name="policy.md"))
    assert result.status == "failed"
    assert url in result.error and "ollama serve" in result.error


@pytest.mark.django_db
def test_api_key_is_sent_but_never_shown_in_an_ingestion_error(fake_provider, use_embedder, make_document):
    use_embedder(BACKEND, model="all-minilm", base_url=fake_provider.url, api_key=API_KEY)
    error = ingest_with_the_key_refused(fake_provider, make_document(POLICY, name="policy.md"))
    assert "OLLAMA_API_KEY" in error
