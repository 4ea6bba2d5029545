"""The OpenAI backend with the real langchain-openai client against tests/fake_providers.py."""

from __future__ import annotations

import pytest

import django_rag
from django_rag.checks import check_backends
from django_rag.embedders.openai import Embedder
from django_rag.exceptions import EmbeddingError, RAGImproperlyConfigured
from django_rag.models import Chunk
from tests.fake_providers import fake_vector
from tests.providers_helpers import API_KEY

from .conftest import COMMON_FAULTS, POLICY, embed_through, assert_failure_keeps_previous_chunks, ingest_with_the_key_refused

BACKEND = "django_rag.embedders.openai.Embedder"


def make(fake, **options):
    options = {"base_url": fake.openai_url, "api_key": API_KEY, "max_retries": 0, **options}
    return Embedder(alias="default", **options)


def test_embeds_documents_and_queries_through_the_real_client(fake_provider):
    embedder = make(fake_provider, dimensions=32)
    first = embed_through(embedder, fake_provider)  # text, not tiktoken ids
    assert first.path == "/v1/embeddings"
    assert first.headers["authorization"] == f"Bearer {API_KEY}"
    assert first.json["model"] == "text-embedding-3-small"
    assert first.json["dimensions"] == 32
    assert embedder.identity == "openai:text-embedding-3-small:32"
    assert embedder.secrets == [API_KEY]


@pytest.mark.parametrize(
    ("model", "dimensions", "sends_dimensions"),
    [
        ("text-embedding-3-small", 1536, True),
        ("text-embedding-3-large", 3072, True),
        ("text-embedding-ada-002", 1536, False),
    ],
)
def test_known_models_default_dimensions_and_only_v3_sends_them(fake_provider, model, dimensions, sends_dimensions):
    embedder = make(fake_provider, model=model)
    assert embedder.dimensions == dimensions
    assert embedder.check() == []
    assert len(embedder.embed_query("x")) == dimensions
    assert ("dimensions" in fake_provider.requests[-1].json) is sends_dimensions


def test_unknown_model_needs_dimensions(fake_provider):
    embedder = make(fake_provider, model="bge-m3")
    [error] = embedder.check()
    assert error.id == "django_rag.E005"
    assert error.obj == 'DJANGO_RAG["EMBEDDERS"]["default"]'
    assert "bge-m3" in error.msg and 'OPTIONS"]["dimensions"]' in error.msg
    with pytest.raises(RAGImproperlyConfigured, match="Dimensions unknown"):
        embedder.dimensions

    # With the size given, an OpenAI-compatible server gets no "dimensions" parameter,
    # which most of them reject.
    embedder = make(fake_provider, model="bge-m3", dimensions=64)
    assert embedder.check() == []
    assert len(embedder.embed_query("x")) == 64
    assert "dimensions" not in fake_provider.requests[-1].json


def test_api_key_is_read_from_the_environment_when_built_not_at_import(fake_provider, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    embedder = Embedder(alias="default", base_url=fake_provider.openai_url)
    [error] = embedder.check()
    assert error.id == "django_rag.E006" and "OPENAI_API_KEY" in error.msg
    with pytest.raises(RAGImproperlyConfigured, match="no OpenAI API key"):
        embedder.embed_query("x")

    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-environment-123456")
    embedder = Embedder(alias="default", base_url=fake_provider.openai_url, dimensions=8)
    embedder.embed_query("x")
    assert fake_provider.requests[-1].headers["authorization"] == "Bearer sk-from-environment-123456"


def test_check_reports_options_the_client_rejects_without_sending_a_request(fake_provider):
    embedder = make(fake_provider, chunk_size="lots")  # passed through to OpenAIEmbeddings
    [error] = embedder.check()
    assert error.id == "django_rag.E007" and "chunk_size" in error.msg
    assert fake_provider.requests == []


def test_extra_options_are_passed_to_the_client(fake_provider):
    # chunk_size is OpenAIEmbeddings' own batch limit: 2 texts per request.
    embedder = make(fake_provider, dimensions=8, chunk_size=2)
    embedder.embed_documents(["a", "b", "c"])
    assert [r.json["input"] for r in fake_provider.requests] == [["a", "b"], ["c"]]


def test_invalid_numeric_options_name_the_setting():
    with pytest.raises(RAGImproperlyConfigured, match=r'\["OPTIONS"\]\["timeout"\]'):
        Embedder(alias="default", api_key="k", timeout=-1)
    with pytest.raises(RAGImproperlyConfigured, match=r'\["OPTIONS"\]\["max_retries"\]'):
        Embedder(alias="default", api_key="k", max_retries="2")


def test_retries_a_rate_limited_request(fake_provider):
    # retry_after: the fake sends retry-after-ms, which the SDK honours, so no 0.5 s backoff.
    fake_provider.fail("status", status=429, retry_after=0.01)
    embedder = make(fake_provider, dimensions=8, max_retries=1)
    assert embedder.embed_query("x") == pytest.approx(fake_vector("x", 8))
    assert len(fake_provider.requests) == 2


def test_query_with_wrong_dimension_raises_a_clear_error(fake_provider):
    fake_provider.fail("wrong_dimension")
    with pytest.raises(EmbeddingError, match="vector of 7 dimensions; its settings say 8"):
        make(fake_provider, dimensions=8).embed_query("x")


# -- through the ingestion pipeline ------------------------------------------------------


@pytest.mark.django_db
def test_ingest_embeds_in_batches_and_stores_each_chunks_own_vector(
    fake_provider, use_embedder, rag_settings, make_document
):
    rag_settings(EMBED_BATCH_SIZE=3)
    use_embedder(BACKEND, base_url=fake_provider.openai_url, api_key=API_KEY, dimensions=16, max_retries=0)
    document = make_document(POLICY, name="policy.md")

    result = django_rag.ingest(document)

    assert result.status == "ingested", result.error
    chunks = list(Chunk.objects.filter(document=document).order_by("index"))
    assert len(chunks) == result.chunks > 3
    sizes = [len(r.json["input"]) for r in fake_provider.requests_to("/v1/embeddings")]
    assert sizes == [3] * (len(chunks) // 3) + ([len(chunks) % 3] if len(chunks) % 3 else [])
    for chunk in chunks:  # order preserved across batches: each vector is its own text's
        assert list(chunk.embedding) == pytest.approx(fake_vector(chunk.embedding_text, 16), abs=1e-6)
        assert chunk.embedder == "openai:text-embedding-3-small:16"


FAULTS = [
    *COMMON_FAULTS,
    pytest.param({"kind": "status", "status": 500}, "HTTP 500", id="server-error"),
    pytest.param({"kind": "status", "status": 429}, "HTTP 429", id="rate-limited"),
    pytest.param({"kind": "wrong_dimension"}, "vector of 15 dimensions; its settings say 16", id="wrong-dimension"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("fault", "message"), FAULTS)
def test_provider_failure_fails_the_document_cleanly_and_keeps_previous_chunks(
    fake_provider, use_embedder, make_document, fault, message
):
    use_embedder(BACKEND, base_url=fake_provider.openai_url, api_key=API_KEY, dimensions=16, timeout=0.3, max_retries=0)
    assert_failure_keeps_previous_chunks(fake_provider, make_document(POLICY, name="policy.md"), fault, message)


@pytest.mark.django_db
def test_api_key_is_sent_but_never_shown_in_an_ingestion_error(fake_provider, use_embedder, make_document):
    use_embedder(BACKEND, base_url=fake_provider.openai_url, api_key=API_KEY, dimensions=16, max_retries=0)
    document = make_document(POLICY, name="policy.md")
    assert "Check the API key" in ingest_with_the_key_refused(fake_provider, document)
    fake_provider.fail("unauthorized")
    with pytest.raises(EmbeddingError) as info:
        django_rag.ingest(document, force=True, raise_errors=True)
    # The provider's exception (whose text holds the key) is not chained either.
    assert API_KEY not in str(info.value) and info.value.__cause__ is None


def test_system_check_reports_backend_problems_per_alias(rag_settings, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env-key-123456789")
    rag_settings(
        EMBEDDERS={
            "default": {"BACKEND": BACKEND, "OPTIONS": {}},
            "custom": {"BACKEND": BACKEND, "OPTIONS": {"model": "my-model"}},
        }
    )
    messages = check_backends()
    assert [(m.id, m.obj) for m in messages] == [("django_rag.E005", 'DJANGO_RAG["EMBEDDERS"]["custom"]')]
